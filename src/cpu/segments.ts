/**
 * Protected-mode segmentation: reading descriptors from the GDT and LDT,
 * and loading segment registers with every check of SDM vol. 3A, 5.5-5.8
 * and the MOV/POP/LDS pseudo-code of vol. 2. Descriptor-table accesses are
 * implicit supervisor accesses.
 */
import { AR_ACCESSED, AR_CODE, AR_DB, AR_DC, AR_DPL_SHIFT, AR_G, AR_P, AR_RW, AR_S, CS, LDTR, SS, V_GP, V_NP, V_SS, V_TS } from './constants.js';
import { EFER_LMA } from '../mmu/index.js';
import type { Cpu } from './cpu.js';

/** Scratch result of readDescriptor (no allocation per load). */
export const DESC = { lo: 0, hi: 0, base: 0, limit: 0, ar: 0, addr: 0, addrHi: 0 };

/**
 * Reads the descriptor of `sel` into DESC. Returns false when the selector
 * indexes beyond its table's limit (or the LDT is null); the caller raises
 * the exception the context asks for.
 */
export function readDescriptor(c: Cpu, sel: number): boolean {
  const index = sel & 0xfff8;
  let base: number;
  let limit: number;
  // While IA-32e mode is active the GDTR and LDTR bases are 64-bit (SDM vol. 3A, 2.4.1, 2.4.2): their high halves count
  const lma = (c.efer & EFER_LMA) !== 0;
  let baseHi = 0;
  if (sel & 4) {
    if ((c.segSel[LDTR]! & 0xfffc) === 0) return false;
    base = c.segBase[LDTR]!;
    limit = c.segLimit[LDTR]!;
    if (lma) baseHi = c.ldtBaseHi;
  } else {
    base = c.gdtBase;
    limit = c.gdtLimit;
    if (lma) baseHi = c.gdtBaseHi;
  }
  if (index + 7 > (limit >>> 0)) return false;
  const addr = (base + index) | 0;
  let lo: number, hi: number, addrHi = 0;
  if (!lma || (baseHi === 0 && (addr >>> 0) >= (base >>> 0) && (addr >>> 0) <= 0xfffffff8)) {
    // outside IA-32e mode linear addresses are 32 bits and wrap at 4 GiB
    lo = c.readLin32Sup(addr);
    hi = c.readLin32Sup((addr + 4) | 0);
  } else {
    addrHi = (baseHi + ((addr >>> 0) < (base >>> 0) ? 1 : 0)) | 0;
    lo = readSup64(c, addr, addrHi, 0);
    hi = readSup64(c, addr, addrHi, 4);
  }
  DESC.lo = lo;
  DESC.hi = hi;
  DESC.addr = addr;
  DESC.addrHi = addrHi;
  DESC.base = ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000)) | 0;
  let lim = (lo & 0xffff) | (hi & 0xf0000);
  if (hi & AR_G) lim = ((lim << 12) | 0xfff) | 0;
  DESC.limit = lim;
  DESC.ar = hi & 0x00f0ff00;
  return true;
}

/** Sets the accessed bit of the descriptor just read (DESC), writing it back like the processor does. */
export function markAccessed(c: Cpu): void {
  if (!(DESC.hi & AR_ACCESSED)) {
    DESC.hi |= AR_ACCESSED;
    DESC.ar |= AR_ACCESSED;
    if ((c.efer & EFER_LMA) === 0) c.writeLin8Sup((DESC.addr + 5) | 0, (DESC.hi >>> 8) & 0xff);
    else writeSup64(c, DESC.addr, DESC.addrHi, 5, (DESC.hi >>> 8) & 0xff, 1);
  }
}

/** An implicit supervisor read of 4 bytes at (lo, hi) + off, a 64-bit linear address (descriptor tables above 4 GiB). */
export function readSup64(c: Cpu, lo: number, hi: number, off: number): number {
  const s = (lo >>> 0) + off;
  const v = c.mmu.readAcc(s | 0, (hi + (s > 0xffffffff ? 1 : 0)) | 0, 4, 0);
  if (c.mmu.faultVector !== 0) throw c.memFault();
  return v;
}

/** An implicit supervisor write of `size` bytes at (lo, hi) + off. */
export function writeSup64(c: Cpu, lo: number, hi: number, off: number, v: number, size: 1 | 2 | 4): void {
  const s = (lo >>> 0) + off;
  c.mmu.writeAcc(s | 0, (hi + (s > 0xffffffff ? 1 : 0)) | 0, size, v, 0);
  if (c.mmu.faultVector !== 0) throw c.memFault();
}

export function dplOf(ar: number): number {
  return (ar >>> AR_DPL_SHIFT) & 3;
}

/**
 * MOV/POP/LxS to a data segment register or SS (SDM vol. 2B, MOV and POP
 * pseudo-code). In real and virtual-8086 mode the selector is the paragraph.
 */
