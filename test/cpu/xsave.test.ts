/**
 * The XSAVE feature set (`--cpu +xsave`): the feature and CPUID (XSAVE in
 * CPUID.1:ECX[26], OSXSAVE in ECX[27] following CR4.OSXSAVE, leaf 0DH's
 * subleaves 0, 1 and 9, the highest basic leaf 0DH), CR4.OSXSAVE refused
 * without it, XGETBV and XSETBV (#UD while CR4.OSXSAVE = 0, #GP(0) for ECX
 * != 0, for a clear bit 0, an unsupported bit, EDX != 0, and XSETBV at
 * CPL 3), and XSAVE/XRSTOR in the standard format: the legacy region byte
 * for byte as FXSAVE writes it (XMM0-7 outside 64-bit mode, XSAVE64 as
 * FXSAVE64), the bytes XSAVE must not write left alone, XSTATE_BV's other
 * bits kept, PKRU at 0A80H; XRSTOR's round trip (PKRU back in the MMU),
 * its initial configurations for XSTATE_BV bits 0 (MXCSR still loaded from
 * memory, the standard form's rule), the partial RFBM, its header checks
 * (#GP(0) with nothing changed), and the faults of both (#UD for LOCK and
 * 66, #NM with CR0.TS, #GP(0) for an area not 64-byte aligned). Every
 * program runs in 64-bit mode and in 32-bit protected mode (paging off),
 * under naive, shadow and slat and the four engines (and once with the cost
 * model observing), which must agree; the expected values are written by
 * hand from the SDM (vol. 1 ch. 13, vol. 2A CPUID, vol. 2C XGETBV, XSETBV,
 * XSAVE, XRSTOR).
 *
 * Planted errors each caught by some test here (each made in the source,
 * the file run, the error reverted; 18 of 18 caught): OSXSAVE always 0;
 * the highest basic leaf left at 7; CPUID.(0DH,0):EBX the size for every
 * supported component instead of XCR0's; PKRU's offset 0A40H (subleaf 9
 * and XSAVE); XSETBV without its CPL check; XSETBV accepting bit 0 clear;
 * XGETBV without its ECX check; XGETBV leaving the high halves of RAX and
 * RDX; XSAVE overwriting XSTATE_BV (its other bits lost); XSAVE writing
 * MXCSR whatever RFBM; the legacy region writing XMM8-15 outside 64-bit
 * mode; XSAVE checking 16-byte alignment; XRSTOR loading MXCSR only with
 * XSTATE_BV[1] = 1; XRSTOR without the reserved-header check; XRSTOR
 * keeping PKRU out of the MMU; XRSTOR not initializing x87 state for
 * XSTATE_BV[0] = 0; the 66 prefix accepted in the 32-bit decoder; XSAVE64
 * in XSAVE's layout (no REX.W mode).
 */
import { describe, expect, it } from 'vitest';
import type { Machine } from '../../src/machine/machine.js';
import type { ModeName } from '../../src/mmu/modes/mode.js';
import type { Engine } from '../../src/cpu/cpu.js';
import { CpuFeatures } from '../../src/cpu/features.js';
import { CODE64, DATA, everywhere as everywhereLong, frameAt, regs64, runLongProgram, stubVector, type LongProgram } from './long-machine.js';
import { le32, STUBS } from './flat-machine.js';

const HLT = 0xf4;
const CPU = '+lm,+sse,+sse2,+pku,+xsave';
const OSXSAVE = 1 << 18, PKE = 1 << 22;
/** an FXSAVE image FXRSTOR loads first; FXSAVE's area A; XSAVE's area B; XRSTOR's area D; FXSAVE after XRSTOR in C */
const IMG = DATA, A = DATA + 0x1000, B = DATA + 0x2000, C = DATA + 0x3000, D = DATA + 0x4000;
const AREA = 0xa88;
const PAT = 0xcc;

interface End {
  regs: bigint[];
  vector: number;
  vector32: number;
  frame: bigint[];
  cr4: number;
  pkru: number;
  a: number[];
  b: number[];
  c: number[];
  reason: string;
}

