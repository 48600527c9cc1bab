/**
 * A read-modify-write instruction with a memory destination (ALU, INC,
 * DEC, NOT, NEG, shifts, SHLD, XADD, CMPXCHG, XCHG, BTS/BTR/BTC, with or
 * without LOCK) is checked as a write before it reads (SDM vol. 3A, 4.7:
 * W/R in the #PF error code is that of the access that faulted; measured
 * with test/cpu/fault-ref/rmw-write-bit.c): on a page that is not present
 * its #PF has W/R = 1, on a read-only page (CR0.WP = 1) it faults before
 * the read sets the leaf's accessed bit, and across a page end whose
 * second page is not present it faults as a write and writes nothing.
 * CMP, TEST and BT only read: their #PF has W/R = 0.
 *
 * Each instruction runs in a loop of three passes, the first two on a
 * writable page and the third on the page under test, so that the jit and
 * wasm engines (compiling each block after its first run) meet the fault
 * in compiled code, on its slow path. Every mode, every engine.
 */
import { describe, expect, it } from 'vitest';
import { CR0_ET, CR0_PE, CR0_PG, CR0_WP } from '../../src/cpu/constants.js';
import type { Machine } from '../../src/machine/machine.js';
import type { ModeName } from '../../src/mmu/modes/mode.js';
import type { Engine } from '../../src/cpu/cpu.js';
import { CODE, flatMachine, haltedInStub, runToHalt, stackWord, type FlatMachineOptions } from './flat-machine.js';

const PD = 0x10000;
const PT = 0x11000;
/** the page of the first two passes (writable) */
const GOOD = 0x300000;
/** a page that is not present */
const ABSENT = 0x302000;
/** a present, read-only page whose PTE has A clear */
const READ_ONLY = 0x303000;
/** a writable page followed by one that is not present (the second page is also not present) */
const LOW = 0x304000;
const HIGH = 0x305000;
const PTE_A = 0x20;

/** [name, instruction bytes (memory operand [ebx]), size of the access] */
const RMW: [string, number[], number][] = [
  ['ADD [m32], eax', [0x01, 0x03], 4],
  ['LOCK ADD [m32], eax', [0xf0, 0x01, 0x03], 4],
  ['ADD [m8], al', [0x00, 0x03], 1],
  ['SUB [m32], imm8', [0x83, 0x2b, 0x01], 4],
  ['OR [m16], ax', [0x66, 0x09, 0x03], 2],
  ['INC byte [m]', [0xfe, 0x03], 1],
  ['DEC dword [m]', [0xff, 0x0b], 4],
  ['NOT dword [m]', [0xf7, 0x13], 4],
  ['NEG byte [m]', [0xf6, 0x1b], 1],
  ['SHL dword [m], 3', [0xc1, 0x23, 0x03], 4],
  ['ROL dword [m], 1', [0xd1, 0x03], 4],
  ['SHLD [m32], ecx, 4', [0x0f, 0xa4, 0x0b, 0x04], 4],
  ['XADD [m32], ecx', [0x0f, 0xc1, 0x0b], 4],
  ['LOCK XADD [m32], ecx', [0xf0, 0x0f, 0xc1, 0x0b], 4],
  ['CMPXCHG [m32], ecx', [0x0f, 0xb1, 0x0b], 4],
  ['XCHG [m32], eax', [0x87, 0x03], 4],
  ['BTS [m32], ecx', [0x0f, 0xab, 0x0b], 4],
  ['LOCK BTR [m32], 3', [0xf0, 0x0f, 0xba, 0x33, 0x03], 4],
  ['CMPXCHG8B [m64]', [0x0f, 0xc7, 0x0b], 8],
];

/** Forms that only read their memory operand. */
const READS: [string, number[], number][] = [
  ['CMP [m32], eax', [0x39, 0x03], 4],
  ['CMP [m32], imm8', [0x83, 0x3b, 0x01], 4],
  ['TEST [m32], eax', [0x85, 0x03], 4],
  ['BT [m32], ecx', [0x0f, 0xa3, 0x0b], 4],
];

const MODES: ModeName[] = ['naive', 'shadow', 'slat'];
/** engine, jit threshold, wasm batch (engine-diff.test.ts setVariant: every block compiled after its first run) */
const VARIANTS: [string, Engine, number | null][] = [
  ['interp', 'interp', null],
  ['block', 'block', null],
  ['jit', 'jit', 1],
  ['wasm', 'wasm', 1],
];

interface End {
  /** the vector whose stub halted the CPU, -1 for none */
  vector: number;
  errorCode: number;
  cr2: number;
  /** the passes left (ESI) when it stopped: 1 when the third faulted */
  passes: number;
  m: Machine;
}

