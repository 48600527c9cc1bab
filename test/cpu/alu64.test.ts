/**
 * src/cpu/alu64.ts against a reference written here with BigInt from the
 * SDM's definitions (vol. 1, 3.4.3; vol. 2, each instruction's Operation
 * and Flags Affected), not from the module's code: the shifts and rotates
 * step one bit at a time as the SDM's pseudocode does, CF and OF are
 * compared against the exact unsigned and signed results, AF against the
 * low nibbles.
 *
 * Each case checks the result(s), which flags the operation writes
 * (`mask`), which the SDM calls undefined (`undef`), and the values of the
 * written flags. The SDM-defined flags and the values this project chose
 * for undefined ones (docs/cpu.md, "Undefined flags", the 32-bit CPU's
 * choices) are reported separately; a flag the SDM calls undefined and the
 * module leaves unchanged is not compared.
 *
 * Operands: edge values (0, 1, -1, 2^31-1, 2^31, 2^32-1, 2^32, 2^63-1,
 * -2^63, halves that differ only high or only low, values whose sum or
 * difference carries across bit 32) in every pair, every shift count 0..63
 * and masked counts above, and a few thousand seeded random cases per
 * operation. Then a cross-check of 32-bit-compatible cases against the
 * 32-bit ALU (src/cpu/alu.ts) on a real Cpu.
 */
import { describe, expect, it } from 'vitest';
import * as A from '../../src/cpu/alu64.js';
import { alu, dec, inc, MULHI, mulu32, neg } from '../../src/cpu/alu.js';
import { F_AF, F_ARITH, F_CF, F_OF, F_PF, F_SF, F_ZF } from '../../src/cpu/constants.js';
import { LZ_ADC, LZ_ADD, LZ_DEC, LZ_INC, LZ_LOGIC, LZ_NEG, LZ_SBB, LZ_SUB } from '../../src/cpu/cpu.js';
import { Machine } from '../../src/machine/machine.js';
import { Rng } from '../mmu/rng.js';

// ---- BigInt helpers ----

const M64 = (1n << 64n) - 1n;
const MAX = (1n << 63n) - 1n;
const MIN = -(1n << 63n);
const u64 = (x: bigint): bigint => BigInt.asUintN(64, x);
const s64 = (x: bigint): bigint => BigInt.asIntN(64, x);
const lo = (x: bigint): number => Number(BigInt.asIntN(32, x));
const hi = (x: bigint): number => Number(BigInt.asIntN(32, x >> 32n));
const big = (l: number, h: number): bigint => (BigInt(h >>> 0) << 32n) | BigInt(l >>> 0);
const bit = (x: bigint, i: number | bigint): number => Number((u64(x) >> BigInt(i)) & 1n);
const hex = (x: bigint): string => '0x' + u64(x).toString(16).padStart(16, '0');

function pf(r: bigint): number {
  let n = 0;
  for (let b = Number(u64(r) & 0xffn); b; b >>= 1) n += b & 1;
  return n % 2 === 0 ? F_PF : 0;
}
const zf = (r: bigint): number => (u64(r) === 0n ? F_ZF : 0);
const sf = (r: bigint): number => (bit(r, 63) ? F_SF : 0);
const szp = (r: bigint): number => sf(r) | zf(r) | pf(r);
const f = (cond: boolean, flag: number): number => (cond ? flag : 0);

/** The reference's answer: results, the written flags and their values, the SDM's undefined set; null for #DE. */
interface Ref {
  r: bigint;
  r2?: bigint;
  flags: number;
  /** flags written: the SDM-defined ones plus the undefined ones the project gives a value */
  mask: number;
  undef: number;
}

// ---- the reference, from the SDM ----

function rAdd(a: bigint, b: bigint, cin: number): Ref {
  const r = u64(a + b + BigInt(cin));
  return {
    r, mask: F_ARITH, undef: 0,
    flags: f(a + b + BigInt(cin) > M64, F_CF) | f((a & 0xfn) + (b & 0xfn) + BigInt(cin) > 0xfn, F_AF) | szp(r) |
      f(s64(a) + s64(b) + BigInt(cin) > MAX || s64(a) + s64(b) + BigInt(cin) < MIN, F_OF),
  };
}

function rSub(a: bigint, b: bigint, cin: number): Ref {
  const r = u64(a - b - BigInt(cin));
  const d = s64(a) - s64(b) - BigInt(cin);
  return {
    r, mask: F_ARITH, undef: 0,
    flags: f(a < b + BigInt(cin), F_CF) | f((a & 0xfn) < (b & 0xfn) + BigInt(cin), F_AF) | szp(r) | f(d > MAX || d < MIN, F_OF),
  };
}

/** AND OR XOR TEST: CF = OF = 0, SF ZF PF from the result, AF undefined (project: 0). */
function rLogic(r: bigint): Ref {
  return { r, mask: F_ARITH, undef: F_AF, flags: szp(r) };
}

