/**
 * What a translation mode is: how it fills the software TLB on a miss, what
 * the modeled hardware does for each access, and how it reacts to the guest's
 * paging events. naive.ts, shadow.ts and slat.ts implement it; the Mmu calls
 * it and never asks which mode it has.
 */

import type { TlbGeometry } from '../defaults.js';
import type { HostMemory } from '../host/memory.js';
import type { GuestMemoryMap } from '../host/memory-map.js';
import type { PagingState } from '../paging/state.js';
import type { Walker } from '../paging/walker.js';

/**
 * What a mode may use of the Mmu that owns it: the guest's paging state
 * (read only), host memory and the guest's memory map, the guest walker
 * (whose per-level record shadow mode builds from), the counters, the modeled
 * TLB geometry, and watch bits on guest frames. Nothing else: a mode never
 * touches the software TLB, raises faults, or sets the Mmu's last-translation
 * fields; it answers through a Translation.
 */
export interface ModeHost {
  readonly state: PagingState;
  readonly host: HostMemory;
  readonly map: GuestMemoryMap;
  readonly walker: Walker;
  readonly counters: Float64Array;
  readonly tlbGeometry: TlbGeometry;
  /** modeled TLB entries carry a VPID, so VM exits do not flush them */
  readonly vpid: boolean;
  /** Sets or clears WATCH_* bits on a guest frame (writes to a watched frame reach onWatchedWrite). */
  setWatch(gfn: number, bits: number, on: boolean): void;
  /**
   * The last guest walk of `w` wrote accessed/dirty bits (w.adWrites): a
   * frame holding one of those entries and watched for code (WATCH_CODE)
   * hears of the write, as it hears of the CPU's own (SDM vol. 3A, 4.8 and
   * 11.6). Page-table watches (shadow, recorder) do not: the walk that
   * wrote the bits is every mode's own and is replayed as such.
   */
  guestEntriesWritten(w: Walker): void;
}

export type ModeName = 'naive' | 'shadow' | 'slat';
export const MODE_NAMES: readonly ModeName[] = ['naive', 'shadow', 'slat'];

/** fill() results */
export const FILL_OK = 0;
/** the guest's tables refuse the access: Translation.errorCode holds the #PF error code */
export const FILL_FAULT = -1;
/** the address is not RAM: Translation.gpa holds the guest-physical address for the MMIO handler */
export const FILL_MMIO = -2;

/** every fast-path tag (bit ctx*3+kind, see tlb/soft.ts) */
const ALL_TAGS = 0x1ff;

/**
 * What a mode answers a software-TLB miss with: the translation as the
 * guest's own tables give it (a fresh walk's result, in every mode), plus
 * which fast-path tags the mode withholds. The Mmu, not the mode, fills the
 * software TLB from it. One preallocated record per Mmu, overwritten by
 * every fill.
 */
export class Translation {
  /** guest-physical address of the byte */
  gpa = 0;
  /** host-physical address of the byte (RAM only) */
  hpa = 0;
  /** the guest's cumulative rights: all levels allow user, all allow write, any forbids execution */
  us = 1;
  rw = 1;
  xd = 0;
  /** protection key of the leaf (0 unless CR4.PKE) */
  pkey = 0;
  /** the leaf's dirty flag */
  dirty = 1;
  /** the leaf is global (G with CR4.PGE) */
  global = 0;
  /** SLOT_LARGE / SLOT_HUGE: the guest page is larger than 4 KiB */
  large = 0;
  /** log2 of the size the modeled hardware TLB caches the translation at */
  tlbShift = 12;
  /** fast-path tags the mode allows (bit ctx*3+kind); a withheld tag sends that access to Mode.assist */
  tagMask = ALL_TAGS;
  /** the #PF error code when fill() returns FILL_FAULT */
  errorCode = 0;

  /** Resets the rights to those of paging off (identity, everything allowed). */
  reset(gpa: number): void {
    this.gpa = gpa;
    this.us = 1; this.rw = 1; this.xd = 0; this.pkey = 0; this.dirty = 1; this.global = 0;
    this.large = 0; this.tlbShift = 12; this.tagMask = ALL_TAGS; this.errorCode = 0;
  }
}

