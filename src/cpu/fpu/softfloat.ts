/**
 * Exact x87 double-extended arithmetic on 32-bit integer words: the four
 * basic operations, square root, partial remainder, rounding to integer and
 * the conversions to and from the memory formats. No BigInt and no doubles
 * touch a significand here, so every result is the one the hardware gives
 * for the same operands, control word and precision (Intel SDM vol. 1,
 * 4.8 and 8.1.5: one rounding to the precision-control width, tininess
 * detected after rounding with unbounded exponent, 4.9.1.5).
 *
 * Double-extended format (SDM vol. 1, 4.2.2, figure 4-3), a register as
 * `se` (sign and exponent) plus two 32-bit significand words:
 *
 *    79  78        64 63 62                        32 31                  0
 *   +---+------------+--+----------------------------+---------------------+
 *   | S | exponent   |J |  fraction 62:32  (hi)      | fraction 31:0 (lo)  |
 *   +---+------------+--+----------------------------+---------------------+
 *     exponent bias 16383; J is the explicit integer bit.
 *
 * Unpacked working form (`Unpacked`): cls, sign, exp (unbiased), and the
 * significand hi:lo with the units bit at hi bit 31, so a finite nonzero
 * value is (hi:lo / 2^63) * 2^exp. Denormal operands are normalised on
 * unpacking (exp below -16382) and remember that they were denormal (for
 * the #D flag). Intermediate results carry a third word below lo and a
 * sticky flag for the bits below that.
 *
 * Exception flags use the status-word bit positions (IE..PE); `flags`
 * accumulates them for the current instruction, `up` is the "rounded up"
 * indication the caller copies to C1 (SDM vol. 1, 8.1.3.1).
 */

// ---- status-word exception bits (SDM vol. 1, 8.1.3, figure 8-4) ----
export const FE_IE = 0x01;
export const FE_DE = 0x02;
export const FE_ZE = 0x04;
export const FE_OE = 0x08;
export const FE_UE = 0x10;
export const FE_PE = 0x20;

// ---- operand classes ----
export const CLS_ZERO = 0;
/** finite nonzero (normal, denormal or pseudo-denormal after normalisation) */
export const CLS_FINITE = 1;
export const CLS_INF = 2;
export const CLS_QNAN = 3;
export const CLS_SNAN = 4;
/** pseudo-NaN, pseudo-infinity, unnormal: invalid operands since the 387 (SDM vol. 1, 8.2.2) */
export const CLS_BAD = 5;

// ---- rounding control (control word bits 11:10) ----
export const RC_NEAREST = 0;
export const RC_DOWN = 1;
export const RC_UP = 2;
export const RC_CHOP = 3;

/** range of unbiased exponents for normal numbers, per destination format */
export const EXT_EMIN = -16382, EXT_EMAX = 16383;
export const DBL_EMIN = -1022, DBL_EMAX = 1023;
export const SGL_EMIN = -126, SGL_EMAX = 127;
/** the exponent adjustment for unmasked overflow/underflow with a register destination (SDM vol. 1, 8.5.4, 8.5.5) */
const BIAS_ADJUST = 24576;

const TWO32 = 4294967296;

export class Unpacked {
  cls = CLS_ZERO;
  sign = 0;
  exp = 0;
  hi = 0;
  lo = 0;
  /** the operand was a denormal or pseudo-denormal (raises #D when used arithmetically) */
  den = false;
}

/** count of leading zero bits of a 64-bit value hi:lo (64 when zero) */
function clz64(hi: number, lo: number): number {
  return hi !== 0 ? Math.clz32(hi) : 32 + Math.clz32(lo);
}

/**
 * Unpacks a register (se, hi, lo) into `u`: classifies it, normalises
 * denormals and pseudo-denormals (which both mean exponent -16382). Raises
 * nothing; the caller decides which classes are invalid for its operation.
 */
export function unpackExt(se: number, hi: number, lo: number, u: Unpacked): void {
  const e = se & 0x7fff;
  u.sign = (se >>> 15) & 1;
  u.den = false;
  hi >>>= 0;
  lo >>>= 0;
  if (e === 0x7fff) {
    u.exp = EXT_EMAX + 1;
    u.hi = hi;
    u.lo = lo;
    if ((hi & 0x80000000) === 0) u.cls = CLS_BAD;
    else if (hi === 0x80000000 && lo === 0) u.cls = CLS_INF;
    else u.cls = hi & 0x40000000 ? CLS_QNAN : CLS_SNAN;
    return;
  }
  if (e === 0) {
    if (hi === 0 && lo === 0) {
      u.cls = CLS_ZERO;
      u.exp = 0;
      u.hi = 0;
      u.lo = 0;
      return;
    }
    u.cls = CLS_FINITE;
    u.den = true;
    const n = clz64(hi, lo);
    setShl64(u, hi, lo, n);
    u.exp = EXT_EMIN - n;
    return;
  }
  if ((hi & 0x80000000) === 0) {
    u.cls = CLS_BAD; // unnormal
    u.exp = e - 16383;
    u.hi = hi;
    u.lo = lo;
    return;
  }
  u.cls = CLS_FINITE;
  u.exp = e - 16383;
  u.hi = hi;
  u.lo = lo;
}

