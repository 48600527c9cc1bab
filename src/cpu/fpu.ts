/**
 * The x87 floating-point unit, the MMX unit that aliases its registers,
 * and FXSAVE/FXRSTOR, as a P6-class processor (Pentium II/III with fpu,
 * mmx and fxsr, no SSE) has them. The core decodes an instruction and calls
 * exec()/wait()/mmx()/fxsave()/fxrstor(); this unit reaches memory, the
 * general registers, EFLAGS and the exception machinery only through
 * FpuHost.
 *
 * Precision decision:
 *   - Registers hold the exact 80-bit value (sign/exponent word plus two
 *     32-bit significand words), so FLD/FSTP m80, FXCH, register moves,
 *     FSAVE/FRSTOR, FXSAVE/FXRSTOR and MMX aliasing are bit-exact.
 *   - FADD/FSUB/FMUL/FDIV (all forms), FSQRT, FPREM/FPREM1, FRNDINT,
 *     FSCALE, FXTRACT, compares, the integer/BCD/m32/m64 conversions and
 *     the constants are computed exactly in integer arithmetic
 *     (fpu/softfloat.ts) with the control word's rounding and precision
 *     control: same result bits, C1 and exception flags as the hardware.
 *   - The transcendentals (FSIN, FCOS, FSINCOS, FPTAN, FPATAN, F2XM1,
 *     FYL2X, FYL2XP1) are computed with JS doubles (53-bit significand) and
 *     stored exactly; their results are close to, but not bit-identical
 *     with, the hardware's 64-bit results, C1 is left 0 and PE is set for
 *     any nonzero result. Argument reduction for FSIN/FCOS/FPTAN uses the
 *     full 64-bit argument (a first-order correction for the bits a double
 *     drops); |x| >= 2^63 sets C2 as the SDM says.
 *
 * Registers and words (Intel SDM vol. 1, 8.1):
 *
 *   status word   15  14  13..11  10  9   8   7   6   5   4   3   2   1   0
 *                 B   C3  TOP     C2  C1  C0  ES  SF  PE  UE  OE  ZE  DE  IE
 *   control word  12  11..10  9..8  5   4   3   2   1   0      (bit 6 reads as 1)
 *                 X   RC      PC    PM  UM  OM  ZM  DM  IM
 *   tag word      2 bits per physical register: 00 valid, 01 zero, 10 special, 11 empty
 *
 * Internally only "empty or not" is kept per physical register; the full
 * tag is computed from the contents when it is stored (FSTENV/FSAVE), as
 * the SDM says the processor does (vol. 1, 8.1.7; vol. 3A, 12.2).
 *
 * Exception model (SDM vol. 1, 8.4-8.7; vol. 3A, 2.5 table 2-2):
 *   - #NM when CR0.EM or CR0.TS (every D8-DF escape, so that an emulator
 *     behind EM sees them all); then #UD for undefined encodings and
 *     FISTTP (SSE3); WAIT: #NM only when MP and TS.
 *   - An unmasked exception sets its flag plus ES and B; the instruction's
 *     unmasked response follows 8.5 (destination untouched for #I/#D/#Z;
 *     exponent-biased result for #O/#U to a register; nothing stored for
 *     #O/#U to memory). The error is reported before the next waiting x87
 *     instruction, WAIT or MMX instruction: #MF when CR0.NE=1. With NE=0
 *     (MS-DOS compatibility, appendix D) FERR# is driven while ES is set and
 *     the waiting instruction then proceeds, as with IGNNE# asserted: the
 *     IRQ 13 handler sees the error right after the faulting instruction.
 *   - Non-waiting: FNINIT, FNCLEX, FNSTSW, FNSTCW, FNSTENV, FNSAVE (8.3.12).
 *   - FIP/FCS/FOP and FDP/FDS record the last non-control instruction
 *     (8.1.8, 8.1.9); they are updated after the instruction's memory
 *     accesses succeeded, so a faulting access leaves them unchanged.
 */
import type { FpuHost } from './fpu-host.js';
import {
  SoftFloat, Unpacked, unpackExt, unpackM32, unpackM64, unpackInt32, unpackInt64, copyUnpacked, compareOrdered,
  CLS_ZERO, CLS_FINITE, CLS_INF, CLS_QNAN, CLS_SNAN, CLS_BAD,
  FE_IE, FE_DE, FE_ZE, FE_PE, RC_UP, RC_NEAREST,
  EXT_EMIN, EXT_EMAX, DBL_EMIN, DBL_EMAX, SGL_EMIN, SGL_EMAX,
} from './fpu/softfloat.js';
import { Mm64, mmxBinary, mmxShift, mmxReadsM32 } from './fpu/mmx.js';

// ---- CR0 bits the unit looks at (SDM vol. 3A, 2.5) ----
const CR0_MP = 1 << 1;
const CR0_EM = 1 << 2;
const CR0_TS = 1 << 3;
const CR0_NE = 1 << 5;

// ---- status word ----
export const SW_IE = 0x0001;
export const SW_DE = 0x0002;
export const SW_ZE = 0x0004;
export const SW_OE = 0x0008;
export const SW_UE = 0x0010;
export const SW_PE = 0x0020;
export const SW_SF = 0x0040;
export const SW_ES = 0x0080;
export const SW_C0 = 0x0100;
export const SW_C1 = 0x0200;
export const SW_C2 = 0x0400;
export const SW_TOP_SHIFT = 11;
export const SW_C3 = 0x4000;
export const SW_B = 0x8000;

// ---- tag values ----
export const TAG_VALID = 0;
export const TAG_ZERO = 1;
export const TAG_SPECIAL = 2;
export const TAG_EMPTY = 3;

/** control word after FNINIT (SDM vol. 1, 8.1.5) */
export const CW_INIT = 0x037f;
/** control word after power-up/RESET (SDM vol. 3A, 9.1.1, table 9-1) */
export const CW_RESET = 0x0040;
/** MXCSR after RESET (SDM vol. 3A, table 9-1) */
const MXCSR_RESET = 0x1f80;
/**
 * The writable MXCSR bits, as FXSAVE reports them in MXCSR_MASK (SDM vol.
 * 1, 11.6.6): without SSE, those of a processor without DAZ; with SSE the
 * lanes (sse/float.ts) implement DAZ, so bit 6 is writable too.
 */
export const MXCSR_MASK_NO_DAZ = 0x0000ffbf;
export const MXCSR_MASK_DAZ = 0x0000ffff;

/** The parts of FXSAVE's 512-byte area (saveLegacy, restoreLegacy): the x87 state, the XMM registers, MXCSR with MXCSR_MASK */
export const LEGACY_X87 = 1;
export const LEGACY_XMM = 2;
export const LEGACY_MXCSR = 4;

/** the real-indefinite QNaN (SDM vol. 1, 4.8.3.7) */
const IND_SE = 0xffff, IND_HI = 0xc0000000 | 0, IND_LO = 0;

// EFLAGS bits read by FCMOVcc
const F_CF = 1 << 0;
const F_PF = 1 << 2;
const F_ZF = 1 << 6;

/** significand bits for precision control 00 (single), 01 (reserved: treated as extended), 10 (double), 11 (extended) */
const PC_BITS = [24, 64, 53, 64];

/**
 * The constants of FLDL2T, FLDL2E, FLDPI, FLDLG2, FLDLN2 (D9 E9..ED):
 * exponent word, significand truncated to 64 bits, and whether
 * round-to-nearest rounds it up. The processor rounds its internal 66-bit
 * constant per RC (SDM vol. 2A FLD1/FLDL2T/...: "rounding control"); the
 * values were checked against a real x87 in all four modes.
 */
const CONSTS: readonly (readonly [number, number, number, boolean])[] = [
  [0x4000, 0xd49a784b | 0, 0xcd1b8afe | 0, false], // log2(10)
  [0x3fff, 0xb8aa3b29 | 0, 0x5c17f0bb | 0, true], // log2(e)
  [0x4000, 0xc90fdaa2 | 0, 0x2168c234 | 0, true], // pi
  [0x3ffd, 0x9a209a84 | 0, 0xfbcff798 | 0, true], // log10(2)
  [0x3ffe, 0xb17217f7 | 0, 0xd1cf79ab | 0, true], // ln(2)
];

const TWO32 = 4294967296;

/** JSON snapshot of the unit */
export interface FpuState {
  cw: number; sw: number; top: number; empty: number;
  se: number[]; hi: number[]; lo: number[];
  fip: number; fcs: number; fdp: number; fds: number; fop: number;
  mxcsr: number; xmm: number[]; ferr: boolean;
  /** FIP's and FDP's bits 63:32 (64-bit mode), present only when not 0 */
  fipHi?: number; fdpHi?: number;
}

export class Fpu {
  /** the core, or in 64-bit mode long.ts's host of 64-bit linear addresses (swapped in for one instruction: `withHost`) */
  private host: FpuHost;
  /** control word */
  cw = CW_RESET;
  /** status word without TOP (bits 11..13 kept zero here) */
  sw = 0;
  /** top-of-stack physical register */
  top = 0;
  /** bit i set: physical register i is empty */
  empty = 0;
  /** physical registers: sign/exponent word, significand bits 63:32 and 31:0 (int32) */
  readonly se = new Uint16Array(8);
  readonly hi = new Int32Array(8);
  readonly lo = new Int32Array(8);
  /** last non-control instruction: offset, CS selector, opcode (11 bits); last data operand: offset, selector */
  fip = 0;
  fcs = 0;
  fdp = 0;
  /** bits 63:32 of FIP and FDP, recorded in 64-bit mode (FXSAVE64 stores them; 0 elsewhere) */
  fipHi = 0;
  fdpHi = 0;
  fds = 0;
  fop = 0;
  /** SSE state: MXCSR, and the XMM registers as four int32 dwords each (register i at 4i..4i+3; room for 16, 8 used outside 64-bit mode) */
  mxcsr = MXCSR_RESET;
  readonly xmm = new Int32Array(64);
  /** register i of `xmm` as its own view (what the lane operations of sse/ take) */
  readonly xmmReg: readonly Int32Array[] = Array.from({ length: 16 }, (_, i) => this.xmm.subarray(4 * i, 4 * i + 4));
  /** the writable MXCSR bits (MXCSR_MASK_NO_DAZ, or MXCSR_MASK_DAZ when the CPU has SSE: set by the core) */
  mxcsrMask = MXCSR_MASK_NO_DAZ;
  /** FERR# as last driven */
  private ferr = false;

  private readonly sf = new SoftFloat();
  private readonly ua = new Unpacked();
  private readonly ub = new Unpacked();
  private readonly ut = new Unpacked();
  /** a constant operand (ln 2, log2 e, 1) */
  private readonly uc = new Unpacked();
  private readonly mm = new Mm64();
  /** result of an operation as a register value */
  private rSe = 0;
  private rHi = 0;
  private rLo = 0;

  constructor(host: FpuHost) {
    this.host = host;
    this.reset();
  }

  /**
   * The state after power-up or RESET (SDM vol. 3A, table 9-1): control
   * word 0040H, status 0, registers +0.0 tagged valid-zero (tag word
   * 5555H), pointers 0, MXCSR 1F80H, XMM registers 0. Note this is not the
   * FNINIT state (037FH, all empty); software runs FNINIT before use.
   */
  reset(): void {
    this.fninit();
    this.cw = CW_RESET;
    this.empty = 0;
    this.se.fill(0);
    this.hi.fill(0);
    this.lo.fill(0);
    this.mxcsr = MXCSR_RESET;
    this.xmm.fill(0);
    if (this.ferr) {
      this.ferr = false;
      this.host.setFerr(false);
    }
  }

  // =====================================================================
  // Entry points
  // =====================================================================

