/**
 * The SSE and SSE2 instructions as a guest runs them (src/cpu/ops/sse.ts,
 * decoded and executed by the CPU) against the results recorded on a real
 * SSE unit (test/cpu/sse-ref: gen.c and gen-int.c, run as their headers
 * say): every recorded case becomes a few instructions of one guest
 * program (load MXCSR and the operands, the instruction with a register or,
 * every other case, a memory source, store the result and MXCSR), and an
 * unmasked exception must raise #XM (CR4.OSXMMEXCPT=1) with the recorded
 * flags and the destination unchanged. The SSE additions to MMX (PAVGB mm,
 * PSADBW mm, PADDQ mm, ...) are checked on the low qword of the same cases.
 */
import { describe, expect, it } from 'vitest';
import { SSE_CASES } from './sse-ref/reference.js';
import { SSE_INT_CASES } from './sse-ref/reference-int.js';
import { haltedInStub, runToHalt } from './flat-machine.js';
import { OP0F, OP66, SHIFT_IMM } from './sse-opcodes.js';
import {
  CODE, DATA, EAX, HLT, bytesOf, dwordsAt, flagsToEax, ldmxcsr, loadMm, loadX, movEax, movEbx, movEdi, sse, sseMachine,
  stmxcsr, storeMm, storeR, storeX, type Rm,
} from './sse-guest.js';

/** what the generator puts above the low lane of the scalar forms' operands (as sse-float.test.ts) */
const A_UPPER = [0, 0x5a5a5a5a, 0x3c3c3c3c, 0xc3c3c3c3 | 0];
const B_UPPER = [0, 0x11111111, 0x22222222, 0x33333333];

/** hex, most significant dword first, into four little-endian dwords over `base` */
function lanes(hex: string, base: number[]): number[] {
  const r = hex.length === 32 ? [0, 0, 0, 0] : base.slice();
  for (let i = 0; i < hex.length / 8; i++) r[i] = parseInt(hex.slice(hex.length - 8 * (i + 1), hex.length - 8 * i), 16) >>> 0;
  return r.map((v) => v >>> 0);
}

/** prefix and 0F opcode of each recorded floating-point operation (SDM vol. 2, table A-3) */
const PFX: Record<string, number | null> = { ss: 0xf3, sd: 0xf2, ps: null, pd: 0x66 };
const ARITH: Record<string, number> = { add: 0x58, mul: 0x59, sub: 0x5c, min: 0x5d, div: 0x5e, max: 0x5f, sqrt: 0x51 };
const CVT: Record<string, [number | null, number]> = {
  cvtss2sd: [0xf3, 0x5a], cvtsd2ss: [0xf2, 0x5a], cvtps2pd: [null, 0x5a], cvtpd2ps: [0x66, 0x5a],
  cvtdq2ps: [null, 0x5b], cvtps2dq: [0x66, 0x5b], cvttps2dq: [0xf3, 0x5b],
  cvtdq2pd: [0xf3, 0xe6], cvtpd2dq: [0xf2, 0xe6], cvttpd2dq: [0x66, 0xe6],
};

/**
 * A case's slot at DATA + 64 i: +0 MXCSR in, +4 MXCSR out, +8 EAX out, +12
 * the vector a handler recorded, +16 operand a (result out), +32 operand
 * b, +48 EFLAGS out.
 */
const SLOT = 64;

interface FpCase { line: string; op: string; mx: number; a: number[]; b: number[]; r: string; flags: number; fault: number; eflags: number }

