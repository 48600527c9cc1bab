/**
 * CPU features (src/cpu/features.ts, vmmu boot --cpu): CPUID advertises
 * exactly the features on, and the CPU refuses the features off (MOV to
 * CR4 and WRMSR EFER raise #GP(0), STAC/CLAC #UD), while the features on
 * work: SMEP stops a supervisor fetch from a user page and SMAP a
 * supervisor read of one unless EFLAGS.AC is set (SDM vol. 3A, 4.6), with
 * the same results in every translation mode and under both engines.
 */
import { describe, expect, it } from 'vitest';
import { CPU_FEATURES, CpuFeatureError, CpuFeatures } from '../../src/cpu/features.js';
import { MODE_NAMES, type ModeName } from '../../src/mmu/modes/mode.js';
import type { Engine } from '../../src/cpu/cpu.js';
import { CODE, flatMachine, haltedInStub, le32, runToHalt, stackWord } from './flat-machine.js';

const HLT = 0xf4;

describe('a --cpu specification', () => {
  it('are the defaults the P6 set (PSE, PAE, PGE, NX on; SMEP, SMAP off), written as the empty specification?', () => {
    const f = new CpuFeatures();
    expect([...f.on].sort()).toEqual(['nx', 'pae', 'pge', 'pse']);
    expect(f.toString()).toBe('');
    expect(f.leaf1Edx >>> 0).toBe(0x0182a979); // FPU PSE TSC MSR PAE CX8 SEP PGE CMOV PSE-36 MMX FXSR
    expect(f.maxLeaf).toBe(2);
    expect(f.cr4Refused >>> 0).toBe((1 << 10) | (1 << 12) | (1 << 17) | (1 << 18) | (1 << 20) | (1 << 21) | (1 << 22)); // OSXMMEXCPT (sse), LA57, PCIDE, OSXSAVE (xsave), SMEP, SMAP, PKE
    expect([f.leaf1Ecx, f.leaf7Ecx, f.ext1Edx >>> 0]).toEqual([0, 0, 1 << 20]); // nothing new by default: no PCID, XSAVE, LA57, RDPID, 1 GiB pages, RDTSCP
    expect(f.leaf1Ebx).toBe(0);
  });

  it('is it applied in order, case-insensitively, and written back relative to the defaults?', () => {
    const f = new CpuFeatures(' +SMEP, -pge ,+smap,-smap,');
    expect(f.has('smep') && !f.has('pge') && !f.has('smap')).toBe(true);
    expect(f.toString()).toBe('-pge,+smep');
    expect(f.maxLeaf).toBe(7);
    expect(f.leaf7Ebx).toBe(1 << 7);
    expect(new CpuFeatures('-nx').ext1Edx).toBe(0);
  });

  it.each([
    ['smep', "'smep' must be +NAME (turn on) or -NAME (turn off)"],
    ['+avx', `no feature 'avx' (the features: ${CPU_FEATURES.map((f) => f.name).join(', ')})`],
    ['+', "no feature '' (the features: pse, pae, apic, pge, sse, sse2, pcid, xsave, smep, invpcid, smap, pku, la57, rdpid, nx, pdpe1gb, rdtscp, lm)"],
    ['+pcid', "'pcid' needs 'lm' (+lm,+pcid)"],
    ['+lm,+invpcid,-lm', "'invpcid' needs 'lm' (+lm,+invpcid)"],
    ['+la57', "'la57' needs 'lm' (+lm,+la57)"],
    ['+pdpe1gb', "'pdpe1gb' needs 'lm' (+lm,+pdpe1gb)"],
    ['+pku', "'pku' needs 'lm' (+lm,+pku)"],
    ['+sse2', "'sse2' needs 'sse' (+sse,+sse2)"],
    ['+sse,+sse2,-sse', "'sse2' needs 'sse' (+sse,+sse2)"],
  ])('is %j refused with a message naming it?', (spec, message) => {
    expect(() => new CpuFeatures(spec)).toThrow(new CpuFeatureError(message));
  });
});

