/**
 * SSE and SSE2 as guest code sees them (src/cpu/ops/sse.ts): CPUID and
 * CR4 with the features on and off, the architectural checks (#UD with
 * CR0.EM or CR4.OSFXSR clear, #NM with CR0.TS, #GP(0) on a misaligned
 * 128-bit operand, #XM or #UD for an unmasked SIMD exception; SDM vol. 2,
 * the "Exceptions" of each instruction; vol. 3A, 13.1-13.4), precise
 * faults, MXCSR through LDMXCSR/STMXCSR and FXSAVE/FXRSTOR at the SDM's
 * offsets (vol. 2A, FXSAVE, table 3-43), and the moves, shuffles and
 * conversions with values worked out by hand from the SDM's pages.
 */
import { describe, expect, it } from 'vitest';
import type { Machine } from '../../src/machine/machine.js';
import { CODE, haltedInStub, le32, runToHalt } from './flat-machine.js';
import {
  CR4_OSFXSR, CR4_OSXMMEXCPT, DATA, EAX, HLT, bytesOf, dwordsAt, ldmxcsr, loadMm, loadX, movEbx, movEdi, sse, sseMachine,
  stmxcsr, storeMm, storeR, storeX, xmmOf, type SseMachineOptions,
} from './sse-guest.js';

/**
 * Runs `body` with EBX = DATA and a resume address in EDI (the handlers of
 * #UD, #NM, #GP and #XM write their vector to DATA + 12 and go there);
 * returns the machine and that vector (0: none).
 */
function run(body: number[], data: [number, number[]][] = [], o: SseMachineOptions = {}, prepare?: (m: Machine) => void): { m: Machine; vector: number } {
  const end = CODE + 10 + body.length;
  const m = sseMachine([...movEbx(DATA), ...movEdi(end), ...body, HLT], data, o);
  prepare?.(m);
  runToHalt(m, 10_000);
  expect(haltedInStub(m)).toBe(-1);
  return { m, vector: m.mmu.readPhys(DATA + 12, 4) };
}

const ADDPS_X0_X1 = sse(null, 0x58, 0, { r: 1 });
const ADDPD_X0_X1 = sse(0x66, 0x58, 0, { r: 1 });
const PADDD_X0_X1 = sse(0x66, 0xfe, 0, { r: 1 });
const PAVGB_MM0_MM1 = sse(null, 0xe0, 0, { r: 1 });
const PADDQ_MM0_MM1 = sse(null, 0xd4, 0, { r: 1 });
const PADDB_MM0_MM1 = sse(null, 0xfc, 0, { r: 1 });
const SFENCE = [0x0f, 0xae, 0xf8];
const LFENCE = [0x0f, 0xae, 0xe8];
const MFENCE = [0x0f, 0xae, 0xf0];
const CLFLUSH = sse(null, 0xae, 7, { m: 0 });
const CR0_EM = 1 << 2, CR0_TS = 1 << 3;
const ONE = 0x3f800000, TWO = 0x40000000, THREE = 0x40400000, FOUR = 0x40800000, HALF = 0x3f000000;

describe('CPUID and CR4', () => {
  const cpuid1 = [0xb8, ...le32(1), 0x0f, 0xa2, 0x89, 0xde, ...movEbx(DATA), 0x89, 0x73, 16, ...storeR(2, 20)]; // cpuid; mov esi, ebx; [DATA+16] = EBX, [DATA+20] = EDX
  it('does CPUID.1 report SSE (EDX 25), SSE2 (EDX 26) and CLFSH (EDX 19, line 64 bytes in EBX 15:8) only as asked?', () => {
    const get = (cpu: string): number[] => dwordsAt(run(cpuid1, [], { cpu }).m, DATA + 16, 2);
    expect(get('')).toEqual([0, 0x0182a979]);
    expect(get('+sse')).toEqual([0, 0x0182a979 | (1 << 25)]);
    expect(get('+sse,+sse2')).toEqual([0x800, (0x0182a979 | (1 << 25) | (1 << 26) | (1 << 19)) >>> 0]);
  });

  it('is CR4.OSXMMEXCPT refused without SSE and accepted with it, while CR4.OSFXSR (FXSR, always there) is accepted?', () => {
    const setCr4 = (v: number): number[] => [0xb8, ...le32(v), 0x0f, 0x22, 0xe0, 0x0f, 0x20, 0xe0, ...storeR(EAX, 16)]; // mov cr4, eax; mov eax, cr4
    expect(run(setCr4(CR4_OSXMMEXCPT), [], { cpu: '', cr4: 0 }).vector).toBe(13);
    const ok = run(setCr4(CR4_OSFXSR), [], { cpu: '', cr4: 0 });
    expect([ok.vector, ok.m.mmu.readPhys(DATA + 16, 4)]).toEqual([0, CR4_OSFXSR]);
    const on = run(setCr4(CR4_OSFXSR | CR4_OSXMMEXCPT), [], { cpu: '+sse', cr4: 0 });
    expect([on.vector, on.m.mmu.readPhys(DATA + 16, 4)]).toEqual([0, CR4_OSFXSR | CR4_OSXMMEXCPT]);
  });
});

