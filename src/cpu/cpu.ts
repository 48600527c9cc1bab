/**
 * The x86 CPU: an i686-class (P6) interpreter.
 *
 * This file holds the architectural state and the hot helpers every
 * instruction uses: instruction fetch, ModR/M decoding, data and stack
 * access through segments and the MMU, lazy arithmetic flags, and the run
 * loop with its fault and interrupt handling. Instructions themselves are in
 * execute.ts (prefixes and the dispatch tables) and ops/ (the handlers, by
 * opcode group); segmentation, control transfers, interrupts and task
 * switches in segments.ts and transfer.ts; system instructions in system.ts.
 *
 * Memory goes only through the MMU (src/mmu), ports only through the IoBus.
 * The CPU never knows which translation mode the MMU uses.
 *
 * Faults: an instruction that faults throws the preallocated CpuFault; the
 * run loop catches it at the instruction boundary, restores EIP (and ESP,
 * which instructions update only after their last access that can fault)
 * and delivers the exception.
 */
import type { Mmu } from '../mmu/index.js';
import { ACC_FETCH, ACC_SIZE_SHIFT, T_FAULT, T_MMIO } from '../mmu/index.js';
import type { IoBus } from '../io/bus.js';
import type { VirtualClock } from '../io/clock.js';
import type { InterruptController } from '../io/irq.js';
import {
  CS, DS, ES, FS, GS, SS, LDTR, TR, ESP, F_1, F_AC, F_AF, F_ARITH, F_CF, F_IF, F_OF, F_PF, F_SF, F_VM, F_ZF, F_TF,
  AR_CODE, AR_DC, AR_P, AR_RW, AR_S, AR_DB, CR0_PE, V_GP, V_SS, V_PF, V_DF, EXCEPTION_NAMES, REG_NAMES, SEG_NAMES,
  CR0_ET, CR0_CD, CR0_NW, AR_ACCESSED,
} from './constants.js';
import { execute } from './execute.js';
import { AR_L, execute64 } from './long.js';
import { EFER_LMA } from '../mmu/index.js';
import {
  BlockCache, K_ALU_EV_GV, K_ALU_EV_IB, K_ALU_GV_EV, K_CALL, K_JCC, K_LEA, K_MOV_EV_GV, K_MOV_GV_EV, K_POP_R,
  K_PUSH_R, K_RET, K_TEST_EV_GV, type Block, type Insn,
} from './block.js';
import { alu } from './alu.js';
import { JIT_THRESHOLD, type JitFn } from './jit.js';
import { CPU_STATE_BYTES, S_FASTR, S_FASTW, S_REG, S_SEGBASE, S_SEGLIMIT, type WasmState } from './wasm/state.js';
import { WASM_THRESHOLD } from './wasm/compile.js';
import { deliverInterrupt, type InterruptKind } from './transfer.js';
import { Fpu, MXCSR_MASK_DAZ } from './fpu.js';
import { CpuFeatures } from './features.js';
import type { FpuHost } from './fpu-host.js';

/** IA32_APIC_BASE as the machine's local APIC keeps it. */
export interface ApicBaseMsr {
  read(): number;
  /** false: a reserved bit is set (the WRMSR raises #GP(0)) */
  write(lo: number, hi: number): boolean;
}

/** The single exception object instructions throw; its fields say which exception. */
export class CpuFault {
  vector = 0;
  errorCode = 0;
  hasError = false;
}
export const FAULT = new CpuFault();

/** Thrown (not a guest exception) when the CPU must stop: triple fault, an emulator limit. */
export class CpuStop extends Error {
  constructor(message: string, readonly report: string) {
    super(message);
  }
}

/** Byte offset of 8-bit register r (AL, CL, DL, BL, AH, CH, DH, BH) in the register file. */
const R8 = new Int32Array([0, 4, 8, 12, 1, 5, 9, 13]);

// lazy-flag operation kinds
export const LZ_ADD = 0;
export const LZ_ADC = 1;
export const LZ_SUB = 2;
export const LZ_SBB = 3;
export const LZ_LOGIC = 4;
export const LZ_INC = 5;
export const LZ_DEC = 6;
export const LZ_NEG = 7;

const PARITY = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  let p = 1;
  for (let b = i; b; b >>= 1) p ^= b & 1;
  PARITY[i] = p ? F_PF : 0;
}

/** Limits of the emulator, not the architecture. */
const HISTORY = 64;

/**
 * How the plain run loop executes instructions: `interp` fetches and
 * decodes every instruction each time it runs (the reference); `block` runs
 * decoded blocks from a cache (block.ts); `jit` also compiles the blocks
 * that run often to JavaScript (jit.ts); `wasm` compiles them to
 * WebAssembly where it can (wasm/compile.ts), to JavaScript otherwise. All
 * four have exactly the same results.
 */
export type Engine = 'interp' | 'block' | 'jit' | 'wasm';
export const ENGINES: readonly Engine[] = ['interp', 'block', 'jit', 'wasm'];
/** The engine a Cpu uses when none is given. A Machine (and so vmmu boot) picks wasm where it can (machine.ts). */
export const DEFAULT_ENGINE: Engine = 'jit';

export interface CpuOptions {
  mmu: Mmu;
  io: IoBus;
  clock: VirtualClock;
  pic: InterruptController;
  /** default DEFAULT_ENGINE */
  engine?: Engine;
  /** what CPUID advertises and the CPU allows (default: the P6 set, see features.ts) */
  features?: CpuFeatures;
  /** the wasm engine's memory, whose arena the Mmu was made with (required by that engine only) */
  wasm?: WasmState;
}

export class Cpu implements FpuHost {
  // ---- general registers: 32 bytes, three views (in the wasm engine's memory under that engine: wasm/state.ts) ----
  readonly reg32: Int32Array;
  readonly reg16: Uint16Array;
  readonly reg8: Uint8Array;
  /** offset of the next instruction byte in CS (in 64-bit mode the low half of RIP) */
  eip = 0;
  /**
   * x86-64 (long.ts): the high halves of RAX..R15, the low halves of
   * R8..R15 (RAX..RDI keep theirs in reg32, which the wasm state layout
   * fixes at eight registers), the high half of RIP. Outside 64-bit mode
   * nothing reads or writes them.
   */
  readonly regHi = new Int32Array(16);
  readonly regX = new Int32Array(8);
  /** DR0-DR3's bits 63:32 (breakpoint addresses, written in 64-bit mode) */
  readonly drHi = new Int32Array(4);
  ripHi = 0;
  instrRipHi = 0;
  instrRspHi = 0;
  /** IA-32e mode is active and CS.L = 1: run() runs the 64-bit interpreter (long.ts) */
  long64 = false;
  /** EIP of the instruction being executed (restored on a fault) */
  instrEip = 0;
  instrEsp = 0;

  // ---- segment registers and their descriptor caches (ES CS SS DS FS GS LDTR TR) ----
  readonly segSel = new Int32Array(8);
  readonly segBase: Int32Array;
  readonly segLimit: Int32Array;
  /** access rights as cached: descriptor high dword & 0x00f0ff00 */
  readonly segAr = new Int32Array(8);
  /** 1 when a read (write) of any offset needs no limit or type check */
  readonly segFastR: Uint8Array;
  readonly segFastW: Uint8Array;

  // ---- flags: bits not covered by lazyMask live in `flags` ----
  flags = F_1;
  lazyMask = 0;
  lazyOp = 0;
  lazyA = 0;
  lazyB = 0;
  lazyR = 0;
  /** operand size of the lazy operation: 8, 16 or 32 */
  lazyBits = 32;
  lazyCin = 0;
  /**
   * The flags as they were before the current instruction changed them,
   * saved by an instruction that sets flags and then writes memory
   * (saveFlags), and restored if it faults: a fault leaves the instruction
   * undone, EFLAGS included (SDM vol. 3A 6.5: the state is that before the
   * faulting instruction), so that the exception frame holds the old flags
   * and an ADC, SBB, RCL or RCR restarted after a #PF (say on a
   * copy-on-write page) reads its old CF. `svAt` is the instruction
   * (`executed`) that saved them, -1 for none.
   */
  private svAt = -1;
  private svFlags = 0;
  private svMask = 0;
  private svOp = 0;
  private svA = 0;
  private svB = 0;
  private svR = 0;
  private svBits = 32;
  private svCin = 0;

  // ---- mode ----
  cpl = 0;
  /** CR0.PE and not EFLAGS.VM */
  protectedMode = false;
  /** default operand/address size from CS.D (and 16-bit in real and v86 mode) */
  codeBig = false;
  /** stack address size from SS.B */
  stackBig = false;

  // ---- per-instruction decode state ----
  o32 = false;
  a32 = false;
  /** segment override prefix, or -1 */
  segOverride = -1;
  /** F2 (REPNE) = 1, F3 (REP/REPE) = 2, none = 0 */
  rep = 0;
  lockPrefix = false;
  modrm = 0;
  /** effective address of a memory operand: segment and offset */
  eaSeg = DS;
  eaOff = 0;
  /**
   * The block engine's decoded form of the running instruction, for
   * decodeModrm to use instead of fetching (null: decode from the bytes).
   * Set only by runBlocks, for one instruction.
   */
  pre: Insn | null = null;

  // ---- system registers ----
  cr0 = CR0_ET | CR0_CD | CR0_NW;
  cr2 = 0;
  cr3 = 0;
  cr4 = 0;
  readonly dr = new Int32Array(8);
  gdtBase = 0;
  gdtLimit = 0xffff;
  idtBase = 0;
  idtLimit = 0x3ff;
  efer = 0;
  sysenterCs = 0;
  sysenterEsp = 0;
  sysenterEip = 0;
  pat = 0x00070406;
  patHi = 0x00070406;
  tscOffset = 0;
  /** IA32_TSC_AUX (MSR 0xC0000103, with the rdtscp or rdpid feature): 32 bits, the upper half reserved; 0 at reset */
  tscAux = 0;
  /** XCR0 (with the xsave feature; SDM vol. 1, 13.3): the state components XSAVE and XRSTOR manage; 1 (x87 only) at reset */
  xcr0 = 1;
  // ---- x86-64 system state: high halves and the MSRs of the lm feature ----
  cr2Hi = 0;
  cr3Hi = 0;
  gdtBaseHi = 0;
  idtBaseHi = 0;
  trBaseHi = 0;
  /** LDTR's base bits 63:32 (LLDT of a 16-byte descriptor in 64-bit mode) */
  ldtBaseHi = 0;
  /** FS.base and GS.base: low halves in segBase[FS], segBase[GS] */
  fsBaseHi = 0;
  gsBaseHi = 0;
  kernelGsLo = 0;
  kernelGsHi = 0;
  starLo = 0;
  starHi = 0;
  lstarLo = 0;
  lstarHi = 0;
  cstarLo = 0;
  cstarHi = 0;
  sfmask = 0;

