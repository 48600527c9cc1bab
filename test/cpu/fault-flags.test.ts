/**
 * A faulting instruction leaves EFLAGS as they were (SDM vol. 3A 6.5: a
 * fault is reported with the state before the instruction): instructions
 * that set flags and then write memory (ADC, SBB, ADD, NEG, INC, DEC,
 * shifts and rotates, SHLD, XADD, CMPXCHG to memory) must not leave their
 * new flags behind when the write faults. Two things show it: the EFLAGS
 * the #PF handler finds in its frame, and the instruction restarted after
 * the page is made writable, which must end as if it had never faulted
 * (an ADC, SBB or RCL reads CF again).
 *
 * Each case runs twice from the same flags: once on a page the first write
 * faults on (the handler's frame is checked, the page made writable, the
 * instruction restarted), once on a writable page; memory and flags must
 * agree. Every engine, every mode.
 */
import { describe, expect, it } from 'vitest';
import { CR0_ET, CR0_PE, CR0_PG, CR0_WP } from '../../src/cpu/constants.js';
import { ENGINES } from '../../src/cpu/cpu.js';
import { MODE_NAMES } from '../../src/mmu/modes/mode.js';
import { CODE, flatMachine, haltedInStub, runToHalt, stackWord } from './flat-machine.js';

const PD = 0x10000;
const PT = 0x11000;
const DATA = 0x300000;
/** CF, PF, AF, ZF, SF, OF all set (and bit 1): the flags before each instruction */
const FLAGS_IN = 0x8d7;
const ARITH = 0x8d5;
const d32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
const M = d32(DATA); // [disp32] operand: ModR/M mod 00, r/m 101

/** [name, instruction bytes] with a memory destination at DATA */
const CASES: [string, number[]][] = [
  ['ADC [m32], eax', [0x11, 0x05, ...M]],
  ['SBB [m8], al', [0x18, 0x05, ...M]],
  ['ADD [m32], imm8', [0x83, 0x05, ...M, 0x01]],
  ['ADC [m16], imm16', [0x66, 0x81, 0x15, ...M, 0x34, 0x12]],
  ['RCL dword [m], 1', [0xd1, 0x15, ...M]],
  ['RCR byte [m], cl', [0xd2, 0x1d, ...M]],
  ['SHL dword [m], 3', [0xc1, 0x25, ...M, 0x03]],
  ['NEG dword [m]', [0xf7, 0x1d, ...M]],
  ['INC word [m]', [0x66, 0xff, 0x05, ...M]],
  ['DEC byte [m]', [0xfe, 0x0d, ...M]],
  ['SHLD [m32], ecx, 4', [0x0f, 0xa4, 0x0d, ...M, 0x04]],
  ['XADD [m32], ecx', [0x0f, 0xc1, 0x0d, ...M]],
  ['CMPXCHG [m32], ecx', [0x0f, 0xb1, 0x0d, ...M]],
  ['BTS [m32], ecx', [0x0f, 0xab, 0x0d, ...M]],
];

/** Runs `insn` after POPF of FLAGS_IN, with DATA read-only (it faults) or writable; returns the end state. */
function run(engine: (typeof ENGINES)[number], mode: (typeof MODE_NAMES)[number], insn: number[], readOnly: boolean): { memory: number; flags: number; frameFlags: number; vector: number } {
  const m = flatMachine({ mode, engine });
  const mmu = m.mmu;
  for (let i = 0; i < 1024; i++) mmu.writePhys(PT + i * 4, 4, (i << 12) | 0x3); // identity map of 4 MiB, P | R/W
  mmu.writePhys(PD, 4, PT | 0x3);
  if (readOnly) mmu.writePhys(PT + (DATA >>> 12) * 4, 4, DATA | 0x1); // P only
  mmu.writePhys(DATA, 4, 0x80000005);
  const code = [0x68, ...d32(FLAGS_IN), 0x9d, ...insn, 0xf4]; // push FLAGS_IN; popf; insn; hlt
  mmu.writePhysBytes(CODE, new Uint8Array(code));
  const c = m.cpu;
  c.reg32[0] = 0x7ffffffb; // EAX
  c.reg32[1] = 0x00000003; // ECX
  c.cr0 = CR0_PE | CR0_ET | CR0_PG | CR0_WP;
  c.cr3 = PD;
  expect(mmu.setPaging({ cr0: c.cr0, cr3Lo: PD, cr4: 0 })).toBe(0);
  c.flushFetch();
  runToHalt(m);
  let vector = haltedInStub(m);
  let frameFlags = -1;
  if (vector === 14) {
    // The #PF frame: error code, EIP, CS, EFLAGS. Make the page writable and go back (what IRET would do).
    expect(stackWord(m, 4)).toBe(CODE + 6);
    frameFlags = stackWord(m, 12);
    mmu.writePhys(PT + (DATA >>> 12) * 4, 4, DATA | 0x3);
    mmu.invlpg(DATA, 0);
    c.eip = CODE + 6;
    c.setFlags(frameFlags, -1);
    c.reg32[4] = (c.reg32[4]! + 16) | 0;
    c.halted = false;
    c.reg32[0] = 0x7ffffffb; // the stub wrote the vector into AL
    runToHalt(m);
    vector = haltedInStub(m);
  }
  return { memory: mmu.readPhys(DATA, 4), flags: c.getFlags() & ARITH, frameFlags, vector };
}

describe.each(ENGINES)('%s engine: a memory write that faults leaves the flags as they were', (engine) => {
  it.each(MODE_NAMES)('under %s, does each instruction fault with the old flags in the #PF frame, and end after the restart as it does without a fault?', (mode) => {
    for (const [name, insn] of CASES) {
      const faulted = run(engine, mode, insn, true);
      const clean = run(engine, mode, insn, false);
      expect(faulted.frameFlags & ARITH, `${name}: EFLAGS in the #PF frame`).toBe(FLAGS_IN & ARITH);
      expect(faulted.vector, `${name}: halted after the restart`).toBe(-1);
      expect(clean.vector, `${name}: no fault on a writable page`).toBe(-1);
      expect({ memory: faulted.memory, flags: faulted.flags }, `${name}: restarted after #PF vs never faulted`).toEqual({ memory: clean.memory, flags: clean.flags });
    }
  });
});
