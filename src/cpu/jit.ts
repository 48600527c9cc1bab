/**
 * The jit engine (docs/cpu.md, "The JIT"): a block of the block engine
 * (block.ts) that has run JIT_THRESHOLD times is compiled, with
 * `new Function`, into one JavaScript function that runs the whole block as
 * straight-line code: per instruction, its register numbers, displacement,
 * immediate and EIP inlined as constants. The common forms are emitted as
 * code (the same reads, writes, flag updates and EIP as their handlers, in
 * the handlers' order); any other instruction calls its interpreter handler
 * exactly as Cpu.runBlock does.
 *
 * Memory accesses of the emitted forms inline the MMU's software-TLB hit
 * (Mmu.rd32 and the others): where the segment needs no check
 * (Cpu.segFastR/segFastW: present, the right type, a 4 GiB limit), the
 * linear page's tag matches for the access's kind and privilege context,
 * the access stays within its page and nothing observes accesses
 * (Mmu.measure), the host memory is read or written directly. Such a hit
 * has no other effect: it cannot fault, sets no accessed or dirty bit
 * (the tag is there only once they are set), reaches no MMIO or ROM, and
 * cannot write a frame whose code is cached (a watched frame has no write
 * tag: block.ts). Anything else (the *slow path*) calls Cpu's accessor,
 * which checks the segment and goes through the MMU as the handler would.
 * A read-modify-write takes the hit path only when both its read and its
 * write hit.
 *
 * The per-instruction contract (docs/cpu.md, "The block engine") holds for
 * every instruction an observer can see:
 *
 * - instrEip, instrEsp and `executed` are stored before every instruction
 *   that calls a handler or may fault other than in a memory access, and
 *   before the block's last instruction; for the other emitted forms they
 *   are stored only in a memory access's slow path, before Cpu's accessor
 *   is called (and before the handler's saveFlags, which records
 *   `executed`). A form whose accesses all hit (or that has none: a
 *   *register-only* form) cannot fault, cannot read the clock or a port,
 *   and cannot end the block early (it changes none of halted, budget,
 *   pollIntr, the block's validity or the fetch page); so the next thing
 *   that can look at those three fields is a later instruction of the
 *   same block, which stores its own first, or the block's end, where the
 *   last instruction stored them. A fault in a later instruction restores
 *   that instruction's instrEip and instrEsp, never the skipped ones.
 * - saveFlags (the flags a read-modify-write restores when its write
 *   faults) is called as the handler calls it on the slow path, and left
 *   out when both accesses hit: then nothing can fault, and the saved
 *   flags are read only after a fault of the instruction that saved them
 *   (Cpu.svAt, reset at each slice).
 * - The decode fields o32, a32, segOverride, rep and lockPrefix are stored
 *   when they differ from what the previous instruction left (known at
 *   compile time after an emitted form, unknown after a handler). modrm,
 *   eaSeg and eaOff are not stored by emitted forms: only a handler reads
 *   them, after its own decodeModrm sets them.
 * - After each instruction that may have changed halted, budget, pollIntr,
 *   the block's validity (any memory access on the slow path: a write, or
 *   an accessed/dirty bit a page walk sets, SDM vol. 3A 4.8 and 11.6) or
 *   the fetch page, the function stops where runBlock would, with EIP
 *   after that instruction, and returns the count. For an emitted form
 *   that is checked only when one of its accesses took the slow path
 *   (the local `s`).
 * - EIP itself is stored only before a handler, at an exit and at the
 *   block's end: an emitted form's fault restores EIP from instrEip, and
 *   nothing else reads EIP during an emitted form's memory access.
 *   (Under the block engine, runForm sets it first; no device reads it.)
 * - The slice budget: the function is entered only when the whole block
 *   fits in what is left of it (runBlocks checks), and the budget can only
 *   be lowered by a handler or a memory access (port I/O, MMIO), after
 *   which it is checked as in runBlock.
 * - The interrupt poll: the function is entered only with pollIntr clear
 *   (runBlocks and the chaining in Cpu.runCompiled check). It can be set on
 *   entry: the instruction in the shadow of STI or of a load of SS (SDM
 *   vol. 3A, 6.8.3) starts with pollIntr still set, since the interrupt
 *   waits for the instruction's end, and runBlock stops after it. A
 *   register-only first instruction would not check, and the interrupt
 *   would come late: that was the Debian boot's divergence (docs/cpu.md,
 *   "The JIT"), and test/cpu/jit-fuzz.test.ts's timer programs find it.
 *
 * Immediates are decoded at compile time. That is exact for an immediate
 * the handler fetches before any memory access (nothing can have written
 * the frame since the block was decoded: a write drops the block before
 * its next instruction). Group 1 (80, 81, 83), IMUL Gv,Ev,I (69, 6B) and
 * TEST Ev,Iz (F7 /0) with a memory operand fetch their immediate after
 * reading the operand, and that read's page walk may set an accessed bit
 * in the code frame, even in the immediate's own bytes: so when the block
 * became invalid during the read (only possible on its slow path), the
 * immediate is fetched as the handler fetches it. The shifts by an
 * immediate count on memory (C1) stay with their handler for the same
 * reason (the count decides whether they write at all).
 */
import type { Block, Insn } from './block.js';
import { K_ALU_EV_GV, K_ALU_EV_IB, K_ALU_GV_EV, K_CALL, K_JCC, K_LEA, K_MOV_EV_GV, K_MOV_GV_EV, K_POP_R, K_PUSH_R, K_RET, K_TEST_EV_GV } from './block.js';
import type { Cpu } from './cpu.js';
import type { Mmu } from '../mmu/index.js';
import { alu, mulFlags, shift, zsp } from './alu.js';
import { F_ARITH } from './constants.js';

/**
 * Runs a compiled block `n` instructions into the slice, on linear page
 * `page`; returns the count after it, or its complement (~count) when the
 * block may have changed what Cpu.runCompiled checks before chaining
 * (halt, interrupt poll, fetch page, CS.D, TF): after a handler call or a
 * memory access's slow path. A block that returns the count itself did
 * neither, so those are as they were when it was entered.
 */
export type JitFn = (c: Cpu, b: Block, n: number, page: number) => number;

/**
 * Runs of a block before it is compiled (the jit engine's default). High,
 * because compiling costs far more than it saves on code that is soon
 * dropped: the whole Debian 686 boot under shadow took 146 s wall and 163 s
 * of user CPU at 128 (34,422 blocks compiled, 19,936 dropped with their
 * blocks, user space above all), 104 s and 132 s at 1024, 83 s and 100 s at
 * 4096, 79 s and 88 s at 16384 (2026-12-06, one run each, not all side by
 * side, docs/bench.md). Side by side, later: 16384 the same wall time as
 * 4096 and 8% less CPU, but 1,629 blocks compiled instead of 4,433. 4096
 * keeps most of the gain and compiles more of the boot's blocks, so the
 * boot tests check compiled code widely.
 */