  // ---- execution control ----
  halted = false;
  /** check the interrupt controller before the next instruction */
  pollIntr = true;
  /** interrupts are inhibited for one instruction (after STI, MOV SS, POP SS) */
  intShadow = false;
  /** instructions executed in the current run() call (the virtual clock advances by these) */
  executed = 0;
  /** instruction budget of the current run() call (lowered to end a slice early) */
  budget = 0;
  /** virtual time at the start of the current run() call */
  sliceStart = 0;
  /** total instructions executed */
  totalInstructions = 0;
  /** exception being delivered (for double-fault detection), -1 when none */
  delivering = -1;
  /**
   * The most recent interrupts, exceptions and far transfers (CS, source
   * EIP, target EIP), for triple-fault reports. Near branches and single
   * instructions are not recorded: that costs a tenth of the speed.
   */
  private readonly history = new Int32Array(HISTORY * 3);
  private historyPos = 0;

  // ---- instruction fetch cache: the linear page of EIP and its host address ----
  /** never a page while the MMU observes accesses (mmu.measure): every fetch then takes fetchObserved */
  fetchPage = 1;
  /** in 64-bit mode (long.ts): the high half of the fetch page's linear address */
  fetchHi = 0;
  fetchHpa = 0;
  /** guest-physical address of the fetch page (the block engine's key) */
  fetchGpa = 0;

  // ---- observed fetches (mmu.measure): the instruction's current run of bytes within one page ----
  /** linear page of the run, 1 when there is none */
  private runPage = 1;
  /** host address of the run's page, or -1 for device memory (then runGpa, its guest-physical address) */
  private runHpa = 0;
  private runGpa = 0;
  /** linear address of the run's first byte, and the bytes fetched so far (0: no run) */
  private runStart = 0;
  private runLen = 0;
  /** ACC_* bits of the run: ACC_FETCH and the privilege context of its first byte */
  private runAcc = 0;
  /** the run is reported when it ends (false: the translation that began it was its report) */
  private runDeferred = false;
  /** the high half of the run's linear address (64-bit code's runs: fetchRun64) */
  private runHi = 0;
  /** the run loop that ends a run after every instruction (runObserved) is the active one */
  private observing = false;
  /** CS base (a copy of segBase[CS], kept in step by refreshSeg) */
  csBase = 0;
  /** host memory bytes (the MMU's view) */
  readonly mem8: Uint8Array;

  readonly mmu: Mmu;
  readonly io: IoBus;
  readonly clock: VirtualClock;
  readonly pic: InterruptController;
  readonly fpu: Fpu;
  readonly engine: Engine;
  /** what CPUID advertises and MOV to CR4, WRMSR and STAC/CLAC allow (MachineOptions.cpu) */
  readonly features: CpuFeatures;
  /** the block engine's cache (null under the interpreter) */
  readonly blocks: BlockCache | null;
  /** the wasm engine's memory (null under the other engines) */
  readonly wasm: WasmState | null;
  /** set by the machine to be told about HLT with interrupts off, triple faults etc. */
  onShutdown: ((reason: string) => void) | null = null;
  /** IA32_APIC_BASE, set by a machine with a local APIC (the apic feature); without one the MSR raises #GP(0) */
  apicBaseMsr: ApicBaseMsr | null = null;
  /** CR8's register of its own (bits 7:4 of `tpr` are CR8[3:0]), used while no local APIC is attached */
  private readonly ownTpr = { tpr: 0 };
  /**
   * Where CR8 lives (64-bit mode, SDM vol. 3A, 11.8.6): the local APIC's TPR, whose bits 7:4
   * are CR8[3:0], when the machine attaches one (the apic feature); else a register of the CPU's own.
   */
  taskPriority: { tpr: number } = this.ownTpr;

  constructor(o: CpuOptions) {
    this.engine = o.engine ?? DEFAULT_ENGINE;
    // The state compiled code shares: views of the wasm engine's memory under that engine, else buffers of their own.
    let buf: ArrayBuffer;
    if (this.engine === 'wasm') {
      const mem = o.wasm?.memory;
      if (mem == null || o.mmu.host.buffer !== mem.buffer) throw new Error("engine 'wasm': the Mmu must be made with the arena of the WasmState given as `wasm` (MmuOptions.arena = state.provide); Machine does this");
      this.wasm = o.wasm!;
      buf = mem.buffer;
    } else {
      this.wasm = null;
      buf = new ArrayBuffer(CPU_STATE_BYTES);
    }
    this.reg32 = new Int32Array(buf, S_REG, 8);
    this.reg16 = new Uint16Array(buf, S_REG, 16);
    this.reg8 = new Uint8Array(buf, S_REG, 32);
    this.segBase = new Int32Array(buf, S_SEGBASE, 8);
    this.segLimit = new Int32Array(buf, S_SEGLIMIT, 8);
    this.segFastR = new Uint8Array(buf, S_FASTR, 8);
    this.segFastW = new Uint8Array(buf, S_FASTW, 8);
    this.mmu = o.mmu;
    // The fetch cache (fetchPage, fetchHpa) is a copy of a software-TLB slot: when that slot is filled again, by
    // its own page (a data access that missed it, say a write to a page whose slot allowed reads only, walks the
    // entry as it is now) or by another page that maps to the same slot (the fetch page's translation is then
    // gone from the TLB), the copy goes too, so that code and data see the page through the same translation,
    // observed by the MMU (measure, which fetches through the TLB byte by byte) or not. The slot is the page
    // number's low bits (SoftTlb.fill); fetchPage 1 (none) matches slot 0 only, and drops nothing.
    const slotMask = o.mmu.soft.mask;
    // The same holds for an observed fetch run's page (runPage, runHpa): its next byte begins a run afresh.
    o.mmu.onFill = (lo: number): void => {
      if ((((lo ^ this.fetchPage) >>> 12) & slotMask) === 0) this.fetchPage = 1;
      if ((((lo ^ this.runPage) >>> 12) & slotMask) === 0) this.runPage = 1;
    };
    this.io = o.io;
    this.clock = o.clock;
    this.pic = o.pic;
    this.mem8 = o.mmu.u8;
    this.fpu = new Fpu(this);
    this.features = o.features ?? new CpuFeatures();
    if (this.features.sse) this.fpu.mxcsrMask = MXCSR_MASK_DAZ;
    if (this.engine !== 'interp') {
      this.blocks = new BlockCache(o.mmu);
      this.blocks.clock = (): number => this.totalInstructions + this.executed;
      if (this.engine === 'jit') this.blocks.jitThreshold = JIT_THRESHOLD;
      if (this.engine === 'wasm') {
        this.blocks.wasm = this.wasm;
        this.blocks.jitThreshold = WASM_THRESHOLD;
      }
    } else {
      this.blocks = null;
    }
    this.reset();
  }

  /** The power-on/RESET state (SDM vol. 3A, 9.1.1): real mode at F000:FFF0. */
  reset(): void {
    this.reg32.fill(0);
    this.regHi.fill(0);
    this.regX.fill(0);
    this.drHi.fill(0);
    this.ripHi = 0;
    this.ownTpr.tpr = 0;
    this.cr2Hi = this.cr3Hi = this.gdtBaseHi = this.idtBaseHi = this.trBaseHi = this.ldtBaseHi = this.fsBaseHi = this.gsBaseHi = 0;
    this.tscAux = 0;
    this.xcr0 = 1;
    this.kernelGsLo = this.kernelGsHi = this.starLo = this.starHi = this.lstarLo = this.lstarHi = this.cstarLo = this.cstarHi = this.sfmask = 0;
    this.reg32[2] = 0x00000633; // EDX: family 6, model 3, stepping 3 (a P6 signature)
    this.flags = F_1;
    this.lazyMask = 0;
    this.cr0 = CR0_ET | CR0_CD | CR0_NW;
    this.cr2 = 0;
    this.cr3 = 0;
    this.cr4 = 0;
    this.efer = 0;
    this.dr.fill(0);
    this.dr[6] = 0xffff0ff0 | 0;
    this.dr[7] = 0x400;
    this.gdtBase = 0;
    this.gdtLimit = 0xffff;
    this.idtBase = 0;
    this.idtLimit = 0x3ff;
    for (let s = 0; s < 6; s++) this.loadRealSegment(s, 0);
    this.segSel[CS] = 0xf000;
    this.segBase[CS] = 0xffff0000 | 0;
    this.loadSystemCache(LDTR, 0, 0, 0xffff, AR_P | (2 << 8));
    this.loadSystemCache(TR, 0, 0, 0xffff, AR_P | (11 << 8));
    this.eip = 0xfff0;
    this.cpl = 0;
    this.halted = false;
    this.intShadow = false;
    this.delivering = -1;
    this.fpu.reset();
    this.mmu.setPaging({ cr0: 0, cr3Lo: 0, cr3Hi: 0, cr4: 0, efer: 0, pkru: 0 }); // PKRU too starts at 0 (all keys allowed)
    this.updateMode();
  }

  // =====================================================================
  // Faults
  // =====================================================================

  /** Raises exception `vector` with an error code. Does not return. */
  fault(vector: number, errorCode: number): never {
    FAULT.vector = vector;
    FAULT.errorCode = errorCode;
    FAULT.hasError = true;
    throw FAULT;
  }

  /** Raises exception `vector` without an error code. Does not return. */
  trap(vector: number): never {
    FAULT.vector = vector;
    FAULT.errorCode = 0;
    FAULT.hasError = false;
    throw FAULT;
  }

  gp(code: number): never {
    return this.fault(V_GP, code);
  }

