/**
 * The x87 unit's architectural behaviour, instruction by instruction, on a
 * fake host: exact register moves, conversions, rounding control, the stack
 * and exception model, #NM/#MF/#UD, pointers, snapshots.
 */
import { describe, expect, it } from 'vitest';
import { Fpu, SW_IE, SW_DE, SW_ZE, SW_OE, SW_PE, SW_SF, SW_ES, SW_B, SW_C0, SW_C1, SW_C2, SW_C3 } from '../../src/cpu/fpu.js';
import { FakeHost, fresh, m, fld, fstp, st0, fld80, fstp80, fldcw, fstsw, trapOf, CR0_EM, CR0_TS, CR0_MP, CR0_NE } from './fpu-fake-host.js';

const IND = 'ffffc000000000000000';

describe('are register loads and stores of 80-bit values bit-exact?', () => {
  const values: [string, string][] = [
    ['normal', '3fff8000000000000000'],
    ['negative normal with all significand bits', 'c123ffffffffffffffff'],
    ['largest finite', '7ffeffffffffffffffff'],
    ['denormal', '00000123456789abcdef'],
    ['pseudo-denormal (J set, exponent 0)', '80008000000000000001'],
    ['unnormal (J clear)', '40000123456789abcdef'],
    ['+infinity', '7fff8000000000000000'],
    ['-infinity', 'ffff8000000000000000'],
    ['quiet NaN with payload', '7fffc0000000deadbeef'],
    ['signaling NaN (FLD m80 does not quiet it)', 'ffff800000000000beef'],
    ['pseudo-NaN', '7fff0000000000000001'],
    ['negative zero', '80000000000000000000'],
  ];
  for (const [name, hex] of values) {
    it(`does FLD m80 then FSTP m80 give back the ${name} unchanged, with no exception?`, () => {
      const { fpu, host } = fresh();
      fld80(fpu, host, hex);
      expect(fstp80(fpu, host)).toBe(hex);
      expect(fstsw(fpu, host) & 0x3f).toBe(0);
    });
  }

  it('does FXCH swap two registers exactly, NaN payloads included?', () => {
    const { fpu, host } = fresh();
    fld80(fpu, host, '7fff800000000000beef');
    fld80(fpu, host, '00000000000000000001');
    fpu.exec(0xd9, 0xc9, 0, 0); // FXCH ST(1)
    expect(fstp80(fpu, host)).toBe('7fff800000000000beef');
    expect(fstp80(fpu, host)).toBe('00000000000000000001');
  });
});

describe('are the memory-format conversions exact?', () => {
  it('does FLD m64 then FSTP m64 round-trip doubles, the smallest denormal included?', () => {
    const { fpu, host } = fresh();
    for (const x of [1, -2.5, Math.PI, 5e-324, -Number.MAX_VALUE, 2 ** -1022, Infinity, -0]) {
      fld(fpu, host, x);
      expect(Object.is(fstp(fpu, host), x)).toBe(true);
    }
  });

  it('does FLD of a double denormal raise the denormal flag (and a normal one not)?', () => {
    const { fpu, host } = fresh();
    fld(fpu, host, 1);
    expect(fstsw(fpu, host) & SW_DE).toBe(0);
    fld(fpu, host, 5e-324);
    expect(fstsw(fpu, host) & SW_DE).toBe(SW_DE);
  });

  it('does FLD m32 of an SNaN raise IE and load the quieted NaN?', () => {
    const { fpu, host } = fresh();
    host.put32(0x80, 0x7f800001);
    fpu.exec(0xd9, m(0), 3, 0x80);
    expect(fstsw(fpu, host) & SW_IE).toBe(SW_IE);
    expect(fstp80(fpu, host)).toBe('7fffc000010000000000');
  });

  it('does FST m32 round 1 + 2^-24 + 2^-30 to nearest, and down under RC=down?', () => {
    const { fpu, host } = fresh();
    fld(fpu, host, 1 + 2 ** -24 + 2 ** -30);
    fpu.exec(0xd9, m(2), 3, 0x80); // FST m32
    expect(host.getF32(0x80)).toBe(1 + 2 ** -23);
    expect(fstsw(fpu, host) & (SW_PE | SW_C1)).toBe(SW_PE | SW_C1); // rounded up
    fldcw(fpu, host, 0x077f); // RC = down
    fpu.exec(0xd9, m(2), 3, 0x80);
    expect(host.getF32(0x80)).toBe(1);
  });

  it('does FST m64 of a value beyond double range overflow to infinity (masked) with OE and PE?', () => {
    const { fpu, host } = fresh();
    fld80(fpu, host, '7000c000000000000000');
    fpu.exec(0xdd, m(2), 3, 0x80);
    expect(host.getF64(0x80)).toBe(Infinity);
    expect(fstsw(fpu, host) & (SW_OE | SW_PE)).toBe(SW_OE | SW_PE);
  });

  it('does an unmasked overflow on FST m64 leave memory and the stack untouched?', () => {
    const { fpu, host } = fresh();
    fldcw(fpu, host, 0x0377); // OM unmasked
    fld80(fpu, host, '7000c000000000000000');
    host.putF64(0x80, 42);
    fpu.exec(0xdd, m(3), 3, 0x80); // FSTP m64
    expect(host.getF64(0x80)).toBe(42);
    const sw = fpu.statusWord();
    expect(sw & (SW_OE | SW_ES | SW_B)).toBe(SW_OE | SW_ES | SW_B);
    expect((sw >>> 11) & 7).toBe(7); // not popped
  });
});

