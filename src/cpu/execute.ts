/**
 * The instruction decoder and executor: prefixes, then one switch over the
 * one-byte opcode map and one over the 0F map (SDM vol. 2, appendix A).
 * Anything not implemented raises #UD, never silent garbage.
 *
 * Rule for every case: read and write memory first, update registers and
 * EIP-dependent state last, so that a fault (which restores EIP and ESP)
 * leaves the instruction restartable.
 */
import { aaa, aad, aam, aas, alu, daa, das, dec, divu64, DIVREM, inc, mulFlags, MULHI, muls32, mulu32, neg, shift, shiftDouble, zsp } from './alu.js';
import {
  CS, DS, ES, FS, GS, SS, F_AC, F_AF, F_ARITH, F_CF, F_DF, F_ID, F_IF, F_IOPL, F_NT, F_OF, F_PF, F_RF, F_SF, F_TF, F_VIF, F_VIP, F_VM, F_ZF,
  CR0_TS, CR0_EM, LDTR, TR, V_BP, V_BR, V_DE, V_OF, V_GP, EBP, ESP,
} from './constants.js';
import { CpuStop, R8, type Cpu } from './cpu.js';
import { loadSegment } from './segments.js';
import { stringOp } from './string.js';
import { checkIoPermission, cpuid, larLsl, lldt, ltr, rdmsr, rdtsc, readCr, readDr, verify, writeCr, writeDr, wrmsr } from './system.js';
import { deliverInterrupt, farCall, farJump, farReturn, iret, sysenter, sysexit } from './transfer.js';

/** 1 for the legacy prefix bytes */
const PREFIX = new Uint8Array(256);
for (const p of [0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3]) PREFIX[p] = 1;

/** Executes one instruction at CS:EIP. */
export function execute(c: Cpu): void {
  c.o32 = c.codeBig;
  c.a32 = c.codeBig;
  c.segOverride = -1;
  c.rep = 0;
  c.lockPrefix = false;
  let op = c.fetch8();
  if (PREFIX[op] === 0) {
    dispatch(c, op);
    return;
  }
  // ---- prefixes (at most 14 bytes in all: SDM vol. 2A, 2.3.11) ----
  for (let n = 0; ; n++) {
    if (n > 14) c.gp(0);
    switch (op) {
      case 0x26: c.segOverride = ES; break;
      case 0x2e: c.segOverride = CS; break;
      case 0x36: c.segOverride = SS; break;
      case 0x3e: c.segOverride = DS; break;
      case 0x64: c.segOverride = FS; break;
      case 0x65: c.segOverride = GS; break;
      case 0x66: c.o32 = !c.codeBig; break;
      case 0x67: c.a32 = !c.codeBig; break;
      case 0xf0: c.lockPrefix = true; break;
      case 0xf2: c.rep = 1; break;
      case 0xf3: c.rep = 2; break;
      default:
        if (!c.codeBig) c.eip &= 0xffff;
        dispatch(c, op);
        return;
    }
    op = c.fetch8();
  }
}

/** Immediate of the operand size. */
function imm(c: Cpu): number {
  return c.o32 ? c.fetch32() : c.fetch16();
}

/** Sign-extended 8-bit immediate. */
function imm8s(c: Cpu): number {
  return (c.fetch8() << 24) >> 24;
}

/** A moffs operand (A0-A3): address-size offset. */
function moffs(c: Cpu): number {
  return c.a32 ? c.fetch32() : c.fetch16();
}

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

/** LOCK is legal only on the read-modify-write forms with a memory destination (SDM vol. 2A, LOCK). */
function lockCheck(c: Cpu, allowed: boolean): void {
  if (c.lockPrefix && (!allowed || c.modrm >= 0xc0)) c.ud();
}

function ioRead(c: Cpu, port: number, size: number): number {
  checkIoPermission(c, port, size);
  c.syncClockForIo();
  c.pollIntr = true;
  return size === 1 ? c.io.in8(port) : size === 2 ? c.io.in16(port) : c.io.in32(port);
}

function ioWrite(c: Cpu, port: number, size: number, v: number): void {
  checkIoPermission(c, port, size);
  c.syncClockForIo();
  c.pollIntr = true;
  if (size === 1) c.io.out8(port, v);
  else if (size === 2) c.io.out16(port, v);
  else c.io.out32(port, v);
}

/** Whether CLI/STI/PUSHF-style IOPL-sensitive instructions are allowed (SDM 20.2.6 for v86). */
function iopl(c: Cpu): number {
  return (c.getFlags() & F_IOPL) >>> 12;
}

function popfMask(c: Cpu): number {
  // POPF (SDM vol. 2B): IOPL changes only at CPL 0, IF only when CPL <= IOPL; VM, RF, VIP, VIF never.
  let m = F_ARITH | F_TF | F_DF | F_NT | F_AC | F_ID;
  if (c.getFlags() & F_VM) {
    m |= F_IF;
  } else {
    if (c.cpl === 0 || !c.protectedMode) m |= F_IOPL;
    if (c.cpl <= iopl(c) || !c.protectedMode) m |= F_IF;
  }
  return c.o32 ? m : m & 0xffff;
}

// ---- one-byte opcodes: one small function each, so V8 optimizes each on its own ----

function op00(c: Cpu, op: number): void {
  // Eb, Gb
  c.decodeModrm();
  const o = op >> 3;
  lockCheck(c, o !== 7);
  const r = alu(c, o, c.readRm8(), c.reg8[R8[c.regField]!]!, 8);
  if (o !== 7) c.writeRm8(r);
}

function op01(c: Cpu, op: number): void {
  // Ev, Gv
  c.decodeModrm();
  const o = op >> 3;
  lockCheck(c, o !== 7);
  if (c.o32) {
    const r = alu(c, o, c.readRm32(), c.reg32[c.regField]!, 32);
    if (o !== 7) c.writeRm32(r);
  } else {
    const r = alu(c, o, c.readRm16(), c.reg16[c.regField << 1]!, 16);
    if (o !== 7) c.writeRm16(r);
  }
}

function op02(c: Cpu, op: number): void {
  // Gb, Eb
  c.decodeModrm();
  lockCheck(c, false);
  const o = op >> 3;
  const g = R8[c.regField]!;
  const r = alu(c, o, c.reg8[g]!, c.readRm8(), 8);
  if (o !== 7) c.reg8[g] = r;
}

function op03(c: Cpu, op: number): void {
  // Gv, Ev
  c.decodeModrm();
  lockCheck(c, false);
  const o = op >> 3;
  if (c.o32) {
    const r = alu(c, o, c.reg32[c.regField]!, c.readRm32(), 32);
    if (o !== 7) c.reg32[c.regField] = r;
  } else {
    const r = alu(c, o, c.reg16[c.regField << 1]!, c.readRm16(), 16);
    if (o !== 7) c.reg16[c.regField << 1] = r;
  }
}

function op04(c: Cpu, op: number): void {
  // AL, Ib
  lockCheck(c, false);
  const o = op >> 3;
  const r = alu(c, o, c.reg8[0]!, c.fetch8(), 8);
  if (o !== 7) c.reg8[0] = r;
}

