/**
 * The SSE and SSE2 instructions of the 0F map (SDM vol. 2, appendix A,
 * table A-3: the columns without prefix and with 66, F3 and F2): decoding,
 * the architectural checks, and the register and memory plumbing. The lane
 * arithmetic is sse/float.ts (floating point, MXCSR) and sse/int.ts
 * (integers and bit moves); the MMX registers and the x87-to-MMX
 * transition are the FPU's (../fpu.ts).
 *
 * The instructions exist only when CPUID says so (Cpu.features.sse,
 * .sse2; features.ts): otherwise every opcode here is #UD, as before there
 * was SSE, and the MMX opcodes behave exactly as they did (ops/fpu.ts
 * calls sseExec only when SSE is on).
 *
 * Checks, in this order (SDM vol. 2, 2.4 and the "Exceptions" of each
 * instruction; vol. 3A, 13.1-13.4):
 *   - #UD: the feature is off, LOCK, an encoding that is not defined (a
 *     register where only memory is allowed, or the reverse);
 *   - instructions on XMM registers or MXCSR: #UD if CR0.EM=1 or
 *     CR4.OSFXSR=0, then #NM if CR0.TS=1;
 *   - instructions with an MMX register operand (the SSE additions to MMX,
 *     PSHUFW, PAVGB mm, ...): the MMX rules (#UD if CR0.EM, #NM if CR0.TS,
 *     a pending x87 error reported: Fpu.mmxCheck); the conversions between
 *     MMX and XMM registers (CVTPI2PS, CVTPS2PI, MOVQ2DQ, ...) take both;
 *   - a 128-bit memory operand of any instruction but MOVUPS, MOVUPD,
 *     MOVDQU and MASKMOVDQU must be 16-byte aligned (its linear address):
 *     #GP(0) otherwise, before any access (vol. 1, 11.4.1 and 11.6.6);
 *   - the memory accesses, through the CPU's accessors (segment checks,
 *     the MMU, faults as for any access); a store of more than 4 bytes is
 *     probed first, so a fault writes nothing;
 *   - an unmasked SIMD floating-point exception: the flags are set in
 *     MXCSR, the destination is unchanged, then #XM (vector 19) if
 *     CR4.OSXMMEXCPT=1, #UD otherwise (vol. 3A, 13.4; vol. 1, 11.5.3).
 *
 * Rule for every handler (execute.ts): memory first, registers last.
 */
import { CR0_EM, CR0_TS, CR4_OSFXSR, CR4_OSXMMEXCPT } from '../constants.js';
import type { Cpu } from '../cpu.js';
import type { OpcodeEntry } from './common.js';
import {
  SseFloat, OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MIN, OP_MAX, OP_SQRT, FMT_SS, FMT_PS, FMT_SD, FMT_PD,
  CVT_SS2SD, CVT_SD2SS, CVT_PS2PD, CVT_PD2PS, CVT_DQ2PS, CVT_PS2DQ, CVT_TPS2DQ, CVT_DQ2PD, CVT_PD2DQ, CVT_TPD2DQ,
  EFL_CF, EFL_PF, EFL_ZF, SGL_INDEFINITE,
} from '../sse/float.js';
import {
  sse2Binary, sseBitsBinary, sse2ShiftImm, pshufd, pshufhw, pshuflw, shufps, shufpd, pmovmskb, movmskps, movmskpd,
  pextrw, pinsrw, movdToXmm, movqToXmm,
} from '../sse/int.js';

/**
 * 64-bit mode (long.ts, sseExec64): what the instruction's operands are
 * there. The ModR/M byte is decoded before sseExec runs (Cpu.modrm holds
 * it, for the mod field); registers take REX.R and REX.B (XMM8-15, R8-R15;
 * the MMX registers ignore them: SDM vol. 2A, 2.2.1.7), memory is a 64-bit
 * linear address, a 32-bit general-register write zeroes bits 63:32 and
 * REX.W selects the 64-bit forms of MOVD/MOVQ, CVTSI2SS/SD, CVT(T)SS2SI,
 * CVT(T)SD2SI and MOVNTI. null outside 64-bit mode.
 */
export interface SseLong {
  /** P_NONE, P_66, P_F3, P_F2 */
  prefix: number;
  /** ModR/M reg with REX.R, r/m with REX.B */
  reg: number;
  rm: number;
  /** REX.W */
  w: boolean;
  lock: boolean;
  /** the memory operand's linear address, low half (its alignment) */
  eaLo: number;
  imm8(): number;
  /** memory at the operand's address + k */
  rd16(k: number): number;
  rd32(k: number): number;
  wr32(k: number, v: number): void;
  /** checks that `len` bytes at the operand can be accessed (first and last page) */
  probe(len: number, write: boolean): void;
  /** general register r: low half, high half; setGpr writes 4 bytes (zeroing the high half) or 8 */
  gpr(r: number): number;
  gprHi(r: number): number;
  setGpr(r: number, size: number, lo: number, hi: number): void;
  /** MASKMOVQ/MASKMOVDQU: checks `len` bytes at DS:RDI, then writes byte i */
  probeRdi(len: number): void;
  wrRdi8(i: number, v: number): void;
}

let L: SseLong | null = null;

