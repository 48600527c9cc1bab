/**
 * The wasm engine's block compiler (docs/cpu.md, "The wasm engine"): a
 * block of the block engine whose every instruction has a form here is
 * generated as one WebAssembly function, and blocks are compiled a batch
 * to a module (WasmRuntime.flush); any other block is left to the
 * JavaScript jit (jit.ts). The forms, their order of reads, writes and
 * flag updates, and the per-instruction contract are the JavaScript jit's
 * (see jit.ts's file comment); what differs is where the state lives and
 * how it crosses between the two sides:
 *
 * - The general registers, segment bases, limits and fast-access bits, the
 *   software TLB's tags and host addresses and host memory are in the one
 *   WebAssembly memory (state.ts): compiled code reads and writes them
 *   directly, the interpreter through its typed-array views of the same
 *   bytes.
 * - Everything else stays in Cpu fields. Compiled code keeps the lazy
 *   flags of the instructions it runs in locals and writes the latest to
 *   exchange slots (SL_FLSET ...) before anything on the JavaScript side
 *   can look at them: before each slow-path or handler call, at a loop
 *   back to the block's start and at the block's end. A condition (Jcc,
 *   SETcc, CMOVcc) on flags set in the block is computed from those
 *   locals; on flags from before the block (or its previous pass), the
 *   Cpu is asked (the import `cond`), as is CF for INC and DEC.
 * - A memory access whose inline software-TLB hit fails calls an imported
 *   JavaScript function (rd, rds, wr) that makes the contract's stores
 *   (instrEip, instrEsp, executed, the decode fields, the flags), calls
 *   Cpu's accessor and records whether the block must stop after the
 *   instruction (SL_EXIT), as the JavaScript jit's slow path does. A fault
 *   is a JavaScript exception that unwinds through the WebAssembly frames
 *   to runBlocks, as from a JavaScript block. The string, port and flags
 *   instructions that the JavaScript jit leaves to their handlers are
 *   handler calls here too (the import hd, handlerAnyway).
 * - Every block's function sits in one table, and JavaScript enters
 *   compiled code through one dispatcher (runWasm, then
 *   WasmRuntime.dispatch), which follows the jump cache from a block to
 *   its successor on the same page without returning to JavaScript.
 *   Blocks of one guest page compiled in one batch share a page function
 *   (pageFunction), in which a block's direct branch to another of them
 *   is a branch inside the function, with the dispatcher's checks.
 * - A block is entered only with CS's limit at 4 GiB and a 32-bit stack
 *   (SS.B), so that a near branch cannot fault on the limit and the stack
 *   forms need no 16-bit path; otherwise runWasm runs the block with
 *   Cpu.runBlock, the block engine's reference loop, and a handler that
 *   changes either stops the block.
 *
 * Not yet compiled here (such a block stays JavaScript): the rotates,
 * shifts of memory and 16-bit shifts by CL, MUL, DIV, 16-bit operations
 * other than the moves, CALL and JMP through a register or memory, XCHG
 * with a memory operand, conditions on PF after anything but a shift,
 * IMUL or ADC/SBB, and the other forms the JavaScript jit leaves to a
 * handler.
 */
import type { Block, Insn } from '../block.js';
import { K_ALU_EV_GV, K_ALU_EV_IB, K_ALU_GV_EV, K_CALL, K_JCC, K_LEA, K_MOV_EV_GV, K_MOV_GV_EV, K_POP_R, K_PUSH_R, K_RET, K_TEST_EV_GV } from '../block.js';
import type { Cpu } from '../cpu.js';
import type { Mmu } from '../../mmu/index.js';
import { F_ARITH, F_CF } from '../constants.js';
import { Code, codeEntry, instantiate, moduleBytes, WA, type WasmMemory, type WasmTable } from './emit.js';
import {
  SL_BUDGET, SL_CF, SL_CSBASE, SL_CUR, SL_DIRTY, SL_E, SL_FETCHGPA, SL_N, SL_PAGE, SL_TAGX, JC_BITS, JC_SIZE, S_JC, SL_EIP, SL_ESP0, SL_EXIT, SL_FLSET, SL_LZA, SL_LZB, SL_LZBITS, SL_LZOP, SL_LZR, SL_MEASURE, SL_TAGR, SL_TAGW, SL_LAST, packLast,
  SLOT_COUNT, SL_LINKS, SL_STEPS, S_FASTR, S_FASTW, S_REG, S_SEGBASE, S_SLOTS, type WasmState,
} from './state.js';

/**
 * Runs of a block before it is generated under the wasm engine: lower than
 * the JavaScript jit's, since V8's baseline WebAssembly compiler takes tens
 * of microseconds a block where TurboFan takes milliseconds. 1,024: the
 * Debian boot beside one at 256 took 7% less CPU (fewer blocks compiled
 * and dropped; docs/bench.md, "The wasm engine"), at 64 no less wall time.
 */
export const WASM_THRESHOLD = 1024;
/** Blocks compiled in one module (BlockCache.flushWasm): V8 spends about half a millisecond on each module, whatever it holds. */
export const WASM_BATCH = 32;

// Lazy-flag operations (cpu.ts LZ_*).
const LZ_ADD = 0, LZ_SUB = 2, LZ_LOGIC = 4, LZ_INC = 5, LZ_DEC = 6, LZ_NEG = 7;
const SS = 2;

// Imported functions, by index.
const IM_RD = 0, IM_RDS = 1, IM_WR = 2, IM_CFIN = 3, IM_COND = 4, IM_IMM = 5, IM_HD = 6;
/** Added to the size passed to rd, rds and wr: a half of a read-modify-write (Cpu.rdw8/16/32, Cpu.wrw8/16/32). */
const RD_INTENT = 8;
const IMPORTS = [
  { name: 'rd', type: { params: 4, results: 1 as const } },
  { name: 'rds', type: { params: 4, results: 1 as const } },
  { name: 'wr', type: { params: 5, results: 0 as const } },
  { name: 'cfIn', type: { params: 0, results: 1 as const } },
  { name: 'cond', type: { params: 1, results: 1 as const } },
  { name: 'imm', type: { params: 1, results: 1 as const } },
  { name: 'hd', type: { params: 1, results: 0 as const } },
];
// Parameters of a compiled block: the count so far and EIP at the block's start.
const P_N = 0, P_E = 1;
// A page function's third parameter: the entry (its block) to start at.
const P_ENTRY = 2;

const slot = (i: number): number => S_SLOTS + 4 * i;
const le32 = (b: Uint8Array, i: number): number => b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24);

/**
 * The flags the latest flag-setting instruction of the block left, as
 * locals: a setLazy or setLazyKeepCf (op an LZ_* operation), or a setArith
 * of all six arithmetic flags (op ARITH: their EFLAGS bits in local x).
 */
interface Prod { op: number; a: number; b: number; x: number; bits: number; cf: number }
const ARITH = -1;

/** A late immediate (an immediate fetched after a memory read): its value and how Cpu.fetchImm fetches it. */
export interface Late { imm: number; modrmEnd: number; size: number }

/** Why a block was not compiled: its first instruction without a WebAssembly form (for VMMU_WASM_STATS). */
class NoForm extends Error {}

/** VMMU_WASM_STATS=1: counts the blocks left to JavaScript by the first instruction without a form here, printed at exit (to find the forms worth adding). */
const STATS = !!process.env.VMMU_WASM_STATS;
/** With VMMU_WASM_STATS, compiled code also counts the dispatcher's steps (slot SL_STEPS). */
const LINK_STATS = STATS;
/** Whether page functions count their branches from one block to another (slot SL_LINKS): on with VMMU_WASM_STATS; tests turn it on to require them. */
export const PAGE_LINKS = { count: STATS };
const STATS_OBJ: Record<string, number> = {};
if (STATS) {
  process.on('exit', () => {
    const e = Object.entries(STATS_OBJ).sort((a, b) => b[1] - a[1]);
    console.error(`blocks left to JavaScript: ${e.reduce((a, x) => a + x[1], 0)}`);
    for (const [k, v] of e.slice(0, 30)) console.error(`${k.padEnd(24)}${String(v).padStart(10)}`);
  });
}

class Gen {
  readonly f: Code;
  /** a slow path ran in the current instruction */
  readonly s: number;
  /** the current instruction's index */
  k = 0;
  prod: Prod | null = null;
  private free: number[] = [];
  private temps: number[] = [];
  /** the locals of `prod`, kept past their instruction */
  private held: number[] = [];
  /** the block's instruction count; the `if`s around the current code (for again's branch) */
  len = 0;
  depth = 0;
  late = new Map<number, Late>();
  readonly tlbHpa: number;
  readonly hostBase: number;
  readonly tlbMask: number;

  constructor(mmu: Mmu, params: number) {
    this.f = new Code(params);
    this.s = this.f.local();
    this.tlbHpa = mmu.tlbHpa.byteOffset;
    this.hostBase = mmu.u8.byteOffset;
    this.tlbMask = mmu.tlbMask;
  }

  /**
   * A local for the current instruction. Locals are reused from one
   * instruction to the next (endInsn): V8's baseline compiler does work
   * per local at every branch and join, so a block with a local per value
   * compiled ten to thirty times slower (docs/bench.md).
   */
  local(): number {
    const l = this.free.pop() ?? this.f.local();
    this.temps.push(l);
    return l;
  }

  /** After an instruction: its locals free again, except those the flag record (prod) still names. */
  endInsn(): void {
    const p = this.prod;
    const keep = p === null ? [] : [p.a, p.b, p.x, p.cf].filter((l) => l >= 0);
    for (const l of [...this.temps, ...this.held]) if (!keep.includes(l) && !this.free.includes(l)) this.free.push(l);
    this.held = keep;
    this.temps = [];
  }