export function loadSegment(c: Cpu, seg: number, sel: number): void {
  sel &= 0xffff;
  if (!c.protectedMode) {
    c.loadRealSegment(seg, sel);
    return;
  }
  if (seg === SS) {
    if ((sel & 0xfffc) === 0) c.gp(0);
    if (!readDescriptor(c, sel)) c.gp(sel & 0xfffc);
    const ar = DESC.ar;
    if ((sel & 3) !== c.cpl || dplOf(ar) !== c.cpl || !(ar & AR_S) || ar & AR_CODE || !(ar & AR_RW)) c.gp(sel & 0xfffc);
    if (!(ar & AR_P)) c.fault(V_SS, sel & 0xfffc);
    markAccessed(c);
    c.loadCache(SS, sel, DESC.base, DESC.limit, DESC.ar);
    return;
  }
  if ((sel & 0xfffc) === 0) {
    // A null selector loads an unusable segment; using it faults (#GP(0)).
    c.loadCache(seg, sel, 0, 0, 0);
    return;
  }
  if (!readDescriptor(c, sel)) c.gp(sel & 0xfffc);
  const ar = DESC.ar;
  if (!(ar & AR_S) || (ar & (AR_CODE | AR_RW)) === AR_CODE) c.gp(sel & 0xfffc);
  if (!(ar & AR_CODE) || !(ar & AR_DC)) {
    const dpl = dplOf(ar);
    if ((sel & 3) > dpl || c.cpl > dpl) c.gp(sel & 0xfffc);
  }
  if (!(ar & AR_P)) c.fault(V_NP, sel & 0xfffc);
  markAccessed(c);
  c.loadCache(seg, sel, DESC.base, DESC.limit, DESC.ar);
}

/**
 * Checks a code-segment descriptor in DESC as the target of a far transfer
 * that does not change privilege through a gate (JMP/CALL direct): returns
 * normally or raises #GP(sel)/#NP(sel).
 */
export function checkDirectCode(c: Cpu, sel: number): void {
  const ar = DESC.ar;
  if (!(ar & AR_S) || !(ar & AR_CODE)) c.gp(sel & 0xfffc);
  const dpl = dplOf(ar);
  if (ar & AR_DC) {
    if (dpl > c.cpl) c.gp(sel & 0xfffc);
  } else if ((sel & 3) > c.cpl || dpl !== c.cpl) {
    c.gp(sel & 0xfffc);
  }
  if (!(ar & AR_P)) c.fault(V_NP, sel & 0xfffc);
  // IA-32e mode: L and D together are reserved (SDM vol. 2A, JMP and CALL, "64-Bit Mode Exceptions")
  if (ar & (1 << 21) && ar & AR_DB && c.efer & EFER_LMA) c.gp(sel & 0xfffc);
}

/** Loads CS from DESC with RPL = cpl (after the checks) and sets the CPL. */
export function loadCs(c: Cpu, sel: number, cpl: number): void {
  markAccessed(c);
  c.loadCache(CS, (sel & 0xfffc) | cpl, DESC.base, DESC.limit, DESC.ar);
  c.setCpl(cpl);
}

/**
 * Loads SS for a privilege change from a TSS or a far return: the checks
 * that fail with #TS (from a TSS) or #GP/#SS (from a return).
 */
export function loadStackSegment(c: Cpu, sel: number, cpl: number, fromTss: boolean): void {
  const vec = fromTss ? V_TS : V_GP;
  if ((sel & 0xfffc) === 0) c.fault(vec, fromTss ? sel & 0xfffc : 0);
  if (!readDescriptor(c, sel)) c.fault(vec, sel & 0xfffc);
  const ar = DESC.ar;
  if ((sel & 3) !== cpl || dplOf(ar) !== cpl || !(ar & AR_S) || ar & AR_CODE || !(ar & AR_RW)) c.fault(vec, sel & 0xfffc);
  if (!(ar & AR_P)) c.fault(fromTss ? V_SS : V_SS, sel & 0xfffc);
  markAccessed(c);
  c.loadCache(SS, sel, DESC.base, DESC.limit, DESC.ar);
}

/**
 * After a return to an outer privilege level: data segment registers whose
 * descriptors the new CPL may not use are nulled (SDM vol. 2A, RET, IRET).
 */
export function nullInaccessibleSegments(c: Cpu): void {
  for (const seg of [0, 3, 4, 5]) {
    const ar = c.segAr[seg]!;
    if (!(ar & AR_P)) continue;
    const dataOrNonconforming = !(ar & AR_CODE) || !(ar & AR_DC);
    if (dataOrNonconforming && dplOf(ar) < c.cpl) c.loadCache(seg, 0, 0, 0, 0);
  }
}

/** A raw descriptor selector check for LAR/LSL/VERR/VERW-style queries: returns false instead of faulting. */
export function probeDescriptor(c: Cpu, sel: number): boolean {
  if ((sel & 0xfffc) === 0) return false;
  return readDescriptor(c, sel);
}

export { V_GP };
