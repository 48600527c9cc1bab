/**
 * 64-bit mode (`--cpu +lm`): a guest enters IA-32e mode from 32-bit
 * protected mode (long-machine.ts) and runs 64-bit programs. Every program
 * runs under naive, shadow and slat paging and the four engines, which
 * must agree on everything (registers, RIP, flags, memory, the instruction
 * count); the expected values are written by hand from the SDM or computed
 * by a BigInt reference here, never by the implementation.
 */
import { describe, expect, it } from 'vitest';
import type { Machine } from '../../src/machine/machine.js';
import { MODE_NAMES, type ModeName } from '../../src/mmu/modes/mode.js';
import { ENGINES, type Engine } from '../../src/cpu/cpu.js';
import { CODE64, DATA, enterLongMode, HIGH, HIGH_PHYS, IDT64, IDTR64, le64, longMachine, phys64, PML4, regs64, rip, SEL_CODE64, SEL_DATA, STACK64, STUBS64 } from './long-machine.js';
import { CODE, GDT, le32 } from './flat-machine.js';
import { instructionLength64 } from '../../src/cpu/decode-length.js';
import { OPCODES } from '../../src/cpu/execute.js';
import type { OpcodeEntry } from '../../src/cpu/ops/common.js';
import { ACC_FETCH } from '../../src/mmu/index.js';

const HLT = 0xf4;
const M64 = (1n << 64n) - 1n;

interface End {
  regs: bigint[];
  rip: bigint;
  /** the vector whose stub halted the CPU, or -1 */
  vector: number;
  flags: number;
  instructions: number;
  cr2: bigint;
  /** the 64-bit words at DATA .. DATA + 8 * words */
  data: bigint[];
  /** the six 64-bit words from RSP up (an exception frame) */
  stack: bigint[];
  reason: string;
}

function run(mode: ModeName, engine: Engine, code: number[], setup?: (m: Machine) => void, words = 0, measure = false, cpu = '+lm'): End {
  const m = longMachine({ mode, engine, measure, cpu });
  m.mmu.writePhysBytes(CODE64, new Uint8Array(code));
  setup?.(m);
  const r = m.run({ maxInstructions: 200_000 });
  const c = m.cpu;
  const rsp = c.reg32[4]! >>> 0;
  const at = (BigInt(c.regHi[4]! >>> 0) << 32n) | BigInt(rsp);
  const stack = at < 16n << 20n ? [0, 1, 2, 3, 4, 5].map((k) => phys64(m, rsp + 8 * k)) : [];
  const pc = Number(rip(m));
  return {
    regs: regs64(m),
    rip: rip(m),
    vector: pc > STUBS64 && pc <= STUBS64 + 16 * 32 ? c.reg8[0]! : -1,
    flags: c.getFlags(),
    instructions: r.instructions,
    cr2: (BigInt(c.cr2Hi >>> 0) << 32n) | BigInt(c.cr2 >>> 0),
    data: Array.from({ length: words }, (_, k) => phys64(m, DATA + 8 * k)),
    stack,
    reason: r.reason,
  };
}

/** The program under every translation mode and engine (and once with the cost model on): all must agree; returns one of them. Checks the length decoder on the way (lengthsAgree). */
function everywhere(code: number[], setup?: (m: Machine) => void, words = 0, cpu = '+lm'): End {
  const ends: End[] = [];
  for (const mode of MODE_NAMES) for (const engine of ENGINES) ends.push(run(mode, engine, code, setup, words, false, cpu));
  ends.push(run('shadow', 'jit', code, setup, words, true, cpu)); // and with the MMU observing every access (runObserved, then runLong)
  for (const e of ends) expect(e).toEqual(ends[0]);
  expect(ends[0]!.reason).toBe('halted');
  expect(lengthsAgree(code, setup, cpu)).toEqual([]);
  return ends[0]!;
}

/** The opcodes (map and byte) whose 64-bit lengths lengthsAgree compared, over the whole file. */
const LENGTHS_CHECKED = new Set<string>();

/** The opcode entry of an instruction's bytes in 64-bit mode (after the legacy prefixes and REX), with its key. */
function entryOf64(bytes: number[]): { entry: OpcodeEntry | undefined; key: string } {
  let i = 0;
  while ([0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3].includes(bytes[i]!) || (bytes[i]! & 0xf0) === 0x40) i++;
  const two = bytes[i] === 0x0f;
  const op = two ? bytes[i + 1]! : bytes[i]!;
  return { entry: OPCODES.find((e) => e.map === (two ? 'two' : 'one') && e.opcodes.includes(op)), key: `${two ? '0f ' : ''}${op.toString(16)}` };
}

/**
 * Runs the program one instruction at a time (shadow, interpreter) and
 * compares, for every 64-bit instruction that falls through (OpcodeEntry
 * flow 'next', no exception, not a REP iteration going back to itself),
 * instructionLength64 of its bytes with the RIP it advanced by. Returns
 * the mismatches.
 */
function lengthsAgree(code: number[], setup?: (m: Machine) => void, cpu = '+lm'): string[] {
  const m = longMachine({ mode: 'shadow', engine: 'interp', cpu });
  m.mmu.writePhysBytes(CODE64, new Uint8Array(code));
  setup?.(m);
  const c = m.cpu, mmu = m.mmu;
  let excepted = false;
  const exception = c.exception.bind(c);
  c.exception = (vector: number, hasError: boolean, errorCode: number): void => { excepted = true; exception(vector, hasError, errorCode); };
  const out: string[] = [];
  const pair = (lo: number, hi: number): bigint => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
  for (let k = 0; k < 200_000; k++) {
    const was64 = c.long64 && !c.halted, at = pair(c.eip, c.ripHi);
    const bytes: number[] = [];
    if (was64) {
      for (let b = 0; b < 15; b++) {
        const lin = at + BigInt(b);
        const h = mmu.translate(Number(lin & 0xffffffffn) | 0, Number(lin >> 32n) | 0, mmu.ctxAcc | ACC_FETCH);
        if (h < 0) { mmu.clearFault(); break; }
        bytes.push(mmu.u8[h]!);
      }
    }
    excepted = false;
    if (m.run({ maxInstructions: 1 }).reason !== 'instruction-limit') break;
    if (!was64 || excepted || !c.long64 || bytes.length === 0) continue;
    const { entry, key } = entryOf64(bytes);
    const advance = pair(c.eip, c.ripHi) - at;
    if (entry === undefined || entry.flow !== 'next' || advance === 0n) continue;
    const len = instructionLength64(bytes, 0);
    LENGTHS_CHECKED.add(key);
    if (BigInt(len) !== advance) out.push(`${bytes.map((b) => b.toString(16).padStart(2, '0')).join(' ')} (${entry.mnemonic}): decoded ${len}, executed ${advance}`);
  }
  return out;
}

// ---- a few encodings (REX.W = 0x48) ----
const movImm64 = (r: number, v: bigint): number[] => [0x48 | (r >> 3), 0xb8 + (r & 7), ...le64(v)];
const u64 = (v: bigint): bigint => BigInt.asUintN(64, v);
const s64 = (v: bigint): bigint => BigInt.asIntN(64, v);

describe('entering 64-bit mode', () => {
  it('does the guest reach 64-bit code with EFER.LMA set, and run a loop there with the same count in every engine?', () => {
    // xor eax, eax; mov ecx, 1000; L: add rax, rcx (48 01 c8); dec ecx (ff c9); jnz L (75 f9); hlt
    const e = everywhere([0x31, 0xc0, 0xb9, ...le32(1000), 0x48, 0x01, 0xc8, 0xff, 0xc9, 0x75, 0xf9, HLT]);
    expect(e.regs[0]).toBe(500500n);
    expect(e.rip).toBe(BigInt(CODE64 + 15));
    // 1 + 10,000 (the hot 32-bit loop), 14 entry instructions, 2 + 3,000 + 1 in 64-bit mode
    expect(e.instructions).toBe(1 + 2 * 5000 + 14 + 2 + 3 * 1000 + 1);
  });
});

