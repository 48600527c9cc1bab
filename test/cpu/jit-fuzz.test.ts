/**
 * An adversarial generator for the engines: random straight-line code of
 * the forms the jit emits itself (and of neighbours it leaves to the
 * handlers), in 32-bit registers, bytes, ModR/M memory operands and flags,
 * run in a loop under the interpreter, the block engine and the jit
 * (compiling after the first run, so that almost every iteration runs
 * compiled code); registers, flags, the instruction count and the data
 * area must come out identical. A failure names the seed and the
 * program's bytes.
 *
 * A quarter of the programs run with paging on: ESI points into a window
 * of two pages whose entries the random code clears (present, writable,
 * accessed, dirty), makes global or not and points at the BIOS ROM as it
 * runs, and whose directory entry it clears too, with or without INVLPG,
 * and reloads CR3 (CR4.PGE on), so that memory operands fault, cross a
 * page boundary, write to ROM, use stale TLB entries and set accessed and
 * dirty bits in the middle of compiled blocks;
 * the page-fault handler folds CR2, the error code and EIP into the data
 * area and maps the pages again. Those programs run under every mode
 * too, each with the interpreter and the jit: the guest's view must not
 * depend on either.
 *
 * Half the programs also run with the timer interrupting them: the PIT
 * fires IRQ 0 every few dozen instructions, the random code turns
 * interrupts off and on (CLI, STI, whose interrupt shadow holds the next
 * instruction, SDM vol. 3A 6.8.3), waits for the next tick (STI; HLT) and
 * loads SS (whose shadow does the same), and the handler folds the interrupted EIP, EFLAGS and loop
 * counter into the data area. An interrupt taken one instruction early
 * or late under any engine changes the data.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Rng } from '../mmu/rng.js';
import { CODE, flatMachine, haltedInStub, IDT, le32, runToHalt } from './flat-machine.js';
import type { Engine } from '../../src/cpu/cpu.js';
import type { ModeName } from '../../src/mmu/modes/mode.js';

const DATA = 0x200000;
/** The data area the random code reads and writes through EBX and (without paging) ESI, and hashed at the end. */
const DATA_BYTES = 0x200;
/** What the handlers accumulate (above what the random code writes, inside the hashed area). */
const ACC = DATA + 0x1f0, TICKS = DATA + 0x1f4, FAULTS = DATA + 0x1f8;
/** nanoseconds of one PIT tick (1.193182 MHz) */
const PIT_NS = 838.1;
const TIMER_VECTOR = 0x20, TIMER_HANDLER = 0x3000, PF_HANDLER = 0x3100;
/**
 * 32-bit paging for the programs with `paged`: a page directory and two
 * page tables mapping the first 8 MiB one to one; the window the random
 * code reaches through ESI is the two pages at WINDOW, whose entries in
 * PT1 it clears and sets (and points at the BIOS ROM) as it runs.
 */
const PD = 0x300000, PT0 = 0x301000, PT1 = 0x302000, WINDOW = 0x400000;
/** the ROM page a window entry may be switched to (Machine's BIOS_ROM) */
const ROM_PAGE = 0xf0000;
/** ESI: just below the window's page boundary, so that [ESI+disp8] reaches both pages and accesses cross it */
const ESI_PAGED = WINDOW + 0xfc0;
/**
 * The timer's handler: push eax; mov eax, [esp+4] (EIP); add eax,
 * [esp+12] (EFLAGS); add eax, ebp; add [ACC], eax; rol dword [ACC], 5;
 * inc dword [TICKS]; mov al, 0x20; out 0x20, al (EOI); pop eax; iret
 */
const HANDLER = [0x50, 0x8b, 0x44, 0x24, 0x04, 0x03, 0x44, 0x24, 0x0c, 0x01, 0xe8, 0x01, 0x05, ...le32(ACC), 0xc1, 0x05, ...le32(ACC), 5,
  0xff, 0x05, ...le32(TICKS), 0xb0, 0x20, 0xe6, 0x20, 0x58, 0xcf];
/**
 * The page-fault handler: push eax; mov eax, cr2; add eax, [esp+4] (the
 * error code); add eax, [esp+8] (EIP); add eax, [esp+16] (EFLAGS: the
 * flags as the faulting instruction found them); add [ACC], eax; rol dword
 * [ACC], 7; inc dword [FAULTS]; or dword [PT1], 3; or dword [PT1+4], 3; or
 * dword [PD+4], 3 (present and writable again); invlpg [WINDOW]; invlpg
 * [WINDOW+0x1000]; pop eax; add esp, 4 (the error code); iret
 */
const PF_CODE = [0x50, 0x0f, 0x20, 0xd0, 0x03, 0x44, 0x24, 0x04, 0x03, 0x44, 0x24, 0x08, 0x03, 0x44, 0x24, 0x10, 0x01, 0x05, ...le32(ACC), 0xc1, 0x05, ...le32(ACC), 7,
  0xff, 0x05, ...le32(FAULTS), 0x83, 0x0d, ...le32(PT1), 3, 0x83, 0x0d, ...le32(PT1 + 4), 3, 0x83, 0x0d, ...le32(PT1 + 8), 3, 0x83, 0x0d, ...le32(PD + 4), 3,
  0x0f, 0x01, 0x3d, ...le32(WINDOW), 0x0f, 0x01, 0x3d, ...le32(WINDOW + 0x1000), 0x0f, 0x01, 0x3d, ...le32(WINDOW + 0x2000), 0x58, 0x83, 0xc4, 0x04, 0xcf];
