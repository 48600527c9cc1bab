/**
 * A PC that a few 32-bit instructions take into 64-bit mode, the way a
 * kernel does it (SDM vol. 3A, 9.8.5): from flatMachine's 32-bit protected
 * mode, CR3 = a 4-level table, CR4.PAE, EFER.LME, CR0.PG (IA-32e mode,
 * compatibility mode), then a far jump to a 64-bit code segment (CS.L = 1),
 * where the test's 64-bit code runs to a HLT.
 *
 * Memory map (linear = physical below 16 MiB, 2 MiB pages):
 * - the 64-bit IDT at IDT64: vector v leads to the stub at STUBS64 + 16 v,
 *   `mov al, v; hlt` unless the test writes another handler there;
 * - linear 4 GiB (HIGH: PML4[0], PDPT[4]) is one 4 KiB page at physical
 *   HIGH_PHYS; the page after it is not present.
 */
import { expect } from 'vitest';
import type { Machine, RunResult } from '../../src/machine/machine.js';
import { MODE_NAMES, type ModeName } from '../../src/mmu/modes/mode.js';
import { ENGINES, type Engine } from '../../src/cpu/cpu.js';
import { CODE, flatMachine, GDT, le32 } from './flat-machine.js';

export const IDT64 = 0x3000;
export const STUBS64 = 0x4000;
/** the pseudo-descriptor LIDT loads (limit, 32-bit base) */
export const IDTR64 = 0x5000;
export const PML4 = 0x10000;
export const CODE64 = CODE + 0x100;
/** 64-bit code selector (L = 1, D = 0, DPL 0) and the flat data selector */
export const SEL_CODE64 = 0x18;
export const SEL_DATA = 0x10;
export const HIGH = 0x1_0000_0000n;
export const HIGH_PHYS = 0x300000;
/** where 64-bit programs may keep data (identity mapped) */
export const DATA = 0x200000;
export const STACK64 = 0x90000;

export const le64 = (v: bigint): number[] => {
  const u = BigInt.asUintN(64, v);
  return [...le32(Number(u & 0xffffffffn)), ...le32(Number(u >> 32n))];
};

/** The 32-bit code that enters 64-bit mode at CODE64 (to be placed at CODE). */
export function enterLongMode(): number[] {
  return [
    // first a hot 32-bit loop, which the block, jit and wasm engines compile, so that the entry below comes from compiled code
    0xb9, ...le32(5000), 0x49, 0x75, 0xfd, // mov ecx, 5000; dec ecx; jnz $-1
    0xb8, ...le32(PML4), 0x0f, 0x22, 0xd8, // mov eax, PML4; mov cr3, eax
    0x0f, 0x20, 0xe0, 0x0d, ...le32(0x20), 0x0f, 0x22, 0xe0, // mov eax, cr4; or eax, PAE; mov cr4, eax
    0xb9, ...le32(0xc0000080), 0x0f, 0x32, 0x0d, ...le32(0x100), 0x0f, 0x30, // mov ecx, EFER; rdmsr; or eax, LME; wrmsr
    0x0f, 0x20, 0xc0, 0x0d, ...le32(0x80000000), 0x0f, 0x22, 0xc0, // mov eax, cr0; or eax, PG; mov cr0, eax
    0x0f, 0x01, 0x1d, ...le32(IDTR64), // lidt [IDTR64]: the 64-bit IDT (IA-32e mode delivers through 16-byte gates)
    0xea, ...le32(CODE64), SEL_CODE64, 0x00, // jmp far 0x18:CODE64
  ];
}

export interface LongMachineOptions {
  mode: ModeName;
  engine: Engine;
  cpu?: string;
  /** what the guest writes to COM1 */
  serialOut?: (byte: number) => void;
  /** the MMU observes every access (the cost model) */
  measure?: boolean;
}