  /**
   * Executes the x87 instruction `opcode` (D8..DF) with its ModR/M byte;
   * seg:off is the memory operand for mod != 3. Raises #UD, #NM or #MF as
   * described at the top of the file (the host's raise* do not return), or
   * the fault of a memory access (the FPU state is then unchanged).
   */
  exec(opcode: number, modrm: number, seg: number, off: number): void {
    const op = opcode & 7;
    modrm &= 0xff;
    const cr0 = this.host.cr0;
    if (cr0 & (CR0_EM | CR0_TS)) this.host.raiseNM();
    if (!validX87(op, modrm)) this.host.raiseUD();
    if ((this.sw & SW_ES) !== 0 && !nonWaiting(op, modrm)) this.pendingError(cr0);
    this.sf.begin(this.cw);
    if (modrm < 0xc0) {
      this.execMem(op, (modrm >>> 3) & 7, seg, off >>> 0);
      if (!isControl(op, modrm)) {
        this.notePointers(op, modrm);
        this.fdp = off >>> 0;
        this.fdpHi = this.host.dataHi64?.(off) ?? 0;
        this.fds = this.host.selector(seg) & 0xffff;
      }
    } else {
      this.execReg(op, modrm);
      if (!isControl(op, modrm)) this.notePointers(op, modrm);
    }
    this.syncFerr(cr0);
  }

  /** WAIT/FWAIT (9B): #NM when CR0.MP and CR0.TS are both set; reports a pending unmasked exception. */
  wait(): void {
    const cr0 = this.host.cr0;
    if ((cr0 & (CR0_MP | CR0_TS)) === (CR0_MP | CR0_TS)) this.host.raiseNM();
    if (this.sw & SW_ES) this.pendingError(cr0);
    this.syncFerr(cr0);
  }

  /**
   * MMX instruction 0F op2 with its ModR/M byte; seg:off is the memory
   * operand for mod != 3. For 0F 71/72/73 (shift by immediate, register
   * forms only) the core passes the imm8 in `off`; 0F 77 (EMMS) has no
   * ModR/M byte and ignores `modrm`. Returns false, touching nothing, when
   * op2/modrm is not an MMX instruction of a P6 (the core raises #UD).
   * Otherwise: #UD if CR0.EM, #NM if CR0.TS, #MF (or FERR#) for a pending
   * x87 error, then the operation; every MMX instruction but EMMS sets TOP
   * to 0 and all tags valid, and a written MMX register gets exponent bits
   * all ones (SDM vol. 3A, 12.2, table 12-2). Pointers and opcode are not
   * touched.
   */
  mmx(op2: number, modrm: number, seg: number, off: number): boolean {
    modrm &= 0xff;
    if (!validMmx(op2, modrm)) return false;
    const host = this.host;
    const cr0 = host.cr0;
    if (cr0 & CR0_EM) host.raiseUD();
    if (cr0 & CR0_TS) host.raiseNM();
    if (this.sw & SW_ES) this.pendingError(cr0);
    if (op2 === 0x77) { // EMMS
      this.empty = 0xff;
      return true;
    }
    const mem = modrm < 0xc0;
    const reg = (modrm >>> 3) & 7, rm = modrm & 7;
    const out = this.mm;
    off >>>= 0;
    switch (op2) {
      case 0x6e: { // MOVD mm, r/m32
        const v = mem ? host.read32(seg, off) : host.getReg32(rm);
        this.mmxEnter();
        this.mmWrite(reg, 0, v);
        return true;
      }
      case 0x7e: { // MOVD r/m32, mm
        const v = this.lo[reg]!;
        if (mem) host.write32(seg, off, v); else host.setReg32(rm, v);
        this.mmxEnter();
        return true;
      }
      case 0x6f: { // MOVQ mm, mm/m64
        let h: number, l: number;
        if (mem) { l = host.read32(seg, off); h = host.read32(seg, (off + 4) >>> 0); } else { h = this.hi[rm]!; l = this.lo[rm]!; }
        this.mmxEnter();
        this.mmWrite(reg, h, l);
        return true;
      }
      case 0x7f: { // MOVQ mm/m64, mm
        const h = this.hi[reg]!, l = this.lo[reg]!;
        if (mem) {
          host.probe(seg, off, 8, true);
          host.write32(seg, off, l);
          host.write32(seg, (off + 4) >>> 0, h);
          this.mmxEnter();
        } else {
          this.mmxEnter();
          this.mmWrite(rm, h, l);
        }
        return true;
      }
      case 0x71: case 0x72: case 0x73: { // shift groups by imm8 (carried in `off`)
        const size = op2 === 0x71 ? 16 : op2 === 0x72 ? 32 : 64;
        mmxShift(reg, size, this.hi[rm]!, this.lo[rm]!, 0, off & 0xff, out);
        this.mmxEnter();
        this.mmWrite(rm, out.hi, out.lo);
        return true;
      }
      default: {
        let h: number, l: number;
        if (mem) {
          l = host.read32(seg, off);
          h = mmxReadsM32(op2) ? 0 : host.read32(seg, (off + 4) >>> 0);
        } else { h = this.hi[rm]!; l = this.lo[rm]!; }
        mmxBinary(op2, this.hi[reg]!, this.lo[reg]!, h, l, out);
        this.mmxEnter();
        this.mmWrite(reg, out.hi, out.lo);
        return true;
      }
    }
  }

  /**
   * The SSE and SSE2 instructions on MMX registers (PAVGB mm, PSHUFW,
   * CVTPI2PS xmm, mm, ...; their decoding is ops/sse.ts): the checks of an
   * MMX instruction (#UD if CR0.EM, #NM if CR0.TS, a pending x87 error
   * reported), made before any memory access.
   */
  mmxCheck(): void {
    const cr0 = this.host.cr0;
    if (cr0 & CR0_EM) this.host.raiseUD();
    if (cr0 & CR0_TS) this.host.raiseNM();
    if (this.sw & SW_ES) this.pendingError(cr0);
  }

  /** After such an instruction's memory accesses: the x87-to-MMX transition (TOP 0, all tags valid), and MMX register `r` written with hi:lo unless r < 0. */
  mmxSet(r: number, hi: number, lo: number): void {
    this.mmxEnter();
    if (r >= 0) this.mmWrite(r, hi, lo);
  }

  /**
   * FXSAVE m512 (0F AE /0), SDM vol. 2A FXSAVE, tables 3-43 to 3-45.
   * `mode` 0: outside 64-bit mode (the 32-bit layout, XMM0-7); 1: 64-bit
   * mode without REX.W (the same layout, and XMM8-15 at 288..415); 2:
   * FXSAVE64 (REX.W: FIP and FDP as 64-bit offsets at 8 and 16, no FCS or
   * FDS). #UD if CR0.EM, #NM if CR0.TS, #GP(0) if `off` is not 16-byte
   * aligned (the segment base is the host's and is assumed aligned). Does
   * not check pending x87 errors; reserved fields are written as 0 and
   * bytes 416..511 (288..511 in mode 0) are left untouched.
   */
  fxsave(seg: number, off: number, mode = 0): void {
    this.fxChecks(off);
    off >>>= 0;
    this.host.probe(seg, off, 512, true);
    this.saveLegacy(seg, off, mode, LEGACY_X87 | LEGACY_XMM | LEGACY_MXCSR);
  }

  /**
   * FXSAVE's stores, or the part of them XSAVE makes (SDM vol. 1, 13.4.1
   * and 13.7): `parts` LEGACY_X87 (bytes 23:0 but MXCSR, and 159:32: the x87
   * state component), LEGACY_XMM (the XMM registers from byte 160: XMM0-7
   * in `mode` 0, XMM0-15 in 64-bit mode), LEGACY_MXCSR (MXCSR and
   * MXCSR_MASK at 24 and 28). No checks and no probe: the caller's.
   */
  saveLegacy(seg: number, off: number, mode: number, parts: number): void {
    const host = this.host;
    const at = (n: number): number => (off + n) >>> 0;
    if (parts & LEGACY_X87) {
      host.write16(seg, at(0), this.cw);
      host.write16(seg, at(2), this.statusWord());
      host.write16(seg, at(4), (~this.empty) & 0xff); // abridged tag: 1 = not empty, reserved byte 0
      host.write16(seg, at(6), this.fop);
      host.write32(seg, at(8), this.fip);
      host.write32(seg, at(12), mode === 2 ? this.fipHi : this.fcs & 0xffff);
      host.write32(seg, at(16), this.fdp);
      host.write32(seg, at(20), mode === 2 ? this.fdpHi : this.fds & 0xffff);
    }
    if (parts & LEGACY_MXCSR) {
      host.write32(seg, at(24), this.mxcsr);
      host.write32(seg, at(28), this.mxcsrMask);
    }
    if (parts & LEGACY_X87) {
      for (let i = 0; i < 8; i++) {
        const p = (this.top + i) & 7, b = 32 + 16 * i;
        host.write32(seg, at(b), this.lo[p]!);
        host.write32(seg, at(b + 4), this.hi[p]!);
        host.write16(seg, at(b + 8), this.se[p]!);
        host.write16(seg, at(b + 10), 0);
        host.write32(seg, at(b + 12), 0);
      }
    }
    if (parts & LEGACY_XMM) {
      const n = mode === 0 ? 32 : 64; // XMM0-7, or XMM0-15 in 64-bit mode
      for (let i = 0; i < n; i++) host.write32(seg, at(160 + 4 * i), this.xmm[i]!);
    }
  }

  /**
   * FXRSTOR m512 (0F AE /1): the inverse of fxsave, in the same `mode`
   * (FXRSTOR64 loads FIP and FDP as 64-bit offsets, FCS and FDS as 0).
   * #GP(0) for a misaligned operand or reserved MXCSR bits (SDM vol. 1,
   * 11.6.6), in which case nothing changes. Pending x87 errors are not
   * reported here (the next waiting instruction does).
   */
  fxrstor(seg: number, off: number, mode = 0): void {
    this.fxChecks(off);
    off >>>= 0;
    this.host.probe(seg, off, 512, false);
    this.restoreLegacy(seg, off, mode, LEGACY_X87 | LEGACY_XMM | LEGACY_MXCSR, 0);
  }

