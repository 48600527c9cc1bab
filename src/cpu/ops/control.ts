/**
 * Control transfer: near jumps, calls and returns (Jcc, JMP, CALL, RET,
 * LOOPcc, JCXZ, group 5), far ones (JMP/CALL ptr, RET far, IRET, through
 * ../transfer.ts), software interrupts (INT n, INT3, INTO, INT1), BOUND,
 * and SYSENTER/SYSEXIT.
 *
 * Rule for every handler (execute.ts): memory first, registers last.
 */
import { dec, inc } from '../alu.js';
import { CS, V_BP, V_BR, V_OF } from '../constants.js';
import type { Cpu } from '../cpu.js';
import { deliverInterrupt, farCall, farJump, farReturn, iret, sysenter, sysexit } from '../transfer.js';
import { imm, imm8s, lockCheck, span, type OpcodeEntry } from './common.js';

/** Near branch: EIP + displacement, masked to the operand size, checked against the CS limit. */
function jumpRel(c: Cpu, disp: number): void {
  let target = (c.eip + disp) | 0;
  if (!c.o32) target &= 0xffff;
  jumpAbs(c, target);
}

function jumpAbs(c: Cpu, target: number): void {
  if (!c.o32) target &= 0xffff;
  if (c.protectedMode || (c.segLimit[CS]! | 0) !== -1) {
    if ((target >>> 0) > (c.segLimit[CS]! >>> 0)) c.gp(0);
  }
  c.eip = target;
}

/** INT n / INT3 / INTO: a software interrupt (gate DPL checked; v86 needs IOPL 3). */
function softInt(c: Cpu, vector: number): void {
  deliverInterrupt(c, vector, 'software', false, 0);
}

function deliverInterruptSoft(c: Cpu, vector: number, asExternal: boolean): void {
  deliverInterrupt(c, vector, asExternal ? 'external' : 'software', false, 0);
}

/** Group 5: INC, DEC, CALL near, CALL far, JMP near, JMP far, PUSH (Ev). */
function group5(c: Cpu): void {
  c.decodeModrm();
  const o = c.regField;
  lockCheck(c, o <= 1);
  if (o <= 1 && c.modrm < 0xc0) c.saveFlags(); // INC/DEC set flags before their write
  switch (o) {
    case 0:
      if (c.o32) c.writeRmW32(inc(c, c.readRmW32(), 32));
      else c.writeRmW16(inc(c, c.readRmW16(), 16));
      return;
    case 1:
      if (c.o32) c.writeRmW32(dec(c, c.readRmW32(), 32));
      else c.writeRmW16(dec(c, c.readRmW16(), 16));
      return;
    case 2: { // CALL near indirect
      const target = c.o32 ? c.readRm32() : c.readRm16();
      if ((target >>> 0) > (c.segLimit[CS]! >>> 0) && (c.protectedMode || c.segLimit[CS] !== -1)) c.gp(0);
      c.pushOp(c.eip);
      c.eip = target;
      return;
    }
    case 3: case 5: { // CALL/JMP far m16:16/32
      if (c.modrm >= 0xc0) c.ud();
      const off = c.o32 ? c.rd32(c.eaSeg, c.eaOff) : c.rd16(c.eaSeg, c.eaOff);
      const sel = c.rd16(c.eaSeg, (c.eaOff + (c.o32 ? 4 : 2)) & (c.a32 ? -1 : 0xffff));
      if (o === 3) farCall(c, sel, off);
      else farJump(c, sel, off);
      return;
    }
    case 4: jumpAbs(c, c.o32 ? c.readRm32() : c.readRm16()); return;
    case 6: c.pushOp(c.o32 ? c.readRm32() : c.readRm16()); return;
    default: c.ud();
  }
}

