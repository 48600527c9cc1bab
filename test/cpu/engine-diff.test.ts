/**
 * The block engine (src/cpu/block.ts) and the jit engine (src/cpu/jit.ts)
 * against the interpreter: the same guest must end in the same state under
 * each. The jit engine runs twice: as `jit32`, compiling a block after 32
 * runs (a threshold these small guests' loops reach, so that compiled and
 * not yet compiled blocks mix as they do in a long run; the real one,
 * JIT_THRESHOLD, is far higher), and as `jit1`, compiling every block
 * after its first run; the wasm engine as `wasm1`, likewise (its blocks
 * WebAssembly where every instruction has a form there, JavaScript
 * otherwise). Every test kernel in every
 * translation mode (instruction count, console output, a hash of guest
 * RAM), the MMU's figures with the cost model on (the block engine stays
 * out of the observed loop), and hand-assembled self-modifying code: a
 * write into the running block, into another block of its page, into
 * another code page, by a loop that keeps writing its own page, and
 * through Mmu.writePhys* between runs (SDM vol. 3A, 11.6); a fault in the
 * middle of a block; a cache that fills up and is emptied; and page-table
 * entries that are code bytes (a displacement, a group 1 immediate fetched
 * after its own read's page walk set the accessed bit in it).
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/machine/machine.js';
import { guestCpu } from '../machine/guest-cpu.js';
import { MODE_NAMES, type ModeName } from '../../src/mmu/modes/mode.js';
import type { Engine } from '../../src/cpu/cpu.js';
import { CODE, STACK, flatMachine, haltedInStub, le32, runToHalt, stackWord } from './flat-machine.js';
import { MAX_BLOCKS } from '../../src/cpu/block.js';

/**
 * An engine, or the jit engine compiling each block after its first run
 * (`jit1`) or its 32nd (`jit32`), or the wasm engine compiling each after
 * its first (`wasm1`).
 */
type Variant = Exclude<Engine, 'jit' | 'wasm'> | 'jit1' | 'jit32' | 'wasm1';
const VARIANTS: readonly Variant[] = ['block', 'jit32', 'jit1', 'wasm1'];

function engineOf(v: Variant): Engine {
  return v === 'jit1' || v === 'jit32' ? 'jit' : v === 'wasm1' ? 'wasm' : v;
}

/** Lowers the compile threshold for `jit1`, `jit32` and `wasm1`, and the wasm engine's batch for `wasm1`. */
function setVariant(m: Machine, v: Variant): Machine {
  if (v === 'jit1' || v === 'wasm1') m.cpu.blocks!.jitThreshold = 1;
  // each block compiled at once, not in a batch of WASM_BATCH (jit-fuzz keeps the batches)
  if (v === 'wasm1') m.cpu.blocks!.wasmBatch = 1;
  if (v === 'jit32') m.cpu.blocks!.jitThreshold = 32;
  return m;
}

const guestsDir = fileURLToPath(new URL('../guests', import.meta.url));
const GUESTS = readdirSync(guestsDir).sort().filter((n) => existsSync(join(guestsDir, n, `${n}.elf`)));

interface End {
  reason: string;
  status: number | null;
  instructions: number;
  output: string;
  memory: string;
  eip: number;
  regs: number[];
}

function ramHash(m: Machine, top = m.ramTop): string {
  return createHash('sha256').update(m.mmu.readPhysBytes(0, top)).digest('hex');
}

function bootGuest(name: string, mode: ModeName, engine: Variant, measure = false): { end: End; m: Machine } {
  let output = '';
  const m = setVariant(new Machine({ mode, engine: engineOf(engine), memory: 64 << 20, cpu: guestCpu(name), mmu: { measure }, serialOut: (b) => { output += String.fromCharCode(b); } }), engine);
  const image = join(guestsDir, name, `${name}.elf`);
  m.loadMultiboot(readFileSync(image), image, '');
  const r = m.run({ maxInstructions: 2_000_000_000 });
  return {
    end: { reason: r.reason + (r.detail ? `: ${r.detail}` : ''), status: r.exitStatus, instructions: r.instructions, output, memory: ramHash(m), eip: m.cpu.eip, regs: Array.from(m.cpu.reg32) },
    m,
  };
}

