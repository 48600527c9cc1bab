/**
 * RDTSCP, RDPID and IA32_TSC_AUX (`--cpu +rdtscp`, `--cpu +rdpid`), and
 * LGDT/LIDT's base check in 64-bit mode. The rules, written by hand from the
 * SDM (vol. 2B RDTSCP, RDPID, RDMSR/WRMSR; vol. 2A CPUID, LGDT/LIDT; vol. 4
 * table 2-2 for the MSR):
 * - RDTSCP (0F 01 F9): EDX:EAX = the TSC, ECX = IA32_TSC_AUX[31:0]; in 64-bit
 *   mode the high halves of RAX, RDX and RCX cleared; #UD without the feature
 *   (CPUID.80000001h:EDX[27]) and with LOCK; #GP(0) above CPL 0 while
 *   CR4.TSD = 1, as RDTSC.
 * - RDPID (F3 0F C7 /7, register form): the register = IA32_TSC_AUX, 32 bits
 *   outside 64-bit mode, zero-extended to 64 in it, whatever 66 or REX.W say;
 *   #UD without the feature (CPUID.(7,0):ECX[22]), for the memory form, with
 *   LOCK; F2 or no F3 is another instruction (#UD here); CR4.TSD does not
 *   apply.
 * - IA32_TSC_AUX (MSR 0xC0000103): with either feature, read and written by
 *   RDMSR/WRMSR, bits 63:32 reserved (#GP(0) on WRMSR); #GP(0) without both.
 * - LGDT/LIDT in 64-bit mode: an 8-byte base whatever the operand size (66),
 *   and a base that is not canonical (48 bits, 57 with la57 whatever
 *   CR4.LA57 says) is #GP(0) with GDTR/IDTR unchanged; in compatibility
 *   mode a 32-bit base (24 bits with 66), the high half cleared.
 * 32-bit code runs under naive, shadow and slat and the four engines
 * (interp, block, jit, wasm; a hot loop so that the compiled engines compile
 * it), 64-bit code (long.ts) under the three modes and the four engines'
 * ways into it; all must agree. The TSC's value depends on when it is read,
 * so the guest itself checks it (the distance from a value WRMSR gave the
 * TSC, into a flag register) and the rest is compared exactly.
 *
 * Planted errors each caught by some test here (each made in the source,
 * the file run, the error reverted): RDTSCP not writing ECX; RDTSCP leaving
 * RCX's high half (long.ts); RDTSCP without its feature check; RDTSCP
 * reading the TSC without RDTSC's CR4.TSD check; LOCK RDTSCP accepted in
 * long.ts; WRMSR TSC_AUX accepting a nonzero EDX; RDMSR TSC_AUX without the
 * feature check; the MSR there with rdtscp only (not rdpid); RDPID's memory
 * form accepted; RDPID without its F3 (32-bit decoder); RDPID under
 * CR4.TSD's rule; RDPID with 66 writing 16 bits (32-bit decoder); RDPID
 * writing the reg field's register (long.ts); RDPID's CPUID bit 21 instead
 * of 22; rdtscp needing lm; the LGDT/LIDT base check left out; the check at
 * CR4.LA57's width instead of the feature's; LGDT with 66 loading 4 bytes of
 * base; LGDT/LIDT in compatibility mode leaving the high half of the base.
 */
import { describe, expect, it } from 'vitest';
import type { Machine } from '../../src/machine/machine.js';
import type { ModeName } from '../../src/mmu/modes/mode.js';
import type { Engine } from '../../src/cpu/cpu.js';
import { CpuFeatures } from '../../src/cpu/features.js';
import { CODE64, DATA, everywhere, frameAt, IDTR64, le64, PML4, regs64, rip, runLongProgram, stubVector, type LongProgram } from './long-machine.js';
import { CODE, flatMachine, GDT, haltedInStub, le32, stackWord } from './flat-machine.js';

const HLT = 0xf4;
const TSC_AUX = 0xc0000103;
const AUX = 0xcafe1234;
const TSD = 1 << 2;
const RDTSCP = [0x0f, 0x01, 0xf9];
/** the TSC that the programs give WRMSR: 0x12_40000000 */
const TSC_HI = 0x12, TSC_LO = 0x40000000;

