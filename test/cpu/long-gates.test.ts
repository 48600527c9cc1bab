/**
 * Call gates in IA-32e mode (`--cpu +lm`): far CALL and JMP through a
 * 64-bit call gate from 64-bit mode and from compatibility mode, and the
 * 64-bit far RET back. The rules, written by hand from the SDM (vol. 3A
 * 5.8.3.1 "IA-32e Mode Call Gates", 5.8.5.1 "Stack Switching in 64-bit
 * Mode", 5.8.6; vol. 2A CALL and JMP, vol. 2B RET, their IA-32e paths):
 * - only the 64-bit call gate (type 0CH, 16 bytes) is valid; a 16-bit call
 *   gate (type 4), a task gate, a TSS are #GP(selector); the upper 8 bytes
 *   give offset 63:32 and their type field (bits 12:8) must be 0, else
 *   #GP(selector); all 16 bytes within the GDT limit, else #GP(selector);
 * - gate DPL < CPL or < RPL: #GP(selector); not present: #NP(selector);
 * - the target must be a 64-bit code segment (L = 1, D = 0), else
 *   #GP(target selector); a JMP only to the same privilege (#GP(target));
 *   a non-canonical target RIP: #GP(0);
 * - a CALL to more privilege takes RSPn from the 64-bit TSS, loads SS with
 *   a null selector whose RPL is the new CPL, pushes the old SS, RSP, CS,
 *   RIP as 8-byte slots (no parameter copying); REX.W RETF pops RIP, CS,
 *   RSP, SS back; a same-privilege CALL pushes CS, RIP as 8-byte slots.
 * Every program runs under naive, shadow and slat paging and the four
 * engines, which must agree on everything compared.
 *
 * Planted errors each caught by some test here (each made in the source,
 * the file run, the error reverted): the gate DPL check against CPL left
 * out; the check against RPL left out; type 4 accepted as a call gate; the
 * upper half's type not checked, or only its bits 11:8; the L = 1 check on
 * the target left out; the D = 0 check left out; the RIP canonical check
 * left out; the gate's present bit not checked; the null target selector
 * check left out; a task gate or TSS in compatibility mode going to the
 * task switch again (CALL and JMP each); the 16-byte limit check at 8
 * bytes, and one byte too strict; RSPn read for the old CPL instead of the
 * new; SS loaded with RPL 0 instead of the new CPL; the old SS and RSP
 * pushed in the wrong order; CS and RIP swapped in the same-privilege
 * frame; no privilege change at all; the offset's high half not taken from
 * the gate (RIP high half 0); RETFQ to the outer privilege not loading the
 * popped SS; RETFQ accepting a null SS for CPL 3; RETFQ not nulling DS;
 * the compatibility-mode frame as 4-byte slots; the new stack's canonical
 * check left out; the TSS limit check one byte short; JMP through a gate allowed
 * to a more privileged segment.
 */
import { describe, expect, it } from 'vitest';
import type { Machine } from '../../src/machine/machine.js';
import { MODE_NAMES } from '../../src/mmu/modes/mode.js';
import { ENGINES } from '../../src/cpu/cpu.js';
import { CODE64, DATA, enterLongMode, HIGH_PHYS, le64, longMachine, phys64, regs64, rip, SEL_CODE64, STACK64, STUBS64 } from './long-machine.js';
import { CODE, GDT, le32 } from './flat-machine.js';

const HLT = 0xf4;
const HIGH = 0x1_0000_0000n;
/** the gate's selector (GDT index 8, 16 bytes: 0x40-0x4f) and a second code segment at 0x50 */
const GATE = 0x40;
const SEL_CODE_DPL1 = 0x50;
const PTR = DATA + 0x40;
const TSS = 0x6000;
const RSP0 = 0x70000, RSP1 = 0x74000;

/** Writes a 16-byte gate descriptor at GDT + `at` (SDM vol. 3A, figure 5-9). */
function gate(m: Machine, at: number, target: number, off: bigint, o: { dpl?: number; type?: number; hiType?: number; present?: boolean } = {}): void {
  const lo = Number(off & 0xffffffffn), hi = Number(off >> 32n);
  m.mmu.writePhys(GDT + at, 4, ((target << 16) | (lo & 0xffff)) >>> 0);
  m.mmu.writePhys(GDT + at + 4, 4, ((lo & 0xffff0000) | ((o.present ?? true) ? 0x8000 : 0) | ((o.dpl ?? 0) << 13) | ((o.type ?? 0xc) << 8)) >>> 0);
  m.mmu.writePhys(GDT + at + 8, 4, hi >>> 0);
  m.mmu.writePhys(GDT + at + 12, 4, (o.hiType ?? 0) << 8);
}

