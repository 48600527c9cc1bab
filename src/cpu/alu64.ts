/**
 * 64-bit integer operations for the x86-64 interpreter (docs/cpu.md,
 * "x86-64: what runs, and the plan for the rest"); the 64-bit interpreter
 * (long.ts) calls them for its 64-bit operand size.
 *
 * Every 64-bit value is a pair of int32 halves (lo, hi); no function here
 * makes a JavaScript number above 2^53 that it relies on, a BigInt, an
 * array or an object. Each operation writes its results into a caller-owned
 * `Alu64` (reused from call to call):
 *
 * - `lo`, `hi`: the result (the destination's new value; for CMP, TEST and
 *   BT the value computed, which the caller does not store);
 * - `lo2`, `hi2`: the second result where there is one (RDX of MUL and
 *   one-operand IMUL, the remainder of DIV and IDIV);
 * - `flags`, `mask`: the arithmetic flags the operation writes, for
 *   `Cpu.setArith(flags, mask)`; a flag outside `mask` keeps its value
 *   (INC/DEC leave CF, a count of 0 leaves all six, NOT writes none);
 * - `undef`: those of the six flags the SDM calls undefined for this
 *   operation and these operands. Where such a flag is in `mask`, its
 *   value is the fixed one of the 32-bit CPU (docs/cpu.md, "Undefined
 *   flags"), so that a 64-bit operation agrees with its 32-bit form.
 *
 * Flag rules: SDM vol. 1, 3.4.3 and vol. 2, each instruction's "Flags
 * Affected". ZF comes from both halves, SF from bit 63, PF from the low
 * byte, AF from the carry out of bit 3.
 */
import { F_AF, F_ARITH, F_CF, F_OF, F_PF, F_SF, F_ZF } from './constants.js';

/** Results of one 64-bit operation (see the file comment). */
export class Alu64 {
  lo = 0;
  hi = 0;
  lo2 = 0;
  hi2 = 0;
  flags = 0;
  mask = 0;
  undef = 0;
}

/** PF of a low byte, as a flag bit (set when the number of 1 bits is even). */
const PF8 = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  let p = 1;
  for (let b = i; b; b >>= 1) p ^= b & 1;
  PF8[i] = p ? F_PF : 0;
}

const TWO32 = 4294967296;

/** ZF, SF and PF of a 64-bit result. */
function zsp(lo: number, hi: number): number {
  return ((lo | hi) === 0 ? F_ZF : 0) | ((hi >>> 24) & F_SF) | PF8[lo & 0xff]!;
}

/** F_OF when bit 31 of x is set (x is the high half of an overflow expression). */
function ofBit(x: number): number {
  return (x >>> 20) & F_OF;
}

// ---------------------------------------------------------------------------
// ADD ADC SUB SBB CMP NEG INC DEC, and the logic operations
// ---------------------------------------------------------------------------

/** ADC (ADD when cin is 0): a + b + cin. */
export function adc64(o: Alu64, aLo: number, aHi: number, bLo: number, bHi: number, cin: number): void {
  const s = (aLo >>> 0) + (bLo >>> 0) + cin;
  const h = (aHi >>> 0) + (bHi >>> 0) + (s > 0xffffffff ? 1 : 0);
  const rLo = s | 0, rHi = h | 0;
  o.lo = rLo;
  o.hi = rHi;
  o.flags = (h > 0xffffffff ? F_CF : 0) | ((aLo ^ bLo ^ rLo) & F_AF) | zsp(rLo, rHi) | ofBit((aHi ^ rHi) & (bHi ^ rHi));
  o.mask = F_ARITH;
  o.undef = 0;
}

export function add64(o: Alu64, aLo: number, aHi: number, bLo: number, bHi: number): void {
  adc64(o, aLo, aHi, bLo, bHi, 0);
}

/** SBB (SUB and CMP when cin is 0): a - (b + cin); CF is the borrow. */
export function sbb64(o: Alu64, aLo: number, aHi: number, bLo: number, bHi: number, cin: number): void {
  const d = (aLo >>> 0) - (bLo >>> 0) - cin;
  const e = (aHi >>> 0) - (bHi >>> 0) - (d < 0 ? 1 : 0);
  const rLo = d | 0, rHi = e | 0;
  o.lo = rLo;
  o.hi = rHi;
  o.flags = (e < 0 ? F_CF : 0) | ((aLo ^ bLo ^ rLo) & F_AF) | zsp(rLo, rHi) | ofBit((aHi ^ bHi) & (aHi ^ rHi));
  o.mask = F_ARITH;
  o.undef = 0;
}

