/**
 * The SSE/SSE2 lane operations (src/cpu/sse/float.ts) against results
 * recorded on a real SSE unit (test/cpu/sse-ref/gen.c): result bits, MXCSR
 * flags, the fault decision for unmasked exceptions and the EFLAGS of
 * (U)COMISS/SD, in every rounding mode with FTZ and DAZ on and off.
 */
import { describe, expect, it } from 'vitest';
import { SSE_CASES } from './sse-ref/reference.js';
import {
  CVT_DQ2PD, CVT_DQ2PS, CVT_PD2DQ, CVT_PD2PS, CVT_PS2DQ, CVT_PS2PD, CVT_SD2SS, CVT_SS2SD, CVT_TPD2DQ, CVT_TPS2DQ,
  FMT_PD, FMT_PS, FMT_SD, FMT_SS, OP_ADD, OP_DIV, OP_MAX, OP_MIN, OP_MUL, OP_SQRT, OP_SUB, SseFloat,
} from '../../src/cpu/sse/float.js';

const FMT: Record<string, number> = { ss: FMT_SS, ps: FMT_PS, sd: FMT_SD, pd: FMT_PD };
const ARITH: Record<string, number> = { add: OP_ADD, sub: OP_SUB, mul: OP_MUL, div: OP_DIV, min: OP_MIN, max: OP_MAX, sqrt: OP_SQRT };
const CVT: Record<string, number> = {
  cvtss2sd: CVT_SS2SD, cvtsd2ss: CVT_SD2SS, cvtps2pd: CVT_PS2PD, cvtpd2ps: CVT_PD2PS, cvtdq2ps: CVT_DQ2PS, cvtps2dq: CVT_PS2DQ,
  cvttps2dq: CVT_TPS2DQ, cvtdq2pd: CVT_DQ2PD, cvtpd2dq: CVT_PD2DQ, cvttpd2dq: CVT_TPD2DQ,
};
/** what the generator puts above the low lane of the scalar forms' operands */
const A_UPPER = [0, 0x5a5a5a5a, 0x3c3c3c3c, 0xc3c3c3c3 | 0];
const B_UPPER = [0, 0x11111111, 0x22222222, 0x33333333];

/** hex, most significant dword first, into little-endian dwords over `base` */
function reg(hex: string, base: number[]): Int32Array {
  const r = Int32Array.from(hex.length === 32 ? [0, 0, 0, 0] : base);
  const n = hex.length / 8;
  for (let i = 0; i < n; i++) r[i] = parseInt(hex.slice(hex.length - 8 * (i + 1), hex.length - 8 * i), 16) | 0;
  return r;
}
const hexOf = (r: Int32Array, words: number): string => {
  let s = '';
  for (let i = words - 1; i >= 0; i--) s += (r[i]! >>> 0).toString(16).padStart(8, '0');
  return s;
};

interface Outcome { r: string; flags: number; fault: number; eflags: number; rest: string }

