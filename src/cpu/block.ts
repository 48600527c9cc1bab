/**
 * The block engine's cache (docs/cpu.md, "The block engine"): guest code
 * decoded once, as blocks of instructions keyed by the guest-physical
 * address of their first byte, and dropped when anything writes to their
 * frame.
 *
 * A decoded instruction (Insn) holds what execute() and decodeModrm() would
 * compute from its bytes before the handler's first memory access: the
 * prefix state (o32, a32, segment override, REP, LOCK), the handler and the
 * opcode byte it is called with, and for a ModR/M form under 32-bit
 * addressing the effective-address form (base, index, scale, displacement,
 * segment). The handler is the interpreter's own; it still fetches its
 * immediates itself, from the cached fetch page. So an instruction run from
 * a block does exactly what the interpreter does, minus the decoding.
 *
 * A block is a straight line of instructions within one 4 KiB page, ending
 * with the first whose flow (OpcodeEntry.flow) is not `next`, or before an
 * instruction that crosses the page's end or that the length decoder
 * refuses (those run in the interpreter), or after MAX_BLOCK_INSNS.
 *
 * Invalidation (SDM vol. 3A, 11.6, self-modifying code: a write to a code
 * byte must be seen by the next fetch of it): caching a block sets
 * WATCH_CODE on its frame, so every write to the frame, by the CPU or by a
 * device through Mmu.writePhys*, reaches Mmu.onCodeWrite; that drops every
 * block of the frame (the run loop stops a running block after the
 * instruction that wrote) and clears the watch. A frame whose blocks are
 * dropped again and again soon after they were built (code and data on one
 * page) stays uncached for a while, so its writes keep the fast path.
 */
import { DS, SS } from './constants.js';
import { OPCODES, ONE, TWO } from './execute.js';
import { instructionLength } from './decode-length.js';
import type { Handler } from './ops/common.js';
import type { Mmu } from '../mmu/index.js';
import { WATCH_CODE } from '../mmu/index.js';
import { compileBlock, JIT_THRESHOLD, type JitFn } from './jit.js';
import { generateWasm, WASM_BATCH, type PendingWasm, type WasmBlock } from './wasm/compile.js';
import type { WasmState } from './wasm/state.js';

/** Instructions per block at most. */
export const MAX_BLOCK_INSNS = 64;
/**
 * Blocks in the cache at most (the default of BlockCache.maxBlocks):
 * building one more first drops them all. A whole 686 boot empties the
 * cache twice in its last seconds; a bound of 131,072 avoided that but
 * made the boot no faster and 60 to 85 MB larger (docs/bench.md).
 */
export const MAX_BLOCKS = 32768;
/** Slots of the direct-mapped table in front of the cache's Map. */
const FRONT_SIZE = 1 << 16;
/** A frame whose blocks were dropped this many times running, each within STRIKE_AGE instructions of being built, ... */
const STRIKES = 3;
const STRIKE_AGE = 1 << 20;
/** ... stays uncached (interpreted) for this many instructions. */
const UNCACHED_FOR = 1 << 24;

const PREFIX = new Uint8Array(256);
for (const p of [0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3]) PREFIX[p] = 1;

/** Per opcode: 1 = flow `next`; 2 = a ModR/M byte follows. */
const FORM_ONE = new Uint8Array(256);
const FORM_0F = new Uint8Array(256);
let formsBuilt = false;

/**
 * Fills FORM_ONE and FORM_0F from the opcode descriptions; called by the
 * first BlockCache, not at load time (execute.ts, through the handlers,
 * imports cpu.ts, which imports this file).
 */
function buildForms(): void {
  if (formsBuilt) return;
  formsBuilt = true;
  for (const e of OPCODES) {
    const t = e.map === 'one' ? FORM_ONE : FORM_0F;
    for (const op of e.opcodes) t[op] = (e.flow === 'next' ? 1 : 0) | (e.modrm ? 2 : 0);
  }
}

/**
 * The forms the block loop runs itself, without the handler (Cpu.runBlocks
 * does what the handler would, from the decoded fields): the most executed
 * instructions of a Linux boot (docs/bench.md), with a 32-bit operand and
 * address size, no LOCK and no REP prefix. K_HANDLER: call the handler.
 */