export function sub64(o: Alu64, aLo: number, aHi: number, bLo: number, bHi: number): void {
  sbb64(o, aLo, aHi, bLo, bHi, 0);
}

/** CMP: the flags of a - b (the caller stores nothing). */
export const cmp64 = sub64;

/** NEG: 0 - a, whose flags are NEG's (CF = a != 0, OF = a is -2^63). */
export function neg64(o: Alu64, aLo: number, aHi: number): void {
  sbb64(o, 0, 0, aLo, aHi, 0);
}

/** INC: a + 1; CF keeps its value. */
export function inc64(o: Alu64, aLo: number, aHi: number): void {
  adc64(o, aLo, aHi, 1, 0, 0);
  o.mask = F_ARITH & ~F_CF;
}

/** DEC: a - 1; CF keeps its value. */
export function dec64(o: Alu64, aLo: number, aHi: number): void {
  sbb64(o, aLo, aHi, 1, 0, 0);
  o.mask = F_ARITH & ~F_CF;
}

/** Flags of AND, OR, XOR, TEST: CF = OF = 0; AF undefined (0 here). */
function logic(o: Alu64, rLo: number, rHi: number): void {
  o.lo = rLo;
  o.hi = rHi;
  o.flags = zsp(rLo, rHi);
  o.mask = F_ARITH;
  o.undef = F_AF;
}

export function and64(o: Alu64, aLo: number, aHi: number, bLo: number, bHi: number): void {
  logic(o, aLo & bLo, aHi & bHi);
}

export function or64(o: Alu64, aLo: number, aHi: number, bLo: number, bHi: number): void {
  logic(o, aLo | bLo, aHi | bHi);
}

export function xor64(o: Alu64, aLo: number, aHi: number, bLo: number, bHi: number): void {
  logic(o, aLo ^ bLo, aHi ^ bHi);
}

/** TEST: the flags of a AND b (the caller stores nothing). */
export const test64 = and64;

/** NOT: no flags. */
export function not64(o: Alu64, aLo: number, aHi: number): void {
  o.lo = ~aLo;
  o.hi = ~aHi;
  o.mask = 0;
  o.undef = 0;
}

/** ALU operation `op` as in the 32-bit `alu` (0 ADD, 1 OR, 2 ADC, 3 SBB, 4 AND, 5 SUB, 6 XOR, 7 CMP); cin is CF. */
export function alu64(o: Alu64, op: number, aLo: number, aHi: number, bLo: number, bHi: number, cin: number): void {
  switch (op) {
    case 0: adc64(o, aLo, aHi, bLo, bHi, 0); return;
    case 1: logic(o, aLo | bLo, aHi | bHi); return;
    case 2: adc64(o, aLo, aHi, bLo, bHi, cin); return;
    case 3: sbb64(o, aLo, aHi, bLo, bHi, cin); return;
    case 4: logic(o, aLo & bLo, aHi & bHi); return;
    case 6: logic(o, aLo ^ bLo, aHi ^ bHi); return;
    default: sbb64(o, aLo, aHi, bLo, bHi, 0);
  }
}

/** a < b, unsigned 64-bit. */
function ltu(aLo: number, aHi: number, bLo: number, bHi: number): boolean {
  return aHi === bHi ? aLo >>> 0 < bLo >>> 0 : aHi >>> 0 < bHi >>> 0;
}

/**
 * The six flags of an operation recorded lazily, from its operands and
 * result, for a lazy-flag scheme like the 32-bit CPU's: `kind` numbers the
 * operations as the CPU's LZ_ constants do (0 ADD, 1 ADC, 2 SUB, 3 SBB,
 * 4 logic, 5 INC, 6 DEC, 7 NEG) and the operands are recorded the same way
 * (INC and DEC with b = 1, NEG as 0 - b; for INC and DEC the CF bit
 * returned is 0 and must not be used). Equal to the eager functions' flags.
 */
