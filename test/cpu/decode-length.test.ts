/**
 * The table-driven instruction-length decoder (src/cpu/decode-length.ts),
 * built from the operand forms in the opcode descriptions:
 *
 * - against the interpreter: test kernels from test/guests are run one
 *   instruction at a time, and for every instruction whose flow is `next`
 *   that completes without a fault or an interrupt, the decoder's length of
 *   the bytes at CS:EIP must equal the interpreter's advance of EIP;
 * - on hand-written byte sequences, one or more per immediate kind, for
 *   16- and 32-bit addressing, SIB forms and prefixes.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CS } from '../../src/cpu/constants.js';
import { instructionLength, LENGTH_INVALID, LENGTH_SHORT } from '../../src/cpu/decode-length.js';
import { OPCODES } from '../../src/cpu/execute.js';
import type { OpcodeEntry } from '../../src/cpu/ops/common.js';
import { Machine } from '../../src/machine/machine.js';
import { ACC_FETCH, T_FAULT, T_MMIO } from '../../src/mmu/index.js';

const guestsDir = fileURLToPath(new URL('../guests', import.meta.url));

const ONE = new Map<number, OpcodeEntry>();
const TWO = new Map<number, OpcodeEntry>();
for (const e of OPCODES) for (const op of e.opcodes) (e.map === 'one' ? ONE : TWO).set(op, e);
const PREFIXES = new Set([0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3]);

/** The description of the instruction in `bytes`, and its opcode as 'op' or '0f op'. */
function entryOf(bytes: number[]): { entry: OpcodeEntry | undefined; key: string } {
  let i = 0;
  while (i < bytes.length && PREFIXES.has(bytes[i]!)) i++;
  const op = bytes[i]!;
  if (op !== 0x0f) return { entry: ONE.get(op), key: op.toString(16).padStart(2, '0') };
  const op2 = bytes[i + 1]!;
  return { entry: TWO.get(op2), key: `0f ${op2.toString(16).padStart(2, '0')}` };
}

interface Checked {
  instructions: number;
  checked: number;
  opcodes: Set<string>;
  mismatches: string[];
  reason: string;
  status: number | null;
}

/**
 * Boots a test kernel and single-steps it (Machine.run with a limit of one
 * instruction, so devices and interrupts run as usual), checking lengths on
 * the way, for at most `limit` instructions.
 */
function checkGuest(name: string, limit: number): Checked {
  const image = `${guestsDir}/${name}/${name}.elf`;
  const m = new Machine({ mode: 'naive', memory: 64 << 20, serialOut: () => {} });
  m.loadMultiboot(readFileSync(image), image, '');
  const cpu = m.cpu, mmu = m.mmu;
  // Test-only: notice exceptions (faults, the single-step trap) delivered during a step.
  let excepted = false;
  const exception = cpu.exception.bind(cpu);
  cpu.exception = (vector: number, hasError: boolean, errorCode: number): void => {
    excepted = true;
    exception(vector, hasError, errorCode);
  };
  /** Up to 15 bytes of code at linear address `lin` on its page and, when asked, the next; undefined if not readable. */
  const code = (lin: number, pages: number): number[] | undefined => {
    const out: number[] = [];
    for (let p = 0; p < pages && out.length < 15; p++) {
      const h = mmu.translate(lin, 0, mmu.ctxAcc | ACC_FETCH);
      if (h === T_FAULT) {
        mmu.clearFault();
        return undefined;
      }
      if (h === T_MMIO) return undefined;
      const n = Math.min(15 - out.length, 0x1000 - (lin & 0xfff));
      for (let k = 0; k < n; k++) out.push(mmu.u8[h + k]!);
      lin = (lin + n) | 0;
    }
    return out;
  };
  const r: Checked = { instructions: 0, checked: 0, opcodes: new Set(), mismatches: [], reason: '', status: null };
  for (;;) {
    const eip = cpu.eip, big = cpu.codeBig, sel = cpu.segSel[CS]!;
    const lin = (cpu.csBase + eip) | 0;
    // Bytes of the instruction's first page only: reading the next page
    // (setting its accessed bit) is for instructions that cross into it.
    let bytes = cpu.halted ? undefined : code(lin, 1);
    excepted = false;
    const run = m.run({ maxInstructions: 1 });
    if (run.reason !== 'instruction-limit') {
      r.reason = run.reason;
      r.status = run.exitStatus;
      break;
    }
    r.instructions++;
    if (r.instructions >= limit) {
      r.reason = 'limit';
      break;
    }
    if (bytes === undefined || excepted || cpu.executed !== 1 || cpu.instrEip !== eip || cpu.segSel[CS] !== sel || cpu.codeBig !== big) continue;
    const { entry, key } = entryOf(bytes);
    if (entry === undefined || entry.flow !== 'next') continue;
    let len = instructionLength(bytes, 0, big);
    if (len === LENGTH_SHORT) {
      // Crosses into the next page, which the interpreter has fetched from by now.
      bytes = code(lin, 2);
      if (bytes === undefined) continue;
      len = instructionLength(bytes, 0, big);
    }
    const advance = big ? (cpu.eip - eip) >>> 0 : (cpu.eip - eip) & 0xffff;
    r.checked++;
    r.opcodes.add(key);
    if (len !== advance && r.mismatches.length < 20) {
      r.mismatches.push(`${name} at ${(eip >>> 0).toString(16)}: ${bytes.map((b) => b.toString(16).padStart(2, '0')).join(' ')} (${entry.mnemonic}) decoded ${len}, executed ${advance}`);
    }
  }
  return r;
}

