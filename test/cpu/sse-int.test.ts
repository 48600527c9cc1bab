/**
 * The SSE2 integer and bit-moving XMM operations (src/cpu/sse/int.ts)
 * against results recorded on a real SSE2 unit (test/cpu/sse-ref/gen-int.c),
 * through the opcode dispatch a decoder will use, then the rules that are
 * easy to get wrong, one at a time, with the SDM vol. 2 page that states
 * them.
 */
import { describe, expect, it } from 'vitest';
import { SSE_INT_CASES } from './sse-ref/reference-int.js';
import { OP0F, OP66, SHIFT_IMM } from './sse-opcodes.js';
import {
  movdToXmm, movmskpd, movmskps, movqToXmm, pextrw, pinsrw, pmovmskb, pshufd, pshufhw, pshuflw, shufpd, shufps,
  sse2Binary, sse2ShiftImm, sseBitsBinary,
} from '../../src/cpu/sse/int.js';


/** hex, most significant dword first, into little-endian dwords */
function xmm(hex: string): Int32Array {
  const r = new Int32Array(4);
  for (let i = 0; i < hex.length / 8; i++) r[i] = parseInt(hex.slice(hex.length - 8 * (i + 1), hex.length - 8 * i), 16) | 0;
  return r;
}
const hexOf = (r: Int32Array): string => Array.from(r, (x) => (x >>> 0).toString(16).padStart(8, '0')).reverse().join('');
const hex32 = (v: number): string => (v >>> 0).toString(16).padStart(8, '0');

/** runs one recorded case; returns what the module gives in the recorded format */
function runCase(line: string): string {
  const [op, immHex, a, b] = line.split(' ') as [string, string, string, string, string];
  const imm = immHex === '-' ? 0 : parseInt(immHex, 16);
  const dst = a === '-' ? new Int32Array(4) : xmm(a);
  const src = b === '-' ? new Int32Array(4) : xmm(b);
  if (OP66[op] !== undefined) {
    if (!sse2Binary(OP66[op]!, dst, src)) throw new Error(`66 0F ${OP66[op]!.toString(16)} not dispatched`);
  } else if (OP0F[op] !== undefined) {
    if (!sseBitsBinary(OP0F[op]!, dst, src)) throw new Error(`0F ${OP0F[op]!.toString(16)} not dispatched`);
  } else if (SHIFT_IMM[op] !== undefined) {
    const [op2, reg] = SHIFT_IMM[op]!;
    if (!sse2ShiftImm(op2, reg, dst, imm)) throw new Error(`${op} not dispatched`);
  } else {
    switch (op) {
      case 'pshufd': pshufd(dst, src, imm); break;
      case 'pshuflw': pshuflw(dst, src, imm); break;
      case 'pshufhw': pshufhw(dst, src, imm); break;
      case 'shufps': shufps(dst, src, imm); break;
      case 'shufpd': shufpd(dst, src, imm); break;
      case 'pmovmskb': return hex32(pmovmskb(src));
      case 'movmskps': return hex32(movmskps(src));
      case 'movmskpd': return hex32(movmskpd(src));
      case 'pextrw': return hex32(pextrw(src, imm));
      case 'movd_from': return hex32(src[0]!);
      case 'pinsrw': pinsrw(dst, parseInt(b, 16) | 0, imm); break;
      case 'movd_to': movdToXmm(dst, parseInt(b, 16) | 0); break;
      case 'movq_m64': movqToXmm(dst, src[0]!, src[1]!); break;
      case 'movq_xmm': movqToXmm(dst, src[0]!, src[1]!); break;
      default: throw new Error(`unknown op ${op}`);
    }
  }
  return hexOf(dst);
}