function rInc(a: bigint): Ref {
  const r = u64(a + 1n);
  return { r, mask: F_ARITH & ~F_CF, undef: 0, flags: f((a & 0xfn) === 0xfn, F_AF) | szp(r) | f(s64(a) === MAX, F_OF) };
}

function rDec(a: bigint): Ref {
  const r = u64(a - 1n);
  return { r, mask: F_ARITH & ~F_CF, undef: 0, flags: f((a & 0xfn) === 0n, F_AF) | szp(r) | f(s64(a) === MIN, F_OF) };
}

/** NEG: CF = source != 0; the others from the result of 0 - source. */
function rNeg(a: bigint): Ref {
  const r = u64(-a);
  return { r, mask: F_ARITH, undef: 0, flags: f(a !== 0n, F_CF) | f((a & 0xfn) !== 0n, F_AF) | szp(r) | f(-s64(a) > MAX, F_OF) };
}

/**
 * SAL/SHL/SHR/SAR (kind 4/5/7), stepping as the SDM's Operation does.
 * Count 0: nothing. Else CF the last bit out; SF ZF PF from the result; OF
 * for count 1 (SHL: MSB(result) XOR CF; SHR: MSB(original); SAR: 0), for
 * more undefined (project: SHL the same formula, SHR and SAR 0); AF
 * undefined (project: 0).
 */
function rShift(kind: number, a: bigint, count: number): Ref {
  const n = count & 63;
  if (n === 0) return { r: a, mask: 0, undef: 0, flags: 0 };
  let d = kind === 7 ? s64(a) : a;
  let cf = 0;
  for (let i = 0; i < n; i++) {
    if (kind === 4) { cf = bit(d, 63); d = u64(d * 2n); } else { cf = Number(d & 1n); d = kind === 7 ? d >> 1n : d / 2n; }
  }
  const r = u64(d);
  let of: number;
  if (kind === 4) of = bit(r, 63) ^ cf;
  else if (kind === 5) of = n === 1 ? bit(a, 63) : 0;
  else of = 0;
  return { r, mask: F_ARITH, undef: n === 1 ? F_AF : F_AF | F_OF, flags: f(cf === 1, F_CF) | szp(r) | f(of === 1, F_OF) };
}

/**
 * ROL/ROR/RCL/RCR (kind 0..3): the SDM's loops. For 64-bit operands the
 * count is masked to 6 bits and not reduced further (ROL/ROR: MOD 64; RCL/
 * RCR: the masked count, below 65). Count 0: nothing. CF and OF only; OF
 * defined for count 1 (ROL: MSB XOR CF after; ROR: the two top bits after;
 * RCL: MSB XOR CF after; RCR: MSB XOR CF before), undefined for more
 * (project: the same formulas).
 */
function rRotate(kind: number, a: bigint, count: number, cin: number): Ref {
  const n = count & 63;
  if (n === 0) return { r: a, mask: 0, undef: 0, flags: 0 };
  let d = a;
  let cf = cin;
  let of = 0;
  if (kind === 3) of = bit(a, 63) ^ cin;
  for (let i = 0; i < n; i++) {
    if (kind === 0) { const t = bit(d, 63); d = u64(d * 2n) + BigInt(t); cf = t; } else if (kind === 1) { const t = Number(d & 1n); d = (d / 2n) + (BigInt(t) << 63n); cf = t; } else if (kind === 2) { const t = bit(d, 63); d = u64(d * 2n) + BigInt(cf); cf = t; } else { const t = Number(d & 1n); d = (d / 2n) + (BigInt(cf) << 63n); cf = t; }
  }
  if (kind === 0) cf = Number(d & 1n);
  if (kind === 1) cf = bit(d, 63);
  if (kind === 0 || kind === 2) of = bit(d, 63) ^ cf;
  if (kind === 1) of = bit(d, 63) ^ bit(d, 62);
  return { r: d, mask: F_CF | F_OF, undef: n === 1 ? 0 : F_OF, flags: f(cf === 1, F_CF) | f(of === 1, F_OF) };
}

/**
 * SHLD/SHRD with 64-bit operands: count MOD 64; 0 does nothing. CF the
 * last bit shifted out of the destination, SF ZF PF from the result, OF
 * for count 1 set when the sign changed, undefined for more (project: the
 * same rule); AF undefined (project: 0).
 */
function rShiftDouble(left: boolean, a: bigint, b: bigint, count: number): Ref {
  const n = BigInt(count & 63);
  if (n === 0n) return { r: a, mask: 0, undef: 0, flags: 0 };
  const r = left ? u64(((a << 64n) | b) << n >> 64n) : u64(((b << 64n) | a) >> n);
  const cf = left ? bit(a, 64n - n) : bit(a, n - 1n);
  return { r, mask: F_ARITH, undef: n === 1n ? F_AF : F_AF | F_OF, flags: f(cf === 1, F_CF) | szp(r) | f(bit(r, 63) !== bit(a, 63), F_OF) };
}

