/**
 * The modeled set-associative cache (src/mmu/tlb/cache.ts) against a plain
 * true-LRU reference written here: per set, a list of entries ordered from
 * least to most recently used. Random lookups (often of the same tag
 * twice, to exercise the last-hit shortcut), inserts and flushes of every
 * kind must give the same hits, misses and global flags. Interleaved
 * streams exercise the per-set shortcut (a set's last-used way hit again
 * without a new stamp), and tags inserted twice the way-by-way scan.
 */
import { describe, expect, it } from 'vitest';
import { ModelCache } from '../../src/mmu/tlb/cache.js';
import { Rng } from './rng.js';

interface Ref { klo: number; khi: number; asid: number; global: boolean }

class ReferenceLru {
  private readonly sets: Ref[][];
  constructor(private readonly nSets: number, private readonly ways: number) {
    this.sets = Array.from({ length: nSets }, () => []);
  }
  private set(klo: number): Ref[] { return this.sets[klo & (this.nSets - 1)]!; }
  lookup(klo: number, khi: number, asid: number): Ref | null {
    const s = this.set(klo);
    const i = s.findIndex((e) => e.klo === klo && e.khi === khi && (e.asid === asid || e.global));
    if (i < 0) return null;
    const [e] = s.splice(i, 1);
    s.push(e!);
    return e!;
  }
  insert(klo: number, khi: number, asid: number, global: boolean): void {
    const s = this.set(klo);
    if (s.length === this.ways) s.shift();
    s.push({ klo, khi, asid, global });
  }
  flush(keep: (e: Ref) => boolean): void {
    for (const s of this.sets) {
      const kept = s.filter(keep);
      s.length = 0;
      s.push(...kept);
    }
  }
}

/**
 * The scan as the cache has always done it, way by way: a lookup takes the
 * lowest matching way and stamps it, an insert takes the first invalid way
 * or the oldest. With the same tag in two ways (the paging-structure
 * caches insert tags a walk did not look up), this, not a list, is the
 * reference: which copy a lookup refreshes decides later evictions.
 */
class ReferenceWays {
  private readonly e: ({ klo: number; khi: number; asid: number; global: boolean; stamp: number } | null)[];
  private clock = 0;
  constructor(private readonly nSets: number, private readonly ways: number) {
    this.e = new Array(nSets * ways).fill(null);
  }
  lookup(klo: number, khi: number, asid: number): boolean | null {
    const base = (klo & (this.nSets - 1)) * this.ways;
    for (let i = base; i < base + this.ways; i++) {
      const x = this.e[i];
      if (x && x.klo === klo && x.khi === khi && (x.asid === asid || x.global)) { x.stamp = ++this.clock; return x.global; }
    }
    return null;
  }
  insert(klo: number, khi: number, asid: number, global: boolean): void {
    const base = (klo & (this.nSets - 1)) * this.ways;
    let victim = base;
    for (let i = base, oldest = Infinity; i < base + this.ways; i++) {
      const x = this.e[i];
      if (!x) { victim = i; break; }
      if (x.stamp < oldest) { oldest = x.stamp; victim = i; }
    }
    this.e[victim] = { klo, khi, asid, global, stamp: ++this.clock };
  }
  flushAll(): void { this.e.fill(null); }
}