/** u.hi:u.lo = (hi:lo << n) for 0 <= n < 64 */
function setShl64(u: Unpacked, hi: number, lo: number, n: number): void {
  if (n === 0) {
    u.hi = hi >>> 0;
    u.lo = lo >>> 0;
  } else if (n < 32) {
    u.hi = ((hi << n) | (lo >>> (32 - n))) >>> 0;
    u.lo = (lo << n) >>> 0;
  } else {
    u.hi = (lo << (n - 32)) >>> 0;
    u.lo = 0;
  }
}

/** Unpacks an IEEE single (as int32 bits) into `u`, exactly. */
export function unpackM32(bits: number, u: Unpacked): void {
  const e = (bits >>> 23) & 0xff;
  const f = bits & 0x7fffff;
  u.sign = bits >>> 31;
  u.den = false;
  if (e === 0xff) {
    u.exp = EXT_EMAX + 1;
    u.hi = (0x80000000 | (f << 8)) >>> 0;
    u.lo = 0;
    u.cls = f === 0 ? CLS_INF : f & 0x400000 ? CLS_QNAN : CLS_SNAN;
  } else if (e === 0) {
    if (f === 0) {
      u.cls = CLS_ZERO;
      u.exp = 0;
      u.hi = 0;
      u.lo = 0;
    } else {
      const n = Math.clz32(f);
      u.cls = CLS_FINITE;
      u.den = true;
      u.hi = (f << n) >>> 0;
      u.lo = 0;
      u.exp = -149 + 31 - n;
    }
  } else {
    u.cls = CLS_FINITE;
    u.exp = e - 127;
    u.hi = (0x80000000 | (f << 8)) >>> 0;
    u.lo = 0;
  }
}

/** Unpacks an IEEE double (high and low 32-bit halves) into `u`, exactly. */
export function unpackM64(hiBits: number, loBits: number, u: Unpacked): void {
  const e = (hiBits >>> 20) & 0x7ff;
  const fh = hiBits & 0xfffff;
  const fl = loBits >>> 0;
  u.sign = hiBits >>> 31;
  u.den = false;
  if (e === 0x7ff) {
    u.exp = EXT_EMAX + 1;
    u.hi = (0x80000000 | (fh << 11) | (fl >>> 21)) >>> 0;
    u.lo = (fl << 11) >>> 0;
    u.cls = fh === 0 && fl === 0 ? CLS_INF : fh & 0x80000 ? CLS_QNAN : CLS_SNAN;
  } else if (e === 0) {
    if (fh === 0 && fl === 0) {
      u.cls = CLS_ZERO;
      u.exp = 0;
      u.hi = 0;
      u.lo = 0;
    } else {
      const n = clz64(fh, fl);
      u.cls = CLS_FINITE;
      u.den = true;
      setShl64(u, fh, fl, n);
      // fraction f (52 bits) means f * 2^-1074; as hi:lo/2^63 with the leading bit at 63
      u.exp = -1074 + 63 - n;
    }
  } else {
    u.cls = CLS_FINITE;
    u.exp = e - 1023;
    u.hi = (0x80000000 | (fh << 11) | (fl >>> 21)) >>> 0;
    u.lo = (fl << 11) >>> 0;
  }
}

/**
 * Unpacks a signed 64-bit integer (two's complement halves) into `u`
 * exactly. `hiBits`/`loBits` may be int32 or uint32.
 */
export function unpackInt64(hiBits: number, loBits: number, u: Unpacked): void {
  let hi = hiBits >>> 0;
  let lo = loBits >>> 0;
  u.den = false;
  u.sign = hi >>> 31;
  if (u.sign) {
    // negate
    lo = (~lo + 1) >>> 0;
    hi = (~hi + (lo === 0 ? 1 : 0)) >>> 0;
  }
  if (hi === 0 && lo === 0) {
    u.cls = CLS_ZERO;
    u.exp = 0;
    u.hi = 0;
    u.lo = 0;
    return;
  }
  const n = clz64(hi, lo);
  u.cls = CLS_FINITE;
  setShl64(u, hi, lo, n);
  u.exp = 63 - n;
}

/** Unpacks a signed 32-bit integer into `u` exactly. */
export function unpackInt32(v: number, u: Unpacked): void {
  unpackInt64(v < 0 ? -1 : 0, v, u);
}

/** Copies an unpacked value. */
export function copyUnpacked(dst: Unpacked, src: Unpacked): void {
  dst.cls = src.cls;
  dst.sign = src.sign;
  dst.exp = src.exp;
  dst.hi = src.hi;
  dst.lo = src.lo;
  dst.den = src.den;
}

/**
 * The arithmetic unit. Results land in the `r*` fields (a packed register
 * value rSe/rHi/rLo after `pack...`, or the unpacked `o*` fields), flags in
 * `flags`, the round-up indication in `up`. Callers reset `flags` and `up`
 * per instruction.
 */
export class SoftFloat {
  /** exception flags raised (status-word bit positions) */
  flags = 0;
  /** 1 when the last rounding increased the magnitude (C1) */
  up = 0;
  /** rounding control and exception masks for the current instruction */
  rc = RC_NEAREST;
  masks = 0x3f;

