/**
 * The wasm engine's binary writer (src/cpu/wasm/emit.ts): LEB128 against
 * the specification's examples and limits, and small modules that V8
 * validates, compiles and runs; and the engine's memory's limits.
 */
import { describe, expect, it } from 'vitest';
import { Code, codeEntry, instantiate, moduleBytes, sleb, uleb, WA } from '../../src/cpu/wasm/emit.js';
import { STATE_BYTES, WasmState } from '../../src/cpu/wasm/state.js';
import { Cpu } from '../../src/cpu/cpu.js';
import { Mmu } from '../../src/mmu/mmu.js';
import { IoBus } from '../../src/io/bus.js';
import { VirtualClock } from '../../src/io/clock.js';
import { Pic } from '../../src/devices/pic.js';
import { Block } from '../../src/cpu/block.js';
import { WasmBlock, WasmRuntime } from '../../src/cpu/wasm/compile.js';

describe('LEB128', () => {
  it('does uleb encode the boundaries of each byte count?', () => {
    expect(uleb(0)).toEqual([0]);
    expect(uleb(127)).toEqual([0x7f]);
    expect(uleb(128)).toEqual([0x80, 0x01]);
    expect(uleb(624485)).toEqual([0xe5, 0x8e, 0x26]);
    expect(uleb(0xffffffff)).toEqual([0xff, 0xff, 0xff, 0xff, 0x0f]);
    expect(() => uleb(-1)).toThrow(/unsigned 32-bit/);
    expect(() => uleb(2 ** 32)).toThrow(/unsigned 32-bit/);
  });

  it('does sleb encode signs at the byte boundaries?', () => {
    expect(sleb(0)).toEqual([0]);
    expect(sleb(63)).toEqual([0x3f]);
    expect(sleb(64)).toEqual([0xc0, 0x00]);
    expect(sleb(-1)).toEqual([0x7f]);
    expect(sleb(-64)).toEqual([0x40]);
    expect(sleb(-65)).toEqual([0xbf, 0x7f]);
    expect(sleb(-123456)).toEqual([0xc0, 0xbb, 0x78]);
    expect(sleb(0x7fffffff)).toEqual([0xff, 0xff, 0xff, 0xff, 0x07]);
    expect(sleb(-0x80000000)).toEqual([0x80, 0x80, 0x80, 0x80, 0x78]);
    // taken as int32: 0xffffffff is -1
    expect(sleb(0xffffffff)).toEqual([0x7f]);
  });
});

