/**
 * ALU instructions: the eight arithmetic/logic operations in all their
 * forms, INC/DEC, TEST, the shifts and rotates, MUL/IMUL/DIV/IDIV, BCD,
 * the carry-flag and AH-flag instructions, and from the 0F map the bit
 * instructions, SHLD/SHRD, IMUL Gv,Ev, CMPXCHG, CMPXCHG8B, XADD, BSF/BSR
 * and BSWAP. The flag arithmetic itself is in ../alu.ts.
 *
 * Rule for every handler (execute.ts): memory first, registers last.
 */
import { aaa, aad, aam, aas, alu, daa, das, dec, divu64, DIVREM, inc, mulFlags, MULHI, muls32, mulu32, neg, shift, shiftDouble, zsp } from '../alu.js';
import { F_AF, F_ARITH, F_CF, F_PF, F_SF, F_ZF, V_DE } from '../constants.js';
import { R8, type Cpu } from '../cpu.js';
import { imm8s, lockCheck, span, aluRows, type OpcodeEntry } from './common.js';
import { rdpidCheck } from '../system.js';
import { ACC_RMW_R, ACC_RMW_W, ACC_WRITE } from '../../mmu/index.js';

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
      if (bits === 8) c.writeRmW8(~c.readRmW8());
      else if (bits === 16) c.writeRmW16(~c.readRmW16());
      else c.writeRmW32(~c.readRmW32());
      return;
    }
    case 3: {
      if (c.modrm < 0xc0) c.saveFlags(); // NEG sets flags before its write
      if (bits === 8) c.writeRmW8(neg(c, c.readRmW8(), 8));
      else if (bits === 16) c.writeRmW16(neg(c, c.readRmW16(), 16));
      else c.writeRmW32(neg(c, c.readRmW32(), 32));
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
    // BT only reads; BTS, BTR and BTC read with write intent (Cpu.rdw8)
    if (kind === 0) v = bits === 32 ? c.rd32(seg, off) : c.rd16(seg, off);
    else v = bits === 32 ? c.rdw32(seg, off) : c.rdw16(seg, off);
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
    } else if (bits === 32) c.wrw32(seg, off, r);
    else c.wrw16(seg, off, r);
  }
  c.setArith(cf ? F_CF : 0, F_CF);
}

function op00(c: Cpu, op: number): void {
  // Eb, Gb
  c.decodeModrm();
  const o = op >> 3;
  lockCheck(c, o !== 7);
  if (c.modrm < 0xc0) c.saveFlags(); // the flags are set before the write
  // CMP only reads; the others read with write intent (Cpu.rdw8)
  const r = alu(c, o, o === 7 ? c.readRm8() : c.readRmW8(), c.reg8[R8[c.regField]!]!, 8);
  if (o !== 7) c.writeRmW8(r);
}