/** The instructions of one floating-point case (xmm0 = a, xmm1 = b or the memory operand). */
function fpCase(i: number, c: FpCase, code: number[]): void {
  const useMem = (i & 1) === 1;
  const src: Rm = useMem ? { m: 32 } : { r: 1 };
  let m: RegExpMatchArray | null;
  let op: number[];
  if ((m = /^(add|sub|mul|div|sqrt|min|max)(ss|sd|ps|pd)$/.exec(c.op))) op = sse(PFX[m[2]!]!, ARITH[m[1]!]!, 0, src);
  else if ((m = /^cmp(ss|sd|ps|pd)(\d)$/.exec(c.op))) op = sse(PFX[m[1]!]!, 0xc2, 0, src, Number(m[2]));
  else if ((m = /^(u?)comi(ss|sd)$/.exec(c.op))) op = [...sse(m[2] === 'sd' ? 0x66 : null, m[1] === 'u' ? 0x2e : 0x2f, 0, src), ...flagsToEax, ...storeR(EAX, 48)];
  else if ((m = /^cvt(t?)s([sd])2si$/.exec(c.op))) op = sse(m[2] === 'd' ? 0xf2 : 0xf3, m[1] === 't' ? 0x2c : 0x2d, EAX, src);
  else if ((m = /^cvtsi2s([sd])$/.exec(c.op))) {
    const pfx = m[1] === 'd' ? 0xf2 : 0xf3;
    op = useMem ? sse(pfx, 0x2a, 0, src) : [0x8b, 0x43, 32, ...sse(pfx, 0x2a, 0, { r: EAX })]; // mov eax, [ebx+32]
  } else if (CVT[c.op] !== undefined) op = sse(CVT[c.op]![0], CVT[c.op]![1], 0, src);
  else throw new Error(`unknown op ${c.op}`);
  const at = DATA + SLOT * i;
  const head = [...movEbx(at), ...movEax(0xaaaaaaaa), ...ldmxcsr(0), ...loadX(0, 16), ...loadX(1, 32)];
  const resume = CODE + code.length + 5 + head.length + op.length;
  code.push(...movEdi(resume), ...head, ...op, ...storeX(0, 16), ...stmxcsr(4), ...storeR(EAX, 8));
}

function parseFp(line: string): FpCase {
  const [op, mx, a, b, r, fl, fault, efl] = line.split(' ') as [string, string, string, string, string, string, string, string];
  return {
    line, op, mx: parseInt(mx, 16), a: a === '-' ? A_UPPER.map((v) => v >>> 0) : lanes(a, A_UPPER), b: lanes(b, B_UPPER), r,
    flags: parseInt(fl, 16), fault: Number(fault), eflags: parseInt(efl, 16),
  };
}

describe('do the guest\'s SSE floating-point instructions match a real SSE unit?', () => {
  const cases = SSE_CASES.map(parseFp);
  const code: number[] = [];
  const data = new Uint8Array(SLOT * cases.length);
  cases.forEach((c, i) => {
    fpCase(i, c, code);
    data.set([...bytesOf([c.mx, 0, 0, 0]), ...bytesOf(c.a), ...bytesOf(c.b)], SLOT * i);
  });
  code.push(HLT);

  it(`do all ${cases.length} recorded cases give the hardware's result, MXCSR flags, fault and EFLAGS?`, () => {
    const m = sseMachine(code, [[DATA, data]]);
    runToHalt(m, 1_000_000);
    expect(haltedInStub(m)).toBe(-1);
    const bad: string[] = [];
    cases.forEach((c, i) => {
      const s = dwordsAt(m, DATA + SLOT * i, 16);
      const toInt = /2si$/.test(c.op);
      const words = c.r === '-' || toInt ? 0 : c.r.length / 8;
      const want = c.a.slice();
      if (!c.fault && words) for (let k = 0; k < words; k++) want[k] = lanes(c.r, [0, 0, 0, 0])[k]!;
      const got = {
        vector: s[3], mxcsr: s[1], dst: s.slice(4, 8),
        eax: toInt ? s[2] : c.op === 'cvtsi2ss' || c.op === 'cvtsi2sd' ? 0 : s[2],
        eflags: /comi/.test(c.op) && !c.fault ? (((s[12]! >>> 6) & 1) << 2) | (((s[12]! >>> 2) & 1) << 1) | (s[12]! & 1) : 0,
      };
      const exp = {
        vector: c.fault ? 19 : 0, mxcsr: (c.mx | c.flags) >>> 0, dst: want,
        eax: toInt ? (c.fault ? 0xaaaaaaaa : parseInt(c.r, 16) >>> 0) : c.op === 'cvtsi2ss' || c.op === 'cvtsi2sd' ? 0 : /comi/.test(c.op) && !c.fault ? s[2] : 0xaaaaaaaa,
        eflags: c.fault ? 0 : c.eflags,
      };
      if (JSON.stringify(got) !== JSON.stringify(exp)) bad.push(`${c.line}\n   got ${JSON.stringify(got)}\n  want ${JSON.stringify(exp)}`);
    });
    expect(bad.length + '\n' + bad.slice(0, 4).join('\n')).toBe('0\n');
  });
});

