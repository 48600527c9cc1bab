/**
 * The modeled set-associative cache (src/mmu/tlb/cache.ts) against a plain
 * true-LRU reference written here: per set, a list of entries ordered from
 * least to most recently used. Random lookups (often of the same tag
 * twice, to exercise the last-hit shortcut), inserts and flushes of every
 * kind must give the same hits, misses and global flags.
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
  }
});
