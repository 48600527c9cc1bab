/**
 * The wasm engine's forms at their edges, deterministically: each program
 * runs one form over a table of operands and counts (the values where
 * carries, signs and overflows turn, the counts 0, 1, the operand size and
 * past it), and after every instance stores the result, the whole of
 * EFLAGS (PUSHFD, a handler called from WebAssembly, so the flags of the
 * form are written out exactly) and a condition or two read straight from
 * the form's flags (SETcc into memory). Every program runs three times, so
 * that its last pass is WebAssembly; it must end exactly as under the
 * interpreter, and every block of it must have been WebAssembly, not
 * JavaScript. jit-fuzz.test.ts samples the same forms at random; this
 * test does not depend on its luck.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CODE, flatMachine, le32, runToHalt, STUBS } from './flat-machine.js';

/** Where the results go (paging is off: physical = linear), EBX while the program runs. */
const RES = 0x300000;
/** Where the forms' memory operands are, past every test's results (RES + SLOT * instances). */
const SCRATCH = 0x40000;
/** Bytes of results per instance: the result, EFLAGS, up to eight SETcc bytes. */
const SLOT = 16;

/** [ebx + disp32] with `reg` in the ModRM reg field. */
const atEbx = (reg: number, disp: number): number[] => [0x83 | (reg << 3), ...le32(disp)];

/** After instance k: the result register stored, EFLAGS, then SETcc of conditions `ccs` (from the ninth byte). */
function record(k: number, result: number[], ccs: number[]): number[] {
  const out = [...result.slice(0, -1), ...atEbx(result[result.length - 1]!, k * SLOT)];
  ccs.forEach((cc, i) => out.push(0x0f, 0x90 + cc, ...atEbx(0, k * SLOT + 8 + i)));
  // pushfd; pop edx; mov [ebx + k*SLOT + 4], edx
  out.push(0x9c, 0x5a, 0x89, ...atEbx(2, k * SLOT + 4));
  return out;
}

/** mov r32, imm32 */
const movImm = (r: number, v: number): number[] => [0xb8 + r, ...le32(v)];

/** The program: EBX = RES, the body three times (a loop on EBP: the blocks are compiled after their first run or two), then CLI; HLT. */
function program(body: number[]): number[] {
  const head = [0xbb, ...le32(RES), 0xbd, ...le32(3)];
  // dec ebp; jnz rel32 (back to the body's start)
  const tail = [0x4d, 0x0f, 0x85, ...le32(-(body.length + 7))];
  return [...head, ...body, ...tail, 0xfa, 0xf4];
}

interface End { regs: number[]; flags: number; results: string; wasm: number; compiled: number }

function run(engine: 'interp' | 'wasm', code: number[], bytes: number): End {
  const m = flatMachine({ mode: 'shadow', engine, nsPerInstruction: 1 });
  if (engine === 'wasm') {
    m.cpu.blocks!.jitThreshold = 1;
    m.cpu.blocks!.wasmBatch = 1;
  }
  m.mmu.writePhysBytes(CODE, new Uint8Array(code));
  const end = runToHalt(m, 1_000_000);
  expect(end.instructions).toBeGreaterThan(0);
  return {
    regs: Array.from(m.cpu.reg32, (v) => v >>> 0), flags: m.cpu.getFlags(),
    // the results and every scratch word the forms write
    results: createHash('sha256').update(m.mmu.readPhysBytes(RES, SCRATCH + 0x100)).digest('hex'),
    wasm: m.cpu.blocks?.wasmCompiled ?? 0, compiled: m.cpu.blocks?.jitCompiled ?? 0,
  };
}

