/**
 * Control transfers that can change privilege or task: far JMP/CALL/RET,
 * IRET, interrupt and exception delivery (real, protected and
 * virtual-8086 mode), hardware task switches, SYSENTER/SYSEXIT.
 *
 * Each follows the pseudo-code of its instruction page in SDM vol. 2 and
 * chapters 6 (interrupts) and 7 (tasks) of vol. 3A. Registers are committed
 * only after every access that can fault, so a fault part-way leaves the
 * state as it was before the instruction.
 */
import {
  AR_CODE, AR_DB, AR_DC, AR_P, AR_S, CR0_PG, CR0_TS, CS, DS, ES, F_AC, F_IF, F_IOPL, F_NT, F_RF, F_TF, F_VIF, F_VIP, F_VM,
  FS, GS, LDTR, SS, SYS_CALL16, SYS_CALL32, SYS_INT16, SYS_INT32, SYS_LDT, SYS_TASK, SYS_TRAP16, SYS_TRAP32, SYS_TSS16_AVAIL,
  SYS_TSS16_BUSY, SYS_TSS32_AVAIL, SYS_TSS32_BUSY, TR, V_GP, V_NP, V_SS, V_TS, ESP, CR0_PE, F_ID,
} from './constants.js';
import type { Cpu } from './cpu.js';
import { callGateLong, deliverLong } from './long.js';
import { EFER_LMA } from '../mmu/index.js';
import { checkDirectCode, DESC, dplOf, loadCs, loadSegment, loadStackSegment, markAccessed, nullInaccessibleSegments, readDescriptor } from './segments.js';

export type InterruptKind = 'external' | 'exception' | 'software';

// ---------------------------------------------------------------------------
// Writing a stack that is not (yet) SS:ESP
// ---------------------------------------------------------------------------

/** A stack being built: its segment cache values and the running ESP. */
interface Stack {
  sel: number;
  base: number;
  limit: number;
  ar: number;
  esp: number;
  big: boolean;
  /** write with supervisor rights (the new CPL is below 3) */
  sup: boolean;
}

const STK: Stack = { sel: 0, base: 0, limit: 0, ar: 0, esp: 0, big: true, sup: true };

function stackPush(c: Cpu, s: Stack, value: number, size: number): void {
  const esp = s.big ? (s.esp - size) | 0 : (s.esp - size) & 0xffff;
  const off = esp >>> 0;
  const lim = s.limit >>> 0;
  const expandDown = (s.ar & (AR_CODE | AR_DC)) === AR_DC;
  const ok = expandDown ? off > lim && off + size - 1 <= (s.ar & AR_DB ? 0xffffffff : 0xffff) : off + size - 1 <= lim;
  if (!ok) c.fault(V_SS, s.sel & 0xfffc);
  const lin = (s.base + esp) | 0;
  if (s.sup) {
    if (size === 4) c.writeLin32Sup(lin, value);
    else c.writeLin16Sup(lin, value);
  } else {
    const m = c.mmu;
    m.writeAcc(lin, 0, size as 2 | 4, value, 4 | 2);
    if (m.faultVector !== 0) throw c.memFault();
  }
  s.esp = esp;
}

function currentStack(c: Cpu): Stack {
  STK.sel = c.segSel[SS]!;
  STK.base = c.segBase[SS]!;
  STK.limit = c.segLimit[SS]!;
  STK.ar = c.segAr[SS]!;
  STK.esp = c.reg32[ESP]!;
  STK.big = c.stackBig;
  STK.sup = c.cpl < 3;
  return STK;
}

/** Reads the inner-privilege stack pointer for `dpl` from the current TSS (SDM 6.12.1). */
function tssStack(c: Cpu, dpl: number): { ss: number; esp: number } {
  const tssAr = c.segAr[TR]!;
  const type = (tssAr >>> 8) & 0xf;
  const big = type === SYS_TSS32_BUSY || type === SYS_TSS32_AVAIL;
  const off = big ? 4 + dpl * 8 : 2 + dpl * 4;
  const need = big ? off + 5 : off + 3;
  if (need > (c.segLimit[TR]! >>> 0)) c.fault(V_TS, c.segSel[TR]! & 0xfffc);
  const base = c.segBase[TR]!;
  if (big) return { esp: c.readLin32Sup(base + off), ss: c.readLin16Sup(base + off + 4) };
  return { esp: c.readLin16Sup(base + off), ss: c.readLin16Sup(base + off + 2) };
}

// ---------------------------------------------------------------------------
// Far JMP / CALL / RET
// ---------------------------------------------------------------------------