describe('do the SSE2 integer operations match a real SSE2 unit?', () => {
  const byOp = new Map<string, string[]>();
  for (const line of SSE_INT_CASES) {
    const op = line.slice(0, line.indexOf(' '));
    if (!byOp.has(op)) byOp.set(op, []);
    byOp.get(op)!.push(line);
  }
  it('does the recording cover every operation of the module?', () => {
    const want = [...Object.keys(OP66), ...Object.keys(OP0F), ...Object.keys(SHIFT_IMM), 'pshufd', 'pshuflw', 'pshufhw', 'shufps',
      'shufpd', 'pmovmskb', 'movmskps', 'movmskpd', 'pextrw', 'pinsrw', 'movd_to', 'movd_from', 'movq_m64', 'movq_xmm'];
    expect([...byOp.keys()].sort()).toEqual(want.sort());
  });
  for (const [op, lines] of byOp) {
    it(`does ${op} give the hardware's result in all ${lines.length} recorded cases?`, () => {
      const bad: string[] = [];
      for (const line of lines) {
        const want = line.slice(line.lastIndexOf(' ') + 1);
        const got = runCase(line);
        if (got !== want) bad.push(`${line}\n   got ${got}`);
      }
      expect(bad.length + '\n' + bad.slice(0, 4).join('\n')).toBe('0\n');
    });
  }
});

// ---- the rules one at a time ----

/** builds a register from dwords given most significant first, as the SDM draws them */
const X = (d3: number, d2: number, d1: number, d0: number): Int32Array => Int32Array.of(d0, d1, d2, d3);
/** words 7..0, most significant first */
const W = (...w: number[]): Int32Array => X((w[0]! << 16) | w[1]!, (w[2]! << 16) | w[3]!, (w[4]! << 16) | w[5]!, (w[6]! << 16) | w[7]!);
const bin = (op2: number, a: Int32Array, b: Int32Array): string => {
  const d = a.slice();
  expect(sse2Binary(op2, d, b)).toBe(true);
  return hexOf(d);
};
const shImm = (op2: number, reg: number, a: Int32Array, imm: number): string => {
  const d = a.slice();
  expect(sse2ShiftImm(op2, reg, d, imm)).toBe(true);
  return hexOf(d);
};
/** a shift count register: the low qword hi:lo, something else in the high qword (it must be ignored) */
const count = (hi: number, lo: number): Int32Array => X(0x12345678, 0x9abcdef0, hi, lo);