function runCase(sse: SseFloat, line: string): { want: Outcome; got: Outcome } {
  const [op, mxHex, a, b, r, fl, fault, efl] = line.split(' ') as [string, string, string, string, string, string, string, string];
  const mx = parseInt(mxHex, 16);
  const dst = a === '-' ? Int32Array.from(A_UPPER) : reg(a, A_UPPER);
  const before = dst.slice();
  const src = reg(b, B_UPPER);
  let m: RegExpMatchArray | null;
  let got = '-';
  const words = r === '-' ? 0 : r.length / 8;
  if ((m = /^(add|sub|mul|div|sqrt|min|max)(ss|sd|ps|pd)$/.exec(op))) sse.arith(ARITH[m[1]!]!, FMT[m[2]!]!, mx, dst, src);
  else if ((m = /^cmp(ss|sd|ps|pd)(\d)$/.exec(op))) sse.cmp(Number(m[2]), FMT[m[1]!]!, mx, dst, src);
  else if ((m = /^(u?)comi(ss|sd)$/.exec(op))) sse.comi(m[2] === 'sd', m[1] === '', mx, dst, src);
  else if ((m = /^cvt(t?)s([sd])2si$/.exec(op))) {
    sse.int = 0xaaaaaaaa | 0;
    sse.cvtToInt(m[2] === 'd', m[1] === 't', mx, src);
    if (!sse.fault) got = (sse.int >>> 0).toString(16).padStart(8, '0');
  } else if ((m = /^cvtsi2s([sd])$/.exec(op))) sse.cvtFromInt(m[1] === 'd', mx, dst, parseInt(b, 16) | 0);
  else if (CVT[op] !== undefined) sse.cvt(CVT[op]!, mx, dst, src);
  else throw new Error(`unknown op ${op}`);
  if (!/2si$/.test(op) && words && !sse.fault) got = hexOf(dst, words);
  const isComi = /comi/.test(op);
  const rest = sse.fault ? hexOf(dst, 4) : hexOf(dst, 4).slice(0, 32 - 8 * (/2si$/.test(op) ? 4 : words));
  const wantRest = sse.fault ? hexOf(before, 4) : hexOf(before, 4).slice(0, 32 - 8 * (/2si$/.test(op) ? 4 : words));
  return {
    want: { r, flags: parseInt(fl, 16), fault: Number(fault), eflags: parseInt(efl, 16), rest: wantRest },
    got: {
      r: got, flags: sse.flags, fault: sse.fault ? 1 : 0,
      eflags: isComi && !sse.fault ? ((sse.eflags & 0x40) >>> 4) | ((sse.eflags & 4) >>> 1) | (sse.eflags & 1) : 0,
      rest,
    },
  };
}

describe('do the SSE lane operations match a real SSE unit?', () => {
  const byOp = new Map<string, string[]>();
  for (const line of SSE_CASES) {
    const op = line.slice(0, line.indexOf(' '));
    if (!byOp.has(op)) byOp.set(op, []);
    byOp.get(op)!.push(line);
  }
  const sse = new SseFloat();
  for (const [op, lines] of byOp) {
    it(`does ${op} give the hardware's result, flags and fault in all ${lines.length} recorded cases?`, () => {
      const bad: string[] = [];
      for (const line of lines) {
        const { want, got } = runCase(sse, line);
        if (JSON.stringify(want) !== JSON.stringify(got)) bad.push(`${line}\n   got ${JSON.stringify(got)}\n  want ${JSON.stringify(want)}`);
      }
      expect(bad.length + '\n' + bad.slice(0, 4).join('\n')).toBe('0\n');
    });
  }
});

// ---- the rules one at a time ----

const MX = 0x1f80; // all masked, round to nearest
const RC_UP = 2 << 13, RC_DOWN = 1 << 13, RC_ZERO = 3 << 13;
const unmask = (mx: number, flag: number): number => mx & ~(flag << 7);
const IE = 1, DE = 2, ZE = 4, OE = 8, UE = 0x10, PE = 0x20, DAZ = 0x40, FTZ = 0x8000;

/** runs a scalar or packed single operation; returns [lanes as unsigned hex, flags, fault] */
function ps(op: number, fmt: number, mx: number, a: number[], b: number[]): [string[], number, boolean] {
  const sse = new SseFloat();
  const dst = Int32Array.from([...a, 0, 0, 0, 0].slice(0, 4)), src = Int32Array.from([...b, 0, 0, 0, 0].slice(0, 4));
  sse.arith(op, fmt, mx, dst, src);
  return [Array.from(dst, (x) => (x >>> 0).toString(16)), sse.flags, sse.fault];
}
const ss = (op: number, mx: number, a: number, b: number): [string, number, boolean] => {
  const [r, f, fault] = ps(op, FMT_SS, mx, [a], [b]);
  return [r[0]!, f, fault];
};

