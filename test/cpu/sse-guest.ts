/**
 * Hand-assembling SSE code for the guest-level SSE tests: a flat 32-bit
 * machine (flat-machine.ts) with SSE on and CR4.OSFXSR/OSXMMEXCPT set, a
 * few encoders for the forms the tests use, and a handler for #XM and #UD
 * that records the vector and resumes at EDI (so one program can run
 * thousands of cases, faulting or not).
 */
import type { Machine } from '../../src/machine/machine.js';
import type { ModeName } from '../../src/mmu/modes/mode.js';
import type { Engine } from '../../src/cpu/cpu.js';
import { CODE, IDT, flatMachine, le32 } from './flat-machine.js';

export const CR4_OSFXSR = 1 << 9;
export const CR4_OSXMMEXCPT = 1 << 10;
/** where the tests put their data (16-byte aligned) */
export const DATA = 0x400000;
/** the resuming handlers, one per vector (6, 7, 13, 19) */
const HANDLERS = 0x3000;
/** vector v's handler writes v to [EBX + 12] (the case's slot), drops the frame (and the error code of #GP) and jumps to EDI */
const RESUMED = [6, 7, 13, 19];

const EAX = 0, EBX = 3;
export { EAX, EBX };

/** An operand: an XMM/MMX/general register number, or [EBX + disp8]. */
export type Rm = { r: number } | { m: number };

function modrm(reg: number, rm: Rm): number[] {
  if ('r' in rm) return [0xc0 | (reg << 3) | rm.r];
  return [0x40 | (reg << 3) | EBX, rm.m & 0xff];
}

/** `prefix` (0x66, 0xf2, 0xf3 or none) 0F op2 /reg rm [imm8] */
export function sse(prefix: number | null, op2: number, reg: number, rm: Rm, imm?: number): number[] {
  return [...(prefix === null ? [] : [prefix]), 0x0f, op2, ...modrm(reg, rm), ...(imm === undefined ? [] : [imm & 0xff])];
}

export const movEbx = (v: number): number[] => [0xbb, ...le32(v)];
export const movEdi = (v: number): number[] => [0xbf, ...le32(v)];
export const movEax = (v: number): number[] => [0xb8, ...le32(v)];
/** LDMXCSR [EBX + d], STMXCSR [EBX + d] */
export const ldmxcsr = (d: number): number[] => sse(null, 0xae, 2, { m: d });
export const stmxcsr = (d: number): number[] => sse(null, 0xae, 3, { m: d });
/** MOVAPS xmm, [EBX + d]; MOVAPS [EBX + d], xmm */
export const loadX = (x: number, d: number): number[] => sse(null, 0x28, x, { m: d });
export const storeX = (x: number, d: number): number[] => sse(null, 0x29, x, { m: d });
/** MOVQ mm, [EBX + d]; MOVQ [EBX + d], mm */
export const loadMm = (x: number, d: number): number[] => sse(null, 0x6f, x, { m: d });
export const storeMm = (x: number, d: number): number[] => sse(null, 0x7f, x, { m: d });
/** MOV [EBX + d], r32 */
export const storeR = (r: number, d: number): number[] => [0x89, 0x40 | (r << 3) | EBX, d & 0xff];
/** PUSHFD; POP EAX */
export const flagsToEax = [0x9c, 0x58];
export const HLT = 0xf4;

export interface SseMachineOptions {
  mode?: ModeName;
  engine?: Engine;
  /** the --cpu specification (default '+sse,+sse2') */
  cpu?: string;
  /** the CR4 value the program starts with (default OSFXSR | OSXMMEXCPT) */
  cr4?: number;
  /** bits ORed into CR0 (EM, TS) */
  cr0?: number;
}

/**
 * A flat machine ready for `code` at CODE: CR4 and CR0 as asked, the
 * resuming handlers in the IDT for #UD, #NM, #GP and #XM.
 */
export function sseMachine(code: number[], data: [number, number[] | Uint8Array][] = [], o: SseMachineOptions = {}): Machine {
  const m = flatMachine({ mode: o.mode ?? 'naive', engine: o.engine ?? 'interp', cpu: o.cpu ?? '+sse,+sse2', memory: 32 << 20 });
  const mmu = m.mmu;
  for (const v of RESUMED) {
    const at = HANDLERS + 32 * v;
    // mov dword [ebx+12], v; add esp, 12 (16 with #GP's error code); jmp edi
    mmu.writePhysBytes(at, new Uint8Array([0xc7, 0x43, 0x0c, ...le32(v), 0x83, 0xc4, v === 13 ? 16 : 12, 0xff, 0xe7]));
    mmu.writePhys(IDT + v * 8, 4, (0x08 << 16) | (at & 0xffff));
    mmu.writePhys(IDT + v * 8 + 4, 4, (at & 0xffff0000) | 0x8e00);
  }
  m.cpu.cr4 = o.cr4 ?? (m.cpu.features.sse ? CR4_OSFXSR | CR4_OSXMMEXCPT : CR4_OSFXSR);
  m.cpu.cr0 |= o.cr0 ?? 0;
  mmu.setPaging({ cr0: m.cpu.cr0, cr3Lo: 0, cr4: m.cpu.cr4, efer: 0 });
  mmu.writePhysBytes(CODE, new Uint8Array(code));
  for (const [at, bytes] of data) mmu.writePhysBytes(at, bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes));
  return m;
}

/** dwords as little-endian bytes */
export function bytesOf(dwords: ArrayLike<number>): number[] {
  const out: number[] = [];
  for (let i = 0; i < dwords.length; i++) out.push(...le32(dwords[i]! >>> 0));
  return out;
}

/** `n` dwords of guest memory at `at` */
export function dwordsAt(m: Machine, at: number, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(m.mmu.readPhys(at + 4 * i, 4) >>> 0);
  return out;
}

/** XMM register i as four unsigned dwords, low first */
export function xmmOf(m: Machine, i: number): number[] {
  return Array.from(m.cpu.fpu.xmm.subarray(4 * i, 4 * i + 4), (v) => v >>> 0);
}

export { CODE };