/** MUL: RDX:RAX = RAX * src; CF = OF = RDX != 0; SF ZF AF PF undefined (project: SF ZF PF from RAX, AF 0). */
function rMul(a: bigint, b: bigint): Ref {
  const p = a * b;
  const r = p & M64, r2 = p >> 64n;
  return { r, r2, mask: F_ARITH, undef: F_SF | F_ZF | F_AF | F_PF, flags: f(r2 !== 0n, F_CF | F_OF) | szp(r) };
}

/** IMUL: CF = OF = the signed product does not fit in 64 bits; the rest as MUL. */
function rImul(a: bigint, b: bigint): Ref {
  const p = s64(a) * s64(b);
  const r = u64(p), r2 = u64(p >> 64n);
  return { r, r2, mask: F_ARITH, undef: F_SF | F_ZF | F_AF | F_PF, flags: f(p > MAX || p < MIN, F_CF | F_OF) | szp(r) };
}

/** DIV: #DE for a zero divisor or a quotient above 2^64 - 1; all flags undefined (project: unchanged). */
function rDiv(rax: bigint, rdx: bigint, d: bigint): Ref | null {
  const n = (rdx << 64n) | rax;
  if (d === 0n || n / d > M64) return null;
  return { r: n / d, r2: n % d, mask: 0, undef: F_ARITH, flags: 0 };
}

/** IDIV: truncating division; #DE for a zero divisor or a quotient outside the signed 64-bit range. */
function rIdiv(rax: bigint, rdx: bigint, d: bigint): Ref | null {
  const n = BigInt.asIntN(128, (rdx << 64n) | rax);
  const sd = s64(d);
  if (sd === 0n) return null;
  const q = n / sd;
  if (q > MAX || q < MIN) return null;
  return { r: u64(q), r2: u64(n % sd), mask: 0, undef: F_ARITH, flags: 0 };
}

/** BSF/BSR: zero source, ZF = 1 and the destination kept; else ZF = 0 and the index; CF OF SF AF PF undefined (project: 0, 0, from the index, 0, from the index). */
function rBsf(s: bigint, dest: bigint, reverse: boolean): Ref {
  if (s === 0n) return { r: dest, mask: F_ARITH, undef: F_ARITH & ~F_ZF, flags: F_ZF };
  let i = 0;
  if (reverse) { for (i = 63; !bit(s, i); i--); } else { for (i = 0; !bit(s, i); i++); }
  return { r: BigInt(i), mask: F_ARITH, undef: F_ARITH & ~F_ZF, flags: szp(BigInt(i)) & ~F_ZF };
}

/** BT/BTS/BTR/BTC: CF = the bit; ZF unchanged; OF SF AF PF undefined (project: unchanged). */
function rBt(kind: number, a: bigint, off: number): Ref {
  const i = BigInt(off & 63);
  const m = 1n << i;
  const r = kind === 0 ? a : kind === 1 ? a | m : kind === 2 ? a & ~m & M64 : a ^ m;
  return { r, mask: F_CF, undef: F_OF | F_SF | F_AF | F_PF, flags: f((a & m) !== 0n, F_CF) };
}

// ---- comparing ----

const o = new A.Alu64();
let failures: string[] = [];

/** Records a mismatch between the module (in `o`) and `ref`; `what` names the case. */
function check(what: string, ref: Ref, withR2 = false): void {
  const got = big(o.lo, o.hi);
  if (got !== ref.r) { failures.push(`${what}: result ${hex(got)}, want ${hex(ref.r)}`); return; }
  if (withR2 && big(o.lo2, o.hi2) !== ref.r2) { failures.push(`${what}: second result ${hex(big(o.lo2, o.hi2))}, want ${hex(ref.r2!)}`); return; }
  if (o.mask !== ref.mask) { failures.push(`${what}: writes flags ${o.mask.toString(16)}, want ${ref.mask.toString(16)}`); return; }
  if (o.undef !== ref.undef) { failures.push(`${what}: undefined flags ${o.undef.toString(16)}, want ${ref.undef.toString(16)}`); return; }
  const defined = ref.mask & ~ref.undef;
  if ((o.flags & defined) !== (ref.flags & defined)) {
    failures.push(`${what}: SDM-defined flags ${(o.flags & defined).toString(16)}, want ${(ref.flags & defined).toString(16)}`);
    return;
  }
  const chosen = ref.mask & ref.undef;
  if ((o.flags & chosen) !== (ref.flags & chosen)) {
    failures.push(`${what}: undefined flags given ${(o.flags & chosen).toString(16)}, the documented values are ${(ref.flags & chosen).toString(16)}`);
  }
}