  // ---- the last rounded result, unpacked: value = (oHi:oLo / 2^63) * 2^oExp ----
  oCls = CLS_ZERO;
  oSign = 0;
  oExp = 0;
  oHi = 0;
  oLo = 0;
  /** the result is tiny: stored with biased exponent 0 (oHi bit 31 clear) */
  oDen = false;

  // ---- 96-bit working significand + sticky ----
  private w0 = 0;
  private w1 = 0;
  private w2 = 0;
  private sticky = false;

  // ---- scratch results of integer rounding ----
  /** magnitude of the rounded integer (roundToInt) */
  iHi = 0;
  iLo = 0;
  /** the rounded integer does not fit in 64 bits */
  iOver = false;

  // ---- FPREM quotient bits and completion ----
  /** low three bits of the quotient */
  remQ = 0;
  /** the remainder is partial (C2=1) */
  remPartial = false;

  /** Resets the per-instruction state. */
  begin(cw: number): void {
    this.flags = 0;
    this.up = 0;
    this.rc = (cw >>> 10) & 3;
    this.masks = cw & 0x3f;
  }

  // ===== rounding =====

  /** shifts the 96-bit working significand right by n >= 0, ORing lost bits into sticky */
  private shr96(n: number): void {
    if (n <= 0) return;
    let { w0, w1, w2 } = this;
    if (n >= 96) {
      if (w0 | w1 | w2) this.sticky = true;
      this.w0 = this.w1 = this.w2 = 0;
      return;
    }
    while (n >= 32) {
      if (w2) this.sticky = true;
      w2 = w1;
      w1 = w0;
      w0 = 0;
      n -= 32;
    }
    if (n > 0) {
      if ((w2 << (32 - n)) !== 0) this.sticky = true;
      w2 = ((w2 >>> n) | (w1 << (32 - n))) >>> 0;
      w1 = ((w1 >>> n) | (w0 << (32 - n))) >>> 0;
      w0 = w0 >>> n;
    }
    this.w0 = w0;
    this.w1 = w1;
    this.w2 = w2;
  }

  /** shifts the working significand left until bit 95 is set; returns the shift (0 when zero) */
  private normalize96(): number {
    let n = 0;
    if (this.w0 === 0 && this.w1 === 0 && this.w2 === 0) return 0;
    while (this.w0 === 0) {
      this.w0 = this.w1;
      this.w1 = this.w2;
      this.w2 = 0;
      n += 32;
    }
    const s = Math.clz32(this.w0);
    if (s) {
      this.w0 = ((this.w0 << s) | (this.w1 >>> (32 - s))) >>> 0;
      this.w1 = ((this.w1 << s) | (this.w2 >>> (32 - s))) >>> 0;
      this.w2 = (this.w2 << s) >>> 0;
      n += s;
    }
    return n;
  }

  /**
   * Rounds the working significand to its top `k` bits (1 <= k <= 64) in
   * place with the current rounding mode and `sign`. Returns 1 when the
   * increment carried out of bit 95 (the caller renormalises), else 0.
   * Sets `inexact` and `up`.
   */
  private inexact = false;
  private roundWork(k: number, sign: number): number {
    let half: number, rest: boolean, lsb: number;
    const w0 = this.w0, w1 = this.w1, w2 = this.w2;
    if (k < 32) {
      const sh = 31 - k; // bit index in w0 of the round bit
      half = (w0 >>> sh) & 1;
      rest = (w0 & ((1 << sh) - 1)) !== 0 || w1 !== 0 || w2 !== 0 || this.sticky;
      lsb = (w0 >>> (sh + 1)) & 1;
    } else if (k === 32) {
      half = w1 >>> 31;
      rest = (w1 & 0x7fffffff) !== 0 || w2 !== 0 || this.sticky;
      lsb = w0 & 1;
    } else if (k < 64) {
      const sh = 63 - k;
      half = (w1 >>> sh) & 1;
      rest = (w1 & ((1 << sh) - 1)) !== 0 || w2 !== 0 || this.sticky;
      lsb = (w1 >>> (sh + 1)) & 1;
    } else {
      half = w2 >>> 31;
      rest = (w2 & 0x7fffffff) !== 0 || this.sticky;
      lsb = w1 & 1;
    }
    this.inexact = half !== 0 || rest;
    let inc = false;
    if (this.inexact) {
      switch (this.rc) {
        case RC_NEAREST: inc = half !== 0 && (rest || lsb !== 0); break;
        case RC_DOWN: inc = sign !== 0; break;
        case RC_UP: inc = sign === 0; break;
        default: inc = false;
      }
    }
    // truncate to k bits
    if (k < 32) {
      this.w0 = (w0 & ~(2 ** (32 - k) - 1)) >>> 0;
      this.w1 = 0;
    } else if (k === 32) {
      this.w1 = 0;
    } else if (k < 64) {
      this.w1 = (w1 & ~(2 ** (64 - k) - 1)) >>> 0;
    }
    this.w2 = 0;
    this.sticky = false;
    this.up = inc ? 1 : 0;
    if (!inc) return 0;
    if (k <= 32) {
      const n = this.w0 + 2 ** (32 - k);
      this.w0 = n >>> 0;
      return n >= TWO32 ? 1 : 0;
    }
    const n1 = this.w1 + 2 ** (64 - k);
    this.w1 = n1 >>> 0;
    if (n1 < TWO32) return 0;
    const n0 = this.w0 + 1;
    this.w0 = n0 >>> 0;
    return n0 >= TWO32 ? 1 : 0;
  }

