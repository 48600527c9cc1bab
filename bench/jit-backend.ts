/**
 * `npm run build && node dist/bench/jit-backend.js`: what a compiled block
 * would cost in another backend. The jit (src/cpu/jit.ts) generates
 * JavaScript, and V8's optimizing compiler spends about 1 ms of CPU per
 * guest instruction on it (docs/bench.md, "What V8's compiling costs").
 * This times the same shape of block compiled as WebAssembly, and runs both:
 * K instructions each of a register load, an address computation, the
 * software-TLB hit check (tag compare, host address from the entry), a
 * memory load and a register store, with a call to a slow path on a miss.
 * It is a model of the code's shape, not vmmu's translator: it answers
 * "how much would compiling and running cost", not "is it right".
 *
 * Also the same block as asm.js, the route from generated JavaScript
 * source to V8's WebAssembly compilers, one module a block and 50 blocks a
 * module; and WebAssembly modules of 1, 32, 128 and 512 blocks, each module's bytes
 * distinct (the wasm engine's batches, src/cpu/wasm/compile.ts).
 *
 * Prints per block: the WebAssembly compile time (V8's baseline compiler,
 * on a function's first call; with `node --no-liftoff
 * --no-wasm-lazy-compilation dist/bench/jit-backend.js --compile-only`, its
 * optimizing compiler, eagerly), and the time to run a hot block in each
 * backend, the WebAssembly one called from JavaScript (what a loop like
 * Cpu.runCompiled would pay per block).
 */
import { Bench } from 'tinybench';

/** The WebAssembly API this needs (the project's TypeScript setup has no DOM library, where its types live). */
const WA = (globalThis as unknown as {
  WebAssembly: {
    Memory: new (d: { initial: number }) => { buffer: ArrayBuffer };
    Module: new (bytes: Uint8Array) => object;
    Instance: new (m: object, imports: object) => { exports: Record<string, unknown> };
  };
}).WebAssembly;

/** Instructions per block (a compiled block runs 6.7 on average in the Debian boot). */
const K = 7;
/** Blocks per module (functions compiled at once). */
const FUNCS = 500;
/** Layout of the one memory: registers at 0, TLB tags and host addresses, then guest memory. */
const REGS = 0, TAGS = 4096, HPAS = TAGS + 4 * 8192, RAM = 1 << 20, TLB_MASK = 8191;

// --- a minimal WebAssembly binary writer (the parts this needs) ---
function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}
function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) { out.push(b); return out; }
    out.push(b | 0x80);
  }
}
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const name = (s: string): number[] => [...uleb(s.length), ...Buffer.from(s)];
const I32 = 0x7f;
const op = {
  localGet: (i: number) => [0x20, ...uleb(i)], localSet: (i: number) => [0x21, ...uleb(i)], localTee: (i: number) => [0x22, ...uleb(i)],
  const: (v: number) => [0x41, ...sleb(v | 0)], load: (off: number) => [0x28, 2, ...uleb(off)], store: (off: number) => [0x36, 2, ...uleb(off)],
  add: [0x6a], and: [0x71], shl: [0x74], shrU: [0x76], eq: [0x46], call: (f: number) => [0x10, ...uleb(f)],
  ifI32: [0x04, I32], else: [0x05], end: [0x0b],
};

/** One block: for each instruction, r[d] = r[d] + mem32[r[s] + disp] through the inlined TLB check. Locals: 0 n (param), 1 v, 2 l, 3 page, 4 slot, 5 x. */
function blockBody(seed: number): number[] {
  const code: number[] = [];
  for (let k = 0; k < K; k++) {
    const s = (seed + k) & 7, d = (seed + 3 * k + 1) & 7, disp = ((seed * 13 + k * 8) & 0xff) << 2;
    code.push(
      ...op.const(0), ...op.load(REGS + 4 * s), ...op.const(disp), ...op.add, ...op.localTee(2),
      ...op.const(12), ...op.shrU, ...op.localTee(3),
      ...op.const(TLB_MASK), ...op.and, ...op.const(2), ...op.shl, ...op.localTee(4),
      ...op.load(TAGS), ...op.localGet(3), ...op.eq,
      ...op.ifI32, ...op.localGet(4), ...op.load(HPAS), ...op.localGet(2), ...op.const(0xffc), ...op.and, ...op.add, ...op.load(0),
      ...op.else, ...op.localGet(2), ...op.call(0), ...op.end,
      ...op.localSet(5),
      ...op.const(0), ...op.const(0), ...op.load(REGS + 4 * d), ...op.localGet(5), ...op.add, ...op.store(REGS + 4 * d),
    );
  }
  code.push(...op.localGet(0), ...op.const(K), ...op.add, ...op.end);
  const locals = [...uleb(1), ...uleb(5), I32];
  return [...uleb(locals.length + code.length), ...locals, ...code];
}