const MOV_EAX = (v: number): number[] => [0xb8, ...le32(v)];
const MOV_ECX = (v: number): number[] => [0xb9, ...le32(v)];
const MOV_EDX = (v: number): number[] => [0xba, ...le32(v)];
/** WRMSR msr = hi:lo (ECX, EAX, EDX) */
const wrmsr = (msr: number, lo: number, hi: number): number[] => [...MOV_ECX(msr), ...MOV_EAX(lo), ...MOV_EDX(hi), 0x0f, 0x30];
const RDMSR = [0x0f, 0x32];
/** mov ebx, 0 (so that SETB's BL is all of EBX) */
const MOV_EBX0 = [0xbb, ...le32(0)];
/** CR4.TSD = 1 (mov eax, cr4; or eax, 4; mov cr4, eax), in either mode */
const SET_TSD = [0x0f, 0x20, 0xe0, 0x83, 0xc8, TSD, 0x0f, 0x22, 0xe0];
/** sub eax, TSC_LO; cmp eax, 100000; setb bl; xor eax, eax: BL = 1 when EAX was the TSC WRMSR gave, a little later */
const CHECK_TSC32 = [0x2d, ...le32(TSC_LO), 0x3d, ...le32(100000), 0x0f, 0x92, 0xc3, 0x31, 0xc0];
/** the same on all of RAX (its high half must be 0): sub rax, TSC_LO; cmp rax, 100000; setb bl; xor eax, eax */
const CHECK_TSC64 = [0x48, 0x2d, ...le32(TSC_LO), 0x48, 0x3d, ...le32(100000), 0x0f, 0x92, 0xc3, 0x31, 0xc0];

// ---- 32-bit code: flatMachine, every mode and engine ----

interface End32 {
  regs: number[];
  vector: number;
  /** the error code and EIP of the exception frame (when vector >= 0) */
  frame: number[];
  tscAux: number;
  reason: string;
}

interface Program32 {
  code: number[];
  cpu: string;
  /** leave the code at CPL 3 (IRET) after `code`, running `user` there */
  user?: number[];
}

const USER32 = CODE + 0x400;

function run32(mode: ModeName, engine: Engine, p: Program32): End32 {
  const m = flatMachine({ mode, engine, cpu: p.cpu });
  let code = p.code;
  if (p.user) {
    // GDT 0x18: flat 32-bit code, DPL 3; 0x20: flat data, DPL 3; a 32-bit TSS (ESP0, SS0) for the way back
    m.mmu.writePhys(GDT + 0x18, 4, 0x0000ffff);
    m.mmu.writePhys(GDT + 0x1c, 4, 0x00cffa00);
    m.mmu.writePhys(GDT + 0x20, 4, 0x0000ffff);
    m.mmu.writePhys(GDT + 0x24, 4, 0x00cff200);
    m.cpu.gdtLimit = 5 * 8 - 1;
    const TSS = 0x6000;
    m.mmu.writePhys(TSS + 4, 4, 0x70000);
    m.mmu.writePhys(TSS + 8, 4, 0x10);
    m.cpu.loadSystemCache(7, 0x28, TSS, 0x67, 0x8000 | (11 << 8));
    // push 0x23; push 0x60000; push 2; push 0x1b; push USER32; iretd
    code = [...code, 0x68, ...le32(0x23), 0x68, ...le32(0x60000), 0x68, ...le32(2), 0x68, ...le32(0x1b), 0x68, ...le32(USER32), 0xcf];
    m.mmu.writePhysBytes(USER32, new Uint8Array(p.user));
  }
  m.mmu.writePhysBytes(CODE, new Uint8Array(code));
  const r = m.run({ maxInstructions: 200_000 });
  const vector = haltedInStub(m);
  return {
    regs: Array.from(m.cpu.reg32, (v) => v >>> 0),
    vector,
    frame: vector >= 0 ? [stackWord(m, 0), stackWord(m, 4)] : [],
    tscAux: m.cpu.tscAux >>> 0,
    reason: r.reason,
  };
}

const everywhere32 = (p: Program32): End32 => everywhere((mode, engine) => run32(mode, engine, p), false);

