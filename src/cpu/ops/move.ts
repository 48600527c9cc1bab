/**
 * Moves and the stack: MOV in all its forms (register, memory, immediate,
 * moffs, segment registers), LEA, XCHG, MOVZX/MOVSX, CMOVcc, SETcc,
 * CBW/CWD, XLAT, NOP, PUSH/POP (registers, segment registers, immediates,
 * Ev), PUSHA/POPA, ENTER/LEAVE and the far-pointer loads LDS/LES/LSS/LFS/LGS.
 *
 * Rule for every handler (execute.ts): memory first, registers last.
 */
import { CS, DS, ES, FS, GS, SS, EBP, ESP } from '../constants.js';
import { R8, type Cpu } from '../cpu.js';
import { loadSegment } from '../segments.js';
import { imm, imm8s, lockCheck, span, type OpcodeEntry } from './common.js';

/** A moffs operand (A0-A3): address-size offset. */
function moffs(c: Cpu): number {
  return c.a32 ? c.fetch32() : c.fetch16();
}

function op06(c: Cpu): void {
  lockCheck(c, false); c.pushOp(c.segSel[ES]!);
}

function op0e(c: Cpu): void {
  lockCheck(c, false); c.pushOp(c.segSel[CS]!);
}

function op16(c: Cpu): void {
  lockCheck(c, false); c.pushOp(c.segSel[SS]!);
}

function op1e(c: Cpu): void {
  lockCheck(c, false); c.pushOp(c.segSel[DS]!);
}

function op07(c: Cpu, op: number): void {
  lockCheck(c, false);
  const seg = op === 0x07 ? ES : op === 0x17 ? SS : DS;
  const v = c.peekOp(0) & 0xffff;
  loadSegment(c, seg, v);
  c.addSp(c.o32 ? 4 : 2);
  if (seg === SS) c.intShadow = true, c.pollIntr = true;
}

function op50(c: Cpu, op: number): void {
  lockCheck(c, false);
  if (c.o32) c.push32(c.reg32[op & 7]!);
  else c.push16(c.reg16[(op & 7) << 1]!);
}

function op58(c: Cpu, op: number): void {
  lockCheck(c, false);
  const v = c.popOp();
  if (c.o32) c.reg32[op & 7] = v;
  else c.reg16[(op & 7) << 1] = v;
}

function op60(c: Cpu): void {
  // PUSHA/PUSHAD
  lockCheck(c, false);
  const sp = c.reg32[ESP]!;
  const size = c.o32 ? 4 : 2;
  const base = c.sp;
  for (let r = 0; r < 8; r++) {
    const v = r === ESP ? (c.o32 ? sp : sp & 0xffff) : c.o32 ? c.reg32[r]! : c.reg16[r << 1]!;
    const off = c.stackBig ? (base - (r + 1) * size) | 0 : (base - (r + 1) * size) & 0xffff;
    if (size === 4) c.wr32(SS, off, v);
    else c.wr16(SS, off, v);
  }
  c.addSp(-8 * size);
}

function op61(c: Cpu): void {
  // POPA/POPAD (the ESP slot is skipped)
  lockCheck(c, false);
  const size = c.o32 ? 4 : 2;
  const base = c.sp;
  const vals: number[] = [];
  for (let r = 7; r >= 0; r--) {
    const off = c.stackBig ? (base + (7 - r) * size) | 0 : (base + (7 - r) * size) & 0xffff;
    vals[r] = size === 4 ? c.rd32(SS, off) : c.rd16(SS, off);
  }
  for (let r = 0; r < 8; r++) {
    if (r === ESP) continue;
    if (size === 4) c.reg32[r] = vals[r]!;
    else c.reg16[r << 1] = vals[r]!;
  }
  c.addSp(8 * size);
}

function op68(c: Cpu): void {
  lockCheck(c, false); c.pushOp(imm(c));
}

