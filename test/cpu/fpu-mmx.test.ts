/**
 * MMX instructions: hand-computed examples of each kind of operation, the
 * aliasing with the x87 registers and its side effects on TOP and the tag
 * word (SDM vol. 3A, 12.2), EMMS, and the #UD/#NM/#MF rules.
 */
import { describe, expect, it } from 'vitest';
import type { Fpu } from '../../src/cpu/fpu.js';
import { fresh, fld, fld80, fldcw, trapOf, CR0_EM, CR0_TS, type FakeHost } from './fpu-fake-host.js';

/** modrm for register-register forms: mm(reg) op= mm(rm) */
const rr = (reg: number, rm: number): number => 0xc0 | (reg << 3) | rm;
/** modrm for a memory form with mm(reg) */
const rmem = (reg: number): number => reg << 3;

function setMm(fpu: Fpu, host: FakeHost, r: number, v: bigint): void {
  host.put32(0x80, Number(v & 0xffffffffn));
  host.put32(0x84, Number(v >> 32n));
  expect(fpu.mmx(0x6f, rmem(r), 3, 0x80)).toBe(true); // MOVQ mm, m64
}

function getMm(fpu: Fpu, host: FakeHost, r: number): bigint {
  expect(fpu.mmx(0x7f, rmem(r), 3, 0x90)).toBe(true); // MOVQ m64, mm
  return (BigInt(host.get32(0x94)) << 32n) | BigInt(host.get32(0x90));
}

/** mm0 = a, mm1 = b, then 0F op2 mm0, mm1; returns mm0 */
function binary(op2: number, a: bigint, b: bigint): bigint {
  const { fpu, host } = fresh();
  setMm(fpu, host, 0, a);
  setMm(fpu, host, 1, b);
  expect(fpu.mmx(op2, rr(0, 1), 0, 0)).toBe(true);
  return getMm(fpu, host, 0);
}

describe('do the MMX operations compute the hand-worked examples?', () => {
  it('does PADDB wrap each byte independently?', () => {
    expect(binary(0xfc, 0x807f01ff10203040n, 0x80010101f0e0d0c0n)).toBe(0x0080020000000000n);
  });
  it('does PSUBUSW saturate each unsigned word at zero?', () => {
    expect(binary(0xd9, 0x00058000ffff0001n, 0x00067fff00010001n)).toBe(0x00000001fffe0000n);
  });
  it('does PMULLW keep the low 16 bits of each signed product?', () => {
    // words (high..low): 1234h*100h, 4000h*4, -2*7, 3*5
    expect(binary(0xd5, 0x12344000fffe0003n, 0x0100000400070005n)).toBe(0x34000000fff2000fn);
  });
  it('does PMULHW keep the high 16 bits of each signed product?', () => {
    expect(binary(0xe5, 0x7fff8000fffe4000n, 0x7fff800000070004n)).toBe(0x3fff4000ffff0001n);
  });
  it('does PCMPEQD give all ones for equal dwords and zeros otherwise?', () => {
    expect(binary(0x76, 0x123456789abcdef0n, 0x1234567800000000n)).toBe(0xffffffff00000000n);
  });
  it('does PCMPGTB compare signed bytes?', () => {
    expect(binary(0x64, 0x01807f0000000000n, 0x007f800000000000n)).toBe(0xff00ff0000000000n);
  });
  it('does PSRLQ by 4 shift the whole quadword, and by 64 clear it?', () => {
    expect(binary(0xd3, 0x8000000000000001n, 4n)).toBe(0x0800000000000000n);
    expect(binary(0xd3, 0x8000000000000001n, 64n)).toBe(0n);
  });
  it('does PSRAW by 20 fill each word with its sign?', () => {
    expect(binary(0xe1, 0x80007fff0001ffffn, 20n)).toBe(0xffff00000000ffffn);
  });
  it('does PUNPCKLBW interleave the low bytes of destination and source?', () => {
    expect(binary(0x60, 0x0000000044332211n, 0x00000000ddccbbaan)).toBe(0xdd44cc33bb22aa11n);
  });
  it('does PUNPCKHDQ put the high dwords of destination then source?', () => {
    expect(binary(0x6a, 0x1111111122222222n, 0x3333333344444444n)).toBe(0x3333333311111111n);
  });
  it('does PACKSSWB saturate signed words into signed bytes, destination words low?', () => {
    // dst words (low..high): 128 -> 7F, -129 -> 80, 5 -> 05, -1 -> FF; src: 7FFF -> 7F, 8000 -> 80, 0, 1
    expect(binary(0x63, 0xffff0005ff7f0080n, 0x0001000080007fffn)).toBe(0x0100807fff05807fn);
  });
  it('does PACKUSWB saturate signed words into unsigned bytes?', () => {
    expect(binary(0x67, 0x0100ffff00ff0080n, 0n)).toBe(0x00000000ff00ff80n);
  });
  it('does PMADDWD add the products of word pairs into dwords?', () => {
    // low dword: 2*3 + 4*5 = 26; high dword: -1*7 + 8*9 = 65
    expect(binary(0xf5, 0x0008ffff00040002n, 0x0009000700050003n)).toBe(0x000000410000001an);
  });
  it('does PANDN compute (not destination) and source?', () => {
    expect(binary(0xdf, 0xff00ff00ff00ff00n, 0x123456789abcdef0n)).toBe(0x0034007800bc00f0n);
  });
  it('does PSLLW by an immediate (0F 71 /6, imm8 carried in `off`) shift each word?', () => {
    const { fpu, host } = fresh();
    setMm(fpu, host, 2, 0x8001000100020004n);
    expect(fpu.mmx(0x71, 0xc0 | (6 << 3) | 2, 0, 3)).toBe(true);
    expect(getMm(fpu, host, 2)).toBe(0x0008000800100020n);
  });
  it('does MOVD move a general register into the low dword (zeroing the high) and back out?', () => {
    const { fpu, host } = fresh();
    setMm(fpu, host, 3, 0xffffffffffffffffn);
    host.regs[1] = 0x12345678;
    expect(fpu.mmx(0x6e, rr(3, 1), 0, 0)).toBe(true); // MOVD mm3, ecx
    expect(getMm(fpu, host, 3)).toBe(0x12345678n);
    expect(fpu.mmx(0x7e, rr(3, 6), 0, 0)).toBe(true); // MOVD esi, mm3
    expect(host.regs[6]).toBe(0x12345678);
  });
});

