/**
 * An adversarial generator for the engines: random straight-line code of
 * the forms the jit emits itself (and of neighbours it leaves to the
 * handlers), in 32-bit registers, bytes, ModR/M memory operands and flags,
 * run in a loop under the interpreter, the block engine and the jit
 * (compiling after the first run, so that almost every iteration runs
 * compiled code); registers, flags, the instruction count and the data
 * area must come out identical. A failure names the seed and the
 * program's bytes.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Rng } from '../mmu/rng.js';
import { CODE, flatMachine, le32, runToHalt } from './flat-machine.js';
import type { Engine } from '../../src/cpu/cpu.js';

const DATA = 0x200000;
/** Destinations: not EBX (the data pointer), ESP (the stack) or EBP (the loop counter). */
const DST = [0, 1, 2, 6, 7];
/** 8-bit destinations: AL CL DL AH CH DH (not BL, BH). */
const DST8 = [0, 1, 2, 4, 5, 6];

function modrmReg(reg: number, rm: number): number {
  return 0xc0 | (reg << 3) | rm;
}
/** [EBX + disp8], disp8 a multiple of 4 below 0x80 */
function modrmMem(r: Rng, reg: number): number[] {
  return [0x43 | (reg << 3), r.below(30) * 4];
}

function instruction(r: Rng): number[] {
  const src = r.below(8);
  const dst = r.pick(DST);
  const mem = r.chance(0.3);
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

/** A loop of `len` random instructions run `times` times, EBX pointing at the data area. */
function program(seed: number, len: number, times: number): number[] {
  const r = new Rng(seed);
  const code: number[] = [0xbb, ...le32(DATA), 0xbd, ...le32(times)]; // mov ebx, DATA; mov ebp, times
  for (const reg of DST) code.push(0xb8 + reg, ...le32(r.u32()));
  const top = code.length;
  for (let i = 0; i < len; i++) code.push(...instruction(r));
  code.push(0x4d); // dec ebp
  const rel = top - (code.length + 6);
  code.push(0x0f, 0x85, ...le32(rel)); // jnz top
  code.push(0xf4);
  return code;
}

function run(code: number[], engine: Engine, jit1: boolean, seed: number): { regs: number[]; flags: number; instructions: number; data: string } {
  const m = flatMachine({ mode: 'shadow', engine });
  if (jit1) m.cpu.blocks!.jitThreshold = 1;
  const data = new Uint8Array(256);
  const r = new Rng(seed ^ 0x9e3779b9);
  for (let i = 0; i < data.length; i++) data[i] = r.below(256);
  m.mmu.writePhysBytes(DATA, data);
  m.mmu.writePhysBytes(CODE, new Uint8Array(code));
  const end = runToHalt(m, 1_000_000);
  return {
    regs: Array.from(m.cpu.reg32, (v) => v >>> 0), flags: m.cpu.getFlags(), instructions: end.instructions,
    data: createHash('sha256').update(m.mmu.readPhysBytes(DATA, 256)).digest('hex'),
  };
}

const PROGRAMS = Number(process.env.VMMU_JIT_FUZZ ?? 300);

describe('random straight-line code under every engine', () => {
  it(`do ${PROGRAMS} random programs end identically under interp, block and jit?`, () => {
    let compiled = 0;
    for (let seed = 1; seed <= PROGRAMS; seed++) {
      const code = program(seed, 1 + (seed % 24), 3);
      const ref = run(code, 'interp', false, seed);
      for (const [engine, jit1] of [['block', false], ['jit', true]] as const) {
        const got = run(code, engine, jit1, seed);
        if (JSON.stringify(got) !== JSON.stringify(ref)) {
          throw new Error(`seed ${seed}, ${engine}: ${JSON.stringify(got)} != interp ${JSON.stringify(ref)}\nprogram: ${code.map((b) => b.toString(16).padStart(2, '0')).join(' ')}`);
        }
      }
      compiled++;
    }
    expect(compiled).toBe(PROGRAMS);
  }, 300_000);
});
