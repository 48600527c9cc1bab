/**
 * A fake FpuHost for the FPU tests: 64 KiB of flat memory (every segment
 * has base 0), eight general registers, EFLAGS, CR0, and exceptions thrown
 * as FpuTrap so a test can see which one was raised.
 */
import type { FpuHost } from '../../src/cpu/fpu-host.js';
import { Fpu } from '../../src/cpu/fpu.js';

export class FpuTrap extends Error {
  constructor(readonly kind: 'NM' | 'MF' | 'UD' | 'GP' | 'PF') {
    super(`#${kind}`);
  }
}

export const CR0_PE = 1, CR0_MP = 2, CR0_EM = 4, CR0_TS = 8, CR0_NE = 32;

export class FakeHost implements FpuHost {
  readonly mem = new Uint8Array(1 << 16);
  readonly regs = new Int32Array(8);
  eflags = 0x2;
  cr0 = CR0_PE | CR0_MP | CR0_NE | 0x10;
  realMode = false;
  opsize32 = true;
  instrCs = 0x0008;
  instrEip = 0x1234;
  ferr = false;
  /** offsets at or above this fault with #PF (to test restartability) */
  faultFrom = 0x10000;
  /** count of memory writes */
  writes = 0;

  private check(off: number, len: number): void {
    if (off + len > this.faultFrom) throw new FpuTrap('PF');
  }
  read8(_seg: number, off: number): number { this.check(off, 1); return this.mem[off]!; }
  read16(seg: number, off: number): number { return this.read8(seg, off) | (this.read8(seg, off + 1) << 8); }
  read32(seg: number, off: number): number { return (this.read16(seg, off) | (this.read16(seg, off + 2) << 16)) | 0; }
  write8(_seg: number, off: number, v: number): void { this.check(off, 1); this.mem[off] = v & 0xff; this.writes++; }
  write16(seg: number, off: number, v: number): void { this.write8(seg, off, v); this.write8(seg, off + 1, v >>> 8); }
  write32(seg: number, off: number, v: number): void { this.write16(seg, off, v); this.write16(seg, off + 2, v >>> 16); }
  probe(_seg: number, off: number, len: number, _write: boolean): void { this.check(off, len); }
  getReg32(r: number): number { return this.regs[r]!; }
  setReg32(r: number, v: number): void { this.regs[r] = v; }
  selector(seg: number): number { return 0x10 + 8 * seg; }
  getFlags(): number { return this.eflags; }
  setFlagsZPC(zf: number, pf: number, cf: number): void {
    // OF (11), SF (7), AF (4) cleared; ZF (6), PF (2), CF (0) set as given
    this.eflags = (this.eflags & ~0x8d5) | (zf ? 0x40 : 0) | (pf ? 0x04 : 0) | (cf ? 0x01 : 0);
  }
  raiseNM(): never { throw new FpuTrap('NM'); }
  raiseMF(): never { throw new FpuTrap('MF'); }
  raiseUD(): never { throw new FpuTrap('UD'); }
  raiseGP0(): never { throw new FpuTrap('GP'); }
  setFerr(active: boolean): void { this.ferr = active; }

  // ---- helpers for tests ----
  put80(off: number, hex: string): void {
    // hex: 20 digits, sign/exponent first (as printed by the generator)
    for (let i = 0; i < 10; i++) this.mem[off + i] = parseInt(hex.slice(18 - 2 * i, 20 - 2 * i), 16);
  }
  get80(off: number): string {
    let s = '';
    for (let i = 9; i >= 0; i--) s += this.mem[off + i]!.toString(16).padStart(2, '0');
    return s;
  }
  put32(off: number, v: number): void { for (let i = 0; i < 4; i++) this.mem[off + i] = (v >>> (8 * i)) & 0xff; }
  get32(off: number): number { return (this.mem[off]! | (this.mem[off + 1]! << 8) | (this.mem[off + 2]! << 16) | (this.mem[off + 3]! << 24)) >>> 0; }
  put16(off: number, v: number): void { this.mem[off] = v & 0xff; this.mem[off + 1] = (v >>> 8) & 0xff; }
  get16(off: number): number { return this.mem[off]! | (this.mem[off + 1]! << 8); }
  putF64(off: number, x: number): void { new DataView(this.mem.buffer).setFloat64(off, x, true); }
  getF64(off: number): number { return new DataView(this.mem.buffer).getFloat64(off, true); }
  putF32(off: number, x: number): void { new DataView(this.mem.buffer).setFloat32(off, x, true); }
  getF32(off: number): number { return new DataView(this.mem.buffer).getFloat32(off, true); }
}

/** a fresh FPU after FNINIT with a fake host */
export function fresh(): { fpu: Fpu; host: FakeHost } {
  const host = new FakeHost();
  const fpu = new Fpu(host);
  fpu.exec(0xdb, 0xe3, 0, 0); // FNINIT
  return { fpu, host };
}

/** a memory-form ModR/M with reg field `r` (mod 00; the FPU never looks at rm for memory forms) */
export function m(r: number): number {
  return r << 3;
}

/** the address used by the helpers below for their scratch operand */
const SCRATCH = 0xf000;

/** loads a double onto the stack (FLD m64) */
export function fld(fpu: Fpu, host: FakeHost, x: number): void {
  host.putF64(SCRATCH, x);
  fpu.exec(0xdd, m(0), 3, SCRATCH);
}

/** pops ST(0) as a double (FSTP m64) */
export function fstp(fpu: Fpu, host: FakeHost): number {
  fpu.exec(0xdd, m(3), 3, SCRATCH);
  return host.getF64(SCRATCH);
}

/** ST(0) as a double without popping (FST m64) */
export function st0(fpu: Fpu, host: FakeHost): number {
  fpu.exec(0xdd, m(2), 3, SCRATCH);
  return host.getF64(SCRATCH);
}

/** loads an 80-bit value given as 20 hex digits (FLD m80) */
export function fld80(fpu: Fpu, host: FakeHost, hex: string): void {
  host.put80(SCRATCH, hex);
  fpu.exec(0xdb, m(5), 3, SCRATCH);
}

/** pops ST(0) as 20 hex digits (FSTP m80) */
export function fstp80(fpu: Fpu, host: FakeHost): string {
  fpu.exec(0xdb, m(7), 3, SCRATCH);
  return host.get80(SCRATCH);
}

/** FLDCW with `cw` */
export function fldcw(fpu: Fpu, host: FakeHost, cw: number): void {
  host.put16(SCRATCH + 16, cw);
  fpu.exec(0xd9, m(5), 3, SCRATCH + 16);
}

/** the status word (FNSTSW AX) */
export function fstsw(fpu: Fpu, host: FakeHost): number {
  fpu.exec(0xdf, 0xe0, 0, 0);
  return host.regs[0]! & 0xffff;
}

/** the trap kind a call raises, or null */
export function trapOf(f: () => void): string | null {
  try {
    f();
    return null;
  } catch (e) {
    if (e instanceof FpuTrap) return e.kind;
    throw e;
  }
}