describe('the SSE rules, case by case', () => {
  it('does a NaN in the first source win over one in the second, quieted, with IE for any SNaN? (SDM vol. 1, 4.8.3.5, table 4-7)', () => {
    expect(ss(OP_ADD, MX, 0x7fc00001, 0x7f800002)).toEqual(['7fc00001', IE, false]); // QNaN, SNaN: the first, IE
    expect(ss(OP_ADD, MX, 0xff800003, 0x7fc00004)).toEqual(['ffc00003', IE, false]); // SNaN first: quieted
    expect(ss(OP_MUL, MX, 0x3f800000, 0x7f800005)).toEqual(['7fc00005', IE, false]); // the only NaN
    expect(ss(OP_SUB, MX, 0x7fc00006, 0x3f800000)).toEqual(['7fc00006', 0, false]); // QNaN alone: no exception
  });
  it('do invalid operations give the QNaN floating-point indefinite? (SDM vol. 1, 4.8.3.7, 4.9.1.2)', () => {
    expect(ss(OP_SUB, MX, 0x7f800000, 0x7f800000)).toEqual(['ffc00000', IE, false]); // inf - inf
    expect(ss(OP_MUL, MX, 0x00000000, 0xff800000)).toEqual(['ffc00000', IE, false]); // 0 * inf
    expect(ss(OP_DIV, MX, 0x80000000, 0x00000000)).toEqual(['ffc00000', IE, false]); // 0 / 0
    expect(ss(OP_SQRT, MX, 0, 0xbf800000)).toEqual(['ffc00000', IE, false]); // sqrt(-1)
    expect(ss(OP_SQRT, MX, 0, 0x80000000)).toEqual(['80000000', 0, false]); // sqrt(-0) = -0
    const [r, f] = ps(OP_DIV, FMT_PD, MX, [0, 0, 0, 0], [0, 0, 0, 0x3ff00000]);
    expect([r[1], r[0], r[3], f]).toEqual(['fff80000', '0', '0', IE]); // 0/0 indefinite, 0/1 = +0
  });
  it('does division of a finite nonzero value by zero give infinity with ZE? (SDM vol. 1, 4.9.1.3)', () => {
    expect(ss(OP_DIV, MX, 0xbf800000, 0x00000000)).toEqual(['ff800000', ZE, false]);
    expect(ss(OP_DIV, unmask(MX, ZE), 0xbf800000, 0x00000000)).toEqual(['bf800000', ZE, true]); // unmasked: dst unchanged
  });
  it('do MINSS/MAXSS return the second source when either is NaN or both are zero? (SDM vol. 2, MINSS, MAXSS)', () => {
    expect(ss(OP_MIN, MX, 0x7fc00000, 0x3f800000)).toEqual(['3f800000', IE, false]); // any NaN is invalid
    expect(ss(OP_MAX, MX, 0x3f800000, 0x7f800001)).toEqual(['7f800001', IE, false]); // the SNaN as it is
    expect(ss(OP_MIN, MX, 0x80000000, 0x00000000)).toEqual(['0', 0, false]); // -0, +0: the second
    expect(ss(OP_MAX, MX, 0x00000000, 0x80000000)).toEqual(['80000000', 0, false]);
    expect(ss(OP_MIN, MX, 0xbf800000, 0x3f800000)).toEqual(['bf800000', 0, false]);
  });
  it('do the compare predicates signal on QNaN only for LT, LE, NLT, NLE? (SDM vol. 2, CMPPS, table 3-7)', () => {
    const cmp = (pred: number, a: number, b: number): [string, number] => {
      const sse = new SseFloat();
      const dst = Int32Array.of(a, 0, 0, 0);
      sse.cmp(pred, FMT_SS, MX, dst, Int32Array.of(b, 0, 0, 0));
      return [(dst[0]! >>> 0).toString(16), sse.flags];
    };
    const q = 0x7fc00000, one = 0x3f800000;
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((p) => cmp(p, q, one))).toEqual([
      ['0', 0], ['0', IE], ['0', IE], ['ffffffff', 0], ['ffffffff', 0], ['ffffffff', IE], ['ffffffff', IE], ['0', 0]]);
    expect(cmp(0, 0x7f800001, one)).toEqual(['0', IE]); // an SNaN signals for every predicate
    expect(cmp(2, 0x80000000, 0)).toEqual(['ffffffff', 0]); // -0 <= +0
    expect(cmp(1, 0x80000000, 0)).toEqual(['0', 0]);
  });
  it('does COMISS signal on any NaN and UCOMISS on an SNaN only, both setting ZF PF CF? (SDM vol. 2, COMISS, UCOMISS)', () => {
    const comi = (signalling: boolean, a: number, b: number, mx = MX): [number, number, boolean] => {
      const sse = new SseFloat();
      sse.comi(false, signalling, mx, Int32Array.of(a, 0, 0, 0), Int32Array.of(b, 0, 0, 0));
      return [sse.eflags, sse.flags, sse.fault];
    };
    expect(comi(true, 0x7fc00000, 0)).toEqual([0x45, IE, false]);
    expect(comi(false, 0x7fc00000, 0)).toEqual([0x45, 0, false]);
    expect(comi(false, 0x7f800001, 0)).toEqual([0x45, IE, false]);
    expect(comi(false, 0x7fc00000, 0, unmask(MX, IE))[1]).toBe(0); // UCOMISS QNaN: no fault even unmasked
    expect(comi(true, 0x7fc00000, 0, unmask(MX, IE)).slice(1)).toEqual([IE, true]);
    expect(comi(true, 0xbf800000, 0)).toEqual([0x01, 0, false]); // less: CF
    expect(comi(true, 0x3f800000, 0)).toEqual([0x00, 0, false]); // greater
    expect(comi(true, 0x80000000, 0)).toEqual([0x40, 0, false]); // equal: ZF
  });
  it('do the int32 conversions round by RC, truncate for CVTT, and give the integer indefinite with IE? (SDM vol. 2, CVTSS2SI, CVTTSS2SI)', () => {
    const toInt = (trunc: boolean, mx: number, a: number): [number, number] => {
      const sse = new SseFloat();
      sse.cvtToInt(false, trunc, mx, Int32Array.of(a, 0, 0, 0));
      return [sse.int, sse.flags];
    };
    expect(toInt(false, MX, 0x40200000)).toEqual([2, PE]); // 2.5 -> 2 (nearest even)
    expect(toInt(false, MX, 0x40600000)).toEqual([4, PE]); // 3.5 -> 4
    expect(toInt(false, MX | RC_UP, 0x40066666)).toEqual([3, PE]); // 2.1 up -> 3
    expect(toInt(false, MX | RC_DOWN, 0xc0066666)).toEqual([-3, PE]);
    expect(toInt(true, MX | RC_UP, 0x403ae148)).toEqual([2, PE]); // 2.92 truncated whatever RC says
    expect(toInt(false, MX, 0x4f000000)).toEqual([-0x80000000, IE]); // 2^31: out of range, no PE
    expect(toInt(false, MX, 0xcf000000)).toEqual([-0x80000000, 0]); // -2^31 fits
    expect(toInt(true, MX, 0x7fc00000)).toEqual([-0x80000000, IE]); // NaN
  });
  it('do round-up and toward-zero change a product and overflow result? (SDM vol. 1, 4.8.4, 4.9.1.4)', () => {
    // (1 + 2^-23)^2 = 1 + 2^-22 + 2^-46: nearest and down drop the 2^-46, up keeps a unit
    expect(ss(OP_MUL, MX, 0x3f800001, 0x3f800001)).toEqual(['3f800002', PE, false]);
    expect(ss(OP_MUL, MX | RC_UP, 0x3f800001, 0x3f800001)).toEqual(['3f800003', PE, false]);
    expect(ss(OP_MUL, MX | RC_DOWN, 0xbf800001, 0x3f800001)).toEqual(['bf800003', PE, false]);
    // overflow: infinity to nearest, the largest finite toward zero, OE and PE either way
    expect(ss(OP_MUL, MX, 0x7f000000, 0x40000000)).toEqual(['7f800000', OE | PE, false]);
    expect(ss(OP_MUL, MX | RC_ZERO, 0x7f000000, 0x40000000)).toEqual(['7f7fffff', OE | PE, false]);
    // unmasked: a fault, with PE only when the result would have been inexact (recorded)
    expect(ss(OP_MUL, unmask(MX, OE), 0x7f7fffff, 0x3fc00000)).toEqual(['7f7fffff', OE | PE, true]);
    expect(ss(OP_MUL, unmask(MX, OE), 0x7f000000, 0x40000000)).toEqual(['7f000000', OE, true]);
  });
  it('is underflow flagged masked only when inexact, unmasked whenever tiny, and flushed by FTZ? (SDM vol. 1, 4.9.1.5, 10.2.3.3)', () => {
    expect(ss(OP_MUL, MX, 0x00800000, 0x3f000000)).toEqual(['400000', 0, false]); // exact denormal: no flags
    expect(ss(OP_MUL, unmask(MX, UE), 0x00800000, 0x3f000000)).toEqual(['800000', UE, true]);
    expect(ss(OP_MUL, MX, 0x00800001, 0x3f000000)).toEqual(['400000', UE | PE, false]); // inexact, to even
    expect(ss(OP_MUL, MX | FTZ, 0x00800000, 0x3f000000)).toEqual(['0', UE | PE, false]);
    expect(ss(OP_MUL, MX | FTZ, 0x80800000, 0x3f000000)).toEqual(['80000000', UE | PE, false]);
  });
  it('does DAZ read denormal sources as zero without DE? (SDM vol. 1, 10.2.3.4)', () => {
    expect(ss(OP_ADD, MX, 0x00000001, 0x3f800000)).toEqual(['3f800000', DE | PE, false]);
    expect(ss(OP_ADD, MX | DAZ, 0x00000001, 0x3f800000)).toEqual(['3f800000', 0, false]);
    expect(ss(OP_MUL, MX | DAZ, 0x80000001, 0x3f800000)).toEqual(['80000000', 0, false]);
    expect(ss(OP_ADD, unmask(MX, DE), 0x00000001, 0x3f800000)).toEqual(['1', DE, true]);
  });
  it('are all lanes evaluated before a fault, with pre-computation faults reporting no post-computation flags? (SDM vol. 1, 11.5.1)', () => {
    const one = 0x3f800000, three = 0x40400000;
    // lane 0: 1/3 inexact (PE, masked); lane 2: 1/0 (ZE, unmasked): the fault reports ZE alone
    expect(ps(OP_DIV, FMT_PS, unmask(MX, ZE), [one, one, one, one], [three, one, 0, one])).toEqual([['3f800000', '3f800000', '3f800000', '3f800000'], ZE, true]);
    // ZE masked, PE unmasked: the post-computation fault carries both, nothing written
    expect(ps(OP_DIV, FMT_PS, unmask(MX, PE), [one, one, one, one], [three, one, 0, one])).toEqual([['3f800000', '3f800000', '3f800000', '3f800000'], ZE | PE, true]);
    // all masked: every lane written, flags of all lanes
    expect(ps(OP_DIV, FMT_PS, MX, [one, one, one, one], [three, one, 0, one])).toEqual([['3eaaaaab', '3f800000', '7f800000', '3f800000'], ZE | PE, false]);
  });
  it('do the double lanes round to 53 bits exactly, where one rounding of a 64-bit result would not? (round to odd)', () => {
    // (1.5 + 2^-52) * (1 + 2^-13 + 2^-52): the part below 53 bits is just above half a unit, but rounding it to 64
    // bits first would make it an exact half and a tie to even (checked on hardware: ...c000000003)
    const [r, f] = ps(OP_MUL, FMT_SD, MX, [1, 0x3ff80000], [1, 0x3ff00080]);
    expect([r[1], r[0], f]).toEqual(['3ff800c0', '3', PE]);
  });
});