export function longMachine(o: LongMachineOptions): Machine {
  const m = flatMachine({ mode: o.mode, engine: o.engine, cpu: o.cpu ?? '+lm', measure: o.measure ?? false, ...(o.serialOut ? { serialOut: o.serialOut } : {}) });
  const mmu = m.mmu;
  // GDT: 0x18 64-bit code (P, S, code, readable, L=1, D=0, G), 0x20 data, and for CPL 3 (SYSRET's
  // layout, STAR[63:48] = 0x20): 0x28 data, 0x30 64-bit code, both DPL 3
  mmu.writePhys(GDT + 0x18, 4, 0x0000ffff);
  mmu.writePhys(GDT + 0x1c, 4, 0x00af9a00);
  mmu.writePhys(GDT + 0x20, 4, 0x0000ffff);
  mmu.writePhys(GDT + 0x24, 4, 0x00cf9200);
  mmu.writePhys(GDT + 0x28, 4, 0x0000ffff);
  mmu.writePhys(GDT + 0x2c, 4, 0x00cff200);
  mmu.writePhys(GDT + 0x30, 4, 0x0000ffff);
  mmu.writePhys(GDT + 0x34, 4, 0x00affa00);
  m.cpu.gdtLimit = 7 * 8 - 1;
  // 4-level tables, user-accessible (U) so that CPL 3 code can run: PML4[0] -> PDPT; PDPT[0] -> PD
  // (8 x 2 MiB identity); PDPT[4] -> PD2 -> PT: one 4 KiB page
  const PDPT = PML4 + 0x1000, PD = PML4 + 0x2000, PD2 = PML4 + 0x3000, PT = PML4 + 0x4000;
  mmu.writePhys(PML4, 4, PDPT | 7);
  mmu.writePhys(PDPT, 4, PD | 7);
  for (let i = 0; i < 8; i++) mmu.writePhys(PD + 8 * i, 4, (i << 21) | 0x87);
  mmu.writePhys(PDPT + 8 * 4, 4, PD2 | 7);
  mmu.writePhys(PD2, 4, PT | 7);
  mmu.writePhys(PT, 4, HIGH_PHYS | 7);
  // 64-bit interrupt gates (type 14, DPL 0, P) to the stubs, selector 0x18
  for (let v = 0; v < 32; v++) {
    const stub = STUBS64 + 16 * v;
    mmu.writePhysBytes(stub, new Uint8Array([0xb0, v, 0xf4]));
    mmu.writePhys(IDT64 + 16 * v, 4, (SEL_CODE64 << 16) | (stub & 0xffff));
    mmu.writePhys(IDT64 + 16 * v + 4, 4, (stub & 0xffff0000) | 0x8e00);
    mmu.writePhys(IDT64 + 16 * v + 8, 4, 0);
    mmu.writePhys(IDT64 + 16 * v + 12, 4, 0);
  }
  mmu.writePhys(IDTR64, 2, 32 * 16 - 1);
  mmu.writePhys(IDTR64 + 2, 4, IDT64);
  mmu.writePhysBytes(CODE, new Uint8Array(enterLongMode()));
  m.cpu.reg32[4] = STACK64;
  return m;
}

/** RAX..R15 as unsigned 64-bit values. */
export function regs64(m: Machine): bigint[] {
  const c = m.cpu;
  const out: bigint[] = [];
  for (let r = 0; r < 16; r++) {
    const lo = r < 8 ? c.reg32[r]! : c.regX[r - 8]!;
    out.push((BigInt(c.regHi[r]! >>> 0) << 32n) | BigInt(lo >>> 0));
  }
  return out;
}

export function rip(m: Machine): bigint {
  return (BigInt(m.cpu.ripHi >>> 0) << 32n) | BigInt(m.cpu.eip >>> 0);
}

/** The 64-bit word at physical address `at`. */
export function phys64(m: Machine, at: number): bigint {
  return (BigInt(m.mmu.readPhys(at + 4, 4) >>> 0) << 32n) | BigInt(m.mmu.readPhys(at, 4) >>> 0);
}

/** A test program: 64-bit code at CODE64, maybe 32-bit code at CODE instead of the way into 64-bit mode, its CPU, its setup. */
export interface LongProgram {
  code: number[];
  /** 32-bit code at CODE instead of the usual way into 64-bit mode */
  entry?: number[];
  cpu?: string;
  setup?: (m: Machine) => void;
}

/** Loads p into a longMachine (after `prepare`, before p's own setup) and runs it, 200,000 instructions at most. */
export function runLongProgram(o: LongMachineOptions, p: LongProgram, prepare?: (m: Machine) => void): { m: Machine; r: RunResult } {
  const m = longMachine(o);
  m.mmu.writePhysBytes(CODE64, new Uint8Array(p.code));
  if (p.entry) m.mmu.writePhysBytes(CODE, new Uint8Array(p.entry));
  prepare?.(m);
  p.setup?.(m);
  return { m, r: m.run({ maxInstructions: 200_000 }) };
}

/** The vector of the 64-bit exception stub the run halted in (`mov al, v; hlt` at STUBS64 + 16 v), or -1. */
export function stubVector(m: Machine): number {
  const pc = Number(rip(m));
  return m.cpu.long64 && pc > STUBS64 && pc <= STUBS64 + 16 * 32 ? m.cpu.reg8[0]! : -1;
}

/** The two quadwords at RSP (an exception frame's error code and RIP), when RSP is below 16 MiB. */
export function frameAt(m: Machine): bigint[] {
  const rsp = m.cpu.reg32[4]! >>> 0;
  return m.cpu.regHi[4] === 0 && rsp < 16 << 20 ? [phys64(m, rsp), phys64(m, rsp + 8)] : [];
}

/**
 * Runs a program in every translation mode under every engine (and, with
 * `measured`, once more under shadow and the jit with the cost model
 * observing every access); every end must equal the first and have halted.
 */
export function everywhere<E extends { reason: string }>(run: (mode: ModeName, engine: Engine, measure: boolean) => E, measured = true): E {
  const ends: E[] = [];
  for (const mode of MODE_NAMES) for (const engine of ENGINES) ends.push(run(mode, engine, false));
  if (measured) ends.push(run('shadow', 'jit', true));
  for (const e of ends) expect(e).toEqual(ends[0]);
  expect(ends[0]!.reason).toBe('halted');
  return ends[0]!;
}