describe('do integer loads and stores round-trip, saturate and round as RC says?', () => {
  it('does FILD then FISTP round-trip the extremes of m16, m32 and m64?', () => {
    const { fpu, host } = fresh();
    for (const v of [0, 1, -1, 32767, -32768]) {
      host.put16(0x80, v);
      fpu.exec(0xdf, m(0), 3, 0x80); // FILD m16
      fpu.exec(0xdf, m(3), 3, 0x90); // FISTP m16
      expect((host.get16(0x90) << 16) >> 16).toBe(v);
    }
    for (const v of [2147483647, -2147483648, 123456789]) {
      host.put32(0x80, v);
      fpu.exec(0xdb, m(0), 3, 0x80);
      fpu.exec(0xdb, m(3), 3, 0x90);
      expect(host.get32(0x90) | 0).toBe(v);
    }
    for (const [lo, hi] of [[0xffffffff, 0x7fffffff], [0, 0x80000000], [0x89abcdef, 0x01234567], [0xffffffff, 0xffffffff]] as const) {
      host.put32(0x80, lo); host.put32(0x84, hi);
      fpu.exec(0xdf, m(5), 3, 0x80); // FILD m64
      fpu.exec(0xdf, m(7), 3, 0x90); // FISTP m64
      expect([host.get32(0x90), host.get32(0x94)]).toEqual([lo, hi]);
    }
    expect(fstsw(fpu, host) & 0x3f).toBe(0);
  });

  it('does FISTP m16 of 40000 store the integer indefinite 8000h and raise IE?', () => {
    const { fpu, host } = fresh();
    fld(fpu, host, 40000);
    fpu.exec(0xdf, m(3), 3, 0x90);
    expect(host.get16(0x90)).toBe(0x8000);
    expect(fstsw(fpu, host) & (SW_IE | SW_PE)).toBe(SW_IE);
  });

  it('does FISTP m32 of -2^31 - 0.4 round (nearest) to -2^31 without an exception?', () => {
    const { fpu, host } = fresh();
    fld(fpu, host, -(2 ** 31) - 0.4);
    fpu.exec(0xdb, m(3), 3, 0x90);
    expect(host.get32(0x90)).toBe(0x80000000);
    expect(fstsw(fpu, host) & SW_IE).toBe(0);
  });

  it('does FIST give 2, 2, 3, 2 for 2.5 and -2, -3, -2, -2 for -2.5 under nearest, down, up, chop?', () => {
    const { fpu, host } = fresh();
    const results: number[] = [];
    for (const x of [2.5, -2.5]) {
      for (let rc = 0; rc < 4; rc++) {
        fldcw(fpu, host, 0x037f | (rc << 10));
        fld(fpu, host, x);
        fpu.exec(0xdb, m(3), 3, 0x90);
        results.push(host.get32(0x90) | 0);
      }
    }
    expect(results).toEqual([2, 2, 3, 2, -2, -3, -2, -2]);
  });

  it('does FRNDINT of -0.3 give -0 with PE, and of 2^70 leave it alone?', () => {
    const { fpu, host } = fresh();
    fld(fpu, host, -0.3);
    fpu.exec(0xd9, 0xfc, 0, 0);
    expect(Object.is(fstp(fpu, host), -0)).toBe(true);
    expect(fstsw(fpu, host) & SW_PE).toBe(SW_PE);
    fld(fpu, host, 2 ** 70);
    fpu.exec(0xd9, 0xfc, 0, 0);
    expect(fstp(fpu, host)).toBe(2 ** 70);
  });

  it('does FBLD then FBSTP round-trip -123456789012345678, and FBSTP of 10^18 give the BCD indefinite?', () => {
    const { fpu, host } = fresh();
    const bcd = [0x78, 0x56, 0x34, 0x12, 0x90, 0x78, 0x56, 0x34, 0x12, 0x80];
    bcd.forEach((b, i) => { host.mem[0x80 + i] = b; });
    fpu.exec(0xdf, m(4), 3, 0x80); // FBLD
    expect(st0(fpu, host)).toBe(-123456789012345678);
    fpu.exec(0xdf, m(6), 3, 0xa0); // FBSTP
    expect(Array.from(host.mem.slice(0xa0, 0xaa))).toEqual(bcd);
    fld(fpu, host, 1e18);
    fpu.exec(0xdf, m(6), 3, 0xa0);
    expect(Array.from(host.mem.slice(0xa0, 0xaa))).toEqual([0, 0, 0, 0, 0, 0, 0, 0xc0, 0xff, 0xff]);
    expect(fstsw(fpu, host) & SW_IE).toBe(SW_IE);
  });
});

