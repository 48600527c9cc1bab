/**
 * Paging formats as data. The walker (walker.ts) is one loop; everything that
 * differs between 32-bit, PAE, 4-level, 5-level and EPT tables lives in a
 * `PagingFormat` (the static shape) and a `WalkContext` (the shape combined
 * with the control-register bits and MAXPHYADDR that decide reserved bits and
 * permissions). A WalkContext is built when a control register changes, never
 * per access.
 */
import {
  CR0_PG, CR0_WP, CR4_LA57, CR4_PAE, CR4_PGE, CR4_PKE, CR4_PSE, CR4_SMAP, CR4_SMEP,
  EFER_LMA, EFER_LME, EFER_NXE, EPT_A, EPT_D, EPT_RWX, PTE_A, PTE_D, PTE_P, PTE_PS,
} from './bits.js';

export const FMT_NONE = 0;
export const FMT_32 = 1;
export const FMT_PAE = 2;
export const FMT_L4 = 3;
export const FMT_L5 = 4;
export const FMT_EPT = 5;

export type FormatId = 0 | 1 | 2 | 3 | 4 | 5;
export const FORMAT_NAMES = ['none', '32-bit', 'pae', '4-level', '5-level', 'ept'] as const;
export type GuestFormatName = 'none' | '32-bit' | 'pae' | '4-level' | '5-level';

export interface PagingFormat {
  readonly id: FormatId;
  readonly name: string;
  /** level number of the top table walked (levels count down to 1, the page table) */
  readonly top: number;
  /** log2 of the entry size: 2 (4-byte entries) or 3 */
  readonly entryShift: 2 | 3;
  /** per level (index = level), the lowest linear-address bit of that level's index */
  readonly shift: readonly number[];
  /** per level, the index mask */
  readonly indexMask: readonly number[];
  /** linear-address width (32, 48, 57) */
  readonly vaBits: number;
  /** PAE: the top level comes from the four PDPTE registers, not memory */
  readonly pdpteRegisters: boolean;
}

const SHIFT_9 = [0, 12, 21, 30, 39, 48];
const MASK_9 = [0, 511, 511, 511, 511, 511];

export const FORMATS: readonly PagingFormat[] = [
  { id: FMT_NONE, name: 'none', top: 0, entryShift: 2, shift: [], indexMask: [], vaBits: 32, pdpteRegisters: false },
  { id: FMT_32, name: '32-bit', top: 2, entryShift: 2, shift: [0, 12, 22], indexMask: [0, 1023, 1023], vaBits: 32, pdpteRegisters: false },
  { id: FMT_PAE, name: 'pae', top: 3, entryShift: 3, shift: [0, 12, 21, 30], indexMask: [0, 511, 511, 3], vaBits: 32, pdpteRegisters: true },
  { id: FMT_L4, name: '4-level', top: 4, entryShift: 3, shift: SHIFT_9.slice(0, 5), indexMask: MASK_9.slice(0, 5), vaBits: 48, pdpteRegisters: false },
  { id: FMT_L5, name: '5-level', top: 5, entryShift: 3, shift: SHIFT_9, indexMask: MASK_9, vaBits: 57, pdpteRegisters: false },
  { id: FMT_EPT, name: 'ept', top: 4, entryShift: 3, shift: SHIFT_9.slice(0, 5), indexMask: MASK_9.slice(0, 5), vaBits: 48, pdpteRegisters: false },
];

/** The paging format selected by CR0.PG, CR4.PAE, CR4.LA57 and EFER.LME (SDM vol. 3A, 4.1.1, table 4-1). */
export function guestFormatOf(cr0: number, cr4: number, efer: number): FormatId {
  if (!(cr0 & CR0_PG)) return FMT_NONE;
  if (!(cr4 & CR4_PAE)) return FMT_32;
  if (!(efer & (EFER_LME | EFER_LMA))) return FMT_PAE;
  return cr4 & CR4_LA57 ? FMT_L5 : FMT_L4;
}

/** The control-register bits that decide how a guest walk behaves. */
export interface PagingControl {
  readonly cr0: number;
  readonly cr4: number;
  readonly efer: number;
  readonly pkru: number;
}

/**
 * Everything the walker needs besides the root: format, reserved-bit masks per
 * level, which levels may map pages, accessed/dirty bit positions, and the
 * permission-relevant control bits.
 */