/** Runs `code` at CODE to its HLT; returns the registers, the vector whose stub halted (-1: none) and the word on the stack. */
function run(mode: ModeName, engine: Engine, cpu: string, code: number[], extra: [number, number[]][] = []): { regs: number[]; vector: number; top: number; instructions: number } {
  const m = flatMachine({ mode, engine, cpu });
  m.mmu.writePhysBytes(CODE, new Uint8Array(code));
  for (const [at, bytes] of extra) m.mmu.writePhysBytes(at, new Uint8Array(bytes));
  const r = runToHalt(m, 100_000);
  return { regs: Array.from(m.cpu.reg32, (v) => v >>> 0), vector: haltedInStub(m), top: stackWord(m, 0), instructions: r.instructions };
}

/** The same run in every mode and engine: returns the first; all must agree. */
function everywhere(cpu: string, code: number[], extra: [number, number[]][] = []): ReturnType<typeof run> {
  const ends = MODE_NAMES.flatMap((mode) => (['interp', 'block'] as const).map((engine) => run(mode, engine, cpu, code, extra)));
  for (const e of ends) expect(e).toEqual(ends[0]);
  return ends[0]!;
}

const cpuid = (leaf: number, sub = 0): number[] => [0xb8, ...le32(leaf), 0xb9, ...le32(sub), 0x0f, 0xa2]; // mov eax; mov ecx; cpuid
const PD = 0x20000;
/**
 * Paging on with two 4 MiB pages: 0-4 MiB supervisor (code, stack,
 * tables), 4-8 MiB user; CR4 gets `cr4` besides PSE.
 */
function pagingOn(cr4: number, m: { writes: [number, number[]][] }): number[] {
  m.writes.push([PD, [...le32(0x0 | 0x83), ...le32(0x400000 | 0x87)]]); // P RW PS; P RW US PS
  return [
    0xb8, ...le32(PD), 0x0f, 0x22, 0xd8, // mov eax, PD; mov cr3, eax
    0xb8, ...le32(0x10 | cr4), 0x0f, 0x22, 0xe0, // mov eax, PSE|cr4; mov cr4, eax
    0x0f, 0x20, 0xc0, 0x0d, ...le32(0x80000000), 0x0f, 0x22, 0xc0, // mov eax, cr0; or eax, PG; mov cr0, eax
  ];
}

describe('CPUID, CR4 and EFER with features on and off (every mode, both engines)', () => {
  it('does CPUID report the features of the specification, and the highest basic leaf for leaves above it?', () => {
    const code = [...cpuid(0), 0x89, 0xc5, ...cpuid(1), 0x89, 0xd6, ...cpuid(7), 0x89, 0xdf, HLT]; // ebp = max leaf, esi = 1.EDX, edi = 7.EBX
    const def = everywhere('', code);
    expect([def.regs[5], def.regs[6], def.regs[7]]).toEqual([2, 0x0182a979, 0]);
    expect(def.regs[0]).toBe(1); // leaf 7 above the highest (2): leaf 2's EAX
    const on = everywhere('+smep,+smap,-pge', code);
    expect([on.regs[5], on.regs[6], on.regs[7]]).toEqual([7, 0x0182a979 & ~(1 << 13), (1 << 7) | (1 << 20)]);
    const nx = everywhere('-nx', [...cpuid(0x80000001), HLT]);
    expect(nx.regs[2]).toBe(0);
    expect(everywhere('', [...cpuid(0x80000001), HLT]).regs[2]).toBe(1 << 20);
  });

  it.each([
    ['-pge', 0x80, 'CR4.PGE'], ['-pse', 0x10, 'CR4.PSE'], ['-pae', 0x20, 'CR4.PAE'], ['', 1 << 20, 'CR4.SMEP'], ['', 1 << 21, 'CR4.SMAP'], ['', 1 << 10, 'CR4.OSXMMEXCPT'],
  ])('with %j, does setting CR4 bit value %i (%s) raise #GP(0), and without it succeed?', (spec, bit) => {
    const code = [0xb8, ...le32(bit as number), 0x0f, 0x22, 0xe0, 0x0f, 0x20, 0xe3, HLT]; // mov eax, bit; mov cr4, eax; mov ebx, cr4
    const refused = everywhere(spec as string, code);
    expect(refused.vector).toBe(13);
    expect(refused.top).toBe(0); // error code
    const name = CPU_FEATURES.find((f) => f.cr4 === bit)!.name;
    const allowed = everywhere(`+${name}`, code);
    expect(allowed.vector).toBe(-1);
    expect(allowed.regs[3]).toBe(bit);
  });

  it('with -nx, does WRMSR of EFER.NXE raise #GP(0)?', () => {
    const code = [0xb9, ...le32(0xc0000080), 0xb8, ...le32(0x800), 0x31, 0xd2, 0x0f, 0x30, 0x0f, 0x32, HLT]; // wrmsr EFER = NXE; rdmsr
    expect(everywhere('-nx', code).vector).toBe(13);
    const ok = everywhere('', code);
    expect(ok.vector).toBe(-1);
    expect(ok.regs[0]).toBe(0x800);
  });
});