/** JMP ptr16:16/32 or m16:16/32 (SDM vol. 2A, JMP). */
export function farJump(c: Cpu, sel: number, off: number): void {
  c.noteBranch(off);
  sel &= 0xffff;
  if (!c.protectedMode) {
    c.loadRealSegment(CS, sel);
    c.eip = c.o32 ? off | 0 : off & 0xffff;
    return;
  }
  if ((sel & 0xfffc) === 0) c.gp(0);
  if (!readDescriptor(c, sel)) c.gp(sel & 0xfffc);
  if (DESC.ar & AR_S) {
    checkDirectCode(c, sel);
    const eip = c.o32 ? off | 0 : off & 0xffff;
    if ((eip >>> 0) > (DESC.limit >>> 0)) c.gp(0);
    loadCs(c, sel, c.cpl);
    c.eip = eip;
    return;
  }
  // compatibility mode: 64-bit call gates only, no task switches (SDM vol. 2A, JMP; vol. 3A, 5.8.3.1)
  if (c.efer & EFER_LMA) { callGateLong(c, sel, false); return; }
  const type = (DESC.ar >>> 8) & 0xf;
  const dpl = dplOf(DESC.ar);
  switch (type) {
    case SYS_CALL16: case SYS_CALL32: {
      if (dpl < c.cpl || dpl < (sel & 3)) c.gp(sel & 0xfffc);
      if (!(DESC.ar & AR_P)) c.fault(V_NP, sel & 0xfffc);
      const target = DESC.lo >>> 16;
      let eip = (DESC.lo & 0xffff) | (type === SYS_CALL32 ? DESC.hi & 0xffff0000 : 0);
      if ((target & 0xfffc) === 0) c.gp(0);
      if (!readDescriptor(c, target)) c.gp(target & 0xfffc);
      const ar = DESC.ar;
      if (!(ar & AR_S) || !(ar & AR_CODE)) c.gp(target & 0xfffc);
      if (ar & AR_DC ? dplOf(ar) > c.cpl : dplOf(ar) !== c.cpl) c.gp(target & 0xfffc);
      if (!(ar & AR_P)) c.fault(V_NP, target & 0xfffc);
      eip |= 0;
      if ((eip >>> 0) > (DESC.limit >>> 0)) c.gp(0);
      loadCs(c, target, c.cpl);
      c.eip = eip;
      return;
    }
    case SYS_TASK: {
      if (dpl < c.cpl || dpl < (sel & 3)) c.gp(sel & 0xfffc);
      if (!(DESC.ar & AR_P)) c.fault(V_NP, sel & 0xfffc);
      const tss = DESC.lo >>> 16;
      taskSwitchTo(c, tss, 'jmp', -1, false, 0);
      return;
    }
    case SYS_TSS16_AVAIL: case SYS_TSS32_AVAIL:
      if (dpl < c.cpl || dpl < (sel & 3)) c.gp(sel & 0xfffc);
      taskSwitchTo(c, sel, 'jmp', -1, false, 0);
      return;
    default:
      c.gp(sel & 0xfffc);
  }
}