describe('do MMX instructions alias and mark the x87 state as the SDM says?', () => {
  it('does an MMX register read the significand of the aliased x87 register?', () => {
    const { fpu, host } = fresh();
    fld80(fpu, host, '3fff8000000000001234'); // goes to R7 = MM7
    expect(getMm(fpu, host, 7)).toBe(0x8000000000001234n);
  });
  it('does an MMX write set the exponent field to all ones, TOP to 0 and every tag valid?', () => {
    const { fpu, host } = fresh();
    fld(fpu, host, 1); // TOP = 7
    setMm(fpu, host, 0, 5n);
    expect(fpu.se[0]).toBe(0xffff);
    expect((fpu.statusWord() >>> 11) & 7).toBe(0);
    expect(fpu.empty).toBe(0);
    // tags as FSTENV computes them: R0 special (exponent all ones), R7 = 1.0 valid, the rest +0.0 zero
    expect(fpu.tagWord()).toBe(0x1556);
  });
  it('does EMMS mark every register empty (tag word FFFFh)?', () => {
    const { fpu, host } = fresh();
    setMm(fpu, host, 0, 5n);
    expect(fpu.mmx(0x77, 0, 0, 0)).toBe(true);
    expect(fpu.tagWord()).toBe(0xffff);
  });
  it('does an MMX store leave the FPU instruction pointer and opcode alone?', () => {
    const { fpu, host } = fresh();
    fld(fpu, host, 1);
    const [fip, fop] = [fpu.fip, fpu.fop];
    host.instrEip = 0x7777;
    setMm(fpu, host, 0, 5n);
    expect([fpu.fip, fpu.fop]).toEqual([fip, fop]);
  });
});

describe('are MMX instructions refused and trapped as the SDM says?', () => {
  it('does MMX raise #UD with CR0.EM and #NM with CR0.TS?', () => {
    const { fpu, host } = fresh();
    host.cr0 |= CR0_TS;
    expect(trapOf(() => fpu.mmx(0xfc, rr(0, 1), 0, 0))).toBe('NM');
    host.cr0 |= CR0_EM;
    expect(trapOf(() => fpu.mmx(0xfc, rr(0, 1), 0, 0))).toBe('UD');
  });
  it('does a pending unmasked x87 exception raise #MF at the next MMX instruction?', () => {
    const { fpu, host } = fresh();
    fldcw(fpu, host, 0x037b);
    fld(fpu, host, 1);
    fld(fpu, host, 0);
    fpu.exec(0xde, 0xf9, 0, 0);
    expect(trapOf(() => fpu.mmx(0x77, 0, 0, 0))).toBe('MF');
  });
  it('are SSE-era opcodes (PADDQ, PSHUFW, PMOVMSKB, PAVGB) and bad shift groups refused?', () => {
    const { fpu } = fresh();
    for (const op2 of [0xd4, 0x70, 0xd7, 0xe0, 0xf4, 0xf6, 0xfb]) expect(fpu.mmx(op2, rr(0, 1), 0, 0)).toBe(false);
    expect(fpu.mmx(0x73, 0xc0 | (3 << 3), 0, 1)).toBe(false); // PSRLDQ is an XMM-only form
    expect(fpu.mmx(0x71, 6 << 3, 0, 1)).toBe(false); // memory form of a shift group
  });
});
