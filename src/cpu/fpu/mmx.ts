/**
 * MMX packed-integer operations on 64-bit values held as two int32 halves
 * (hi = bits 63:32, lo = bits 31:0). Pure arithmetic: the instruction
 * decoding, the #UD/#NM/#MF checks and the x87 side effects are in fpu.ts.
 * Intel SDM vol. 1, ch. 9 (MMX technology) and the vol. 2 pages of each
 * instruction.
 *
 *   63      56 55     48 47     40 39     32 31     24 23     16 15      8 7       0
 *  +---------+---------+---------+---------+---------+---------+---------+---------+
 *  | byte 7  | byte 6  | byte 5  | byte 4  | byte 3  | byte 2  | byte 1  | byte 0  |
 *  +---------+---------+---------+---------+---------+---------+---------+---------+
 *  |       word 3      |       word 2      |       word 1      |       word 0      |
 *  |                 dword 1               |                 dword 0               |
 */

/** the result of an operation, bits 63:32 and 31:0 as int32 */
export class Mm64 {
  hi = 0;
  lo = 0;
}

// lane kinds for the element-wise operations
const K_ADD = 0, K_SUB = 1, K_ADDS = 2, K_SUBS = 3, K_ADDUS = 4, K_SUBUS = 5, K_CMPEQ = 6, K_CMPGT = 7;
const K_MULL = 8, K_MULH = 9;

/** element-wise op for 0F xx, or -1; element size in bits in the low byte of the table entry */
function laneOp(op2: number): number {
  switch (op2) {
    case 0xfc: return (K_ADD << 8) | 8;
    case 0xfd: return (K_ADD << 8) | 16;
    case 0xfe: return (K_ADD << 8) | 32;
    case 0xf8: return (K_SUB << 8) | 8;
    case 0xf9: return (K_SUB << 8) | 16;
    case 0xfa: return (K_SUB << 8) | 32;
    case 0xec: return (K_ADDS << 8) | 8;
    case 0xed: return (K_ADDS << 8) | 16;
    case 0xe8: return (K_SUBS << 8) | 8;
    case 0xe9: return (K_SUBS << 8) | 16;
    case 0xdc: return (K_ADDUS << 8) | 8;
    case 0xdd: return (K_ADDUS << 8) | 16;
    case 0xd8: return (K_SUBUS << 8) | 8;
    case 0xd9: return (K_SUBUS << 8) | 16;
    case 0x74: return (K_CMPEQ << 8) | 8;
    case 0x75: return (K_CMPEQ << 8) | 16;
    case 0x76: return (K_CMPEQ << 8) | 32;
    case 0x64: return (K_CMPGT << 8) | 8;
    case 0x65: return (K_CMPGT << 8) | 16;
    case 0x66: return (K_CMPGT << 8) | 32;
    case 0xd5: return (K_MULL << 8) | 16;
    case 0xe5: return (K_MULH << 8) | 16;
    default: return -1;
  }
}

/** one lane: a, b are the lane values zero-extended; returns the lane result (any bits above `size` ignored) */
function lane(kind: number, size: number, a: number, b: number): number {
  const full = size === 32 ? 4294967296 : 1 << size;
  const half = full / 2;
  const sa = a >= half ? a - full : a; // signed views
  const sb = b >= half ? b - full : b;
  switch (kind) {
    case K_ADD: return a + b;
    case K_SUB: return a - b;
    case K_ADDS: { const r = sa + sb; return r > half - 1 ? half - 1 : r < -half ? -half : r; }
    case K_SUBS: { const r = sa - sb; return r > half - 1 ? half - 1 : r < -half ? -half : r; }
    case K_ADDUS: { const r = a + b; return r > full - 1 ? full - 1 : r; }
    case K_SUBUS: { const r = a - b; return r < 0 ? 0 : r; }
    case K_CMPEQ: return a === b ? -1 : 0;
    case K_CMPGT: return sa > sb ? -1 : 0;
    case K_MULL: return Math.imul(sa, sb);
    case K_MULH: return (sa * sb) >> 16;
    default: return 0;
  }
}

