/**
 * What a translation mode is: how it fills the software TLB on a miss, what
 * the modeled hardware does for each access, and how it reacts to the guest's
 * paging events. naive.ts, shadow.ts and slat.ts implement it; the Mmu calls
 * it and never asks which mode it has.
 */

export type ModeName = 'naive' | 'shadow' | 'slat';
export const MODE_NAMES: readonly ModeName[] = ['naive', 'shadow', 'slat'];

/** fill() results below zero */
export const FILL_FAULT = -1;
/** the address is not RAM: mmu.lastGpa holds the guest-physical address for the MMIO handler */
export const FILL_MMIO = -2;

export interface Mode {
  readonly name: ModeName;
  /**
   * Translates gvaHi:gvaLo for access `acc` after a software-TLB miss.
   * Returns the hpa of the addressed byte (and fills the software-TLB slot
   * when the page is RAM), FILL_FAULT with mmu.fault set, or FILL_MMIO with
   * mmu.lastGpa set. Always leaves mmu.lastGpa, lastShift, lastGlobal
   * describing the translation when it succeeds.
   */
  fill(gvaLo: number, gvaHi: number, acc: number): number;
  /**
   * Plays one access through the modeled hardware (called only while
   * measuring). `slot` is the software-TLB slot holding the translation, or
   * -1 when the access was not cacheable (MMIO), in which case mmu.last*
   * describe it.
   */
  model(slot: number, gvaLo: number, gvaHi: number, acc: number): void;
  /** The paging format or a permission-relevant control bit changed (after the core rebuilt its contexts). */
  onPagingChange(): void;
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