type Program = LongProgram & { b?: (m: Machine) => void };

function bytes(m: Machine, at: number, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(m.mmu.readPhys(at + i, 1));
  return out;
}

/** the FXSAVE image at IMG: x87 state (TOP 7, some tags), MXCSR 3F83H, ST and XMM bytes, all distinct */
function image(m: Machine): void {
  const img = new Uint8Array(512);
  const dv = new DataView(img.buffer);
  dv.setUint16(0, 0x027f, true); // FCW
  dv.setUint16(2, 0x3800, true); // FSW: TOP 7
  img[4] = 0xa5; // abridged FTW
  dv.setUint16(6, 0x123, true);
  dv.setUint32(8, 0x11223344, true);
  dv.setUint16(12, 0x1b, true);
  dv.setUint32(16, 0x55667788, true);
  dv.setUint16(20, 0x23, true);
  dv.setUint32(24, 0x3f83, true);
  for (let i = 0; i < 8; i++) for (let k = 0; k < 10; k++) img[32 + 16 * i + k] = (i * 7 + k * 3 + 1) & 0xff;
  for (let i = 160; i < 416; i++) img[i] = (i * 13 + 5) & 0xff;
  m.mmu.writePhysBytes(IMG, img);
  for (const at of [A, B, C]) m.mmu.writePhysBytes(at, new Uint8Array(AREA).fill(PAT));
  // XSTATE_BV in B before XSAVE: bits 4 and 63 (no component here: XSAVE must keep them)
  m.mmu.writePhys(B + 512, 4, 0x10);
  m.mmu.writePhys(B + 516, 4, 0x80000000);
}

function run(mode: ModeName, engine: Engine, p: Program, measure = false): End {
  const { m, r } = runLongProgram({ mode, engine, measure, cpu: p.cpu ?? CPU }, p, (m) => { image(m); p.b?.(m); });
  const c = m.cpu;
  return {
    regs: regs64(m),
    vector: stubVector(m),
    vector32: !c.long64 && c.halted && (c.eip >>> 0) > STUBS && (c.eip >>> 0) <= STUBS + 4 * 32 ? c.reg8[0]! : -1,
    frame: frameAt(m),
    cr4: c.cr4,
    pkru: m.mmu.pkru >>> 0,
    a: bytes(m, A, 512),
    b: bytes(m, B, AREA),
    c: bytes(m, C, 512),
    reason: r.reason,
  };
}

const everywhere = (p: Program): End => everywhereLong((mode, engine, measure) => run(mode, engine, p, measure));
/** the same program as 64-bit code and as 32-bit code (paging off), each everywhere */
const both = (code: number[], p: Omit<Program, 'code'> = {}): [End, End] => [everywhere({ ...p, code: [...code, HLT] }), everywhere({ ...p, code: [HLT], entry: [...code, HLT] })];

// encodings, the same bytes in 64-bit and 32-bit code (mov r32, imm32 zero-extends in 64-bit mode)
const MOV = (r: number, v: number): number[] => [0xb8 + r, ...le32(v)];
const XOR_ECX = [0x31, 0xc9], XOR_EDX = [0x31, 0xd2];
const orCr4 = (bit: number): number[] => [0x0f, 0x20, 0xe0, 0x0d, ...le32(bit), 0x0f, 0x22, 0xe0]; // mov eax, cr4; or eax, bit; mov cr4, eax
const SET_OSXSAVE = orCr4(OSXSAVE);
const XGETBV = [0x0f, 0x01, 0xd0], XSETBV = [0x0f, 0x01, 0xd1], CPUID = [0x0f, 0xa2], WRPKRU = [0x0f, 0x01, 0xef];
const xsetbv = (v: number): number[] => [...XOR_ECX, ...XOR_EDX, ...MOV(0, v), ...XSETBV];
/** EDX:EAX = -1 (every component) */
const ALL = [...MOV(0, -1), ...MOV(2, -1)];
/** 0F AE /r with [ebx] (1), [esi] (6) or [edi] (7) */
const g15 = (o: number, rm: number): number[] => [0x0f, 0xae, (o << 3) | rm];
const FXRSTOR_IMG = [...MOV(3, IMG), ...g15(1, 3)];
const FXSAVE_A = [...MOV(6, A), ...g15(0, 6)];
const XSAVE_B = [...MOV(7, B), ...g15(4, 7)];
const FXSAVE_C = [...MOV(6, C), ...g15(0, 6)];
/** mov r<dst>, r<src> (64-bit, dst 8..15) */
const save = (dst: number, src: number): number[] => [0x49, 0x89, 0xc0 | (src << 3) | (dst - 8)];
/** CPUID leaf:subleaf, then EAX, EBX, ECX, EDX into r8..r11 (64-bit code only) */
const cpuid = (leaf: number, sub: number): number[] => [...MOV(0, leaf), ...MOV(1, sub), ...CPUID, ...save(8, 0), ...save(9, 3), ...save(10, 1), ...save(11, 2)];
const setup = [...SET_OSXSAVE, ...xsetbv(0x203)];