export function lazyFlags64(kind: number, aLo: number, aHi: number, bLo: number, bHi: number, rLo: number, rHi: number, cin: number): number {
  let cf = false, ov = 0, af = (aLo ^ bLo ^ rLo) & F_AF;
  switch (kind) {
    case 0: cf = ltu(rLo, rHi, aLo, aHi); ov = (aHi ^ rHi) & (bHi ^ rHi); break;
    case 1: cf = cin ? !ltu(aLo, aHi, rLo, rHi) : ltu(rLo, rHi, aLo, aHi); ov = (aHi ^ rHi) & (bHi ^ rHi); break;
    case 2: cf = ltu(aLo, aHi, bLo, bHi); ov = (aHi ^ bHi) & (aHi ^ rHi); break;
    case 3: cf = cin ? !ltu(bLo, bHi, aLo, aHi) : ltu(aLo, aHi, bLo, bHi); ov = (aHi ^ bHi) & (aHi ^ rHi); break;
    case 4: af = 0; break;
    case 5: ov = rHi & ~aHi; break;
    case 6: ov = aHi & ~rHi; break;
    default: cf = (bLo | bHi) !== 0; ov = bHi & rHi;
  }
  return (cf ? F_CF : 0) | af | zsp(rLo, rHi) | ofBit(ov);
}

// ---------------------------------------------------------------------------
// Shifts and rotates (SDM vol. 2B "SAL/SAR/SHL/SHR", vol. 2B "RCL/RCR/ROL/ROR")
// ---------------------------------------------------------------------------

// A scratch pair for the less frequent shapes (rotates through CF, SHLD/SHRD).
let TL = 0;
let TH = 0;

/** (TL, TH) = (lo, hi) << n for 0 <= n <= 64. */
function shlT(lo: number, hi: number, n: number): void {
  if (n === 0) { TL = lo; TH = hi; } else if (n < 32) { TH = (hi << n) | (lo >>> (32 - n)); TL = lo << n; } else if (n < 64) { TH = lo << (n - 32); TL = 0; } else { TL = 0; TH = 0; }
}

/** (TL, TH) = (lo, hi) >>> n for 0 <= n <= 64. */
function shrT(lo: number, hi: number, n: number): void {
  if (n === 0) { TL = lo; TH = hi; } else if (n < 32) { TL = (lo >>> n) | (hi << (32 - n)); TH = (hi >>> n) | 0; } else if (n < 64) { TL = (hi >>> (n - 32)) | 0; TH = 0; } else { TL = 0; TH = 0; }
}

/** Bit i (0..63) of (lo, hi). */
function bitOf(lo: number, hi: number, i: number): number {
  return i < 32 ? (lo >>> i) & 1 : (hi >>> (i - 32)) & 1;
}

/** A masked count of 0: the value and every flag unchanged. */
function unchanged(o: Alu64, aLo: number, aHi: number): void {
  o.lo = aLo;
  o.hi = aHi;
  o.mask = 0;
  o.undef = 0;
}

/**
 * Flags of SHL/SHR/SAR/SHLD/SHRD by a nonzero count: CF, SF, ZF, PF
 * defined; OF defined only for a count of 1 (for more, the value given,
 * which follows the count-1 formula or is 0 as the 32-bit CPU does); AF
 * undefined (0 here).
 */
function shiftFlags(o: Alu64, rLo: number, rHi: number, cf: number, of: number, n: number): void {
  o.lo = rLo;
  o.hi = rHi;
  o.flags = cf | zsp(rLo, rHi) | (of ? F_OF : 0);
  o.mask = F_ARITH;
  o.undef = n === 1 ? F_AF : F_AF | F_OF;
}

/** SHL/SAL: count masked to 6 bits. OF (count 1) = MSB(result) XOR CF; for more, the same formula. */
export function shl64(o: Alu64, aLo: number, aHi: number, count: number): void {
  const n = count & 63;
  if (n === 0) { unchanged(o, aLo, aHi); return; }
  let rLo: number, rHi: number, cf: number;
  if (n < 32) {
    rHi = (aHi << n) | (aLo >>> (32 - n));
    rLo = aLo << n;
    cf = (aHi >>> (32 - n)) & 1;
  } else {
    rHi = aLo << (n - 32);
    rLo = 0;
    cf = n === 32 ? aHi & 1 : (aLo >>> (64 - n)) & 1;
  }
  shiftFlags(o, rLo, rHi, cf, (rHi >>> 31) ^ cf, n);
}

/** SHR: OF (count 1) = MSB of the original operand; 0 for more. */
export function shr64(o: Alu64, aLo: number, aHi: number, count: number): void {
  const n = count & 63;
  if (n === 0) { unchanged(o, aLo, aHi); return; }
  let rLo: number, rHi: number;
  if (n < 32) {
    rLo = (aLo >>> n) | (aHi << (32 - n));
    rHi = (aHi >>> n) | 0;
  } else {
    rLo = (aHi >>> (n - 32)) | 0;
    rHi = 0;
  }
  shiftFlags(o, rLo, rHi, bitOf(aLo, aHi, n - 1), n === 1 ? aHi >>> 31 : 0, n);
}