/** CALL ptr16:16/32 or m16:16/32 (SDM vol. 2A, CALL), including call gates with a stack switch. */
export function farCall(c: Cpu, sel: number, off: number): void {
  c.noteBranch(off);
  sel &= 0xffff;
  const retEip = c.eip;
  const retCs = c.segSel[CS]!;
  if (!c.protectedMode) {
    const s = currentStack(c);
    const size = c.o32 ? 4 : 2;
    stackPushUser(c, s, retCs, size);
    stackPushUser(c, s, retEip, size);
    c.loadRealSegment(CS, sel);
    c.eip = c.o32 ? off | 0 : off & 0xffff;
    commitStack(c, s);
    return;
  }
  if ((sel & 0xfffc) === 0) c.gp(0);
  if (!readDescriptor(c, sel)) c.gp(sel & 0xfffc);
  if (DESC.ar & AR_S) {
    checkDirectCode(c, sel);
    const eip = c.o32 ? off | 0 : off & 0xffff;
    const size = c.o32 ? 4 : 2;
    const s = currentStack(c);
    stackPushUser(c, s, retCs, size);
    stackPushUser(c, s, retEip, size);
    if ((eip >>> 0) > (DESC.limit >>> 0)) c.gp(0);
    loadCs(c, sel, c.cpl);
    c.eip = eip;
    commitStack(c, s);
    return;
  }
  // compatibility mode: 64-bit call gates only, no task switches (SDM vol. 2A, CALL; vol. 3A, 5.8.3.1)
  if (c.efer & EFER_LMA) { callGateLong(c, sel, true); return; }
  const type = (DESC.ar >>> 8) & 0xf;
  const dpl = dplOf(DESC.ar);
  if (type === SYS_TASK || type === SYS_TSS16_AVAIL || type === SYS_TSS32_AVAIL) {
    if (dpl < c.cpl || dpl < (sel & 3)) c.gp(sel & 0xfffc);
    if (!(DESC.ar & AR_P)) c.fault(V_NP, sel & 0xfffc);
    taskSwitchTo(c, type === SYS_TASK ? DESC.lo >>> 16 : sel, 'call', -1, false, 0);
    return;
  }
  if (type !== SYS_CALL16 && type !== SYS_CALL32) c.gp(sel & 0xfffc);
  // Call gate (SDM vol. 3A, 5.8.3-5.8.5).
  if (dpl < c.cpl || dpl < (sel & 3)) c.gp(sel & 0xfffc);
  if (!(DESC.ar & AR_P)) c.fault(V_NP, sel & 0xfffc);
  const gate32 = type === SYS_CALL32;
  const params = DESC.hi & 0x1f;
  const target = DESC.lo >>> 16;
  const eip = (DESC.lo & 0xffff) | (gate32 ? DESC.hi & 0xffff0000 : 0);
  if ((target & 0xfffc) === 0) c.gp(0);
  if (!readDescriptor(c, target)) c.gp(target & 0xfffc);
  const ar = DESC.ar;
  const tdpl = dplOf(ar);
  if (!(ar & AR_S) || !(ar & AR_CODE) || tdpl > c.cpl) c.gp(target & 0xfffc);
  if (!(ar & AR_P)) c.fault(V_NP, target & 0xfffc);
  const codeBase = DESC.base, codeLimit = DESC.limit, codeAr = DESC.ar, codeHi = DESC.hi, codeAddr = DESC.addr;
  const size = gate32 ? 4 : 2;
  if (!(ar & AR_DC) && tdpl < c.cpl) {
    // More privileged: switch to the TSS stack for tdpl and copy the parameters.
    const t = tssStack(c, tdpl);
    const oldSs = c.segSel[SS]!, oldEsp = c.reg32[ESP]!;
    const oldStack = { base: c.segBase[SS]!, big: c.stackBig };
    if ((t.ss & 0xfffc) === 0) c.fault(V_TS, 0);
    if (!readDescriptor(c, t.ss)) c.fault(V_TS, t.ss & 0xfffc);
    const sar = DESC.ar;
    if ((t.ss & 3) !== tdpl || dplOf(sar) !== tdpl || !(sar & AR_S) || sar & AR_CODE || !(sar & 0x200)) c.fault(V_TS, t.ss & 0xfffc);
    if (!(sar & AR_P)) c.fault(V_SS, t.ss & 0xfffc);
    const s: Stack = { sel: t.ss, base: DESC.base, limit: DESC.limit, ar: DESC.ar, esp: t.esp, big: (DESC.ar & AR_DB) !== 0, sup: tdpl < 3 };
    const ssDesc = { ...DESC };
    stackPush(c, s, oldSs, size);
    stackPush(c, s, oldEsp, size);
    for (let i = params - 1; i >= 0; i--) {
      const srcOff = oldStack.big ? (oldEsp + i * size) | 0 : (oldEsp + i * size) & 0xffff;
      const v = size === 4 ? c.rd32(SS, srcOff) : c.rd16(SS, srcOff);
      stackPush(c, s, v, size);
    }
    stackPush(c, s, retCs, size);
    stackPush(c, s, retEip, size);
    if ((eip >>> 0) > (codeLimit >>> 0)) c.gp(0);
    // Commit.
    Object.assign(DESC, ssDesc);
    markAccessed(c);
    c.loadCache(SS, t.ss, ssDesc.base, ssDesc.limit, ssDesc.ar);
    c.reg32[ESP] = s.esp;
    Object.assign(DESC, { base: codeBase, limit: codeLimit, ar: codeAr, hi: codeHi, addr: codeAddr });
    loadCs(c, target, tdpl);
    c.eip = gate32 ? eip : eip & 0xffff;
    return;
  }
  // Same privilege through the gate.
  const s = currentStack(c);
  stackPushUser(c, s, retCs, size);
  stackPushUser(c, s, retEip, size);
  if ((eip >>> 0) > (codeLimit >>> 0)) c.gp(0);
  Object.assign(DESC, { base: codeBase, limit: codeLimit, ar: codeAr, hi: codeHi, addr: codeAddr });
  loadCs(c, target, c.cpl);
  c.eip = gate32 ? eip : eip & 0xffff;
  commitStack(c, s);
}

/** Pushes on the current stack with the current privilege (segment checks as for any push). */
function stackPushUser(c: Cpu, s: Stack, value: number, size: number): void {
  const esp = s.big ? (s.esp - size) | 0 : (s.esp - size) & 0xffff;
  if (size === 4) c.wr32(SS, esp, value);
  else c.wr16(SS, esp, value);
  s.esp = esp;
}

function commitStack(c: Cpu, s: Stack): void {
  if (s.big) c.reg32[ESP] = s.esp;
  else c.reg16[8] = s.esp;
}

