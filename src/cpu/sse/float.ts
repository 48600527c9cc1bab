/**
 * SSE/SSE2 floating-point lane operations on raw bits, with MXCSR: the
 * arithmetic, square root, MIN/MAX, CMPccPS/PD/SS/SD, (U)COMISS/SD and the
 * conversions between binary32, binary64 and int32. Not decoded by the CPU
 * yet (and CPUID does not advertise SSE); this is the part a decoder will
 * call, checked against results recorded on a real SSE unit
 * (test/cpu/sse-ref/gen.c).
 *
 * Registers are four int32 dwords, little-endian lanes (an Int32Array of
 * 4): a binary32 lane is one dword, a binary64 lane the pair (lo, hi) at
 * dwords 2k and 2k+1. No BigInt, and no host double touches a significand
 * that it could round: the exact work is the x87 code's softfloat
 * (src/cpu/fpu/softfloat.ts).
 *
 * Exactness. An operation is carried out once to 64 significand bits
 * rounded toward zero, and when that dropped anything the lowest of the 64
 * bits is set ("round to odd"). 64 >= p + 2 for p = 24 and 53, so rounding
 * that value to p bits (or fewer, for a denormal) gives the same bits,
 * inexactness and tininess as rounding the exact result. The 64-bit step
 * has the double-extended exponent range, which holds every binary64
 * product and quotient exactly.
 *
 * Exceptions (SDM vol. 1, 11.5; 4.9): IE, DE and ZE are pre-computation
 * exceptions, OE, UE and PE post-computation ones. Every lane is evaluated
 * first. If any lane raised an unmasked pre-computation exception the
 * instruction faults with the pre-computation flags of all lanes and
 * nothing else (SDM vol. 1, 11.5.1). Otherwise the flags of all lanes are
 * set, and any unmasked one among them faults. A fault (#XM, or #UD when
 * CR4.OSXMMEXCPT is clear: the caller's decision) leaves the destination
 * unchanged; the flags are still set in MXCSR. Underflow is detected after
 * rounding (tininess with unbounded exponent); masked, it is flagged only
 * when the result is also inexact; unmasked, whenever the result is tiny
 * (SDM vol. 1, 4.9.1.5). An unmasked overflow or underflow reports PE as
 * well when the result would have been inexact.
 */
import {
  CLS_FINITE, CLS_INF, CLS_QNAN, CLS_SNAN, CLS_ZERO, DBL_EMAX, DBL_EMIN, FE_DE, FE_IE, FE_OE, FE_PE, FE_UE, FE_ZE,
  RC_CHOP, RC_DOWN, SGL_EMAX, SGL_EMIN, SoftFloat, Unpacked, compareOrdered, unpackInt32, unpackInt64, unpackM32, unpackM64,
} from '../fpu/softfloat.js';

// ---- MXCSR (SDM vol. 1, 10.2.3, figure 10-3) ----
export const MX_IE = 0x0001;
export const MX_DE = 0x0002;
export const MX_ZE = 0x0004;
export const MX_OE = 0x0008;
export const MX_UE = 0x0010;
export const MX_PE = 0x0020;
/** denormals are zeros: denormal sources read as zero of the same sign, no DE (10.2.3.4) */
export const MX_DAZ = 0x0040;
/** exception masks IM..PM are bits 7..12, in the order of the flags */
export const MX_MASK_SHIFT = 7;
/** rounding control, bits 14:13 (00 nearest, 01 down, 10 up, 11 toward zero) */
export const MX_RC_SHIFT = 13;
/** flush to zero: a tiny result with UE masked becomes zero, UE and PE set (10.2.3.3) */
export const MX_FTZ = 0x8000;
/** power-up and reset value: all exceptions masked, round to nearest */
export const MXCSR_DEFAULT = 0x1f80;

// ---- operations ----
export const OP_ADD = 0;
export const OP_SUB = 1;
export const OP_MUL = 2;
export const OP_DIV = 3;
export const OP_MIN = 4;
export const OP_MAX = 5;
export const OP_SQRT = 6;