export const K_HANDLER = 0;
/** MOV Ev, Gv (89) */
export const K_MOV_EV_GV = 1;
/** MOV Gv, Ev (8B) */
export const K_MOV_GV_EV = 2;
/** LEA Gv, M (8D, memory forms) */
export const K_LEA = 3;
/** ADD/OR/ADC/SBB/AND/SUB/XOR/CMP Ev, Gv (01, 09, ... 39) */
export const K_ALU_EV_GV = 4;
/** ADD/.../CMP Gv, Ev (03, 0B, ... 3B) */
export const K_ALU_GV_EV = 5;
/** group 1 Ev, Ib (83) */
export const K_ALU_EV_IB = 6;
/** TEST Ev, Gv (85) */
export const K_TEST_EV_GV = 7;
/** Jcc rel8 (70-7F) and Jcc rel32 (0F 80-8F) */
export const K_JCC = 8;
/** PUSH r32 (50-57) */
export const K_PUSH_R = 9;
/** POP r32 (58-5F) */
export const K_POP_R = 10;
/** CALL rel32 (E8) */
export const K_CALL = 11;
/** RET (C3) */
export const K_RET = 12;

/** One decoded instruction. All fields are set by the constructor, so V8 gives every Insn one shape. */
export class Insn {
  constructor(
    readonly handler: Handler,
    /** the opcode byte the handler is called with (the second byte for the 0F map) */
    readonly op: number,
    readonly o32: boolean,
    readonly a32: boolean,
    /** segment override prefix, or -1 */
    readonly seg: number,
    readonly rep: number,
    readonly lock: boolean,
    /** bytes of the prefixes and opcode: EIP is there when the handler is called */
    readonly opEnd: number,
    /** the whole instruction's length */
    readonly len: number,
    /** 1 when the ModR/M form below is decoded (a ModR/M byte under 32-bit addressing), else 0 */
    readonly ea: number,
    readonly modrm: number,
    /** bytes up to the end of the ModR/M, SIB and displacement */
    readonly modrmEnd: number,
    /** base and index registers (-1: none), scale (shift count), displacement */
    readonly base: number,
    readonly index: number,
    readonly scale: number,
    readonly disp: number,
    /** the segment of the memory operand, the override applied */
    readonly eaSeg: number,
    /** the instruction may be followed by the next one in a block (flow `next`) */
    readonly next: boolean,
    /** K_*: how the block loop runs it */
    readonly kind: number,
    /** for the K_* forms with an immediate: its value (sign-extended), or a branch's displacement */
    readonly imm: number,
  ) {}
}

export class Block {
  /** cleared when a write reached the block's frame (or the cache was emptied) */
  valid = true;
  /** times the block was entered (counted by the jit engine, toward BlockCache.jitThreshold) */
  runs = 0;
  /** the jit engine's compiled function (jit.ts), null until compiled and once dropped */
  fn: JitFn | null = null;
  /** the wasm engine's record of the block compiled to WebAssembly (wasm/compile.ts), or null */
  wasm: WasmBlock | null = null;
  /** the jit engine's last two successors (Cpu.runCompiled), or null */
  s0: Block | null = null;
  s1: Block | null = null;
  constructor(
    readonly gpa: number,
    /** CS.D the block was decoded for */
    readonly big: boolean,
    readonly insns: Insn[],
  ) {}
}

const NO_INSNS: Insn[] = [];

function le32(b: Uint8Array, i: number): number {
  return b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24);
}

/**
 * Decodes the instruction at page[off] (32-bit code when `big`), already
 * known to lie within the page and to be one the CPU implements.
 */