/** RETF [imm16] (SDM vol. 2B, RET far), including returns to an outer privilege level. */
export function farReturn(c: Cpu, imm: number): void {
  const size = c.o32 ? 4 : 2;
  const sp0 = c.sp;
  const at = (d: number): number => (c.stackBig ? (sp0 + d) | 0 : (sp0 + d) & 0xffff);
  const rd = (d: number): number => (size === 4 ? c.rd32(SS, at(d)) : c.rd16(SS, at(d)));
  const eip = rd(0);
  const sel = rd(size) & 0xffff;
  if (!c.protectedMode) {
    c.loadRealSegment(CS, sel);
    c.eip = c.o32 ? eip : eip & 0xffff;
    c.setSp(at(2 * size + imm));
    return;
  }
  if ((sel & 0xfffc) === 0) c.gp(0);
  if (!readDescriptor(c, sel)) c.gp(sel & 0xfffc);
  const rpl = sel & 3;
  const ar = DESC.ar;
  if (rpl < c.cpl || !(ar & AR_S) || !(ar & AR_CODE)) c.gp(sel & 0xfffc);
  if (ar & AR_DC ? dplOf(ar) > rpl : dplOf(ar) !== rpl) c.gp(sel & 0xfffc);
  if (!(ar & AR_P)) c.fault(V_NP, sel & 0xfffc);
  const target = c.o32 ? eip : eip & 0xffff;
  if ((target >>> 0) > (DESC.limit >>> 0)) c.gp(0);
  if (rpl === c.cpl) {
    loadCs(c, sel, rpl);
    c.eip = target;
    c.setSp(at(2 * size + imm));
    return;
  }
  // Return to an outer level: also pop SS:ESP.
  const code = { ...DESC };
  const newEsp = rd(2 * size + imm);
  const newSs = rd(3 * size + imm) & 0xffff;
  loadStackSegmentChecked(c, newSs, rpl);
  Object.assign(DESC, code);
  loadCs(c, sel, rpl);
  c.eip = target;
  c.loadCache(SS, newSs, SSD.base, SSD.limit, SSD.ar);
  if (c.stackBig) c.reg32[ESP] = (newEsp + imm) | 0;
  else c.reg16[8] = (newEsp + imm) & 0xffff;
  nullInaccessibleSegments(c);
}

const SSD = { base: 0, limit: 0, ar: 0 };

/** Checks SS for a return to privilege `rpl` (#GP(sel)/#SS(sel)), leaving its cache values in SSD and marking it accessed. */
function loadStackSegmentChecked(c: Cpu, sel: number, rpl: number): void {
  if ((sel & 0xfffc) === 0) c.gp(0);
  if (!readDescriptor(c, sel)) c.gp(sel & 0xfffc);
  const ar = DESC.ar;
  if ((sel & 3) !== rpl || dplOf(ar) !== rpl || !(ar & AR_S) || ar & AR_CODE || !(ar & 0x200)) c.gp(sel & 0xfffc);
  if (!(ar & AR_P)) c.fault(V_SS, sel & 0xfffc);
  markAccessed(c);
  SSD.base = DESC.base;
  SSD.limit = DESC.limit;
  SSD.ar = DESC.ar;
}

// ---------------------------------------------------------------------------
// IRET
// ---------------------------------------------------------------------------