/** applies a lane operation to one 32-bit half */
function lanes32(kind: number, size: number, a: number, b: number): number {
  if (size === 32) {
    const r = lane(kind, 32, a >>> 0, b >>> 0);
    return r | 0;
  }
  const mask = (1 << size) - 1;
  let out = 0;
  for (let s = 0; s < 32; s += size) {
    const r = lane(kind, size, (a >>> s) & mask, (b >>> s) & mask);
    out |= (r & mask) << s;
  }
  return out | 0;
}

/** PMADDWD on one dword: the sum of the two signed word products (up to 2^31, not yet wrapped) */
function maddPair(a: number, b: number): number {
  return ((a << 16) >> 16) * ((b << 16) >> 16) + (a >> 16) * (b >> 16);
}

function satS8(v: number): number { return v > 127 ? 127 : v < -128 ? -128 : v; }
function satU8(v: number): number { return v > 255 ? 255 : v < 0 ? 0 : v; }
function satS16(v: number): number { return v > 32767 ? 32767 : v < -32768 ? -32768 : v; }

/** packs the four signed words of a 64-bit value into four bytes with `sat` */
function packWords(hi: number, lo: number, sat: (v: number) => number): number {
  const w0 = (lo << 16) >> 16, w1 = lo >> 16, w2 = (hi << 16) >> 16, w3 = hi >> 16;
  return (sat(w0) & 0xff) | ((sat(w1) & 0xff) << 8) | ((sat(w2) & 0xff) << 16) | ((sat(w3) & 0xff) << 24);
}

/** interleaves the low (or high) `size`-bit elements of two 32-bit halves: d0 s0 d1 s1 ... */
function interleave(d: number, s: number, size: number, out: Mm64): void {
  if (size === 32) {
    out.lo = d | 0;
    out.hi = s | 0;
    return;
  }
  const mask = (1 << size) - 1;
  let lo = 0, hi = 0;
  const n = 32 / size; // elements per half
  for (let i = 0; i < n; i++) {
    const dv = (d >>> (i * size)) & mask, sv = (s >>> (i * size)) & mask;
    const pos = 2 * i * size; // bit position in the 64-bit result
    if (pos < 32) lo |= (dv << pos) | (sv << (pos + size));
    else hi |= (dv << (pos - 32)) | (sv << (pos - 32 + size));
  }
  out.lo = lo | 0;
  out.hi = hi | 0;
}

/**
 * Shifts the 16- or 32-bit elements of one dword by `n` (kind as in
 * mmxShift); `big` says the count was at least the element width.
 */
function shiftDword(kind: number, size: number, v: number, n: number, big: boolean): number {
  if (size === 32) {
    if (kind === 4) return big ? v >> 31 : v >> n;
    if (big) return 0;
    return kind === 2 ? (v >>> n) | 0 : v << n;
  }
  // 16-bit elements
  let r = 0;
  for (let s = 0; s < 32; s += 16) {
    const e = (v >>> s) & 0xffff;
    let x: number;
    if (kind === 4) x = ((e << 16) >> 16) >> (big ? 15 : n);
    else if (big) x = 0;
    else x = kind === 2 ? e >>> n : e << n;
    r |= (x & 0xffff) << s;
  }
  return r | 0;
}

/**
 * Shifts a 64-bit value by `count` (an unsigned 64-bit count cHi:cLo) in
 * elements of `size` bits: kind 2 = logical right, 4 = arithmetic right,
 * 6 = left (the /r field of 0F 71..73). Counts beyond the element width
 * clear the element (or fill it with its sign for arithmetic shifts).
 */
export function mmxShift(kind: number, size: number, hi: number, lo: number, cHi: number, cLo: number, out: Mm64): void {
  const big = cHi !== 0 || (cLo >>> 0) >= size;
  const n = cLo >>> 0;
  if (size === 64) {
    if (big) { out.hi = 0; out.lo = 0; return; }
    if (n === 0) { out.hi = hi; out.lo = lo; return; }
    if (kind === 2) {
      if (n >= 32) { out.lo = hi >>> (n - 32); out.hi = 0; } else { out.lo = (lo >>> n) | (hi << (32 - n)); out.hi = hi >>> n; }
    } else if (n >= 32) { out.hi = lo << (n - 32); out.lo = 0; } else { out.hi = (hi << n) | (lo >>> (32 - n)); out.lo = lo << n; }
    out.hi |= 0;
    out.lo |= 0;
    return;
  }
  out.hi = shiftDword(kind, size, hi, n, big);
  out.lo = shiftDword(kind, size, lo, n, big);
}