function wasmModule(funcs: number, first = 0): Uint8Array {
  const types = section(1, vec([[0x60, 1, I32, 1, I32]]));
  const imports = section(2, vec([[...name('m'), ...name('slow'), 0, 0], [...name('m'), ...name('mem'), 2, 0, ...uleb(64)]]));
  const fns = section(3, vec(Array.from({ length: funcs }, () => [0])));
  const exports = section(7, vec(Array.from({ length: funcs }, (_, i) => [...name(`b${i}`), 0, ...uleb(i + 1)])));
  const code = section(10, vec(Array.from({ length: funcs }, (_, i) => blockBody(first + i))));
  return new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, ...types, ...imports, ...fns, ...exports, ...code]);
}

/** The same block as JavaScript over typed arrays, in the jit's style. */
function jsBlock(seed: number, r: Int32Array, tags: Int32Array, hpas: Int32Array, m32: Int32Array, slow: (l: number) => number): (n: number) => number {
  const lines: string[] = [];
  for (let k = 0; k < K; k++) {
    const s = (seed + k) & 7, d = (seed + 3 * k + 1) & 7, disp = ((seed * 13 + k * 8) & 0xff) << 2;
    lines.push(`{ const l = (r[${s}] + ${disp}) | 0, p = l >>> 12, i = p & ${TLB_MASK}; let x; if (tags[i] === p) x = m32[(hpas[i] + (l & 0xffc)) >> 2]; else x = slow(l); r[${d}] = (r[${d}] + x) | 0; }`);
  }
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  return new Function('r', 'tags', 'hpas', 'm32', 'slow', `"use strict"; return function js_${seed}(n) {\n${lines.join('\n')}\nreturn n + ${K}; };`)(r, tags, hpas, m32, slow) as (n: number) => number;
}

/**
 * The same block as an asm.js module ("use asm"), which V8 validates and
 * compiles through its WebAssembly pipeline: the JavaScript-source route to
 * a WebAssembly compiler. The registers, TLB and memory are the heap (the
 * WebAssembly memory's buffer, a plain ArrayBuffer). `funcs` blocks a module.
 */
function asmModule(first: number, funcs: number, heap: ArrayBuffer, slow: (l: number) => number): ((n: number) => number)[] {
  const fns: string[] = [];
  for (let f = 0; f < funcs; f++) {
    const seed = first + f;
    const lines: string[] = [];
    for (let k = 0; k < K; k++) {
      const s = (seed + k) & 7, d = (seed + 3 * k + 1) & 7, disp = ((seed * 13 + k * 8) & 0xff) << 2;
      lines.push(`l = ((H32[${(REGS + 4 * s) >> 2}]|0) + ${disp})|0; p = l >>> 12; i = p & ${TLB_MASK};`,
        `if ((H32[(${TAGS} + (i << 2)) >> 2]|0) == (p|0)) x = H32[((H32[(${HPAS} + (i << 2)) >> 2]|0) + (l & 0xffc)) >> 2]|0; else x = slow(l|0)|0;`,
        `H32[${(REGS + 4 * d) >> 2}] = ((H32[${(REGS + 4 * d) >> 2}]|0) + x)|0;`);
    }
    fns.push(`function b${f}(n) { n = n|0; var l = 0, p = 0, i = 0, x = 0;\n${lines.join('\n')}\nreturn (n + ${K})|0; }`);
  }
  const body = `"use asm"; var H32 = new stdlib.Int32Array(heap); var slow = foreign.slow;\n${fns.join('\n')}\nreturn { ${fns.map((_, f) => `b${f}: b${f}`).join(', ')} };`;
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const exports = (new Function('stdlib', 'foreign', 'heap', body) as (g: object, f: object, h: ArrayBuffer) => Record<string, (n: number) => number>)(globalThis, { slow }, heap);
  return fns.map((_, f) => exports[`b${f}`]!);
}

/** Blocks run in the timed loops: few enough that V8 optimizes every JavaScript one during the warm-up, as a hot block in a boot is. */
const HOT = 32;