function op01(c: Cpu, op: number): void {
  // Ev, Gv
  c.decodeModrm();
  const o = op >> 3;
  lockCheck(c, o !== 7);
  if (c.modrm < 0xc0) c.saveFlags();
  if (c.o32) {
    const r = alu(c, o, o === 7 ? c.readRm32() : c.readRmW32(), c.reg32[c.regField]!, 32);
    if (o !== 7) c.writeRmW32(r);
  } else {
    const r = alu(c, o, o === 7 ? c.readRm16() : c.readRmW16(), c.reg16[c.regField << 1]!, 16);
    if (o !== 7) c.writeRmW16(r);
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
  lockCheck(c, false); aas(c);
}

function op40(c: Cpu, op: number): void {
  lockCheck(c, false);
  if (c.o32) c.reg32[op & 7] = inc(c, c.reg32[op & 7]!, 32);
  else c.reg16[(op & 7) << 1] = inc(c, c.reg16[(op & 7) << 1]!, 16);
}

function op48(c: Cpu, op: number): void {
  lockCheck(c, false);
  if (c.o32) c.reg32[op & 7] = dec(c, c.reg32[op & 7]!, 32);
  else c.reg16[(op & 7) << 1] = dec(c, c.reg16[(op & 7) << 1]!, 16);
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

function op80(c: Cpu): void {
  c.decodeModrm();
  const o = c.regField;
  lockCheck(c, o !== 7);
  if (c.modrm < 0xc0) c.saveFlags();
  const a = o === 7 ? c.readRm8() : c.readRmW8();
  const r = alu(c, o, a, c.fetch8(), 8);
  if (o !== 7) c.writeRmW8(r);
}

function op81(c: Cpu, op: number): void {
  c.decodeModrm();
  const o = c.regField;
  lockCheck(c, o !== 7);
  if (c.modrm < 0xc0) c.saveFlags();
  if (c.o32) {
    const a = o === 7 ? c.readRm32() : c.readRmW32();
    const r = alu(c, o, a, op === 0x81 ? c.fetch32() : imm8s(c), 32);
    if (o !== 7) c.writeRmW32(r);
  } else {
    const a = o === 7 ? c.readRm16() : c.readRmW16();
    const r = alu(c, o, a, op === 0x81 ? c.fetch16() : imm8s(c) & 0xffff, 16);
    if (o !== 7) c.writeRmW16(r);
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
}

function op9e(c: Cpu): void {
  lockCheck(c, false); c.setArith(c.reg8[1]!, F_SF | F_ZF | F_AF | F_PF | F_CF); // SAHF
}

function op9f(c: Cpu): void {
  lockCheck(c, false); c.reg8[1] = (c.getFlags() & (F_SF | F_ZF | F_AF | F_PF | F_CF)) | 2; // LAHF
}

function opa8(c: Cpu): void {
  lockCheck(c, false); alu(c, 4, c.reg8[0]!, c.fetch8(), 8);
}

function opa9(c: Cpu): void {
  lockCheck(c, false); if (c.o32) alu(c, 4, c.reg32[0]!, c.fetch32(), 32); else alu(c, 4, c.reg16[0]!, c.fetch16(), 16);
}

function opc0(c: Cpu, op: number): void {
  // group 2 Eb
  c.decodeModrm();
  lockCheck(c, false);
  if (c.modrm < 0xc0) c.saveFlags();
  const a = c.readRmW8();
  const n = op === 0xc0 ? c.fetch8() : op === 0xd0 ? 1 : c.reg8[4]!;
  const r = shift(c, c.regField, a, n, 8);
  if (n & 31) c.writeRmW8(r);
}

function opc1(c: Cpu, op: number): void {
  c.decodeModrm();
  lockCheck(c, false);
  if (c.modrm < 0xc0) c.saveFlags();
  if (c.o32) {
    const a = c.readRmW32();
    const n = op === 0xc1 ? c.fetch8() : op === 0xd1 ? 1 : c.reg8[4]!;
    const r = shift(c, c.regField, a, n, 32);
    if (n & 31) c.writeRmW32(r);
  } else {
    const a = c.readRmW16();
    const n = op === 0xc1 ? c.fetch8() : op === 0xd1 ? 1 : c.reg8[4]!;
    const r = shift(c, c.regField, a, n, 16);
    if (n & 31) c.writeRmW16(r);
  }
}

function opd4(c: Cpu): void {
  lockCheck(c, false); aam(c, c.fetch8());
}

function opd5(c: Cpu): void {
  lockCheck(c, false); aad(c, c.fetch8());
}

function opd6(c: Cpu): void {
  lockCheck(c, false); c.reg8[0] = c.getCF() ? 0xff : 0; // SALC
}

function opf5(c: Cpu): void {
  lockCheck(c, false); c.setArith(c.getCF() ^ 1, F_CF); // CMC
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

function opfe(c: Cpu): void {
  // group 4: INC/DEC Eb
  c.decodeModrm();
  const o = c.regField;
  if (o > 1) c.ud();
  lockCheck(c, true);
  if (c.modrm < 0xc0) c.saveFlags();
  const a = c.readRmW8();
  c.writeRmW8(o === 0 ? inc(c, a, 8) : dec(c, a, 8));
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
  if (c.modrm < 0xc0) c.saveFlags();
  const left = op < 0xa8;
  if (c.o32) {
    const a = c.readRmW32();
    const n = op & 1 ? c.reg8[4]! : c.fetch8();
    const r = shiftDouble(c, left, a, c.reg32[c.regField]!, n, 32);
    if (n & 31) c.writeRmW32(r);
  } else {
    const a = c.readRmW16();
    const n = op & 1 ? c.reg8[4]! : c.fetch8();
    const r = shiftDouble(c, left, a, c.reg16[c.regField << 1]!, n, 16);
    if (n & 31) c.writeRmW16(r);
  }
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
  if (c.modrm < 0xc0) c.saveFlags();
  const d = c.readRmW8();
  alu(c, 7, c.reg8[0]!, d, 8);
  if (c.getZF()) c.writeRmW8(c.reg8[R8[c.regField]!]!);
  else {
    c.writeRmW8(d); // the destination is always written (SDM: locked bus cycle)
    c.reg8[0] = d;
  }
}

function op0fb1(c: Cpu): void {
  c.decodeModrm();
  lockCheck(c, true);
  if (c.modrm < 0xc0) c.saveFlags();
  if (c.o32) {
    const d = c.readRmW32();
    alu(c, 7, c.reg32[0]!, d, 32);
    if (c.getZF()) c.writeRmW32(c.reg32[c.regField]!);
    else { c.writeRmW32(d); c.reg32[0] = d; }
  } else {
    const d = c.readRmW16();
    alu(c, 7, c.reg16[0]!, d, 16);
    if (c.getZF()) c.writeRmW16(c.reg16[c.regField << 1]!);
    else { c.writeRmW16(d); c.reg16[0] = d; }
  }
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
  if (c.modrm < 0xc0) c.saveFlags();
  const g = R8[c.regField]!;
  const d = c.readRmW8();
  const r = alu(c, 0, d, c.reg8[g]!, 8);
  c.writeRmW8(r);
  c.reg8[g] = d;
}

function op0fc1(c: Cpu): void {
  c.decodeModrm();
  lockCheck(c, true);
  if (c.modrm < 0xc0) c.saveFlags();
  if (c.o32) {
    const d = c.readRmW32();
    const r = alu(c, 0, d, c.reg32[c.regField]!, 32);
    c.writeRmW32(r);
    c.reg32[c.regField] = d;
  } else {
    const d = c.readRmW16();
    const r = alu(c, 0, d, c.reg16[c.regField << 1]!, 16);
    c.writeRmW16(r);
    c.reg16[c.regField << 1] = d;
  }
}

function op0fc7(c: Cpu): void {
  // group 9: CMPXCHG8B m64; RDPID r32 (F3 0F C7 /7, register form)
  c.decodeModrm();
  if (c.regField === 7 && c.rep === 2) {
    rdpidCheck(c, c.modrm >= 0xc0, c.lockPrefix);
    c.reg32[c.modrm & 7] = c.tscAux;
    return;
  }
  lockCheck(c, true);
  if (c.regField !== 1 || c.modrm >= 0xc0) c.ud();
  const seg = c.eaSeg, off = c.eaOff;
  const off4 = (off + 4) & (c.a32 ? -1 : 0xffff);
  // The segment checked for all 8 bytes first; then read as the other
  // read-modify-writes, checked as a write before the read (SDM vol. 3A,
  // 4.7; Cpu.rdw32), and always written (SDM vol. 2A, CMPXCHG8B). The
  // high dword is checked again only where it reaches a page the low
  // dword's check did not cover, so that the instruction checks each page
  // once (one shadow-paging exit for a PAE kernel's atomic PTE update).
  if (c.segFastW[seg] === 0) c.checkSeg(seg, off, 8, true);
  const l0 = (c.segBase[seg]! + off) | 0, l4 = (c.segBase[seg]! + off4) | 0;
  if (l4 === ((l0 + 4) | 0) && (l0 & 0xfff) <= 0xff8) {
    // the 8 bytes in one page: one read and one write of 8 bytes (Mmu.readAcc64, writeAcc64), so that a
    // PAE kernel's atomic PTE update is one trapped write under shadow, one flood step
    const m = c.mmu;
    const rmw = m.ctxAcc | ACC_WRITE | ACC_RMW_R;
    const lo = m.readAcc64(l0, 0, rmw, rmw), hi = m.readHi;
    if (m.faultVector !== 0) throw c.memFault();
    const eq = lo === c.reg32[0] && hi === c.reg32[2];
    m.writeAcc64(l0, 0, eq ? c.reg32[3]! : lo, eq ? c.reg32[1]! : hi, m.ctxAcc | ACC_RMW_W);
    if (m.faultVector !== 0) throw c.memFault();
    if (eq) c.setArith(F_ZF, F_ZF);
    else {
      c.reg32[0] = lo;
      c.reg32[2] = hi;
      c.setArith(0, F_ZF);
    }
    return;
  }
  const p0 = l0 >>> 12, p3 = ((l0 + 3) | 0) >>> 12, q0 = l4 >>> 12, q3 = ((l4 + 3) | 0) >>> 12;
  const covered = (q0 === p0 || q0 === p3) && (q3 === p0 || q3 === p3);
  const lo = c.rdw32(seg, off), hi = covered ? c.rd32(seg, off4) : c.rdw32(seg, off4);
  if (lo === c.reg32[0] && hi === c.reg32[2]) {
    c.wrw32(seg, off, c.reg32[3]!);
    c.wrw32(seg, off4, c.reg32[1]!);
    c.setArith(F_ZF, F_ZF);
  } else {
    c.wrw32(seg, off, lo);
    c.wrw32(seg, off4, hi);
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

export const ALU_OPCODES: readonly OpcodeEntry[] = [
  { map: 'one', opcodes: aluRows(0x00), handler: op00, mnemonic: 'ADD/OR/ADC/SBB/AND/SUB/XOR/CMP Eb, Gb', flow: 'next', modrm: true, imm: 'none' },
  { map: 'one', opcodes: aluRows(0x01), handler: op01, mnemonic: 'ADD/OR/ADC/SBB/AND/SUB/XOR/CMP Ev, Gv', flow: 'next', modrm: true, imm: 'none' },
  { map: 'one', opcodes: aluRows(0x02), handler: op02, mnemonic: 'ADD/OR/ADC/SBB/AND/SUB/XOR/CMP Gb, Eb', flow: 'next', modrm: true, imm: 'none' },
  { map: 'one', opcodes: aluRows(0x03), handler: op03, mnemonic: 'ADD/OR/ADC/SBB/AND/SUB/XOR/CMP Gv, Ev', flow: 'next', modrm: true, imm: 'none' },
  { map: 'one', opcodes: aluRows(0x04), handler: op04, mnemonic: 'ADD/OR/ADC/SBB/AND/SUB/XOR/CMP AL, Ib', flow: 'next', modrm: false, imm: 'Ib' },
  { map: 'one', opcodes: aluRows(0x05), handler: op05, mnemonic: 'ADD/OR/ADC/SBB/AND/SUB/XOR/CMP eAX, Iv', flow: 'next', modrm: false, imm: 'Iz' },
  { map: 'one', opcodes: [0x27], handler: op27, mnemonic: 'DAA', flow: 'next', modrm: false, imm: 'none', long: 'invalid' },
  { map: 'one', opcodes: [0x2f], handler: op2f, mnemonic: 'DAS', flow: 'next', modrm: false, imm: 'none', long: 'invalid' },
  { map: 'one', opcodes: [0x37], handler: op37, mnemonic: 'AAA', flow: 'next', modrm: false, imm: 'none', long: 'invalid' },
  { map: 'one', opcodes: [0x3f], handler: op3f, mnemonic: 'AAS', flow: 'next', modrm: false, imm: 'none', long: 'invalid' },
  { map: 'one', opcodes: span(0x40, 0x47), handler: op40, mnemonic: 'INC r16/32', flow: 'next', modrm: false, imm: 'none', long: 'rex' },
  { map: 'one', opcodes: span(0x48, 0x4f), handler: op48, mnemonic: 'DEC r16/32', flow: 'next', modrm: false, imm: 'none', long: 'rex' },
  { map: 'one', opcodes: [0x69], handler: op69, mnemonic: 'IMUL Gv, Ev, Iv', flow: 'next', modrm: true, imm: 'Iz' },
  { map: 'one', opcodes: [0x6b], handler: op69, mnemonic: 'IMUL Gv, Ev, Ib', flow: 'next', modrm: true, imm: 'Ib' },
  { map: 'one', opcodes: [0x80], handler: op80, mnemonic: 'group 1 Eb, Ib', flow: 'next', modrm: true, imm: 'Ib' },
  { map: 'one', opcodes: [0x82], handler: op80, mnemonic: 'group 1 Eb, Ib (an alias of 80)', flow: 'next', modrm: true, imm: 'Ib', long: 'invalid' },
  { map: 'one', opcodes: [0x81], handler: op81, mnemonic: 'group 1 Ev, Iv', flow: 'next', modrm: true, imm: 'Iz' },
  { map: 'one', opcodes: [0x83], handler: op81, mnemonic: 'group 1 Ev, Ib (sign-extended)', flow: 'next', modrm: true, imm: 'Ib' },
  { map: 'one', opcodes: [0x84], handler: op84, mnemonic: 'TEST Eb, Gb', flow: 'next', modrm: true, imm: 'none' },
  { map: 'one', opcodes: [0x85], handler: op85, mnemonic: 'TEST Ev, Gv', flow: 'next', modrm: true, imm: 'none' },
  { map: 'one', opcodes: [0x9e], handler: op9e, mnemonic: 'SAHF', flow: 'next', modrm: false, imm: 'none' },
  { map: 'one', opcodes: [0x9f], handler: op9f, mnemonic: 'LAHF', flow: 'next', modrm: false, imm: 'none' },
  { map: 'one', opcodes: [0xa8], handler: opa8, mnemonic: 'TEST AL, Ib', flow: 'next', modrm: false, imm: 'Ib' },
  { map: 'one', opcodes: [0xa9], handler: opa9, mnemonic: 'TEST eAX, Iv', flow: 'next', modrm: false, imm: 'Iz' },
  { map: 'one', opcodes: [0xc0], handler: opc0, mnemonic: 'group 2 Eb, Ib (ROL ROR RCL RCR SHL SHR SAL SAR)', flow: 'next', modrm: true, imm: 'Ib' },
  { map: 'one', opcodes: [0xd0, 0xd2], handler: opc0, mnemonic: 'group 2 Eb, 1/CL', flow: 'next', modrm: true, imm: 'none' },
  { map: 'one', opcodes: [0xc1], handler: opc1, mnemonic: 'group 2 Ev, Ib', flow: 'next', modrm: true, imm: 'Ib' },
  { map: 'one', opcodes: [0xd1, 0xd3], handler: opc1, mnemonic: 'group 2 Ev, 1/CL', flow: 'next', modrm: true, imm: 'none' },
  { map: 'one', opcodes: [0xd4], handler: opd4, mnemonic: 'AAM Ib', flow: 'next', modrm: false, imm: 'Ib', long: 'invalid' },
  { map: 'one', opcodes: [0xd5], handler: opd5, mnemonic: 'AAD Ib', flow: 'next', modrm: false, imm: 'Ib', long: 'invalid' },
  { map: 'one', opcodes: [0xd6], handler: opd6, mnemonic: 'SALC', flow: 'next', modrm: false, imm: 'none', long: 'invalid' },
  { map: 'one', opcodes: [0xf5], handler: opf5, mnemonic: 'CMC', flow: 'next', modrm: false, imm: 'none' },
  { map: 'one', opcodes: [0xf6], handler: opf6, mnemonic: 'group 3 Eb (TEST NOT NEG MUL IMUL DIV IDIV)', flow: 'next', modrm: true, imm: 'group3b' },
  { map: 'one', opcodes: [0xf7], handler: opf7, mnemonic: 'group 3 Ev', flow: 'next', modrm: true, imm: 'group3z' },
  { map: 'one', opcodes: [0xf8], handler: opf8, mnemonic: 'CLC', flow: 'next', modrm: false, imm: 'none' },
  { map: 'one', opcodes: [0xf9], handler: opf9, mnemonic: 'STC', flow: 'next', modrm: false, imm: 'none' },
  { map: 'one', opcodes: [0xfe], handler: opfe, mnemonic: 'group 4 (INC/DEC Eb)', flow: 'next', modrm: true, imm: 'none' },
  { map: '0f', opcodes: [0xa3], handler: op0fa3, mnemonic: 'BT Ev, Gv', flow: 'next', modrm: true, imm: 'none' },
  { map: '0f', opcodes: [0xab], handler: op0fab, mnemonic: 'BTS Ev, Gv', flow: 'next', modrm: true, imm: 'none' },
  { map: '0f', opcodes: [0xb3], handler: op0fb3, mnemonic: 'BTR Ev, Gv', flow: 'next', modrm: true, imm: 'none' },
  { map: '0f', opcodes: [0xbb], handler: op0fbb, mnemonic: 'BTC Ev, Gv', flow: 'next', modrm: true, imm: 'none' },
  { map: '0f', opcodes: [0xba], handler: op0fba, mnemonic: 'group 8 (BT BTS BTR BTC Ev, Ib)', flow: 'next', modrm: true, imm: 'Ib' },
  { map: '0f', opcodes: [0xa4, 0xac], handler: op0fa4, mnemonic: 'SHLD/SHRD Ev, Gv, Ib', flow: 'next', modrm: true, imm: 'Ib' },
  { map: '0f', opcodes: [0xa5, 0xad], handler: op0fa4, mnemonic: 'SHLD/SHRD Ev, Gv, CL', flow: 'next', modrm: true, imm: 'none' },
  { map: '0f', opcodes: [0xaf], handler: op0faf, mnemonic: 'IMUL Gv, Ev', flow: 'next', modrm: true, imm: 'none' },
  { map: '0f', opcodes: [0xb0], handler: op0fb0, mnemonic: 'CMPXCHG Eb, Gb', flow: 'next', modrm: true, imm: 'none' },
  { map: '0f', opcodes: [0xb1], handler: op0fb1, mnemonic: 'CMPXCHG Ev, Gv', flow: 'next', modrm: true, imm: 'none' },
  { map: '0f', opcodes: [0xbc, 0xbd], handler: op0fbc, mnemonic: 'BSF/BSR Gv, Ev', flow: 'next', modrm: true, imm: 'none' },
  { map: '0f', opcodes: [0xc0], handler: op0fc0, mnemonic: 'XADD Eb, Gb', flow: 'next', modrm: true, imm: 'none' },
  { map: '0f', opcodes: [0xc1], handler: op0fc1, mnemonic: 'XADD Ev, Gv', flow: 'next', modrm: true, imm: 'none' },
  { map: '0f', opcodes: [0xc7], handler: op0fc7, mnemonic: 'group 9 (CMPXCHG8B m64, RDPID r32)', flow: 'next', modrm: true, imm: 'none' },
  { map: '0f', opcodes: span(0xc8, 0xcf), handler: op0fc8, mnemonic: 'BSWAP r32', flow: 'next', modrm: false, imm: 'none' },
];