const hex = (n: number): bigint => BigInt(n >>> 0);

describe('the feature and CPUID', () => {
  it('is xsave off by default (CPUID unchanged, CR4.OSXSAVE refused), and with it XSAVE in CPUID.1:ECX[26], the highest basic leaf 0DH and XCR0\'s bits x87, SSE with sse, PKRU with pku?', () => {
    const d = new CpuFeatures('');
    expect([d.xsave, d.leaf1Ecx, d.maxLeaf, d.cr4Refused & OSXSAVE, d.xcr0Supported, d.toString()]).toEqual([false, 0, 2, OSXSAVE, 0, '']);
    const f = new CpuFeatures('+xsave');
    expect([f.xsave, f.leaf1Ecx, f.maxLeaf, f.cr4Refused & OSXSAVE, f.xcr0Supported, f.toString()]).toEqual([true, 1 << 26, 0xd, 0, 1, '+xsave']);
    expect(new CpuFeatures('+sse,+xsave').xcr0Supported).toBe(3);
    expect(new CpuFeatures(CPU).xcr0Supported).toBe(0x203);
    expect(new CpuFeatures('+lm,+pku,+xsave').xcr0Supported).toBe(0x201);
  });

  it('does CPUID give OSXSAVE as CR4.OSXSAVE is now, leaf 0 the highest leaf 0DH, and leaf 0DH the sizes for XCR0 and for every component, subleaf 1 nothing, subleaf 9 PKRU (8 bytes at 0A80H)?', () => {
    const code = [...cpuid(1, 0), ...save(12, 1 /* ecx */), ...cpuid(0xd, 0), 0x4d, 0x89, 0xcd, ...SET_OSXSAVE, ...cpuid(1, 0), ...save(14, 1), // mov r13, r9 (EBX before XSETBV)
      ...xsetbv(0x203), ...cpuid(0, 0), 0x4d, 0x89, 0xc7, ...cpuid(0xd, 0), HLT]; // mov r15, r8 (the highest leaf)
    const e = everywhere({ code });
    expect([e.regs[12], e.regs[14], e.regs[13], e.regs[15]]).toEqual([hex(1 << 26 | 1 << 13), hex(3 << 26 | 1 << 13), 576n, 0xdn]);
    expect(e.regs.slice(8, 12)).toEqual([0x203n, 0xa88n, 0xa88n, 0n]);
    const s1 = everywhere({ code: [...cpuid(0xd, 1), HLT] });
    expect(s1.regs.slice(8, 12)).toEqual([0n, 0n, 0n, 0n]);
    const s9 = everywhere({ code: [...cpuid(0xd, 9), ...save(12, 0), ...cpuid(0xd, 2), HLT] });
    expect([s9.regs[12], ...s9.regs.slice(8, 12)]).toEqual([8n, 0n, 0n, 0n, 0n]);
    const s9b = everywhere({ code: [...cpuid(0xd, 9), HLT] });
    expect(s9b.regs.slice(8, 12)).toEqual([8n, 0xa80n, 0n, 0n]);
    // without pku: no bit 9, the size 576, subleaf 9 zeros
    const np = everywhere({ code: [...cpuid(0xd, 9), ...save(12, 0), ...cpuid(0xd, 0), HLT], cpu: '+lm,+sse,+xsave' });
    expect([np.regs[12], ...np.regs.slice(8, 12)]).toEqual([0n, 3n, 576n, 576n, 0n]);
  });

  it('is CR4.OSXSAVE #GP(0) without the feature (64-bit and 32-bit code), and the XSAVE instructions #UD (no feature, or CR4.OSXSAVE = 0)?', () => {
    const [e64, e32] = both(SET_OSXSAVE, { cpu: '+lm,+sse' });
    expect([e64.vector, e64.frame, e64.cr4 & OSXSAVE, e32.vector32, e32.cr4 & OSXSAVE]).toEqual([13, [0n, BigInt(CODE64 + 8)], 0, 13, 0]);
    for (const cpu of [CPU, '+lm,+sse']) {
      for (const [name, insn] of [['XGETBV', [...XOR_ECX, ...XGETBV]], ['XSETBV', xsetbv(1)], ['XSAVE', XSAVE_B], ['XRSTOR', [...MOV(7, B), ...g15(5, 7)]]] as const) {
        const [e, f] = both([...insn], { cpu });
        expect([e.vector, f.vector32, e.b, e.pkru], `${name} ${cpu}`).toEqual([6, 6, bytes0(), 0]);
      }
    }
  });
});