describe('the SSE2 integer rules, case by case', () => {
  it('do the saturating adds and subtracts clamp instead of wrapping, signed and unsigned? (SDM vol. 2, PADDSB/PADDSW, PADDUSB/PADDUSW, PSUBSB/PSUBSW, PSUBUSB/PSUBUSW)', () => {
    const a = X(0x7f80ff00, 0x7f80ff00, 0x7fff8000, 0xffff0000), b = X(0x01ff0101, 0x80017f00, 0x00010001, 0x00010001);
    expect(bin(0xec, a, b).slice(0, 16)).toBe('7f800001ff817e00'); // PADDSB: 7F+01 = 7F, 80+FF = 80, FF+01 = 00; 7F+80 = FF, FF+7F = 7E
    expect(bin(0xdc, a, b).slice(0, 16)).toBe('80ffff01ff81ff00'); // PADDUSB: 80+FF = FF, FF+01 = FF, FF+7F = FF
    expect(bin(0xd8, a, b).slice(0, 8)).toBe('7e00fe00'); // PSUBUSB: 80-FF = 0
    expect(bin(0xe9, a, b).slice(16, 24)).toBe('7ffe8000'); // PSUBSW: 8000-1 = 8000
    expect(bin(0xdd, a, b).slice(16)).toBe('80008001ffff0001'); // PADDUSW: 7FFF+1 = 8000 (no signed clamp), FFFF+1 = FFFF
  });
  it('does a shift count above the lane width clear the lanes, the count being the whole low qword? (SDM vol. 2, PSLLW/PSLLD/PSLLQ, PSRLW/PSRLD/PSRLQ)', () => {
    const a = X(0x80000001, 0xffffffff, 0x7fff8000, 0x00010001);
    expect(bin(0xd1, a, count(0, 15))).toBe('00010000000100010000000100000000'); // each word's top bit
    expect(bin(0xd1, a, count(0, 16))).toBe('00000000000000000000000000000000'); // PSRLW by 16
    expect(bin(0xf2, a, count(0, 32))).toBe('00000000000000000000000000000000'); // PSLLD by 32
    expect(bin(0xd3, a, count(0, 63))).toBe('00000000000000010000000000000000'); // PSRLQ by 63: the top bit of each qword
    expect(bin(0xd3, a, count(0, 64))).toBe('00000000000000000000000000000000'); // PSRLQ by 64
    expect(bin(0xf3, a, count(1, 0))).toBe('00000000000000000000000000000000'); // 2^32: only the high count dword is set
    expect(bin(0xf3, a, count(0x80000000, 1))).toBe('00000000000000000000000000000000');
    expect(bin(0xf3, a, count(0, 0))).toBe(hexOf(a)); // by 0: unchanged
    // the immediate forms: imm8 as an unsigned count (SDM vol. 2, same pages, the 66 0F 71/72/73 forms)
    expect(shImm(0x71, 6, a, 16)).toBe('00000000000000000000000000000000');
    expect(shImm(0x73, 2, a, 64)).toBe('00000000000000000000000000000000');
    expect(shImm(0x72, 2, a, 0xff)).toBe('00000000000000000000000000000000');
    expect(shImm(0x73, 6, a, 32)).toBe('ffffffff000000000001000100000000');
  });
  it('do PSRAW/PSRAD fill with the sign bit, also for counts above the lane width? (SDM vol. 2, PSRAW/PSRAD: "IF COUNT > 15 THEN COUNT <- 16")', () => {
    const a = W(0x8000, 0x7fff, 0xffff, 0x0001, 0xc000, 0x4000, 0x8001, 0x0000);
    expect(bin(0xe1, a, count(0, 1))).toBe(hexOf(W(0xc000, 0x3fff, 0xffff, 0x0000, 0xe000, 0x2000, 0xc000, 0x0000)));
    expect(bin(0xe1, a, count(0, 15))).toBe(hexOf(W(0xffff, 0, 0xffff, 0, 0xffff, 0, 0xffff, 0)));
    expect(bin(0xe1, a, count(0, 16))).toBe(hexOf(W(0xffff, 0, 0xffff, 0, 0xffff, 0, 0xffff, 0)));
    expect(bin(0xe1, a, count(7, 3))).toBe(hexOf(W(0xffff, 0, 0xffff, 0, 0xffff, 0, 0xffff, 0))); // huge 64-bit count
    expect(shImm(0x71, 4, a, 200)).toBe(hexOf(W(0xffff, 0, 0xffff, 0, 0xffff, 0, 0xffff, 0)));
    const d = X(0x80000000, 0x7fffffff, 0xfffffffe, 0x40000000);
    expect(shImm(0x72, 4, d, 31)).toBe('ffffffff00000000ffffffff00000000');
    expect(shImm(0x72, 4, d, 32)).toBe('ffffffff00000000ffffffff00000000');
    expect(shImm(0x72, 4, d, 1)).toBe('c00000003fffffffffffffff20000000');
    expect(sse2ShiftImm(0x73, 4, d.slice(), 1)).toBe(false); // there is no PSRAQ: 66 0F 73 /4 is undefined
    expect(sse2ShiftImm(0x71, 3, d.slice(), 1)).toBe(false); // byte shifts exist for 73 only
  });
  it('do PSLLDQ/PSRLDQ shift by bytes, and clear the register for counts above 15? (SDM vol. 2, PSLLDQ, PSRLDQ)', () => {
    const a = X(0x0f0e0d0c, 0x0b0a0908, 0x07060504, 0x03020100);
    expect(shImm(0x73, 7, a, 1)).toBe('0e0d0c0b0a0908070605040302010000');
    expect(shImm(0x73, 3, a, 1)).toBe('000f0e0d0c0b0a090807060504030201');
    expect(shImm(0x73, 3, a, 5)).toBe('00000000000f0e0d0c0b0a0908070605');
    expect(shImm(0x73, 7, a, 15)).toBe('00' + '0'.repeat(30));
    expect(shImm(0x73, 3, a, 15)).toBe('0'.repeat(30) + '0f');
    expect(shImm(0x73, 7, a, 16)).toBe('0'.repeat(32));
    expect(shImm(0x73, 3, a, 0x80)).toBe('0'.repeat(32));
  });
  it('do the packs saturate each element to the target range, dst to the low half and src to the high half? (SDM vol. 2, PACKSSWB/PACKSSDW, PACKUSWB)', () => {
    const a = W(0x0080, 0x007f, 0xff80, 0xff7f, 0x8000, 0x7fff, 0xffff, 0x0000);
    const b = W(0x0100, 0x00ff, 0x0001, 0xfffe, 0, 0, 0, 0x0042);
    expect(bin(0x63, a, b)).toBe('7f7f01fe00000042' + '7f7f8080807fff00'); // PACKSSWB: 80h..7Fh
    expect(bin(0x67, a, b)).toBe('ffff010000000042' + '807f000000ff0000'); // PACKUSWB: the words are signed, 00h..FFh
    const c = X(0x00008000, 0x00007fff, 0xffff8000, 0xffff7fff), e = X(0x7fffffff, 0x80000000, 1, 0xffffffff);
    expect(bin(0x6b, c, e)).toBe('7fff8000' + '0001ffff' + '7fff7fff' + '80008000'); // PACKSSDW: 8000h..7FFFh
  });
  it("does PMADDWD wrap only when all four words of a dword pair are 8000h? (SDM vol. 2, PMADDWD)", () => {
    const m = W(0x8000, 0x8000, 0x8000, 0x8000, 0x8000, 0x7fff, 0xffff, 0xffff);
    const n = W(0x8000, 0x8000, 0x8000, 0x8000, 0x8000, 0x8000, 0xffff, 0xffff);
    // 2^30 + 2^30 = 2^31 wraps to 80000000h; 2^30 - 32767 * 2^15 = 2^15 fits; (-1)(-1) + (-1)(-1) = 2
    expect(bin(0xf5, m, n)).toBe('80000000' + '80000000' + '00008000' + '00000002');
  });
  it('does PSADBW put each qword sum in its low word and clear the other three words? (SDM vol. 2, PSADBW)', () => {
    const a = X(0xffffffff, 0xffffffff, 0x00000000, 0x01020304);
    const b = X(0x00000000, 0x00000000, 0x00000000, 0x04030201);
    expect(bin(0xf6, a, b)).toBe('00000000000007f8' + '0000000000000008'); // 8 * 255; 3+1+1+3
  });
  it('does PSHUFD take dword i from the source dword selected by imm bits 2i+1:2i? (SDM vol. 2, PSHUFD)', () => {
    const s = X(0x33333333, 0x22222222, 0x11111111, 0x00000000);
    const run = (f: (d: Int32Array, s: Int32Array, i: number) => void, imm: number, src = s): string => {
      const d = new Int32Array(4).fill(-1);
      f(d, src, imm);
      return hexOf(d);
    };
    expect(run(pshufd, 0xe4)).toBe(hexOf(s)); // 3 2 1 0: identity
    expect(run(pshufd, 0x1b)).toBe('00000000111111112222222233333333'); // 0 1 2 3: reversed
    expect(run(pshufd, 0x00)).toBe('00000000000000000000000000000000');
    expect(run(pshufd, 0x4e)).toBe('11111111000000003333333322222222'); // qwords swapped
    expect(run(pshufd, 0x39)).toBe('00000000333333332222222211111111'); // rotated by one dword
    const w = W(7, 6, 5, 4, 3, 2, 1, 0);
    // PSHUFLW/PSHUFHW: the same selection on four words; the other qword comes from the source (SDM vol. 2, PSHUFLW, PSHUFHW)
    expect(run(pshuflw, 0x1b, w)).toBe(hexOf(W(7, 6, 5, 4, 0, 1, 2, 3)));
    expect(run(pshufhw, 0x1b, w)).toBe(hexOf(W(4, 5, 6, 7, 3, 2, 1, 0)));
    expect(run(pshufhw, 0xff, w)).toBe(hexOf(W(7, 7, 7, 7, 3, 2, 1, 0)));
    // SHUFPS: the low two from the destination, the high two from the source; SHUFPD reads imm bits 0 and 1 only
    const d = X(0xd3, 0xd2, 0xd1, 0xd0);
    const sp = d.slice();
    shufps(sp, s, 0x1b);
    expect(hexOf(sp)).toBe(hexOf(X(0, 0x11111111, 0xd2, 0xd3)));
    const pd = d.slice();
    shufpd(pd, s, 0xff);
    expect(hexOf(pd)).toBe(hexOf(X(0x33333333, 0x22222222, 0xd3, 0xd2)));
    const pd2 = d.slice();
    shufpd(pd2, s, 0xfc);
    expect(hexOf(pd2)).toBe(hexOf(X(0x11111111, 0, 0xd1, 0xd0)));
  });
  it('do the unsigned and signed word multiplies and averages differ where they should? (SDM vol. 2, PMULHUW, PMULHW, PMULUDQ, PAVGB)', () => {
    const f = W(0xffff, 0x8000, 0x8000, 0x7fff, 0, 0, 0, 0);
    expect(bin(0xe4, f, f)).toBe(hexOf(W(0xfffe, 0x4000, 0x4000, 0x3fff, 0, 0, 0, 0))); // unsigned high halves
    expect(bin(0xe5, f, f)).toBe(hexOf(W(0x0000, 0x4000, 0x4000, 0x3fff, 0, 0, 0, 0))); // signed: (-1)(-1) = 1
    // PMULUDQ: dwords 0 and 2 only, full 64-bit products
    expect(bin(0xf4, X(0x12345678, 0xffffffff, 0x9abcdef0, 0xffffffff), X(0x0fedcba9, 0xffffffff, 0x87654321, 0x00010001)))
      .toBe('fffffffe00000001' + '00010000fffeffff');
    // PAVGB: (a + b + 1) >> 1 without losing the carry
    expect(bin(0xe0, X(-1, 0, 0, 0x00ff01fe), X(-1, 0, 0, 0x01ff00ff))).toBe('ffffffff' + '00000000' + '00000000' + '01ff01ff');
  });
  it('do PEXTRW/PINSRW use imm bits 2:0 and PMOVMSKB/MOVMSKPS/MOVMSKPD zero-extend the sign bits? (SDM vol. 2, PEXTRW, PINSRW, PMOVMSKB, MOVMSKPS, MOVMSKPD)', () => {
    const w = W(0x7777, 0x6666, 0x5555, 0x4444, 0x3333, 0x2222, 0x1111, 0x8000);
    expect(pextrw(w, 0)).toBe(0x8000); // zero-extended, not sign-extended
    expect(pextrw(w, 7)).toBe(0x7777);
    expect(pextrw(w, 0xf9)).toBe(0x1111); // 0F9h & 7 = 1
    const d = w.slice();
    pinsrw(d, 0xabcd1234, 0x0e); // word 6; the high half of the register operand is dropped
    expect(hexOf(d)).toBe(hexOf(W(0x7777, 0x1234, 0x5555, 0x4444, 0x3333, 0x2222, 0x1111, 0x8000)));
    expect(pmovmskb(X(0x80000000, 0x00800000, 0x00008000, 0x00000080))).toBe(0x8421);
    expect(pmovmskb(X(-1, -1, -1, -1))).toBe(0xffff);
    expect(movmskps(X(0x80000000, 0, 0xffffffff, 0x7fffffff))).toBe(0b1010);
    expect(movmskpd(X(0x80000000, 0, 0x7fffffff, 0xffffffff))).toBe(0b10);
  });
  it('do MOVD/MOVQ into an XMM register clear everything above the value? (SDM vol. 2, MOVD/MOVQ, MOVQ)', () => {
    const d = X(1, 2, 3, 4);
    movdToXmm(d, 0x80000000 | 0);
    expect(hexOf(d)).toBe('00000000000000000000000080000000');
    movqToXmm(d, 5, 6);
    expect(hexOf(d)).toBe('00000000000000000000000600000005');
  });
  it('does each two-operand form give the same result when the destination is also the source (PXOR xmm0, xmm0)?', () => {
    let seed = 12345;
    const next = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) | 0);
    for (let op2 = 0; op2 < 256; op2++) {
      for (const [f, small] of [[sse2Binary, false], [sse2Binary, true], [sseBitsBinary, false]] as const) {
        // with `small` the low qword is a shift count below the lane widths
        const x = small ? Int32Array.of(next() & 7, 0, next(), next()) : Int32Array.of(next(), next(), next(), next());
        const same = x.slice(), other = x.slice();
        if (!f(op2, same, same)) continue;
        f(op2, other, x.slice());
        expect(hexOf(same), `${f.name} ${op2.toString(16)}`).toBe(hexOf(other));
      }
    }
    const x = Int32Array.of(1, 2, 3, 4); // dwords 0..3
    pshufd(x, x, 0x1b); // reversed in place: dword 3 is now 1
    expect(hexOf(x)).toBe(hexOf(X(1, 2, 3, 4)));
  });
});