/** SAR: OF = 0 (defined for a count of 1, 0 here for more). */
export function sar64(o: Alu64, aLo: number, aHi: number, count: number): void {
  const n = count & 63;
  if (n === 0) { unchanged(o, aLo, aHi); return; }
  let rLo: number, rHi: number;
  if (n < 32) {
    rLo = (aLo >>> n) | (aHi << (32 - n));
    rHi = aHi >> n;
  } else {
    rLo = aHi >> (n - 32);
    rHi = aHi >> 31;
  }
  shiftFlags(o, rLo, rHi, bitOf(aLo, aHi, n - 1), 0, n);
}

/**
 * Flags of the rotates by a nonzero masked count: CF and OF only (SF, ZF,
 * AF, PF keep their values); OF undefined unless the masked count is 1,
 * and given here by the count-1 formula.
 */
function rotateFlags(o: Alu64, rLo: number, rHi: number, cf: number, of: number, n: number): void {
  o.lo = rLo;
  o.hi = rHi;
  o.flags = cf | (of ? F_OF : 0);
  o.mask = F_CF | F_OF;
  o.undef = n === 1 ? 0 : F_OF;
}

/** ROL: count masked to 6 bits (64-bit operand: no further MOD); CF = LSB(result), OF = MSB(result) XOR CF. */
export function rol64(o: Alu64, aLo: number, aHi: number, count: number): void {
  const n = count & 63;
  if (n === 0) { unchanged(o, aLo, aHi); return; }
  let lo = aLo, hi = aHi, k = n;
  if (k >= 32) { lo = aHi; hi = aLo; k -= 32; }
  if (k !== 0) {
    const l = lo;
    lo = (lo << k) | (hi >>> (32 - k));
    hi = (hi << k) | (l >>> (32 - k));
  }
  const cf = lo & 1;
  rotateFlags(o, lo, hi, cf, (hi >>> 31) ^ cf, n);
}

/** ROR: CF = MSB(result), OF = the XOR of the result's two top bits. */
export function ror64(o: Alu64, aLo: number, aHi: number, count: number): void {
  const n = count & 63;
  if (n === 0) { unchanged(o, aLo, aHi); return; }
  let lo = aLo, hi = aHi, k = n;
  if (k >= 32) { lo = aHi; hi = aLo; k -= 32; }
  if (k !== 0) {
    const l = lo;
    lo = (lo >>> k) | (hi << (32 - k));
    hi = (hi >>> k) | (l << (32 - k));
  }
  const cf = hi >>> 31;
  rotateFlags(o, lo, hi, cf, cf ^ ((hi >>> 30) & 1), n);
}

/**
 * RCL: rotates the 65 bits CF:a left by the count masked to 6 bits (SDM:
 * for a 64-bit operand the masked count is not reduced mod 65). OF =
 * MSB(result) XOR the new CF.
 */
export function rcl64(o: Alu64, aLo: number, aHi: number, count: number, cin: number): void {
  const n = count & 63;
  if (n === 0) { unchanged(o, aLo, aHi); return; }
  shrT(aLo, aHi, 65 - n);
  const pLo = TL, pHi = TH;
  shlT(aLo, aHi, n);
  let lo = TL | pLo, hi = TH | pHi;
  if (n <= 32) lo |= cin << (n - 1);
  else hi |= cin << (n - 33);
  const cf = bitOf(aLo, aHi, 64 - n);
  rotateFlags(o, lo, hi, cf, (hi >>> 31) ^ cf, n);
}

/** RCR: rotates CF:a right. OF = MSB(a) XOR CF, both before the rotation (SDM). */
export function rcr64(o: Alu64, aLo: number, aHi: number, count: number, cin: number): void {
  const n = count & 63;
  if (n === 0) { unchanged(o, aLo, aHi); return; }
  shlT(aLo, aHi, 65 - n);
  const pLo = TL, pHi = TH;
  shrT(aLo, aHi, n);
  let lo = TL | pLo, hi = TH | pHi;
  if (n > 32) lo |= cin << (64 - n);
  else hi |= cin << (32 - n);
  const cf = bitOf(aLo, aHi, n - 1);
  rotateFlags(o, lo, hi, cf, (aHi >>> 31) ^ cin, n);
}