describe('modules', () => {
  const memory = new WA.Memory({ initial: 1, maximum: 1 });
  const i32 = new Int32Array(memory.buffer);

  it('do arithmetic, comparisons, select and sign extension give JavaScript\'s int32 results?', () => {
    const cases: [string, (f: Code) => void, (a: number, b: number) => number][] = [
      ['add', (f) => f.add(), (a, b) => (a + b) | 0],
      ['sub', (f) => f.sub(), (a, b) => (a - b) | 0],
      ['mul', (f) => f.mul(), (a, b) => Math.imul(a, b)],
      ['xor', (f) => f.xor(), (a, b) => a ^ b],
      ['shl', (f) => f.shl(), (a, b) => a << b],
      ['shrS', (f) => f.shrS(), (a, b) => a >> b],
      ['shrU', (f) => f.shrU(), (a, b) => (a >>> b) | 0],
      ['ltU', (f) => f.ltU(), (a, b) => ((a >>> 0) < (b >>> 0) ? 1 : 0)],
      ['leS', (f) => f.leS(), (a, b) => (a <= b ? 1 : 0)],
      ['ne', (f) => f.ne(), (a, b) => (a !== b ? 1 : 0)],
    ];
    const funcs = cases.map(([name, op]) => {
      const f = new Code(2);
      f.get(0).get(1);
      op(f);
      return { name, type: { params: 2, results: 1 as const }, code: f };
    });
    const sel = new Code(3);
    sel.get(0).get(1).get(2).select();
    const ext = new Code(1);
    ext.get(0).ext8().get(0).ext16().add();
    const ex = instantiate(moduleBytes({ memoryPages: 1, imports: [], funcs: [...funcs, { name: 'sel', type: { params: 3, results: 1 }, code: sel }, { name: 'ext', type: { params: 1, results: 1 }, code: ext }] }), { memory });
    const values = [0, 1, -1, 31, 32, 0x7fffffff, -0x80000000, 0x12345678, -5];
    for (const [name, , js] of cases) {
      const fn = ex[name] as (a: number, b: number) => number;
      for (const a of values) for (const b of values) expect(fn(a, b), `${name}(${a}, ${b})`).toBe(js(a, b));
    }
    expect((ex.sel as (a: number, b: number, c: number) => number)(7, 9, 1)).toBe(7);
    expect((ex.sel as (a: number, b: number, c: number) => number)(7, 9, 0)).toBe(9);
    expect((ex.ext as (a: number) => number)(0x1280)).toBe(-128 + 0x1280);
    expect((ex.ext as (a: number) => number)(0x8001)).toBe(1 + ((0x8001 << 16) >> 16));
  });

  it('do loads and stores of each width reach the imported memory at address + offset, little-endian?', () => {
    const f = new Code(1);
    // mem32[p + 8] = 0x11223344; mem8[p + 16] = 0x1ff (truncated); mem16[p + 20] = 0xabcdef
    f.get(0).const(0x11223344).store32(8);
    f.get(0).const(0x1ff).store8(16);
    f.get(0).const(0xabcdef).store16(20);
    // return load16u(p + 9) + load8s(p + 16) + load16s(p + 20)
    f.get(0).load16u(9).get(0).load8s(16).add().get(0).load16s(20).add();
    const ex = instantiate(moduleBytes({ memoryPages: 1, imports: [], funcs: [{ name: 'm', type: { params: 1, results: 1 }, code: f }] }), { memory });
    expect((ex.m as (p: number) => number)(100)).toBe(0x2233 + -1 + ((0xcdef << 16) >> 16));
    expect(i32[27]).toBe(0x11223344);
    expect(new Uint8Array(memory.buffer)[116]).toBe(0xff);
    expect(new Uint16Array(memory.buffer)[60]).toBe(0xcdef);
  });

  it('do imports, locals, if/else, loops and early returns run as written?', () => {
    // sum(n): s = 0; i = 0; loop { if (i == n) return note(s); s += i * i; i++ } with note an import
    const f = new Code(1);
    const s = f.local(), i = f.local();
    f.loop();
    f.get(i).get(0).eq().if().get(s).call(0).return().end();
    f.get(i).get(i).mul().get(s).add().set(s);
    f.get(i).const(1).add().set(i);
    f.br(0);
    f.end();
    f.const(-1);
    const seen: number[] = [];
    const ex = instantiate(moduleBytes({ memoryPages: 1, imports: [{ name: 'note', type: { params: 1, results: 1 } }], funcs: [{ name: 'sum', type: { params: 1, results: 1 }, code: f }] }), {
      memory, note: (v: number): number => { seen.push(v); return v + 1; },
    });
    expect((ex.sum as (n: number) => number)(10)).toBe(286);
    expect(seen).toEqual([285]);
  });

  it('does br_table reach each label and the default beyond them, and do code entries made of parts (codeEntry) run as one?', () => {
    // pick(i): block block block (br_table 0 1 2, default 2 on i) end return 10 end return 20 end return 30
    const f = new Code(1);
    f.block().block().block();
    f.get(0).brTable([0, 1, 2], 2);
    f.end().const(10).return();
    f.end().const(20).return();
    f.end().const(30);
    const ex = instantiate(moduleBytes({ memoryPages: 1, imports: [], funcs: [{ name: 'pick', type: { params: 1, results: 1 }, code: f }] }), { memory });
    const pick = ex.pick as (i: number) => number;
    expect([0, 1, 2, 3, 100, -1].map(pick)).toEqual([10, 20, 30, 30, 30, 30]);
    // the same body split in two parts, as a code entry of one local (unused)
    const cut = 5;
    const entry = codeEntry(1, [f.bytes.slice(0, cut), new Uint8Array(f.bytes.slice(cut))]);
    const ex2 = instantiate(moduleBytes({ memoryPages: 1, imports: [], funcs: [{ name: 'pick', type: { params: 1, results: 1 }, code: entry }] }), { memory });
    expect([0, 1, 2, 3].map(ex2.pick as (i: number) => number)).toEqual([10, 20, 30, 30]);
  });

  it('does a JavaScript exception thrown by an import unwind through the WebAssembly frames unchanged?', () => {
    const f = new Code(0);
    f.call(0).drop().const(1);
    const token = new Error('fault');
    const ex = instantiate(moduleBytes({ memoryPages: 1, imports: [{ name: 'boom', type: { params: 0, results: 1 } }], funcs: [{ name: 'run', type: { params: 0, results: 1 }, code: f }] }), {
      memory, boom: (): number => { throw token; },
    });
    let caught: unknown = null;
    try { (ex.run as () => number)(); } catch (e) { caught = e; }
    expect(caught).toBe(token);
  });

  it('does call_indirect reach functions of other modules through a shared table, and does a cleared entry trap?', () => {
    const table = new WA.Table({ element: 'anyfunc', initial: 2 });
    const type = { params: 2, results: 1 as const };
    const d = new Code(3);
    d.get(1).get(2).get(0).callIndirect(0);
    const dispatch = instantiate(moduleBytes({ memoryPages: 1, table: 0, types: [type], imports: [], funcs: [{ name: 'd', type: { params: 3, results: 1 }, code: d }] }), { memory, table }).d as (i: number, a: number, b: number) => number;
    const block = (k: number): unknown => {
      const f = new Code(2);
      f.get(0).const(k).mul().get(1).add();
      return instantiate(moduleBytes({ memoryPages: 1, imports: [], funcs: [{ name: 'run', type, code: f }] }), { memory }).run;
    };
    table.set(0, block(3));
    table.set(1, block(5));
    expect(table.grow(2)).toBe(2);
    table.set(3, block(7));
    expect(dispatch(0, 2, 1)).toBe(7);
    expect(dispatch(1, 2, 1)).toBe(11);
    expect(dispatch(3, 2, 1)).toBe(15);
    table.set(1, null);
    expect(() => dispatch(1, 2, 1)).toThrow();
    expect(() => dispatch(2, 2, 1)).toThrow();
  });
});