describe('the checks before an SSE instruction runs', () => {
  it.each([
    ['ADDPS', ADDPS_X0_X1], ['MOVDQA', sse(0x66, 0x6f, 0, { r: 1 })], ['LDMXCSR', ldmxcsr(0)], ['PADDD xmm', PADDD_X0_X1],
    ['PAVGB mm', PAVGB_MM0_MM1], ['PSHUFW', sse(null, 0x70, 0, { r: 1 }, 0)], ['SFENCE', SFENCE], ['MOVNTI', sse(null, 0xc3, 0, { m: 16 })],
  ])('without SSE (the default CPU), is %s #UD, as before SSE existed?', (_name, insn) => {
    expect(run(insn, [], { cpu: '' }).vector).toBe(6);
  });

  it('without SSE, do the MMX instructions in the same columns still run (PADDB mm)?', () => {
    expect(run([...loadMm(0, 16), ...loadMm(1, 32), ...PADDB_MM0_MM1, ...storeMm(0, 48)], [[DATA + 16, [1, 2]], [DATA + 32, [3, 4]]], { cpu: '' }).vector).toBe(0);
  });

  it.each([
    ['ADDPD', ADDPD_X0_X1], ['PADDD xmm', PADDD_X0_X1], ['PADDQ mm', PADDQ_MM0_MM1], ['LFENCE', LFENCE], ['MFENCE', MFENCE],
    ['CLFLUSH', CLFLUSH], ['CVTSI2SD', sse(0xf2, 0x2a, 0, { r: EAX })], ['MOVNTI', sse(null, 0xc3, 0, { m: 16 })],
  ])('with SSE but not SSE2, is the SSE2 instruction %s #UD?', (_name, insn) => {
    expect(run(insn, [], { cpu: '+sse' }).vector).toBe(6);
  });

  it('with SSE but not SSE2, do the SSE ones run (ADDPS, PAVGB mm, SFENCE, LDMXCSR)?', () => {
    expect(run([...ADDPS_X0_X1, ...PAVGB_MM0_MM1, ...SFENCE, ...ldmxcsr(0)], [[DATA, le32(0x1f80)]], { cpu: '+sse' }).vector).toBe(0);
  });

  it('with CR4.OSFXSR clear, are the XMM instructions #UD but the MMX-register ones (PAVGB mm) allowed?', () => {
    for (const insn of [ADDPS_X0_X1, ADDPD_X0_X1, PADDD_X0_X1, ldmxcsr(0), stmxcsr(0), sse(0xf3, 0x7e, 0, { r: 1 })]) {
      expect(run(insn, [], { cr4: 0 }).vector).toBe(6);
    }
    expect(run(PAVGB_MM0_MM1, [], { cr4: 0 }).vector).toBe(0);
  });

  it('with CR0.EM set, are both XMM and MMX-register forms #UD? With CR0.TS set, #NM (and the fences run)?', () => {
    for (const insn of [ADDPS_X0_X1, PAVGB_MM0_MM1, ldmxcsr(0), sse(0xf3, 0xd6, 0, { r: 1 })]) {
      expect(run(insn, [], { cr0: CR0_EM }).vector).toBe(6);
      expect(run(insn, [], { cr0: CR0_TS }).vector).toBe(7);
    }
    expect(run([...SFENCE, ...LFENCE, ...MFENCE], [], { cr0: CR0_TS }).vector).toBe(0);
  });

  it('is LOCK before an SSE instruction #UD?', () => {
    expect(run([0xf0, ...ADDPS_X0_X1]).vector).toBe(6);
  });

  it('are the register forms of memory-only instructions and the reverse #UD (MOVLPD xmm, xmm; MOVNTPS xmm, xmm; MOVMSKPS eax, [m])?', () => {
    expect(run(sse(0x66, 0x12, 0, { r: 1 })).vector).toBe(6);
    expect(run(sse(null, 0x2b, 0, { r: 1 })).vector).toBe(6);
    expect(run(sse(null, 0x50, 0, { m: 16 })).vector).toBe(6);
    expect(run(sse(0x66, 0x73, 7, { m: 16 }, 1)).vector).toBe(6); // PSLLDQ has no memory form
    expect(run(sse(0x66, 0x73, 4, { r: 1 }, 1)).vector).toBe(6); // no PSRAQ
  });
});

