/**
 * The CPU's side of IA-32e paging's extras (`--cpu +pcid,+invpcid,+la57,+pdpe1gb`,
 * with `lm`): CR4.PCIDE and the PCID in CR3 (bit 63 of MOV to CR3), INVPCID,
 * CR4.LA57 (5-level paging and 57-bit canonical addresses), 1 GiB pages, CR8.
 * Every program runs under naive, shadow and slat paging and the four
 * engines (long-machine.ts enters 64-bit mode from compiled 32-bit code),
 * which must agree on everything; the expected values are written by hand
 * from the SDM (vol. 3A 2.5, 4.1, 4.5, 4.10, 11.8.6; vol. 2A-2B INVPCID, MOV
 * to/from control registers).
 */
import { describe, expect, it } from 'vitest';
import type { Machine } from '../../src/machine/machine.js';
import type { ModeName } from '../../src/mmu/modes/mode.js';
import type { Engine } from '../../src/cpu/cpu.js';
import { CpuFeatureError, CpuFeatures } from '../../src/cpu/features.js';
import { CODE64, everywhere as everywhereLong, frameAt, HIGH, HIGH_PHYS, IDT64, IDTR64, le64, longMachine, PML4, regs64, rip, runLongProgram, SEL_CODE64, STUBS64, stubVector, type LongProgram } from './long-machine.js';
import { le32 } from './flat-machine.js';

const HLT = 0xf4;
const ALL = '+lm,+pcid,+invpcid,+la57,+pdpe1gb';
/** the page table of the page at linear 4 GiB (long-machine.ts), identity-mapped */
const PT = PML4 + 0x4000;
const PDPT = PML4 + 0x1000;
/** a PML5 whose entry 0 is long-machine's PML4 (for 5-level paging) */
const PML5 = 0x20000;

interface End {
  regs: bigint[];
  rip: bigint;
  /** the vector whose stub halted the CPU (64-bit stubs), or -1 */
  vector: number;
  /** AL when a 32-bit stub halted (flatMachine's IDT), else -1 */
  vector32: number;
  cr2: bigint;
  cr3: bigint;
  cr4: number;
  pcid: number;
  format: string;
  tpr: number;
  /** the error code and RIP of an exception frame (the two words at RSP) */
  frame: bigint[];
  instructions: number;
  reason: string;
}

const movImm64 = (r: number, v: bigint): number[] => [0x48 | (r >> 3), 0xb8 + (r & 7), ...le64(v)];
const pair = (lo: number, hi: number): bigint => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);

/** The 32-bit code that enters 64-bit mode, as long-machine's enterLongMode, with CR3 and the CR4 bits given (LA57 before IA-32e mode). */
function enterWith(cr3: number, cr4: number): number[] {
  return [
    0xb8, ...le32(cr3), 0x0f, 0x22, 0xd8, // mov eax, cr3; mov cr3, eax
    0x0f, 0x20, 0xe0, 0x0d, ...le32(0x20 | cr4), 0x0f, 0x22, 0xe0, // mov eax, cr4; or eax, PAE | cr4; mov cr4, eax
    0xb9, ...le32(0xc0000080), 0x0f, 0x32, 0x0d, ...le32(0x100), 0x0f, 0x30, // EFER.LME
    0x0f, 0x20, 0xc0, 0x0d, ...le32(0x80000000), 0x0f, 0x22, 0xc0, // CR0.PG
    0x0f, 0x01, 0x1d, ...le32(IDTR64), // lidt
    0xea, ...le32(CODE64), SEL_CODE64, 0x00, // jmp far 0x18:CODE64
  ];
}

type Program = LongProgram;

