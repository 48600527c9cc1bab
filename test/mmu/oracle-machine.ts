/**
 * The oracle as a participant in differential runs: the same access and
 * paging-register interface the tests drive an Mmu with, implemented on a
 * plain byte array with the reference translator and no TLB at all. It
 * agrees with an Mmu exactly when the guest follows the SDM's invalidation
 * rules, which the generators in world.ts do.
 */
import { ACC_AC, ACC_FETCH, ACC_USER, ACC_WRITE, CR4_PAE, CR4_PGE, CR4_PSE, CR4_SMEP, CR0_PG } from '../../src/mmu/index.js';
import { oracleLoadPdptes, oracleTranslate, type OracleMemory, type OracleState } from './oracle.js';

/** Byte-addressed guest RAM; reads outside give all ones, writes outside are dropped (open bus). */
export class ByteMemory implements OracleMemory {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }
  read32(gpa: number): number {
    return gpa >= 0 && gpa + 4 <= this.bytes.length ? this.view.getUint32(gpa, true) : 0xffffffff;
  }
  write32(gpa: number, value: number): void {
    if (gpa >= 0 && gpa + 4 <= this.bytes.length) this.view.setUint32(gpa, value >>> 0, true);
  }
  read8(gpa: number): number {
    return gpa >= 0 && gpa < this.bytes.length ? this.bytes[gpa]! : 0xff;
  }
  write8(gpa: number, v: number): void {
    if (gpa >= 0 && gpa < this.bytes.length) this.bytes[gpa] = v & 0xff;
  }
}

export class OracleMachine {
  readonly mode = { name: 'oracle' };
  readonly mem: ByteMemory;
  readonly s: OracleState;
  faultVector = 0;
  readonly fault = { vector: 0, errorCode: 0, addrLo: 0, addrHi: 0 };
  private acc = 0;

  constructor(ram: number, maxPhysAddr: number, gbPages: boolean) {
    this.mem = new ByteMemory(ram);
    this.s = { cr0: 0, cr3Lo: 0, cr3Hi: 0, cr4: 0, efer: 0, pkru: 0, maxPhysAddr, gbPages };
  }

  private get paePaging(): boolean {
    return (this.s.cr0 & CR0_PG) !== 0 && (this.s.cr4 & CR4_PAE) !== 0 && (this.s.efer & 0x100) === 0;
  }

  private loadPdptes(): number {
    if (!this.paePaging) {
      delete this.s.pdpte;
      return 0;
    }
    const p = oracleLoadPdptes(this.mem, this.s);
    if (p === null) return -1;
    this.s.pdpte = p;
    return 0;
  }

  setPaging(r: { cr0?: number; cr3Lo?: number; cr3Hi?: number; cr4?: number; efer?: number; pkru?: number }): number {
    Object.assign(this.s, r);
    return this.loadPdptes();
  }

  writeCr3(lo: number, hi: number): number {
    this.s.cr3Lo = lo;
    this.s.cr3Hi = hi & 0x7fffffff;
    return this.loadPdptes();
  }

  writeCr0(v: number): number {
    const old = this.s.cr0;
    this.s.cr0 = v;
    // SDM 4.4.1: PDPTEs are reloaded by a MOV to CR0 that changes PG (or CD/NW).
    return (old ^ v) & CR0_PG ? this.loadPdptes() : 0;
  }

  writeCr4(v: number): number {
    const old = this.s.cr4;
    this.s.cr4 = v;
    // ... and by a MOV to CR4 that changes PAE, PGE, PSE or SMEP.
    return (old ^ v) & (CR4_PAE | CR4_PGE | CR4_PSE | CR4_SMEP) ? this.loadPdptes() : 0;
  }

  setPrivilege(cpl: number, ac: boolean): void {
    this.acc = cpl === 3 ? ACC_USER : ac ? ACC_AC : 0;
  }

  invlpg(): void {}
  flushTlb(): void {}
  invpcid(): number { return 0; }
  clearFault(): void { this.faultVector = 0; }

  readPhys(gpa: number, size: 1 | 2 | 4): number {
    let v = 0;
    for (let k = size - 1; k >= 0; k--) v = v * 256 + this.mem.read8(gpa + k);
    return v;
  }