describe('64-bit arithmetic and flags against a BigInt reference', () => {
  const CF = 1, PF = 4, AF = 0x10, ZF = 0x40, SF = 0x80, OF = 0x800;
  const zsp = (r: bigint): number => (r === 0n ? ZF : 0) | (r >> 63n ? SF : 0) | (((Number(r & 0xffn).toString(2).split('1').length - 1) & 1) === 0 ? PF : 0);
  const sign = (v: bigint): bigint => (v >> 63n) & 1n;
  type Ref = { rax: bigint; flags: number; mask: number; rdx?: bigint };
  interface Op { name: string; bytes: number[]; cin?: number; ref: (a: bigint, b: bigint) => Ref | null }
  const addLike = (a: bigint, b: bigint, cin: bigint): Ref => {
    const full = a + b + cin, r = full & M64;
    return { rax: r, flags: (full > M64 ? CF : 0) | (Number((a ^ b ^ r) & 0x10n) ? AF : 0) | zsp(r) | (sign(a) === sign(b) && sign(r) !== sign(a) ? OF : 0), mask: CF | PF | AF | ZF | SF | OF };
  };
  const subLike = (a: bigint, b: bigint, cin: bigint): Ref => {
    const r = (a - b - cin) & M64;
    return { rax: r, flags: (a < b + cin ? CF : 0) | (Number((a ^ b ^ r) & 0x10n) ? AF : 0) | zsp(r) | (sign(a) !== sign(b) && sign(r) !== sign(a) ? OF : 0), mask: CF | PF | AF | ZF | SF | OF };
  };
  const logic = (r: bigint): Ref => ({ rax: r, flags: zsp(r), mask: CF | PF | ZF | SF | OF }); // AF undefined
  const ops: Op[] = [
    { name: 'add', bytes: [0x48, 0x01, 0xd8], ref: (a, b) => addLike(a, b, 0n) },
    { name: 'adc', bytes: [0xf9, 0x48, 0x11, 0xd8], ref: (a, b) => addLike(a, b, 1n) },
    { name: 'sub', bytes: [0x48, 0x29, 0xd8], ref: (a, b) => subLike(a, b, 0n) },
    { name: 'sbb', bytes: [0xf9, 0x48, 0x19, 0xd8], ref: (a, b) => subLike(a, b, 1n) },
    { name: 'cmp', bytes: [0x48, 0x39, 0xd8], ref: (a, b) => ({ ...subLike(a, b, 0n), rax: a }) },
    { name: 'and', bytes: [0x48, 0x21, 0xd8], ref: (a, b) => logic(a & b) },
    { name: 'or', bytes: [0x48, 0x09, 0xd8], ref: (a, b) => logic(a | b) },
    { name: 'xor', bytes: [0x48, 0x31, 0xd8], ref: (a, b) => logic(a ^ b) },
    { name: 'neg', bytes: [0x48, 0xf7, 0xd8], ref: (a) => { const r = (0n - a) & M64; return { rax: r, flags: (a !== 0n ? CF : 0) | (Number((a ^ r) & 0x10n) ? AF : 0) | zsp(r) | (a === 1n << 63n ? OF : 0), mask: CF | PF | AF | ZF | SF | OF }; } },
    { name: 'inc', bytes: [0xf8, 0x48, 0xff, 0xc0], ref: (a) => { const r = (a + 1n) & M64; return { rax: r, flags: (Number((a ^ 1n ^ r) & 0x10n) ? AF : 0) | zsp(r) | (r === 1n << 63n ? OF : 0), mask: CF | PF | AF | ZF | SF | OF }; } },
    { name: 'dec', bytes: [0xf9, 0x48, 0xff, 0xc8], ref: (a) => { const r = (a - 1n) & M64; return { rax: r, flags: CF | (Number((a ^ 1n ^ r) & 0x10n) ? AF : 0) | zsp(r) | (a === 1n << 63n ? OF : 0), mask: CF | PF | AF | ZF | SF | OF }; } },
    { name: 'imul r, r/m', bytes: [0x48, 0x0f, 0xaf, 0xc3], ref: (a, b) => { const p = s64(a) * s64(b); return { rax: u64(p), flags: p !== s64(u64(p)) ? CF | OF : 0, mask: CF | OF }; } },
    { name: 'imul r, r/m, imm8', bytes: [0x48, 0x6b, 0xc3, 0xfd], ref: (_a, b) => { const p = s64(b) * -3n; return { rax: u64(p), flags: p !== s64(u64(p)) ? CF | OF : 0, mask: CF | OF }; } },
    { name: 'mul', bytes: [0x48, 0xf7, 0xe3], ref: (a, b) => { const p = a * b; return { rax: p & M64, rdx: p >> 64n, flags: p >> 64n ? CF | OF : 0, mask: CF | OF }; } },
    { name: 'imul (one operand)', bytes: [0x48, 0xf7, 0xeb], ref: (a, b) => { const p = s64(a) * s64(b); return { rax: u64(p), rdx: u64(p >> 64n), flags: p !== s64(u64(p)) ? CF | OF : 0, mask: CF | OF }; } },
    { name: 'div', bytes: [0x31, 0xd2, 0x48, 0xf7, 0xf3], ref: (a, b) => (b === 0n ? null : { rax: a / b, rdx: a % b, flags: 0, mask: 0 }) },
    { name: 'idiv', bytes: [0x48, 0x99, 0x48, 0xf7, 0xfb], ref: (a, b) => { const x = s64(a), y = s64(b); if (y === 0n || (x === -(1n << 63n) && y === -1n)) return null; return { rax: u64(x / y), rdx: u64(x % y), flags: 0, mask: 0 }; } },
    { name: 'shl cl', bytes: [0x48, 0x89, 0xd9, 0x48, 0xd3, 0xe0], ref: (a, b) => { const n = b & 63n; if (n === 0n) return null; const r = (a << n) & M64; const cf = (a >> (64n - n)) & 1n; return { rax: r, flags: (cf ? CF : 0) | zsp(r) | (n === 1n && (sign(r) ^ cf) ? OF : 0), mask: CF | PF | ZF | SF | (n === 1n ? OF : 0) }; } },
    { name: 'shr cl', bytes: [0x48, 0x89, 0xd9, 0x48, 0xd3, 0xe8], ref: (a, b) => { const n = b & 63n; if (n === 0n) return null; const r = a >> n; const cf = (a >> (n - 1n)) & 1n; return { rax: r, flags: (cf ? CF : 0) | zsp(r) | (n === 1n && sign(a) ? OF : 0), mask: CF | PF | ZF | SF | (n === 1n ? OF : 0) }; } },
    { name: 'sar cl', bytes: [0x48, 0x89, 0xd9, 0x48, 0xd3, 0xf8], ref: (a, b) => { const n = b & 63n; if (n === 0n) return null; const r = u64(s64(a) >> n); const cf = (s64(a) >> (n - 1n)) & 1n; return { rax: r, flags: (cf ? CF : 0) | zsp(r), mask: CF | PF | ZF | SF | (n === 1n ? OF : 0) }; } },
    { name: 'rol cl', bytes: [0x48, 0x89, 0xd9, 0x48, 0xd3, 0xc0], ref: (a, b) => { const n = b & 63n; if (n === 0n) return null; const r = ((a << n) | (a >> (64n - n))) & M64; return { rax: r, flags: (r & 1n ? CF : 0) | (n === 1n && (sign(r) ^ (r & 1n)) ? OF : 0), mask: CF | (n === 1n ? OF : 0) }; } },
    { name: 'ror cl', bytes: [0x48, 0x89, 0xd9, 0x48, 0xd3, 0xc8], ref: (a, b) => { const n = b & 63n; if (n === 0n) return null; const r = ((a >> n) | (a << (64n - n))) & M64; return { rax: r, flags: (sign(r) ? CF : 0) | (n === 1n && (sign(r) ^ ((r >> 62n) & 1n)) ? OF : 0), mask: CF | (n === 1n ? OF : 0) }; } },
  ];
  const edges = [0n, 1n, 2n, 0x7fffffffffffffffn, 0x8000000000000000n, M64, 0xffffffffn, 0x100000000n, 0x80000000n, 0x0fn, 0x3fn, 0x41n];
  let seed = 12345;
  const rnd = (): bigint => {
    let v = 0n;
    for (let k = 0; k < 4; k++) { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; v = (v << 16n) | BigInt(seed >>> 16); }
    return v;
  };
  const pairs: [bigint, bigint][] = [];
  for (let i = 0; i < edges.length; i++) pairs.push([edges[i]!, edges[(i * 5 + 3) % edges.length]!]);
  for (let i = 0; i < 6; i++) pairs.push([rnd(), rnd()]);
  pairs.push([rnd(), 1n], [0x8000000000000001n, 1n], [rnd(), 63n], [0x123456789n, 32n]);

  it.each(ops.map((o) => [o.name, o]))('%s', (_name, op) => {
    const cases = pairs.map(([a, b]) => ({ a, b, ref: op.ref(a, b) })).filter((x) => x.ref !== null);
    const code: number[] = [...movImm64(7, BigInt(DATA))];
    cases.forEach((x, i) => {
      code.push(...movImm64(0, x.a), ...movImm64(3, x.b), 0x31, 0xd2, ...op.bytes);
      code.push(0x9c, 0x59); // pushfq; pop rcx
      code.push(0x48, 0x89, 0x87, ...le32(24 * i), 0x48, 0x89, 0x8f, ...le32(24 * i + 8), 0x48, 0x89, 0x97, ...le32(24 * i + 16));
    });
    code.push(HLT);
    const e = everywhere(code, undefined, 3 * cases.length);
    cases.forEach((x, i) => {
      const ref = x.ref!;
      const got = { rax: e.data[3 * i]!, flags: Number(e.data[3 * i + 1]!) & ref.mask, rdx: e.data[3 * i + 2]! };
      expect({ a: x.a, b: x.b, ...got }).toEqual({ a: x.a, b: x.b, rax: ref.rax, flags: ref.flags & ref.mask, rdx: ref.rdx ?? 0n });
    });
  });
});

describe('registers', () => {
  it('do REX.R and REX.B reach R8-R15, and do the byte registers SPL, BPL, SIL, DIL need a REX while AH-BH need none?', () => {
    const code = [
      ...movImm64(8, 0x1111111111111111n), // mov r8, imm64
      ...movImm64(15, 0xf0f0f0f0f0f0f0f0n), // mov r15, imm64
      0x4d, 0x89, 0xc1, // mov r9, r8 (REX.W REX.R REX.B)
      0x4d, 0x01, 0xf9, // add r9, r15
      ...movImm64(6, 0x0123456789abcdefn), // mov rsi, imm64
      ...movImm64(2, 0x1122334455667788n), // mov rdx, imm64
      0x31, 0xc0, // xor eax, eax
      0x40, 0x88, 0xf0, // mov al, sil (REX: r/m 6 is SIL)
      0x88, 0xf4, // mov ah, dh (no REX: reg 6 is DH)
      0x31, 0xdb, // xor ebx, ebx
      0x41, 0x88, 0xc3, // mov r11b, al
      0x44, 0x88, 0xe7, // mov dil, r12b (REX.R: r12b -> rdi's low byte; r12 is 0)
      0x41, 0xb4, 0x7f, // mov r12b, 0x7f (B0+4 with REX.B)
      0x49, 0x87, 0xc6, // xchg r14, rax
      HLT,
    ];
    const e = everywhere(code, (m) => { m.cpu.reg32[7] = 0x55aa55aa; m.cpu.regHi[7] = 0x12345678; });
    expect(e.regs[8]).toBe(0x1111111111111111n);
    expect(e.regs[9]).toBe(0x0202020202020201n);
    expect(e.regs[14]).toBe(0x77efn); // AL = SIL (0xef), AH = DH (0x77)
    expect(e.regs[0]).toBe(0n);
    expect(e.regs[11]).toBe(0xefn);
    expect(e.regs[7]).toBe(0x1234567855aa5500n); // only DIL written
    expect(e.regs[12]).toBe(0x7fn);
  });

  it('does a 32-bit write zero the high half while 8- and 16-bit writes keep it (SDM vol. 1, 3.4.1.1)?', () => {
    const code = [
      ...movImm64(0, -1n), ...movImm64(1, -1n), ...movImm64(2, -1n), ...movImm64(3, -1n), ...movImm64(9, -1n), ...movImm64(10, -1n),
      0xb8, ...le32(5), // mov eax, 5
      0x66, 0xb9, 0x34, 0x12, // mov cx, 0x1234
      0xb2, 0x07, // mov dl, 7
      0x83, 0xc3, 0x00, // add ebx, 0
      0x45, 0x89, 0xc9, // mov r9d, r9d
      0x41, 0x0f, 0x44, 0xd2, // cmovz edx?  no: cmove edx, r10d (ZF from add ebx, 0 is 0: not moved, high half still zeroed)
      HLT,
    ];
    const e = everywhere(code);
    expect(e.regs[0]).toBe(5n);
    expect(e.regs[1]).toBe(0xffffffffffff1234n);
    expect(e.regs[3]).toBe(0xffffffffn);
    expect(e.regs[9]).toBe(0xffffffffn);
    expect(e.regs[2]).toBe(0xffffff07n); // CMOVcc with a 32-bit operand writes the destination even when the condition is false
  });

  it('MOVSXD, CDQE, CQO, MOVZX and MOVSX to 64 bits', () => {
    const code = [
      0xbb, ...le32(0x80000001), // mov ebx, 0x80000001
      0x48, 0x63, 0xcb, // movsxd rcx, ebx
      0x63, 0xd3, // movsxd edx, ebx (no REX.W: a 32-bit move)
      0x89, 0xd8, // mov eax, ebx
      0x48, 0x98, // cdqe
      0x49, 0x89, 0xc0, // mov r8, rax
      0x48, 0x99, // cqo
      0x48, 0x0f, 0xbe, 0xf3, // movsx rsi, bl
      0x48, 0x0f, 0xb7, 0xfb, // movzx rdi, bx
      HLT,
    ];
    const e = everywhere(code);
    expect(e.regs[1]).toBe(0xffffffff80000001n);
    expect(e.regs[2]).toBe(0xffffffffffffffffn); // CQO
    expect(e.regs[8]).toBe(0xffffffff80000001n);
    expect(e.regs[6]).toBe(1n);
    expect(e.regs[7]).toBe(1n);
  });
});