/** mov al, v; out port, al */
const outb = (port: number, v: number): number[] => [0xb0, v, 0xe6, port];
/** Destinations: not EBX and ESI (the data pointers), ESP (the stack) or EBP (the loop counter). */
const DST = [0, 1, 2, 7];
/** 8-bit destinations: AL CL DL AH CH DH (not BL, BH). */
const DST8 = [0, 1, 2, 4, 5, 6];

/** What a program does besides straight-line code. */
interface Kind {
  /** the PIT interrupts it; CLI, STI and loads of SS in the code */
  irq: boolean;
  /** paging on, the window's entries changed by the code, page faults */
  paged: boolean;
  /**
   * only forms the wasm engine compiles (wasm/compile.ts) and no handler,
   * so that the loop is one block that loops inside its WebAssembly
   * function, with the slow paths (a page-table entry written under shadow,
   * a first write to a page) in its later passes
   */
  pure: boolean;
}

function modrmReg(reg: number, rm: number): number {
  return 0xc0 | (reg << 3) | rm;
}
/** [EBX + disp8], disp8 a multiple of 4 below 0x80; or [ESI + disp8], any disp8 below 0x80 */
function modrmMem(r: Rng, reg: number): number[] {
  return r.chance(0.5) ? [0x43 | (reg << 3), r.below(30) * 4] : [0x46 | (reg << 3), r.below(0x80)];
}

function instruction(r: Rng, kind: Kind): number[] {
  const src = r.below(8);
  const dst = r.pick(DST);
  const mem = r.chance(0.3);
  if (kind.pure) {
    if (kind.paged && r.chance(0.12)) {
      // a window entry changed without INVLPG (a handler): under shadow the write traps, a slow path
      const entry = PT1 + 4 * r.below(2);
      return r.chance(0.5) ? [0x81, 0x35, ...le32(entry), ...le32(0x100)] : [0x83, 0x25, ...le32(entry), r.pick([0xfe, 0xfd, 0x9f, 0xff])];
    }
    // a register folded into the data area now and then (add [ebx+0x7c], r32): what the code computed is seen even if overwritten later
    const form = pure(r, src, dst, mem);
    return r.chance(0.35) ? [...form, 0x01, 0x43 | (r.pick(DST) << 3), 0x7c] : form;
  }
  if (kind.irq && r.chance(0.15)) {
    // interrupts off and on, and the shadows of STI and of a load of SS
    const k = r.below(5);
    if (k === 0) return [0xfa]; // cli
    if (k === 1) return [0xfb]; // sti
    if (k === 2) return [0xfa, 0xfb]; // cli; sti: the next instruction runs before an interrupt
    if (k === 3) return [0xfb, 0xf4]; // sti; hlt: wait for the next tick (a block that ends halted, the next one compiled on the same page)
    return [0x16, 0x17]; // push ss; pop ss
  }
  if (kind.paged && r.chance(0.12)) {
    // Change the window's paging entries as a kernel would, with or without INVLPG after it (a stale TLB entry is the
    // MMU's to keep or drop, and every mode must keep or drop it alike). The page-fault handler undoes what faults.
    const page = r.below(2);
    const entry = PT1 + 4 * page;
    const invlpg = [0x0f, 0x01, 0x3d, ...le32(WINDOW + page * 0x1000)];
    const k = r.below(6);
    let change: number[];
    if (k === 0) change = [0x81, 0x35, ...le32(entry), ...le32((WINDOW + page * 0x1000) ^ ROM_PAGE)]; // xor the frame: the window page <-> the ROM
    else if (k === 1) change = [0x81, 0x35, ...le32(entry), ...le32(0x100)]; // xor G: global or not (CR4.PGE is on)
    else if (k === 2) change = [0x83, 0x25, ...le32(PD + 4), r.pick([0xfe, 0xfd, 0xdf])]; // the directory entry: clear P, RW or A
    else if (k === 3) return [0x0f, 0x20, 0xd8, 0x0f, 0x22, 0xd8]; // mov eax, cr3; mov cr3, eax: flush all but global entries
    else change = [0x83, 0x25, ...le32(entry), r.pick([0xfe, 0xfd, 0xfc, 0x9f])]; // and: clear P, RW, both, or A and D
    return r.chance(0.7) ? [...change, ...invlpg] : change;
  }
  // with the flags folded into the data area after a third of them: pushfd; pop edx; add [ebx+0x78], edx; rol dword [ebx+0x78], 3
  const form = r.chance(0.5) ? more(r, src, dst, mem) : first(r, src, dst, mem);
  return r.chance(0.3) ? [...form, 0x9c, 0x5a, 0x01, 0x53, 0x78, 0xc1, 0x43, 0x78, 3] : form;
}

/** The eight ALU operations. */
const ALU = [0, 1, 2, 3, 4, 5, 6, 7];

/** The forms the wasm engine compiles, conditions on PF excepted (see Kind.pure). */
function pure(r: Rng, src: number, dst: number, mem: boolean): number[] {
  const form = pureForm(r, src, dst, mem);
  // a segment override before a memory form now and then
  return mem ? [...seg(r, true), ...form] : form;
}