describe('alignment of 128-bit memory operands (#GP(0) before any access)', () => {
  const data: [number, number[]][] = [[DATA + 16, bytesOf([1, 2, 3, 4, 5, 6, 7, 8])]];
  it.each([
    ['MOVAPS load', sse(null, 0x28, 0, { m: 24 }), 13], ['MOVUPS load', sse(null, 0x10, 0, { m: 24 }), 0],
    ['MOVDQA load', sse(0x66, 0x6f, 0, { m: 24 }), 13], ['MOVDQU load', sse(0xf3, 0x6f, 0, { m: 24 }), 0],
    ['ADDPS m128', sse(null, 0x58, 0, { m: 24 }), 13], ['ADDSS m32', sse(0xf3, 0x58, 0, { m: 25 }), 0],
    ['PADDD m128', sse(0x66, 0xfe, 0, { m: 20 }), 13], ['MOVQ m64', sse(0xf3, 0x7e, 0, { m: 20 }), 0],
    ['PSHUFD m128', sse(0x66, 0x70, 0, { m: 20 }, 0), 13], ['CVTPS2PD m64', sse(null, 0x5a, 0, { m: 20 }), 0],
    ['MOVAPS store', sse(null, 0x29, 0, { m: 24 }), 13], ['MOVDQA store', sse(0x66, 0x7f, 0, { m: 24 }), 13],
    ['MOVNTPS store', sse(null, 0x2b, 0, { m: 24 }), 13], ['MOVNTDQ store', sse(0x66, 0xe7, 0, { m: 24 }), 13],
    ['MOVUPS store', sse(null, 0x11, 0, { m: 24 }), 0], ['MOVDQU store', sse(0xf3, 0x7f, 0, { m: 24 }), 0],
  ])('%s at DATA+8 (misaligned): vector %i?', (_name, insn, vector) => {
    const pre = [...loadX(0, 48)]; // xmm0 = 0xaa.. from DATA+48
    const { m, vector: v } = run([...pre, ...insn], [...data, [DATA + 48, bytesOf([0xaaaaaaaa, 0xaaaaaaaa, 0xaaaaaaaa, 0xaaaaaaaa])]]);
    expect(v).toBe(vector);
    if (vector !== 0) {
      expect(dwordsAt(m, DATA + 16, 8)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]); // nothing written
      expect(xmmOf(m, 0)).toEqual([0xaaaaaaaa, 0xaaaaaaaa, 0xaaaaaaaa, 0xaaaaaaaa]); // nothing loaded
    }
  });

  it('does the check use the linear address (segment base + offset)?', () => {
    // ES based at 8 (a 32-bit data segment in GDT slot 3): ES:[ebx+8] is linear DATA+16, aligned; ES:[ebx+16] is not
    const esBase8: [number, number[]] = [0x800 + 24, [0xff, 0xff, 0x08, 0, 0, 0x92, 0xcf, 0]];
    const movEs = [0xb8, 0x18, 0, 0, 0, 0x8e, 0xc0]; // mov eax, 18h; mov es, ax
    const gdt4 = (m: Machine): void => { m.cpu.gdtLimit = 4 * 8 - 1; };
    const r = run([...movEs, 0x26, ...sse(null, 0x28, 0, { m: 8 })], [[DATA + 16, bytesOf([9, 8, 7, 6])], esBase8], {}, gdt4);
    expect(r.vector).toBe(0);
    expect(xmmOf(r.m, 0)).toEqual([9, 8, 7, 6]);
    expect(run([...movEs, 0x26, ...sse(null, 0x28, 0, { m: 16 })], [esBase8], {}, gdt4).vector).toBe(13);
  });
});