describe('addressing', () => {
  it('is a RIP-relative operand relative to the next instruction, immediate included?', () => {
    // data at CODE64 + 0x80
    const code = [
      0x48, 0x8b, 0x05, ...le32(0x80 - 7), // mov rax, [rip + 0x79]   (7 bytes: next RIP = CODE64 + 7)
      0x48, 0x81, 0x05, ...le32(0x80 - 18), ...le32(0x10), // add qword [rip + d], 0x10 (11 bytes, ends at 18)
      0x48, 0x8b, 0x1d, ...le32(0x80 - 25), // mov rbx, [rip + d] (ends at 25)
      0x48, 0x8d, 0x0d, ...le32(-25 >>> 0), // lea rcx, [rip - 25] (ends at 32): RIP after = CODE64 + 32 -> CODE64 + 7
      0x67, 0x8b, 0x14, 0x25, ...le32(DATA), // mov edx, [DATA] with 67: 32-bit address, SIB no base
      HLT,
    ];
    while (code.length < 0x80) code.push(0x90);
    code.push(...le64(0x1122334455667788n));
    const e = everywhere(code, (m) => { m.mmu.writePhys(DATA, 4, 0xabcdef01); });
    expect(e.regs[0]).toBe(0x1122334455667788n);
    expect(e.regs[3]).toBe(0x1122334455667798n);
    expect(e.regs[1]).toBe(BigInt(CODE64 + 7));
    expect(e.regs[2]).toBe(0xabcdef01n);
  });

  it('do SIB forms with REX.X and REX.B index and base with R8-R15, and an 8-byte moffs, address 64-bit sums?', () => {
    const code = [
      ...movImm64(13, BigInt(DATA) - 0x100n), // r13 = DATA - 0x100
      ...movImm64(10, 0x20n), // r10 = 0x20
      0x4b, 0x8b, 0x44, 0xd5, 0x00, // mov rax, [r13 + r10 * 8 + 0] (REX.W X B; modrm 01 000 100; SIB 11 010 101; disp8 0)
      0x48, 0xa1, ...le64(BigInt(DATA + 8)), // mov rax? no: mov rax, [moffs64]
      HLT,
    ];
    // a second load into rbx: first one to rax is overwritten; use rbx for the first
    code[20] = 0x4b; code[21] = 0x8b; code[22] = 0x5c; // mov rbx, [...]
    const e = everywhere(code, (m) => { m.mmu.writePhys(DATA, 4, 0x12345678); m.mmu.writePhys(DATA + 4, 4, 0x9abcdef0); m.mmu.writePhys(DATA + 8, 4, 7); m.mmu.writePhys(DATA + 12, 4, 8); });
    expect(e.regs[3]).toBe(0x9abcdef012345678n);
    expect(e.regs[0]).toBe(0x0000000800000007n);
  });

  it('does a page mapped above 4 GiB linear read and write through 4-level paging?', () => {
    const code = [
      ...movImm64(3, HIGH + 0x10n), // rbx = 4 GiB + 0x10
      ...movImm64(0, 0x0102030405060708n),
      0x48, 0x89, 0x03, // mov [rbx], rax
      0x48, 0x8b, 0x4b, 0xf8, // mov rcx, [rbx - 8]
      HLT,
    ];
    const e = everywhere(code, (m) => { m.mmu.writePhys(HIGH_PHYS + 8, 4, 0x55); });
    expect(e.regs[1]).toBe(0x55n);
    // the physical page behind it (checked in one machine)
    const m = longMachine({ mode: 'shadow', engine: 'interp' });
    m.mmu.writePhysBytes(CODE64, new Uint8Array(code));
    m.run({ maxInstructions: 100_000 });
    expect(phys64(m, HIGH_PHYS + 0x10)).toBe(0x0102030405060708n);
  });
});

describe('the stack and branches', () => {
  it('do PUSH, POP, CALL, RET, LEAVE and PUSH imm use 8-byte slots of RSP?', () => {
    const code = [
      ...movImm64(15, 0x8877665544332211n),
      0x41, 0x57, // push r15
      0x6a, 0xfe, // push -2 (sign-extended to 64 bits)
      0x68, ...le32(0x80000000), // push 0x80000000 -> 0xffffffff80000000
      0x58, // pop rax
      0x5b, // pop rbx
      0x41, 0x5c, // pop r12
      0xe8, ...le32(6), // call +6 (to F)
      0x48, 0x89, 0xe5, // mov rbp, rsp (after return)
      HLT,
      0x90, 0x90, 0x90, 0x90, 0x90, // pad: F is at 0x2e
    ];
    // F: push rbp; mov rbp, rsp; push 5; mov rsi, [rsp + 16] (the return address); leave; ret
    const f = [0x55, 0x48, 0x89, 0xe5, 0x6a, 0x05, 0x48, 0x8b, 0x74, 0x24, 0x10, 0xc9, 0xc3];
    const at = code.indexOf(0xe8) + 5 + 6;
    while (code.length < at) code.push(0x90);
    code.splice(at, code.length - at, ...f);
    const e = everywhere(code, (m) => { m.cpu.reg32[5] = 0x1234; });
    expect(e.regs[0]).toBe(0xffffffff80000000n);
    expect(e.regs[3]).toBe(0xfffffffffffffffen);
    expect(e.regs[12]).toBe(0x8877665544332211n);
    expect(e.regs[6]).toBe(BigInt(CODE64 + code.indexOf(0xe8) + 5)); // the pushed return RIP
    expect(e.regs[4]).toBe(BigInt(STACK64)); // RSP back where it was
    expect(e.regs[5]).toBe(BigInt(STACK64)); // mov rbp, rsp after the return
  });

  it('do Jcc rel32 and JMP through a register reach their 64-bit targets?', () => {
    const code = [
      0x31, 0xc0, // xor eax, eax
      0x48, 0x8d, 0x1d, ...le32(6), // lea rbx, [rip + 6] -> T (at 15)
      0xff, 0xe3, // jmp rbx (at 9, ends at 11)
      0xb0, 0x01, HLT, HLT, // not reached (11..14)
      0xb0, 0x02, // T (15): mov al, 2
      0x48, 0x83, 0xf8, 0x02, // cmp rax, 2
      0x0f, 0x84, ...le32(1), // je +1
      HLT, // skipped
      0x04, 0x10, // add al, 0x10
      HLT,
    ];
    const e = everywhere(code);
    expect(e.regs[0]).toBe(0x12n);
    expect(e.rip).toBe(BigInt(CODE64 + code.length));
  });

  it('do REP STOSQ and REP MOVSB run over 64-bit RDI/RSI/RCX?', () => {
    const code = [
      ...movImm64(7, BigInt(DATA)), ...movImm64(0, 0x0123456789abcdefn), ...movImm64(1, 3n),
      0xf3, 0x48, 0xab, // rep stosq
      ...movImm64(6, BigInt(DATA)), ...movImm64(7, BigInt(DATA + 24)), ...movImm64(1, 8n),
      0xf3, 0xa4, // rep movsb
      HLT,
    ];
    const e = everywhere(code, undefined, 5);
    expect(e.data).toEqual([0x0123456789abcdefn, 0x0123456789abcdefn, 0x0123456789abcdefn, 0x0123456789abcdefn, 0n]);
    expect(e.regs[1]).toBe(0n);
    expect(e.regs[7]).toBe(BigInt(DATA + 32));
  });

  it('does REP MOVSQ with DF = 1 copy downward, RSI and RDI stepping back, after an ALU result left the flags lazy?', () => {
    const code = [
      ...movImm64(6, BigInt(DATA + 8)), ...movImm64(7, BigInt(DATA + 24)), ...movImm64(1, 2n),
      0x01, 0xc0, // add eax, eax (lazy arithmetic flags)
      0xfd, 0xf3, 0x48, 0xa5, 0xfc, // std; rep movsq; cld
      HLT,
    ];
    const e = everywhere(code, (m) => { m.mmu.writePhys(DATA, 4, 1); m.mmu.writePhys(DATA + 8, 4, 2); }, 5);
    expect(e.data).toEqual([1n, 2n, 1n, 2n, 0n]);
    expect([e.regs[1], e.regs[6], e.regs[7]]).toEqual([0n, BigInt(DATA - 8), BigInt(DATA + 8)]);
  });
});

describe('code above 4 GiB', () => {
  it('does code run from a page at linear 4 GiB (RIP with a high half), with RIP-relative LEA and CALL there?', () => {
    const high = [0x48, 0x8d, 0x1d, 0, 0, 0, 0, 0xe8, 0, 0, 0, 0, 0x58, HLT]; // lea rbx, [rip]; call $+5; pop rax; hlt
    const e = everywhere([...movImm64(0, HIGH + 0x20n), 0xff, 0xe0], (m) => { m.mmu.writePhysBytes(HIGH_PHYS + 0x20, new Uint8Array(high)); });
    expect(e.regs[3]).toBe(HIGH + 0x27n);
    expect(e.regs[0]).toBe(HIGH + 0x2cn);
    expect(e.rip).toBe(HIGH + 0x2en);
  });

  it('is running off the end of that page into a not-present one a #PF on the fetch, with CR2 and the frame RIP at 4 GiB + 4 KiB?', () => {
    const e = everywhere([...movImm64(0, HIGH + 0xffen), 0xff, 0xe0], (m) => { m.mmu.writePhysBytes(HIGH_PHYS + 0xffe, new Uint8Array([0x90, 0x90])); });
    expect(e.vector).toBe(14);
    expect(e.cr2).toBe(HIGH + 0x1000n);
    expect(e.stack[1]).toBe(HIGH + 0x1000n);
    expect(e.stack[0]! & 1n).toBe(0n); // not present
  });
});

describe('external interrupts in 64-bit mode', () => {
  it('do timer interrupts (8259 IRQ 0 at vector 0x20) wake HLT and return with IRETQ, identically in every engine?', () => {
    const out = (port: number, v: number): number[] => [0xb0, v, 0xe6, port]; // mov al, v; out port, al
    const code = [
      ...out(0x20, 0x11), ...out(0x21, 0x20), ...out(0x21, 0x04), ...out(0x21, 0x01), ...out(0x21, 0xfe), // the master 8259: vectors 0x20.., only IRQ 0
      ...out(0x43, 0x34), ...out(0x40, 100), ...out(0x40, 0), // PIT channel 0, rate generator, count 100
      0x45, 0x31, 0xe4, // xor r12d, r12d
      0xfb, // sti
      0xf4, 0x49, 0x83, 0xfc, 0x03, 0x72, 0xf8, // L: hlt; cmp r12, 3; jb L
      0xfa, HLT, // cli; hlt
    ];
    const handler = [0x49, 0xff, 0xc4, 0xb0, 0x20, 0xe6, 0x20, 0x48, 0xcf]; // inc r12; mov al, 0x20; out 0x20, al (EOI); iretq
    const e = everywhere(code, (m) => {
      const at = STUBS64 + 16 * 32;
      m.mmu.writePhysBytes(at, new Uint8Array(handler));
      m.mmu.writePhys(IDT64 + 16 * 0x20, 4, (SEL_CODE64 << 16) | (at & 0xffff));
      m.mmu.writePhys(IDT64 + 16 * 0x20 + 4, 4, (at & 0xffff0000) | 0x8e00);
      m.mmu.writePhys(IDTR64, 2, 0x21 * 16 - 1);
    });
    expect(e.regs[12]).toBe(3n);
    expect(e.rip).toBe(BigInt(CODE64 + code.length));
    expect(e.regs[4]).toBe(BigInt(STACK64));
  });
});

