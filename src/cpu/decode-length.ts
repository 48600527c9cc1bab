/**
 * The length of an instruction, from its bytes alone: a table-driven
 * decoder built from the opcode descriptions (OpcodeEntry.modrm and .imm in
 * ops/*.ts, the same list execute.ts builds its dispatch tables from). It
 * executes nothing and reads no memory; the caller hands it the bytes.
 *
 * It follows what the interpreter fetches, so for every instruction the
 * interpreter completes without a fault, the length is the interpreter's
 * advance of EIP (test/cpu/decode-length.test.ts checks that on the test
 * guests): the legacy prefixes (at most 14, as execute() allows), the
 * opcode (one byte, or 0F and a second byte), the ModR/M byte with its SIB
 * byte and displacement under the address size, and the immediate.
 */
import { OPCODES } from './execute.js';
import type { ImmKind, LongForm } from './ops/common.js';

/** The bytes ran out before the instruction did. */
export const LENGTH_SHORT = 0;
/** Not an instruction this CPU executes: an opcode in no description (#UD), or more than 14 prefixes (#GP). */
export const LENGTH_INVALID = -1;

// Per opcode: bit 7 = described, bit 6 = ModR/M follows, bits 0-3 = the immediate kind.
const DEFINED = 0x80;
const MODRM = 0x40;
const IMM_CODES: readonly ImmKind[] = ['none', 'Ib', 'Iw', 'Iz', 'moffs', 'Ap', 'IwIb', 'group3b', 'group3z'];
const I_NONE = 0, I_B = 1, I_W = 2, I_Z = 3, I_MOFFS = 4, I_AP = 5, I_WB = 6, I_G3B = 7, I_G3Z = 8;

const FORM_ONE = new Uint8Array(256);
const FORM_0F = new Uint8Array(256);
for (const e of OPCODES) {
  const table = e.map === 'one' ? FORM_ONE : FORM_0F;
  const code = DEFINED | (e.modrm ? MODRM : 0) | IMM_CODES.indexOf(e.imm);
  for (const op of e.opcodes) table[op] = code;
}

/** Prefix bytes (SDM vol. 2A, 2.1.1): LOCK, REPNE, REP, the segment overrides, 66 and 67. */
const PREFIX = new Uint8Array(256);
for (const p of [0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3]) PREFIX[p] = 1;

/**
 * The length of the instruction at bytes[start], in code whose default
 * operand and address size is 32 bits when `big` (CS.D) and 16 bits
 * otherwise. Returns LENGTH_SHORT when `bytes` ends first, LENGTH_INVALID
 * for an opcode this CPU does not execute or too many prefixes.
 */
export function instructionLength(bytes: ArrayLike<number>, start: number, big: boolean): number {
  const end = bytes.length;
  let i = start;
  let o32 = big, a32 = big;
  let prefixes = 0;
  for (;;) {
    if (i >= end) return LENGTH_SHORT;
    const b = bytes[i]!;
    if (PREFIX[b] === 0) break;
    if (++prefixes > 14) return LENGTH_INVALID;
    if (b === 0x66) o32 = !big;
    else if (b === 0x67) a32 = !big;
    i++;
  }
  let op = bytes[i++]!;
  let form = FORM_ONE[op]!;
  if (op === 0x0f) {
    if (i >= end) return LENGTH_SHORT;
    op = bytes[i++]!;
    form = FORM_0F[op]!;
  }
  if ((form & DEFINED) === 0) return LENGTH_INVALID;
  let reg = 0;
  if (form & MODRM) {
    if (i >= end) return LENGTH_SHORT;
    const m = bytes[i++]!;
    reg = (m >> 3) & 7;
    const mod = m >> 6, rm = m & 7;
    if (mod !== 3) {
      if (a32) {
        i = afterAddress32(bytes, i, mod, rm);
        if (i < 0) return LENGTH_SHORT;
      } else {
        // 16-bit addressing (table 2-1): mod 00 r/m 110 is a disp16.
        if (mod === 0 && rm === 6) i += 2;
        else if (mod === 1) i += 1;
        else if (mod === 2) i += 2;
      }
    }
  }
  switch (form & 0x0f) {
    case I_NONE: break;
    case I_B: i += 1; break;
    case I_W: i += 2; break;
    case I_Z: i += o32 ? 4 : 2; break;
    case I_MOFFS: i += a32 ? 4 : 2; break;
    case I_AP: i += (o32 ? 4 : 2) + 2; break;
    case I_WB: i += 3; break;
    case I_G3B: if (reg < 2) i += 1; break;
    case I_G3Z: if (reg < 2) i += o32 ? 4 : 2; break;
  }
  if (i > end) return LENGTH_SHORT;
  return i - start;
}