function run(mode: ModeName, engine: Engine, p: Program, measure = false): End {
  const { m, r } = runLongProgram({ mode, engine, measure, cpu: p.cpu ?? ALL }, p, (m) => {
    m.mmu.writePhys(PML5, 4, PML4 | 7);
    m.mmu.writePhys(HIGH_PHYS, 4, 0xaaaa0001);
    m.mmu.writePhys(HIGH_PHYS + 0x1000, 4, 0xbbbb0002);
  });
  const c = m.cpu;
  return {
    regs: regs64(m),
    rip: rip(m),
    vector: stubVector(m),
    vector32: !c.long64 && c.halted ? c.reg8[0]! : -1,
    cr2: pair(c.cr2, c.cr2Hi),
    cr3: pair(c.cr3, c.cr3Hi),
    cr4: c.cr4,
    pcid: m.mmu.pcid,
    format: m.mmu.format === 4 ? '5-level' : m.mmu.format === 3 ? '4-level' : `format ${m.mmu.format}`,
    tpr: m.lapic !== null ? m.lapic.tpr : c.taskPriority.tpr,
    frame: frameAt(m),
    instructions: r.instructions,
    reason: r.reason,
  };
}

/** The program in every mode and engine, and once with the cost model observing: all must agree and halt. */
const everywhere = (p: Program): End => everywhereLong((mode, engine, measure) => run(mode, engine, p, measure));

// encodings
const MOV_RAX_CR3 = [0x0f, 0x20, 0xd8], MOV_CR3_RAX = [0x0f, 0x22, 0xd8];
const MOV_RAX_CR4 = [0x0f, 0x20, 0xe0], MOV_CR4_RAX = [0x0f, 0x22, 0xe0];
const MOV_CR8_RAX = [0x44, 0x0f, 0x22, 0xc0], MOV_RAX_CR8 = [0x44, 0x0f, 0x20, 0xc0];
const BTS_RAX = (bit: number): number[] => [0x48, 0x0f, 0xba, 0xe8, bit];
const BTC_RAX = (bit: number): number[] => [0x48, 0x0f, 0xba, 0xf8, bit];
const INVPCID_RCX_RBX = [0x66, 0x0f, 0x38, 0x82, 0x0b]; // invpcid rcx, [rbx]
/** RDX = [4 GiB] after pointing its PTE at the second frame: the program's flush in between decides what it reads */
const readHigh = (reg: number): number[] => [...movImm64(6, HIGH), 0x48, 0x8b, 0x06 | (reg << 3)]; // mov rsi, 4 GiB; mov reg, [rsi]
const repointHigh = [0xb8, ...le32((HIGH_PHYS + 0x1000) | 7), 0xa3, ...le64(BigInt(PT))]; // mov eax, frame 2 | P RW US; mov [PT], eax (moffs64)
/** the INVPCID descriptor at DATA: PCID and address */
const DESC = 0x200000;
const descriptor = (pcid: bigint, addr: bigint) => (m: Machine): void => { m.mmu.writePhysBytes(DESC, new Uint8Array([...le64(pcid), ...le64(addr)])); };

describe('the features', () => {
  it('do pcid, invpcid, la57 and pdpe1gb need lm, stay off by default, and go to CPUID 1:ECX[17], 7:EBX[10], 7:ECX[16], 80000001h:EDX[26]?', () => {
    for (const name of ['pcid', 'invpcid', 'la57', 'pdpe1gb']) expect(() => new CpuFeatures(`+${name}`)).toThrow(new CpuFeatureError(`'${name}' needs 'lm' (+lm,+${name})`));
    const f = new CpuFeatures(ALL);
    // with lm come CX16 (1:ECX[13]), SYSCALL (80000001h:EDX[11]) and LAHF-SAHF (80000001h:ECX[0])
    expect([f.leaf1Ecx, f.leaf7Ebx, f.leaf7Ecx, f.ext1Edx >>> 0, f.ext1Ecx, f.maxLeaf]).toEqual([(1 << 17) | (1 << 13), 1 << 10, 1 << 16, (1 << 11) | (1 << 20) | (1 << 26) | (1 << 29), 1, 7]);
    const d = new CpuFeatures('+lm');
    expect([d.leaf1Ecx, d.leaf7Ebx, d.leaf7Ecx, d.ext1Edx >>> 0, d.ext1Ecx, d.maxLeaf]).toEqual([1 << 13, 0, 0, (1 << 11) | (1 << 20) | (1 << 29), 1, 2]);
  });

  it('does CPUID report them, and 57 linear-address bits in 80000008h with la57?', () => {
    const cpuid = (leaf: number, dst: number): number[] => [0xb8, ...le32(leaf), 0x31, 0xc9, 0x0f, 0xa2, 0x49, 0x89, 0xc0 | (dst - 8), 0x49, 0x89, 0xd8 | ((dst + 1) - 8), 0x49, 0x89, 0xc8 | ((dst + 2) - 8), 0x49, 0x89, 0xd0 | ((dst + 3) - 8)];
    // leaf 1 into R8-R11, leaf 7 into R12-R15; then 80000001h EDX and 80000008h EAX in RSI, RDI
    const code = [...cpuid(1, 8), ...cpuid(7, 12),
      0xb8, ...le32(0x80000001), 0x0f, 0xa2, 0x89, 0xd6, // mov esi, edx
      0xb8, ...le32(0x80000008), 0x0f, 0xa2, 0x89, 0xc7, // mov edi, eax
      HLT];
    const on = everywhere({ code });
    expect([on.regs[10]! & (1n << 17n), on.regs[13]! & (1n << 10n), on.regs[14]! & (1n << 16n), on.regs[6]! & (1n << 26n), on.regs[7]]).toEqual([1n << 17n, 1n << 10n, 1n << 16n, 1n << 26n, 0x3924n]);
    const off = everywhere({ code, cpu: '+lm' });
    // the highest basic leaf is 2 without a leaf-7 feature: leaf 7 gives leaf 2's values (EAX = 1, no PCID, LA57)
    expect([off.regs[10]! & (1n << 17n), off.regs[12], off.regs[14], off.regs[6]! & (1n << 26n), off.regs[7]]).toEqual([0n, 1n, 0n, 0n, 0x3024n]);
  });
});