  ud(): never {
    return this.trap(6);
  }

  /**
   * The MMU reported a fault on the last access: returns the exception to
   * throw (#PF with CR2 set, or #GP). It returns instead of throwing so that
   * V8 optimizes it (a function that never returns normally is never tiered
   * up); callers write `throw this.memFault()`.
   */
  memFault(): CpuFault {
    const m = this.mmu;
    const v = m.faultVector;
    m.clearFault();
    FAULT.hasError = true;
    if (v === V_PF) {
      this.cr2 = m.fault.addrLo;
      this.cr2Hi = m.fault.addrHi;
      FAULT.vector = V_PF;
      FAULT.errorCode = m.fault.errorCode;
    } else {
      FAULT.vector = V_GP;
      FAULT.errorCode = 0;
    }
    return FAULT;
  }

  // =====================================================================
  // Lazy flags
  // =====================================================================

  /** Saves the flags before an instruction that sets them and then writes memory (see svAt). */
  saveFlags(): void {
    this.svAt = this.executed;
    this.svFlags = this.flags;
    this.svMask = this.lazyMask;
    this.svOp = this.lazyOp;
    this.svA = this.lazyA;
    this.svB = this.lazyB;
    this.svR = this.lazyR;
    this.svBits = this.lazyBits;
    this.svCin = this.lazyCin;
  }

  /**
   * An instruction faulted (FAULT was thrown): undo it, as every run loop
   * must (EIP, ESP and the flags it saved back to what they were before it),
   * and deliver the exception.
   */
  private instructionFault(): void {
    this.eip = this.instrEip;
    this.reg32[ESP] = this.instrEsp;
    this.restoreSavedFlags();
    this.exception(FAULT.vector, FAULT.hasError, FAULT.errorCode);
  }

  /** After a fault of instruction `executed`: the flags it saved, if it did. */
  private restoreSavedFlags(): void {
    if (this.svAt !== this.executed) return;
    this.svAt = -1;
    this.flags = this.svFlags;
    this.lazyMask = this.svMask;
    this.lazyOp = this.svOp;
    this.lazyA = this.svA;
    this.lazyB = this.svB;
    this.lazyR = this.svR;
    this.lazyBits = this.svBits;
    this.lazyCin = this.svCin;
  }

  /** Records an arithmetic result whose six flags are computed on demand. */
  setLazy(op: number, a: number, b: number, r: number, bits: number): void {
    this.lazyOp = op;
    this.lazyA = a;
    this.lazyB = b;
    this.lazyR = r;
    this.lazyBits = bits;
    this.lazyMask = F_ARITH;
  }

  /** INC/DEC: like setLazy but CF keeps its value. */
  setLazyKeepCf(op: number, a: number, r: number, bits: number): void {
    if (this.lazyMask & F_CF) this.flags = (this.flags & ~F_CF) | this.getCF();
    this.lazyOp = op;
    this.lazyA = a;
    this.lazyB = 1;
    this.lazyR = r;
    this.lazyBits = bits;
    this.lazyMask = F_ARITH & ~F_CF;
  }

  getCF(): number {
    if (!(this.lazyMask & F_CF)) return this.flags & F_CF;
    const m = this.lazyBits === 32 ? -1 : (1 << this.lazyBits) - 1;
    const a = (this.lazyA & m) >>> 0, b = (this.lazyB & m) >>> 0, r = (this.lazyR & m) >>> 0;
    switch (this.lazyOp) {
      case LZ_ADD: return r < a ? 1 : 0;
      case LZ_ADC: return (this.lazyCin ? r <= a : r < a) ? 1 : 0;
      case LZ_SUB: return a < b ? 1 : 0;
      case LZ_SBB: return (this.lazyCin ? a <= b : a < b) ? 1 : 0;
      case LZ_NEG: return b !== 0 ? 1 : 0;
      default: return 0;
    }
  }

  getZF(): number {
    if (!(this.lazyMask & F_ZF)) return this.flags & F_ZF;
    const m = this.lazyBits === 32 ? -1 : (1 << this.lazyBits) - 1;
    return (this.lazyR & m) === 0 ? F_ZF : 0;
  }

  getSF(): number {
    if (!(this.lazyMask & F_SF)) return this.flags & F_SF;
    return (this.lazyR >>> (this.lazyBits - 1)) & 1 ? F_SF : 0;
  }

  getPF(): number {
    if (!(this.lazyMask & F_PF)) return this.flags & F_PF;
    return PARITY[this.lazyR & 0xff]!;
  }

  getAF(): number {
    if (!(this.lazyMask & F_AF)) return this.flags & F_AF;
    if (this.lazyOp === LZ_LOGIC) return 0;
    return (this.lazyA ^ this.lazyB ^ this.lazyR) & 0x10 ? F_AF : 0;
  }

  getOF(): number {
    if (!(this.lazyMask & F_OF)) return this.flags & F_OF;
    const a = this.lazyA, b = this.lazyB, r = this.lazyR, s = this.lazyBits - 1;
    switch (this.lazyOp) {
      case LZ_ADD: case LZ_ADC: return (((a ^ r) & (b ^ r)) >>> s) & 1 ? F_OF : 0;
      case LZ_SUB: case LZ_SBB: return (((a ^ b) & (a ^ r)) >>> s) & 1 ? F_OF : 0;
      case LZ_INC: return ((r & ~a) >>> s) & 1 ? F_OF : 0;
      case LZ_DEC: return ((a & ~r) >>> s) & 1 ? F_OF : 0;
      case LZ_NEG: return ((b & r) >>> s) & 1 ? F_OF : 0;
      default: return 0;
    }
  }

  /** The whole EFLAGS value. */
  getFlags(): number {
    if (this.lazyMask === 0) return this.flags;
    return (this.flags & ~this.lazyMask) | (this.getCF() | this.getPF() | this.getAF() | this.getZF() | this.getSF() | this.getOF()) & this.lazyMask;
  }

  /** Writes the arithmetic flags selected by `mask` from `value`. */
  setArith(value: number, mask: number): void {
    if (this.lazyMask & ~mask) this.flags = this.getFlags();
    this.lazyMask = 0;
    this.flags = (this.flags & ~mask) | (value & mask);
  }

  /**
   * Writes EFLAGS bits selected by `mask` (non-arithmetic bits included);
   * updates the MMU's privilege context when AC changes and asks for an
   * interrupt check when IF becomes set.
   */
  setFlags(value: number, mask: number): void {
    const old = this.getFlags();
    this.lazyMask = 0;
    this.flags = ((old & ~mask) | (value & mask) | F_1) & ~(0x8 | 0x20 | 0x8000) & 0x3fffff;
    const changed = old ^ this.flags;
    if (changed & F_AC) {
      this.endFetchRun();
      this.mmu.setPrivilege(this.cpl === 3 ? 3 : 0, (this.flags & F_AC) !== 0);
    }
    if (changed & F_IF && this.flags & F_IF) this.pollIntr = true;
    if (changed & F_VM) this.updateMode();
  }

  /** Condition code cc (0..15, the low nibble of Jcc/SETcc/CMOVcc). */
  cond(cc: number): boolean {
    switch (cc >> 1) {
      case 0: return (this.getOF() !== 0) !== ((cc & 1) !== 0);
      case 1: return (this.getCF() !== 0) !== ((cc & 1) !== 0);
      case 2: return (this.getZF() !== 0) !== ((cc & 1) !== 0);
      case 3: return (this.getCF() !== 0 || this.getZF() !== 0) !== ((cc & 1) !== 0);
      case 4: return (this.getSF() !== 0) !== ((cc & 1) !== 0);
      case 5: return (this.getPF() !== 0) !== ((cc & 1) !== 0);
      case 6: return ((this.getSF() !== 0) !== (this.getOF() !== 0)) !== ((cc & 1) !== 0);
      default: return (this.getZF() !== 0 || (this.getSF() !== 0) !== (this.getOF() !== 0)) !== ((cc & 1) !== 0);
    }
  }

  // =====================================================================
  // Registers
  // =====================================================================

  getReg8(r: number): number {
    return this.reg8[R8[r]!]!;
  }

  setReg8(r: number, v: number): void {
    this.reg8[R8[r]!] = v;
  }

  getReg32(r: number): number {
    return this.reg32[r]!;
  }

  setReg32(r: number, v: number): void {
    this.reg32[r] = v;
  }

  // =====================================================================
  // Instruction fetch
  // =====================================================================

  /** Next instruction byte (advances EIP). */
  fetch8(): number {
    const eip = this.eip;
    const lin = (this.csBase + eip) | 0;
    if ((lin & 0xfffff000) === this.fetchPage) {
      this.eip = (eip + 1) | 0;
      return this.mem8[this.fetchHpa + (lin & 0xfff)]!;
    }
    return this.fetchSlow(1);
  }

  fetch16(): number {
    const lin = (this.csBase + this.eip) | 0;
    if ((lin & 0xfffff000) === this.fetchPage && (lin & 0xfff) <= 0xffe) {
      this.eip = (this.eip + 2) | 0;
      const h = this.fetchHpa + (lin & 0xfff);
      return this.mem8[h]! | (this.mem8[h + 1]! << 8);
    }
    return this.fetchSlow(2);
  }

  fetch32(): number {
    const lin = (this.csBase + this.eip) | 0;
    if ((lin & 0xfffff000) === this.fetchPage && (lin & 0xfff) <= 0xffc) {
      this.eip = (this.eip + 4) | 0;
      return this.mmu.dv.getInt32(this.fetchHpa + (lin & 0xfff), true);
    }
    return this.fetchSlow(4);
  }

  /**
   * Makes linear `lin`'s page the fetch page when the software TLB holds
   * its translation for a fetch in the current privilege context: what
   * fetchSlow would do on the next instruction's first byte, with nothing
   * the interpreter's fetch would not do (the MMU not observing, a flat CS,
   * a TLB hit: no walk, no fault, no counter). The block engines call it
   * where EIP has left the fetch page, so that the instruction there runs
   * from its block instead of in the interpreter. Returns whether it did.
   */
  refillFetch(lin: number): boolean {
    const mmu = this.mmu;
    if (this.segFastR[CS] === 0 || mmu.measure) return false;
    const i = (lin >>> 12) & mmu.tlbMask;
    if (mmu.tagX32[i] !== lin >>> 12) return false;
    this.fetchPage = lin & 0xfffff000;
    this.fetchHpa = mmu.tlbHpa[i]!;
    this.fetchGpa = mmu.soft.gpa[i]!;
    return true;
  }