describe('the length decoder against the interpreter', () => {
  // Each to its end: 7.8 million instructions in all, 7.6 million of them
  // the semantics kernel's (most of the integer instruction set), about 9 s.
  // multitask (10.5 million, the same compiled code again and again) is left out.
  const guests: [string, number][] = [['paging32', Infinity], ['pae_nx', Infinity], ['exceptions', Infinity], ['semantics', Infinity]];
  const all = new Set<string>();
  let total = 0;
  it.each(guests)('does every instruction of %s that runs to its end advance EIP by the decoded length?', (name, limit) => {
    const r = checkGuest(name, limit);
    expect(r.mismatches).toEqual([]);
    if (limit === Infinity) {
      expect(r.reason).toBe('exit');
      expect(r.status).toBe(1);
    }
    expect(r.checked).toBeGreaterThan(r.instructions / 2);
    for (const k of r.opcodes) all.add(k);
    total += r.checked;
    console.log(`${name}: ${r.instructions} instructions run, ${r.checked} checked, ${r.opcodes.size} distinct opcodes`);
  }, 120_000);
  it('how many were checked?', () => {
    console.log(`all guests: ${total} instructions checked, ${all.size} distinct opcodes: ${[...all].sort().join(' ')}`);
    expect(all.size).toBeGreaterThan(150);
  });
});