it('are there test kernels to compare?', () => {
  expect(GUESTS).toEqual(expect.arrayContaining(['paging32', 'pae_nx', 'exceptions', 'multitask', 'semantics']));
});

/** The interpreter's end of each kernel and mode, run once for the engines compared with it. */
const reference = new Map<string, End>();

function interpEnd(name: string, mode: ModeName): End {
  const key = `${name} ${mode}`;
  let end = reference.get(key);
  if (end === undefined) {
    end = bootGuest(name, mode, 'interp').end;
    reference.set(key, end);
  }
  return end;
}

describe.each(GUESTS)('test kernel %s', (name) => {
  const cases = MODE_NAMES.flatMap((mode) => VARIANTS.map((v) => [mode, v] as const));
  it.each(cases)('does it end the same with %s translation under %s as under the interpreter?', (mode, v) => {
    const a = interpEnd(name, mode);
    expect(a.reason).toBe('exit');
    expect(a.status).toBe(1);
    const b = bootGuest(name, mode, v);
    expect(b.end).toEqual(a);
    // A 64-bit kernel (its cpu has lm: paging64) runs its 64-bit code in the same loop under every
    // engine (Cpu.runLong, docs/cpu.md "x86-64"): only its short 32-bit entry runs as blocks, so
    // its ends are compared but not the engine's block counts.
    if (guestCpu(name).includes('+lm')) return;
    // The engine did run blocks, and the jit compiled some (the comparison is not vacuous).
    expect(b.m.cpu.blocks!.built).toBeGreaterThan(50);
    if (v !== 'block') expect(b.m.cpu.blocks!.jitCompiled).toBeGreaterThan(v === 'jit1' || v === 'wasm1' ? 50 : 0);
    // and the wasm engine compiled some of them to WebAssembly
    if (v === 'wasm1') expect(b.m.cpu.blocks!.wasmCompiled).toBeGreaterThan(20);
  });
});

it('with the cost model on, do both engines report the same accesses (every fetch observed)?', () => {
  const a = bootGuest('paging32', 'shadow', 'interp', true);
  for (const v of ['block', 'jit1', 'wasm1'] as const) {
    const b = bootGuest('paging32', 'shadow', v, true);
    expect(b.end).toEqual(a.end);
    expect(b.m.mmu.countersByName()).toEqual(a.m.mmu.countersByName());
    expect(b.m.cpu.blocks!.built).toBe(0);
  }
  expect(a.m.mmu.countersByName()['access.fetch']).toBeGreaterThan(40_000);
});

// ---- hand-assembled guests (flat 32-bit code at CODE, paging off) ----

/** mov byte [addr], imm8 */
const movByte = (addr: number, v: number): number[] => [0xc6, 0x05, ...le32(addr), v];
/** call rel32 from the instruction at `at` to `to` */
const call = (at: number, to: number): number[] => [0xe8, ...le32(to - (at + 5))];
/** jnz rel8 from the instruction at `at` to `to` */
const jnz = (at: number, to: number): number[] => [0x75, (to - (at + 2)) & 0xff];
const NOP = 0x90, INC_EBX = 0x43, DEC_EBX = 0x4b, DEC_ECX = 0x49, HLT = 0xf4, RET = 0xc3;

interface FlatEnd {
  instructions: number;
  eip: number;
  flags: number;
  regs: number[];
  memory: string;
}

function flatEnd(m: Machine, instructions: number): FlatEnd {
  return { instructions, eip: m.cpu.eip, flags: m.cpu.getFlags(), regs: Array.from(m.cpu.reg32), memory: ramHash(m, 4 << 20) };
}

/**
 * Runs `code` (placed at CODE, with `extra` pieces elsewhere) to its HLT
 * under each engine, optionally again after `between` changed the machine,
 * and returns each engine's end states.
 */