describe('exceptions in 64-bit mode', () => {
  it('is a #PF above 4 GiB delivered through the 64-bit gate with the 64-bit frame, the error code and a 64-bit CR2?', () => {
    const code = [
      ...movImm64(3, HIGH + 0x1008n), // the page after the mapped one: not present
      0x48, 0x89, 0x0b, // mov [rbx], rcx (at 10)
      HLT,
    ];
    const e = everywhere(code, (m) => { m.cpu.reg32[4] = STACK64 - 8; }); // RSP not 16-aligned: the frame goes to an aligned RSP
    expect(e.vector).toBe(14);
    expect(e.cr2).toBe(HIGH + 0x1008n);
    // error code (write, not present, supervisor), RIP, CS, RFLAGS, RSP, SS
    expect(e.stack[0]).toBe(2n);
    expect(e.stack[1]).toBe(BigInt(CODE64 + 10));
    expect(e.stack[2]).toBe(BigInt(SEL_CODE64));
    expect(e.stack[3]! & 0x2n).toBe(2n);
    expect(e.stack[4]).toBe(BigInt(STACK64 - 8));
    expect(e.stack[5]).toBe(BigInt(SEL_DATA));
    expect(e.regs[4]).toBe(BigInt(STACK64 - 16 - 48));
  });

  it('does a read-modify-write of a not-present page fault as a write (error code W/R = 1), and a plain read as a read?', () => {
    for (const [insn, code] of [[[0x48, 0x01, 0x03], 2n], [[0x48, 0xff, 0x03], 2n], [[0x48, 0x87, 0x03], 2n], [[0x48, 0x0f, 0xc1, 0x03], 2n], [[0x48, 0x3b, 0x03], 0n]] as const) {
      const e = everywhere([...movImm64(3, HIGH + 0x1010n), ...insn, HLT]); // add/inc/xchg/xadd [rbx], rax; cmp rax, [rbx]
      expect([e.vector, e.stack[0]]).toEqual([14, code]);
    }
  });

  it('under shadow, does a read-modify-write of a page-table entry take the exits a MOV to it takes (one per instruction), in every engine?', () => {
    // the unused entry 100 of the page directory (shadowed from the start, never out of sync), through the identity map
    const pde = BigInt(PML4 + 0x2000 + 8 * 100);
    const exits = (insn: number[]): Record<string, number> => {
      const got: Record<string, number>[] = [];
      for (const engine of ENGINES) {
        const m = longMachine({ mode: 'shadow', engine });
        m.mmu.writePhysBytes(CODE64, new Uint8Array([...movImm64(3, pde), ...insn, HLT]));
        expect(m.run({ maxInstructions: 200_000 }).reason).toBe('halted');
        const c = m.mmu.countersByName();
        got.push({ pt_write: c['exit.pt_write']!, emulated: c['shadow.emulated_write']!, exits: c['exit.total']! });
      }
      for (const g of got) expect(g).toEqual(got[0]);
      return got[0]!;
    };
    const mov = exits([0x89, 0x03]); // mov [rbx], eax
    expect(mov.pt_write).toBeGreaterThan(0);
    // one exit and one emulated write per instruction: add, inc, xchg, xadd, lock or, of a dword as the MOV, and of a
    // qword (one 8-byte write within a page: Mmu.writeAcc64), CMPXCHG8B too
    for (const insn of [[0x01, 0x03], [0xff, 0x03], [0x87, 0x03], [0x0f, 0xc1, 0x03], [0xf0, 0x09, 0x03],
      [0x48, 0x01, 0x03], [0x48, 0xff, 0x03], [0x48, 0x87, 0x03], [0x48, 0x0f, 0xc1, 0x03], [0xf0, 0x48, 0x09, 0x03],
      [0x0f, 0xc7, 0x0b]]) {
      expect(exits(insn), insn.map((x) => x.toString(16)).join(' ')).toEqual(mov);
    }
    // a plain qword store is one 8-byte write (Mmu.write64): one exit and one emulated write, as a dword's
    expect(exits([0x48, 0x89, 0x03])).toEqual(mov);
  });

  it('is a non-canonical address #GP(0), and #SS(0) through RSP or RBP?', () => {
    const gp = everywhere([...movImm64(3, 0x0000800000000000n), 0x48, 0x8b, 0x03, HLT]);
    expect(gp.vector).toBe(13);
    expect(gp.stack[0]).toBe(0n);
    expect(gp.stack[1]).toBe(BigInt(CODE64 + 10));
    const ss = everywhere([...movImm64(5, 0xffff7fff00000000n), 0x48, 0x8b, 0x45, 0x00, HLT]); // mov rax, [rbp]
    expect(ss.vector).toBe(12);
    expect(ss.stack[0]).toBe(0n);
  });

  it('do the opcodes 64-bit mode removes raise #UD, and does IRETQ return past them from the handler?', () => {
    // the #UD handler: add qword [rsp], 1 (skip the one-byte opcode); iretq
    const handler = [0x48, 0x83, 0x04, 0x24, 0x01, 0x48, 0xcf];
    const removed = [0x06, 0x07, 0x0e, 0x16, 0x17, 0x1e, 0x1f, 0x27, 0x2f, 0x37, 0x3f, 0x60, 0x61, 0x82, 0x9a, 0xce, 0xd4, 0xd5, 0xd6, 0xea];
    const code: number[] = [0x31, 0xc9]; // xor ecx, ecx
    for (const op of removed) code.push(op, 0xff, 0xc1); // the opcode; inc ecx
    code.push(HLT);
    const e = everywhere(code, (m) => { m.mmu.writePhysBytes(STUBS64 + 16 * 6, new Uint8Array(handler)); });
    expect(e.vector).toBe(-1);
    expect(e.regs[1]).toBe(BigInt(removed.length));
    expect(e.rip).toBe(BigInt(CODE64 + code.length));
    expect(e.regs[4]).toBe(BigInt(STACK64));
  });

  it('does INT n through a DPL-0 gate push the 64-bit frame and IRETQ restore RFLAGS and RSP?', () => {
    // handler for vector 0x20 is outside the 32 stubs: use vector 3 (INT3) with the stub replaced by IRETQ
    const code = [0xf9, 0xcc, 0x9c, 0x58, HLT]; // stc; int3; pushfq; pop rax
    const e = everywhere(code, (m) => { m.mmu.writePhysBytes(STUBS64 + 16 * 3, new Uint8Array([0xf8, 0x48, 0xcf])); }); // clc; iretq
    expect(Number(e.regs[0]) & 1).toBe(1); // IRETQ restored CF = 1
    expect(e.regs[4]).toBe(BigInt(STACK64));
    expect(e.rip).toBe(BigInt(CODE64 + code.length));
  });
});

const wrmsr = (msr: number, lo: number, hi: number): number[] => [0xb9, ...le32(msr), 0xb8, ...le32(lo), 0xba, ...le32(hi), 0x0f, 0x30];
const TSS = 0x6000;
/** TR as a 64-bit TSS at TSS (type 11, busy), RSP0 = 0x70000, IST1 = 0x78008 */
function withTss(m: Machine): void {
  m.mmu.writePhys(TSS + 4, 4, 0x70000);
  m.mmu.writePhys(TSS + 0x24, 4, 0x78008);
  m.cpu.loadSystemCache(7, 0x38, TSS, 0x67, 0x8000 | (11 << 8));
}
/** SCE, STAR (SYSCALL CS 0x18, SYSRET base 0x20), LSTAR = `k`, FMASK = DF; then SYSRETQ to `u` with RFLAGS 0x402 */
function toUser(u: number, k: number): number[] {
  return [
    0xb9, ...le32(0xc0000080), 0x0f, 0x32, 0x83, 0xc8, 0x01, 0x0f, 0x30, // EFER.SCE
    ...wrmsr(0xc0000081, 0, 0x00200018), ...wrmsr(0xc0000082, k, 0), ...wrmsr(0xc0000084, 0x400, 0),
    ...movImm64(1, BigInt(u)), 0x49, 0xc7, 0xc3, ...le32(0x402), // rcx = u; r11 = 0x402
    0x48, 0x0f, 0x07, // sysretq
  ];
}
const U = CODE64 + 0x100, K = CODE64 + 0x180;
function program(main: number[], user: number[], kernel: number[]): number[] {
  const code = [...main];
  while (code.length < 0x100) code.push(HLT);
  code.push(...user);
  while (code.length < 0x180) code.push(HLT);
  code.push(...kernel);
  return code;
}

describe('system: SYSCALL/SYSRET, CPL 3, IST, FS and GS', () => {
  it('does SYSRETQ enter CPL 3 at RCX with RFLAGS from R11, and SYSCALL come back at LSTAR with RCX, R11 and RFLAGS masked by FMASK?', () => {
    const code = program(toUser(U, K), [0xb8, ...le32(42), 0x0f, 0x05], [0x9c, 0x41, 0x5a, HLT]); // user: mov eax, 42; syscall. kernel: pushfq; pop r10
    const ends = MODE_NAMES.flatMap((mode) => ENGINES.map((engine) => {
      const m = longMachine({ mode, engine });
      m.mmu.writePhysBytes(CODE64, new Uint8Array(code));
      const r = m.run({ maxInstructions: 100_000 });
      return { r: r.reason, n: r.instructions, regs: regs64(m), cpl: m.cpu.cpl, cs: m.cpu.segSel[1], ss: m.cpu.segSel[2], rip: rip(m) };
    }));
    for (const e of ends) expect(e).toEqual(ends[0]);
    const e = ends[0]!;
    expect(e.r).toBe('halted');
    expect(e.cpl).toBe(0);
    expect([e.cs, e.ss]).toEqual([0x18, 0x20]);
    expect(e.regs[0]).toBe(42n);
    expect(e.regs[1]).toBe(BigInt(U + 7)); // RCX: the instruction after SYSCALL
    expect(e.regs[11]).toBe(0x402n); // R11: the user RFLAGS (DF set)
    expect(Number(e.regs[10]) & 0x400).toBe(0); // FMASK cleared DF in the kernel
    expect(e.rip).toBe(BigInt(K + 4));
  });

  it('is a #GP at CPL 3 delivered on RSP0 of the 64-bit TSS with the user SS:RSP and CS in the frame, and SS null after?', () => {
    const code = program(toUser(U, K), [0xfa], []); // user: cli (IOPL 0: #GP(0))
    const e = everywhere(code, withTss);
    expect(e.vector).toBe(13);
    expect(e.regs[4]).toBe(BigInt(0x70000 - 48));
    expect(e.stack).toEqual([0n, BigInt(U), 0x33n, 0x402n, BigInt(STACK64), 0x2bn]);
  });

  it('does a gate with an IST index switch to ISTn, aligned to 16, without a privilege change?', () => {
    const e = everywhere([0x06], (m) => {
      withTss(m);
      m.mmu.writePhys(IDT64 + 16 * 6 + 4, 4, (STUBS64 & 0xffff0000) | 0x8e01); // IST 1
    });
    expect(e.vector).toBe(6);
    expect(e.regs[4]).toBe(BigInt(0x78000 - 40));
    expect(e.stack.slice(0, 5)).toEqual([BigInt(CODE64), BigInt(SEL_CODE64), e.stack[2], BigInt(STACK64), BigInt(SEL_DATA)]);
  });

  it('do FS.base and GS.base (the MSRs, one above 4 GiB) reach memory, and does SWAPGS exchange GS.base with KERNEL_GS_BASE?', () => {
    const code = [
      ...wrmsr(0xc0000100, DATA + 0x100, 0), ...wrmsr(0xc0000101, 0, 1), ...wrmsr(0xc0000102, DATA, 0),
      0x64, 0x3e, 0x48, 0x8b, 0x0c, 0x25, ...le32(8), // mov rcx, fs:[8] (a DS override after FS's is ignored)
      0x49, 0x89, 0xc8, // mov r8, rcx
      0x65, 0x48, 0x8b, 0x04, 0x25, ...le32(0x10), // mov rax, gs:[0x10]
      0x49, 0x89, 0xc1, // mov r9, rax
      0x0f, 0x01, 0xf8, // swapgs
      0x65, 0x48, 0x8b, 0x1c, 0x25, ...le32(0x10), // mov rbx, gs:[0x10]
      0xb9, ...le32(0xc0000102), 0x0f, 0x32, // rdmsr KERNEL_GS_BASE
      HLT,
    ];
    const e = everywhere(code, (m) => { m.mmu.writePhys(DATA + 0x108, 4, 0x11); m.mmu.writePhys(HIGH_PHYS + 0x10, 4, 0x22); m.mmu.writePhys(DATA + 0x10, 4, 0x33); });
    expect([e.regs[8], e.regs[9], e.regs[3]]).toEqual([0x11n, 0x22n, 0x33n]);
    expect([e.regs[0], e.regs[2]]).toEqual([0n, 1n]); // KERNEL_GS_BASE now holds the old GS.base, 4 GiB
    const bad = everywhere(wrmsr(0xc0000100, 0, 0x8000));
    expect(bad.vector).toBe(13);
  });
});

