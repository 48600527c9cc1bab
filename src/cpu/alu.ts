/**
 * Arithmetic and logic: the eight ALU operations with lazy flags, shifts and
 * rotates, multiplication and division (exact 64-bit results without
 * BigInt), and the BCD adjustments.
 *
 * Undefined flags (SDM vol. 2 says "undefined") get fixed, documented
 * values so runs are deterministic; see docs/cpu.md.
 */
import { F_AF, F_ARITH, F_CF, F_OF, F_SF, F_ZF } from './constants.js';
import { LZ_ADC, LZ_ADD, LZ_DEC, LZ_INC, LZ_LOGIC, LZ_NEG, LZ_SBB, LZ_SUB, PARITY, type Cpu } from './cpu.js';

/** ALU operation `op` (0 ADD, 1 OR, 2 ADC, 3 SBB, 4 AND, 5 SUB, 6 XOR, 7 CMP) of a and b at `bits`; returns the result (unmasked). */
export function alu(c: Cpu, op: number, a: number, b: number, bits: number): number {
  let r: number;
  switch (op) {
    case 0: r = (a + b) | 0; c.setLazy(LZ_ADD, a, b, r, bits); return r;
    case 1: r = a | b; c.setLazy(LZ_LOGIC, a, b, r, bits); return r;
    case 2: {
      const cin = c.getCF();
      r = (a + b + cin) | 0;
      c.setLazy(LZ_ADC, a, b, r, bits);
      c.lazyCin = cin;
      return r;
    }
    case 3: {
      const cin = c.getCF();
      r = (a - b - cin) | 0;
      c.setLazy(LZ_SBB, a, b, r, bits);
      c.lazyCin = cin;
      return r;
    }
    case 4: r = a & b; c.setLazy(LZ_LOGIC, a, b, r, bits); return r;
    case 5: case 7: r = (a - b) | 0; c.setLazy(LZ_SUB, a, b, r, bits); return r;
    default: r = a ^ b; c.setLazy(LZ_LOGIC, a, b, r, bits); return r;
  }
}

export function inc(c: Cpu, a: number, bits: number): number {
  const r = (a + 1) | 0;
  c.setLazyKeepCf(LZ_INC, a, r, bits);
  return r;
}

export function dec(c: Cpu, a: number, bits: number): number {
  const r = (a - 1) | 0;
  c.setLazyKeepCf(LZ_DEC, a, r, bits);
  return r;
}

export function neg(c: Cpu, a: number, bits: number): number {
  const r = (0 - a) | 0;
  c.setLazy(LZ_NEG, 0, a, r, bits);
  return r;
}

function mask(bits: number): number {
  return bits === 32 ? -1 : (1 << bits) - 1;
}

/** ZF, SF and PF of a result, as flag bits. */
export function zsp(r: number, bits: number): number {
  const m = r & mask(bits);
  return (m === 0 ? F_ZF : 0) | ((r >>> (bits - 1)) & 1 ? F_SF : 0) | PARITY[r & 0xff]!;
}

/**
 * Group 2: ROL, ROR, RCL, RCR, SHL, SHR, SAL (=SHL), SAR by `count` (already
 * read; masked to 5 bits here, SDM vol. 2B "SAL/SAR/SHL/SHR"). A masked
 * count of 0 changes no flags. For counts above 1, OF is computed by the
 * count-1 formula and AF is cleared (both undefined in the SDM).
 */