function decode(page: Uint8Array, off: number, len: number, big: boolean): Insn {
  let i = off;
  let o32 = big, a32 = big, seg = -1, rep = 0, lock = false;
  // The prefixes, as execute() reads them (the last of a kind wins).
  for (;;) {
    const b = page[i]!;
    if (PREFIX[b] === 0) break;
    switch (b) {
      case 0x26: seg = 0; break;
      case 0x2e: seg = 1; break;
      case 0x36: seg = 2; break;
      case 0x3e: seg = 3; break;
      case 0x64: seg = 4; break;
      case 0x65: seg = 5; break;
      case 0x66: o32 = !big; break;
      case 0x67: a32 = !big; break;
      case 0xf0: lock = true; break;
      case 0xf2: rep = 1; break;
      case 0xf3: rep = 2; break;
    }
    i++;
  }
  let op = page[i++]!;
  let handler: Handler;
  let form: number;
  if (op === 0x0f) {
    op = page[i++]!;
    handler = TWO[op]!;
    form = FORM_0F[op]!;
  } else {
    handler = ONE[op]!;
    form = FORM_ONE[op]!;
  }
  const opEnd = i - off;
  let ea = 0, modrm = 0, base = -1, index = -1, scale = 0, disp = 0, eaSeg = DS;
  if (form & 2 && a32) {
    // As Cpu.decodeModrm under 32-bit addressing (SDM vol. 2A, tables 2-2, 2-3).
    ea = 1;
    modrm = page[i++]!;
    if (modrm < 0xc0) {
      const mod = modrm >> 6, rm = modrm & 7;
      let dseg = DS;
      if (rm === 4) {
        const sib = page[i++]!;
        const b = sib & 7, x = (sib >> 3) & 7;
        if (x !== 4) { index = x; scale = sib >> 6; }
        if (b === 5 && mod === 0) { disp = le32(page, i); i += 4; }
        else { base = b; if (b === 4 || b === 5) dseg = SS; }
      } else if (rm === 5 && mod === 0) {
        disp = le32(page, i); i += 4;
      } else {
        base = rm;
        if (rm === 5) dseg = SS;
      }
      if (mod === 1) { disp = (disp + ((page[i]! << 24) >> 24)) | 0; i += 1; }
      else if (mod === 2) { disp = (disp + le32(page, i)) | 0; i += 4; }
      eaSeg = seg >= 0 ? seg : dseg;
    }
  }
  let kind = K_HANDLER, immediate = 0;
  if (o32 && a32 && !lock && rep === 0) {
    if (opEnd === 1 || (opEnd === 2 && PREFIX[page[off]!] !== 0)) {
      // one-byte map (with at most a segment or 66/67 prefix that left the sizes 32-bit)
      if (op === 0x89) kind = K_MOV_EV_GV;
      else if (op === 0x8b) kind = K_MOV_GV_EV;
      else if (op === 0x8d && modrm < 0xc0) kind = K_LEA;
      else if (op < 0x40 && (op & 7) === 1) kind = K_ALU_EV_GV;
      else if (op < 0x40 && (op & 7) === 3) kind = K_ALU_GV_EV;
      else if (op === 0x83) { kind = K_ALU_EV_IB; immediate = (page[off + len - 1]! << 24) >> 24; }
      else if (op === 0x85) kind = K_TEST_EV_GV;
      else if (op >= 0x70 && op <= 0x7f) { kind = K_JCC; immediate = (page[off + len - 1]! << 24) >> 24; }
      else if (op >= 0x50 && op <= 0x57) kind = K_PUSH_R;
      else if (op >= 0x58 && op <= 0x5f) kind = K_POP_R;
      else if (op === 0xe8) { kind = K_CALL; immediate = le32(page, off + len - 4); }
      else if (op === 0xc3) kind = K_RET;
    } else if (opEnd === 2 && page[off] === 0x0f && op >= 0x80 && op <= 0x8f) {
      kind = K_JCC;
      immediate = le32(page, off + len - 4);
    }
  }
  return new Insn(handler, op, o32, a32, seg, rep, lock, opEnd, len, ea, modrm, i - off, base, index, scale, disp, eaSeg, (form & 1) !== 0, kind, immediate);
}

