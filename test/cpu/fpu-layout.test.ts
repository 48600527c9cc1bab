/**
 * The memory images of FSTENV/FSAVE (SDM vol. 1, figures 8-9..8-12, in
 * the four operating-mode/operand-size combinations) and FXSAVE (SDM
 * vol. 2A FXSAVE, table 3-43), byte by byte, and their restores.
 */
import { describe, expect, it } from 'vitest';
import { fresh, m, fld, fldcw, trapOf, CR0_EM, CR0_TS } from './fpu-fake-host.js';

/**
 * The state every layout test saves: CW 027Fh, ST0 = 4.0 (R6), ST1 = 1.0
 * (R7), last instruction FADD m64 (DC 05) at CS 0700h : EIP 12345h with its
 * operand at DS(seg 3, selector 28h) : 88h.
 */
function prepared() {
  const t = fresh();
  const { fpu, host } = t;
  fldcw(fpu, host, 0x027f);
  fld(fpu, host, 1);
  fld(fpu, host, 2);
  host.putF64(0x88, 2);
  host.instrCs = 0x0700;
  host.instrEip = 0x12345;
  fpu.exec(0xdc, 0x05, 3, 0x88);
  return t;
}

const ST0_4 = [0, 0, 0, 0, 0, 0, 0, 0x80, 0x01, 0x40];
const ST1_1 = [0, 0, 0, 0, 0, 0, 0, 0x80, 0xff, 0x3f];
const bytes = (mem: Uint8Array, at: number, n: number): number[] => Array.from(mem.slice(at, at + n));

describe('is the FSAVE image laid out as in the SDM figures?', () => {
  it('does the 32-bit protected-mode FSAVE write the 28-byte environment of figure 8-9 and the registers in ST order?', () => {
    const { fpu, host } = prepared();
    fpu.exec(0xdd, m(6), 3, 0x200);
    expect(bytes(host.mem, 0x200, 28)).toEqual([
      0x7f, 0x02, 0xff, 0xff, // FCW
      0x00, 0x30, 0xff, 0xff, // FSW: TOP = 6
      0xff, 0x0f, 0xff, 0xff, // FTW: R7, R6 valid, the rest empty
      0x45, 0x23, 0x01, 0x00, // FIP offset
      0x00, 0x07, 0x05, 0x04, // FCS, FOP (DC 05 -> 405h) in bits 26:16
      0x88, 0x00, 0x00, 0x00, // FDP offset
      0x28, 0x00, 0xff, 0xff, // FDS
    ]);
    expect(bytes(host.mem, 0x200 + 28, 10)).toEqual(ST0_4);
    expect(bytes(host.mem, 0x200 + 38, 10)).toEqual(ST1_1);
    expect(fpu.cw).toBe(0x037f); // FSAVE ends with FNINIT
    expect(fpu.tagWord()).toBe(0xffff);
  });

  it('does the 16-bit protected-mode FSAVE write the 14-byte environment of figure 8-10?', () => {
    const { fpu, host } = prepared();
    host.opsize32 = false;
    fpu.exec(0xdd, m(6), 3, 0x200);
    expect(bytes(host.mem, 0x200, 14)).toEqual([0x7f, 0x02, 0x00, 0x30, 0xff, 0x0f, 0x45, 0x23, 0x00, 0x07, 0x88, 0x00, 0x28, 0x00]);
    expect(bytes(host.mem, 0x200 + 14, 10)).toEqual(ST0_4);
  });

  it('does the 32-bit real-mode FSAVE store 32-bit linear pointers split as in figure 8-11?', () => {
    const { fpu, host } = prepared();
    host.realMode = true;
    fpu.exec(0xdd, m(6), 3, 0x200);
    // linear FIP = 0700h * 16 + 12345h = 19345h; linear FDP = 28h * 16 + 88h = 308h
    expect(bytes(host.mem, 0x200 + 12, 16)).toEqual([
      0x45, 0x93, 0xff, 0xff, // FIP 15:0
      0x05, 0x14, 0x00, 0x00, // FIP 31:16 in bits 27:12, FOP in 10:0
      0x08, 0x03, 0xff, 0xff, // FDP 15:0
      0x00, 0x00, 0x00, 0x00, // FDP 31:16 in bits 27:12
    ]);
  });

  it('does the 16-bit real-mode FSAVE store 20-bit pointers as in figure 8-12?', () => {
    const { fpu, host } = prepared();
    host.realMode = true;
    host.opsize32 = false;
    fpu.exec(0xdd, m(6), 3, 0x200);
    expect(bytes(host.mem, 0x200 + 6, 8)).toEqual([0x45, 0x93, 0x05, 0x14, 0x08, 0x03, 0x00, 0x00]);
    expect(bytes(host.mem, 0x200 + 14, 10)).toEqual(ST0_4);
  });

  for (const [realMode, opsize32] of [[false, true], [false, false], [true, true], [true, false]] as const) {
    it(`does FRSTOR reload what FSAVE stored (real=${realMode}, o32=${opsize32}) so that a second FSAVE writes the same bytes?`, () => {
      const { fpu, host } = prepared();
      host.realMode = realMode;
      host.opsize32 = opsize32;
      fpu.exec(0xdd, m(6), 3, 0x200);
      fpu.exec(0xdd, m(4), 3, 0x200); // FRSTOR
      expect(fpu.tagWord()).toBe(0x0fff);
      fpu.exec(0xdd, m(6), 3, 0x400);
      expect(bytes(host.mem, 0x400, 108)).toEqual(bytes(host.mem, 0x200, 108));
    });
  }

  it('does FLDENV recompute ES from the loaded flags and masks, so a pending error reaches the next waiting instruction?', () => {
    const { fpu, host } = prepared();
    fpu.exec(0xd9, m(6), 3, 0x200); // FNSTENV
    host.mem[0x200] = 0x7b; // FCW: ZM unmasked
    host.mem[0x204] |= 0x04; // FSW: ZE set
    fpu.exec(0xd9, m(4), 3, 0x200); // FLDENV
    expect(fpu.statusWord() & 0x8080).toBe(0x8080); // B and ES
    expect(trapOf(() => fpu.wait())).toBe('MF');
  });
});