describe('SIMD floating-point exceptions: #XM or #UD', () => {
  const ZE = 4, ZM = 1 << 9;
  const divss = [...ldmxcsr(0), ...loadX(0, 16), ...loadX(1, 32), ...sse(0xf3, 0x5e, 0, { r: 1 }), ...stmxcsr(4)];
  const data: [number, number[]][] = [[DATA, le32(0x1f80 & ~ZM)], [DATA + 16, bytesOf([ONE, 5, 6, 7])], [DATA + 32, bytesOf([0, 0, 0, 0])]];
  it('does an unmasked divide by zero raise #XM with CR4.OSXMMEXCPT=1, setting ZE and leaving the destination?', () => {
    const { m, vector } = run(divss, data);
    expect(vector).toBe(19);
    expect(m.cpu.fpu.mxcsr).toBe((0x1f80 & ~ZM) | ZE);
    expect(xmmOf(m, 0)).toEqual([ONE, 5, 6, 7]);
  });

  it('and #UD with CR4.OSXMMEXCPT=0 (SDM vol. 3A, 13.4)?', () => {
    const { m, vector } = run(divss, data, { cr4: CR4_OSFXSR });
    expect(vector).toBe(6);
    expect(m.cpu.fpu.mxcsr & ZE).toBe(ZE);
    expect(xmmOf(m, 0)).toEqual([ONE, 5, 6, 7]);
  });

  it('masked, does it give infinity with ZE and go on?', () => {
    const { m, vector } = run(divss, [[DATA, le32(0x1f80)], ...data.slice(1)]);
    expect(vector).toBe(0);
    expect(m.mmu.readPhys(DATA + 4, 4)).toBe(0x1f80 | ZE);
    expect(xmmOf(m, 0)).toEqual([0x7f800000, 5, 6, 7]);
  });

  it('do COMISS and UCOMISS set ZF PF CF and clear OF SF AF (and UCOMISS not fault on a QNaN with IM clear)?', () => {
    const sahf = [0xb8, 0xff, 0xff, 0, 0, 0x9e]; // mov eax, 0ffffh; sahf: SF ZF AF PF CF set
    const body = [...ldmxcsr(0), ...loadX(0, 16), ...loadX(1, 32), ...loadX(2, 48),
      ...sahf, ...sse(null, 0x2f, 0, { r: 1 }), 0x9c, 0x58, ...storeR(EAX, 64), // comiss xmm0, xmm1: 1 < 2
      ...sahf, ...sse(null, 0x2f, 1, { r: 0 }), 0x9c, 0x58, ...storeR(EAX, 68), // comiss xmm1, xmm0: 2 > 1
      ...sahf, ...sse(null, 0x2e, 0, { r: 0 }), 0x9c, 0x58, ...storeR(EAX, 72), // ucomiss xmm0, xmm0: equal
      ...sahf, ...sse(null, 0x2e, 1, { r: 2 }), 0x9c, 0x58, ...storeR(EAX, 76)]; // ucomiss xmm1, xmm2 (a QNaN): unordered
    const { m, vector } = run(body, [[DATA, le32(0x1f80 & ~(1 << 7))], [DATA + 16, bytesOf([ONE, 0, 0, 0])], [DATA + 32, bytesOf([TWO, 0, 0, 0])], [DATA + 48, bytesOf([0x7fc00000, 0, 0, 0])]]);
    expect(vector).toBe(0);
    expect(dwordsAt(m, DATA + 64, 4).map((f) => f & 0x8d5)).toEqual([0x01, 0x00, 0x40, 0x45]);
  });
});

describe('precise faults: a store that faults writes nothing', () => {
  const PD = 0x20000, PT = 0x21000, PAGE = 0x300000;
  /** paging on: the first 4 MiB identity-mapped with 4 KiB pages, but PAGE + 4096 not present */
  function pagingOn(m: Machine): number[] {
    m.mmu.writePhys(PD, 4, PT | 7);
    for (let i = 0; i < 1024; i++) m.mmu.writePhys(PT + 4 * i, 4, i === (PAGE >>> 12) + 1 ? 0 : (i << 12) | 3);
    return [0xb8, ...le32(PD), 0x0f, 0x22, 0xd8, 0x0f, 0x20, 0xc0, 0x0d, ...le32(0x80000000), 0x0f, 0x22, 0xc0];
  }
  it.each(['naive', 'shadow', 'slat'] as const)('under %s, does MOVUPS/MOVQ/MASKMOVDQU across into a missing page raise #PF and leave the first page?', (mode) => {
    for (const store of [sse(null, 0x11, 0, { m: 0 }), sse(0x66, 0xd6, 0, { m: 4 }), [0xbf, ...le32(PAGE + 0xff8), ...sse(0x66, 0xf7, 0, { r: 1 })]]) {
      const m = sseMachine([], [], { mode });
      const code = [...pagingOn(m), ...movEbx(PAGE), ...loadX(0, 16), ...loadX(1, 32), ...movEbx(PAGE + 0xff8), ...store, HLT];
      m.mmu.writePhysBytes(CODE, new Uint8Array(code));
      m.mmu.writePhysBytes(PAGE + 16, new Uint8Array(bytesOf([0x11111111, 0x22222222, 0x33333333, 0x44444444, -1, -1, -1, -1])));
      m.mmu.writePhysBytes(PAGE + 0xff8, new Uint8Array(8).fill(0x5a));
      runToHalt(m, 1000);
      expect(haltedInStub(m)).toBe(14);
      expect(m.cpu.cr2 >>> 0).toBe(PAGE + 0x1000);
      expect(Array.from(m.mmu.readPhysBytes(PAGE + 0xff8, 8))).toEqual(new Array(8).fill(0x5a));
    }
  });
});