function op6a(c: Cpu): void {
  lockCheck(c, false); c.pushOp(imm8s(c));
}

function op86(c: Cpu): void {
  // XCHG Eb, Gb (implicitly locked)
  c.decodeModrm();
  lockCheck(c, true);
  const g = R8[c.regField]!;
  const a = c.readRmW8(); // read with write intent (Cpu.rdw8)
  c.writeRmW8(c.reg8[g]!);
  c.reg8[g] = a;
}

function op87(c: Cpu): void {
  c.decodeModrm();
  lockCheck(c, true);
  if (c.o32) {
    const a = c.readRmW32();
    c.writeRmW32(c.reg32[c.regField]!);
    c.reg32[c.regField] = a;
  } else {
    const a = c.readRmW16();
    c.writeRmW16(c.reg16[c.regField << 1]!);
    c.reg16[c.regField << 1] = a;
  }
}

function op88(c: Cpu): void {
  c.decodeModrm(); lockCheck(c, false); c.writeRm8(c.reg8[R8[c.regField]!]!);
}

function op89(c: Cpu): void {
  c.decodeModrm();
  lockCheck(c, false);
  if (c.o32) c.writeRm32(c.reg32[c.regField]!);
  else c.writeRm16(c.reg16[c.regField << 1]!);
}

function op8a(c: Cpu): void {
  c.decodeModrm(); lockCheck(c, false); c.reg8[R8[c.regField]!] = c.readRm8();
}

function op8b(c: Cpu): void {
  c.decodeModrm();
  lockCheck(c, false);
  if (c.o32) c.reg32[c.regField] = c.readRm32();
  else c.reg16[c.regField << 1] = c.readRm16();
}

function op8c(c: Cpu): void {
  // MOV Ev, Sreg (register destination: zero-extended with a 32-bit operand)
  c.decodeModrm();
  lockCheck(c, false);
  const s = c.regField;
  if (s > 5) c.ud();
  if (c.modrm >= 0xc0) {
    if (c.o32) c.reg32[c.modrm & 7] = c.segSel[s]!;
    else c.reg16[(c.modrm & 7) << 1] = c.segSel[s]!;
  } else {
    c.wr16(c.eaSeg, c.eaOff, c.segSel[s]!);
  }
}

function op8d(c: Cpu): void {
  // LEA
  c.decodeModrm();
  lockCheck(c, false);
  if (c.modrm >= 0xc0) c.ud();
  if (c.o32) c.reg32[c.regField] = c.eaOff;
  else c.reg16[c.regField << 1] = c.eaOff;
}

function op8e(c: Cpu): void {
  // MOV Sreg, Ew
  c.decodeModrm();
  lockCheck(c, false);
  const s = c.regField;
  if (s === CS || s > 5) c.ud();
  loadSegment(c, s, c.readRm16());
  if (s === SS) c.intShadow = true, c.pollIntr = true;
}

function op8f(c: Cpu): void {
  // POP Ev (the address is computed with ESP already incremented)
  const size = c.o32 ? 4 : 2;
  const v = c.peekOp(0);
  c.addSp(size);
  try {
    c.decodeModrm();
    lockCheck(c, false);
    if (c.regField !== 0) c.ud();
    if (c.o32) c.writeRm32(v);
    else c.writeRm16(v);
  } catch (e) {
    c.addSp(-size);
    throw e;
  }
}

/** NOP (F3 90 is PAUSE) */
function op90(c: Cpu): void {
  lockCheck(c, false);
}

function op91(c: Cpu, op: number): void {
  lockCheck(c, false);
  const r = op & 7;
  if (c.o32) {
    const t = c.reg32[0]!;
    c.reg32[0] = c.reg32[r]!;
    c.reg32[r] = t;
  } else {
    const t = c.reg16[0]!;
    c.reg16[0] = c.reg16[r << 1]!;
    c.reg16[r << 1] = t;
  }
}