function runFlat(engine: Variant, mode: ModeName, code: number[], extra: [number, number[]][] = [], between?: ((m: Machine) => void)[], prepare?: (m: Machine) => void): { ends: FlatEnd[]; m: Machine } {
  const m = setVariant(flatMachine({ mode, engine: engineOf(engine) }), engine);
  if (m.cpu.blocks) prepare?.(m);
  m.mmu.writePhysBytes(CODE, new Uint8Array(code));
  for (const [at, bytes] of extra) m.mmu.writePhysBytes(at, new Uint8Array(bytes));
  const ends = [flatEnd(m, runToHalt(m, 10_000_000).instructions)];
  for (const step of between ?? []) {
    step(m);
    m.cpu.halted = false;
    m.cpu.eip = CODE;
    ends.push(flatEnd(m, runToHalt(m, 10_000_000).instructions));
  }
  return { ends, m };
}

/**
 * The wasm engine's jump cache names only live blocks: every entry in use
 * holds the table index of a valid compiled block at its address (a
 * dropped block's entry is cleared, or the dispatcher would call a freed
 * or reused index).
 */
function expectJumpCacheLive(m: Machine): number {
  const rt = m.cpu.wasm!.runtime!;
  let used = 0;
  for (let i = 0; i < rt.jc.length; i += 3) {
    if (rt.jc[i] === -1) continue;
    used++;
    const w = rt.blocks[rt.jc[i + 1]!];
    expect(w?.block.valid, `jump cache entry ${i / 3}`).toBe(true);
    expect(w!.block.gpa | 0).toBe(rt.jc[i]);
    expect(w!.block.wasm).toBe(w);
    expect(rt.jc[i + 2]).toBe(w!.infos.length);
  }
  return used;
}

/** Jump-cache entries the self-modifying cases below left (checked live), over all of them. */
let jumpCacheEntries = 0;