// ---- 64-bit code: longMachine ----

interface End64 {
  regs: bigint[];
  rip: bigint;
  vector: number;
  /** the error code and RIP of an exception frame (the two words at RSP) */
  frame: bigint[];
  gdtr: [number, bigint];
  idtr: [number, bigint];
  tscAux: number;
  reason: string;
}

interface Program64 extends LongProgram {
  cpu: string;
}

const pair = (lo: number, hi: number): bigint => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);

function run64(mode: ModeName, engine: Engine, p: Program64): End64 {
  const { m, r } = runLongProgram({ mode, engine, cpu: p.cpu }, p);
  const c = m.cpu;
  const vector = stubVector(m);
  return {
    regs: regs64(m),
    rip: rip(m),
    vector,
    frame: vector >= 0 ? frameAt(m) : [],
    gdtr: [c.gdtLimit, pair(c.gdtBase, c.gdtBaseHi)],
    idtr: [c.idtLimit, pair(c.idtBase, c.idtBaseHi)],
    tscAux: c.tscAux >>> 0,
    reason: r.reason,
  };
}

const everywhere64 = (p: Program64): End64 => everywhere((mode, engine) => run64(mode, engine, p), false);

const movImm64 = (r: number, v: bigint): number[] => [0x48 | (r >> 3), 0xb8 + (r & 7), ...le64(v)];

describe('the features and CPUID', () => {
  it('are rdtscp (CPUID.80000001h:EDX[27]) and rdpid (CPUID.(7,0):ECX[22]) off by default, on without lm, rdpid raising the highest basic leaf to 7?', () => {
    const d = new CpuFeatures();
    expect([d.rdtscp, d.rdpid, d.ext1Edx >>> 0, d.leaf7Ecx, d.maxLeaf]).toEqual([false, false, 1 << 20, 0, 2]);
    const t = new CpuFeatures('+rdtscp');
    expect([t.rdtscp, t.rdpid, t.ext1Edx >>> 0, t.leaf7Ecx, t.maxLeaf, t.toString()]).toEqual([true, false, (1 << 20) | (1 << 27), 0, 2, '+rdtscp']);
    const r = new CpuFeatures('+rdpid');
    expect([r.rdtscp, r.rdpid, r.ext1Edx >>> 0, r.leaf7Ecx, r.maxLeaf, r.toString()]).toEqual([false, true, 1 << 20, 1 << 22, 7, '+rdpid']);
  });

  it('does CPUID report them to the guest (80000001h EDX into ESI, (7,0) ECX into EDI)?', () => {
    const code = [...MOV_EAX(0x80000001), 0x0f, 0xa2, 0x89, 0xd6, ...MOV_EAX(7), 0x31, 0xc9, 0x0f, 0xa2, 0x89, 0xcf, HLT]; // cpuid; mov esi, edx; cpuid 7.0; mov edi, ecx
    for (const [cpu, esi, edi] of [['', 1 << 20, 0], ['+rdtscp', (1 << 20) | (1 << 27), 0], ['+rdpid,+smep', 1 << 20, 1 << 22]] as const) {
      const e = everywhere32({ code, cpu });
      expect([e.regs[6], e.regs[7], e.vector], cpu).toEqual([esi >>> 0, edi, -1]);
    }
  });
});

describe('IA32_TSC_AUX', () => {
  it('with either feature: does WRMSR set it and RDMSR read it back (EDX = 0)?', () => {
    for (const cpu of ['+rdtscp', '+rdpid']) {
      const e = everywhere32({ code: [...wrmsr(TSC_AUX, AUX, 0), ...MOV_EAX(0), ...MOV_EDX(-1), ...RDMSR, HLT], cpu });
      expect([e.regs[0], e.regs[2], e.tscAux, e.vector], cpu).toEqual([AUX >>> 0, 0, AUX >>> 0, -1]);
    }
  });

  it('is WRMSR with a reserved bit (EDX != 0) #GP(0), the MSR unchanged?', () => {
    const before = wrmsr(TSC_AUX, 7, 0);
    const e = everywhere32({ code: [...before, ...wrmsr(TSC_AUX, AUX, 1), HLT], cpu: '+rdtscp' });
    expect([e.vector, e.frame, e.tscAux]).toEqual([13, [0, CODE + before.length + 15], 7]);
  });

  it('without either feature: are RDMSR and WRMSR of it #GP(0)?', () => {
    const rd = everywhere32({ code: [...MOV_ECX(TSC_AUX), ...RDMSR, HLT], cpu: '+smep' });
    expect([rd.vector, rd.frame]).toEqual([13, [0, CODE + 5]]);
    const wr = everywhere32({ code: [...wrmsr(TSC_AUX, AUX, 0), HLT], cpu: '' });
    expect([wr.vector, wr.frame, wr.tscAux]).toEqual([13, [0, CODE + 15], 0]);
  });
});