  /** Fetch through the checks: CS limit, paging; refills the fetch cache when the page allows. */
  private fetchSlow(size: number): number {
    if (this.mmu.measure) return this.fetchObserved(size);
    let v = 0;
    for (let k = 0; k < size; k++) {
      const off = this.eip;
      if (!this.segFastR[CS] && (off >>> 0) > (this.segLimit[CS]! >>> 0)) this.gp(0);
      const lin = (this.segBase[CS]! + off) | 0;
      const h = this.mmu.translate(lin, 0, this.mmu.ctxAcc | 16 | (1 << 12));
      if (h < 0) {
        if (h === -2) {
          v |= (this.mmu.readPhys(this.mmu.lastGpa, 1) << (8 * k));
          this.eip = (this.eip + 1) | 0;
          continue;
        }
        throw this.memFault();
      }
      // Cache the page when the CS limit covers all of it.
      const page = lin & 0xfffff000;
      const pageOffStart = (page - this.segBase[CS]!) >>> 0;
      if (this.segFastR[CS] || (pageOffStart + 0xfff <= (this.segLimit[CS]! >>> 0) && pageOffStart <= (this.segLimit[CS]! >>> 0))) {
        this.fetchPage = page;
        this.fetchHpa = h - (lin & 0xfff);
        this.fetchGpa = this.mmu.lastGpa - (lin & 0xfff);
      } else {
        this.fetchPage = 1;
      }
      v |= this.mmu.u8[h]! << (8 * k);
      this.eip = (this.eip + 1) | 0;
    }
    if (!this.codeBig) this.eip &= 0xffff;
    return size === 4 ? v | 0 : v;
  }

  /** Forgets the fetch cache (paging, privilege or CS changed). */
  flushFetch(): void {
    this.fetchPage = 1;
  }

  /**
   * Instruction fetch while the MMU observes accesses (docs/cpu.md,
   * "Instruction fetches and the MMU"): the same checks as fetchSlow, and
   * the bytes grouped into runs, one run per instruction and page, each
   * reported to the MMU once as one fetch access. The fetch cache stays
   * empty, so every fetch comes here while `mmu.measure` holds.
   */
  private fetchObserved(size: number): number {
    this.fetchPage = 1;
    // Measuring was switched on during a slice of the plain run loop: end
    // the slice after this instruction, so the next one runs in runObserved.
    if (!this.observing) this.budget = this.executed;
    let v = 0;
    for (let k = 0; k < size; k++) {
      const off = this.eip;
      if (!this.segFastR[CS] && (off >>> 0) > (this.segLimit[CS]! >>> 0)) this.gp(0);
      const lin = (this.segBase[CS]! + off) | 0;
      let b: number;
      if ((lin & 0xfffff000) === this.runPage && lin === ((this.runStart + this.runLen) | 0)) {
        this.runLen++;
        b = this.runHpa >= 0 ? this.mem8[this.runHpa + (lin & 0xfff)]! : this.mmu.readPhys(this.runGpa + (lin & 0xfff), 1);
      } else {
        b = this.beginFetchRun(lin);
      }
      v |= b << (8 * k);
      this.eip = (this.eip + 1) | 0;
    }
    if (!this.codeBig) this.eip &= 0xffff;
    return size === 4 ? v | 0 : v;
  }

  /**
   * A byte of 64-bit code while the MMU observes accesses (long.ts's
   * fetch8, whose fetch cache stays empty then): as fetchObserved does for
   * 32-bit code, the bytes of one instruction within one page are one run,
   * reported to the MMU as one fetch access, not one access per byte. The
   * run is reported when it begins, by the translation that reads its
   * first byte (size 0: its length not known yet), and ended by runLong
   * after every instruction.
   */
  fetchRun64(lo: number, hi: number): number {
    const m = this.mmu;
    // (a byte fetched again, as long.ts's fetch8Peek does, stays in the run)
    const off = (lo - this.runStart) | 0;
    if ((lo & 0xfffff000) === this.runPage && hi === this.runHi && off >= 0 && off <= this.runLen) {
      if (off === this.runLen) this.runLen++;
    } else {
      this.endFetchRun();
      this.translateRun(lo, hi, m.ctxAcc | ACC_FETCH);
    }
    return this.runHpa >= 0 ? this.mem8[this.runHpa + (lo & 0xfff)]! : m.readPhys(this.runGpa + (lo & 0xfff), 1);
  }

  /**
   * Begins a run at hi:lin whose report is the translation made now, before
   * the run's length is known (size 0: not known); throws its fault.
   */
  private translateRun(lin: number, hi: number, acc: number): void {
    const m = this.mmu;
    const h = m.translate(lin, hi, acc);
    if (h === T_FAULT) throw this.memFault();
    if (h === T_MMIO) {
      this.runHpa = -1;
      this.runGpa = m.lastGpa - (lin & 0xfff);
    } else {
      this.runHpa = h - (lin & 0xfff);
    }
    this.runDeferred = false;
    this.runPage = lin & 0xfffff000;
    this.runHi = hi;
    this.runStart = lin;
    this.runLen = 1;
    this.runAcc = acc;
  }

  /** Ends the current run and begins one at `lin`; returns the byte there. */
  private beginFetchRun(lin: number): number {
    this.endFetchRun();
    const m = this.mmu;
    const acc = m.ctxAcc | ACC_FETCH;
    const i = (lin >>> 12) & m.tlbMask;
    if (m.tagX32[i] === lin >>> 12) {
      // In the software TLB: read through it now; report the run, with its
      // length, when it ends.
      this.runHpa = m.tlbHpa[i]!;
      this.runDeferred = true;
      this.runPage = lin & 0xfffff000;
      this.runHi = 0;
      this.runStart = lin;
      this.runLen = 1;
      this.runAcc = acc;
    } else {
      // Not in the software TLB: the translation that fills it is the run's report.
      this.translateRun(lin, 0, acc);
    }
    return this.runHpa >= 0 ? this.mem8[this.runHpa + (lin & 0xfff)]! : m.readPhys(this.runGpa + (lin & 0xfff), 1);
  }

  /**
   * Reports the current run of instruction bytes to the MMU as one fetch
   * access of its length (when not reported already) and forgets it. Called
   * at the end of every instruction while observing, and before anything
   * that changes paging or privilege (so the fetch is seen in the context
   * it was made in). Nothing to do, one compare, when not measuring.
   */
  endFetchRun(): void {
    const len = this.runLen;
    if (len === 0) return;
    this.runLen = 0;
    this.runPage = 1;
    if (this.runDeferred) {
      const m = this.mmu;
      // Sizes above 15 (an over-long instruction) are reported as not known.
      if (m.translate(this.runStart, 0, this.runAcc | ((len <= 15 ? len : 0) << ACC_SIZE_SHIFT)) === T_FAULT) m.clearFault();
    }
  }

  // =====================================================================
  // ModR/M decoding
  // =====================================================================

  /** Reads the ModR/M byte (and SIB, displacement); for memory forms sets eaSeg/eaOff. */
  decodeModrm(): void {
    const d = this.pre;
    if (d !== null) {
      this.pre = null;
      // The block engine decoded it (block.ts); used only where the
      // interpreter would decode it, right after the opcode.
      if (this.eip === ((this.instrEip + d.opEnd) | 0)) {
        this.decodeCached(d);
        return;
      }
    }
    const m = this.fetch8();
    this.modrm = m;
    if (m >= 0xc0) return;
    const mod = m >> 6;
    const rm = m & 7;
    let seg = DS;
    let off: number;
    if (this.a32) {
      if (rm === 4) {
        const sib = this.fetch8();
        const base = sib & 7;
        const index = (sib >> 3) & 7;
        off = index === 4 ? 0 : this.reg32[index]! << (sib >> 6);
        if (base === 5 && mod === 0) {
          off = (off + this.fetch32()) | 0;
        } else {
          off = (off + this.reg32[base]!) | 0;
          if (base === 4 || base === 5) seg = SS;
        }
      } else if (rm === 5 && mod === 0) {
        off = this.fetch32();
      } else {
        off = this.reg32[rm]!;
        if (rm === 5) seg = SS;
      }
      if (mod === 1) off = (off + ((this.fetch8() << 24) >> 24)) | 0;
      else if (mod === 2) off = (off + this.fetch32()) | 0;
    } else {
      const r = this.reg16;
      switch (rm) {
        case 0: off = r[6]! + r[12]!; break; // BX+SI
        case 1: off = r[6]! + r[14]!; break; // BX+DI
        case 2: off = r[10]! + r[12]!; seg = SS; break; // BP+SI
        case 3: off = r[10]! + r[14]!; seg = SS; break; // BP+DI
        case 4: off = r[12]!; break;
        case 5: off = r[14]!; break;
        case 6:
          if (mod === 0) off = this.fetch16();
          else { off = r[10]!; seg = SS; }
          break;
        default: off = r[6]!;
      }
      if (mod === 1) off += (this.fetch8() << 24) >> 24;
      else if (mod === 2) off += this.fetch16();
      off &= 0xffff;
    }
    this.eaSeg = this.segOverride >= 0 ? this.segOverride : seg;
    this.eaOff = off;
  }

  /** decodeModrm from a decoded instruction: the same fields, no fetch. */
  private decodeCached(d: Insn): void {
    const m = d.modrm;
    this.modrm = m;
    this.eip = (this.instrEip + d.modrmEnd) | 0;
    if (m >= 0xc0) return;
    this.effective(d);
  }

  /** The effective address of a decoded memory operand, set as decodeModrm sets it (eaSeg, eaOff); returns the offset. */
  private effective(d: Insn): number {
    let off = d.disp;
    if (d.base >= 0) off = (off + this.reg32[d.base]!) | 0;
    if (d.index >= 0) off = (off + (this.reg32[d.index]! << d.scale)) | 0;
    this.eaSeg = d.eaSeg;
    this.eaOff = off;
    return off;
  }