/** Runs `instances` (each: its setup and form, the record appended here) under both engines and compares. */
function check(instances: { code: number[]; result: number[]; ccs: number[] }[]): void {
  expect(instances.length * SLOT).toBeLessThanOrEqual(SCRATCH);
  const body: number[] = [];
  instances.forEach((x, k) => body.push(...x.code, ...record(k, x.result, x.ccs)));
  const code = program(body);
  const bytes = instances.length * SLOT;
  const ref = run('interp', code, bytes);
  const w = run('wasm', code, bytes);
  expect(w.results).toBe(ref.results);
  expect(w.regs).toEqual(ref.regs);
  expect(w.flags).toBe(ref.flags);
  // every block compiled was WebAssembly (none left to JavaScript for want of a form)
  expect(w.wasm).toBeGreaterThan(0);
  expect(w.compiled).toBe(w.wasm);
}

const VALUES = [0, 1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0x80000001, 0xc0000000, 0xfffffffe, 0xffffffff];
const COUNTS = [0, 1, 2, 7, 8, 15, 16, 17, 30, 31, 32, 33, 255];
/** O, NO, B, AE, E, S, L, LE: what CF, OF, ZF and SF decide */
const CCS = [0, 1, 2, 3, 4, 8, 12, 14];

describe('the wasm engine\'s forms at their edges, against the interpreter', () => {
  it.each([[4, 'SHL'], [5, 'SHR'], [7, 'SAR'], [6, 'SAL']])('does %s r32, CL (group 2 /%i) end as under the interpreter for every edge value and count, the count 0 included?', (o) => {
    const xs = [];
    for (const v of VALUES) {
      for (const n of COUNTS) {
        // mov eax, v; mov cl, n; the flags set by a compare first, so that a count of 0 must leave them as they were
        xs.push({ code: [...movImm(0, v), 0xb1, n, 0x39, 0xc0 | (0 << 3) | 1, 0xd3, 0xc0 | (o << 3)], result: [0x89, 0], ccs: CCS.slice(0, 4) });
      }
    }
    check(xs);
  });

  it.each([[4, 'SHL'], [5, 'SHR'], [7, 'SAR']])('does %s r16 by a constant and by 1 (66 C1/D1 /%i) end as under the interpreter for every edge value and count?', (o) => {
    const xs = [];
    for (const v of VALUES) {
      for (const n of COUNTS) {
        const shift = n === 1 ? [0x66, 0xd1, 0xc0 | (o << 3) | 2] : [0x66, 0xc1, 0xc0 | (o << 3) | 2, n];
        xs.push({ code: [...movImm(2, v), ...movImm(0, 0x12345678), 0x39, 0xc0, ...shift, 0x89, 0xd0], result: [0x89, 0], ccs: CCS.slice(0, 6) });
      }
    }
    check(xs);
  });

  it('does IMUL (0F AF, 6B, 69; register and memory) end as under the interpreter for every pair of edge values?', () => {
    const xs = [];
    const imms = [0, 1, 2, -1, 0x7f, -0x80, 3];
    for (const a of VALUES) {
      for (const b of VALUES) {
        // imul eax, edx
        xs.push({ code: [...movImm(0, a), ...movImm(2, b), 0x0f, 0xaf, 0xc2], result: [0x89, 0], ccs: CCS });
      }
      // imul eax, [ebx + SCRATCH] (b stored there first), imul ecx, eax, Ib / Iz
      xs.push({ code: [...movImm(2, 0x7fffffff), 0x89, ...atEbx(2, SCRATCH), ...movImm(0, a), 0x0f, 0xaf, ...atEbx(0, SCRATCH)], result: [0x89, 0], ccs: CCS });
      for (const i of imms) {
        xs.push({ code: [...movImm(0, a), 0x6b, 0xc8, i & 0xff], result: [0x89, 1], ccs: CCS });
        xs.push({ code: [...movImm(0, a), 0x69, 0xc8, ...le32(i * 0x10001)], result: [0x89, 1], ccs: CCS });
      }
      xs.push({ code: [...movImm(2, a), 0x89, ...atEbx(2, SCRATCH + 4), 0x6b, 0x8b, ...le32(SCRATCH + 4), 0x81], result: [0x89, 1], ccs: CCS });
    }
    check(xs);
  });

  it('do ADC and SBB (register, memory, immediate and accumulator forms, 32 and 8 bits) end as under the interpreter for every pair of edge values and carry in?', () => {
    const xs = [];
    // the carry in: from ADD (a lazy record), from a shift (EFLAGS bits) or kept by INC
    const carries = [
      [...movImm(1, 0x80000000), 0x01, 0xc9], [...movImm(1, 1), 0x01, 0xc9], // add ecx, ecx: CF 1, 0
      [...movImm(1, 3), 0xd1, 0xe9], [...movImm(1, 2), 0xd1, 0xe9], // shr ecx, 1: CF 1, 0
      [...movImm(1, 0xffffffff), 0x83, 0xc1, 0x01, 0x41], // add ecx, 1; inc ecx: CF 1 kept
    ];
    for (const a of VALUES) {
      for (const b of [0, 1, 0x7f, 0x80, 0xff, 0x7fffffff, 0x80000000, 0xffffffff]) {
        for (const cin of carries) {
          for (const op of [0x11, 0x19, 0x10, 0x18]) {
            // adc/sbb eax, edx and al, dl
            xs.push({ code: [...movImm(0, a), ...movImm(2, b), ...cin, op, 0xd0], result: [0x89, 0], ccs: CCS });
          }
        }
        xs.push({ code: [...movImm(0, a), ...carries[0]!, 0x83, 0xd0, b & 0xff], result: [0x89, 0], ccs: CCS }); // adc eax, Ib
        xs.push({ code: [...movImm(0, a), ...carries[2]!, 0x81, 0xd8, ...le32(b)], result: [0x89, 0], ccs: CCS }); // sbb eax, Iz
        xs.push({ code: [...movImm(0, a), ...carries[0]!, 0x15, ...le32(b)], result: [0x89, 0], ccs: CCS }); // adc eax, Iz
        xs.push({ code: [...movImm(0, a), ...carries[2]!, 0x1c, b & 0xff], result: [0x89, 0], ccs: CCS }); // sbb al, Ib
        // adc [ebx + SCRATCH + 0x10], edx; sbb edx, [ebx + SCRATCH + 0x10]
        xs.push({ code: [...movImm(2, b), ...movImm(0, a), 0x89, ...atEbx(0, SCRATCH + 0x10), ...carries[0]!, 0x11, ...atEbx(2, SCRATCH + 0x10), ...carries[3]!, 0x1b, ...atEbx(2, SCRATCH + 0x10)], result: [0x89, 2], ccs: CCS });
      }
    }
    check(xs);
  });

  it('do the 16-bit moves (66 89, 8B, C7; register and memory, across a page end too) end as under the interpreter?', () => {
    const xs = [];
    for (const v of VALUES) {
      // mov dx, ax; mov [ebx + SCRATCH + 0x20], dx; mov cx, [ebx + SCRATCH + 0x20]; mov word [ebx + 0xffff], imm16 (across RES + 0x10000)
      xs.push({ code: [...movImm(0, v), ...movImm(2, 0xdeadbeef), 0x66, 0x89, 0xc2, 0x66, 0x89, ...atEbx(2, SCRATCH + 0x20), ...movImm(1, 0xcafef00d), 0x66, 0x8b, ...atEbx(1, SCRATCH + 0x20)], result: [0x89, 1], ccs: [] });
      xs.push({ code: [0x66, 0xc7, ...atEbx(0, 0xffff), v & 0xff, (v >>> 8) & 0xff, 0x66, 0x8b, ...atEbx(1, 0xffff), 0x66, 0xc7, 0xc0 | 2, (v >>> 3) & 0xff, 0x5a], result: [0x89, 1], ccs: [] });
      xs.push({ code: [...movImm(2, v), 0x66, 0x89, ...atEbx(2, 0xfff), 0x66, 0x8b, ...atEbx(0, 0xffe), 0x66, 0x8b, 0xca], result: [0x89, 0], ccs: [] });
    }
    check(xs);
  });
});