describe('RDTSCP outside 64-bit mode', () => {
  const setup = [...wrmsr(TSC_AUX, AUX, 0), ...wrmsr(0x10, TSC_LO, TSC_HI)];

  it('does it give the TSC in EDX:EAX and IA32_TSC_AUX in ECX, and in a hot loop too?', () => {
    const e = everywhere32({ code: [...setup, ...MOV_EBX0, ...RDTSCP, ...CHECK_TSC32, HLT], cpu: '+rdtscp' });
    expect([e.regs[1], e.regs[2], e.regs[3], e.vector]).toEqual([AUX >>> 0, TSC_HI, 1, -1]);
    // edi += ecx 5000 times with IA32_TSC_AUX = 3; then ESI = how often EAX went down (never: the TSC is monotonic)
    const loop = [...wrmsr(TSC_AUX, 3, 0), 0xbd, ...le32(5000), 0x31, 0xff, 0x31, 0xf6, ...RDTSCP, 0x89, 0xc3, // mov ebp, 3000; xor edi, edi; xor esi, esi; rdtscp; mov ebx, eax
      ...RDTSCP, 0x01, 0xcf, 0x39, 0xd8, 0x83, 0xd6, 0x00, 0x89, 0xc3, 0x4d, 0x75, -15 & 0xff, HLT]; // l: rdtscp; add edi, ecx; cmp eax, ebx; adc esi, 0; mov ebx, eax; dec ebp; jnz l
    const h = everywhere32({ code: loop, cpu: '+rdtscp' });
    expect([h.regs[7], h.regs[6], h.vector]).toEqual([15000, 0, -1]);
  });

  it('is it #UD without the feature (ECX unchanged) and with LOCK?', () => {
    const off = everywhere32({ code: [...MOV_ECX(5), ...RDTSCP, HLT], cpu: '+rdpid' });
    expect([off.vector, off.frame, off.regs[1]]).toEqual([6, [CODE + 5, 8], 5]);
    const lock = everywhere32({ code: [0xf0, ...RDTSCP, HLT], cpu: '+rdtscp' });
    expect([lock.vector, lock.frame]).toEqual([6, [CODE, 8]]);
  });

  it('with CR4.TSD = 1: does it work at CPL 0 and raise #GP(0) at CPL 3, where it works with TSD = 0?', () => {
    const cpl0 = everywhere32({ code: [...setup, ...SET_TSD, ...RDTSCP, HLT], cpu: '+rdtscp' });
    expect([cpl0.regs[1], cpl0.regs[2], cpl0.vector]).toEqual([AUX >>> 0, TSC_HI, -1]);
    const tsd = everywhere32({ code: [...setup, ...SET_TSD], user: [...MOV_ECX(5), ...RDTSCP, HLT], cpu: '+rdtscp' });
    expect([tsd.vector, tsd.frame, tsd.regs[1]]).toEqual([13, [0, USER32 + 5], 5]);
    // TSD = 0: RDTSCP goes through at CPL 3, and the HLT after it is the #GP(0)
    const user = everywhere32({ code: setup, user: [...MOV_ECX(5), ...RDTSCP, HLT], cpu: '+rdtscp' });
    expect([user.vector, user.frame, user.regs[1], user.regs[2]]).toEqual([13, [0, USER32 + 8], AUX >>> 0, TSC_HI]);
  });
});