/** Group 2 operation `op` (0 ROL, 1 ROR, 2 RCL, 3 RCR, 4 SHL, 5 SHR, 6 SAL = SHL, 7 SAR); cin is CF. */
export function shift64(o: Alu64, op: number, aLo: number, aHi: number, count: number, cin: number): void {
  switch (op) {
    case 0: rol64(o, aLo, aHi, count); return;
    case 1: ror64(o, aLo, aHi, count); return;
    case 2: rcl64(o, aLo, aHi, count, cin); return;
    case 3: rcr64(o, aLo, aHi, count, cin); return;
    case 5: shr64(o, aLo, aHi, count); return;
    case 7: sar64(o, aLo, aHi, count); return;
    default: shl64(o, aLo, aHi, count);
  }
}

/**
 * SHLD a, b, count: a shifted left, filled from the top of b; count masked
 * to 6 bits. CF = the last bit out of a; OF (count 1) = whether the sign
 * changed, given by the same rule for more; AF undefined (0).
 */
export function shld64(o: Alu64, aLo: number, aHi: number, bLo: number, bHi: number, count: number): void {
  const n = count & 63;
  if (n === 0) { unchanged(o, aLo, aHi); return; }
  shrT(bLo, bHi, 64 - n);
  const pLo = TL, pHi = TH;
  shlT(aLo, aHi, n);
  const rLo = TL | pLo, rHi = TH | pHi;
  shiftFlags(o, rLo, rHi, bitOf(aLo, aHi, 64 - n), (rHi ^ aHi) >>> 31, n);
}

/** SHRD a, b, count: a shifted right, filled from the bottom of b. */
export function shrd64(o: Alu64, aLo: number, aHi: number, bLo: number, bHi: number, count: number): void {
  const n = count & 63;
  if (n === 0) { unchanged(o, aLo, aHi); return; }
  shlT(bLo, bHi, 64 - n);
  const pLo = TL, pHi = TH;
  shrT(aLo, aHi, n);
  const rLo = TL | pLo, rHi = TH | pHi;
  shiftFlags(o, rLo, rHi, bitOf(aLo, aHi, n - 1), (rHi ^ aHi) >>> 31, n);
}

// ---------------------------------------------------------------------------
// MUL, IMUL (SDM vol. 2A "MUL", "IMUL")
// ---------------------------------------------------------------------------

let ML = 0;
let MH = 0;

/**
 * Unsigned 32x32 -> 64: (ML, MH). With a = ah * 2^16 + al, a*b =
 * (ah*b + floor(al*b / 2^16)) * 2^16 + (al*b mod 2^16); both products
 * are below 2^48, so the high half is exact in doubles.
 */
function mul32(a: number, b: number): void {
  const bu = b >>> 0;
  const u = (a >>> 16) * bu + Math.floor((a & 0xffff) * bu / 65536);
  ML = Math.imul(a, b);
  MH = Math.floor(u / 65536) | 0;
}

/**
 * The 128-bit product of a and b into o: lo/hi the low 64 bits, lo2/hi2
 * the high 64 bits; unsigned, or signed when `signed`.
 */
function mul128(o: Alu64, aLo: number, aHi: number, bLo: number, bHi: number, signed: boolean): void {
  if (signed && aHi === aLo >> 31 && bHi === bLo >> 31) {
    // Both operands fit in 32 bits: the product fits in 63 (common; cheap).
    mul32(aLo, bLo);
    const hi = (MH - (aLo < 0 ? bLo : 0) - (bLo < 0 ? aLo : 0)) | 0;
    o.lo = ML;
    o.hi = hi;
    o.lo2 = hi >> 31;
    o.hi2 = hi >> 31;
    return;
  }
  mul32(aLo, bLo);
  const r0 = ML, c0 = MH >>> 0;
  mul32(aLo, bHi);
  const x0 = ML >>> 0, x1 = MH >>> 0;
  mul32(aHi, bLo);
  const y0 = ML >>> 0, y1 = MH >>> 0;
  mul32(aHi, bHi);
  const z0 = ML >>> 0, z1 = MH >>> 0;
  let t = c0 + x0 + y0; // below 3 * 2^32: exact
  const r1 = t | 0;
  t = x1 + y1 + z0 + Math.floor(t / TWO32);
  let r2 = t | 0;
  let r3 = (z1 + Math.floor(t / TWO32)) | 0;
  if (signed) {
    // Two's complement: a negative operand x stands for x - 2^64, which
    // takes the other operand times 2^64 off the product's high half.
    if (aHi < 0) { const d = (r2 >>> 0) - (bLo >>> 0); r3 = (r3 - bHi - (d < 0 ? 1 : 0)) | 0; r2 = d | 0; }
    if (bHi < 0) { const d = (r2 >>> 0) - (aLo >>> 0); r3 = (r3 - aHi - (d < 0 ? 1 : 0)) | 0; r2 = d | 0; }
  }
  o.lo = r0;
  o.hi = r1;
  o.lo2 = r2;
  o.hi2 = r3;
}