/** the SSE/SSE2 additions to MMX: the same opcode without 66, on MMX registers */
const MMX_FORMS = ['pminub', 'pmaxub', 'pavgb', 'pavgw', 'pmulhuw', 'pminsw', 'pmaxsw', 'psadbw', 'paddq', 'pmuludq', 'psubq'];

interface IntCase { line: string; op: string; imm: number; a: number[]; b: number[]; r: string; mmx: boolean }

/**
 * The instructions of one integer case: xmm0 = a, xmm1 = b (or the memory
 * operand, every other case); the MMX forms with mm0 = a's low qword, mm1 =
 * b's. Returns the result's kind: the register ('x'), EAX ('r').
 */
function intCase(i: number, c: IntCase, code: number[]): void {
  const useMem = (i & 1) === 1;
  const src: Rm = useMem ? { m: 32 } : { r: 1 };
  const at = DATA + SLOT * i;
  let op: number[];
  if (c.mmx) {
    const s: Rm = useMem ? { m: 32 } : { r: 1 };
    if (c.op === 'pshuflw') op = sse(null, 0x70, 0, s, c.imm); // PSHUFW
    else if (c.op === 'pextrw') op = [...sse(null, 0xc5, EAX, { r: 1 }, c.imm), ...storeR(EAX, 8)];
    else if (c.op === 'pinsrw') op = useMem ? sse(null, 0xc4, 0, s, c.imm) : [0x8b, 0x43, 32, ...sse(null, 0xc4, 0, { r: EAX }, c.imm)];
    else if (c.op === 'pmovmskb') op = [...sse(null, 0xd7, EAX, { r: 1 }), ...storeR(EAX, 8)];
    else op = sse(null, OP66[c.op]!, 0, s);
    code.push(...movEbx(at), ...loadMm(0, 16), ...loadMm(1, 32), ...op, ...storeMm(0, 16), 0x0f, 0x77); // ...; emms
    return;
  }
  if (OP66[c.op] !== undefined) op = sse(0x66, OP66[c.op]!, 0, src);
  else if (OP0F[c.op] !== undefined) op = sse(null, OP0F[c.op]!, 0, src);
  else if (SHIFT_IMM[c.op] !== undefined) op = sse(0x66, SHIFT_IMM[c.op]![0], SHIFT_IMM[c.op]![1], { r: 0 }, c.imm);
  else {
    switch (c.op) {
      case 'pshufd': op = sse(0x66, 0x70, 0, src, c.imm); break;
      case 'pshuflw': op = sse(0xf2, 0x70, 0, src, c.imm); break;
      case 'pshufhw': op = sse(0xf3, 0x70, 0, src, c.imm); break;
      case 'shufps': op = sse(null, 0xc6, 0, src, c.imm); break;
      case 'shufpd': op = sse(0x66, 0xc6, 0, src, c.imm); break;
      case 'pmovmskb': op = [...sse(0x66, 0xd7, EAX, { r: 1 }), ...storeR(EAX, 8)]; break;
      case 'movmskps': op = [...sse(null, 0x50, EAX, { r: 1 }), ...storeR(EAX, 8)]; break;
      case 'movmskpd': op = [...sse(0x66, 0x50, EAX, { r: 1 }), ...storeR(EAX, 8)]; break;
      case 'pextrw': op = [...sse(0x66, 0xc5, EAX, { r: 1 }, c.imm), ...storeR(EAX, 8)]; break;
      case 'movd_from': op = useMem ? sse(0x66, 0x7e, 1, { m: 8 }) : [...sse(0x66, 0x7e, 1, { r: EAX }), ...storeR(EAX, 8)]; break;
      case 'pinsrw': op = useMem ? sse(0x66, 0xc4, 0, src, c.imm) : [0x8b, 0x43, 32, ...sse(0x66, 0xc4, 0, { r: EAX }, c.imm)]; break;
      case 'movd_to': op = useMem ? sse(0x66, 0x6e, 0, src) : [0x8b, 0x43, 32, ...sse(0x66, 0x6e, 0, { r: EAX })]; break;
      case 'movq_m64': op = sse(0xf3, 0x7e, 0, { m: 32 }); break;
      case 'movq_xmm': op = sse(0xf3, 0x7e, 0, { r: 1 }); break;
      default: throw new Error(`unknown op ${c.op}`);
    }
  }
  code.push(...movEbx(at), ...loadX(0, 16), ...loadX(1, 32), ...op, ...storeX(0, 16));
}