describe('RDPID outside 64-bit mode', () => {
  const setAux = wrmsr(TSC_AUX, AUX, 0);
  /** F3 0F C7 /7 with ModR/M 11 111 110: rdpid esi */
  const RDPID_ESI = [0xf3, 0x0f, 0xc7, 0xfe];

  it('does it read IA32_TSC_AUX into the register, all 32 bits with 66 too, at CPL 3 with CR4.TSD = 1 as at CPL 0, and in a hot loop?', () => {
    const e = everywhere32({ code: [...setAux, ...MOV_EAX(-1), ...RDPID_ESI, 0x66, 0xf3, 0x0f, 0xc7, 0xff, HLT], cpu: '+rdpid' }); // and rdpid edi with 66
    expect([e.regs[6], e.regs[7], e.regs[0], e.vector]).toEqual([AUX >>> 0, AUX >>> 0, 0xffffffff, -1]);
    const user = everywhere32({ code: [...setAux, ...SET_TSD], user: [...RDPID_ESI, HLT], cpu: '+rdpid' });
    // a hot loop (compiled by the block, jit and wasm engines): edi += rdpid 5000 times with IA32_TSC_AUX = 3, the 66 form every other time
    const loop = [...wrmsr(TSC_AUX, 3, 0), 0xbd, ...le32(5000), 0x31, 0xff, ...RDPID_ESI, 0x01, 0xf7, 0x4d, 0x66, 0xf3, 0x0f, 0xc7, 0xfe, 0x01, 0xf7, 0x4d, 0x75, -17 & 0xff, HLT];
    const h = everywhere32({ code: loop, cpu: '+rdpid' }); // l: rdpid esi; add edi, esi; dec ebp; 66 rdpid esi; add edi, esi; dec ebp; jnz l
    expect([h.regs[7], h.regs[5], h.vector]).toEqual([15000, 0, -1]);
    expect([user.regs[6], user.vector, user.frame]).toEqual([AUX >>> 0, 13, [0, USER32 + 4]]);
  });

  it('is it #UD without the feature, for the memory form, with LOCK, with F2, and without F3?', () => {
    for (const [what, insn, cpu] of [
      ['without the feature', RDPID_ESI, '+rdtscp'],
      ['the memory form (rdpid [eax])', [0xf3, 0x0f, 0xc7, 0x38], '+rdpid'],
      ['LOCK', [0xf0, ...RDPID_ESI], '+rdpid'],
      ['F2', [0xf2, 0x0f, 0xc7, 0xfe], '+rdpid'],
      ['no F3 (RDSEED)', [0x0f, 0xc7, 0xfe], '+rdpid'],
    ] as const) {
      const e = everywhere32({ code: [...MOV_EAX(DATA), 0xbe, ...le32(5), ...insn, HLT], cpu });
      expect([e.vector, e.frame, e.regs[6]], what).toEqual([6, [CODE + 10, 8], 5]);
    }
  });
});

// ---- 64-bit mode ----

