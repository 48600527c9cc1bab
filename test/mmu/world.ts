/**
 * A randomized guest "world" for differential tests: several address spaces
 * with private user tables and a shared, global kernel half (including a
 * direct map of all guest RAM through which page tables are edited, like an
 * OS kernel does), built in a plain model memory and copied into one Mmu per
 * mode. Operations (accesses, page-table edits with the invalidation the
 * architecture requires, CR3 switches, flushes, control-bit changes) are
 * applied to every Mmu, and their outcomes compared.
 *
 * The generator follows the SDM's rules for software (4.10.4): a changed
 * leaf entry is followed by INVLPG of its address, a changed upper entry by a
 * TLB flush, global pages map the same in every address space. Under those
 * rules the result of every access is independent of what any TLB caches,
 * which is why modes with different TLB contents must agree exactly.
 */
import { OracleMachine } from './oracle-machine.js';
import { Mmu, type ModeName, type MmuOptions, CR0_PE, CR0_PG, CR0_WP, CR4_PAE, CR4_PSE, CR4_PGE, CR4_LA57, CR4_PCIDE, CR4_SMEP, CR4_SMAP, EFER_LME, EFER_LMA, EFER_NXE, PTE_P, PTE_RW, PTE_US, PTE_A, PTE_D, PTE_PS, PTE_G, ACC_WRITE, ACC_RMW_R, ACC_RMW_W } from '../../src/mmu/index.js';

export { Rng } from './rng.js';
import { Rng } from './rng.js';

export type GuestFormat = '32-bit' | 'pae' | '4-level' | '5-level';

interface FormatShape {
  /** levels walked in memory from the root table (PAE: the 4-entry PDPT counts as level 3) */
  top: number;
  esz: 4 | 8;
  shift: number[];
  bits: number[];
  /** levels where a leaf may be a large page */
  large: number[];
  /** gva of the kernel half (hi, lo) and top-level index it occupies */
  kernelHi: number;
  kernelLo: number;
}

const SHAPES: Record<GuestFormat, FormatShape> = {
  '32-bit': { top: 2, esz: 4, shift: [0, 12, 22], bits: [0, 10, 10], large: [2], kernelHi: 0, kernelLo: 0xc0000000 },
  pae: { top: 3, esz: 8, shift: [0, 12, 21, 30], bits: [0, 9, 9, 2], large: [2], kernelHi: 0, kernelLo: 0xc0000000 },
  '4-level': { top: 4, esz: 8, shift: [0, 12, 21, 30, 39], bits: [0, 9, 9, 9, 9], large: [2, 3], kernelHi: 0xffff8000, kernelLo: 0 },
  '5-level': { top: 5, esz: 8, shift: [0, 12, 21, 30, 39, 48], bits: [0, 9, 9, 9, 9, 9], large: [2, 3], kernelHi: 0xff000000, kernelLo: 0 },
};

const TWO32 = 4294967296;

/** A 64-bit linear address as halves. */
export interface Gva { lo: number; hi: number }

function addGva(g: Gva, bytes: number): Gva {
  const lo = g.lo + bytes;
  return { lo: lo >>> 0, hi: (g.hi + Math.floor(lo / TWO32)) >>> 0 };
}

function indexOf(shape: FormatShape, g: Gva, level: number): number {
  const s = shape.shift[level]!;
  const mask = (1 << shape.bits[level]!) - 1;
  const v = s >= 32 ? g.hi >>> (s - 32) : s + shape.bits[level]! > 32 ? (g.lo >>> s) | (g.hi << (32 - s)) : g.lo >>> s;
  return v & mask;
}

/** A model of guest RAM (the oracle's memory): reads outside RAM give all ones. */
export class ModelMemory {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }
  read32(gpa: number): number {
    if (gpa < 0 || gpa + 4 > this.bytes.length) return 0xffffffff;
    return this.view.getUint32(gpa, true);
  }
  write32(gpa: number, value: number): void {
    this.view.setUint32(gpa, value >>> 0, true);
  }
}

