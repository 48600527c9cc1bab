/**
 * System instructions: the flags that control the machine (PUSHF/POPF,
 * CLI/STI, CLD/STD), HLT, ARPL, and from the 0F map groups 6 and 7
 * (descriptor tables, LDTR/TR, MSW, INVLPG), LAR/LSL, CLTS, INVD/WBINVD,
 * UD2, the hint NOPs, MOV to and from CRn/DRn, the MSRs, RDTSC, RDPMC and
 * CPUID. The work is mostly in ../system.ts.
 *
 * Rule for every handler (execute.ts): memory first, registers last.
 */
import { F_AC, F_ARITH, F_DF, F_ID, F_IF, F_IOPL, F_NT, F_RF, F_TF, F_VM, F_ZF, CR0_TS, LDTR, TR } from '../constants.js';
import type { Cpu } from '../cpu.js';
import { cpuid, larLsl, lldt, ltr, rdmsr, rdpkru, rdtsc, rdtscp, readCr, readDr, verify, writeCr, writeDr, wrmsr, wrpkru, xgetbv, xsetbv } from '../system.js';
import { lockCheck, span, type OpcodeEntry } from './common.js';

/** Whether CLI/STI/PUSHF-style IOPL-sensitive instructions are allowed (SDM 20.2.6 for v86). */
function iopl(c: Cpu): number {
  return (c.getFlags() & F_IOPL) >>> 12;
}

export function popfMask(c: Cpu): number {
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

function opf4(c: Cpu): void {
  // HLT
  lockCheck(c, false);
  if (c.cpl !== 0) c.gp(0);
  c.halted = true;
  c.pollIntr = true;
}

function opfa(c: Cpu): void {
  // CLI
  lockCheck(c, false);
  if ((c.protectedMode || c.getFlags() & F_VM) && c.cpl > iopl(c)) c.gp(0);
  c.setFlags(0, F_IF);
}

function opfb(c: Cpu): void {
  // STI: interrupts stay inhibited for one more instruction
  lockCheck(c, false);
  if ((c.protectedMode || c.getFlags() & F_VM) && c.cpl > iopl(c)) c.gp(0);
  if (!(c.getFlags() & F_IF)) c.intShadow = true;
  c.setFlags(F_IF, F_IF);
}

function opfc(c: Cpu): void {
  lockCheck(c, false); c.setFlags(0, F_DF);
}

function opfd(c: Cpu): void {
  lockCheck(c, false); c.setFlags(F_DF, F_DF);
}

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
  // group 7: SGDT, SIDT, LGDT, LIDT, SMSW, LMSW, INVLPG; CLAC and STAC (0F 01 CA/CB); RDPKRU and WRPKRU (0F 01 EE/EF); XGETBV and XSETBV (0F 01 D0/D1);
  // RDTSCP (0F 01 F9)
  c.decodeModrm();
  lockCheck(c, false);
  const o = c.regField;
  if (c.modrm === 0xca || c.modrm === 0xcb) {
    // CLAC/STAC (SDM vol. 2A): #UD without SMAP or at CPL > 0 (virtual-8086 mode included).
    if (!c.features.has('smap') || c.cpl !== 0) c.ud();
    c.setFlags(c.modrm === 0xcb ? F_AC : 0, F_AC);
    return;
  }
  if (c.modrm === 0xee || c.modrm === 0xef) {
    // RDPKRU/WRPKRU (NP 0F 01 EE/EF, SDM vol. 2B): 66, F2 or F3 is #UD (LOCK is, above); the rest in system.ts.
    if (c.rep !== 0 || c.o32 !== c.codeBig) c.ud();
    if (c.modrm === 0xee) rdpkru(c);
    else wrpkru(c);
    return;
  }
  if (c.modrm === 0xd0 || c.modrm === 0xd1) {
    // XGETBV/XSETBV (NP 0F 01 D0/D1, SDM vol. 2C): 66, F2 or F3 is #UD (LOCK is, above); the rest in system.ts
    if (c.rep !== 0 || c.o32 !== c.codeBig) c.ud();
    if (c.modrm === 0xd0) xgetbv(c);
    else xsetbv(c);
    return;
  }
  if (c.modrm === 0xf9) {
    // RDTSCP (SDM vol. 2B): #UD without the feature (LOCK is, above), #GP(0) above CPL 0 with CR4.TSD; system.ts
    rdtscp(c);
    return;
  }
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
      // The operand's base is the whole register's (SDM vol. 2A LGDT/LIDT, "Operation": GDTR(Base) <- SRC[16:47]):
      // in compatibility mode the high half of a base 64-bit code loaded becomes 0.
      if (o === 2) { c.gdtBase = base; c.gdtBaseHi = 0; c.gdtLimit = limit; }
      else { c.idtBase = base; c.idtBaseHi = 0; c.idtLimit = limit; }
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
}