describe('do the arithmetic forms use the right operand order?', () => {
  /** ST0 = 8, ST1 = 2, then one instruction; returns [ST0, ST1] (or [ST0] after a pop) */
  function run(opcode: number, modrm: number): number[] {
    const { fpu, host } = fresh();
    fld(fpu, host, 2);
    fld(fpu, host, 8);
    fpu.exec(opcode, modrm, 0, 0);
    const out: number[] = [];
    while ((fpu.empty & (1 << fpu.top)) === 0) out.push(fstp(fpu, host));
    return out;
  }
  it('does D8 E1 (FSUB ST0,ST1) give 6 and D8 E9 (FSUBR ST0,ST1) give -6?', () => {
    expect(run(0xd8, 0xe1)).toEqual([6, 2]);
    expect(run(0xd8, 0xe9)).toEqual([-6, 2]);
  });
  it('does DC E9 (FSUB ST1,ST0) give ST1 = 2 - 8 and DC E1 (FSUBR ST1,ST0) give ST1 = 8 - 2?', () => {
    expect(run(0xdc, 0xe9)).toEqual([8, -6]);
    expect(run(0xdc, 0xe1)).toEqual([8, 6]);
  });
  it('do DE F9 (FDIVP) give 2/8 and DE F1 (FDIVRP) give 8/2, each after one pop?', () => {
    expect(run(0xde, 0xf9)).toEqual([0.25]);
    expect(run(0xde, 0xf1)).toEqual([4]);
  });
  it('does FIADD m16 add a negative word and FISUBR m32 compute m32 - ST0?', () => {
    const { fpu, host } = fresh();
    fld(fpu, host, 10);
    host.put16(0x80, -3);
    fpu.exec(0xde, m(0), 3, 0x80); // FIADD m16
    expect(st0(fpu, host)).toBe(7);
    host.put32(0x80, 100);
    fpu.exec(0xda, m(5), 3, 0x80); // FISUBR m32
    expect(st0(fpu, host)).toBe(93);
  });
  it('does FMUL m32 and FDIVR m64 work from memory?', () => {
    const { fpu, host } = fresh();
    fld(fpu, host, 3);
    host.putF32(0x80, 1.5);
    fpu.exec(0xd8, m(1), 3, 0x80);
    host.putF64(0x88, 9);
    fpu.exec(0xdc, m(7), 3, 0x88); // ST0 = 9 / ST0
    expect(st0(fpu, host)).toBe(2);
  });
  it('does precision control 24 bits round 1/3 to a float?', () => {
    const { fpu, host } = fresh();
    fldcw(fpu, host, 0x007f);
    fld(fpu, host, 1);
    fld(fpu, host, 3);
    fpu.exec(0xde, 0xf9, 0, 0); // FDIVP: ST1 = 1/3
    expect(fstp(fpu, host)).toBe(Math.fround(1 / 3));
  });
  it('does 0/0 give the indefinite with IE, and 1/0 give +infinity with ZE?', () => {
    const { fpu, host } = fresh();
    fld(fpu, host, 0);
    fld(fpu, host, 0);
    fpu.exec(0xde, 0xf9, 0, 0);
    expect(fstp80(fpu, host)).toBe(IND);
    expect(fstsw(fpu, host) & (SW_IE | SW_ZE)).toBe(SW_IE);
    fpu.exec(0xdb, 0xe2, 0, 0); // FNCLEX
    fld(fpu, host, 1);
    fld(fpu, host, 0);
    fpu.exec(0xde, 0xf9, 0, 0);
    expect(fstp(fpu, host)).toBe(Infinity);
    expect(fstsw(fpu, host) & (SW_IE | SW_ZE)).toBe(SW_ZE);
  });
});