function op62(c: Cpu): void {
  // BOUND
  c.decodeModrm();
  lockCheck(c, false);
  if (c.modrm >= 0xc0) c.ud();
  if (c.o32) {
    const idx = c.reg32[c.regField]!;
    const lo = c.rd32(c.eaSeg, c.eaOff);
    const hi = c.rd32(c.eaSeg, (c.eaOff + 4) | 0);
    if (idx < lo || idx > hi) c.trap(V_BR);
  } else {
    const idx = (c.reg16[c.regField << 1]! << 16) >> 16;
    const lo = (c.rd16(c.eaSeg, c.eaOff) << 16) >> 16;
    const hi = (c.rd16(c.eaSeg, (c.eaOff + 2) & (c.a32 ? -1 : 0xffff)) << 16) >> 16;
    if (idx < lo || idx > hi) c.trap(V_BR);
  }
}

function op70(c: Cpu, op: number): void {
  lockCheck(c, false);
  const d = imm8s(c);
  if (c.cond(op & 15)) jumpRel(c, d);
}

function op9a(c: Cpu): void {
  // CALL ptr16:16/32
  lockCheck(c, false);
  const off = imm(c);
  const sel = c.fetch16();
  farCall(c, sel, off);
}

function opc2(c: Cpu, op: number): void {
  // RET near [imm16]
  lockCheck(c, false);
  const n = op === 0xc2 ? c.fetch16() : 0;
  const target = c.peekOp(0);
  jumpAbs(c, target);
  c.addSp((c.o32 ? 4 : 2) + n);
}

function opca(c: Cpu): void {
  lockCheck(c, false); farReturn(c, c.fetch16());
}

function opcb(c: Cpu): void {
  lockCheck(c, false); farReturn(c, 0);
}

function opcc(c: Cpu): void {
  lockCheck(c, false); softInt(c, V_BP);
}

function opcd(c: Cpu): void {
  lockCheck(c, false); const v = c.fetch8(); softInt(c, v);
}

function opce(c: Cpu): void {
  lockCheck(c, false); if (c.getOF()) softInt(c, V_OF);
}

function opcf(c: Cpu): void {
  lockCheck(c, false); iret(c); c.pollIntr = true;
}

function ope0(c: Cpu, op: number): void {
  // LOOPNE/LOOPE/LOOP
  lockCheck(c, false);
  const d = imm8s(c);
  const count = c.a32 ? (c.reg32[1]! - 1) | 0 : (c.reg16[2]! - 1) & 0xffff;
  const taken = count !== 0 && (op === 0xe2 || (op === 0xe1 ? c.getZF() !== 0 : c.getZF() === 0));
  if (taken) jumpRel(c, d);
  if (c.a32) c.reg32[1] = count;
  else c.reg16[2] = count;
}

function ope3(c: Cpu): void {
  // JCXZ/JECXZ
  lockCheck(c, false);
  const d = imm8s(c);
  if ((c.a32 ? c.reg32[1]! : c.reg16[2]!) === 0) jumpRel(c, d);
}

function ope8(c: Cpu): void {
  // CALL rel
  lockCheck(c, false);
  const d = imm(c);
  const ret = c.eip;
  let target = (c.eip + d) | 0;
  if (!c.o32) target &= 0xffff;
  if ((target >>> 0) > (c.segLimit[CS]! >>> 0) && (c.protectedMode || c.segLimit[CS] !== -1)) c.gp(0);
  c.pushOp(ret);
  c.eip = target;
}

function ope9(c: Cpu): void {
  lockCheck(c, false); const d = imm(c); jumpRel(c, d);
}

function opea(c: Cpu): void {
  lockCheck(c, false); const off = imm(c); const sel = c.fetch16(); farJump(c, sel, off);
}

function opeb(c: Cpu): void {
  lockCheck(c, false); const d = imm8s(c); jumpRel(c, d);
}

function opf1(c: Cpu): void {
  lockCheck(c, false); deliverInterruptSoft(c, 1, true); // INT1 (ICEBP)
}

function opff(c: Cpu): void {
  group5(c);
}

function op0f34(c: Cpu): void {
  lockCheck(c, false); sysenter(c);
}

function op0f35(c: Cpu): void {
  lockCheck(c, false); sysexit(c);
}

function op0f80(c: Cpu, op: number): void {
  lockCheck(c, false);
  const d = imm(c);
  if (c.cond(op & 15)) jumpRel(c, d);
}

