/**
 * SSE2 128-bit integer operations on XMM registers, and the SSE/SSE2 moves,
 * shuffles, unpacks, sign-mask extractions and bitwise operations that only
 * move bits. Not decoded by the CPU yet (and CPUID does not advertise SSE or
 * SSE2); this is the part a decoder will call, checked against results
 * recorded on a real SSE2 unit (test/cpu/sse-ref/gen-int.c).
 *
 * A register is four int32 dwords, little-endian lanes (an Int32Array of 4),
 * as in sse/float.ts: byte i of the register is bits 8(i & 3) + 7 .. 8(i & 3)
 * of dword i >> 2, word i is half (i & 1) of dword i >> 1, qword k is the
 * dword pair (2k, 2k + 1). Two-source operations write the first operand
 * (`dst`) and read `src`; `dst` and `src` may be the same array (PXOR
 * xmm0, xmm0). Nothing allocates per call.
 *
 * The element-wise arithmetic, compares, logic, PMADDWD, packs, unpacks and
 * shifts by a count are the MMX ones (src/cpu/fpu/mmx.ts) applied to each
 * 64-bit half (or, for packs and unpacks, to the right dwords of the two
 * registers); the SSE2 additions (PADDQ, PSUBQ, PMULUDQ, PMULHUW, PSADBW,
 * PAVGB/W, PMIN/PMAX, the byte shifts and shuffles) are here. SDM vol. 2,
 * the page of each instruction; vol. 1, 11.4 (SSE2 128-bit integer
 * instructions).
 */
import { Mm64, mmxBinary, mmxShift } from '../fpu/mmx.js';

/** scratch for the MMX helpers and for operations whose output lanes read other lanes */
const t = new Mm64();
const tmp = new Int32Array(4);

/** runs the MMX two-operand op `op2` (0F op2) on each 64-bit half: element-wise ops, compares, logic, PMADDWD */
function halves(op2: number, dst: Int32Array, src: Int32Array): void {
  const d0 = dst[0]!, d1 = dst[1]!, d2 = dst[2]!, d3 = dst[3]!, s0 = src[0]!, s1 = src[1]!, s2 = src[2]!, s3 = src[3]!;
  mmxBinary(op2, d1, d0, s1, s0, t);
  dst[0] = t.lo;
  dst[1] = t.hi;
  mmxBinary(op2, d3, d2, s3, s2, t);
  dst[2] = t.lo;
  dst[3] = t.hi;
}

// ---- addition and subtraction (SDM vol. 2, PADDB/PADDW/PADDD/PADDQ, PSUBB/..., PADDSB/PADDSW, PADDUSB/PADDUSW, PSUBSB/..., PSUBUSB/...) ----

export function paddb(dst: Int32Array, src: Int32Array): void { halves(0xfc, dst, src); }
export function paddw(dst: Int32Array, src: Int32Array): void { halves(0xfd, dst, src); }
export function paddd(dst: Int32Array, src: Int32Array): void { halves(0xfe, dst, src); }
export function psubb(dst: Int32Array, src: Int32Array): void { halves(0xf8, dst, src); }
export function psubw(dst: Int32Array, src: Int32Array): void { halves(0xf9, dst, src); }
export function psubd(dst: Int32Array, src: Int32Array): void { halves(0xfa, dst, src); }
/** signed saturation to [-128, 127] / [-32768, 32767] */
export function paddsb(dst: Int32Array, src: Int32Array): void { halves(0xec, dst, src); }
export function paddsw(dst: Int32Array, src: Int32Array): void { halves(0xed, dst, src); }
export function psubsb(dst: Int32Array, src: Int32Array): void { halves(0xe8, dst, src); }
export function psubsw(dst: Int32Array, src: Int32Array): void { halves(0xe9, dst, src); }
/** unsigned saturation to [0, 255] / [0, 65535] */
export function paddusb(dst: Int32Array, src: Int32Array): void { halves(0xdc, dst, src); }
export function paddusw(dst: Int32Array, src: Int32Array): void { halves(0xdd, dst, src); }
export function psubusb(dst: Int32Array, src: Int32Array): void { halves(0xd8, dst, src); }
export function psubusw(dst: Int32Array, src: Int32Array): void { halves(0xd9, dst, src); }