/** operand formats: scalar/packed single, scalar/packed double */
export const FMT_SS = 0;
export const FMT_PS = 1;
export const FMT_SD = 2;
export const FMT_PD = 3;

// ---- register-to-register conversions (cvt) ----
export const CVT_SS2SD = 0;
export const CVT_SD2SS = 1;
export const CVT_PS2PD = 2;
export const CVT_PD2PS = 3;
export const CVT_DQ2PS = 4;
export const CVT_PS2DQ = 5;
export const CVT_TPS2DQ = 6;
export const CVT_DQ2PD = 7;
export const CVT_PD2DQ = 8;
export const CVT_TPD2DQ = 9;

/** EFLAGS bits written by (U)COMISS/SD */
export const EFL_CF = 0x01;
export const EFL_PF = 0x04;
export const EFL_ZF = 0x40;

/** the QNaN floating-point indefinite (SDM vol. 1, 4.8.3.7) and the integer indefinite (4.8.3.7) */
export const SGL_INDEFINITE = 0xffc00000 | 0;
export const DBL_INDEFINITE_HI = 0xfff80000 | 0;
export const INT_INDEFINITE = 0x80000000 | 0;

/** lane outcome: a rounded value in the softfloat's o* fields, a ready bit pattern, or nothing (unmasked post-computation exception) */
const R_NUM = 0;
const R_BITS = 1;
const R_NONE = 2;

export class SseFloat {
  /** MXCSR flag bits (0..5) the last instruction sets, fault or not */
  flags = 0;
  /** the last instruction took an unmasked exception: nothing was written */
  fault = false;
  /** (U)COMISS/SD: ZF, PF and CF as EFLAGS bits (OF, SF and AF are cleared) */
  eflags = 0;
  /** CVT(T)SS2SI/CVT(T)SD2SI: the integer result (with REX.W, its low half; intHi the high one) */
  int = 0;
  intHi = 0;

  private masks = 0x3f;
  private rc = 0;
  private daz = false;
  private ftz = false;
  private pre = 0;
  private post = 0;
  /** a lane's result when it is a bit pattern (R_BITS): single in bLo, double in bHi:bLo */
  private bLo = 0;
  private bHi = 0;

  private readonly sf = new SoftFloat();
  private readonly ua = new Unpacked();
  private readonly ub = new Unpacked();
  private readonly ut = new Unpacked();
  private readonly out = new Int32Array(4);

  private begin(mxcsr: number): void {
    this.masks = (mxcsr >>> MX_MASK_SHIFT) & 0x3f;
    this.rc = (mxcsr >>> MX_RC_SHIFT) & 3;
    this.daz = (mxcsr & MX_DAZ) !== 0;
    this.ftz = (mxcsr & MX_FTZ) !== 0;
    this.pre = 0;
    this.post = 0;
    this.eflags = 0;
  }

  /** Decides the fault after all lanes ran (SDM vol. 1, 11.5.1); true when the result may be written. */
  private end(): boolean {
    const unmasked = ~this.masks & 0x3f;
    if (this.pre & unmasked) {
      this.flags = this.pre;
      this.fault = true;
      return false;
    }
    this.flags = this.pre | this.post;
    this.fault = (this.flags & unmasked) !== 0;
    return !this.fault;
  }

  // ===== operands =====

  private load32(bits: number, u: Unpacked): void {
    unpackM32(bits, u);
    if (u.den && this.daz) { u.cls = CLS_ZERO; u.den = false; }
  }

  private load64(lo: number, hi: number, u: Unpacked): void {
    unpackM64(hi, lo, u);
    if (u.den && this.daz) { u.cls = CLS_ZERO; u.den = false; }
  }

  // ===== the arithmetic core, shared by both formats =====