describe('CR4.PCIDE and the PCID in CR3', () => {
  it('is setting PCIDE #GP(0) without the feature, with CR3[11:0] not 0, and outside IA-32e mode, and allowed in 64-bit mode with CR3[11:0] = 0?', () => {
    const set = [...MOV_RAX_CR4, ...BTS_RAX(17), ...MOV_CR4_RAX, HLT];
    expect(everywhere({ code: set, cpu: '+lm' })).toMatchObject({ vector: 13, frame: [0n, BigInt(CODE64 + 8)], cr4: 0x20 });
    const ok = everywhere({ code: set });
    expect([ok.vector, ok.cr4, ok.pcid]).toEqual([-1, 0x20 | (1 << 17), 0]);
    // CR3 with PCD (bit 4) first: CR3[11:0] = 0x10
    const pcd = everywhere({ code: [...MOV_RAX_CR3, 0x0c, 0x10, ...MOV_CR3_RAX, ...MOV_RAX_CR4, ...BTS_RAX(17), ...MOV_CR4_RAX, HLT] }); // or al, 0x10
    expect([pcd.vector, pcd.frame[1], pcd.cr4, pcd.cr3]).toEqual([13, BigInt(CODE64 + 16), 0x20, BigInt(PML4 | 0x10)]);
    // in 32-bit protected mode with paging off: #GP(0) through the 32-bit IDT, whatever CR3 says
    const legacy = everywhere({ code: [HLT], entry: [0x0f, 0x20, 0xe0, 0x0d, ...le32(1 << 17), 0x0f, 0x22, 0xe0, HLT] });
    expect([legacy.vector32, legacy.cr4]).toEqual([13, 0]);
  });

  it('does MOV to CR3 take the PCID from bits 11:0 and bit 63 as "no flush" that CR3 does not keep, while bit 63 without PCIDE is reserved?', () => {
    const code = [
      ...MOV_RAX_CR4, ...BTS_RAX(17), ...MOV_CR4_RAX,
      ...MOV_RAX_CR3, 0x0c, 0x05, ...MOV_CR3_RAX, // PCID 5
      0x48, 0x89, 0xc3, // mov rbx, rax
      ...BTS_RAX(63), 0x0c, 0x07, ...MOV_CR3_RAX, // PCID 7, bit 63
      ...MOV_RAX_CR3, HLT,
    ];
    const e = everywhere({ code });
    expect([e.regs[3], e.regs[0], e.cr3, e.pcid, e.vector]).toEqual([BigInt(PML4 | 5), BigInt(PML4 | 7), BigInt(PML4 | 7), 7, -1]);
    const reserved = everywhere({ code: [...MOV_RAX_CR3, ...BTS_RAX(63), ...MOV_CR3_RAX, HLT] });
    expect([reserved.vector, reserved.frame[1], reserved.cr3]).toEqual([13, BigInt(CODE64 + 3 + 5), BigInt(PML4)]);
  });

  it('after a PTE edit, does a MOV to CR3 without bit 63 (to the same PCID, or another) give the new translation?', () => {
    const pcide = [...MOV_RAX_CR4, ...BTS_RAX(17), ...MOV_CR4_RAX];
    for (const pcid of [3, 4]) {
      const code = [...pcide, ...MOV_RAX_CR3, 0x0c, 3, ...MOV_CR3_RAX, ...readHigh(1), ...repointHigh,
        ...MOV_RAX_CR3, 0x24, 0xf0 | 0, 0x0c, pcid, ...MOV_CR3_RAX, ...readHigh(2), HLT]; // and al, 0xf0; or al, pcid
      const e = everywhere({ code });
      expect([e.regs[1], e.regs[2], e.pcid]).toEqual([0xaaaa0001n, 0xbbbb0002n, pcid]);
    }
  });

  it('is clearing CR0.PG #GP(0) while PCIDE = 1 (in compatibility mode, where it would otherwise leave IA-32e mode), and does clearing PCIDE flush and make the PCID 0?', () => {
    // compatibility mode: PCIDE can be set there (IA-32e mode), then MOV to CR0 without PG
    const entry = [...enterWith(PML4, 0).slice(0, -7),
      0x0f, 0x20, 0xe0, 0x0d, ...le32(1 << 17), 0x0f, 0x22, 0xe0, // PCIDE
      0x0f, 0x20, 0xc0, 0x25, ...le32(0x7fffffff), 0x0f, 0x22, 0xc0, HLT]; // clear PG: #GP(0)
    const compat = everywhere({ code: [HLT], entry });
    expect([compat.vector, compat.frame[0], compat.cr4 & (1 << 17), compat.format]).toEqual([13, 0n, 1 << 17, '4-level']);
    const code = [...MOV_RAX_CR4, ...BTS_RAX(17), ...MOV_CR4_RAX, 0x48, 0x89, 0xc7, // mov rdi, rax
      ...MOV_RAX_CR3, 0x0c, 9, ...MOV_CR3_RAX, ...readHigh(1), ...repointHigh,
      0x48, 0x89, 0xf8, ...BTC_RAX(17), ...MOV_CR4_RAX, // mov rax, rdi; CR4.PCIDE = 0
      ...readHigh(2), HLT];
    const e = everywhere({ code });
    expect([e.regs[1], e.regs[2], e.pcid, e.cr4 & (1 << 17), e.cr3]).toEqual([0xaaaa0001n, 0xbbbb0002n, 0, 0, BigInt(PML4 | 9)]);
  });
});