export function shift(c: Cpu, op: number, a: number, count: number, bits: number): number {
  const m = mask(bits);
  let n = count & 31;
  if (n === 0) return a;
  a &= m;
  const msb = bits - 1;
  let r: number;
  let cf: number;
  let of: number;
  switch (op) {
    case 0: { // ROL
      const k = n % bits;
      r = k === 0 ? a : ((a << k) | (a >>> (bits - k))) & m;
      cf = r & 1;
      of = ((r >>> msb) & 1) ^ cf;
      c.setArith((cf ? F_CF : 0) | (of ? F_OF : 0), F_CF | F_OF);
      return r;
    }
    case 1: { // ROR
      const k = n % bits;
      r = k === 0 ? a : ((a >>> k) | (a << (bits - k))) & m;
      cf = (r >>> msb) & 1;
      of = cf ^ ((r >>> (msb - 1)) & 1);
      c.setArith((cf ? F_CF : 0) | (of ? F_OF : 0), F_CF | F_OF);
      return r;
    }
    case 2: { // RCL: through CF, count mod bits+1 for 8/16-bit
      if (bits < 32) n %= bits + 1;
      cf = c.getCF();
      r = a;
      for (let i = 0; i < n; i++) {
        const out = (r >>> msb) & 1;
        r = ((r << 1) | cf) & m;
        cf = out;
      }
      of = ((r >>> msb) & 1) ^ cf;
      c.setArith((cf ? F_CF : 0) | (of ? F_OF : 0), F_CF | F_OF);
      return r;
    }
    case 3: { // RCR
      if (bits < 32) n %= bits + 1;
      cf = c.getCF();
      r = a;
      of = ((r >>> msb) & 1) ^ cf;
      for (let i = 0; i < n; i++) {
        const out = r & 1;
        r = ((r >>> 1) | (cf << msb)) & m;
        cf = out;
      }
      c.setArith((cf ? F_CF : 0) | (of ? F_OF : 0), F_CF | F_OF);
      return r;
    }
    case 4: case 6: { // SHL/SAL
      r = n >= 32 ? 0 : (a << n) & m;
      cf = n <= bits ? (a >>> (bits - n)) & 1 : 0;
      of = ((r >>> msb) & 1) ^ cf;
      break;
    }
    case 5: { // SHR
      r = n >= 32 ? 0 : (a >>> n) & m;
      cf = n <= bits ? (a >>> (n - 1)) & 1 : 0;
      of = (a >>> msb) & 1;
      if (n !== 1) of = 0;
      break;
    }
    default: { // SAR
      const s = (a << (32 - bits)) >> (32 - bits);
      r = (n >= bits ? s >> (bits - 1) : s >> n) & m;
      cf = n >= bits ? (s >>> 31) & 1 : (s >> (n - 1)) & 1;
      of = 0;
    }
  }
  c.setArith((cf ? F_CF : 0) | (of ? F_OF : 0) | zsp(r, bits), F_ARITH);
  return r;
}

/**
 * SHLD/SHRD (0F A4/A5/AC/AD): shifts `a` by `count` (mod 32) filling from
 * `b`. Counts larger than the operand size leave the result undefined; here
 * the 16-bit form shifts through the 32-bit concatenation like a P6 does.
 */
export function shiftDouble(c: Cpu, left: boolean, a: number, b: number, count: number, bits: number): number {
  const n = count & 31;
  if (n === 0) return a;
  const m = mask(bits);
  let r: number;
  let cf: number;
  if (bits === 32) {
    if (left) {
      r = (a << n) | (b >>> (32 - n));
      cf = (a >>> (32 - n)) & 1;
    } else {
      r = (a >>> n) | (b << (32 - n));
      cf = (a >>> (n - 1)) & 1;
    }
  } else if (left) {
    // 16-bit with a count above 16 shifts through dest:src:dest, as a P6 does.
    a &= 0xffff;
    b &= 0xffff;
    if (n <= 16) {
      r = (a << n) | (b >>> (16 - n));
      cf = (a >>> (16 - n)) & 1;
    } else {
      r = (b << (n - 16)) | (a >>> (32 - n));
      cf = (b >>> (32 - n)) & 1;
    }
  } else {
    a &= 0xffff;
    b &= 0xffff;
    if (n <= 16) {
      r = (a >>> n) | (b << (16 - n));
      cf = (a >>> (n - 1)) & 1;
    } else {
      r = (b >>> (n - 16)) | (a << (32 - n));
      cf = (b >>> (n - 17)) & 1;
    }
  }
  r &= m;
  const of = ((r ^ a) >>> (bits - 1)) & 1;
  c.setArith((cf ? F_CF : 0) | (of ? F_OF : 0) | zsp(r, bits), F_ARITH);
  return r;
}

/** Unsigned 32x32 -> 64 multiply: returns the low half and leaves the high half in MULHI. */
export let MULHI = 0;
export function mulu32(a: number, b: number): number {
  const al = a & 0xffff, ah = a >>> 16, bl = b & 0xffff, bh = b >>> 16;
  const ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  MULHI = (hh + (lh >>> 16) + (hl >>> 16) + Math.floor(mid / 65536)) | 0;
  return ((mid << 16) | (ll & 0xffff)) | 0;
}

/** Signed 32x32 -> 64 multiply: low half returned, high half in MULHI. */
export function muls32(a: number, b: number): number {
  const lo = mulu32(a, b);
  let hi = MULHI;
  if (a < 0) hi = (hi - b) | 0;
  if (b < 0) hi = (hi - a) | 0;
  MULHI = hi;
  return lo;
}