function expectNone(): void {
  const n = failures.length;
  const shown = failures.slice(0, 8);
  failures = [];
  expect(shown, `${n} mismatches`).toEqual([]);
}

// ---- operands ----

const EDGES: bigint[] = [
  0n, 1n, 2n, 0xfn, 0x10n, 0x7fn, 0x80n, 0xffn,
  0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n, 0x100000001n, 0x17fffffffn, 0x180000000n,
  0xffffffff00000000n, 0x00000000ffffffffn, 0xfffffffeffffffffn, 0xffffffff7fffffffn, 0xffffffff80000000n,
  0x7fffffffffffffffn, 0x8000000000000000n, 0x8000000000000001n, 0x7fffffff00000000n, 0x80000000ffffffffn,
  0x1234567800000000n, 0x0000000012345678n, 0x123456789abcdef0n, 0xfedcba9876543210n, 0xaaaaaaaa55555555n,
  M64, M64 - 1n,
];

const rng = new Rng(0x64a1);
const HALVES = [0, 1, -1, 0x7fffffff, 0x80000000 | 0, 0xf, 0x10];
/** A random 64-bit value; one in four halves is an edge value, so random cases meet the boundaries too. */
function rand64(): bigint {
  const l = rng.chance(0.25) ? rng.pick(HALVES) : rng.u32() | 0;
  const h = rng.chance(0.25) ? rng.pick(HALVES) : rng.u32() | 0;
  return big(l, h);
}
const RANDOM = 3000;

function forPairs(fn: (a: bigint, b: bigint) => void): void {
  for (const a of EDGES) for (const b of EDGES) fn(a, b);
  for (let i = 0; i < RANDOM; i++) fn(rand64(), rand64());
}

const COUNTS: number[] = [];
for (let n = 0; n < 64; n++) COUNTS.push(n);
COUNTS.push(64, 65, 95, 96, 127, 128, 129, 191, 255);

// ---- tests ----

describe('alu64: ADD ADC SUB SBB CMP NEG INC DEC and the logic operations', () => {
  it('ADD, ADC (CF in 0 and 1), SUB, SBB, CMP and the lazy-flag form agree with the reference', () => {
    const kinds: [string, number, (a: bigint, b: bigint, c: number) => Ref][] = [
      ['ADD', 0, (a, b) => rAdd(a, b, 0)], ['ADC', 2, rAdd], ['SBB', 3, rSub], ['SUB', 5, (a, b) => rSub(a, b, 0)], ['CMP', 7, (a, b) => rSub(a, b, 0)],
    ];
    forPairs((a, b) => {
      for (const [name, op, ref] of kinds) {
        for (const cin of op === 2 || op === 3 ? [0, 1] : [0]) {
          const want = ref(a, b, cin);
          const what = `${name} ${hex(a)}, ${hex(b)}, cf ${cin}`;
          A.alu64(o, op, lo(a), hi(a), lo(b), hi(b), cin);
          check(what, want);
          // The lazy form, from the recorded operands and result.
          const kind = op === 0 ? LZ_ADD : op === 2 ? LZ_ADC : op === 3 ? LZ_SBB : LZ_SUB;
          const lz = A.lazyFlags64(kind, lo(a), hi(a), lo(b), hi(b), lo(want.r), hi(want.r), cin);
          if (lz !== want.flags) failures.push(`${what}: lazy flags ${lz.toString(16)}, want ${want.flags.toString(16)}`);
        }
      }
      A.add64(o, lo(a), hi(a), lo(b), hi(b)); check(`add64 ${hex(a)}, ${hex(b)}`, rAdd(a, b, 0));
      A.adc64(o, lo(a), hi(a), lo(b), hi(b), 1); check(`adc64 ${hex(a)}, ${hex(b)}, 1`, rAdd(a, b, 1));
      A.sub64(o, lo(a), hi(a), lo(b), hi(b)); check(`sub64 ${hex(a)}, ${hex(b)}`, rSub(a, b, 0));
      A.sbb64(o, lo(a), hi(a), lo(b), hi(b), 1); check(`sbb64 ${hex(a)}, ${hex(b)}, 1`, rSub(a, b, 1));
      A.cmp64(o, lo(a), hi(a), lo(b), hi(b)); check(`cmp64 ${hex(a)}, ${hex(b)}`, rSub(a, b, 0));
    });
    expectNone();
  });

  it('AND, OR, XOR, TEST (AF undefined: 0 here), NOT (no flags)', () => {
    forPairs((a, b) => {
      A.alu64(o, 4, lo(a), hi(a), lo(b), hi(b), 0); check(`AND ${hex(a)}, ${hex(b)}`, rLogic(a & b));
      A.alu64(o, 1, lo(a), hi(a), lo(b), hi(b), 0); check(`OR ${hex(a)}, ${hex(b)}`, rLogic(a | b));
      A.alu64(o, 6, lo(a), hi(a), lo(b), hi(b), 0); check(`XOR ${hex(a)}, ${hex(b)}`, rLogic(a ^ b));
      A.and64(o, lo(a), hi(a), lo(b), hi(b)); check(`and64 ${hex(a)}, ${hex(b)}`, rLogic(a & b));
      A.or64(o, lo(a), hi(a), lo(b), hi(b)); check(`or64 ${hex(a)}, ${hex(b)}`, rLogic(a | b));
      A.xor64(o, lo(a), hi(a), lo(b), hi(b)); check(`xor64 ${hex(a)}, ${hex(b)}`, rLogic(a ^ b));
      A.test64(o, lo(a), hi(a), lo(b), hi(b)); check(`TEST ${hex(a)}, ${hex(b)}`, rLogic(a & b));
      const lz = A.lazyFlags64(LZ_LOGIC, lo(a), hi(a), lo(b), hi(b), lo(a & b), hi(a & b), 0);
      if (lz !== rLogic(a & b).flags) failures.push(`lazy logic ${hex(a)}, ${hex(b)}: ${lz.toString(16)}`);
    });
    for (const a of EDGES) { A.not64(o, lo(a), hi(a)); check(`NOT ${hex(a)}`, { r: u64(~a), mask: 0, undef: 0, flags: 0 }); }
    expectNone();
  });

  it('INC and DEC leave CF; NEG sets CF for a nonzero source and OF for -2^63', () => {
    const one = (a: bigint): void => {
      A.inc64(o, lo(a), hi(a)); check(`INC ${hex(a)}`, rInc(a));
      A.dec64(o, lo(a), hi(a)); check(`DEC ${hex(a)}`, rDec(a));
      A.neg64(o, lo(a), hi(a)); check(`NEG ${hex(a)}`, rNeg(a));
      const m = F_ARITH & ~F_CF;
      const li = A.lazyFlags64(LZ_INC, lo(a), hi(a), 1, 0, lo(a + 1n), hi(a + 1n), 0) & m;
      const ld = A.lazyFlags64(LZ_DEC, lo(a), hi(a), 1, 0, lo(a - 1n), hi(a - 1n), 0) & m;
      const ln = A.lazyFlags64(LZ_NEG, 0, 0, lo(a), hi(a), lo(-a), hi(-a), 0);
      if (li !== (rInc(a).flags & m) || ld !== (rDec(a).flags & m) || ln !== rNeg(a).flags) failures.push(`lazy INC/DEC/NEG ${hex(a)}`);
    };
    for (const a of EDGES) one(a);
    for (let i = 0; i < RANDOM; i++) one(rand64());
    expectNone();
  });
});