  /**
   * FXRSTOR's loads, or the part of them XRSTOR makes (SDM vol. 1, 13.8.1):
   * `load` the parts (as saveLegacy's) read from memory, `init` those
   * (LEGACY_X87, LEGACY_XMM) put in their initial configuration instead
   * (vol. 1, 13.6: FCW 037FH, FSW 0, all registers empty and 0, FOP, FIP
   * and FDP 0; the XMM registers of the mode 0). Every read is made before
   * anything changes, and a reserved MXCSR bit is #GP(0) with nothing
   * changed. No other checks and no probe: the caller's.
   */
  restoreLegacy(seg: number, off: number, mode: number, load: number, init: number): void {
    const host = this.host;
    const at = (n: number): number => (off + n) >>> 0;
    const mxcsr = load & LEGACY_MXCSR ? host.read32(seg, at(24)) : this.mxcsr;
    if (mxcsr & ~this.mxcsrMask) host.raiseGP0();
    const n = mode === 0 ? 32 : 64;
    if (load & LEGACY_X87) {
      const cw = host.read16(seg, at(0));
      const sw = host.read16(seg, at(2));
      const ftw = host.read8(seg, at(4));
      const fop = host.read16(seg, at(6));
      const fip = host.read32(seg, at(8));
      const fcs = mode === 2 ? host.read32(seg, at(12)) : host.read16(seg, at(12));
      const fdp = host.read32(seg, at(16));
      const fds = mode === 2 ? host.read32(seg, at(20)) : host.read16(seg, at(20));
      const regs = new Int32Array(24);
      for (let i = 0; i < 8; i++) {
        const b = 32 + 16 * i;
        regs[3 * i] = host.read32(seg, at(b));
        regs[3 * i + 1] = host.read32(seg, at(b + 4));
        regs[3 * i + 2] = host.read16(seg, at(b + 8));
      }
      const xmm = load & LEGACY_XMM ? this.readXmm(seg, off, n) : null;
      // all reads done: commit
      this.setControlWord(cw);
      this.loadStatusWord(sw);
      this.empty = (~ftw) & 0xff;
      this.fop = fop & 0x7ff;
      this.fip = fip >>> 0;
      this.fdp = fdp >>> 0;
      if (mode === 2) {
        this.fipHi = fcs; this.fdpHi = fds;
        this.fcs = 0; this.fds = 0;
      } else {
        this.fcs = fcs; this.fds = fds;
        this.fipHi = 0; this.fdpHi = 0;
      }
      for (let i = 0; i < 8; i++) {
        const p = (this.top + i) & 7;
        this.lo[p] = regs[3 * i]!;
        this.hi[p] = regs[3 * i + 1]!;
        this.se[p] = regs[3 * i + 2]!;
      }
      if (xmm !== null) this.xmm.set(xmm); // XMM0-7, and 8-15 in 64-bit mode (outside it they are untouched)
    } else if (load & LEGACY_XMM) {
      this.xmm.set(this.readXmm(seg, off, n));
    }
    if (init & LEGACY_X87) {
      this.fninit();
      this.se.fill(0);
      this.hi.fill(0);
      this.lo.fill(0);
    }
    if (init & LEGACY_XMM) this.xmm.fill(0, 0, n);
    this.mxcsr = mxcsr >>> 0;
    if ((load | init) & LEGACY_X87) this.syncFerr(host.cr0);
  }

  private readXmm(seg: number, off: number, n: number): Int32Array {
    const xmm = new Int32Array(n);
    for (let i = 0; i < n; i++) xmm[i] = this.host.read32(seg, (off + 160 + 4 * i) >>> 0);
    return xmm;
  }

  /** A JSON-able snapshot of the whole unit. */
  save(): FpuState {
    return {
      cw: this.cw, sw: this.sw, top: this.top, empty: this.empty,
      se: Array.from(this.se), hi: Array.from(this.hi), lo: Array.from(this.lo),
      fip: this.fip, fcs: this.fcs, fdp: this.fdp, fds: this.fds, fop: this.fop,
      mxcsr: this.mxcsr, xmm: Array.from(this.xmm), ferr: this.ferr,
      ...(this.fipHi !== 0 ? { fipHi: this.fipHi } : {}), ...(this.fdpHi !== 0 ? { fdpHi: this.fdpHi } : {}),
    };
  }

  /** Restores a snapshot taken by save(). Does not drive FERR# (the machine restores its IRQ lines itself). */
  restore(state: object): void {
    const s = state as FpuState;
    this.cw = s.cw; this.sw = s.sw; this.top = s.top; this.empty = s.empty;
    this.se.set(s.se); this.hi.set(s.hi); this.lo.set(s.lo);
    this.fip = s.fip; this.fcs = s.fcs; this.fdp = s.fdp; this.fds = s.fds; this.fop = s.fop;
    this.mxcsr = s.mxcsr; this.xmm.set(s.xmm); this.ferr = s.ferr;
    this.fipHi = s.fipHi ?? 0; this.fdpHi = s.fdpHi ?? 0;
  }

  /**
   * Runs `f` with `host` in place of the core (long.ts: the same unit seen
   * through 64-bit linear addresses), the core's host back afterwards
   * whether `f` returns or throws.
   */
  withHost<T>(host: FpuHost, f: () => T): T {
    const saved = this.host;
    this.host = host;
    try {
      return f();
    } finally {
      this.host = saved;
    }
  }

  /** The status word with TOP, as FSTSW stores it. */
  statusWord(): number {
    return (this.sw & ~(7 << SW_TOP_SHIFT)) | (this.top << SW_TOP_SHIFT);
  }

  /** The full tag word computed from the register contents (FSTENV/FSAVE). */
  tagWord(): number {
    let tw = 0;
    for (let p = 0; p < 8; p++) tw |= this.tagOf(p) << (2 * p);
    return tw;
  }

  // =====================================================================
  // Exceptions and bookkeeping
  // =====================================================================

  private pendingError(cr0: number): void {
    if (cr0 & CR0_NE) this.host.raiseMF();
    // NE=0: FERR# is already driven (syncFerr); carry on as with IGNNE# asserted
  }

  /** drives FERR# while an unmasked exception is pending and CR0.NE=0 */
  private syncFerr(cr0: number): void {
    const want = (this.sw & SW_ES) !== 0 && (cr0 & CR0_NE) === 0;
    if (want !== this.ferr) {
      this.ferr = want;
      this.host.setFerr(want);
    }
  }

  /** records the instruction pointer and opcode of a non-control instruction */
  private notePointers(op: number, modrm: number): void {
    this.fip = this.host.instrEip >>> 0;
    this.fipHi = this.host.ripHi64 ?? 0;
    this.fcs = this.host.instrCs & 0xffff;
    this.fop = (op << 8) | modrm;
  }

  /**
   * Sets exception flags (status-word bits 0..5); ES and B follow when one
   * of them is unmasked. Returns true when one of `flags` is unmasked.
   */
  private signal(flags: number): boolean {
    this.sw |= flags;
    const unmasked = (flags & ~this.cw & 0x3f) !== 0;
    if (unmasked) this.sw |= SW_ES | SW_B;
    return unmasked;
  }

  /** sets the flags the soft-float unit raised and C1 from its round-up indication; true when one is unmasked */
  private commitFlags(): boolean {
    this.setC1(this.sf.up);
    return this.sf.flags !== 0 && this.signal(this.sf.flags);
  }

  private setC1(v: number): void {
    this.sw = v ? this.sw | SW_C1 : this.sw & ~SW_C1;
  }

  private setCC(c3: number, c2: number, c0: number): void {
    this.sw = (this.sw & ~(SW_C3 | SW_C2 | SW_C0)) | (c3 ? SW_C3 : 0) | (c2 ? SW_C2 : 0) | (c0 ? SW_C0 : 0);
  }

  /** stack underflow: #IS with C1=0; true when the masked response should follow */
  private underflow(): boolean {
    this.setC1(0);
    return !this.signal(FE_IE | SW_SF);
  }

  /** stack overflow: #IS with C1=1; true when the masked response should follow */
  private overflow(): boolean {
    this.setC1(1);
    return !this.signal(FE_IE | SW_SF);
  }

  private setControlWord(v: number): void {
    // bits 13..15 read back as 0 and bit 6 as 1 (observed on hardware; the SDM calls them reserved)
    this.cw = (v & 0x1f3f) | 0x40;
    this.recomputeES();
  }

  private loadStatusWord(v: number): void {
    this.sw = v & ~(7 << SW_TOP_SHIFT) & 0xffff;
    this.top = (v >>> SW_TOP_SHIFT) & 7;
    this.recomputeES();
  }

  /** ES and B are the summary of the unmasked exception flags (SDM vol. 1, 8.1.3.1) */
  private recomputeES(): void {
    if (this.sw & ~this.cw & 0x3f) this.sw |= SW_ES | SW_B;
    else this.sw &= ~(SW_ES | SW_B);
  }

  private fninit(): void {
    this.cw = CW_INIT;
    this.sw = 0;
    this.top = 0;
    this.empty = 0xff;
    this.fip = 0;
    this.fcs = 0;
    this.fdp = 0;
    this.fds = 0;
    this.fop = 0;
    this.fipHi = 0;
    this.fdpHi = 0;
  }

  private fxChecks(off: number): void {
    const cr0 = this.host.cr0;
    if (cr0 & CR0_EM) this.host.raiseUD();
    if (cr0 & CR0_TS) this.host.raiseNM();
    if (off & 15) this.host.raiseGP0();
  }

  // =====================================================================
  // Registers
  // =====================================================================

  private phys(i: number): number {
    return (this.top + i) & 7;
  }

  private isEmpty(i: number): boolean {
    return (this.empty & (1 << ((this.top + i) & 7))) !== 0;
  }

  private tagOf(p: number): number {
    if (this.empty & (1 << p)) return TAG_EMPTY;
    const e = this.se[p]! & 0x7fff;
    const h = this.hi[p]!, l = this.lo[p]!;
    if (e === 0x7fff) return TAG_SPECIAL;
    if (e === 0) return h === 0 && l === 0 ? TAG_ZERO : TAG_SPECIAL;
    return h < 0 ? TAG_VALID : TAG_SPECIAL; // J bit clear: unnormal
  }

  private setSt(i: number, se: number, hi: number, lo: number): void {
    const p = (this.top + i) & 7;
    this.se[p] = se;
    this.hi[p] = hi;
    this.lo[p] = lo;
    this.empty &= ~(1 << p);
  }

  private setStResult(i: number): void {
    this.setSt(i, this.rSe, this.rHi, this.rLo);
  }

  private unpackSt(i: number, u: Unpacked): void {
    const p = (this.top + i) & 7;
    unpackExt(this.se[p]!, this.hi[p]!, this.lo[p]!, u);
  }

  private pop(): void {
    this.empty |= 1 << this.top;
    this.top = (this.top + 1) & 7;
  }

  /** true when a push would not overflow; otherwise signals overflow and applies the masked response */
  private pushCheck(): boolean {
    const p = (this.top - 1) & 7;
    if ((this.empty & (1 << p)) !== 0) return true;
    if (this.overflow()) {
      this.top = p;
      this.setSt(0, IND_SE, IND_HI, IND_LO);
    }
    return false;
  }

  private push(se: number, hi: number, lo: number): void {
    this.top = (this.top - 1) & 7;
    this.setSt(0, se, hi, lo);
  }

  private mmxEnter(): void {
    this.top = 0;
    this.empty = 0;
  }

  private mmWrite(r: number, hi: number, lo: number): void {
    this.hi[r] = hi;
    this.lo[r] = lo;
    this.se[r] = 0xffff;
  }

  // =====================================================================
  // Results
  // =====================================================================

  /** r* = the soft-float unit's rounded result */
  private takeResult(): void {
    const sf = this.sf;
    this.rSe = sf.packSe();
    this.rHi = sf.oHi | 0;
    this.rLo = sf.oLo | 0;
  }

  /**
   * r* = an exactly representable unpacked value: zero, infinity, or a
   * finite value whose exponent fits (an unpacked extended denormal goes
   * back to the denormal encoding; no bits are lost).
   */
  private resultOf(u: Unpacked): void {
    const s = u.sign << 15;
    if (u.cls === CLS_ZERO) { this.rSe = s; this.rHi = 0; this.rLo = 0; return; }
    if (u.cls === CLS_INF) { this.rSe = s | 0x7fff; this.rHi = 0x80000000 | 0; this.rLo = 0; return; }
    const d = EXT_EMIN - u.exp;
    if (d <= 0) { this.rSe = s | (u.exp + 16383); this.rHi = u.hi | 0; this.rLo = u.lo | 0; return; }
    // denormal: shift right by d (1..63) with exponent field 0
    this.rSe = s;
    if (d >= 32) { this.rHi = 0; this.rLo = (u.hi >>> (d - 32)) | 0; return; }
    this.rHi = (u.hi >>> d) | 0;
    this.rLo = ((u.lo >>> d) | (u.hi << (32 - d))) | 0;
  }

  private resultIndefinite(): void {
    this.rSe = IND_SE;
    this.rHi = IND_HI;
    this.rLo = IND_LO;
  }

  private resultZero(sign: number): void {
    this.rSe = sign << 15;
    this.rHi = 0;
    this.rLo = 0;
  }