describe('MXCSR, FXSAVE and FXRSTOR', () => {
  const X = [0x03020100, 0x07060504, 0x0b0a0908, 0x0f0e0d0c];
  const xmmValues = (i: number): number[] => X.map((v) => (v + 0x10101010 * i) >>> 0);
  /** loads xmm0..7 from DATA+0x100.. */
  const loadAll = [...Array(8).keys()].flatMap((i) => [...movEbx(DATA + 0x100 + 16 * i), ...loadX(i, 0)]);
  const movEsi = (v: number): number[] => [0xbe, ...le32(v)];
  const allData: [number, number[]][] = [...Array(8).keys()].map((i) => [DATA + 0x100 + 16 * i, bytesOf(xmmValues(i))]);
  const FX = DATA + 0x400;

  it('does FXSAVE store MXCSR at 24, MXCSR_MASK FFFFh at 28 and XMM0-7 at 160 + 16i, and leave 288-511?', () => {
    const body = [...loadAll, ...movEbx(DATA), ...ldmxcsr(0), ...movEsi(FX), 0x0f, 0xae, 0x06]; // fxsave [esi]
    const { m, vector } = run(body, [...allData, [DATA, le32(0x9fc0)], [FX + 288, new Array(224).fill(0xee)]]);
    expect(vector).toBe(0);
    expect(dwordsAt(m, FX + 24, 2)).toEqual([0x9fc0, 0xffff]);
    for (let i = 0; i < 8; i++) expect(dwordsAt(m, FX + 160 + 16 * i, 4)).toEqual(xmmValues(i));
    expect(Array.from(m.mmu.readPhysBytes(FX + 288, 224)).every((b) => b === 0xee)).toBe(true);
  });

  it('does FXSAVE then FXRSTOR bring back XMM0-7 and MXCSR after they were all changed (a round trip)?', () => {
    const clobber = [...Array(8).keys()].flatMap((i) => sse(0x66, 0xef, i, { r: i })); // pxor xmmi, xmmi
    const body = [...loadAll, ...movEbx(DATA), ...ldmxcsr(0), ...movEsi(FX), 0x0f, 0xae, 0x06, // fxsave [esi]
      ...clobber, ...ldmxcsr(4), 0x0f, 0xae, 0x0e]; // ldmxcsr 1F80h; fxrstor [esi]
    const { m, vector } = run(body, [...allData, [DATA, [...le32(0x7fc0 | 0x3f), ...le32(0x1f80)]]]);
    expect(vector).toBe(0);
    expect(m.cpu.fpu.mxcsr).toBe(0x7fff);
    for (let i = 0; i < 8; i++) expect(xmmOf(m, i)).toEqual(xmmValues(i));
  });

  it('without SSE, is MXCSR_MASK still FFBFh (no DAZ)?', () => {
    const { m } = run([...movEsi(FX), 0x0f, 0xae, 0x06], [], { cpu: '', cr4: CR4_OSFXSR });
    expect(dwordsAt(m, FX + 24, 2)).toEqual([0x1f80, 0xffbf]);
  });

  it('does FXRSTOR load MXCSR and XMM0-7 from the image, and refuse a reserved MXCSR bit with #GP(0), changing nothing?', () => {
    const image = new Array(512).fill(0);
    image.splice(24, 4, ...le32(0x3f80 | 0x40)); // RC down, DAZ
    for (let i = 0; i < 8; i++) image.splice(160 + 16 * i, 16, ...bytesOf(xmmValues(7 - i)));
    const body = [...movEsi(FX), 0x0f, 0xae, 0x0e]; // fxrstor [esi]
    const { m, vector } = run(body, [[FX, image]]);
    expect(vector).toBe(0);
    expect(m.cpu.fpu.mxcsr).toBe(0x3fc0);
    for (let i = 0; i < 8; i++) expect(xmmOf(m, i)).toEqual(xmmValues(7 - i));
    image.splice(24, 4, ...le32(0x10000 | 0x1f80));
    const bad = run([...loadAll, ...movEbx(DATA), ...body], [...allData, [FX, image]]);
    expect(bad.vector).toBe(13);
    expect(bad.m.cpu.fpu.mxcsr).toBe(0x1f80);
    for (let i = 0; i < 8; i++) expect(xmmOf(bad.m, i)).toEqual(xmmValues(i));
  });

  it('does LDMXCSR take DAZ and every other defined bit, refuse bit 16 with #GP(0), and STMXCSR store it?', () => {
    const body = [...ldmxcsr(0), ...stmxcsr(4), ...ldmxcsr(8)];
    const { m, vector } = run(body, [[DATA, [...le32(0xffff), 0, 0, 0, 0, ...le32(0x18000)]]]);
    expect(vector).toBe(13);
    expect(m.mmu.readPhys(DATA + 4, 4)).toBe(0xffff);
    expect(m.cpu.fpu.mxcsr).toBe(0xffff);
  });

  it('after RESET, are the XMM registers zero and MXCSR 1F80h (SDM vol. 3A, table 9-1)?', () => {
    const { m } = run(loadAll, allData);
    m.cpu.reset();
    expect(m.cpu.fpu.mxcsr).toBe(0x1f80);
    expect(Array.from(m.cpu.fpu.xmm).every((v) => v === 0)).toBe(true);
  });
});

