/**
 * A PC in 32-bit protected mode, ready to run a few hand-assembled
 * instructions: flat code and data segments from a small GDT, an IDT whose
 * every vector (0-31) leads to a stub `mov al, vector; hlt`, a stack, and
 * paging off. A test writes its code at CODE, sets up what it needs (page
 * tables, registers) and runs the machine until the code or a handler halts.
 */
import { Machine, type MachineOptions, type RunResult } from '../../src/machine/machine.js';
import type { ModeName } from '../../src/mmu/modes/mode.js';
import type { Engine } from '../../src/cpu/cpu.js';
import { AR_ACCESSED, AR_CODE, AR_DB, AR_G, AR_P, AR_RW, AR_S, CR0_ET, CR0_PE, CS, DS, ES, F_1, FS, GS, SS } from '../../src/cpu/constants.js';

export const GDT = 0x800;
export const IDT = 0x1000;
/** exception stubs: vector v at STUBS + 4 * v */
export const STUBS = 0x2000;
export const STACK = 0x80000;
export const CODE = 0x100000;

export interface FlatMachineOptions {
  mode: ModeName;
  measure?: boolean;
  memory?: number;
  /** what the guest writes to COM1 (0x3f8) */
  serialOut?: (byte: number) => void;
  /** the CPU's engine (default the Machine's) */
  engine?: Engine;
  /** the CPU's features, as MachineOptions.cpu */
  cpu?: string;
  /** virtual nanoseconds per instruction, as MachineOptions.nsPerInstruction */
  nsPerInstruction?: number;
  /** further MMU options (shadow and slat policies, the software TLB's size), as MachineOptions.mmu */
  mmu?: MachineOptions['mmu'];
}

export function flatMachine(o: FlatMachineOptions): Machine {
  const m = new Machine({ mode: o.mode, memory: o.memory ?? 16 << 20, mmu: { ...o.mmu, measure: o.measure ?? o.mmu?.measure ?? false }, ...(o.serialOut ? { serialOut: o.serialOut } : {}), ...(o.engine ? { engine: o.engine } : {}), ...(o.cpu !== undefined ? { cpu: o.cpu } : {}), ...(o.nsPerInstruction !== undefined ? { nsPerInstruction: o.nsPerInstruction } : {}) });
  const mmu = m.mmu;
  // GDT: null, 0x08 flat 32-bit code (execute/read), 0x10 flat data (read/write).
  mmu.writePhys(GDT + 8, 4, 0x0000ffff);
  mmu.writePhys(GDT + 12, 4, 0x00cf9a00);
  mmu.writePhys(GDT + 16, 4, 0x0000ffff);
  mmu.writePhys(GDT + 20, 4, 0x00cf9200);
  for (let v = 0; v < 32; v++) {
    const stub = STUBS + 4 * v;
    mmu.writePhysBytes(stub, new Uint8Array([0xb0, v, 0xf4, 0x90])); // mov al, v; hlt; nop
    // 32-bit interrupt gate, selector 0x08, DPL 0, present (SDM vol. 3A, 6.11)
    mmu.writePhys(IDT + v * 8, 4, (0x08 << 16) | (stub & 0xffff));
    mmu.writePhys(IDT + v * 8 + 4, 4, (stub & 0xffff0000) | 0x8e00);
  }
  const c = m.cpu;
  c.cr0 = CR0_PE | CR0_ET;
  mmu.setPaging({ cr0: c.cr0, cr3Lo: 0, cr4: 0, efer: 0 });
  c.setFlags(F_1, -1);
  c.updateMode();
  c.loadCache(CS, 0x08, 0, -1, AR_P | AR_S | AR_CODE | AR_RW | AR_ACCESSED | AR_DB | AR_G);
  for (const s of [DS, ES, FS, GS, SS]) c.loadCache(s, 0x10, 0, -1, AR_P | AR_S | AR_RW | AR_ACCESSED | AR_DB | AR_G);
  c.gdtBase = GDT;
  c.gdtLimit = 3 * 8 - 1;
  c.idtBase = IDT;
  c.idtLimit = 32 * 8 - 1;
  c.setCpl(0);
  c.updateMode();
  c.reg32[4] = STACK;
  c.eip = CODE;
  return m;
}

/** Runs until the CPU halts with interrupts off; throws when it stops for another reason. */
export function runToHalt(m: Machine, maxInstructions = 100_000): RunResult {
  const r = m.run({ maxInstructions });
  if (r.reason !== 'halted') throw new Error(`the test code did not halt: ${r.reason} ${r.detail}`);
  return r;
}

/** The vector whose stub halted the CPU (its AL), or -1 when the CPU halted elsewhere. */
export function haltedInStub(m: Machine): number {
  const eip = m.cpu.eip >>> 0;
  return eip > STUBS && eip <= STUBS + 4 * 32 ? m.cpu.reg8[0]! : -1;
}

/** The 32-bit word at ESP + off. */
export function stackWord(m: Machine, off: number): number {
  return m.mmu.readPhys((m.cpu.reg32[4]! + off) >>> 0, 4) >>> 0;
}

/** A 32-bit value as its four little-endian bytes (for hand-assembled code). */
export const le32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