/** area B as image() leaves it */
function bytes0(): number[] {
  const b = new Array<number>(AREA).fill(PAT);
  b.splice(512, 8, 0x10, 0, 0, 0, 0, 0, 0, 0x80);
  return b;
}

describe('XGETBV and XSETBV', () => {
  it('does XCR0 start at 1, take x87|SSE|PKRU, and XGETBV read it with EDX = 0 and the high halves of RAX and RDX cleared?', () => {
    const code = [...SET_OSXSAVE, ...XOR_ECX, ...XGETBV, ...save(12, 0), ...xsetbv(0x203), 0x48, 0xc7, 0xc0, ...le32(-1), 0x48, 0xc7, 0xc2, ...le32(-1), ...XOR_ECX, ...XGETBV, HLT];
    const e = everywhere({ code });
    expect([e.regs[12], e.regs[0], e.regs[2], e.vector]).toEqual([1n, 0x203n, 0n, -1]);
    const f = everywhere({ code: [HLT], entry: [...SET_OSXSAVE, ...xsetbv(3), ...XOR_ECX, ...XGETBV, HLT] });
    expect([f.regs[0], f.regs[2], f.vector32]).toEqual([3n, 0n, -1]);
  });

  it('is XSETBV #GP(0) for ECX != 0, bit 0 clear, AVX, an unsupported bit or EDX != 0 (XCR0 unchanged), and XGETBV for ECX != 0?', () => {
    for (const [what, insn] of [
      ['ECX = 1', [...MOV(1, 1), ...XOR_EDX, ...MOV(0, 3), ...XSETBV]], ['bit 0 clear', xsetbv(2)], ['AVX', xsetbv(7)], ['bit 3', xsetbv(9)],
      ['EDX = 1', [...XOR_ECX, ...MOV(2, 1), ...MOV(0, 3), ...XSETBV]], ['XGETBV ECX = 1', [...MOV(1, 1), ...XGETBV]],
    ] as const) {
      const code = [...SET_OSXSAVE, ...xsetbv(3), ...insn];
      const [e, f] = both(code);
      expect([e.vector, e.frame, f.vector32], what).toEqual([13, [0n, BigInt(CODE64 + code.length - 3)], 13]);
    }
    // bit 9 without pku is unsupported too
    const np = everywhere({ code: [...SET_OSXSAVE, ...xsetbv(0x203), HLT], cpu: '+lm,+sse,+xsave' });
    expect(np.vector).toBe(13);
  });

  it('at CPL 3: does XGETBV work and XSETBV give #GP(0)?', () => {
    const TSS = 0x6000;
    const withTss = (m: Machine): void => {
      m.mmu.writePhys(TSS + 4, 4, 0x70000);
      m.cpu.loadSystemCache(7, 0x38, TSS, 0x67, 0x8000 | (11 << 8));
    };
    const wrmsr = (msr: number, lo: number, hi: number): number[] => [0xb9, ...le32(msr), 0xb8, ...le32(lo), 0xba, ...le32(hi), 0x0f, 0x30];
    const U = CODE64 + 0x100;
    const main = [...setup, 0xb9, ...le32(0xc0000080), 0x0f, 0x32, 0x83, 0xc8, 0x01, 0x0f, 0x30, // EFER.SCE
      ...wrmsr(0xc0000081, 0, 0x00200018), 0x48, 0xc7, 0xc1, ...le32(U), 0x49, 0xc7, 0xc3, ...le32(0x2), 0x48, 0x0f, 0x07]; // STAR; rcx = U; r11 = 2; sysretq
    const user = [...XOR_ECX, ...XGETBV, ...save(12, 0), ...xsetbv(1), HLT];
    const code = [...main];
    while (code.length < 0x100) code.push(HLT);
    code.push(...user);
    const e = everywhere({ code, setup: withTss });
    expect([e.regs[12], e.vector, e.frame]).toEqual([0x203n, 13, [0n, BigInt(U + user.length - 4)]]);
  });
});