describe('do the guest\'s SSE2 integer instructions, and SSE\'s MMX additions, match a real SSE2 unit?', () => {
  const cases: IntCase[] = [];
  for (const line of SSE_INT_CASES) {
    const [op, immHex, a, b, r] = line.split(' ') as [string, string, string, string, string];
    const c = { line, op, imm: immHex === '-' ? 0 : parseInt(immHex, 16), a: a === '-' ? [0, 0, 0, 0] : lanes(a, [0, 0, 0, 0]), b: b === '-' ? [0, 0, 0, 0] : lanes(b, [0, 0, 0, 0]), r, mmx: false };
    cases.push(c);
    if (MMX_FORMS.includes(op) || op === 'pshuflw' || op === 'pmovmskb' || ((op === 'pextrw' || op === 'pinsrw') && c.imm < 4)) cases.push({ ...c, mmx: true });
  }
  const code: number[] = [];
  const data = new Uint8Array(SLOT * cases.length);
  cases.forEach((c, i) => {
    intCase(i, c, code);
    data.set([...bytesOf([0, 0, 0xeeeeeeee, 0]), ...bytesOf(c.a), ...bytesOf(c.b)], SLOT * i);
  });
  code.push(HLT);

  it(`do all ${cases.length} cases (${cases.filter((c) => c.mmx).length} of them MMX forms) give the hardware's result?`, () => {
    const m = sseMachine(code, [[DATA, data]]);
    runToHalt(m, 1_000_000);
    expect(haltedInStub(m)).toBe(-1);
    const bad: string[] = [];
    let checked = 0;
    cases.forEach((c, i) => {
      const s = dwordsAt(m, DATA + SLOT * i, 12);
      const r32 = c.r.length === 8 && !['movd_to'].includes(c.op);
      let got: string, want: string;
      if (r32) {
        got = (s[2]! >>> 0).toString(16).padStart(8, '0');
        want = c.mmx && c.op === 'pmovmskb' ? (parseInt(c.r, 16) & 0xff).toString(16).padStart(8, '0') : c.r;
      } else {
        const w = lanes(c.r, [0, 0, 0, 0]);
        const d = s.slice(4, 8);
        got = d.map((v) => v.toString(16)).join(' ');
        want = (c.mmx ? [w[0]!, w[1]!, c.a[2]!, c.a[3]!] : w).map((v) => v.toString(16)).join(' ');
      }
      checked++;
      if (s[3] !== 0 || got !== want) bad.push(`${c.mmx ? 'MMX form of ' : ''}${c.line}\n   got ${got} (vector ${s[3]})\n  want ${want}`);
    });
    expect(checked).toBe(cases.length);
    expect(bad.length + '\n' + bad.slice(0, 4).join('\n')).toBe('0\n');
  });
});