  private resultInf(sign: number): void {
    this.rSe = (sign << 15) | 0x7fff;
    this.rHi = 0x80000000 | 0;
    this.rLo = 0;
  }

  /** r* = NaN `u` made quiet */
  private resultQuiet(u: Unpacked): void {
    this.rSe = (u.sign << 15) | 0x7fff;
    this.rHi = (u.hi | 0x40000000) | 0;
    this.rLo = u.lo | 0;
  }

  /**
   * Operands of which at least one is a NaN or unsupported: r* = the
   * result of SDM vol. 1 table 4-7 (x87 column), flags IE for an SNaN or
   * an unsupported operand. Returns true when a result should be stored
   * (false: unmasked #I). `b` may be null for one-operand instructions.
   */
  private nanResult(a: Unpacked, b: Unpacked | null): boolean {
    const ca = a.cls, cb = b === null ? CLS_ZERO : b.cls;
    if (ca === CLS_BAD || cb === CLS_BAD) {
      this.sf.flags |= FE_IE;
      this.resultIndefinite();
      return (this.cw & FE_IE) !== 0;
    }
    const aNan = ca === CLS_QNAN || ca === CLS_SNAN, bNan = cb === CLS_QNAN || cb === CLS_SNAN;
    if (ca === CLS_SNAN || cb === CLS_SNAN) this.sf.flags |= FE_IE;
    let pick: Unpacked;
    if (aNan && bNan && b !== null) {
      if (ca !== cb) pick = ca === CLS_QNAN ? a : b;
      else {
        const ah = a.hi & 0x3fffffff, bh = b.hi & 0x3fffffff;
        pick = ah > bh || (ah === bh && a.lo >= b.lo) ? a : b;
      }
    } else pick = aNan ? a : b!;
    this.resultQuiet(pick);
    return (this.sf.flags & FE_IE) === 0 || (this.cw & FE_IE) !== 0;
  }

  private isNanOrBad(u: Unpacked): boolean {
    return u.cls >= CLS_QNAN;
  }

  /** flags #D for denormal operands; true when it is unmasked (the operation must stop) */
  private denormalStops(a: Unpacked, b: Unpacked | null): boolean {
    if (a.den || (b !== null && b.den)) {
      this.sf.flags |= FE_DE;
      return (this.cw & FE_DE) === 0;
    }
    return false;
  }

  /** significand bits selected by precision control */
  private precBits(): number {
    return PC_BITS[(this.cw >>> 8) & 3]!;
  }

  /**
   * r* = a (op) b for kind 0 add, 1 mul, 4 a-b, 5 b-a, 6 a/b, 7 b/a, with
   * precision control. Returns true when the destination should be
   * written (false after an unmasked #I, #D or #Z). Flags accumulate in sf.
   */
  private arith(kind: number, a: Unpacked, b: Unpacked): boolean {
    const sf = this.sf;
    if (this.isNanOrBad(a) || this.isNanOrBad(b)) return this.nanResult(a, b);
    if (kind === 5 || kind === 7) { const t = a; a = b; b = t; kind--; }
    const ai = a.cls === CLS_INF, bi = b.cls === CLS_INF, az = a.cls === CLS_ZERO, bz = b.cls === CLS_ZERO;
    switch (kind) {
      case 0: case 4: {
        const bs = b.sign ^ (kind === 4 ? 1 : 0);
        if (ai || bi) {
          if (ai && bi && a.sign !== bs) return this.invalid();
          if (this.denormalStops(a, b)) return false;
          this.resultInf(ai ? a.sign : bs);
          return true;
        }
        if (this.denormalStops(a, b)) return false;
        sf.add(a, b, kind === 4, this.precBits());
        break;
      }
      case 1: {
        if (ai || bi) {
          if (az || bz) return this.invalid();
          if (this.denormalStops(a, b)) return false;
          this.resultInf(a.sign ^ b.sign);
          return true;
        }
        if (this.denormalStops(a, b)) return false;
        sf.mul(a, b, this.precBits());
        break;
      }
      default: { // 6: a / b
        const sign = a.sign ^ b.sign;
        if (ai) {
          if (bi) return this.invalid();
          if (this.denormalStops(a, b)) return false;
          this.resultInf(sign);
          return true;
        }
        if (bi) {
          if (this.denormalStops(a, b)) return false;
          this.resultZero(sign);
          return true;
        }
        if (bz) {
          if (az) return this.invalid();
          if (this.denormalStops(a, b)) return false;
          sf.flags |= FE_ZE;
          if ((this.cw & FE_ZE) === 0) return false;
          this.resultInf(sign);
          return true;
        }
        if (this.denormalStops(a, b)) return false;
        sf.div(a, b, this.precBits());
      }
    }
    this.takeResult();
    return true;
  }

  /** invalid arithmetic operand: IE; r* = indefinite; true when masked */
  private invalid(): boolean {
    this.sf.flags |= FE_IE;
    this.resultIndefinite();
    return (this.cw & FE_IE) !== 0;
  }

  // =====================================================================
  // Memory forms
  // =====================================================================

  private execMem(op: number, reg: number, seg: number, off: number): void {
    const host = this.host;
    switch (op) {
      case 0: // D8: arithmetic with m32real
        unpackM32(host.read32(seg, off), this.ub);
        this.arithSt0(reg, 0, this.ub);
        return;
      case 1: // D9
        switch (reg) {
          case 0: unpackM32(host.read32(seg, off), this.ub); this.loadConverted(); return;
          case 2: this.storeReal(seg, off, 32, false); return;
          case 3: this.storeReal(seg, off, 32, true); return;
          case 4: this.fldenv(seg, off); return;
          case 5: this.setControlWord(host.read16(seg, off)); return;
          case 6: this.fstenv(seg, off); return;
          default: host.write16(seg, off, this.cw); return; // 7: FNSTCW
        }
      case 2: // DA: arithmetic with m32int
        unpackInt32(host.read32(seg, off), this.ub);
        this.arithSt0(reg, 0, this.ub);
        return;
      case 3: // DB
        switch (reg) {
          case 0: unpackInt32(host.read32(seg, off), this.ub); this.loadConverted(); return;
          case 2: this.storeInt(seg, off, 32, false); return;
          case 3: this.storeInt(seg, off, 32, true); return;
          case 5: { // FLD m80
            const l = host.read32(seg, off), h = host.read32(seg, (off + 4) >>> 0), e = host.read16(seg, (off + 8) >>> 0);
            this.setC1(0);
            if (this.pushCheck()) this.push(e, h, l);
            return;
          }
          default: this.fstpM80(seg, off); return; // 7
        }
      case 4: // DC: arithmetic with m64real
        unpackM64(host.read32(seg, (off + 4) >>> 0), host.read32(seg, off), this.ub);
        this.arithSt0(reg, 0, this.ub);
        return;
      case 5: // DD
        switch (reg) {
          case 0: unpackM64(host.read32(seg, (off + 4) >>> 0), host.read32(seg, off), this.ub); this.loadConverted(); return;
          case 2: this.storeReal(seg, off, 64, false); return;
          case 3: this.storeReal(seg, off, 64, true); return;
          case 4: this.frstor(seg, off); return;
          case 6: this.fsave(seg, off); return;
          default: host.write16(seg, off, this.statusWord()); return; // 7: FNSTSW m16
        }
      case 6: // DE: arithmetic with m16int
        unpackInt32((host.read16(seg, off) << 16) >> 16, this.ub);
        this.arithSt0(reg, 0, this.ub);
        return;
      default: // DF
        switch (reg) {
          case 0: unpackInt32((host.read16(seg, off) << 16) >> 16, this.ub); this.loadConverted(); return;
          case 2: this.storeInt(seg, off, 16, false); return;
          case 3: this.storeInt(seg, off, 16, true); return;
          case 4: this.fbld(seg, off); return;
          case 5: unpackInt64(host.read32(seg, (off + 4) >>> 0), host.read32(seg, off), this.ub); this.loadConverted(); return;
          case 6: this.fbstp(seg, off); return;
          default: this.storeInt(seg, off, 64, true); return; // 7: FISTP m64
        }
    }
  }

  /**
   * Arithmetic group /reg with ST(0) as the first operand and `b` (a
   * memory operand, or ST(bi) when b is null) as the second; the result
   * goes to ST(dest). /2 and /3 are FCOM/FCOMP.
   */
  private arithSt0(reg: number, dest: number, b: Unpacked | null, bi = 0): void {
    if (this.isEmpty(0) || (b === null && this.isEmpty(bi))) {
      if (reg === 2 || reg === 3) {
        if (this.underflow()) this.setCC(1, 1, 1);
        if (reg === 3 && (this.cw & FE_IE)) this.pop();
      } else if (this.underflow()) this.setSt(dest, IND_SE, IND_HI, IND_LO);
      return;
    }
    this.unpackSt(0, this.ua);
    if (b === null) { this.unpackSt(bi, this.ub); b = this.ub; }
    if (reg === 2 || reg === 3) {
      const unmasked = this.compareCC(this.ua, b, false);
      if (reg === 3 && !unmasked) this.pop();
      return;
    }
    const store = this.arith(reg, this.ua, b);
    this.setC1(0);
    const unmasked = this.commitFlags();
    if (store || !unmasked) this.setStResult(dest);
  }

  /** pushes the converted memory operand in ub (FLD m32/m64, FILD): #IS, then #IA for an SNaN, #D for a denormal */
  private loadConverted(): void {
    this.setC1(0);
    if (!this.pushCheck()) return;
    const u = this.ub;
    if (u.cls === CLS_SNAN) {
      if (this.signal(FE_IE)) return;
      this.resultQuiet(u);
    } else {
      if (u.den && this.signal(FE_DE)) return;
      if (u.cls === CLS_QNAN) this.resultQuiet(u); else this.resultOf(u);
    }
    this.push(this.rSe, this.rHi, this.rLo);
  }

  /** FST/FSTP m32real or m64real */
  private storeReal(seg: number, off: number, bits: number, popAfter: boolean): void {
    const host = this.host, sf = this.sf;
    let w0 = 0, w1 = 0; // m32: w0; m64: w0 = high word, w1 = low word
    let ok = true;
    if (this.isEmpty(0)) {
      sf.flags |= FE_IE | SW_SF;
      ok = (this.cw & FE_IE) !== 0;
      if (bits === 32) w0 = 0xffc00000 | 0; else { w0 = 0xfff80000 | 0; w1 = 0; }
    } else {
      const u = this.ua;
      this.unpackSt(0, u);
      switch (u.cls) {
        case CLS_BAD:
          sf.flags |= FE_IE;
          ok = (this.cw & FE_IE) !== 0;
          if (bits === 32) w0 = 0xffc00000 | 0; else { w0 = 0xfff80000 | 0; w1 = 0; }
          break;
        case CLS_QNAN: case CLS_SNAN:
          if (u.cls === CLS_SNAN) { sf.flags |= FE_IE; ok = (this.cw & FE_IE) !== 0; }
          if (bits === 32) w0 = (u.sign << 31) | 0x7fc00000 | ((u.hi >>> 8) & 0x3fffff);
          else { w0 = (u.sign << 31) | 0x7ff80000 | ((u.hi >>> 11) & 0x7ffff); w1 = (u.hi << 21) | (u.lo >>> 11); }
          break;
        case CLS_INF:
          if (bits === 32) w0 = (u.sign << 31) | 0x7f800000; else { w0 = (u.sign << 31) | 0x7ff00000; w1 = 0; }
          break;
        default:
          // zero or finite (extended denormals are not a #D case for FST)
          if (bits === 32) {
            ok = sf.roundUnpacked(u, 24, SGL_EMIN, SGL_EMAX, false);
            w0 = sf.packM32();
          } else {
            ok = sf.roundUnpacked(u, 53, DBL_EMIN, DBL_EMAX, false);
            w0 = sf.packM64Hi();
            w1 = sf.packM64Lo();
          }
      }
    }
    if (ok) {
      if (bits === 32) host.write32(seg, off, w0);
      else { host.probe(seg, off, 8, true); host.write32(seg, off, w1); host.write32(seg, (off + 4) >>> 0, w0); }
    }
    this.finishStore(ok, popAfter);
  }