  /**
   * The jit engine's fetch of a group 1 immediate after the operand read
   * made its block invalid (jit.ts): as the handler fetches it, with EIP
   * after the ModR/M operand of the instruction at `at`; `size` 1 is a
   * sign-extended byte, 0 a byte, 2 a word, 4 a dword.
   */
  fetchImm(at: number, modrmEnd: number, size: number): number {
    this.eip = (at + modrmEnd) | 0;
    if (size === 1) return (this.fetch8() << 24) >> 24;
    if (size === 0) return this.fetch8();
    return size === 2 ? this.fetch16() : this.fetch32();
  }

  /** A near jump to `target` with a 32-bit operand: the CS limit check of the handlers' jumpAbs (ops/control.ts). */
  nearJump32(target: number): void {
    if (this.protectedMode || (this.segLimit[CS]! | 0) !== -1) {
      if ((target >>> 0) > (this.segLimit[CS]! >>> 0)) this.gp(0);
    }
    this.eip = target;
  }

  /**
   * Runs a decoded instruction of one of the block engine's own forms
   * (block.ts, K_*) as its handler would: the same reads, writes, flags,
   * EIP and decode fields, in the same order, without decoding or a call
   * through the dispatch table. The operand and address size are 32 bits
   * and there is no LOCK or REP prefix. Returns false for any other form.
   */
  private runForm(d: Insn, b: Block): boolean {
    const r = this.reg32;
    const m = d.modrm;
    switch (d.kind) {
      case K_MOV_EV_GV: {
        this.modrm = m;
        this.eip = (this.eip + d.len) | 0;
        const v = r[(m >> 3) & 7]!;
        if (m >= 0xc0) r[m & 7] = v;
        else this.wr32(d.eaSeg, this.effective(d), v);
        return true;
      }
      case K_MOV_GV_EV:
        this.modrm = m;
        this.eip = (this.eip + d.len) | 0;
        r[(m >> 3) & 7] = m >= 0xc0 ? r[m & 7]! : this.rd32(d.eaSeg, this.effective(d));
        return true;
      case K_LEA:
        this.modrm = m;
        this.eip = (this.eip + d.len) | 0;
        r[(m >> 3) & 7] = this.effective(d);
        return true;
      case K_ALU_EV_GV: {
        this.modrm = m;
        this.eip = (this.eip + d.len) | 0;
        const o = d.op >> 3;
        if (m >= 0xc0) {
          const x = alu(this, o, r[m & 7]!, r[(m >> 3) & 7]!, 32);
          if (o !== 7) r[m & 7] = x;
        } else {
          const off = this.effective(d);
          this.saveFlags(); // the flags are set before the write (see svAt)
          const x = alu(this, o, o === 7 ? this.rd32(d.eaSeg, off) : this.rdw32(d.eaSeg, off), r[(m >> 3) & 7]!, 32);
          if (o !== 7) this.wrw32(d.eaSeg, off, x);
        }
        return true;
      }
      case K_ALU_GV_EV: {
        this.modrm = m;
        this.eip = (this.eip + d.len) | 0;
        const o = d.op >> 3;
        const g = (m >> 3) & 7;
        const a = r[g]!;
        const x = alu(this, o, a, m >= 0xc0 ? r[m & 7]! : this.rd32(d.eaSeg, this.effective(d)), 32);
        if (o !== 7) r[g] = x;
        return true;
      }
      case K_ALU_EV_IB: {
        this.modrm = m;
        this.eip = (this.eip + d.len) | 0;
        const o = (m >> 3) & 7;
        if (m >= 0xc0) {
          const x = alu(this, o, r[m & 7]!, d.imm, 32);
          if (o !== 7) r[m & 7] = x;
        } else {
          const off = this.effective(d);
          this.saveFlags();
          const a = o === 7 ? this.rd32(d.eaSeg, off) : this.rdw32(d.eaSeg, off);
          // The handler fetches the immediate after this read, whose page
          // walk may have set an accessed bit in it (SDM vol. 3A 4.8): when
          // the block was dropped, fetch it as the handler does.
          const x = alu(this, o, a, b.valid ? d.imm : this.fetchImm(this.instrEip, d.modrmEnd, 1), 32);
          if (o !== 7) this.wrw32(d.eaSeg, off, x);
        }
        return true;
      }
      case K_TEST_EV_GV:
        this.modrm = m;
        this.eip = (this.eip + d.len) | 0;
        alu(this, 4, m >= 0xc0 ? r[m & 7]! : this.rd32(d.eaSeg, this.effective(d)), r[(m >> 3) & 7]!, 32);
        return true;
      case K_JCC:
        this.eip = (this.eip + d.len) | 0;
        if (this.cond(d.op & 15)) this.nearJump32((this.eip + d.imm) | 0);
        return true;
      case K_PUSH_R:
        this.eip = (this.eip + d.len) | 0;
        this.push32(r[d.op & 7]!);
        return true;
      case K_POP_R: {
        this.eip = (this.eip + d.len) | 0;
        const v = this.pop32();
        r[d.op & 7] = v;
        return true;
      }
      case K_CALL: {
        const ret = (this.eip + d.len) | 0;
        this.eip = ret;
        const target = (ret + d.imm) | 0;
        if ((target >>> 0) > (this.segLimit[CS]! >>> 0) && (this.protectedMode || this.segLimit[CS] !== -1)) this.gp(0);
        this.push32(ret);
        this.eip = target;
        return true;
      }
      case K_RET: {
        this.eip = (this.eip + d.len) | 0;
        this.nearJump32(this.peekOp(0));
        this.addSp(4);
        return true;
      }
      default:
        return false;
    }
  }

  /** The reg field (bits 5:3) of the ModR/M byte. */
  get regField(): number {
    return (this.modrm >> 3) & 7;
  }

  // ---- r/m operands ----
  readRm8(): number {
    return this.modrm >= 0xc0 ? this.reg8[R8[this.modrm & 7]!]! : this.rd8(this.eaSeg, this.eaOff);
  }
  readRm16(): number {
    return this.modrm >= 0xc0 ? this.reg16[(this.modrm & 7) << 1]! : this.rd16(this.eaSeg, this.eaOff);
  }
  readRm32(): number {
    return this.modrm >= 0xc0 ? this.reg32[this.modrm & 7]! : this.rd32(this.eaSeg, this.eaOff);
  }
  /** readRm8/16/32 for a read-modify-write: a memory operand is read with write intent (rdw8). */
  readRmW8(): number {
    return this.modrm >= 0xc0 ? this.reg8[R8[this.modrm & 7]!]! : this.rdw8(this.eaSeg, this.eaOff);
  }
  readRmW16(): number {
    return this.modrm >= 0xc0 ? this.reg16[(this.modrm & 7) << 1]! : this.rdw16(this.eaSeg, this.eaOff);
  }
  readRmW32(): number {
    return this.modrm >= 0xc0 ? this.reg32[this.modrm & 7]! : this.rdw32(this.eaSeg, this.eaOff);
  }
  /** writeRm8/16/32 for a read-modify-write (after readRmW8/16/32): a memory operand is written by wrw8. */
  writeRmW8(v: number): void {
    if (this.modrm >= 0xc0) this.reg8[R8[this.modrm & 7]!] = v;
    else this.wrw8(this.eaSeg, this.eaOff, v);
  }
  writeRmW16(v: number): void {
    if (this.modrm >= 0xc0) this.reg16[(this.modrm & 7) << 1] = v;
    else this.wrw16(this.eaSeg, this.eaOff, v);
  }
  writeRmW32(v: number): void {
    if (this.modrm >= 0xc0) this.reg32[this.modrm & 7] = v;
    else this.wrw32(this.eaSeg, this.eaOff, v);
  }
  writeRm8(v: number): void {
    if (this.modrm >= 0xc0) this.reg8[R8[this.modrm & 7]!] = v;
    else this.wr8(this.eaSeg, this.eaOff, v);
  }
  writeRm16(v: number): void {
    if (this.modrm >= 0xc0) this.reg16[(this.modrm & 7) << 1] = v;
    else this.wr16(this.eaSeg, this.eaOff, v);
  }
  writeRm32(v: number): void {
    if (this.modrm >= 0xc0) this.reg32[this.modrm & 7] = v;
    else this.wr32(this.eaSeg, this.eaOff, v);
  }

  // =====================================================================
  // Data memory through segments
  // =====================================================================

  /**
   * Segment checks for `len` bytes at seg:off (SDM vol. 3A, 5.3 limit
   * checking, 5.4 type checking): null selector, readability/writability,
   * expand-up and expand-down limits. #SS(0) for SS, #GP(0) otherwise.
   */
  checkSeg(seg: number, off: number, len: number, write: boolean): void {
    const ar = this.segAr[seg]!;
    const vec = seg === SS ? V_SS : V_GP;
    if (this.protectedMode && !(ar & AR_P)) this.fault(vec, 0); // null or not-present
    if (write) {
      if (ar & AR_CODE || !(ar & AR_RW)) { if (this.protectedMode) this.fault(vec, 0); }
    } else if ((ar & (AR_CODE | AR_RW)) === AR_CODE && this.protectedMode) {
      this.fault(vec, 0); // execute-only code
    }
    const o = off >>> 0;
    const last = o + len - 1;
    const limit = this.segLimit[seg]! >>> 0;
    if ((ar & (AR_CODE | AR_DC)) === AR_DC) {
      const upper = ar & AR_DB ? 0xffffffff : 0xffff;
      if (o <= limit || last > upper) this.fault(vec, 0);
    } else if (last > limit) {
      this.fault(vec, 0);
    }
  }

  rd8(seg: number, off: number): number {
    if (this.segFastR[seg] === 0) this.checkSeg(seg, off, 1, false);
    const v = this.mmu.rd8((this.segBase[seg]! + off) | 0);
    if (this.mmu.faultVector !== 0) throw this.memFault();
    return v;
  }

  rd16(seg: number, off: number): number {
    if (this.segFastR[seg] === 0) this.checkSeg(seg, off, 2, false);
    const v = this.mmu.rd16((this.segBase[seg]! + off) | 0);
    if (this.mmu.faultVector !== 0) throw this.memFault();
    return v;
  }