/** IRET/IRETD (SDM vol. 2A, IRET). */
export function iret(c: Cpu): void {
  c.noteBranch(-1);
  const size = c.o32 ? 4 : 2;
  const flags0 = c.getFlags();
  if (flags0 & F_VM) {
    // Virtual-8086 mode: only with IOPL 3 (no VME); IOPL and VM are kept.
    if ((flags0 & F_IOPL) !== F_IOPL) c.gp(0);
    const eip = size === 4 ? c.rd32(SS, c.sp) : c.rd16(SS, c.sp);
    const cs = size === 4 ? c.rd32(SS, (c.sp + 4) & 0xffff) : c.rd16(SS, (c.sp + 2) & 0xffff);
    const fl = size === 4 ? c.rd32(SS, (c.sp + 8) & 0xffff) : c.rd16(SS, (c.sp + 4) & 0xffff);
    c.addSp(3 * size);
    c.loadRealSegment(CS, cs & 0xffff);
    c.eip = size === 4 ? eip : eip & 0xffff;
    const mask = size === 4 ? 0x3f7fd5 & ~(F_IOPL | F_VM | F_VIP | F_VIF) : 0x7fd5 & ~F_IOPL;
    c.setFlags(fl, mask);
    return;
  }
  if (!c.protectedMode) {
    const sp0 = c.sp;
    const at = (d: number): number => (c.stackBig ? (sp0 + d) | 0 : (sp0 + d) & 0xffff);
    const eip = size === 4 ? c.rd32(SS, at(0)) : c.rd16(SS, at(0));
    const cs = (size === 4 ? c.rd32(SS, at(4)) : c.rd16(SS, at(2))) & 0xffff;
    const fl = size === 4 ? c.rd32(SS, at(8)) : c.rd16(SS, at(4));
    c.setSp(at(3 * size));
    c.loadRealSegment(CS, cs);
    c.eip = size === 4 ? eip : eip & 0xffff;
    c.setFlags(fl, size === 4 ? 0x257fd5 : 0x7fd5);
    return;
  }
  if (flags0 & F_NT) {
    // Return from a nested task: the back link of the current TSS.
    const link = c.readLin16Sup(c.segBase[TR]!);
    taskSwitchTo(c, link, 'iret', -1, false, 0);
    return;
  }
  const sp0 = c.sp;
  const at = (d: number): number => (c.stackBig ? (sp0 + d) | 0 : (sp0 + d) & 0xffff);
  const rd = (d: number): number => (size === 4 ? c.rd32(SS, at(d)) : c.rd16(SS, at(d)));
  const eip = rd(0);
  const sel = rd(size) & 0xffff;
  const fl = rd(2 * size);
  if (fl & F_VM && c.cpl === 0 && size === 4) {
    // Return to virtual-8086 mode (SDM vol. 2A, IRET: RETURN-TO-VIRTUAL-8086-MODE).
    const esp = rd(12), ss = rd(16), es = rd(20), ds = rd(24), fs = rd(28), gs = rd(32);
    c.setFlags(fl, 0x3f7fd5);
    c.updateMode();
    c.loadRealSegment(CS, sel);
    c.eip = eip & 0xffff;
    for (const [seg, v] of [[ES, es], [DS, ds], [FS, fs], [GS, gs], [SS, ss]] as const) c.loadRealSegment(seg, v & 0xffff);
    c.reg32[ESP] = esp;
    c.setCpl(3);
    c.updateMode();
    return;
  }
  if ((sel & 0xfffc) === 0) c.gp(0);
  if (!readDescriptor(c, sel)) c.gp(sel & 0xfffc);
  const rpl = sel & 3;
  const ar = DESC.ar;
  if (rpl < c.cpl || !(ar & AR_S) || !(ar & AR_CODE)) c.gp(sel & 0xfffc);
  if (ar & AR_DC ? dplOf(ar) > rpl : dplOf(ar) !== rpl) c.gp(sel & 0xfffc);
  if (!(ar & AR_P)) c.fault(V_NP, sel & 0xfffc);
  const target = size === 4 ? eip : eip & 0xffff;
  if ((target >>> 0) > (DESC.limit >>> 0)) c.gp(0);
  // Which flags the return may change (SDM: IOPL only at CPL 0, IF only when CPL <= IOPL).
  const oldCpl = c.cpl;
  const iopl = (flags0 & F_IOPL) >>> 12;
  let mask = F_ID | F_AC | F_RF | F_NT | 0xfd5 | F_TF;
  mask |= 0x0100 | 0x0400 | 0x0800;
  if (oldCpl <= iopl) mask |= F_IF;
  if (oldCpl === 0) mask |= F_IOPL | F_VIP | F_VIF;
  if (size === 2) mask &= 0xffff;
  if (rpl === oldCpl) {
    loadCs(c, sel, rpl);
    c.eip = target;
    c.setSp(at(3 * size));
    c.setFlags(fl, mask);
    return;
  }
  const code = { ...DESC };
  const newEsp = rd(3 * size);
  const newSs = rd(4 * size) & 0xffff;
  loadStackSegmentChecked(c, newSs, rpl);
  Object.assign(DESC, code);
  loadCs(c, sel, rpl);
  c.eip = target;
  c.setFlags(fl, mask);
  c.loadCache(SS, newSs, SSD.base, SSD.limit, SSD.ar);
  if (c.stackBig) c.reg32[ESP] = newEsp;
  else c.reg16[8] = newEsp & 0xffff;
  nullInaccessibleSegments(c);
}

// ---------------------------------------------------------------------------
// Interrupts and exceptions
// ---------------------------------------------------------------------------

/**
 * Delivers interrupt `vector`: real-mode IVT, or a protected-mode IDT gate
 * (SDM vol. 3A, 6.12), with a privilege change and virtual-8086 exit when
 * the gate calls for them. `kind` decides the EXT bit of error codes and
 * whether the gate's DPL is checked (software INT n, INT3, INTO).
 */