/** 64-bit addition of bHi:bLo to aHi:aLo, wrapping */
export function addQ(aHi: number, aLo: number, bHi: number, bLo: number, out: Mm64): void {
  const lo = (aLo >>> 0) + (bLo >>> 0);
  out.lo = lo | 0;
  out.hi = (aHi + bHi + (lo > 0xffffffff ? 1 : 0)) | 0;
}
/** 64-bit subtraction of bHi:bLo from aHi:aLo, wrapping */
export function subQ(aHi: number, aLo: number, bHi: number, bLo: number, out: Mm64): void {
  const lo = (aLo >>> 0) - (bLo >>> 0);
  out.lo = lo | 0;
  out.hi = (aHi - bHi - (lo < 0 ? 1 : 0)) | 0;
}
export function paddq(dst: Int32Array, src: Int32Array): void {
  for (let k = 0; k < 4; k += 2) {
    addQ(dst[k + 1]!, dst[k]!, src[k + 1]!, src[k]!, t);
    dst[k] = t.lo;
    dst[k + 1] = t.hi;
  }
}
export function psubq(dst: Int32Array, src: Int32Array): void {
  for (let k = 0; k < 4; k += 2) {
    subQ(dst[k + 1]!, dst[k]!, src[k + 1]!, src[k]!, t);
    dst[k] = t.lo;
    dst[k + 1] = t.hi;
  }
}

// ---- multiplication ----

/** low 16 bits of each signed word product (SDM vol. 2, PMULLW) */
export function pmullw(dst: Int32Array, src: Int32Array): void { halves(0xd5, dst, src); }
/** high 16 bits of each signed word product (SDM vol. 2, PMULHW) */
export function pmulhw(dst: Int32Array, src: Int32Array): void { halves(0xe5, dst, src); }
/**
 * Pairs of signed word products summed into dwords (SDM vol. 2, PMADDWD).
 * The only sum that does not fit, 8000h * 8000h + 8000h * 8000h = 2^31,
 * wraps to 80000000h.
 */
export function pmaddwd(dst: Int32Array, src: Int32Array): void { halves(0xf5, dst, src); }

/** high 16 bits of each unsigned word product (SDM vol. 2, PMULHUW) */
export function pmulhuw(dst: Int32Array, src: Int32Array): void {
  for (let i = 0; i < 4; i++) {
    const a = dst[i]!, b = src[i]!;
    // each product is below 2^32: exact as a double, and >>> takes its bits
    dst[i] = ((((a & 0xffff) * (b & 0xffff)) >>> 16) | ((((a >>> 16) * (b >>> 16)) >>> 16) << 16)) | 0;
  }
}

/** the full 64-bit product of two unsigned dwords */
export function mulUQ(a: number, b: number, out: Mm64): void {
  const aL = a & 0xffff, aH = a >>> 16, bL = b & 0xffff, bH = b >>> 16;
  const ll = aL * bL; // < 2^32
  const mid = aH * bL + aL * bH + (ll >>> 16); // < 2^33: exact
  out.lo = Math.imul(a, b);
  out.hi = (aH * bH + Math.floor(mid / 65536)) | 0; // the high dword, below 2^32
}
/**
 * Unsigned dword 0 times dword 0 into qword 0, dword 2 times dword 2 into
 * qword 1; dwords 1 and 3 are not read (SDM vol. 2, PMULUDQ).
 */
export function pmuludq(dst: Int32Array, src: Int32Array): void {
  for (let k = 0; k < 4; k += 2) {
    mulUQ(dst[k]!, src[k]!, t);
    dst[k] = t.lo;
    dst[k + 1] = t.hi;
  }
}

// ---- byte and word lanes added by SSE ----

const L_AVG = 0, L_MIN = 1, L_MAX = 2, L_MINS = 3, L_MAXS = 4;