describe('INVPCID', () => {
  const at = (type: number, pcid: bigint, addr: bigint, cpu?: string): End => everywhere({
    code: [...movImm64(3, BigInt(DESC)), ...movImm64(1, BigInt(type)), ...INVPCID_RCX_RBX, HLT],
    setup: descriptor(pcid, addr), ...(cpu ? { cpu } : {}),
  });
  const INSN = CODE64 + 20;

  it('is it #UD without the feature, without the 66 prefix, with F3, and with a register descriptor?', () => {
    expect(at(2, 0n, 0n, '+lm,+pcid')).toMatchObject({ vector: 6, frame: [BigInt(INSN), 0x18n] });
    for (const insn of [[0x0f, 0x38, 0x82, 0x0b], [0x66, 0xf3, 0x0f, 0x38, 0x82, 0x0b], [0x66, 0x0f, 0x38, 0x82, 0xcb], [0x66, 0x0f, 0x38, 0x83, 0x0b]]) {
      const e = everywhere({ code: [...movImm64(3, BigInt(DESC)), ...movImm64(1, 2n), ...insn, HLT], setup: descriptor(0n, 0n) });
      expect([e.vector, e.frame[0]]).toEqual([6, BigInt(INSN)]);
    }
  });

  it('is it #GP(0) for a type above 3 (the whole 64-bit register), a descriptor bit 63:12 set, PCID 0 < n with type 0 or 1 while PCIDE = 0, and type 0 with an address not canonical with the widest width (57 bits with la57)?', () => {
    for (const [type, pcid, addr] of [[4, 0n, 0n], [1 << 31, 0n, 0n], [2, 1n << 12n, 0n], [2, 1n << 63n, 0n], [1, 1n, 0n], [0, 1n, HIGH], [0, 0n, 0x0100000000000000n]] as const) {
      const e = at(type, pcid, addr);
      expect([e.vector, e.frame[0], e.frame[1]], `type ${type} pcid ${pcid} address ${addr}`).toEqual([13, 0n, BigInt(INSN)]);
    }
    // a type with its high half set: RCX = 2 + 2^32
    const hi = everywhere({ code: [...movImm64(3, BigInt(DESC)), ...movImm64(1, (1n << 32n) | 2n), ...INVPCID_RCX_RBX, HLT], setup: descriptor(0n, 0n) });
    expect(hi.vector).toBe(13);
    // the address check is 57 bits wide on a processor with 5-level paging, whatever CR4.LA57 says:
    // 2^47 under 4-level paging is no #GP(0) with la57 (there is nothing to invalidate), #GP(0) without
    expect(at(0, 0n, 0x0000800000000000n).vector).toBe(-1);
    expect(at(0, 0n, 0x0000800000000000n, '+lm,+pcid,+invpcid').vector).toBe(13);
    // allowed: types 2 and 3 with any PCID field 0, type 0 and 1 with PCID 0, type 1 with a non-canonical address (ignored)
    for (const [type, pcid, addr] of [[2, 0n, 0n], [3, 0n, 0x0000800000000000n], [0, 0n, HIGH], [1, 0n, 0x0000800000000000n]] as const) {
      expect(at(type, pcid, addr).vector, `type ${type}`).toBe(-1);
    }
  });

  it('after a PTE edit, does each type that covers the page give the new translation (type 0 and 1 for the current PCID 6, 2, 3)?', () => {
    for (const [type, pcid] of [[0, 6n], [1, 6n], [2, 0n], [3, 0n]] as const) {
      const code = [...MOV_RAX_CR4, ...BTS_RAX(17), ...MOV_CR4_RAX, ...MOV_RAX_CR3, 0x0c, 6, ...MOV_CR3_RAX,
        ...readHigh(5), ...repointHigh, ...movImm64(3, BigInt(DESC)), ...movImm64(1, BigInt(type)), ...INVPCID_RCX_RBX, ...readHigh(2), HLT];
      const e = everywhere({ code, setup: descriptor(pcid, HIGH) });
      expect([e.regs[5], e.regs[2], e.vector, e.pcid], `type ${type}`).toEqual([0xaaaa0001n, 0xbbbb0002n, -1, 6]);
    }
  });

  it('does type 0 for another PCID, then a MOV to CR3 with bit 63 to that PCID, give the new translation there?', () => {
    // straight-line: PCID 2 (no flush) reads 4 GiB; PCID 1 (no flush); edit; INVPCID type 0 for PCID 2; PCID 2 (no flush) reads it again
    const cr3 = (pcid: number): number[] => [...movImm64(0, (1n << 63n) | BigInt(PML4 | pcid)), ...MOV_CR3_RAX];
    const prog = [...MOV_RAX_CR4, ...BTS_RAX(17), ...MOV_CR4_RAX, ...cr3(2), ...readHigh(5), ...cr3(1), ...repointHigh,
      ...movImm64(3, BigInt(DESC)), ...movImm64(1, 0n), ...INVPCID_RCX_RBX, ...cr3(2), ...readHigh(2), HLT];
    const e = everywhere({ code: prog, setup: descriptor(2n, HIGH) });
    expect([e.regs[5], e.regs[2], e.pcid, e.cr3]).toEqual([0xaaaa0001n, 0xbbbb0002n, 2, BigInt(PML4 | 2)]);
  });
});