function op98(c: Cpu): void {
  lockCheck(c, false); if (c.o32) c.reg32[0] = (c.reg16[0]! << 16) >> 16; else c.reg16[0] = (c.reg8[0]! << 24) >> 24;
}

function op99(c: Cpu): void {
  lockCheck(c, false); if (c.o32) c.reg32[2] = c.reg32[0]! >> 31; else c.reg16[4] = (c.reg16[0]! << 16) >> 31;
}

function opa0(c: Cpu): void {
  lockCheck(c, false); const o = moffs(c); c.reg8[0] = c.rd8(c.segOverride >= 0 ? c.segOverride : DS, o);
}

function opa1(c: Cpu): void {
  lockCheck(c, false);
  const o = moffs(c);
  const s = c.segOverride >= 0 ? c.segOverride : DS;
  if (c.o32) c.reg32[0] = c.rd32(s, o);
  else c.reg16[0] = c.rd16(s, o);
}

function opa2(c: Cpu): void {
  lockCheck(c, false); const o = moffs(c); c.wr8(c.segOverride >= 0 ? c.segOverride : DS, o, c.reg8[0]!);
}

function opa3(c: Cpu): void {
  lockCheck(c, false);
  const o = moffs(c);
  const s = c.segOverride >= 0 ? c.segOverride : DS;
  if (c.o32) c.wr32(s, o, c.reg32[0]!);
  else c.wr16(s, o, c.reg16[0]!);
}

function opb0(c: Cpu, op: number): void {
  lockCheck(c, false);
  c.reg8[R8[op & 7]!] = c.fetch8();
}

function opb8(c: Cpu, op: number): void {
  lockCheck(c, false);
  if (c.o32) c.reg32[op & 7] = c.fetch32();
  else c.reg16[(op & 7) << 1] = c.fetch16();
}

function opc4(c: Cpu, op: number): void {
  // LES/LDS
  c.decodeModrm();
  lockCheck(c, false);
  if (c.modrm >= 0xc0) c.ud();
  const off = c.o32 ? c.rd32(c.eaSeg, c.eaOff) : c.rd16(c.eaSeg, c.eaOff);
  const sel = c.rd16(c.eaSeg, (c.eaOff + (c.o32 ? 4 : 2)) & (c.a32 ? -1 : 0xffff));
  loadSegment(c, op === 0xc4 ? ES : DS, sel);
  if (c.o32) c.reg32[c.regField] = off;
  else c.reg16[c.regField << 1] = off;
}

function opc6(c: Cpu): void {
  c.decodeModrm(); lockCheck(c, false); if (c.regField !== 0) c.ud(); c.writeRm8(c.fetch8());
}

function opc7(c: Cpu): void {
  c.decodeModrm();
  lockCheck(c, false);
  if (c.regField !== 0) c.ud();
  if (c.o32) c.writeRm32(c.fetch32());
  else c.writeRm16(c.fetch16());
}

function opc8(c: Cpu): void {
  // ENTER imm16, imm8
  lockCheck(c, false);
  const size = c.fetch16();
  const level = c.fetch8() & 31;
  const w = c.o32 ? 4 : 2;
  const ebp = c.reg32[EBP]!;
  let sp = c.sp;
  const push = (v: number): void => {
    sp = c.stackBig ? (sp - w) | 0 : (sp - w) & 0xffff;
    if (w === 4) c.wr32(SS, sp, v);
    else c.wr16(SS, sp, v);
  };
  push(c.o32 ? ebp : ebp & 0xffff);
  const frame = sp;
  let bp = c.stackBig ? ebp : ebp & 0xffff;
  for (let i = 1; i < level; i++) {
    bp = c.stackBig ? (bp - w) | 0 : (bp - w) & 0xffff;
    push(w === 4 ? c.rd32(SS, bp) : c.rd16(SS, bp));
  }
  if (level > 0) push(frame);
  const newSp = c.stackBig ? (sp - size) | 0 : (sp - size) & 0xffff;
  // The final stack must be writable (SDM: ENTER checks the new ESP).
  if (size > 0) c.probeWrite(SS, newSp, 1);
  if (c.o32) c.reg32[EBP] = frame;
  else c.reg16[10] = frame;
  c.setSp(newSp);
}