  /** local = the value on the stack */
  keep(): number {
    const l = this.local();
    this.f.set(l);
    return l;
  }

  constLocal(v: number): number {
    this.f.const(v);
    return this.keep();
  }

  reg(k: number): this { this.f.const(0).load32(S_REG + 4 * k); return this; }
  setReg(k: number, l: number): void { this.f.const(0).get(l).store32(S_REG + 4 * k); }
  r8(k: number): this { this.f.const(0).load8u(S_REG + (k & 3) * 4 + (k >> 2)); return this; }
  setR8(k: number, l: number): void { this.f.const(0).get(l).store8(S_REG + (k & 3) * 4 + (k >> 2)); }
  r16(k: number): this { this.f.const(0).load16u(S_REG + 4 * k); return this; }
  setR16(k: number, l: number): void { this.f.const(0).get(l).store16(S_REG + 4 * k); }

  /**
   * The flags of a shift, IMUL, ADC or SBB (alu.ts setArith of all six): CF and
   * OF from locals `cf` and `of` (0 or 1), ZF, SF and PF of result `x` at
   * `bits` bits (alu.ts zsp), AF from local `af` (0 or 0x10; clear
   * without one); recorded as the latest flags.
   */
  arith(x: number, cf: number, of: number, bits: 8 | 16 | 32, af = -1): void {
    const f = this.f;
    f.get(cf).get(of).const(11).shl().or();
    if (af >= 0) f.get(af).or();
    this.masked(x, bits); f.eqz().const(6).shl().or();
    f.get(x).const(bits - 1).shrU().const(1).and().const(7).shl().or();
    f.get(x).const(0xff).and().popcnt().const(1).and().const(1).xor().const(2).shl().or();
    const v = this.keep();
    this.prod = { op: ARITH, a: v, b: v, x: v, bits: 32, cf: -1 };
  }

  /** Writes the latest flags to the exchange slots (before JavaScript can look at them). */
  flush(): void {
    const p = this.prod;
    if (p === null) return;
    const f = this.f;
    if (p.op === ARITH) {
      f.const(0).get(p.x).store32(slot(SL_LZA));
      f.const(0).const(3).store32(slot(SL_FLSET));
      return;
    }
    f.const(0).const(p.op).store32(slot(SL_LZOP));
    f.const(0).get(p.a).store32(slot(SL_LZA));
    f.const(0).get(p.b).store32(slot(SL_LZB));
    f.const(0).get(p.x).store32(slot(SL_LZR));
    f.const(0).const(p.bits).store32(slot(SL_LZBITS));
    if (p.cf >= 0) f.const(0).get(p.cf).store32(slot(SL_CF));
    f.const(0).const(p.cf >= 0 ? 2 : 1).store32(slot(SL_FLSET));
  }

  /**
   * A branch back to the block's own start (a loop) in its last
   * instruction, inside one `if` at most: when the block fits once more in
   * the slice, run it again here, as Cpu.runCompiled would (jit.ts
   * `loops`; the other conditions can change only in a slow path, after
   * which the block has already stopped if they did). The flags are
   * written out first: the block's start assumes they are in the Cpu (or
   * written out, which the imports that read them apply).
   */
  again(): void {
    const f = this.f;
    this.flush();
    f.get(P_N).const(2 * this.len).add().const(0).load32(slot(SL_BUDGET)).leS().if();
    f.get(P_N).const(this.len).add().set(P_N);
    f.const(0).get(P_N).store32(slot(SL_N));
    f.br(this.depth + 1);
    f.end();
  }

  /**
   * The current instruction by its interpreter handler (the import hd, as
   * jit.ts calls a handler): the flags written out first, not known after
   * it; EIP at the block's start taken back from SL_E (the next
   * instruction starts where the handler left EIP, as in Cpu.runBlock);
   * the exit check after it (hd sets SL_EXIT).
   */
  handler(): void {
    const f = this.f;
    this.flush();
    f.const(this.k).call(IM_HD);
    this.prod = null;
    f.const(0).load32(slot(SL_E)).set(P_E);
    f.const(1).set(this.s);
  }

  /** A call to a slow path: the flags written out, `s` set. The arguments follow. */
  slowStart(): void {
    this.flush();
    this.f.const(1).set(this.s);
  }

  /** The effective address of a decoded memory operand (Cpu.effective), as a local. */
  ea(d: Insn): number {
    const f = this.f;
    f.const(d.disp | 0);
    if (d.base >= 0) { this.reg(d.base); f.add(); }
    if (d.index >= 0) { this.reg(d.index); f.const(d.scale).shl().add(); }
    return this.keep();
  }

  /** The linear address seg:off, its page and its TLB slot's byte index, as locals. */
  private linear(seg: number, off: number): { l: number; pg: number; ix: number } {
    const f = this.f;
    const l = this.local(), pg = this.local(), ix = this.local();
    f.const(0).load32(S_SEGBASE + 4 * seg).get(off).add().tee(l);
    f.const(12).shrU().tee(pg);
    f.const(this.tlbMask).and().const(2).shl().set(ix);
    return { l, pg, ix };
  }

  /** Pushes 1 when the access of `size` bytes at linear `l` stays within its page. */
  private inPage(size: number, l: number): void {
    if (size === 1) this.f.const(1);
    else this.f.get(l).const(0xfff).and().const(0x1000 - size).leU();
  }

  /** Pushes the tag check of one kind: fast segment, the tag equal to the page, within the page, not observed. */
  private hit(seg: number, tagSlot: number, fast: number, size: number, a: { l: number; pg: number; ix: number }): void {
    const f = this.f;
    f.const(0).load8u(fast + seg);
    f.const(0).load32(slot(tagSlot)).get(a.ix).add().load32(0).get(a.pg).eq().and();
    this.inPage(size, a.l); f.and();
    f.const(0).load32(slot(SL_MEASURE)).eqz().and();
  }

  private load(size: number): void {
    if (size === 4) this.f.load32(this.hostBase);
    else if (size === 2) this.f.load16u(this.hostBase);
    else this.f.load8u(this.hostBase);
  }

  private store(size: number): void {
    if (size === 4) this.f.store32(this.hostBase);
    else if (size === 2) this.f.store16(this.hostBase);
    else this.f.store8(this.hostBase);
  }

  /** The host address of a hit: tlbHpa[slot] + page offset. */
  private hpa(a: { l: number; ix: number }): void {
    this.f.get(a.ix).load32(this.tlbHpa).get(a.l).const(0xfff).and().add();
  }

  /** A read of `size` bytes at seg:off into a new local (Cpu.rd8/16/32; with `save`, saveFlags on the slow path first). */
  read(size: number, seg: number, off: number, save = false): number {
    const f = this.f;
    const a = this.linear(seg, off);
    this.hit(seg, SL_TAGR, S_FASTR, size, a);
    f.if(0x7f);
    this.hpa(a); this.load(size);
    f.else();
    this.slowStart();
    f.const(this.k).const(seg).get(off).const(size).call(save ? IM_RDS : IM_RD);
    f.end();
    return this.keep();
  }

  /** A write of local `v` (`size` bytes) at seg:off (Cpu.wr8/16/32). */
  write(size: number, seg: number, off: number, v: number): void {
    const f = this.f;
    const a = this.linear(seg, off);
    this.hit(seg, SL_TAGW, S_FASTW, size, a);
    f.if();
    this.hpa(a); f.get(v); this.store(size);
    f.else();
    this.slowStart();
    f.const(this.k).const(seg).get(off).get(v).const(size).call(IM_WR);
    f.end();
  }

  /**
   * A read-modify-write (jit.ts rmw): when both the read and the write
   * hit, the host address is kept and written after `compute`; otherwise
   * Cpu's read with write intent (after saveFlags when `save`; Cpu.rdw8),
   * `compute`, Cpu's write of a read-modify-write (Cpu.wrw8; RD_INTENT
   * added to the size tells the `wr` import so).
   * `compute(p)` returns the local to write.
   */
  rmw(size: number, seg: number, off: number, save: boolean, compute: (p: number) => number): void {
    const f = this.f;
    const a = this.linear(seg, off);
    const th = this.local();
    this.hit(seg, SL_TAGR, S_FASTR, size, a);
    this.hit(seg, SL_TAGW, S_FASTW, size, a);
    f.and();
    f.if(0x7f);
    this.hpa(a); f.tee(th); this.load(size);
    f.else();
    f.const(-1).set(th);
    this.slowStart();
    f.const(this.k).const(seg).get(off).const(size + RD_INTENT).call(save ? IM_RDS : IM_RD);
    f.end();
    const p = this.keep();
    const x = compute(p);
    f.get(th).const(0).geS();
    f.if();
    f.get(th).get(x); this.store(size);
    f.else();
    this.slowStart();
    f.const(this.k).const(seg).get(off).get(x).const(size + RD_INTENT).call(IM_WR);
    f.end();
  }

  /** An ALU operation (jit.ts aluCode) of locals a and b at `bits` bits: returns the result's local and records the flags. */
  alu(o: number, a: number, b: number, bits: number): number {
    if (o === 2 || o === 3) return this.carry(o === 3, a, b, bits as 8 | 32);
    const f = this.f;
    f.get(a).get(b);
    let op: number;
    switch (o) {
      case 0: f.add(); op = LZ_ADD; break;
      case 1: f.or(); op = LZ_LOGIC; break;
      case 4: f.and(); op = LZ_LOGIC; break;
      case 5: case 7: f.sub(); op = LZ_SUB; break;
      case 6: f.xor(); op = LZ_LOGIC; break;
      default: throw new NoForm(`ALU operation ${o}`);
    }
    const x = this.keep();
    this.prod = { op, a, b, x, bits, cf: -1 };
    return x;
  }