export const JIT_THRESHOLD = 4096;

// Lazy-flag operations (cpu.ts LZ_*), repeated here as literals for the generated code.
const LZ_ADD = 0, LZ_SUB = 2, LZ_LOGIC = 4, LZ_INC = 5, LZ_DEC = 6, LZ_NEG = 7;
/** Segment registers (constants.ts) as the generated code names them. */
const SS = 2;

function le32(b: Uint8Array, i: number): number {
  return b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24);
}
function le16(b: Uint8Array, i: number): number {
  return b[i]! | (b[i + 1]! << 8);
}

/** `r[k]` as the generated code names the register file. */
const R = (k: number): string => `r[${k}]`;
/** An 8-bit register (AL, CL, DL, BL, AH, CH, DH, BH) as a byte of the register file (cpu.ts R8). */
const R8 = (k: number): string => `c.reg8[${(k & 3) * 4 + (k >> 2)}]`;
/** A 16-bit register as a half of the register file. */
const R16 = (k: number): string => `c.reg16[${k << 1}]`;

/** The effective-address expression of a decoded memory operand (Cpu.effective). */
function eaExpr(d: Insn): string {
  let s = `${d.disp | 0}`;
  if (d.base >= 0) s = `((${s} + r[${d.base}]) | 0)`;
  if (d.index >= 0) s = `((${s} + (r[${d.index}] << ${d.scale})) | 0)`;
  return s;
}

/**
 * An ALU operation (alu.ts `alu`) of `bits` bits of the expressions `a` and
 * `b` (each a local's name) into local `x`, with its lazy flags.
 */
function aluCode(o: number, a: string, b: string, x: string, bits = 32): string {
  switch (o) {
    case 0: return `const ${x} = (${a} + ${b}) | 0; ${FW}c.setLazy(${LZ_ADD}, ${a}, ${b}, ${x}, ${bits});${FE}`;
    case 1: return `const ${x} = ${a} | ${b}; ${FW}c.setLazy(${LZ_LOGIC}, ${a}, ${b}, ${x}, ${bits});${FE}`;
    case 4: return `const ${x} = ${a} & ${b}; ${FW}c.setLazy(${LZ_LOGIC}, ${a}, ${b}, ${x}, ${bits});${FE}`;
    case 5: case 7: return `const ${x} = (${a} - ${b}) | 0; ${FW}c.setLazy(${LZ_SUB}, ${a}, ${b}, ${x}, ${bits});${FE}`;
    case 6: return `const ${x} = ${a} ^ ${b}; ${FW}c.setLazy(${LZ_LOGIC}, ${a}, ${b}, ${x}, ${bits});${FE}`;
    default: return `const ${x} = alu(c, ${o}, ${a}, ${b}, ${bits});`; // ADC, SBB: they read CF
  }
}

/**
 * A shift of the group 2 (alu.ts `shift`, op `o`) of local `a` by the
 * constant count `count` at `bits` bits into local `x`, when the count is
 * not 0 mod 32: SHL, SHR and SAR as straight code with shift's exact flags
 * (CF, OF by the count-1 formula, AF cleared, SF, ZF, PF of the result,
 * SDM vol. 2B "SAL/SAR/SHL/SHR"); the rotates through `shift`.
 */
function shiftCode(o: number, a: string, count: number, bits: 16 | 32, x: string): string {
  const n = count & 31;
  const flags = (cf: string, of: string): string =>
    `${FW}c.setArith(${cf} | (${of} << 11) | zsp(${x}, ${bits}), ${F_ARITH});${FE}`;
  if (bits === 32) {
    switch (o) {
      case 4: case 6: return `const ${x} = ${a} << ${n}; const f${x} = (${a} >>> ${32 - n}) & 1; ${flags(`f${x}`, `(((${x} >>> 31) & 1) ^ f${x})`)}`;
      case 5: return `const ${x} = (${a} >>> ${n}) | 0; ${flags(`((${a} >>> ${n - 1}) & 1)`, n === 1 ? `((${a} >>> 31) & 1)` : '0')}`;
      case 7: return `const ${x} = ${a} >> ${n}; ${flags(`((${a} >> ${n - 1}) & 1)`, '0')}`;
      default: return `const ${x} = shift(c, ${o}, ${a}, ${n}, 32);`;
    }
  }
  switch (o) {
    case 4: case 6: return `const m${x} = ${a} & 0xffff, ${x} = ${n >= 32 ? 0 : `(m${x} << ${n}) & 0xffff`}; const f${x} = ${n <= 16 ? `(m${x} >>> ${16 - n}) & 1` : '0'}; ${flags(`f${x}`, `(((${x} >>> 15) & 1) ^ f${x})`)}`;
    case 5: return `const m${x} = ${a} & 0xffff, ${x} = (m${x} >>> ${n}) & 0xffff; ${flags(n <= 16 ? `((m${x} >>> ${n - 1}) & 1)` : '0', n === 1 ? `((m${x} >>> 15) & 1)` : '0')}`;
    case 7: return `const m${x} = (${a} << 16) >> 16, ${x} = (${n >= 16 ? `m${x} >> 15` : `m${x} >> ${n}`}) & 0xffff; ${flags(n >= 16 ? `((m${x} >>> 31) & 1)` : `((m${x} >> ${n - 1}) & 1)`, '0')}`;
    default: return `const ${x} = shift(c, ${o}, ${a}, ${n}, 16);`;
  }
}

/**
 * Marks around a flag update that sets all six arithmetic flags without
 * reading the ones before (setLazy, or setArith of all of them): one that
 * a later such update overwrites before anything can see it is left out
 * (see `deadFlags`).
 */