export function deliverInterrupt(c: Cpu, vector: number, kind: InterruptKind, hasError: boolean, errorCode: number): void {
  // IA-32e mode (64-bit and compatibility mode): 16-byte gates, 64-bit frames
  if (c.efer & EFER_LMA) {
    deliverLong(c, vector, kind === 'software', hasError, errorCode);
    return;
  }
  const ext = kind === 'software' ? 0 : 1;
  const retEip = c.eip;
  c.halted = false;
  if (!(c.cr0 & CR0_PE)) {
    // Real-address mode: the IVT entry, push FLAGS, CS, IP.
    if (vector * 4 + 3 > (c.idtLimit >>> 0)) c.gp(vector * 8 + 2 + ext);
    const ip = c.readLin16Sup(c.idtBase + vector * 4);
    const cs = c.readLin16Sup(c.idtBase + vector * 4 + 2);
    const s = currentStack(c);
    stackPushUser(c, s, c.getFlags(), 2);
    stackPushUser(c, s, c.segSel[CS]!, 2);
    stackPushUser(c, s, retEip, 2);
    commitStack(c, s);
    c.loadRealSegment(CS, cs);
    c.eip = ip;
    c.setFlags(0, F_IF | F_TF | F_AC | F_RF);
    return;
  }
  const flags = c.getFlags();
  const v86 = (flags & F_VM) !== 0;
  if (v86 && kind === 'software' && (flags & F_IOPL) !== F_IOPL) c.gp(0);
  if (vector * 8 + 7 > (c.idtLimit >>> 0)) c.gp(vector * 8 + 2 + ext);
  const gAddr = (c.idtBase + vector * 8) | 0;
  const glo = c.readLin32Sup(gAddr);
  const ghi = c.readLin32Sup(gAddr + 4);
  const type = (ghi >>> 8) & 0x1f; // includes S
  const gdpl = (ghi >>> 13) & 3;
  if (type !== SYS_TASK && type !== SYS_INT16 && type !== SYS_INT32 && type !== SYS_TRAP16 && type !== SYS_TRAP32) c.gp(vector * 8 + 2 + ext);
  if (kind === 'software' && gdpl < c.cpl) c.gp(vector * 8 + 2);
  if (!(ghi & AR_P)) c.fault(V_NP, vector * 8 + 2 + ext);
  if (type === SYS_TASK) {
    taskSwitchTo(c, glo >>> 16, 'int', -1, hasError, errorCode);
    return;
  }
  const gate32 = type === SYS_INT32 || type === SYS_TRAP32;
  const size = gate32 ? 4 : 2;
  const target = glo >>> 16;
  const eip = (glo & 0xffff) | (gate32 ? ghi & 0xffff0000 : 0);
  if ((target & 0xfffc) === 0) c.gp(ext);
  if (!readDescriptor(c, target)) c.gp((target & 0xfffc) + ext);
  const ar = DESC.ar;
  const dpl = dplOf(ar);
  if (!(ar & AR_S) || !(ar & AR_CODE) || dpl > c.cpl) c.gp((target & 0xfffc) + ext);
  if (!(ar & AR_P)) c.fault(V_NP, (target & 0xfffc) + ext);
  const code = { ...DESC };
  const oldSs = c.segSel[SS]!, oldEsp = c.reg32[ESP]!, oldCs = c.segSel[CS]!;
  let s: Stack;
  let newCpl: number;
  if (!(ar & AR_DC) && dpl < c.cpl) {
    if (v86 && dpl !== 0) c.gp((target & 0xfffc) + ext);
    const t = tssStack(c, dpl);
    if ((t.ss & 0xfffc) === 0) c.fault(V_TS, ext);
    if (!readDescriptor(c, t.ss)) c.fault(V_TS, (t.ss & 0xfffc) + ext);
    const sar = DESC.ar;
    if ((t.ss & 3) !== dpl || dplOf(sar) !== dpl || !(sar & AR_S) || sar & AR_CODE || !(sar & 0x200)) c.fault(V_TS, (t.ss & 0xfffc) + ext);
    if (!(sar & AR_P)) c.fault(V_SS, (t.ss & 0xfffc) + ext);
    s = { sel: t.ss, base: DESC.base, limit: DESC.limit, ar: DESC.ar, esp: t.esp, big: (DESC.ar & AR_DB) !== 0, sup: true };
    const ssDesc = { ...DESC };
    if (v86) {
      stackPush(c, s, c.segSel[GS]!, size);
      stackPush(c, s, c.segSel[FS]!, size);
      stackPush(c, s, c.segSel[DS]!, size);
      stackPush(c, s, c.segSel[ES]!, size);
    }
    stackPush(c, s, oldSs, size);
    stackPush(c, s, oldEsp, size);
    stackPush(c, s, flags, size);
    stackPush(c, s, oldCs, size);
    stackPush(c, s, retEip, size);
    if (hasError) stackPush(c, s, errorCode, size);
    if ((eip >>> 0) > (code.limit >>> 0)) c.gp(0);
    // Commit: SS first (so the new stack is in place), then CS.
    Object.assign(DESC, ssDesc);
    markAccessed(c);
    c.loadCache(SS, t.ss, ssDesc.base, ssDesc.limit, ssDesc.ar);
    newCpl = dpl;
  } else {
    if (v86) c.gp((target & 0xfffc) + ext);
    s = currentStack(c);
    stackPushUser(c, s, flags, size);
    stackPushUser(c, s, oldCs, size);
    stackPushUser(c, s, retEip, size);
    if (hasError) stackPushUser(c, s, errorCode, size);
    if ((eip >>> 0) > (code.limit >>> 0)) c.gp(0);
    newCpl = c.cpl;
  }
  if (s.big) c.reg32[ESP] = s.esp;
  else c.reg16[8] = s.esp;
  // Flags: TF, VM, RF, NT cleared; IF too for an interrupt gate.
  const clear = F_TF | F_VM | F_RF | F_NT | (type === SYS_INT16 || type === SYS_INT32 ? F_IF : 0);
  c.setFlags(0, clear);
  if (v86) {
    for (const seg of [ES, DS, FS, GS]) c.loadCache(seg, 0, 0, 0, 0);
  }
  Object.assign(DESC, code);
  loadCs(c, target, newCpl);
  c.eip = gate32 ? eip : eip & 0xffff;
  c.noteBranch(c.eip);
  c.updateMode();
}