/** The decoded blocks of the guest's code, and their invalidation. */
export class BlockCache {
  private readonly map = new Map<number, Block>();
  private readonly front: (Block | null)[] = new Array<Block | null>(FRONT_SIZE).fill(null);
  /** per cached frame: its blocks, and the instruction count when the first was built */
  private readonly pages = new Map<number, { blocks: Block[]; since: number }>();
  private readonly strikes: Uint8Array;
  private readonly uncachedUntil: Float64Array;
  private count = 0;
  /** blocks in the cache at most; tests lower it to fill the cache quickly */
  maxBlocks = MAX_BLOCKS;
  /** the CPU's instruction clock (total instructions), read when a frame is cached or dropped */
  clock: () => number = () => 0;
  /** figures: blocks built, frames dropped by a write, times the whole cache was emptied */
  built = 0;
  dropped = 0;
  flushes = 0;
  /**
   * The jit engine: runs of a block before it is compiled (jit.ts), 0 for
   * never (the block engine). Tests lower it to compile small guests.
   */
  get jitThreshold(): number {
    return this.threshold;
  }
  set jitThreshold(runs: number) {
    this.threshold = runs;
    this.flushRuns = this.wasm !== null ? 2 * runs : 0;
    // the wasm engine: JavaScript for the other blocks at the jit's threshold (at once when a test compiles every block at once)
    this.jsRuns = this.wasm === null || runs <= 1 ? runs : Math.max(runs, JIT_THRESHOLD);
  }
  /** runs after which a block the wasm engine could not generate is compiled to JavaScript (compileLate); the threshold itself under the jit engine */
  jsRuns = 0;
  private threshold = 0;
  /** the wasm engine's memory: blocks are compiled to WebAssembly where every instruction has a WebAssembly form (wasm/compile.ts), else to JavaScript */
  wasm: WasmState | null = null;
  /** blocks generated for the wasm engine and not yet compiled (flushWasm) */
  pendingWasm: PendingWasm[] = [];
  /** blocks compiled in one module (WASM_BATCH; tests lower it to 1 to compile each block at once) */
  wasmBatch = WASM_BATCH;
  /** runs after which a block waiting in pendingWasm has the batch compiled (twice the threshold; 0: never, not the wasm engine) */
  flushRuns = 0;
  /** blocks compiled to WebAssembly (counted in jitCompiled too) */
  wasmCompiled = 0;
  /** jit figures: blocks compiled, milliseconds spent compiling, compiled functions of blocks still cached, compiled functions dropped with their block */
  jitCompiled = 0;
  jitMs = 0;
  jitLive = 0;
  jitDropped = 0;

  constructor(private readonly mmu: Mmu) {
    buildForms();
    const frames = mmu.watch.length;
    this.strikes = new Uint8Array(frames);
    this.uncachedUntil = new Float64Array(frames);
    mmu.onCodeWrite = (gpa: number): void => this.onCodeWrite(gpa);
  }

  /**
   * The block at guest-physical `gpa` for code of default size `big`,
   * decoded from the host page at `hpaPage` when not cached. Null when the
   * frame is left to the interpreter.
   */
  lookup(gpa: number, hpaPage: number, big: boolean): Block | null {
    const slot = (gpa ^ (gpa >>> 14)) & (FRONT_SIZE - 1);
    const f = this.front[slot]!;
    if (f !== null && f.gpa === gpa && f.valid && f.big === big) return f;
    return this.lookupSlow(gpa, hpaPage, big, slot);
  }

  private lookupSlow(gpa: number, hpaPage: number, big: boolean, slot: number): Block | null {
    let b = this.map.get(gpa);
    if (b === undefined || b.big !== big) {
      const gfn = Math.floor(gpa / 4096);
      if (this.uncachedUntil[gfn]! > this.clock()) return null;
      b = this.build(gpa, hpaPage, big, gfn);
    }
    this.front[slot] = b;
    return b;
  }

  private build(gpa: number, hpaPage: number, big: boolean, gfn: number): Block {
    if (this.count >= this.maxBlocks) this.clear();
    const page = this.mmu.u8.subarray(hpaPage, hpaPage + 4096);
    let off = gpa & 0xfff;
    let insns: Insn[] = NO_INSNS;
    while (off < 4096) {
      const len = instructionLength(page, off, big);
      // Crosses the page's end (or invalid): the interpreter runs it.
      if (len <= 0) break;
      const d = decode(page, off, len, big);
      if (insns === NO_INSNS) insns = [];
      insns.push(d);
      off += len;
      if (!d.next || insns.length >= MAX_BLOCK_INSNS) break;
    }
    const b = new Block(gpa, big, insns);
    const old = this.map.get(gpa);
    if (old !== undefined) this.drop(old);
    else this.count++;
    this.map.set(gpa, b);
    let p = this.pages.get(gfn);
    if (p === undefined) {
      p = { blocks: [], since: this.clock() };
      this.pages.set(gfn, p);
      this.mmu.setWatch(gfn, WATCH_CODE, true);
    }
    p.blocks.push(b);
    this.built++;
    return b;
  }