describe('more of the integer core', () => {
  it('BT, BTS, BTR, BTC on registers (offset mod 64) and memory (a signed register offset selects the quadword)', () => {
    const code = [
      ...movImm64(0, 0x8000000000000001n), ...movImm64(3, 63n),
      0x48, 0x0f, 0xb3, 0xd8, 0x9c, 0x41, 0x58, // btr rax, rbx; pushfq; pop r8 (CF = 1)
      ...movImm64(3, 64n + 4n),
      0x48, 0x0f, 0xab, 0xd8, 0x9c, 0x41, 0x59, // bts rax, rbx (bit 4); r9 = flags (CF = 0)
      0x48, 0x0f, 0xba, 0xf8, 0x00, // btc rax, 0
      ...movImm64(7, BigInt(DATA + 0x100)), ...movImm64(3, -1n),
      0x48, 0x0f, 0xab, 0x1f, // bts [rdi], rbx: bit 63 of the quadword at rdi - 8
      ...movImm64(3, 130n),
      0x48, 0x0f, 0xbb, 0x1f, // btc [rdi], rbx: bit 2 of the quadword at rdi + 16
      0x0f, 0xa3, 0x1f, 0x9c, 0x41, 0x5a, // bt dword [rdi], ebx (130: bit 2 of the dword at rdi + 16); r10 = flags
      HLT,
    ];
    const e = everywhere(code, undefined, 0);
    expect(e.regs[0]).toBe(0x10n);
    expect(Number(e.regs[8]) & 1).toBe(1);
    expect(Number(e.regs[9]) & 1).toBe(0);
    expect(Number(e.regs[10]) & 1).toBe(1);
    const m = longMachine({ mode: 'naive', engine: 'interp' });
    m.mmu.writePhysBytes(CODE64, new Uint8Array(code));
    m.run({ maxInstructions: 100_000 });
    expect(phys64(m, DATA + 0xf8)).toBe(1n << 63n);
    expect(phys64(m, DATA + 0x110)).toBe(4n);
  });

  it('BSF, BSR (a zero source keeps the destination, ZF = 1), BSWAP, XADD, CMPXCHG', () => {
    const code = [
      ...movImm64(3, 0x0010000000000100n),
      0x48, 0x0f, 0xbc, 0xc3, // bsf rax, rbx -> 8
      0x48, 0x0f, 0xbd, 0xcb, // bsr rcx, rbx -> 52
      ...movImm64(2, 77n), 0x31, 0xf6, // rdx = 77; xor esi, esi
      0x48, 0x0f, 0xbc, 0xd6, 0x9c, 0x41, 0x58, // bsf rdx, rsi (zero: rdx kept); r8 = flags
      ...movImm64(9, 0x0102030405060708n), 0x49, 0x0f, 0xc9, // bswap r9
      ...movImm64(10, -1n), 0x41, 0x0f, 0xca, // bswap r10d (a 32-bit write)
      ...movImm64(11, 5n), ...movImm64(12, 7n), 0x4d, 0x0f, 0xc1, 0xe3, // xadd r11, r12: r11 = 12, r12 = 5
      ...movImm64(7, BigInt(DATA)), ...movImm64(0, 0x1111n), ...movImm64(6, 0x2222n),
      0x48, 0x0f, 0xb1, 0x37, // cmpxchg [rdi], rsi: equal (0x1111) -> [rdi] = 0x2222
      0x48, 0x0f, 0xb1, 0x37, // again: not equal -> rax = 0x2222
      0x9c, 0x41, 0x5d, // r13 = flags (ZF = 1: the second compare found 0x2222 = ... see below)
      HLT,
    ];
    const e = everywhere(code, (m) => { m.mmu.writePhys(DATA, 4, 0x1111); }, 1);
    expect([e.regs[0], e.regs[1], e.regs[2]]).toEqual([0x2222n, 52n, 77n]);
    expect(Number(e.regs[8]) & 0x40).toBe(0x40);
    expect(e.regs[9]).toBe(0x0807060504030201n);
    expect(e.regs[10]).toBe(0xffffffffn);
    expect([e.regs[11], e.regs[12]]).toEqual([12n, 5n]);
    expect(e.data[0]).toBe(0x2222n);
    // the second CMPXCHG compared RAX = 0x1111 with 0x2222: ZF = 0, RAX loaded
    expect(Number(e.regs[13]) & 0x40).toBe(0);
  });

  it('SHLD and SHRD by CL against a BigInt reference', () => {
    const a = 0x0123456789abcdefn, b = 0xfedcba9876543210n;
    const cases = [1n, 4n, 31n, 32n, 33n, 63n];
    const code: number[] = [...movImm64(7, BigInt(DATA))];
    cases.forEach((n, i) => {
      code.push(...movImm64(0, a), ...movImm64(3, b), ...movImm64(1, n), 0x48, 0x0f, 0xa5, 0xd8, 0x48, 0x89, 0x87, ...le32(16 * i)); // shld rax, rbx, cl
      code.push(...movImm64(0, a), 0x48, 0x0f, 0xad, 0xd8, 0x48, 0x89, 0x87, ...le32(16 * i + 8)); // shrd rax, rbx, cl
    });
    code.push(HLT);
    const e = everywhere(code, undefined, 2 * cases.length);
    cases.forEach((n, i) => {
      expect(e.data[2 * i]).toBe(((a << n) | (b >> (64n - n))) & M64);
      expect(e.data[2 * i + 1]).toBe(((a >> n) | (b << (64n - n))) & M64);
    });
  });

  it('LOOP and JRCXZ count RCX; REPE CMPSB and REPNE SCASB stop on the flag', () => {
    const code = [
      0x31, 0xc0, 0xb9, ...le32(5), 0x48, 0xff, 0xc0, 0xe2, 0xfb, // xor eax, eax; mov ecx, 5; L: inc rax; loop L
      0xe3, 0x02, 0xb0, 0x63, // jrcxz +2 (RCX = 0: taken, skipping mov al, 0x63)
      ...movImm64(6, BigInt(DATA)), ...movImm64(7, BigInt(DATA + 0x10)), ...movImm64(1, 8n),
      0xf3, 0xa6, // repe cmpsb: stops after the first difference (index 3)
      0x49, 0x89, 0xc8, // mov r8, rcx
      ...movImm64(7, BigInt(DATA)), ...movImm64(1, 8n), 0xb0, 0x44, // al = 'D'
      0xf2, 0xae, // repne scasb: finds 'D' at index 3
      HLT,
    ];
    const e = everywhere(code, (m) => {
      m.mmu.writePhysBytes(DATA, new TextEncoder().encode('ABCDEFGH'));
      m.mmu.writePhysBytes(DATA + 0x10, new TextEncoder().encode('ABCxEFGH'));
    });
    expect(e.regs[0] & 0xffn).toBe(0x44n);
    expect(e.regs[0] >> 8n).toBe(0n); // 5 from the loop, then AL = 'D' (mov al keeps bits 8-63: 0)
    expect(e.regs[8]).toBe(4n); // 4 compares done
    expect(e.regs[6]).toBe(BigInt(DATA + 4));
    expect(e.regs[7]).toBe(BigInt(DATA + 4)); // past the 'D'
    expect(e.regs[1]).toBe(4n);
  });

  it('does OUT to COM1 reach the serial port, the same in every mode and engine?', () => {
    const code = [0xba, ...le32(0x3f8), 0xb0, 0x36, 0xee, 0xb0, 0x34, 0xee, HLT]; // mov edx, 0x3f8; mov al, '6'; out dx, al; mov al, '4'; out dx, al
    for (const mode of MODE_NAMES) for (const engine of ENGINES) {
      const out: number[] = [];
      const m = longMachine({ mode, engine, serialOut: (b) => out.push(b) });
      m.mmu.writePhysBytes(CODE64, new Uint8Array(code));
      expect(m.run({ maxInstructions: 100_000 }).reason).toBe('halted');
      expect(String.fromCharCode(...out)).toBe('64');
    }
  });

  it('REP OUTSB to COM1, INSB from the 8259 mask register, LFS with an m16:64 pointer', () => {
    const code = [
      ...movImm64(6, BigInt(DATA)), ...movImm64(1, 3n), 0xba, ...le32(0x3f8), // rsi, rcx = 3, edx = COM1
      0xf3, 0x6e, // rep outsb
      0xb0, 0xa5, 0xe6, 0x21, // mov al, 0xa5; out 0x21, al (the mask register)
      ...movImm64(7, BigInt(DATA + 0x20)), 0xba, ...le32(0x21), 0x6c, // rdi; edx = 0x21; insb
      ...movImm64(7, BigInt(DATA + 0x30)), 0x48, 0x0f, 0xb4, 0x07, // lfs rax, [rdi]
      HLT,
    ];
    const setup = (m: Machine): void => {
      m.mmu.writePhysBytes(DATA, new TextEncoder().encode('hey'));
      m.mmu.writePhys(DATA + 0x30, 4, 0x55667788); m.mmu.writePhys(DATA + 0x34, 4, 0x11223344); m.mmu.writePhys(DATA + 0x38, 2, SEL_DATA);
    };
    const e = everywhere(code, setup, 5);
    expect(e.data[4]! & 0xffn).toBe(0xa5n);
    expect(e.regs[0]).toBe(0x1122334455667788n);
    expect(e.regs[6]).toBe(BigInt(DATA + 3));
    expect(e.regs[7]).toBe(BigInt(DATA + 0x30));
    const out: number[] = [];
    const m = longMachine({ mode: 'slat', engine: 'wasm', serialOut: (b) => out.push(b) });
    m.mmu.writePhysBytes(CODE64, new Uint8Array(code));
    setup(m);
    m.run({ maxInstructions: 100_000 });
    expect(String.fromCharCode(...out)).toBe('hey');
    expect(m.cpu.segSel[4]).toBe(SEL_DATA);
  });

  it('far JMP through m16:32 to compatibility mode and back with a far JMP; far CALL m16:64 and RETFQ; ENTER', () => {
    const PTR = DATA + 0x40;
    const COMPAT = CODE64 + 0x100, FUNC = CODE64 + 0x140, BACK = CODE64 + 0x30;
    const main = [
      0xff, 0x2c, 0x25, ...le32(PTR), // jmp far [PTR] (m16:32): 0x08:COMPAT
    ];
    while (main.length < 0x30) main.push(HLT);
    main.push(
      0x48, 0xff, 0x1c, 0x25, ...le32(PTR + 8), // BACK: call far [PTR + 8] (m16:64): 0x18:FUNC
      0xc8, 0x10, 0x00, 0x00, // enter 16, 0
      0x48, 0x89, 0xe6, // mov rsi, rsp
      HLT,
    );
    while (main.length < 0x100) main.push(HLT);
    main.push(0xb8, ...le32(0x1234), 0xea, ...le32(BACK), SEL_CODE64, 0x00); // compatibility mode: mov eax, 0x1234; jmp far 0x18:BACK
    while (main.length < 0x140) main.push(HLT);
    main.push(0xbb, ...le32(0x5678), 0x48, 0xcb); // FUNC: mov ebx, 0x5678; retfq
    const e = everywhere(main, (m) => {
      m.mmu.writePhys(PTR, 4, COMPAT); m.mmu.writePhys(PTR + 4, 2, 0x08);
      m.mmu.writePhys(PTR + 8, 4, FUNC); m.mmu.writePhys(PTR + 12, 4, 0); m.mmu.writePhys(PTR + 16, 2, SEL_CODE64);
      m.cpu.reg32[5] = 0x4444;
    });
    expect(e.regs[0]).toBe(0x1234n);
    expect(e.regs[3]).toBe(0x5678n);
    expect(e.regs[5]).toBe(BigInt(STACK64 - 8)); // ENTER: RBP = the frame
    expect(e.regs[6]).toBe(BigInt(STACK64 - 8 - 16));
    expect(e.rip).toBe(BigInt(BACK + 8 + 4 + 3 + 1));
  });

  it('MOV from and to segment registers, SMSW, SGDT, and LTR of a 16-byte TSS descriptor', () => {
    const code = [
      0x8c, 0xd8, // mov eax, ds
      0x8e, 0xe0, // mov fs, eax
      0x0f, 0x01, 0xe1, // smsw ecx
      0x0f, 0x01, 0x04, 0x25, ...le32(DATA), // sgdt [DATA]
      0xb8, ...le32(0x38), 0x0f, 0x00, 0xd8, // mov eax, 0x38; ltr ax
      0x0f, 0x00, 0xca, // str edx
      HLT,
    ];
    const e = everywhere(code, (m) => {
      // a 64-bit TSS descriptor at GDT + 0x38: base 0x1_0000_6000 (bits 63:32 in the third dword), limit 0x67, type 9
      m.mmu.writePhys(0x800 + 0x38, 4, (0x6000 << 16) | 0x67);
      m.mmu.writePhys(0x800 + 0x3c, 4, 0x00008900);
      m.mmu.writePhys(0x800 + 0x40, 4, 1);
      m.mmu.writePhys(0x800 + 0x44, 4, 0);
      m.cpu.gdtLimit = 0x47;
      m.cpu.segBase[4] = 0x1234; m.cpu.fsBaseHi = 5;
    }, 2);
    expect(e.regs[0]).toBe(0x38n);
    expect(e.regs[1] & 0x80000001n).toBe(0x80000001n); // PG and PE
    expect(e.regs[2]).toBe(0x38n);
    expect(e.data[0] & 0xffffn).toBe(0x47n);
    expect((e.data[0] >> 16n) | ((e.data[1] & 0xffffn) << 48n)).toBe(0x800n);
    const m = longMachine({ mode: 'shadow', engine: 'interp' });
    m.mmu.writePhysBytes(CODE64, new Uint8Array(code));
    m.mmu.writePhys(0x800 + 0x38, 4, (0x6000 << 16) | 0x67); m.mmu.writePhys(0x800 + 0x3c, 4, 0x00008900); m.mmu.writePhys(0x800 + 0x40, 4, 1);
    m.cpu.gdtLimit = 0x47; m.cpu.fsBaseHi = 5;
    m.run({ maxInstructions: 100_000 });
    expect([m.cpu.segBase[7]! >>> 0, m.cpu.trBaseHi, (m.mmu.readPhys(0x800 + 0x3d, 1) & 0xf)]).toEqual([0x6000, 1, 11]); // busy now
    expect([m.cpu.segSel[4], m.cpu.segBase[4], m.cpu.fsBaseHi]).toEqual([0x10, 0, 0]);
  });

  it('are LTR and LLDT #GP(selector) for a non-canonical base or a non-zero type in the upper half?', () => {
    for (const [ltr, third, fourth] of [[true, 0x8000, 0], [true, 1, 0x100], [true, 1, 0x1f00], [false, 0xffff7fff, 0], [false, 0, 0x200]] as [boolean, number, number][]) {
      const code = [0xb8, ...le32(0x38), 0x0f, 0x00, ltr ? 0xd8 : 0xd0, HLT]; // mov eax, 0x38; ltr ax / lldt ax
      const e = everywhere(code, (m) => {
        // a 16-byte TSS (type 9) or LDT (type 2) descriptor at GDT + 0x38
        m.mmu.writePhys(0x800 + 0x38, 4, (0x6000 << 16) | 0x67);
        m.mmu.writePhys(0x800 + 0x3c, 4, ltr ? 0x00008900 : 0x00008200);
        m.mmu.writePhys(0x800 + 0x40, 4, third);
        m.mmu.writePhys(0x800 + 0x44, 4, fourth);
        m.cpu.gdtLimit = 0x47;
      });
      expect([e.vector, e.stack[0]], `${ltr ? 'ltr' : 'lldt'} ${third.toString(16)} ${fourth.toString(16)}`).toEqual([13, 0x38n]);
    }
    // the same with a canonical base and a zero upper type loads (the busy bit set for LTR): the check is not always on
    const m = longMachine({ mode: 'naive', engine: 'interp' });
    m.mmu.writePhysBytes(CODE64, new Uint8Array([0xb8, ...le32(0x38), 0x0f, 0x00, 0xd8, HLT]));
    m.mmu.writePhys(0x800 + 0x38, 4, (0x6000 << 16) | 0x67); m.mmu.writePhys(0x800 + 0x3c, 4, 0x00008900);
    m.mmu.writePhys(0x800 + 0x40, 4, 0xffff8000); m.mmu.writePhys(0x800 + 0x44, 4, 0xffffe0ff); // only bits 12:8 of the fourth dword are the type
    m.cpu.gdtLimit = 0x47;
    expect(m.run({ maxInstructions: 100_000 }).reason).toBe('halted');
    expect([m.cpu.segSel[7], m.cpu.trBaseHi >>> 0, m.mmu.readPhys(0x800 + 0x3d, 1) & 0xf]).toEqual([0x38, 0xffff8000, 11]);
  });
});