  /**
   * ADC (or SBB with `sub`) of locals a and b at `bits` bits: CF read in,
   * the result, and its six flags computed at once as the Cpu's lazy
   * evaluation of LZ_ADC and LZ_SBB gives them (getCF, getOF, getAF), kept
   * as a setArith record (EFLAGS bits).
   */
  private carry(sub: boolean, a: number, b: number, bits: 8 | 16 | 32): number {
    const f = this.f;
    const cin = this.local();
    if (this.prod !== null) this.cf(this.prod); else f.call(IM_CFIN);
    f.set(cin);
    f.get(a).get(b);
    if (sub) f.sub(); else f.add();
    f.get(cin);
    if (sub) f.sub(); else f.add();
    const x = this.keep();
    const cf = this.local(), of = this.local(), af = this.local();
    // CF: ADC r <= a with a carry in, else r < a; SBB a <= b with a borrow in, else a < b (unsigned, at `bits`)
    const [p, q] = sub ? [a, b] : [x, a];
    this.masked(p, bits); this.masked(q, bits); f.leU();
    this.masked(p, bits); this.masked(q, bits); f.ltU();
    f.get(cin).select().set(cf);
    // OF: ADC as ADD ((a ^ r) & (b ^ r)), SBB as SUB ((a ^ b) & (a ^ r)), at the sign bit
    if (sub) f.get(a).get(b).xor().get(a).get(x).xor().and();
    else f.get(a).get(x).xor().get(b).get(x).xor().and();
    f.const(bits - 1).shrU().const(1).and().set(of);
    f.get(a).get(b).xor().get(x).xor().const(0x10).and().set(af);
    this.arith(x, cf, of, bits, af);
    return x;
  }

  /** INC or DEC of local `a` (32 bits): CF kept (Cpu.setLazyKeepCf). */
  incDec(dec: boolean, a: number, bits: number): number {
    const f = this.f;
    const cf = this.local();
    if (this.prod !== null) this.cf(this.prod); else f.call(IM_CFIN);
    f.set(cf);
    f.get(a).const(1);
    if (dec) f.sub(); else f.add();
    const x = this.keep();
    this.prod = { op: dec ? LZ_DEC : LZ_INC, a, b: this.constLocal(1), x, bits, cf };
    return x;
  }

  private masked(l: number, bits: number): void {
    this.f.get(l);
    if (bits !== 32) this.f.const((1 << bits) - 1).and();
  }

  /** Pushes CF (0 or 1) of a recorded flag update (Cpu.getCF). */
  /** Pushes bit `mask` of a setArith record's flags as 0 or 1. */
  private bit(p: Prod, mask: number): void {
    this.f.get(p.x).const(mask).and().const(0).ne();
  }

  cf(p: Prod): void {
    const f = this.f;
    if (p.op === ARITH) { this.bit(p, 1); return; }
    switch (p.op) {
      case LZ_ADD: this.masked(p.x, p.bits); this.masked(p.a, p.bits); f.ltU(); break;
      case LZ_SUB: this.masked(p.a, p.bits); this.masked(p.b, p.bits); f.ltU(); break;
      case LZ_INC: case LZ_DEC: f.get(p.cf); break;
      case LZ_NEG: this.masked(p.b, p.bits); f.const(0).ne(); break;
      default: f.const(0);
    }
  }

  private zf(p: Prod): void { if (p.op === ARITH) { this.bit(p, 0x40); return; } this.masked(p.x, p.bits); this.f.eqz(); }
  private sf(p: Prod): void { if (p.op === ARITH) { this.bit(p, 0x80); return; } this.f.get(p.x).const(p.bits - 1).shrU().const(1).and(); }
  private of(p: Prod): void {
    const f = this.f;
    if (p.op === ARITH) { this.bit(p, 0x800); return; }
    switch (p.op) {
      case LZ_ADD: f.get(p.a).get(p.x).xor().get(p.b).get(p.x).xor().and(); break;
      case LZ_SUB: f.get(p.a).get(p.b).xor().get(p.a).get(p.x).xor().and(); break;
      case LZ_INC: f.get(p.x).get(p.a).const(-1).xor().and(); break;
      case LZ_DEC: f.get(p.a).get(p.x).const(-1).xor().and(); break;
      case LZ_NEG: f.get(p.b).get(p.x).and(); break;
      default: f.const(0); return;
    }
    f.const(p.bits - 1).shrU().const(1).and();
  }

  /** Pushes condition cc (0..15; not PF) as 0 or 1 (Cpu.cond). */
  cond(cc: number): void {
    const f = this.f;
    const p = this.prod;
    if (cc >> 1 === 5) {
      if (p === null || p.op !== ARITH) throw new NoForm('a condition on PF');
      this.bit(p, 4);
      if (cc & 1) f.eqz();
      return;
    }
    if (p === null) {
      f.const(cc).call(IM_COND);
      return;
    }
    const t = cc >> 1;
    if (p.op === LZ_SUB && p.bits === 32 && t !== 0 && t !== 4) {
      // CMP and SUB: the comparison itself (CF = a <u b, ZF = a == b, SF != OF = a <s b)
      f.get(p.a).get(p.b);
      if (t === 1) f.ltU(); else if (t === 2) f.eq(); else if (t === 3) f.leU(); else if (t === 6) f.ltS(); else f.leS();
    } else {
      switch (t) {
        case 0: this.of(p); break;
        case 1: this.cf(p); break;
        case 2: this.zf(p); break;
        case 3: this.cf(p); this.zf(p); f.or(); break;
        case 4: this.sf(p); break;
        case 6: this.sf(p); this.of(p); f.ne(); break;
        default: this.zf(p); this.sf(p); this.of(p); f.ne(); f.or();
      }
    }
    if (cc & 1) f.eqz();
  }
}

/** Per instruction, what the slow paths' contract stores need (jit.ts: instrEip, the decode fields). */
export interface InsnInfo { rel: number; o32: boolean; a32: boolean; seg: number; rep: number; lock: boolean }

/** A block's function generated, not yet compiled (WasmRuntime.flush compiles a batch of them in one module). */
export interface PendingWasm { w: WasmBlock }

/**
 * Generates block `b`'s WebAssembly function (its bytes at page[off..]),
 * or returns null when one of its instructions has no form here (the
 * caller compiles it to JavaScript then). The function runs once
 * WasmRuntime.flush has compiled it.
 */
export function generateWasm(b: Block, page: Uint8Array, off: number, mmu: Mmu, st: WasmState): PendingWasm | null {
  const mem = st.memory;
  if (mem === null) return null;
  const g = new Gen(mmu, 3);
  const rt = st.runtime ??= new WasmRuntime(mmu, mem, st.pages);
  const index = rt.reserve();
  let r: { infos: InsnInfo[]; targets: number[] };
  try {
    r = member(g, b, page, off, index);
  } catch (e) {
    rt.release(index);
    if (e instanceof NoForm) return null;
    throw e;
  }
  const w = new WasmBlock(b, index, r.infos, g.late);
  w.body = Uint8Array.from(g.f.bytes);
  w.locals = g.f.localCount;
  w.targets = r.targets;
  return { w };
}

/**
 * Emits block `b`'s code (at page[off..], table index `index`) into g's
 * function: the entry stores and the block as a loop (for `again`); what
 * follows (the count as the function's result, or a page function's
 * branches: pageFunction) is the caller's. Returns the per-instruction
 * records and the offsets from the block's start at which its EIP can
 * continue when it ends cleanly (a direct branch's targets, or the next
 * instruction; none after RET). Throws NoForm when an instruction has no
 * form here. The code depends on nothing outside it but the parameters
 * and its own locals, so a page function can take it as it is.
 */
function member(g: Gen, b: Block, page: Uint8Array, off: number, index: number): { infos: InsnInfo[]; targets: number[] } {
  const f = g.f;
  const insns = b.insns;
  const infos: InsnInfo[] = [];
  let rel = 0;
  g.len = insns.length;
  // its table index, known to its code: written on entry for the imports (with EIP at its start), and the count
  f.const(0).const(index).store32(slot(SL_CUR));
  f.const(0).get(P_E).store32(slot(SL_E));
  f.const(0).get(P_N).store32(slot(SL_N));
  // the whole block is a loop that `again` branches to
  f.loop();
  let targets: number[] = [];
  for (let k = 0; k < insns.length; k++) {
    const d = insns[k]!;
    const last = k === insns.length - 1;
    g.k = k;
    infos.push({ rel, o32: d.o32, a32: d.a32, seg: d.seg, rep: d.rep, lock: d.lock });
    if (last) {
      f.const(0).const(0).load32(S_REG + 16).store32(slot(SL_ESP0));
      f.const(0).const(packLast(rel, d.o32, d.a32, d.lock, d.rep, d.seg)).store32(slot(SL_LAST));
    }
    const next = rel + d.len;
    // an instruction without a form here calls its interpreter handler (the code emitted for it so far taken back)
    const mark = f.bytes.length, prod: Prod | null = g.prod;
    let branch: boolean;
    try {
      branch = emit(g, d, page, off + rel, next, last);
    } catch (e) {
      if (!(e instanceof NoForm)) throw e;
      if (STATS) STATS_OBJ[e.message] = (STATS_OBJ[e.message] ?? 0) + 1;
      // a form the JavaScript jit emits inline (a shift, IMUL, ...): the block is better JavaScript for now
      if (!handlerAnyway(d, page, off + rel)) throw e;
      f.bytes.length = mark;
      g.prod = prod;
      g.depth = 0;
      g.late.delete(k);
      g.handler();
      branch = false;
    }
    if (last) {
      g.flush();
      if (!branch) f.const(0).get(P_E).const(next).add().store32(slot(SL_EIP));
      targets = branch ? branchTargets(d, page, off + rel, next) : [next];
    } else {
      // the exit check after a slow path (jit.ts)
      f.get(g.s).if();
      f.const(0).set(g.s);
      f.const(0).load32(slot(SL_EXIT)).if();
      g.flush();
      f.const(0).get(P_E).const(next).add().store32(slot(SL_EIP));
      f.get(P_N).const(k + 1).add().const(-1).xor().return();
      f.end();
      f.end();
    }
    g.endInsn();
    rel = next;
  }
  f.end();
  return { infos, targets };
}