/** onPagingChange() bits: which part of the paging state changed */
export const PG_FORMAT = 1;
/** CR0.WP, CR4.SMEP/SMAP/PKE/PSE, EFER.NXE: the permission controls */
export const PG_CONTROLS = 2;
/** CR4.PGE */
export const PG_GLOBAL = 4;
/** PKRU */
export const PG_PKRU = 8;
/** CR3 (with PCID) and the PAE PDPTEs: sent through onCr3, not onPagingChange */
export const PG_ALL = PG_FORMAT | PG_CONTROLS | PG_GLOBAL | PG_PKRU;

/** Mode.repeats: no access is counted without model(). */
export const REPEATS_NONE = 0;
/** Mode.repeats: the third access in a row of a kind to one 4 KiB page, other kinds between or not. */
export const REPEATS_BY_KIND = 1;
/** Mode.repeats: the third access in a row to one 4 KiB page, of one kind, translated at 4 KiB. */
export const REPEATS_IN_A_ROW = 2;

export interface Mode {
  readonly name: ModeName;
  /**
   * Translates gvaHi:gvaLo for access `acc` after a software-TLB miss, with
   * exactly the result a fresh walk of the guest's tables gives (the same
   * gpa, rights, fault and error code, the same accessed and dirty bits
   * written), whatever the mode keeps cached. Returns FILL_OK with `t` filled,
   * FILL_FAULT with t.errorCode, or FILL_MMIO with t.gpa. Never touches the
   * software TLB: the Mmu fills it from `t`.
   */
  fill(gvaLo: number, gvaHi: number, acc: number, t: Translation): number;
  /**
   * The software TLB holds a translation that allows access `acc`, but the
   * mode withheld its fast-path tag (Translation.tagMask, or a watched
   * frame): count what the hardware would do (an emulated page-table write,
   * a hidden page fault). The access then uses the cached translation, as
   * the guest's TLB would; the mode must not walk or change guest memory.
   */
  assist(gvaLo: number, gvaHi: number, acc: number, gpa: number): void;
  /**
   * Plays one access through the modeled hardware (called only while
   * measuring): gpa is the guest-physical address of the byte, tlbShift the
   * size the translation is cached at (Translation.tlbShift), global its
   * global flag.
   */
  model(gvaLo: number, gvaHi: number, acc: number, gpa: number, tlbShift: number, global: number): void;
  /**
   * Which accesses model() plays as nothing but L1 hits (the access and
   * its hits counted, no other state changed), so that Mmu.translateRun
   * may count them itself and hand the counts to addRepeats; fixed for the
   * mode's life. The kinds are instruction fetches, and data (reads and
   * writes together). REPEATS_NONE: none. REPEATS_BY_KIND: an access whose
   * two predecessors of its kind were to its 4 KiB page, whatever came
   * between of the other kind: model() looks every access up at 4 KiB in
   * one TLB whose L1 arrays for 4 KiB pages exist (at least one set) and
   * are separate for fetches and data, and depends on nothing but the page
   * and the kind. REPEATS_IN_A_ROW: an access translated at 4 KiB whose two
   * predecessors were of its kind and page, with nothing between. Either
   * way the first of the three leaves the page in its L1 arrays (hit, or
   * filled after a miss), the second hits it there and becomes each
   * array's last hit, so the third hits those last-hit entries and changes
   * no stamp.
   */
  readonly repeats: number;
  /** Counts `reads`, `writes` and `fetches` accesses of the kind `repeats` describes, as model() would have counted them. */
  addRepeats(reads: number, writes: number, fetches: number): void;
  /**
   * The guest's paging state changed (after the Mmu rebuilt its walk
   * context): `what` holds PG_* bits saying which registers changed. Every
   * register that affects translation reaches the mode through here.
   */
  onPagingChange(what: number): void;
  /** CR3 was loaded; `flush` is false for a PCID no-flush load. */
  onCr3(flush: boolean): void;
  /** INVLPG, or INVPCID of one address (`pcid` < 0: the current one). */
  onInvlpg(gvaLo: number, gvaHi: number, pcid: number): void;
  /**
   * A TLB flush: global entries too when `global`; `pcid` < 0 means every
   * PCID. `byInvpcid` tells an INVPCID from a control-register write.
   */
  onFlush(global: boolean, pcid: number, byInvpcid: boolean): void;
  /** A write reached a guest frame this mode watches (see Mmu.watch). */
  onWatchedWrite(gpa: number, size: number): void;
  /** Current sizes of the mode's structures (pages, entries), for reports. */
  gauges(): Record<string, number>;
  /** A human-readable dump of the mode's translation structures. */
  dump(): string;
  /** Frees every host frame the mode owns. */
  destroy(): void;
}