describe.each(MODE_NAMES)('self-modifying code under %s translation', (mode) => {
  /** Runs under the interpreter and each other engine; returns the wasm1 run (every block compiled, to WebAssembly where it can be). */
  function both(code: number[], extra: [number, number[]][] = [], between?: ((m: Machine) => void)[]): { ends: FlatEnd[]; m: Machine } {
    const a = runFlat('interp', mode, code, extra, between);
    let last = a;
    for (const v of VARIANTS) {
      const b = runFlat(v, mode, code, extra, between);
      expect(b.ends, v).toEqual(a.ends);
      expect(b.m.cpu.blocks!.built).toBeGreaterThan(0);
      if (v === 'jit1' || v === 'wasm1') expect(b.m.cpu.blocks!.jitCompiled).toBeGreaterThan(0);
      if (v === 'wasm1') jumpCacheEntries += expectJumpCacheLive(b.m);
      last = b;
    }
    return last;
  }

  it('does a write into the running block change the next instruction?', () => {
    // mov ecx, 2; top: mov byte [patch], INC EBX; patch: nop; mov byte [patch], NOP; dec ecx; jnz top; hlt
    const patch = CODE + 12;
    const code = [0xb9, ...le32(2), ...movByte(patch, INC_EBX), NOP, ...movByte(patch, NOP), DEC_ECX, ...jnz(CODE + 21, CODE + 5), HLT];
    expect(code.length).toBe(24);
    const { ends, m } = both(code);
    expect(ends[0]!.regs[3]).toBe(2); // EBX: the patched instruction ran both times
    expect(m.cpu.blocks!.dropped).toBeGreaterThan(0);
  });

  it('does a write into another block of the running page change that block?', () => {
    // mov ecx, 3; top: call sub; mov byte [sub], INC EBX; dec ecx; jnz top; hlt. sub: nop; ret
    const sub = CODE + 0x40;
    const code = [0xb9, ...le32(3), ...call(CODE + 5, sub), ...movByte(sub, INC_EBX), DEC_ECX, ...jnz(CODE + 18, CODE + 5), HLT];
    const { ends } = both(code, [[sub, [NOP, RET]]]);
    expect(ends[0]!.regs[3]).toBe(2); // the first call ran the NOP, the next two INC EBX
  });

  it('does a write into another code page change the code there?', () => {
    const sub = CODE + 0x2000;
    const code = [0xb9, ...le32(3), ...call(CODE + 5, sub), ...movByte(sub, INC_EBX), DEC_ECX, ...jnz(CODE + 18, CODE + 5), HLT];
    const { ends, m } = both(code, [[sub, [NOP, RET]]]);
    expect(ends[0]!.regs[3]).toBe(2);
    expect(m.cpu.blocks!.dropped).toBeGreaterThan(0);
  });

  it('does a loop that keeps writing data on its own code page count right?', () => {
    // mov ecx, 0x10000; top: inc dword [counter]; dec ecx; jnz top; hlt (counter on the same page)
    const counter = CODE + 0x100;
    const code = [0xb9, ...le32(0x10000), 0xff, 0x05, ...le32(counter), DEC_ECX, ...jnz(CODE + 12, CODE + 5), HLT];
    const { m } = both(code);
    expect(m.mmu.readPhys(counter, 4)).toBe(0x10000);
  });

  it('do writes through Mmu.writePhys and writePhysBytes (a device) between runs change cached code?', () => {
    // mov ecx, 16; top: call sub; dec ecx; jnz top; hlt. sub (another page): nop; ret
    const sub = CODE + 0x3000;
    const code = [0xb9, ...le32(16), ...call(CODE + 5, sub), DEC_ECX, ...jnz(CODE + 11, CODE + 5), HLT];
    const { ends } = both(code, [[sub, [NOP, RET]]], [
      (m) => m.mmu.writePhys(sub, 1, INC_EBX),
      (m) => m.mmu.writePhysBytes(sub, new Uint8Array([DEC_EBX, RET])),
      (m) => m.mmu.writePhys(CODE + 1, 4, 3), // the loop count, in the running code's own block
    ]);
    expect(ends.map((e) => e.regs[3])).toEqual([0, 16, 0, -3]);
  });

  it('does a write by a compiled block into itself, while it runs, change its next instruction?', () => {
    // mov ecx, 40; top: mov edx, [table + 4*ecx]; mov byte [edx], INC EBX; patch: nop; dec ecx; jnz top; hlt.
    // table[k] is a data address, except table[10]: the patch byte, so iteration 10 (compiled by then) writes its own next instruction.
    const table = CODE + 0x1000, data = CODE + 0x2000;
    const patch = CODE + 5 + 7 + 3;
    const code = [0xb9, ...le32(40), 0x8b, 0x14, 0x8d, ...le32(table), 0xc6, 0x02, INC_EBX, NOP, DEC_ECX, ...jnz(CODE + 17, CODE + 5), HLT];
    const words: number[] = [];
    for (let k = 0; k <= 40; k++) words.push(...le32(k === 10 ? patch : data));
    const { ends, m } = both(code, [[table, words]]);
    expect(ends[0]!.regs[3]).toBe(10); // EBX: INC EBX ran from the write on (ECX 10 down to 1)
    expect(m.cpu.blocks!.jitDropped).toBeGreaterThan(0);
  });

  it('does a device write (Mmu.writePhys) between runs drop a compiled block?', () => {
    // mov ecx, 16; top: call sub; dec ecx; jnz top; hlt. sub (another page): mov eax, imm32; add ebx, eax; ret
    const sub = CODE + 0x3000;
    const code = [0xb9, ...le32(16), ...call(CODE + 5, sub), DEC_ECX, ...jnz(CODE + 11, CODE + 5), HLT];
    const { ends, m } = both(code, [[sub, [0xb8, ...le32(1), 0x01, 0xc3, RET]]], [
      (m) => m.mmu.writePhys(sub + 1, 4, 100), // the immediate of the compiled MOV
      (m) => m.mmu.writePhys(sub + 5, 1, 0x29), // ADD -> SUB
    ]);
    expect(ends.map((e) => e.regs[3])).toEqual([16, 16 + 1600, 16]);
    expect(m.cpu.blocks!.jitDropped).toBeGreaterThan(1);
  });
});

it('did the self-modifying cases leave live blocks in the wasm engine\'s jump cache (so that its check above was not vacuous)?', () => {
  expect(jumpCacheEntries).toBeGreaterThan(3);
});