/** One access's result in one participant (differential.test.ts compares these fields one by one). */
export interface AccessOutcome {
  value: number;
  vector: number;
  errorCode: number;
  cr2Lo: number;
  cr2Hi: number;
}

/** What the operations need of a participant: an Mmu, or the oracle machine. */
export interface Machine {
  readonly mode: { readonly name: string };
  faultVector: number;
  readonly fault: { errorCode: number; addrLo: number; addrHi: number };
  setPaging(r: { cr0?: number; cr3Lo?: number; cr3Hi?: number; cr4?: number; efer?: number }): number;
  setPrivilege(cpl: number, ac: boolean): void;
  read8(lo: number, hi: number): number;
  read16(lo: number, hi: number): number;
  read32(lo: number, hi: number): number;
  fetch8(lo: number, hi: number): number;
  fetch32(lo: number, hi: number): number;
  write8(lo: number, hi: number, v: number): void;
  write16(lo: number, hi: number, v: number): void;
  write32(lo: number, hi: number, v: number): void;
  readPhys(gpa: number, size: 1 | 2 | 4): number;
  writePhys(gpa: number, size: number, v: number): void;
  readPhysBytes(gpa: number, length: number): Uint8Array;
  writeCr0(v: number): number;
  writeCr3(lo: number, hi: number): number;
  writeCr4(v: number): number;
  invlpg(lo: number, hi: number): void;
  invpcid(type: number, pcid: number, lo: number, hi: number): number;
  flushTlb(global: boolean): void;
  clearFault(): void;
}

export interface WorldOptions {
  /** also run the reference translator as a participant (slow) */
  oracle?: boolean;
  format: GuestFormat;
  seed: number;
  modes?: readonly ModeName[];
  ramBytes?: number;
  addressSpaces?: number;
  pge?: boolean;
  pcid?: boolean;
  largePages?: boolean;
  nxe?: boolean;
  mmu?: MmuOptions;
}

/** What a page-table edit touched, for the invalidation it needs. */
interface TableRef {
  /** gpa of the entry */
  gpa: number;
  level: number;
  /** the gva this entry was reached for (any gva under it) */
  gva: Gva;
  as: number;
  kernel: boolean;
}

export class World {
  readonly shape: FormatShape;
  readonly format: GuestFormat;
  readonly rng: Rng;
  readonly ram: number;
  readonly model: ModelMemory;
  readonly mmus: Mmu[];
  /** every participant: the Mmus, then the oracle when asked for */
  readonly machines: Machine[];
  readonly modes: readonly string[];
  /** root table gpa per address space */
  readonly roots: number[] = [];
  /** gvas worth accessing per address space (user) and in the shared kernel half */
  readonly userGvas: Gva[][] = [];
  readonly kernelGvas: Gva[] = [];
  /** entries that edits may change (user tables of every space, kernel random pages' leaves) */
  readonly editable: TableRef[] = [];
  /** frames used by page tables, data frames */
  readonly tableFrames: number[] = [];
  readonly dataFrames: number[] = [];
  current = 0;
  cr0 = 0;
  cr4 = 0;
  efer = 0;
  readonly pcidOn: boolean;
  private nextTable = 1;
  /** direct map of guest RAM at this gva (supervisor, global) */
  readonly directMap: Gva;
  readonly stats = { accesses: 0, faults: 0, edits: 0, switches: 0, flushes: 0, crChanges: 0 };