  /**
   * Rounds the finite value `u` to `prec` bits and the exponent range
   * emin..emax with MXCSR's rounding, FTZ and masks; the result lands in
   * the softfloat's o* fields. Returns R_NONE for an unmasked overflow or
   * underflow.
   */
  private round(u: Unpacked, prec: number, emin: number, emax: number): number {
    const sf = this.sf;
    sf.rc = this.rc;
    sf.flags = 0;
    // overflow and underflow "unmasked" so that the softfloat reports tininess even for an exact result
    sf.masks = 0x3f & ~(FE_OE | FE_UE);
    sf.roundUnpacked(u, prec, emin, emax, true);
    const f = sf.flags;
    if ((f & (FE_OE | FE_UE)) === 0) {
      this.post |= f;
      return R_NUM;
    }
    const e = f & FE_OE ? FE_OE : FE_UE;
    if ((this.masks & e) === 0) {
      this.post |= f; // the exception and PE when inexact
      return R_NONE;
    }
    if (e === FE_UE && this.ftz) {
      this.post |= FE_UE | FE_PE;
      sf.oCls = CLS_ZERO;
      sf.oSign = u.sign;
      sf.oDen = false;
      return R_NUM;
    }
    sf.flags = 0;
    sf.masks = 0x3f;
    sf.roundUnpacked(u, prec, emin, emax, true);
    this.post |= sf.flags;
    return R_NUM;
  }

  /**
   * One lane of ADD/SUB/MUL/DIV/SQRT on unpacked operands a, b (b unused
   * for SQRT). NaNs and invalid operations come back as R_BITS with
   * bLo/bHi set by `nan` (the caller's format).
   */
  private arithCore(op: number, a: Unpacked, b: Unpacked, dbl: boolean): number {
    const sf = this.sf;
    const unary = op === OP_SQRT;
    const aNan = a.cls === CLS_QNAN || a.cls === CLS_SNAN;
    const bNan = !unary && (b.cls === CLS_QNAN || b.cls === CLS_SNAN);
    if (aNan || bNan) {
      // the first source's NaN wins, quieted; an SNaN anywhere is invalid (SDM vol. 1, 4.8.3.5, table 4-7)
      if (a.cls === CLS_SNAN || (!unary && b.cls === CLS_SNAN)) this.pre |= FE_IE;
      this.quietNaN(aNan ? a : b, dbl);
      return R_BITS;
    }
    const bSign = op === OP_SUB ? b.sign ^ 1 : b.sign;
    const aInf = a.cls === CLS_INF, bInf = !unary && b.cls === CLS_INF;
    const aZero = a.cls === CLS_ZERO, bZero = !unary && b.cls === CLS_ZERO;
    // invalid operations (SDM vol. 1, 4.9.1.2)
    let invalid = false;
    switch (op) {
      case OP_ADD: case OP_SUB: invalid = aInf && bInf && a.sign !== bSign; break;
      case OP_MUL: invalid = (aInf && bZero) || (aZero && bInf); break;
      case OP_DIV: invalid = (aInf && bInf) || (aZero && bZero); break;
      default: invalid = a.sign !== 0 && !aZero; break;
    }
    if (invalid) {
      this.pre |= FE_IE;
      this.indefinite(dbl);
      return R_BITS;
    }
    // division by zero takes precedence over a denormal dividend (recorded: no DE with ZE)
    if (op === OP_DIV && bZero && !aInf) {
      this.pre |= FE_ZE;
      this.infinity(a.sign ^ b.sign, dbl);
      return R_BITS;
    }
    if (a.den || (!unary && b.den)) this.pre |= FE_DE;
    // infinite operands give exact infinite or zero results
    const sign = op === OP_MUL || op === OP_DIV ? a.sign ^ b.sign : 0;
    switch (op) {
      case OP_ADD: case OP_SUB:
        if (aInf) { this.infinity(a.sign, dbl); return R_BITS; }
        if (bInf) { this.infinity(bSign, dbl); return R_BITS; }
        break;
      case OP_MUL:
        if (aInf || bInf) { this.infinity(sign, dbl); return R_BITS; }
        break;
      case OP_DIV:
        if (aInf) { this.infinity(sign, dbl); return R_BITS; }
        if (bInf) { this.zero(sign, dbl); return R_BITS; }
        break;
      default:
        if (aInf) { this.infinity(0, dbl); return R_BITS; }
    }
    // finite operands: 64 bits toward zero, then round to odd
    sf.rc = RC_CHOP;
    sf.masks = 0x3f;
    sf.flags = 0;
    switch (op) {
      case OP_ADD: sf.add(a, b, false, 64); break;
      case OP_SUB: sf.add(a, b, true, 64); break;
      case OP_MUL: sf.mul(a, b, 64); break;
      case OP_DIV: sf.div(a, b, 64); break;
      default: sf.sqrt(a, 64);
    }
    if (sf.oCls === CLS_ZERO) {
      let s = sf.oSign;
      if (op === OP_ADD || op === OP_SUB) {
        // x + (-x) and (+0) + (-0) are +0, -0 when rounding down (IEEE 754 6.3)
        s = aZero && bZero && a.sign === bSign ? a.sign : this.rc === RC_DOWN ? 1 : 0;
      }
      this.zero(s, dbl);
      return R_BITS;
    }
    const u = this.ut;
    u.cls = CLS_FINITE;
    u.sign = sf.oSign;
    u.exp = sf.oExp;
    u.hi = sf.oHi;
    u.lo = (sf.oLo | (sf.flags & FE_PE ? 1 : 0)) >>> 0;
    u.den = false;
    return dbl ? this.round(u, 53, DBL_EMIN, DBL_EMAX) : this.round(u, 24, SGL_EMIN, SGL_EMAX);
  }