describe('compatibility mode (IA-32e mode, CS.L = 0)', () => {
  const ENTRY = enterLongMode().slice(0, -7); // up to CR0.PG and LIDT, without the far jump
  it('is an exception there delivered through the 64-bit IDT into 64-bit mode, with the 64-bit frame?', () => {
    const e = everywhere([HLT], (m) => { m.mmu.writePhysBytes(CODE, new Uint8Array([...ENTRY, 0x0f, 0x0b])); }); // ud2 in compatibility mode
    expect(e.vector).toBe(6);
    expect(e.stack.slice(0, 2)).toEqual([BigInt(CODE + ENTRY.length), 8n]);
    expect(e.stack.slice(3, 5)).toEqual([BigInt(STACK64), BigInt(SEL_DATA)]);
    expect(e.regs[4]).toBe(BigInt(STACK64 - 40));
  });

  it('do LAR and LSL there accept only the IA-32e types (LAR: 64-bit TSSs and call gate; LSL: LDT and 64-bit TSSs), as in 64-bit mode?', () => {
    // mov esi, 0x38; mov eax, -1; mov ecx, -1; lar eax, si; setz bl; lsl ecx, si; setz bh; hlt
    const probe = [0xbe, ...le32(0x38), 0xb8, ...le32(-1), 0xb9, ...le32(-1), 0x0f, 0x02, 0xc6, 0x0f, 0x94, 0xc3, 0x0f, 0x03, 0xce, 0x0f, 0x94, 0xc7, HLT];
    const got: string[] = [];
    for (const type of [1, 2, 3, 4, 5, 9, 11, 12]) {
      for (const long of [true, false]) {
        // the same bytes run in 64-bit mode (after the far jump) and in compatibility mode (before it)
        const e = everywhere(long ? probe : [HLT], (m) => {
          m.mmu.writePhys(GDT + 0x38, 4, 0x0067);
          m.mmu.writePhys(GDT + 0x3c, 4, 0x8000 | (type << 8));
          m.mmu.writePhys(GDT + 0x40, 4, 0);
          m.mmu.writePhys(GDT + 0x44, 4, 0);
          m.cpu.gdtLimit = 0x47;
          if (!long) m.mmu.writePhysBytes(CODE, new Uint8Array([...ENTRY, ...probe]));
        });
        const lar = (e.regs[3]! & 0xffn) === 1n, lsl = ((e.regs[3]! >> 8n) & 0xffn) === 1n;
        got.push(`${long ? '64-bit' : 'compat'} type ${type}: lar ${lar ? e.regs[0]!.toString(16) : '-'} lsl ${lsl ? e.regs[1]!.toString(16) : '-'}`);
      }
    }
    const want = (type: number): string => `lar ${[9, 11, 12].includes(type) ? (0x8000 | (type << 8)).toString(16) : '-'} lsl ${[2, 9, 11].includes(type) ? '67' : '-'}`;
    expect(got).toEqual([1, 2, 3, 4, 5, 9, 11, 12].flatMap((t) => [`64-bit type ${t}: ${want(t)}`, `compat type ${t}: ${want(t)}`]));
  });

  it('is a far JMP to a code segment with both L and D set #GP(selector)?', () => {
    const e = everywhere([HLT], (m) => {
      m.mmu.writePhys(0x800 + 0x18 + 4, 4, 0x00ef9a00); // the 64-bit code descriptor with D set too
      m.mmu.writePhysBytes(CODE, new Uint8Array(enterLongMode()));
      // the gates need a valid 64-bit code segment: 0x30, made DPL 0
      m.mmu.writePhys(0x800 + 0x34, 4, 0x00af9a00);
      for (let v = 0; v < 32; v++) m.mmu.writePhys(IDT64 + 16 * v + 2, 2, 0x30);
    });
    expect(e.vector).toBe(13);
    expect(e.stack[0]).toBe(0x18n);
    expect(e.stack[2]).toBe(8n); // from compatibility mode
  });

  it('does clearing CR0.PG there leave IA-32e mode (EFER.LMA clear, RDMSR shows it)?', () => {
    const code = [...ENTRY, 0x0f, 0x20, 0xc0, 0x25, ...le32(0x7fffffff), 0x0f, 0x22, 0xc0, 0xb9, ...le32(0xc0000080), 0x0f, 0x32, HLT];
    for (const mode of MODE_NAMES) {
      const m = longMachine({ mode, engine: 'interp' });
      m.mmu.writePhysBytes(CODE, new Uint8Array(code));
      expect(m.run({ maxInstructions: 100_000 }).reason).toBe('halted');
      expect(m.cpu.reg32[0]! & 0x500).toBe(0x100); // LME kept, LMA clear
      expect(m.mmu.paging().cr0 >>> 31).toBe(0);
    }
  });
});

describe('control registers in 64-bit mode', () => {
  it('do MOV to and from CR3, CR4, CR0 take 64-bit registers, with CR3 bits from MAXPHYADDR (36) up #GP(0), and clearing CR0.PG in 64-bit mode #GP(0)?', () => {
    const e = everywhere([
      0x0f, 0x20, 0xd8, 0x48, 0x89, 0xc3, // mov rax, cr3; mov rbx, rax
      0x0f, 0x22, 0xd8, // mov cr3, rax (the same tables)
      0x0f, 0x20, 0xe1, // mov rcx, cr4
      0x48, 0x0f, 0xba, 0xe8, 0x24, // bts rax, 36
      0x0f, 0x22, 0xd8, // mov cr3, rax: #GP(0)
      HLT,
    ]);
    expect(e.vector).toBe(13);
    expect(e.stack[1]).toBe(BigInt(CODE64 + 17));
    expect(e.regs[3]).toBe(BigInt(0x10000));
    expect(e.regs[1]).toBe(0x20n);
    const pg = everywhere([0x0f, 0x20, 0xc0, 0x25, ...le32(0x7fffffff), 0x0f, 0x22, 0xc0, HLT]); // mov rax, cr0; and eax, ~PG; mov cr0, rax
    expect(pg.vector).toBe(13);
    expect(pg.stack[1]).toBe(BigInt(CODE64 + 8));
  });
});