function pureForm(r: Rng, src: number, dst: number, mem: boolean): number[] {
  const d8 = r.pick(DST8);
  const m = (reg: number): number[] => modrmMem(r, reg);
  const cc = (): number => r.pick([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 14, 15]);
  /** SETcc or CMOVcc on condition c, its result folded into the data area (add [ebx+0x7c], r32) */
  const use = (c: number): number[] => (r.chance(0.5)
    ? [0x0f, 0x90 + c, modrmReg(0, d8), 0x01, 0x43 | ((d8 & 3) << 3), 0x7c]
    : [0x0f, 0x40 + c, modrmReg(dst, src), 0x01, 0x43 | (dst << 3), 0x7c]);
  switch (r.below(34)) {
    case 0: return mem ? [0x89, ...m(src)] : [0x89, modrmReg(src, dst)];
    case 1: return mem ? [0x8b, ...m(dst)] : [0x8b, modrmReg(dst, src)];
    case 2: { const op = r.pick(ALU) * 8 + 1; return mem ? [op, ...m(src)] : [op, modrmReg(src, dst)]; }
    case 3: { const op = r.pick(ALU) * 8 + 3; return mem ? [op, ...m(dst)] : [op, modrmReg(dst, src)]; }
    case 4: { const o = r.pick(ALU); return mem ? [0x83, ...m(o), r.below(256)] : [0x83, modrmReg(o, dst), r.below(256)]; }
    case 5: { const o = r.pick(ALU); return mem ? [0x81, ...m(o), ...le32(r.u32())] : [0x81, modrmReg(o, dst), ...le32(r.u32())]; }
    case 6: return mem ? [0x85, ...m(src)] : [0x85, modrmReg(src, r.below(8))];
    case 7: return [(r.chance(0.5) ? 0x40 : 0x48) + dst];
    case 8: return [0xb8 + dst, ...le32(r.chance(0.3) ? r.pick([0, 1, 0x7fffffff, 0x80000000, 0xffffffff]) : r.u32())];
    case 9: return mem ? [0xc7, ...m(0), ...le32(r.u32())] : [0xc7, modrmReg(0, dst), ...le32(r.u32())];
    case 10: return mem ? [0x88, ...m(src)] : [0x88, modrmReg(src, d8)];
    case 11: return mem ? [0x8a, ...m(d8)] : [0x8a, modrmReg(d8, src)];
    case 12: { const op = r.pick([0xb6, 0xb7, 0xbe, 0xbf]); return mem ? [0x0f, op, ...m(dst)] : [0x0f, op, modrmReg(dst, src)]; }
    case 13: return mem ? [0x0f, 0x90 + cc(), ...m(0)] : [0x0f, 0x90 + cc(), modrmReg(0, d8)];
    case 14: return mem ? [0x0f, 0x40 + cc(), ...m(dst)] : [0x0f, 0x40 + cc(), modrmReg(dst, src)];
    case 15: { const k = r.below(3); return [...(k === 0 ? [0x50 + src] : k === 1 ? [0x6a, r.below(256)] : [0x68, ...le32(r.u32())]), 0x58 + dst]; }
    case 16: return r.chance(0.5) ? [0x90 + r.pick([0, 1, 2, 7])] : [0x87, modrmReg(r.pick(DST), dst)];
    case 17: return [r.chance(0.5) ? 0x99 : 0x98];
    case 18: { const o = r.pick(ALU); return r.chance(0.5) ? [o * 8 + 4, r.below(256)] : [o * 8 + 5, ...le32(r.u32())]; }
    case 19: { const o = r.pick(ALU); return mem ? [0x80, ...m(o), r.below(256)] : [0x80, modrmReg(o, d8), r.below(256)]; }
    case 20: { const op = r.pick(ALU) * 8 + r.pick([0, 2]); return mem ? [op, ...m(op & 2 ? d8 : src)] : [op, op & 2 ? modrmReg(d8, src) : modrmReg(src, d8)]; }
    case 21: { // a comparison and a condition on it right after, the operands often equal (B and BE, L and LE differ only then)
      const a = r.pick(DST), b = r.chance(0.4) ? a : r.below(8);
      const k = r.below(3);
      const cmp = k === 0 ? [0x39, modrmReg(b, a)] : k === 1 ? [0x3b, modrmReg(a, b)] : [0x38, modrmReg(b & 3, a & 3)];
      // mostly the conditions that equality decides (E, BE, LE and their negations)
      return [...cmp, ...use(r.chance(0.7) ? r.pick([4, 5, 6, 7, 14, 15]) : cc())];
    }
    case 22: { // arithmetic (INC, DEC, ADD, SUB, NEG) at the edges of the signed and unsigned ranges, and a condition on it right after (OF, CF, SF)
      const a = r.pick(DST);
      const k = r.below(5);
      const op = k === 0 ? [0x40 + a] : k === 1 ? [0x48 + a] : k === 4 ? [0xf7, modrmReg(3, a)] : [0x83, modrmReg(k === 2 ? 0 : 5, a), r.pick([1, 0x7f, 0x80, 0xff])];
      return [0xb8 + a, ...le32(r.pick([0x7fffffff, 0x80000000, 0xffffffff, 0, 1, 0x7f, 0x80])), ...op, ...use(cc())];
    }
    case 23: { const o = r.below(2); return mem ? [0xf6, ...m(o), r.below(256)] : [0xf6, modrmReg(o, d8), r.below(256)]; } // test Eb, Ib
    case 24: { // test Ev, Iz / not / neg
      const o = r.pick([0, 2, 3]);
      const tail = o === 0 ? le32(r.chance(0.3) ? r.pick([0, 0x80000000, 0xffffffff]) : r.u32()) : [];
      return mem ? [0xf7, ...m(o), ...tail] : [0xf7, modrmReg(o, dst), ...tail];
    }
    case 25: { const o = r.below(2); return mem ? [0xff, ...m(o)] : [0xff, modrmReg(o, dst)]; } // inc/dec Ev
    case 26: { const o = r.below(2); return mem ? [0xfe, ...m(o)] : [0xfe, modrmReg(o, d8)]; } // inc/dec Eb
    case 27: return mem ? [0xff, ...m(6), 0x58 + dst] : [0xff, modrmReg(6, src), 0x58 + dst]; // push Ev; pop
    case 28: { // shl/shr/sar of a register by a constant, counts at the edges, mostly followed by a condition on their flags (OF, SF != OF, PF ...)
      const o = r.pick([4, 5, 6, 7]);
      const shift = r.chance(0.3) ? [0xd1, modrmReg(o, dst)] : [0xc1, modrmReg(o, dst), r.pick(COUNTS)];
      return r.chance(0.75) ? [...shift, ...use(r.chance(0.5) ? r.pick([0, 1, 12, 13, 14, 15]) : r.below(16))] : shift;
    }
    case 29: { // imul Gv, Ev / Gv, Ev, Ib / Gv, Ev, Iz, overflowing or not, mostly with a condition on CF, OF, ZF or SF after
      const k = r.below(3);
      const form = k === 0 ? (mem ? [0x0f, 0xaf, ...m(dst)] : [0x0f, 0xaf, modrmReg(dst, src)])
        : k === 1 ? [0x6b, ...(mem ? m(dst) : [modrmReg(dst, src)]), r.pick([0, 1, 2, 0x7f, 0x80, 0xff, r.below(256)])]
          : [0x69, ...(mem ? m(dst) : [modrmReg(dst, src)]), ...le32(r.pick([1, 3, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff, r.u32()]))];
      return r.chance(0.7) ? [...form, ...use(r.pick([0, 1, 2, 3, 4, 5, 8, 9]))] : form;
    }
    case 30: { // 16-bit moves: mov Ew, Gw / Gw, Ew / Ew, Iw
      const k = r.below(3);
      if (k === 2) return [0x66, 0xc7, ...(mem ? m(0) : [modrmReg(0, dst)]), r.below(256), r.below(256)];
      return [0x66, k === 0 ? 0x89 : 0x8b, ...(mem ? m(k === 0 ? src : dst) : [k === 0 ? modrmReg(src, dst) : modrmReg(dst, src)])];
    }
    case 31: { // shl/shr/sar of a register by CL (CL set to an edge count first, or as the code left it), then often a condition
      const o = r.pick([4, 5, 6, 7]);
      const d = r.pick([0, 2, 7]);
      const setCl = r.chance(0.6) ? [0xb1, r.pick(COUNTS)] : [];
      // half the time the operand at an edge first (the sign bit set: OF of SHR by more than 1 is 0, not it)
      const edge = r.chance(0.5) ? [0xb8 + d, ...le32(r.pick([0x80000000, 0xffffffff, 0xc0000001, 1, 0x7fffffff]))] : [];
      const shift = [...edge, ...setCl, 0xd3, modrmReg(o, d)];
      return r.chance(0.75) ? [...shift, ...use(r.chance(0.5) ? r.pick([0, 1, 12, 13, 14, 15]) : cc())] : shift; // not PF: after a count known only at run time, no flag record (wasm/compile.ts)
    }
    case 32: { // 16-bit shl/shr/sar of a register by a constant, counts at the edges of 16 bits
      const o = r.pick([4, 5, 6, 7]);
      const shift = r.chance(0.3) ? [0x66, 0xd1, modrmReg(o, dst)] : [0x66, 0xc1, modrmReg(o, dst), r.pick(COUNTS)];
      return r.chance(0.6) ? [...shift, ...use(r.pick([0, 1, 4, 5, 8, 9, 12, 13]))] : shift;
    }
    default: return r.chance(0.5) ? [0x55, 0x89, 0xe5, 0x6a, r.below(256), 0xc9] : [0xa0 + r.below(4), ...le32(DATA + r.below(0x100))];
  }
}