it('when the cache is full (maxBlocks), is it emptied, and does the code run on as under the interpreter?', () => {
  // The default bound holds tens of thousands of blocks; a small one fills as surely.
  expect(flatMachine({ mode: 'naive', engine: 'block' }).cpu.blocks!.maxBlocks).toBe(MAX_BLOCKS);
  const max = 4096;
  // max + 2000 one-instruction blocks: JMP +0 (EB 00) ends each block, then INC EBX; HLT; run twice
  const n = max + 2000;
  const code = [0xbd, ...le32(2)]; // mov ebp, 2
  const top = CODE + code.length;
  for (let k = 0; k < n; k++) code.push(0xeb, 0x00);
  code.push(INC_EBX, 0x4d, 0x0f, 0x85, ...le32(top - (CODE + code.length + 8)), HLT); // inc ebx; dec ebp; jnz top (rel32); hlt
  const a = runFlat('interp', 'shadow', code);
  expect(a.ends[0]!.regs[3]).toBe(2);
  expect(a.ends[0]!.instructions).toBe(2 * n + 8); // mov; twice n jumps, inc, dec, jnz; hlt
  for (const v of ['block', 'jit1'] as const) {
    const b = runFlat(v, 'shadow', code, [], undefined, (m) => { m.cpu.blocks!.maxBlocks = max; });
    expect(b.ends).toEqual(a.ends);
    const cache = b.m.cpu.blocks!;
    expect(cache.flushes).toBeGreaterThan(0);
    expect(cache.size).toBeLessThanOrEqual(max);
    if (v === 'jit1') {
      // Emptying the cache dropped the compiled functions with their blocks.
      expect(cache.jitCompiled).toBeGreaterThan(max);
      expect(cache.jitLive).toBeLessThanOrEqual(cache.size);
      expect(cache.jitDropped).toBe(cache.jitCompiled - cache.jitLive);
    }
  }
});

describe.each(MODE_NAMES)('a fault inside a block under %s translation', (mode) => {
  it('does #DE in the middle of a block leave the interpreter\'s EIP, stack, registers and count?', () => {
    // mov eax, 1; mov ebx, 2; push eax; xor edx, edx; div edx; hlt
    const code = [0xb8, ...le32(1), 0xbb, ...le32(2), 0x50, 0x31, 0xd2, 0xf7, 0xf2, HLT];
    const ends = (['interp', 'block', 'jit1', 'wasm1'] as const).map((engine) => {
      const { ends: [end], m } = runFlat(engine, mode, code);
      return { ...end!, vector: haltedInStub(m), pushedEip: stackWord(m, 0), esp: m.cpu.reg32[4]! };
    });
    expect(ends[1]).toEqual(ends[0]);
    expect(ends[2]).toEqual(ends[0]);
    expect(ends[3]).toEqual(ends[0]);
    expect(ends[0]!.vector).toBe(0);
    expect(ends[0]!.pushedEip).toBe(CODE + 13);
  });

  it('does #DE in the middle of a compiled block leave the interpreter\'s EIP, stack, registers, flags and count?', () => {
    // mov ecx, 5; top: mov eax, 1; push eax; xor edx, edx; lea ebx, [ecx - 1]; add esi, ecx; div ebx; dec ecx; jnz top; hlt
    // (the fifth time round, EBX is 0: the compiled block faults at DIV, after a PUSH and flag-setting forms)
    const code = [0xb9, ...le32(5), 0xb8, ...le32(1), 0x50, 0x31, 0xd2, 0x8d, 0x59, 0xff, 0x01, 0xce, 0xf7, 0xf3, DEC_ECX, ...jnz(CODE + 21, CODE + 5), HLT];
    const ends = (['interp', 'block', 'jit1', 'wasm1'] as const).map((engine) => {
      const { ends: [end], m } = runFlat(engine, mode, code);
      return { ...end!, vector: haltedInStub(m), pushedEip: stackWord(m, 0), pushedFlags: stackWord(m, 8), esp: m.cpu.reg32[4]!, compiled: m.cpu.blocks?.jitCompiled ?? 0 };
    });
    expect(ends[1]).toEqual({ ...ends[0], compiled: 0 });
    expect(ends[2]).toEqual({ ...ends[0], compiled: ends[2]!.compiled });
    expect(ends[2]!.compiled).toBeGreaterThan(0);
    expect(ends[3]).toEqual({ ...ends[0], compiled: ends[3]!.compiled });
    expect(ends[3]!.compiled).toBeGreaterThan(0);
    expect(ends[0]!.vector).toBe(0);
    expect(ends[0]!.pushedEip).toBe(CODE + 18);
  });
});