  constructor(readonly opts: WorldOptions) {
    this.format = opts.format;
    this.shape = SHAPES[opts.format];
    this.rng = new Rng(opts.seed);
    this.ram = opts.ramBytes ?? 16 << 20;
    this.model = new ModelMemory(this.ram);
    const modes: readonly ModeName[] = opts.modes ?? ['naive', 'shadow', 'slat'];
    this.modes = opts.oracle ? [...modes, 'oracle'] : modes;
    this.pcidOn = (opts.pcid ?? true) && (this.format === '4-level' || this.format === '5-level');
    const kernel: Gva = { lo: this.shape.kernelLo, hi: this.shape.kernelHi };
    this.directMap = kernel;
    const spaces = opts.addressSpaces ?? 3;
    const pge = opts.pge ?? true;
    const large = opts.largePages ?? true;
    const nxe = opts.nxe ?? true;
    // ---- control registers ----
    this.cr0 = CR0_PE | CR0_PG | CR0_WP;
    if (this.format === '32-bit') this.cr4 = large ? CR4_PSE : 0;
    else this.cr4 = CR4_PAE | (this.format === '5-level' ? CR4_LA57 : 0) | (this.pcidOn ? CR4_PCIDE : 0);
    if (pge) this.cr4 |= CR4_PGE;
    this.efer = (nxe && this.format !== '32-bit' ? EFER_NXE : 0) | (this.format === '4-level' || this.format === '5-level' ? EFER_LME | EFER_LMA : 0);
    // ---- frames: tables from the bottom, data from the top half ----
    for (let f = this.ram / 4096 / 2; f < this.ram / 4096; f++) this.dataFrames.push(f);
    for (let i = 0; i < this.ram; i += 4) this.model.write32(i, (i >= this.ram / 2 ? this.rng.u32() : 0));
    // ---- address spaces ----
    for (let s = 0; s < spaces; s++) this.roots.push(this.allocTable(this.format === 'pae' ? 32 : 4096));
    // kernel half: built under space 0, then shared by copying its top-level entries
    const gFlag = pge ? PTE_G : 0;
    const directLevel = large ? (this.format === '32-bit' ? 2 : 2) : 1;
    const step = 2 ** this.shape.shift[directLevel]!;
    for (let gpa = 0; gpa < this.ram; gpa += step) {
      this.map(0, addGva(kernel, gpa), directLevel, gpa, PTE_RW | PTE_A | PTE_D | gFlag, false, true);
    }
    const kRandom = addGva(kernel, Math.max(this.ram, 2 ** this.shape.shift[2]! * 8) + (4 << 20));
    for (let i = 0; i < 48; i++) {
      const g = addGva(kRandom, i * 4096);
      const flags = this.randomLeafFlags(true) | gFlag;
      this.map(0, g, 1, this.rng.pick(this.dataFrames) * 4096, flags, true, true);
      this.kernelGvas.push(g);
    }
    // kernel top-level entries are shared by every address space
    this.shareKernel();
    // user halves
    for (let s = 0; s < spaces; s++) {
      const gvas: Gva[] = [];
      const base = this.format === '32-bit' || this.format === 'pae' ? 0x00400000 : 0x00400000;
      for (let r = 0; r < 4; r++) {
        const region = addGva({ lo: base, hi: 0 }, r * 2 ** this.shape.shift[2]! * 3 + (this.format === '4-level' || this.format === '5-level' ? r * 2 ** 30 : 0));
        const useLarge = large && r === 3;
        if (useLarge) {
          const pages = 2 ** (this.shape.shift[2]! - 12);
          const frame = this.dataFrames[0]! + this.rng.below(Math.max(1, this.dataFrames.length - pages * 2));
          const alignedGpa = Math.floor((frame * 4096) / 2 ** this.shape.shift[2]!) * 2 ** this.shape.shift[2]!;
          const gpa = Math.max(alignedGpa, this.ram / 2);
          this.map(s, region, 2, gpa, this.randomLeafFlags(false) | PTE_US, true, false);
          for (let k = 0; k < 6; k++) gvas.push(addGva(region, this.rng.below(pages) * 4096));
        } else {
          for (let p = 0; p < 24; p++) {
            const g = addGva(region, p * 4096);
            const toTable = this.rng.chance(0.1);
            const frame = toTable && this.tableFrames.length > 0 ? this.rng.pick(this.tableFrames) : this.rng.pick(this.dataFrames);
            // Tables mapped into user space are read-only (see randomGva).
            if (this.rng.chance(0.9)) this.map(s, g, 1, frame * 4096, this.randomLeafFlags(false) & ~(toTable ? PTE_RW : 0), true, false);
            gvas.push(g);
          }
        }
      }
      // 1 GiB page in 4/5-level when allowed (maps the top half of RAM repeatedly is not possible; map gpa 0)
      if (large && (this.format === '4-level' || this.format === '5-level')) {
        const g: Gva = { lo: 0, hi: 0x10 };
        this.map(s, g, 3, 0, PTE_RW | PTE_US, true, false);
        for (let k = 0; k < 4; k++) gvas.push(addGva(g, (this.ram / 2) + this.rng.below(this.ram / 8192) * 4096));
      }
      this.userGvas.push(gvas);
    }
    // ---- Mmus ----
    this.mmus = modes.map((mode) => new Mmu({ mode, guestMemory: this.ram, maxPhysAddr: 36, ...opts.mmu }));
    this.machines = [...this.mmus];
    if (opts.oracle) {
      const o = new OracleMachine(this.ram, opts.mmu?.maxPhysAddr ?? 36, opts.mmu?.gbPages ?? true);
      o.mem.bytes.set(this.model.bytes);
      this.machines.push(o);
    }
    for (const m of this.machines) {
      if (m instanceof Mmu) m.writePhysBytes(0, this.model.bytes);
      if (m.setPaging({ cr0: this.cr0, cr4: this.cr4, efer: this.efer, cr3Lo: this.cr3Of(0), cr3Hi: 0 }) !== 0) throw new Error('initial paging setup faulted');
    }
  }