describe('alu64: shifts and rotates', () => {
  const NAMES = ['ROL', 'ROR', 'RCL', 'RCR', 'SHL', 'SHR', 'SAL', 'SAR'];
  const ref = (op: number, a: bigint, n: number, cin: number): Ref => (op < 4 ? rRotate(op, a, n, cin) : rShift(op === 6 ? 4 : op, a, n));

  it('every group 2 operation, every count 0..63 and masked counts above, CF in 0 and 1', () => {
    const one = (op: number, a: bigint, n: number, cin: number): void => {
      A.shift64(o, op, lo(a), hi(a), n, cin);
      check(`${NAMES[op]} ${hex(a)}, ${n}, cf ${cin}`, ref(op, a, n, cin));
    };
    for (let op = 0; op < 8; op++) {
      for (const a of EDGES) for (const n of COUNTS) for (const cin of [0, 1]) one(op, a, n, cin);
      for (let i = 0; i < RANDOM; i++) one(op, rand64(), rng.below(256), rng.below(2));
    }
    // the named entry points too
    for (const a of EDGES.slice(0, 12)) {
      for (const n of [1, 31, 32, 33, 63]) {
        A.shl64(o, lo(a), hi(a), n); check(`shl64 ${hex(a)} ${n}`, ref(4, a, n, 0));
        A.shr64(o, lo(a), hi(a), n); check(`shr64 ${hex(a)} ${n}`, ref(5, a, n, 0));
        A.sar64(o, lo(a), hi(a), n); check(`sar64 ${hex(a)} ${n}`, ref(7, a, n, 0));
        A.rol64(o, lo(a), hi(a), n); check(`rol64 ${hex(a)} ${n}`, ref(0, a, n, 0));
        A.ror64(o, lo(a), hi(a), n); check(`ror64 ${hex(a)} ${n}`, ref(1, a, n, 0));
        A.rcl64(o, lo(a), hi(a), n, 1); check(`rcl64 ${hex(a)} ${n}`, ref(2, a, n, 1));
        A.rcr64(o, lo(a), hi(a), n, 1); check(`rcr64 ${hex(a)} ${n}`, ref(3, a, n, 1));
      }
    }
    expectNone();
  });

  it('SAR by 32 and more fills with the sign; SHR with zeros', () => {
    A.sar64(o, 0, 0x80000000 | 0, 32);
    expect([o.lo, o.hi]).toEqual([0x80000000 | 0, -1]);
    A.shr64(o, 0, 0x80000000 | 0, 32);
    expect([o.lo, o.hi]).toEqual([0x80000000 | 0, 0]);
  });

  it('SHLD and SHRD, every count 0..63 and masked counts above', () => {
    const one = (a: bigint, b: bigint, n: number): void => {
      A.shld64(o, lo(a), hi(a), lo(b), hi(b), n); check(`SHLD ${hex(a)}, ${hex(b)}, ${n}`, rShiftDouble(true, a, b, n));
      A.shrd64(o, lo(a), hi(a), lo(b), hi(b), n); check(`SHRD ${hex(a)}, ${hex(b)}, ${n}`, rShiftDouble(false, a, b, n));
    };
    const few = [0n, 1n, M64, 0x8000000000000000n, 0x00000000ffffffffn, 0xffffffff00000000n, 0x123456789abcdef0n, 0x7fffffffffffffffn];
    for (const a of EDGES) for (const b of few) for (const n of COUNTS) one(a, b, n);
    for (let i = 0; i < RANDOM; i++) one(rand64(), rand64(), rng.below(256));
    expectNone();
  });
});