  /** bLo/bHi = the NaN `u` quieted, in the lane's format (its payload kept) */
  private quietNaN(u: Unpacked, dbl: boolean): void {
    if (dbl) {
      this.bHi = (u.sign << 31) | 0x7ff80000 | ((u.hi >>> 11) & 0x7ffff);
      this.bLo = ((u.hi << 21) | (u.lo >>> 11)) | 0;
    } else {
      this.bLo = (u.sign << 31) | 0x7fc00000 | ((u.hi >>> 8) & 0x3fffff);
    }
  }

  private indefinite(dbl: boolean): void {
    if (dbl) { this.bHi = DBL_INDEFINITE_HI; this.bLo = 0; } else this.bLo = SGL_INDEFINITE;
  }

  private infinity(sign: number, dbl: boolean): void {
    if (dbl) { this.bHi = (sign << 31) | 0x7ff00000; this.bLo = 0; } else this.bLo = (sign << 31) | 0x7f800000;
  }

  private zero(sign: number, dbl: boolean): void {
    this.bLo = dbl ? 0 : sign << 31;
    this.bHi = sign << 31;
  }

  // ===== lanes =====

  /** one binary32 lane of an arithmetic operation; the result bits, or 0 after an unmasked post-computation exception */
  private lane32(op: number, a: number, b: number): number {
    if (op === OP_MIN || op === OP_MAX) return this.minMax32(op, a, b);
    const ua = this.ua, ub = this.ub;
    if (op === OP_SQRT) this.load32(b, ua); else { this.load32(a, ua); this.load32(b, ub); }
    const r = this.arithCore(op, ua, ub, false);
    return r === R_NUM ? this.sf.packM32() : r === R_BITS ? this.bLo : 0;
  }

  /** one binary64 lane; the result in bLo/bHi */
  private lane64(op: number, aLo: number, aHi: number, bLo: number, bHi: number): void {
    if (op === OP_MIN || op === OP_MAX) { this.minMax64(op, aLo, aHi, bLo, bHi); return; }
    const ua = this.ua, ub = this.ub;
    if (op === OP_SQRT) this.load64(bLo, bHi, ua); else { this.load64(aLo, aHi, ua); this.load64(bLo, bHi, ub); }
    const r = this.arithCore(op, ua, ub, true);
    if (r === R_NUM) { this.bHi = this.sf.packM64Hi(); this.bLo = this.sf.packM64Lo(); }
  }