  /** Compiles block `b`, decoded from the host page at `hpaPage` (unchanged since: the block is valid). */
  compile(b: Block, hpaPage: number): void {
    const t = performance.now();
    const page = this.mmu.u8.subarray(hpaPage, hpaPage + 4096);
    const gen = this.wasm === null ? null : generateWasm(b, page, b.gpa & 0xfff, this.mmu, this.wasm);
    if (gen !== null) {
      // compiled with others in one module (flushWasm), the block running as before until then
      this.pendingWasm.push(gen);
      if (this.pendingWasm.length >= this.wasmBatch) this.flushWasm();
    } else if (this.jsRuns === this.threshold) {
      this.compileJs(b, page);
    }
    this.jitMs += performance.now() - t;
  }

  /**
   * The wasm engine: a block without a WebAssembly form for each of its
   * instructions is compiled to JavaScript after jsRuns runs (Cpu.runBlocks),
   * the jit engine's threshold, since V8 spends milliseconds on each.
   */
  compileLate(b: Block, hpaPage: number): void {
    if (b.fn !== null) return;
    const t = performance.now();
    this.compileJs(b, this.mmu.u8.subarray(hpaPage, hpaPage + 4096));
    this.jitMs += performance.now() - t;
  }

  private compileJs(b: Block, page: Uint8Array): void {
    b.fn = compileBlock(b, page, b.gpa & 0xfff, this.mmu);
    this.jitCompiled++;
    this.jitLive++;
  }

  /**
   * The wasm engine: compiles the blocks generated so far (in one module),
   * when WASM_BATCH are waiting or one of them ran twice the threshold
   * (Cpu.runBlocks).
   */
  flushWasm(): void {
    if (this.pendingWasm.length === 0) return;
    const t = performance.now();
    const n = this.wasm!.runtime!.flush(this.pendingWasm);
    this.pendingWasm = [];
    this.wasmCompiled += n;
    this.jitCompiled += n;
    this.jitLive += n;
    this.jitMs += performance.now() - t;
  }

  /** Marks `b` dropped, and drops its compiled function. */
  private drop(b: Block): void {
    b.valid = false;
    if (b.fn !== null) {
      b.fn = null;
      if (b.wasm !== null) {
        this.wasm!.runtime!.release(b.wasm.slot, b.wasm);
        b.wasm = null;
      }
      this.jitLive--;
      this.jitDropped++;
    }
  }

  /** A write reached a watched frame: drop its blocks and stop watching it. */
  onCodeWrite(gpa: number): void {
    const gfn = Math.floor(gpa / 4096);
    this.mmu.setWatch(gfn, WATCH_CODE, false);
    const p = this.pages.get(gfn);
    if (p === undefined) return;
    this.pages.delete(gfn);
    for (const b of p.blocks) {
      if (b.valid && this.map.get(b.gpa) === b) {
        this.map.delete(b.gpa);
        this.count--;
      }
      this.drop(b);
    }
    this.dropped++;
    const now = this.clock();
    if (now - p.since < STRIKE_AGE) {
      if (++this.strikes[gfn]! >= STRIKES) {
        this.strikes[gfn] = 0;
        this.uncachedUntil[gfn] = now + UNCACHED_FOR;
      }
    } else {
      this.strikes[gfn] = 0;
    }
  }

  /** Drops every block (the cache is full). */
  clear(): void {
    for (const [gfn, p] of this.pages) {
      this.mmu.setWatch(gfn, WATCH_CODE, false);
      for (const b of p.blocks) this.drop(b);
    }
    this.pages.clear();
    this.map.clear();
    this.front.fill(null);
    this.count = 0;
    this.flushes++;
  }

  /** Blocks in the cache. */
  get size(): number {
    return this.count;
  }
}