describe('moves, shuffles and conversions (values from the SDM pages, by hand)', () => {
  const A = [0xa0a0a0a0, 0xa1a1a1a1, 0xa2a2a2a2, 0xa3a3a3a3];
  const B = [0xb0b0b0b0, 0xb1b1b1b1, 0xb2b2b2b2, 0xb3b3b3b3];
  const AB: [number, number[]][] = [[DATA + 16, bytesOf(A)], [DATA + 32, bytesOf(B)]];
  const both = [...loadX(0, 16), ...loadX(1, 32)];
  const x0 = (body: number[], data = AB): number[] => {
    const { m, vector } = run([...both, ...body], data);
    expect(vector).toBe(0);
    return xmmOf(m, 0);
  };

  it('MOVSS/MOVSD: a register source moves the low lane only, a memory source zeroes the rest; stores write 4/8 bytes', () => {
    expect(x0(sse(0xf3, 0x10, 0, { r: 1 }))).toEqual([B[0], A[1], A[2], A[3]]);
    expect(x0(sse(0xf3, 0x10, 0, { m: 32 }))).toEqual([B[0], 0, 0, 0]);
    expect(x0(sse(0xf2, 0x10, 0, { r: 1 }))).toEqual([B[0], B[1], A[2], A[3]]);
    expect(x0(sse(0xf2, 0x10, 0, { m: 32 }))).toEqual([B[0], B[1], 0, 0]);
    expect(x0(sse(0xf3, 0x11, 1, { r: 0 }))).toEqual([B[0], A[1], A[2], A[3]]); // MOVSS xmm0, xmm1 (11 form)
    const { m } = run([...both, ...sse(0xf2, 0x11, 1, { m: 16 })], AB);
    expect(dwordsAt(m, DATA + 16, 4)).toEqual([B[0], B[1], A[2], A[3]]);
  });

  it('MOVHLPS, MOVLHPS, MOVLPS/MOVHPS (load and store), MOVLPD/MOVHPD', () => {
    expect(x0(sse(null, 0x12, 0, { r: 1 }))).toEqual([B[2], B[3], A[2], A[3]]); // MOVHLPS
    expect(x0(sse(null, 0x16, 0, { r: 1 }))).toEqual([A[0], A[1], B[0], B[1]]); // MOVLHPS
    expect(x0(sse(null, 0x12, 0, { m: 32 }))).toEqual([B[0], B[1], A[2], A[3]]); // MOVLPS load
    expect(x0(sse(0x66, 0x16, 0, { m: 32 }))).toEqual([A[0], A[1], B[0], B[1]]); // MOVHPD load
    const { m } = run([...both, ...sse(null, 0x17, 0, { m: 32 }), ...sse(0x66, 0x13, 1, { m: 48 })], AB);
    expect(dwordsAt(m, DATA + 32, 6)).toEqual([A[2], A[3], B[2], B[3], B[0], B[1]]); // MOVHPS store, MOVLPD store
  });

  it('MOVD, MOVQ (F3 7E, 66 D6), MOVQ2DQ, MOVDQ2Q, MOVMSKPS, MOVNTI', () => {
    expect(x0([0xb8, ...le32(0x12345678), ...sse(0x66, 0x6e, 0, { r: EAX })])).toEqual([0x12345678, 0, 0, 0]);
    expect(x0(sse(0xf3, 0x7e, 0, { r: 1 }))).toEqual([B[0], B[1], 0, 0]);
    expect(x0(sse(0x66, 0xd6, 1, { r: 0 }))).toEqual([B[0], B[1], 0, 0]);
    const { m } = run([...both, ...loadMm(3, 32), ...sse(0xf3, 0xd6, 2, { r: 3 }), ...sse(0xf2, 0xd6, 4, { r: 0 }), ...storeMm(4, 48),
      ...sse(0x66, 0x7e, 1, { m: 56 }), ...sse(null, 0x50, 6, { r: 1 }), 0x89, 0x73, 60, ...sse(null, 0xc3, 3, { m: 8 })], AB);
    expect(xmmOf(m, 2)).toEqual([B[0], B[1], 0, 0]); // MOVQ2DQ xmm2, mm3
    expect(dwordsAt(m, DATA + 48, 4)).toEqual([A[0], A[1], B[0], 0b1111]); // MOVDQ2Q mm4, xmm0; MOVD [56], xmm1; MOVMSKPS esi, xmm1
    expect(m.mmu.readPhys(DATA + 8, 4)).toBe(DATA); // MOVNTI [ebx+8], ebx
    expect(m.cpu.fpu.empty).toBe(0); // the MMX forms made every x87 register valid
  });

  it('MASKMOVDQU writes the bytes whose mask byte has bit 7 set, to DS:EDI', () => {
    const mask = [0x80ff7f00, 0x00000080, 0, 0xffffffff];
    const { m } = run([...loadX(0, 16), ...loadX(1, 32), 0x57, 0xbf, ...le32(DATA + 64), ...sse(0x66, 0xf7, 0, { r: 1 }), 0x5f],
      [[DATA + 16, bytesOf(A)], [DATA + 32, bytesOf(mask)], [DATA + 64, new Array(16).fill(0x11)]]);
    expect(Array.from(m.mmu.readPhysBytes(DATA + 64, 16))).toEqual([0x11, 0x11, 0xa0, 0xa0, 0xa1, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0xa3, 0xa3, 0xa3, 0xa3]);
  });

  it('PSHUFW, PINSRW/PEXTRW on MMX registers select with imm8[1:0]', () => {
    const { m } = run([...loadMm(1, 32), ...sse(null, 0x70, 0, { r: 1 }, 0x1b), ...storeMm(0, 48), // words 3 2 1 0 reversed
      0xb8, ...le32(0xbeef), ...sse(null, 0xc4, 1, { r: EAX }, 6), ...sse(null, 0xc5, 6, { r: 1 }, 2), ...storeMm(1, 56), 0x89, 0x73, 64],
    [[DATA + 32, bytesOf([0x22221111, 0x44443333])]]);
    expect(dwordsAt(m, DATA + 48, 5)).toEqual([0x33334444, 0x11112222, 0x22221111, 0x4444beef, 0xbeef]);
  });

  it('CVTPI2PS keeps lanes 2-3, CVTTPS2PI truncates into an MMX register, CVTSI2SD and CVTTSD2SI', () => {
    const { m } = run([...loadX(0, 16), ...loadMm(1, 32), ...sse(null, 0x2a, 0, { r: 1 }), ...loadX(2, 48), ...sse(null, 0x2c, 3, { r: 2 }), ...storeMm(3, 64),
      0xb8, ...le32(-7), ...sse(0xf2, 0x2a, 4, { r: EAX }), ...sse(0xf2, 0x2c, 6, { r: 4 }), 0x89, 0x73, 72],
    [[DATA + 16, bytesOf(A)], [DATA + 32, bytesOf([3, -2 >>> 0])], [DATA + 48, bytesOf([0x3fc00000, 0xc0600000, 0, 0])]]); // 1.5, -3.5
    expect(xmmOf(m, 0)).toEqual([THREE, 0xc0000000, A[2], A[3]]);
    expect(dwordsAt(m, DATA + 64, 3)).toEqual([1, -3 >>> 0, -7 >>> 0]);
    expect(xmmOf(m, 4).slice(0, 2)).toEqual([0, 0xc01c0000]); // -7.0
  });

  it('RCPSS/RSQRTSS: exact where the value is a power of two; RCPPS of 0 is infinity, RSQRTPS of a negative the indefinite', () => {
    expect(x0(sse(0xf3, 0x53, 0, { m: 32 }), [[DATA + 16, bytesOf(A)], [DATA + 32, bytesOf([TWO, 0, 0, 0])]])).toEqual([HALF, A[1], A[2], A[3]]);
    expect(x0(sse(0xf3, 0x52, 0, { m: 32 }), [[DATA + 16, bytesOf(A)], [DATA + 32, bytesOf([FOUR, 0, 0, 0])]])).toEqual([HALF, A[1], A[2], A[3]]);
    expect(x0(sse(null, 0x53, 0, { r: 1 }), [[DATA + 16, bytesOf(A)], [DATA + 32, bytesOf([0, 0x80000000, 0x7f800000, 0x00000001])]])).toEqual([0x7f800000, 0xff800000, 0, 0x7f800000]);
    expect(x0(sse(null, 0x52, 0, { r: 1 }), [[DATA + 16, bytesOf(A)], [DATA + 32, bytesOf([0xbf800000, ONE, 0x7fc00001, FOUR])]])).toEqual([0xffc00000, ONE, 0x7fc00001, HALF]);
    const rcp3 = x0(sse(0xf3, 0x53, 0, { m: 32 }), [[DATA + 16, bytesOf(A)], [DATA + 32, bytesOf([THREE, 0, 0, 0])]])[0]!;
    const f = new Float32Array(new Uint32Array([rcp3]).buffer)[0]!;
    expect(Math.abs(f * 3 - 1)).toBeLessThanOrEqual(1.5 * 2 ** -12); // the SDM's bound
  });
});

