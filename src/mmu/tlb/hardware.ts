/**
 * The modeled hardware: a two-level TLB (split L1 for data and instructions
 * with one array per page size, a shared L2) and the paging-structure caches
 * that shorten walks. Geometry comes from a TlbGeometry (defaults.ts).
 *
 * These structures hold tags only (see cache.ts); the modes ask them what the
 * hardware would hit and count what it would do on a miss.
 */
import {
  C_ACCESS_FETCH, C_ACCESS_READ, C_ACCESS_WRITE, C_L1D_HIT, C_L1D_MISS, C_L1I_HIT, C_L1I_MISS, C_L2_HIT, C_L2_MISS, C_PWC_HIT, C_PWC_MISS,
  C_TLB_FLUSH_ALL, C_TLB_FLUSH_NONGLOBAL, C_TLB_FLUSH_PAGE,
} from '../counters.js';
import type { TlbArrayGeometry, TlbGeometry } from '../defaults.js';
import { ModelCache } from './cache.js';

/** size class in bits 29:28 of the high tag half keeps page sizes apart in a shared array */
const SIZE_SHIFT = 28;

/** Low 32 bits of gvaHi:gvaLo >> shift (0 < shift < 64), as an int32. */
export function keyLo(gvaLo: number, gvaHi: number, shift: number): number {
  return shift >= 32 ? (gvaHi >>> (shift - 32)) | 0 : ((gvaLo >>> shift) | (gvaHi << (32 - shift))) | 0;
}

/** High 32 bits of gvaHi:gvaLo >> shift. */
export function keyHi(gvaHi: number, shift: number): number {
  return shift >= 32 ? 0 : (gvaHi >>> shift) | 0;
}

/** 0 for 4 KiB, 1 for 2/4 MiB, 2 for 1 GiB */
function sizeClass(shift: number): number {
  return shift < 21 ? 0 : shift < 30 ? 1 : 2;
}

function cacheOf(g: TlbArrayGeometry | undefined, label: string): ModelCache | null {
  return g === undefined ? null : new ModelCache(g.entries, g.ways, label);
}

/** Counts accesses by kind, as every mode's model() does (Mode.addRepeats). */
export function addAccesses(c: Float64Array, reads: number, writes: number, fetches: number): void {
  c[C_ACCESS_READ] += reads;
  c[C_ACCESS_WRITE] += writes;
  c[C_ACCESS_FETCH] += fetches;
}

export const TLB_L1_HIT = 0;
export const TLB_L2_HIT = 1;
export const TLB_MISS = 2;

export class HardwareTlb {
  // L1 arrays per page size for data and instructions; null when that size is not cached at L1
  private readonly l1d4k: ModelCache | null;
  private readonly l1d2m: ModelCache | null;
  private readonly l1d1g: ModelCache | null;
  private readonly l1i4k: ModelCache | null;
  private readonly l1i2m: ModelCache | null;
  private readonly l1i1g: ModelCache | null;
  private readonly l2: ModelCache;
  private readonly l2g: ModelCache | null;

  // counter ids (the hardware TLB's by default; a virtual TLB passes its own)
  private readonly idL1dHit: number;
  private readonly idL1dMiss: number;
  private readonly idL1iHit: number;
  private readonly idL1iMiss: number;
  private readonly idL2Hit: number;
  private readonly idL2Miss: number;

  /**
   * @param ids counter ids for L1d hit/miss, L1i hit/miss, L2 hit/miss
   *   (default: the tlb.* counters)
   */
  constructor(readonly geometry: TlbGeometry, private readonly counters: Float64Array,
    ids: readonly number[] = [C_L1D_HIT, C_L1D_MISS, C_L1I_HIT, C_L1I_MISS, C_L2_HIT, C_L2_MISS]) {
    [this.idL1dHit, this.idL1dMiss, this.idL1iHit, this.idL1iMiss, this.idL2Hit, this.idL2Miss] = ids as [number, number, number, number, number, number];
    this.l1d4k = cacheOf(geometry.l1d.k4, 'l1d.k4');
    this.l1d2m = cacheOf(geometry.l1d.m2, 'l1d.m2');
    this.l1d1g = cacheOf(geometry.l1d.g1, 'l1d.g1');
    this.l1i4k = cacheOf(geometry.l1i.k4, 'l1i.k4');
    this.l1i2m = cacheOf(geometry.l1i.m2, 'l1i.m2');
    this.l1i1g = cacheOf(geometry.l1i.g1, 'l1i.g1');
    this.l2 = new ModelCache(geometry.l2.k4m2.entries, geometry.l2.k4m2.ways, 'l2.k4m2');
    this.l2g = cacheOf(geometry.l2.g1, 'l2.g1');
  }