/** The forms the jit emitted first (and neighbours left to the handlers). */
function first(r: Rng, src: number, dst: number, mem: boolean): number[] {
  switch (r.below(17)) {
    case 0: return mem ? [0x89, ...modrmMem(r, src)] : [0x89, modrmReg(src, dst)]; // mov Ev, Gv
    case 1: return mem ? [0x8b, ...modrmMem(r, dst)] : [0x8b, modrmReg(dst, src)]; // mov Gv, Ev
    case 2: { const op = r.below(8) * 8 + 1; return mem ? [op, ...modrmMem(r, src)] : [op, modrmReg(src, dst)]; } // alu Ev, Gv
    case 3: { const op = r.below(8) * 8 + 3; return mem ? [op, ...modrmMem(r, dst)] : [op, modrmReg(dst, src)]; } // alu Gv, Ev
    case 4: { const o = r.below(8); return mem ? [0x83, ...modrmMem(r, o), r.below(256)] : [0x83, modrmReg(o, dst), r.below(256)]; } // alu Ev, Ib
    case 5: { const o = r.below(8); return mem ? [0x81, ...modrmMem(r, o), ...le32(r.u32())] : [0x81, modrmReg(o, dst), ...le32(r.u32())]; } // alu Ev, Iz
    case 6: return mem ? [0x85, ...modrmMem(r, src)] : [0x85, modrmReg(src, r.below(8))]; // test
    case 7: return [(r.chance(0.5) ? 0x40 : 0x48) + dst]; // inc/dec r32
    case 8: return [0xb8 + dst, ...le32(r.chance(0.3) ? r.pick([0, 1, 31, 32, 0x7fffffff, 0x80000000, 0xffffffff]) : r.u32())]; // mov r32, imm32
    case 9: return mem ? [0xc7, ...modrmMem(r, 0), ...le32(r.u32())] : [0xc7, modrmReg(0, dst), ...le32(r.u32())]; // mov Ev, Iz
    case 10: { const o = r.pick([0, 1, 2, 3, 4, 5, 7]); return [0xc1, modrmReg(o, dst), r.pick([0, 1, 2, 7, 31, 32, 33, r.below(256)])]; } // shift Ev, Ib
    case 11: return [0xd1, modrmReg(r.pick([0, 1, 2, 3, 4, 5, 7]), dst)]; // shift Ev, 1
    case 12: return [0xd3, modrmReg(r.pick([0, 1, 2, 3, 4, 5, 7]), dst)]; // shift Ev, CL
    case 13: return mem ? [0x88, ...modrmMem(r, src)] : [0x88, modrmReg(src, r.pick(DST8))]; // mov Eb, Gb
    case 14: { const d8 = r.pick(DST8); return mem ? [0x8a, ...modrmMem(r, d8)] : [0x8a, modrmReg(d8, src)]; } // mov Gb, Eb
    case 15: { const op = r.pick([0xb6, 0xb7, 0xbe, 0xbf]); return mem ? [0x0f, op, ...modrmMem(r, dst)] : [0x0f, op, modrmReg(dst, src)]; } // movzx/movsx
    default: { // neighbours left to handlers: 16-bit operands, byte ALU, NEG/NOT, XCHG, CMC, SETcc, LEA
      const k = r.below(7);
      if (k === 0) return [0x66, 0x01, modrmReg(src, dst)];
      if (k === 1) return [0x00 + r.below(8) * 8, modrmReg(src, r.pick(DST8))];
      if (k === 2) return [0xf7, modrmReg(r.pick([2, 3]), dst)];
      if (k === 3) return [0x87, modrmReg(r.pick(DST), dst)];
      if (k === 4) return [0xf5];
      if (k === 5) return [0x0f, 0x90 + r.below(16), modrmReg(0, r.pick(DST8))];
      return [0x8d, 0x44 | (dst << 3), (r.below(8) << 6 >>> 0) & 0xc0 | (r.pick([0, 1, 2, 6, 7]) << 3) | 3, r.below(256)]; // lea with SIB
    }
  }
}