// ---------------------------------------------------------------------------
// Task switches (SDM vol. 3A, 7.3)
// ---------------------------------------------------------------------------

/**
 * Switches to the task whose TSS selector is `sel`. `how` decides busy
 * bits, NT and the back link: 'jmp' and 'iret' clear the old task's busy
 * bit, 'call' and 'int' link the new task to the old. An exception's error
 * code is pushed on the new task's stack.
 */
export function taskSwitchTo(c: Cpu, sel: number, how: 'jmp' | 'call' | 'int' | 'iret', _unused: number, hasError: boolean, errorCode: number): void {
  sel &= 0xffff;
  if (sel & 4) c.fault(V_TS, sel & 0xfffc); // a TSS descriptor must be in the GDT
  if (!readDescriptor(c, sel)) c.fault(how === 'int' || how === 'iret' ? V_TS : V_GP, sel & 0xfffc);
  const type = (DESC.ar >>> 8) & 0x1f;
  const newBig = type === SYS_TSS32_AVAIL || type === SYS_TSS32_BUSY;
  const busyExpected = how === 'iret';
  const okType = busyExpected ? type === SYS_TSS32_BUSY || type === SYS_TSS16_BUSY : type === SYS_TSS32_AVAIL || type === SYS_TSS16_AVAIL;
  if (!okType) c.fault(how === 'iret' ? V_TS : V_GP, sel & 0xfffc);
  if (!(DESC.ar & AR_P)) c.fault(V_NP, sel & 0xfffc);
  if ((DESC.limit >>> 0) < (newBig ? 0x67 : 0x2b)) c.fault(V_TS, sel & 0xfffc);
  const newBase = DESC.base, newLimit = DESC.limit, newAr = DESC.ar, newAddr = DESC.addr;
  // ---- save the current task ----
  const oldSel = c.segSel[TR]!;
  const oldBase = c.segBase[TR]!;
  const oldType = (c.segAr[TR]! >>> 8) & 0xf;
  const oldBig = oldType === SYS_TSS32_BUSY || oldType === SYS_TSS32_AVAIL;
  let flags = c.getFlags();
  if (how === 'iret') flags &= ~F_NT;
  if (oldBig) {
    c.writeLin32Sup(oldBase + 0x20, c.eip);
    c.writeLin32Sup(oldBase + 0x24, flags);
    for (let r = 0; r < 8; r++) c.writeLin32Sup(oldBase + 0x28 + r * 4, c.reg32[r]!);
    for (let s = 0; s < 6; s++) c.writeLin16Sup(oldBase + 0x48 + s * 4, c.segSel[s]!);
  } else {
    c.writeLin16Sup(oldBase + 0x0e, c.eip);
    c.writeLin16Sup(oldBase + 0x10, flags);
    for (let r = 0; r < 8; r++) c.writeLin16Sup(oldBase + 0x12 + r * 2, c.reg16[r * 2]!);
    for (let s = 0; s < 4; s++) c.writeLin16Sup(oldBase + 0x22 + s * 2, c.segSel[s]!);
  }
  if (how === 'jmp' || how === 'iret') {
    // Clear the old task's busy bit.
    const oldDescAddr = (c.gdtBase + (oldSel & 0xfff8)) | 0;
    const b = c.readLin8Sup(oldDescAddr + 5);
    c.writeLin8Sup(oldDescAddr + 5, b & ~0x02);
  }
  // ---- read the new task ----
  const rd32 = (o: number): number => c.readLin32Sup(newBase + o);
  const rd16 = (o: number): number => c.readLin16Sup(newBase + o);
  let nEip: number, nFlags: number, nCr3 = 0, nLdt: number;
  const nRegs = new Int32Array(8);
  const nSegs = new Int32Array(6);
  if (newBig) {
    nCr3 = rd32(0x1c);
    nEip = rd32(0x20);
    nFlags = rd32(0x24);
    for (let r = 0; r < 8; r++) nRegs[r] = rd32(0x28 + r * 4);
    for (let s = 0; s < 6; s++) nSegs[s] = rd16(0x48 + s * 4);
    nLdt = rd16(0x60);
  } else {
    nEip = rd16(0x0e);
    nFlags = rd16(0x10);
    for (let r = 0; r < 8; r++) nRegs[r] = (rd16(0x12 + r * 2) << 16) >> 16;
    for (let s = 0; s < 4; s++) nSegs[s] = rd16(0x22 + s * 2);
    nLdt = rd16(0x2a);
  }
  if (how === 'call' || how === 'int') {
    c.writeLin16Sup(newBase, oldSel);
    nFlags |= F_NT;
  }
  if (how !== 'iret') {
    const b = c.readLin8Sup(newAddr + 5);
    c.writeLin8Sup(newAddr + 5, b | 0x02);
  }
  // ---- switch: TR, CR0.TS, CR3, registers; then the checked loads ----
  c.loadSystemCache(TR, sel, newBase, newLimit, newAr | 0x200);
  c.cr0 |= CR0_TS;
  // SDM vol. 3A, 4.4.1 and 4.10.4.1: the switch loads the PAE PDPTEs (and
  // flushes the TLBs) only when it changes CR3; a switch to a task with the
  // same CR3 keeps the PDPTEs loaded before, whatever the PDPT holds now.
  if (newBig && c.cr0 & CR0_PG && (nCr3 >>> 0) !== (c.cr3 >>> 0)) {
    c.endFetchRun();
    if (c.mmu.writeCr3(nCr3, 0) !== 0) {
      c.mmu.clearFault();
      c.gp(0);
    }
    c.cr3 = nCr3;
  }
  c.eip = nEip;
  for (let r = 0; r < 8; r++) {
    if (newBig) c.reg32[r] = nRegs[r]!;
    else c.reg16[r * 2] = nRegs[r]!;
  }
  c.setFlags(nFlags | 2, newBig ? 0x3f7fd5 : 0xffd5);
  c.updateMode();
  c.flushFetch();
  if (nFlags & F_VM && newBig) {
    for (let s = 0; s < 6; s++) c.loadRealSegment(s, nSegs[s]!);
    c.setCpl(3);
  } else {
    // LDT first (segment loads may use it), then CS (sets CPL), SS, data segments; faults are #TS in the new task.
    if ((nLdt & 0xfffc) !== 0) {
      if (nLdt & 4 || !readDescriptor(c, nLdt) || (DESC.ar & 0x1f00) !== SYS_LDT << 8) c.fault(V_TS, nLdt & 0xfffc);
      if (!(DESC.ar & AR_P)) c.fault(V_TS, nLdt & 0xfffc);
      c.loadSystemCache(LDTR, nLdt, DESC.base, DESC.limit, DESC.ar);
    } else {
      c.loadSystemCache(LDTR, 0, 0, 0, 0);
    }
    const csSel = nSegs[CS]!;
    if ((csSel & 0xfffc) === 0 || !readDescriptor(c, csSel) || !(DESC.ar & AR_S) || !(DESC.ar & AR_CODE)) c.fault(V_TS, csSel & 0xfffc);
    const cdpl = dplOf(DESC.ar);
    if (DESC.ar & AR_DC ? cdpl > (csSel & 3) : cdpl !== (csSel & 3)) c.fault(V_TS, csSel & 0xfffc);
    if (!(DESC.ar & AR_P)) c.fault(V_NP, csSel & 0xfffc);
    loadCs(c, csSel, csSel & 3);
    loadStackSegment(c, nSegs[SS]!, c.cpl, true);
    for (const s of [ES, DS, FS, GS]) {
      if (!newBig && (s === FS || s === GS)) continue;
      try {
        loadSegment(c, s, nSegs[s]!);
      } catch (e) {
        // Data-segment faults during a task switch are reported as #TS (SDM table 7-1).
        if (e && (e as { vector?: number }).vector === V_GP) c.fault(V_TS, nSegs[s]! & 0xfffc);
        throw e;
      }
    }
  }
  if (hasError) {
    if (newBig) c.push32(errorCode);
    else c.push16(errorCode);
  }
  const limitOk = (c.eip >>> 0) <= (c.segLimit[CS]! >>> 0);
  if (!limitOk) c.gp(0);
}