  cr3Of(space: number): number {
    return this.roots[space]! | (this.pcidOn ? space + 1 : 0);
  }

  private allocTable(bytes: number): number {
    const gpa = this.nextTable * 4096;
    this.nextTable++;
    if (gpa >= this.ram / 2) throw new Error('world: out of table frames');
    this.tableFrames.push(gpa / 4096);
    void bytes;
    return gpa;
  }

  private randomLeafFlags(kernel: boolean): number {
    let f = PTE_P | PTE_A;
    if (this.rng.chance(0.7)) f |= PTE_RW;
    if (!kernel && this.rng.chance(0.85)) f |= PTE_US;
    if (this.rng.chance(0.3)) f &= ~PTE_A;
    if (this.rng.chance(0.5)) f |= PTE_D;
    return f;
  }

  private readEntry(gpa: number): [number, number] {
    const lo = this.model.read32(gpa);
    return [lo, this.shape.esz === 8 ? this.model.read32(gpa + 4) : 0];
  }

  private writeModelEntry(gpa: number, lo: number, hi: number): void {
    this.model.write32(gpa, lo);
    if (this.shape.esz === 8) this.model.write32(gpa + 4, hi);
  }

  /** Maps gva in space `as` at `leafLevel` to gpa, building tables in the model memory. */
  private map(as: number, gva: Gva, leafLevel: number, gpa: number, flags: number, editable: boolean, kernel: boolean): void {
    const shape = this.shape;
    let table = this.roots[as]!;
    for (let level = shape.top; level > leafLevel; level--) {
      const e = table + indexOf(shape, gva, level) * shape.esz;
      let [lo] = this.readEntry(e);
      if (!(lo & PTE_P)) {
        const t = this.allocTable(4096);
        // PAE PDPTEs carry only P (bits 2:1 and 8:5 are reserved).
        lo = this.format === 'pae' && level === 3 ? t | PTE_P : t | PTE_P | PTE_RW | PTE_A | (kernel ? 0 : PTE_US);
        this.writeModelEntry(e, lo, 0);
        if (editable && !kernel && !(this.format === 'pae' && level === 3)) this.editable.push({ gpa: e, level, gva, as, kernel });
      }
      table = lo & 0xfffff000;
      if (shape.esz === 8) table += (this.model.read32(e + 4) & 0xf) * TWO32;
    }
    const e = table + indexOf(shape, gva, leafLevel) * shape.esz;
    const big = leafLevel > 1 ? PTE_PS : 0;
    let lo = (gpa % TWO32) | flags | big | PTE_P;
    let hi = Math.floor(gpa / TWO32);
    if (this.format === '32-bit' && leafLevel === 2) {
      lo = (gpa & 0xffc00000) | flags | big | PTE_P;
      hi = 0;
    }
    if (shape.esz === 8 && this.efer & EFER_NXE && this.rng.chance(0.2)) hi |= 0x80000000;
    this.writeModelEntry(e, lo | 0, hi | 0);
    if (editable) this.editable.push({ gpa: e, level: leafLevel, gva, as, kernel });
  }