/**
 * A loop whose body is two blocks on two pages, which the wasm engine's
 * dispatcher chains across the page end (and back) without returning to
 * JavaScript, while the code remaps the second page: first from the
 * second page itself, its page-table entry rewritten with no INVLPG (the
 * TLB may keep the old translation, and every engine must keep or drop it
 * as the interpreter does), later an INVLPG of it from the first page,
 * after which the next pass must run the new frame: the chain must take a
 * page's translation from the software TLB as the interpreter's refill
 * does, never a guest-physical address the TLB no longer holds. The two
 * frames the page can map hold the same code with different immediates,
 * so which one ran shows in the sums. Every mode, interpreter against
 * wasm.
 */
describe.each(['naive', 'shadow', 'slat'] as const)('blocks chained across pages while the code remaps its pages, under %s translation', (mode) => {
  it('does the wasm engine run the frames the interpreter runs, pass for pass?', () => {
    const PD = 0x20000, PT0 = 0x21000, PT1 = 0x22000, P1 = 0x400000, P2 = 0x401000;
    const F1 = 0x500000, FA = 0x501000, FB = 0x502000, OUT = 0x200000;
    const pte2 = PT1 + 4;
    // the second page: add edi, imm; cmp ebp, 40; jne +16; mov [pte2], FB|3; add edi, imm2; jmp back
    const page2 = (imm: number, imm2: number, back: number): number[] => {
      const c = [0x81, 0xc7, ...le32(imm), 0x81, 0xfd, ...le32(40), 0x75, 16, 0xc7, 0x05, ...le32(pte2), ...le32(FB | 3), 0x81, 0xc7, ...le32(imm2)];
      return [...c, 0xe9, ...le32(back - (P2 + c.length + 5))];
    };
    // the first page: top: add esi, 1; cmp ebp, 20; jne L; invlpg [P2]; L: jmp P2; back: dec ebp; jnz top; the sums out; cli; hlt
    const p1 = [0x83, 0xc6, 0x01, 0x81, 0xfd, ...le32(20), 0x75, 7, 0x0f, 0x01, 0x3d, ...le32(P2)];
    p1.push(0xe9, ...le32(P2 - (P1 + p1.length + 5)));
    const back = P1 + p1.length;
    p1.push(0x4d, 0x0f, 0x85, ...le32(-(p1.length + 7)));
    p1.push(0x89, 0x35, ...le32(OUT), 0x89, 0x3d, ...le32(OUT + 4), 0xfa, 0xf4);
    // at CODE: paging on (CR3, then CR0.PG and WP), EBP = 60 passes, the sums zero, to P1
    const boot = [0xb8, ...le32(PD), 0x0f, 0x22, 0xd8, 0x0f, 0x20, 0xc0, 0x0d, ...le32(0x80010000), 0x0f, 0x22, 0xc0,
      0xbd, ...le32(60), 0x31, 0xf6, 0x31, 0xff, 0xb8, ...le32(P1), 0xff, 0xe0];
    const go = (engine: 'interp' | 'wasm'): { regs: number[]; out: number[]; wasm: number } => {
      const m = flatMachine({ mode, engine, nsPerInstruction: 1 });
      if (engine === 'wasm') {
        m.cpu.blocks!.jitThreshold = 1;
        m.cpu.blocks!.wasmBatch = 1;
      }
      const mmu = m.mmu;
      mmu.writePhys(PD, 4, PT0 | 3);
      mmu.writePhys(PD + 4, 4, PT1 | 3);
      for (let i = 0; i < 1024; i++) mmu.writePhys(PT0 + 4 * i, 4, (i << 12) | 3);
      mmu.writePhys(PT1, 4, F1 | 3);
      mmu.writePhys(pte2, 4, FA | 3);
      mmu.writePhysBytes(CODE, new Uint8Array(boot));
      mmu.writePhysBytes(F1, new Uint8Array(p1));
      mmu.writePhysBytes(FA, new Uint8Array(page2(1, 7, back)));
      mmu.writePhysBytes(FB, new Uint8Array(page2(1000, 70000, back)));
      runToHalt(m, 100_000);
      return { regs: Array.from(m.cpu.reg32, (v) => v >>> 0), out: [mmu.readPhys(OUT, 4), mmu.readPhys(OUT + 4, 4)], wasm: m.cpu.blocks?.wasmCompiled ?? 0 };
    };
    const ref = go('interp');
    const w = go('wasm');
    expect(w.out).toEqual(ref.out);
    expect(w.regs).toEqual(ref.regs);
    expect(ref.out[0]).toBe(60);
    // FA for 40 passes (its 7 in the pass that remapped), FB after the INVLPG
    expect(ref.out[1]).toBe(40 + 7 + 20 * 1000);
    expect(w.wasm).toBeGreaterThan(0);
  });
});