// ---------------------------------------------------------------------------
// SYSENTER / SYSEXIT (SDM vol. 2B)
// ---------------------------------------------------------------------------

const FLAT_CODE_AR = AR_P | AR_S | AR_CODE | 0x200 | 0x100 | AR_DB | (1 << 23);
const FLAT_DATA_AR = AR_P | AR_S | 0x200 | 0x100 | AR_DB | (1 << 23);

export function sysenter(c: Cpu): void {
  if (!(c.cr0 & CR0_PE) || (c.sysenterCs & 0xfffc) === 0) c.gp(0);
  c.setFlags(0, F_VM | F_IF | F_RF);
  c.updateMode();
  const cs = c.sysenterCs & 0xfffc;
  c.loadCache(CS, cs, 0, -1, FLAT_CODE_AR);
  c.loadCache(SS, (cs + 8) & 0xffff, 0, -1, FLAT_DATA_AR);
  c.setCpl(0);
  c.reg32[ESP] = c.sysenterEsp;
  c.eip = c.sysenterEip;
  c.updateMode();
}

export function sysexit(c: Cpu): void {
  if (!(c.cr0 & CR0_PE) || c.cpl !== 0 || (c.sysenterCs & 0xfffc) === 0 || c.getFlags() & F_VM) c.gp(0);
  const cs = ((c.sysenterCs & 0xfffc) + 16) | 3;
  c.loadCache(CS, cs, 0, -1, FLAT_CODE_AR | (3 << 13));
  c.loadCache(SS, ((c.sysenterCs & 0xfffc) + 24) | 3, 0, -1, FLAT_DATA_AR | (3 << 13));
  c.setCpl(3);
  c.reg32[ESP] = c.reg32[1]!;
  c.eip = c.reg32[2]!;
  c.updateMode();
}

export { SYS_TSS16_BUSY };