/** Runs the SSE/SSE2 instruction 0F `op` in 64-bit mode with `l` describing its operands (the ModR/M byte already decoded). */
export function sseExec64(c: Cpu, op: number, l: SseLong): void {
  L = l;
  try {
    sseExec(c, op);
  } finally {
    L = null;
  }
}

/** ModR/M decoding: done by long.ts before sseExec64 */
function decode(c: Cpu): void {
  if (L === null) c.decodeModrm();
}
/** the reg field (XMM or general register; `& 7` for an MMX register) */
const regOf = (c: Cpu): number => (L !== null ? L.reg : c.regField);
/** the r/m register when it is an XMM or general register */
const rmX = (c: Cpu): number => (L !== null ? L.rm : c.modrm & 7);
const imm8 = (c: Cpu): number => (L !== null ? L.imm8() : c.fetch8());
const lockP = (c: Cpu): boolean => (L !== null ? L.lock : c.lockPrefix);
/** general register r read at 32 bits */
const gpr32 = (c: Cpu, r: number): number => (L !== null ? L.gpr(r) : c.reg32[r]!);
/** a 32-bit general-register write (zero-extended to 64 bits in 64-bit mode) */
function setGpr32(c: Cpu, r: number, v: number): void {
  if (L !== null) L.setGpr(r, 4, v, 0);
  else c.reg32[r] = v;
}
/** the memory operand at +k */
const mrd32 = (c: Cpu, k: number): number => (L !== null ? L.rd32(k) : c.rd32(c.eaSeg, (c.eaOff + k) >>> 0));
const mrd16 = (c: Cpu): number => (L !== null ? L.rd16(0) : c.rd16(c.eaSeg, c.eaOff));
function mwr32(c: Cpu, k: number, v: number): void {
  if (L !== null) L.wr32(k, v);
  else c.wr32(c.eaSeg, (c.eaOff + k) >>> 0, v);
}

/** the mandatory prefix: none, 66, F3, F2 (F2 and F3 win over 66, the last of F2/F3 wins: execute.ts keeps it in `rep`) */
const P_NONE = 0, P_66 = 1, P_F3 = 2, P_F2 = 3;

function prefix(c: Cpu): number {
  if (L !== null) return L.prefix;
  return c.rep === 2 ? P_F3 : c.rep === 1 ? P_F2 : c.o32 !== c.codeBig ? P_66 : P_NONE;
}

const SF = new SseFloat();
/** a memory source operand; the second operand of an MMX-register form; a result built before it is committed */
const MS = new Int32Array(4);
const MA = new Int32Array(4);
const MT = new Int32Array(4);

/** The SSE2 integer instructions 66 0F op /r that sse/int.ts's sse2Binary runs (found by asking it, once). */
const SSE2_BINARY = new Uint8Array(256);
for (let op = 0; op < 256; op++) if (sse2Binary(op, MA, MS)) SSE2_BINARY[op] = 1;
/** Of those, the ones whose unprefixed form is an MMX-register instruction added by SSE (1) or SSE2 (2) rather than an MMX one. */
const MMX_ADDED = new Uint8Array(256);
for (const op of [0xda, 0xde, 0xe0, 0xe3, 0xe4, 0xea, 0xee, 0xf6]) MMX_ADDED[op] = 1;
for (const op of [0xd4, 0xf4, 0xfb]) MMX_ADDED[op] = 2;
/**
 * The unprefixed opcodes in the MMX columns that are SSE or SSE2 additions
 * (ops/fpu.ts sends them here when SSE is on): the binary ones above,
 * PSHUFW, PMOVMSKB r32, mm, MOVNTQ, MASKMOVQ.
 */
export const SSE_MMX_FORMS = new Uint8Array(256);
for (let op = 0; op < 256; op++) if (MMX_ADDED[op] !== 0) SSE_MMX_FORMS[op] = 1;
for (const op of [0x70, 0xd7, 0xe7, 0xf7]) SSE_MMX_FORMS[op] = 1;

// ---- checks ----

/** #UD when the instruction's feature (1 SSE, 2 SSE2) is off */
function need(c: Cpu, level: number): void {
  if (level === 2 ? !c.features.sse2 : !c.features.sse) c.ud();
}

/** #UD for LOCK, for CR0.EM=1 or CR4.OSFXSR=0; #NM for CR0.TS=1 (SDM vol. 3A, 13.1, table 13-1 ... 2.5) */
function xmmCheck(c: Cpu): void {
  if (lockP(c)) c.ud();
  if ((c.cr0 & CR0_EM) !== 0 || (c.cr4 & CR4_OSFXSR) === 0) c.ud();
  if (c.cr0 & CR0_TS) c.trap(7);
}

/** the MMX-register rules, with LOCK #UD */
function mmxCheck(c: Cpu): void {
  if (lockP(c)) c.ud();
  c.fpu.mmxCheck();
}

/** commits the flags of the last floating-point operation; an unmasked exception raises #XM or #UD (SDM vol. 3A, 13.4) */
function fpEnd(c: Cpu): void {
  c.fpu.mxcsr |= SF.flags;
  if (SF.fault) {
    if (c.cr4 & CR4_OSXMMEXCPT) c.trap(19);
    c.ud();
  }
}

const mem = (c: Cpu): boolean => c.modrm < 0xc0;
const xreg = (c: Cpu, r: number): Int32Array => c.fpu.xmmReg[r]!;

// ---- memory ----