describe('does the register stack signal overflow and underflow as the SDM says?', () => {
  it('does a ninth FLD give IE|SF, C1=1 and the QNaN indefinite in ST0?', () => {
    const { fpu, host } = fresh();
    for (let i = 0; i < 8; i++) fld(fpu, host, i);
    fld(fpu, host, 99);
    const sw = fstsw(fpu, host);
    expect(sw & (SW_IE | SW_SF | SW_C1)).toBe(SW_IE | SW_SF | SW_C1);
    expect(fstp80(fpu, host)).toBe(IND);
  });
  it('does FADD with an empty ST1 give IE|SF with C1=0 and the indefinite?', () => {
    const { fpu, host } = fresh();
    fld(fpu, host, 1);
    fpu.exec(0xd8, 0xc1, 0, 0);
    const sw = fstsw(fpu, host);
    expect(sw & (SW_IE | SW_SF | SW_C1)).toBe(SW_IE | SW_SF);
    expect(fstp80(fpu, host)).toBe(IND);
  });
  it('does an unmasked stack overflow leave TOP and the registers alone?', () => {
    const { fpu, host } = fresh();
    fldcw(fpu, host, 0x037e); // IM unmasked
    for (let i = 0; i < 8; i++) fld(fpu, host, i);
    fld(fpu, host, 99);
    expect((fpu.statusWord() >>> 11) & 7).toBe(0);
    expect(fpu.statusWord() & (SW_ES | SW_IE | SW_SF)).toBe(SW_ES | SW_IE | SW_SF);
    expect(trapOf(() => fld(fpu, host, 1))).toBe('MF');
  });
  it('do FINCSTP/FDECSTP move TOP without touching tags, and FFREE empty a register?', () => {
    const { fpu, host } = fresh();
    fld(fpu, host, 5);
    fpu.exec(0xd9, 0xf7, 0, 0); // FINCSTP
    expect((fpu.statusWord() >>> 11) & 7).toBe(0);
    expect(fpu.tagWord()).toBe(0x3fff); // R7 still valid
    fpu.exec(0xd9, 0xf6, 0, 0); // FDECSTP
    expect(st0(fpu, host)).toBe(5);
    fpu.exec(0xdd, 0xc0, 0, 0); // FFREE ST0
    expect(fpu.tagWord()).toBe(0xffff);
  });
});