  rd32(seg: number, off: number): number {
    if (this.segFastR[seg] === 0) this.checkSeg(seg, off, 4, false);
    const v = this.mmu.rd32((this.segBase[seg]! + off) | 0);
    if (this.mmu.faultVector !== 0) throw this.memFault();
    return v;
  }

  wr8(seg: number, off: number, v: number): void {
    if (this.segFastW[seg] === 0) this.checkSeg(seg, off, 1, true);
    this.mmu.wr8((this.segBase[seg]! + off) | 0, v);
    if (this.mmu.faultVector !== 0) throw this.memFault();
  }

  wr16(seg: number, off: number, v: number): void {
    if (this.segFastW[seg] === 0) this.checkSeg(seg, off, 2, true);
    this.mmu.wr16((this.segBase[seg]! + off) | 0, v);
    if (this.mmu.faultVector !== 0) throw this.memFault();
  }

  wr32(seg: number, off: number, v: number): void {
    if (this.segFastW[seg] === 0) this.checkSeg(seg, off, 4, true);
    this.mmu.wr32((this.segBase[seg]! + off) | 0, v);
    if (this.mmu.faultVector !== 0) throw this.memFault();
  }

  /**
   * The read of a read-modify-write (ALU, INC, DEC, NOT, NEG, shifts,
   * SHLD, SHRD, XADD, CMPXCHG, XCHG, BTS, BTR, BTC with a memory
   * destination): the segment checked for a write and the page translated
   * for a write before the read (Mmu.rdw8; SDM vol. 3A, 4.7), so that a
   * fault has W/R = 1 and comes before any accessed bit is set.
   */
  rdw8(seg: number, off: number): number {
    if (this.segFastW[seg] === 0) this.checkSeg(seg, off, 1, true);
    const v = this.mmu.rdw8((this.segBase[seg]! + off) | 0);
    if (this.mmu.faultVector !== 0) throw this.memFault();
    return v;
  }

  rdw16(seg: number, off: number): number {
    if (this.segFastW[seg] === 0) this.checkSeg(seg, off, 2, true);
    const v = this.mmu.rdw16((this.segBase[seg]! + off) | 0);
    if (this.mmu.faultVector !== 0) throw this.memFault();
    return v;
  }

  rdw32(seg: number, off: number): number {
    if (this.segFastW[seg] === 0) this.checkSeg(seg, off, 4, true);
    const v = this.mmu.rdw32((this.segBase[seg]! + off) | 0);
    if (this.mmu.faultVector !== 0) throw this.memFault();
    return v;
  }

  /**
   * The write of a read-modify-write, after rdw8/16/32: wr8/16/32 through
   * Mmu.wrw8, which tells the MMU that the instruction's read was checked
   * as a write already (one shadow-paging exit per instruction, not two).
   */
  wrw8(seg: number, off: number, v: number): void {
    if (this.segFastW[seg] === 0) this.checkSeg(seg, off, 1, true);
    this.mmu.wrw8((this.segBase[seg]! + off) | 0, v);
    if (this.mmu.faultVector !== 0) throw this.memFault();
  }

  wrw16(seg: number, off: number, v: number): void {
    if (this.segFastW[seg] === 0) this.checkSeg(seg, off, 2, true);
    this.mmu.wrw16((this.segBase[seg]! + off) | 0, v);
    if (this.mmu.faultVector !== 0) throw this.memFault();
  }

  wrw32(seg: number, off: number, v: number): void {
    if (this.segFastW[seg] === 0) this.checkSeg(seg, off, 4, true);
    this.mmu.wrw32((this.segBase[seg]! + off) | 0, v);
    if (this.mmu.faultVector !== 0) throw this.memFault();
  }

  /** Checks a write of `len` bytes at seg:off without writing (segment and paging faults). */
  probeWrite(seg: number, off: number, len: number): void {
    if (this.segFastW[seg] === 0) this.checkSeg(seg, off, len, true);
    const lin = (this.segBase[seg]! + off) | 0;
    const acc = this.mmu.ctxAcc | 2;
    if (this.mmu.translate(lin, 0, acc) === -1) throw this.memFault();
    if (((lin & 0xfff) + len) > 4096 && this.mmu.translate((lin + len - 1) | 0, 0, acc) === -1) throw this.memFault();
  }

  // ---- FpuHost ----
  read8(seg: number, off: number): number { return this.rd8(seg, off); }
  read16(seg: number, off: number): number { return this.rd16(seg, off); }
  read32(seg: number, off: number): number { return this.rd32(seg, off); }
  write8(seg: number, off: number, v: number): void { this.wr8(seg, off, v); }
  write16(seg: number, off: number, v: number): void { this.wr16(seg, off, v); }
  write32(seg: number, off: number, v: number): void { this.wr32(seg, off, v); }
  probe(seg: number, off: number, len: number, write: boolean): void {
    if (write) this.probeWrite(seg, off, len);
    else {
      if (this.segFastR[seg] === 0) this.checkSeg(seg, off, len, false);
      const lin = (this.segBase[seg]! + off) | 0;
      if (this.mmu.translate(lin, 0, this.mmu.ctxAcc) === -1) throw this.memFault();
      if (((lin & 0xfff) + len) > 4096 && this.mmu.translate((lin + len - 1) | 0, 0, this.mmu.ctxAcc) === -1) throw this.memFault();
    }
  }
  get realMode(): boolean { return !this.protectedMode; }
  get opsize32(): boolean { return this.o32; }
  get instrCs(): number { return this.segSel[CS]!; }
  selector(seg: number): number { return this.segSel[seg]!; }
  raiseNM(): never { return this.trap(7); }
  raiseMF(): never { return this.trap(16); }
  raiseUD(): never { return this.trap(6); }
  raiseGP0(): never { return this.gp(0); }
  setFerr(active: boolean): void {
    const sink = this.ferrSink;
    if (sink !== null) sink(active);
  }
  /** IRQ 13 line for legacy FPU error reporting (set by the machine) */
  ferrSink: ((active: boolean) => void) | null = null;
  setFlagsZPC(zf: number, pf: number, cf: number): void {
    this.setArith((zf ? F_ZF : 0) | (pf ? F_PF : 0) | (cf ? F_CF : 0), F_ARITH);
  }

  // =====================================================================
  // Implicit supervisor accesses (descriptor tables, TSS, IDT) by linear address
  // =====================================================================

  readLin32Sup(lin: number): number {
    const v = this.mmu.readAcc(lin | 0, 0, 4, 0);
    if (this.mmu.faultVector !== 0) throw this.memFault();
    return v;
  }

  readLin16Sup(lin: number): number {
    const v = this.mmu.readAcc(lin | 0, 0, 2, 0);
    if (this.mmu.faultVector !== 0) throw this.memFault();
    return v;
  }

  readLin8Sup(lin: number): number {
    const v = this.mmu.readAcc(lin | 0, 0, 1, 0);
    if (this.mmu.faultVector !== 0) throw this.memFault();
    return v;
  }

  writeLin32Sup(lin: number, v: number): void {
    this.mmu.writeAcc(lin | 0, 0, 4, v, 0);
    if (this.mmu.faultVector !== 0) throw this.memFault();
  }

  writeLin16Sup(lin: number, v: number): void {
    this.mmu.writeAcc(lin | 0, 0, 2, v, 0);
    if (this.mmu.faultVector !== 0) throw this.memFault();
  }

  writeLin8Sup(lin: number, v: number): void {
    this.mmu.writeAcc(lin | 0, 0, 1, v, 0);
    if (this.mmu.faultVector !== 0) throw this.memFault();
  }

  // =====================================================================
  // Stack
  // =====================================================================

  /** ESP or SP, per the stack segment's B bit. */
  get sp(): number {
    return this.stackBig ? this.reg32[ESP]! : this.reg16[8]!;
  }

  setSp(v: number): void {
    if (this.stackBig) this.reg32[ESP] = v;
    else this.reg16[8] = v;
  }

  /** Adds to ESP or SP. */
  addSp(n: number): void {
    if (this.stackBig) this.reg32[ESP] = (this.reg32[ESP]! + n) | 0;
    else this.reg16[8] = this.reg16[8]! + n;
  }

  push16(v: number): void {
    const sp = this.stackBig ? (this.reg32[ESP]! - 2) | 0 : (this.reg16[8]! - 2) & 0xffff;
    this.wr16(SS, sp, v);
    this.setSp(sp);
  }

  push32(v: number): void {
    const sp = this.stackBig ? (this.reg32[ESP]! - 4) | 0 : (this.reg16[8]! - 4) & 0xffff;
    this.wr32(SS, sp, v);
    this.setSp(sp);
  }

  pushOp(v: number): void {
    if (this.o32) this.push32(v);
    else this.push16(v);
  }

  pop16(): number {
    const sp = this.sp;
    const v = this.rd16(SS, sp);
    this.addSp(2);
    return v;
  }

  pop32(): number {
    const sp = this.sp;
    const v = this.rd32(SS, sp);
    this.addSp(4);
    return v;
  }

  popOp(): number {
    return this.o32 ? this.pop32() : this.pop16();
  }

  /** Reads the stack at ESP + `delta` (no ESP change). */
  peekOp(delta: number): number {
    const off = this.stackBig ? (this.reg32[ESP]! + delta) | 0 : (this.reg16[8]! + delta) & 0xffff;
    return this.o32 ? this.rd32(SS, off) : this.rd16(SS, off);
  }

  // =====================================================================
  // Segment caches and mode
  // =====================================================================

  /** Real-mode or v86 segment load: base = selector * 16, limit and rights unchanged except in v86 (SDM 20.1). */
  loadRealSegment(seg: number, sel: number): void {
    this.segSel[seg] = sel & 0xffff;
    this.segBase[seg] = (sel & 0xffff) << 4;
    if (this.getFlags() & F_VM || seg === CS && !(this.cr0 & CR0_PE)) {
      this.segLimit[seg] = 0xffff;
      this.segAr[seg] = AR_P | AR_S | AR_RW | AR_ACCESSED | (seg === CS ? AR_CODE : 0) | (this.getFlags() & F_VM ? 3 << 13 : 0);
    } else if (this.segAr[seg] === 0 || !(this.cr0 & CR0_PE)) {
      if (this.segAr[seg] === 0) {
        this.segLimit[seg] = 0xffff;
        this.segAr[seg] = AR_P | AR_S | AR_RW | AR_ACCESSED | (seg === CS ? AR_CODE : 0);
      }
    }
    this.refreshSeg(seg);
  }