  /** after a store: flags (with SF for an empty ST0), C1, and the pop unless an unmasked exception stopped it */
  private finishStore(ok: boolean, popAfter: boolean): void {
    const f = this.sf.flags;
    if (f & SW_SF) {
      this.setC1(0);
      this.signal(f);
    } else this.commitFlags();
    if (ok && popAfter) this.pop();
  }

  /** FIST/FISTP m16/m32/m64int: rounds per RC; out of range, NaN, infinity -> #IA, integer indefinite */
  private storeInt(seg: number, off: number, bits: number, popAfter: boolean): void {
    const host = this.host, sf = this.sf;
    let ok = true;
    let vh = 0, vl = 0; // the integer, two's complement, high/low words
    let indefinite = false;
    if (this.isEmpty(0)) {
      sf.flags |= FE_IE | SW_SF;
      indefinite = true;
    } else {
      const u = this.ua;
      this.unpackSt(0, u);
      if (u.cls !== CLS_ZERO && u.cls !== CLS_FINITE) {
        sf.flags |= FE_IE;
        indefinite = true;
      } else {
        sf.roundToInt(u);
        const mh = sf.iHi >>> 0, ml = sf.iLo >>> 0;
        // largest magnitude: 2^(bits-1) - 1 positive, 2^(bits-1) negative
        let over = sf.iOver;
        if (!over) {
          if (bits === 64) over = mh > 0x80000000 || (mh === 0x80000000 && (ml !== 0 || u.sign === 0));
          else {
            const lim = bits === 32 ? 0x80000000 : 0x8000;
            over = mh !== 0 || ml > lim || (ml === lim && u.sign === 0);
          }
        }
        if (over) {
          sf.flags = (sf.flags & ~FE_PE) | FE_IE;
          sf.up = 0;
          indefinite = true;
        } else if (u.sign && (mh | ml) !== 0) {
          vl = (~ml + 1) >>> 0;
          vh = (~mh + (vl === 0 ? 1 : 0)) >>> 0;
        } else {
          vh = mh;
          vl = ml;
        }
      }
    }
    if (indefinite) {
      ok = (this.cw & FE_IE) !== 0;
      vh = bits === 64 ? 0x80000000 : 0;
      vl = bits === 64 ? 0 : bits === 32 ? 0x80000000 : 0x8000;
    }
    if (ok) {
      if (bits === 16) host.write16(seg, off, vl & 0xffff);
      else if (bits === 32) host.write32(seg, off, vl | 0);
      else { host.probe(seg, off, 8, true); host.write32(seg, off, vl | 0); host.write32(seg, (off + 4) >>> 0, vh | 0); }
    }
    this.finishStore(ok, popAfter);
  }

  /** FSTP m80: the register as it is, no conversion and no exception but stack underflow */
  private fstpM80(seg: number, off: number): void {
    const host = this.host;
    let e: number, h: number, l: number;
    let ok = true;
    if (this.isEmpty(0)) {
      this.sf.flags |= FE_IE | SW_SF;
      ok = (this.cw & FE_IE) !== 0;
      e = IND_SE; h = IND_HI; l = IND_LO;
    } else {
      const p = this.top;
      e = this.se[p]!; h = this.hi[p]!; l = this.lo[p]!;
    }
    if (ok) {
      host.probe(seg, off, 10, true);
      host.write32(seg, off, l);
      host.write32(seg, (off + 4) >>> 0, h);
      host.write16(seg, (off + 8) >>> 0, e);
    }
    this.finishStore(ok, true);
  }

  /** FBLD m80bcd: 18 packed BCD digits and a sign byte (SDM vol. 1, 4.7) */
  private fbld(seg: number, off: number): void {
    const host = this.host;
    const bytes = new Uint8Array(10);
    for (let i = 0; i < 10; i++) bytes[i] = host.read8(seg, (off + i) >>> 0);
    let v = 0n;
    for (let i = 8; i >= 0; i--) {
      const b = bytes[i]!;
      v = v * 100n + BigInt((b >>> 4) * 10 + (b & 15)); // invalid digits give an undefined result on hardware
    }
    unpackInt64(Number((v >> 32n) & 0xffffffffn), Number(v & 0xffffffffn), this.ub);
    if (bytes[9]! & 0x80) this.ub.sign = 1; // -0 stays -0
    this.setC1(0);
    if (!this.pushCheck()) return;
    this.resultOf(this.ub);
    this.push(this.rSe, this.rHi, this.rLo);
  }

  /** FBSTP m80bcd: rounds per RC; |value| >= 10^18, NaN or infinity -> #IA and the BCD indefinite */
  private fbstp(seg: number, off: number): void {
    const host = this.host, sf = this.sf;
    const bytes = new Uint8Array(10);
    let indefinite = false;
    if (this.isEmpty(0)) {
      sf.flags |= FE_IE | SW_SF;
      indefinite = true;
    } else {
      const u = this.ua;
      this.unpackSt(0, u);
      if (u.cls !== CLS_ZERO && u.cls !== CLS_FINITE) {
        sf.flags |= FE_IE;
        indefinite = true;
      } else {
        sf.roundToInt(u);
        const v = (BigInt(sf.iHi >>> 0) << 32n) | BigInt(sf.iLo >>> 0);
        if (sf.iOver || v > 999999999999999999n) {
          sf.flags = (sf.flags & ~FE_PE) | FE_IE;
          sf.up = 0;
          indefinite = true;
        } else {
          let r = v;
          for (let i = 0; i < 9; i++) {
            const two = Number(r % 100n);
            r /= 100n;
            bytes[i] = ((((two / 10) | 0) << 4) | (two % 10));
          }
          bytes[9] = u.sign ? 0x80 : 0;
        }
      }
    }
    let ok = true;
    if (indefinite) {
      ok = (this.cw & FE_IE) !== 0;
      bytes.fill(0);
      bytes[7] = 0xc0;
      bytes[8] = 0xff;
      bytes[9] = 0xff;
    }
    if (ok) {
      host.probe(seg, off, 10, true);
      for (let i = 0; i < 10; i++) host.write8(seg, (off + i) >>> 0, bytes[i]!);
    }
    this.finishStore(ok, true);
  }

  // ---- environment and state images (SDM vol. 1, 8.1.10, figures 8-9..8-12) ----

  /**
   * Writes the 14- or 28-byte environment at seg:off (after a write probe):
   *
   *   32-bit protected          32-bit real/v86                16-bit protected   16-bit real/v86
   *   0  FCW (hi 16: FFFF)      0  FCW                         0 FCW              0 FCW
   *   4  FSW (hi 16: FFFF)      4  FSW                         2 FSW              2 FSW
   *   8  FTW (hi 16: FFFF)      8  FTW                         4 FTW              4 FTW
   *   12 FIP offset             12 FIP 15:0   (hi 16: FFFF)    6 FIP offset       6 FIP 15:0
   *   16 FCS | FOP << 16        16 FIP 31:16 << 12 | FOP       8 FCS              8 FIP 19:16 << 12 | FOP
   *   20 FDP offset             20 FDP 15:0   (hi 16: FFFF)    10 FDP offset      10 FDP 15:0
   *   24 FDS (hi 16: FFFF)      24 FDP 31:16 << 12             12 FDS             12 FDP 19:16 << 12
   *
   * The real-mode forms hold linear addresses (selector * 16 + offset).
   * Reserved high halves are written as FFFF, as hardware does.
   */
  private writeEnv(seg: number, off: number): number {
    const host = this.host;
    const at = (n: number): number => (off + n) >>> 0;
    const real = host.realMode, o32 = host.opsize32;
    const sw = this.statusWord(), tw = this.tagWord();
    const ip = real ? (this.fcs * 16 + this.fip) >>> 0 : this.fip;
    const dp = real ? (this.fds * 16 + this.fdp) >>> 0 : this.fdp;
    if (o32) {
      host.probe(seg, off, 28, true);
      host.write32(seg, at(0), 0xffff0000 | this.cw);
      host.write32(seg, at(4), 0xffff0000 | sw);
      host.write32(seg, at(8), 0xffff0000 | tw);
      if (real) {
        host.write32(seg, at(12), 0xffff0000 | (ip & 0xffff));
        host.write32(seg, at(16), ((ip >>> 16) << 12) | this.fop);
        host.write32(seg, at(20), 0xffff0000 | (dp & 0xffff));
        host.write32(seg, at(24), (dp >>> 16) << 12);
      } else {
        host.write32(seg, at(12), ip);
        host.write32(seg, at(16), (this.fop << 16) | this.fcs);
        host.write32(seg, at(20), dp);
        host.write32(seg, at(24), 0xffff0000 | this.fds);
      }
      return 28;
    }
    host.probe(seg, off, 14, true);
    host.write16(seg, at(0), this.cw);
    host.write16(seg, at(2), sw);
    host.write16(seg, at(4), tw);
    if (real) {
      host.write16(seg, at(6), ip & 0xffff);
      host.write16(seg, at(8), (((ip >>> 16) & 0xf) << 12) | this.fop);
      host.write16(seg, at(10), dp & 0xffff);
      host.write16(seg, at(12), ((dp >>> 16) & 0xf) << 12);
    } else {
      host.write16(seg, at(6), ip & 0xffff);
      host.write16(seg, at(8), this.fcs);
      host.write16(seg, at(10), dp & 0xffff);
      host.write16(seg, at(12), this.fds);
    }
    return 14;
  }

  /** reads an environment image (the inverse of writeEnv); returns its fields without committing */
  private readEnv(seg: number, off: number, env: Int32Array): number {
    const host = this.host;
    const at = (n: number): number => (off + n) >>> 0;
    const real = host.realMode;
    if (host.opsize32) {
      env[0] = host.read16(seg, at(0));
      env[1] = host.read16(seg, at(4));
      env[2] = host.read16(seg, at(8));
      const w12 = host.read32(seg, at(12)), w16 = host.read32(seg, at(16)), w20 = host.read32(seg, at(20)), w24 = host.read32(seg, at(24));
      if (real) {
        env[3] = ((w12 & 0xffff) | (((w16 >>> 12) & 0xffff) << 16)) >>> 0; // fip (linear)
        env[4] = 0; // fcs
        env[5] = w16 & 0x7ff; // fop
        env[6] = ((w20 & 0xffff) | (((w24 >>> 12) & 0xffff) << 16)) >>> 0; // fdp (linear)
        env[7] = 0; // fds
      } else {
        env[3] = w12 >>> 0;
        env[4] = w16 & 0xffff;
        env[5] = (w16 >>> 16) & 0x7ff;
        env[6] = w20 >>> 0;
        env[7] = w24 & 0xffff;
      }
      return 28;
    }
    env[0] = host.read16(seg, at(0));
    env[1] = host.read16(seg, at(2));
    env[2] = host.read16(seg, at(4));
    const w6 = host.read16(seg, at(6)), w8 = host.read16(seg, at(8)), w10 = host.read16(seg, at(10)), w12 = host.read16(seg, at(12));
    if (real) {
      env[3] = w6 | ((w8 >>> 12) << 16);
      env[4] = 0;
      env[5] = w8 & 0x7ff;
      env[6] = w10 | ((w12 >>> 12) << 16);
      env[7] = 0;
    } else {
      env[3] = w6;
      env[4] = w8;
      env[5] = this.fop; // the 16-bit protected image has no opcode
      env[6] = w10;
      env[7] = w12;
    }
    return 14;
  }