describe('do the comparisons set the condition codes and EFLAGS?', () => {
  function fcomi(a: number, b: number, modrm = 0xf1): number {
    const { fpu, host } = fresh();
    fld(fpu, host, b);
    fld(fpu, host, a);
    host.eflags = 0x8d7; // OF SF AF set beforehand: must be cleared
    fpu.exec(0xdb, modrm, 0, 0);
    return host.eflags;
  }
  it('does FCOMI set ZF PF CF = 000 for >, 001 for <, 100 for =, 111 for unordered, clearing OF SF AF?', () => {
    expect(fcomi(2, 1)).toBe(0x2);
    expect(fcomi(1, 2)).toBe(0x3);
    expect(fcomi(-0, 0)).toBe(0x42);
    expect(fcomi(NaN, 1)).toBe(0x47);
  });
  it('does FUCOMI on a QNaN stay silent while FCOMI raises IE?', () => {
    const { fpu, host } = fresh();
    fld(fpu, host, 1);
    fld(fpu, host, NaN);
    fpu.exec(0xdb, 0xe9, 0, 0); // FUCOMI
    expect(fstsw(fpu, host) & SW_IE).toBe(0);
    fpu.exec(0xdb, 0xf1, 0, 0); // FCOMI
    expect(fstsw(fpu, host) & SW_IE).toBe(SW_IE);
  });
  it('does FCOMPP set C0 for ST0 < ST1 and pop both?', () => {
    const { fpu, host } = fresh();
    fld(fpu, host, 5);
    fld(fpu, host, 1);
    fpu.exec(0xde, 0xd9, 0, 0);
    const sw = fstsw(fpu, host);
    expect(sw & (SW_C3 | SW_C2 | SW_C0)).toBe(SW_C0);
    expect(fpu.tagWord()).toBe(0xffff);
  });
  it('does FCOMIP pop, and FTST compare with zero?', () => {
    const { fpu, host } = fresh();
    fld(fpu, host, 3);
    fld(fpu, host, 3);
    fpu.exec(0xdf, 0xf1, 0, 0); // FCOMIP
    expect(host.eflags & 0x45).toBe(0x40);
    expect((fpu.statusWord() >>> 11) & 7).toBe(7);
    fpu.exec(0xd9, 0xe4, 0, 0); // FTST: 3 > 0
    expect(fstsw(fpu, host) & (SW_C3 | SW_C2 | SW_C0)).toBe(0);
  });
  it('does FXAM classify empty, zero, denormal, infinity, NaN and normal with the sign in C1?', () => {
    const cases: [string | null, number][] = [
      [null, SW_C3 | SW_C0], ['80000000000000000000', SW_C3 | SW_C1], ['00000000000000000001', SW_C3 | SW_C2],
      ['7fff8000000000000000', SW_C2 | SW_C0], ['ffffc000000000000000', SW_C0 | SW_C1], ['3fff8000000000000000', SW_C2],
      ['3fff0000000000000000', 0],
    ];
    for (const [hex, want] of cases) {
      const { fpu, host } = fresh();
      if (hex !== null) fld80(fpu, host, hex);
      fpu.exec(0xd9, 0xe5, 0, 0);
      expect(fstsw(fpu, host) & (SW_C3 | SW_C2 | SW_C1 | SW_C0)).toBe(want);
    }
  });
  it('does FCMOVB copy only when CF is set, and FCMOVNE only when ZF is clear?', () => {
    const { fpu, host } = fresh();
    fld(fpu, host, 7);
    fld(fpu, host, 1);
    host.eflags = 0x2;
    fpu.exec(0xda, 0xc1, 0, 0); // FCMOVB ST0, ST1
    expect(st0(fpu, host)).toBe(1);
    host.eflags = 0x3;
    fpu.exec(0xda, 0xc1, 0, 0);
    expect(st0(fpu, host)).toBe(7);
    fld(fpu, host, 9);
    host.eflags = 0x42; // ZF
    fpu.exec(0xdb, 0xc9, 0, 0); // FCMOVNE ST0, ST1
    expect(st0(fpu, host)).toBe(9);
  });
});

describe('do the constants follow the rounding control?', () => {
  it('does FLDPI give ...C235 under nearest and up but ...C234 under down and chop?', () => {
    const got: string[] = [];
    for (let rc = 0; rc < 4; rc++) {
      const { fpu, host } = fresh();
      fldcw(fpu, host, 0x037f | (rc << 10));
      fpu.exec(0xd9, 0xeb, 0, 0);
      got.push(fstp80(fpu, host));
    }
    expect(got).toEqual(['4000c90fdaa22168c235', '4000c90fdaa22168c234', '4000c90fdaa22168c235', '4000c90fdaa22168c234']);
  });
  it('does FLDL2T round up only under RC=up, and FLD1/FLDZ give exact 1 and +0?', () => {
    const { fpu, host } = fresh();
    fpu.exec(0xd9, 0xe9, 0, 0);
    expect(fstp80(fpu, host)).toBe('4000d49a784bcd1b8afe');
    fldcw(fpu, host, 0x0b7f);
    fpu.exec(0xd9, 0xe9, 0, 0);
    expect(fstp80(fpu, host)).toBe('4000d49a784bcd1b8aff');
    fpu.exec(0xd9, 0xe8, 0, 0);
    fpu.exec(0xd9, 0xee, 0, 0);
    expect(fstp80(fpu, host)).toBe('00000000000000000000');
    expect(fstp80(fpu, host)).toBe('3fff8000000000000000');
  });
});