  /**
   * Rounds sign * (w0:w1:w2 + sticky) * 2^exp (w0 bit 31 = units, normalised,
   * nonzero) to `prec` significand bits in a format with normal exponents
   * emin..emax, and leaves the result in the o* fields. Handles overflow and
   * underflow per SDM vol. 1, 4.9.1.4, 4.9.1.5, 8.5.4, 8.5.5: masked ->
   * infinity/largest finite or a denormal; unmasked with `regDest` -> the
   * exponent biased by 24576; unmasked memory destination -> no result.
   * Returns false when there is no result to store.
   */
  private roundPack(sign: number, exp: number, prec: number, emin: number, emax: number, regDest: boolean): boolean {
    const s0 = this.w0, s1 = this.w1, s2 = this.w2, st = this.sticky;
    let e = exp;
    if (this.roundWork(prec, sign)) {
      this.w0 = 0x80000000;
      e++;
    }
    const inexact = this.inexact;
    this.oSign = sign;
    this.oDen = false;
    if (e > emax) {
      if ((this.masks & FE_OE) === 0) {
        // unmasked: a memory destination gets nothing and no PE (SDM vol. 1, 8.5.4)
        if (!regDest) { this.flags |= FE_OE; this.up = 0; return false; }
        this.flags |= FE_OE | (inexact ? FE_PE : 0);
        this.setO(sign, e - BIAS_ADJUST);
        return true;
      }
      this.flags |= FE_OE | FE_PE;
      const toInf = this.rc === RC_NEAREST || (this.rc === RC_DOWN && sign !== 0) || (this.rc === RC_UP && sign === 0);
      if (toInf) {
        this.oCls = CLS_INF;
        this.oExp = emax + 1;
        this.oHi = 0x80000000;
        this.oLo = 0;
        this.up = 1;
      } else {
        // largest finite number with `prec` significand bits
        this.oCls = CLS_FINITE;
        this.oExp = emax;
        this.oHi = 0xffffffff;
        this.oLo = prec >= 64 ? 0xffffffff : prec <= 32 ? 0 : (0xffffffff << (64 - prec)) >>> 0;
        if (prec < 32) this.oHi = (0xffffffff << (32 - prec)) >>> 0;
        this.up = 0;
      }
      return true;
    }
    if (e < emin) {
      if ((this.masks & FE_UE) === 0) {
        if (!regDest) { this.flags |= FE_UE; this.up = 0; return false; }
        this.flags |= FE_UE | (inexact ? FE_PE : 0);
        this.setO(sign, e + BIAS_ADJUST);
        return true;
      }
      // masked: denormalise the exact value, then round at the same bit position
      this.w0 = s0;
      this.w1 = s1;
      this.w2 = s2;
      this.sticky = st;
      this.shr96(emin - exp);
      this.roundWork(prec, sign); // cannot carry out: bit 95 was clear
      if (this.inexact) this.flags |= FE_UE | FE_PE;
      this.oExp = emin;
      this.oHi = this.w0;
      this.oLo = this.w1;
      if (this.w0 & 0x80000000) {
        this.oCls = CLS_FINITE; // rounded up to the smallest normal
      } else if (this.w0 === 0 && this.w1 === 0) {
        this.oCls = CLS_ZERO;
        this.oExp = 0;
      } else {
        this.oCls = CLS_FINITE;
        this.oDen = true;
      }
      return true;
    }
    if (inexact) this.flags |= FE_PE;
    this.setO(sign, e);
    return true;
  }

  private setO(sign: number, exp: number): void {
    this.oCls = CLS_FINITE;
    this.oSign = sign;
    this.oExp = exp;
    this.oHi = this.w0;
    this.oLo = this.w1;
    this.oDen = false;
  }

  /** o* = the exact zero with `sign` */
  private zeroO(sign: number): void {
    this.oCls = CLS_ZERO;
    this.oSign = sign;
    this.oExp = 0;
    this.oHi = 0;
    this.oLo = 0;
    this.oDen = false;
  }

  /**
   * Rounds a finite unpacked value to `prec` bits and the given exponent
   * range (the FST m32/m64 conversions, FLD constants, precision control
   * on a plain value). Zero stays zero. Returns false when an unmasked
   * over/underflow leaves nothing to store (memory destination).
   */
  roundUnpacked(u: Unpacked, prec: number, emin: number, emax: number, regDest: boolean): boolean {
    if (u.cls === CLS_ZERO) {
      this.zeroO(u.sign);
      return true;
    }
    this.w0 = u.hi;
    this.w1 = u.lo;
    this.w2 = 0;
    this.sticky = false;
    return this.roundPack(u.sign, u.exp, prec, emin, emax, regDest);
  }

  /** Rounds a finite working value (w0..w2 + sticky, not necessarily normalised) to a register result. */
  private finishReg(sign: number, exp: number, prec: number): void {
    const n = this.normalize96();
    if (this.w0 === 0 && !this.sticky) {
      // exact zero: handled by the caller's sign rules
      this.zeroO(sign);
      return;
    }
    this.roundPack(sign, exp - n, prec, EXT_EMIN, EXT_EMAX, true);
  }