/**
 * MUL: RDX:RAX = RAX * src, unsigned; lo/hi is RAX, lo2/hi2 RDX. CF = OF =
 * (RDX != 0). SF, ZF, AF, PF undefined: SF, ZF, PF from RAX and AF = 0.
 */
export function mul64(o: Alu64, aLo: number, aHi: number, bLo: number, bHi: number): void {
  mul128(o, aLo, aHi, bLo, bHi, false);
  o.flags = ((o.lo2 | o.hi2) !== 0 ? F_CF | F_OF : 0) | zsp(o.lo, o.hi);
  o.mask = F_ARITH;
  o.undef = F_SF | F_ZF | F_AF | F_PF;
}

/**
 * IMUL, every form: the signed 128-bit product, lo/hi its low 64 bits (the
 * destination of the two- and three-operand forms, RAX of the one-operand
 * form) and lo2/hi2 its high 64 bits (RDX). CF = OF = the product does not
 * fit in 64 bits, that is, RDX is not the sign extension of RAX. SF, ZF,
 * AF, PF undefined: SF, ZF, PF from the low 64 bits and AF = 0.
 */
export function imul64(o: Alu64, aLo: number, aHi: number, bLo: number, bHi: number): void {
  mul128(o, aLo, aHi, bLo, bHi, true);
  const s = o.hi >> 31;
  o.flags = (o.lo2 !== s || o.hi2 !== s ? F_CF | F_OF : 0) | zsp(o.lo, o.hi);
  o.mask = F_ARITH;
  o.undef = F_SF | F_ZF | F_AF | F_PF;
}

// ---------------------------------------------------------------------------
// DIV, IDIV (SDM vol. 2A "DIV", "IDIV")
// ---------------------------------------------------------------------------

/**
 * Unsigned (n3:n2:n1:n0) / (dHi:dLo) with n3:n2 < d (checked by the
 * callers, as is d != 0): quotient to lo/hi, remainder to lo2/hi2.
 */
function udiv(o: Alu64, n0: number, n1: number, n2: number, n3: number, dLo: number, dHi: number): void {
  if (dHi === 0) {
    // A 32-bit divisor: four 16-bit digits, each step dividing a value below 2^48.
    const d = dLo >>> 0;
    let r = n2 >>> 0; // n3 is 0 here because n3:n2 < d
    let t = r * 65536 + (n1 >>> 16);
    const q3 = Math.floor(t / d);
    r = t - q3 * d;
    t = r * 65536 + (n1 & 0xffff);
    const q2 = Math.floor(t / d);
    r = t - q2 * d;
    t = r * 65536 + (n0 >>> 16);
    const q1 = Math.floor(t / d);
    r = t - q1 * d;
    t = r * 65536 + (n0 & 0xffff);
    const q0 = Math.floor(t / d);
    o.lo = (q1 * 65536 + q0) | 0;
    o.hi = (q3 * 65536 + q2) | 0;
    o.lo2 = (t - q0 * d) | 0;
    o.hi2 = 0;
    return;
  }
  // Shift and subtract, one quotient bit a step: the remainder (r1:r0, with
  // `top` the bit shifted out of it) takes the dividend's low half bit by
  // bit, and the quotient's bits enter q1:q0 from the right.
  let r0 = n2, r1 = n3, q0 = n0, q1 = n1;
  for (let i = 0; i < 64; i++) {
    const top = r1 >>> 31;
    r1 = (r1 << 1) | (r0 >>> 31);
    r0 = (r0 << 1) | (q1 >>> 31);
    q1 = (q1 << 1) | (q0 >>> 31);
    q0 <<= 1;
    if (top !== 0 || !ltu(r0, r1, dLo, dHi)) {
      const s = (r0 >>> 0) - (dLo >>> 0);
      r1 = (r1 - dHi - (s < 0 ? 1 : 0)) | 0;
      r0 = s | 0;
      q0 |= 1;
    }
  }
  o.lo = q0;
  o.hi = q1;
  o.lo2 = r0;
  o.hi2 = r1;
}