describe('CR4.LA57: 5-level paging', () => {
  const entry57 = enterWith(PML5, 1 << 12);

  it('is setting LA57 #GP(0) without la57, and with it before IA-32e mode, do the MMU walk 5-level tables and CPUID-visible CR4 say so?', () => {
    expect(everywhere({ code: [HLT], entry: entry57, cpu: '+lm' })).toMatchObject({ vector32: 13, cr4: 0 });
    const e = everywhere({ code: [...movImm64(3, HIGH), 0x48, 0x8b, 0x03, HLT], entry: entry57 }); // the page at 4 GiB through PML5[0]
    expect([e.format, e.cr4, e.cr3, e.regs[0], e.vector]).toEqual(['5-level', 0x1020, BigInt(PML5), 0xaaaa0001n, -1]);
  });

  it('is changing LA57 in IA-32e mode #GP(0), in either direction?', () => {
    for (const entry of [undefined, entry57]) {
      const e = everywhere({ code: [...MOV_RAX_CR4, ...BTC_RAX(12), ...MOV_CR4_RAX, HLT], ...(entry ? { entry } : {}) });
      expect([e.vector, e.frame[1], e.cr4]).toEqual([13, BigInt(CODE64 + 8), entry ? 0x1020 : 0x20]);
    }
  });

  it('are addresses canonical with 57 bits: 2^47 a #PF (not present), 2^56 #GP(0), through RBP #SS(0), a branch there #GP(0) at the branch?', () => {
    const read = (a: bigint): number[] => [...movImm64(3, a), 0x48, 0x8b, 0x03, HLT];
    const pf = everywhere({ code: read(0x0000800000000000n), entry: entry57 });
    expect([pf.vector, pf.frame[0], pf.cr2]).toEqual([14, 0n, 0x0000800000000000n]);
    const pf4 = everywhere({ code: read(0x0000800000000000n) }); // 4-level: not canonical
    expect([pf4.vector, pf4.frame[0]]).toEqual([13, 0n]);
    const high = everywhere({ code: read(0xff00000000000000n), entry: entry57 }); // canonical: PML5[256] not present
    expect([high.vector, high.frame[0], high.cr2]).toEqual([14, 0n, 0xff00000000000000n]);
    const gp = everywhere({ code: read(0x0100000000000000n), entry: entry57 });
    expect([gp.vector, gp.frame[0], gp.frame[1]]).toEqual([13, 0n, BigInt(CODE64 + 10)]);
    // through RBP (a stack reference): 2^56 + 16 #SS(0); 2^47 + 16, canonical under 5-level, a #PF
    const viaRbp = (a: bigint): number[] => [...movImm64(5, a), 0x48, 0x8b, 0x45, 0x00, HLT]; // mov rax, [rbp]
    const ss = everywhere({ code: viaRbp(0x0100000000000010n), entry: entry57 });
    expect([ss.vector, ss.frame[0], ss.frame[1]]).toEqual([12, 0n, BigInt(CODE64 + 10)]);
    const pfRbp = everywhere({ code: viaRbp(0x0000800000000010n), entry: entry57 });
    expect([pfRbp.vector, pfRbp.cr2]).toEqual([14, 0x0000800000000010n]);
    const ss4 = everywhere({ code: viaRbp(0x0000800000000010n) }); // 4-level: #SS(0)
    expect(ss4.vector).toBe(12);
    const jmp = everywhere({ code: [...movImm64(0, 0x0100000000000000n), 0xff, 0xe0, HLT], entry: entry57 }); // jmp rax
    expect([jmp.vector, jmp.frame[1]]).toEqual([13, BigInt(CODE64 + 10)]);
  });

  it('does WRMSR FS.base take a 57-bit canonical address with la57 (whatever CR4.LA57), and refuse it without?', () => {
    const code = [0xb9, ...le32(0xc0000100), 0xb8, ...le32(0), 0xba, ...le32(0x00ff0000), 0x0f, 0x30, HLT]; // FS.base = 0x00ff0000_00000000
    expect(everywhere({ code }).vector).toBe(-1);
    expect(everywhere({ code, cpu: '+lm' }).vector).toBe(13);
  });
});