function opc9(c: Cpu): void {
  // LEAVE
  lockCheck(c, false);
  const bp = c.stackBig ? c.reg32[EBP]! : c.reg16[10]!;
  const v = c.o32 ? c.rd32(SS, bp) : c.rd16(SS, bp);
  c.setSp(bp);
  c.addSp(c.o32 ? 4 : 2);
  if (c.o32) c.reg32[EBP] = v;
  else c.reg16[10] = v;
}

function opd7(c: Cpu): void {
  // XLAT
  lockCheck(c, false);
  const off = c.a32 ? (c.reg32[3]! + c.reg8[0]!) | 0 : (c.reg16[6]! + c.reg8[0]!) & 0xffff;
  c.reg8[0] = c.rd8(c.segOverride >= 0 ? c.segOverride : DS, off);
}

function op0f40(c: Cpu, op: number): void {
  // CMOVcc: the source is read either way
  c.decodeModrm();
  lockCheck(c, false);
  if (c.o32) {
    const v = c.readRm32();
    if (c.cond(op & 15)) c.reg32[c.regField] = v;
  } else {
    const v = c.readRm16();
    if (c.cond(op & 15)) c.reg16[c.regField << 1] = v;
  }
}

function op0f90(c: Cpu, op: number): void {
  c.decodeModrm();
  lockCheck(c, false);
  c.writeRm8(c.cond(op & 15) ? 1 : 0);
}

function op0fa0(c: Cpu): void {
  lockCheck(c, false); c.pushOp(c.segSel[FS]!);
}

function op0fa8(c: Cpu): void {
  lockCheck(c, false); c.pushOp(c.segSel[GS]!);
}

function op0fa1(c: Cpu, op: number): void {
  lockCheck(c, false);
  const v = c.peekOp(0) & 0xffff;
  loadSegment(c, op === 0xa1 ? FS : GS, v);
  c.addSp(c.o32 ? 4 : 2);
}

function op0fb2(c: Cpu, op: number): void {
  // LSS, LFS, LGS
  c.decodeModrm();
  lockCheck(c, false);
  if (c.modrm >= 0xc0) c.ud();
  const off = c.o32 ? c.rd32(c.eaSeg, c.eaOff) : c.rd16(c.eaSeg, c.eaOff);
  const sel = c.rd16(c.eaSeg, (c.eaOff + (c.o32 ? 4 : 2)) & (c.a32 ? -1 : 0xffff));
  const seg = op === 0xb2 ? SS : op === 0xb4 ? FS : GS;
  loadSegment(c, seg, sel);
  if (c.o32) c.reg32[c.regField] = off;
  else c.reg16[c.regField << 1] = off;
  if (seg === SS) c.intShadow = true, c.pollIntr = true;
}

function op0fb6(c: Cpu, op: number): void {
  // MOVZX/MOVSX
  c.decodeModrm();
  lockCheck(c, false);
  let v: number;
  if (op & 1) {
    v = c.readRm16();
    if (op === 0xbf) v = (v << 16) >> 16;
  } else {
    v = c.readRm8();
    if (op === 0xbe) v = (v << 24) >> 24;
  }
  if (c.o32) c.reg32[c.regField] = v;
  else c.reg16[c.regField << 1] = v;
}