/** [bytes, 32-bit code (CS.D), expected length] */
const cases: [string, number[], boolean, number][] = [
  // no operands, no ModR/M
  ['NOP', [0x90], true, 1],
  ['INC eAX', [0x40], false, 1],
  ['CPUID', [0x0f, 0xa2], true, 2],
  ['BSWAP', [0x0f, 0xc8], true, 2],
  ['EMMS (no ModR/M in the MMX range)', [0x0f, 0x77], true, 2],
  // Ib
  ['ADD AL, Ib', [0x04, 0x12], true, 2],
  ['Jcc rel8', [0x74, 0xfe], false, 2],
  ['INT Ib', [0xcd, 0x80], true, 2],
  ['group 1 Ev, Ib (83)', [0x83, 0xc0, 0x01], true, 3],
  ['group 1 Eb, Ib (80) with disp8', [0x80, 0x40, 0x10, 0x01], true, 4],
  ['IMUL Gv, Ev, Ib', [0x6b, 0xc0, 0x05], true, 3],
  ['SHL Ev, Ib', [0xc1, 0xe0, 0x04], true, 3],
  ['SHL Ev, 1 (no immediate)', [0xd1, 0xe0], true, 2],
  ['SHLD Ev, Gv, Ib', [0x0f, 0xa4, 0xc2, 0x03], true, 4],
  ['SHLD Ev, Gv, CL', [0x0f, 0xa5, 0xc2], true, 3],
  ['BT Ev, Ib (group 8)', [0x0f, 0xba, 0xe0, 0x03], true, 4],
  ['PSRLW mm, Ib (MMX shift group)', [0x0f, 0x71, 0xd0, 0x02], true, 4],
  ['PADDB mm, mm (no immediate)', [0x0f, 0xfc, 0xc1], true, 3],
  // Iw
  ['RET Iw', [0xc2, 0x08, 0x00], true, 3],
  ['RET far Iw (16-bit code)', [0xca, 0x04, 0x00], false, 3],
  ['RET (no immediate)', [0xc3], true, 1],
  // Iz
  ['MOV eAX, Iz (32)', [0xb8, 1, 2, 3, 4], true, 5],
  ['MOV AX, Iz (16)', [0xb8, 1, 2], false, 3],
  ['MOV EAX, Iz with 66 in 16-bit code', [0x66, 0xb8, 1, 2, 3, 4], false, 6],
  ['MOV AX, Iz with 66 in 32-bit code', [0x66, 0xb8, 1, 2], true, 4],
  ['group 1 Ev, Iz (81) with 66', [0x66, 0x81, 0xc0, 0x34, 0x12], true, 5],
  ['MOV Ev, Iz (C7) with disp32', [0xc7, 0x05, 0, 0x10, 0, 0, 1, 0, 0, 0], true, 10],
  ['CALL rel32', [0xe8, 0, 0, 0, 0], true, 5],
  ['Jcc rel16 (0F 8x in 16-bit code)', [0x0f, 0x84, 0x10, 0x00], false, 4],
  ['PUSH Iz', [0x68, 1, 2, 3, 4], true, 5],
  // moffs: by the address size, not the operand size
  ['MOV AL, moffs32', [0xa0, 1, 2, 3, 4], true, 5],
  ['MOV AL, moffs16', [0xa0, 1, 2], false, 3],
  ['MOV EAX, moffs16 (66: operand size only)', [0x66, 0xa1, 1, 2], false, 4],
  ['MOV moffs32, eAX with 67 in 16-bit code', [0x67, 0xa3, 1, 2, 3, 4], false, 6],
  ['MOV moffs16, EAX with 67 in 32-bit code', [0x67, 0xa3, 1, 2], true, 4],
  // Ap
  ['JMP ptr16:32', [0xea, 1, 2, 3, 4, 0x08, 0x00], true, 7],
  ['JMP ptr16:16', [0xea, 1, 2, 0x08, 0x00], false, 5],
  ['CALL ptr16:16 with 66 in 32-bit code', [0x66, 0x9a, 1, 2, 0x08, 0x00], true, 6],
  // ENTER Iw, Ib
  ['ENTER Iw, Ib', [0xc8, 0x10, 0x00, 0x01], true, 4],
  ['ENTER Iw, Ib (16-bit code)', [0xc8, 0x10, 0x00, 0x00], false, 4],
  // group 3: an immediate for /0 and /1 only
  ['TEST Eb, Ib (F6 /0)', [0xf6, 0xc0, 0x01], true, 3],
  ['TEST Eb, Ib (F6 /1)', [0xf6, 0xc8, 0x01], true, 3],
  ['NOT Eb (F6 /2)', [0xf6, 0xd0], true, 2],
  ['TEST Ev, Iz (F7 /0)', [0xf7, 0xc0, 1, 2, 3, 4], true, 6],
  ['TEST Ev, Iz (F7 /0, 16-bit)', [0xf7, 0xc0, 1, 2], false, 4],
  ['DIV Ev (F7 /6)', [0xf7, 0xf1], true, 2],
  ['TEST Ev, Iz (F7 /0) with SIB and disp8', [0xf7, 0x44, 0x24, 0x04, 1, 2, 3, 4], true, 8],
  ['IDIV Ev with disp32 (F7 /7)', [0xf7, 0x3d, 1, 2, 3, 4], true, 6],
  // 32-bit addressing: SIB, base 5
  ['MOV r32, [disp32]', [0x8b, 0x05, 1, 2, 3, 4], true, 6],
  ['MOV r32, [EBP+disp8]', [0x8b, 0x45, 0x08], true, 3],
  ['MOV r32, [ESP] (SIB)', [0x8b, 0x04, 0x24], true, 3],
  ['MOV r32, [ESI*4+disp32] (SIB, base 5, mod 00)', [0x8b, 0x04, 0xb5, 1, 2, 3, 4], true, 7],
  ['MOV r32, [EBP+ESI*4+disp8] (SIB, base 5, mod 01)', [0x8b, 0x44, 0xb5, 0x08], true, 4],
  ['MOV r32, [EBP+ESI*4+disp32] (SIB, base 5, mod 10)', [0x8b, 0x84, 0xb5, 1, 2, 3, 4], true, 7],
  ['MOV r32, [EAX+disp32]', [0x8b, 0x80, 1, 2, 3, 4], true, 6],
  ['MOV r32, r32', [0x8b, 0xc1], true, 2],
  ['LEA with SIB disp32 and 66', [0x66, 0x8d, 0x04, 0x8d, 1, 2, 3, 4], true, 8],
  // 16-bit addressing
  ['MOV r16, [disp16]', [0x8b, 0x06, 1, 2], false, 4],
  ['MOV r16, [BP+disp8]', [0x8b, 0x46, 0x02], false, 3],
  ['MOV r16, [BX+SI]', [0x8b, 0x00], false, 2],
  ['MOV r16, [BX+SI+disp16]', [0x8b, 0x80, 1, 2], false, 4],
  ['MOV r16, [SI] (r/m 100: no SIB in 16-bit addressing)', [0x8b, 0x04], false, 2],
  ['67: 16-bit addressing in 32-bit code', [0x67, 0x8b, 0x06, 1, 2], true, 5],
  ['67: 32-bit addressing with SIB in 16-bit code', [0x67, 0x8b, 0x04, 0x25, 1, 2, 3, 4], false, 8],
  ['MOV Eb, Ib (C6) in 16-bit code with disp16', [0xc6, 0x06, 1, 2, 0x55], false, 5],
  ['x87 FLD m64 with disp32', [0xdd, 0x05, 1, 2, 3, 4], true, 6],
  ['x87 FADD st, st(i)', [0xd8, 0xc1], true, 2],
  // prefixes
  ['REP MOVSD', [0xf3, 0xa5], true, 2],
  ['REPNE SCASB', [0xf2, 0xae], true, 2],
  ['LOCK ADD [mem], r', [0xf0, 0x01, 0x03], true, 3],
  ['segment override', [0x26, 0x8b, 0x07], true, 3],
  ['FS override with 66 and 67', [0x64, 0x66, 0x67, 0x8b, 0x07], true, 5],
  ['14 prefixes', [...Array<number>(14).fill(0x3e), 0x90], true, 15],
  ['LOCK CMPXCHG8B [disp32]', [0xf0, 0x0f, 0xc7, 0x0d, 1, 2, 3, 4], true, 8],
];