describe('1 GiB pages (pdpe1gb)', () => {
  // PDPT[8]: linear 8 GiB, a 1 GiB page at physical 0 (P RW US PS)
  const map1g = (m: Machine): void => { m.mmu.writePhys(PDPT + 8 * 8, 4, 0x87); m.mmu.writePhys(DESC, 4, 0x600d); };
  const code = [...movImm64(3, (8n << 30n) + BigInt(DESC)), 0x48, 0x8b, 0x03, 0x48, 0x89, 0x43, 0x08, HLT]; // mov rax, [rbx]; mov [rbx+8], rax

  it('does a PDPTE with PS map 1 GiB, setting A and D in it, with the feature; and is PS there reserved (#PF P|RSVD) without it?', () => {
    const e = everywhere({ code, setup: map1g });
    expect([e.regs[0], e.vector]).toEqual([0x600dn, -1]);
    const pdpte = (): number => { const m = longMachine({ mode: 'slat', engine: 'interp', cpu: ALL }); m.mmu.writePhysBytes(CODE64, new Uint8Array(code)); map1g(m); m.run({ maxInstructions: 100_000 }); return m.mmu.readPhys(PDPT + 64, 4) & 0xe7; };
    expect(pdpte()).toBe(0xe7); // P RW US A D PS
    const off = everywhere({ code, setup: map1g, cpu: '+lm' });
    expect([off.vector, off.frame[0], off.cr2]).toEqual([14, 9n, (8n << 30n) + BigInt(DESC)]);
  });
});