  /** loads the environment fields read by readEnv; the tag word only says empty or not (8.1.7) */
  private commitEnv(env: Int32Array): void {
    this.setControlWord(env[0]!);
    this.loadStatusWord(env[1]!);
    let empty = 0;
    for (let p = 0; p < 8; p++) if (((env[2]! >>> (2 * p)) & 3) === TAG_EMPTY) empty |= 1 << p;
    this.empty = empty;
    this.fip = env[3]! >>> 0;
    this.fcs = env[4]!;
    this.fop = env[5]!;
    this.fdp = env[6]! >>> 0;
    this.fds = env[7]!;
  }

  /** FNSTENV: stores the environment, then masks all exceptions (SDM vol. 2A FSTENV) */
  private fstenv(seg: number, off: number): void {
    this.writeEnv(seg, off);
    this.setControlWord(this.cw | 0x3f);
  }

  private fldenv(seg: number, off: number): void {
    const env = new Int32Array(8);
    this.readEnv(seg, off, env);
    this.commitEnv(env);
  }

  /** FNSAVE: environment plus ST(0)..ST(7) (10 bytes each), then FNINIT */
  private fsave(seg: number, off: number): void {
    const host = this.host;
    const n = host.opsize32 ? 28 : 14;
    host.probe(seg, off, n + 80, true);
    this.writeEnv(seg, off);
    for (let i = 0; i < 8; i++) {
      const p = (this.top + i) & 7, b = (off + n + 10 * i) >>> 0;
      host.write32(seg, b, this.lo[p]!);
      host.write32(seg, (b + 4) >>> 0, this.hi[p]!);
      host.write16(seg, (b + 8) >>> 0, this.se[p]!);
    }
    this.fninit();
  }

  private frstor(seg: number, off: number): void {
    const host = this.host;
    const env = new Int32Array(8);
    const n = this.readEnv(seg, off, env);
    const regs = new Int32Array(24);
    for (let i = 0; i < 8; i++) {
      const b = (off + n + 10 * i) >>> 0;
      regs[3 * i] = host.read32(seg, b);
      regs[3 * i + 1] = host.read32(seg, (b + 4) >>> 0);
      regs[3 * i + 2] = host.read16(seg, (b + 8) >>> 0);
    }
    this.commitEnv(env);
    for (let i = 0; i < 8; i++) {
      const p = (this.top + i) & 7;
      this.lo[p] = regs[3 * i]!;
      this.hi[p] = regs[3 * i + 1]!;
      this.se[p] = regs[3 * i + 2]!;
    }
  }

  // =====================================================================
  // Register forms
  // =====================================================================

  private execReg(op: number, modrm: number): void {
    const reg = (modrm >>> 3) & 7, i = modrm & 7;
    switch (op) {
      case 0: // D8: ST(0) <- ST(0) op ST(i); FCOM/FCOMP ST(i)
        this.arithSt0(reg, 0, null, i);
        return;
      case 1: this.execD9(reg, i); return;
      case 2: // DA: FCMOVB/E/BE/U, FUCOMPP
        if (reg < 4) this.fcmov(reg, false, i);
        else this.compareRegs(1, true, 2); // E9: FUCOMPP
        return;
      case 3: // DB
        if (reg < 4) { this.fcmov(reg, true, i); return; }
        if (reg === 4) {
          if (i === 2) { this.sw &= ~(0x3f | SW_SF | SW_ES | SW_B); return; } // FNCLEX
          if (i === 3) { this.fninit(); return; } // FNINIT
          return; // FENI, FDISI, FSETPM: no operation since the 387
        }
        this.compareEflags(i, reg === 5, false); // E8 FUCOMI, F0 FCOMI
        return;
      case 4: // DC: ST(i) <- ST(0) op ST(i); /2 /3 are aliases of FCOM/FCOMP
        this.arithSt0(reg, reg === 2 || reg === 3 ? 0 : i, null, i);
        return;
      case 5: // DD
        switch (reg) {
          case 0: this.setC1(0); this.empty |= 1 << this.phys(i); return; // FFREE
          case 1: this.fxch(i); return; // alias of FXCH
          case 2: this.fstReg(i, false); return;
          case 3: this.fstReg(i, true); return;
          case 4: this.compareRegs(i, true, 0); return; // FUCOM
          default: this.compareRegs(i, true, 1); return; // FUCOMP
        }
      case 6: // DE: ST(i) <- ST(0) op ST(i), pop; D9 FCOMPP; D0+i alias of FCOMP
        if (reg === 3) { this.compareRegs(1, false, 2); return; }
        if (reg === 2) { this.arithSt0(3, 0, null, i); return; }
        this.arithPop(reg, i);
        return;
      default: // DF
        switch (reg) {
          case 0: this.setC1(0); this.empty |= 1 << this.phys(i); this.pop(); return; // FFREEP
          case 1: this.fxch(i); return; // alias of FXCH
          case 2: case 3: this.fstReg(i, true); return; // aliases of FSTP
          case 4: this.host.setReg32(0, (this.host.getReg32(0) & ~0xffff) | this.statusWord()); return; // FNSTSW AX
          default: this.compareEflags(i, reg === 5, true); return; // E8 FUCOMIP, F0 FCOMIP
        }
    }
  }

  /** DE arithmetic: ST(i) <- ST(0) op ST(i), then pop (unless an unmasked exception left the destination alone) */
  private arithPop(reg: number, i: number): void {
    if (this.isEmpty(0) || this.isEmpty(i)) {
      if (this.underflow()) { this.setSt(i, IND_SE, IND_HI, IND_LO); this.pop(); }
      return;
    }
    this.unpackSt(0, this.ua);
    this.unpackSt(i, this.ub);
    const store = this.arith(reg, this.ua, this.ub);
    this.setC1(0);
    const unmasked = this.commitFlags();
    if (store || !unmasked) {
      this.setStResult(i);
      this.pop();
    }
  }

  private execD9(reg: number, i: number): void {
    switch (reg) {
      case 0: { // FLD ST(i)
        this.setC1(0);
        if (this.isEmpty(i)) {
          if (!this.underflow()) return;
          if (this.pushCheck()) this.push(IND_SE, IND_HI, IND_LO);
          return;
        }
        const p = this.phys(i);
        const e = this.se[p]!, h = this.hi[p]!, l = this.lo[p]!;
        if (this.pushCheck()) this.push(e, h, l);
        return;
      }
      case 1: this.fxch(i); return;
      case 2: return; // D0: FNOP
      case 3: this.fstReg(i, true); return; // D8+i: alias of FSTP
      case 4: this.execD9E0(i); return;
      case 5: this.fldConst(i); return;
      case 6: this.execD9F0(i); return;
      default: this.execD9F8(i); return;
    }
  }

  private fxch(i: number): void {
    this.setC1(0);
    if (this.isEmpty(0) || this.isEmpty(i)) {
      if (!this.underflow()) return;
      if (this.isEmpty(0)) this.setSt(0, IND_SE, IND_HI, IND_LO);
      if (this.isEmpty(i)) this.setSt(i, IND_SE, IND_HI, IND_LO);
    }
    const a = this.phys(0), b = this.phys(i);
    const e = this.se[a]!, h = this.hi[a]!, l = this.lo[a]!;
    this.se[a] = this.se[b]!; this.hi[a] = this.hi[b]!; this.lo[a] = this.lo[b]!;
    this.se[b] = e; this.hi[b] = h; this.lo[b] = l;
  }

  /** FST/FSTP ST(i): an exact copy */
  private fstReg(i: number, popAfter: boolean): void {
    this.setC1(0);
    if (this.isEmpty(0)) {
      if (!this.underflow()) return;
      this.setSt(i, IND_SE, IND_HI, IND_LO);
    } else {
      const p = this.top;
      this.setSt(i, this.se[p]!, this.hi[p]!, this.lo[p]!);
    }
    if (popAfter) this.pop();
  }

  /** FCMOVcc: reg 0 B (CF), 1 E (ZF), 2 BE (CF|ZF), 3 U (PF); `not` for the DB forms */
  private fcmov(reg: number, not: boolean, i: number): void {
    this.setC1(0);
    if (this.isEmpty(0) || this.isEmpty(i)) {
      if (this.underflow()) this.setSt(0, IND_SE, IND_HI, IND_LO);
      return;
    }
    const f = this.host.getFlags();
    let c = reg === 0 ? f & F_CF : reg === 1 ? f & F_ZF : reg === 2 ? f & (F_CF | F_ZF) : f & F_PF;
    if (not) c = c ? 0 : 1;
    if (c) {
      const p = this.phys(i);
      this.setSt(0, this.se[p]!, this.hi[p]!, this.lo[p]!);
    }
  }

  // ---- comparisons ----

  /**
   * Compares a with b (b's class decides ordering); sets C3 C2 C0 (SDM
   * vol. 2A FCOM table: > 000, < 001, = 100, unordered 111) and C1=0.
   * Returns true when an unmasked exception occurred.
   */
  private compareCC(a: Unpacked, b: Unpacked, unorderedOk: boolean): boolean {
    const r = this.compareCore(a, b, unorderedOk);
    this.setC1(0);
    if (r === 3) this.setCC(1, 1, 1);
    else if (r === 1) this.setCC(0, 0, 1);
    else if (r === 2) this.setCC(1, 0, 0);
    else this.setCC(0, 0, 0);
    return this.sf.flags !== 0 && this.signal(this.sf.flags);
  }

  /** 0 greater, 1 less, 2 equal, 3 unordered; IE for NaNs (only SNaNs when `unorderedOk`) and unsupported, DE for denormals */
  private compareCore(a: Unpacked, b: Unpacked, unorderedOk: boolean): number {
    if (a.cls >= CLS_QNAN || b.cls >= CLS_QNAN) {
      const signaling = a.cls === CLS_SNAN || b.cls === CLS_SNAN || a.cls === CLS_BAD || b.cls === CLS_BAD;
      if (signaling || !unorderedOk) this.sf.flags |= FE_IE;
      return 3;
    }
    if (a.den || b.den) this.sf.flags |= FE_DE;
    const c = compareOrdered(a, b);
    return c > 0 ? 0 : c < 0 ? 1 : 2;
  }

  /** FCOM-family on registers ST(0) vs ST(i), popping `pops` times (FUCOM/FUCOMP/FUCOMPP/FCOMPP) */
  private compareRegs(i: number, unorderedOk: boolean, pops: number): void {
    if (this.isEmpty(0) || this.isEmpty(i)) {
      if (this.underflow()) {
        this.setCC(1, 1, 1);
        for (let k = 0; k < pops; k++) this.pop();
      }
      return;
    }
    this.unpackSt(0, this.ua);
    this.unpackSt(i, this.ub);
    const unmasked = this.compareCC(this.ua, this.ub, unorderedOk);
    if (!unmasked) for (let k = 0; k < pops; k++) this.pop();
  }

  /** FCOMI/FUCOMI/FCOMIP/FUCOMIP: ZF PF CF = > 000, < 001, = 100, unordered 111; OF SF AF cleared */
  private compareEflags(i: number, unorderedOk: boolean, popAfter: boolean): void {
    this.setC1(0);
    if (this.isEmpty(0) || this.isEmpty(i)) {
      if (this.underflow()) {
        this.host.setFlagsZPC(1, 1, 1);
        if (popAfter) this.pop();
      }
      return;
    }
    this.unpackSt(0, this.ua);
    this.unpackSt(i, this.ub);
    const r = this.compareCore(this.ua, this.ub, unorderedOk);
    const unmasked = this.sf.flags !== 0 && this.signal(this.sf.flags);
    if (r === 3) this.host.setFlagsZPC(1, 1, 1);
    else if (r === 1) this.host.setFlagsZPC(0, 0, 1);
    else if (r === 2) this.host.setFlagsZPC(1, 0, 0);
    else this.host.setFlagsZPC(0, 0, 0);
    if (popAfter && !unmasked) this.pop();
  }

