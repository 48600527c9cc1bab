/**
 * The instruction-length decoder in 64-bit mode (instructionLength64,
 * src/cpu/decode-length.ts), from the opcode descriptions and their 64-bit
 * facts (OpcodeEntry.long):
 *
 * - against GNU objdump: 3,890 random instructions of every described
 *   opcode, with prefixes, REX and random operand bytes
 *   (lengths64/reference.ts, made by lengths64/gen.mjs, whose comment says
 *   what it leaves out and why);
 * - by hand, the rules where objdump follows AMD or lists bytes apart, and
 *   the rest of SDM vol. 2A, 2.2.1 and 2.3.11.
 */
import { describe, expect, it } from 'vitest';
import { instructionLength, instructionLength64, LENGTH_INVALID, LENGTH_SHORT, MAX_LENGTH } from '../../src/cpu/decode-length.js';
import { OPCODES } from '../../src/cpu/execute.js';
import { LENGTHS64 } from './lengths64/reference.js';

const bytesOf = (hex: string): number[] => Array.from(hex.matchAll(/../g), (m) => parseInt(m[0], 16));
const NOPS = new Array<number>(32).fill(0x90);

describe('64-bit instruction lengths against objdump', () => {
  it('does every sample have objdump\'s length (or count as invalid where objdump says "(bad)")?', () => {
    const wrong: string[] = [];
    let invalid = 0, imm64 = 0;
    for (const [hex, want] of LENGTHS64) {
      const got = instructionLength64([...bytesOf(hex), ...NOPS], 0);
      if (got !== want) wrong.push(`${hex}: objdump ${want}, here ${got}`);
      if (want === -1) invalid++;
      if (want >= 10) imm64++;
    }
    expect(wrong.slice(0, 20)).toEqual([]);
    // the samples reach what they are for
    expect(LENGTHS64.length).toBeGreaterThan(3000);
    expect(invalid).toBeGreaterThan(100);
    expect(imm64).toBeGreaterThan(5);
  });
});