describe('ModelCache', () => {
  for (const [entries, ways] of [[64, 4], [16, 16], [1536, 12], [8, 2], [8, 1]] as const) {
    it(`does a ${entries}-entry ${ways}-way cache hit and miss exactly as true LRU over 100,000 random operations?`, () => {
      const rng = new Rng(entries * 31 + ways);
      const c = new ModelCache(entries, ways);
      const ref = new ReferenceLru(entries / ways, ways);
      // a small tag space, so that sets fill, evict and hit
      const tags = entries * 2;
      let last = { klo: 0, khi: 0, asid: 0 };
      let prev = last;
      let hits = 0;
      for (let n = 0; n < 100_000; n++) {
        const r = rng.below(100);
        // the same tag again, the one before it (a hit, a miss that evicts, then the first again), or any
        const t = r < 30 ? last : r < 50 ? prev : { klo: rng.below(tags), khi: rng.below(2), asid: rng.below(3) };
        if (t !== last) { prev = last; last = t; }
        if (r < 85) {
          const want = ref.lookup(t.klo, t.khi, t.asid);
          const got = c.lookup(t.klo, t.khi, t.asid);
          if (got !== (want !== null) || (got && c.lastGlobal !== want!.global)) {
            expect.fail(`operation ${n}: lookup ${JSON.stringify(t)}: ${got ? 'hit' : 'miss'} (global ${c.lastGlobal}), true LRU says ${want === null ? 'miss' : `hit (global ${want.global})`}`);
          }
          if (got) {
            hits++;
          } else {
            const g = rng.below(8) === 0;
            ref.insert(t.klo, t.khi, t.asid, g);
            c.insert(t.klo, t.khi, t.asid, g);
          }
        } else if (r < 95) {
          const keepGlobal = rng.below(2) === 0;
          const asid = rng.below(4) - 1;
          c.flushKey(t.klo, t.khi, asid, keepGlobal);
          ref.flush((e) => !(e.klo === t.klo && e.khi === t.khi && (e.global ? !keepGlobal : asid < 0 || e.asid === asid)));
        } else if (r < 99) {
          const keepGlobal = rng.below(2) === 0;
          const asid = rng.below(4) - 1;
          c.flushAsid(asid, keepGlobal);
          ref.flush((e) => (keepGlobal && e.global) || !(asid < 0 || e.asid === asid));
        } else {
          c.flushAll();
          ref.flush(() => false);
        }
      }
      // the stream must both hit and miss a good deal
      expect(hits).toBeGreaterThan(20_000);
      expect(hits).toBeLessThan(85_000);
    });

    it(`does a ${entries}-entry ${ways}-way cache keep true LRU order when one address space interleaves streams (a set's last-used way hit again after other sets, the shortcut without a new stamp)?`, () => {
      const rng = new Rng(entries * 17 + ways);
      const c = new ModelCache(entries, ways);
      const ref = new ReferenceLru(entries / ways, ways);
      const sets = entries / ways;
      // A few streams, each walking a few tags of its own: like a replay's
      // fetches and data accesses taking turns, every stream's next lookup
      // is often its last tag again, while the others moved in between.
      const streams = Array.from({ length: 3 }, () => { const set = rng.below(sets); return { set, at: rng.below(ways * 3) * sets + set }; });
      let hits = 0, inserts = 0;
      for (let n = 0; n < 100_000; n++) {
        const s = streams[rng.below(streams.length)]!;
        const r = rng.below(100);
        if (r < 25) s.at = rng.below(ways * 3) * sets + s.set; // one of ways * 3 tags of the stream's set: evictions
        else if (r < 30) s.at = rng.below(entries * 2);
        const klo = s.at, khi = 0, asid = 1;
        const global = r >= 98;
        if (r === 99 && n % 7 === 0) {
          c.flushKey(klo, khi, -1, false);
          ref.flush((e) => !(e.klo === klo && e.khi === khi));
          continue;
        }
        const want = ref.lookup(klo, khi, asid);
        const got = c.lookup(klo, khi, asid);
        if (got !== (want !== null) || (got && c.lastGlobal !== want!.global)) {
          expect.fail(`operation ${n}: lookup ${klo}: ${got ? 'hit' : 'miss'}, true LRU says ${want === null ? 'miss' : 'hit'}`);
        }
        if (got) hits++;
        else {
          inserts++;
          ref.insert(klo, khi, asid, global);
          c.insert(klo, khi, asid, global);
        }
      }
      expect(hits).toBeGreaterThan(10_000);
      expect(inserts).toBeGreaterThan(5_000);
    });

    it(`does a ${entries}-entry ${ways}-way cache with a tag in two ways (inserted again, as a walk's upper levels are) refresh the copy the way-by-way scan refreshes?`, () => {
      const rng = new Rng(entries * 7 + ways);
      const c = new ModelCache(entries, ways);
      const ref = new ReferenceWays(entries / ways, ways);
      const sets = entries / ways;
      const set = rng.below(sets);
      let last = set;
      let hits = 0;
      for (let n = 0; n < 100_000; n++) {
        const r = rng.below(100);
        const klo = r < 40 ? last : rng.below(ways * 2) * sets + (r < 90 ? set : rng.below(sets));
        last = klo;
        if (r === 99 && n % 5 === 0) {
          c.flushAll();
          ref.flushAll();
          continue;
        }
        if (r >= 80) {
          // inserted whether or not it is there already
          c.insert(klo, 0, 1, false);
          ref.insert(klo, 0, 1, false);
          continue;
        }
        const want = ref.lookup(klo, 0, 1);
        const got = c.lookup(klo, 0, 1);
        if (got !== (want !== null)) expect.fail(`operation ${n}: lookup ${klo}: ${got ? 'hit' : 'miss'}, the way-by-way scan says ${want === null ? 'miss' : 'hit'}`);
        if (got) hits++;
        else {
          c.insert(klo, 0, 1, false);
          ref.insert(klo, 0, 1, false);
        }
      }
      expect(hits).toBeGreaterThan(10_000);
    });
  }
});