export class WalkContext {
  readonly fmt: PagingFormat;
  /** reserved bits of the low dword, index level*2 + (page-size bit set ? 1 : 0) */
  readonly rsvdLo: Int32Array;
  /** reserved bits of the high dword, same index */
  readonly rsvdHi: Int32Array;
  /** bit L set when a level-L entry with PS=1 maps a page */
  readonly largeMask: number;
  /** bits that make an entry present: PTE_P, or R|W|X for EPT */
  readonly presentMask: number;
  readonly aBit: number;
  readonly dBit: number;
  /** address bits of the high dword (physical bits 32..M-1) */
  readonly addrHiMask: number;
  /** 32-bit paging 4 MiB pages: PDE bits 13.. giving physical bits 32.. (PSE-36) */
  readonly pse36Mask: number;
  /** PDPTE reserved bits, checked when PAE PDPTEs are loaded (SDM 4.4.1) */
  readonly pdpteRsvdLo: number;
  readonly pdpteRsvdHi: number;
  // permission inputs, as 0/1
  readonly wp: number;
  readonly smep: number;
  readonly smap: number;
  /** protection keys apply (CR4.PKE=1 and 4-/5-level paging) */
  readonly pke: number;
  readonly nxe: number;
  readonly pge: number;
  readonly pkru: number;
  /** set PFERR_ID on fetch faults (SDM 4.7: SMEP=1, or PAE/4-level with NXE=1) */
  readonly idBit: number;
  readonly maxPhysAddr: number;

  constructor(fmt: PagingFormat, init: {
    rsvdLo: Int32Array; rsvdHi: Int32Array; largeMask: number; presentMask: number; aBit: number; dBit: number;
    addrHiMask: number; pse36Mask: number; pdpteRsvdLo: number; pdpteRsvdHi: number;
    wp: number; smep: number; smap: number; pke: number; nxe: number; pge: number; pkru: number; idBit: number; maxPhysAddr: number;
  }) {
    this.fmt = fmt;
    this.rsvdLo = init.rsvdLo;
    this.rsvdHi = init.rsvdHi;
    this.largeMask = init.largeMask;
    this.presentMask = init.presentMask;
    this.aBit = init.aBit;
    this.dBit = init.dBit;
    this.addrHiMask = init.addrHiMask;
    this.pse36Mask = init.pse36Mask;
    this.pdpteRsvdLo = init.pdpteRsvdLo;
    this.pdpteRsvdHi = init.pdpteRsvdHi;
    this.wp = init.wp;
    this.smep = init.smep;
    this.smap = init.smap;
    this.pke = init.pke;
    this.nxe = init.nxe;
    this.pge = init.pge;
    this.pkru = init.pkru;
    this.idBit = init.idBit;
    this.maxPhysAddr = init.maxPhysAddr;
  }
}

/** Mask of bits lo..hi (inclusive) of a 32-bit word, 0 when lo > hi. */
function bitRange(lo: number, hi: number): number {
  if (lo > hi) return 0;
  const width = hi - lo + 1;
  return (width >= 32 ? -1 : ((1 << width) - 1) << lo) | 0;
}

/**
 * Builds the walk context of a guest format from control registers.
 * @param maxPhysAddr MAXPHYADDR (CPUID 80000008H:EAX[7:0]), 32..52
 * @param gbPages whether 1 GiB pages are supported (CPUID 80000001H:EDX[26])
 * Rules: SDM vol. 3A, 4.3 (32-bit), 4.4 (PAE), 4.5 (4-/5-level); reserved
 * bits per tables 4-4..4-20; the PSE-36 limit of 40 physical bits (4.3).
 */