describe('do the remaining D9 operations compute what the SDM says?', () => {
  it('does FSQRT of 2 give the correctly rounded extended root?', () => {
    const { fpu, host } = fresh();
    fld(fpu, host, 2);
    fpu.exec(0xd9, 0xfa, 0, 0);
    expect(fstp80(fpu, host)).toBe('3fffb504f333f9de6484');
  });
  it('does FSQRT of -1 give the indefinite with IE?', () => {
    const { fpu, host } = fresh();
    fld(fpu, host, -1);
    fpu.exec(0xd9, 0xfa, 0, 0);
    expect(fstp80(fpu, host)).toBe(IND);
    expect(fstsw(fpu, host) & SW_IE).toBe(SW_IE);
  });
  it('does an FPREM loop on 1e300 mod 7 end (C2=0) at the value fmod gives?', () => {
    const { fpu, host } = fresh();
    fld(fpu, host, 7);
    fld(fpu, host, 1e300);
    let rounds = 0;
    do { fpu.exec(0xd9, 0xf8, 0, 0); rounds++; } while (fstsw(fpu, host) & SW_C2);
    expect(rounds).toBeGreaterThan(1); // exponent difference ~994: partial remainders first
    expect(st0(fpu, host)).toBe(1e300 % 7);
  });
  it('does FPREM of 17 by 5 give 2 with quotient 3 in C3 C1 (C0 clear)?', () => {
    const { fpu, host } = fresh();
    fld(fpu, host, 5);
    fld(fpu, host, 17);
    fpu.exec(0xd9, 0xf8, 0, 0);
    expect(fstsw(fpu, host) & (SW_C0 | SW_C1 | SW_C2 | SW_C3)).toBe(SW_C3 | SW_C1);
    expect(st0(fpu, host)).toBe(2);
  });
  it('does FSCALE of 3 by 2.9 give 12 and FXTRACT of -20 give exponent 4 and significand -1.25?', () => {
    const { fpu, host } = fresh();
    fld(fpu, host, 2.9);
    fld(fpu, host, 3);
    fpu.exec(0xd9, 0xfd, 0, 0);
    expect(fstp(fpu, host)).toBe(12);
    fstp(fpu, host);
    fld(fpu, host, -20);
    fpu.exec(0xd9, 0xf4, 0, 0);
    expect(fstp(fpu, host)).toBe(-1.25);
    expect(fstp(fpu, host)).toBe(4);
  });
  it('does FCHS/FABS only flip/clear the sign bit, even of a NaN?', () => {
    const { fpu, host } = fresh();
    fld80(fpu, host, '7fff800000000000beef');
    fpu.exec(0xd9, 0xe0, 0, 0);
    expect(fstp80(fpu, host)).toBe('ffff800000000000beef');
    fld(fpu, host, -3);
    fpu.exec(0xd9, 0xe1, 0, 0);
    expect(fstp(fpu, host)).toBe(3);
    expect(fstsw(fpu, host) & SW_IE).toBe(0);
  });
  it('does FSIN of 2^64 set C2 and leave ST0 unchanged?', () => {
    const { fpu, host } = fresh();
    fld(fpu, host, 2 ** 64);
    fpu.exec(0xd9, 0xfe, 0, 0);
    expect(fstsw(fpu, host) & SW_C2).toBe(SW_C2);
    expect(st0(fpu, host)).toBe(2 ** 64);
  });
  it('does FPTAN push 1.0 over tan(x), and FSINCOS leave cos in ST0 and sin in ST1?', () => {
    const { fpu, host } = fresh();
    fld(fpu, host, 0.5);
    fpu.exec(0xd9, 0xf2, 0, 0);
    expect(fstp(fpu, host)).toBe(1);
    expect(fstp(fpu, host)).toBeCloseTo(Math.tan(0.5), 15);
    fld(fpu, host, 1);
    fpu.exec(0xd9, 0xfb, 0, 0);
    expect(fstp(fpu, host)).toBeCloseTo(Math.cos(1), 15);
    expect(fstp(fpu, host)).toBeCloseTo(Math.sin(1), 15);
  });
  it('does FYL2X of (y=3, x=8) give 9 exactly and FPATAN of (1, -1) give 3pi/4?', () => {
    const { fpu, host } = fresh();
    fld(fpu, host, 3);
    fld(fpu, host, 8);
    fpu.exec(0xd9, 0xf1, 0, 0);
    expect(fstp(fpu, host)).toBe(9);
    fld(fpu, host, 1);
    fld(fpu, host, -1);
    fpu.exec(0xd9, 0xf3, 0, 0);
    expect(fstp(fpu, host)).toBeCloseTo(3 * Math.PI / 4, 15);
  });
  it('does FYL2X of x=0 raise ZE and give -infinity for a positive y?', () => {
    const { fpu, host } = fresh();
    fld(fpu, host, 2);
    fld(fpu, host, 0);
    fpu.exec(0xd9, 0xf1, 0, 0);
    expect(fstp(fpu, host)).toBe(-Infinity);
    expect(fstsw(fpu, host) & SW_ZE).toBe(SW_ZE);
  });
});