  /** Whether both L1 arrays for 4 KiB pages exist with at least one set (Mode.repeats). */
  get l1For4k(): boolean {
    return this.l1d4k !== null && this.l1d4k.sets > 0 && this.l1i4k !== null && this.l1i4k.sets > 0;
  }

  /** Counts L1 hits of 4 KiB lookups, as lookup4k counts them (Mode.addRepeats). */
  addL1Hits(data: number, fetches: number): void {
    this.counters[this.idL1dHit] += data;
    this.counters[this.idL1iHit] += fetches;
  }

  /**
   * Looks up the page of size 2^shift holding gvaHi:gvaLo for address space
   * `asid`. Returns TLB_L1_HIT, TLB_L2_HIT (the entry is copied into L1) or
   * TLB_MISS (the caller walks, then calls insert). Counts hits and misses.
   */
  lookup(gvaLo: number, gvaHi: number, shift: number, fetch: boolean, asid: number): number {
    const size = sizeClass(shift);
    const klo = keyLo(gvaLo, gvaHi, shift);
    const khi = keyHi(gvaHi, shift);
    const l1 = fetch ? (size === 0 ? this.l1i4k : size === 1 ? this.l1i2m : this.l1i1g) : size === 0 ? this.l1d4k : size === 1 ? this.l1d2m : this.l1d1g;
    if (l1 !== null && l1.lookup(klo, khi, asid)) {
      this.counters[fetch ? this.idL1iHit : this.idL1dHit]++;
      return TLB_L1_HIT;
    }
    return this.afterL1(klo, khi, size, fetch, asid, l1);
  }

  /**
   * lookup() of a 4 KiB page (shift 12: every lookup of shadow and slat
   * modes, naive mode's host accesses): the same result and counts, with
   * the key computed directly and the L1 hit path small enough for V8 to
   * inline into the caller.
   */
  lookup4k(gvaLo: number, gvaHi: number, fetch: boolean, asid: number): number {
    const klo = (gvaLo >>> 12) | (gvaHi << 20); // keyLo(gvaLo, gvaHi, 12)
    const khi = (gvaHi >>> 12) | 0; // keyHi(gvaHi, 12)
    const l1 = fetch ? this.l1i4k : this.l1d4k;
    if (l1 !== null && l1.lookup(klo, khi, asid)) {
      this.counters[fetch ? this.idL1iHit : this.idL1dHit]++;
      return TLB_L1_HIT;
    }
    return this.afterL1(klo, khi, 0, fetch, asid, l1);
  }

  /** The rest of a lookup after L1 missed (or there is no L1 array for the size): count, then the L2. */
  private afterL1(klo: number, khi: number, size: number, fetch: boolean, asid: number, l1: ModelCache | null): number {
    const c = this.counters;
    c[fetch ? this.idL1iMiss : this.idL1dMiss]++;
    const l2 = size === 2 ? this.l2g : this.l2;
    const khi2 = khi | (size << SIZE_SHIFT);
    if (l2 !== null && l2.lookup(klo, khi2, asid)) {
      c[this.idL2Hit]++;
      if (l1 !== null) l1.insert(klo, khi, asid, l2.lastGlobal);
      return TLB_L2_HIT;
    }
    c[this.idL2Miss]++;
    return TLB_MISS;
  }

  /** Fills L1 and L2 after a walk. */
  insert(gvaLo: number, gvaHi: number, shift: number, fetch: boolean, asid: number, global: boolean): void {
    const size = sizeClass(shift);
    const klo = keyLo(gvaLo, gvaHi, shift);
    const khi = keyHi(gvaHi, shift);
    const l1 = fetch ? (size === 0 ? this.l1i4k : size === 1 ? this.l1i2m : this.l1i1g) : size === 0 ? this.l1d4k : size === 1 ? this.l1d2m : this.l1d1g;
    if (l1 !== null) l1.insert(klo, khi, asid, global);
    if (size === 2) {
      if (this.l2g !== null) this.l2g.insert(klo, khi, asid, global);
    } else {
      this.l2.insert(klo, khi | (size << SIZE_SHIFT), asid, global);
    }
  }