describe('RDTSCP and RDPID in 64-bit mode', () => {
  const CPU = '+lm,+rdtscp,+rdpid';
  const setup = [...wrmsr(TSC_AUX, AUX, 0), ...wrmsr(0x10, TSC_LO, TSC_HI), ...movImm64(0, -1n), ...movImm64(1, -1n), ...movImm64(2, -1n), ...MOV_EBX0];

  it('does RDTSCP give the TSC and IA32_TSC_AUX with the high halves of RAX, RDX and RCX cleared?', () => {
    const e = everywhere64({ code: [...setup, ...RDTSCP, ...CHECK_TSC64, HLT], cpu: CPU });
    expect([e.regs[1], e.regs[2], e.regs[3], e.vector]).toEqual([BigInt(AUX >>> 0), BigInt(TSC_HI), 1n, -1]);
  });

  it('is RDTSCP #UD without the feature and with LOCK?', () => {
    const off = everywhere64({ code: [...RDTSCP, HLT], cpu: '+lm,+rdpid' });
    expect([off.vector, off.frame]).toEqual([6, [BigInt(CODE64), 0x18n]]);
    const lock = everywhere64({ code: [0xf0, ...RDTSCP, HLT], cpu: CPU });
    expect([lock.vector, lock.frame]).toEqual([6, [BigInt(CODE64), 0x18n]]);
  });

  it('at CPL 3: is RDTSCP #GP(0) with CR4.TSD = 1 and allowed with TSD = 0, and RDPID allowed either way?', () => {
    const TSS = 0x6000;
    const withTss = (m: Machine): void => {
      m.mmu.writePhys(TSS + 4, 4, 0x70000);
      m.cpu.loadSystemCache(7, 0x38, TSS, 0x67, 0x8000 | (11 << 8));
    };
    const U = CODE64 + 0x100;
    const toUser = (tsd: boolean): number[] => {
      const main = [...wrmsr(TSC_AUX, AUX, 0), ...(tsd ? SET_TSD : []), ...MOV_ECX(0xc0000080), ...RDMSR, 0x83, 0xc8, 0x01, 0x0f, 0x30, // EFER.SCE
        ...wrmsr(0xc0000081, 0, 0x00200018), ...movImm64(1, BigInt(U)), 0x49, 0xc7, 0xc3, ...le32(0x2), 0x48, 0x0f, 0x07]; // STAR; rcx = U; r11 = 2; sysretq
      while (main.length < 0x100) main.push(HLT);
      return main;
    };
    // rdpid r12 (F3 41 0F C7 FC); mov ecx, 5; rdtscp; hlt
    const user = [0xf3, 0x41, 0x0f, 0xc7, 0xfc, ...MOV_ECX(5), ...RDTSCP, HLT];
    const tsd = everywhere64({ code: [...toUser(true), ...user], cpu: CPU, setup: withTss });
    expect([tsd.regs[12], tsd.regs[1], tsd.vector, tsd.frame]).toEqual([BigInt(AUX >>> 0), 5n, 13, [0n, BigInt(U + 10)]]);
    const free = everywhere64({ code: [...toUser(false), ...user], cpu: CPU, setup: withTss });
    expect([free.regs[12], free.regs[1], free.vector, free.frame]).toEqual([BigInt(AUX >>> 0), BigInt(AUX >>> 0), 13, [0n, BigInt(U + 13)]]);
  });

  it('does RDPID write all 64 bits of the register (IA32_TSC_AUX zero-extended), with REX.W or 66 alike?', () => {
    // r9, r10, r11 = -1; rdpid r9; rdpid r10 with REX.W; rdpid r11 with 66
    const code = [...wrmsr(TSC_AUX, AUX, 0), ...movImm64(9, -1n), ...movImm64(10, -1n), ...movImm64(11, -1n), ...movImm64(8, -1n),
      0xf3, 0x41, 0x0f, 0xc7, 0xf9, 0xf3, 0x49, 0x0f, 0xc7, 0xfa, 0x66, 0xf3, 0x41, 0x0f, 0xc7, 0xfb, HLT];
    const e = everywhere64({ code, cpu: CPU });
    expect([e.regs[9], e.regs[10], e.regs[11], e.regs[8], e.vector]).toEqual([BigInt(AUX >>> 0), BigInt(AUX >>> 0), BigInt(AUX >>> 0), 0xffffffff_ffffffffn, -1]);
  });

  it('is RDPID #UD without the feature, for the memory form and with LOCK?', () => {
    for (const [what, insn, cpu] of [
      ['without the feature', [0xf3, 0x41, 0x0f, 0xc7, 0xf9], '+lm,+rdtscp'],
      ['the memory form', [0xf3, 0x0f, 0xc7, 0x3b], CPU], // rdpid [rbx]
      ['LOCK', [0xf0, 0xf3, 0x41, 0x0f, 0xc7, 0xf9], CPU],
    ] as const) {
      const e = everywhere64({ code: [...movImm64(3, BigInt(DATA)), ...insn, HLT], cpu });
      expect([e.vector, e.frame], what).toEqual([6, [BigInt(CODE64 + 10), 0x18n]]);
    }
  });
});