describe('are #NM, #UD and the deferred #MF raised as the SDM says?', () => {
  it('does an x87 instruction raise #NM when CR0.TS is set, and also when CR0.EM is set?', () => {
    const { fpu, host } = fresh();
    host.cr0 |= CR0_TS;
    expect(trapOf(() => fpu.exec(0xd9, 0xe8, 0, 0))).toBe('NM');
    host.cr0 = (host.cr0 & ~CR0_TS) | CR0_EM;
    expect(trapOf(() => fpu.exec(0xd9, 0xe8, 0, 0))).toBe('NM');
    expect(fpu.tagWord()).toBe(0xffff); // nothing happened
  });
  it('does WAIT raise #NM only when both MP and TS are set?', () => {
    const { fpu, host } = fresh();
    host.cr0 = (host.cr0 | CR0_TS) & ~CR0_MP;
    expect(trapOf(() => fpu.wait())).toBe(null);
    host.cr0 |= CR0_MP;
    expect(trapOf(() => fpu.wait())).toBe('NM');
    host.cr0 = (host.cr0 & ~CR0_TS) | CR0_EM;
    expect(trapOf(() => fpu.wait())).toBe(null);
  });
  it('does an unmasked divide by zero raise #MF only at the next waiting instruction, not at FNSTSW?', () => {
    const { fpu, host } = fresh();
    fldcw(fpu, host, 0x037b); // ZM unmasked
    fld(fpu, host, 1);
    fld(fpu, host, 0);
    expect(trapOf(() => fpu.exec(0xde, 0xf9, 0, 0))).toBe(null); // the FDIVP itself completes
    expect(fpu.tagWord()).toBe(0x1fff); // unmasked #Z: no pop, operands unchanged (R6 zero, R7 valid)
    expect(fstsw(fpu, host) & (SW_ZE | SW_ES | SW_B)).toBe(SW_ZE | SW_ES | SW_B);
    expect(trapOf(() => fpu.wait())).toBe('MF');
    expect(trapOf(() => fpu.exec(0xd9, 0xe8, 0, 0))).toBe('MF'); // FLD1 waits too
    fpu.exec(0xdb, 0xe2, 0, 0); // FNCLEX does not wait
    expect(trapOf(() => fpu.wait())).toBe(null);
  });
  it('does FLDCW unmasking a set flag make the next waiting instruction raise #MF?', () => {
    const { fpu, host } = fresh();
    fld(fpu, host, 1);
    fld(fpu, host, 0);
    fpu.exec(0xde, 0xf9, 0, 0); // masked: ZE set, no ES
    expect(trapOf(() => fpu.wait())).toBe(null);
    fldcw(fpu, host, 0x037b);
    expect(trapOf(() => fpu.wait())).toBe('MF');
  });
  it('with CR0.NE=0, does FERR# follow ES and the waiting instruction proceed?', () => {
    const { fpu, host } = fresh();
    host.cr0 &= ~CR0_NE;
    fldcw(fpu, host, 0x037b);
    fld(fpu, host, 1);
    fld(fpu, host, 0);
    fpu.exec(0xde, 0xf9, 0, 0);
    expect(host.ferr).toBe(true);
    expect(trapOf(() => fpu.exec(0xd9, 0xe8, 0, 0))).toBe(null);
    fpu.exec(0xdb, 0xe2, 0, 0); // FNCLEX
    expect(host.ferr).toBe(false);
  });
  it('are FISTTP (SSE3) and the undefined D9 D1 encodings #UD?', () => {
    const { fpu } = fresh();
    expect(trapOf(() => fpu.exec(0xdb, m(1), 3, 0x80))).toBe('UD');
    expect(trapOf(() => fpu.exec(0xdd, m(1), 3, 0x80))).toBe('UD');
    expect(trapOf(() => fpu.exec(0xdf, m(1), 3, 0x80))).toBe('UD');
    expect(trapOf(() => fpu.exec(0xd9, 0xd1, 0, 0))).toBe('UD');
    expect(trapOf(() => fpu.exec(0xdf, 0xe1, 0, 0))).toBe('UD');
  });
  it('do the undocumented aliases (D9 D8+i FSTP1, DF C0+i FFREEP) work as on a P6?', () => {
    const { fpu, host } = fresh();
    fld(fpu, host, 1);
    fld(fpu, host, 2);
    fpu.exec(0xd9, 0xd9, 0, 0); // FSTP1 ST(1)
    expect(fstp(fpu, host)).toBe(2);
    fld(fpu, host, 3);
    fpu.exec(0xdf, 0xc0, 0, 0); // FFREEP ST0
    expect(fpu.tagWord()).toBe(0xffff);
  });
});