/** #GP(0) unless the memory operand's linear address is 16-byte aligned */
function aligned16(c: Cpu): void {
  if ((((L !== null ? L.eaLo : c.segBase[c.eaSeg]! + c.eaOff)) & 15) !== 0) c.gp(0);
}

function read32To(c: Cpu, out: Int32Array): Int32Array {
  out[0] = mrd32(c, 0);
  out[1] = 0; out[2] = 0; out[3] = 0;
  return out;
}

function read64To(c: Cpu, out: Int32Array): Int32Array {
  const lo = mrd32(c, 0), hi = mrd32(c, 4);
  out[0] = lo; out[1] = hi; out[2] = 0; out[3] = 0;
  return out;
}

function read128To(c: Cpu, align: boolean, out: Int32Array): Int32Array {
  if (align) aligned16(c);
  const d0 = mrd32(c, 0), d1 = mrd32(c, 4), d2 = mrd32(c, 8), d3 = mrd32(c, 12);
  out[0] = d0; out[1] = d1; out[2] = d2; out[3] = d3;
  return out;
}

/**
 * Checks a store of `len` bytes at seg:off before any byte is written: the
 * segment for all of it, then paging at its first byte and, when it
 * crosses into the next page, at that page's first byte (the address a
 * page fault reports in CR2).
 */
function probeStore(c: Cpu, s: number, o: number, len: number): void {
  if (c.segFastW[s] === 0) c.checkSeg(s, o, len, true);
  const inPage = 4096 - ((c.segBase[s]! + o) & 0xfff);
  c.probeWrite(s, o, len > inPage ? inPage + 1 : len);
}

function write64(c: Cpu, lo: number, hi: number): void {
  if (L !== null) L.probe(8, true);
  else probeStore(c, c.eaSeg, c.eaOff >>> 0, 8);
  mwr32(c, 0, lo);
  mwr32(c, 4, hi);
}

function write128(c: Cpu, align: boolean, v: Int32Array): void {
  if (align) aligned16(c);
  if (L !== null) L.probe(16, true);
  else probeStore(c, c.eaSeg, c.eaOff >>> 0, 16);
  const d0 = v[0]!, d1 = v[1]!, d2 = v[2]!, d3 = v[3]!;
  mwr32(c, 0, d0);
  mwr32(c, 4, d1);
  mwr32(c, 8, d2);
  mwr32(c, 12, d3);
}

/** The xmm/m128 (aligned), xmm/m64 or xmm/m32 source: the register, or the memory operand read into MS (zero-extended). */
function xmmSrc(c: Cpu, bytes: number): Int32Array {
  if (!mem(c)) return xreg(c, rmX(c));
  return bytes === 16 ? read128To(c, true, MS) : bytes === 8 ? read64To(c, MS) : read32To(c, MS);
}

/** The mm/m64 source of an MMX-register form, in MS (lanes 2, 3 zero). */
function mmSrc(c: Cpu): Int32Array {
  if (mem(c)) return read64To(c, MS);
  const r = c.modrm & 7;
  MS[0] = c.fpu.lo[r]!; MS[1] = c.fpu.hi[r]!; MS[2] = 0; MS[3] = 0;
  return MS;
}

/** MMX register r into `out` (lanes 2, 3 zero) */
function mmTo(c: Cpu, r: number, out: Int32Array): Int32Array {
  out[0] = c.fpu.lo[r]!; out[1] = c.fpu.hi[r]!; out[2] = 0; out[3] = 0;
  return out;
}

// ---- operand formats by prefix ----

const FMT_BY_PREFIX = [FMT_PS, FMT_PD, FMT_SS, FMT_SD];
/** memory operand bytes of each format */
const FMT_BYTES = [4, 16, 8, 16]; // FMT_SS, FMT_PS, FMT_SD, FMT_PD
const ARITH: Record<number, number> = { 0x51: OP_SQRT, 0x58: OP_ADD, 0x59: OP_MUL, 0x5c: OP_SUB, 0x5d: OP_MIN, 0x5e: OP_DIV, 0x5f: OP_MAX };

// ---- RCPPS/RCPSS/RSQRTPS/RSQRTSS ----

const F32 = new Float32Array(1);
const F32I = new Int32Array(F32.buffer);

/**
 * The approximations RCP and RSQRT of one binary32 lane. The SDM only
 * bounds them (relative error at most 1.5 * 2^-12; vol. 2, RCPPS, RSQRTPS)
 * and processors differ in the low bits. This gives the reciprocal
 * correctly rounded (one division of doubles rounded again to binary32,
 * which double rounding cannot spoil since 53 >= 2 * 24 + 2) and the
 * reciprocal square root to within a binary32 ulp (a square root and a
 * division of doubles): far inside the bound, whatever bits a real unit
 * returns. Denormal
 * sources read as zero, tiny results flush to zero, no MXCSR flag is ever
 * set (SIMD floating-point exceptions: none); a NaN is returned quieted,
 * a negative operand of RSQRT gives the QNaN indefinite.
 */