  /**
   * MIN/MAX: the first source when it is the smaller (larger), else the
   * second, so a NaN in either or two zeros give the second source as it
   * is, SNaN unquieted; any NaN is invalid (SDM vol. 2, MINSS/MAXSS). With
   * DAZ a denormal source is returned as the zero it reads as, NaN beside
   * it or not (recorded).
   */
  private minMax32(op: number, a: number, b: number): number {
    const ua = this.ua, ub = this.ub;
    this.load32(a, ua);
    this.load32(b, ub);
    const c = this.order(ua, ub);
    const pickA = c !== 2 && (op === OP_MIN ? c < 0 : c > 0);
    const u = pickA ? ua : ub;
    return u.cls === CLS_ZERO ? u.sign << 31 : pickA ? a : b;
  }

  private minMax64(op: number, aLo: number, aHi: number, bLo: number, bHi: number): void {
    const ua = this.ua, ub = this.ub;
    this.load64(aLo, aHi, ua);
    this.load64(bLo, bHi, ub);
    const c = this.order(ua, ub);
    const pickA = c !== 2 && (op === OP_MIN ? c < 0 : c > 0);
    const u = pickA ? ua : ub;
    if (u.cls === CLS_ZERO) { this.bHi = u.sign << 31; this.bLo = 0; return; }
    this.bLo = pickA ? aLo : bLo;
    this.bHi = pickA ? aHi : bHi;
  }

  /**
   * Compares two unpacked sources for MIN/MAX and CMP with signalling
   * semantics: -1, 0, 1, or 2 for unordered (IE raised for any NaN, DE for
   * a denormal among ordered operands).
   */
  private order(a: Unpacked, b: Unpacked): number {
    if (a.cls >= CLS_QNAN || b.cls >= CLS_QNAN) {
      this.pre |= FE_IE;
      return 2;
    }
    if (a.den || b.den) this.pre |= FE_DE;
    return compareOrdered(a, b);
  }

  /** compare with quiet or signalling NaN rules: -1, 0, 1, 2 (unordered) */
  private compare(a: Unpacked, b: Unpacked, signalling: boolean): number {
    const aNan = a.cls === CLS_QNAN || a.cls === CLS_SNAN, bNan = b.cls === CLS_QNAN || b.cls === CLS_SNAN;
    if (aNan || bNan) {
      if (signalling || a.cls === CLS_SNAN || b.cls === CLS_SNAN) this.pre |= FE_IE;
      return 2;
    }
    if (a.den || b.den) this.pre |= FE_DE;
    return compareOrdered(a, b);
  }

  // ===== instructions =====

  /**
   * ADD/SUB/MUL/DIV/MIN/MAX/SQRT in format `fmt`: dst = dst op src (SQRT:
   * dst = sqrt(src)). Scalar forms keep the rest of dst. Nothing is
   * written on a fault; see `flags` and `fault`.
   */
  arith(op: number, fmt: number, mxcsr: number, dst: Int32Array, src: Int32Array): void {
    this.begin(mxcsr);
    const out = this.out;
    out.set(dst);
    if (fmt === FMT_SS || fmt === FMT_PS) {
      const n = fmt === FMT_SS ? 1 : 4;
      for (let i = 0; i < n; i++) out[i] = this.lane32(op, dst[i]!, src[i]!);
    } else {
      const n = fmt === FMT_SD ? 1 : 2;
      for (let i = 0; i < n; i++) {
        this.lane64(op, dst[2 * i]!, dst[2 * i + 1]!, src[2 * i]!, src[2 * i + 1]!);
        out[2 * i] = this.bLo;
        out[2 * i + 1] = this.bHi;
      }
    }
    if (this.end()) dst.set(out);
  }

