/**
 * The wasm engine's memory (docs/cpu.md, "The wasm engine"): one
 * WebAssembly memory holding, at fixed offsets in its first page, the CPU
 * state that compiled blocks read and write (the general registers, the
 * segment bases, limits and fast-access bits, and the exchange slots
 * below), and after it the Mmu's host memory and software-TLB arrays
 * (src/mmu/host/arena.ts). The Cpu's typed arrays for that state are views
 * of this memory, so the interpreter, the handlers and compiled code share
 * them with no copying.
 *
 * The memory never grows (growing would detach its buffer and every view),
 * so it is made at its full size when the Mmu asks for its region; a
 * WebAssembly memory holds at most 65,536 pages (4 GiB) in Node 20.
 */
import type { ArenaProvider } from '../../mmu/host/arena.js';
import { WA, type WasmMemory } from './emit.js';
import type { WasmRuntime } from './compile.js';

/** Bytes of CPU state before the Mmu's region (one WebAssembly page: the registers, the slots, the jump cache). */
export const STATE_BYTES = 65536;
/** Bytes of the state the other engines keep (the registers and segment arrays; no slots or jump cache). */
export const CPU_STATE_BYTES = 128;
/** reg32[8] (and the reg16, reg8 views) */
export const S_REG = 0;
/** segBase[8], segLimit[8] (int32) */
export const S_SEGBASE = 32;
export const S_SEGLIMIT = 64;
/** segFastR[8], segFastW[8] (bytes) */
export const S_FASTR = 96;
export const S_FASTW = 104;
/** int32 exchange slots between compiled code and the JavaScript around it (SL_* are indices from here) */
export const S_SLOTS = 128;

/** byte offset of the current privilege context's read and write tag arrays (Mmu.tagR32, tagW32) */
export const SL_TAGR = 0;
export const SL_TAGW = 1;
/** 1 while the Mmu observes accesses (Mmu.measure): no inline hit then */
export const SL_MEASURE = 2;
/** set by a slow path: the block must stop after this instruction (halt, budget, interrupt poll, block dropped, fetch page left) */
export const SL_EXIT = 3;
/** a slow path ran: the block's return is "dirty" (JitFn) */
export const SL_DIRTY = 4;
/** lazy flags written by compiled code and not yet in the Cpu: 0 none, 1 setLazy, 2 setLazyKeepCf (then SL_CF is CF) */
export const SL_FLSET = 5;
export const SL_LZOP = 6;
export const SL_LZA = 7;
export const SL_LZB = 8;
export const SL_LZR = 9;
export const SL_LZBITS = 10;
export const SL_CF = 11;
/** EIP after the block (or after the instruction it stopped at) */
export const SL_EIP = 12;
/** ESP at the start of the block's last instruction (its instrEsp) */
export const SL_ESP0 = 13;
/** the slice's instruction budget (Cpu.budget), for a block that loops to its own start */
export const SL_BUDGET = 14;
/** the count before the current pass of the block (its `n`: runWasm's, then advanced by each loop back to its start) */
export const SL_N = 15;
/** the running block's table index and EIP at its start (each compiled block writes them on entry, for the imports) */
export const SL_CUR = 16;
export const SL_E = 17;
/** what the dispatcher's chaining needs (runWasm writes them): CS's base, the linear fetch page and its guest-physical address */
export const SL_CSBASE = 18;
export const SL_PAGE = 19;
export const SL_FETCHGPA = 20;
/**
 * what the dispatcher needs to follow a block onto another page (runWasm
 * writes it): the byte offset of the current privilege context's fetch
 * tags (Mmu.tagX32)
 */
export const SL_TAGX = 21;
/**
 * the last instruction of the block that ran last, packed (written by its
 * code as it starts that instruction, a constant; runWasm unpacks it so as
 * not to touch the block's records): its offset from the block's start in
 * bits 0-11, then o32, a32, LOCK, REP (2 bits) and the segment override + 1
 * (3 bits), as packLast
 */
export const SL_LAST = 22;
/** counters for VMMU_WASM_STATS (compile.ts): the dispatcher's steps from one block to the next, and the branches inside page functions */
export const SL_STEPS = 30;
export const SL_LINKS = 31;
export const SLOT_COUNT = 32;

/** SL_LAST's value for a last instruction at `rel` with these decode fields. */
export function packLast(rel: number, o32: boolean, a32: boolean, lock: boolean, rep: number, seg: number): number {
  return rel | (o32 ? 1 << 12 : 0) | (a32 ? 1 << 13 : 0) | (lock ? 1 << 14 : 0) | (rep << 15) | ((seg + 1) << 17);
}

/**
 * The jump cache (compile.ts, WasmRuntime): JC_SIZE entries of three int32
 * (a block's guest-physical address, its table index, its instruction
 * count), at S_JC, in sets of two (WasmRuntime.enter); an empty entry has
 * address -1 and a count no slice holds. The dispatcher follows it from one compiled block to the next,
 * on the same page or another, without returning to JavaScript.
 */
export const S_JC = 1024;
export const JC_BITS = 12;
export const JC_SIZE = 1 << JC_BITS;

/** WebAssembly pages are 64 KiB; a memory has at most 65,536 of them. */
const WASM_PAGE = 65536;
const MAX_PAGES = 65536;

/**
 * The memory, made when the Mmu asks for its region (`provide`, passed as
 * MmuOptions.arena), then handed to the Cpu (CpuOptions.wasm).
 */
export class WasmState {
  memory: WasmMemory | null = null;
  pages = 0;
  /** the compiled blocks' table and shared imports (compile.ts), made with the first block compiled */
  runtime: WasmRuntime | null = null;

  /**
   * `fallback`: a request beyond a WebAssembly memory's 4 GiB gets null
   * (the Mmu then allocates its own buffers and memory stays null: the
   * caller runs another engine) instead of an error. Machine's default
   * engine does this.
   */
  constructor(private readonly fallback = false) {}

  readonly provide: ArenaProvider = (bytes: number) => {
    if (this.memory !== null) throw new Error('wasm engine: this memory already holds an Mmu (one WasmState per machine)');
    const pages = Math.ceil((STATE_BYTES + bytes) / WASM_PAGE);
    if (pages > MAX_PAGES) {
      if (this.fallback) return null;
      throw new RangeError(`wasm engine: guest and host memory need ${((STATE_BYTES + bytes) / 2 ** 30).toFixed(2)} GiB, more than a WebAssembly memory's 4 GiB; use --engine jit`);
    }
    this.memory = new WA.Memory({ initial: pages, maximum: pages });
    this.pages = pages;
    return { buffer: this.memory.buffer, base: STATE_BYTES };
  };
}