  /** Loads a descriptor cache directly. */
  loadCache(seg: number, sel: number, base: number, limit: number, ar: number): void {
    this.segSel[seg] = sel & 0xffff;
    this.segBase[seg] = base | 0;
    this.segLimit[seg] = limit | 0;
    this.segAr[seg] = ar & 0x00f0ff00;
    this.refreshSeg(seg);
  }

  loadSystemCache(seg: number, sel: number, base: number, limit: number, ar: number): void {
    this.segSel[seg] = sel & 0xffff;
    this.segBase[seg] = base | 0;
    this.segLimit[seg] = limit | 0;
    this.segAr[seg] = ar & 0x00f0ff00;
  }

  /** Records a control transfer from the current instruction to `target` (in the new CS) for triple-fault reports. */
  noteBranch(target: number): void {
    const i = (this.historyPos = (this.historyPos + 1) & (HISTORY - 1)) * 3;
    this.history[i] = this.segSel[CS]!;
    this.history[i + 1] = this.instrEip;
    this.history[i + 2] = target;
  }

  /** Recomputes the fast-path flags of a segment and the mode bits that depend on CS and SS. */
  refreshSeg(seg: number): void {
    const ar = this.segAr[seg]!;
    const flat = (this.segLimit[seg]! | 0) === -1 && (ar & (AR_CODE | AR_DC)) !== AR_DC && (ar & AR_P) !== 0;
    const readable = !(ar & AR_CODE) || (ar & AR_RW) !== 0;
    const writable = !(ar & AR_CODE) && (ar & AR_RW) !== 0;
    this.segFastR[seg] = flat && readable ? 1 : 0;
    this.segFastW[seg] = flat && writable ? 1 : 0;
    if (seg === CS) {
      // IA-32e mode and CS.L: 64-bit mode (SDM vol. 3A, 5.2.1). A change of
      // it ends the run() slice after this instruction, so that the next
      // slice runs in the loop of the new mode (runLong or the 32-bit ones).
      const l = (this.efer & EFER_LMA) !== 0 && (ar & AR_L) !== 0;
      if (l !== this.long64) {
        this.long64 = l;
        this.ripHi = 0;
        this.budget = this.executed;
      }
      this.codeBig = this.protectedMode && (ar & AR_DB) !== 0 && !l;
      this.csBase = this.segBase[CS]!;
      this.flushFetch();
    } else if (seg === SS) {
      this.stackBig = this.protectedMode && (ar & AR_DB) !== 0;
    }
  }

  /** Recomputes protectedMode/CPL-dependent state after CR0.PE, EFLAGS.VM or CS changes. */
  updateMode(): void {
    this.endFetchRun();
    const vm = (this.flags & F_VM) !== 0;
    this.protectedMode = (this.cr0 & CR0_PE) !== 0 && !vm;
    if (vm) this.cpl = 3;
    else if (!(this.cr0 & CR0_PE)) this.cpl = 0;
    this.refreshSeg(CS);
    this.refreshSeg(SS);
    for (const s of [ES, DS, FS, GS]) this.refreshSeg(s);
    this.mmu.setPrivilege(this.cpl === 3 ? 3 : 0, (this.flags & F_AC) !== 0);
    this.flushFetch();
  }

  /** Sets the CPL (after a privilege change) and tells the MMU. */
  setCpl(cpl: number): void {
    if (cpl !== this.cpl) {
      this.endFetchRun();
      this.cpl = cpl;
      this.mmu.setPrivilege(cpl === 3 ? 3 : 0, (this.getFlags() & F_AC) !== 0);
      this.flushFetch();
    }
  }

  // =====================================================================
  // Run loop
  // =====================================================================

  /**
   * Executes up to `budget` instructions. Returns early when the CPU halts.
   * Faults are delivered to the guest; a triple fault throws CpuStop with a
   * report.
   */
  run(budget: number): number {
    this.executed = 0;
    this.svAt = -1;
    this.budget = budget;
    this.sliceStart = this.clock.now;
    if (this.halted) {
      // HLT ends when an interrupt is delivered (SDM vol. 2A, HLT).
      this.pollIntr = true;
      if (!(this.flags & F_IF) || !this.pic.hasInterrupt()) return 0;
    }
    // 64-bit mode: its own loop, under every engine (long.ts).
    if (this.long64) return this.runLong();
    // The MMU observes accesses (cost model or recorder, switched at any
    // time): a loop of its own reports every instruction's fetch, so this
    // one stays as fast as it was.
    this.observing = this.mmu.measure;
    if (this.observing) return this.runObserved();
    if (this.blocks !== null) return this.runBlocks(this.blocks);
    let n = 0;
    while (n < this.budget) {
      try {
        while (n < this.budget) {
          if (this.pollIntr) {
            this.executed = n;
            if (this.checkInterrupts()) continue;
          }
          this.instrEip = this.eip;
          this.instrEsp = this.reg32[ESP]!;
          this.executed = ++n;
          const tf = this.flags & F_TF;
          execute(this);
          if (tf !== 0) this.singleStep();
          if (this.halted) {
            this.totalInstructions += n;
            return n;
          }
        }
      } catch (e) {
        if (e !== FAULT) throw e;
        this.instructionFault();
      }
    }
    this.totalInstructions += n;
    return n;
  }

  /**
   * run() with the block engine (docs/cpu.md, "The block engine"): the
   * interpreter's loop, except that where EIP is on the cached fetch page
   * of 32-bit code and TF is clear, it runs the decoded block there. Each
   * instruction of a block keeps the interpreter's contract: instrEip and
   * instrEsp set before it, counted before it runs, its decode state set as
   * execute() would set it; after each, the block stops where the
   * interpreter's loop would do something else than start the next
   * instruction (the slice's end, an interrupt poll, a halt), where the
   * fetch page changed (paging, CS, privilege), and after a write to the
   * block's own frame (SDM vol. 3A, 11.6: the next instruction's bytes may
   * have changed).
   */
  private runBlocks(cache: BlockCache): number {
    let n = 0;
    // A fetch page whose frame the cache leaves to the interpreter (code
    // and data on one page): no lookup for each of its instructions.
    let skipPage = 1, skipHpa = -1;
    while (n < this.budget) {
      try {
        while (n < this.budget) {
          if (this.pollIntr) {
            this.executed = n;
            if (this.checkInterrupts()) continue;
          }
          const lin = (this.csBase + this.eip) | 0;
          const page = lin & 0xfffff000;
          if (page !== this.fetchPage) this.refillFetch(lin);
          if (page === this.fetchPage && (page !== skipPage || this.fetchHpa !== skipHpa) && this.codeBig && (this.flags & F_TF) === 0) {
            const b = cache.lookup((this.fetchGpa + (lin & 0xfff)) >>> 0, this.fetchHpa, true);
            if (b === null) {
              skipPage = page;
              skipHpa = this.fetchHpa;
            } else if (b.insns.length !== 0) {
              const f = b.fn;
              // A compiled block runs only when all of it fits in the slice
              // and no interrupt poll is pending (jit.ts): an instruction
              // in the shadow of STI or of a load of SS (SDM vol. 3A, 6.8.3)
              // starts with pollIntr still set, and runs alone.
              if (f !== null && !this.pollIntr && n + b.insns.length <= this.budget) n = this.runCompiled(cache, b, f, n, page);
              else {
                if (++b.runs === cache.jitThreshold) cache.compile(b, this.fetchHpa);
                else if (b.runs === cache.flushRuns) cache.flushWasm();
                else if (b.runs === cache.jsRuns) cache.compileLate(b, this.fetchHpa);
                n = this.runBlock(b, n, page);
              }
              if (this.halted) {
                this.totalInstructions += n;
                return n;
              }
              continue;
            }
          }
          this.instrEip = this.eip;
          this.instrEsp = this.reg32[ESP]!;
          this.executed = ++n;
          const tf = this.flags & F_TF;
          execute(this);
          if (tf !== 0) this.singleStep();
          if (this.halted) {
            this.totalInstructions += n;
            return n;
          }
        }
      } catch (e) {
        if (e !== FAULT) throw e;
        // A fault in runBlock: its count is in `executed`, as the interpreter's is.
        n = this.executed;
        this.pre = null;
        this.instructionFault();
      }
    }
    this.totalInstructions += n;
    return n;
  }

  /**
   * Runs block `b` from its first instruction, `n` instructions into the
   * slice, on linear page `page`; returns the count after it. A separate
   * function, so that the interpreter's path in runBlocks stays as small
   * as run()'s (V8 inlines execute() there). A fault leaves the count in
   * `executed` (set before each instruction, as the interpreter sets it).
   */
  runBlock(b: Block, n: number, page: number): number {
    const insns = b.insns;
    for (let k = 0; k < insns.length; k++) {
      const d = insns[k]!;
      this.instrEip = this.eip;
      this.instrEsp = this.reg32[ESP]!;
      this.executed = ++n;
      this.o32 = d.o32;
      this.a32 = d.a32;
      this.segOverride = d.seg;
      this.rep = d.rep;
      this.lockPrefix = d.lock;
      if (d.kind === 0 || !this.runForm(d, b)) {
        this.eip = (this.eip + d.opEnd) | 0;
        if (d.ea !== 0) this.pre = d;
        d.handler(this, d.op);
        this.pre = null;
      }
      if (this.halted || n >= this.budget || this.pollIntr || !b.valid || this.fetchPage !== page) break;
    }
    return n;
  }