/** A segment override on a memory operand now and then (every segment is flat here; the override must still be the one used). */
function seg(r: Rng, mem: boolean): number[] {
  return mem && r.chance(0.2) ? [r.pick([0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65])] : [];
}

/** Shift counts at the edges of 8, 16 and 32 bits. */
const COUNTS = [0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 255];

/**
 * The forms the jit emits beyond the first ones (and their neighbours):
 * 16-bit moves, byte ALU forms, the accumulator forms, IMUL, group 3,
 * INC/DEC Ev, PUSH and POP, the shifts on memory and in 16 bits with
 * counts at the edges, JMP, CDQ, CWDE, XCHG, SETcc, CMOVcc, TEST with
 * an immediate, MOV with moffs, LEAVE, PUSH Ev, JMP and CALL Ev (to the
 * next instruction), INC/DEC Eb; and the flags read after them (ADC, SBB,
 * SETcc, CMOVcc, Jcc over nothing, the flags folded into the data).
 */
function more(r: Rng, src: number, dst: number, mem: boolean): number[] {
  const d8 = r.pick(DST8);
  const m = (reg: number): number[] => modrmMem(r, reg);
  switch (r.below(31)) {
    case 0: return mem ? [...seg(r, true), 0x66, 0x89, ...m(src)] : [0x66, 0x89, modrmReg(src, dst)]; // mov Ew, Gw
    case 1: return mem ? [0x66, ...seg(r, true), 0x8b, ...m(dst)] : [0x66, 0x8b, modrmReg(dst, src)]; // mov Gw, Ew
    case 2: return mem ? [0x66, 0xc7, ...m(0), r.below(256), r.below(256)] : [0x66, 0xc7, modrmReg(0, dst), r.below(256), r.below(256)]; // mov Ew, Iw
    case 3: return mem ? [...seg(r, true), 0xc6, ...m(0), r.below(256)] : [0xc6, modrmReg(0, d8), r.below(256)]; // mov Eb, Ib
    case 4: { const o = r.below(8); return mem ? [...seg(r, true), 0x80, ...m(o), r.below(256)] : [0x80, modrmReg(o, d8), r.below(256)]; } // alu Eb, Ib
    case 5: { const op = r.below(8) * 8; return mem ? [op, ...m(src)] : [op, modrmReg(src, d8)]; } // alu Eb, Gb
    case 6: { const op = r.below(8) * 8 + 2; return mem ? [...seg(r, true), op, ...m(d8)] : [op, modrmReg(d8, src)]; } // alu Gb, Eb
    case 7: return mem ? [0x84, ...m(src)] : [0x84, modrmReg(src, r.below(8))]; // test Eb, Gb
    case 8: return r.chance(0.5) ? [r.below(8) * 8 + 4, r.below(256)] : [r.below(8) * 8 + 5, ...le32(r.chance(0.3) ? r.pick([0, 1, 0x7fffffff, 0x80000000, 0xffffffff]) : r.u32())]; // alu AL, Ib / eAX, Iz
    case 9: return [0xb0 + d8, r.below(256)]; // mov r8, imm8
    case 10: return mem ? [0x0f, 0xaf, ...m(dst)] : [0x0f, 0xaf, modrmReg(dst, src)]; // imul Gv, Ev
    case 11: { // imul Gv, Ev, Ib / Iz: overflowing or not
      const imm = r.chance(0.5) ? [0x6b, ...[r.pick([0, 1, 2, 0x7f, 0x80, 0xff])]] : [0x69, ...le32(r.pick([1, 3, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff, r.u32()]))];
      return mem ? [imm[0]!, ...m(dst), ...imm.slice(1)] : [imm[0]!, modrmReg(dst, src), ...imm.slice(1)];
    }
    case 12: { const o = r.pick([0, 2, 3]); const tail = o === 0 ? le32(r.u32()) : []; return mem ? [0xf7, ...m(o), ...tail] : [0xf7, modrmReg(o, dst), ...tail]; } // test Ev, Iz / not / neg
    case 13: { const o = r.below(2); return mem ? [...seg(r, true), 0xff, ...m(o)] : [0xff, modrmReg(o, dst)]; } // inc/dec Ev
    case 14: { // push and pop, kept balanced: push r32 / Ib / Iz, then pop
      const k = r.below(3);
      const push = k === 0 ? [0x50 + src] : k === 1 ? [0x6a, r.below(256)] : [0x68, ...le32(r.u32())];
      return [...push, 0x58 + dst];
    }
    case 15: { // shifts on memory (1, Ib, CL) and in 16 bits, counts at the edges
      const o = r.pick([0, 1, 2, 3, 4, 5, 7]);
      const k = r.below(3);
      if (mem) return k === 0 ? [0xd1, ...m(o)] : k === 1 ? [0xc1, ...m(o), r.pick(COUNTS)] : [0xd3, ...m(o)];
      return k === 0 ? [0x66, 0xd1, modrmReg(o, dst)] : k === 1 ? [0x66, 0xc1, modrmReg(o, dst), r.pick(COUNTS)] : [0x66, 0xd3, modrmReg(o, dst)];
    }
    case 16: { const o = r.pick([4, 5, 7]); return [0xc1, modrmReg(o, dst), r.pick(COUNTS)]; } // shl/shr/sar by a constant
    case 17: return [0xb1, r.pick(COUNTS)]; // mov cl, count (for the shifts by CL)
    case 18: return r.chance(0.5) ? [0xeb, 0x00] : [0xe9, 0, 0, 0, 0]; // jmp to the next instruction
    case 19: return [r.chance(0.5) ? 0x99 : 0x98]; // cdq / cwde
    case 20: return r.chance(0.5) ? [0x90 + r.pick([1, 2, 7])] : [0x87, modrmReg(r.pick(DST), dst)]; // xchg
    case 21: return mem ? [0x0f, 0x90 + r.below(16), ...m(0)] : [0x0f, 0x90 + r.below(16), modrmReg(0, d8)]; // setcc
    case 22: return mem ? [0x0f, 0x40 + r.below(16), ...m(dst)] : [0x0f, 0x40 + r.below(16), modrmReg(dst, src)]; // cmovcc
    case 23: return [0x70 + r.below(16), 0x00, r.chance(0.5) ? 0x13 : 0x1b, modrmReg(dst, src)]; // jcc over nothing, then adc/sbb: flags read
    case 24: return r.chance(0.5) ? [0xa8, r.below(256)] : [0xa9, ...le32(r.u32())]; // test AL, Ib / eAX, Iz
    case 25: { // mov AL/eAX, moffs and back (an absolute address in the data area)
      const op = 0xa0 + r.below(4);
      return [...seg(r, true), ...(op & 1 ? [] : r.chance(0.3) ? [0x66] : []), op, ...le32(DATA + r.below(0x100))];
    }
    case 26: return [0x55, 0x89, 0xe5, 0x6a, r.below(256), 0xc9]; // push ebp; mov ebp, esp; push Ib; leave
    case 27: return mem ? [0xff, ...m(6), 0x58 + dst] : [0xff, modrmReg(6, src), 0x58 + dst]; // push Ev; pop
    case 28: { // call +0; pop d (its own address); add d, n: the address after the jump or call below; then jmp/call d, or through memory
      const k = r.below(4);
      if (k === 0) return [0xe8, 0, 0, 0, 0, 0x58 + dst, 0x83, 0xc0 + dst, 6, 0xff, 0xe0 + dst]; // jmp d
      if (k === 1) return [0xe8, 0, 0, 0, 0, 0x58 + dst, 0x83, 0xc0 + dst, 6, 0xff, 0xd0 + dst, 0x58 + r.pick(DST)]; // call d; pop
      const ind = k === 2 ? [0xff, 0x63, 0x7c] : [0xff, 0x53, 0x7c]; // jmp/call [ebx+0x7c]
      return [0xe8, 0, 0, 0, 0, 0x58 + dst, 0x83, 0xc0 + dst, 10, 0x89, 0x43 | (dst << 3), 0x7c, ...ind, ...(k === 3 ? [0x58 + r.pick(DST)] : [])];
    }
    case 29: { const o = r.below(2); return mem ? [0xf6, ...m(o), r.below(256)] : [0xf6, modrmReg(o, d8), r.below(256)]; } // test Eb, Ib
    default: { const o = r.below(2); return mem ? [...seg(r, true), 0xfe, ...m(o)] : [0xfe, modrmReg(o, d8)]; } // inc/dec Eb
  }
}