describe('LGDT and LIDT in 64-bit mode', () => {
  /** the pseudo-descriptor at DATA: limit, 8-byte base; then rbx = DATA */
  const desc = (limit: number, base: bigint) => (m: Machine): void => {
    m.mmu.writePhys(DATA, 2, limit);
    m.mmu.writePhysBytes(DATA + 2, new Uint8Array(le64(base)));
  };
  const RBX = movImm64(3, BigInt(DATA));
  const LGDT = [0x0f, 0x01, 0x13], LIDT = [0x0f, 0x01, 0x1b];
  /** the GDTR and IDTR longMachine sets up */
  const GDTR: [number, bigint] = [7 * 8 - 1, BigInt(GDT)];
  const IDTR: [number, bigint] = [32 * 16 - 1, 0x3000n];

  it('do they load an 8-byte base, a high canonical one, with 66 too?', () => {
    const base = 0xffff8000_12345000n;
    const g = everywhere64({ code: [...RBX, 0x66, ...LGDT, HLT], cpu: '+lm', setup: desc(0x1ff, base) });
    expect([g.gdtr, g.idtr, g.vector]).toEqual([[0x1ff, base], IDTR, -1]);
    const i = everywhere64({ code: [...RBX, ...LIDT, HLT], cpu: '+lm', setup: desc(0xfff, base) });
    expect([i.gdtr, i.idtr, i.vector]).toEqual([GDTR, [0xfff, base], -1]);
  });

  it('is a base that is not canonical #GP(0), GDTR and IDTR unchanged: 48 bits, or 57 with la57 (whatever CR4.LA57 says)?', () => {
    for (const [insn, name] of [[LGDT, 'LGDT'], [LIDT, 'LIDT']] as const) {
      for (const [base, cpu, ok] of [
        [0x00008000_00000000n, '+lm', false], [0x00008000_00000000n, '+lm,+la57', true],
        [0xfff00000_00000000n, '+lm,+la57', true], [0x01000000_00000000n, '+lm,+la57', false], [0x80000000_00000000n, '+lm', false],
      ] as const) {
        const e = everywhere64({ code: [...RBX, ...insn, HLT], cpu, setup: desc(0x7f, base) });
        const what = `${name} ${base.toString(16)} ${cpu}`;
        if (ok) {
          expect([e.vector, name === 'LGDT' ? e.gdtr : e.idtr], what).toEqual([-1, [0x7f, base]]);
        } else {
          expect([e.vector, e.frame, e.gdtr, e.idtr], what).toEqual([13, [0n, BigInt(CODE64 + 10)], GDTR, IDTR]);
        }
      }
    }
  });

  it('in compatibility mode: do LGDT and LIDT load a 32-bit base (24 bits with 66) and clear the high half 64-bit code had loaded?', () => {
    // long-machine's way into IA-32e mode, stopping short of the far jump: LIDT [IDTR64] and the rest run in compatibility mode
    const entry = [
      0xb8, ...le32(PML4), 0x0f, 0x22, 0xd8, 0x0f, 0x20, 0xe0, 0x0d, ...le32(0x20), 0x0f, 0x22, 0xe0,
      0xb9, ...le32(0xc0000080), 0x0f, 0x32, 0x0d, ...le32(0x100), 0x0f, 0x30,
      0x0f, 0x20, 0xc0, 0x0d, ...le32(0x80000000), 0x0f, 0x22, 0xc0, 0x0f, 0x01, 0x1d, ...le32(IDTR64)]; // lidt [IDTR64]
    /** GDTR's and IDTR's high halves as 64-bit code that loaded a high base leaves them */
    const stale = (base: bigint) => (m: Machine): void => { desc(0x3f, base)(m); m.cpu.gdtBaseHi = 5; m.cpu.idtBaseHi = 5; };
    const e = everywhere64({ code: [HLT], entry: [...entry, 0x0f, 0x01, 0x15, ...le32(DATA), HLT], cpu: '+lm', setup: stale(0x5566_12345678n) }); // lgdt [DATA]
    expect([e.gdtr, e.idtr, e.vector]).toEqual([[0x3f, 0x12345678n], IDTR, -1]);
    const o16 = everywhere64({ code: [HLT], entry: [...entry, 0x66, 0x0f, 0x01, 0x15, ...le32(DATA), HLT], cpu: '+lm', setup: stale(0x5566_12345678n) });
    expect([o16.gdtr, o16.idtr]).toEqual([[0x3f, 0x345678n], IDTR]);
  });
});
