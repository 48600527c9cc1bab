/**
 * The x87, MMX, FXSAVE/FXRSTOR and XSAVE/XRSTOR opcodes: decoded here (ModR/M, prefixes,
 * the CR0.EM/TS checks of FXSAVE/FXRSTOR) and executed by the FPU
 * (../fpu.ts).
 *
 * Rule for every handler (execute.ts): memory first, registers last.
 */
import { CR0_TS, CR0_EM } from '../constants.js';
import type { Cpu } from '../cpu.js';
import { lockCheck, span, type OpcodeEntry } from './common.js';
import { SSE_MMX_FORMS, clflush, ldStMxcsr, sseExec } from './sse.js';
import { xrstor, xsave } from '../xsave.js';

function op9b(c: Cpu): void {
  // WAIT/FWAIT
  lockCheck(c, false);
  c.fpu.wait();
}

function opd8(c: Cpu, op: number): void {
  // D8-DF: the x87 instruction is the opcode and the ModR/M byte
  c.decodeModrm();
  lockCheck(c, false);
  c.fpu.exec(op, c.modrm, c.eaSeg, c.eaOff);
}

function op0fae(c: Cpu): void {
  // group 15: FXSAVE, FXRSTOR; with xsave XSAVE, XRSTOR; with SSE also LDMXCSR, STMXCSR, SFENCE and with SSE2 LFENCE, MFENCE, CLFLUSH (otherwise #UD)
  c.decodeModrm();
  lockCheck(c, false);
  const o = c.regField;
  if ((o === 4 || o === 5) && c.modrm < 0xc0 && c.features.xsave) {
    // XSAVE, XRSTOR (NP 0F AE /4, /5; SDM vol. 2C): 66, F2 or F3 is #UD; the rest in ../xsave.ts
    if (c.rep !== 0 || c.o32 !== c.codeBig) c.ud();
    const lin = (c.segBase[c.eaSeg]! + c.eaOff) | 0;
    if (o === 4) xsave(c, c, c.eaSeg, c.eaOff, lin, 0);
    else xrstor(c, c, c.eaSeg, c.eaOff, lin, 0);
    return;
  }
  if (c.features.sse && (c.modrm >= 0xc0 || o > 1)) {
    group15Sse(c, o);
    return;
  }
  if (c.modrm >= 0xc0 || o > 1) c.ud();
  if (c.cr0 & (CR0_TS | CR0_EM)) {
    if (c.cr0 & CR0_EM) c.ud();
    c.trap(7);
  }
  if (o === 0) c.fpu.fxsave(c.eaSeg, c.eaOff);
  else c.fpu.fxrstor(c.eaSeg, c.eaOff);
}

/**
 * Group 15's SSE forms. The fences order nothing here: every access is
 * done, in program order, by the time the next instruction starts (SDM
 * vol. 2, LFENCE, MFENCE, SFENCE; their r/m field is ignored).
 */
function group15Sse(c: Cpu, o: number): void {
  if (c.modrm >= 0xc0) {
    if (o === 7) return; // SFENCE
    if ((o === 5 || o === 6) && c.features.sse2) return; // LFENCE, MFENCE
    c.ud();
  }
  if (o === 2 || o === 3) ldStMxcsr(c, o === 3);
  else if (o === 7 && c.features.sse2) clflush(c);
  else c.ud();
}

function op0fmmx(c: Cpu, op: number): void {
  // MMX: 0F 60-7F and D1-FE without a 66, F2 or F3 prefix; with SSE, the prefixed forms and SSE's additions to the MMX columns are ops/sse.ts's
  if (c.features.sse && (c.rep !== 0 || c.o32 !== c.codeBig || SSE_MMX_FORMS[op] !== 0)) {
    sseExec(c, op);
    return;
  }
  if (c.rep !== 0 || (c.o32 !== c.codeBig)) c.ud();
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
}

export const FPU_OPCODES: readonly OpcodeEntry[] = [
  { map: 'one', opcodes: [0x9b], handler: op9b, mnemonic: 'WAIT/FWAIT', flow: 'next', modrm: false, imm: 'none' },
  { map: 'one', opcodes: span(0xd8, 0xdf), handler: opd8, mnemonic: 'x87 escape', flow: 'next', modrm: true, imm: 'none' },
  { map: '0f', opcodes: [0xae], handler: op0fae, mnemonic: 'group 15 (FXSAVE FXRSTOR)', flow: 'next', modrm: true, imm: 'none' },
  { map: '0f', opcodes: [...span(0x60, 0x6f), ...span(0x74, 0x76), ...span(0x78, 0x7f), ...span(0xd1, 0xfe)], handler: op0fmmx, mnemonic: 'MMX (0F 60-6F, 74-76, 78-7F, D1-FE; with SSE also their 66/F2/F3 forms)', flow: 'next', modrm: true, imm: 'none' },
  { map: '0f', opcodes: [0x70], handler: op0fmmx, mnemonic: 'PSHUFW/PSHUFD/PSHUFHW/PSHUFLW (SSE, SSE2)', flow: 'next', modrm: true, imm: 'Ib' },
  { map: '0f', opcodes: span(0x71, 0x73), handler: op0fmmx, mnemonic: 'MMX shift groups 12-14 (PSRLW/PSRAW/PSLLW ... Nq, Ib)', flow: 'next', modrm: true, imm: 'Ib' },
  { map: '0f', opcodes: [0x77], handler: op0fmmx, mnemonic: 'EMMS', flow: 'next', modrm: false, imm: 'none' },
];