/** one byte or word lane, unsigned values in, the result lane out (signed kinds compare the sign-extended values) */
function laneSSE(kind: number, signBit: number, x: number, y: number): number {
  switch (kind) {
    case L_AVG: return (x + y + 1) >>> 1; // SDM vol. 2, PAVGB: (a + b + 1) >> 1 on 9/17-bit sums
    case L_MIN: return x < y ? x : y;
    case L_MAX: return x > y ? x : y;
    case L_MINS: return (x ^ signBit) < (y ^ signBit) ? x : y; // flipping the sign bit orders two's complement as unsigned
    default: return (x ^ signBit) > (y ^ signBit) ? x : y;
  }
}
function bytesSSE(kind: number, dst: Int32Array, src: Int32Array): void {
  for (let i = 0; i < 4; i++) {
    const a = dst[i]!, b = src[i]!;
    let r = 0;
    for (let s = 0; s < 32; s += 8) r |= laneSSE(kind, 0x80, (a >>> s) & 0xff, (b >>> s) & 0xff) << s;
    dst[i] = r;
  }
}
function wordsSSE(kind: number, dst: Int32Array, src: Int32Array): void {
  for (let i = 0; i < 4; i++) {
    const a = dst[i]!, b = src[i]!;
    dst[i] = laneSSE(kind, 0x8000, a & 0xffff, b & 0xffff) | (laneSSE(kind, 0x8000, a >>> 16, b >>> 16) << 16);
  }
}
/** rounded unsigned averages (SDM vol. 2, PAVGB/PAVGW) */
export function pavgb(dst: Int32Array, src: Int32Array): void { bytesSSE(L_AVG, dst, src); }
export function pavgw(dst: Int32Array, src: Int32Array): void { wordsSSE(L_AVG, dst, src); }
/** unsigned byte minimum/maximum (SDM vol. 2, PMINUB, PMAXUB) */
export function pminub(dst: Int32Array, src: Int32Array): void { bytesSSE(L_MIN, dst, src); }
export function pmaxub(dst: Int32Array, src: Int32Array): void { bytesSSE(L_MAX, dst, src); }
/** signed word minimum/maximum (SDM vol. 2, PMINSW, PMAXSW) */
export function pminsw(dst: Int32Array, src: Int32Array): void { wordsSSE(L_MINS, dst, src); }
export function pmaxsw(dst: Int32Array, src: Int32Array): void { wordsSSE(L_MAXS, dst, src); }

/**
 * Sum of absolute differences of the eight unsigned bytes of each qword: the
 * sum (at most 8 * 255) is in the low word of the qword, the other three
 * words are zero (SDM vol. 2, PSADBW).
 */
export function psadbw(dst: Int32Array, src: Int32Array): void {
  for (let k = 0; k < 4; k += 2) {
    let sum = 0;
    for (let i = k; i < k + 2; i++) {
      const a = dst[i]!, b = src[i]!;
      for (let s = 0; s < 32; s += 8) {
        const d = ((a >>> s) & 0xff) - ((b >>> s) & 0xff);
        sum += d < 0 ? -d : d;
      }
    }
    dst[k] = sum;
    dst[k + 1] = 0;
  }
}

// ---- compares and logic ----

/** all ones in each equal lane, zero in the others (SDM vol. 2, PCMPEQB/PCMPEQW/PCMPEQD) */
export function pcmpeqb(dst: Int32Array, src: Int32Array): void { halves(0x74, dst, src); }
export function pcmpeqw(dst: Int32Array, src: Int32Array): void { halves(0x75, dst, src); }
export function pcmpeqd(dst: Int32Array, src: Int32Array): void { halves(0x76, dst, src); }
/** all ones where dst > src as signed integers (SDM vol. 2, PCMPGTB/PCMPGTW/PCMPGTD) */
export function pcmpgtb(dst: Int32Array, src: Int32Array): void { halves(0x64, dst, src); }
export function pcmpgtw(dst: Int32Array, src: Int32Array): void { halves(0x65, dst, src); }
export function pcmpgtd(dst: Int32Array, src: Int32Array): void { halves(0x66, dst, src); }

/** PAND, ANDPS, ANDPD */
export function pand(dst: Int32Array, src: Int32Array): void {
  for (let i = 0; i < 4; i++) dst[i] = dst[i]! & src[i]!;
}
/** PANDN, ANDNPS, ANDNPD: NOT dst AND src */
export function pandn(dst: Int32Array, src: Int32Array): void {
  for (let i = 0; i < 4; i++) dst[i] = ~dst[i]! & src[i]!;
}
/** POR, ORPS, ORPD */
export function por(dst: Int32Array, src: Int32Array): void {
  for (let i = 0; i < 4; i++) dst[i] = dst[i]! | src[i]!;
}
/** PXOR, XORPS, XORPD */
export function pxor(dst: Int32Array, src: Int32Array): void {
  for (let i = 0; i < 4; i++) dst[i] = dst[i]! ^ src[i]!;
}