export const MOVE_OPCODES: readonly OpcodeEntry[] = [
  { map: 'one', opcodes: [0x06], handler: op06, mnemonic: 'PUSH ES', flow: 'next', modrm: false, imm: 'none', long: 'invalid' },
  { map: 'one', opcodes: [0x0e], handler: op0e, mnemonic: 'PUSH CS', flow: 'next', modrm: false, imm: 'none', long: 'invalid' },
  { map: 'one', opcodes: [0x16], handler: op16, mnemonic: 'PUSH SS', flow: 'next', modrm: false, imm: 'none', long: 'invalid' },
  { map: 'one', opcodes: [0x1e], handler: op1e, mnemonic: 'PUSH DS', flow: 'next', modrm: false, imm: 'none', long: 'invalid' },
  { map: 'one', opcodes: [0x07, 0x17, 0x1f], handler: op07, mnemonic: 'POP ES/SS/DS', flow: 'end', modrm: false, imm: 'none', long: 'invalid' },
  { map: 'one', opcodes: span(0x50, 0x57), handler: op50, mnemonic: 'PUSH r16/32', flow: 'next', modrm: false, imm: 'none', long: 'd64' },
  { map: 'one', opcodes: span(0x58, 0x5f), handler: op58, mnemonic: 'POP r16/32', flow: 'next', modrm: false, imm: 'none', long: 'd64' },
  { map: 'one', opcodes: [0x60], handler: op60, mnemonic: 'PUSHA/PUSHAD', flow: 'next', modrm: false, imm: 'none', long: 'invalid' },
  { map: 'one', opcodes: [0x61], handler: op61, mnemonic: 'POPA/POPAD', flow: 'next', modrm: false, imm: 'none', long: 'invalid' },
  { map: 'one', opcodes: [0x68], handler: op68, mnemonic: 'PUSH Iv', flow: 'next', modrm: false, imm: 'Iz', long: 'd64' },
  { map: 'one', opcodes: [0x6a], handler: op6a, mnemonic: 'PUSH Ib', flow: 'next', modrm: false, imm: 'Ib', long: 'd64' },
  { map: 'one', opcodes: [0x86], handler: op86, mnemonic: 'XCHG Eb, Gb', flow: 'next', modrm: true, imm: 'none' },
  { map: 'one', opcodes: [0x87], handler: op87, mnemonic: 'XCHG Ev, Gv', flow: 'next', modrm: true, imm: 'none' },
  { map: 'one', opcodes: [0x88], handler: op88, mnemonic: 'MOV Eb, Gb', flow: 'next', modrm: true, imm: 'none' },
  { map: 'one', opcodes: [0x89], handler: op89, mnemonic: 'MOV Ev, Gv', flow: 'next', modrm: true, imm: 'none' },
  { map: 'one', opcodes: [0x8a], handler: op8a, mnemonic: 'MOV Gb, Eb', flow: 'next', modrm: true, imm: 'none' },
  { map: 'one', opcodes: [0x8b], handler: op8b, mnemonic: 'MOV Gv, Ev', flow: 'next', modrm: true, imm: 'none' },
  { map: 'one', opcodes: [0x8c], handler: op8c, mnemonic: 'MOV Ev, Sreg', flow: 'next', modrm: true, imm: 'none' },
  { map: 'one', opcodes: [0x8d], handler: op8d, mnemonic: 'LEA Gv, M', flow: 'next', modrm: true, imm: 'none' },
  { map: 'one', opcodes: [0x8e], handler: op8e, mnemonic: 'MOV Sreg, Ew', flow: 'end', modrm: true, imm: 'none' },
  { map: 'one', opcodes: [0x8f], handler: op8f, mnemonic: 'POP Ev', flow: 'next', modrm: true, imm: 'none', long: 'd64' },
  { map: 'one', opcodes: [0x90], handler: op90, mnemonic: 'NOP (F3 90: PAUSE)', flow: 'next', modrm: false, imm: 'none' },
  { map: 'one', opcodes: span(0x91, 0x97), handler: op91, mnemonic: 'XCHG eAX, r16/32', flow: 'next', modrm: false, imm: 'none' },
  { map: 'one', opcodes: [0x98], handler: op98, mnemonic: 'CBW/CWDE', flow: 'next', modrm: false, imm: 'none' },
  { map: 'one', opcodes: [0x99], handler: op99, mnemonic: 'CWD/CDQ', flow: 'next', modrm: false, imm: 'none' },
  { map: 'one', opcodes: [0xa0], handler: opa0, mnemonic: 'MOV AL, moffs', flow: 'next', modrm: false, imm: 'moffs' },
  { map: 'one', opcodes: [0xa1], handler: opa1, mnemonic: 'MOV eAX, moffs', flow: 'next', modrm: false, imm: 'moffs' },
  { map: 'one', opcodes: [0xa2], handler: opa2, mnemonic: 'MOV moffs, AL', flow: 'next', modrm: false, imm: 'moffs' },
  { map: 'one', opcodes: [0xa3], handler: opa3, mnemonic: 'MOV moffs, eAX', flow: 'next', modrm: false, imm: 'moffs' },
  { map: 'one', opcodes: span(0xb0, 0xb7), handler: opb0, mnemonic: 'MOV r8, Ib', flow: 'next', modrm: false, imm: 'Ib' },
  { map: 'one', opcodes: span(0xb8, 0xbf), handler: opb8, mnemonic: 'MOV r16/32, Iv', flow: 'next', modrm: false, imm: 'Iz', long: 'imm64' },
  { map: 'one', opcodes: [0xc4, 0xc5], handler: opc4, mnemonic: 'LES/LDS Gv, Mp', flow: 'end', modrm: true, imm: 'none', long: 'invalid' },
  { map: 'one', opcodes: [0xc6], handler: opc6, mnemonic: 'MOV Eb, Ib', flow: 'next', modrm: true, imm: 'Ib' },
  { map: 'one', opcodes: [0xc7], handler: opc7, mnemonic: 'MOV Ev, Iv', flow: 'next', modrm: true, imm: 'Iz' },
  { map: 'one', opcodes: [0xc8], handler: opc8, mnemonic: 'ENTER Iw, Ib', flow: 'next', modrm: false, imm: 'IwIb', long: 'd64' },
  { map: 'one', opcodes: [0xc9], handler: opc9, mnemonic: 'LEAVE', flow: 'next', modrm: false, imm: 'none', long: 'd64' },
  { map: 'one', opcodes: [0xd7], handler: opd7, mnemonic: 'XLAT', flow: 'next', modrm: false, imm: 'none' },
  { map: '0f', opcodes: span(0x40, 0x4f), handler: op0f40, mnemonic: 'CMOVcc Gv, Ev', flow: 'next', modrm: true, imm: 'none' },
  { map: '0f', opcodes: span(0x90, 0x9f), handler: op0f90, mnemonic: 'SETcc Eb', flow: 'next', modrm: true, imm: 'none' },
  { map: '0f', opcodes: [0xa0], handler: op0fa0, mnemonic: 'PUSH FS', flow: 'next', modrm: false, imm: 'none', long: 'd64' },
  { map: '0f', opcodes: [0xa8], handler: op0fa8, mnemonic: 'PUSH GS', flow: 'next', modrm: false, imm: 'none', long: 'd64' },
  { map: '0f', opcodes: [0xa1, 0xa9], handler: op0fa1, mnemonic: 'POP FS/GS', flow: 'end', modrm: false, imm: 'none', long: 'd64' },
  { map: '0f', opcodes: [0xb2, 0xb4, 0xb5], handler: op0fb2, mnemonic: 'LSS/LFS/LGS Gv, Mp', flow: 'end', modrm: true, imm: 'none' },
  { map: '0f', opcodes: [0xb6, 0xb7, 0xbe, 0xbf], handler: op0fb6, mnemonic: 'MOVZX/MOVSX Gv, Eb/Ew', flow: 'next', modrm: true, imm: 'none' },
];