describe('are the instruction and data pointers recorded, and faults restartable?', () => {
  it('does FADD m64 record FIP, FCS, FOP, FDP and FDS, and FLDCW leave them?', () => {
    const { fpu, host } = fresh();
    fld(fpu, host, 1);
    host.instrEip = 0x4321; host.instrCs = 0x1b;
    host.putF64(0x88, 2);
    fpu.exec(0xdc, 0x05, 3, 0x88); // FADD m64 (modrm 05)
    expect([fpu.fip, fpu.fcs, fpu.fop, fpu.fdp, fpu.fds]).toEqual([0x4321, 0x1b, 0x405, 0x88, host.selector(3)]);
    host.instrEip = 0x9999;
    fldcw(fpu, host, 0x037f);
    expect(fpu.fip).toBe(0x4321);
  });
  it('does a FSTP m80 that faults leave the stack, flags and pointers as they were?', () => {
    const { fpu, host } = fresh();
    fld(fpu, host, 1);
    const before = JSON.stringify(fpu.save());
    host.faultFrom = 0x8000;
    expect(trapOf(() => fpu.exec(0xdb, m(7), 3, 0x8000 - 4))).toBe('PF');
    expect(JSON.stringify(fpu.save())).toBe(before);
  });
  it('does FSTENV mask every exception after storing the environment?', () => {
    const { fpu, host } = fresh();
    fldcw(fpu, host, 0x0360);
    fpu.exec(0xd9, m(6), 3, 0x100);
    expect(host.get16(0x100)).toBe(0x0360 | 0x40);
    expect(fpu.cw & 0x3f).toBe(0x3f);
  });
});

describe('are RESET and snapshots right?', () => {
  it('does reset() leave control word 0040h, tag word 5555h and +0.0 registers (SDM table 9-1)?', () => {
    const host = new FakeHost();
    const fpu = new Fpu(host);
    expect(fpu.cw).toBe(0x0040);
    expect(fpu.tagWord()).toBe(0x5555);
    expect(fpu.statusWord()).toBe(0);
    expect(fpu.mxcsr).toBe(0x1f80);
  });
  it('does FNINIT give control word 037Fh, all tags empty, and keep the register contents?', () => {
    const { fpu, host } = fresh();
    fld(fpu, host, 5);
    fpu.exec(0xdb, 0xe3, 0, 0);
    expect(fpu.cw).toBe(0x037f);
    expect(fpu.tagWord()).toBe(0xffff);
    expect(fpu.hi[7]).toBe(0xa0000000 | 0);
  });
  it('does a JSON snapshot restore into a new unit with the same behaviour?', () => {
    const { fpu, host } = fresh();
    fld(fpu, host, 1.5);
    fld(fpu, host, 2.25);
    fldcw(fpu, host, 0x0c7f);
    const copy = new Fpu(host);
    copy.restore(JSON.parse(JSON.stringify(fpu.save())));
    expect(copy.save()).toEqual(fpu.save());
    copy.exec(0xde, 0xc1, 0, 0); // FADDP
    expect(fstp(copy, host)).toBe(3.75);
  });
});

describe('are extended denormals kept exact through the operations that return an operand unchanged?', () => {
  it('does FPREM of a denormal by infinity give back the same denormal (with DE)?', () => {
    const { fpu, host } = fresh();
    fld80(fpu, host, '7fff8000000000000000');
    fld80(fpu, host, '00000000000012345678');
    fpu.exec(0xd9, 0xf8, 0, 0);
    expect(fstsw(fpu, host) & SW_DE).toBe(SW_DE);
    expect(fstp80(fpu, host)).toBe('00000000000012345678');
  });
  it('does FXTRACT of a denormal give its true exponent and a normalised significand?', () => {
    const { fpu, host } = fresh();
    fld80(fpu, host, '00000000000000000001'); // 2^-16445
    fpu.exec(0xd9, 0xf4, 0, 0);
    expect(fstp80(fpu, host)).toBe('3fff8000000000000000');
    expect(fstp(fpu, host)).toBe(-16445);
  });
});