// ---- shifts ----

/** shift kinds: the ModR/M reg field of 66 0F 71..73 */
export const SH_RL = 2;
export const SH_RA = 4;
export const SH_LL = 6;

/**
 * Shifts every `size`-bit element (16, 32 or 64; SH_RA with 16 or 32 only)
 * by the unsigned 64-bit count cHi:cLo. A count above size - 1 clears every
 * element, or fills it with its sign bit for SH_RA (SDM vol. 2, PSLLW/
 * PSLLD/PSLLQ, PSRLW/PSRLD/PSRLQ, PSRAW/PSRAD: "if COUNT > 15/31/63").
 */
export function pshift(kind: number, size: number, dst: Int32Array, cHi: number, cLo: number): void {
  mmxShift(kind, size, dst[1]!, dst[0]!, cHi, cLo, t);
  dst[0] = t.lo;
  dst[1] = t.hi;
  mmxShift(kind, size, dst[3]!, dst[2]!, cHi, cLo, t);
  dst[2] = t.lo;
  dst[3] = t.hi;
}
/** the register/memory count forms: the count is the low qword of src, the high qword is ignored */
export function pshiftBy(kind: number, size: number, dst: Int32Array, src: Int32Array): void {
  pshift(kind, size, dst, src[1]!, src[0]!);
}

/**
 * Shifts the whole register by `imm` bytes, left (PSLLDQ, 66 0F 73 /7) or
 * right (PSRLDQ, 66 0F 73 /3), filling with zeros; a count above 15 clears
 * it (SDM vol. 2, PSLLDQ, PSRLDQ).
 */
export function pshiftBytes(left: boolean, dst: Int32Array, imm: number): void {
  const n = imm & 0xff;
  if (n > 15) {
    dst.fill(0);
    return;
  }
  tmp.set(dst);
  const w = n >>> 2, r = (n & 3) * 8; // whole dwords, then bits
  for (let i = 0; i < 4; i++) {
    let v = 0;
    if (left) {
      const j = i - w;
      if (j >= 0) v = tmp[j]! << r;
      if (r !== 0 && j >= 1) v |= tmp[j - 1]! >>> (32 - r);
    } else {
      const j = i + w;
      if (j <= 3) v = tmp[j]! >>> r;
      if (r !== 0 && j <= 2) v |= tmp[j + 1]! << (32 - r);
    }
    dst[i] = v;
  }
}

// ---- packs and unpacks ----

/**
 * The packs put the saturated elements of dst in the low half of the
 * result and those of src in the high half (SDM vol. 2, PACKSSWB/PACKSSDW,
 * PACKUSWB). The MMX pack of the 64-bit pair (low qword, high qword) of one
 * register gives exactly that register's half of the result.
 */
function pack(op2: number, dst: Int32Array, src: Int32Array): void {
  const d0 = dst[0]!, d1 = dst[1]!, d2 = dst[2]!, d3 = dst[3]!, s0 = src[0]!, s1 = src[1]!, s2 = src[2]!, s3 = src[3]!;
  mmxBinary(op2, d1, d0, d3, d2, t);
  dst[0] = t.lo;
  dst[1] = t.hi;
  mmxBinary(op2, s1, s0, s3, s2, t);
  dst[2] = t.lo;
  dst[3] = t.hi;
}
/** signed words to signed bytes, saturating to [-128, 127] */
export function packsswb(dst: Int32Array, src: Int32Array): void { pack(0x63, dst, src); }
/** signed dwords to signed words, saturating to [-32768, 32767] */
export function packssdw(dst: Int32Array, src: Int32Array): void { pack(0x6b, dst, src); }
/** signed words to unsigned bytes, saturating to [0, 255] */
export function packuswb(dst: Int32Array, src: Int32Array): void { pack(0x67, dst, src); }

/**
 * Interleaves the `size`-bit elements (8, 16, 32) of the low (or high)
 * qwords: dst0 src0 dst1 src1 ... (SDM vol. 2, PUNPCKLBW/WD/DQ,
 * PUNPCKHBW/WD/DQ; UNPCKLPS and UNPCKHPS are the dword forms). Each dword
 * of that qword, with its partner in src, makes one qword of the result.
 */