describe('is the FXSAVE image laid out as in SDM table 3-43?', () => {
  it('does FXSAVE write FCW, FSW, the abridged tag, FOP, FIP, FCS, FDP, FDS, MXCSR, MXCSR_MASK and the registers?', () => {
    const { fpu, host } = prepared();
    host.mem.fill(0xee, 0x1000, 0x1200);
    fpu.exec(0xd9, 0xc9, 0, 0); // FXCH: a register form leaves FDP/FDS, sets FOP D9 C9
    fpu.fxsave(3, 0x1000);
    expect(bytes(host.mem, 0x1000, 32)).toEqual([
      0x7f, 0x02, 0x00, 0x30, 0xc0, 0x00, 0xc9, 0x01, // FCW, FSW, FTW (R6, R7 in use), reserved, FOP 1C9h
      0x45, 0x23, 0x01, 0x00, 0x00, 0x07, 0x00, 0x00, // FIP, FCS, reserved
      0x88, 0x00, 0x00, 0x00, 0x28, 0x00, 0x00, 0x00, // FDP, FDS, reserved
      0x80, 0x1f, 0x00, 0x00, 0xbf, 0xff, 0x00, 0x00, // MXCSR, MXCSR_MASK
    ]);
    expect(bytes(host.mem, 0x1000 + 32, 16)).toEqual([...ST1_1, 0, 0, 0, 0, 0, 0]); // ST0 after FXCH
    expect(bytes(host.mem, 0x1000 + 48, 16)).toEqual([...ST0_4, 0, 0, 0, 0, 0, 0]);
    expect(bytes(host.mem, 0x1000 + 160, 128).every(b => b === 0)).toBe(true); // XMM0-7
    expect(bytes(host.mem, 0x1000 + 288, 224).every(b => b === 0xee)).toBe(true); // not written
    expect(fpu.tagWord()).toBe(0x0fff); // FXSAVE keeps the state
  });

  it('does FXRSTOR bring back the full state, rebuilding tags from the abridged byte and keeping the XMM area?', () => {
    const { fpu, host } = prepared();
    fpu.fxsave(3, 0x1000);
    host.mem[0x1000 + 160] = 0x5a; // XMM0 byte 0
    const saved = JSON.stringify(fpu.save());
    fpu.exec(0xdb, 0xe3, 0, 0); // FNINIT
    fpu.fxrstor(3, 0x1000);
    const after = fpu.save();
    expect(after.xmm[0]).toBe(0x5a);
    after.xmm[0] = 0;
    expect(JSON.stringify(after)).toBe(saved);
    fpu.fxsave(3, 0x1200);
    expect(bytes(host.mem, 0x1200, 160)).toEqual(bytes(host.mem, 0x1000, 160));
  });

  it('does FXRSTOR with a reserved MXCSR bit raise #GP(0) and change nothing?', () => {
    const { fpu, host } = prepared();
    fpu.fxsave(3, 0x1000);
    host.put32(0x1000 + 24, 0x1f80 | 0x40); // DAZ: reserved without SSE2-era DAZ support
    fpu.exec(0xdb, 0xe3, 0, 0);
    const before = JSON.stringify(fpu.save());
    expect(trapOf(() => fpu.fxrstor(3, 0x1000))).toBe('GP');
    expect(JSON.stringify(fpu.save())).toBe(before);
  });

  it('do FXSAVE/FXRSTOR raise #GP(0) when misaligned, #NM with TS and #UD with EM?', () => {
    const { fpu, host } = fresh();
    expect(trapOf(() => fpu.fxsave(3, 0x1008))).toBe('GP');
    expect(trapOf(() => fpu.fxrstor(3, 0x1004))).toBe('GP');
    host.cr0 |= CR0_TS;
    expect(trapOf(() => fpu.fxsave(3, 0x1000))).toBe('NM');
    host.cr0 |= CR0_EM;
    expect(trapOf(() => fpu.fxsave(3, 0x1000))).toBe('UD');
  });

  it('does FXSAVE not report a pending x87 error (unlike FSAVE, it is not a waiting instruction)?', () => {
    const { fpu, host } = fresh();
    fldcw(fpu, host, 0x037b);
    fld(fpu, host, 1);
    fld(fpu, host, 0);
    fpu.exec(0xde, 0xf9, 0, 0); // unmasked #Z pending
    expect(trapOf(() => fpu.fxsave(3, 0x1000))).toBe(null);
    expect(trapOf(() => fpu.exec(0xdd, m(6), 3, 0x200))).toBe(null); // FNSAVE does not wait either
  });
});
