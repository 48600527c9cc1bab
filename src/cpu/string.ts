/**
 * String instructions (MOVS, CMPS, STOS, LODS, SCAS, INS, OUTS) with their
 * REP/REPE/REPNE forms (SDM vol. 2, REP prefix). The address size picks
 * SI/DI/CX or ESI/EDI/ECX; DF picks the direction. Registers are updated
 * after every element, so a fault part-way leaves a restartable state, as
 * on hardware.
 */
import { alu } from './alu.js';
import { DS, ES, F_DF } from './constants.js';
import type { Cpu } from './cpu.js';
import { checkIoPermission } from './system.js';

/** kind: 0 MOVS, 1 CMPS, 2 STOS, 3 LODS, 4 SCAS, 5 INS, 6 OUTS; size 1, 2 or 4 bytes */
export function stringOp(c: Cpu, kind: number, size: number): void {
  const a32 = c.a32;
  const step = c.getFlags() & F_DF ? -size : size;
  const src = c.segOverride >= 0 ? c.segOverride : DS;
  const rep = c.rep;
  if (kind === 5 || kind === 6) {
    checkIoPermission(c, c.reg16[4]!, size);
    c.syncClockForIo();
  }
  if (rep === 0) {
    element(c, kind, size, step, src, a32);
    return;
  }
  // REP: CX/ECX counts; CMPS/SCAS also stop on the ZF condition of REPE/REPNE.
  const conditional = kind === 1 || kind === 4;
  // REP STOS and REP MOVS upward with 32-bit addresses and flat segments:
  // runs of elements on one page at a time where the MMU's fast path takes
  // them (Mmu.fillRun, copyRun), the rest one by one. The instruction's
  // effect is the same either way: all of it runs in this one call.
  const runs = a32 && step > 0 && (kind === 2 ? c.segFastW[ES] !== 0 : kind === 0 && c.segFastW[ES] !== 0 && c.segFastR[src] !== 0);
  for (;;) {
    const count = a32 ? c.reg32[1]! : c.reg16[2]!;
    if (count === 0) return;
    if (runs && runOf(c, kind, size, src, count >>> 0)) continue;
    element(c, kind, size, step, src, a32);
    if (a32) c.reg32[1] = (count - 1) | 0;
    else c.reg16[2] = count - 1;
    if (conditional) {
      const zf = c.getZF() !== 0;
      if (rep === 2 ? !zf : zf) return;
    }
  }
}

/**
 * A run of a REP STOS or MOVS upward (see stringOp) from ECX = `count`:
 * true when the MMU took one (EDI, ESI and ECX then moved past it).
 */
function runOf(c: Cpu, kind: number, size: number, src: number, count: number): boolean {
  const di = c.reg32[7]!, dst = (c.segBase[ES]! + di) | 0;
  let n: number;
  if (kind === 2) {
    n = c.mmu.fillRun(dst, size === 1 ? c.reg8[0]! : size === 2 ? c.reg16[0]! : c.reg32[0]!, size, count);
  } else {
    const si = c.reg32[6]!;
    n = c.mmu.copyRun((c.segBase[src]! + si) | 0, dst, size, count);
    if (n !== 0) c.reg32[6] = (si + n * size) | 0;
  }
  if (n === 0) return false;
  c.reg32[7] = (di + n * size) | 0;
  c.reg32[1] = (count - n) | 0;
  return true;
}

function element(c: Cpu, kind: number, size: number, step: number, src: number, a32: boolean): void {
  const si = a32 ? c.reg32[6]! : c.reg16[12]!;
  const di = a32 ? c.reg32[7]! : c.reg16[14]!;
  const bits = size * 8;
  switch (kind) {
    case 0: { // MOVS
      const v = size === 1 ? c.rd8(src, si) : size === 2 ? c.rd16(src, si) : c.rd32(src, si);
      if (size === 1) c.wr8(ES, di, v);
      else if (size === 2) c.wr16(ES, di, v);
      else c.wr32(ES, di, v);
      advance(c, 6, si, step, a32);
      advance(c, 7, di, step, a32);
      return;
    }
    case 1: { // CMPS
      const a = size === 1 ? c.rd8(src, si) : size === 2 ? c.rd16(src, si) : c.rd32(src, si);
      const b = size === 1 ? c.rd8(ES, di) : size === 2 ? c.rd16(ES, di) : c.rd32(ES, di);
      alu(c, 7, a, b, bits);
      advance(c, 6, si, step, a32);
      advance(c, 7, di, step, a32);
      return;
    }
    case 2: // STOS
      if (size === 1) c.wr8(ES, di, c.reg8[0]!);
      else if (size === 2) c.wr16(ES, di, c.reg16[0]!);
      else c.wr32(ES, di, c.reg32[0]!);
      advance(c, 7, di, step, a32);
      return;
    case 3: { // LODS
      const v = size === 1 ? c.rd8(src, si) : size === 2 ? c.rd16(src, si) : c.rd32(src, si);
      if (size === 1) c.reg8[0] = v;
      else if (size === 2) c.reg16[0] = v;
      else c.reg32[0] = v;
      advance(c, 6, si, step, a32);
      return;
    }
    case 4: { // SCAS
      const b = size === 1 ? c.rd8(ES, di) : size === 2 ? c.rd16(ES, di) : c.rd32(ES, di);
      const a = size === 1 ? c.reg8[0]! : size === 2 ? c.reg16[0]! : c.reg32[0]!;
      alu(c, 7, a, b, bits);
      advance(c, 7, di, step, a32);
      return;
    }
    case 5: { // INS: the write is checked before the port is read (a read can have side effects)
      c.probeWrite(ES, di, size);
      const port = c.reg16[4]!;
      const v = size === 1 ? c.io.in8(port) : size === 2 ? c.io.in16(port) : c.io.in32(port);
      if (size === 1) c.wr8(ES, di, v);
      else if (size === 2) c.wr16(ES, di, v);
      else c.wr32(ES, di, v);
      advance(c, 7, di, step, a32);
      c.pollIntr = true;
      return;
    }
    default: { // OUTS
      const v = size === 1 ? c.rd8(src, si) : size === 2 ? c.rd16(src, si) : c.rd32(src, si);
      const port = c.reg16[4]!;
      if (size === 1) c.io.out8(port, v);
      else if (size === 2) c.io.out16(port, v);
      else c.io.out32(port, v);
      advance(c, 6, si, step, a32);
      c.pollIntr = true;
    }
  }
}

function advance(c: Cpu, reg: number, value: number, step: number, a32: boolean): void {
  if (a32) c.reg32[reg] = (value + step) | 0;
  else c.reg16[reg * 2] = (value + step) & 0xffff;
}