/** The offsets from the block's start at which a direct branch `d` (the block's last instruction, ending at `next`) can leave EIP; none for RET. */
function branchTargets(d: Insn, page: Uint8Array, at: number, next: number): number[] {
  if (d.kind === K_JCC) return [next + (d.imm | 0), next];
  if (d.kind === K_CALL) return [next + (d.imm | 0)];
  const op = d.op;
  if (d.kind !== K_RET && d.opEnd === 1 && (op === 0xe9 || op === 0xeb)) return [next + (op === 0xe9 ? le32(page, at + 1) : (page[at + 1]! << 24) >> 24)];
  return [];
}

/** A block's function of its own (a code entry): its code, then its count as the result. */
function alone(w: WasmBlock): Uint8Array {
  return codeEntry(w.locals, [w.body, new Code(3).get(P_N).const(w.count).add().bytes]);
}

/**
 * A page function (WasmRuntime.flush), as a code entry: compiled blocks
 * `ws` of one guest page (one frame, so that a write to it drops them
 * all), in one WebAssembly function of (n, e, entry): a loop around a
 * br_table on `entry` over the blocks' code (member's, as generated). A
 * block that ends cleanly (no slow path or handler ran: SL_DIRTY clear)
 * with EIP at the start of another block of the function (on the same
 * linear page: the offset is within the page), which fits in the slice,
 * continues there inside the function, as the dispatcher would have
 * chained to it (the same checks; the next block's code stores SL_CUR,
 * SL_E and SL_N); otherwise it returns its count. Each block's table
 * entry is a small function calling this one with its entry (pageEntry).
 */
function pageFunction(ws: WasmBlock[]): Uint8Array {
  const K = ws.length;
  const at = new Map<number, number>();
  ws.forEach((w, j) => at.set(w.gpa & 0xfff, j));
  let most = 0;
  for (const w of ws) most = Math.max(most, w.locals);
  // the link's locals after every block's own
  const cnt = 3 + most, ne = cnt + 1;
  const parts: ArrayLike<number>[] = [];
  const head = new Code(3);
  head.loop();
  for (let j = 0; j < K; j++) head.block();
  head.get(P_ENTRY).brTable(ws.map((_, j) => j), K - 1);
  head.end();
  parts.push(head.bytes);
  ws.forEach((w, k) => {
    parts.push(w.body);
    const f = new Code(3);
    f.get(P_N).const(w.count).add().set(cnt);
    const js: [number, number][] = [];
    for (const t of w.targets) {
      const o = (w.gpa & 0xfff) + t;
      const j = o >= 0 && o < 4096 ? at.get(o) : undefined;
      if (j !== undefined && !js.some((x) => x[1] === j)) js.push([t, j]);
    }
    if (js.length !== 0) {
      f.const(0).load32(slot(SL_DIRTY)).eqz().if();
      f.const(0).load32(slot(SL_EIP)).set(ne);
      for (const [t, j] of js) {
        f.get(ne).get(P_E).const(t).add().eq();
        f.get(cnt).const(ws[j]!.count).add().const(0).load32(slot(SL_BUDGET)).leS().and();
        f.if();
        f.get(cnt).set(P_N);
        f.get(ne).set(P_E);
        if (PAGE_LINKS.count) f.const(0).const(0).load32(slot(SL_LINKS)).const(1).add().store32(slot(SL_LINKS));
        // a later block: straight to the end of its `block` (its code follows); else through the loop's br_table
        if (j > k) f.br(j - k - 1 + 2);
        else f.const(j).set(P_ENTRY).br(K - 1 - k + 2);
        f.end();
      }
      f.end();
    }
    f.get(cnt).return();
    f.end();
    parts.push(f.bytes);
  });
  parts.push([0x00]);
  return codeEntry(most + 2, parts);
}

/** A block's table entry in a page function: (n, e, _) -> that function's (n, e, entry). */
function pageEntry(entry: number, fn: number): Code {
  const f = new Code(3);
  f.get(P_N).get(P_E).const(entry).call(fn);
  return f;
}

/** The low half of the product of locals p and q (IMUL), with the flags alu.ts mulFlags sets. */
function imul(g: Gen, p: number, q: number): number {
  const f = g.f;
  f.get(p).get(q).mul();
  const x = g.keep();
  f.get(p).ext64().get(q).ext64().mul64().get(x).ext64().ne64();
  const ov = g.keep();
  g.arith(x, ov, ov, 32);
  return x;
}

/**
 * Whether an instruction without a form here is one that the JavaScript
 * jit also leaves to its handler, so that calling the handler from
 * WebAssembly (Gen.handler) loses nothing against a JavaScript block:
 * string instructions, PUSHF/POPF, CLI/STI, HLT, port I/O, CPUID, RDTSC.
 * A block with any other such instruction (a rotate, MUL, BT, ...,
 * which the JavaScript jit emits inline) is left to JavaScript whole: a
 * handler call from WebAssembly costs more than the whole instruction
 * does there (docs/bench.md, "The wasm engine").
 */
function handlerAnyway(d: Insn, page: Uint8Array, at: number): boolean {
  const op = d.op;
  if (d.opEnd >= 2 && page[at + d.opEnd - 2] === 0x0f) return op === 0xa2 || op === 0x31;
  return (op >= 0xa4 && op <= 0xa7) || (op >= 0xaa && op <= 0xaf) || op === 0x9c || op === 0x9d || op === 0xfa || op === 0xfb || op === 0xf4 ||
    (op >= 0xe4 && op <= 0xe7) || (op >= 0xec && op <= 0xef) || (op >= 0x6c && op <= 0x6f);
}

/**
 * Emits instruction `d` (at page[at..], `next` bytes after the block's
 * start when it ends). Returns whether it set EIP itself (a branch).
 * Throws NoForm for an instruction without a form here.
 */