  writePhys(gpa: number, size: number, value: number): void {
    for (let k = 0; k < size; k++) this.mem.write8(gpa + k, (value >>> (k * 8)) & 0xff);
  }

  readPhysBytes(gpa: number, length: number): Uint8Array {
    return this.mem.bytes.slice(gpa, gpa + length);
  }

  /** Translates one page's part of an access; -1 after recording a fault. */
  private translate(lo: number, hi: number, acc: number): number {
    const r = oracleTranslate(this.mem, this.s, lo >>> 0, hi >>> 0, acc);
    if (!r.ok) {
      this.faultVector = r.vector;
      this.fault.vector = r.vector;
      this.fault.errorCode = r.errorCode;
      this.fault.addrLo = r.vector === 14 ? lo : 0;
      this.fault.addrHi = r.vector === 14 ? hi : 0;
      if (r.vector === 13) { this.fault.addrLo = lo; this.fault.addrHi = hi; }
      return -1;
    }
    return r.gpa;
  }

  /** An access of `size` bytes: both pages of a crossing access are translated before any byte moves. */
  private access(lo: number, hi: number, size: number, acc: number): number[] | null {
    const off = lo & 0xfff;
    const g1 = this.translate(lo, hi, acc);
    if (g1 < 0) return null;
    if (off + size <= 4096) return Array.from({ length: size }, (_, k) => g1 + k);
    const lo2 = ((lo | 0xfff) + 1) >>> 0;
    const hi2 = lo2 === 0 ? (hi + 1) >>> 0 : hi;
    const g2 = this.translate(lo2, hi2, acc);
    if (g2 < 0) return null;
    const first = 4096 - off;
    return Array.from({ length: size }, (_, k) => (k < first ? g1 + k : g2 + k - first));
  }

  private readN(lo: number, hi: number, size: number, acc: number): number {
    const gpas = this.access(lo, hi, size, acc);
    if (gpas === null) return 0;
    let v = 0;
    for (let k = size - 1; k >= 0; k--) v = v * 256 + this.mem.read8(gpas[k]!);
    return v;
  }

  private writeN(lo: number, hi: number, size: number, value: number): void {
    const gpas = this.access(lo, hi, size, this.acc | ACC_WRITE);
    if (gpas === null) return;
    for (let k = 0; k < size; k++) this.mem.write8(gpas[k]!, (value >>> (k * 8)) & 0xff);
  }

  /**
   * A read-modify-write (an ADD of 1 to memory): one translation as a write
   * for the whole instruction (SDM vol. 3A, 4.7: a fault reports W/R = 1),
   * then the read and the write through it. Returns the value read.
   */
  rmw(lo: number, hi: number, size: 1 | 2 | 4): number {
    const gpas = this.access(lo, hi, size, this.acc | ACC_WRITE);
    if (gpas === null) return 0;
    let v = 0;
    for (let k = size - 1; k >= 0; k--) v = v * 256 + this.mem.read8(gpas[k]!);
    const w = v + 1;
    for (let k = 0; k < size; k++) this.mem.write8(gpas[k]!, Math.floor(w / 256 ** k) & 0xff);
    return size === 4 ? v | 0 : v;
  }

  read8(lo: number, hi: number): number { return this.readN(lo, hi, 1, this.acc); }
  read16(lo: number, hi: number): number { return this.readN(lo, hi, 2, this.acc); }
  read32(lo: number, hi: number): number { return this.readN(lo, hi, 4, this.acc) | 0; }
  fetch8(lo: number, hi: number): number { return this.readN(lo, hi, 1, this.acc | ACC_FETCH); }
  fetch32(lo: number, hi: number): number { return this.readN(lo, hi, 4, this.acc | ACC_FETCH) | 0; }
  write8(lo: number, hi: number, v: number): void { this.writeN(lo, hi, 1, v); }
  write16(lo: number, hi: number, v: number): void { this.writeN(lo, hi, 2, v); }
  write32(lo: number, hi: number, v: number): void { this.writeN(lo, hi, 4, v); }
}