describe('the length decoder on hand-written instructions', () => {
  it.each(cases)('%s', (_name, bytes, big, length) => {
    expect(instructionLength(bytes, 0, big)).toBe(length);
    // one byte fewer is not enough; the bytes may start anywhere
    expect(instructionLength(bytes.slice(0, -1), 0, big)).toBe(LENGTH_SHORT);
    expect(instructionLength([0xcc, ...bytes, 0xcc], 1, big)).toBe(length);
  });

  it('does it know the SSE forms: ModR/M, and an imm8 after CMPPS, PSHUFD, PINSRW, PEXTRW, SHUFPS?', () => {
    expect(instructionLength([0x0f, 0x10, 0xc0], 0, true)).toBe(3); // MOVUPS xmm0, xmm0
    expect(instructionLength([0xf3, 0x0f, 0x58, 0x43, 0x10], 0, true)).toBe(5); // ADDSS xmm0, [ebx+16]
    expect(instructionLength([0x0f, 0xc2, 0xc1, 0x01], 0, true)).toBe(4); // CMPLTPS xmm0, xmm1
    expect(instructionLength([0x66, 0x0f, 0x70, 0xc1, 0x1b], 0, true)).toBe(5); // PSHUFD xmm0, xmm1, 1Bh
    expect(instructionLength([0x0f, 0x70, 0x04, 0x24, 0x1b], 0, true)).toBe(5); // PSHUFW mm0, [esp], 1Bh
    expect(instructionLength([0x66, 0x0f, 0xc4, 0xc0, 0x07], 0, true)).toBe(5); // PINSRW xmm0, eax, 7
    expect(instructionLength([0x0f, 0xc5, 0xc1, 0x03], 0, true)).toBe(4); // PEXTRW eax, mm1, 3
    expect(instructionLength([0x0f, 0xc6, 0xc1, 0x44], 0, true)).toBe(4); // SHUFPS xmm0, xmm1, 44h
    expect(instructionLength([0x0f, 0xae, 0x55, 0x00], 0, true)).toBe(4); // LDMXCSR [ebp+0]
  });

  it('does it refuse undefined opcodes and 15 prefixes, as the interpreter does?', () => {
    expect(instructionLength([0x0f, 0x0f, 0xc0], 0, true)).toBe(LENGTH_INVALID);
    expect(instructionLength([0x0f, 0x38, 0x00, 0xc0], 0, true)).toBe(LENGTH_INVALID); // SSSE3's three-byte map: not here
    expect(instructionLength([0x0f, 0xff], 0, true)).toBe(LENGTH_INVALID);
    expect(instructionLength([...Array<number>(15).fill(0x3e), 0x90], 0, true)).toBe(LENGTH_INVALID);
  });

  it('is every opcode described with a form, and every immediate kind covered above?', () => {
    const kinds = new Set<string>();
    for (const e of OPCODES) {
      expect(typeof e.modrm).toBe('boolean');
      kinds.add(e.imm);
    }
    expect([...kinds].sort()).toEqual(['Ap', 'Ib', 'Iw', 'IwIb', 'Iz', 'group3b', 'group3z', 'moffs', 'none']);
  });
});