function op05(c: Cpu, op: number): void {
  // eAX, Iv
  lockCheck(c, false);
  const o = op >> 3;
  if (c.o32) {
    const r = alu(c, o, c.reg32[0]!, c.fetch32(), 32);
    if (o !== 7) c.reg32[0] = r;
  } else {
    const r = alu(c, o, c.reg16[0]!, c.fetch16(), 16);
    if (o !== 7) c.reg16[0] = r;
  }
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

function op27(c: Cpu): void {
  lockCheck(c, false); daa(c);
}

function op2f(c: Cpu): void {
  lockCheck(c, false); das(c);
}

function op37(c: Cpu): void {
  lockCheck(c, false); aaa(c);
}

function op3f(c: Cpu): void {
  lockCheck(c, false); aas(c); return;

  // ---- INC/DEC/PUSH/POP register ----
}

function op40(c: Cpu, op: number): void {
  lockCheck(c, false);
    if (c.o32) c.reg32[op & 7] = inc(c, c.reg32[op & 7]!, 32);
    else c.reg16[(op & 7) << 1] = inc(c, c.reg16[(op & 7) << 1]!, 16);
    return;
}

function op48(c: Cpu, op: number): void {
  lockCheck(c, false);
    if (c.o32) c.reg32[op & 7] = dec(c, c.reg32[op & 7]!, 32);
    else c.reg16[(op & 7) << 1] = dec(c, c.reg16[(op & 7) << 1]!, 16);
    return;
}

function op50(c: Cpu, op: number): void {
  lockCheck(c, false);
    if (c.o32) c.push32(c.reg32[op & 7]!);
    else c.push16(c.reg16[(op & 7) << 1]!);
    return;
}

function op58(c: Cpu, op: number): void {
  {
    lockCheck(c, false);
    const v = c.popOp();
    if (c.o32) c.reg32[op & 7] = v;
    else c.reg16[(op & 7) << 1] = v;
    return;
  }

  // ---- 60-6F ----
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

function op63(c: Cpu): void {
  // ARPL (protected mode only)
  if (!c.protectedMode) c.ud();
  c.decodeModrm();
  lockCheck(c, true);
  const dst = c.readRm16();
  const src = c.reg16[c.regField << 1]!;
  if ((dst & 3) < (src & 3)) {
    c.writeRm16((dst & ~3) | (src & 3));
    c.setArith(F_ZF, F_ZF);
  } else {
    c.setArith(0, F_ZF);
  }
}

function op68(c: Cpu): void {
  lockCheck(c, false); c.pushOp(imm(c));
}

function op6a(c: Cpu): void {
  lockCheck(c, false); c.pushOp(imm8s(c));
}

function op69(c: Cpu, op: number): void {
  // IMUL Gv, Ev, Iv/Ib
  c.decodeModrm();
  lockCheck(c, false);
  if (c.o32) {
    const a = c.readRm32();
    const b = op === 0x69 ? c.fetch32() : imm8s(c);
    const lo = muls32(a, b);
    c.reg32[c.regField] = lo;
    mulFlags(c, lo, 32, MULHI !== lo >> 31);
  } else {
    const a = (c.readRm16() << 16) >> 16;
    const b = op === 0x69 ? (c.fetch16() << 16) >> 16 : imm8s(c);
    const r = a * b;
    c.reg16[c.regField << 1] = r;
    mulFlags(c, r, 16, r !== (r << 16) >> 16);
  }
}

function op6c(c: Cpu): void {
  lockCheck(c, false); stringOp(c, 5, 1);
}

function op6d(c: Cpu): void {
  lockCheck(c, false); stringOp(c, 5, c.o32 ? 4 : 2);
}

function op6e(c: Cpu): void {
  lockCheck(c, false); stringOp(c, 6, 1);
}

function op6f(c: Cpu): void {
  lockCheck(c, false); stringOp(c, 6, c.o32 ? 4 : 2); return;

  // ---- Jcc rel8 ----
}

function op70(c: Cpu, op: number): void {
  {
    lockCheck(c, false);
    const d = imm8s(c);
    if (c.cond(op & 15)) jumpRel(c, d);
    return;
  }

  // ---- group 1 ----
}

function op80(c: Cpu): void {
  c.decodeModrm();
  const o = c.regField;
  lockCheck(c, o !== 7);
  const a = c.readRm8();
  const r = alu(c, o, a, c.fetch8(), 8);
  if (o !== 7) c.writeRm8(r);
}

function op81(c: Cpu, op: number): void {
  c.decodeModrm();
  const o = c.regField;
  lockCheck(c, o !== 7);
  if (c.o32) {
    const a = c.readRm32();
    const r = alu(c, o, a, op === 0x81 ? c.fetch32() : imm8s(c), 32);
    if (o !== 7) c.writeRm32(r);
  } else {
    const a = c.readRm16();
    const r = alu(c, o, a, op === 0x81 ? c.fetch16() : imm8s(c) & 0xffff, 16);
    if (o !== 7) c.writeRm16(r);
  }
}

function op84(c: Cpu): void {
  c.decodeModrm(); lockCheck(c, false); alu(c, 4, c.readRm8(), c.reg8[R8[c.regField]!]!, 8);
}

function op85(c: Cpu): void {
  c.decodeModrm();
    lockCheck(c, false);
    if (c.o32) alu(c, 4, c.readRm32(), c.reg32[c.regField]!, 32);
    else alu(c, 4, c.readRm16(), c.reg16[c.regField << 1]!, 16);
    return;
}

function op86(c: Cpu): void {
  // XCHG Eb, Gb (implicitly locked)
  c.decodeModrm();
  lockCheck(c, true);
  const g = R8[c.regField]!;
  const a = c.readRm8();
  c.writeRm8(c.reg8[g]!);
  c.reg8[g] = a;
}

function op87(c: Cpu): void {
  c.decodeModrm();
  lockCheck(c, true);
  if (c.o32) {
    const a = c.readRm32();
    c.writeRm32(c.reg32[c.regField]!);
    c.reg32[c.regField] = a;
  } else {
    const a = c.readRm16();
    c.writeRm16(c.reg16[c.regField << 1]!);
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
    return;
}

function op8a(c: Cpu): void {
  c.decodeModrm(); lockCheck(c, false); c.reg8[R8[c.regField]!] = c.readRm8();
}

function op8b(c: Cpu): void {
  c.decodeModrm();
    lockCheck(c, false);
    if (c.o32) c.reg32[c.regField] = c.readRm32();
    else c.reg16[c.regField << 1] = c.readRm16();
    return;
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
    return;
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

function op9a(c: Cpu): void {
  // CALL ptr16:16/32
  lockCheck(c, false);
  const off = imm(c);
  const sel = c.fetch16();
  farCall(c, sel, off);
}

function op9b(c: Cpu): void {
  // WAIT/FWAIT
    lockCheck(c, false);
    c.fpu.wait();
    return;
}

function op9c(c: Cpu): void {
  // PUSHF
  lockCheck(c, false);
  if (c.getFlags() & F_VM && iopl(c) < 3) c.gp(0);
  const f = c.getFlags() & ~(F_VM | F_RF);
  c.pushOp(c.o32 ? f : f & 0xffff);
}

function op9d(c: Cpu): void {
  // POPF
  lockCheck(c, false);
  if (c.getFlags() & F_VM && iopl(c) < 3) c.gp(0);
  const v = c.peekOp(0);
  const mask = popfMask(c);
  c.addSp(c.o32 ? 4 : 2);
  c.setFlags(v, mask);
}

function op9e(c: Cpu): void {
  lockCheck(c, false); c.setArith(c.reg8[1]!, F_SF | F_ZF | F_AF | F_PF | F_CF); return; // SAHF
}

function op9f(c: Cpu): void {
  lockCheck(c, false); c.reg8[1] = (c.getFlags() & (F_SF | F_ZF | F_AF | F_PF | F_CF)) | 2; return; // LAHF

  // ---- A0-AF ----
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

function opa4(c: Cpu): void {
  lockCheck(c, false); stringOp(c, 0, 1);
}

function opa5(c: Cpu): void {
  lockCheck(c, false); stringOp(c, 0, c.o32 ? 4 : 2);
}

function opa6(c: Cpu): void {
  lockCheck(c, false); stringOp(c, 1, 1);
}

function opa7(c: Cpu): void {
  lockCheck(c, false); stringOp(c, 1, c.o32 ? 4 : 2);
}

function opa8(c: Cpu): void {
  lockCheck(c, false); alu(c, 4, c.reg8[0]!, c.fetch8(), 8);
}

function opa9(c: Cpu): void {
  lockCheck(c, false); if (c.o32) alu(c, 4, c.reg32[0]!, c.fetch32(), 32); else alu(c, 4, c.reg16[0]!, c.fetch16(), 16);
}

function opaa(c: Cpu): void {
  lockCheck(c, false); stringOp(c, 2, 1);
}

function opab(c: Cpu): void {
  lockCheck(c, false); stringOp(c, 2, c.o32 ? 4 : 2);
}

function opac(c: Cpu): void {
  lockCheck(c, false); stringOp(c, 3, 1);
}

function opad(c: Cpu): void {
  lockCheck(c, false); stringOp(c, 3, c.o32 ? 4 : 2);
}

function opae(c: Cpu): void {
  lockCheck(c, false); stringOp(c, 4, 1);
}

function opaf(c: Cpu): void {
  lockCheck(c, false); stringOp(c, 4, c.o32 ? 4 : 2); return;

  // ---- MOV immediate ----
}

function opb0(c: Cpu, op: number): void {
  lockCheck(c, false);
    c.reg8[R8[op & 7]!] = c.fetch8();
    return;
}

function opb8(c: Cpu, op: number): void {
  lockCheck(c, false);
    if (c.o32) c.reg32[op & 7] = c.fetch32();
    else c.reg16[(op & 7) << 1] = c.fetch16();
    return;

  // ---- C0-CF ----
}

function opc0(c: Cpu, op: number): void {
  // group 2 Eb
  c.decodeModrm();
  lockCheck(c, false);
  const a = c.readRm8();
  const n = op === 0xc0 ? c.fetch8() : op === 0xd0 ? 1 : c.reg8[4]!;
  const r = shift(c, c.regField, a, n, 8);
  if (n & 31) c.writeRm8(r);
}

function opc1(c: Cpu, op: number): void {
  c.decodeModrm();
  lockCheck(c, false);
  if (c.o32) {
    const a = c.readRm32();
    const n = op === 0xc1 ? c.fetch8() : op === 0xd1 ? 1 : c.reg8[4]!;
    const r = shift(c, c.regField, a, n, 32);
    if (n & 31) c.writeRm32(r);
  } else {
    const a = c.readRm16();
    const n = op === 0xc1 ? c.fetch8() : op === 0xd1 ? 1 : c.reg8[4]!;
    const r = shift(c, c.regField, a, n, 16);
    if (n & 31) c.writeRm16(r);
  }
}

function opc2(c: Cpu, op: number): void {
  // RET near [imm16]
  lockCheck(c, false);
  const n = op === 0xc2 ? c.fetch16() : 0;
  const target = c.peekOp(0);
  jumpAbs(c, target);
  c.addSp((c.o32 ? 4 : 2) + n);
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
    return;
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

function opd4(c: Cpu): void {
  lockCheck(c, false); aam(c, c.fetch8());
}

function opd5(c: Cpu): void {
  lockCheck(c, false); aad(c, c.fetch8());
}

function opd6(c: Cpu): void {
  lockCheck(c, false); c.reg8[0] = c.getCF() ? 0xff : 0; return; // SALC
}

function opd7(c: Cpu): void {
  // XLAT
  lockCheck(c, false);
  const off = c.a32 ? (c.reg32[3]! + c.reg8[0]!) | 0 : (c.reg16[6]! + c.reg8[0]!) & 0xffff;
  c.reg8[0] = c.rd8(c.segOverride >= 0 ? c.segOverride : DS, off);
}

function opd8(c: Cpu, op: number): void {
  c.decodeModrm();
    lockCheck(c, false);
    c.fpu.exec(op, c.modrm, c.eaSeg, c.eaOff);
    return;

  // ---- E0-EF ----
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

function ope4(c: Cpu): void {
  lockCheck(c, false); const p = c.fetch8(); c.reg8[0] = ioRead(c, p, 1);
}

function ope5(c: Cpu): void {
  lockCheck(c, false); const p = c.fetch8(); if (c.o32) c.reg32[0] = ioRead(c, p, 4); else c.reg16[0] = ioRead(c, p, 2);
}

function ope6(c: Cpu): void {
  lockCheck(c, false); const p = c.fetch8(); ioWrite(c, p, 1, c.reg8[0]!);
}

function ope7(c: Cpu): void {
  lockCheck(c, false); const p = c.fetch8(); if (c.o32) ioWrite(c, p, 4, c.reg32[0]!); else ioWrite(c, p, 2, c.reg16[0]!);
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

function opec(c: Cpu): void {
  lockCheck(c, false); c.reg8[0] = ioRead(c, c.reg16[4]!, 1);
}

function oped(c: Cpu): void {
  lockCheck(c, false); if (c.o32) c.reg32[0] = ioRead(c, c.reg16[4]!, 4); else c.reg16[0] = ioRead(c, c.reg16[4]!, 2);
}

function opee(c: Cpu): void {
  lockCheck(c, false); ioWrite(c, c.reg16[4]!, 1, c.reg8[0]!);
}

function opef(c: Cpu): void {
  lockCheck(c, false); if (c.o32) ioWrite(c, c.reg16[4]!, 4, c.reg32[0]!); else ioWrite(c, c.reg16[4]!, 2, c.reg16[0]!); return;

  // ---- F0-FF ----
}

function opf1(c: Cpu): void {
  lockCheck(c, false); deliverInterruptSoft(c, 1, true); return; // INT1 (ICEBP)
}

function opf4(c: Cpu): void {
  // HLT
    lockCheck(c, false);
    if (c.cpl !== 0) c.gp(0);
    c.halted = true;
    c.pollIntr = true;
    return;
}

function opf5(c: Cpu): void {
  lockCheck(c, false); c.setArith(c.getCF() ^ 1, F_CF); return; // CMC
}

function opf6(c: Cpu): void {
  group3(c, 8);
}

function opf7(c: Cpu): void {
  group3(c, c.o32 ? 32 : 16);
}

function opf8(c: Cpu): void {
  lockCheck(c, false); c.setArith(0, F_CF);
}

function opf9(c: Cpu): void {
  lockCheck(c, false); c.setArith(F_CF, F_CF);
}

function opfa(c: Cpu): void {
  // CLI
    lockCheck(c, false);
    if ((c.protectedMode || c.getFlags() & F_VM) && c.cpl > iopl(c)) c.gp(0);
    c.setFlags(0, F_IF);
    return;
}

function opfb(c: Cpu): void {
  // STI: interrupts stay inhibited for one more instruction
    lockCheck(c, false);
    if ((c.protectedMode || c.getFlags() & F_VM) && c.cpl > iopl(c)) c.gp(0);
    if (!(c.getFlags() & F_IF)) c.intShadow = true;
    c.setFlags(F_IF, F_IF);
    return;
}

function opfc(c: Cpu): void {
  lockCheck(c, false); c.setFlags(0, F_DF);
}

function opfd(c: Cpu): void {
  lockCheck(c, false); c.setFlags(F_DF, F_DF);
}

function opfe(c: Cpu): void {
  // group 4: INC/DEC Eb
  c.decodeModrm();
  const o = c.regField;
  if (o > 1) c.ud();
  lockCheck(c, true);
  const a = c.readRm8();
  c.writeRm8(o === 0 ? inc(c, a, 8) : dec(c, a, 8));
}

function opff(c: Cpu): void {
  group5(c);
}

function op0f(c: Cpu): void {
  const op2 = c.fetch8();
  TWO[op2]!(c, op2);
}

/** INT n / INT3 / INTO: a software interrupt (gate DPL checked; v86 needs IOPL 3). */
function softInt(c: Cpu, vector: number): void {
  deliverInterrupt(c, vector, 'software', false, 0);
}

function deliverInterruptSoft(c: Cpu, vector: number, asExternal: boolean): void {
  deliverInterrupt(c, vector, asExternal ? 'external' : 'software', false, 0);
}

/** Group 3: TEST, NOT, NEG, MUL, IMUL, DIV, IDIV on Eb/Ev. */
function group3(c: Cpu, bits: number): void {
  c.decodeModrm();
  const o = c.regField;
  lockCheck(c, o === 2 || o === 3);
  switch (o) {
    case 0: case 1: { // TEST
      const a = bits === 8 ? c.readRm8() : bits === 16 ? c.readRm16() : c.readRm32();
      const b = bits === 8 ? c.fetch8() : bits === 16 ? c.fetch16() : c.fetch32();
      alu(c, 4, a, b, bits);
      return;
    }
    case 2: { // NOT (no flags)
      if (bits === 8) c.writeRm8(~c.readRm8());
      else if (bits === 16) c.writeRm16(~c.readRm16());
      else c.writeRm32(~c.readRm32());
      return;
    }
    case 3: {
      if (bits === 8) c.writeRm8(neg(c, c.readRm8(), 8));
      else if (bits === 16) c.writeRm16(neg(c, c.readRm16(), 16));
      else c.writeRm32(neg(c, c.readRm32(), 32));
      return;
    }
    case 4: { // MUL
      if (bits === 8) {
        const r = c.reg8[0]! * c.readRm8();
        c.reg16[0] = r;
        mulFlags(c, r, 8, r > 0xff);
      } else if (bits === 16) {
        const r = c.reg16[0]! * c.readRm16();
        c.reg16[0] = r;
        c.reg16[4] = r >>> 16;
        mulFlags(c, r, 16, r > 0xffff);
      } else {
        const src = c.readRm32();
        const lo = mulu32(c.reg32[0]!, src);
        c.reg32[0] = lo;
        c.reg32[2] = MULHI;
        mulFlags(c, lo, 32, MULHI !== 0);
      }
      return;
    }
    case 5: { // IMUL
      if (bits === 8) {
        const r = ((c.reg8[0]! << 24) >> 24) * ((c.readRm8() << 24) >> 24);
        c.reg16[0] = r;
        mulFlags(c, r, 8, r !== (r << 24) >> 24);
      } else if (bits === 16) {
        const r = ((c.reg16[0]! << 16) >> 16) * ((c.readRm16() << 16) >> 16);
        c.reg16[0] = r;
        c.reg16[4] = r >> 16;
        mulFlags(c, r, 16, r !== (r << 16) >> 16);
      } else {
        const src = c.readRm32();
        const lo = muls32(c.reg32[0]!, src);
        c.reg32[0] = lo;
        c.reg32[2] = MULHI;
        mulFlags(c, lo, 32, MULHI !== lo >> 31);
      }
      return;
    }
    case 6: { // DIV: #DE on a zero divisor or a quotient too large
      if (bits === 8) {
        const d = c.readRm8();
        if (d === 0) c.trap(V_DE);
        const n = c.reg16[0]!;
        const q = Math.floor(n / d);
        if (q > 0xff) c.trap(V_DE);
        c.reg8[0] = q;
        c.reg8[1] = n % d;
      } else if (bits === 16) {
        const d = c.readRm16();
        if (d === 0) c.trap(V_DE);
        const n = ((c.reg16[4]! << 16) | c.reg16[0]!) >>> 0;
        const q = Math.floor(n / d);
        if (q > 0xffff) c.trap(V_DE);
        c.reg16[0] = q;
        c.reg16[4] = n % d;
      } else {
        const d = c.readRm32();
        if (d === 0) c.trap(V_DE);
        const hi = c.reg32[2]!;
        if ((hi >>> 0) >= (d >>> 0)) c.trap(V_DE);
        const q = divu64(hi, c.reg32[0]!, d);
        c.reg32[0] = q;
        c.reg32[2] = DIVREM;
      }
      return;
    }
    default: { // IDIV
      if (bits === 8) {
        const d = (c.readRm8() << 24) >> 24;
        if (d === 0) c.trap(V_DE);
        const n = (c.reg16[0]! << 16) >> 16;
        const q = Math.trunc(n / d);
        if (q > 127 || q < -128) c.trap(V_DE);
        c.reg8[0] = q;
        c.reg8[1] = n % d;
      } else if (bits === 16) {
        const d = (c.readRm16() << 16) >> 16;
        if (d === 0) c.trap(V_DE);
        const n = (c.reg16[4]! << 16) | c.reg16[0]!;
        const q = Math.trunc(n / d);
        if (q > 32767 || q < -32768) c.trap(V_DE);
        c.reg16[0] = q;
        c.reg16[4] = n % d;
      } else {
        const d = c.readRm32();
        if (d === 0) c.trap(V_DE);
        let hi = c.reg32[2]!, lo = c.reg32[0]!;
        const negN = hi < 0;
        if (negN) { lo = (~lo + 1) | 0; hi = (~hi + (lo === 0 ? 1 : 0)) | 0; }
        const dAbs = d < 0 ? -d >>> 0 : d >>> 0;
        if ((hi >>> 0) >= dAbs) c.trap(V_DE);
        const qAbs = divu64(hi, lo, dAbs) >>> 0;
        const rAbs = DIVREM >>> 0;
        const negQ = negN !== d < 0;
        if (negQ ? qAbs > 0x80000000 : qAbs > 0x7fffffff) c.trap(V_DE);
        c.reg32[0] = negQ ? -qAbs | 0 : qAbs | 0;
        c.reg32[2] = negN ? -rAbs | 0 : rAbs | 0;
      }
    }
  }
}

/** Group 5: INC, DEC, CALL near, CALL far, JMP near, JMP far, PUSH (Ev). */
function group5(c: Cpu): void {
  c.decodeModrm();
  const o = c.regField;
  lockCheck(c, o <= 1);
  switch (o) {
    case 0:
      if (c.o32) c.writeRm32(inc(c, c.readRm32(), 32));
      else c.writeRm16(inc(c, c.readRm16(), 16));
      return;
    case 1:
      if (c.o32) c.writeRm32(dec(c, c.readRm32(), 32));
      else c.writeRm16(dec(c, c.readRm16(), 16));
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

// =====================================================================
// The 0F map
// =====================================================================

/** BT/BTS/BTR/BTC (kind 0..3) with bit index `idx` (register form: any value; immediate: masked). */
function bitOp(c: Cpu, kind: number, idx: number, fromRegister: boolean): void {
  const bits = c.o32 ? 32 : 16;
  let v: number;
  let seg = 0, off = 0;
  if (c.modrm >= 0xc0) {
    v = bits === 32 ? c.reg32[c.modrm & 7]! : c.reg16[(c.modrm & 7) << 1]!;
    idx &= bits - 1;
  } else {
    seg = c.eaSeg;
    off = c.eaOff;
    if (fromRegister) {
      // The signed bit offset selects an operand-sized word relative to the address.
      const s = bits === 32 ? idx | 0 : (idx << 16) >> 16;
      const words = Math.floor(s / bits);
      off = (off + words * (bits / 8)) | 0;
      if (!c.a32) off &= 0xffff;
      idx = s - words * bits;
    } else {
      idx &= bits - 1;
    }
    v = bits === 32 ? c.rd32(seg, off) : c.rd16(seg, off);
  }
  const cf = (v >>> idx) & 1;
  let r = v;
  if (kind === 1) r = v | (1 << idx);
  else if (kind === 2) r = v & ~(1 << idx);
  else if (kind === 3) r = v ^ (1 << idx);
  if (kind !== 0) {
    if (c.modrm >= 0xc0) {
      if (bits === 32) c.reg32[c.modrm & 7] = r;
      else c.reg16[(c.modrm & 7) << 1] = r;
    } else if (bits === 32) c.wr32(seg, off, r);
    else c.wr16(seg, off, r);
  }
  c.setArith(cf ? F_CF : 0, F_CF);
}

// ---- 0F opcodes ----

function op0f00(c: Cpu): void {
  // group 6: SLDT, STR, LLDT, LTR, VERR, VERW
  if (!c.protectedMode) c.ud();
  c.decodeModrm();
  lockCheck(c, false);
  const o = c.regField;
  switch (o) {
    case 0: case 1: {
      const v = c.segSel[o === 0 ? LDTR : TR]!;
      if (c.modrm >= 0xc0 && c.o32) c.reg32[c.modrm & 7] = v;
      else c.writeRm16(v);
      return;
    }
    case 2: case 3:
      if (c.cpl !== 0) c.gp(0);
      if (o === 2) lldt(c, c.readRm16());
      else ltr(c, c.readRm16());
      return;
    case 4: case 5: verify(c, c.readRm16(), o === 5); return;
    default: c.ud();
  }
}

function op0f01(c: Cpu): void {
  // group 7: SGDT, SIDT, LGDT, LIDT, SMSW, LMSW, INVLPG
  c.decodeModrm();
  lockCheck(c, false);
  const o = c.regField;
  if (c.modrm >= 0xc0 && o !== 4 && o !== 6) c.ud();
  switch (o) {
    case 0: case 1: {
      const base = o === 0 ? c.gdtBase : c.idtBase;
      const limit = o === 0 ? c.gdtLimit : c.idtLimit;
      c.wr16(c.eaSeg, c.eaOff, limit);
      c.wr32(c.eaSeg, (c.eaOff + 2) & (c.a32 ? -1 : 0xffff), c.o32 ? base : base & 0x00ffffff);
      return;
    }
    case 2: case 3: {
      if (c.cpl !== 0) c.gp(0);
      const limit = c.rd16(c.eaSeg, c.eaOff);
      let base = c.rd32(c.eaSeg, (c.eaOff + 2) & (c.a32 ? -1 : 0xffff));
      if (!c.o32) base &= 0x00ffffff;
      if (o === 2) { c.gdtBase = base; c.gdtLimit = limit; }
      else { c.idtBase = base; c.idtLimit = limit; }
      return;
    }
    case 4: { // SMSW
      const v = c.cr0;
      if (c.modrm >= 0xc0 && c.o32) c.reg32[c.modrm & 7] = v;
      else c.writeRm16(v & 0xffff);
      return;
    }
    case 6: { // LMSW: PE can be set but not cleared; MP, EM, TS
      if (c.cpl !== 0) c.gp(0);
      const v = c.readRm16();
      const cr0 = (c.cr0 & ~0xe) | (v & 0xf) | (c.cr0 & 1);
      writeCr(c, 0, cr0);
      return;
    }
    case 7: { // INVLPG
      if (c.cpl !== 0) c.gp(0);
      c.endFetchRun();
      c.mmu.invlpg((c.segBase[c.eaSeg]! + c.eaOff) | 0, 0);
      c.flushFetch();
      return;
    }
    default: c.ud();
  }
}

function op0f02(c: Cpu, op: number): void {
  // LAR, LSL
  if (!c.protectedMode) c.ud();
  c.decodeModrm();
  lockCheck(c, false);
  const v = larLsl(c, c.readRm16(), op === 0x03);
  if (c.getZF()) {
    if (c.o32) c.reg32[c.regField] = v;
    else c.reg16[c.regField << 1] = v;
  }
}

function op0f06(c: Cpu): void {
  // CLTS
    lockCheck(c, false);
    if (c.cpl !== 0) c.gp(0);
    c.cr0 &= ~CR0_TS;
    return;
}

function op0f08(c: Cpu): void {
  // INVD, WBINVD: no caches to manage
    lockCheck(c, false);
    if (c.cpl !== 0) c.gp(0);
    return;
}

function op0f0b(c: Cpu): void {
  c.ud(); return; // UD2
}

function op0f18(c: Cpu): void {
  // Hint NOPs (P6 family: NOP Ev); the ModR/M operand is decoded, never accessed.
    c.decodeModrm();
    lockCheck(c, false);
    return;
}

function op0f20(c: Cpu, op: number): void {
  // MOV to/from CRn/DRn (register operands only)
  c.decodeModrm();
  lockCheck(c, false);
  if (c.cpl !== 0) c.gp(0);
  const n = c.regField;
  const r = c.modrm & 7;
  if (op === 0x20) c.reg32[r] = readCr(c, n);
  else if (op === 0x21) c.reg32[r] = readDr(c, n);
  else if (op === 0x22) writeCr(c, n, c.reg32[r]!);
  else writeDr(c, n, c.reg32[r]!);
}

function op0f30(c: Cpu): void {
  lockCheck(c, false); if (c.cpl !== 0) c.gp(0); wrmsr(c);
}

function op0f31(c: Cpu): void {
  lockCheck(c, false); rdtsc(c);
}

function op0f32(c: Cpu): void {
  lockCheck(c, false); if (c.cpl !== 0) c.gp(0); rdmsr(c);
}

function op0f33(c: Cpu): void {
  c.gp(0); return; // RDPMC: no performance counters (ECX is always out of range)
}

function op0f34(c: Cpu): void {
  lockCheck(c, false); sysenter(c);
}

function op0f35(c: Cpu): void {
  lockCheck(c, false); sysexit(c);
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

function op0f80(c: Cpu, op: number): void {
  lockCheck(c, false);
  const d = imm(c);
  if (c.cond(op & 15)) jumpRel(c, d);
}

function op0f90(c: Cpu, op: number): void {
  c.decodeModrm();
    lockCheck(c, false);
    c.writeRm8(c.cond(op & 15) ? 1 : 0);
    return;
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

function op0fa2(c: Cpu): void {
  lockCheck(c, false); cpuid(c);
}

function op0fa3(c: Cpu): void {
  c.decodeModrm(); lockCheck(c, false); bitOp(c, 0, c.o32 ? c.reg32[c.regField]! : c.reg16[c.regField << 1]!, true);
}

function op0fab(c: Cpu): void {
  c.decodeModrm(); lockCheck(c, true); bitOp(c, 1, c.o32 ? c.reg32[c.regField]! : c.reg16[c.regField << 1]!, true);
}

function op0fb3(c: Cpu): void {
  c.decodeModrm(); lockCheck(c, true); bitOp(c, 2, c.o32 ? c.reg32[c.regField]! : c.reg16[c.regField << 1]!, true);
}

function op0fbb(c: Cpu): void {
  c.decodeModrm(); lockCheck(c, true); bitOp(c, 3, c.o32 ? c.reg32[c.regField]! : c.reg16[c.regField << 1]!, true);
}

function op0fba(c: Cpu): void {
  c.decodeModrm();
  const k = c.regField;
  if (k < 4) c.ud();
  lockCheck(c, k !== 4);
  bitOp(c, k - 4, c.fetch8(), false);
}

function op0fa4(c: Cpu, op: number): void {
  // SHLD/SHRD
  c.decodeModrm();
  lockCheck(c, false);
  const left = op < 0xa8;
  if (c.o32) {
    const a = c.readRm32();
    const n = op & 1 ? c.reg8[4]! : c.fetch8();
    const r = shiftDouble(c, left, a, c.reg32[c.regField]!, n, 32);
    if (n & 31) c.writeRm32(r);
  } else {
    const a = c.readRm16();
    const n = op & 1 ? c.reg8[4]! : c.fetch8();
    const r = shiftDouble(c, left, a, c.reg16[c.regField << 1]!, n, 16);
    if (n & 31) c.writeRm16(r);
  }
}

function op0fae(c: Cpu): void {
  // group 15: FXSAVE, FXRSTOR (LDMXCSR/STMXCSR/fences are SSE: #UD)
  c.decodeModrm();
  lockCheck(c, false);
  const o = c.regField;
  if (c.modrm >= 0xc0 || o > 1) c.ud();
  if (c.cr0 & (CR0_TS | CR0_EM)) {
    if (c.cr0 & CR0_EM) c.ud();
    c.trap(7);
  }
  if (o === 0) c.fpu.fxsave(c.eaSeg, c.eaOff);
  else c.fpu.fxrstor(c.eaSeg, c.eaOff);
}

function op0faf(c: Cpu): void {
  // IMUL Gv, Ev
  c.decodeModrm();
  lockCheck(c, false);
  if (c.o32) {
    const lo = muls32(c.reg32[c.regField]!, c.readRm32());
    c.reg32[c.regField] = lo;
    mulFlags(c, lo, 32, MULHI !== lo >> 31);
  } else {
    const r = ((c.reg16[c.regField << 1]! << 16) >> 16) * ((c.readRm16() << 16) >> 16);
    c.reg16[c.regField << 1] = r;
    mulFlags(c, r, 16, r !== (r << 16) >> 16);
  }
}

function op0fb0(c: Cpu): void {
  // CMPXCHG Eb, Gb
  c.decodeModrm();
  lockCheck(c, true);
  const d = c.readRm8();
  alu(c, 7, c.reg8[0]!, d, 8);
  if (c.getZF()) c.writeRm8(c.reg8[R8[c.regField]!]!);
  else {
    c.writeRm8(d); // the destination is always written (SDM: locked bus cycle)
    c.reg8[0] = d;
  }
}

function op0fb1(c: Cpu): void {
  c.decodeModrm();
  lockCheck(c, true);
  if (c.o32) {
    const d = c.readRm32();
    alu(c, 7, c.reg32[0]!, d, 32);
    if (c.getZF()) c.writeRm32(c.reg32[c.regField]!);
    else { c.writeRm32(d); c.reg32[0] = d; }
  } else {
    const d = c.readRm16();
    alu(c, 7, c.reg16[0]!, d, 16);
    if (c.getZF()) c.writeRm16(c.reg16[c.regField << 1]!);
    else { c.writeRm16(d); c.reg16[0] = d; }
  }
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

function op0fbc(c: Cpu, op: number): void {
  // BSF/BSR: ZF=1 and the destination unchanged when the source is 0
  c.decodeModrm();
  lockCheck(c, false);
  const bits = c.o32 ? 32 : 16;
  const v = (bits === 32 ? c.readRm32() : c.readRm16()) >>> 0;
  if (v === 0) {
    c.setArith(F_ZF, F_ARITH);
    return;
  }
  const r = op === 0xbc ? 31 - Math.clz32(v & -v) : 31 - Math.clz32(v);
  if (bits === 32) c.reg32[c.regField] = r;
  else c.reg16[c.regField << 1] = r;
  c.setArith(zsp(r, bits) & ~F_ZF, F_ARITH); // CF, OF, SF, AF, PF undefined: from the result
}

function op0fc0(c: Cpu): void {
  // XADD Eb, Gb
  c.decodeModrm();
  lockCheck(c, true);
  const g = R8[c.regField]!;
  const d = c.readRm8();
  const r = alu(c, 0, d, c.reg8[g]!, 8);
  c.writeRm8(r);
  c.reg8[g] = d;
}

function op0fc1(c: Cpu): void {
  c.decodeModrm();
  lockCheck(c, true);
  if (c.o32) {
    const d = c.readRm32();
    const r = alu(c, 0, d, c.reg32[c.regField]!, 32);
    c.writeRm32(r);
    c.reg32[c.regField] = d;
  } else {
    const d = c.readRm16();
    const r = alu(c, 0, d, c.reg16[c.regField << 1]!, 16);
    c.writeRm16(r);
    c.reg16[c.regField << 1] = d;
  }
}

function op0fc7(c: Cpu): void {
  // group 9: CMPXCHG8B m64
  c.decodeModrm();
  lockCheck(c, true);
  if (c.regField !== 1 || c.modrm >= 0xc0) c.ud();
  const seg = c.eaSeg, off = c.eaOff;
  const off4 = (off + 4) & (c.a32 ? -1 : 0xffff);
  const lo = c.rd32(seg, off), hi = c.rd32(seg, off4);
  c.probeWrite(seg, off, 8);
  if (lo === c.reg32[0] && hi === c.reg32[2]) {
    c.wr32(seg, off, c.reg32[3]!);
    c.wr32(seg, off4, c.reg32[1]!);
    c.setArith(F_ZF, F_ZF);
  } else {
    c.wr32(seg, off, lo);
    c.wr32(seg, off4, hi);
    c.reg32[0] = lo;
    c.reg32[2] = hi;
    c.setArith(0, F_ZF);
  }
}

function op0fc8(c: Cpu, op: number): void {
  // BSWAP
  lockCheck(c, false);
  const r = op & 7;
  const v = c.reg32[r]!;
  c.reg32[r] = c.o32 ? ((v >>> 24) | ((v >> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24)) : (v & 0xffff0000) | 0;
}

function op0fDefault(c: Cpu, op: number): void {
  if ((op >= 0x60 && op <= 0x7f) || (op >= 0xd1 && op <= 0xfe)) {
      if (c.rep !== 0 || (c.o32 !== c.codeBig)) c.ud(); // 66/F2/F3 forms are SSE
      lockCheck(c, false);
      if (op === 0x77) { // EMMS: no ModR/M byte
        if (!c.fpu.mmx(op, 0, 0, 0)) c.ud();
        return;
      }
      c.decodeModrm();
      if (op >= 0x71 && op <= 0x73) {
        // Shifts by an immediate (register forms only): the count goes in `off`.
        if (c.modrm < 0xc0) c.ud();
        const count = c.fetch8();
        if (!c.fpu.mmx(op, c.modrm, 0, count)) c.ud();
        return;
      }
      if (!c.fpu.mmx(op, c.modrm, c.eaSeg, c.eaOff)) c.ud();
      return;
    }
    c.ud();
}

export { CpuStop, F_VIP, F_VIF, F_OF, F_AF, F_SF, F_PF, F_RF, V_GP };

// ---- dispatch tables ----
type Handler = (c: Cpu, op: number) => void;
function undefinedOpcode(c: Cpu): void {
  c.ud();
}
const ONE: Handler[] = new Array<Handler>(256).fill(undefinedOpcode);
const TWO: Handler[] = new Array<Handler>(256).fill(op0fDefault);
ONE[0x00] = op00;
ONE[0x08] = op00;
ONE[0x10] = op00;
ONE[0x18] = op00;
ONE[0x20] = op00;
ONE[0x28] = op00;
ONE[0x30] = op00;
ONE[0x38] = op00;
ONE[0x01] = op01;
ONE[0x09] = op01;
ONE[0x11] = op01;
ONE[0x19] = op01;
ONE[0x21] = op01;
ONE[0x29] = op01;
ONE[0x31] = op01;
ONE[0x39] = op01;
ONE[0x02] = op02;
ONE[0x0a] = op02;
ONE[0x12] = op02;
ONE[0x1a] = op02;
ONE[0x22] = op02;
ONE[0x2a] = op02;
ONE[0x32] = op02;
ONE[0x3a] = op02;
ONE[0x03] = op03;
ONE[0x0b] = op03;
ONE[0x13] = op03;
ONE[0x1b] = op03;
ONE[0x23] = op03;
ONE[0x2b] = op03;
ONE[0x33] = op03;
ONE[0x3b] = op03;
ONE[0x04] = op04;
ONE[0x0c] = op04;
ONE[0x14] = op04;
ONE[0x1c] = op04;
ONE[0x24] = op04;
ONE[0x2c] = op04;
ONE[0x34] = op04;
ONE[0x3c] = op04;
ONE[0x05] = op05;
ONE[0x0d] = op05;
ONE[0x15] = op05;
ONE[0x1d] = op05;
ONE[0x25] = op05;
ONE[0x2d] = op05;
ONE[0x35] = op05;
ONE[0x3d] = op05;
ONE[0x06] = op06;
ONE[0x0e] = op0e;
ONE[0x16] = op16;
ONE[0x1e] = op1e;
ONE[0x07] = op07;
ONE[0x17] = op07;
ONE[0x1f] = op07;
ONE[0x27] = op27;
ONE[0x2f] = op2f;
ONE[0x37] = op37;
ONE[0x3f] = op3f;
ONE[0x40] = op40;
ONE[0x41] = op40;
ONE[0x42] = op40;
ONE[0x43] = op40;
ONE[0x44] = op40;
ONE[0x45] = op40;
ONE[0x46] = op40;
ONE[0x47] = op40;
ONE[0x48] = op48;
ONE[0x49] = op48;
ONE[0x4a] = op48;
ONE[0x4b] = op48;
ONE[0x4c] = op48;
ONE[0x4d] = op48;
ONE[0x4e] = op48;
ONE[0x4f] = op48;
ONE[0x50] = op50;
ONE[0x51] = op50;
ONE[0x52] = op50;
ONE[0x53] = op50;
ONE[0x54] = op50;
ONE[0x55] = op50;
ONE[0x56] = op50;
ONE[0x57] = op50;
ONE[0x58] = op58;
ONE[0x59] = op58;
ONE[0x5a] = op58;
ONE[0x5b] = op58;
ONE[0x5c] = op58;
ONE[0x5d] = op58;
ONE[0x5e] = op58;
ONE[0x5f] = op58;
ONE[0x60] = op60;
ONE[0x61] = op61;
ONE[0x62] = op62;
ONE[0x63] = op63;
ONE[0x68] = op68;
ONE[0x6a] = op6a;
ONE[0x69] = op69;
ONE[0x6b] = op69;
ONE[0x6c] = op6c;
ONE[0x6d] = op6d;
ONE[0x6e] = op6e;
ONE[0x6f] = op6f;
ONE[0x70] = op70;
ONE[0x71] = op70;
ONE[0x72] = op70;
ONE[0x73] = op70;
ONE[0x74] = op70;
ONE[0x75] = op70;
ONE[0x76] = op70;
ONE[0x77] = op70;
ONE[0x78] = op70;
ONE[0x79] = op70;
ONE[0x7a] = op70;
ONE[0x7b] = op70;
ONE[0x7c] = op70;
ONE[0x7d] = op70;
ONE[0x7e] = op70;
ONE[0x7f] = op70;
ONE[0x80] = op80;
ONE[0x82] = op80;
ONE[0x81] = op81;
ONE[0x83] = op81;
ONE[0x84] = op84;
ONE[0x85] = op85;
ONE[0x86] = op86;
ONE[0x87] = op87;
ONE[0x88] = op88;
ONE[0x89] = op89;
ONE[0x8a] = op8a;
ONE[0x8b] = op8b;
ONE[0x8c] = op8c;
ONE[0x8d] = op8d;
ONE[0x8e] = op8e;
ONE[0x8f] = op8f;
ONE[0x90] = op90;
ONE[0x91] = op91;
ONE[0x92] = op91;
ONE[0x93] = op91;
ONE[0x94] = op91;
ONE[0x95] = op91;
ONE[0x96] = op91;
ONE[0x97] = op91;
ONE[0x98] = op98;
ONE[0x99] = op99;
ONE[0x9a] = op9a;
ONE[0x9b] = op9b;
ONE[0x9c] = op9c;
ONE[0x9d] = op9d;
ONE[0x9e] = op9e;
ONE[0x9f] = op9f;
ONE[0xa0] = opa0;
ONE[0xa1] = opa1;
ONE[0xa2] = opa2;
ONE[0xa3] = opa3;
ONE[0xa4] = opa4;
ONE[0xa5] = opa5;
ONE[0xa6] = opa6;
ONE[0xa7] = opa7;
ONE[0xa8] = opa8;
ONE[0xa9] = opa9;
ONE[0xaa] = opaa;
ONE[0xab] = opab;
ONE[0xac] = opac;
ONE[0xad] = opad;
ONE[0xae] = opae;
ONE[0xaf] = opaf;
ONE[0xb0] = opb0;
ONE[0xb1] = opb0;
ONE[0xb2] = opb0;
ONE[0xb3] = opb0;
ONE[0xb4] = opb0;
ONE[0xb5] = opb0;
ONE[0xb6] = opb0;
ONE[0xb7] = opb0;
ONE[0xb8] = opb8;
ONE[0xb9] = opb8;
ONE[0xba] = opb8;
ONE[0xbb] = opb8;
ONE[0xbc] = opb8;
ONE[0xbd] = opb8;
ONE[0xbe] = opb8;
ONE[0xbf] = opb8;
ONE[0xc0] = opc0;
ONE[0xd0] = opc0;
ONE[0xd2] = opc0;
ONE[0xc1] = opc1;
ONE[0xd1] = opc1;
ONE[0xd3] = opc1;
ONE[0xc2] = opc2;
ONE[0xc3] = opc2;
ONE[0xc4] = opc4;
ONE[0xc5] = opc4;
ONE[0xc6] = opc6;
ONE[0xc7] = opc7;
ONE[0xc8] = opc8;
ONE[0xc9] = opc9;
ONE[0xca] = opca;
ONE[0xcb] = opcb;
ONE[0xcc] = opcc;
ONE[0xcd] = opcd;
ONE[0xce] = opce;
ONE[0xcf] = opcf;
ONE[0xd4] = opd4;
ONE[0xd5] = opd5;
ONE[0xd6] = opd6;
ONE[0xd7] = opd7;
ONE[0xd8] = opd8;
ONE[0xd9] = opd8;
ONE[0xda] = opd8;
ONE[0xdb] = opd8;
ONE[0xdc] = opd8;
ONE[0xdd] = opd8;
ONE[0xde] = opd8;
ONE[0xdf] = opd8;
ONE[0xe0] = ope0;
ONE[0xe1] = ope0;
ONE[0xe2] = ope0;
ONE[0xe3] = ope3;
ONE[0xe4] = ope4;
ONE[0xe5] = ope5;
ONE[0xe6] = ope6;
ONE[0xe7] = ope7;
ONE[0xe8] = ope8;
ONE[0xe9] = ope9;
ONE[0xea] = opea;
ONE[0xeb] = opeb;
ONE[0xec] = opec;
ONE[0xed] = oped;
ONE[0xee] = opee;
ONE[0xef] = opef;
ONE[0xf1] = opf1;
ONE[0xf4] = opf4;
ONE[0xf5] = opf5;
ONE[0xf6] = opf6;
ONE[0xf7] = opf7;
ONE[0xf8] = opf8;
ONE[0xf9] = opf9;
ONE[0xfa] = opfa;
ONE[0xfb] = opfb;
ONE[0xfc] = opfc;
ONE[0xfd] = opfd;
ONE[0xfe] = opfe;
ONE[0xff] = opff;
ONE[0x0f] = op0f;
TWO[0x00] = op0f00;
TWO[0x01] = op0f01;
TWO[0x02] = op0f02;
TWO[0x03] = op0f02;
TWO[0x06] = op0f06;
TWO[0x08] = op0f08;
TWO[0x09] = op0f08;
TWO[0x0b] = op0f0b;
TWO[0x18] = op0f18;
TWO[0x19] = op0f18;
TWO[0x1a] = op0f18;
TWO[0x1b] = op0f18;
TWO[0x1c] = op0f18;
TWO[0x1d] = op0f18;
TWO[0x1e] = op0f18;
TWO[0x1f] = op0f18;
TWO[0x20] = op0f20;
TWO[0x21] = op0f20;
TWO[0x22] = op0f20;
TWO[0x23] = op0f20;
TWO[0x30] = op0f30;
TWO[0x31] = op0f31;
TWO[0x32] = op0f32;
TWO[0x33] = op0f33;
TWO[0x34] = op0f34;
TWO[0x35] = op0f35;
TWO[0x40] = op0f40;
TWO[0x41] = op0f40;
TWO[0x42] = op0f40;
TWO[0x43] = op0f40;
TWO[0x44] = op0f40;
TWO[0x45] = op0f40;
TWO[0x46] = op0f40;
TWO[0x47] = op0f40;
TWO[0x48] = op0f40;
TWO[0x49] = op0f40;
TWO[0x4a] = op0f40;
TWO[0x4b] = op0f40;
TWO[0x4c] = op0f40;
TWO[0x4d] = op0f40;
TWO[0x4e] = op0f40;
TWO[0x4f] = op0f40;
TWO[0x80] = op0f80;
TWO[0x81] = op0f80;
TWO[0x82] = op0f80;
TWO[0x83] = op0f80;
TWO[0x84] = op0f80;
TWO[0x85] = op0f80;
TWO[0x86] = op0f80;
TWO[0x87] = op0f80;
TWO[0x88] = op0f80;
TWO[0x89] = op0f80;
TWO[0x8a] = op0f80;
TWO[0x8b] = op0f80;
TWO[0x8c] = op0f80;
TWO[0x8d] = op0f80;
TWO[0x8e] = op0f80;
TWO[0x8f] = op0f80;
TWO[0x90] = op0f90;
TWO[0x91] = op0f90;
TWO[0x92] = op0f90;
TWO[0x93] = op0f90;
TWO[0x94] = op0f90;
TWO[0x95] = op0f90;
TWO[0x96] = op0f90;
TWO[0x97] = op0f90;
TWO[0x98] = op0f90;
TWO[0x99] = op0f90;
TWO[0x9a] = op0f90;
TWO[0x9b] = op0f90;
TWO[0x9c] = op0f90;
TWO[0x9d] = op0f90;
TWO[0x9e] = op0f90;
TWO[0x9f] = op0f90;
TWO[0xa0] = op0fa0;
TWO[0xa8] = op0fa8;
TWO[0xa1] = op0fa1;
TWO[0xa9] = op0fa1;
TWO[0xa2] = op0fa2;
TWO[0xa3] = op0fa3;
TWO[0xab] = op0fab;
TWO[0xb3] = op0fb3;
TWO[0xbb] = op0fbb;
TWO[0xba] = op0fba;
TWO[0xa4] = op0fa4;
TWO[0xa5] = op0fa4;
TWO[0xac] = op0fa4;
TWO[0xad] = op0fa4;
TWO[0xae] = op0fae;
TWO[0xaf] = op0faf;
TWO[0xb0] = op0fb0;
TWO[0xb1] = op0fb1;
TWO[0xb2] = op0fb2;
TWO[0xb4] = op0fb2;
TWO[0xb5] = op0fb2;
TWO[0xb6] = op0fb6;
TWO[0xb7] = op0fb6;
TWO[0xbe] = op0fb6;
TWO[0xbf] = op0fb6;
TWO[0xbc] = op0fbc;
TWO[0xbd] = op0fbc;
TWO[0xc0] = op0fc0;
TWO[0xc1] = op0fc1;
TWO[0xc7] = op0fc7;
TWO[0xc8] = op0fc8;
TWO[0xc9] = op0fc8;
TWO[0xca] = op0fc8;
TWO[0xcb] = op0fc8;
TWO[0xcc] = op0fc8;
TWO[0xcd] = op0fc8;
TWO[0xce] = op0fc8;
TWO[0xcf] = op0fc8;

function dispatch(c: Cpu, op: number): void {
  ONE[op]!(c, op);
}