/**
 * DIV: RDX:RAX / src, unsigned; quotient to lo/hi (RAX), remainder to
 * lo2/hi2 (RDX). Returns false for #DE (src = 0, or a quotient of 2^64 or
 * more, which is RDX >= src); then nothing in `o` is meaningful and the
 * caller raises #DE with the registers unchanged. All six flags undefined:
 * left unchanged here (mask 0), as the 32-bit CPU does.
 */
export function div64(o: Alu64, raxLo: number, raxHi: number, rdxLo: number, rdxHi: number, sLo: number, sHi: number): boolean {
  o.mask = 0;
  o.undef = F_ARITH;
  if ((sLo | sHi) === 0 || !ltu(rdxLo, rdxHi, sLo, sHi)) return false;
  udiv(o, raxLo, raxHi, rdxLo, rdxHi, sLo, sHi);
  return true;
}

/**
 * IDIV: RDX:RAX / src, signed, the quotient truncated toward zero and the
 * remainder with the dividend's sign. Returns false for #DE: src = 0, or a
 * quotient outside -2^63 .. 2^63-1 (RDX:RAX = -2^127 over -1, -2^63 over
 * -1 with RDX the sign extension, and any quotient of 2^64 or more in
 * magnitude). Flags as DIV.
 */
export function idiv64(o: Alu64, raxLo: number, raxHi: number, rdxLo: number, rdxHi: number, sLo: number, sHi: number): boolean {
  o.mask = 0;
  o.undef = F_ARITH;
  if ((sLo | sHi) === 0) return false;
  let n0 = raxLo, n1 = raxHi, n2 = rdxLo, n3 = rdxHi;
  const negN = n3 < 0;
  if (negN) {
    // 128-bit two's complement negation, limb by limb
    let s = (~n0 >>> 0) + 1;
    n0 = s | 0;
    s = (~n1 >>> 0) + (s > 0xffffffff ? 1 : 0);
    n1 = s | 0;
    s = (~n2 >>> 0) + (s > 0xffffffff ? 1 : 0);
    n2 = s | 0;
    n3 = (~n3 + (s > 0xffffffff ? 1 : 0)) | 0;
  }
  let dLo = sLo, dHi = sHi;
  const negD = dHi < 0;
  if (negD) {
    const s = (~dLo >>> 0) + 1;
    dLo = s | 0;
    dHi = (~dHi + (s > 0xffffffff ? 1 : 0)) | 0;
  }
  // |dividend| and |src| as unsigned values (2^127 and 2^63 included)
  if (!ltu(n2, n3, dLo, dHi)) return false;
  udiv(o, n0, n1, n2, n3, dLo, dHi);
  const negQ = negN !== negD;
  // |quotient| may be at most 2^63 - 1, or 2^63 when the quotient is negative
  if (o.hi < 0 && !(negQ && o.hi === (0x80000000 | 0) && o.lo === 0)) return false;
  if (negQ) {
    const s = (~o.lo >>> 0) + 1;
    o.lo = s | 0;
    o.hi = (~o.hi + (s > 0xffffffff ? 1 : 0)) | 0;
  }
  if (negN) {
    const s = (~o.lo2 >>> 0) + 1;
    o.lo2 = s | 0;
    o.hi2 = (~o.hi2 + (s > 0xffffffff ? 1 : 0)) | 0;
  }
  return true;
}

// ---------------------------------------------------------------------------
// Bit scans, bit tests, byte swap, sign extension
// ---------------------------------------------------------------------------

/**
 * BSF (reverse = false) and BSR (true) of src into a destination holding
 * dLo/dHi. A zero source: ZF = 1 and the destination unchanged (the SDM
 * says "undefined"; Intel and AMD processors leave it, and AMD documents
 * it). Otherwise ZF = 0 and the bit index. CF, OF, SF, AF, PF are
 * undefined: CF = OF = AF = 0 and SF, PF from the index (SF is then 0),
 * as the 32-bit CPU gives them.
 */