describe('the wasm engine\'s memory (src/cpu/wasm/state.ts)', () => {
  it('does it refuse, with a message naming the way out, guest and host memory beyond a WebAssembly memory\'s 4 GiB, and a second Mmu?', () => {
    expect(() => new WasmState().provide(4 * 2 ** 30)).toThrow(/more than a WebAssembly memory's 4 GiB; use --engine jit/);
    const st = new WasmState();
    const { buffer, base } = st.provide(1 << 20)!;
    expect(base).toBe(STATE_BYTES);
    expect(buffer.byteLength).toBeGreaterThanOrEqual(STATE_BYTES + (1 << 20));
    expect(buffer).toBe(st.memory!.buffer);
    expect(() => st.provide(4096)).toThrow(/already holds an Mmu/);
  });

  it('does a WasmState made for a default engine answer a request beyond 4 GiB with null, and does an Mmu given that null allocate its own memory?', () => {
    const st = new WasmState(true);
    expect(st.provide(4 * 2 ** 30)).toBeNull();
    expect(st.memory).toBeNull();
    const mmu = new Mmu({ guestMemory: 4 << 20, arena: () => null });
    mmu.writePhys(0x1000, 4, 0x12345678);
    expect(mmu.readPhys(0x1000, 4)).toBe(0x12345678);
    expect(mmu.host.buffer.byteLength).toBeGreaterThan(0);
  });

  it('does a Cpu under the wasm engine refuse an Mmu made without the WasmState\'s arena?', () => {
    const mmu = new Mmu({ guestMemory: 4 << 20 });
    const io = new IoBus();
    const clock = new VirtualClock(1);
    expect(() => new Cpu({ mmu, io, clock, pic: new Pic(io), engine: 'wasm', wasm: new WasmState() })).toThrow(/the Mmu must be made with the arena of the WasmState/);
  });
});

describe('the wasm engine\'s jump cache (WasmRuntime.enter, release)', () => {
  it('does it keep two blocks of one set, move the first to the second way, and clear the entry of a dropped block wherever it went?', () => {
    const st = new WasmState();
    const mmu = new Mmu({ guestMemory: 4 << 20, arena: st.provide });
    const rt = new WasmRuntime(mmu, st.memory!, st.pages);
    // three addresses of one set: (gpa ^ gpa >>> 11) & 2047 is 0x10 for each
    const make = (gpa: number): WasmBlock => {
      const w = new WasmBlock(new Block(gpa, true, []), rt.reserve(), [], new Map());
      rt.blocks[w.slot] = w;
      return w;
    };
    const [a, b, c] = [make(0x10), make(0x811), make(0x1012)];
    /** the blocks the cache names, by address */
    const named = (): Record<number, number> => {
      const out: Record<number, number> = {};
      for (let i = 0; i < rt.jc.length; i += 3) if (rt.jc[i] !== -1) out[rt.jc[i]!] = rt.jc[i + 1]!;
      return out;
    };
    rt.enter(a);
    rt.enter(b);
    expect(named()).toEqual({ 0x10: a.slot, 0x811: b.slot });
    rt.enter(a); // named already (second way): nothing moves
    expect(named()).toEqual({ 0x10: a.slot, 0x811: b.slot });
    // a moved to the second way; dropping it must clear that entry
    rt.release(a.slot);
    expect(named()).toEqual({ 0x811: b.slot });
    rt.enter(c);
    rt.enter(a); // again (its index was freed; the record is reused here as a stand-in)
    // a first, c second, b out of the cache
    expect(named()).toEqual({ 0x10: a.slot, 0x1012: c.slot });
    rt.release(b.slot); // not named: nothing to clear
    rt.release(c.slot);
    expect(named()).toEqual({ 0x10: a.slot });
  });
});
