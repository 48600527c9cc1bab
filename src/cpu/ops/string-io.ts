/**
 * String instructions (MOVS, CMPS, STOS, LODS, SCAS, INS, OUTS; the element
 * loop and REP are in ../string.ts) and port I/O (IN, OUT). A port access
 * brings the virtual clock up to the instruction and ends the run slice
 * (Cpu.syncClockForIo).
 *
 * Rule for every handler (execute.ts): memory first, registers last.
 */
import type { Cpu } from '../cpu.js';
import { stringOp } from '../string.js';
import { checkIoPermission } from '../system.js';
import { lockCheck, type OpcodeEntry } from './common.js';

export function ioRead(c: Cpu, port: number, size: number): number {
  checkIoPermission(c, port, size);
  c.syncClockForIo();
  c.pollIntr = true;
  return size === 1 ? c.io.in8(port) : size === 2 ? c.io.in16(port) : c.io.in32(port);
}

export function ioWrite(c: Cpu, port: number, size: number, v: number): void {
  checkIoPermission(c, port, size);
  c.syncClockForIo();
  c.pollIntr = true;
  if (size === 1) c.io.out8(port, v);
  else if (size === 2) c.io.out16(port, v);
  else c.io.out32(port, v);
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
  lockCheck(c, false); stringOp(c, 6, c.o32 ? 4 : 2);
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
  lockCheck(c, false); stringOp(c, 4, c.o32 ? 4 : 2);
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
  lockCheck(c, false); if (c.o32) ioWrite(c, c.reg16[4]!, 4, c.reg32[0]!); else ioWrite(c, c.reg16[4]!, 2, c.reg16[0]!);
}

export const STRING_IO_OPCODES: readonly OpcodeEntry[] = [
  { map: 'one', opcodes: [0x6c], handler: op6c, mnemonic: 'INSB', flow: 'end', modrm: false, imm: 'none' },
  { map: 'one', opcodes: [0x6d], handler: op6d, mnemonic: 'INSW/INSD', flow: 'end', modrm: false, imm: 'none' },
  { map: 'one', opcodes: [0x6e], handler: op6e, mnemonic: 'OUTSB', flow: 'end', modrm: false, imm: 'none' },
  { map: 'one', opcodes: [0x6f], handler: op6f, mnemonic: 'OUTSW/OUTSD', flow: 'end', modrm: false, imm: 'none' },
  { map: 'one', opcodes: [0xa4], handler: opa4, mnemonic: 'MOVSB', flow: 'next', modrm: false, imm: 'none' },
  { map: 'one', opcodes: [0xa5], handler: opa5, mnemonic: 'MOVSW/MOVSD', flow: 'next', modrm: false, imm: 'none' },
  { map: 'one', opcodes: [0xa6], handler: opa6, mnemonic: 'CMPSB', flow: 'next', modrm: false, imm: 'none' },
  { map: 'one', opcodes: [0xa7], handler: opa7, mnemonic: 'CMPSW/CMPSD', flow: 'next', modrm: false, imm: 'none' },
  { map: 'one', opcodes: [0xaa], handler: opaa, mnemonic: 'STOSB', flow: 'next', modrm: false, imm: 'none' },
  { map: 'one', opcodes: [0xab], handler: opab, mnemonic: 'STOSW/STOSD', flow: 'next', modrm: false, imm: 'none' },
  { map: 'one', opcodes: [0xac], handler: opac, mnemonic: 'LODSB', flow: 'next', modrm: false, imm: 'none' },
  { map: 'one', opcodes: [0xad], handler: opad, mnemonic: 'LODSW/LODSD', flow: 'next', modrm: false, imm: 'none' },
  { map: 'one', opcodes: [0xae], handler: opae, mnemonic: 'SCASB', flow: 'next', modrm: false, imm: 'none' },
  { map: 'one', opcodes: [0xaf], handler: opaf, mnemonic: 'SCASW/SCASD', flow: 'next', modrm: false, imm: 'none' },
  { map: 'one', opcodes: [0xe4], handler: ope4, mnemonic: 'IN AL, Ib', flow: 'end', modrm: false, imm: 'Ib' },
  { map: 'one', opcodes: [0xe5], handler: ope5, mnemonic: 'IN eAX, Ib', flow: 'end', modrm: false, imm: 'Ib' },
  { map: 'one', opcodes: [0xe6], handler: ope6, mnemonic: 'OUT Ib, AL', flow: 'end', modrm: false, imm: 'Ib' },
  { map: 'one', opcodes: [0xe7], handler: ope7, mnemonic: 'OUT Ib, eAX', flow: 'end', modrm: false, imm: 'Ib' },
  { map: 'one', opcodes: [0xec], handler: opec, mnemonic: 'IN AL, DX', flow: 'end', modrm: false, imm: 'none' },
  { map: 'one', opcodes: [0xed], handler: oped, mnemonic: 'IN eAX, DX', flow: 'end', modrm: false, imm: 'none' },
  { map: 'one', opcodes: [0xee], handler: opee, mnemonic: 'OUT DX, AL', flow: 'end', modrm: false, imm: 'none' },
  { map: 'one', opcodes: [0xef], handler: opef, mnemonic: 'OUT DX, eAX', flow: 'end', modrm: false, imm: 'none' },
];