  // ===== the basic operations (finite nonzero operands; specials are the caller's) =====

  /**
   * o* = a + b (or a - b when `negB`) for finite operands, zeros included,
   * rounded to `prec` bits with the register exponent range. Exact zero
   * results take +0, or -0 in round-down mode (IEEE 754 6.3).
   */
  add(a: Unpacked, b: Unpacked, negB: boolean, prec: number): void {
    const bSign = b.sign ^ (negB ? 1 : 0);
    if (a.cls === CLS_ZERO && b.cls === CLS_ZERO) {
      const s = a.sign === bSign ? a.sign : this.rc === RC_DOWN ? 1 : 0;
      this.zeroO(s);
      return;
    }
    if (b.cls === CLS_ZERO) { this.roundValue(a.sign, a, prec); return; }
    if (a.cls === CLS_ZERO) { this.roundValue(bSign, b, prec); return; }
    // order so that |x| >= |y|
    let x = a, y = b, xs = a.sign, ys = bSign;
    if (a.exp < b.exp || (a.exp === b.exp && (a.hi < b.hi || (a.hi === b.hi && a.lo < b.lo)))) {
      x = b; y = a; xs = bSign; ys = a.sign;
    }
    // y aligned into the working words
    this.w0 = y.hi;
    this.w1 = y.lo;
    this.w2 = 0;
    this.sticky = false;
    this.shr96(x.exp - y.exp);
    const y0 = this.w0, y1 = this.w1, y2 = this.w2, ySticky = this.sticky;
    let exp = x.exp;
    if (xs === ys) {
      let t2 = y2; // x's third word is zero
      let t1 = x.lo + y1;
      let c = t1 >= TWO32 ? 1 : 0;
      t1 = t1 >>> 0;
      let t0 = x.hi + y0 + c;
      c = t0 >= TWO32 ? 1 : 0;
      t0 = t0 >>> 0;
      this.w0 = t0; this.w1 = t1; this.w2 = t2; this.sticky = ySticky;
      if (c) {
        this.shr96(1);
        this.w0 = (this.w0 | 0x80000000) >>> 0;
        exp++;
      }
      this.roundPack(xs, exp, prec, EXT_EMIN, EXT_EMAX, true);
      return;
    }
    // subtraction. When bits of y were shifted out (sticky), x - y = (x - y96 - 1 unit of w2) + (1 - lost),
    // with 0 < 1 - lost < 1 unit: subtract one unit and keep sticky set.
    let t2 = 0 - y2 - (ySticky ? 1 : 0);
    let br = t2 < 0 ? 1 : 0;
    t2 = t2 >>> 0;
    let t1 = x.lo - y1 - br;
    br = t1 < 0 ? 1 : 0;
    t1 = t1 >>> 0;
    const t0 = (x.hi - y0 - br) >>> 0;
    this.w0 = t0; this.w1 = t1; this.w2 = t2; this.sticky = ySticky;
    if ((t0 | t1 | t2) === 0 && !ySticky) {
      this.zeroO(this.rc === RC_DOWN ? 1 : 0);
      return;
    }
    this.finishReg(xs, exp, prec);
  }

  /** rounds a finite nonzero unpacked value with `sign` to `prec` bits in register range */
  private roundValue(sign: number, u: Unpacked, prec: number): void {
    this.w0 = u.hi;
    this.w1 = u.lo;
    this.w2 = 0;
    this.sticky = false;
    this.roundPack(sign, u.exp, prec, EXT_EMIN, EXT_EMAX, true);
  }

  /** o* = a * b for finite operands (zeros give a signed zero), rounded to `prec` bits. */
  mul(a: Unpacked, b: Unpacked, prec: number): void {
    const sign = a.sign ^ b.sign;
    if (a.cls === CLS_ZERO || b.cls === CLS_ZERO) { this.zeroO(sign); return; }
    // 64 x 64 -> 128 bits with 16-bit limbs (partial sums stay below 2^53)
    const a0 = a.lo & 0xffff, a1 = a.lo >>> 16, a2 = a.hi & 0xffff, a3 = a.hi >>> 16;
    const b0 = b.lo & 0xffff, b1 = b.lo >>> 16, b2 = b.hi & 0xffff, b3 = b.hi >>> 16;
    let c = 0;
    let t = a0 * b0;
    const p0 = t % 65536; c = Math.floor(t / 65536);
    t = c + a0 * b1 + a1 * b0;
    const p1 = t % 65536; c = Math.floor(t / 65536);
    t = c + a0 * b2 + a1 * b1 + a2 * b0;
    const p2 = t % 65536; c = Math.floor(t / 65536);
    t = c + a0 * b3 + a1 * b2 + a2 * b1 + a3 * b0;
    const p3 = t % 65536; c = Math.floor(t / 65536);
    t = c + a1 * b3 + a2 * b2 + a3 * b1;
    const p4 = t % 65536; c = Math.floor(t / 65536);
    t = c + a2 * b3 + a3 * b2;
    const p5 = t % 65536; c = Math.floor(t / 65536);
    t = c + a3 * b3;
    const p6 = t % 65536; c = Math.floor(t / 65536);
    const p7 = c;
    this.w0 = (p7 * 65536 + p6) >>> 0;
    this.w1 = (p5 * 65536 + p4) >>> 0;
    this.w2 = (p3 * 65536 + p2) >>> 0;
    this.sticky = (p1 | p0) !== 0;
    // product of two values in [1,2) lies in [1,4): units bit is bit 126 of the 128
    let exp = a.exp + b.exp + 1;
    if ((this.w0 & 0x80000000) === 0) {
      // bit 126 is the units bit: shift the 128-bit product left by one
      const h = (p7 * 65536 + p6) >>> 0, m = (p5 * 65536 + p4) >>> 0, l = (p3 * 65536 + p2) >>> 0;
      this.w0 = ((h << 1) | (m >>> 31)) >>> 0;
      this.w1 = ((m << 1) | (l >>> 31)) >>> 0;
      this.w2 = ((l << 1) | (p1 >>> 15)) >>> 0;
      this.sticky = ((p1 & 0x7fff) | p0) !== 0;
      exp--;
    }
    this.roundPack(sign, exp, prec, EXT_EMIN, EXT_EMAX, true);
  }

