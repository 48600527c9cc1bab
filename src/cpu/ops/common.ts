/**
 * What the opcode groups share: the form of their descriptions (one
 * OpcodeEntry per handler, with the opcodes it serves), which execute.ts
 * turns into the dispatch tables, and the few decoding helpers every group
 * uses.
 */
import type { Cpu } from '../cpu.js';

/**
 * An instruction handler. It is called with the CPU after the prefixes and
 * the opcode byte (and, for the 0F map, the second byte) have been fetched,
 * with that byte as `op`, and fetches the rest of the instruction itself
 * (ModR/M, SIB, displacement, immediates). Handlers are plain functions of
 * this one shape so that the dispatch call site stays monomorphic.
 */
export type Handler = (c: Cpu, op: number) => void;

/** The opcode map of an entry: the one-byte map, or the two-byte map after 0F (SDM vol. 2, appendix A). */
export type OpcodeMap = 'one' | '0f';

/**
 * Where execution goes after an instruction that does not fault (a fault
 * always leaves the straight line, whatever the entry says). Between any two
 * instructions the run loop's own checks (a pending interrupt, the end of
 * the slice) still apply.
 *
 * - `next`: to the next instruction. It changes registers, memory (which
 *   may be device memory, or code), the arithmetic flags, DF or the FPU
 *   (whose error line is IRQ 13) only: nothing that decoding, fetching or
 *   checking the following instructions depends on.
 * - `jump`: to the next instruction or to another offset in the same code
 *   segment (near jumps, calls, returns, LOOP), otherwise as `next`.
 * - `end`: anywhere. The instruction may change (in at least one of its
 *   forms) CS, a segment register or the descriptor tables, the CPL, CR0/
 *   CR3/CR4, the MSRs, paging or the TLB, EFLAGS beyond the arithmetic
 *   flags and DF (IF, TF, AC, VM, IOPL, NT), the interrupt shadow, or it
 *   halts, or it accesses a port (which ends the run slice), or it always
 *   faults.
 */
export type Flow = 'next' | 'jump' | 'end';

/**
 * The immediate (or displacement, or pointer) that follows the opcode and,
 * when there is one, the ModR/M byte with its SIB and displacement: what
 * the handler fetches after decodeModrm, by size (operand notation of SDM
 * vol. 2, appendix A.2).
 *
 * - `none`: nothing.
 * - `Ib`: one byte (Ib, and the rel8 of Jb; also the count of the MMX
 *   shift groups 0F 71-73, whose memory forms raise #UD before it is read).
 * - `Iw`: two bytes, whatever the operand size (RET Iw, RET far Iw).
 * - `Iz`: two or four bytes by the operand size (the SDM's Iz and Jz; its
 *   Iv is the same on a CPU without 64-bit operands: MOV r, Iv).
 * - `moffs`: two or four bytes by the address size (MOV A0-A3, SDM
 *   appendix A.2.1, addressing method O).
 * - `Ap`: a far pointer ptr16:16 or ptr16:32, the offset by the operand
 *   size and then a 2-byte selector (CALL/JMP far direct).
 * - `IwIb`: ENTER's Iw then Ib, three bytes.
 * - `group3b`, `group3z`: group 3 (F6, F7) has an immediate, Ib or Iz, only
 *   with reg field /0 or /1 (TEST; /1 is an alias of TEST here); the other
 *   forms (NOT NEG MUL IMUL DIV IDIV) have none (SDM appendix A.4, table
 *
 */
export type ImmKind = 'none' | 'Ib' | 'Iw' | 'Iz' | 'moffs' | 'Ap' | 'IwIb' | 'group3b' | 'group3z';

/** One handler and the opcodes it serves: the dispatch tables are built from these (execute.ts). */
export interface OpcodeEntry {
  readonly map: OpcodeMap;
  readonly opcodes: readonly number[];
  readonly handler: Handler;
  /** the instructions, as in the SDM's opcode map (operand notation of SDM vol. 2, appendix A) */
  readonly mnemonic: string;
  readonly flow: Flow;
  /**
   * A ModR/M byte follows the opcode (with a SIB byte and a displacement as
   * its mod and r/m fields and the address size say): the handler calls
   * decodeModrm. MOV to and from CRn/DRn (0F 20-23) decodes it in full here
   * too, so a memory form there has the displacement's length.
   */
  readonly modrm: boolean;
  /** what follows the opcode and the ModR/M bytes */
  readonly imm: ImmKind;
  /** what the opcodes are in 64-bit mode, where they differ from the default (see LongForm) */
  readonly long?: LongForm;
  /** for an opcode group: LongForm by the ModR/M reg field, where the forms differ (group 5) */
  readonly longByReg?: readonly (LongForm | undefined)[];
}

/**
 * What an entry's opcodes are in 64-bit mode, where that is not the
 * default: the same instruction, its operand size 32 bits (64 with REX.W,
 * 16 with 66, REX.W winning) and its address size 64 bits (32 with 67);
 * a ModR/M byte with REX's extra register bits, mod 00 r/m 101 meaning
 * RIP + disp32 (SDM vol. 2A, 2.2.1; vol. 1, 3.6.1; the superscripts of
 * vol. 2D, appendix A, table A-1):
 *
 * - `invalid` (i64): #UD in 64-bit mode.
 * - `rex`: the bytes are REX prefixes, not instructions (40-4F, INC and
 *   DEC of a register elsewhere).
 * - `d64`: the operand size is 64 bits by default and 16 with 66; 32
 *   bits cannot be encoded (the stack operations, LEAVE, ENTER).
 * - `f64`: the operand size is 64 bits whatever the prefixes (near
 *   branches, CALL and RET: Intel's rule; AMD's processors honour 66
 *   there, and vmmu follows the SDM).
 * - `movsxd`: another instruction, MOVSXD Gv, Ed (ARPL elsewhere).
 * - `imm64`: the immediate is 8 bytes with REX.W (MOV r64, imm64).
 */
export type LongForm = 'invalid' | 'rex' | 'd64' | 'f64' | 'movsxd' | 'imm64';

/** The opcodes first..last, inclusive. */
export function span(first: number, last: number): number[] {
  const ops: number[] = [];
  for (let op = first; op <= last; op++) ops.push(op);
  return ops;
}

/** Column `first` (00-05) of the eight ALU rows ADD OR ADC SBB AND SUB XOR CMP: first, first+8, ... first+0x38. */
export function aluRows(first: number): number[] {
  const ops: number[] = [];
  for (let row = 0; row < 8; row++) ops.push(first + row * 8);
  return ops;
}

/** Immediate of the operand size. */
export function imm(c: Cpu): number {
  return c.o32 ? c.fetch32() : c.fetch16();
}

/** Sign-extended 8-bit immediate. */
export function imm8s(c: Cpu): number {
  return (c.fetch8() << 24) >> 24;
}

/** LOCK is legal only on the read-modify-write forms with a memory destination (SDM vol. 2A, LOCK). */
export function lockCheck(c: Cpu, allowed: boolean): void {
  if (c.lockPrefix && (!allowed || c.modrm >= 0xc0)) c.ud();
}