const FW = '\u0001', FE = '\u0002';
/** What reads the flags (or may, through a call) in generated code, once the marked updates are taken out. */
const READS_FLAGS = /c\.get|c\.cond|c\.flags|c\.lazy|c\.setArith|c\.setLazyKeepCf|c\.saveFlags|alu\(c|shift\(c|mulFlags/;

/** A condition code's test (Cpu.cond), specialised per code. */
function condCode(cc: number): string {
  const neg = (cc & 1) !== 0;
  let t: string;
  switch (cc >> 1) {
    case 0: t = 'c.getOF() !== 0'; break;
    case 1: t = 'c.getCF() !== 0'; break;
    case 2: t = 'c.getZF() !== 0'; break;
    case 3: t = '(c.getCF() !== 0 || c.getZF() !== 0)'; break;
    case 4: t = 'c.getSF() !== 0'; break;
    case 5: t = 'c.getPF() !== 0'; break;
    case 6: t = '((c.getSF() !== 0) !== (c.getOF() !== 0))'; break;
    default: t = '(c.getZF() !== 0 || (c.getSF() !== 0) !== (c.getOF() !== 0))';
  }
  return neg ? `!(${t})` : t;
}

/**
 * What an emitted form does: register-only (see the file's comment); FAST,
 * memory accesses only through the inlined hit paths below (the contract
 * stores and the exit check only where one took the slow path); or
 * anything else (a possible fault besides its memory accesses, a branch:
 * only the block's last instruction).
 */
const REG_ONLY = 0, FAST = 1, MEMORY = 2, HANDLER = -1;

/** Whether a block.ts form sets EIP itself. */
const kind0 = (k: number): boolean => k === K_JCC || k === K_CALL || k === K_RET;

/** The host-memory load of `size` bytes at host address `h` (Mmu.rd8/rd16/rd32's hit path). */
function hostLoad(size: number, h: string): string {
  if (size === 4) return `((${h} & 3) === 0 ? M32[${h} >> 2] : MDV.getInt32(${h}, true))`;
  if (size === 2) return `((${h} & 1) === 0 ? M16[${h} >> 1] : MDV.getUint16(${h}, true))`;
  return `M8[${h}]`;
}
/** The host-memory store (Mmu.wr8/wr16/wr32's hit path). */
function hostStore(size: number, h: string, v: string): string {
  if (size === 4) return `if ((${h} & 3) === 0) M32[${h} >> 2] = ${v}; else MDV.setInt32(${h}, ${v}, true);`;
  if (size === 2) return `if ((${h} & 1) === 0) M16[${h} >> 1] = ${v}; else MDV.setUint16(${h}, ${v}, true);`;
  return `M8[${h}] = ${v};`;
}
/** The condition that a `size`-byte access at linear `l` stays within its page (the TLB hit paths' check). */
const inPage = (size: number, l: string): string => (size === 1 ? 'true' : `(${l} & 0xfff) <= ${0x1000 - size}`);

/**
 * Leaves out the marked flag updates (FW ... FE) that nothing can see:
 * that of a register-only instruction when, before anything reads the
 * flags, a later register-only instruction overwrites all of them. Only
 * register-only instructions lie between the two, so no fault, exit or
 * handler can look at the flags in between (any other instruction, and
 * the block's end, counts as reading them). Both kinds of marked update
 * leave every flag a later read can see determined by themselves alone:
 * setLazy writes the whole lazy state, setArith all six arithmetic flags
 * (the lazy fields it leaves stale are masked by lazyMask 0).
 */
function deadFlags(out: string[], spans: { from: number; to: number; regOnly: boolean }[]): void {
  let needed = true;
  for (let k = spans.length - 1; k >= 0; k--) {
    const { from, to, regOnly } = spans[k]!;
    let code = out.slice(from, to).join('\n');
    const writes = code.includes(FW);
    const reads = READS_FLAGS.test(code.replace(/\u0001[^\u0002]*\u0002/g, ''));
    let drop = false;
    if (!regOnly || reads) needed = true;
    else if (writes) {
      // its update is overwritten unseen (it goes), or it hides every earlier one
      drop = !needed;
      needed = false;
    }
    code = drop ? code.replace(/\u0001[^\u0002]*\u0002/g, '') : code.replace(/[\u0001\u0002]/g, '');
    out.splice(from, to - from, code, ...new Array<string>(to - from - 1).fill(''));
  }
}

/**
 * Compiles block `b`, whose bytes are at page[off..] (the host page the
 * block was decoded from; unchanged since, or the block would be invalid),
 * for the CPU whose MMU is `mmu`.
 */
export function compileBlock(b: Block, page: Uint8Array, off: number, mmu: Mmu): JitFn {
  const insns = b.insns;
  const out: string[] = [];
  const pre: string[] = [];
  const TM = mmu.tlbMask;
  out.push('const r = c.reg32, sb = c.segBase, sfr = c.segFastR, sfw = c.segFastW;', 'let e = c.eip, s = 0, w = 0;');
  /** the block calls a handler: every return is "dirty" (see JitFn) */
  let handlers = false;
  /**
   * The block ends with a branch back to its own start (a loop): when it is
   * taken and the block fits once more in the slice, the function runs the
   * block again itself, as Cpu.runCompiled would: its other conditions
   * (no halt, no interrupt poll, the same fetch page, 32-bit code, TF
   * clear, the block still valid, so that the lookup at EIP finds this
   * block) can change only in a handler call or a memory access's slow
   * path, after which the function has already returned if they did (TF
   * and CS.D only in instructions that end a block).
   */
  let loops = false;
  const top = out.length;
  // The decode fields as the previous instruction left them, or null: not known.
  let state: string | null = null;
  let rel = 0;
  /** per instruction: its code in `out` (from, to), and whether it is register-only */
  const spans: { from: number; to: number; regOnly: boolean }[] = [];
  for (let k = 0; k < insns.length; k++) {
    const d = insns[k]!;
    const at = off + rel;
    const last = k === insns.length - 1;
    const count = `n + ${k + 1}`;
    const here = `((e + ${rel}) | 0)`;
    const next = `((e + ${rel + d.len}) | 0)`;
    const m = d.modrm, reg = (m >> 3) & 7, rm = m & 7, mem = m < 0xc0;
    const body: string[] = [];
    let effect = MEMORY;
    /** the form sets EIP itself (a branch: always a block's last instruction) */
    let branch = kind0(d.kind);
    const kind = d.kind;
    const op = d.op;
    /** Before an access's slow path: the contract's stores (see the file's comment), and `s` set for the exit check. */
    const slow = `c.instrEip = ${here}; c.instrEsp = r[4]; c.executed = ${count}; s = 1; w = 1;`;
    /**
     * A read of `size` bytes at seg:offset (`o`, a local) into a new local
     * `v`, as Cpu.rd8/rd16/rd32: the MMU's software-TLB hit inlined where the
     * segment needs no check (segFastR) and nothing observes accesses (the
     * hit has no other effect: no fault, no accessed bit, no MMIO); anything
     * else through Cpu's accessor, after the contract's stores.
     */
    const rd = (size: number, seg: number, o: string, v: string): string =>
      `let ${v}; { const l = (sb[${seg}] + ${o}) | 0, i = (l >>> 12) & ${TM}; ` +
      `if (sfr[${seg}] !== 0 && mm.tagR32[i] === l >>> 12 && ${inPage(size, 'l')} && !mm.measure) { const h = MHP[i] + (l & 0xfff); ${v} = ${hostLoad(size, 'h')}; } ` +
      `else { ${slow} ${v} = c.rd${size * 8}(${seg}, ${o}); } }`;
    /** A write as Cpu.wr8/wr16/wr32, the hit inlined likewise (a watched frame, code or MMIO never hits: their write tags are clear). */
    const wr = (size: number, seg: number, o: string, v: string): string =>
      `{ const l = (sb[${seg}] + ${o}) | 0, i = (l >>> 12) & ${TM}; ` +
      `if (sfw[${seg}] !== 0 && mm.tagW32[i] === l >>> 12 && ${inPage(size, 'l')} && !mm.measure) { const h = MHP[i] + (l & 0xfff); ${hostStore(size, 'h', v)} } ` +
      `else { ${slow} c.wr${size * 8}(${seg}, ${o}, ${v}); } }`;
    /**
     * A read-modify-write of `size` bytes at seg:offset `o`: `compute(p)`
     * returns the code that makes local `x${k}` from the value read (local
     * `p${k}`). When both the read and the write hit, neither can fault, so
     * the handler's saveFlags (kept only for a fault's restore, see Cpu
     * svAt) is not needed; otherwise saveFlags (when `save`), Cpu's read
     * with write intent (rdw8/16/32: translated as a write before the
     * read), the computation and Cpu's write of a read-modify-write
     * (wrw8/16/32), as the handler does them.
     * Without `write` (CMP) the read is a plain read.
     */
    const rmw = (size: number, seg: number, o: string, save: boolean, compute: string, write: boolean): string => {
      if (!write) {
        return `${rdSave(size, seg, o, `p${k}`, save)} ${compute}`;
      }
      return `const tl${k} = (sb[${seg}] + ${o}) | 0, ti${k} = (tl${k} >>> 12) & ${TM}; let th${k} = -1, p${k}; ` +
        `if (sfr[${seg}] !== 0 && sfw[${seg}] !== 0 && mm.tagR32[ti${k}] === tl${k} >>> 12 && mm.tagW32[ti${k}] === tl${k} >>> 12 && ${inPage(size, `tl${k}`)} && !mm.measure) { th${k} = MHP[ti${k}] + (tl${k} & 0xfff); p${k} = ${hostLoad(size, `th${k}`)}; } ` +
        `else { ${slow} ${save ? 'c.saveFlags(); ' : ''}p${k} = c.rdw${size * 8}(${seg}, ${o}); } ` +
        `${compute} if (th${k} >= 0) { ${hostStore(size, `th${k}`, `x${k}`)} } else c.wrw${size * 8}(${seg}, ${o}, x${k});`;
    };
    /**
     * A read whose handler calls saveFlags first (a flag-setting form that may write, here without a write: CMP, TEST);
     * with `intent`, a read-modify-write's read that writes nothing (a shift by 0): Cpu.rdw8/16/32, the hit on the write tag.
     */
    const rdSave = (size: number, seg: number, o: string, v: string, save: boolean, intent = false): string =>
      intent
        ? `let ${v}; { const l = (sb[${seg}] + ${o}) | 0, i = (l >>> 12) & ${TM}; ` +
          `if (sfw[${seg}] !== 0 && mm.tagW32[i] === l >>> 12 && ${inPage(size, 'l')} && !mm.measure) { const h = MHP[i] + (l & 0xfff); ${v} = ${hostLoad(size, 'h')}; } ` +
          `else { ${slow} ${save ? 'c.saveFlags(); ' : ''}${v} = c.rdw${size * 8}(${seg}, ${o}); } }`
        : save
        ? `let ${v}; { const l = (sb[${seg}] + ${o}) | 0, i = (l >>> 12) & ${TM}; ` +
          `if (sfr[${seg}] !== 0 && mm.tagR32[i] === l >>> 12 && ${inPage(size, 'l')} && !mm.measure) { const h = MHP[i] + (l & 0xfff); ${v} = ${hostLoad(size, 'h')}; } ` +
          `else { ${slow} c.saveFlags(); ${v} = c.rd${size * 8}(${seg}, ${o}); } }`
        : rd(size, seg, o, v);
    // Forms this file emits beyond block.ts's K_* (32-bit address size, no LOCK or REP prefix; the one-byte map or 0F).
    const map0f = d.opEnd >= 2 && page[at + d.opEnd - 2] === 0x0f;
    const base = d.a32 && !d.lock && d.rep === 0;
    const one = base && !map0f;
    const one32 = one && d.o32, one16 = one && !d.o32;
    const two32 = base && map0f && d.o32;
    const plain = d.o32 && base && d.opEnd === 1;
    const ea = (): string => `const a${k} = ${eaExpr(d)};`;
    /** The immediate at `pos` bytes into the instruction, decoded now; fetched as the handler does when a memory read before it dropped the block (see the file's comment). */
    const lateImm = (imm: number, size: number): string => (mem ? `(b.valid ? ${imm} : c.fetchImm(${here}, ${d.modrmEnd}, ${size}))` : `${imm}`);
    /**
     * Group 1 (80, 81, 83) with immediate `imm` of `size` bytes at `bits`:
     * with a memory operand, saveFlags before the read and the immediate
     * fetched after it when the read dropped the block (see the file's
     * comment). Returns the form's effect.
     */
    const group1 = (imm: number, size: 1 | 2 | 4, bits: 8 | 16 | 32): number => {
      const o = reg;
      const regName = bits === 8 ? R8(rm) : bits === 16 ? R16(rm) : R(rm);
      if (!mem) {
        body.push(`const p${k} = ${regName}, q${k} = ${imm};`, aluCode(o, `p${k}`, `q${k}`, `x${k}`, bits));
        if (o !== 7) body.push(`${regName} = x${k};`);
        return REG_ONLY;
      }
      // the handler's fetch: a dword for 81 (a word with a 16-bit operand), a sign-extended byte for 83 (masked to 16 bits), a byte for 80
      const fetched = size === 1 && bits !== 8 ? `c.fetchImm(${here}, ${d.modrmEnd}, 1)${bits === 16 ? ' & 0xffff' : ''}` : `c.fetchImm(${here}, ${d.modrmEnd}, ${size === 4 ? 4 : size === 2 ? 2 : 0})`;
      body.push(ea(), rmw(bits / 8, d.eaSeg, `a${k}`, true,
        `const q${k} = b.valid ? ${imm} : ${fetched}; ${aluCode(o, `p${k}`, `q${k}`, `x${k}`, bits)}`, o !== 7));
      return FAST;
    };
    switch (kind) {
      case K_MOV_EV_GV:
        if (!mem) { body.push(`${R(rm)} = ${R(reg)};`); effect = REG_ONLY; }
        else { body.push(ea(), wr(4, d.eaSeg, `a${k}`, R(reg))); effect = FAST; }
        break;
      case K_MOV_GV_EV:
        if (!mem) { body.push(`${R(reg)} = ${R(rm)};`); effect = REG_ONLY; }
        else { body.push(ea(), rd(4, d.eaSeg, `a${k}`, `v${k}`), `${R(reg)} = v${k};`); effect = FAST; }
        break;
      case K_LEA:
        body.push(`${R(reg)} = ${eaExpr(d)};`);
        effect = REG_ONLY;
        break;
      case K_ALU_EV_GV: {
        const o = op >> 3;
        if (!mem) {
          body.push(`const p${k} = ${R(rm)}, q${k} = ${R(reg)};`, aluCode(o, `p${k}`, `q${k}`, `x${k}`));
          if (o !== 7) body.push(`${R(rm)} = x${k};`);
          effect = REG_ONLY;
        } else {
          body.push(ea(), rmw(4, d.eaSeg, `a${k}`, true, `const q${k} = ${R(reg)}; ${aluCode(o, `p${k}`, `q${k}`, `x${k}`)}`, o !== 7));
          effect = FAST;
        }
        break;
      }
      case K_ALU_GV_EV: {
        const o = op >> 3;
        if (!mem) { body.push(`const p${k} = ${R(reg)}, q${k} = ${R(rm)};`); effect = REG_ONLY; }
        else { body.push(ea(), rd(4, d.eaSeg, `a${k}`, `q${k}`), `const p${k} = ${R(reg)};`); effect = FAST; }
        body.push(aluCode(o, `p${k}`, `q${k}`, `x${k}`));
        if (o !== 7) body.push(`${R(reg)} = x${k};`);
        break;
      }
      case K_ALU_EV_IB:
        effect = group1(d.imm | 0, 1, 32);
        break;
      case K_TEST_EV_GV:
        if (!mem) { body.push(`const p${k} = ${R(rm)};`); effect = REG_ONLY; }
        else { body.push(ea(), rd(4, d.eaSeg, `a${k}`, `p${k}`)); effect = FAST; }
        body.push(`const q${k} = ${R(reg)};`, aluCode(4, `p${k}`, `q${k}`, `x${k}`));
        break;
      case K_JCC:
        body.push(`c.eip = ${next};`);
        if (last && rel + d.len + (d.imm | 0) === 0) {
          // a branch back to the block's own start (see `again`)
          body.push(`if (${condCode(op & 15)}) { c.nearJump32(e); if (n + ${2 * insns.length} <= c.budget) { n = n + ${insns.length}; continue; } }`);
          loops = true;
        } else body.push(`if (${condCode(op & 15)}) c.nearJump32((${next} + ${d.imm | 0}) | 0);`);
        break;
      case K_PUSH_R:
        body.push(`if (c.stackBig) { const sp${k} = (r[4] - 4) | 0; ${wr(4, SS, `sp${k}`, R(op & 7))} r[4] = sp${k}; } else { ${slow} c.push32(${R(op & 7)}); }`);
        effect = FAST;
        break;
      case K_POP_R:
        body.push(`if (c.stackBig) { const sp${k} = r[4]; ${rd(4, SS, `sp${k}`, `v${k}`)} r[4] = (r[4] + 4) | 0; ${R(op & 7)} = v${k}; } else { ${slow} const v${k} = c.pop32(); ${R(op & 7)} = v${k}; }`);
        effect = FAST;
        break;
      case K_CALL:
        body.push(`const ret${k} = ${next}; c.eip = ret${k}; const t${k} = (ret${k} + ${d.imm | 0}) | 0;`,
          `if ((t${k} >>> 0) > (c.segLimit[1] >>> 0) && (c.protectedMode || c.segLimit[1] !== -1)) c.gp(0);`,
          `if (c.stackBig) { const sp${k} = (r[4] - 4) | 0; ${wr(4, SS, `sp${k}`, `ret${k}`)} r[4] = sp${k}; } else { w = 1; c.push32(ret${k}); }`,
          `c.eip = t${k};`);
        break;
      case K_RET:
        body.push(`c.eip = ${next};`, `if (c.stackBig) { const sp${k} = r[4]; ${rd(4, SS, `sp${k}`, `v${k}`)} c.nearJump32(v${k}); r[4] = (r[4] + 4) | 0; } else { w = 1; c.nearJump32(c.peekOp(0)); c.addSp(4); }`);
        break;
      default:
        effect = HANDLER;
        if (plain && op >= 0xb8 && op <= 0xbf && d.len === 5) {
          // MOV r32, imm32 (opb8)
          body.push(`${R(op & 7)} = ${le32(page, at + 1)};`);
          effect = REG_ONLY;
        } else if (one && op >= 0xb0 && op <= 0xb7 && d.len === d.opEnd + 1) {
          // MOV r8, imm8 (opb0)
          body.push(`${R8(op & 7)} = ${page[at + d.opEnd]!};`);
          effect = REG_ONLY;
        } else if (plain && op >= 0x40 && op <= 0x4f) {
          // INC/DEC r32 (op40, op48: alu.ts inc/dec)
          const x = R(op & 7);
          body.push(`const p${k} = ${x}, x${k} = (p${k} ${op < 0x48 ? '+' : '-'} 1) | 0;`,
            `c.setLazyKeepCf(${op < 0x48 ? LZ_INC : LZ_DEC}, p${k}, x${k}, 32); ${x} = x${k};`);
          effect = REG_ONLY;
        } else if (one32 && op < 0x40 && (op & 7) === 5) {
          // ALU eAX, Iz (op05)
          const o = op >> 3;
          body.push(`const p${k} = r[0], q${k} = ${le32(page, at + d.opEnd)};`, aluCode(o, `p${k}`, `q${k}`, `x${k}`));
          if (o !== 7) body.push(`r[0] = x${k};`);
          effect = REG_ONLY;
        } else if (one && op < 0x40 && (op & 7) === 4) {
          // ALU AL, Ib (op04)
          const o = op >> 3;
          body.push(`const p${k} = c.reg8[0], q${k} = ${page[at + d.opEnd]!};`, aluCode(o, `p${k}`, `q${k}`, `x${k}`, 8));
          if (o !== 7) body.push(`c.reg8[0] = x${k};`);
          effect = REG_ONLY;
        } else if (one && d.ea === 1 && op < 0x40 && (op & 7) === 0) {
          // ALU Eb, Gb (op00)
          const o = op >> 3;
          if (!mem) {
            body.push(`const p${k} = ${R8(rm)}, q${k} = ${R8(reg)};`, aluCode(o, `p${k}`, `q${k}`, `x${k}`, 8));
            if (o !== 7) body.push(`${R8(rm)} = x${k};`);
            effect = REG_ONLY;
          } else {
            body.push(ea(), rmw(1, d.eaSeg, `a${k}`, true, `const q${k} = ${R8(reg)}; ${aluCode(o, `p${k}`, `q${k}`, `x${k}`, 8)}`, o !== 7));
            effect = FAST;
          }
        } else if (one && d.ea === 1 && op < 0x40 && (op & 7) === 2) {
          // ALU Gb, Eb (op02)
          const o = op >> 3;
          if (!mem) { body.push(`const p${k} = ${R8(reg)}, q${k} = ${R8(rm)};`); effect = REG_ONLY; }
          else { body.push(ea(), rd(1, d.eaSeg, `a${k}`, `q${k}`), `const p${k} = ${R8(reg)};`); effect = FAST; }
          body.push(aluCode(o, `p${k}`, `q${k}`, `x${k}`, 8));
          if (o !== 7) body.push(`${R8(reg)} = x${k};`);
        } else if (one && d.ea === 1 && op === 0x84) {
          // TEST Eb, Gb (op84)
          if (!mem) { body.push(`const p${k} = ${R8(rm)};`); effect = REG_ONLY; }
          else { body.push(ea(), rd(1, d.eaSeg, `a${k}`, `p${k}`)); effect = FAST; }
          body.push(`const q${k} = ${R8(reg)};`, aluCode(4, `p${k}`, `q${k}`, `x${k}`, 8));
        } else if (plain && op === 0x81 && d.ea === 1) {
          // group 1 Ev, Iz (op81)
          effect = group1(le32(page, at + d.modrmEnd), 4, 32);
        } else if (one && op === 0x80 && d.ea === 1) {
          // group 1 Eb, Ib (op80)
          effect = group1(page[at + d.modrmEnd]!, 1, 8);
        } else if (one && op === 0xc7 && d.ea === 1 && reg === 0) {
          // MOV Ev, Iz (opc7): the immediate is fetched before the write
          const size = d.o32 ? 4 : 2;
          const imm = d.o32 ? le32(page, at + d.modrmEnd) : le16(page, at + d.modrmEnd);
          if (!mem) { body.push(`${d.o32 ? R(rm) : R16(rm)} = ${imm};`); effect = REG_ONLY; }
          else { body.push(ea(), wr(size, d.eaSeg, `a${k}`, `${imm}`)); effect = FAST; }
        } else if (one && op === 0xc6 && d.ea === 1 && reg === 0) {
          // MOV Eb, Ib (opc6)
          const imm = page[at + d.modrmEnd]!;
          if (!mem) { body.push(`${R8(rm)} = ${imm};`); effect = REG_ONLY; }
          else { body.push(ea(), wr(1, d.eaSeg, `a${k}`, `${imm}`)); effect = FAST; }
        } else if (one && (op === 0xc1 || op === 0xd1 || op === 0xd3) && d.ea === 1) {
          // group 2 Ev, Ib / 1 / CL (opc1: alu.ts shift; no write for a count of 0 mod 32). The count is fetched after the read.
          const bits = d.o32 ? 32 : 16;
          const konst = op !== 0xd3 && (!mem || op === 0xd1);
          const cnt = op === 0xc1 ? page[at + d.modrmEnd]! : 1;
          const compute = konst
            ? ((cnt & 31) === 0 ? `const x${k} = p${k};` : shiftCode(reg, `p${k}`, cnt, bits, `x${k}`))
            : `const n${k} = ${op === 0xd3 ? 'c.reg8[4]' : lateImm(cnt, 0)}, x${k} = shift(c, ${reg}, p${k}, n${k}, ${bits});`;
          const nz = konst ? ((cnt & 31) !== 0 ? 'true' : 'false') : `(n${k} & 31) !== 0`;
          if (!mem) {
            const x = d.o32 ? R(rm) : R16(rm);
            body.push(`const p${k} = ${x};`, compute, `if (${nz}) ${x} = x${k};`);
            effect = REG_ONLY;
          } else if (konst && (cnt & 31) === 0) {
            // a count of 0 mod 32: read (with write intent, as the handler), no flags, no write (saveFlags as the handler)
            body.push(ea(), rdSave(bits / 8, d.eaSeg, `a${k}`, `p${k}`, true, true));
            effect = FAST;
          } else {
            // a variable count (CL, or an immediate after the read) of 0 writes nothing: then the write below is the handler's no-write only if n is nonzero;
            // the read-modify-write writes x (the value read, unchanged) and that is not what the handler does, so such forms stay handlers
            if (!konst) effect = HANDLER;
            else {
              body.push(ea(), rmw(bits / 8, d.eaSeg, `a${k}`, true, compute, true));
              effect = FAST;
            }
          }
        } else if (one && (op === 0x88 || op === 0x8a) && d.ea === 1) {
          // MOV Eb, Gb / Gb, Eb (op88, op8a)
          if (!mem) { body.push(op === 0x88 ? `${R8(rm)} = ${R8(reg)};` : `${R8(reg)} = ${R8(rm)};`); effect = REG_ONLY; }
          else if (op === 0x88) { body.push(ea(), wr(1, d.eaSeg, `a${k}`, R8(reg))); effect = FAST; }
          else { body.push(ea(), rd(1, d.eaSeg, `a${k}`, `v${k}`), `${R8(reg)} = v${k};`); effect = FAST; }
        } else if (one16 && (op === 0x89 || op === 0x8b) && d.ea === 1) {
          // MOV Ew, Gw / Gw, Ew (op89, op8b with a 16-bit operand)
          if (!mem) { body.push(op === 0x89 ? `${R16(rm)} = ${R16(reg)};` : `${R16(reg)} = ${R16(rm)};`); effect = REG_ONLY; }
          else if (op === 0x89) { body.push(ea(), wr(2, d.eaSeg, `a${k}`, R16(reg))); effect = FAST; }
          else { body.push(ea(), rd(2, d.eaSeg, `a${k}`, `v${k}`), `${R16(reg)} = v${k};`); effect = FAST; }
        } else if (two32 && op >= 0xb6 && op <= 0xbf && (op & 6) === 6 && d.ea === 1) {
          // MOVZX/MOVSX Gv, Eb/Ew (op0fb6)
          let v: string;
          if (mem) { body.push(ea(), rd(op & 1 ? 2 : 1, d.eaSeg, `a${k}`, `v${k}`)); v = `v${k}`; effect = FAST; }
          else { v = op & 1 ? R16(rm) : R8(rm); effect = REG_ONLY; }
          if (op === 0xbf) v = `((${v} << 16) >> 16)`;
          else if (op === 0xbe) v = `((${v} << 24) >> 24)`;
          body.push(`${R(reg)} = ${v};`);
        } else if (two32 && op === 0xaf && d.ea === 1) {
          // IMUL Gv, Ev (op0faf): Math.imul is the low half, and the product fits 32 bits exactly when the double product equals it
          if (mem) { body.push(`const p${k} = ${R(reg)};`, ea(), rd(4, d.eaSeg, `a${k}`, `q${k}`)); effect = FAST; }
          else { body.push(`const p${k} = ${R(reg)}, q${k} = ${R(rm)};`); effect = REG_ONLY; }
          body.push(`const x${k} = Math.imul(p${k}, q${k}); ${R(reg)} = x${k}; ${FW}mulFlags(c, x${k}, 32, p${k} * q${k} !== x${k});${FE}`);
        } else if (one32 && (op === 0x69 || op === 0x6b) && d.ea === 1) {
          // IMUL Gv, Ev, Iz/Ib (op69): the immediate is fetched after the read
          const imm = op === 0x69 ? le32(page, at + d.modrmEnd) : (page[at + d.modrmEnd]! << 24) >> 24;
          if (mem) { body.push(ea(), rd(4, d.eaSeg, `a${k}`, `p${k}`)); effect = FAST; }
          else { body.push(`const p${k} = ${R(rm)};`); effect = REG_ONLY; }
          body.push(`const q${k} = ${lateImm(imm, op === 0x69 ? 4 : 1)};`,
            `const x${k} = Math.imul(p${k}, q${k}); ${R(reg)} = x${k}; ${FW}mulFlags(c, x${k}, 32, p${k} * q${k} !== x${k});${FE}`);
        } else if (one32 && op === 0xf7 && d.ea === 1 && reg <= 3) {
          // group 3 TEST Ev, Iz / NOT / NEG (opf7: group3)
          if (reg <= 1) {
            const imm = le32(page, at + d.modrmEnd);
            if (mem) { body.push(ea(), rd(4, d.eaSeg, `a${k}`, `p${k}`)); effect = FAST; }
            else { body.push(`const p${k} = ${R(rm)};`); effect = REG_ONLY; }
            body.push(`const q${k} = ${lateImm(imm, 4)};`, aluCode(4, `p${k}`, `q${k}`, `x${k}`));
          } else {
            const compute = reg === 2 ? `const x${k} = ~p${k};` : `const x${k} = (0 - p${k}) | 0; ${FW}c.setLazy(${LZ_NEG}, 0, p${k}, x${k}, 32);${FE}`;
            if (mem) { body.push(ea(), rmw(4, d.eaSeg, `a${k}`, reg === 3, compute, true)); effect = FAST; }
            else { body.push(`const p${k} = ${R(rm)};`, compute, `${R(rm)} = x${k};`); effect = REG_ONLY; }
          }
        } else if (one32 && op === 0xff && d.ea === 1 && reg <= 1) {
          // INC/DEC Ev (opff: group5)
          const compute = `const x${k} = (p${k} ${reg === 0 ? '+' : '-'} 1) | 0; c.setLazyKeepCf(${reg === 0 ? LZ_INC : LZ_DEC}, p${k}, x${k}, 32);`;
          if (mem) { body.push(ea(), rmw(4, d.eaSeg, `a${k}`, true, compute, true)); effect = FAST; }
          else { body.push(`const p${k} = ${R(rm)};`, compute, `${R(rm)} = x${k};`); effect = REG_ONLY; }
        } else if (one32 && (op === 0x6a || op === 0x68)) {
          // PUSH Ib / Iz (op6a, op68)
          const imm = op === 0x68 ? le32(page, at + d.opEnd) : (page[at + d.opEnd]! << 24) >> 24;
          body.push(`if (c.stackBig) { const sp${k} = (r[4] - 4) | 0; ${wr(4, SS, `sp${k}`, `${imm}`)} r[4] = sp${k}; } else { ${slow} c.push32(${imm}); }`);
          effect = FAST;
        } else if (one32 && (op === 0xe9 || op === 0xeb)) {
          // JMP rel32 / rel8 (ope9, opeb: jumpRel)
          const disp = op === 0xe9 ? le32(page, at + d.opEnd) : (page[at + d.opEnd]! << 24) >> 24;
          body.push(`c.eip = ${next};`);
          if (last && rel + d.len + disp === 0) {
            body.push(`c.nearJump32(e); if (n + ${2 * insns.length} <= c.budget) { n = n + ${insns.length}; continue; }`);
            loops = true;
          } else body.push(`c.nearJump32((${next} + ${disp}) | 0);`);
          effect = MEMORY;
          branch = true;
        } else if (one32 && op === 0x99) {
          // CDQ (op99)
          body.push('r[2] = r[0] >> 31;');
          effect = REG_ONLY;
        } else if (one32 && op === 0x98) {
          // CWDE (op98)
          body.push('r[0] = (c.reg16[0] << 16) >> 16;');
          effect = REG_ONLY;
        } else if (one32 && op > 0x90 && op <= 0x97) {
          // XCHG eAX, r32 (op91)
          body.push(`const t${k} = r[0]; r[0] = ${R(op & 7)}; ${R(op & 7)} = t${k};`);
          effect = REG_ONLY;
        } else if (one32 && op === 0x87 && d.ea === 1 && !mem) {
          // XCHG Ev, Gv with a register (op87: the r/m read, the r/m written, the reg written)
          body.push(`const t${k} = ${R(rm)}; ${R(rm)} = ${R(reg)}; ${R(reg)} = t${k};`);
          effect = REG_ONLY;
        } else if (base && map0f && op >= 0x90 && op <= 0x9f && d.ea === 1) {
          // SETcc Eb (op0f90)
          const v = `(${condCode(op & 15)} ? 1 : 0)`;
          if (!mem) { body.push(`${R8(rm)} = ${v};`); effect = REG_ONLY; }
          else { body.push(ea(), `const v${k} = ${v};`, wr(1, d.eaSeg, `a${k}`, `v${k}`)); effect = FAST; }
        } else if (two32 && op >= 0x40 && op <= 0x4f && d.ea === 1) {
          // CMOVcc Gv, Ev (op0f40): the source is read either way
          if (!mem) { body.push(`const v${k} = ${R(rm)};`); effect = REG_ONLY; }
          else { body.push(ea(), rd(4, d.eaSeg, `a${k}`, `v${k}`)); effect = FAST; }
          body.push(`if (${condCode(op & 15)}) ${R(reg)} = v${k};`);
        } else if (one && (op === 0xa8 || (op === 0xa9 && d.o32))) {
          // TEST AL, Ib / eAX, Iz (opa8, opa9)
          if (op === 0xa8) body.push(`const p${k} = c.reg8[0], q${k} = ${page[at + d.opEnd]!};`, aluCode(4, `p${k}`, `q${k}`, `x${k}`, 8));
          else body.push(`const p${k} = r[0], q${k} = ${le32(page, at + d.opEnd)};`, aluCode(4, `p${k}`, `q${k}`, `x${k}`));
          effect = REG_ONLY;
        } else if (one && op >= 0xa0 && op <= 0xa3 && (d.o32 || (op & 1) === 0)) {
          // MOV AL/eAX, moffs and moffs, AL/eAX (opa0-opa3): the offset is fetched before the access
          const o = `${le32(page, at + d.opEnd)}`;
          const sg = d.seg >= 0 ? d.seg : 3;
          if (op === 0xa0) body.push(rd(1, sg, o, `v${k}`), `c.reg8[0] = v${k};`);
          else if (op === 0xa1) body.push(rd(4, sg, o, `v${k}`), `r[0] = v${k};`);
          else if (op === 0xa2) body.push(wr(1, sg, o, 'c.reg8[0]'));
          else body.push(wr(4, sg, o, 'r[0]'));
          effect = FAST;
        } else if (one32 && op === 0xc9) {
          // LEAVE (opc9): EBP read at SS:EBP, ESP = EBP + 4, then EBP
          body.push(`if (c.stackBig) { const bp${k} = r[5]; ${rd(4, SS, `bp${k}`, `v${k}`)} r[4] = bp${k}; r[4] = (r[4] + 4) | 0; r[5] = v${k}; } else { ${slow} h${k}(c, ${op}); }`);
          pre.push(`const h${k} = insns[${k}].handler;`);
          effect = FAST;
        } else if (one32 && op === 0xff && d.ea === 1 && reg === 6) {
          // PUSH Ev (opff: group5): the operand read, then the push
          if (mem) body.push(ea(), rd(4, d.eaSeg, `a${k}`, `v${k}`));
          else body.push(`const v${k} = ${R(rm)};`);
          body.push(`if (c.stackBig) { const sp${k} = (r[4] - 4) | 0; ${wr(4, SS, `sp${k}`, `v${k}`)} r[4] = sp${k}; } else { ${slow} c.push32(v${k}); }`);
          effect = FAST;
        } else if (one32 && op === 0xff && d.ea === 1 && (reg === 2 || reg === 4)) {
          // CALL Ev / JMP Ev (opff: group5; jumpAbs): the target read, the CS limit checked, then the push
          if (mem) body.push(ea(), rd(4, d.eaSeg, `a${k}`, `t${k}`));
          else body.push(`const t${k} = ${R(rm)};`);
          if (reg === 4) body.push(`c.eip = ${next};`, `c.nearJump32(t${k});`);
          else {
            body.push(`const ret${k} = ${next}; c.eip = ret${k};`,
              `if ((t${k} >>> 0) > (c.segLimit[1] >>> 0) && (c.protectedMode || c.segLimit[1] !== -1)) c.gp(0);`,
              `if (c.stackBig) { const sp${k} = (r[4] - 4) | 0; ${wr(4, SS, `sp${k}`, `ret${k}`)} r[4] = sp${k}; } else c.push32(ret${k});`,
              `c.eip = t${k};`);
          }
          effect = MEMORY;
          branch = true;
        } else if (one && op === 0xf6 && d.ea === 1 && reg <= 1) {
          // TEST Eb, Ib (opf6: group3): the immediate is fetched after the read
          const imm = page[at + d.modrmEnd]!;
          if (mem) { body.push(ea(), rd(1, d.eaSeg, `a${k}`, `p${k}`)); effect = FAST; }
          else { body.push(`const p${k} = ${R8(rm)};`); effect = REG_ONLY; }
          body.push(`const q${k} = ${lateImm(imm, 0)};`, aluCode(4, `p${k}`, `q${k}`, `x${k}`, 8));
        } else if (one && op === 0xfe && d.ea === 1 && reg <= 1) {
          // INC/DEC Eb (opfe)
          const compute = `const x${k} = (p${k} ${reg === 0 ? '+' : '-'} 1) | 0; c.setLazyKeepCf(${reg === 0 ? LZ_INC : LZ_DEC}, p${k}, x${k}, 8);`;
          if (mem) { body.push(ea(), rmw(1, d.eaSeg, `a${k}`, true, compute, true)); effect = FAST; }
          else { body.push(`const p${k} = ${R8(rm)};`, compute, `${R8(rm)} = x${k};`); effect = REG_ONLY; }
        }
    }
    const regOnly = effect === REG_ONLY;
    const isHandler = effect === HANDLER;
    const from = out.length;
    // The contract (see the file's comment): up front before a handler, a
    // form that can fault other than in its memory accesses, and the
    // block's last instruction; in the slow paths of a FAST form.
    if (last || effect === MEMORY || isHandler) {
      out.push(`c.instrEip = ${here}; c.instrEsp = r[4]; c.executed = ${count};`);
    }
    const st = `${d.o32 ? 1 : 0}${d.a32 ? 1 : 0}${d.seg}${d.rep}${d.lock ? 1 : 0}`;
    if (state !== st) {
      out.push(`c.o32 = ${d.o32}; c.a32 = ${d.a32}; c.segOverride = ${d.seg}; c.rep = ${d.rep}; c.lockPrefix = ${d.lock};`);
    }
    if (isHandler) {
      pre.push(`const h${k} = insns[${k}].handler, d${k} = insns[${k}];`);
      handlers = true;
      if (STATS) { const key = `${map0f ? '0f' : ''}${op.toString(16)}${d.ea ? '/' + reg + (mem ? 'm' : 'r') : ''}${d.o32 ? '' : ' o16'}${d.rep ? ' rep' + d.rep : ''}${d.lock ? ' lock' : ''}`; out.push(`S[${JSON.stringify(key)}] = (S[${JSON.stringify(key)}] || 0) + 1;`); }
      out.push(`c.eip = (e + ${rel + d.opEnd}) | 0;`);
      if (d.ea !== 0) out.push(`c.pre = d${k};`);
      out.push(`h${k}(c, ${op});`);
      if (d.ea !== 0) out.push('c.pre = null;');
      state = null;
      if (!last) {
        out.push(`if (c.halted || ${count} >= c.budget || c.pollIntr || !b.valid || c.fetchPage !== page) return ~(${count});`);
        // As runBlock: the next instruction starts where the handler left EIP.
        out.push(`e = (c.eip - ${rel + d.len}) | 0;`);
      }
    } else {
      state = st;
      out.push(...body);
      if (last) {
        if (!branch) out.push(`c.eip = ${next};`);
      } else if (effect === MEMORY) {
        out.push(`s = 0; if (c.halted || ${count} >= c.budget || c.pollIntr || !b.valid || c.fetchPage !== page) { c.eip = ${next}; return ~(${count}); }`);
      } else if (!regOnly) {
        out.push(`if (s !== 0) { s = 0; if (c.halted || ${count} >= c.budget || c.pollIntr || !b.valid || c.fetchPage !== page) { c.eip = ${next}; return ~(${count}); } }`);
      }
    }
    spans.push({ from, to: out.length, regOnly });
    rel += d.len;
  }
  deadFlags(out, spans);
  out.push(handlers ? `return ~(n + ${insns.length});` : `return w === 0 ? n + ${insns.length} : ~(n + ${insns.length});`);
  if (loops) {
    out.splice(top, 0, 'for (;;) {', 'e = c.eip;');
    out.push('}');
  }
  const src = `"use strict";\n${pre.join('\n')}\nconst MHP = mm.tlbHpa, M32 = mm.i32, M16 = mm.u16, M8 = mm.u8, MDV = mm.dv;\nreturn function jit_${b.gpa.toString(16)}(c, b, n, page) {\n${out.filter((s) => s !== '').join('\n')}\n};`;
  if (process.env.VMMU_JIT_DUMP) console.error(src);
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  return new Function('insns', 'alu', 'shift', 'mulFlags', 'zsp', 'mm', 'S', src)(insns, alu, shift, mulFlags, zsp, mmu, STATS_OBJ) as JitFn;
}

/** VMMU_JIT_STATS=1: counts the handler calls from compiled code by opcode, printed at exit (to find the forms worth emitting). */
const STATS = !!process.env.VMMU_JIT_STATS;
const STATS_OBJ: Record<string, number> = {};
if (STATS) {
  process.on('exit', () => {
    const e = Object.entries(STATS_OBJ).sort((a, b) => b[1] - a[1]);
    console.error(`handler calls from compiled code: ${e.reduce((a, x) => a + x[1], 0)}`);
    for (const [k, v] of e.slice(0, 40)) console.error(`${k.padEnd(16)}${String(v).padStart(12)}`);
  });
}