describe('CR8', () => {
  it('without an APIC: does CR8 (REX.R with CR0\'s encoding) keep bits 3:0 and refuse reserved bits with #GP(0)?', () => {
    const e = everywhere({ code: [0xb8, ...le32(0xa), ...MOV_CR8_RAX, 0x31, 0xc0, ...MOV_RAX_CR8, 0x48, 0x89, 0xc3, 0xb8, ...le32(0x10), ...MOV_CR8_RAX, HLT] });
    expect([e.regs[3], e.vector, e.frame[1], e.tpr]).toEqual([0xan, 13, BigInt(CODE64 + 5 + 4 + 2 + 4 + 3 + 5), 0xa0]);
    const hi = everywhere({ code: [...movImm64(0, 1n << 32n), ...MOV_CR8_RAX, HLT] });
    expect(hi.vector).toBe(13);
  });

  it('with the APIC: is CR8 the TPR\'s priority class, a write clearing TPR[3:0]?', () => {
    const e = everywhere({ cpu: `${ALL},+apic`, code: [...MOV_RAX_CR8, 0x48, 0x89, 0xc3, 0xb8, ...le32(2), ...MOV_CR8_RAX, HLT], setup: (m) => { m.lapic!.tpr = 0x73; } });
    expect([e.regs[3], e.tpr, e.vector]).toEqual([7n, 0x20, -1]);
  });

  it('with the APIC: does CR8 hold back an interrupt of its class and below, and does lowering it let the interrupt in right after the MOV?', () => {
    const code = [
      0xb0, 0xff, 0xe6, 0x21, 0xe6, 0xa1, // mask the 8259s (their timer would come through LINT0)
      0xb8, ...le32(5), ...MOV_CR8_RAX, // CR8 = 5: vector 0x50 (class 5) held back
      0xfb, 0x90, 0x41, 0xbc, ...le32(1), 0x90, // sti; nop; mov r12d, 1; nop
      0xb8, ...le32(4), ...MOV_CR8_RAX, // CR8 = 4: the interrupt comes after this instruction
      0x41, 0xbc, ...le32(2), 0xfa, HLT, // mov r12d, 2; cli; hlt
    ];
    const handler = [0x4d, 0x89, 0xe5, 0x48, 0xcf]; // mov r13, r12; iretq
    const e = everywhere({ cpu: `${ALL},+apic`, code, setup: (m) => {
      const at = STUBS64 + 16 * 32;
      m.mmu.writePhysBytes(at, new Uint8Array(handler));
      m.mmu.writePhys(IDT64 + 16 * 0x50, 4, (SEL_CODE64 << 16) | (at & 0xffff));
      m.mmu.writePhys(IDT64 + 16 * 0x50 + 4, 4, (at & 0xffff0000) | 0x8e00);
      m.mmu.writePhys(IDTR64, 2, 0x51 * 16 - 1);
      m.lapic!.irr[0x50 >> 5] |= 1 << (0x50 & 31); // a fixed interrupt at vector 0x50 pending
    } });
    expect([e.regs[13], e.regs[12], e.tpr, e.rip]).toEqual([1n, 2n, 0x40, BigInt(CODE64 + code.length)]);
  });
});