async function main(): Promise<void> {
  const compileOnly = process.argv.includes('--compile-only');
  const memory = new WA.Memory({ initial: 64 });
  const i32 = new Int32Array(memory.buffer);
  // Every TLB slot a hit for the pages the blocks touch: tag = page, host address within the memory.
  for (let p = 0; p < 64; p++) { i32[(TAGS >> 2) + p] = p; i32[(HPAS >> 2) + p] = RAM + (p % 32) * 4096; }
  let slowCalls = 0;
  const slow = (): number => { slowCalls++; return 1; };

  // Compiling: V8 compiles a module's functions lazily by default, on their first call; so the
  // time is the module, its instance and one call of each function.
  const bytes = wasmModule(FUNCS);
  const t0 = performance.now();
  const inst = new WA.Instance(new WA.Module(bytes), { m: { slow, mem: memory } });
  const wasmFns = Array.from({ length: FUNCS }, (_, i) => inst.exports[`b${i}`] as (n: number) => number);
  let n = 0;
  for (const f of wasmFns) n = f(n) & 0xffffff;
  const compileMs = performance.now() - t0;
  const flags = process.execArgv.join(' ') || 'defaults: baseline compiler, lazily';
  console.log(`WebAssembly (${flags}): module, instance and a first call of each of ${FUNCS} blocks in ${compileMs.toFixed(1)} ms, ${(compileMs / FUNCS * 1000).toFixed(1)} us a block`);
  // The same blocks in modules of 1, 32 (the wasm engine's WASM_BATCH), every module's bytes
  // different from every other's (V8 keeps compiled modules by their bytes: a repeated module costs nothing).
  for (const per of [1, 32, 128, 512]) {
    const count = 512;
    const modules: Uint8Array[] = [];
    for (let first = 1000 + per * count; first < 1000 + per * count + count; first += per) modules.push(wasmModule(per, first));
    const t = performance.now();
    for (const bytes of modules) {
      const ex = new WA.Instance(new WA.Module(bytes), { m: { slow, mem: memory } }).exports;
      for (let i = 0; i < per; i++) n = (ex[`b${i}`] as (n: number) => number)(n) & 0xffffff;
    }
    const ms = performance.now() - t;
    console.log(`WebAssembly, ${per} block${per > 1 ? 's' : ''} a module: module, instance and a first call of each of ${count} blocks in ${ms.toFixed(1)} ms, ${(ms / count * 1000).toFixed(1)} us a block`);
  }
  if (compileOnly) return;

  const regs = new Int32Array(8), tags = i32.subarray(TAGS >> 2), hpas = i32.subarray(HPAS >> 2);
  const t1 = performance.now();
  const jsFns = Array.from({ length: FUNCS }, (_, i) => jsBlock(i, regs, tags, hpas, i32, slow));
  for (const f of jsFns) n = f(n) & 0xffffff;
  const jsMs = performance.now() - t1;
  console.log(`JavaScript: generating, parsing and a first call of each of ${FUNCS} blocks in ${jsMs.toFixed(1)} ms; V8 optimizes each later on its own (about 1 ms of CPU a guest instruction in the Debian boot, docs/bench.md)`);

  // asm.js, one module a block (as a jit compiling block by block would), then 50 blocks a module
  const asmFns: ((n: number) => number)[] = [];
  for (const per of [1, 50]) {
    const t2 = performance.now();
    for (let first = 0; first < FUNCS; first += per) {
      for (const f of asmModule(first, per, memory.buffer, slow)) {
        n = f(n) & 0xffffff;
        if (per === 1) asmFns.push(f);
      }
    }
    const asmMs = performance.now() - t2;
    console.log(`asm.js (${per} block${per > 1 ? 's' : ''} a module): validating, compiling and a first call of each of ${FUNCS} blocks in ${asmMs.toFixed(1)} ms, ${(asmMs / FUNCS * 1000).toFixed(1)} us a block`);
  }

  const bench = new Bench({ time: 1500, warmupTime: 3000 });
  const hotWasm = wasmFns.slice(0, HOT), hotJs = jsFns.slice(0, HOT), hotAsm = asmFns.slice(0, HOT);
  bench
    // The count is masked so that it stays a small integer (a 31-bit overflow would make V8 deoptimize the JavaScript blocks).
    .add(`wasm: ${HOT} blocks called from JavaScript`, () => { for (const f of hotWasm) n = f(n) & 0xffffff; })
    .add(`JavaScript: ${HOT} blocks`, () => { for (const f of hotJs) n = f(n) & 0xffffff; })
    .add(`asm.js: ${HOT} blocks`, () => { for (const f of hotAsm) n = f(n) & 0xffffff; });
  await bench.run();
  for (const t of bench.tasks) {
    const ms = (t.result as { latency?: { mean: number } } | undefined)?.latency?.mean;
    if (ms === undefined || !(ms > 0)) throw new Error(`benchmark ${t.name} produced no result`);
    const ns = (ms * 1e6) / HOT;
    console.log(`${t.name.padEnd(40)} ${ns.toFixed(1).padStart(7)} ns a block, ${(ns / K).toFixed(2)} ns an instruction (after a ${3} s warm-up)`);
  }
  console.log(`(slow-path calls: ${slowCalls}; every access hits, as most do in a boot)`);
}

await main();