function emit(g: Gen, d: Insn, page: Uint8Array, at: number, next: number, last: boolean): boolean {
  const f = g.f;
  const m = d.modrm, reg = (m >> 3) & 7, rm = m & 7, mem = m < 0xc0;
  const op = d.op;
  const map0f = d.opEnd >= 2 && page[at + d.opEnd - 2] === 0x0f;
  const base = d.a32 && !d.lock && d.rep === 0;
  const one = base && !map0f;
  const one32 = one && d.o32, one16 = one && !d.o32;
  const two32 = base && map0f && d.o32;
  const plain = d.o32 && base && d.opEnd === 1;
  const eip = (target: () => void): void => { f.const(0); target(); f.store32(slot(SL_EIP)); };
  /** ALU operation o of r/m (register or memory) with the value of `src` (a callback pushing it, evaluated after a memory read), at `bits`. */
  const aluRm = (o: number, bits: 8 | 32, src: () => number): void => {
    if (!mem) {
      const p = bits === 8 ? (g.r8(rm), g.keep()) : (g.reg(rm), g.keep());
      const x = g.alu(o, p, src(), bits);
      if (o !== 7) { if (bits === 8) g.setR8(rm, x); else g.setReg(rm, x); }
      return;
    }
    const a = g.ea(d);
    if (o === 7) {
      const p = g.read(bits / 8, d.eaSeg, a, true);
      g.alu(o, p, src(), bits);
    } else {
      g.rmw(bits / 8, d.eaSeg, a, true, (p) => g.alu(o, p, src(), bits));
    }
  };
  /** ALU Gv/Gb, r/m: the register is the destination. */
  const aluReg = (o: number, bits: 8 | 32): void => {
    let q: number;
    if (mem) { const a = g.ea(d); q = g.read(bits / 8, d.eaSeg, a); } else { if (bits === 8) g.r8(rm); else g.reg(rm); q = g.keep(); }
    if (bits === 8) g.r8(reg); else g.reg(reg);
    const p = g.keep();
    const x = g.alu(o, p, q, bits);
    if (o !== 7) { if (bits === 8) g.setR8(reg, x); else g.setReg(reg, x); }
  };
  /** The immediate of a group 1 or TEST with a memory operand: fetched again when the read's slow path dropped the block (jit.ts lateImm). */
  const lateImm = (imm: number, size: number): number => {
    if (!mem) return g.constLocal(imm);
    g.late.set(g.k, { imm, modrmEnd: d.modrmEnd, size });
    f.get(g.s).if(0x7f).const(g.k).call(IM_IMM).else().const(imm).end();
    return g.keep();
  };
  const push = (v: number): void => {
    f.const(0).load32(S_REG + 16).const(4).sub();
    const sp = g.keep();
    g.write(4, SS, sp, v);
    g.setReg(4, sp);
  };
  switch (d.kind) {
    case K_MOV_EV_GV:
      if (!mem) { g.reg(reg); g.setReg(rm, g.keep()); } else { const a = g.ea(d); g.reg(reg); g.write(4, d.eaSeg, a, g.keep()); }
      return false;
    case K_MOV_GV_EV:
      if (!mem) { g.reg(rm); g.setReg(reg, g.keep()); } else { const a = g.ea(d); g.setReg(reg, g.read(4, d.eaSeg, a)); }
      return false;
    case K_LEA:
      g.setReg(reg, g.ea(d));
      return false;
    case K_ALU_EV_GV:
      aluRm(op >> 3, 32, () => (g.reg(reg), g.keep()));
      return false;
    case K_ALU_GV_EV:
      aluReg(op >> 3, 32);
      return false;
    case K_ALU_EV_IB:
      aluRm(reg, 32, () => lateImm(d.imm | 0, 1));
      return false;
    case K_TEST_EV_GV: {
      let p: number;
      if (mem) { const a = g.ea(d); p = g.read(4, d.eaSeg, a); } else { g.reg(rm); p = g.keep(); }
      g.reg(reg);
      g.alu(4, p, g.keep(), 32);
      return false;
    }
    case K_JCC: {
      g.cond(op & 15);
      const c = g.keep();
      if (last && next + (d.imm | 0) === 0) {
        f.get(c).if();
        g.depth = 1;
        g.again();
        g.depth = 0;
        f.end();
      }
      // select: the first value when the condition is nonzero
      eip(() => { f.get(P_E).const((next + (d.imm | 0)) | 0).add().get(P_E).const(next).add().get(c).select(); });
      return true;
    }
    case K_PUSH_R:
      g.reg(op & 7);
      push(g.keep());
      return false;
    case K_POP_R: {
      f.const(0).load32(S_REG + 16);
      const sp = g.keep();
      const v = g.read(4, SS, sp);
      f.const(0).get(sp).const(4).add().store32(S_REG + 16);
      g.setReg(op & 7, v);
      return false;
    }
    case K_CALL: {
      const ret = g.local();
      f.get(P_E).const(next).add().set(ret);
      push(ret);
      eip(() => { f.get(ret).const(d.imm | 0).add(); });
      return true;
    }
    case K_RET: {
      f.const(0).load32(S_REG + 16);
      const sp = g.keep();
      const v = g.read(4, SS, sp);
      eip(() => { f.get(v); });
      f.const(0).get(sp).const(4).add().store32(S_REG + 16);
      return true;
    }
    default:
      break;
  }
  if (plain && op >= 0xb8 && op <= 0xbf && d.len === 5) {
    g.setReg(op & 7, g.constLocal(le32(page, at + 1)));
  } else if (one && op >= 0xb0 && op <= 0xb7 && d.len === d.opEnd + 1) {
    g.setR8(op & 7, g.constLocal(page[at + d.opEnd]!));
  } else if (plain && op >= 0x40 && op <= 0x4f) {
    g.reg(op & 7);
    g.setReg(op & 7, g.incDec(op >= 0x48, g.keep(), 32));
  } else if (one32 && op < 0x40 && (op & 7) === 5) {
    const o = op >> 3;
    g.reg(0);
    const p = g.keep();
    const x = g.alu(o, p, g.constLocal(le32(page, at + d.opEnd)), 32);
    if (o !== 7) g.setReg(0, x);
  } else if (one && op < 0x40 && (op & 7) === 4) {
    const o = op >> 3;
    g.r8(0);
    const p = g.keep();
    const x = g.alu(o, p, g.constLocal(page[at + d.opEnd]!), 8);
    if (o !== 7) g.setR8(0, x);
  } else if (one && d.ea === 1 && op < 0x40 && (op & 7) === 0) {
    aluRm(op >> 3, 8, () => (g.r8(reg), g.keep()));
  } else if (one && d.ea === 1 && op < 0x40 && (op & 7) === 2) {
    aluReg(op >> 3, 8);
  } else if (one && d.ea === 1 && op === 0x84) {
    let p: number;
    if (mem) { const a = g.ea(d); p = g.read(1, d.eaSeg, a); } else { g.r8(rm); p = g.keep(); }
    g.r8(reg);
    g.alu(4, p, g.keep(), 8);
  } else if (plain && op === 0x81 && d.ea === 1) {
    aluRm(reg, 32, () => lateImm(le32(page, at + d.modrmEnd), 4));
  } else if (one && op === 0x80 && d.ea === 1) {
    aluRm(reg, 8, () => lateImm(page[at + d.modrmEnd]!, 0));
  } else if (one32 && op === 0xc7 && d.ea === 1 && reg === 0) {
    const imm = le32(page, at + d.modrmEnd);
    if (!mem) g.setReg(rm, g.constLocal(imm));
    else { const a = g.ea(d); g.write(4, d.eaSeg, a, g.constLocal(imm)); }
  } else if (one && op === 0xc6 && d.ea === 1 && reg === 0) {
    const imm = page[at + d.modrmEnd]!;
    if (!mem) g.setR8(rm, g.constLocal(imm));
    else { const a = g.ea(d); g.write(1, d.eaSeg, a, g.constLocal(imm)); }
  } else if (one && (op === 0x88 || op === 0x8a || (one16 && (op === 0x89 || op === 0x8b))) && d.ea === 1) {
    // MOV Eb, Gb / Gb, Eb, and Ew, Gw / Gw, Ew with a 16-bit operand (the 32-bit ones are K_MOV_*)
    const size = op & 1 ? 2 : 1;
    const get = (k: number): number => { if (size === 1) g.r8(k); else g.r16(k); return g.keep(); };
    const put = (k: number, l: number): void => { if (size === 1) g.setR8(k, l); else g.setR16(k, l); };
    if (!mem) {
      if (op & 2) put(reg, get(rm)); else put(rm, get(reg));
    } else {
      const a = g.ea(d);
      if (op & 2) put(reg, g.read(size, d.eaSeg, a)); else g.write(size, d.eaSeg, a, get(reg));
    }
  } else if (two32 && op >= 0xb6 && op <= 0xbf && (op & 6) === 6 && d.ea === 1) {
    // MOVZX/MOVSX Gv, Eb/Ew
    let v: number;
    if (mem) { const a = g.ea(d); v = g.read(op & 1 ? 2 : 1, d.eaSeg, a); } else { if (op & 1) g.r16(rm); else g.r8(rm); v = g.keep(); }
    f.get(v);
    if (op === 0xbf) f.ext16(); else if (op === 0xbe) f.ext8();
    g.setReg(reg, g.keep());
  } else if (one32 && (op === 0x6a || op === 0x68)) {
    push(g.constLocal(op === 0x68 ? le32(page, at + d.opEnd) : (page[at + d.opEnd]! << 24) >> 24));
  } else if (one32 && (op === 0xe9 || op === 0xeb)) {
    const disp = op === 0xe9 ? le32(page, at + d.opEnd) : (page[at + d.opEnd]! << 24) >> 24;
    if (!last) throw new Error('wasm compile: a JMP that does not end its block');
    if (next + disp === 0) g.again();
    eip(() => { f.get(P_E).const((next + disp) | 0).add(); });
    return true;
  } else if (one && (op === 0xc1 || op === 0xd1) && d.ea === 1 && !mem && (reg === 4 || reg === 5 || reg === 6 || reg === 7)) {
    // SHL, SHR, SAR of a 32- or 16-bit register by a constant (jit.ts shiftCode): a count of 0 mod 32 changes
    // nothing; at 16 bits, counts 16 to 31 shift everything out
    const bits = d.o32 ? 32 : 16;
    const n = (op === 0xc1 ? page[at + d.modrmEnd]! : 1) & 31;
    if (n !== 0) {
      if (bits === 32) g.reg(rm); else g.r16(rm);
      const a = g.keep();
      const x = g.local(), cf = g.local(), of = g.local();
      /** pushes `a`, sign-extended at 16 bits */
      const signed = (): void => { f.get(a); if (bits === 16) f.ext16(); };
      const low = (): void => { if (bits === 16) f.const(0xffff).and(); };
      if (reg === 5) {
        f.get(a).const(n).shrU().set(x);
        if (n <= bits) f.get(a).const(n - 1).shrU().const(1).and(); else f.const(0);
        f.set(cf);
        if (n === 1) f.get(a).const(bits - 1).shrU(); else f.const(0);
        f.set(of);
      } else if (reg === 7) {
        signed(); f.const(Math.min(n, bits - 1)).shrS(); low(); f.set(x);
        signed(); f.const(Math.min(n, bits) - 1).shrS().const(1).and().set(cf);
        f.const(0).set(of);
      } else {
        f.get(a).const(n).shl(); low(); f.set(x);
        if (n <= bits) f.get(a).const(bits - n).shrU().const(1).and(); else f.const(0);
        f.set(cf);
        f.get(x).const(bits - 1).shrU().get(cf).xor().set(of);
      }
      g.arith(x, cf, of, bits);
      if (bits === 32) g.setReg(rm, x); else g.setR16(rm, x);
    }
  } else if (one32 && op === 0xd3 && d.ea === 1 && !mem && (reg === 4 || reg === 5 || reg === 6 || reg === 7)) {
    // SHL, SHR, SAR of a register by CL: a count of 0 mod 32 changes nothing, the flags included, so the
    // flags before are written out and the new ones written over them only for a nonzero count (known after it: none)
    g.flush();
    g.r8(1); f.const(31).and();
    const n = g.keep();
    f.get(n).if();
    g.reg(rm);
    const a = g.keep();
    const x = g.local(), cf = g.local(), of = g.local();
    if (reg === 5) {
      f.get(a).get(n).shrU().set(x);
      f.get(a).get(n).const(1).sub().shrU().const(1).and().set(cf);
      f.get(a).const(31).shrU().get(n).const(1).eq().and().set(of);
    } else if (reg === 7) {
      f.get(a).get(n).shrS().set(x);
      f.get(a).get(n).const(1).sub().shrS().const(1).and().set(cf);
      f.const(0).set(of);
    } else {
      f.get(a).get(n).shl().set(x);
      f.get(a).const(32).get(n).sub().shrU().const(1).and().set(cf);
      f.get(x).const(31).shrU().get(cf).xor().set(of);
    }
    g.arith(x, cf, of, 32);
    g.flush();
    g.setReg(rm, x);
    f.end();
    g.prod = null;
  } else if (two32 && op === 0xaf && d.ea === 1) {
    // IMUL Gv, Ev (jit.ts): the low half, and CF = OF = whether the 64-bit product differs from it sign-extended
    g.reg(reg);
    const p = g.keep();
    let q: number;
    if (mem) { const a = g.ea(d); q = g.read(4, d.eaSeg, a); } else { g.reg(rm); q = g.keep(); }
    g.setReg(reg, imul(g, p, q));
  } else if (one32 && (op === 0x69 || op === 0x6b) && d.ea === 1) {
    // IMUL Gv, Ev, Iz/Ib: the immediate fetched after the read
    let p: number;
    if (mem) { const a = g.ea(d); p = g.read(4, d.eaSeg, a); } else { g.reg(rm); p = g.keep(); }
    const q = lateImm(op === 0x69 ? le32(page, at + d.modrmEnd) : (page[at + d.modrmEnd]! << 24) >> 24, op === 0x69 ? 4 : 1);
    g.setReg(reg, imul(g, p, q));
  } else if (one16 && op === 0xc7 && d.ea === 1 && reg === 0) {
    // MOV Ew, Iw
    const imm = page[at + d.modrmEnd]! | (page[at + d.modrmEnd + 1]! << 8);
    if (!mem) g.setR16(rm, g.constLocal(imm));
    else { const a = g.ea(d); g.write(2, d.eaSeg, a, g.constLocal(imm)); }
  } else if (one && op === 0xf6 && d.ea === 1 && reg <= 1) {
    // TEST Eb, Ib (group 3): the immediate is fetched after the read
    let p: number;
    if (mem) { const a = g.ea(d); p = g.read(1, d.eaSeg, a); } else { g.r8(rm); p = g.keep(); }
    g.alu(4, p, lateImm(page[at + d.modrmEnd]!, 0), 8);
  } else if (one32 && op === 0xf7 && d.ea === 1 && reg <= 3) {
    // group 3: TEST Ev, Iz (the immediate after the read), NOT, NEG
    if (reg <= 1) {
      let p: number;
      if (mem) { const a = g.ea(d); p = g.read(4, d.eaSeg, a); } else { g.reg(rm); p = g.keep(); }
      g.alu(4, p, lateImm(le32(page, at + d.modrmEnd), 4), 32);
    } else {
      const compute = (p: number): number => {
        if (reg === 2) { f.get(p).const(-1).xor(); return g.keep(); }
        f.const(0).get(p).sub();
        const x = g.keep();
        g.prod = { op: LZ_NEG, a: g.constLocal(0), b: p, x, bits: 32, cf: -1 };
        return x;
      };
      if (mem) { const a = g.ea(d); g.rmw(4, d.eaSeg, a, reg === 3, compute); } else { g.reg(rm); g.setReg(rm, compute(g.keep())); }
    }
  } else if (one32 && op === 0xff && d.ea === 1 && reg <= 1) {
    // INC/DEC Ev (group 5)
    if (mem) { const a = g.ea(d); g.rmw(4, d.eaSeg, a, true, (p) => g.incDec(reg === 1, p, 32)); } else { g.reg(rm); g.setReg(rm, g.incDec(reg === 1, g.keep(), 32)); }
  } else if (one && op === 0xfe && d.ea === 1 && reg <= 1) {
    // INC/DEC Eb
    if (mem) { const a = g.ea(d); g.rmw(1, d.eaSeg, a, true, (p) => g.incDec(reg === 1, p, 8)); } else { g.r8(rm); g.setR8(rm, g.incDec(reg === 1, g.keep(), 8)); }
  } else if (one32 && op === 0xff && d.ea === 1 && reg === 6) {
    // PUSH Ev: the operand read, then the push
    let v: number;
    if (mem) { const a = g.ea(d); v = g.read(4, d.eaSeg, a); } else { g.reg(rm); v = g.keep(); }
    push(v);
  } else if (one && op === 0x90) {
    // NOP (no REP prefix: F3 90 is PAUSE, left to its handler)
  } else if (one32 && op === 0x99) {
    g.reg(0); f.const(31).shrS();
    g.setReg(2, g.keep());
  } else if (one32 && op === 0x98) {
    g.r16(0); f.ext16();
    g.setReg(0, g.keep());
  } else if (one32 && op > 0x90 && op <= 0x97) {
    g.reg(0); const t = g.keep();
    g.reg(op & 7); g.setReg(0, g.keep());
    g.setReg(op & 7, t);
  } else if (one32 && op === 0x87 && d.ea === 1 && !mem) {
    g.reg(rm); const t = g.keep();
    g.reg(reg); g.setReg(rm, g.keep());
    g.setReg(reg, t);
  } else if (base && map0f && op >= 0x90 && op <= 0x9f && d.ea === 1) {
    // SETcc Eb
    if (!mem) { g.cond(op & 15); g.setR8(rm, g.keep()); } else { const a = g.ea(d); g.cond(op & 15); g.write(1, d.eaSeg, a, g.keep()); }
  } else if (two32 && op >= 0x40 && op <= 0x4f && d.ea === 1) {
    // CMOVcc Gv, Ev: the source is read either way
    let v: number;
    if (!mem) { g.reg(rm); v = g.keep(); } else { const a = g.ea(d); v = g.read(4, d.eaSeg, a); }
    g.cond(op & 15);
    f.if(); g.setReg(reg, v); f.end();
  } else if (one && (op === 0xa8 || (op === 0xa9 && d.o32))) {
    if (op === 0xa8) { g.r8(0); const p = g.keep(); g.alu(4, p, g.constLocal(page[at + d.opEnd]!), 8); } else { g.reg(0); const p = g.keep(); g.alu(4, p, g.constLocal(le32(page, at + d.opEnd)), 32); }
  } else if (one && op >= 0xa0 && op <= 0xa3 && (d.o32 || (op & 1) === 0)) {
    // MOV AL/eAX, moffs and moffs, AL/eAX
    const o = g.constLocal(le32(page, at + d.opEnd));
    const sg = d.seg >= 0 ? d.seg : 3;
    if (op === 0xa0) g.setR8(0, g.read(1, sg, o));
    else if (op === 0xa1) g.setReg(0, g.read(4, sg, o));
    else if (op === 0xa2) { g.r8(0); g.write(1, sg, o, g.keep()); } else { g.reg(0); g.write(4, sg, o, g.keep()); }
  } else if (one32 && op === 0xc9) {
    // LEAVE: EBP read at SS:EBP, ESP = EBP + 4, then EBP
    g.reg(5);
    const bp = g.keep();
    const v = g.read(4, SS, bp);
    f.const(0).get(bp).const(4).add().store32(S_REG + 16);
    g.setReg(5, v);
  } else {
    throw new NoForm(`${d.rep ? `rep${d.rep} ` : ''}${d.o32 ? '' : 'o16 '}${map0f ? '0f ' : ''}${op.toString(16)}${d.ea ? `/${reg}${mem ? 'm' : 'r'}` : ''}`);
  }
  return false;
}