  /**
   * o* = a / b for finite a and finite nonzero b (a zero gives a signed
   * zero), rounded to `prec` bits. Restoring division, 66 quotient bits
   * plus the remainder as sticky.
   */
  div(a: Unpacked, b: Unpacked, prec: number): void {
    const sign = a.sign ^ b.sign;
    if (a.cls === CLS_ZERO) { this.zeroO(sign); return; }
    let exp = a.exp - b.exp;
    // remainder r2:r1:r0 (r2 is the bit above 64), divisor d1:d0
    let r2 = 0, r1 = a.hi, r0 = a.lo;
    const d1 = b.hi, d0 = b.lo;
    if (r1 < d1 || (r1 === d1 && r0 < d0)) {
      // a's significand < b's: shift the dividend left one, quotient starts at 2^0 again
      r2 = r1 >>> 31;
      r1 = ((r1 << 1) | (r0 >>> 31)) >>> 0;
      r0 = (r0 << 1) >>> 0;
      exp--;
    }
    let q0 = 0, q1 = 0, q2 = 0;
    for (let i = 0; i < 66; i++) {
      let bit = 0;
      if (r2 !== 0 || r1 > d1 || (r1 === d1 && r0 >= d0)) {
        const n0 = r0 - d0;
        const br = n0 < 0 ? 1 : 0;
        r0 = n0 >>> 0;
        const n1 = r1 - d1 - br;
        r2 = n1 < 0 ? r2 - 1 : r2;
        r1 = n1 >>> 0;
        bit = 1;
      }
      if (i < 32) q0 = (q0 | (bit << (31 - i))) >>> 0;
      else if (i < 64) q1 = (q1 | (bit << (63 - i))) >>> 0;
      else q2 = (q2 | (bit << (95 - i))) >>> 0;
      r2 = (r2 << 1) | (r1 >>> 31);
      r1 = ((r1 << 1) | (r0 >>> 31)) >>> 0;
      r0 = (r0 << 1) >>> 0;
    }
    this.w0 = q0;
    this.w1 = q1;
    this.w2 = q2;
    this.sticky = (r2 | r1 | r0) !== 0;
    this.roundPack(sign, exp, prec, EXT_EMIN, EXT_EMAX, true);
  }

  /**
   * o* = sqrt(a) for finite a >= 0 (zero gives zero of the same sign),
   * rounded to `prec` bits. Digit-by-digit square root producing 66 bits.
   */
  sqrt(a: Unpacked, prec: number): void {
    if (a.cls === CLS_ZERO) { this.zeroO(a.sign); return; }
    // radicand significand m (65 bits: m2 is bit 64) with an even exponent
    let m2 = 0, m1 = a.hi, m0 = a.lo;
    let e = a.exp;
    if (e & 1) {
      m2 = m1 >>> 31;
      m1 = ((m1 << 1) | (m0 >>> 31)) >>> 0;
      m0 = (m0 << 1) >>> 0;
      e--;
    }
    // N = m << 67 has 132 bits; process it two bits at a time from bit 131 down (66 steps).
    // remainder and root as 3-word numbers (rem up to ~68 bits, root 66 bits)
    let r2 = 0, r1 = 0, r0 = 0; // remainder
    let q2 = 0, q1 = 0, q0 = 0; // root (q2 holds bits 64..)
    for (let i = 0; i < 66; i++) {
      const p = 131 - 2 * i;
      const two = (radicandBit(m2, m1, m0, p) << 1) | radicandBit(m2, m1, m0, p - 1);
      // rem = rem << 2 | two
      r2 = ((r2 << 2) | (r1 >>> 30)) >>> 0;
      r1 = ((r1 << 2) | (r0 >>> 30)) >>> 0;
      r0 = ((r0 << 2) | two) >>> 0;
      // trial = root << 2 | 1
      const t2 = ((q2 << 2) | (q1 >>> 30)) >>> 0;
      const t1 = ((q1 << 2) | (q0 >>> 30)) >>> 0;
      const t0 = ((q0 << 2) | 1) >>> 0;
      // root <<= 1
      q2 = ((q2 << 1) | (q1 >>> 31)) >>> 0;
      q1 = ((q1 << 1) | (q0 >>> 31)) >>> 0;
      q0 = (q0 << 1) >>> 0;
      if (r2 > t2 || (r2 === t2 && (r1 > t1 || (r1 === t1 && r0 >= t0)))) {
        const n0 = r0 - t0;
        let br = n0 < 0 ? 1 : 0;
        r0 = n0 >>> 0;
        const n1 = r1 - t1 - br;
        br = n1 < 0 ? 1 : 0;
        r1 = n1 >>> 0;
        r2 = (r2 - t2 - br) >>> 0;
        q0 = (q0 | 1) >>> 0;
      }
    }
    // root has 66 bits: q2 (bits 65..64), q1, q0. Units bit is bit 65.
    this.w0 = ((q2 << 30) | (q1 >>> 2)) >>> 0;
    this.w1 = ((q1 << 30) | (q0 >>> 2)) >>> 0;
    this.w2 = (q0 << 30) >>> 0;
    this.sticky = (r2 | r1 | r0) !== 0;
    this.roundPack(0, e / 2, prec, EXT_EMIN, EXT_EMAX, true);
  }