  private shareKernel(): void {
    const shape = this.shape;
    const k: Gva = { lo: shape.kernelLo, hi: shape.kernelHi };
    const first = indexOf(shape, k, shape.top);
    const count = this.format === '32-bit' ? 256 : 1;
    for (let s = 1; s < this.roots.length; s++) {
      for (let i = first; i < first + count; i++) {
        const [lo, hi] = this.readEntry(this.roots[0]! + i * shape.esz);
        this.writeModelEntry(this.roots[s]! + i * shape.esz, lo, hi);
      }
    }
  }

  // =====================================================================
  // Operations
  // =====================================================================

  /** One random operation; returns a label for failure messages. */
  step(): string {
    const r = this.rng.below(1000);
    if (r < 880) return this.randomAccess();
    if (r < 950) return this.randomEdit();
    if (r < 975) return this.switchSpace(this.rng.below(this.roots.length));
    if (r < 985) return this.randomInvlpg();
    if (r < 992) return this.flush();
    return this.changeControl();
  }

  /**
   * A gva worth accessing. Writes never reach page tables except through the
   * edit operation: a write to a table without the invalidation that must
   * follow it is outside the rules under which modes must agree.
   */
  private randomGva(write = false): Gva {
    const r = this.rng.below(100);
    let g: Gva;
    if (r < 60) g = this.rng.pick(this.userGvas[this.current]!);
    else if (r < 80) g = this.rng.pick(this.kernelGvas);
    else if (r < 95) g = addGva(this.directMap, (write ? this.ram / 8192 + this.rng.below(this.ram / 8192 - 1) : this.rng.below(this.ram / 4096)) * 4096);
    else if (r < 98 && write) g = this.rng.pick(this.userGvas[this.current]!);
    else if (r < 98) g = { lo: this.rng.u32() & ~0xfff, hi: this.format === '4-level' || this.format === '5-level' ? this.rng.below(4) : 0 };
    else g = { lo: 0x1000, hi: this.format === '4-level' ? 0x12345 : this.format === '5-level' ? 0x1234567 : 0 }; // non-canonical in 4/5-level
    const off = this.rng.chance(0.05) ? 4096 - 1 - this.rng.below(3) : this.rng.below(4096);
    return addGva(g, off);
  }

