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