  /**
   * Partial remainder of finite a by finite nonzero b (FPREM, or FPREM1
   * when `ieee`), exact. Sets remQ (low three quotient bits) and
   * remPartial (exponent difference too large: one step of at most 64
   * quotient bits taken, SDM vol. 2A FPREM "partial remainder"); o* = the
   * remainder with a's sign (flipped for an FPREM1 round-up).
   */
  rem(a: Unpacked, b: Unpacked, ieee: boolean): void {
    this.remQ = 0;
    this.remPartial = false;
    if (a.cls === CLS_ZERO) { this.zeroO(a.sign); return; }
    const d = a.exp - b.exp;
    if (d < 0) {
      // |a| < |b|: quotient 0; FPREM1 may still round the quotient to 1 when |a| > |b|/2
      if (ieee && d === -1 && (a.hi > b.hi || (a.hi === b.hi && a.lo > b.lo))) {
        // r = a - b (sign flips): |b| - |a|, exact
        this.remQ = 1;
        this.subMag(b, a, b.exp, a.exp, a.sign ^ 1);
        return;
      }
      this.w0 = a.hi; this.w1 = a.lo; this.w2 = 0; this.sticky = false;
      this.roundPack(a.sign, a.exp, 64, EXT_EMIN, EXT_EMAX, true);
      return;
    }
    // long division of the significands, quotient bits for 2^d .. 2^stop
    const stop = d >= 64 ? d - 63 : 0;
    this.remPartial = d >= 64;
    let r2 = 0, r1 = a.hi, r0 = a.lo;
    const d1 = b.hi, d0 = b.lo;
    let q = 0;
    for (let i = d; i >= stop; i--) {
      let bit = 0;
      if (r2 !== 0 || r1 > d1 || (r1 === d1 && r0 >= d0)) {
        const n0 = r0 - d0;
        const br = n0 < 0 ? 1 : 0;
        r0 = n0 >>> 0;
        const n1 = r1 - d1 - br;
        r2 = n1 < 0 ? r2 - 1 : r2;
        r1 = n1 >>> 0;
        bit = 1;
      }
      q = ((q << 1) | bit) & 7;
      if (i > stop) {
        r2 = (r2 << 1) | (r1 >>> 31);
        r1 = ((r1 << 1) | (r0 >>> 31)) >>> 0;
        r0 = (r0 << 1) >>> 0;
      }
    }
    // remainder R (< divisor) in units of 2^(b.exp - 63 + stop)
    let sign = a.sign;
    if (ieee && !this.remPartial) {
      // round the quotient to nearest even: compare 2R with the divisor
      const t2 = (r1 >>> 31), t1 = ((r1 << 1) | (r0 >>> 31)) >>> 0, t0 = (r0 << 1) >>> 0;
      const cmp = t2 !== 0 ? 1 : t1 > d1 ? 1 : t1 < d1 ? -1 : t0 > d0 ? 1 : t0 < d0 ? -1 : 0;
      if (cmp > 0 || (cmp === 0 && (q & 1))) {
        q = (q + 1) & 7;
        // R = divisor - R
        const n0 = d0 - r0;
        const br = n0 < 0 ? 1 : 0;
        r0 = n0 >>> 0;
        r1 = (d1 - r1 - br) >>> 0;
        sign ^= 1;
      }
    }
    this.remQ = q;
    if ((r1 | r0) === 0) { this.zeroO(a.sign); return; }
    this.w0 = r1; this.w1 = r0; this.w2 = 0; this.sticky = false;
    this.finishReg(sign, b.exp + stop, 64);
  }

  /** o* = (|x| - |y|) with sign `sign`, x.exp = ex >= y.exp = ey, |x| > |y|; exact then rounded to 64 bits */
  private subMag(x: Unpacked, y: Unpacked, ex: number, ey: number, sign: number): void {
    this.w0 = y.hi; this.w1 = y.lo; this.w2 = 0; this.sticky = false;
    this.shr96(ex - ey);
    let t2 = 0 - this.w2;
    let br = t2 < 0 ? 1 : 0;
    t2 = t2 >>> 0;
    let t1 = x.lo - this.w1 - br;
    br = t1 < 0 ? 1 : 0;
    t1 = t1 >>> 0;
    const t0 = (x.hi - this.w0 - br) >>> 0;
    this.w0 = t0; this.w1 = t1; this.w2 = t2;
    this.finishReg(sign, ex, 64);
  }