/**
 * Past the SIB byte and displacement of a memory operand under 32-bit
 * addressing (SDM vol. 2A, tables 2-2 and 2-3), from bytes[i], the byte
 * after ModR/M: r/m 100 adds a SIB byte; mod 00 with r/m 101, or with a
 * SIB base of 101, a disp32 (in 64-bit mode mod 00 r/m 101 is RIP +
 * disp32, the same length). -1 when the SIB byte is past the end.
 */
function afterAddress32(bytes: ArrayLike<number>, i: number, mod: number, rm: number): number {
  if (rm === 4) {
    if (i >= bytes.length) return -1;
    const sib = bytes[i++]!;
    if (mod === 0 && (sib & 7) === 5) i += 4;
  } else if (mod === 0 && rm === 5) {
    i += 4;
  }
  if (mod === 1) i += 1;
  else if (mod === 2) i += 4;
  return i;
}

// ---- 64-bit mode ----

// Per opcode in 64-bit mode: the LongForm of its entry (OpcodeEntry.long), as a small code.
const L_SAME = 0, L_INVALID = 1, L_REX = 2, L_D64 = 3, L_F64 = 4, L_IMM64 = 5;
const LONG_CODES: Record<LongForm, number> = { invalid: L_INVALID, rex: L_REX, d64: L_D64, f64: L_F64, movsxd: L_SAME, imm64: L_IMM64 };
const LONG_ONE = new Uint8Array(256);
const LONG_0F = new Uint8Array(256);
for (const e of OPCODES) {
  if (e.long === undefined) continue;
  for (const op of e.opcodes) (e.map === 'one' ? LONG_ONE : LONG_0F)[op] = LONG_CODES[e.long];
}

/** The longest instruction: 15 bytes; a longer one raises #GP (SDM vol. 2A, 2.3.11). */
export const MAX_LENGTH = 15;

/**
 * The length of the instruction at bytes[start] in 64-bit mode (CS.L = 1),
 * from the same descriptions as instructionLength and their 64-bit facts
 * (OpcodeEntry.long): legacy prefixes, then REX prefixes (40-4F; only the
 * last one right before the opcode counts, so a legacy prefix after a REX
 * makes it count for nothing, SDM vol. 2A, 2.2.1), the opcode, the
 * ModR/M byte with SIB and displacement under 32- or 64-bit addressing
 * (the same lengths: mod 00 r/m 101 is RIP + disp32), and the immediate:
 * Iz is 4 bytes unless the operand size is 16 bits (66 without REX.W, and
 * never for the f64 branches), MOV r64, imm64 (B8-BF with REX.W) takes 8,
 * a moffs is 8 bytes (4 with 67). Returns LENGTH_INVALID for an opcode
 * 64-bit mode does not have (i64, or not described) and for more than 15
 * bytes, LENGTH_SHORT when `bytes` ends first.
 */
export function instructionLength64(bytes: ArrayLike<number>, start: number): number {
  const end = bytes.length;
  let i = start;
  let o16 = false, a32 = false, rexW = false;
  for (;;) {
    if (i >= end) return LENGTH_SHORT;
    const b = bytes[i]!;
    if (PREFIX[b] !== 0) {
      if (b === 0x66) o16 = true;
      else if (b === 0x67) a32 = true;
      rexW = false;
    } else if ((b & 0xf0) === 0x40) {
      rexW = (b & 8) !== 0;
    } else {
      break;
    }
    if (++i - start >= MAX_LENGTH) return LENGTH_INVALID;
  }
  let op = bytes[i++]!;
  let form = FORM_ONE[op]!;
  let long = LONG_ONE[op]!;
  if (op === 0x0f) {
    if (i >= end) return LENGTH_SHORT;
    op = bytes[i++]!;
    form = FORM_0F[op]!;
    long = LONG_0F[op]!;
  }
  if ((form & DEFINED) === 0 || long === L_INVALID) return LENGTH_INVALID;
  let reg = 0;
  if (form & MODRM) {
    if (i >= end) return LENGTH_SHORT;
    const m = bytes[i++]!;
    reg = (m >> 3) & 7;
    const mod = m >> 6, rm = m & 7;
    if (mod !== 3) {
      i = afterAddress32(bytes, i, mod, rm);
      if (i < 0) return LENGTH_SHORT;
    }
  }
  // the immediate's operand size: 16 bits only with 66, no REX.W, and an entry that is not f64
  const z = o16 && !rexW && long !== L_F64 ? 2 : 4;
  switch (form & 0x0f) {
    case I_NONE: break;
    case I_B: i += 1; break;
    case I_W: i += 2; break;
    case I_Z: i += long === L_IMM64 && rexW ? 8 : z; break;
    case I_MOFFS: i += a32 ? 4 : 8; break;
    case I_AP: return LENGTH_INVALID;
    case I_WB: i += 3; break;
    case I_G3B: if (reg < 2) i += 1; break;
    case I_G3Z: if (reg < 2) i += z; break;
  }
  if (i - start > MAX_LENGTH) return LENGTH_INVALID;
  if (i > end) return LENGTH_SHORT;
  return i - start;
}