/**
 * A loop of `len` random instructions run `times` times, EBX pointing at
 * the data area and ESI at the window (paged) or the data area's upper
 * half; with `irq`, the PIC and the PIT set up first (IRQ 0 at vector
 * 0x20 every few dozen instructions) and interrupts on; with `paged`,
 * paging turned on first (CR0.WP set, so that a read-only entry refuses
 * the kernel's writes; CR4.PGE set, so that global entries outlive a CR3
 * load).
 */
function program(seed: number, len: number, times: number, kind: Kind, nsPerInstruction: number): number[] {
  const r = new Rng(seed);
  const code: number[] = [0xbb, ...le32(DATA), 0xbd, ...le32(times), 0xbe, ...le32(kind.paged ? ESI_PAGED : DATA + 0x80)]; // mov ebx, DATA; mov ebp, times; mov esi, ...
  if (kind.irq) {
    // at least 16 instructions between ticks (the handler runs 11), a few hundred at most
    const reload = Math.ceil((16 * nsPerInstruction) / PIT_NS) + r.below(24);
    // the PIC: ICW1-4 (vectors from 0x20), only IRQ 0 unmasked; the PIT's counter 0 in mode 2
    code.push(...outb(0x20, 0x11), ...outb(0x21, TIMER_VECTOR), ...outb(0x21, 4), ...outb(0x21, 1), ...outb(0x21, 0xfe));
    code.push(...outb(0x43, 0x34), ...outb(0x40, reload), ...outb(0x40, 0));
  }
  if (kind.paged) {
    // mov eax, PD; mov cr3, eax; mov eax, cr4; or eax, PGE; mov cr4, eax; mov eax, cr0; or eax, PG | WP; mov cr0, eax
    code.push(0xb8, ...le32(PD), 0x0f, 0x22, 0xd8, 0x0f, 0x20, 0xe0, 0x0d, ...le32(0x80), 0x0f, 0x22, 0xe0,
      0x0f, 0x20, 0xc0, 0x0d, ...le32(0x80010000), 0x0f, 0x22, 0xc0);
  }
  for (const reg of DST) code.push(0xb8 + reg, ...le32(r.u32()));
  if (kind.irq) code.push(0xfb); // sti
  const top = code.length;
  // pure and paged: one load through the loop counter, mov r, [ebp*4 + disp32], whose address
  // steps down 4 bytes a pass from window page 3 into page 2, not present until the page-fault
  // handler maps it: a page fault in a later pass of a block that loops inside its compiled code
  const stride = kind.pure && kind.paged ? r.below(len) : -1;
  const turn = 2 + r.below(times - 2);
  // pure: half the loops read the flags before they set any (a condition on CF, which DEC keeps, or INC/DEC itself):
  // from the previous pass, which compiled code that loops to its start must hand over
  if (kind.pure && r.chance(0.5)) {
    const c = r.pick([2, 3, 6, 7]);
    const k = r.below(3);
    code.push(...(k === 0 ? [0x0f, 0x90 + c, modrmReg(0, r.pick(DST8))] : k === 1 ? [0x0f, 0x40 + c, modrmReg(r.pick(DST), r.below(8))] : [(r.chance(0.5) ? 0x40 : 0x48) + r.pick(DST)]));
  }
  for (let i = 0; i < len; i++) {
    if (i === stride) code.push(0x8b, 0x04 | (r.pick(DST) << 3), 0xad, ...le32(WINDOW + 0x3000 - 4 * (turn + 1)));
    code.push(...instruction(r, kind));
  }
  code.push(0x4d); // dec ebp
  const rel = top - (code.length + 6);
  code.push(0x0f, 0x85, ...le32(rel)); // jnz top
  code.push(0xfa, 0xf4); // cli; hlt
  return code;
}