  /**
   * Rounds a finite value to an integer with the current rounding mode
   * (FRNDINT, FIST, FBSTP). iHi:iLo = the magnitude, iOver = it needs more
   * than 64 bits; flags PE and `up` as the rounding went (a zero gives 0).
   */
  roundToInt(u: Unpacked): void {
    this.iOver = false;
    if (u.cls === CLS_ZERO) { this.iHi = 0; this.iLo = 0; this.up = 0; return; }
    const e = u.exp;
    if (e >= 64) { this.iOver = true; this.iHi = 0; this.iLo = 0; return; }
    if (e === 63) { this.iHi = u.hi; this.iLo = u.lo; this.up = 0; return; }
    this.w0 = u.hi; this.w1 = u.lo; this.w2 = 0; this.sticky = false;
    const k = e + 1; // integer bits kept
    if (k < 1) {
      // |u| < 1: shift so that w0 bit 31 is the units position (then 0), round to that one bit
      this.shr96(1 - k);
      this.roundWork(1, u.sign); // cannot carry: bit 31 was clear
      if (this.inexact) this.flags |= FE_PE;
      this.iHi = 0;
      this.iLo = this.w0 >>> 31;
      return;
    }
    const carry = this.roundWork(k, u.sign);
    if (this.inexact) this.flags |= FE_PE;
    if (carry) {
      // all k integer bits were ones and rounded up: the integer is 2^k (k <= 63)
      if (k >= 32) { this.iHi = (1 << (k - 32)) >>> 0; this.iLo = 0; } else { this.iHi = 0; this.iLo = (1 << k) >>> 0; }
      return;
    }
    // the integer is the top k bits of w0:w1
    const sh = 64 - k; // right shift of w0:w1
    if (sh >= 32) {
      this.iHi = 0;
      this.iLo = sh === 32 ? this.w0 : this.w0 >>> (sh - 32);
    } else if (sh > 0) {
      this.iLo = ((this.w1 >>> sh) | (this.w0 << (32 - sh))) >>> 0;
      this.iHi = this.w0 >>> sh;
    } else {
      this.iHi = this.w0;
      this.iLo = this.w1;
    }
  }

  // ===== packing the o* result =====

  /** sign/exponent word of the o* result as a register value (pair with oHi/oLo) */
  packSe(): number {
    const s = this.oSign << 15;
    switch (this.oCls) {
      case CLS_ZERO: return s;
      case CLS_INF: return s | 0x7fff;
      default: return this.oDen ? s : s | ((this.oExp + 16383) & 0x7fff);
    }
  }

  /** the o* result as IEEE single bits (int32); must have been rounded for that format */
  packM32(): number {
    const s = this.oSign << 31;
    switch (this.oCls) {
      case CLS_ZERO: return s;
      case CLS_INF: return s | 0x7f800000;
      default:
        if (this.oDen) return s | (this.oHi >>> 8);
        return s | ((this.oExp + 127) << 23) | ((this.oHi >>> 8) & 0x7fffff);
    }
  }

  /** the o* result as IEEE double, high word (int32); low word from packM64Lo */
  packM64Hi(): number {
    const s = this.oSign << 31;
    switch (this.oCls) {
      case CLS_ZERO: return s;
      case CLS_INF: return s | 0x7ff00000;
      default:
        if (this.oDen) return s | (this.oHi >>> 11);
        return s | ((this.oExp + 1023) << 20) | ((this.oHi >>> 11) & 0xfffff);
    }
  }

  packM64Lo(): number {
    if (this.oCls === CLS_ZERO || this.oCls === CLS_INF) return 0;
    return ((this.oHi << 21) | (this.oLo >>> 11)) | 0;
  }
}

/** bit p of the sqrt radicand N = m << 67, m = m2:m1:m0 (65 bits) */
function radicandBit(m2: number, m1: number, m0: number, p: number): number {
  const q = p - 67;
  if (q < 0) return 0;
  if (q < 32) return (m0 >>> q) & 1;
  if (q < 64) return (m1 >>> (q - 32)) & 1;
  return q === 64 ? m2 : 0;
}

/** Compares two finite-or-infinite unpacked values: -1, 0, 1 (zeros of either sign are equal). */
export function compareOrdered(a: Unpacked, b: Unpacked): number {
  const az = a.cls === CLS_ZERO, bz = b.cls === CLS_ZERO;
  if (az && bz) return 0;
  const as = az ? 0 : a.sign ? -1 : 1;
  const bs = bz ? 0 : b.sign ? -1 : 1;
  if (as !== bs) return as < bs ? -1 : 1;
  // same sign, both nonzero
  let mag: number;
  const ai = a.cls === CLS_INF, bi = b.cls === CLS_INF;
  if (ai || bi) mag = ai && bi ? 0 : ai ? 1 : -1;
  else if (a.exp !== b.exp) mag = a.exp > b.exp ? 1 : -1;
  else if (a.hi !== b.hi) mag = a.hi > b.hi ? 1 : -1;
  else if (a.lo !== b.lo) mag = a.lo > b.lo ? 1 : -1;
  else mag = 0;
  return as < 0 ? -mag : mag;
}
