/**
 * SSE under every engine: the block, jit and wasm engines leave the SSE
 * and SSE2 instructions to their interpreter handlers (src/cpu/ops/sse.ts),
 * so a guest must end exactly as under the interpreter: general registers,
 * EFLAGS (COMISS feeding a compiled Jcc), the XMM and MMX registers and
 * MXCSR (the whole FPU snapshot), memory and the instruction count. The
 * program loops long enough for the jit to compile its block (`jit32`
 * after 32 runs, `jit1` and `wasm1` after one) and takes an #XM in the
 * middle of the block on every iteration (the handler resumes after it),
 * with paging on, under each translation mode.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Machine } from '../../src/machine/machine.js';
import { MODE_NAMES, type ModeName } from '../../src/mmu/modes/mode.js';
import type { Engine } from '../../src/cpu/cpu.js';
import { CODE, le32, runToHalt } from './flat-machine.js';
import { bytesOf, sseMachine } from './sse-guest.js';

type Variant = 'interp' | 'block' | 'jit32' | 'jit1' | 'wasm1';
const VARIANTS: readonly Variant[] = ['block', 'jit32', 'jit1', 'wasm1'];
const engineOf = (v: Variant): Engine => (v === 'jit1' || v === 'jit32' ? 'jit' : v === 'wasm1' ? 'wasm' : v);

const PD = 0x20000, PT = 0x21000, DATA = 0x300000;
const ITERATIONS = 100;

/** the loop; its #XM handler (sse-guest.ts) resumes at EDI */
function program(): number[] {
  const pre = [
    0xb8, ...le32(PD), 0x0f, 0x22, 0xd8, 0x0f, 0x20, 0xc0, 0x0d, ...le32(0x80000000), 0x0f, 0x22, 0xc0, // cr3 = PD; paging on
    0xbb, ...le32(DATA), // mov ebx, DATA
    0x0f, 0xae, 0x13, // ldmxcsr [ebx]
    0x0f, 0x28, 0x63, 0x30, 0x0f, 0x28, 0x6b, 0x40, // movaps xmm4, [ebx+30h]; movaps xmm5, [ebx+40h]
    0x0f, 0x6f, 0x43, 0x60, 0x0f, 0x6f, 0x4b, 0x68, // movq mm0, [ebx+60h]; movq mm1, [ebx+68h]
    0xb9, ...le32(ITERATIONS), // mov ecx, ITERATIONS
  ];
  const loopA = [
    0x0f, 0x28, 0x43, 0x10, // movaps xmm0, [ebx+10h]
    0x0f, 0x58, 0x43, 0x20, // addps xmm0, [ebx+20h]
    0xf3, 0x0f, 0x59, 0xc0, // mulss xmm0, xmm0
    0x0f, 0x29, 0x43, 0x10, // movaps [ebx+10h], xmm0
    0xf3, 0x0f, 0x2c, 0xc0, // cvttss2si eax, xmm0
    0x01, 0xc2, // add edx, eax
    0x0f, 0x2f, 0x43, 0x20, // comiss xmm0, [ebx+20h]
    0x72, 0x01, 0x46, // jb +1; inc esi
    0x0f, 0xe0, 0xc1, 0x0f, 0xd4, 0xc8, // pavgb mm0, mm1; paddq mm1, mm0
    0x66, 0x0f, 0xef, 0xd0, // pxor xmm2, xmm0
    0x66, 0x0f, 0x70, 0xda, 0x39, // pshufd xmm3, xmm2, 39h
    0x66, 0x0f, 0xfe, 0xda, // paddd xmm3, xmm2
    0xf3, 0x0f, 0x7f, 0x5c, 0x8b, 0x41, // movdqu [ebx+ecx*4+41h], xmm3
    0xf3, 0x0f, 0x5e, 0xe5, // divss xmm4, xmm5: #XM (ZE unmasked)
  ];
  const loopB = [
    0x0f, 0xae, 0x5b, 0x50, // stmxcsr [ebx+50h]
    0x81, 0x73, 0x50, ...le32(0x2000), // xor dword [ebx+50h], 2000h (the rounding control)
    0x0f, 0xae, 0x53, 0x50, // ldmxcsr [ebx+50h]
    0x49, // dec ecx
  ];
  const movEdi = 5;
  const top = CODE + pre.length + movEdi;
  const resume = top + loopA.length;
  const jnzAt = resume + loopB.length;
  return [...pre, 0xbf, ...le32(resume), ...loopA, ...loopB, 0x75, (top - (jnzAt + 2)) & 0xff, 0xf4];
}

interface End { instructions: number; eip: number; flags: number; regs: number[]; fpu: string; memory: string; xm: number }

function runVariant(mode: ModeName, v: Variant): { end: End; m: Machine } {
  const m = sseMachine(program(), [
    [DATA, le32(0x1f80 & ~(1 << 9))], // ZE unmasked
    [DATA + 0x10, bytesOf([0x3fc00000, 0xc0100000, 0x40400000, 0x3dcccccd])], // 1.5 -2.25 3.0 0.1
    [DATA + 0x20, bytesOf([0x3f400000, 0x3f800000, 0xbf000000, 0x40000000])], // 0.75 1.0 -0.5 2.0
    [DATA + 0x30, bytesOf([0x3f800000, 0, 0, 0])], [DATA + 0x40, bytesOf([0, 0, 0, 0])],
    [DATA + 0x60, bytesOf([0x01020304, 0xf0e0d0c0, 0x7f7f0101, 0x12345678])],
  ], { mode, engine: engineOf(v) });
  m.mmu.writePhys(PD, 4, PT | 7);
  for (let i = 0; i < 1024; i++) m.mmu.writePhys(PT + 4 * i, 4, (i << 12) | 3);
  if (m.cpu.blocks) {
    if (v === 'jit1' || v === 'wasm1') m.cpu.blocks.jitThreshold = 1;
    if (v === 'wasm1') m.cpu.blocks.wasmBatch = 1;
    if (v === 'jit32') m.cpu.blocks.jitThreshold = 32;
  }
  const r = runToHalt(m, 1_000_000);
  const fpu = m.cpu.fpu.save();
  return {
    m,
    end: {
      instructions: r.instructions, eip: m.cpu.eip, flags: m.cpu.getFlags(), regs: Array.from(m.cpu.reg32), fpu: JSON.stringify(fpu),
      memory: createHash('sha256').update(m.mmu.readPhysBytes(0, 4 << 20)).digest('hex'), xm: m.mmu.readPhys(DATA + 12, 4),
    },
  };
}

describe.each(MODE_NAMES)('an SSE loop under %s translation', (mode) => {
  const ref = runVariant(mode, 'interp');
  it('does the interpreter run it as written (every iteration, an #XM each, the rounding flipping)?', () => {
    expect(ref.end.xm).toBe(19);
    expect(ref.end.regs[1]).toBe(0); // ECX counted down
    expect(ref.end.instructions).toBeGreaterThan(ITERATIONS * 24);
    expect(ref.m.cpu.fpu.mxcsr & 4).toBe(4); // ZE
  });
  it.each(VARIANTS)('does it end the same under %s as under the interpreter?', (v) => {
    const b = runVariant(mode, v);
    expect(b.end).toEqual(ref.end);
    expect(b.m.cpu.blocks!.built).toBeGreaterThan(0);
    if (v !== 'block') expect(b.m.cpu.blocks!.jitCompiled).toBeGreaterThan(0);
  });
});