interface Outcome { regs: number[]; eip: number; flags: number; instructions: number; ticks: number; faults: number; stub: number; data: string }

/** Blocks the wasm engine compiled to WebAssembly, over all programs (the rest of its blocks are JavaScript). */
let wasmBlocks = 0;

function run(code: number[], at: number, mode: ModeName, engine: Engine, jit1: boolean, seed: number, nsPerInstruction: number, kind: Kind): Outcome {
  const m = flatMachine({ mode, engine, nsPerInstruction });
  if (jit1) m.cpu.blocks!.jitThreshold = 1;
  const mmu = m.mmu;
  // the timer's and the page fault's gates: 32-bit interrupt gates (SDM vol. 3A, 6.11)
  for (const [v, at] of [[TIMER_VECTOR, TIMER_HANDLER], [14, PF_HANDLER]] as const) {
    mmu.writePhys(IDT + v * 8, 4, (0x08 << 16) | (at & 0xffff));
    mmu.writePhys(IDT + v * 8 + 4, 4, (at & 0xffff0000) | 0x8e00);
  }
  m.cpu.idtLimit = (TIMER_VECTOR + 1) * 8 - 1;
  mmu.writePhysBytes(TIMER_HANDLER, new Uint8Array(HANDLER));
  mmu.writePhysBytes(PF_HANDLER, new Uint8Array(PF_CODE));
  mmu.writePhys(PD, 4, PT0 | 3);
  mmu.writePhys(PD + 4, 4, PT1 | 3);
  for (let i = 0; i < 1024; i++) {
    mmu.writePhys(PT0 + 4 * i, 4, (i << 12) | 3);
    mmu.writePhys(PT1 + 4 * i, 4, (WINDOW + (i << 12)) | 3);
  }
  // window page 2 not present in the pure programs, for their loads through the loop counter (program)
  if (kind.pure) mmu.writePhys(PT1 + 8, 4, WINDOW + 0x2000);
  const r = new Rng(seed ^ 0x9e3779b9);
  const data = new Uint8Array(DATA_BYTES);
  for (let i = 0; i < data.length; i++) data[i] = r.below(256);
  data.fill(0, ACC - DATA, FAULTS - DATA + 4);
  mmu.writePhysBytes(DATA, data);
  const window = new Uint8Array(0x4000);
  for (let i = 0; i < window.length; i++) window[i] = r.below(256);
  mmu.writePhysBytes(WINDOW, window);
  // the program at `at`; when that is past CODE (where the CPU starts), a JMP there from CODE
  if (at !== CODE) mmu.writePhysBytes(CODE, new Uint8Array([0xe9, ...le32(at - CODE - 5)]));
  mmu.writePhysBytes(at, new Uint8Array(code));
  const end = runToHalt(m, 1_000_000);
  if (engine === 'wasm') wasmBlocks += m.cpu.blocks!.wasmCompiled;
  const hash = createHash('sha256');
  // the data, the window's bytes around ESI, and the paging structures (accessed and dirty bits)
  for (const [at, n] of [[DATA, DATA_BYTES], [ESI_PAGED - 0x40, 0x100], [PD, 8], [PT0, 0x1000], [PT1, 16]] as const) hash.update(mmu.readPhysBytes(at, n));
  return {
    regs: Array.from(m.cpu.reg32, (v) => v >>> 0), eip: m.cpu.eip >>> 0, flags: m.cpu.getFlags(), instructions: end.instructions, stub: haltedInStub(m),
    ticks: mmu.readPhys(TICKS, 4), faults: mmu.readPhys(FAULTS, 4), data: hash.digest('hex'),
  };
}