  /** INVLPG / INVPCID type 0: drops every size's entry covering the address in `asid` (asid < 0: all). */
  invalidatePage(gvaLo: number, gvaHi: number, asid: number, keepGlobal: boolean): void {
    this.counters[C_TLB_FLUSH_PAGE]++;
    // Every page size that could hold the address; 4 MiB pages of 32-bit
    // paging share the 2 MiB arrays, keyed by gva >> 22.
    for (const shift of [12, 21, 22, 30]) {
      const size = sizeClass(shift);
      const klo = keyLo(gvaLo, gvaHi, shift);
      const khi = keyHi(gvaHi, shift);
      const l1d = size === 0 ? this.l1d4k : size === 1 ? this.l1d2m : this.l1d1g;
      const l1i = size === 0 ? this.l1i4k : size === 1 ? this.l1i2m : this.l1i1g;
      l1d?.flushKey(klo, khi, asid, keepGlobal);
      l1i?.flushKey(klo, khi, asid, keepGlobal);
      if (size === 2) this.l2g?.flushKey(klo, khi, asid, keepGlobal);
      else this.l2.flushKey(klo, khi | (size << SIZE_SHIFT), asid, keepGlobal);
    }
  }

  /** Drops entries of `asid` (asid < 0: every space); keeps global ones when asked (a CR3 load). */
  flush(asid: number, keepGlobal: boolean): void {
    this.counters[keepGlobal ? C_TLB_FLUSH_NONGLOBAL : C_TLB_FLUSH_ALL]++;
    for (const c of this.all()) c.flushAsid(asid, keepGlobal);
  }

  /** Drops everything. */
  flushAll(): void {
    this.counters[C_TLB_FLUSH_ALL]++;
    for (const c of this.all()) c.flushAll();
  }

  private all(): ModelCache[] {
    const out: ModelCache[] = [this.l2];
    for (const c of [this.l1d4k, this.l1d2m, this.l1d1g, this.l1i4k, this.l1i2m, this.l1i1g, this.l2g]) if (c !== null) out.push(c);
    return out;
  }
}

/**
 * Paging-structure caches (SDM vol. 3A, 4.10.3): one cache per upper level,
 * keyed by the linear-address bits that select that level's entry. A hit in
 * the cache of level L means the walk resumes at level L-1.
 */
export class WalkCaches {
  /** index = level of the cached entry (2 = PDE cache ... 5 = PML5E cache) */
  private readonly byLevel: (ModelCache | null)[];

  constructor(geometry: TlbGeometry['pwc'], private readonly counters: Float64Array) {
    this.byLevel = [
      null, null,
      new ModelCache(geometry.pde.entries, geometry.pde.ways, 'pwc.pde'),
      new ModelCache(geometry.pdpte.entries, geometry.pdpte.ways, 'pwc.pdpte'),
      new ModelCache(geometry.pml4e.entries, geometry.pml4e.ways, 'pwc.pml4e'),
      new ModelCache(geometry.pml5e.entries, geometry.pml5e.ways, 'pwc.pml5e'),
    ];
  }

  /**
   * The level at which a walk for gvaHi:gvaLo starts reading memory: `top`
   * when no cache helps, lower when an upper entry is cached. `shifts[L]` is
   * the address bit where level L's index starts. Counts a PWC hit or miss.
   */
  startLevel(gvaLo: number, gvaHi: number, top: number, shifts: readonly number[], asid: number): number {
    for (let level = 2; level <= top; level++) {
      const c = this.byLevel[level];
      const sh = shifts[level]!;
      if (c != null && c.entries > 0 && c.lookup(keyLo(gvaLo, gvaHi, sh), keyHi(gvaHi, sh), asid)) {
        this.counters[C_PWC_HIT]++;
        return level - 1;
      }
    }
    this.counters[C_PWC_MISS]++;
    return top;
  }

  /** Caches the non-leaf entries a walk used: levels top..leafLevel+1. */
  insert(gvaLo: number, gvaHi: number, top: number, leafLevel: number, shifts: readonly number[], asid: number): void {
    for (let level = leafLevel + 1; level <= top; level++) {
      const sh = shifts[level]!;
      this.byLevel[level]?.insert(keyLo(gvaLo, gvaHi, sh), keyHi(gvaHi, sh), asid, false);
    }
  }

  flush(asid: number): void {
    for (const c of this.byLevel) c?.flushAsid(asid, false);
  }
}