  /**
   * CMPccSS/PS/SD/PD with predicate 0..7 (EQ LT LE UNORD NEQ NLT NLE ORD):
   * each lane all ones when true, else zero. LT, LE, NLT and NLE signal
   * invalid on a QNaN too, the others only on an SNaN (SDM vol. 2, CMPPS,
   * table 3-7).
   */
  cmp(pred: number, fmt: number, mxcsr: number, dst: Int32Array, src: Int32Array): void {
    this.begin(mxcsr);
    const out = this.out;
    out.set(dst);
    const p = pred & 7;
    const signalling = p === 1 || p === 2 || p === 5 || p === 6;
    const dbl = fmt === FMT_SD || fmt === FMT_PD;
    const n = fmt === FMT_SS || fmt === FMT_SD ? 1 : dbl ? 2 : 4;
    for (let i = 0; i < n; i++) {
      if (dbl) {
        this.load64(dst[2 * i]!, dst[2 * i + 1]!, this.ua);
        this.load64(src[2 * i]!, src[2 * i + 1]!, this.ub);
      } else {
        this.load32(dst[i]!, this.ua);
        this.load32(src[i]!, this.ub);
      }
      const c = this.compare(this.ua, this.ub, signalling);
      let t: boolean;
      switch (p) {
        case 0: t = c === 0; break;
        case 1: t = c === -1; break;
        case 2: t = c === -1 || c === 0; break;
        case 3: t = c === 2; break;
        case 4: t = c !== 0; break;
        case 5: t = c !== -1; break;
        case 6: t = c === 1 || c === 2; break;
        default: t = c !== 2;
      }
      const m = t ? -1 : 0;
      if (dbl) { out[2 * i] = m; out[2 * i + 1] = m; } else out[i] = m;
    }
    if (this.end()) dst.set(out);
  }

  /**
   * COMISS/COMISD (signalling: IE on any NaN) and UCOMISS/UCOMISD (IE on
   * an SNaN only) of a's low lane with b's: `eflags` gets ZF PF CF =
   * 111 unordered, 000 greater, 001 less, 100 equal (SDM vol. 2, COMISS).
   * On a fault EFLAGS stay as they were (eflags is not meaningful).
   */
  comi(dbl: boolean, signalling: boolean, mxcsr: number, a: Int32Array, b: Int32Array): void {
    this.begin(mxcsr);
    if (dbl) { this.load64(a[0]!, a[1]!, this.ua); this.load64(b[0]!, b[1]!, this.ub); } else { this.load32(a[0]!, this.ua); this.load32(b[0]!, this.ub); }
    const c = this.compare(this.ua, this.ub, signalling);
    this.end();
    this.eflags = c === 2 ? EFL_ZF | EFL_PF | EFL_CF : c === 0 ? EFL_ZF : c < 0 ? EFL_CF : 0;
  }

  // ---- conversions ----

  /** a binary32 lane to binary64 (exact; an SNaN is quieted with IE) into bLo/bHi */
  private s2d(bits: number): void {
    const u = this.ua;
    this.load32(bits, u);
    switch (u.cls) {
      case CLS_SNAN: this.pre |= FE_IE; this.quietNaN(u, true); return;
      case CLS_QNAN: this.quietNaN(u, true); return;
      case CLS_INF: this.infinity(u.sign, true); return;
      case CLS_ZERO: this.zero(u.sign, true); return;
    }
    if (u.den) this.pre |= FE_DE;
    this.sf.rc = this.rc;
    this.sf.roundUnpacked(u, 53, DBL_EMIN, DBL_EMAX, true);
    this.bHi = this.sf.packM64Hi();
    this.bLo = this.sf.packM64Lo();
  }

  /** a binary64 lane to binary32, rounded; bLo gets the bits (undefined after an unmasked post-computation exception) */
  private d2s(lo: number, hi: number): void {
    const u = this.ua;
    this.load64(lo, hi, u);
    switch (u.cls) {
      case CLS_SNAN: this.pre |= FE_IE; this.quietNaN(u, false); return;
      case CLS_QNAN: this.quietNaN(u, false); return;
      case CLS_INF: this.infinity(u.sign, false); return;
      case CLS_ZERO: this.zero(u.sign, false); return;
    }
    if (u.den) this.pre |= FE_DE;
    if (this.round(u, 24, SGL_EMIN, SGL_EMAX) === R_NUM) this.bLo = this.sf.packM32();
  }

