/**
 * A small WebAssembly binary writer: what the wasm engine's block compiler
 * (compile.ts) needs and nothing more. One module imports one memory and a
 * list of functions, and defines and exports functions over i32 values.
 *
 * Encoding: the WebAssembly core specification 1.0, chapter 5 (binary
 * format): LEB128 integers (5.2.2), sections in id order (5.5.2), a code
 * entry as its size, its locals, its expression (5.5.13).
 */

/** Value type i32 (spec 5.3.1). */
export const I32 = 0x7f;
/** The empty block type (spec 5.4.1). */
export const VOID = 0x40;

/** Unsigned LEB128 of a non-negative integer below 2^32. */
export function uleb(n: number, out: number[] = []): number[] {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`uleb: ${n} is not an unsigned 32-bit integer`);
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 of a 32-bit integer (the value is taken as int32). */
export function sleb(n: number, out: number[] = []): number[] {
  n |= 0;
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

/**
 * The body of one function: its extra i32 locals and its instructions.
 * Parameters are locals 0..params-1; `local()` adds one after them.
 */
export class Code {
  readonly bytes: number[] = [];
  private locals = 0;
  /** The number of locals added so far. */
  get localCount(): number { return this.locals; }
  constructor(readonly params: number) {}

  /** A new i32 local; returns its index. */
  local(): number {
    return this.params + this.locals++;
  }

  private op(...b: number[]): this {
    for (const x of b) this.bytes.push(x);
    return this;
  }

  get(i: number): this { this.bytes.push(0x20); uleb(i, this.bytes); return this; }
  set(i: number): this { this.bytes.push(0x21); uleb(i, this.bytes); return this; }
  tee(i: number): this { this.bytes.push(0x22); uleb(i, this.bytes); return this; }
  const(v: number): this { this.bytes.push(0x41); sleb(v, this.bytes); return this; }

  // Memory (spec 5.4.6): alignment hint and constant offset.
  private mem(opcode: number, align: number, offset: number): this {
    this.bytes.push(opcode);
    uleb(align, this.bytes);
    uleb(offset, this.bytes);
    return this;
  }
  load32(offset = 0): this { return this.mem(0x28, 2, offset); }
  load8u(offset = 0): this { return this.mem(0x2d, 0, offset); }
  load8s(offset = 0): this { return this.mem(0x2c, 0, offset); }
  load16u(offset = 0): this { return this.mem(0x2f, 1, offset); }
  load16s(offset = 0): this { return this.mem(0x2e, 1, offset); }
  store32(offset = 0): this { return this.mem(0x36, 2, offset); }
  store8(offset = 0): this { return this.mem(0x3a, 0, offset); }
  store16(offset = 0): this { return this.mem(0x3b, 1, offset); }
  /** f64.load: only the software TLB's guest-physical addresses are float64 */
  loadF64(offset = 0): this { return this.mem(0x2b, 3, offset); }
  constF64(v: number): this {
    this.bytes.push(0x44);
    const b = new Uint8Array(new Float64Array([v]).buffer);
    for (const x of b) this.bytes.push(x);
    return this;
  }
  ltF64(): this { return this.op(0x63); }
  /** i32.trunc_f64_u (traps outside 0..2^32-1: callers check first) */
  truncF64U(): this { return this.op(0xab); }

  // i32 arithmetic and comparisons (spec 5.4.5).
  eqz(): this { return this.op(0x45); }
  eq(): this { return this.op(0x46); }
  ne(): this { return this.op(0x47); }
  ltS(): this { return this.op(0x48); }
  ltU(): this { return this.op(0x49); }
  gtS(): this { return this.op(0x4a); }
  gtU(): this { return this.op(0x4b); }
  leS(): this { return this.op(0x4c); }
  leU(): this { return this.op(0x4d); }
  geS(): this { return this.op(0x4e); }
  geU(): this { return this.op(0x4f); }
  add(): this { return this.op(0x6a); }
  sub(): this { return this.op(0x6b); }
  mul(): this { return this.op(0x6c); }
  and(): this { return this.op(0x71); }
  or(): this { return this.op(0x72); }
  xor(): this { return this.op(0x73); }
  shl(): this { return this.op(0x74); }
  shrS(): this { return this.op(0x75); }
  shrU(): this { return this.op(0x76); }
  popcnt(): this { return this.op(0x69); }
  // i64, only as far as a 32-bit multiply's high half needs it (spec 5.4.5)
  /** i64.extend_i32_s */
  ext64(): this { return this.op(0xac); }
  mul64(): this { return this.op(0x7e); }
  ne64(): this { return this.op(0x52); }
  /** sign-extend the low 8 / 16 bits (spec 5.4.5, sign-extension operators) */
  ext8(): this { return this.op(0xc0); }
  ext16(): this { return this.op(0xc1); }

  // Control (spec 5.4.1).
  block(type = VOID): this { return this.op(0x02, type); }
  loop(type = VOID): this { return this.op(0x03, type); }
  if(type = VOID): this { return this.op(0x04, type); }
  else(): this { return this.op(0x05); }
  end(): this { return this.op(0x0b); }
  br(depth: number): this { this.bytes.push(0x0c); uleb(depth, this.bytes); return this; }
  brIf(depth: number): this { this.bytes.push(0x0d); uleb(depth, this.bytes); return this; }
  return(): this { return this.op(0x0f); }
  call(f: number): this { this.bytes.push(0x10); uleb(f, this.bytes); return this; }
  /** call_indirect through table 0 with the function type of index `type` (the table index on top of the stack) */
  callIndirect(type: number): this { this.bytes.push(0x11); uleb(type, this.bytes); this.bytes.push(0x00); return this; }
  drop(): this { return this.op(0x1a); }
  /** br_table (spec 5.4.2): a branch to labels[i] for the value i on the stack, to `other` beyond them. */
  brTable(labels: number[], other: number): this {
    this.bytes.push(0x0e);
    uleb(labels.length, this.bytes);
    for (const l of labels) uleb(l, this.bytes);
    uleb(other, this.bytes);
    return this;
  }
  select(): this { return this.op(0x1b); }

  /** The code entry (spec 5.5.13): size, locals (all i32), expression, end. */
  entry(): Uint8Array {
    return codeEntry(this.locals, [this.bytes]);
  }
}

/** A code entry (spec 5.5.13) of `locals` i32 locals and the expression made of `parts`, in order, then end. */
export function codeEntry(locals: number, parts: ArrayLike<number>[]): Uint8Array {
  const head: number[] = [];
  if (locals === 0) head.push(0);
  else { head.push(1); uleb(locals, head); head.push(I32); }
  let size = head.length + 1;
  for (const p of parts) size += p.length;
  const sz = uleb(size);
  const out = new Uint8Array(sz.length + size);
  out.set(sz, 0);
  out.set(head, sz.length);
  let at = sz.length + head.length;
  for (const p of parts) { out.set(p, at); at += p.length; }
  out[at] = 0x0b;
  return out;
}

/** A function type: i32 parameters and 0 or 1 i32 result. */
export interface FnType { params: number; results: 0 | 1 }

function name(s: string, out: number[]): void {
  const b = Buffer.from(s, 'utf8');
  uleb(b.length, out);
  for (const x of b) out.push(x);
}

function section(id: number, body: number[], out: number[]): void {
  out.push(id);
  uleb(body.length, out);
  for (const x of body) out.push(x);
}

/**
 * A module (spec 5.5): imports `env.memory` (of exactly `memoryPages` 64 KiB
 * pages, its minimum), with `table` also `env.table` (a table of function
 * references, at least `table` entries), and the functions `env.<name>` of
 * `imports`, then defines `funcs` and exports each under its name. Function
 * indices: the imports first, in order, then the defined functions. Type
 * indices: `types` first, in order (for callIndirect), then the others.
 */
export function moduleBytes(o: {
  memoryPages: number;
  table?: number;
  types?: FnType[];
  imports: { name: string; type: FnType }[];
  funcs: { name: string; type: FnType; code: Code | Uint8Array }[];
}): Uint8Array {
  const types: FnType[] = [...(o.types ?? [])];
  const typeIndex = (t: FnType): number => {
    let i = types.findIndex((u) => u.params === t.params && u.results === t.results);
    if (i < 0) { i = types.length; types.push(t); }
    return i;
  };
  const importTypes = o.imports.map((f) => typeIndex(f.type));
  const funcTypes = o.funcs.map((f) => typeIndex(f.type));
  const out: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  const t: number[] = [];
  uleb(types.length, t);
  for (const ty of types) {
    t.push(0x60);
    uleb(ty.params, t);
    for (let i = 0; i < ty.params; i++) t.push(I32);
    uleb(ty.results, t);
    if (ty.results === 1) t.push(I32);
  }
  section(1, t, out);
  const im: number[] = [];
  uleb(o.imports.length + 1 + (o.table !== undefined ? 1 : 0), im);
  name('env', im); name('memory', im); im.push(0x02, 0x00); uleb(o.memoryPages, im);
  if (o.table !== undefined) { name('env', im); name('table', im); im.push(0x01, 0x70, 0x00); uleb(o.table, im); }
  o.imports.forEach((f, i) => { name('env', im); name(f.name, im); im.push(0x00); uleb(importTypes[i]!, im); });
  section(2, im, out);
  const fs: number[] = [];
  uleb(o.funcs.length, fs);
  for (const ti of funcTypes) uleb(ti, fs);
  section(3, fs, out);
  const ex: number[] = [];
  uleb(o.funcs.length, ex);
  o.funcs.forEach((f, i) => { name(f.name, ex); ex.push(0x00); uleb(o.imports.length + i, ex); });
  section(7, ex, out);
  // the code section: its entries copied once, into the result
  const entries = o.funcs.map((f) => (f.code instanceof Uint8Array ? f.code : f.code.entry()));
  const count = uleb(o.funcs.length);
  let size = count.length;
  for (const e of entries) size += e.length;
  out.push(10);
  uleb(size, out);
  for (const x of count) out.push(x);
  const res = new Uint8Array(out.length + size - count.length);
  res.set(out, 0);
  let at = out.length;
  for (const e of entries) { res.set(e, at); at += e.length; }
  return res;
}

/** The part of the WebAssembly JavaScript API used here (the project's TypeScript setup has no DOM library, where its types live). */
export interface WasmMemory { readonly buffer: ArrayBuffer }
export interface WasmTable { readonly length: number; grow(n: number): number; set(i: number, f: unknown): void; get(i: number): unknown }
interface WasmApi {
  Memory: new (d: { initial: number; maximum?: number }) => WasmMemory;
  Table: new (d: { element: 'anyfunc'; initial: number }) => WasmTable;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (m: object, imports: object) => { exports: Record<string, unknown> };
}
export const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** Compiles and instantiates module bytes with `env` (the memory and the imported functions); returns its exports. */
export function instantiate(bytes: Uint8Array, env: Record<string, unknown>): Record<string, unknown> {
  return new WA.Instance(new WA.Module(bytes), { env }).exports;
}