describe('alu64: MUL and IMUL', () => {
  it('MUL: the exact 128-bit product in RDX:RAX, CF = OF = RDX != 0', () => {
    forPairs((a, b) => { A.mul64(o, lo(a), hi(a), lo(b), hi(b)); check(`MUL ${hex(a)}, ${hex(b)}`, rMul(a, b), true); });
    expectNone();
  });

  it('IMUL (one, two and three operands): the signed product, CF = OF when it does not fit in 64 bits', () => {
    forPairs((a, b) => { A.imul64(o, lo(a), hi(a), lo(b), hi(b)); check(`IMUL ${hex(a)}, ${hex(b)}`, rImul(a, b), true); });
    // 32-bit-sized operands (the fast path) and products right at the boundary
    for (let i = 0; i < RANDOM; i++) {
      const a = u64(BigInt(rng.u32() | 0)), b = u64(BigInt(rng.u32() | 0));
      A.imul64(o, lo(a), hi(a), lo(b), hi(b)); check(`IMUL ${hex(a)}, ${hex(b)}`, rImul(a, b), true);
    }
    const edge: [bigint, bigint][] = [
      [0x4000000000000000n, 2n], [u64(-0x4000000000000000n), 2n], [0x100000000n, 0x80000000n], [0x100000000n, u64(-0x80000000n)],
      [0x100000000n, 0x7fffffffn], [u64(-1n), 0x8000000000000000n], [0xb504f333n, 0xb504f334n], [0xb504f333n, 0xb504f333n],
      [0xffffffffn, 0x80000001n], [3n, 0x2aaaaaaaaaaaaaabn], [u64(-3n), 0x2aaaaaaaaaaaaaabn],
    ];
    for (const [a, b] of edge) {
      A.imul64(o, lo(a), hi(a), lo(b), hi(b)); check(`IMUL ${hex(a)}, ${hex(b)}`, rImul(a, b), true);
      A.imul64(o, lo(b), hi(b), lo(a), hi(a)); check(`IMUL ${hex(b)}, ${hex(a)}`, rImul(b, a), true);
    }
    expectNone();
  });
});