  /**
   * A floating-point value to int32 with MXCSR rounding or truncation: NaN,
   * infinity and out-of-range values give the integer indefinite with IE
   * and no PE (SDM vol. 2, CVTSS2SI). No DE: a denormal rounds like any
   * small value (zero with DAZ, then exact).
   */
  private toInt(u: Unpacked, truncate: boolean): number {
    if (u.cls !== CLS_FINITE && u.cls !== CLS_ZERO) {
      this.pre |= FE_IE;
      return INT_INDEFINITE;
    }
    const sf = this.sf;
    sf.rc = truncate ? RC_CHOP : this.rc;
    sf.flags = 0;
    sf.roundToInt(u);
    const limit = u.sign ? 0x80000000 : 0x7fffffff;
    if (sf.iOver || sf.iHi !== 0 || sf.iLo > limit) {
      this.pre |= FE_IE;
      return INT_INDEFINITE;
    }
    this.post |= sf.flags & FE_PE;
    return u.sign ? -sf.iLo | 0 : sf.iLo | 0;
  }

  /** an int32 to binary32 with MXCSR rounding (PE when inexact) */
  private i2s(v: number): number {
    const u = this.ua;
    unpackInt32(v, u);
    this.sf.rc = this.rc;
    this.sf.flags = 0;
    this.sf.masks = 0x3f;
    this.sf.roundUnpacked(u, 24, SGL_EMIN, SGL_EMAX, true);
    this.post |= this.sf.flags & FE_PE;
    return this.sf.packM32();
  }

  /** an int32 to binary64, exact: bLo/bHi */
  private i2d(v: number): void {
    const u = this.ua;
    unpackInt32(v, u);
    this.sf.roundUnpacked(u, 53, DBL_EMIN, DBL_EMAX, true);
    this.bHi = this.sf.packM64Hi();
    this.bLo = this.sf.packM64Lo();
  }

  /**
   * The register-to-register conversions (CVT_*): CVTSS2SD and CVTSD2SS
   * keep the rest of dst; CVTPD2PS, CVTPD2DQ and CVTTPD2DQ zero the upper
   * half; CVTPS2PD and CVTDQ2PD read the low two lanes of src.
   */
  cvt(kind: number, mxcsr: number, dst: Int32Array, src: Int32Array): void {
    this.begin(mxcsr);
    const out = this.out;
    out.set(dst);
    switch (kind) {
      case CVT_SS2SD:
        this.s2d(src[0]!);
        out[0] = this.bLo; out[1] = this.bHi;
        break;
      case CVT_PS2PD: {
        const s0 = src[0]!, s1 = src[1]!;
        for (let i = 0; i < 2; i++) { this.s2d(i ? s1 : s0); out[2 * i] = this.bLo; out[2 * i + 1] = this.bHi; }
        break;
      }
      case CVT_SD2SS:
        this.d2s(src[0]!, src[1]!);
        out[0] = this.bLo;
        break;
      case CVT_PD2PS:
        for (let i = 0; i < 2; i++) { this.d2s(src[2 * i]!, src[2 * i + 1]!); out[i] = this.bLo; }
        out[2] = 0; out[3] = 0;
        break;
      case CVT_DQ2PS:
        for (let i = 0; i < 4; i++) out[i] = this.i2s(src[i]!);
        break;
      case CVT_PS2DQ: case CVT_TPS2DQ:
        for (let i = 0; i < 4; i++) { this.load32(src[i]!, this.ua); out[i] = this.toInt(this.ua, kind === CVT_TPS2DQ); }
        break;
      case CVT_DQ2PD: {
        const s0 = src[0]!, s1 = src[1]!;
        for (let i = 0; i < 2; i++) { this.i2d(i ? s1 : s0); out[2 * i] = this.bLo; out[2 * i + 1] = this.bHi; }
        break;
      }
      default: // CVT_PD2DQ, CVT_TPD2DQ
        for (let i = 0; i < 2; i++) { this.load64(src[2 * i]!, src[2 * i + 1]!, this.ua); out[i] = this.toInt(this.ua, kind === CVT_TPD2DQ); }
        out[2] = 0; out[3] = 0;
    }
    if (this.end()) dst.set(out);
  }