describe('SMEP and SMAP driven by guest code (every mode, both engines)', () => {
  const USER = 0x400000;

  it('with SMEP on, does a supervisor call into a user page fault with I/D set, and without SMEP run it?', () => {
    const w = { writes: [] as [number, number[]][] };
    const code = [...pagingOn(1 << 20, w), 0xe8, ...le32(0), HLT];
    const callAt = CODE + code.length - 6;
    code.splice(code.length - 5, 4, ...le32(USER - (callAt + 5))); // call USER
    w.writes.push([USER, [0xbb, ...le32(0x5eb), 0xc3]]); // mov ebx, 0x5eb; ret
    const smep = everywhere('+smep', code, w.writes);
    expect(smep.vector).toBe(14);
    expect(smep.top).toBe(0x11); // P, I/D; supervisor read
    expect(smep.regs[3]).toBe(0);
    const w2 = { writes: [] as [number, number[]][] };
    const plain = everywhere('', [...pagingOn(0, w2), ...code.slice(pagingOn(0, { writes: [] }).length)], w.writes);
    expect(plain.vector).toBe(-1);
    expect(plain.regs[3]).toBe(0x5eb);
  });

  it('with SMAP on, does a supervisor read of a user page fault until STAC, and again after CLAC?', () => {
    const w = { writes: [] as [number, number[]][] };
    w.writes.push([USER + 0x10, le32(0xabcdef01)]);
    const read = [0x8b, 0x1d, ...le32(USER + 0x10)]; // mov ebx, [USER+0x10]
    const stac = [0x0f, 0x01, 0xcb], clac = [0x0f, 0x01, 0xca];
    const before = everywhere('+smap', [...pagingOn(1 << 21, w), ...read, HLT], w.writes);
    expect(before.vector).toBe(14);
    expect(before.top).toBe(0x01); // P; supervisor read
    const after = everywhere('+smap', [...pagingOn(1 << 21, w), ...stac, ...read, ...clac, 0x89, 0xd9, ...read, HLT], w.writes);
    expect(after.regs[1]).toBe(0xabcdef01); // ECX: the read under STAC
    expect(after.vector).toBe(14); // the read after CLAC
    expect(after.top).toBe(0x01);
  });

  it('without SMAP, are STAC and CLAC #UD?', () => {
    expect(everywhere('', [0x0f, 0x01, 0xcb, HLT]).vector).toBe(6);
    expect(everywhere('+smep', [0x0f, 0x01, 0xca, HLT]).vector).toBe(6);
    expect(everywhere('+smap', [0x0f, 0x01, 0xcb, HLT]).vector).toBe(-1);
  });
});