function approx(bits: number, rsqrt: boolean): number {
  const exp = (bits >>> 23) & 0xff, neg = bits < 0;
  if (exp === 0xff) {
    if ((bits & 0x7fffff) !== 0) return bits | 0x400000;
    if (rsqrt && neg) return SGL_INDEFINITE;
    return neg ? 0x80000000 | 0 : 0; // 1/±inf = ±0
  }
  if (exp === 0) return neg ? 0xff800000 | 0 : 0x7f800000; // ±0 (and denormals) give ±inf
  if (rsqrt && neg) return SGL_INDEFINITE;
  F32I[0] = bits;
  const x = F32[0]!;
  F32[0] = rsqrt ? 1 / Math.sqrt(x) : 1 / x;
  const r = F32I[0]!;
  return ((r >>> 23) & 0xff) === 0 ? r & (0x80000000 | 0) : r; // tiny: flushed, with the sign
}

// ---- the instructions ----

/**
 * Executes the SSE/SSE2 instruction 0F `op` (the prefixes as execute()
 * left them in the Cpu), or raises #UD for an encoding that is not one.
 */
export function sseExec(c: Cpu, op: number): void {
  const p = prefix(c);
  switch (op) {
    // ---- moves ----
    case 0x10: case 0x11: { // MOVUPS MOVUPD MOVSS MOVSD (10: load, 11: store)
      need(c, p === P_66 || p === P_F2 ? 2 : 1);
      decode(c); xmmCheck(c);
      const r = regOf(c);
      if (op === 0x10) {
        if (mem(c)) {
          const v = p === P_F3 ? read32To(c, MS) : p === P_F2 ? read64To(c, MS) : read128To(c, false, MS);
          xreg(c, r).set(v); // scalar loads zero the rest
        } else {
          const d = xreg(c, r), s = xreg(c, rmX(c));
          if (p === P_F3) d[0] = s[0]!;
          else if (p === P_F2) { d[0] = s[0]!; d[1] = s[1]!; } else d.set(s);
        }
      } else {
        const s = xreg(c, r);
        if (mem(c)) {
          if (p === P_F3) mwr32(c, 0, s[0]!);
          else if (p === P_F2) write64(c, s[0]!, s[1]!);
          else write128(c, false, s);
        } else {
          const d = xreg(c, rmX(c));
          if (p === P_F3) d[0] = s[0]!;
          else if (p === P_F2) { d[0] = s[0]!; d[1] = s[1]!; } else d.set(s);
        }
      }
      return;
    }
    case 0x12: case 0x16: { // MOVLPS/MOVHPS xmm, m64, MOVHLPS/MOVLHPS xmm, xmm; 66: MOVLPD/MOVHPD xmm, m64
      if (p === P_F3 || p === P_F2) c.ud(); // MOVSLDUP, MOVSHDUP, MOVDDUP: SSE3
      need(c, p === P_66 ? 2 : 1);
      decode(c);
      if (p === P_66 && !mem(c)) c.ud();
      xmmCheck(c);
      const d = xreg(c, regOf(c)), at = op === 0x12 ? 0 : 2;
      if (mem(c)) {
        read64To(c, MS);
        d[at] = MS[0]!; d[at + 1] = MS[1]!;
      } else {
        const s = xreg(c, rmX(c)), from = op === 0x12 ? 2 : 0; // MOVHLPS: high qword to low; MOVLHPS: low to high
        const lo = s[from]!, hi = s[from + 1]!;
        d[at] = lo; d[at + 1] = hi;
      }
      return;
    }
    case 0x13: case 0x17: { // MOVLPS/MOVHPS m64, xmm; 66: MOVLPD/MOVHPD
      if (p === P_F3 || p === P_F2) c.ud();
      need(c, p === P_66 ? 2 : 1);
      decode(c);
      if (!mem(c)) c.ud();
      xmmCheck(c);
      const s = xreg(c, regOf(c)), at = op === 0x13 ? 0 : 2;
      write64(c, s[at]!, s[at + 1]!);
      return;
    }
    case 0x28: case 0x29: { // MOVAPS/MOVAPD (aligned)
      if (p === P_F3 || p === P_F2) c.ud();
      need(c, p === P_66 ? 2 : 1);
      decode(c); xmmCheck(c);
      const r = regOf(c);
      if (op === 0x28) {
        const v = mem(c) ? read128To(c, true, MS) : xreg(c, rmX(c));
        xreg(c, r).set(v);
      } else if (mem(c)) write128(c, true, xreg(c, r));
      else xreg(c, rmX(c)).set(xreg(c, r));
      return;
    }
    case 0x2b: case 0xe7: { // MOVNTPS/MOVNTPD m128, xmm; MOVNTQ m64, mm; 66: MOVNTDQ m128, xmm (aligned; the hint changes nothing here)
      if (p === P_F3 || p === P_F2) c.ud();
      need(c, p === P_66 ? 2 : 1);
      decode(c);
      if (!mem(c)) c.ud();
      if (op === 0xe7 && p === P_NONE) { // MOVNTQ
        mmxCheck(c);
        const r = regOf(c) & 7;
        write64(c, c.fpu.lo[r]!, c.fpu.hi[r]!);
        c.fpu.mmxSet(-1, 0, 0);
        return;
      }
      xmmCheck(c);
      write128(c, true, xreg(c, regOf(c)));
      return;
    }
    case 0x50: { // MOVMSKPS/MOVMSKPD r32, xmm
      if (p === P_F3 || p === P_F2) c.ud();
      need(c, p === P_66 ? 2 : 1);
      decode(c);
      if (mem(c)) c.ud();
      xmmCheck(c);
      const s = xreg(c, rmX(c));
      setGpr32(c, regOf(c), p === P_66 ? movmskpd(s) : movmskps(s));
      return;
    }
    case 0x6e: case 0x7e: case 0x6f: case 0x7f: case 0xd6: { // MOVD, MOVQ, MOVDQA, MOVDQU, MOVQ2DQ, MOVDQ2Q (with a prefix; the unprefixed forms are MMX)
      need(c, 2);
      decode(c);
      const r = regOf(c), rm = rmX(c);
      if (op === 0x6e && p === P_66 && L !== null && L.w) { // MOVQ xmm, r/m64 (REX.W, 64-bit mode)
        xmmCheck(c);
        const lo = mem(c) ? mrd32(c, 0) : L.gpr(rm), hi = mem(c) ? mrd32(c, 4) : L.gprHi(rm);
        movqToXmm(xreg(c, r), lo, hi);
      } else if (op === 0x7e && p === P_66 && L !== null && L.w) { // MOVQ r/m64, xmm (REX.W, 64-bit mode)
        xmmCheck(c);
        const x = xreg(c, r);
        if (mem(c)) write64(c, x[0]!, x[1]!); else L.setGpr(rm, 8, x[0]!, x[1]!);
      } else if (op === 0x6e && p === P_66) { // MOVD xmm, r/m32
        xmmCheck(c);
        const v = mem(c) ? mrd32(c, 0) : gpr32(c, rm);
        movdToXmm(xreg(c, r), v);
      } else if (op === 0x7e && p === P_66) { // MOVD r/m32, xmm
        xmmCheck(c);
        const v = xreg(c, r)[0]!;
        if (mem(c)) mwr32(c, 0, v); else setGpr32(c, rm, v);
      } else if (op === 0x7e && p === P_F3) { // MOVQ xmm, xmm/m64
        xmmCheck(c);
        const s = mem(c) ? read64To(c, MS) : xreg(c, rm);
        movqToXmm(xreg(c, r), s[0]!, s[1]!);
      } else if ((op === 0x6f || op === 0x7f) && (p === P_66 || p === P_F3)) { // MOVDQA (66), MOVDQU (F3)
        xmmCheck(c);
        const align = p === P_66;
        if (op === 0x6f) xreg(c, r).set(mem(c) ? read128To(c, align, MS) : xreg(c, rm));
        else if (mem(c)) write128(c, align, xreg(c, r));
        else xreg(c, rm).set(xreg(c, r));
      } else if (op === 0xd6 && p === P_66) { // MOVQ xmm/m64, xmm
        xmmCheck(c);
        const s = xreg(c, r);
        if (mem(c)) write64(c, s[0]!, s[1]!); else movqToXmm(xreg(c, rm), s[0]!, s[1]!);
      } else if (op === 0xd6 && p === P_F3 && !mem(c)) { // MOVQ2DQ xmm, mm
        xmmCheck(c); mmxCheck(c);
        movqToXmm(xreg(c, r), c.fpu.lo[rm & 7]!, c.fpu.hi[rm & 7]!);
        c.fpu.mmxSet(-1, 0, 0);
      } else if (op === 0xd6 && p === P_F2 && !mem(c)) { // MOVDQ2Q mm, xmm
        xmmCheck(c); mmxCheck(c);
        const s = xreg(c, rm);
        c.fpu.mmxSet(r & 7, s[1]!, s[0]!);
      } else c.ud();
      return;
    }
    case 0xc3: { // MOVNTI m32, r32: a general-register store (no CR0/CR4 checks: SDM vol. 2, MOVNTI, exceptions)
      if (p !== P_NONE) c.ud();
      need(c, 2);
      decode(c);
      if (!mem(c) || lockP(c)) c.ud();
      if (L !== null && L.w) write64(c, L.gpr(L.reg), L.gprHi(L.reg)); // MOVNTI m64, r64
      else mwr32(c, 0, gpr32(c, regOf(c)));
      return;
    }
    case 0xf7: { // MASKMOVQ mm, mm; 66: MASKMOVDQU xmm, xmm: the bytes whose mask byte has bit 7 set, to DS:EDI (DS overridable)
      if (p === P_F3 || p === P_F2) c.ud();
      need(c, p === P_66 ? 2 : 1);
      decode(c);
      if (mem(c)) c.ud();
      const r = regOf(c), rm = rmX(c);
      let n: number, data: Int32Array, mask: Int32Array;
      if (p === P_66) {
        xmmCheck(c);
        n = 16; data = xreg(c, r); mask = xreg(c, rm);
      } else {
        mmxCheck(c);
        n = 8; data = mmTo(c, r & 7, MA); mask = mmTo(c, rm & 7, MT);
      }
      if (L !== null) {
        L.probeRdi(n);
        for (let i = 0; i < n; i++) {
          const sh = 8 * (i & 3);
          if (((mask[i >>> 2]! >>> sh) & 0x80) !== 0) L.wrRdi8(i, (data[i >>> 2]! >>> sh) & 0xff);
        }
        if (p !== P_66) c.fpu.mmxSet(-1, 0, 0);
        return;
      }
      const seg = c.segOverride >= 0 ? c.segOverride : 3; // DS
      const base = c.a32 ? c.reg32[7]! >>> 0 : c.reg32[7]! & 0xffff;
      probeStore(c, seg, base, n);
      for (let i = 0; i < n; i++) {
        const sh = 8 * (i & 3);
        if (((mask[i >>> 2]! >>> sh) & 0x80) !== 0) c.wr8(seg, c.a32 ? (base + i) >>> 0 : (base + i) & 0xffff, (data[i >>> 2]! >>> sh) & 0xff);
      }
      if (p !== P_66) c.fpu.mmxSet(-1, 0, 0);
      return;
    }

    // ---- floating-point arithmetic, compares ----
    case 0x51: case 0x58: case 0x59: case 0x5c: case 0x5d: case 0x5e: case 0x5f: { // SQRT ADD MUL SUB MIN DIV MAX: PS PD SS SD
      const fmt = FMT_BY_PREFIX[p]!;
      need(c, fmt === FMT_PD || fmt === FMT_SD ? 2 : 1);
      decode(c); xmmCheck(c);
      const src = xmmSrc(c, FMT_BYTES[fmt]!);
      SF.arith(ARITH[op]!, fmt, c.fpu.mxcsr, xreg(c, regOf(c)), src);
      fpEnd(c);
      return;
    }
    case 0x52: case 0x53: { // RSQRTPS/RSQRTSS, RCPPS/RCPSS
      if (p === P_66 || p === P_F2) c.ud();
      need(c, 1);
      decode(c); xmmCheck(c);
      const src = xmmSrc(c, p === P_F3 ? 4 : 16), d = xreg(c, regOf(c));
      const n = p === P_F3 ? 1 : 4;
      for (let i = 0; i < n; i++) MT[i] = approx(src[i]!, op === 0x52);
      for (let i = 0; i < n; i++) d[i] = MT[i]!;
      return;
    }
    case 0xc2: { // CMPPS CMPPD CMPSS CMPSD xmm, xmm/m, imm8 (predicate: imm8 bits 2:0)
      const fmt = FMT_BY_PREFIX[p]!;
      need(c, fmt === FMT_PD || fmt === FMT_SD ? 2 : 1);
      decode(c);
      const pred = imm8(c);
      xmmCheck(c);
      const src = xmmSrc(c, FMT_BYTES[fmt]!);
      SF.cmp(pred & 7, fmt, c.fpu.mxcsr, xreg(c, regOf(c)), src);
      fpEnd(c);
      return;
    }
    case 0x2e: case 0x2f: { // UCOMISS/COMISS, 66: UCOMISD/COMISD
      if (p === P_F3 || p === P_F2) c.ud();
      const dbl = p === P_66;
      need(c, dbl ? 2 : 1);
      decode(c); xmmCheck(c);
      const src = xmmSrc(c, dbl ? 8 : 4);
      SF.comi(dbl, op === 0x2f, c.fpu.mxcsr, xreg(c, regOf(c)), src);
      fpEnd(c);
      const e = SF.eflags;
      c.setFlagsZPC(e & EFL_ZF ? 1 : 0, e & EFL_PF ? 1 : 0, e & EFL_CF ? 1 : 0);
      return;
    }

    // ---- conversions ----
    case 0x5a: { // CVTPS2PD xmm/m64, CVTPD2PS xmm/m128, CVTSS2SD xmm/m32, CVTSD2SS xmm/m64
      need(c, 2);
      decode(c); xmmCheck(c);
      const kind = p === P_NONE ? CVT_PS2PD : p === P_66 ? CVT_PD2PS : p === P_F3 ? CVT_SS2SD : CVT_SD2SS;
      const src = xmmSrc(c, p === P_66 ? 16 : p === P_F3 ? 4 : 8);
      SF.cvt(kind, c.fpu.mxcsr, xreg(c, regOf(c)), src);
      fpEnd(c);
      return;
    }
    case 0x5b: case 0xe6: { // 5B: CVTDQ2PS, 66 CVTPS2DQ, F3 CVTTPS2DQ; E6: 66 CVTTPD2DQ, F3 CVTDQ2PD (m64), F2 CVTPD2DQ
      if (op === 0x5b ? p === P_F2 : p === P_NONE) c.ud();
      need(c, 2);
      decode(c); xmmCheck(c);
      const kind = op === 0x5b
        ? (p === P_NONE ? CVT_DQ2PS : p === P_66 ? CVT_PS2DQ : CVT_TPS2DQ)
        : (p === P_66 ? CVT_TPD2DQ : p === P_F3 ? CVT_DQ2PD : CVT_PD2DQ);
      const src = xmmSrc(c, kind === CVT_DQ2PD ? 8 : 16);
      SF.cvt(kind, c.fpu.mxcsr, xreg(c, regOf(c)), src);
      fpEnd(c);
      return;
    }
    case 0x2a: { // CVTPI2PS xmm, mm/m64; 66 CVTPI2PD xmm, mm/m64; F3 CVTSI2SS xmm, r/m32; F2 CVTSI2SD xmm, r/m32
      need(c, p === P_66 || p === P_F2 ? 2 : 1);
      decode(c); xmmCheck(c);
      const d = xreg(c, regOf(c)), rm = rmX(c);
      if ((p === P_F3 || p === P_F2) && L !== null && L.w) { // CVTSI2SS/SD xmm, r/m64
        const lo = mem(c) ? mrd32(c, 0) : L.gpr(rm), hi = mem(c) ? mrd32(c, 4) : L.gprHi(rm);
        SF.cvtFromInt64(p === P_F2, c.fpu.mxcsr, d, lo, hi);
        fpEnd(c);
        return;
      }
      if (p === P_F3 || p === P_F2) {
        const v = mem(c) ? mrd32(c, 0) : gpr32(c, rm);
        SF.cvtFromInt(p === P_F2, c.fpu.mxcsr, d, v);
        fpEnd(c);
        return;
      }
      // An MMX register source makes the x87-to-MMX transition; a memory source touches no MMX state (SDM vol. 2, CVTPI2PS, CVTPI2PD).
      const mmReg = !mem(c);
      if (mmReg) mmxCheck(c);
      const s = mmSrc(c);
      if (p === P_66) SF.cvt(CVT_DQ2PD, c.fpu.mxcsr, d, s); // exact: never faults
      else {
        MT.set(d);
        SF.cvt(CVT_DQ2PS, c.fpu.mxcsr, MT, s); // lanes 2, 3 of s are zero: converted exactly, no flag
      }
      fpEnd(c);
      if (p === P_NONE) { d[0] = MT[0]!; d[1] = MT[1]!; }
      if (mmReg) c.fpu.mmxSet(-1, 0, 0);
      return;
    }
    case 0x2c: case 0x2d: { // CVTTPS2PI/CVTPS2PI mm, xmm/m64; 66 CVT(T)PD2PI mm, xmm/m128; F3 CVT(T)SS2SI r32, xmm/m32; F2 CVT(T)SD2SI r32, xmm/m64
      const truncate = op === 0x2c;
      need(c, p === P_66 || p === P_F2 ? 2 : 1);
      decode(c); xmmCheck(c);
      const r = regOf(c);
      if (p === P_F3 || p === P_F2) {
        const src = xmmSrc(c, p === P_F3 ? 4 : 8);
        if (L !== null && L.w) { // CVT(T)SS2SI, CVT(T)SD2SI r64
          SF.cvtToInt64(p === P_F2, truncate, c.fpu.mxcsr, src);
          fpEnd(c);
          L.setGpr(r, 8, SF.int, SF.intHi);
          return;
        }
        SF.cvtToInt(p === P_F2, truncate, c.fpu.mxcsr, src);
        fpEnd(c);
        setGpr32(c, r, SF.int);
        return;
      }
      mmxCheck(c);
      let src: Int32Array;
      if (p === P_66) src = xmmSrc(c, 16);
      else if (mem(c)) src = read64To(c, MS);
      else { const x = xreg(c, rmX(c)); MS[0] = x[0]!; MS[1] = x[1]!; MS[2] = 0; MS[3] = 0; src = MS; } // lanes 2, 3 zero: converted exactly, no flag
      SF.cvt(p === P_66 ? (truncate ? CVT_TPD2DQ : CVT_PD2DQ) : (truncate ? CVT_TPS2DQ : CVT_PS2DQ), c.fpu.mxcsr, MT, src);
      fpEnd(c);
      c.fpu.mmxSet(r & 7, MT[1]!, MT[0]!);
      return;
    }

    // ---- logic, unpacks, shuffles on the FP columns ----
    case 0x14: case 0x15: case 0x54: case 0x55: case 0x56: case 0x57: { // UNPCKLPS/PD UNPCKHPS/PD ANDPS/PD ANDNPS/PD ORPS/PD XORPS/PD
      if (p === P_F3 || p === P_F2) c.ud();
      need(c, p === P_66 ? 2 : 1);
      decode(c); xmmCheck(c);
      const src = xmmSrc(c, 16), d = xreg(c, regOf(c));
      if (p === P_66) sse2Binary(op, d, src); else sseBitsBinary(op, d, src);
      return;
    }
    case 0xc6: { // SHUFPS, 66 SHUFPD xmm, xmm/m128, imm8
      if (p === P_F3 || p === P_F2) c.ud();
      need(c, p === P_66 ? 2 : 1);
      decode(c);
      const imm = imm8(c);
      xmmCheck(c);
      const src = xmmSrc(c, 16), d = xreg(c, regOf(c));
      if (p === P_66) shufpd(d, src, imm); else shufps(d, src, imm);
      return;
    }

    // ---- integer: shuffles, word insert/extract, byte masks ----
    case 0x70: { // PSHUFW mm, mm/m64, imm8; 66 PSHUFD; F3 PSHUFHW; F2 PSHUFLW
      need(c, p === P_NONE ? 1 : 2);
      decode(c);
      const imm = imm8(c);
      if (p === P_NONE) {
        mmxCheck(c);
        const s = mmSrc(c);
        const lo = s[0]!, hi = s[1]!;
        const w = (k: number): number => ((k < 2 ? lo : hi) >>> (16 * (k & 1))) & 0xffff;
        c.fpu.mmxSet(regOf(c) & 7, w((imm >>> 4) & 3) | (w(imm >>> 6) << 16), w(imm & 3) | (w((imm >>> 2) & 3) << 16));
        return;
      }
      xmmCheck(c);
      const src = xmmSrc(c, 16), d = xreg(c, regOf(c));
      if (p === P_66) pshufd(d, src, imm); else if (p === P_F3) pshufhw(d, src, imm); else pshuflw(d, src, imm);
      return;
    }
    case 0xc4: { // PINSRW mm, r32/m16, imm8; 66 PINSRW xmm, r32/m16, imm8
      if (p === P_F3 || p === P_F2) c.ud();
      need(c, p === P_66 ? 2 : 1);
      decode(c);
      const imm = imm8(c);
      if (p === P_66) xmmCheck(c); else mmxCheck(c);
      const v = mem(c) ? mrd16(c) : gpr32(c, rmX(c));
      const r = p === P_66 ? regOf(c) : regOf(c) & 7;
      if (p === P_66) { pinsrw(xreg(c, r), v, imm & 7); return; }
      const m = mmTo(c, r, MA);
      pinsrw(m, v, imm & 3); // SDM vol. 2, PINSRW: the MMX form selects with imm8[1:0]
      c.fpu.mmxSet(r, m[1]!, m[0]!);
      return;
    }
    case 0xc5: { // PEXTRW r32, mm, imm8; 66 PEXTRW r32, xmm, imm8
      if (p === P_F3 || p === P_F2) c.ud();
      need(c, p === P_66 ? 2 : 1);
      decode(c);
      const imm = imm8(c);
      if (mem(c)) c.ud();
      const rm = p === P_66 ? rmX(c) : c.modrm & 7;
      if (p === P_66) {
        xmmCheck(c);
        setGpr32(c, regOf(c), pextrw(xreg(c, rm), imm & 7));
        return;
      }
      mmxCheck(c);
      const v = pextrw(mmTo(c, rm, MA), imm & 3);
      c.fpu.mmxSet(-1, 0, 0);
      setGpr32(c, regOf(c), v);
      return;
    }
    case 0xd7: { // PMOVMSKB r32, mm; 66 PMOVMSKB r32, xmm
      if (p === P_F3 || p === P_F2) c.ud();
      need(c, p === P_66 ? 2 : 1);
      decode(c);
      if (mem(c)) c.ud();
      const rm = p === P_66 ? rmX(c) : c.modrm & 7;
      if (p === P_66) {
        xmmCheck(c);
        setGpr32(c, regOf(c), pmovmskb(xreg(c, rm)));
        return;
      }
      mmxCheck(c);
      const v = pmovmskb(mmTo(c, rm, MA)) & 0xff;
      c.fpu.mmxSet(-1, 0, 0);
      setGpr32(c, regOf(c), v);
      return;
    }
    case 0x71: case 0x72: case 0x73: { // 66: PSRLW/PSRAW/PSLLW ... PSRLDQ/PSLLDQ xmm, imm8 (register forms only)
      if (p !== P_66) c.ud();
      need(c, 2);
      decode(c);
      if (mem(c)) c.ud();
      const imm = imm8(c);
      xmmCheck(c);
      const d = xreg(c, rmX(c));
      MT.set(d);
      if (!sse2ShiftImm(op, regOf(c) & 7, MT, imm)) c.ud();
      d.set(MT);
      return;
    }
    default:
  }
  // ---- the two-operand integer forms: 66 on XMM registers, unprefixed on MMX registers (the SSE/SSE2 additions) ----
  if (p === P_66 && SSE2_BINARY[op] !== 0) {
    need(c, 2);
    decode(c); xmmCheck(c);
    const src = xmmSrc(c, 16);
    sse2Binary(op, xreg(c, regOf(c)), src);
    return;
  }
  if (p === P_NONE && MMX_ADDED[op] !== 0) {
    need(c, MMX_ADDED[op]!);
    decode(c); mmxCheck(c);
    const s = mmSrc(c), r = regOf(c) & 7;
    const d = mmTo(c, r, MA);
    sse2Binary(op, d, s);
    c.fpu.mmxSet(r, d[1]!, d[0]!);
    return;
  }
  c.ud();
}