describe('the lm feature', () => {
  it('without lm: is EFER.LME #GP(0) and CPUID 80000001h:EDX.LM clear; with it, set?', () => {
    for (const [cpu, lm] of [['', false], ['+lm', true]] as const) {
      const m = longMachine({ mode: 'shadow', engine: 'interp', cpu });
      const r = m.run({ maxInstructions: 100_000 });
      expect(r.reason).toBe('halted');
      if (lm) expect(m.cpu.long64).toBe(true);
      else {
        // the WRMSR faulted: the 32-bit #GP stub halted with AL = 13
        expect(m.cpu.long64).toBe(false);
        expect(m.cpu.reg8[0]).toBe(13);
      }
      const m2 = longMachine({ mode: 'shadow', engine: 'interp', cpu });
      m2.mmu.writePhysBytes(0x100000, new Uint8Array([0xb8, ...le32(0x80000001), 0x0f, 0xa2, HLT]));
      m2.run({ maxInstructions: 1000 });
      expect((m2.cpu.reg32[2]! >>> 29) & 1).toBe(lm ? 1 : 0);
      // the highest extended leaf, and leaf 80000008h's address widths (MAXPHYADDR 36, 48-bit linear) with lm
      const m4 = longMachine({ mode: 'shadow', engine: 'interp', cpu });
      m4.mmu.writePhysBytes(0x100000, new Uint8Array([0xb8, ...le32(0x80000000), 0x0f, 0xa2, 0x89, 0xc6, 0xb8, ...le32(0x80000008), 0x0f, 0xa2, HLT])); // cpuid; mov esi, eax; cpuid
      m4.run({ maxInstructions: 1000 });
      expect([m4.cpu.reg32[6]! >>> 0, m4.cpu.reg32[0]]).toEqual(lm ? [0x80000008, 0x3024] : [0x80000001, 0]);
      // FS.base is an MSR of lm only
      const m3 = longMachine({ mode: 'shadow', engine: 'interp', cpu });
      m3.mmu.writePhysBytes(0x100000, new Uint8Array([0xb9, ...le32(0xc0000100), 0x0f, 0x32, 0xb0, 0x00, HLT]));
      m3.run({ maxInstructions: 1000 });
      expect(m3.cpu.reg8[0]).toBe(lm ? 0 : 13);
    }
  });

  it('is CR0.PG with EFER.LME but without CR4.PAE #GP(0), leaving IA-32e mode inactive?', () => {
    const m = longMachine({ mode: 'shadow', engine: 'interp' });
    m.mmu.writePhysBytes(0x100000, new Uint8Array([
      0xb9, ...le32(0xc0000080), 0x0f, 0x32, 0x0d, ...le32(0x100), 0x0f, 0x30, // EFER.LME
      0x0f, 0x20, 0xc0, 0x0d, ...le32(0x80000000), 0x0f, 0x22, 0xc0, // CR0.PG: #GP (no PAE)
      HLT,
    ]));
    m.run({ maxInstructions: 1000 });
    expect(m.cpu.reg8[0]).toBe(13);
    expect(m.cpu.efer & 0x400).toBe(0);
  });
});

const SIMD = '+lm,+sse,+sse2';
/** mov rax, cr4; or eax, OSFXSR | OSXMMEXCPT; mov cr4, rax */
const OSFXSR = [0x0f, 0x20, 0xe0, 0x0d, ...le32(0x600), 0x0f, 0x22, 0xe0];
const abs32 = (modrm: number, at: number): number[] => [modrm, 0x25, ...le32(at)]; // [disp32] through a SIB with no base and no index

describe('x87, FXSAVE and SSE in 64-bit mode', () => {
  it('x87 with a memory operand above 4 GiB through R8: FNINIT, FLD1, FADD m64, FSTP m64, FNSTSW m16, FNSTCW m16, FWAIT', () => {
    const code = [
      ...movImm64(8, HIGH),
      0xdb, 0xe3, // fninit
      0xd9, 0xe8, // fld1
      0x41, 0xdc, 0x40, 0x10, // fadd qword [r8 + 0x10]
      0xdd, ...abs32(0x1c, DATA), // fstp qword [DATA]
      0xdd, ...abs32(0x3c, DATA + 8), // fnstsw [DATA + 8]
      0xd9, ...abs32(0x3c, DATA + 16), // fnstcw [DATA + 16]
      0x9b, HLT,
    ];
    const e = everywhere(code, (m) => { m.mmu.writePhys(HIGH_PHYS + 0x14, 4, 0x40040000); }, 3); // 2.5 at HIGH + 0x10
    expect(e.data[0]).toBe(0x400c000000000000n); // 1 + 2.5 = 3.5
    expect(e.data[1]! & 0xffffn).toBe(0n); // TOP 0 again, no exception
    expect(e.data[2]! & 0xffffn).toBe(0x037fn); // FNINIT's control word
  });

  it('FXSAVE64 stores FIP and FDP as 64-bit offsets and XMM8-15, FXSAVE in 64-bit mode the 32-bit pointer layout with XMM8-15, FXRSTOR64 restores', () => {
    const fld = 11 + 10 + 5 + 10 + 2; // offset of the FLD below
    const code = [
      ...OSFXSR,
      ...movImm64(0, 0x1122334455667788n),
      0x66, 0x4c, 0x0f, 0x6e, 0xc0, // movq xmm8, rax
      ...movImm64(8, HIGH),
      0xdb, 0xe3, // fninit
      0x41, 0xdd, 0x40, 0x10, // fld qword [r8 + 0x10]: FIP = its RIP, FDP = HIGH + 0x10
      0x48, 0x0f, 0xae, ...abs32(0x04, DATA), // fxsave64 [DATA]
      0x0f, 0xae, ...abs32(0x04, DATA + 0x200), // fxsave [DATA + 0x200]
      0x66, 0x45, 0x0f, 0xef, 0xc0, // pxor xmm8, xmm8
      0xdb, 0xe3, // fninit
      0x48, 0x0f, 0xae, ...abs32(0x0c, DATA), // fxrstor64 [DATA]
      0x66, 0x4c, 0x0f, 0x7e, 0xc1, // movq rcx, xmm8
      0xdd, ...abs32(0x1c, DATA + 0x400), // fstp qword [DATA + 0x400]: the restored ST0
      HLT,
    ];
    const e = everywhere(code, (m) => { m.mmu.writePhys(HIGH_PHYS + 0x14, 4, 0x40040000); }, 129, SIMD);
    expect(e.regs[1]).toBe(0x1122334455667788n);
    expect(e.data[128]).toBe(0x4004000000000000n); // 2.5
    // FCW 037F, FSW TOP = 7, abridged tag: physical register 7 in use, FOP = DD 40 (101 0100 0000)
    expect(e.data[0]).toBe(0x0540_0080_3800_037fn);
    expect(e.data[1]).toBe(BigInt(CODE64 + fld)); // FIP, 64 bits
    expect(e.data[2]).toBe(HIGH + 0x10n); // FDP, 64 bits
    expect(e.data[3]! & 0xffffffffn).toBe(0x1f80n); // MXCSR
    expect([e.data[4], e.data[5]! & 0xffffn]).toEqual([0xa000000000000000n, 0x4000n]); // ST0 = 2.5
    expect([e.data[36], e.data[37]]).toEqual([0x1122334455667788n, 0n]); // XMM8 at byte 288
    // without REX.W: FIP's low half and FCS, FDP's low half (FDS beside it)
    expect(e.data[64 + 1]).toBe(BigInt(CODE64 + fld) | (BigInt(SEL_CODE64) << 32n));
    expect(e.data[64 + 2]! & 0xffffffffn).toBe(0x10n);
    expect(e.data[64 + 36]).toBe(0x1122334455667788n);
  });

  it('CVTSI2SD from r64, CVT(T)SD2SI to r64 and r32 (zero-extended), MOVQ r64 <-> XMM8-15; MXCSR gets PE and IE', () => {
    const code = [
      ...OSFXSR,
      ...movImm64(0, -3n),
      0xf2, 0x4c, 0x0f, 0x2a, 0xc8, // cvtsi2sd xmm9, rax
      0x66, 0x4d, 0x0f, 0x7e, 0xca, // movq r10, xmm9
      ...movImm64(3, 0x7fffffffffffffffn),
      0xf2, 0x4c, 0x0f, 0x2a, 0xd3, // cvtsi2sd xmm10, rbx: rounds to 2^63 (PE)
      0x66, 0x4d, 0x0f, 0x7e, 0xd3, // movq r11, xmm10
      0xf2, 0x4d, 0x0f, 0x2c, 0xe2, // cvttsd2si r12, xmm10: 2^63 does not fit (IE): the indefinite
      ...movImm64(0, 0xc004000000000000n), // -2.5
      0x66, 0x4c, 0x0f, 0x6e, 0xf8, // movq xmm15, rax
      0xf2, 0x4d, 0x0f, 0x2c, 0xef, // cvttsd2si r13, xmm15: -2
      0xf2, 0x41, 0x0f, 0x2d, 0xc7, // cvtsd2si eax, xmm15: -2 (to nearest even), RAX's high half zeroed
      0x0f, 0xae, ...abs32(0x1c, DATA), // stmxcsr [DATA]
      HLT,
    ];
    const e = everywhere(code, undefined, 1, SIMD);
    expect(e.regs[10]).toBe(0xc008000000000000n); // -3.0
    expect(e.regs[11]).toBe(0x43e0000000000000n); // 2^63
    expect(e.regs[12]).toBe(0x8000000000000000n);
    expect(e.regs[13]).toBe(0xfffffffffffffffen);
    expect(e.regs[0]).toBe(0xfffffffen);
    expect(e.data[0]! & 0xffffffffn).toBe(0x1f80n | 0x20n | 0x01n);
  });

  it('MOVDQA and PADDD above 4 GiB, PSHUFD m128 RIP-relative with an imm8, PCMPEQB and PMOVMSKB r32 (zero-extended), and #GP(0) for a misaligned MOVDQA', () => {
    const head = [
      ...OSFXSR,
      ...movImm64(9, HIGH), ...movImm64(10, BigInt(DATA)), ...movImm64(11, -1n),
      0x66, 0x45, 0x0f, 0x6f, 0x41, 0x20, // movdqa xmm8, [r9 + 0x20]
      0x66, 0x45, 0x0f, 0xfe, 0x41, 0x30, // paddd xmm8, [r9 + 0x30]
    ];
    const pshufdEnd = CODE64 + head.length + 10; // 66 44 0F 70 0D disp32 1B
    const code = [
      ...head,
      0x66, 0x44, 0x0f, 0x70, 0x0d, ...le32(DATA - pshufdEnd), 0x1b, // pshufd xmm9, [rip + DATA - next], 0x1b (the imm8 after the displacement)
      0x66, 0x45, 0x0f, 0x7f, 0x4a, 0x40, // movdqa [r10 + 0x40], xmm9
      0x66, 0x45, 0x0f, 0x7f, 0x42, 0x50, // movdqa [r10 + 0x50], xmm8
      0x66, 0x45, 0x0f, 0x74, 0xd2, // pcmpeqb xmm10, xmm10
      0x66, 0x45, 0x0f, 0xd7, 0xda, // pmovmskb r11d, xmm10
      0x66, 0x45, 0x0f, 0x6f, 0x41, 0x28, // movdqa xmm8, [r9 + 0x28]: not 16-byte aligned
      HLT,
    ];
    const setup = (m: Machine): void => {
      [1, 2, 3, 4].forEach((v, i) => m.mmu.writePhys(HIGH_PHYS + 0x20 + 4 * i, 4, v));
      [10, 20, 30, 40].forEach((v, i) => m.mmu.writePhys(HIGH_PHYS + 0x30 + 4 * i, 4, v));
      [5, 6, 7, 8].forEach((v, i) => m.mmu.writePhys(DATA + 4 * i, 4, v));
    };
    const e = everywhere(code, setup, 12, SIMD);
    const dw = (lo: number, hi: number): bigint => (BigInt(hi) << 32n) | BigInt(lo);
    expect(e.data.slice(8, 12)).toEqual([dw(8, 7), dw(6, 5), dw(11, 22), dw(33, 44)]);
    expect(e.regs[11]).toBe(0xffffn);
    expect(e.vector).toBe(13);
  });

  it('MMX in 64-bit mode: MOVQ mm, r64 and back (REX.W), MOVD mm, r9d (REX.B), MOVQ m64, mm, PADDD, EMMS', () => {
    const code = [
      ...movImm64(0, 0x0000000500000007n), ...movImm64(9, 0xffffffff00000003n),
      0x48, 0x0f, 0x6e, 0xc0, // movq mm0, rax
      0x41, 0x0f, 0x6e, 0xc9, // movd mm1, r9d: zero-extended
      0x49, 0x0f, 0x7e, 0xc2, // movq r10, mm0
      0x48, 0x0f, 0x7e, ...abs32(0x0c, DATA), // movq [DATA], mm1
      0x0f, 0xfe, 0xc1, // paddd mm0, mm1
      0x49, 0x0f, 0x7e, 0xc3, // movq r11, mm0
      0x0f, 0x7e, 0xc6, // movd esi, mm0: RSI's high half zeroed
      0x0f, 0x77, HLT, // emms
    ];
    const e = everywhere(code, (m) => { m.cpu.regHi[6] = -1; }, 1);
    expect(e.regs[10]).toBe(0x0000000500000007n);
    expect(e.data[0]).toBe(3n);
    expect(e.regs[11]).toBe(0x000000050000000an);
    expect(e.regs[6]).toBe(0xan);
  });

  it('LDMXCSR of a reserved bit is #GP(0); without CR4.OSFXSR an SSE instruction is #UD and FXSAVE still works', () => {
    const gp = everywhere([...OSFXSR, 0x0f, 0xae, ...abs32(0x14, DATA), HLT], (m) => { m.mmu.writePhys(DATA, 4, 0x10000); }, 0, SIMD);
    expect(gp.vector).toBe(13);
    const ud = everywhere([0x0f, 0xae, ...abs32(0x04, DATA), 0x66, 0x45, 0x0f, 0xef, 0xc0, HLT], undefined, 1, SIMD);
    expect(ud.vector).toBe(6);
    expect(ud.data[0]! & 0xffffn).toBe(0x40n); // the power-up control word, stored by FXSAVE before the #UD
  });
});