describe.each(MODE_NAMES)('a page-table entry inside a code page under %s translation', (mode) => {
  it('does the accessed bit the page walk sets in a code byte change the instruction that holds it (SDM vol. 3A, 4.8, 11.6)?', () => {
    // The code frame CODE is also the page table of linear 0-4 MiB: entry k
    // (at CODE + 4k) maps linear page k. The code starts at CODE + 0x800,
    // where entries 0x200.. live (linear 0x200000..). `lea eax, [disp32]`'s
    // displacement is the entry of linear page DATA, clear A bit: reading DATA
    // makes the walk set A (0x20) in that immediate, and the LEA that runs
    // next must load the new value, under either engine. The immediate is
    // LEA's displacement, which a decoded instruction keeps.
    const PD = 0x20000;
    const start = CODE + 0x800;
    const pteAt = start + 0x40; // 4-aligned: entry 0x210, linear page 0x210000
    const DATA = 0x210000;
    const leaAt = pteAt - 2;
    const m0 = { interp: null as Machine | null, block: null as Machine | null, jit1: null as Machine | null, wasm1: null as Machine | null };
    const ends = (['interp', 'block', 'jit1', 'wasm1'] as const).map((engine) => {
      const m = setVariant(flatMachine({ mode, engine: engineOf(engine) }), engine);
      const mmu = m.mmu;
      const ident = (page: number): number => (page << 12) | 0x63; // P, RW, A, D
      for (const page of [0, 1, 2, (STACK >>> 12) - 1, CODE >>> 12]) mmu.writePhys(CODE + 4 * page, 4, ident(page));
      mmu.writePhys(PD, 4, CODE | 0x23); // PDE 0 -> the code frame as a table; P, RW, A
      mmu.writePhys(0x300000, 4, 0x12345678);
      const code: number[] = [
        0xb8, ...le32(PD), 0x0f, 0x22, 0xd8, // mov eax, PD; mov cr3, eax
        0x0f, 0x20, 0xc0, 0x0d, ...le32(0x80000000), 0x0f, 0x22, 0xc0, // mov eax, cr0; or eax, PG; mov cr0, eax
        0xeb, 0x00, // jmp +0: a new block after paging is on
      ];
      const loop = start + code.length;
      code.push(0x8b, 0x1d, ...le32(DATA)); // mov ebx, [DATA]: the walk sets A in the entry below
      while (start + code.length < leaAt) code.push(NOP);
      code.push(0x8d, 0x05, ...le32(0x300003)); // lea eax, [disp32 = the entry of DATA: frame 0x300000, P, RW, A clear]
      code.push(0x0f, 0x01, 0x3d, ...le32(DATA)); // invlpg [DATA]
      code.push(0x80, 0x25, ...le32(pteAt), 0xdf); // and byte [pteAt], ~A
      code.push(0x41, 0x83, 0xf9, 0x03); // inc ecx; cmp ecx, 3
      code.push(0x0f, 0x85, ...le32(loop - (start + code.length + 6))); // jnz loop
      code.push(HLT);
      expect(mmu.readPhys(pteAt, 4)).toBe(0);
      mmu.writePhysBytes(start, new Uint8Array(code));
      m.cpu.eip = start;
      m0[engine] = m;
      return flatEnd(m, runToHalt(m, 10_000).instructions);
    });
    expect(ends[1]).toEqual(ends[0]);
    expect(ends[2]).toEqual(ends[0]);
    expect(ends[3]).toEqual(ends[0]);
    expect(ends[0]!.regs[0]).toBe(0x300023); // EAX: the displacement with A set by the walk
    expect(ends[0]!.regs[3]).toBe(0x12345678); // EBX: DATA read through that entry
    expect(m0.block!.cpu.blocks!.built).toBeGreaterThan(0);
    expect(m0.jit1!.cpu.blocks!.jitCompiled).toBeGreaterThan(0);
    expect(m0.wasm1!.cpu.blocks!.wasmCompiled).toBeGreaterThan(0);
  });
});