/** The opcodes only SSE/SSE2 define (the MMX columns shared with the MMX instructions are ops/fpu.ts's, which calls sseExec). */
function op0fsse(c: Cpu, op: number): void {
  if (!c.features.sse) c.ud();
  sseExec(c, op);
}

/** LDMXCSR m32 (0F AE /2), STMXCSR m32 (/3): #GP(0) for a reserved bit set in the loaded value (SDM vol. 2, LDMXCSR). */
export function ldStMxcsr(c: Cpu, store: boolean): void {
  xmmCheck(c);
  const fpu = c.fpu;
  if (store) {
    c.wr32(c.eaSeg, c.eaOff, fpu.mxcsr);
    return;
  }
  const v = c.rd32(c.eaSeg, c.eaOff);
  if (v & ~fpu.mxcsrMask) c.gp(0);
  fpu.mxcsr = v >>> 0;
}

/** CLFLUSH m8 (0F AE /7, SSE2's CLFSH): no cache here, but the access is checked as a byte read would be (SDM vol. 2, CLFLUSH). */
export function clflush(c: Cpu): void {
  if (c.lockPrefix) c.ud();
  c.probe(c.eaSeg, c.eaOff, 1, false);
}

export const SSE_OPCODES: readonly OpcodeEntry[] = [
  { map: '0f', opcodes: [0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x5b, 0x5c, 0x5d, 0x5e, 0x5f, 0xc3], handler: op0fsse, mnemonic: 'SSE/SSE2 (MOVUPS ... MAXPS, MOVNTI)', flow: 'next', modrm: true, imm: 'none' },
  { map: '0f', opcodes: [0xc2, 0xc4, 0xc5, 0xc6], handler: op0fsse, mnemonic: 'SSE/SSE2 with imm8 (CMPPS PINSRW PEXTRW SHUFPS ...)', flow: 'next', modrm: true, imm: 'Ib' },
];
