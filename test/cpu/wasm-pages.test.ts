/**
 * The wasm engine's page functions (wasm/compile.ts, pageFunction): the
 * compiled blocks of one guest page in one WebAssembly function, where a
 * block that ends cleanly continues at another block of the page without
 * returning to the dispatcher. A loop of several blocks on one page
 * (Jcc forward and back, JMP, CALL to a subroutine on the page and its
 * RET, a fall-through after a handler) runs hot under the PIT's
 * interrupts, whose handler folds the interrupted EIP and the loop counter
 * into a sum (so a block run past the slice's end shows), waits for a tick
 * with STI; HLT inside the loop (a handler that ends its block: the block
 * after it must not run before the tick), and, in one variant, rewrites an
 * immediate of one of the page's blocks every eighth pass (the page's
 * blocks dropped and compiled again). It must end exactly as under the
 * interpreter (registers, the sum, the instruction count), and the branches
 * inside page functions must have been taken.
 */
import { describe, expect, it } from 'vitest';
import { CODE, flatMachine, IDT, le32, runToHalt } from './flat-machine.js';
import { PAGE_LINKS, WasmRuntime } from '../../src/cpu/wasm/compile.js';
import { SL_LINKS } from '../../src/cpu/wasm/state.js';

const OUT = 0x200000, ACC = OUT + 8, TICKS = OUT + 12;
const TIMER_VECTOR = 0x20, TIMER_HANDLER = 0x3000;
/** push eax; mov eax, [esp+4] (EIP); add eax, ebp; add [ACC], eax; rol dword [ACC], 5; inc dword [TICKS]; mov al, 0x20; out 0x20, al (EOI); pop eax; iret */
const HANDLER = [0x50, 0x8b, 0x44, 0x24, 0x04, 0x01, 0xe8, 0x01, 0x05, ...le32(ACC), 0xc1, 0x05, ...le32(ACC), 5,
  0xff, 0x05, ...le32(TICKS), 0xb0, 0x20, 0xe6, 0x20, 0x58, 0xcf];
const outb = (port: number, v: number): number[] => [0xb0, v, 0xe6, port];

/** Code with labels: bytes, a label, or an instruction (its opcode bytes) with a rel32 to a label. */
type Item = number[] | string | { op: number[]; to: string };

function assemble(base: number, items: Item[]): { code: number[]; at: Record<string, number> } {
  const at: Record<string, number> = {};
  let n = base;
  for (const x of items) {
    if (typeof x === 'string') at[x] = n;
    else if (Array.isArray(x)) n += x.length;
    else n += x.op.length + 4;
  }
  const code: number[] = [];
  for (const x of items) {
    if (typeof x === 'string') continue;
    if (Array.isArray(x)) { code.push(...x); continue; }
    code.push(...x.op);
    code.push(...le32(at[x.to]! - (base + code.length + 4)));
  }
  return { code, at };
}

/** The loop; with `smc`, every eighth pass writes ESI into the immediate of the ADD at `imm` (a block of the same page). */
function program(smc: boolean, passes: number, reload: number): number[] {
  const items: Item[] = [
    // the PIC: ICW1-4 (vectors from 0x20), only IRQ 0 unmasked; the PIT's counter 0 in mode 2
    [...outb(0x20, 0x11), ...outb(0x21, TIMER_VECTOR), ...outb(0x21, 4), ...outb(0x21, 1), ...outb(0x21, 0xfe)],
    [...outb(0x43, 0x34), ...outb(0x40, reload), ...outb(0x40, 0)],
    [0xbd, ...le32(passes), 0x31, 0xf6, 0x31, 0xff, 0xfb], // mov ebp, passes; xor esi, esi; xor edi, edi; sti
    'top',
    [0x83, 0xc6, 0x03, 0xf7, 0xc5, ...le32(1)], // add esi, 3; test ebp, 1
    { op: [0x0f, 0x84], to: 'c' }, // jz c
    [0x8d, 0x7c, 0x77, 0x05, 0x6b, 0xff, 0x07], // lea edi, [edi + esi*2 + 5]; imul edi, edi, 7
    { op: [0xe9], to: 'c' }, // jmp c
    'c',
    [0x31, 0xef, 0x81, 0xc7], // xor edi, ebp; add edi, imm32
    'imm',
    [...le32(0x11111111)],
    { op: [0xe8], to: 'sub' }, // call sub
    [0x01, 0xfe, 0xf7, 0xc5, ...le32(15)], // add esi, edi; test ebp, 15
    { op: [0x0f, 0x85], to: 'f' }, // jnz f: every sixteenth pass waits for a tick
    [0xfb, 0xf4], // sti; hlt: a tick
    [0x83, 0xc7, 0x09], // add edi, 9 (after the tick)
    'f',
  ];
  if (smc) {
    items.push([0xf7, 0xc5, ...le32(7)]); // test ebp, 7
    items.push({ op: [0x0f, 0x85], to: 'g' }); // jnz g
    items.push([0x89, 0x35, 0, 0, 0, 0]); // mov [imm], esi (the address patched below)
    items.push('g');
  }
  items.push([0x4d], { op: [0x0f, 0x85], to: 'top' }); // dec ebp; jnz top
  items.push([0x89, 0x35, ...le32(OUT), 0x89, 0x3d, ...le32(OUT + 4), 0xfa, 0xf4]); // the sums out; cli; hlt
  items.push('sub', [0x81, 0xc7, ...le32(0x01234567), 0xd1, 0xef, 0xc3]); // sub: add edi, imm; shr edi, 1; ret
  const { code, at } = assemble(CODE, items);
  if (smc) {
    // the MOV's address: 6 bytes before g
    const mov = at.g! - CODE - 6;
    code.splice(mov + 2, 4, ...le32(at.imm!));
  }
  expect(code.length).toBeLessThan(0x1000);
  return code;
}