  /** CVT(T)SS2SI / CVT(T)SD2SI of src's low lane: `int` gets the result unless `fault` */
  cvtToInt(dbl: boolean, truncate: boolean, mxcsr: number, src: Int32Array): void {
    this.begin(mxcsr);
    if (dbl) this.load64(src[0]!, src[1]!, this.ua); else this.load32(src[0]!, this.ua);
    const v = this.toInt(this.ua, truncate);
    if (this.end()) this.int = v;
  }

  /** CVTSI2SS / CVTSI2SD: dst's low lane = the int32 `v` converted; the rest of dst kept */
  cvtFromInt(dbl: boolean, mxcsr: number, dst: Int32Array, v: number): void {
    this.begin(mxcsr);
    if (dbl) {
      this.i2d(v);
      this.end();
      dst[0] = this.bLo;
      dst[1] = this.bHi;
      return;
    }
    const r = this.i2s(v);
    if (this.end()) dst[0] = r;
  }

  /**
   * CVT(T)SS2SI / CVT(T)SD2SI r64 (REX.W, 64-bit mode): src's low lane to
   * an int64 in intHi:int unless `fault`. NaN, infinity and values out of
   * range give the 64-bit integer indefinite 8000000000000000H with IE
   * (SDM vol. 2, CVTSD2SI, "Operation"; vol. 1, 4.8.3.7), an inexact
   * result PE.
   */
  cvtToInt64(dbl: boolean, truncate: boolean, mxcsr: number, src: Int32Array): void {
    this.begin(mxcsr);
    const u = this.ua;
    if (dbl) this.load64(src[0]!, src[1]!, u); else this.load32(src[0]!, u);
    let lo = 0, hi = INT_INDEFINITE;
    if (u.cls !== CLS_FINITE && u.cls !== CLS_ZERO) {
      this.pre |= FE_IE;
    } else {
      const sf = this.sf;
      sf.rc = truncate ? RC_CHOP : this.rc;
      sf.flags = 0;
      sf.roundToInt(u);
      const mHi = sf.iHi >>> 0, mLo = sf.iLo >>> 0;
      // the magnitude fits when below 2^63, or equal to it for a negative value
      const fits = !sf.iOver && (mHi < 0x80000000 || (u.sign && mHi === 0x80000000 && mLo === 0));
      if (!fits) {
        this.pre |= FE_IE;
      } else {
        this.post |= sf.flags & FE_PE;
        if (u.sign) { // two's complement of the magnitude
          lo = -mLo | 0;
          hi = (~mHi + (mLo === 0 ? 1 : 0)) | 0;
        } else {
          lo = mLo | 0;
          hi = mHi | 0;
        }
      }
    }
    if (this.end()) { this.int = lo; this.intHi = hi; }
  }

  /**
   * CVTSI2SS / CVTSI2SD xmm, r/m64 (REX.W): dst's low lane = the int64
   * hi:lo rounded by MXCSR.RC (PE when inexact; an unmasked PE leaves dst
   * unchanged), the rest of dst kept.
   */
  cvtFromInt64(dbl: boolean, mxcsr: number, dst: Int32Array, lo: number, hi: number): void {
    this.begin(mxcsr);
    const u = this.ua;
    unpackInt64(hi, lo, u);
    const sf = this.sf;
    sf.rc = this.rc;
    sf.flags = 0;
    sf.masks = 0x3f;
    if (dbl) sf.roundUnpacked(u, 53, DBL_EMIN, DBL_EMAX, true);
    else sf.roundUnpacked(u, 24, SGL_EMIN, SGL_EMAX, true);
    this.post |= sf.flags & FE_PE;
    const r0 = dbl ? sf.packM64Lo() : sf.packM32();
    const r1 = dbl ? sf.packM64Hi() : 0;
    if (!this.end()) return;
    dst[0] = r0;
    if (dbl) dst[1] = r1;
  }
}