describe('debug registers, VERW, non-accessing operands, a GDT above 4 GiB', () => {
  it('MOV to/from DR0 keeps 64 bits, DR7 reads 400h, a 1 in DR7 bits 63:32 is #GP(0); LEA and NOP Ev through a non-canonical RBP do not fault; VERW', () => {
    const code = [
      ...movImm64(0, 0xffff800012345678n),
      0x0f, 0x23, 0xc0, // mov dr0, rax
      0x0f, 0x21, 0xc3, // mov rbx, dr0
      0x0f, 0x21, 0xf9, // mov rcx, dr7
      ...movImm64(5, 0x8000000000000000n), // rbp: not canonical
      0x48, 0x8d, 0x54, 0x1d, 0x00, // lea rdx, [rbp + rbx]
      0x0f, 0x1f, 0x45, 0x00, // nop [rbp]
      0xbe, ...le32(SEL_DATA), 0x0f, 0x00, 0xee, 0x40, 0x0f, 0x94, 0xc7, // mov esi, data; verw si; sete dil
      0xbe, ...le32(SEL_CODE64), 0x0f, 0x00, 0xee, 0x41, 0x0f, 0x94, 0xc0, // mov esi, code; verw si; sete r8b
      ...movImm64(0, 1n << 32n),
      0x0f, 0x23, 0xf8, // mov dr7, rax: #GP(0)
      HLT,
    ];
    const e = everywhere(code);
    expect(e.regs[3]).toBe(0xffff800012345678n);
    expect(e.regs[1]).toBe(0x400n);
    expect(e.regs[2]).toBe(0x7fff800012345678n);
    expect([e.regs[7]! & 0xffn, e.regs[8]! & 0xffn]).toEqual([1n, 0n]);
    expect(e.vector).toBe(13);
  });

  it('LAR and LSL: rights and limit zero-extended with ZF = 1; a null selector and an interrupt-gate type give ZF = 0 and leave the destination', () => {
    const code = [
      ...movImm64(0, -1n), ...movImm64(1, -1n), ...movImm64(2, -1n), ...movImm64(3, -1n),
      0xbe, ...le32(SEL_CODE64), 0x48, 0x0f, 0x02, 0xc6, 0x9c, 0x41, 0x58, // lar rax, si; pushfq; pop r8
      0xbe, ...le32(SEL_DATA), 0x0f, 0x03, 0xce, // lsl ecx, si
      0xbe, ...le32(0), 0x0f, 0x02, 0xd6, 0x9c, 0x41, 0x59, // lar edx, 0: ZF = 0
      0xbe, ...le32(0x38), 0x0f, 0x03, 0xde, 0x9c, 0x41, 0x5a, // lsl ebx, 0x38: an interrupt gate (type E), not valid
      HLT,
    ];
    const setup = (m: Machine): void => {
      m.mmu.writePhys(GDT + 0x38, 4, 0x00080000);
      m.mmu.writePhys(GDT + 0x3c, 4, 0x00008e00);
      m.cpu.gdtLimit = 8 * 8 - 1;
    };
    const e = everywhere(code, setup);
    expect(e.regs[0]).toBe(0x00a09b00n); // 00AF9A00 masked with 00F0FF00, accessed (type B) since the far JMP into 64-bit mode loaded it
    expect(e.regs[1]).toBe(0xffffffffn);
    expect([e.regs[2], e.regs[3]]).toEqual([M64, M64]);
    expect([Number(e.regs[8]) & 0x40, Number(e.regs[9]) & 0x40, Number(e.regs[10]) & 0x40]).toEqual([0x40, 0, 0]);
  });

  it('LGDT of a base above 4 GiB: MOV DS and a far JMP read their descriptors there, and the accessed bit is written there', () => {
    const head = [
      0x0f, 0x01, ...abs32(0x14, DATA), // lgdt [DATA]: limit, base HIGH + 0x800
      0xb8, ...le32(0x20), 0x8e, 0xd8, // mov eax, 0x20; mov ds, eax
      0x48, 0xff, ...abs32(0x2c, DATA + 0x10), // jmp far [DATA + 0x10] (m16:64)
    ];
    const target = CODE64 + head.length;
    const code = [...head, HLT];
    const setup = (m: Machine): void => {
      for (let k = 0; k < 0x38; k += 4) m.mmu.writePhys(HIGH_PHYS + 0x800 + k, 4, m.mmu.readPhys(GDT + k, 4));
      m.mmu.writePhys(DATA, 2, 0x37);
      m.mmu.writePhys(DATA + 2, 4, 0x800);
      m.mmu.writePhys(DATA + 6, 4, 1); // base 1_0000_0800h
      m.mmu.writePhys(DATA + 0x10, 4, target);
      m.mmu.writePhys(DATA + 0x18, 2, SEL_CODE64);
    };
    const e = everywhere(code, setup);
    expect(e.rip).toBe(BigInt(target + 1));
    const m = longMachine({ mode: 'slat', engine: 'interp' });
    m.mmu.writePhysBytes(CODE64, new Uint8Array(code));
    setup(m);
    m.run({ maxInstructions: 100_000 });
    expect(m.mmu.readPhys(HIGH_PHYS + 0x800 + 0x24, 4) >>> 0).toBe(0x00cf9300); // accessed, in the table above 4 GiB
    expect(m.mmu.readPhys(GDT + 0x24, 4) >>> 0).toBe(0x00cf9200); // the old table untouched
    expect(m.cpu.gdtBaseHi).toBe(1);
  });
});

describe('CMPXCHG16B, LAHF/SAHF, ENDBR64, and what CPUID reports for them', () => {
  it('CMPXCHG16B: equal stores RCX:RBX (ZF = 1), different loads RDX:RAX (ZF = 0), misaligned is #GP(0)', () => {
    const code = [
      ...movImm64(0, 0x1111n), ...movImm64(2, 0x2222n), ...movImm64(3, 0xaaaa000000000001n), ...movImm64(1, 0xbbbb000000000002n),
      0x48, 0x0f, 0xc7, ...abs32(0x0c, DATA + 0x10), // cmpxchg16b [DATA + 0x10]
      0x41, 0x0f, 0x94, 0xc0, // setz r8b
      0x48, 0x0f, 0xc7, ...abs32(0x0c, DATA + 0x10), // again: RDX:RAX no longer matches
      0x41, 0x0f, 0x94, 0xc1, // setz r9b
      0x48, 0x0f, 0xc7, ...abs32(0x0c, DATA + 0x18), // not 16-byte aligned
      HLT,
    ];
    const e = everywhere(code, (m) => { m.mmu.writePhys(DATA + 0x10, 4, 0x1111); m.mmu.writePhys(DATA + 0x18, 4, 0x2222); }, 4);
    expect([e.regs[8]! & 0xffn, e.regs[9]! & 0xffn]).toEqual([1n, 0n]);
    expect([e.data[2], e.data[3]]).toEqual([0xaaaa000000000001n, 0xbbbb000000000002n]);
    expect([e.regs[0]! >> 8n, e.regs[2]]).toEqual([0xaaaa000000000001n >> 8n, 0xbbbb000000000002n]); // AL: the #GP stub's vector
    expect(e.vector).toBe(13);
  });

  it('SAHF loads SF ZF AF PF CF from AH, LAHF stores them with bit 1 set; ENDBR64 and 0F 19-1E are NOPs; CPUID reports CX16 and LAHF-SAHF', () => {
    const code = [
      0xb8, ...le32(0xd500), 0x9e, // mov eax, 0xd500; sahf
      0x9c, 0x41, 0x5a, // pushfq; pop r10
      0xf8, 0x9f, // clc; lahf
      0x49, 0x89, 0xc3, // mov r11, rax
      0xf3, 0x0f, 0x1e, 0xfa, // endbr64
      0x0f, 0x19, 0x04, 0x24, 0x0f, 0x1a, 0xc0, 0x0f, 0x1b, 0xc0, 0x0f, 0x1c, 0x00, 0x0f, 0x1d, 0xc0, // hint NOPs
      0xb8, ...le32(1), 0x0f, 0xa2, 0x49, 0x89, 0xcc, // cpuid 1; mov r12, rcx
      0xb8, ...le32(0x80000001), 0x0f, 0xa2, 0x49, 0x89, 0xcd, // cpuid 80000001h; mov r13, rcx
      HLT,
    ];
    const e = everywhere(code);
    expect(e.regs[10]! & 0xd5n).toBe(0xd5n);
    expect(e.regs[11]).toBe(0xd600n); // AH = SF ZF AF PF, bit 1; CF cleared by CLC
    expect(e.regs[12]! & (1n << 13n)).toBe(1n << 13n);
    expect(e.regs[13]! & 1n).toBe(1n);
    expect(e.vector).toBe(-1);
  });

  it('STAC and CLAC set and clear RFLAGS.AC with smap, and are #UD without it', () => {
    const code = [0x0f, 0x01, 0xcb, 0x9c, 0x41, 0x58, 0x0f, 0x01, 0xca, 0x9c, 0x41, 0x59, HLT]; // stac; pushfq; pop r8; clac; pushfq; pop r9
    const e = everywhere(code, undefined, 0, '+lm,+smap');
    expect([e.regs[8]! & (1n << 18n), e.regs[9]! & (1n << 18n)]).toEqual([1n << 18n, 0n]);
    expect(everywhere(code).vector).toBe(6);
  });

  it('without lm, does CPUID report neither (the default CPU is unchanged)?', () => {
    const m = longMachine({ mode: 'naive', engine: 'interp', cpu: '' });
    // 32-bit code at CODE: cpuid 1; mov esi, ecx; cpuid 80000001h; hlt
    m.mmu.writePhysBytes(CODE, new Uint8Array([0xb8, ...le32(1), 0x0f, 0xa2, 0x89, 0xce, 0xb8, ...le32(0x80000001), 0x0f, 0xa2, HLT]));
    m.run({ maxInstructions: 100 });
    expect([m.cpu.reg32[6], m.cpu.reg32[1]]).toEqual([0, 0]);
  });
});

describe('the length decoder in 64-bit mode', () => {
  it('did the programs above check instructionLength64 against the executed length of many opcodes?', () => {
    // every program run through everywhere() was compared (lengthsAgree); this counts what was covered
    expect(LENGTHS_CHECKED.size).toBeGreaterThan(50); // 56 when written
  });
});
