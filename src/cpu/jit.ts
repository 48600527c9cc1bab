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
 * The per-instruction contract (docs/cpu.md, "The block engine") holds for
 * every instruction an observer can see:
 *
 * - instrEip, instrEsp and `executed` are stored before every instruction
 *   that may fault, read the clock, access memory or a port, or call a
 *   handler; they are left out only before a *register-only* form (MOV,
 *   MOVZX/MOVSX, ALU, TEST, INC, DEC, shifts between registers, LEA, MOV
 *   r32,imm32) that is not the block's last. Such a form cannot fault (no memory access, no limit
 *   check), cannot read the clock or a port, and cannot end the block
 *   early (it changes none of halted, budget, pollIntr, the block's
 *   validity or the fetch page); so the next thing that can look at those
 *   three fields is a later instruction of the same block, which stores its
 *   own first, or the block's end, where the last instruction stored them.
 *   A fault in a later instruction restores that instruction's instrEip and
 *   instrEsp, never the skipped ones.
 * - The decode fields o32, a32, segOverride, rep and lockPrefix are stored
 *   when they differ from what the previous instruction left (known at
 *   compile time after an emitted form, unknown after a handler).
 * - After each instruction that may have changed halted, budget, pollIntr,
 *   the block's validity (any memory access: a write, or an accessed/dirty
 *   bit a page walk sets, SDM vol. 3A 4.8 and 11.6) or the fetch page, the
 *   function stops where runBlock would, with EIP after that instruction,
 *   and returns the count.
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
 * its next instruction). Group 1 (81, 83) with a memory operand fetches its
 * immediate after reading the operand, and that read's page walk may set
 * an accessed bit in the code frame, even in the immediate's own bytes: so
 * when the block became invalid during the read, the immediate is fetched
 * as the handler fetches it.
 */
import type { Block, Insn } from './block.js';
import { K_ALU_EV_GV, K_ALU_EV_IB, K_ALU_GV_EV, K_CALL, K_JCC, K_LEA, K_MOV_EV_GV, K_MOV_GV_EV, K_POP_R, K_PUSH_R, K_RET, K_TEST_EV_GV } from './block.js';
import type { Cpu } from './cpu.js';
import { alu, shift } from './alu.js';

/** Runs a compiled block `n` instructions into the slice, on linear page `page`; returns the count after it. */
export type JitFn = (c: Cpu, b: Block, n: number, page: number) => number;

/** Runs of a block before it is compiled (the jit engine's default). */
export const JIT_THRESHOLD = 32;

// Lazy-flag operations (cpu.ts LZ_*), repeated here as literals for the generated code.
const LZ_ADD = 0, LZ_SUB = 2, LZ_LOGIC = 4, LZ_INC = 5, LZ_DEC = 6;

function le32(b: Uint8Array, i: number): number {
  return b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24);
}

/** `r[k]` as the generated code names the register file. */
const R = (k: number): string => `r[${k}]`;
/** An 8-bit register (AL, CL, DL, BL, AH, CH, DH, BH) as a byte of the register file (cpu.ts R8). */
const R8 = (k: number): string => `c.reg8[${(k & 3) * 4 + (k >> 2)}]`;

/** The effective-address expression of a decoded memory operand (Cpu.effective). */
function eaExpr(d: Insn): string {
  let s = `${d.disp | 0}`;
  if (d.base >= 0) s = `((${s} + r[${d.base}]) | 0)`;
  if (d.index >= 0) s = `((${s} + (r[${d.index}] << ${d.scale})) | 0)`;
  return s;
}

/**
 * An ALU operation (alu.ts `alu`, 32 bits) of the expressions `a` and `b`
 * (each a local's name) into local `x`, with its lazy flags.
 */
function aluCode(o: number, a: string, b: string, x: string): string {
  switch (o) {
    case 0: return `const ${x} = (${a} + ${b}) | 0; c.setLazy(${LZ_ADD}, ${a}, ${b}, ${x}, 32);`;
    case 1: return `const ${x} = ${a} | ${b}; c.setLazy(${LZ_LOGIC}, ${a}, ${b}, ${x}, 32);`;
    case 4: return `const ${x} = ${a} & ${b}; c.setLazy(${LZ_LOGIC}, ${a}, ${b}, ${x}, 32);`;
    case 5: case 7: return `const ${x} = (${a} - ${b}) | 0; c.setLazy(${LZ_SUB}, ${a}, ${b}, ${x}, 32);`;
    case 6: return `const ${x} = ${a} ^ ${b}; c.setLazy(${LZ_LOGIC}, ${a}, ${b}, ${x}, 32);`;
    default: return `const ${x} = alu(c, ${o}, ${a}, ${b}, 32);`; // ADC, SBB: they read CF
  }
}

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