  // ---- D9 E0..E7: FCHS FABS FTST FXAM ----

  private execD9E0(i: number): void {
    if (i === 5) { this.fxam(); return; }
    this.setC1(0);
    if (this.isEmpty(0)) {
      if (this.underflow()) {
        if (i === 4) this.setCC(1, 1, 1);
        else this.setSt(0, IND_SE, IND_HI, IND_LO);
      }
      return;
    }
    const p = this.top;
    if (i === 0) this.se[p] = this.se[p]! ^ 0x8000; // FCHS
    else if (i === 1) this.se[p] = this.se[p]! & 0x7fff; // FABS
    else { // FTST: compare with +0.0
      this.unpackSt(0, this.ua);
      this.ub.cls = CLS_ZERO;
      this.ub.sign = 0;
      this.ub.den = false;
      this.compareCC(this.ua, this.ub, false);
    }
  }

  /** FXAM: C1 = sign; C3 C2 C0 = class (SDM vol. 2A FXAM table) */
  private fxam(): void {
    const p = this.top;
    this.setC1(this.se[p]! >>> 15);
    if (this.isEmpty(0)) { this.setCC(1, 0, 1); return; }
    this.unpackSt(0, this.ua);
    const u = this.ua;
    switch (u.cls) {
      case CLS_BAD: this.setCC(0, 0, 0); return;
      case CLS_QNAN: case CLS_SNAN: this.setCC(0, 0, 1); return;
      case CLS_INF: this.setCC(0, 1, 1); return;
      case CLS_ZERO: this.setCC(1, 0, 0); return;
      default: if (u.den) this.setCC(1, 1, 0); else this.setCC(0, 1, 0);
    }
  }

  /** D9 E8..EE: FLD1 FLDL2T FLDL2E FLDPI FLDLG2 FLDLN2 FLDZ (EF is #UD) */
  private fldConst(i: number): void {
    this.setC1(0);
    if (!this.pushCheck()) return;
    if (i === 0) { this.push(0x3fff, 0x80000000 | 0, 0); return; }
    if (i === 6) { this.push(0, 0, 0); return; }
    const [se, h, l, nearestUp] = CONSTS[i - 1]!;
    const rc = (this.cw >>> 10) & 3;
    const up = rc === RC_UP || (rc === RC_NEAREST && nearestUp);
    // no constant's low word is all ones, so the increment never carries
    this.push(se, h, up ? (l + 1) | 0 : l);
  }

  // ---- D9 F0..F7: F2XM1 FYL2X FPTAN FPATAN FXTRACT FPREM1 FDECSTP FINCSTP ----

  private execD9F0(i: number): void {
    switch (i) {
      case 0: this.f2xm1(); return;
      case 1: this.fyl2x(false); return;
      case 2: this.ftrig(2); return;
      case 3: this.fpatan(); return;
      case 4: this.fxtract(); return;
      case 5: this.fprem(true); return;
      case 6: this.setC1(0); this.top = (this.top - 1) & 7; return; // FDECSTP
      default: this.setC1(0); this.top = (this.top + 1) & 7; return; // FINCSTP
    }
  }

  // ---- D9 F8..FF: FPREM FYL2XP1 FSQRT FSINCOS FRNDINT FSCALE FSIN FCOS ----

  private execD9F8(i: number): void {
    switch (i) {
      case 0: this.fprem(false); return;
      case 1: this.fyl2x(true); return;
      case 2: this.fsqrt(); return;
      case 3: this.ftrig(3); return;
      case 4: this.frndint(); return;
      case 5: this.fscale(); return;
      case 6: this.ftrig(0); return;
      default: this.ftrig(1); return;
    }
  }

  /**
   * Common start of an instruction on ST(0) (and ST(1) when `two`):
   * stack underflow (masked: the destination ST(0), or ST(1) when `dest1`,
   * gets the indefinite), then NaN/unsupported operands (result stored
   * in the destination). Returns true when the caller should compute.
   */
  private operands(two: boolean, dest1: boolean, popAfter: boolean): boolean {
    this.setC1(0);
    if (this.isEmpty(0) || (two && this.isEmpty(1))) {
      if (this.underflow()) {
        this.setSt(dest1 ? 1 : 0, IND_SE, IND_HI, IND_LO);
        if (popAfter) this.pop();
      }
      return false;
    }
    this.unpackSt(0, this.ua);
    if (two) this.unpackSt(1, this.ub);
    if (this.isNanOrBad(this.ua) || (two && this.isNanOrBad(this.ub))) {
      const store = this.nanResult(this.ua, two ? this.ub : null);
      this.writeBack(store, dest1 ? 1 : 0, popAfter);
      return false;
    }
    return true;
  }

  /** commits flags and, unless an unmasked exception forbids it, writes r* to ST(dest) and pops */
  private writeBack(store: boolean, dest: number, popAfter: boolean): void {
    const unmasked = this.commitFlags();
    if (store || !unmasked) {
      this.setStResult(dest);
      if (popAfter) this.pop();
    }
  }

  private fsqrt(): void {
    if (!this.operands(false, false, false)) return;
    const a = this.ua;
    let store = true;
    if (a.cls === CLS_ZERO) this.resultZero(a.sign);
    else if (a.sign) store = this.invalid();
    else if (a.cls === CLS_INF) this.resultInf(0);
    else if (this.denormalStops(a, null)) store = false;
    else { this.sf.sqrt(a, this.precBits()); this.takeResult(); }
    this.writeBack(store, 0, false);
  }

  private frndint(): void {
    if (!this.operands(false, false, false)) return;
    const a = this.ua, sf = this.sf;
    let store = true;
    if (a.cls === CLS_ZERO || a.cls === CLS_INF) this.resultOf(a);
    else if (this.denormalStops(a, null)) store = false;
    else {
      sf.roundToInt(a);
      if (sf.iOver) this.resultOf(a); // |a| >= 2^64: already an integer
      else {
        unpackInt64(sf.iHi, sf.iLo, this.ut);
        this.ut.sign = a.sign;
        if (this.ut.cls === CLS_ZERO) this.resultZero(a.sign);
        else this.resultOf(this.ut);
      }
    }
    this.writeBack(store, 0, false);
  }

  /** FSCALE: ST(0) <- ST(0) * 2^trunc(ST(1)), exact with overflow/underflow handling */
  private fscale(): void {
    if (!this.operands(true, false, false)) return;
    const a = this.ua, b = this.ub, sf = this.sf;
    let store = true;
    if (a.cls === CLS_ZERO) {
      if (b.cls === CLS_INF && b.sign === 0) store = this.invalid(); else this.resultZero(a.sign);
    } else if (a.cls === CLS_INF) {
      if (b.cls === CLS_INF && b.sign) store = this.invalid(); else this.resultInf(a.sign);
    } else if (b.cls === CLS_INF) {
      if (this.denormalStops(a, null)) store = false;
      else if (b.sign) this.resultZero(a.sign); else this.resultInf(a.sign);
    } else if (this.denormalStops(a, b)) store = false;
    else {
      // trunc(ST(1)), clamped far enough out to still overflow/underflow
      let n = 0;
      if (b.cls === CLS_FINITE && b.exp >= 0) n = b.exp >= 20 ? 1 << 20 : b.hi >>> (31 - b.exp);
      if (b.sign) n = -n;
      copyUnpacked(this.ut, a);
      this.ut.exp += n;
      sf.roundUnpacked(this.ut, 64, EXT_EMIN, EXT_EMAX, true);
      this.takeResult();
    }
    this.writeBack(store, 0, false);
  }

  /** FXTRACT: ST(0) <- exponent, then push the significand (SDM vol. 2A FXTRACT) */
  private fxtract(): void {
    this.setC1(0);
    if (this.isEmpty(0)) {
      if (this.underflow()) {
        this.setSt(0, IND_SE, IND_HI, IND_LO);
        if (this.pushCheck()) this.push(IND_SE, IND_HI, IND_LO);
      }
      return;
    }
    if (!this.isEmpty(-1)) { this.pushCheck(); return; }
    const a = this.ua;
    this.unpackSt(0, a);
    let sigSe: number, sigHi: number, sigLo: number;
    if (this.isNanOrBad(a)) {
      if (!this.nanResult(a, null)) { this.commitFlags(); return; }
      sigSe = this.rSe; sigHi = this.rHi; sigLo = this.rLo;
    } else if (a.cls === CLS_ZERO) {
      this.sf.flags |= FE_ZE;
      if (this.commitFlags()) return;
      this.setSt(0, 0xffff, 0x80000000 | 0, 0); // -infinity
      this.push(a.sign << 15, 0, 0);
      return;
    } else if (a.cls === CLS_INF) {
      this.resultInf(0);
      sigSe = (a.sign << 15) | 0x7fff; sigHi = 0x80000000 | 0; sigLo = 0;
    } else {
      if (this.denormalStops(a, null)) { this.commitFlags(); return; }
      unpackInt32(a.exp, this.ut);
      this.resultOf(this.ut);
      sigSe = (a.sign << 15) | 0x3fff; sigHi = a.hi | 0; sigLo = a.lo | 0;
    }
    this.commitFlags();
    this.setStResult(0);
    this.push(sigSe, sigHi, sigLo);
  }

  /** FPREM / FPREM1: C2 = incomplete, C0 C3 C1 = quotient bits 2, 1, 0 */
  private fprem(ieee: boolean): void {
    if (!this.operands(true, false, false)) return;
    const a = this.ua, b = this.ub, sf = this.sf;
    let store = true;
    this.setCC(0, 0, 0);
    if (a.cls === CLS_INF || b.cls === CLS_ZERO) store = this.invalid();
    else if (this.denormalStops(a, b)) store = false;
    else if (b.cls === CLS_INF || a.cls === CLS_ZERO) this.resultOf(a);
    else {
      sf.rem(a, b, ieee);
      this.takeResult();
      const q = sf.remQ;
      if (sf.remPartial) this.setCC(0, 1, 0);
      else {
        this.setCC((q >>> 1) & 1, 0, (q >>> 2) & 1);
        sf.up = q & 1; // C1 = quotient bit 0 (committed by writeBack)
      }
    }
    this.writeBack(store, 0, false);
  }

  // ---- the double-precision instructions ----

  /** r* = double x, exactly */
  private resultDouble(x: number): void {
    DV.setFloat64(0, x);
    unpackM64(DV.getInt32(0), DV.getInt32(4), this.ut);
    if (this.ut.cls === CLS_QNAN || this.ut.cls === CLS_SNAN) this.resultIndefinite();
    else this.resultOf(this.ut);
  }