/**
 * The two-operand MMX operations that combine dst (dHi:dLo) and src
 * (sHi:sLo) into `out`: arithmetic, compares, logic, multiplies, packs and
 * unpacks, and the shifts by a register/memory count. Returns false for an
 * op2 that is not one of them.
 */
export function mmxBinary(op2: number, dHi: number, dLo: number, sHi: number, sLo: number, out: Mm64): boolean {
  const lo = laneOp(op2);
  if (lo >= 0) {
    const kind = lo >>> 8, size = lo & 0xff;
    out.hi = lanes32(kind, size, dHi, sHi);
    out.lo = lanes32(kind, size, dLo, sLo);
    return true;
  }
  switch (op2) {
    case 0xdb: out.hi = dHi & sHi; out.lo = dLo & sLo; return true; // PAND
    case 0xdf: out.hi = ~dHi & sHi; out.lo = ~dLo & sLo; return true; // PANDN
    case 0xeb: out.hi = dHi | sHi; out.lo = dLo | sLo; return true; // POR
    case 0xef: out.hi = dHi ^ sHi; out.lo = dLo ^ sLo; return true; // PXOR
    case 0xf5: { // PMADDWD: pairs of signed word products summed into dwords
      out.lo = maddPair(dLo, sLo) | 0; // the one overflow case (all four -32768) wraps to 0x80000000 as on hardware
      out.hi = maddPair(dHi, sHi) | 0;
      return true;
    }
    case 0x63: out.lo = packWords(dHi, dLo, satS8); out.hi = packWords(sHi, sLo, satS8); return true; // PACKSSWB
    case 0x67: out.lo = packWords(dHi, dLo, satU8); out.hi = packWords(sHi, sLo, satU8); return true; // PACKUSWB
    case 0x6b: // PACKSSDW
      out.lo = (satS16(dLo) & 0xffff) | (satS16(dHi) << 16);
      out.hi = (satS16(sLo) & 0xffff) | (satS16(sHi) << 16);
      return true;
    case 0x60: interleave(dLo, sLo, 8, out); return true; // PUNPCKLBW
    case 0x61: interleave(dLo, sLo, 16, out); return true; // PUNPCKLWD
    case 0x62: interleave(dLo, sLo, 32, out); return true; // PUNPCKLDQ
    case 0x68: interleave(dHi, sHi, 8, out); return true; // PUNPCKHBW
    case 0x69: interleave(dHi, sHi, 16, out); return true; // PUNPCKHWD
    case 0x6a: interleave(dHi, sHi, 32, out); return true; // PUNPCKHDQ
    case 0xd1: mmxShift(2, 16, dHi, dLo, sHi, sLo, out); return true; // PSRLW
    case 0xd2: mmxShift(2, 32, dHi, dLo, sHi, sLo, out); return true; // PSRLD
    case 0xd3: mmxShift(2, 64, dHi, dLo, sHi, sLo, out); return true; // PSRLQ
    case 0xe1: mmxShift(4, 16, dHi, dLo, sHi, sLo, out); return true; // PSRAW
    case 0xe2: mmxShift(4, 32, dHi, dLo, sHi, sLo, out); return true; // PSRAD
    case 0xf1: mmxShift(6, 16, dHi, dLo, sHi, sLo, out); return true; // PSLLW
    case 0xf2: mmxShift(6, 32, dHi, dLo, sHi, sLo, out); return true; // PSLLD
    case 0xf3: mmxShift(6, 64, dHi, dLo, sHi, sLo, out); return true; // PSLLQ
    default: return false;
  }
}

/** the ops that read only the low 32 bits of a memory source (PUNPCKL*: mm, mm/m32) */
export function mmxReadsM32(op2: number): boolean {
  return op2 >= 0x60 && op2 <= 0x62;
}