export function bsf64(o: Alu64, sLo: number, sHi: number, dLo: number, dHi: number, reverse: boolean): void {
  o.mask = F_ARITH;
  o.undef = F_CF | F_OF | F_SF | F_AF | F_PF;
  if ((sLo | sHi) === 0) {
    o.lo = dLo;
    o.hi = dHi;
    o.flags = F_ZF;
    return;
  }
  let i: number;
  if (reverse) i = sHi !== 0 ? 63 - Math.clz32(sHi) : 31 - Math.clz32(sLo);
  else i = sLo !== 0 ? 31 - Math.clz32(sLo & -sLo) : 63 - Math.clz32(sHi & -sHi);
  o.lo = i;
  o.hi = 0;
  o.flags = PF8[i]!;
}

/**
 * BT (kind 0), BTS (1), BTR (2), BTC (3) on a 64-bit register: the bit
 * offset is taken mod 64. CF = the selected bit before the change; ZF
 * unchanged; OF, SF, AF, PF undefined and left unchanged here (mask CF
 * only), as the 32-bit CPU does.
 */
export function bt64(o: Alu64, kind: number, aLo: number, aHi: number, offset: number): void {
  const i = offset & 63;
  const m = 1 << (i & 31);
  let lo = aLo, hi = aHi;
  const cf = i < 32 ? (lo >>> i) & 1 : (hi >>> (i - 32)) & 1;
  if (kind === 1) { if (i < 32) lo |= m; else hi |= m; } else if (kind === 2) { if (i < 32) lo &= ~m; else hi &= ~m; } else if (kind === 3) { if (i < 32) lo ^= m; else hi ^= m; }
  o.lo = lo;
  o.hi = hi;
  o.flags = cf;
  o.mask = F_CF;
  o.undef = F_OF | F_SF | F_AF | F_PF;
}

/**
 * BT* with a memory operand and a 64-bit register offset: the signed
 * offset selects the quadword at address + 8 * floor(offset / 64) (SDM
 * vol. 2A "BT"), and bit offset & 63 in it. Writes that byte displacement
 * to lo/hi (the caller adds it to the effective address); flags untouched.
 */
export function btDisp64(o: Alu64, offLo: number, offHi: number): void {
  o.lo = ((offLo >>> 3) | (offHi << 29)) & ~7;
  o.hi = offHi >> 3;
}

/** BSWAP of a 64-bit register; no flags. */
export function bswap64(o: Alu64, aLo: number, aHi: number): void {
  o.lo = (aHi >>> 24) | ((aHi >> 8) & 0xff00) | ((aHi << 8) & 0xff0000) | (aHi << 24);
  o.hi = (aLo >>> 24) | ((aLo >> 8) & 0xff00) | ((aLo << 8) & 0xff0000) | (aLo << 24);
  o.mask = 0;
  o.undef = 0;
}

/** MOVSXD r64, r/m32 and CDQE (RAX = sign extension of EAX); no flags. */
export function movsxd64(o: Alu64, v: number): void {
  o.lo = v | 0;
  o.hi = v >> 31;
  o.mask = 0;
  o.undef = 0;
}

/** CQO: RDX (lo/hi) = the sign of RAX, copied into all 64 bits; no flags. */
export function cqo64(o: Alu64, raxHi: number): void {
  o.lo = raxHi >> 31;
  o.hi = raxHi >> 31;
  o.mask = 0;
  o.undef = 0;
}

// ---------------------------------------------------------------------------
// Address arithmetic (no flags; results wrap mod 2^64)
// ---------------------------------------------------------------------------

/** lo/hi = (aLo, aHi) + disp, disp a sign-extended 32-bit displacement: RIP-relative addresses (RIP of the next instruction + disp32). */
export function addDisp64(o: Alu64, aLo: number, aHi: number, disp: number): void {
  const s = (aLo >>> 0) + (disp | 0); // in (-2^31, 2^33)
  o.lo = s | 0;
  o.hi = (aHi + (s < 0 ? -1 : s > 0xffffffff ? 1 : 0)) | 0;
}

/**
 * lo/hi = base + index * 2^scale + disp (scale 0..3, disp sign-extended
 * from 32 bits): the effective address of a ModR/M and SIB operand with a
 * 64-bit address size. Pass 0, 0 for a missing base or index.
 */
export function ea64(o: Alu64, baseLo: number, baseHi: number, idxLo: number, idxHi: number, scale: number, disp: number): void {
  const xLo = idxLo << scale;
  const xHi = scale === 0 ? idxHi : (idxHi << scale) | (idxLo >>> (32 - scale));
  const s = (baseLo >>> 0) + (xLo >>> 0) + (disp | 0); // in [-2^31, 2^33 + 2^31)
  o.lo = s | 0;
  o.hi = (baseHi + xHi + Math.floor(s / TWO32)) | 0;
}