/** The far pointer at PTR: offset (ignored through a gate), selector. */
function farPtr(m: Machine, sel: number): void {
  m.mmu.writePhys(PTR, 4, 0xdeadbeef);
  m.mmu.writePhys(PTR + 4, 2, sel);
}

/** TR: a 64-bit TSS (busy) with RSP0 and RSP1; a DPL 1 64-bit code segment at 0x50; GDT limit over both. */
function common(m: Machine): void {
  m.mmu.writePhys(TSS + 4, 4, RSP0);
  m.mmu.writePhys(TSS + 12, 4, RSP1);
  m.cpu.loadSystemCache(7, 0x38, TSS, 0x67, 0x8000 | (11 << 8));
  m.mmu.writePhys(GDT + SEL_CODE_DPL1, 4, 0x0000ffff);
  m.mmu.writePhys(GDT + SEL_CODE_DPL1 + 4, 4, 0x00afba00);
  m.cpu.gdtLimit = 0x57;
}

const wrmsr = (msr: number, lo: number, hi: number): number[] => [0xb9, ...le32(msr), 0xb8, ...le32(lo), 0xba, ...le32(hi), 0x0f, 0x30];
const movImm64 = (r: number, v: bigint): number[] => [0x48 | (r >> 3), 0xb8 + (r & 7), ...le64(v)];
/** SYSRETQ to `u` at CPL 3 (CS 0x33, SS 0x2b), RFLAGS 0x2 */
function toUser(u: number): number[] {
  return [
    0xb9, ...le32(0xc0000080), 0x0f, 0x32, 0x83, 0xc8, 0x01, 0x0f, 0x30, // EFER.SCE
    ...wrmsr(0xc0000081, 0, 0x00200018),
    ...movImm64(1, BigInt(u)), 0x49, 0xc7, 0xc3, ...le32(0x2), // rcx = u; r11 = 2
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

const CALL_FAR = [0xff, 0x1c, 0x25, ...le32(PTR)]; // call far [PTR] (m16:32)
const JMP_FAR = [0xff, 0x2c, 0x25, ...le32(PTR)]; // jmp far [PTR] (m16:32)
/** the gate's target: the four slots above RSP into RSI, RDI, R10, R11, RSP into R8, SS into R9, CS into R14 */
const RECORD = [
  0x48, 0x8b, 0x34, 0x24, // mov rsi, [rsp]
  0x48, 0x8b, 0x7c, 0x24, 0x08, // mov rdi, [rsp + 8]
  0x4c, 0x8b, 0x54, 0x24, 0x10, // mov r10, [rsp + 16]
  0x4c, 0x8b, 0x5c, 0x24, 0x18, // mov r11, [rsp + 24]
  0x49, 0x89, 0xe0, // mov r8, rsp
  0x41, 0x8c, 0xd1, // mov r9d, ss
  0x41, 0x8c, 0xce, // mov r14d, cs
];
const RETFQ = [0x48, 0xcb];

interface End { regs: bigint[]; rip: bigint; vector: number; cpl: number; cs: number; ss: number; stack: bigint[]; reason: string; n: number }

/** Runs `code` at CODE64 (or, with compat, `compat` in compatibility mode right after IA-32e activation) in every mode and engine; all must agree. */
function everywhere(code: number[], setup: (m: Machine) => void, compat?: number[]): End {
  const ends: End[] = [];
  for (const mode of MODE_NAMES) for (const engine of ENGINES) {
    const m = longMachine({ mode, engine });
    m.mmu.writePhysBytes(CODE64, new Uint8Array(code));
    if (compat) m.mmu.writePhysBytes(CODE, new Uint8Array([...enterLongMode().slice(0, -7), ...compat]));
    common(m);
    setup(m);
    const r = m.run({ maxInstructions: 100_000 });
    const c = m.cpu, rsp = c.reg32[4]! >>> 0;
    const pc = Number(rip(m));
    ends.push({
      regs: regs64(m), rip: rip(m), vector: pc > STUBS64 && pc <= STUBS64 + 16 * 32 ? c.reg8[0]! : -1,
      cpl: c.cpl, cs: c.segSel[1]!, ss: c.segSel[2]!, stack: [0, 1, 2, 3, 4, 5].map((k) => phys64(m, rsp + 8 * k)), reason: r.reason, n: r.instructions,
    });
  }
  for (const e of ends) expect(e).toEqual(ends[0]);
  expect(ends[0]!.reason).toBe('halted');
  return ends[0]!;
}

/** A #GP or #NP from 64-bit code at CPL 0: the vector and its error code (the frame's first slot). */
function fault(e: End): [number, bigint] {
  return [e.vector, e.stack[0]!];
}

describe('64-bit call gates from 64-bit mode', () => {
  it('CALL to the same privilege: CS and RIP as 8-byte slots, RIP with the gate\'s high half (code at 4 GiB), RETFQ back', () => {
    const code = [...CALL_FAR, 0x48, 0x89, 0xe5, HLT]; // call far [PTR]; mov rbp, rsp; hlt
    const e = everywhere(code, (m) => {
      gate(m, GATE, SEL_CODE64, HIGH + 0x10n);
      farPtr(m, GATE);
      m.mmu.writePhysBytes(HIGH_PHYS + 0x10, new Uint8Array([...RECORD.slice(0, 9), 0x49, 0x89, 0xe0, 0x41, 0x8c, 0xce, 0x48, 0x8d, 0x1d, ...le32(0), ...RETFQ])); // ...; lea rbx, [rip]
    });
    expect(e.regs[6]).toBe(BigInt(CODE64 + 7)); // the return RIP
    expect(e.regs[7]).toBe(BigInt(SEL_CODE64)); // CS, zero-extended
    expect(e.regs[8]).toBe(BigInt(STACK64 - 16));
    expect(e.regs[14]).toBe(BigInt(SEL_CODE64));
    expect(e.regs[3]).toBe(HIGH + 0x10n + 9n + 3n + 3n + 7n); // LEA at 4 GiB: the target's high half came from the gate
    expect(e.regs[5]).toBe(BigInt(STACK64)); // RETFQ popped both
    expect(e.rip).toBe(BigInt(CODE64 + code.length));
    expect([e.cpl, e.cs, e.ss]).toEqual([0, SEL_CODE64, 0x10]); // SS unchanged (flatMachine's)
  });

  it('CALL from CPL 3 to a DPL 1 segment: RSP1, SS = null with RPL 1, the frame SS, RSP, CS, RIP; RETFQ pops all four back to CPL 3', () => {
    const user = [...CALL_FAR, 0x49, 0x89, 0xe4, 0x41, 0x8c, 0xd7, HLT]; // call far [PTR]; mov r12, rsp; mov r15d, ss; hlt (#GP at CPL 3)
    const code = program(toUser(U), user, [...RECORD, ...RETFQ]);
    const e = everywhere(code, (m) => {
      gate(m, GATE, SEL_CODE_DPL1, BigInt(K), { dpl: 3 });
      farPtr(m, GATE | 3);
    });
    // in the gate's target (CPL 1)
    expect([e.regs[6], e.regs[7], e.regs[10], e.regs[11]]).toEqual([BigInt(U + 7), 0x33n, BigInt(STACK64), 0x2bn]);
    expect(e.regs[8]).toBe(BigInt(RSP1 - 32));
    expect(e.regs[9]).toBe(1n); // SS: null, RPL = 1
    expect(e.regs[14]).toBe(BigInt(SEL_CODE_DPL1 | 1));
    // back at CPL 3: RSP and SS restored; its HLT is #GP(0) on RSP0
    expect(e.regs[12]).toBe(BigInt(STACK64));
    expect(e.regs[15]).toBe(0x2bn);
    expect(e.vector).toBe(13);
    expect(e.stack).toEqual([0n, BigInt(U + 13), 0x33n, e.stack[3], BigInt(STACK64), 0x2bn]);
    expect(e.regs[4]).toBe(BigInt(RSP0 - 48));
  });

  it('the new stack: a non-canonical RSP1 is #SS(0), RSP1 beyond the TSS limit #TS(TR), both raised at CPL 3 with nothing changed', () => {
    const user = (setup: (m: Machine) => void): End => everywhere(program(toUser(U), CALL_FAR, []), (m) => { gate(m, GATE, SEL_CODE_DPL1, BigInt(K), { dpl: 3 }); farPtr(m, GATE); setup(m); });
    const ss = user((m) => m.mmu.writePhys(TSS + 16, 4, 0x8000)); // RSP1 = 0x0000_8000_0007_4000
    expect(fault(ss)).toEqual([12, 0n]);
    expect(ss.stack.slice(1)).toEqual([BigInt(U), 0x33n, ss.stack[3], BigInt(STACK64), 0x2bn]);
    const ts = user((m) => m.cpu.loadSystemCache(7, 0x38, TSS, 12 + 6, 0x8000 | (11 << 8))); // RSP1's last byte just past the limit
    expect(fault(ts)).toEqual([10, 0x38n]);
    expect(ts.stack[2]).toBe(0x33n);
  });

  it('JMP through a gate: to the target, nothing pushed; to a more privileged segment #GP(target)', () => {
    const e = everywhere([...JMP_FAR, HLT], (m) => {
      gate(m, GATE, SEL_CODE64, BigInt(K));
      farPtr(m, GATE);
      m.mmu.writePhysBytes(K, new Uint8Array([0xbb, ...le32(7), 0x41, 0x8c, 0xce, HLT])); // mov ebx, 7; mov r14d, cs; hlt
    });
    expect(e.regs[3]).toBe(7n);
    expect(e.regs[14]).toBe(BigInt(SEL_CODE64));
    expect(e.regs[4]).toBe(BigInt(STACK64));
    expect(e.rip).toBe(BigInt(K + 9));
    const up = everywhere(program(toUser(U), JMP_FAR, []), (m) => { gate(m, GATE, SEL_CODE_DPL1, BigInt(K), { dpl: 3 }); farPtr(m, GATE); });
    expect(fault(up)).toEqual([13, BigInt(SEL_CODE_DPL1)]);
    expect(up.stack[2]).toBe(0x33n); // raised at CPL 3
  });

  const call = (setup: (m: Machine) => void): End => everywhere(program([...CALL_FAR, HLT], [], [HLT]), (m) => { farPtr(m, GATE); setup(m); });

  it('#GP(selector): gate DPL < CPL; gate DPL < RPL', () => {
    const user = everywhere(program(toUser(U), CALL_FAR, []), (m) => { gate(m, GATE, SEL_CODE64, BigInt(K)); farPtr(m, GATE); }); // RPL 0: only the CPL fails
    expect(fault(user)).toEqual([13, BigInt(GATE)]);
    expect(user.stack[2]).toBe(0x33n);
    // from CPL 0, selector RPL 3 > gate DPL 2: only the RPL fails
    expect(fault(call((m) => { gate(m, GATE, SEL_CODE64, BigInt(K), { dpl: 2 }); farPtr(m, GATE | 3); }))).toEqual([13, BigInt(GATE)]);
    // the same gate with DPL 3 is taken
    expect(call((m) => { gate(m, GATE, SEL_CODE64, BigInt(K), { dpl: 3 }); farPtr(m, GATE | 3); }).rip).toBe(BigInt(K + 1));
  });

  it('#GP(selector): a 16-bit call gate (type 4), the upper half\'s type not 0, a task gate, a TSS, beyond the GDT limit; #NP(selector) not present', () => {
    expect(fault(call((m) => gate(m, GATE, SEL_CODE64, BigInt(K), { type: 4 })))).toEqual([13, BigInt(GATE)]);
    expect(fault(call((m) => gate(m, GATE, SEL_CODE64, BigInt(K), { hiType: 0xc })))).toEqual([13, BigInt(GATE)]);
    expect(fault(call((m) => gate(m, GATE, SEL_CODE64, BigInt(K), { hiType: 0x10 })))).toEqual([13, BigInt(GATE)]);
    expect(fault(call((m) => gate(m, GATE, 0x38, 0n, { type: 5 })))).toEqual([13, BigInt(GATE)]);
    expect(fault(call((m) => gate(m, GATE, 0, 0x67n, { type: 9 })))).toEqual([13, BigInt(GATE)]);
    expect(fault(call((m) => { gate(m, GATE, SEL_CODE64, BigInt(K)); m.cpu.gdtLimit = 0x4e; }))).toEqual([13, BigInt(GATE)]);
    expect(call((m) => { gate(m, GATE, SEL_CODE64, BigInt(K)); m.cpu.gdtLimit = 0x4f; }).rip).toBe(BigInt(K + 1)); // exactly 16 bytes in: taken
    expect(fault(call((m) => gate(m, GATE, SEL_CODE64, BigInt(K), { present: false })))).toEqual([11, BigInt(GATE)]);
  });

  it('#GP(target): a compatibility-mode (L = 0) target, L and D both set; #GP(0): a non-canonical target RIP, a null target', () => {
    expect(fault(call((m) => gate(m, GATE, 0x08, BigInt(K))))).toEqual([13, 0x08n]);
    expect(fault(call((m) => { gate(m, GATE, SEL_CODE_DPL1, BigInt(K)); m.mmu.writePhys(GDT + SEL_CODE_DPL1 + 4, 4, 0x00ef9a00); }))).toEqual([13, BigInt(SEL_CODE_DPL1)]);
    const nc = call((m) => gate(m, GATE, SEL_CODE64, 0x0000_8000_0000_0000n + BigInt(K)));
    expect(fault(nc)).toEqual([13, 0n]);
    expect(nc.stack[1]).toBe(BigInt(CODE64)); // a fault: the frame RIP is the CALL's
    // a null target selector (RPL 3 too) is #GP(0) whatever GDT entry 0 holds: here a 64-bit code descriptor
    expect(fault(call((m) => { gate(m, GATE, 3, BigInt(K)); m.mmu.writePhys(GDT, 4, 0x0000ffff); m.mmu.writePhys(GDT + 4, 4, 0x00af9a00); }))).toEqual([13, 0n]);
    expect(call((m) => gate(m, GATE, SEL_CODE64, 0xffff_8000_0000_0000n + BigInt(K))).vector).toBe(14); // canonical, not mapped: #PF on the fetch
  });
});

describe('RETFQ to an outer privilege', () => {
  const frame = (ss: number, cs: number): number[] => [
    0x6a, ss, 0x68, ...le32(STACK64 - 0x100), 0x6a, cs, 0x68, ...le32(K), ...RETFQ, // push ss; push rsp; push cs; push rip; retfq
  ];
  it('pops a null SS for 64-bit code below CPL 3 and nulls DS (DPL 0); a null SS for CPL 3 is #GP(0)', () => {
    const e = everywhere(program(frame(1, SEL_CODE_DPL1 | 1), [], [0x41, 0x8c, 0xd1, 0x41, 0x8c, 0xda, 0x49, 0x89, 0xe0, HLT]), () => {}); // mov r9d, ss; mov r10d, ds; mov r8, rsp; hlt (#GP at CPL 1)
    expect([e.regs[9], e.regs[10], e.regs[8]]).toEqual([1n, 0n, BigInt(STACK64 - 0x100)]);
    expect(e.vector).toBe(13);
    expect(e.stack.slice(2)).toEqual([BigInt(SEL_CODE_DPL1 | 1), e.stack[3], BigInt(STACK64 - 0x100), 1n]);
    const bad = everywhere(program(frame(3, 0x33), [], [HLT]), () => {});
    expect(fault(bad)).toEqual([13, 0n]);
    expect(bad.stack[1]).toBe(BigInt(CODE64 + 14)); // at the RETFQ, CPL 0
  });
});

describe('64-bit call gates from compatibility mode', () => {
  const COMPAT_CALL = [0xff, 0x1d, ...le32(PTR)]; // call far [PTR] (m16:32)
  it('CALL from compatibility mode to 64-bit code: 8-byte slots on SS:ESP, RETFQ back to compatibility mode', () => {
    const compat = [...COMPAT_CALL, 0x89, 0xe5, HLT]; // call far [PTR]; mov ebp, esp; hlt
    const e = everywhere([...RECORD.slice(0, 9), 0x49, 0x89, 0xe0, 0x41, 0x8c, 0xce, ...RETFQ], (m) => {
      gate(m, GATE, SEL_CODE64, BigInt(CODE64));
      farPtr(m, GATE);
    }, compat);
    const at = CODE + enterLongMode().length - 7;
    expect([e.regs[6], e.regs[7]]).toEqual([BigInt(at + 6), 0x08n]);
    expect(e.regs[8]).toBe(BigInt(STACK64 - 16));
    expect(e.regs[14]).toBe(BigInt(SEL_CODE64));
    expect(e.regs[5]).toBe(BigInt(STACK64));
    expect(e.rip).toBe(BigInt(at + compat.length));
    expect(e.cs).toBe(0x08);
  });

  it('#GP(selector) there for a task gate, a TSS and a 16-bit call gate, raised in compatibility mode', () => {
    for (const [type, target] of [[5, 0x38], [9, 0], [4, SEL_CODE64]] as const) {
      const e = everywhere([HLT], (m) => { gate(m, GATE, target, BigInt(CODE64), { type }); farPtr(m, GATE); }, [...COMPAT_CALL, HLT]);
      expect(fault(e)).toEqual([13, BigInt(GATE)]);
      expect(e.stack[2]).toBe(0x08n);
    }
    const jmp = everywhere([HLT], (m) => { gate(m, GATE, 0x38, 0n, { type: 5 }); farPtr(m, GATE); }, [0xff, 0x2d, ...le32(PTR), HLT]);
    expect(fault(jmp)).toEqual([13, BigInt(GATE)]);
  });
});