/**
 * The blocks of one page function: their table indices are freed only
 * once all of them are dropped (WasmRuntime.release). A write to their
 * frame drops them all at once; but a block can also be dropped alone (one
 * decoded at its address for another CS.D replaces it), and the function
 * can still branch to it: its code is still right for 32-bit code (its
 * bytes are unchanged) and names its index for the imports, so the index
 * must still name it.
 */
export interface PageGroup { members: WasmBlock[]; live: number }

/** What the shared entry (runWasm) and the imports need of a compiled block. */
export class WasmBlock {
  /** the jump-cache entry that names it (WasmRuntime.enter), or -1 */
  jcAt = -1;
  /** the page function it is compiled in (set when it is installed), or null */
  group: PageGroup | null = null;
  /** its code as member() generated it (until it is compiled), the locals it uses beyond the parameters, and where its EIP can continue (WasmRuntime.flush puts these in a function) */
  body: Uint8Array = new Uint8Array(0);
  locals = 0;
  targets: number[] = [];
  /** the block's guest-physical address and instruction count, here so that entering it reads only this record */
  readonly gpa: number;
  readonly count: number;
  constructor(
    readonly block: Block,
    /** its function's index in the runtime's table */
    readonly slot: number,
    readonly infos: InsnInfo[],
    readonly late: Map<number, Late>,
  ) {
    this.gpa = block.gpa | 0;
    this.count = infos.length;
  }
}

/** The type of a compiled block's function: (n, e) -> count or ~count. */
const BLOCK_TYPE = { params: 3, results: 1 as const };
/** A page function's: (n, e, entry) -> count or ~count (a block's own ignores entry, so that both are of one type). */
const NO_BODY = new Uint8Array(0);
const PAGE_TYPE = BLOCK_TYPE;
/** A jump-cache entry no block fits: address -1, a count above any slice. */
const JC_NONE_LEN = 0x7fffffff;