  randomAccess(): string {
    const kind = this.rng.below(11); // 0-5 read, 6-8 write, 9 fetch, 10 read-modify-write
    const g = this.randomGva((kind >= 6 && kind < 9) || kind === 10);
    const user = this.rng.chance(0.4);
    const size = this.rng.pick([1, 2, 4] as const);
    const ac = !user && this.rng.chance(0.3);
    const value = this.rng.u32() | 0;
    const label = `access ${kind < 6 ? 'read' : kind < 9 ? 'write' : kind === 9 ? 'fetch' : 'rmw'}${size} ${user ? 'user' : ac ? 'sup+AC' : 'sup'} ${g.hi.toString(16)}:${g.lo.toString(16)}`;
    const outs: AccessOutcome[] = [];
    for (const m of this.machines) {
      m.setPrivilege(user ? 3 : 0, ac);
      let v = 0;
      if (kind < 6) v = size === 1 ? m.read8(g.lo, g.hi) : size === 2 ? m.read16(g.lo, g.hi) : m.read32(g.lo, g.hi);
      else if (kind < 9) {
        if (size === 1) m.write8(g.lo, g.hi, value & 0xff);
        else if (size === 2) m.write16(g.lo, g.hi, value & 0xffff);
        else m.write32(g.lo, g.hi, value);
      } else if (kind === 10) {
        // the read checked as a write, then the write of the value read plus one
        if (m instanceof OracleMachine) v = m.rmw(g.lo, g.hi, size);
        else {
          const u = m as Mmu;
          v = u.readAcc(g.lo, g.hi, size, u.ctxAcc | ACC_WRITE | ACC_RMW_R);
          if (u.faultVector === 0) u.writeAcc(g.lo, g.hi, size, (v + 1) & (size === 4 ? -1 : (1 << (size * 8)) - 1), u.ctxAcc | ACC_RMW_W);
        }
      } else {
        v = size === 4 ? m.fetch32(g.lo, g.hi) : m.fetch8(g.lo, g.hi);
      }
      outs.push({ value: m.faultVector ? 0 : v, vector: m.faultVector, errorCode: m.faultVector ? m.fault.errorCode : 0, cr2Lo: m.faultVector ? m.fault.addrLo >>> 0 : 0, cr2Hi: m.faultVector ? m.fault.addrHi >>> 0 : 0 });
      m.clearFault();
    }
    this.stats.accesses++;
    if (outs[0]!.vector) this.stats.faults++;
    this.lastOutcomes = outs;
    return label;
  }

  lastOutcomes: AccessOutcome[] = [];

  /** Edits a random editable entry (through the direct map or as a device write) and invalidates as required. */
  randomEdit(): string {
    const ref = this.rng.pick(this.editable);
    const m0 = this.machines[0]!;
    const lo = m0.readPhys(ref.gpa, 4) | 0;
    const hi = this.shape.esz === 8 ? m0.readPhys(ref.gpa + 4, 4) | 0 : 0;
    let nlo = lo;
    let nhi = hi;
    const what = this.rng.below(12);
    const leaf = ref.level === 1 || (lo & PTE_PS) !== 0;
    switch (what) {
      case 0: nlo ^= PTE_P; break;
      case 1: nlo ^= PTE_RW; break;
      case 2: if (!ref.kernel) nlo ^= PTE_US; break;
      case 3: nlo ^= PTE_A; break;
      case 4: nlo ^= PTE_D; break;
      case 5: if (this.shape.esz === 8) nhi ^= 0x80000000; break;
      case 6: if (leaf && ref.level === 1) nlo = (nlo & 0xfff) | (this.rng.pick(this.rng.chance(0.2) ? this.tableFrames : this.dataFrames) * 4096); break;
      case 7: if (this.rng.chance(0.2)) { if (this.shape.esz === 8) nhi ^= 1 << 10; else if (ref.level === 2 && lo & PTE_PS) nlo ^= 1 << 21; } break; // a reserved bit
      case 8: if (this.shape.esz === 8 && leaf && this.format !== 'pae') nhi = (nhi & ~(0xf << 27)) | (this.rng.below(16) << 27); break; // protection key
      default: nlo ^= PTE_A; break;
    }
    // A leaf that maps a page table stays read-only (see randomGva).
    if (leaf && ref.level === 1 && (nlo >>> 12) < this.ram / 8192 && !(nhi & 0xf)) nlo &= ~PTE_RW;
    if (ref.kernel) nlo |= this.cr4 & CR4_PGE && leaf ? PTE_G : 0;
    else nlo &= ~PTE_G;
    const viaCpu = this.rng.chance(0.6);
    for (const m of this.machines) {
      if (viaCpu) {
        // Through the kernel's direct map at CPL 0 (how an OS edits its tables).
        m.setPrivilege(0, false);
        const g = addGva(this.directMap, ref.gpa);
        if (this.shape.esz === 8) m.write32(addGva(g, 4).lo, addGva(g, 4).hi, nhi);
        m.write32(g.lo, g.hi, nlo);
        if (m.faultVector) throw new Error(`direct-map write faulted in ${m.mode.name}: ${m.fault.errorCode} at ${m.fault.addrHi.toString(16)}:${m.fault.addrLo.toString(16)} editing ${ref.gpa.toString(16)} as${ref.as} L${ref.level} kernel=${ref.kernel} current=as${this.current}`);
      } else {
        if (this.shape.esz === 8) m.writePhys(ref.gpa + 4, 4, nhi);
        m.writePhys(ref.gpa, 4, nlo);
      }
    }
    this.stats.edits++;
    // The invalidation the architecture asks for (SDM 4.10.4.1/4.10.4.2).
    if (ref.kernel || ref.as === this.current) {
      if (leaf) for (const m of this.machines) m.invlpg(ref.gva.lo, ref.gva.hi);
      else for (const m of this.machines) m.flushTlb(true);
    } else if (this.pcidOn) {
      for (const m of this.machines) m.invpcid(1, ref.as + 1, 0, 0);
    }
    return `edit ${ref.kernel ? 'kernel' : 'as' + ref.as} L${ref.level} entry @${ref.gpa.toString(16)} ${hi.toString(16)}:${lo.toString(16)} -> ${nhi.toString(16)}:${nlo.toString(16)} ${viaCpu ? 'cpu' : 'dma'}`;
  }