describe('instruction lengths and the hint instructions', () => {
  /** one instruction of each SSE/SSE2 opcode and prefix, register and memory forms ([EBX+16], aligned), none faulting with SSE on */
  const INSNS: number[][] = [];
  for (const p of [null, 0x66, 0xf3, 0xf2]) {
    for (const op of [0x10, 0x11, 0x51, 0x58, 0x59, 0x5a, 0x5c, 0x5d, 0x5e, 0x5f, 0xc2]) {
      for (const rm of [{ r: 1 }, { m: 16 }]) INSNS.push(sse(p, op, 0, rm, op === 0xc2 ? 3 : undefined));
    }
  }
  for (const rm of [{ r: 1 }, { m: 16 }]) {
    for (const op of [0x14, 0x15, 0x28, 0x2e, 0x2f, 0x54, 0x55, 0x56, 0x57]) INSNS.push(sse(null, op, 0, rm), sse(0x66, op, 0, rm));
    for (const op of [0x60, 0x6c, 0x6f, 0x74, 0xd1, 0xd4, 0xe6, 0xf4, 0xfe]) INSNS.push(sse(0x66, op, 0, rm));
    for (const op of [0xe0, 0xd4, 0xf6, 0xfb]) INSNS.push(sse(null, op, 0, rm)); // MMX-register forms
    INSNS.push(sse(0x66, 0x70, 0, rm, 0x1b), sse(0xf3, 0x70, 0, rm, 1), sse(0xf2, 0x70, 0, rm, 2), sse(null, 0x70, 0, rm, 3), sse(null, 0xc6, 0, rm, 5), sse(0x66, 0xc6, 0, rm, 1));
    INSNS.push(sse(0x66, 0xc4, 0, 'r' in rm ? { r: EAX } : rm, 5), sse(null, 0xc4, 0, 'r' in rm ? { r: EAX } : rm, 1), sse(0x66, 0x6e, 0, 'r' in rm ? { r: EAX } : rm), sse(0x66, 0x7e, 0, 'r' in rm ? { r: EAX } : rm));
    INSNS.push(sse(0xf3, 0x2a, 0, 'r' in rm ? { r: EAX } : rm), sse(0xf2, 0x2c, EAX, rm), sse(null, 0x2d, 2, rm), sse(0xf3, 0x7e, 0, rm), sse(0x66, 0xd6, 0, rm));
  }
  INSNS.push(sse(0x66, 0x73, 7, { r: 1 }, 3), sse(0x66, 0x71, 2, { r: 1 }, 4), sse(0x66, 0xc5, EAX, { r: 1 }, 6), sse(null, 0xc5, EAX, { r: 1 }, 2),
    sse(0x66, 0xd7, EAX, { r: 1 }), sse(null, 0x50, EAX, { r: 1 }), sse(0xf3, 0xd6, 0, { r: 1 }), sse(0xf2, 0xd6, 0, { r: 1 }),
    sse(null, 0x12, 0, { r: 1 }), sse(null, 0x16, 0, { m: 16 }), sse(0x66, 0x17, 0, { m: 16 }), sse(null, 0x2b, 0, { m: 16 }), sse(0x66, 0xe7, 0, { m: 16 }),
    sse(null, 0xe7, 0, { m: 16 }), sse(null, 0xc3, 0, { m: 16 }), ldmxcsr(0), stmxcsr(16), SFENCE, LFENCE, MFENCE, CLFLUSH, sse(null, 0x18, 0, { m: 16 }));

  it(`do the ${INSNS.length} forms run without a fault and advance EIP by what the length decoder says?`, async () => {
    const { instructionLength } = await import('../../src/cpu/decode-length.js');
    const bad: string[] = [];
    for (const insn of INSNS) {
      const { m, vector } = run(insn, [[DATA, le32(0x1f80)]]);
      const len = instructionLength(insn, 0, true);
      if (vector !== 0 || len !== insn.length || (m.cpu.eip >>> 0) !== CODE + 10 + insn.length + 1) bad.push(`${insn.map((b) => b.toString(16)).join(' ')}: vector ${vector}, length ${len}`);
    }
    expect(bad).toEqual([]);
  });

  it('does PREFETCHNTA (0F 18 /0, a hint NOP here) with a disp32 run without a fault and decode its whole length?', () => {
    const { m, vector } = run([0x0f, 0x18, 0x05, ...le32(0xfffffff0)]); // prefetchnta [0FFFFFFF0h]
    expect(vector).toBe(0);
    expect(m.cpu.eip >>> 0).toBe(CODE + 10 + 7 + 1);
  });
});