describe('XSAVE', () => {
  it('is the legacy region FXSAVE\'s byte for byte (XMM0-15 in 64-bit mode, XMM0-7 outside it), bytes 511:416 and the header after XSTATE_BV untouched, XSTATE_BV\'s other bits kept, PKRU at 0A80H?', () => {
    const code = [...setup, ...orCr4(PKE), ...XOR_ECX, ...XOR_EDX, ...MOV(0, 0x5c), ...WRPKRU, ...FXRSTOR_IMG, ...FXSAVE_A, ...ALL, ...XSAVE_B];
    const [e, f] = both(code);
    for (const [x, n] of [[e, 416], [f, 288]] as const) {
      expect([x.vector, x.vector32]).toEqual([-1, -1]);
      expect(x.b.slice(0, n)).toEqual(x.a.slice(0, n));
      expect(x.b.slice(n, 512)).toEqual(new Array(512 - n).fill(PAT));
      expect(x.b.slice(512, 520)).toEqual([0x13, 0x02, 0, 0, 0, 0, 0, 0x80]);
      expect(x.b.slice(520, 0xa80)).toEqual(new Array(0xa80 - 520).fill(PAT));
      expect(x.b.slice(0xa80)).toEqual([0x5c, 0, 0, 0, 0, 0, 0, 0]);
    }
    // the image came through FXRSTOR: MXCSR and an XMM byte as written
    expect([e.a.slice(24, 28), e.a[300]]).toEqual([[0x83, 0x3f, 0, 0], (300 * 13 + 5) & 0xff]);
  });

  it('is XSAVE64 FXSAVE64\'s layout (FIP and FDP as 64-bit offsets)?', () => {
    const code = [...setup, ...FXRSTOR_IMG, ...MOV(6, A), 0x48, ...g15(0, 6), ...ALL, ...MOV(7, B), 0x48, ...g15(4, 7), HLT];
    const e = everywhere({ code });
    expect(e.b.slice(0, 416)).toEqual(e.a.slice(0, 416));
    expect(e.a.slice(12, 16)).toEqual([0, 0, 0, 0]); // FCS is not in FXSAVE64's layout
  });

  it('does it save only RFBM = EDX:EAX & XCR0: x87 alone (MXCSR not written), SSE alone (MXCSR and the XMM registers), nothing for PKRU outside XCR0?', () => {
    const x87 = everywhere({ code: [...setup, ...FXRSTOR_IMG, ...FXSAVE_A, ...MOV(0, 1), ...XOR_EDX, ...XSAVE_B, HLT] });
    expect(x87.b.slice(0, 24)).toEqual(x87.a.slice(0, 24));
    expect(x87.b.slice(24, 32)).toEqual(new Array(8).fill(PAT));
    expect(x87.b.slice(32, 160)).toEqual(x87.a.slice(32, 160));
    expect(x87.b.slice(160, 512)).toEqual(new Array(352).fill(PAT));
    expect(x87.b.slice(512, 520)).toEqual([0x11, 0, 0, 0, 0, 0, 0, 0x80]);
    const sse = everywhere({ code: [...setup, ...FXRSTOR_IMG, ...FXSAVE_A, ...MOV(0, 2 | 0x200), ...XOR_EDX, ...XSAVE_B, HLT] });
    expect(sse.b.slice(0, 24)).toEqual(new Array(24).fill(PAT));
    expect(sse.b.slice(24, 32)).toEqual(sse.a.slice(24, 32));
    expect(sse.b.slice(32, 160)).toEqual(new Array(128).fill(PAT));
    expect(sse.b.slice(160, 416)).toEqual(sse.a.slice(160, 416));
    expect(sse.b.slice(512, 520)).toEqual([0x12, 0x02, 0, 0, 0, 0, 0, 0x80]);
    expect(sse.b.slice(0xa80)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    const noPkru = everywhere({ code: [...SET_OSXSAVE, ...xsetbv(3), ...ALL, ...XSAVE_B, HLT] });
    expect([noPkru.b.slice(512, 520), noPkru.b.slice(0xa80)]).toEqual([[0x13, 0, 0, 0, 0, 0, 0, 0x80], new Array(8).fill(PAT)]);
  });

  it('is it #GP(0) for an area not 64-byte aligned, #NM with CR0.TS, #UD with LOCK or 66, the area untouched?', () => {
    const ts = [0x0f, 0x20, 0xc0, 0x83, 0xc8, 0x08, 0x0f, 0x22, 0xc0]; // mov eax, cr0; or eax, TS; mov cr0, eax
    for (const [what, insn, vector] of [
      ['B + 16', [...ALL, ...MOV(7, B + 16), ...g15(4, 7)], 13], ['CR0.TS', [...ts, ...ALL, ...XSAVE_B], 7],
      ['LOCK', [...ALL, ...MOV(7, B), 0xf0, ...g15(4, 7)], 6], ['66', [...ALL, ...MOV(7, B), 0x66, ...g15(4, 7)], 6],
      ['XRSTOR B + 32', [...ALL, ...MOV(7, B + 32), ...g15(5, 7)], 13],
    ] as const) {
      const [e, f] = both([...setup, ...insn]);
      expect([e.vector, f.vector32, e.b, f.b], what).toEqual([vector, vector, bytes0(), bytes0()]);
    }
  });
});

describe('XRSTOR', () => {
  const header = (m: Machine, at: number, bv: number, rest: [number, number] = [0, 0]): void => {
    m.mmu.writePhys(at + 512, 4, bv);
    m.mmu.writePhys(at + 516, 4, 0);
    m.mmu.writePhys(at + 520, 4, rest[0]);
    m.mmu.writePhys(at + 524, 4, rest[1]);
    for (let n = 528; n < 576; n += 4) m.mmu.writePhys(at + n, 4, 0);
  };
  /** after XRSTOR: FXSAVE into C, RDPKRU into r12 (64-bit) */
  const XRSTOR_D = [...MOV(7, D), ...g15(5, 7)];

  it('does XSAVE then XRSTOR give back the x87, SSE and PKRU state (PKRU in the MMU), in 64-bit and 32-bit code?', () => {
    const code = [...setup, ...orCr4(PKE), ...XOR_ECX, ...XOR_EDX, ...MOV(0, 0x5c), ...WRPKRU, ...FXRSTOR_IMG, ...FXSAVE_A, ...ALL, ...XSAVE_B,
      0xdb, 0xe3, ...XOR_ECX, ...XOR_EDX, ...MOV(0, 0), ...WRPKRU, // fninit; PKRU = 0
      ...ALL, ...MOV(7, B), ...g15(5, 7), ...FXSAVE_C];
    const [e, f] = both(code, { b: (m) => header(m, B, 0) });
    for (const [x, n] of [[e, 416], [f, 288]] as const) {
      expect([x.vector, x.vector32, x.pkru]).toEqual([-1, -1, 0x5c]);
      expect(x.c.slice(0, n)).toEqual(x.a.slice(0, n));
    }
  });

  it('with XSTATE_BV = 0: x87 and SSE in their initial configuration (FCW 037FH, all empty, registers 0, XMM 0) but MXCSR loaded from memory, PKRU 0; and only RFBM\'s components?', () => {
    const code = [...setup, ...orCr4(PKE), ...XOR_ECX, ...XOR_EDX, ...MOV(0, 0x5c), ...WRPKRU, ...FXRSTOR_IMG, ...ALL, ...XRSTOR_D, ...FXSAVE_C];
    const b = (m: Machine): void => { m.mmu.writePhysBytes(D, new Uint8Array(512).fill(0x77)); m.mmu.writePhys(D + 24, 4, 0x1f00); header(m, D, 0); };
    const [e, f] = both(code, { b });
    for (const [x, n] of [[e, 416], [f, 288]] as const) {
      expect([x.vector, x.vector32, x.pkru]).toEqual([-1, -1, 0]);
      const want = new Array(n).fill(0);
      want[0] = 0x7f; want[1] = 0x03; // FCW; FSW, FTW (all empty), FOP, FIP, FCS, FDP, FDS 0
      want[24] = 0x00; want[25] = 0x1f; // MXCSR from the area
      expect(x.c.slice(0, 24)).toEqual(want.slice(0, 24));
      expect(x.c.slice(24, 28)).toEqual([0, 0x1f, 0, 0]);
      expect(x.c.slice(32, n)).toEqual(want.slice(32, n));
    }
    // RFBM = x87 only: the XMM registers, MXCSR and PKRU stay as they were
    const part = everywhere({ code: [...setup, ...orCr4(PKE), ...XOR_ECX, ...XOR_EDX, ...MOV(0, 0x5c), ...WRPKRU, ...FXRSTOR_IMG, ...FXSAVE_A, ...MOV(0, 1), ...XOR_EDX, ...XRSTOR_D, ...FXSAVE_C, HLT], b });
    expect([part.pkru, part.c.slice(0, 2), part.c.slice(24, 28), part.c.slice(160, 416)]).toEqual([0x5c, [0x7f, 0x03], part.a.slice(24, 28), part.a.slice(160, 416)]);
  });

  it('is it #GP(0) for XCOMP_BV nonzero (bit 63: the compacted form), bytes 23:16 nonzero, an XSTATE_BV bit outside XCR0, a reserved MXCSR bit?', () => {
    for (const [what, b] of [
      ['XCOMP_BV[63]', (m: Machine) => header(m, D, 3, [0, 0x80000000])], ['XCOMP_BV[0]', (m: Machine) => header(m, D, 3, [1, 0])],
      ['bytes 23:16', (m: Machine) => { header(m, D, 3); m.mmu.writePhys(D + 528, 4, 0x100); }], ['XSTATE_BV[2]', (m: Machine) => header(m, D, 7)],
      ['MXCSR bit 16', (m: Machine) => { header(m, D, 3); m.mmu.writePhys(D + 24, 4, 0x10000); }],
    ] as const) {
      const code = [...setup, ...FXRSTOR_IMG, ...FXSAVE_A, ...ALL, ...XRSTOR_D];
      const [e, f] = both([...code, ...FXSAVE_C], { b });
      expect([e.vector, e.frame, f.vector32, e.c, f.c], what).toEqual([13, [0n, BigInt(CODE64 + code.length - 3)], 13, new Array(512).fill(PAT), new Array(512).fill(PAT)]);
    }
  });
});