  /**
   * The jit engine: runs compiled block `b` (its function `f`), then, for
   * as long as the next block is compiled too and runBlocks would run it
   * next, that one, without going back to runBlocks' loop. The conditions
   * are runBlocks' own: no halt, no interrupt poll, TF clear, 32-bit code,
   * EIP on the cached fetch page (refilled from the TLB when EIP left it,
   * as runBlocks refills it), and the whole block within the slice.
   * Anything else goes back to runBlocks (its lookup finds the same block
   * again).
   */
  private runCompiled(cache: BlockCache, b: Block, f: JitFn, n: number, page: number): number {
    for (;;) {
      const x = f(this, b, n, page);
      if (x < 0) {
        // the block called a handler or took a slow path (JitFn)
        n = ~x;
        if (this.halted || this.pollIntr || this.fetchPage !== page || !this.codeBig || (this.flags & F_TF) !== 0) return n;
      } else n = x;
      const lin = (this.csBase + this.eip) | 0;
      if ((lin & 0xfffff000) !== page) {
        // EIP left the page (a branch, a call, a return, a fall-through):
        // go on from the TLB's translation of the new one, as runBlocks would.
        if (!this.refillFetch(lin)) return n;
        page = lin & 0xfffff000;
      }
      // The block's last two successors first: a valid block is the one the lookup would find.
      const gpa = (this.fetchGpa + (lin & 0xfff)) >>> 0;
      let nb = b.s0;
      if (nb === null || nb.gpa !== gpa || !nb.valid) {
        nb = b.s1;
        if (nb === null || nb.gpa !== gpa || !nb.valid) {
          nb = cache.lookup(gpa, this.fetchHpa, true);
          if (nb === null) return n;
          b.s1 = b.s0;
          b.s0 = nb;
        }
      }
      const nf = nb.fn;
      if (nf === null || n + nb.insns.length > this.budget) return n;
      b = nb;
      f = nf;
    }
  }

  /**
   * run() in 64-bit mode, under every engine: the interpreter of long.ts,
   * one instruction at a time, until the slice ends or the CPU leaves
   * 64-bit mode. Each instruction saves the flags first, so a fault leaves
   * RIP, RSP and RFLAGS as they were (SDM vol. 3A, 6.5). While the MMU
   * observes accesses, each instruction byte is reported as a fetch of its
   * own (no runs per instruction as in runObserved).
   */
  private runLong(): number {
    let n = 0;
    while (n < this.budget && this.long64) {
      try {
        while (n < this.budget && this.long64) {
          if (this.pollIntr) {
            this.executed = n;
            if (this.checkInterrupts()) continue;
          }
          this.instrEip = this.eip;
          this.instrRipHi = this.ripHi;
          this.instrEsp = this.reg32[ESP]!;
          this.instrRspHi = this.regHi[ESP]!;
          this.executed = ++n;
          this.saveFlags();
          const tf = this.flags & F_TF;
          execute64(this);
          if (this.runLen !== 0) this.endFetchRun();
          if (tf !== 0) this.singleStep();
          if (this.halted) {
            this.totalInstructions += n;
            return n;
          }
        }
      } catch (e) {
        if (e !== FAULT) throw e;
        // The bytes of a faulting instruction were fetched all the same (observed runs).
        this.endFetchRun();
        this.eip = this.instrEip;
        this.ripHi = this.instrRipHi;
        this.reg32[ESP] = this.instrEsp;
        this.regHi[ESP] = this.instrRspHi;
        this.restoreSavedFlags();
        this.exception(FAULT.vector, FAULT.hasError, FAULT.errorCode);
      }
    }
    this.totalInstructions += n;
    return n;
  }

  /**
   * run() while the MMU observes accesses: the same loop, and every
   * instruction's fetch runs reported when it ends (or faults).
   */
  private runObserved(): number {
    this.flushFetch();
    this.endFetchRun();
    let n = 0;
    while (n < this.budget) {
      try {
        while (n < this.budget) {
          if (this.pollIntr) {
            this.executed = n;
            if (this.checkInterrupts()) continue;
          }
          this.instrEip = this.eip;
          this.instrEsp = this.reg32[ESP]!;
          this.executed = ++n;
          const tf = this.flags & F_TF;
          execute(this);
          if (this.runLen !== 0) this.endFetchRun();
          if (tf !== 0) this.singleStep();
          if (this.halted) {
            this.totalInstructions += n;
            return n;
          }
        }
      } catch (e) {
        if (e !== FAULT) throw e;
        // The bytes of a faulting instruction were fetched all the same.
        this.endFetchRun();
        this.instructionFault();
      }
    }
    this.totalInstructions += n;
    return n;
  }

  /**
   * Before a port access: brings the virtual clock up to this instruction
   * (devices read the time) and ends the slice after it, so timer events a
   * device arms are fired on time.
   */
  syncClockForIo(): void {
    this.clock.now = this.sliceStart + this.executed * this.clock.nsPerInstruction;
    this.budget = this.executed;
  }

  /** TF was set when the instruction began: a single-step #DB trap after it (SDM vol. 3A, 17.3.1.4). */
  private singleStep(): void {
    this.dr[6] = this.dr[6]! | 0x4000;
    this.instrEip = this.eip;
    this.instrEsp = this.reg32[ESP]!;
    this.exception(1, false, 0);
  }

  /** Delivers a pending external interrupt if allowed; returns whether it did. */
  private checkInterrupts(): boolean {
    if (this.intShadow) {
      this.intShadow = false;
      return false;
    }
    if (!(this.flags & F_IF)) {
      this.pollIntr = false;
      return false;
    }
    if (!this.pic.hasInterrupt()) {
      this.pollIntr = false;
      return false;
    }
    const vector = this.pic.acknowledge();
    this.halted = false;
    this.instrEip = this.eip;
    this.instrEsp = this.reg32[ESP]!;
    try {
      deliverInterrupt(this, vector, 'external', false, 0);
    } catch (e) {
      if (e !== FAULT) throw e;
      this.eip = this.instrEip;
      this.reg32[ESP] = this.instrEsp;
      this.exception(FAULT.vector, FAULT.hasError, FAULT.errorCode);
    }
    return true;
  }

  /**
   * Delivers exception `vector` raised by the current instruction, with the
   * double-fault rules of SDM vol. 3A, table 6-5: a contributory exception
   * or page fault while delivering one becomes #DF; a fault while
   * delivering #DF is a triple fault (shutdown).
   */
  exception(vector: number, hasError: boolean, errorCode: number): void {
    for (;;) {
      const prev = this.delivering;
      if (prev >= 0) {
        if (prev === V_DF) this.tripleFault(vector);
        const contributory = (v: number): boolean => v === 0 || (v >= 10 && v <= 13);
        if ((contributory(prev) && contributory(vector)) || (prev === V_PF && (contributory(vector) || vector === V_PF))) {
          vector = V_DF;
          hasError = true;
          errorCode = 0;
        }
      }
      this.delivering = vector;
      try {
        deliverInterrupt(this, vector, 'exception' as InterruptKind, hasError, errorCode);
        this.delivering = -1;
        return;
      } catch (e) {
        if (e !== FAULT) {
          this.delivering = -1;
          throw e;
        }
        this.eip = this.instrEip;
        this.reg32[ESP] = this.instrEsp;
        vector = FAULT.vector;
        hasError = FAULT.hasError;
        errorCode = FAULT.errorCode;
      }
    }
  }

  private tripleFault(vector: number): never {
    this.delivering = -1;
    const report = this.stateReport();
    const msg = `triple fault: ${EXCEPTION_NAMES[vector] ?? `vector ${vector}`} while delivering #DF`;
    this.onShutdown?.(msg);
    throw new CpuStop(msg, report);
  }

  /** A human-readable snapshot of the registers and the last instructions' addresses. */
  stateReport(): string {
    const h = (n: number, w = 8): string => (n >>> 0).toString(16).padStart(w, '0');
    const lines: string[] = [];
    lines.push(REG_NAMES.map((r, i) => `${r}=${h(this.reg32[i]!)}`).join(' '));
    lines.push(`eip=${h(this.eip)} eflags=${h(this.getFlags())} cpl=${this.cpl} cr0=${h(this.cr0)} cr2=${h(this.cr2)} cr3=${h(this.cr3)} cr4=${h(this.cr4)}`);
    lines.push(SEG_NAMES.map((s, i) => `${s}=${h(this.segSel[i]!, 4)}(base ${h(this.segBase[i]!)} limit ${h(this.segLimit[i]!)} ar ${h(this.segAr[i]! >>> 8, 4)})`).join('\n'));
    lines.push(`gdt=${h(this.gdtBase)}/${h(this.gdtLimit, 4)} idt=${h(this.idtBase)}/${h(this.idtLimit, 4)}`);
    const recent: string[] = [];
    for (let k = 1; k <= HISTORY; k++) {
      const i = ((this.historyPos + k) & (HISTORY - 1)) * 3;
      if (this.history[i] === 0 && this.history[i + 1] === 0 && this.history[i + 2] === 0) continue;
      recent.push(`${h(this.history[i]!, 4)}:${h(this.history[i + 1]!)}->${h(this.history[i + 2]!)}`);
    }
    lines.push(`last ${recent.length} interrupts and far transfers (oldest first): ${recent.join(' ')}`);
    lines.push(`faulting instruction at ${h(this.segSel[CS]!, 4)}:${h(this.instrEip)}`);
    return lines.join('\n');
  }

  /** Virtual time in nanoseconds, including the instructions of the current run() slice. */
  now(): number {
    return this.sliceStart + this.executed * this.clock.nsPerInstruction;
  }

  /** Whether the CPU can ever wake from HLT (interrupts enabled). */
  canWake(): boolean {
    return (this.getFlags() & F_IF) !== 0;
  }

  /** Writes CR0 and follows the consequences (mode, MMU). Returns false on #GP conditions the caller raises. */
  applyCr0(v: number): void {
    this.endFetchRun();
    const old = this.cr0;
    this.cr0 = v | CR0_ET;
    if (this.mmu.writeCr0(this.cr0) !== 0) {
      this.cr0 = old;
      this.mmu.clearFault();
      this.gp(0);
    }
    if ((old ^ this.cr0) & CR0_PE) this.updateMode();
    this.flushFetch();
  }

  /** Reads TF for single-step traps. */
  get trapFlag(): boolean {
    return (this.flags & F_TF) !== 0;
  }

  /** Segment register name for messages. */
  static segName(s: number): string {
    return SEG_NAMES[s] ?? `seg${s}`;
  }
}

export { R8, PARITY, DS, ES, FS, GS, SS, CS, F_VM };