describe('alu64: DIV and IDIV', () => {
  const div = (signed: boolean, rax: bigint, rdx: bigint, d: bigint): void => {
    const what = `${signed ? 'IDIV' : 'DIV'} ${hex(rdx)}:${hex(rax)} / ${hex(d)}`;
    const want = signed ? rIdiv(rax, rdx, d) : rDiv(rax, rdx, d);
    const ok = (signed ? A.idiv64 : A.div64)(o, lo(rax), hi(rax), lo(rdx), hi(rdx), lo(d), hi(d));
    if (want === null) {
      if (ok) failures.push(`${what}: no #DE reported`);
      if (o.mask !== 0) failures.push(`${what}: #DE but flags written`);
      return;
    }
    if (!ok) { failures.push(`${what}: #DE reported, want ${hex(want.r)} r ${hex(want.r2!)}`); return; }
    check(what, want, true);
  };

  it('DIV: quotient and remainder, #DE for a zero divisor and a quotient of 2^64 or more', () => {
    const rdxs = [0n, 1n, 0xffffffffn, 0x100000000n, 0x7fffffffffffffffn, 0x8000000000000000n, M64 - 1n, M64];
    for (const rax of EDGES) for (const rdx of rdxs) for (const d of EDGES) div(false, rax, rdx, d);
    for (let i = 0; i < RANDOM; i++) {
      const d = rand64();
      // mostly RDX below the divisor, so most cases divide
      const rdx = rng.chance(0.8) && d !== 0n ? rand64() % d : rand64();
      div(false, rand64(), rdx, rng.chance(0.3) ? d & 0xffffffffn : d);
    }
    expectNone();
  });

  it('IDIV: truncating, the remainder with the dividend\'s sign, #DE for zero and every quotient out of range', () => {
    const rdxs = [0n, 1n, M64, M64 - 1n, 0x7fffffffffffffffn, 0x8000000000000000n, 0xffffffffn];
    for (const rax of EDGES) for (const rdx of rdxs) for (const d of EDGES) div(true, rax, rdx, d);
    // the dividend sign-extended from RAX (CQO) as compilers emit it
    for (const rax of EDGES) for (const d of EDGES) div(true, rax, bit(rax, 63) ? M64 : 0n, d);
    for (let i = 0; i < RANDOM; i++) {
      const rax = rand64();
      const rdx = rng.chance(0.7) ? (bit(rax, 63) ? M64 : 0n) : rand64();
      const d = rand64();
      div(true, rax, rdx, rng.chance(0.3) ? u64(BigInt((Number(d & 0xffffffffn) | 0))) : d);
    }
    expectNone();
    // the cases named in the SDM's IDIV: -2^127 / -1, -2^63 / -1, and the quotient -2^63 that fits
    expect(A.idiv64(o, 0, 0, 0, 0x80000000 | 0, -1, -1)).toBe(false);
    expect(A.idiv64(o, 0, 0x80000000 | 0, -1, -1, -1, -1)).toBe(false);
    expect(A.idiv64(o, 0, 0x80000000 | 0, -1, -1, 1, 0)).toBe(true);
    expect([o.lo, o.hi, o.lo2, o.hi2]).toEqual([0, 0x80000000 | 0, 0, 0]);
    expect(A.idiv64(o, 0, 0, 0, 0x80000000 | 0, 0, 0)).toBe(false);
  });
});

describe('alu64: bit scans, bit tests, byte swap, sign extension, addresses', () => {
  it('BSF and BSR: the index, or ZF = 1 and the destination unchanged for a zero source', () => {
    const dest = 0x1122334455667788n;
    const one = (s: bigint): void => {
      A.bsf64(o, lo(s), hi(s), lo(dest), hi(dest), false); check(`BSF ${hex(s)}`, rBsf(s, dest, false));
      A.bsf64(o, lo(s), hi(s), lo(dest), hi(dest), true); check(`BSR ${hex(s)}`, rBsf(s, dest, true));
    };
    for (const s of EDGES) one(s);
    for (let i = 0; i < 64; i++) { one(1n << BigInt(i)); one(M64 << BigInt(i) & M64); one(M64 >> BigInt(i)); }
    for (let i = 0; i < RANDOM; i++) one(rand64() >> BigInt(rng.below(64)));
    expectNone();
  });

  it('BT, BTS, BTR, BTC on a register: offset mod 64', () => {
    for (const a of EDGES) for (let off = -70; off < 200; off += 1) for (let k = 0; k < 4; k++) {
      A.bt64(o, k, lo(a), hi(a), off); check(`BT${'_SRC'[k]} ${hex(a)}, ${off}`, rBt(k, a, off));
    }
    expectNone();
  });

  it('BT with a memory operand: 8 * floor(offset / 64) bytes from the address', () => {
    const offs = [0n, 63n, 64n, -1n, -64n, -65n, MAX, MIN, 0x100000000n, -0x100000000n, 0x1234567890n];
    for (let i = 0; i < 200; i++) offs.push(s64(rand64()));
    for (const off of offs) {
      A.btDisp64(o, lo(off), hi(off));
      let q = off / 64n;
      if (q * 64n > off) q -= 1n; // floor
      expect(big(o.lo, o.hi), `offset ${off}`).toBe(u64(q * 8n));
    }
  });

  it('BSWAP, MOVSXD/CDQE, CQO', () => {
    for (const a of EDGES) {
      A.bswap64(o, lo(a), hi(a));
      let want = 0n;
      for (let i = 0n; i < 8n; i++) want |= ((a >> (8n * i)) & 0xffn) << (8n * (7n - i));
      check(`BSWAP ${hex(a)}`, { r: want, mask: 0, undef: 0, flags: 0 });
      A.movsxd64(o, lo(a));
      check(`MOVSXD ${hex(a)}`, { r: u64(BigInt.asIntN(32, a)), mask: 0, undef: 0, flags: 0 });
      A.cqo64(o, hi(a));
      check(`CQO ${hex(a)}`, { r: bit(a, 63) ? M64 : 0n, mask: 0, undef: 0, flags: 0 });
    }
    expectNone();
  });

  it('address arithmetic: RIP + disp32 and base + index * scale + disp32, wrapping mod 2^64', () => {
    const disps = [0, 1, -1, 0x7fffffff, -0x80000000, 0x1000, -0x1000];
    const one = (base: bigint, idx: bigint, scale: number, disp: number): void => {
      A.addDisp64(o, lo(base), hi(base), disp);
      if (big(o.lo, o.hi) !== u64(base + BigInt(disp))) failures.push(`RIP ${hex(base)} + ${disp}`);
      A.ea64(o, lo(base), hi(base), lo(idx), hi(idx), scale, disp);
      const want = u64(base + idx * (1n << BigInt(scale)) + BigInt(disp));
      if (big(o.lo, o.hi) !== want) failures.push(`EA ${hex(base)} + ${hex(idx)} * ${1 << scale} + ${disp}: ${hex(big(o.lo, o.hi))}, want ${hex(want)}`);
    };
    for (const base of EDGES) for (const idx of EDGES.slice(0, 20)) for (let s = 0; s < 4; s++) for (const d of disps) one(base, idx, s, d);
    for (let i = 0; i < RANDOM; i++) one(rand64(), rand64(), rng.below(4), rng.u32() | 0);
    expectNone();
  });
});