describe.each(MODE_NAMES)('a group 1 immediate that is a page-table entry, under %s translation', (mode) => {
  it('does CMP Ev,Ib compare with the immediate as the page walk of its own read left it (fetched after the read)?', () => {
    // As above, the code frame is also the page table of linear 0-4 MiB.
    // `cmp dword [esi], 3` ends with its imm8 at the low byte of the entry of
    // linear page DATA (P, RW, A clear; the next instruction's bytes are the
    // entry's frame). The handler reads [esi] and then fetches the immediate:
    // when that read walks to DATA, the walk sets A (0x20) in the immediate,
    // and the CMP compares with 0x23. The first time round ESI points
    // elsewhere, so the jit has compiled the loop before the walk happens.
    const PD = 0x20000;
    const start = CODE + 0x800;
    const pteAt = start + 0x40;
    const DATA = 0x210000;
    const FRAME = 0x408000; // the entry's frame: bytes 8D 40 00 after the imm8 (lea eax, [eax+0])
    const OTHER = 0x1000;
    const ends = (['interp', 'block', 'jit1', 'wasm1'] as const).map((engine) => {
      const m = setVariant(flatMachine({ mode, engine: engineOf(engine) }), engine);
      const mmu = m.mmu;
      const ident = (page: number): number => (page << 12) | 0x63;
      for (const page of [0, 1, 2, (STACK >>> 12) - 1, CODE >>> 12]) mmu.writePhys(CODE + 4 * page, 4, ident(page));
      mmu.writePhys(PD, 4, CODE | 0x23);
      mmu.writePhys(FRAME, 4, 0x23);
      const code: number[] = [
        0xb8, ...le32(PD), 0x0f, 0x22, 0xd8,
        0x0f, 0x20, 0xc0, 0x0d, ...le32(0x80000000), 0x0f, 0x22, 0xc0,
        0xeb, 0x00,
        0xbe, ...le32(OTHER), // mov esi, OTHER
        0xbd, ...le32(2), // mov ebp, 2
      ];
      const loop = start + code.length;
      while (start + code.length < pteAt - 2) code.push(NOP);
      code.push(0x83, 0x3e, 0x03); // cmp dword [esi], 3: the imm8 is the entry's low byte
      code.push(0x8d, 0x40, 0x00); // lea eax, [eax+0]: the entry's frame bits (0x408000)
      code.push(0x0f, 0x94, 0xc3, 0x01, 0xdf); // setz bl; add edi, ebx
      code.push(0xbe, ...le32(DATA), 0x4d); // mov esi, DATA; dec ebp
      code.push(0x0f, 0x85, ...le32(loop - (start + code.length + 6))); // jnz loop
      code.push(HLT);
      mmu.writePhysBytes(start, new Uint8Array(code));
      expect(mmu.readPhys(pteAt, 4)).toBe(0x00408d03);
      m.cpu.eip = start;
      return { ...flatEnd(m, runToHalt(m, 10_000).instructions), compiled: m.cpu.blocks?.jitCompiled ?? 0, wasm: m.cpu.blocks?.wasmCompiled ?? 0 };
    });
    expect(ends[1]).toEqual(ends[0]);
    expect(ends[2]).toEqual({ ...ends[0], compiled: ends[2]!.compiled });
    expect(ends[2]!.compiled).toBeGreaterThan(0);
    expect(ends[3]).toEqual({ ...ends[0], compiled: ends[3]!.compiled, wasm: ends[3]!.wasm });
    // the loop with the CMP ran as WebAssembly
    expect(ends[3]!.wasm).toBeGreaterThan(0);
    expect(ends[0]!.regs[7]).toBe(1); // EDI: the second CMP saw 0x23 (A set by its own read's walk)
  });
});