function run(engine: Engine, threshold: number | null, mode: ModeName, insn: number[], target: number, mmuOptions: FlatMachineOptions['mmu'] = {}): End {
  const m = flatMachine({ mode, engine, mmu: mmuOptions });
  if (threshold !== null) {
    m.cpu.blocks!.jitThreshold = threshold;
    if (engine === 'wasm') m.cpu.blocks!.wasmBatch = 1;
  }
  const mmu = m.mmu;
  for (let i = 0; i < 1024; i++) mmu.writePhys(PT + i * 4, 4, (i << 12) | 0x3); // identity map of 4 MiB, P | R/W
  mmu.writePhys(PD, 4, PT | 0x3);
  mmu.writePhys(PT + (ABSENT >>> 12) * 4, 4, 0);
  mmu.writePhys(PT + (READ_ONLY >>> 12) * 4, 4, READ_ONLY | 0x1); // P only: not writable, A clear
  mmu.writePhys(PT + (HIGH >>> 12) * 4, 4, 0);
  mmu.writePhys(LOW + 0xffc, 4, 0x11223344);
  mmu.writePhys(READ_ONLY, 4, 0x55667788);
  // L: cmp esi, 1; cmove ebx, edi; insn; dec esi; jnz L; hlt
  const body = [0x83, 0xfe, 0x01, 0x0f, 0x44, 0xdf, ...insn, 0x4e];
  const code = [...body, 0x75, (-(body.length + 2)) & 0xff, 0xf4];
  mmu.writePhysBytes(CODE, new Uint8Array(code));
  const c = m.cpu;
  c.reg32[0] = 0x7ffffffb; // EAX
  c.reg32[1] = 0x00000003; // ECX
  c.reg32[3] = GOOD; // EBX
  c.reg32[6] = 3; // ESI: passes
  c.reg32[7] = target; // EDI
  c.cr0 = CR0_PE | CR0_ET | CR0_PG | CR0_WP;
  c.cr3 = PD;
  expect(mmu.setPaging({ cr0: c.cr0, cr3Lo: PD, cr4: 0 })).toBe(0);
  c.flushFetch();
  runToHalt(m);
  const vector = haltedInStub(m);
  return { vector, errorCode: vector === 14 ? stackWord(m, 0) : -1, cr2: c.cr2 >>> 0, passes: c.reg32[6]!, m };
}

describe.each(VARIANTS)('%s engine: read-modify-write faults are write faults', (_name, engine, threshold) => {
  it.each(MODES)('under %s, does each form fault on a page that is not present with W/R = 1 (error code 2) and CR2?', (mode) => {
    for (const [name, insn] of RMW) {
      const e = run(engine, threshold, mode, insn, ABSENT);
      expect({ vector: e.vector, errorCode: e.errorCode, cr2: e.cr2, passes: e.passes }, name).toEqual({ vector: 14, errorCode: 2, cr2: ABSENT, passes: 1 });
    }
  });

  it.each(MODES)('under %s, does each form fault on a read-only page with error code 3, before a read sets its accessed bit?', (mode) => {
    for (const [name, insn] of RMW) {
      const e = run(engine, threshold, mode, insn, READ_ONLY);
      expect({ vector: e.vector, errorCode: e.errorCode, cr2: e.cr2, passes: e.passes }, name).toEqual({ vector: 14, errorCode: 3, cr2: READ_ONLY, passes: 1 });
      expect(e.m.mmu.readPhys(PT + (READ_ONLY >>> 12) * 4, 4) & PTE_A, `${name}: the PTE's accessed bit`).toBe(0);
      expect(e.m.mmu.readPhys(READ_ONLY, 4) >>> 0, `${name}: memory`).toBe(0x55667788);
    }
  });

  it.each(MODES)('under %s, does each form across a page end whose second page is not present fault as a write and write nothing?', (mode) => {
    for (const [name, insn, size] of RMW) {
      if (size === 1) continue;
      const e = run(engine, threshold, mode, insn, HIGH - size / 2);
      expect({ vector: e.vector, errorCode: e.errorCode, cr2: e.cr2, passes: e.passes }, name).toEqual({ vector: 14, errorCode: 2, cr2: HIGH, passes: 1 });
      expect(e.m.mmu.readPhys(LOW + 0xffc, 4) >>> 0, `${name}: the first page's bytes`).toBe(0x11223344);
    }
  });

  it.each(MODES)('under %s, do CMP, TEST and BT still fault as reads (error code 0)?', (mode) => {
    for (const [name, insn] of READS) {
      const e = run(engine, threshold, mode, insn, ABSENT);
      expect({ vector: e.vector, errorCode: e.errorCode, cr2: e.cr2, passes: e.passes }, name).toEqual({ vector: 14, errorCode: 0, cr2: ABSENT, passes: 1 });
      // a read of a read-only page does not fault
      expect(run(engine, threshold, mode, insn, READ_ONLY).vector, `${name}: read-only page`).toBe(-1);
    }
  });

  it('under shadow, does a read-modify-write of a guest page-table entry take one write-protection exit, as a MOV to it does?', () => {
    // The third pass writes the PTE of an unused page through the identity map of the page table itself,
    // which shadow mode write-protects; with out-of-sync pages off, every such write is an exit and an
    // emulation. A read-modify-write takes its exit at its read (checked as a write) and none at its write.
    const pte = PT + 0x3f0 * 4;
    const counts = (insn: number[]): Record<string, number> => {
      const e = run(engine, threshold, 'shadow', insn, pte, { shadow: { unsync: false } });
      expect(e.vector, 'no fault').toBe(-1);
      const c = e.m.mmu.countersByName();
      return { pt_write: c['exit.pt_write']!, emulated: c['shadow.emulated_write']!, exits: c['exit.total']! };
    };
    const mov = counts([0x89, 0x03]);
    expect(mov.pt_write).toBeGreaterThan(0);
    // CMPXCHG8B too: its 8 bytes in one page are one read and one write of 8 bytes (one exit, one emulated write)
    for (const [name, insn] of RMW) expect(counts(insn), name).toEqual(mov);
  });
});