export function punpck(size: number, high: boolean, dst: Int32Array, src: Int32Array): void {
  const base = high ? 2 : 0;
  const d0 = dst[base]!, d1 = dst[base + 1]!, s0 = src[base]!, s1 = src[base + 1]!;
  const op2 = size === 8 ? 0x60 : size === 16 ? 0x61 : 0x62;
  mmxBinary(op2, 0, d0, 0, s0, t);
  dst[0] = t.lo;
  dst[1] = t.hi;
  mmxBinary(op2, 0, d1, 0, s1, t);
  dst[2] = t.lo;
  dst[3] = t.hi;
}
/** the low (high) qword of dst, then that of src (PUNPCKLQDQ/PUNPCKHQDQ, UNPCKLPD/UNPCKHPD) */
export function punpckqdq(high: boolean, dst: Int32Array, src: Int32Array): void {
  const base = high ? 2 : 0;
  const d0 = dst[base]!, d1 = dst[base + 1]!, s0 = src[base]!, s1 = src[base + 1]!;
  dst[0] = d0;
  dst[1] = d1;
  dst[2] = s0;
  dst[3] = s1;
}

// ---- shuffles ----

/** dword i of the result is dword imm[2i+1:2i] of src (SDM vol. 2, PSHUFD) */
export function pshufd(dst: Int32Array, src: Int32Array, imm: number): void {
  const s0 = src[0]!, s1 = src[1]!, s2 = src[2]!, s3 = src[3]!;
  for (let i = 0; i < 4; i++) {
    const k = (imm >>> (2 * i)) & 3;
    dst[i] = k === 0 ? s0 : k === 1 ? s1 : k === 2 ? s2 : s3;
  }
}
/** word k (0..3) of the qword hi:lo */
function wordOf(lo: number, hi: number, k: number): number {
  return ((k < 2 ? lo : hi) >>> (16 * (k & 1))) & 0xffff;
}
/** shuffles the four words of src's qword `q` by imm into dst's qword `q`; the other qword is copied from src */
function shufWords(q: number, dst: Int32Array, src: Int32Array, imm: number): void {
  const lo = src[2 * q]!, hi = src[2 * q + 1]!, o0 = src[2 - 2 * q]!, o1 = src[3 - 2 * q]!;
  dst[2 * q] = wordOf(lo, hi, imm & 3) | (wordOf(lo, hi, (imm >>> 2) & 3) << 16);
  dst[2 * q + 1] = wordOf(lo, hi, (imm >>> 4) & 3) | (wordOf(lo, hi, (imm >>> 6) & 3) << 16);
  dst[2 - 2 * q] = o0;
  dst[3 - 2 * q] = o1;
}
/** the low four words shuffled by imm, the high qword of src as it is (SDM vol. 2, PSHUFLW) */
export function pshuflw(dst: Int32Array, src: Int32Array, imm: number): void { shufWords(0, dst, src, imm); }
/** the high four words shuffled by imm, the low qword of src as it is (SDM vol. 2, PSHUFHW) */
export function pshufhw(dst: Int32Array, src: Int32Array, imm: number): void { shufWords(1, dst, src, imm); }

/** dwords 0, 1 of the result from dst, 2, 3 from src, each chosen by two bits of imm (SDM vol. 2, SHUFPS) */
export function shufps(dst: Int32Array, src: Int32Array, imm: number): void {
  tmp.set(dst);
  const s0 = src[0]!, s1 = src[1]!, s2 = src[2]!, s3 = src[3]!;
  dst[0] = tmp[imm & 3]!;
  dst[1] = tmp[(imm >>> 2) & 3]!;
  const k2 = (imm >>> 4) & 3, k3 = (imm >>> 6) & 3;
  dst[2] = k2 === 0 ? s0 : k2 === 1 ? s1 : k2 === 2 ? s2 : s3;
  dst[3] = k3 === 0 ? s0 : k3 === 1 ? s1 : k3 === 2 ? s2 : s3;
}
/** qword 0 of the result is dst's qword imm[0], qword 1 is src's qword imm[1]; imm[7:2] ignored (SDM vol. 2, SHUFPD) */
export function shufpd(dst: Int32Array, src: Int32Array, imm: number): void {
  const a = (imm & 1) * 2, b = ((imm >>> 1) & 1) * 2;
  const d0 = dst[a]!, d1 = dst[a + 1]!, s0 = src[b]!, s1 = src[b + 1]!;
  dst[0] = d0;
  dst[1] = d1;
  dst[2] = s0;
  dst[3] = s1;
}