  /**
   * FSIN (0), FCOS (1), FPTAN (2), FSINCOS (3). |x| >= 2^63 sets C2 and
   * leaves the stack alone; infinity is #IA.
   */
  private ftrig(kind: number): void {
    const pushes = kind >= 2;
    this.setC1(0);
    if (this.isEmpty(0)) {
      if (this.underflow()) {
        this.setSt(0, IND_SE, IND_HI, IND_LO);
        if (pushes && this.pushCheck()) this.push(IND_SE, IND_HI, IND_LO);
      }
      return;
    }
    if (pushes && !this.isEmpty(-1)) { this.pushCheck(); return; }
    const a = this.ua;
    this.unpackSt(0, a);
    this.sw &= ~SW_C2;
    if (this.isNanOrBad(a) || a.cls === CLS_INF) {
      const store = a.cls === CLS_INF ? this.invalid() : this.nanResult(a, null);
      if (this.commitFlags() && !store) return;
      this.setStResult(0);
      if (pushes) this.push(this.rSe, this.rHi, this.rLo);
      return;
    }
    if (a.cls === CLS_FINITE && a.exp >= 63) { this.sw |= SW_C2; return; }
    if (this.denormalStops(a, null)) { this.commitFlags(); return; }
    // keep: sin x and tan x equal x to 64 bits (x = 0, or |x| < 2^-40 where x^3/6 is below half an ulp)
    let keep = a.cls === CLS_ZERO, sinV = 0, cosV = 1;
    if (!keep) {
      this.sf.flags |= FE_PE;
      if (a.exp < -40) keep = true;
      else {
        const [xh, xl] = splitDouble(a);
        const sh = Math.sin(xh), ch = Math.cos(xh);
        sinV = sh + ch * xl; // first-order correction for the argument bits below the double
        cosV = ch - sh * xl;
      }
    }
    const p = this.top;
    if (kind === 1) this.resultDouble(cosV);
    else if (keep) { this.rSe = this.se[p]!; this.rHi = this.hi[p]!; this.rLo = this.lo[p]!; }
    else this.resultDouble(kind === 2 ? sinV / cosV : sinV);
    this.commitFlags();
    this.setStResult(0);
    if (pushes) {
      this.resultDouble(kind === 2 ? 1 : cosV);
      this.push(this.rSe, this.rHi, this.rLo);
    }
  }

  /** FPATAN: ST(1) <- atan2(ST(1), ST(0)), pop */
  private fpatan(): void {
    if (!this.operands(true, true, true)) return;
    const x = this.ua, y = this.ub;
    if (this.denormalStops(x, y)) { this.commitFlags(); return; }
    const anyZero = x.cls === CLS_ZERO || y.cls === CLS_ZERO;
    if (!(anyZero && x.sign === 0)) this.sf.flags |= FE_PE;
    if (x.cls === CLS_FINITE && y.cls === CLS_FINITE && x.sign === 0 && y.exp - x.exp < -60) {
      // atan(y/x) = y/x to 64 bits
      this.sf.div(y, x, 64);
      this.takeResult();
    } else {
      // scale both by the same power of two so that neither over- nor underflows a double
      const k = x.cls === CLS_FINITE && y.cls === CLS_FINITE ? Math.max(x.exp, y.exp) : x.cls === CLS_FINITE ? x.exp : y.cls === CLS_FINITE ? y.exp : 0;
      this.resultDouble(Math.atan2(toDouble(y, -k), toDouble(x, -k)));
    }
    this.writeBack(true, 1, true);
  }

  /** F2XM1: ST(0) <- 2^ST(0) - 1 (defined for -1 <= x <= 1) */
  private f2xm1(): void {
    if (!this.operands(false, false, false)) return;
    const a = this.ua;
    if (a.cls === CLS_ZERO) this.resultOf(a);
    else if (a.cls === CLS_INF) { if (a.sign) this.resultDouble(-1); else this.resultOf(a); }
    else if (this.denormalStops(a, null)) { this.commitFlags(); return; }
    else {
      this.sf.flags |= FE_PE;
      if (a.exp < -60) {
        // 2^x - 1 = x * ln 2 to 64 bits
        unpackExt(0x3ffe, 0xb17217f7 | 0, 0xd1cf79ac | 0, this.uc);
        this.sf.mul(a, this.uc, 64);
        this.takeResult();
      } else this.resultDouble(Math.expm1(toDouble(a, 0) * Math.LN2));
    }
    this.writeBack(true, 0, false);
  }

  /** FYL2X: ST(1) <- ST(1) * log2(ST(0)); FYL2XP1: ST(1) <- ST(1) * log2(ST(0) + 1); both pop */
  private fyl2x(plus1: boolean): void {
    if (!this.operands(true, true, true)) return;
    const x = this.ua, y = this.ub;
    if (this.denormalStops(x, y)) { this.commitFlags(); return; }
    this.writeBack(this.log2Times(x, y, plus1), 1, true);
  }

  /**
   * r* = y * log2(x) (or log2(x + 1)) for non-NaN operands, following the
   * special cases of SDM vol. 2A FYL2X/FYL2XP1; the logarithm is a double,
   * the product exact. Returns true when the result should be stored.
   */
  private log2Times(x: Unpacked, y: Unpacked, plus1: boolean): boolean {
    const sf = this.sf, l = this.ut;
    if (!plus1) {
      if (x.sign && x.cls !== CLS_ZERO) return this.invalid();
      if (x.cls === CLS_ZERO) {
        // log2(0) = -infinity, a divide-by-zero; 0 * -infinity is invalid
        if (y.cls === CLS_ZERO) return this.invalid();
        sf.flags |= FE_ZE;
        this.resultInf(y.sign ^ 1);
        return (this.cw & FE_ZE) !== 0;
      }
    } else if (x.cls === CLS_INF && x.sign) return this.invalid();
    if (x.cls === CLS_INF) {
      if (y.cls === CLS_ZERO) return this.invalid();
      this.resultInf(y.sign);
      return true;
    }
    if (x.cls === CLS_ZERO) copyUnpacked(l, x); // log2(1 + +-0) = +-0
    else {
      let v: number;
      if (plus1) {
        if (x.exp < -60) {
          // log2(1 + x) = x * log2(e) to 64 bits
          unpackExt(0x3fff, 0xb8aa3b29 | 0, 0x5c17f0bc | 0, this.uc);
          sf.mul(x, this.uc, 64);
          this.takeResult();
          v = 1; // any finite nonzero marker
        } else {
          v = Math.log1p(toDouble(x, 0)) / Math.LN2;
          if (!Number.isFinite(v)) return this.invalid(); // x <= -1: outside the domain
          this.resultDouble(v);
        }
      } else if (x.exp === 0 || x.exp === -1) {
        // x in [0.5, 2): log2(x) = log1p(x - 1) / ln 2, with x - 1 exact (no cancellation)
        unpackExt(0x3fff, 0x80000000 | 0, 0, this.uc);
        const saved = sf.flags;
        sf.add(x, this.uc, true, 64);
        sf.flags = saved;
        const d = sf.oCls === CLS_ZERO ? 0 : (sf.oSign ? -1 : 1) * ldexp((sf.oHi >>> 0) * TWO32 + (sf.oLo >>> 0), sf.oExp - 63);
        v = Math.log1p(d) / Math.LN2;
        this.resultDouble(v);
      } else {
        v = x.exp + Math.log2(((x.hi >>> 0) * TWO32 + (x.lo >>> 0)) / 2 ** 63);
        this.resultDouble(v);
      }
      if (v !== 0) sf.flags |= FE_PE;
      unpackExt(this.rSe, this.rHi, this.rLo, l);
    }
    if (y.cls === CLS_INF) {
      if (l.cls === CLS_ZERO) return this.invalid();
      this.resultInf(y.sign ^ l.sign);
      return true;
    }
    sf.mul(y, l, 64);
    this.takeResult();
    return true;
  }
}

// =====================================================================
// Helpers
// =====================================================================

const DV = new DataView(new ArrayBuffer(8));

/** x * 2^e for any integer e, rounding once at the end like a double multiply would */
function ldexp(x: number, e: number): number {
  while (e > 1000) { x *= 2 ** 1000; e -= 1000; }
  while (e < -1000) { x *= 2 ** -1000; e += 1000; if (x === 0) return x; }
  return x * 2 ** e;
}

/** a finite or infinite unpacked value as a double, scaled by 2^scale (zero stays zero) */
function toDouble(u: Unpacked, scale: number): number {
  const s = u.sign ? -1 : 1;
  if (u.cls === CLS_ZERO) return s * 0;
  if (u.cls === CLS_INF) return s * Infinity;
  return s * ldexp((u.hi >>> 0) * TWO32 + (u.lo >>> 0), u.exp - 63 + scale);
}

/** splits a finite value exactly into a double (its top 53 bits) and a double remainder */
function splitDouble(u: Unpacked): [number, number] {
  const s = u.sign ? -1 : 1;
  const top = (u.hi >>> 0) * TWO32 + ((u.lo & ~0x7ff) >>> 0);
  return [s * ldexp(top, u.exp - 63), s * ldexp(u.lo & 0x7ff, u.exp - 63)];
}

/** the D8..DF encodings a P6 defines (others, and FISTTP, are #UD) */
function validX87(op: number, modrm: number): boolean {
  const reg = (modrm >>> 3) & 7, rm = modrm & 7;
  if (modrm < 0xc0) {
    switch (op) {
      case 1: return reg !== 1;
      case 3: return reg !== 1 && reg !== 4 && reg !== 6;
      case 5: return reg !== 1 && reg !== 5;
      case 7: return reg !== 1;
      default: return true;
    }
  }
  switch (op) {
    case 1:
      if (reg === 2) return rm === 0; // FNOP only
      if (reg === 4) return rm === 0 || rm === 1 || rm === 4 || rm === 5;
      if (reg === 5) return rm !== 7;
      return true;
    case 2: return reg < 4 || modrm === 0xe9;
    case 3: return reg < 4 || (reg === 4 && rm <= 4) || reg === 5 || reg === 6;
    case 5: return reg < 6;
    case 6: return reg !== 3 || rm === 1;
    case 7: return reg < 4 || modrm === 0xe0 || reg === 5 || reg === 6;
    default: return true;
  }
}

/** FNSTENV, FNSTCW, FNSAVE, FNSTSW m16/AX, FNCLEX, FNINIT (and the 8087/287 no-ops FENI, FDISI, FSETPM) */
function nonWaiting(op: number, modrm: number): boolean {
  const reg = (modrm >>> 3) & 7;
  if (modrm < 0xc0) return (op === 1 && reg >= 6) || (op === 5 && reg >= 6);
  return (op === 3 && modrm >= 0xe0 && modrm <= 0xe4) || (op === 7 && modrm === 0xe0);
}

/** control instructions do not update FIP/FCS/FOP/FDP/FDS (SDM vol. 1, 8.1.8) */
function isControl(op: number, modrm: number): boolean {
  const reg = (modrm >>> 3) & 7;
  if (modrm < 0xc0) return (op === 1 && reg >= 4) || (op === 5 && (reg === 4 || reg >= 6));
  return (op === 3 && modrm >= 0xe0 && modrm <= 0xe4) || (op === 7 && modrm === 0xe0);
}

/** the 0F xx opcodes that are MMX on a P6 without SSE, with the ModR/M forms they allow */
function validMmx(op2: number, modrm: number): boolean {
  if (op2 === 0x77) return true;
  if (op2 >= 0x71 && op2 <= 0x73) {
    const reg = (modrm >>> 3) & 7;
    if (modrm < 0xc0) return false;
    return op2 === 0x73 ? reg === 2 || reg === 6 : reg === 2 || reg === 4 || reg === 6;
  }
  if ((op2 >= 0x60 && op2 <= 0x6b) || op2 === 0x6e || op2 === 0x6f || (op2 >= 0x74 && op2 <= 0x76) || op2 === 0x7e || op2 === 0x7f) return true;
  switch (op2) {
    case 0xd1: case 0xd2: case 0xd3: case 0xd5: case 0xd8: case 0xd9: case 0xdb: case 0xdc: case 0xdd: case 0xdf:
    case 0xe1: case 0xe2: case 0xe5: case 0xe8: case 0xe9: case 0xeb: case 0xec: case 0xed: case 0xef:
    case 0xf1: case 0xf2: case 0xf3: case 0xf5: case 0xf8: case 0xf9: case 0xfa: case 0xfc: case 0xfd: case 0xfe:
      return true;
    default:
      return false;
  }
}