export function guestWalkContext(fmtId: FormatId, ctl: PagingControl, maxPhysAddr: number, gbPages: boolean): WalkContext {
  const fmt = FORMATS[fmtId]!;
  const rsvdLo = new Int32Array(12);
  const rsvdHi = new Int32Array(12);
  const nxe = ctl.efer & EFER_NXE ? 1 : 0;
  const addrHiMask = bitRange(0, maxPhysAddr - 33);
  let largeMask = 0;
  let pse36Mask = 0;
  let pdpteRsvdLo = 0;
  let pdpteRsvdHi = 0;
  const xd = nxe ? 0 : 1 << 31;
  if (fmtId === FMT_32) {
    if (ctl.cr4 & CR4_PSE) {
      largeMask = 1 << 2;
      const m = Math.min(maxPhysAddr, 40);
      pse36Mask = bitRange(0, m - 33);
      // 4 MiB PDE: bits 13..13+(m-33) hold physical bits 32..m-1; bits up to 21 are reserved.
      rsvdLo[2 * 2 + 1] = bitRange(13 + (m - 32), 21);
    }
  } else if (fmtId === FMT_PAE) {
    const hi = bitRange(maxPhysAddr - 32, 30) | xd; // bits 62:M reserved, 63 unless NXE
    largeMask = 1 << 2;
    rsvdHi[1 * 2] = hi;
    rsvdHi[2 * 2] = hi;
    rsvdHi[2 * 2 + 1] = hi;
    rsvdLo[2 * 2 + 1] = bitRange(13, 20);
    pdpteRsvdLo = 0x1e6; // bits 2:1 and 8:5
    pdpteRsvdHi = bitRange(maxPhysAddr - 32, 31);
  } else if (fmtId === FMT_L4 || fmtId === FMT_L5) {
    const hi = bitRange(maxPhysAddr - 32, 19) | xd; // bits 51:M reserved; 62:52 ignored
    largeMask = (1 << 2) | (gbPages ? 1 << 3 : 0);
    for (let level = 1; level <= fmt.top; level++) {
      rsvdHi[level * 2] = hi;
      rsvdHi[level * 2 + 1] = hi;
    }
    rsvdLo[5 * 2] = PTE_PS; // PS is reserved in PML5E and PML4E
    rsvdLo[4 * 2] = PTE_PS;
    if (!gbPages) rsvdLo[3 * 2] = PTE_PS;
    rsvdLo[3 * 2 + 1] = bitRange(13, 29);
    rsvdLo[2 * 2 + 1] = bitRange(13, 20);
  }
  const pke = (fmtId === FMT_L4 || fmtId === FMT_L5) && ctl.cr4 & CR4_PKE ? 1 : 0;
  const smep = ctl.cr4 & CR4_SMEP ? 1 : 0;
  return new WalkContext(fmt, {
    rsvdLo, rsvdHi, largeMask, presentMask: PTE_P, aBit: PTE_A, dBit: PTE_D,
    addrHiMask: fmt.entryShift === 3 ? addrHiMask : 0, pse36Mask, pdpteRsvdLo, pdpteRsvdHi,
    wp: ctl.cr0 & CR0_WP ? 1 : 0,
    smep,
    smap: ctl.cr4 & CR4_SMAP ? 1 : 0,
    pke,
    nxe: fmtId === FMT_32 ? 0 : nxe,
    pge: ctl.cr4 & CR4_PGE ? 1 : 0,
    pkru: ctl.pkru | 0,
    idBit: smep || (fmtId !== FMT_32 && fmtId !== FMT_NONE && nxe) ? 1 : 0,
    maxPhysAddr,
  });
}

/**
 * The walk context for tables vmmu itself builds in the x86-64 format (the
 * naive mode's host page table and shadow tables): 4- or 5-level, NX enabled,
 * 52 physical bits. Permission inputs are taken from `ctl` so that a shadow
 * walk applies the guest's CR0.WP/SMEP/SMAP/PKRU as the hardware would.
 */
export function hostWalkContext(levels: 4 | 5, ctl: PagingControl): WalkContext {
  const cr4 = (ctl.cr4 | CR4_PAE) & ~CR4_LA57 | (levels === 5 ? CR4_LA57 : 0);
  return guestWalkContext(levels === 5 ? FMT_L5 : FMT_L4, { cr0: ctl.cr0 | CR0_PG, cr4, efer: ctl.efer | EFER_NXE | EFER_LME, pkru: ctl.pkru }, 52, true);
}

/**
 * The walk context of an EPT (SDM vol. 3C, 29.3.2): 4 levels, presence is any
 * of R/W/X, A/D at bits 8/9, large pages at levels 2 and 3. Reserved bits
 * (an EPT misconfiguration, 29.3.3.1): bits 51:M, bits 7:3 of non-leaf
 * entries, bits 20:12 / 29:12 of 2 MiB / 1 GiB leaves.
 */
export function eptWalkContext(maxPhysAddr: number): WalkContext {
  const fmt = FORMATS[FMT_EPT]!;
  const rsvdLo = new Int32Array(12);
  const rsvdHi = new Int32Array(12);
  const hi = bitRange(maxPhysAddr - 32, 19);
  for (let level = 1; level <= 4; level++) {
    rsvdHi[level * 2] = hi;
    rsvdHi[level * 2 + 1] = hi;
  }
  rsvdLo[4 * 2] = bitRange(3, 7);
  rsvdLo[3 * 2] = bitRange(3, 6); // bit 7 (PS) of a non-leaf is the page-size bit itself
  rsvdLo[2 * 2] = bitRange(3, 6);
  rsvdLo[3 * 2 + 1] = bitRange(12, 29);
  rsvdLo[2 * 2 + 1] = bitRange(12, 20);
  return new WalkContext(fmt, {
    rsvdLo, rsvdHi, largeMask: (1 << 2) | (1 << 3), presentMask: EPT_RWX, aBit: EPT_A, dBit: EPT_D,
    addrHiMask: bitRange(0, maxPhysAddr - 33), pse36Mask: 0, pdpteRsvdLo: 0, pdpteRsvdHi: 0,
    wp: 1, smep: 0, smap: 0, pke: 0, nxe: 0, pge: 0, pkru: 0, idBit: 0, maxPhysAddr,
  });
}