// ---- to and from general registers ----

/** the sign bits of the 16 bytes, zero-extended (SDM vol. 2, PMOVMSKB) */
export function pmovmskb(src: Int32Array): number {
  let m = 0;
  for (let i = 0; i < 16; i++) m |= ((src[i >>> 2]! >>> (8 * (i & 3) + 7)) & 1) << i;
  return m;
}
/** the sign bits of the four dwords (SDM vol. 2, MOVMSKPS) */
export function movmskps(src: Int32Array): number {
  return (src[0]! >>> 31) | ((src[1]! >>> 31) << 1) | ((src[2]! >>> 31) << 2) | ((src[3]! >>> 31) << 3);
}
/** the sign bits of the two qwords (SDM vol. 2, MOVMSKPD) */
export function movmskpd(src: Int32Array): number {
  return (src[1]! >>> 31) | ((src[3]! >>> 31) << 1);
}
/** word imm[2:0] of src, zero-extended (SDM vol. 2, PEXTRW, the XMM form: SEL = COUNT AND 7) */
export function pextrw(src: Int32Array, imm: number): number {
  const w = imm & 7;
  return (src[w >>> 1]! >>> (16 * (w & 1))) & 0xffff;
}
/** the low word of `v` into word imm[2:0] of dst (SDM vol. 2, PINSRW) */
export function pinsrw(dst: Int32Array, v: number, imm: number): void {
  const w = imm & 7, i = w >>> 1, s = 16 * (w & 1);
  dst[i] = (dst[i]! & ~(0xffff << s)) | ((v & 0xffff) << s);
}
/** MOVD xmm, r/m32: the dword zero-extended to 128 bits (SDM vol. 2, MOVD/MOVQ) */
export function movdToXmm(dst: Int32Array, v: number): void {
  dst[0] = v;
  dst[1] = 0;
  dst[2] = 0;
  dst[3] = 0;
}
/** MOVQ xmm, xmm/m64 (F3 0F 7E) and MOVQ2DQ: hi:lo zero-extended to 128 bits (SDM vol. 2, MOVQ) */
export function movqToXmm(dst: Int32Array, lo: number, hi: number): void {
  dst[0] = lo;
  dst[1] = hi;
  dst[2] = 0;
  dst[3] = 0;
}

// ---- dispatch by opcode ----

/**
 * The two-operand SSE2 integer instructions 66 0F op2 /r (xmm, xmm/m128),
 * with the register or memory shift counts and the PD forms of the bitwise
 * ops and unpacks (they move the same bits): dst = dst op src. Returns
 * false for an op2 that is not one of them. The SDM's opcode map (vol. 2,
 * table A-3) lists the 66-prefixed column.
 */