/** How many programs, and the first one's seed: npm test runs seeds 1 to 300; `VMMU_JIT_FUZZ=20000 VMMU_JIT_FUZZ_FROM=1000 npx vitest run test/cpu/jit-fuzz.test.ts` runs others for longer. */
const PROGRAMS = Number(process.env.VMMU_JIT_FUZZ ?? 300);
const FIRST = Number(process.env.VMMU_JIT_FUZZ_FROM ?? 1);

describe('random straight-line code under every engine (and, with paging, every mode)', () => {
  it(`do ${PROGRAMS} random programs end identically under interp, block, jit and wasm, with timer interrupts, paging and page faults?`, () => {
    let compiled = 0, ticks = 0, faults = 0, ended = 0;
    for (let seed = FIRST; seed < FIRST + PROGRAMS; seed++) {
      const kind: Kind = { irq: (seed & 1) === 0, paged: (seed & 2) !== 0, pure: seed % 3 === 0 };
      // the PIT runs in virtual time: more nanoseconds an instruction, more interrupts
      const ns = kind.irq ? [100, 250, 500][seed % 3]! : 1;
      const code = program(seed, 1 + (seed % 24), kind.irq || kind.paged ? 40 : 3, kind, ns);
      // two programs in five straddle a page end somewhere past their first third: their loop is then two blocks
      // (a block ends at a page end), which the wasm engine's dispatcher chains across the pages every pass
      const cut = Math.floor(code.length / 3) + new Rng(seed ^ 0x5bd1e995).below(Math.ceil((2 * code.length) / 3));
      const at = seed % 5 < 2 ? CODE + 0x1000 - cut : CODE;
      const hex = code.map((b) => b.toString(16).padStart(2, '0')).join(' ');
      const named = (mode: ModeName, engine: Engine, jit1: boolean): Outcome => {
        try {
          return run(code, at, mode, engine, jit1, seed, ns, kind);
        } catch (e) {
          throw new Error(`seed ${seed}, ${mode} ${engine}: ${(e as Error).message}\nprogram at 0x${at.toString(16)}: ${hex}`);
        }
      };
      const ref = named('shadow', 'interp', false);
      ticks += ref.ticks;
      faults += ref.faults;
      if (ref.stub === -1) ended++;
      // every engine under shadow; with paging on, every mode too (the guest's view must not depend on it)
      const runs: [ModeName, Engine, boolean][] = [['shadow', 'block', false], ['shadow', 'jit', true], ['shadow', 'wasm', true]];
      if (kind.paged) for (const mode of ['naive', 'slat'] as const) runs.push([mode, 'interp', false], [mode, 'jit', true], [mode, 'wasm', true]);
      for (const [mode, engine, jit1] of runs) {
        const got = named(mode, engine, jit1);
        if (JSON.stringify(got) !== JSON.stringify(ref)) {
          throw new Error(`seed ${seed}, ${mode} ${engine}: ${JSON.stringify(got)} != shadow interp ${JSON.stringify(ref)}\nprogram at 0x${at.toString(16)}: ${hex}`);
        }
      }
      compiled++;
    }
    expect(compiled).toBe(PROGRAMS);
    // the wasm engine compiled blocks to WebAssembly (not only to JavaScript): a few a program at least
    expect(wasmBlocks).toBeGreaterThan(PROGRAMS);
    // the interrupts did happen: one every 16 to a few hundred instructions of the programs with irq
    expect(ticks).toBeGreaterThan(PROGRAMS * 5);
    // and the page faults: the paged programs change their window's entries as they run
    expect(faults).toBeGreaterThan(PROGRAMS);
    // almost every program ran to its end (an exception other than #PF halts in its stub: the same under every engine, but the rest of that program is not run)
    expect(ended).toBeGreaterThan(PROGRAMS * 0.9);
  }, Math.max(300_000, PROGRAMS * 400));
});