/** What an emitted form does: register-only (see the file's comment), or anything else (a memory access, a possible fault, a branch). */
const REG_ONLY = 0, MEMORY = 1;

/**
 * Compiles block `b`, whose bytes are at page[off..] (the host page the
 * block was decoded from; unchanged since, or the block would be invalid).
 */
export function compileBlock(b: Block, page: Uint8Array, off: number): JitFn {
  const insns = b.insns;
  const out: string[] = [];
  const pre: string[] = [];
  out.push('const r = c.reg32;', 'let e = c.eip;');
  // The decode fields as the previous instruction left them, or null: not known.
  let state: string | null = null;
  let rel = 0;
  for (let k = 0; k < insns.length; k++) {
    const d = insns[k]!;
    const at = off + rel;
    const last = k === insns.length - 1;
    const count = `n + ${k + 1}`;
    const here = `((e + ${rel}) | 0)`;
    const next = `((e + ${rel + d.len}) | 0)`;
    const m = d.modrm, reg = (m >> 3) & 7, rm = m & 7, mem = m < 0xc0;
    const body: string[] = [];
    /** effect: REG_ONLY, MEMORY, or -1 for a handler call */
    let effect = MEMORY;
    const kind = d.kind;
    const op = d.op;
    // Forms this file emits beyond block.ts's K_* (same conditions: 32-bit operand and address, no LOCK or REP, one-byte map).
    const sizes = d.o32 && d.a32 && !d.lock && d.rep === 0;
    const plain = sizes && d.opEnd === 1;
    const plain0f = sizes && d.opEnd === 2 && page[at] === 0x0f;
    const setEa = (): string => `const a${k} = ${eaExpr(d)}; c.eaSeg = ${d.eaSeg}; c.eaOff = a${k};`;
    const modrmStore = `c.modrm = ${m};`;
    /**
     * Group 1 Ev, Ib (83) or Ev, Iz (81) with immediate `imm` of `size`
     * bytes: with a memory operand, saveFlags before the read and the
     * immediate fetched after it when the read dropped the block (see the
     * file's comment). Returns the form's effect.
     */
    const group1 = (imm: number, size: 1 | 4): number => {
      const o = reg;
      body.push(modrmStore);
      if (!mem) {
        body.push(`const p${k} = ${R(rm)}, q${k} = ${imm};`, aluCode(o, `p${k}`, `q${k}`, `x${k}`));
        if (o !== 7) body.push(`${R(rm)} = x${k};`);
        return REG_ONLY;
      }
      body.push(setEa(), 'c.saveFlags();', `const p${k} = c.rd32(${d.eaSeg}, a${k});`,
        `const q${k} = b.valid ? ${imm} : c.fetchImm(${here}, ${d.modrmEnd}, ${size});`,
        aluCode(o, `p${k}`, `q${k}`, `x${k}`));
      if (o !== 7) body.push(`c.wr32(${d.eaSeg}, a${k}, x${k});`);
      return MEMORY;
    };
    switch (kind) {
      case K_MOV_EV_GV:
        body.push(modrmStore);
        if (!mem) { body.push(`${R(rm)} = ${R(reg)};`); effect = REG_ONLY; }
        else body.push(setEa(), `c.wr32(${d.eaSeg}, a${k}, ${R(reg)});`);
        break;
      case K_MOV_GV_EV:
        body.push(modrmStore);
        if (!mem) { body.push(`${R(reg)} = ${R(rm)};`); effect = REG_ONLY; }
        else body.push(setEa(), `${R(reg)} = c.rd32(${d.eaSeg}, a${k});`);
        break;
      case K_LEA:
        body.push(modrmStore, setEa(), `${R(reg)} = a${k};`);
        effect = REG_ONLY;
        break;
      case K_ALU_EV_GV: {
        const o = op >> 3;
        body.push(modrmStore);
        if (!mem) {
          body.push(`const p${k} = ${R(rm)}, q${k} = ${R(reg)};`, aluCode(o, `p${k}`, `q${k}`, `x${k}`));
          if (o !== 7) body.push(`${R(rm)} = x${k};`);
          effect = REG_ONLY;
        } else {
          body.push(setEa(), 'c.saveFlags();', `const p${k} = c.rd32(${d.eaSeg}, a${k}), q${k} = ${R(reg)};`, aluCode(o, `p${k}`, `q${k}`, `x${k}`));
          if (o !== 7) body.push(`c.wr32(${d.eaSeg}, a${k}, x${k});`);
        }
        break;
      }
      case K_ALU_GV_EV: {
        const o = op >> 3;
        body.push(modrmStore);
        if (!mem) { body.push(`const p${k} = ${R(reg)}, q${k} = ${R(rm)};`); effect = REG_ONLY; }
        else body.push(setEa(), `const p${k} = ${R(reg)}, q${k} = c.rd32(${d.eaSeg}, a${k});`);
        body.push(aluCode(o, `p${k}`, `q${k}`, `x${k}`));
        if (o !== 7) body.push(`${R(reg)} = x${k};`);
        break;
      }
      case K_ALU_EV_IB:
        effect = group1(d.imm | 0, 1);
        break;
      case K_TEST_EV_GV:
        body.push(modrmStore);
        if (!mem) { body.push(`const p${k} = ${R(rm)};`); effect = REG_ONLY; }
        else body.push(setEa(), `const p${k} = c.rd32(${d.eaSeg}, a${k});`);
        body.push(`const q${k} = ${R(reg)};`, aluCode(4, `p${k}`, `q${k}`, `x${k}`));
        break;
      case K_JCC:
        body.push(`c.eip = ${next};`, `if (${condCode(op & 15)}) c.nearJump32((${next} + ${d.imm | 0}) | 0);`);
        break;
      case K_PUSH_R:
        body.push(`c.push32(${R(op & 7)});`);
        break;
      case K_POP_R:
        body.push(`const v${k} = c.pop32(); ${R(op & 7)} = v${k};`);
        break;
      case K_CALL:
        body.push(`const ret${k} = ${next}; c.eip = ret${k}; const t${k} = (ret${k} + ${d.imm | 0}) | 0;`,
          `if ((t${k} >>> 0) > (c.segLimit[1] >>> 0) && (c.protectedMode || c.segLimit[1] !== -1)) c.gp(0);`,
          `c.push32(ret${k}); c.eip = t${k};`);
        break;
      case K_RET:
        body.push(`c.eip = ${next};`, 'c.nearJump32(c.peekOp(0));', 'c.addSp(4);');
        break;
      default:
        effect = -1;
        if (plain && op >= 0xb8 && op <= 0xbf && d.opEnd === 1 && d.len === 5) {
          // MOV r32, imm32 (opb8)
          body.push(`${R(op & 7)} = ${le32(page, at + 1)};`);
          effect = REG_ONLY;
        } else if (plain && op >= 0x40 && op <= 0x4f && d.opEnd === 1) {
          // INC/DEC r32 (op40, op48: alu.ts inc/dec)
          const x = R(op & 7);
          body.push(`const p${k} = ${x}, x${k} = (p${k} ${op < 0x48 ? '+' : '-'} 1) | 0;`,
            `c.setLazyKeepCf(${op < 0x48 ? LZ_INC : LZ_DEC}, p${k}, x${k}, 32); ${x} = x${k};`);
          effect = REG_ONLY;
        } else if (plain && op === 0x81 && d.ea === 1 && d.opEnd === 1) {
          // group 1 Ev, Iz (op81)
          effect = group1(le32(page, at + d.modrmEnd), 4);
        } else if (plain && op === 0xc7 && d.ea === 1 && d.opEnd === 1 && reg === 0) {
          // MOV Ev, Iz (opc7): the immediate is fetched before the write
          const imm = le32(page, at + d.modrmEnd);
          body.push(modrmStore);
          if (!mem) { body.push(`${R(rm)} = ${imm};`); effect = REG_ONLY; }
          else { body.push(setEa(), `c.wr32(${d.eaSeg}, a${k}, ${imm});`); effect = MEMORY; }
        } else if (plain && (op === 0xc1 || op === 0xd1 || op === 0xd3) && d.ea === 1 && !mem) {
          // group 2 Ev, Ib / 1 / CL, register operand (opc1: alu.ts shift; no write for a count of 0 mod 32)
          const count = op === 0xc1 ? `${page[at + d.modrmEnd]!}` : op === 0xd1 ? '1' : `c.reg8[4]`;
          body.push(modrmStore, `const n${k} = ${count}, x${k} = shift(c, ${reg}, ${R(rm)}, n${k}, 32);`, `if (n${k} & 31) ${R(rm)} = x${k};`);
          effect = REG_ONLY;
        } else if (plain && (op === 0x88 || op === 0x8a) && d.ea === 1) {
          // MOV Eb, Gb / Gb, Eb (op88, op8a)
          body.push(modrmStore);
          if (!mem) {
            body.push(op === 0x88 ? `${R8(rm)} = ${R8(reg)};` : `${R8(reg)} = ${R8(rm)};`);
            effect = REG_ONLY;
          } else {
            body.push(setEa(), op === 0x88 ? `c.wr8(${d.eaSeg}, a${k}, ${R8(reg)});` : `${R8(reg)} = c.rd8(${d.eaSeg}, a${k});`);
            effect = MEMORY;
          }
        } else if (plain0f && op >= 0xb6 && op <= 0xbf && (op & 6) === 6 && d.ea === 1) {
          // MOVZX/MOVSX Gv, Eb/Ew (op0fb6)
          let v: string;
          if (op & 1) v = mem ? `c.rd16(${d.eaSeg}, a${k})` : `c.reg16[${rm << 1}]`;
          else v = mem ? `c.rd8(${d.eaSeg}, a${k})` : R8(rm);
          if (op === 0xbf) v = `((${v} << 16) >> 16)`;
          else if (op === 0xbe) v = `((${v} << 24) >> 24)`;
          body.push(modrmStore);
          if (mem) body.push(setEa());
          body.push(`${R(reg)} = ${v};`);
          effect = mem ? MEMORY : REG_ONLY;
        }
    }
    const regOnly = effect === REG_ONLY;
    const isHandler = effect === -1;
    // The contract (see the file's comment).
    if (!regOnly || last) {
      out.push(`c.instrEip = ${here}; c.instrEsp = r[4]; c.executed = ${count};`);
    }
    const st = `${d.o32 ? 1 : 0}${d.a32 ? 1 : 0}${d.seg}${d.rep}${d.lock ? 1 : 0}`;
    if (state !== st) {
      out.push(`c.o32 = ${d.o32}; c.a32 = ${d.a32}; c.segOverride = ${d.seg}; c.rep = ${d.rep}; c.lockPrefix = ${d.lock};`);
    }
    if (isHandler) {
      pre.push(`const h${k} = insns[${k}].handler, d${k} = insns[${k}];`);
      out.push(`c.eip = (e + ${rel + d.opEnd}) | 0;`);
      if (d.ea !== 0) out.push(`c.pre = d${k};`);
      out.push(`h${k}(c, ${op});`);
      if (d.ea !== 0) out.push('c.pre = null;');
      state = null;
      if (!last) {
        out.push(`if (c.halted || ${count} >= c.budget || c.pollIntr || !b.valid || c.fetchPage !== page) return ${count};`);
        // As runBlock: the next instruction starts where the handler left EIP.
        out.push(`e = (c.eip - ${rel + d.len}) | 0;`);
      }
    } else {
      state = st;
      out.push(...body);
      if (last) {
        if (kind !== K_JCC && kind !== K_CALL && kind !== K_RET) out.push(`c.eip = ${next};`);
      } else if (!regOnly) {
        out.push(`if (c.halted || ${count} >= c.budget || c.pollIntr || !b.valid || c.fetchPage !== page) { c.eip = ${next}; return ${count}; }`);
      }
    }
    rel += d.len;
  }
  out.push(`return n + ${insns.length};`);
  const src = `"use strict";\n${pre.join('\n')}\nreturn function jit_${b.gpa.toString(16)}(c, b, n, page) {\n${out.filter((s) => s !== '').join('\n')}\n};`;
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  if (process.env.VMMU_JIT_DUMP) console.error(src);
  return new Function('insns', 'alu', 'shift', src)(insns, alu, shift) as JitFn;
}
