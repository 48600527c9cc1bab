/**
 * The FPU against results recorded on a real x87 (test/cpu/fpu-ref/gen.c):
 * the exact operations must match bit for bit (result registers, status
 * word with its exception flags and condition codes, tag word, memory
 * operand, EFLAGS); the transcendentals, computed with doubles, must match
 * to double precision with the same exception flags apart from PE and C1.
 */
import { describe, expect, it } from 'vitest';
import { ARITH_CASES, TRANSCENDENTAL_CASES } from './fpu-ref/reference.js';
import { FakeHost, m } from './fpu-fake-host.js';
import { Fpu } from '../../src/cpu/fpu.js';

const CW_AT = 0x100, A_AT = 0x200, B_AT = 0x210, MEM_AT = 0x300, SAVE_AT = 0x400;

/** encodings of the instruction under test: [opcode, modrm]; memory forms use MEM_AT */
const OPS: Record<string, [number, number, boolean?]> = {
  fadd: [0xd8, 0xc1], fsub: [0xd8, 0xe1], fsubr: [0xd8, 0xe9], fmul: [0xd8, 0xc9], fdiv: [0xd8, 0xf1], fdivr: [0xd8, 0xf9],
  fsqrt: [0xd9, 0xfa], fprem: [0xd9, 0xf8], fprem1: [0xd9, 0xf5], frndint: [0xd9, 0xfc], fscale: [0xd9, 0xfd], fxtract: [0xd9, 0xf4],
  fcom: [0xd8, 0xd1], fucom: [0xdd, 0xe1], fcomi: [0xdb, 0xf1], fucomi: [0xdb, 0xe9],
  fst32: [0xd9, m(3), true], fst64: [0xdd, m(3), true], fist16: [0xdf, m(3), true], fist32: [0xdb, m(3), true],
  fist64: [0xdf, m(7), true], fbstp: [0xdf, m(6), true], fxam: [0xd9, 0xe5],
  fsin: [0xd9, 0xfe], fcos: [0xd9, 0xff], fptan: [0xd9, 0xf2], fsincos: [0xd9, 0xfb], fpatan: [0xd9, 0xf3],
  f2xm1: [0xd9, 0xf0], fyl2x: [0xd9, 0xf1], fyl2xp1: [0xd9, 0xf9],
};

interface Outcome { sw: number; tw: number; st0: string; st1: string; mem: string; eflags: number }

function runCase(line: string): { want: Outcome; got: Outcome; op: string } {
  const [op, cw, a, b, sw, tw, st0, st1, mem, fl] = line.split(' ') as [string, string, string, string, string, string, string, string, string, string];
  const host = new FakeHost();
  const fpu = new Fpu(host);
  host.put16(CW_AT, parseInt(cw, 16));
  host.put80(A_AT, a);
  host.put80(B_AT, b);
  host.mem.fill(0xaa, MEM_AT, MEM_AT + 16);
  fpu.exec(0xdb, 0xe3, 0, 0); // FNINIT
  fpu.exec(0xd9, m(5), 3, CW_AT); // FLDCW
  fpu.exec(0xdb, m(5), 3, B_AT); // FLD m80 b
  fpu.exec(0xdb, m(5), 3, A_AT); // FLD m80 a
  const [opc, modrm] = OPS[op]!;
  host.eflags = 0x2;
  fpu.exec(opc, modrm, 3, MEM_AT);
  fpu.exec(0xdd, m(6), 3, SAVE_AT); // FNSAVE (32-bit protected layout)
  const got: Outcome = {
    sw: host.get16(SAVE_AT + 4), tw: host.get16(SAVE_AT + 8),
    st0: host.get80(SAVE_AT + 28), st1: host.get80(SAVE_AT + 38), mem: host.get80(MEM_AT), eflags: host.eflags & 0xd5,
  };
  const want: Outcome = { sw: parseInt(sw, 16), tw: parseInt(tw, 16), st0, st1, mem, eflags: parseInt(fl, 16) };
  // registers tagged empty hold stale contents on both sides: not compared
  const wtop = (want.sw >>> 11) & 7;
  const tag = (i: number): number => (want.tw >>> (2 * ((wtop + i) & 7))) & 3;
  if (tag(0) === 3) { want.st0 = '-'; got.st0 = '-'; }
  if (tag(1) === 3) { want.st1 = '-'; got.st1 = '-'; }
  if (!op.startsWith('fcomi') && !op.startsWith('fucomi')) { want.eflags = 0; got.eflags = 0; }
  return { want, got, op };
}

/** an 80-bit hex value as a double (for the tolerant comparisons) */
function toNumber(hex: string): number {
  const se = parseInt(hex.slice(0, 4), 16);
  const sig = BigInt('0x' + hex.slice(4));
  const e = se & 0x7fff;
  const s = se & 0x8000 ? -1 : 1;
  if (e === 0x7fff) return sig === 1n << 63n ? s * Infinity : NaN;
  return s * Number(sig) * 2 ** ((e === 0 ? 1 : e) - 16383 - 63);
}

describe('does the FPU match a real x87 on the exactly-rounded instructions?', () => {
  const byOp = new Map<string, string[]>();
  for (const line of ARITH_CASES) {
    const op = line.slice(0, line.indexOf(' '));
    if (!byOp.has(op)) byOp.set(op, []);
    byOp.get(op)!.push(line);
  }
  for (const [op, lines] of byOp) {
    it(`does ${op} give the hardware's result bits, flags and tags in all ${lines.length} recorded cases?`, () => {
      const bad: string[] = [];
      for (const line of lines) {
        const { want, got } = runCase(line);
        if (JSON.stringify(want) !== JSON.stringify(got)) bad.push(`${line}\n   got ${JSON.stringify(got)}\n  want ${JSON.stringify(want)}`);
      }
      expect(bad.slice(0, 5).join('\n')).toBe('');
    });
  }
});

describe('do the transcendental instructions match a real x87 to double precision?', () => {
  const byOp = new Map<string, string[]>();
  for (const line of TRANSCENDENTAL_CASES) {
    const op = line.slice(0, line.indexOf(' '));
    if (!byOp.has(op)) byOp.set(op, []);
    byOp.get(op)!.push(line);
  }
  for (const [op, lines] of byOp) {
    it(`is ${op} within double precision of the hardware in all ${lines.length} recorded cases?`, () => {
      const bad: string[] = [];
      for (const line of lines) {
        const { want, got } = runCase(line);
        const a = toNumber(line.split(' ')[2]!);
        // status: everything but PE, C1 (rounding direction) must agree
        const swMask = ~(0x20 | 0x200) & 0xffff;
        let ok = (want.sw & swMask) === (got.sw & swMask) && want.tw === got.tw;
        for (const k of ['st0', 'st1'] as const) {
          if (want[k] === '-') continue;
          const w = toNumber(want[k]), g = toNumber(got[k]);
          // the hardware reduces trigonometric arguments with a 66-bit pi: allow |x| * 2^-62 besides 2^-50 relative
          const tol = Math.abs(w) * 2 ** -50 + (op.startsWith('fsin') || op.startsWith('fcos') || op === 'fptan' ? Math.abs(a) * 2 ** -62 : 0) + 1e-300;
          if (!(Math.abs(w - g) <= tol)) ok = false;
        }
        if (!ok) bad.push(`${line}\n   got ${JSON.stringify(got)}\n  want ${JSON.stringify(want)}`);
      }
      expect(bad.slice(0, 5).join('\n')).toBe('');
    });
  }
});
