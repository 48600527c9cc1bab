/**
 * The modeled hardware: a two-level TLB (split L1 for data and instructions
 * with one array per page size, a shared L2) and the paging-structure caches
 * that shorten walks. Geometry comes from a TlbGeometry (defaults.ts).
 *
 * These structures hold tags only (see cache.ts); the modes ask them what the
 * hardware would hit and count what it would do on a miss.
 */
import {
  C_L1D_HIT, C_L1D_MISS, C_L1I_HIT, C_L1I_MISS, C_L2_HIT, C_L2_MISS, C_PWC_HIT, C_PWC_MISS,
  C_TLB_FLUSH_ALL, C_TLB_FLUSH_NONGLOBAL, C_TLB_FLUSH_PAGE,
} from '../counters.js';
import type { TlbArrayGeometry, TlbGeometry } from '../defaults.js';
import { ModelCache } from './cache.js';

const TWO_32 = 4294967296;
/** key offsets that keep page sizes apart in a shared array without disturbing set indexing */
const SIZE_STRIDE = 2 ** 50;

/** Page number of gvaHi:gvaLo at page size 2^shift (shift < 32), exact. */
export function pageNumber(gvaLo: number, gvaHi: number, shift: number): number {
  return (gvaHi >>> 0) * 2 ** (32 - shift) + (gvaLo >>> shift);
}

/** 0 for 4 KiB, 1 for 2/4 MiB, 2 for 1 GiB */
function sizeClass(shift: number): number {
  return shift < 21 ? 0 : shift < 30 ? 1 : 2;
}

function cacheOf(g: TlbArrayGeometry | undefined, label: string): ModelCache | null {
  return g === undefined ? null : new ModelCache(g.entries, g.ways, label);
}

export const TLB_L1_HIT = 0;
export const TLB_L2_HIT = 1;
export const TLB_MISS = 2;

export class HardwareTlb {
  /** [size class] for data and instructions; null when that size is not cached at L1 */
  private readonly l1d: (ModelCache | null)[];
  private readonly l1i: (ModelCache | null)[];
  private readonly l2: ModelCache;
  private readonly l2g: ModelCache | null;

  constructor(readonly geometry: TlbGeometry, private readonly counters: Float64Array) {
    this.l1d = [cacheOf(geometry.l1d.k4, 'l1d.k4'), cacheOf(geometry.l1d.m2, 'l1d.m2'), cacheOf(geometry.l1d.g1, 'l1d.g1')];
    this.l1i = [cacheOf(geometry.l1i.k4, 'l1i.k4'), cacheOf(geometry.l1i.m2, 'l1i.m2'), cacheOf(geometry.l1i.g1, 'l1i.g1')];
    this.l2 = new ModelCache(geometry.l2.k4m2.entries, geometry.l2.k4m2.ways, 'l2.k4m2');
    this.l2g = cacheOf(geometry.l2.g1, 'l2.g1');
  }

  /**
   * Looks up the page of size 2^shift holding gvaHi:gvaLo for address space
   * `asid`. Returns TLB_L1_HIT, TLB_L2_HIT (the entry is copied into L1) or
   * TLB_MISS (the caller walks, then calls insert). Counts hits and misses.
   */
  lookup(gvaLo: number, gvaHi: number, shift: number, fetch: boolean, asid: number): number {
    const size = sizeClass(shift);
    const vpn = pageNumber(gvaLo, gvaHi, shift);
    const l1 = (fetch ? this.l1i : this.l1d)[size]!;
    const c = this.counters;
    if (l1 !== null && l1.lookup(vpn, asid)) {
      c[fetch ? C_L1I_HIT : C_L1D_HIT]++;
      return TLB_L1_HIT;
    }
    c[fetch ? C_L1I_MISS : C_L1D_MISS]++;
    const l2 = size === 2 ? this.l2g : this.l2;
    const key = vpn + size * SIZE_STRIDE;
    if (l2 !== null && l2.lookup(size === 2 ? vpn : key, asid)) {
      c[C_L2_HIT]++;
      if (l1 !== null) l1.insert(vpn, asid, false);
      return TLB_L2_HIT;
    }
    c[C_L2_MISS]++;
    return TLB_MISS;
  }

  /** Fills L1 and L2 after a walk. */
  insert(gvaLo: number, gvaHi: number, shift: number, fetch: boolean, asid: number, global: boolean): void {
    const size = sizeClass(shift);
    const vpn = pageNumber(gvaLo, gvaHi, shift);
    const l1 = (fetch ? this.l1i : this.l1d)[size]!;
    if (l1 !== null) l1.insert(vpn, asid, global);
    if (size === 2) {
      if (this.l2g !== null) this.l2g.insert(vpn, asid, global);
    } else {
      this.l2.insert(vpn + size * SIZE_STRIDE, asid, global);
    }
  }

  /** INVLPG / INVPCID type 0: drops every size's entry covering the address in `asid` (asid < 0: all). */
  invalidatePage(gvaLo: number, gvaHi: number, asid: number, keepGlobal: boolean): void {
    this.counters[C_TLB_FLUSH_PAGE]++;
    for (let size = 0; size < 3; size++) {
      const shift = size === 0 ? 12 : size === 1 ? 21 : 30;
      const vpn = pageNumber(gvaLo, gvaHi, shift);
      this.l1d[size]?.flushRange(vpn, vpn + 1, asid, keepGlobal);
      this.l1i[size]?.flushRange(vpn, vpn + 1, asid, keepGlobal);
      if (size === 2) this.l2g?.flushRange(vpn, vpn + 1, asid, keepGlobal);
      else this.l2.flushRange(vpn + size * SIZE_STRIDE, vpn + 1 + size * SIZE_STRIDE, asid, keepGlobal);
      if (size === 1) {
        // 4 MiB pages of 32-bit paging share the 2 MiB arrays, keyed by gva >> 22.
        const v4 = pageNumber(gvaLo, gvaHi, 22);
        this.l1d[1]?.flushRange(v4, v4 + 1, asid, keepGlobal);
        this.l1i[1]?.flushRange(v4, v4 + 1, asid, keepGlobal);
        this.l2.flushRange(v4 + SIZE_STRIDE, v4 + 1 + SIZE_STRIDE, asid, keepGlobal);
      }
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
    for (const c of [...this.l1d, ...this.l1i, this.l2g]) if (c !== null) out.push(c);
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
      if (c != null && c.entries > 0 && c.lookup(pageNumberWide(gvaLo, gvaHi, shifts[level]!), asid)) {
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
      this.byLevel[level]?.insert(pageNumberWide(gvaLo, gvaHi, shifts[level]!), asid, false);
    }
  }

  flush(asid: number): void {
    for (const c of this.byLevel) c?.flushAsid(asid, false);
  }
}

/** gvaHi:gvaLo >> shift for any shift up to 63, exact. */
export function pageNumberWide(gvaLo: number, gvaHi: number, shift: number): number {
  if (shift >= 32) return (gvaHi >>> 0) >>> (shift - 32);
  return (gvaHi >>> 0) * 2 ** (32 - shift) + (gvaLo >>> shift);
}

export { TWO_32 };