/**
 * POPF (a handler called from compiled code) setting TF in a block that
 * runs hot under every engine: the single-step trap (#DB, SDM vol. 3A,
 * 17.3.1.4) must come after the instruction that follows it, as under the
 * interpreter, however the block was compiled and whatever chain it ran
 * in. TF is set in one pass of fifty, computed without a branch, so the
 * POPF is inside the one compiled loop block.
 */
describe('a POPF that sets TF inside a compiled block', () => {
  it('does every engine take the single-step trap where the interpreter does?', () => {
    const body = [0x83, 0xc6, 0x01, // add esi, 1
      0x9c, 0x58, // pushfd; pop eax
      // ecx = ebp == 20 ? TF : 0: mov ecx, ebp; sub ecx, 20; neg ecx; sbb ecx, ecx; not ecx; and ecx, 0x100
      0x89, 0xe9, 0x83, 0xe9, 20, 0xf7, 0xd9, 0x19, 0xc9, 0xf7, 0xd1, 0x81, 0xe1, ...le32(0x100),
      0x09, 0xc8, 0x50, 0x9d, // or eax, ecx; push eax; popfd
      0x83, 0xc7, 0x05, // add edi, 5: runs, then #DB
      0x83, 0xc7, 0x01, // add edi, 1
      0x4d]; // dec ebp
    const code = [0xbd, ...le32(50), 0x31, 0xf6, 0x31, 0xff, ...body, 0x0f, 0x85, ...le32(-(body.length + 6)), 0xfa, 0xf4];
    const go = (engine: 'interp' | 'block' | 'jit' | 'wasm'): { regs: number[]; eip: number; instructions: number; compiled: number } => {
      const m = flatMachine({ mode: 'shadow', engine, nsPerInstruction: 1 });
      if (engine !== 'interp') m.cpu.blocks!.jitThreshold = 1;
      if (engine === 'wasm') m.cpu.blocks!.wasmBatch = 1;
      m.mmu.writePhysBytes(CODE, new Uint8Array(code));
      const end = runToHalt(m, 100_000);
      return { regs: Array.from(m.cpu.reg32, (v) => v >>> 0), eip: m.cpu.eip >>> 0, instructions: end.instructions, compiled: engine === 'wasm' ? m.cpu.blocks!.wasmCompiled : engine === 'jit' ? m.cpu.blocks!.jitCompiled : 0 };
    };
    const ref = go('interp');
    // the trap came in pass 20 (ESI 31), after ADD EDI, 5, into vector 1's stub (mov al, 1; hlt)
    expect(ref.regs[6]).toBe(31);
    expect(ref.regs[0]! & 0xff).toBe(1);
    expect(ref.eip).toBe(STUBS + 4 + 3);
    for (const e of ['block', 'jit', 'wasm'] as const) {
      const got = go(e);
      expect({ ...got, compiled: 0 }, e).toEqual({ ...ref, compiled: 0 });
      if (e !== 'block') expect(got.compiled, e).toBeGreaterThan(0);
    }
  });
});