/**
 * The JavaScript side of one wasm engine (one machine): the table of
 * compiled blocks, the dispatcher through which JavaScript enters them,
 * the jump cache, and the imports every block shares. Each compiled block
 * writes its table index and start EIP to SL_CUR and SL_E on entry, so the
 * imports know which block and instruction called them.
 *
 * The dispatcher (a WebAssembly function) calls the block, and while it
 * returns its count (not ~count: nothing a slow path or handler could
 * change happened) and EIP stays on the same linear page, looks the next
 * EIP's guest-physical address up in the jump cache and calls that block
 * too if it fits in the slice: what Cpu.runCompiled would do (a clean
 * return leaves halt, the interrupt poll, CS.D, TF and the fetch page as
 * they were), without a return to JavaScript. The jump cache holds every
 * block runWasm entered, by guest-physical address (a block's key with
 * CS.D, and only 32-bit code is compiled), until the block is dropped.
 */
export class WasmRuntime {
  readonly S: Int32Array;
  readonly jc: Int32Array;
  readonly table: WasmTable;
  readonly dispatch: (slot: number, n: number, e: number) => number;
  readonly env: Record<string, unknown>;
  /** compiled blocks by table index (a freed index keeps its last block until reused; null: never used) */
  readonly blocks: (WasmBlock | null)[] = [];
  private readonly free: number[] = [];
  /** the running CPU and the linear page it runs on (set by runWasm) */
  c: Cpu = null as unknown as Cpu;
  PAGE = 0;
  /** whether the blocks of one page compiled in one batch share a page function (pageFunction); tests turn it off to compare */
  pageFunctions = true;

  constructor(readonly mmu: Mmu, readonly memory: WasmMemory, readonly pages: number) {
    this.S = new Int32Array(memory.buffer, S_SLOTS, SLOT_COUNT);
    this.jc = new Int32Array(memory.buffer, S_JC, 3 * JC_SIZE);
    for (let i = 0; i < JC_SIZE; i++) { this.jc[3 * i] = -1; this.jc[3 * i + 2] = JC_NONE_LEN; }
    this.table = new WA.Table({ element: 'anyfunc', initial: 64 });
    this.dispatch = instantiate(moduleBytes({ memoryPages: pages, table: 0, types: [BLOCK_TYPE], imports: [], funcs: [{ name: 'dispatch', type: { params: 3, results: 1 }, code: dispatcher(mmu.tlbMask, mmu.soft.gpa.byteOffset) }] }), { memory, table: this.table }).dispatch as (slot: number, n: number, e: number) => number;
    const S = this.S;
    if (LINK_STATS) process.on('exit', () => console.error(`dispatcher steps: ${S[SL_STEPS]! >>> 0}, branches inside page functions: ${S[SL_LINKS]! >>> 0}`));
    const cur = (): WasmBlock => this.blocks[S[SL_CUR]!]!;
    const pre = (k: number): void => {
      this.syncPage();
      const c = this.c, i = cur().infos[k]!;
      c.instrEip = (S[SL_E]! + i.rel) | 0;
      c.instrEsp = c.reg32[4]!;
      c.executed = S[SL_N]! + k + 1;
      decode(c, i);
      if (S[SL_FLSET] !== 0) this.applyFlags();
    };
    const post = (k: number): void => {
      const c = this.c;
      S[SL_EXIT] = c.halted || S[SL_N]! + k + 1 >= c.budget || c.pollIntr || !cur().block.valid || c.fetchPage !== this.PAGE ? 1 : 0;
      S[SL_DIRTY] = 1;
      S[SL_BUDGET] = c.budget;
      S[SL_TAGR] = mmu.tagR32.byteOffset;
      S[SL_TAGW] = mmu.tagW32.byteOffset;
      S[SL_TAGX] = mmu.tagX32.byteOffset;
      S[SL_MEASURE] = mmu.measure ? 1 : 0;
    };
    /** Cpu's read for a slow path of instruction k, after saveFlags when `save` (jit.ts rdSave); with write intent when `size` carries RD_INTENT. */
    const read = (k: number, seg: number, off: number, size: number, save: boolean): number => {
      pre(k);
      const c = this.c;
      if (save) c.saveFlags();
      const v = size >= RD_INTENT
        ? (size === 4 + RD_INTENT ? c.rdw32(seg, off) : size === 2 + RD_INTENT ? c.rdw16(seg, off) : c.rdw8(seg, off))
        : size === 4 ? c.rd32(seg, off) : size === 2 ? c.rd16(seg, off) : c.rd8(seg, off);
      post(k);
      return v;
    };
    this.env = {
      memory,
      table: this.table,
      rd: (k: number, seg: number, off: number, size: number): number => read(k, seg, off, size, false),
      rds: (k: number, seg: number, off: number, size: number): number => read(k, seg, off, size, true),
      wr: (k: number, seg: number, off: number, v: number, size: number): void => {
        pre(k);
        const c = this.c;
        if (size === 4) c.wr32(seg, off, v); else if (size === 2) c.wr16(seg, off, v); else if (size === 1) c.wr8(seg, off, v);
        // a read-modify-write's write (RD_INTENT added to the size): Cpu.wrw8/16/32
        else if (size === 4 + RD_INTENT) c.wrw32(seg, off, v); else if (size === 2 + RD_INTENT) c.wrw16(seg, off, v); else c.wrw8(seg, off, v);
        post(k);
      },
      // a block that looped left its flags written out, not yet in the Cpu
      cfIn: (): number => {
        if (S[SL_FLSET] !== 0) this.applyFlags();
        return this.c.getCF();
      },
      cond: (cc: number): number => {
        if (S[SL_FLSET] !== 0) this.applyFlags();
        return this.c.cond(cc) ? 1 : 0;
      },
      hd: (k: number): void => {
        const c = this.c, w = cur(), i = w.infos[k]!, d = w.block.insns[k]!;
        const e = S[SL_E]!;
        pre(k);
        c.eip = (e + i.rel + d.opEnd) | 0;
        if (d.ea !== 0) c.pre = d;
        d.handler(c, d.op);
        c.pre = null;
        // as Cpu.runBlock: the next instruction starts where the handler left EIP
        S[SL_EIP] = c.eip;
        S[SL_E] = (c.eip - (i.rel + d.len)) | 0;
        post(k);
        // what compiled code assumes on entry (runWasm) may have changed too
        if (!c.stackBig || c.segLimit[1] !== -1) S[SL_EXIT] = 1;
      },
      imm: (k: number): number => {
        const w = cur();
        const l = w.late.get(k)!;
        if (w.block.valid) return l.imm;
        pre(k);
        const v = this.c.fetchImm((S[SL_E]! + w.infos[k]!.rel) | 0, l.modrmEnd, l.size);
        post(k);
        return v;
      },
    };
  }

  /** The lazy flags compiled code wrote out (SL_FLSET ...), into the Cpu: what setLazy or setLazyKeepCf would have left. */
  applyFlags(): void {
    const S = this.S, c = this.c;
    const kind = S[SL_FLSET]!;
    S[SL_FLSET] = 0;
    if (kind === 3) {
      // setArith of all six arithmetic flags: the lazy fields are masked off and left as they were
      c.setArith(S[SL_LZA]!, F_ARITH);
      return;
    }
    c.lazyOp = S[SL_LZOP]!;
    c.lazyA = S[SL_LZA]!;
    c.lazyB = S[SL_LZB]!;
    c.lazyR = S[SL_LZR]!;
    c.lazyBits = S[SL_LZBITS]!;
    if (kind === 1) c.lazyMask = F_ARITH;
    else {
      c.flags = (c.flags & ~F_CF) | S[SL_CF]!;
      c.lazyMask = F_ARITH & ~F_CF;
    }
  }

  /**
   * After the dispatcher followed a chain onto another page (SL_PAGE): the
   * Cpu's fetch page becomes that page, from the same software-TLB slot
   * the dispatcher read (nothing ran in between that could change it), so
   * that JavaScript (a slow path, a handler, the loops after runWasm)
   * fetches from where the code runs.
   */
  syncPage(): void {
    const p = this.S[SL_PAGE]!;
    if (p === this.PAGE) return;
    this.PAGE = p;
    if (!this.c.refillFetch(p)) this.c.flushFetch();
  }

  /** A table index for a block about to be compiled (its code names it). */
  reserve(): number {
    let slot = this.free.pop();
    if (slot === undefined) {
      slot = this.blocks.length;
      this.blocks.push(null);
      if (slot >= this.table.length) this.table.grow(this.table.length);
    }
    return slot;
  }

  install(w: WasmBlock, fn: unknown): void {
    this.table.set(w.slot, fn);
    this.blocks[w.slot] = w;
  }

  /**
   * Frees a table index: a block dropped (`dropped`, installed there: its
   * jump-cache entry cleared, its module then collectable), or a compile
   * given up. A block of a page function keeps its index until all the
   * function's blocks are dropped (PageGroup).
   */
  release(slot: number, dropped: WasmBlock | null = null): void {
    const w = this.blocks[slot];
    if (w != null && w.jcAt >= 0 && this.jc[w.jcAt + 1] === slot) {
      this.jc[w.jcAt] = -1;
      this.jc[w.jcAt + 2] = JC_NONE_LEN;
    }
    // blocks[slot] stays until the index is used again: a block dropped by its own write is still running, and the
    // imports after that write look it up (finding it invalid); nothing is compiled before it returns
    this.table.set(slot, null);
    const grp = dropped !== null && w === dropped ? dropped.group : null;
    if (grp !== null) {
      if (--grp.live === 0) for (const m of grp.members) this.free.push(m.slot);
      return;
    }
    this.free.push(slot);
  }