function op0f08(c: Cpu): void {
  // INVD, WBINVD: no caches to manage
  lockCheck(c, false);
  if (c.cpl !== 0) c.gp(0);
}

function op0f0b(c: Cpu): void {
  c.ud(); // UD2
}

function op0f18(c: Cpu): void {
  // Hint NOPs (P6 family: NOP Ev); the ModR/M operand is decoded, never accessed.
  c.decodeModrm();
  lockCheck(c, false);
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
  c.gp(0); // RDPMC: no performance counters (ECX is always out of range)
}

function op0fa2(c: Cpu): void {
  lockCheck(c, false); cpuid(c);
}

export const SYSTEM_OPCODES: readonly OpcodeEntry[] = [
  { map: 'one', opcodes: [0x63], handler: op63, mnemonic: 'ARPL Ew, Gw', flow: 'next', modrm: true, imm: 'none', long: 'movsxd' },
  { map: 'one', opcodes: [0x9c], handler: op9c, mnemonic: 'PUSHF/PUSHFD', flow: 'next', modrm: false, imm: 'none', long: 'd64' },
  { map: 'one', opcodes: [0x9d], handler: op9d, mnemonic: 'POPF/POPFD', flow: 'end', modrm: false, imm: 'none', long: 'd64' },
  { map: 'one', opcodes: [0xf4], handler: opf4, mnemonic: 'HLT', flow: 'end', modrm: false, imm: 'none' },
  { map: 'one', opcodes: [0xfa], handler: opfa, mnemonic: 'CLI', flow: 'end', modrm: false, imm: 'none' },
  { map: 'one', opcodes: [0xfb], handler: opfb, mnemonic: 'STI', flow: 'end', modrm: false, imm: 'none' },
  { map: 'one', opcodes: [0xfc], handler: opfc, mnemonic: 'CLD', flow: 'next', modrm: false, imm: 'none' },
  { map: 'one', opcodes: [0xfd], handler: opfd, mnemonic: 'STD', flow: 'next', modrm: false, imm: 'none' },
  { map: '0f', opcodes: [0x00], handler: op0f00, mnemonic: 'group 6 (SLDT STR LLDT LTR VERR VERW)', flow: 'end', modrm: true, imm: 'none' },
  { map: '0f', opcodes: [0x01], handler: op0f01, mnemonic: 'group 7 (SGDT SIDT LGDT LIDT SMSW LMSW INVLPG CLAC STAC RDPKRU WRPKRU RDTSCP)', flow: 'end', modrm: true, imm: 'none' },
  { map: '0f', opcodes: [0x02, 0x03], handler: op0f02, mnemonic: 'LAR/LSL Gv, Ew', flow: 'next', modrm: true, imm: 'none' },
  { map: '0f', opcodes: [0x06], handler: op0f06, mnemonic: 'CLTS', flow: 'end', modrm: false, imm: 'none' },
  { map: '0f', opcodes: [0x08, 0x09], handler: op0f08, mnemonic: 'INVD/WBINVD', flow: 'next', modrm: false, imm: 'none' },
  { map: '0f', opcodes: [0x0b], handler: op0f0b, mnemonic: 'UD2', flow: 'end', modrm: false, imm: 'none' },
  { map: '0f', opcodes: span(0x18, 0x1f), handler: op0f18, mnemonic: 'hint NOP Ev', flow: 'next', modrm: true, imm: 'none' },
  { map: '0f', opcodes: span(0x20, 0x23), handler: op0f20, mnemonic: 'MOV r32, CRn / r32, DRn / CRn, r32 / DRn, r32', flow: 'end', modrm: true, imm: 'none' },
  { map: '0f', opcodes: [0x30], handler: op0f30, mnemonic: 'WRMSR', flow: 'end', modrm: false, imm: 'none' },
  { map: '0f', opcodes: [0x31], handler: op0f31, mnemonic: 'RDTSC', flow: 'next', modrm: false, imm: 'none' },
  { map: '0f', opcodes: [0x32], handler: op0f32, mnemonic: 'RDMSR', flow: 'next', modrm: false, imm: 'none' },
  { map: '0f', opcodes: [0x33], handler: op0f33, mnemonic: 'RDPMC', flow: 'end', modrm: false, imm: 'none' },
  { map: '0f', opcodes: [0xa2], handler: op0fa2, mnemonic: 'CPUID', flow: 'next', modrm: false, imm: 'none' },
];