export function sse2Binary(op2: number, dst: Int32Array, src: Int32Array): boolean {
  switch (op2) {
    case 0x14: punpckqdq(false, dst, src); return true; // UNPCKLPD
    case 0x15: punpckqdq(true, dst, src); return true; // UNPCKHPD
    case 0x54: pand(dst, src); return true; // ANDPD
    case 0x55: pandn(dst, src); return true; // ANDNPD
    case 0x56: por(dst, src); return true; // ORPD
    case 0x57: pxor(dst, src); return true; // XORPD
    case 0x60: punpck(8, false, dst, src); return true;
    case 0x61: punpck(16, false, dst, src); return true;
    case 0x62: punpck(32, false, dst, src); return true;
    case 0x63: packsswb(dst, src); return true;
    case 0x64: pcmpgtb(dst, src); return true;
    case 0x65: pcmpgtw(dst, src); return true;
    case 0x66: pcmpgtd(dst, src); return true;
    case 0x67: packuswb(dst, src); return true;
    case 0x68: punpck(8, true, dst, src); return true;
    case 0x69: punpck(16, true, dst, src); return true;
    case 0x6a: punpck(32, true, dst, src); return true;
    case 0x6b: packssdw(dst, src); return true;
    case 0x6c: punpckqdq(false, dst, src); return true;
    case 0x6d: punpckqdq(true, dst, src); return true;
    case 0x74: pcmpeqb(dst, src); return true;
    case 0x75: pcmpeqw(dst, src); return true;
    case 0x76: pcmpeqd(dst, src); return true;
    case 0xd1: pshiftBy(SH_RL, 16, dst, src); return true;
    case 0xd2: pshiftBy(SH_RL, 32, dst, src); return true;
    case 0xd3: pshiftBy(SH_RL, 64, dst, src); return true;
    case 0xd4: paddq(dst, src); return true;
    case 0xd5: pmullw(dst, src); return true;
    case 0xd8: psubusb(dst, src); return true;
    case 0xd9: psubusw(dst, src); return true;
    case 0xda: pminub(dst, src); return true;
    case 0xdb: pand(dst, src); return true;
    case 0xdc: paddusb(dst, src); return true;
    case 0xdd: paddusw(dst, src); return true;
    case 0xde: pmaxub(dst, src); return true;
    case 0xdf: pandn(dst, src); return true;
    case 0xe0: pavgb(dst, src); return true;
    case 0xe1: pshiftBy(SH_RA, 16, dst, src); return true;
    case 0xe2: pshiftBy(SH_RA, 32, dst, src); return true;
    case 0xe3: pavgw(dst, src); return true;
    case 0xe4: pmulhuw(dst, src); return true;
    case 0xe5: pmulhw(dst, src); return true;
    case 0xe8: psubsb(dst, src); return true;
    case 0xe9: psubsw(dst, src); return true;
    case 0xea: pminsw(dst, src); return true;
    case 0xeb: por(dst, src); return true;
    case 0xec: paddsb(dst, src); return true;
    case 0xed: paddsw(dst, src); return true;
    case 0xee: pmaxsw(dst, src); return true;
    case 0xef: pxor(dst, src); return true;
    case 0xf1: pshiftBy(SH_LL, 16, dst, src); return true;
    case 0xf2: pshiftBy(SH_LL, 32, dst, src); return true;
    case 0xf3: pshiftBy(SH_LL, 64, dst, src); return true;
    case 0xf4: pmuludq(dst, src); return true;
    case 0xf5: pmaddwd(dst, src); return true;
    case 0xf6: psadbw(dst, src); return true;
    case 0xf8: psubb(dst, src); return true;
    case 0xf9: psubw(dst, src); return true;
    case 0xfa: psubd(dst, src); return true;
    case 0xfb: psubq(dst, src); return true;
    case 0xfc: paddb(dst, src); return true;
    case 0xfd: paddw(dst, src); return true;
    case 0xfe: paddd(dst, src); return true;
    default: return false;
  }
}

/** The unprefixed SSE forms 0F op2 /r that only move bits: UNPCKLPS, UNPCKHPS, ANDPS, ANDNPS, ORPS, XORPS. */
export function sseBitsBinary(op2: number, dst: Int32Array, src: Int32Array): boolean {
  switch (op2) {
    case 0x14: punpck(32, false, dst, src); return true; // UNPCKLPS
    case 0x15: punpck(32, true, dst, src); return true; // UNPCKHPS
    case 0x54: pand(dst, src); return true;
    case 0x55: pandn(dst, src); return true;
    case 0x56: por(dst, src); return true;
    case 0x57: pxor(dst, src); return true;
    default: return false;
  }
}

/**
 * The immediate shift group 66 0F 71/72/73 with ModR/M reg field `reg`: 71
 * words, 72 dwords, 73 qwords (/2 right, /4 arithmetic right, /6 left) and
 * the byte shifts 73 /3 (PSRLDQ) and /7 (PSLLDQ). Returns false for the
 * encodings that are not defined (71 /0, 73 /4, ...: #UD).
 */
export function sse2ShiftImm(op2: number, reg: number, dst: Int32Array, imm: number): boolean {
  const n = imm & 0xff;
  if (op2 === 0x73 && (reg === 3 || reg === 7)) {
    pshiftBytes(reg === 7, dst, n);
    return true;
  }
  if (reg !== SH_RL && reg !== SH_RA && reg !== SH_LL) return false;
  const size = op2 === 0x71 ? 16 : op2 === 0x72 ? 32 : op2 === 0x73 ? 64 : 0;
  if (size === 0 || (size === 64 && reg === SH_RA)) return false;
  pshift(reg, size, dst, 0, n);
  return true;
}