/**
 * Unsigned 64/32 division of hi:lo by d (d != 0 and hi < d, the caller has
 * checked both): returns the quotient and leaves the remainder in DIVREM.
 * Exact with doubles: each step divides a value below 2^48.
 */
export let DIVREM = 0;
export function divu64(hi: number, lo: number, d: number): number {
  const dv = d >>> 0;
  let r = hi >>> 0;
  let t = r * 65536 + (lo >>> 16);
  const q1 = Math.floor(t / dv);
  r = t - q1 * dv;
  t = r * 65536 + (lo & 0xffff);
  const q0 = Math.floor(t / dv);
  DIVREM = (t - q0 * dv) | 0;
  return (q1 * 65536 + q0) | 0;
}

/** Flags after MUL/IMUL: CF = OF = `overflow`; SF, ZF, PF from the low result, AF cleared (undefined in the SDM). */
export function mulFlags(c: Cpu, low: number, bits: number, overflow: boolean): void {
  c.setArith((overflow ? F_CF | F_OF : 0) | zsp(low, bits), F_ARITH);
}

// ---- BCD (SDM vol. 2A, DAA/DAS/AAA/AAS/AAM/AAD) ----

export function daa(c: Cpu): void {
  const oldAl = c.reg8[0]!;
  const oldCf = c.getCF();
  let al = oldAl;
  let cf = 0;
  let af = 0;
  if ((al & 0x0f) > 9 || c.getAF()) {
    al = (al + 6) & 0xff;
    cf = oldCf | (oldAl + 6 > 0xff ? 1 : 0);
    af = 1;
  }
  if (oldAl > 0x99 || oldCf) {
    al = (al + 0x60) & 0xff;
    cf = 1;
  }
  c.reg8[0] = al;
  c.setArith((cf ? F_CF : 0) | (af ? F_AF : 0) | zsp(al, 8), F_ARITH); // OF undefined: cleared
}

export function das(c: Cpu): void {
  const oldAl = c.reg8[0]!;
  const oldCf = c.getCF();
  let al = oldAl;
  let cf = 0;
  let af = 0;
  if ((al & 0x0f) > 9 || c.getAF()) {
    al = (al - 6) & 0xff;
    cf = oldCf | (oldAl < 6 ? 1 : 0);
    af = 1;
  }
  if (oldAl > 0x99 || oldCf) {
    al = (al - 0x60) & 0xff;
    cf = 1;
  }
  c.reg8[0] = al;
  c.setArith((cf ? F_CF : 0) | (af ? F_AF : 0) | zsp(al, 8), F_ARITH);
}

export function aaa(c: Cpu): void {
  if ((c.reg8[0]! & 0x0f) > 9 || c.getAF()) {
    c.reg16[0] = (c.reg16[0]! + 0x106) & 0xffff;
    c.reg8[0] = c.reg8[0]! & 0x0f;
    c.setArith(F_AF | F_CF | zsp(c.reg8[0]!, 8), F_ARITH);
  } else {
    c.reg8[0] = c.reg8[0]! & 0x0f;
    c.setArith(zsp(c.reg8[0]!, 8), F_ARITH);
  }
}

export function aas(c: Cpu): void {
  if ((c.reg8[0]! & 0x0f) > 9 || c.getAF()) {
    c.reg16[0] = (c.reg16[0]! - 6) & 0xffff;
    c.reg8[1] = (c.reg8[1]! - 1) & 0xff;
    c.reg8[0] = c.reg8[0]! & 0x0f;
    c.setArith(F_AF | F_CF | zsp(c.reg8[0]!, 8), F_ARITH);
  } else {
    c.reg8[0] = c.reg8[0]! & 0x0f;
    c.setArith(zsp(c.reg8[0]!, 8), F_ARITH);
  }
}

/** AAM imm8: #DE when imm8 is 0. */
export function aam(c: Cpu, base: number): void {
  if (base === 0) c.trap(0);
  const al = c.reg8[0]!;
  c.reg8[1] = Math.floor(al / base);
  c.reg8[0] = al % base;
  c.setArith(zsp(c.reg8[0]!, 8), F_ARITH);
}

export function aad(c: Cpu, base: number): void {
  const al = (c.reg8[0]! + c.reg8[1]! * base) & 0xff;
  c.reg16[0] = al;
  c.setArith(zsp(al, 8), F_ARITH);
}