  switchSpace(s: number): string {
    this.current = s;
    const noFlush = this.pcidOn && this.rng.chance(0.5);
    for (const m of this.machines) {
      if (m.writeCr3(this.cr3Of(s), noFlush ? 0x80000000 : 0) !== 0) throw new Error('CR3 load faulted');
    }
    this.stats.switches++;
    return `switch to as${s}${noFlush ? ' (no flush)' : ''}`;
  }

  private randomInvlpg(): string {
    const g = this.randomGva();
    for (const m of this.machines) m.invlpg(g.lo, g.hi);
    return `invlpg ${g.hi.toString(16)}:${g.lo.toString(16)}`;
  }

  private flush(): string {
    const global = this.rng.chance(0.5);
    for (const m of this.machines) m.flushTlb(global);
    this.stats.flushes++;
    return `flush ${global ? 'all' : 'non-global'}`;
  }

  private changeControl(): string {
    const r = this.rng.below(4);
    let label: string;
    if (r === 0) {
      this.cr0 ^= CR0_WP;
      for (const m of this.machines) m.writeCr0(this.cr0);
      label = `CR0.WP=${this.cr0 & CR0_WP ? 1 : 0}`;
    } else if (r === 1) {
      this.cr4 ^= CR4_SMEP;
      for (const m of this.machines) m.writeCr4(this.cr4);
      label = `CR4.SMEP=${this.cr4 & CR4_SMEP ? 1 : 0}`;
    } else if (r === 2) {
      this.cr4 ^= CR4_SMAP;
      for (const m of this.machines) m.writeCr4(this.cr4);
      label = `CR4.SMAP=${this.cr4 & CR4_SMAP ? 1 : 0}`;
    } else {
      // toggling PGE off and on flushes global entries too
      for (const m of this.machines) { m.writeCr4(this.cr4 ^ CR4_PGE); m.writeCr4(this.cr4); }
      label = 'PGE toggle';
    }
    this.stats.crChanges++;
    return label;
  }

  /** Returns the first gpa where the modes' guest memories differ, or -1. */
  firstMemoryDifference(): number {
    const ref = this.machines[0]!.readPhysBytes(0, this.ram);
    for (let i = 1; i < this.machines.length; i++) {
      const other = this.machines[i]!.readPhysBytes(0, this.ram);
      if (Buffer.compare(ref, other) !== 0) {
        for (let a = 0; a < this.ram; a++) if (ref[a] !== other[a]) return a;
      }
    }
    return -1;
  }
}