export const CONTROL_OPCODES: readonly OpcodeEntry[] = [
  { map: 'one', opcodes: [0x62], handler: op62, mnemonic: 'BOUND Gv, Ma', flow: 'next', modrm: true, imm: 'none', long: 'invalid' },
  { map: 'one', opcodes: span(0x70, 0x7f), handler: op70, mnemonic: 'Jcc rel8', flow: 'jump', modrm: false, imm: 'Ib', long: 'f64' },
  { map: 'one', opcodes: [0x9a], handler: op9a, mnemonic: 'CALL ptr16:16/32', flow: 'end', modrm: false, imm: 'Ap', long: 'invalid' },
  { map: 'one', opcodes: [0xc2], handler: opc2, mnemonic: 'RET near Iw', flow: 'jump', modrm: false, imm: 'Iw', long: 'f64' },
  { map: 'one', opcodes: [0xc3], handler: opc2, mnemonic: 'RET near', flow: 'jump', modrm: false, imm: 'none', long: 'f64' },
  { map: 'one', opcodes: [0xca], handler: opca, mnemonic: 'RET far Iw', flow: 'end', modrm: false, imm: 'Iw' },
  { map: 'one', opcodes: [0xcb], handler: opcb, mnemonic: 'RET far', flow: 'end', modrm: false, imm: 'none' },
  { map: 'one', opcodes: [0xcc], handler: opcc, mnemonic: 'INT3', flow: 'end', modrm: false, imm: 'none' },
  { map: 'one', opcodes: [0xcd], handler: opcd, mnemonic: 'INT Ib', flow: 'end', modrm: false, imm: 'Ib' },
  { map: 'one', opcodes: [0xce], handler: opce, mnemonic: 'INTO', flow: 'end', modrm: false, imm: 'none', long: 'invalid' },
  { map: 'one', opcodes: [0xcf], handler: opcf, mnemonic: 'IRET/IRETD', flow: 'end', modrm: false, imm: 'none' },
  { map: 'one', opcodes: [0xe0, 0xe1, 0xe2], handler: ope0, mnemonic: 'LOOPNE/LOOPE/LOOP rel8', flow: 'jump', modrm: false, imm: 'Ib', long: 'f64' },
  { map: 'one', opcodes: [0xe3], handler: ope3, mnemonic: 'JCXZ/JECXZ rel8', flow: 'jump', modrm: false, imm: 'Ib', long: 'f64' },
  { map: 'one', opcodes: [0xe8], handler: ope8, mnemonic: 'CALL rel16/32', flow: 'jump', modrm: false, imm: 'Iz', long: 'f64' },
  { map: 'one', opcodes: [0xe9], handler: ope9, mnemonic: 'JMP rel16/32', flow: 'jump', modrm: false, imm: 'Iz', long: 'f64' },
  { map: 'one', opcodes: [0xea], handler: opea, mnemonic: 'JMP ptr16:16/32', flow: 'end', modrm: false, imm: 'Ap', long: 'invalid' },
  { map: 'one', opcodes: [0xeb], handler: opeb, mnemonic: 'JMP rel8', flow: 'jump', modrm: false, imm: 'Ib', long: 'f64' },
  { map: 'one', opcodes: [0xf1], handler: opf1, mnemonic: 'INT1 (ICEBP)', flow: 'end', modrm: false, imm: 'none' },
  { map: 'one', opcodes: [0xff], handler: opff, mnemonic: 'group 5 (INC DEC CALL CALLF JMP JMPF PUSH Ev)', flow: 'end', modrm: true, imm: 'none',
    longByReg: [undefined, undefined, 'f64', undefined, 'f64', undefined, 'd64', undefined] },
  { map: '0f', opcodes: [0x34], handler: op0f34, mnemonic: 'SYSENTER', flow: 'end', modrm: false, imm: 'none' },
  { map: '0f', opcodes: [0x35], handler: op0f35, mnemonic: 'SYSEXIT', flow: 'end', modrm: false, imm: 'none' },
  { map: '0f', opcodes: span(0x80, 0x8f), handler: op0f80, mnemonic: 'Jcc rel16/32', flow: 'jump', modrm: false, imm: 'Iz', long: 'f64' },
];