describe('64-bit instruction lengths by hand', () => {
  const cases: [string, number[], number][] = [
    // REX (SDM vol. 2A, 2.2.1)
    ['a REX before the opcode', [0x48, 0x89, 0xc0], 3],
    ['two REX prefixes (the last one counts)', [0x40, 0x48, 0x90], 3],
    ['a REX before a legacy prefix counts for nothing, but is a byte of the instruction', [0x48, 0x66, 0x89, 0xc0], 4],
    ['REX.W before a legacy prefix does not make B8 take imm64', [0x48, 0x66, 0xb8, 0x34, 0x12], 5],
    // MOV r64, imm64 and moffs (2.2.1.5, 2.2.1.4)
    ['MOV r64, imm64 (REX.W B8)', [0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8], 10],
    ['MOV r64, imm64 with 66 too: REX.W wins', [0x66, 0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8], 11],
    ['MOV r32, imm32 (B8 without REX.W)', [0x41, 0xb8, 1, 2, 3, 4], 6],
    ['MOV r16, imm16 (66 B8)', [0x66, 0xb8, 1, 2], 4],
    ['REX.W C7 takes an imm32 (sign-extended), not an imm64', [0x48, 0xc7, 0xc0, 1, 2, 3, 4], 7],
    ['MOV EAX, moffs64 (A1)', [0xa1, 1, 2, 3, 4, 5, 6, 7, 8], 9],
    ['MOV EAX, moffs32 with 67', [0x67, 0xa1, 1, 2, 3, 4], 6],
    ['MOV RAX, moffs64 (REX.W A1)', [0x48, 0xa1, 1, 2, 3, 4, 5, 6, 7, 8], 10],
    // RIP-relative and SIB (2.2.1.6)
    ['RIP + disp32 (mod 00 r/m 101)', [0x8b, 0x05, 1, 2, 3, 4], 6],
    ['EIP + disp32 with 67: the same length', [0x67, 0x8b, 0x05, 1, 2, 3, 4], 7],
    ['SIB with no base: disp32', [0x8b, 0x04, 0x25, 1, 2, 3, 4], 7],
    ['no 16-bit addressing: 67 with mod 00 r/m 110 has no displacement', [0x67, 0x8b, 0x06], 3],
    // f64 near branches: 66 does not shorten the displacement (SDM vol. 2A, CALL, JMP, Jcc: "in 64-bit mode the operand size is fixed at 64 bits")
    ['CALL rel32 with 66 (Intel: still rel32)', [0x66, 0xe8, 1, 2, 3, 4], 6],
    ['JMP rel32 with 66', [0x66, 0xe9, 1, 2, 3, 4], 6],
    ['Jcc rel32 with 66', [0x66, 0x0f, 0x84, 1, 2, 3, 4], 7],
    ['RET Iw with 66', [0x66, 0xc2, 8, 0], 4],
    // d64: 66 still gives 16 bits
    ['PUSH imm32 (68)', [0x68, 1, 2, 3, 4], 5],
    ['PUSH imm16 (66 68)', [0x66, 0x68, 1, 2], 4],
    ['PUSH imm32 with REX.W', [0x48, 0x68, 1, 2, 3, 4], 6],
    // MOVSXD replaces ARPL
    ['MOVSXD (REX.W 63 /r)', [0x48, 0x63, 0xc1], 3],
    ['MOVSXD from RIP + disp32', [0x48, 0x63, 0x05, 1, 2, 3, 4], 7],
    // the 15-byte limit (2.3.11)
    ['14 prefixes and a NOP: 15 bytes', [...new Array<number>(14).fill(0x66), 0x90], 15],
    ['15 prefixes and a NOP: too long', [...new Array<number>(15).fill(0x66), 0x90], LENGTH_INVALID],
    ['prefixes and imm64 past 15 bytes', [0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8], LENGTH_INVALID],
    ['five prefixes and imm64: 15 bytes', [0x66, 0x66, 0x66, 0x66, 0x66, 0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8], 15],
    // running out
    ['a REX alone', [0x48], LENGTH_SHORT],
    ['imm64 cut short', [0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7], LENGTH_SHORT],
    ['moffs64 cut short', [0xa1, 1, 2, 3, 4], LENGTH_SHORT],
  ];
  it.each(cases)('%s', (_, bytes, want) => {
    expect(instructionLength64(bytes, 0)).toBe(want);
  });

  it('is every opcode the SDM marks i64 invalid in 64-bit mode, and the same opcodes valid in 32-bit code?', () => {
    // SDM vol. 2D, table A-2 (superscript i64); 82 is an alias of 80 there, D6 (SALC) undocumented
    const i64 = [0x06, 0x07, 0x0e, 0x16, 0x17, 0x1e, 0x1f, 0x27, 0x2f, 0x37, 0x3f, 0x60, 0x61, 0x62, 0x82, 0x9a, 0xc4, 0xc5, 0xce, 0xd4, 0xd5, 0xd6, 0xea];
    for (const op of i64) {
      const bytes = [op, 0x00, 1, 2, 3, 4, 5, 6, 7];
      expect(instructionLength64(bytes, 0), op.toString(16)).toBe(LENGTH_INVALID);
      expect(instructionLength(bytes, 0, true), op.toString(16)).toBeGreaterThan(0);
    }
    // and no other described opcode of the one-byte map is
    const described = OPCODES.filter((e) => e.map === 'one' && e.long === 'invalid').flatMap((e) => e.opcodes);
    expect([...described].sort((a, b) => a - b)).toEqual(i64);
  });

  it('are 40-4F prefixes in 64-bit mode and INC/DEC elsewhere?', () => {
    for (let op = 0x40; op <= 0x4f; op++) {
      expect(instructionLength64([op, 0x90], 0)).toBe(2);
      expect(instructionLength([op, 0x90], 0, true)).toBe(1);
    }
  });

  it('do the descriptions give group 5 its forms (CALL and JMP near f64, PUSH d64) and the stack and branch opcodes theirs?', () => {
    const one = (op: number) => OPCODES.find((e) => e.map === 'one' && e.opcodes.includes(op))!;
    expect(one(0xff).longByReg).toEqual([undefined, undefined, 'f64', undefined, 'f64', undefined, 'd64', undefined]);
    for (const op of [0x50, 0x5f, 0x68, 0x6a, 0x8f, 0x9c, 0x9d, 0xc8, 0xc9]) expect(one(op).long, op.toString(16)).toBe('d64');
    for (const op of [0x70, 0x7f, 0xc2, 0xc3, 0xe0, 0xe3, 0xe8, 0xe9, 0xeb]) expect(one(op).long, op.toString(16)).toBe('f64');
    expect(one(0x63).long).toBe('movsxd');
  });

  it('is the longest instruction 15 bytes', () => {
    expect(MAX_LENGTH).toBe(15);
  });
});