interface End { regs: number[]; eip: number; out: number[]; instructions: number; links: number; wasm: number }

function run(engine: 'interp' | 'wasm', code: number[], pageFunctions = true): End {
  const m = flatMachine({ mode: 'shadow', engine, nsPerInstruction: 100 });
  if (engine === 'wasm') m.cpu.blocks!.jitThreshold = 1;
  const mmu = m.mmu;
  mmu.writePhys(IDT + TIMER_VECTOR * 8, 4, (0x08 << 16) | (TIMER_HANDLER & 0xffff));
  mmu.writePhys(IDT + TIMER_VECTOR * 8 + 4, 4, (TIMER_HANDLER & 0xffff0000) | 0x8e00);
  m.cpu.idtLimit = (TIMER_VECTOR + 1) * 8 - 1;
  mmu.writePhysBytes(TIMER_HANDLER, new Uint8Array(HANDLER));
  mmu.writePhysBytes(CODE, new Uint8Array(code));
  let links = 0;
  if (engine === 'wasm') {
    // the runtime made here (else with the first block generated), to turn page functions off to compare
    const st = m.cpu.wasm!;
    st.runtime = new WasmRuntime(mmu, st.memory!, st.pages);
    st.runtime.pageFunctions = pageFunctions;
  }
  const end = runToHalt(m, 2_000_000);
  if (engine === 'wasm') links = m.cpu.wasm!.runtime!.S[SL_LINKS]!;
  return {
    regs: Array.from(m.cpu.reg32, (v) => v >>> 0), eip: m.cpu.eip >>> 0,
    out: [0, 4, 8, 12].map((o) => mmu.readPhys(OUT + o, 4)), instructions: m.cpu.totalInstructions, links,
    wasm: m.cpu.blocks?.wasmCompiled ?? 0,
  };
}

describe('page functions: the blocks of one page in one WebAssembly function', () => {
  it.each([[false, 3], [false, 5], [false, 7], [false, 11], [true, 3], [true, 7], [true, 13]])('with smc %s and a PIT reload of %i, does the loop end as under the interpreter, its blocks branching to each other inside page functions?', (smc, reload) => {
    PAGE_LINKS.count = true;
    try {
      const code = program(smc, 400, reload);
      const ref = run('interp', code);
      const w = run('wasm', code);
      expect({ ...w, links: 0, wasm: 0 }).toEqual({ ...ref, links: 0, wasm: 0 });
      // ticks came, and the loop ran compiled, its blocks branching inside their page function
      expect(ref.out[3]).toBeGreaterThan(30);
      expect(w.wasm).toBeGreaterThan(0);
      expect(w.links).toBeGreaterThan(smc ? 20 : 300);
      // and the same without page functions (the dispatcher chains every block)
      const d = run('wasm', code, false);
      expect({ ...d, links: 0, wasm: 0 }).toEqual({ ...ref, links: 0, wasm: 0 });
    } finally {
      PAGE_LINKS.count = false;
    }
  });
});