describe('alu64 agrees with the 32-bit ALU where the widths do not matter', () => {
  it('sign-extended 32-bit operands: the low half, AF and PF always; ZF and SF without signed overflow; logic: all flags', () => {
    const c = new Machine({ mode: 'naive', memory: 2 << 20 }).cpu;
    const r32 = new Rng(32);
    const vals = [0, 1, -1, 0x7fffffff, 0x80000000 | 0, 0xf, 0x10, 0xffff, 0x12345678];
    const pairs: [number, number][] = [];
    for (const a of vals) for (const b of vals) pairs.push([a, b]);
    for (let i = 0; i < 2000; i++) pairs.push([r32.u32() | 0, r32.u32() | 0]);
    const fail: string[] = [];
    for (const [a, b] of pairs) {
      for (let op = 0; op < 8; op++) {
        for (const cin of [0, 1]) {
          c.setArith(cin ? F_CF : 0, F_CF);
          const r = alu(c, op, a, b, 32);
          const f32 = c.getFlags() & F_ARITH;
          A.alu64(o, op, a, a >> 31, b, b >> 31, cin);
          const what = `op ${op} ${a}, ${b}, cf ${cin}`;
          if (o.lo !== r) fail.push(`${what}: low half`);
          if ((o.flags & (F_AF | F_PF)) !== (f32 & (F_AF | F_PF))) fail.push(`${what}: AF/PF`);
          if (op === 1 || op === 4 || op === 6) { if (o.flags !== f32) fail.push(`${what}: logic flags`); } else if (!(f32 & F_OF)) {
            if ((o.flags & (F_ZF | F_SF | F_OF)) !== (f32 & (F_ZF | F_SF))) fail.push(`${what}: ZF/SF/OF`);
            if (o.hi !== o.lo >> 31) fail.push(`${what}: high half`);
          }
          // zero-extended: SUB's borrow is the same; ADD's carry goes into the high half
          A.alu64(o, op, a, 0, b, 0, cin);
          if ((op === 3 || op === 5 || op === 7) && (o.flags & F_CF) !== (f32 & F_CF)) fail.push(`${what}: SUB/SBB CF`);
          if ((op === 0 || op === 2) && (o.hi !== (f32 & F_CF) || o.flags & F_CF)) fail.push(`${what}: ADD/ADC carry`);
        }
      }
      for (const [name, f32fn, f64fn] of [['INC', inc, A.inc64], ['DEC', dec, A.dec64]] as const) {
        const r = f32fn(c, a, 32);
        const f32 = c.getFlags() & F_ARITH;
        f64fn(o, a, a >> 31);
        if (o.lo !== r || (o.flags & (F_AF | F_PF)) !== (f32 & (F_AF | F_PF))) fail.push(`${name} ${a}`);
        if (!(f32 & F_OF) && (o.flags & (F_ZF | F_SF | F_OF)) !== (f32 & (F_ZF | F_SF))) fail.push(`${name} ${a}: ZF/SF/OF`);
      }
      const rn = neg(c, a, 32);
      const fn = c.getFlags() & F_ARITH;
      A.neg64(o, a, a >> 31);
      if (o.lo !== rn || (o.flags & (F_AF | F_PF | F_CF)) !== (fn & (F_AF | F_PF | F_CF))) fail.push(`NEG ${a}`);
      // unsigned 32 x 32: the 64-bit MUL of zero-extended operands is mulu32's pair
      const ml = mulu32(a, b);
      A.mul64(o, a, 0, b, 0);
      if (o.lo !== ml || o.hi !== MULHI || (o.lo2 | o.hi2) !== 0) fail.push(`MUL ${a}, ${b}`);
    }
    expect(fail.slice(0, 8)).toEqual([]);
  });
});