  /**
   * Compiles generated blocks in one module (a module costs V8 about half
   * a millisecond whatever its size, a function tens of microseconds:
   * docs/bench.md) and makes each still valid block run it (Block.fn =
   * runWasm); the table indices of those dropped meanwhile are freed.
   * Returns how many were installed.
   */
  flush(pending: PendingWasm[]): number {
    const live = pending.filter((p) => p.w.block.valid && p.w.block.fn === null);
    for (const p of pending) if (!live.includes(p)) this.release(p.w.slot);
    if (live.length === 0) return 0;
    // by guest page: two or more blocks of one page in one page function (pageFunction), each entered through a
    // function of its own (pageEntry); the others alone
    const pages = new Map<number, WasmBlock[]>();
    for (const p of live) {
      const gfn = this.pageFunctions ? Math.floor(p.w.block.gpa / 4096) : -1 - pages.size;
      const a = pages.get(gfn);
      if (a === undefined) pages.set(gfn, [p.w]); else a.push(p.w);
    }
    const funcs: { name: string; type: typeof BLOCK_TYPE; code: Code | Uint8Array }[] = [];
    const entered: WasmBlock[] = [];
    for (const ws of pages.values()) {
      if (ws.length === 1) {
        funcs.push({ name: `b${entered.length}`, type: BLOCK_TYPE, code: alone(ws[0]!) });
        entered.push(ws[0]!);
        continue;
      }
      // in address order, so that fall-throughs and forward branches are branches forward in the function
      ws.sort((a, b) => a.gpa - b.gpa);
      const grp: PageGroup = { members: ws, live: ws.length };
      const fi = IMPORTS.length + funcs.length;
      funcs.push({ name: `p${fi}`, type: PAGE_TYPE, code: pageFunction(ws) });
      ws.forEach((w, j) => {
        w.group = grp;
        funcs.push({ name: `b${entered.length}`, type: BLOCK_TYPE, code: pageEntry(j, fi) });
        entered.push(w);
      });
    }
    const ex = instantiate(moduleBytes({ memoryPages: this.pages, imports: IMPORTS, funcs }), this.env);
    entered.forEach((w, i) => {
      this.install(w, ex[`b${i}`]);
      w.block.wasm = w;
      w.block.fn = runWasm;
      w.body = NO_BODY;
    });
    return live.length;
  }

  /**
   * Names a block in the jump cache (its entry: address, table index,
   * count): in the first way of its set, the block there moving to the
   * second (and the second's leaving the cache), unless a way names it
   * already.
   */
  enter(w: WasmBlock): void {
    const gpa = w.gpa;
    const at = 6 * jcSet(gpa);
    const jc = this.jc;
    if (jc[at] === gpa && jc[at + 1] === w.slot) return;
    if (jc[at + 3] === gpa && jc[at + 4] === w.slot) return;
    if (jc[at] !== -1) {
      jc[at + 3] = jc[at]!;
      jc[at + 4] = jc[at + 1]!;
      jc[at + 5] = jc[at + 2]!;
      const moved = this.blocks[jc[at + 1]!];
      if (moved != null && moved.jcAt === at) moved.jcAt = at + 3;
    }
    jc[at] = gpa;
    jc[at + 1] = w.slot;
    jc[at + 2] = w.count;
    w.jcAt = at;
  }
}

/** A guest-physical address's jump-cache set (two entries). */
function jcSet(gpa: number): number {
  return (gpa ^ (gpa >>> (JC_BITS - 1))) & (JC_SIZE / 2 - 1);
}

/**
 * The dispatcher: dispatch(slot, n, e) calls block `slot`, then its
 * successors through the jump cache (see WasmRuntime): on the same page,
 * or on another one whose fetch translation the software TLB holds (as
 * Cpu.refillFetch takes it, with CS flat and the MMU not observing; the
 * slots SL_PAGE and SL_FETCHGPA then name the new page, and JavaScript's
 * fetch page follows it when it next runs: WasmRuntime.syncPage). The
 * software TLB's mask and the offset of its guest-physical addresses
 * (`gpas`, in the arena) are fixed for the Mmu, so they are constants here.
 */
function dispatcher(tlbMask: number, gpas: number): Code {
  const f = new Code(3);
  const SLOT = 0, N = 1, E = 2;
  const x = f.local(), lin = f.local(), gpa = f.local(), at = f.local();
  f.loop();
  f.get(N).get(E).const(0).get(SLOT).callIndirect(0).tee(x);
  f.const(0).ltS().if().get(x).return().end();
  // a slow path or a handler ran: back to JavaScript (runWasm returns ~count)
  f.const(0).load32(slot(SL_DIRTY)).if().get(x).return().end();
  // the next EIP, on the same linear page?
  f.const(0).load32(slot(SL_EIP)).set(E);
  f.const(0).load32(slot(SL_CSBASE)).get(E).add().tee(lin);
  f.const(-4096).and().const(0).load32(slot(SL_PAGE)).ne().if();
  {
    // another page: its fetch tag in the software TLB (else back to JavaScript, whose fetch takes the walk)
    f.const(0).load32(slot(SL_MEASURE)).if().get(x).return().end();
    f.const(0).load8u(S_FASTR + 1).eqz().if().get(x).return().end();
    f.get(lin).const(12).shrU().const(tlbMask).and().set(at);
    f.const(0).load32(slot(SL_TAGX)).get(at).const(2).shl().add().load32(0).get(lin).const(12).shrU().ne().if().get(x).return().end();
    // its guest-physical address (below 4 GiB, as every block's)
    f.get(at).const(3).shl().loadF64(gpas).constF64(2 ** 32).ltF64().eqz().if().get(x).return().end();
    f.const(0).get(at).const(3).shl().loadF64(gpas).truncF64U().store32(slot(SL_FETCHGPA));
    f.const(0).get(lin).const(-4096).and().store32(slot(SL_PAGE));
  }
  f.end();
  // its block in the jump cache, fitting in the slice?
  f.const(0).load32(slot(SL_FETCHGPA)).get(lin).const(0xfff).and().add().tee(gpa);
  f.get(gpa).const(JC_BITS - 1).shrU().xor().const(JC_SIZE / 2 - 1).and().const(24).mul().set(at);
  f.get(at).load32(S_JC).get(gpa).ne().if();
  f.get(at).const(12).add().tee(at).load32(S_JC).get(gpa).ne().if().get(x).return().end();
  f.end();
  f.get(x).get(at).load32(S_JC + 8).add().const(0).load32(slot(SL_BUDGET)).gtS().if().get(x).return().end();
  f.get(at).load32(S_JC + 4).set(SLOT);
  f.get(x).set(N);
  if (LINK_STATS) f.const(0).const(0).load32(slot(SL_STEPS)).const(1).add().store32(slot(SL_STEPS));
  f.br(0);
  f.end();
  f.get(x);
  return f;
}

function decode(c: Cpu, i: InsnInfo): void {
  c.o32 = i.o32;
  c.a32 = i.a32;
  c.segOverride = i.seg;
  c.rep = i.rep;
  c.lockPrefix = i.lock;
}

/** decode() from SL_LAST's packed word (packLast). */
function decodePacked(c: Cpu, v: number): void {
  c.o32 = (v & (1 << 12)) !== 0;
  c.a32 = (v & (1 << 13)) !== 0;
  c.lockPrefix = (v & (1 << 14)) !== 0;
  c.rep = (v >>> 15) & 3;
  c.segOverride = ((v >>> 17) & 7) - 1;
}

/**
 * The JitFn of every block compiled to WebAssembly (see the file's
 * comment): one function, so that V8 optimizes it once for all blocks.
 */
export function runWasm(cpu: Cpu, b: Block, n: number, page: number): number {
  // CS limited below 4 GiB, or a 16-bit stack: the block engine's loop (see the file's comment)
  if (cpu.segLimit[1] !== -1 || !cpu.stackBig) return ~cpu.runBlock(b, n, page);
  const rt = cpu.wasm!.runtime!;
  const w = b.wasm!;
  const S = rt.S, mmu = rt.mmu;
  rt.c = cpu;
  rt.PAGE = page;
  rt.enter(w);
  S[SL_TAGR] = mmu.tagR32.byteOffset;
  S[SL_TAGW] = mmu.tagW32.byteOffset;
  S[SL_TAGX] = mmu.tagX32.byteOffset;
  S[SL_MEASURE] = mmu.measure ? 1 : 0;
  S[SL_DIRTY] = 0;
  S[SL_BUDGET] = cpu.budget;
  S[SL_N] = n;
  S[SL_CSBASE] = cpu.csBase;
  S[SL_PAGE] = page;
  S[SL_FETCHGPA] = cpu.fetchGpa;
  const x = rt.dispatch(w.slot, n, cpu.eip);
  rt.syncPage();
  if (S[SL_FLSET] !== 0) rt.applyFlags();
  cpu.eip = S[SL_EIP]!;
  if (x >= 0) {
    // the whole block ran (the last of a chain): the contract's stores of its last instruction
    const last = S[SL_LAST]!;
    cpu.instrEip = (S[SL_E]! + (last & 0xfff)) | 0;
    cpu.instrEsp = S[SL_ESP0]!;
    cpu.executed = x;
    decodePacked(cpu, last);
    return S[SL_DIRTY] !== 0 ? ~x : x;
  }
  return x;
}
