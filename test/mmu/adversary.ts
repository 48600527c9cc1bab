/**
 * An adversarial program generator for the mode-equivalence invariant.
 *
 * Unlike world.ts, whose programs follow the SDM's invalidation rules and are
 * checked against a TLB-less oracle, these programs follow no rule at all:
 * page-table entries are rewritten with random frames and flags (pointing at
 * other tables, at themselves, at large pages that cover the tables, at
 * nothing), through physical writes and through the guest's own linear
 * mappings of its tables, with or without INVLPG, and control registers,
 * PKRU, CR3 (with PCIDs and no-flush loads), privilege and EFLAGS.AC change
 * at random. What each access returns is then not decided by the SDM alone
 * (a TLB may keep a stale translation) but it must be decided the same way in
 * every mode: the Mmu's software TLB is the guest's architectural TLB, shared
 * by every mode, so every mode has to produce exactly what a fresh walk of the
 * guest's tables produces on a miss. Any difference between modes, in a value,
 * a fault, CR2, an error code or a byte of guest memory, is a bug.
 *
 * The generator leans on the patterns where shadow MMUs historically break:
 * global pages and CR4.PGE toggles, large pages rewritten and partly
 * invalidated, page tables mapped into their own address space (every level,
 * both halves of a table), page directories written past the flood
 * threshold, out-of-sync tables and their A/D bits, PKRU and CR4.PKE, CR0.WP
 * with SMEP/SMAP, and shadow policies that force reclaim; some table
 * frames fall in read-only memory (whose entries the walk cannot mark
 * accessed or dirty, and whose writes are dropped) or in a hole (entries
 * that read all ones). And it rewrites the leaf entries of translations in
 * use (touched just before, the store made through the guest's own mapping
 * of the table when it has one, so that shadow lets the table go out of
 * sync), then touches them again with or without INVLPG, sometimes after
 * other accesses that evict them from the TLB: every second seed runs with
 * the smallest software TLB (256 slots), where that happens often, so that
 * a mode's own copy of an entry is asked far more often than a large TLB
 * lets it be. Some of those stores straddle the entry before and the
 * leaf. (Both found wanting by mutants, docs/architecture.md: shadow
 * answering a refill from an out-of-sync entry without checking it, and a
 * straddling write zapping only the first entry's shadow, survived this
 * generator until then.)
 */
import {
  Mmu, type MmuOptions, type ModeName, type ShadowOptions, CR0_PE, CR0_PG, CR0_WP, CR4_LA57, CR4_PAE, CR4_PCIDE,
  CR4_PGE, CR4_PKE, CR4_PSE, CR4_SMAP, CR4_SMEP, EFER_LMA, EFER_LME, EFER_NXE, PTE_A, PTE_D, PTE_G, PTE_P, PTE_PS,
  PTE_RW, PTE_US, ACC_WRITE, ACC_RMW_R, ACC_RMW_W,
} from '../../src/mmu/index.js';
import type { ShadowMode } from '../../src/mmu/modes/shadow.js';
import { Rng } from './rng.js';

export type AdvFormat = '32-bit' | 'pae' | '4-level' | '5-level';
export const ADV_FORMATS: readonly AdvFormat[] = ['32-bit', 'pae', '4-level', '5-level'];

/** One participant: a mode and its options. */
export interface Participant {
  label: string;
  mode: ModeName;
  shadow?: ShadowOptions;
}

/** naive is the reference the others are compared with; then slat and shadow under every policy. */
export const PARTICIPANTS: readonly Participant[] = [
  { label: 'naive', mode: 'naive' },
  { label: 'slat', mode: 'slat' },
  { label: 'shadow', mode: 'shadow' },
  { label: 'shadow unsync=off', mode: 'shadow', shadow: { unsync: false } },
  { label: 'shadow flood=1 rootCache=0', mode: 'shadow', shadow: { floodThreshold: 1, rootCache: 0 } },
  { label: 'shadow flood=2', mode: 'shadow', shadow: { floodThreshold: 2 } },
  { label: 'shadow flood=4 rootCache=1', mode: 'shadow', shadow: { floodThreshold: 4, rootCache: 1 } },
  { label: 'shadow maxPages=16', mode: 'shadow', shadow: { maxPages: 16, rootCache: 2 } },
  { label: 'shadow maxPages=24 unsync=off', mode: 'shadow', shadow: { maxPages: 24, unsync: false, floodThreshold: 1 } },
];

/** guest-physical memory: RAM, but for ROM and a hole among the table frames */
const RAM = 4 << 20;
const FRAMES = RAM / 4096;
const ROM = { gpa: 24 * 4096, bytes: 8 * 4096 };
const HOLE = { gpa: 32 * 4096, bytes: 2 * 4096 };
const TWO32 = 4294967296;
/** log2 of the software TLB's slots, by seed: the default, and the smallest the Mmu takes (256) */
const SOFT_TLB_BITS = [13, 8];

interface Shape {
  levels: number;
  esz: 4 | 8;
  /** index bits per level, [1..levels] */
  bits: number[];
  shift: number[];
}

const SHAPES: Record<AdvFormat, Shape> = {
  '32-bit': { levels: 2, esz: 4, bits: [0, 10, 10], shift: [0, 12, 22] },
  pae: { levels: 3, esz: 8, bits: [0, 9, 9, 2], shift: [0, 12, 21, 30] },
  '4-level': { levels: 4, esz: 8, bits: [0, 9, 9, 9, 9], shift: [0, 12, 21, 30, 39] },
  '5-level': { levels: 5, esz: 8, bits: [0, 9, 9, 9, 9, 9], shift: [0, 12, 21, 30, 39, 48] },
};

export interface AdversaryOptions {
  format: AdvFormat;
  seed: number;
  participants?: readonly Participant[];
  /** extra Mmu options for every participant */
  mmu?: MmuOptions;
}

export interface Divergence {
  op: number;
  what: string;
  /** the last operations before the divergence, oldest first */
  history: string[];
}

/**
 * A running adversarial program over one Mmu per participant. step() applies
 * one random operation to all of them and returns a divergence or null.
 */
export class Adversary {
  readonly format: AdvFormat;
  readonly shape: Shape;
  readonly rng: Rng;
  readonly mmus: Mmu[];
  readonly labels: string[];
  /** frames used as page tables (at any level, shared between levels) */
  readonly tables: number[] = [];
  /** data frames */
  readonly data: number[] = [];
  /** roots that CR3 loads choose from */
  readonly roots: number[] = [];
  /** gvas worth touching: (lo, hi) pairs */
  readonly gvas: { lo: number; hi: number }[] = [];
  /** per level, the small set of table indices programs use (both halves of a table) */
  private readonly idxSet: number[][] = [];
  private cr0 = 0;
  private cr4 = 0;
  private efer = 0;
  /** the last operations, formatted only when a divergence is reported */
  private readonly history: (() => string)[] = [];
  ops = 0;
  readonly stats = { accesses: 0, faults: 0, tableWrites: 0, linearTableWrites: 0, invlpg: 0, cr3: 0, cr: 0, pkru: 0, flushes: 0, remaps: 0 };

  constructor(opts: AdversaryOptions) {
    this.format = opts.format;
    this.shape = SHAPES[opts.format];
    this.rng = new Rng(opts.seed);
    const parts = opts.participants ?? PARTICIPANTS;
    this.labels = parts.map((p) => p.label);
    // The software TLB is the guest's architectural TLB, the same in every
    // participant; a small one misses often, so that a mode's own structures
    // (a stale shadow entry, a cached walk) answer far more refills than the
    // 8,192 slots of the default would let them.
    const softTlbBits = opts.mmu?.softTlbBits ?? SOFT_TLB_BITS[opts.seed % SOFT_TLB_BITS.length]!;
    this.mmus = parts.map((p) => new Mmu({
      ...opts.mmu, softTlbBits, mode: p.mode, guestMemory: RAM - ROM.bytes - HOLE.bytes, holes: [HOLE], rom: [ROM], seed: opts.seed, shadow: { ...opts.mmu?.shadow, ...p.shadow },
    }));
    const r = this.rng;
    for (let l = 1; l <= this.shape.levels; l++) {
      const n = 1 << this.shape.bits[l]!;
      this.idxSet[l] = n <= 4 ? [0, 1, 2, 3] : [0, 1, 2, n / 2 - 1, n / 2, n / 2 + 1, n - 2, n - 1];
    }
    // Tables in frames 1..20 and scattered; data above.
    const tableCount = 10 + r.below(10);
    for (let i = 0; i < tableCount; i++) this.tables.push(1 + i * (1 + r.below(3)));
    for (let i = 0; i < 24; i++) this.data.push(64 + r.below(FRAMES - 64));
    // Fill data frames with a recognizable pattern, tables with random entries.
    for (const f of this.data) for (let o = 0; o < 4096; o += 4) this.physAll(f * 4096 + o, 4, (f << 16) ^ o ^ 0x5a5a0000);
    for (const f of this.tables) {
      for (let k = 0; k < 24; k++) this.writeEntryPhys(f, this.randomIndex(), this.randomEntry(r.below(this.shape.levels) + 1));
    }
    // Read-only memory holding entries (tables there work, their A/D bits
    // stay clear, writes to them are dropped) and a hole (reads all ones).
    const rom = new DataView(new ArrayBuffer(ROM.bytes));
    for (let o = 0; o < ROM.bytes; o += this.shape.esz) {
      const e = this.randomEntry(r.below(this.shape.levels) + 1);
      rom.setInt32(o, e[0], true);
      if (this.shape.esz === 8) rom.setInt32(o + 4, e[1], true);
    }
    for (const m of this.mmus) m.loadRom(ROM.gpa, new Uint8Array(rom.buffer));
    for (let i = 0; i < 4; i++) this.roots.push(r.pick(this.tables));
    // gvas: paths through the index sets, so random tables line up.
    for (let i = 0; i < 48; i++) this.gvas.push(this.randomGva());
    // Paging on.
    const pae = this.format !== '32-bit';
    const long = this.format === '4-level' || this.format === '5-level';
    this.cr0 = CR0_PE | CR0_PG | (r.chance(0.7) ? CR0_WP : 0);
    this.cr4 = (pae ? CR4_PAE : CR4_PSE) | (r.chance(0.6) ? CR4_PGE : 0) | (this.format === '5-level' ? CR4_LA57 : 0)
      | (long && r.chance(0.5) ? CR4_PCIDE : 0);
    this.efer = (pae && r.chance(0.7) ? EFER_NXE : 0) | (long ? EFER_LME | EFER_LMA : 0);
    let cr3 = this.roots[0]! * 4096;
    if (this.format === 'pae') cr3 = this.validPdpt() * 4096;
    for (const g of this.gvas) for (const root of this.roots) if (r.chance(0.7)) this.mapPath(root, g);
    if (this.format === 'pae') cr3 = this.validPdpt() * 4096;
    for (const m of this.mmus) {
      if (m.setPaging({ cr0: this.cr0, cr4: this.cr4, efer: this.efer, cr3Lo: cr3, cr3Hi: 0, pkru: 0 }) !== 0) throw new Error('adversary: paging setup failed');
    }
  }

  /**
   * Makes gva translate from the table at `root` (a PAE root is a PDPT):
   * every entry on its path that is not present, or is a large page where the
   * path needs a table, becomes present, pointing at a random table or, at
   * the leaf, at a data frame, a table (a page table mapped into the address
   * space) or a large page. Physical writes, as an OS builds tables.
   */
  private mapPath(root: number, g: { lo: number; hi: number }): void {
    const r = this.rng;
    const s = this.shape;
    const m0 = this.mmus[0]!;
    let table = root;
    for (let l = s.levels; l >= 1; l--) {
      const sh = s.shift[l]!;
      const idx = (sh >= 32 ? g.hi >>> (sh - 32) : sh + s.bits[l]! > 32 ? (g.lo >>> sh) | (g.hi << (32 - sh)) : g.lo >>> sh) & ((1 << s.bits[l]!) - 1);
      const gpa = table * 4096 + idx * s.esz;
      const lo = m0.readPhys(gpa, 4);
      const leafHere = l === 1 || (l === 2 && r.chance(0.15)) || (l === 3 && s.levels >= 4 && r.chance(0.05));
      if (lo & PTE_P && (!(lo & PTE_PS) || l === 1 || l > 3 || leafHere) && !(this.format === 'pae' && l === 3 && lo & 0x1e6)) {
        if (lo & PTE_PS && l >= 2 && l <= 3) return;
        if (l === 1) return;
        table = Math.floor(lo / 4096) & 0xfffff;
        if (table >= FRAMES) return;
        continue;
      }
      let e: [number, number];
      if (this.format === 'pae' && l === 3) {
        e = [(r.pick(this.tables) * 4096) | PTE_P, 0];
      } else if (leafHere && l > 1) {
        const span = 2 ** (sh - 12);
        const f = span > FRAMES ? 0 : Math.floor(r.below(FRAMES) / span) * span;
        e = [(f * 4096) | PTE_P | PTE_PS | PTE_RW | PTE_US | (r.chance(0.5) ? PTE_A : 0) | (r.chance(0.3) ? PTE_G : 0), 0];
      } else {
        const f = l === 1 ? (r.chance(0.25) ? r.pick(this.tables) : r.pick(this.data)) : r.pick(this.tables);
        e = [(f * 4096) | PTE_P | (r.chance(0.85) ? PTE_RW : 0) | (r.chance(0.8) ? PTE_US : 0) | (r.chance(0.5) ? PTE_A : 0) | (l === 1 && r.chance(0.3) ? PTE_G : 0), 0];
        if (s.esz === 8 && l === 1 && r.chance(0.2)) e[1] = r.below(4) << 27;
      }
      this.note(() => `map ${this.hex(g.lo, g.hi)} L${l} entry ${this.hex(gpa, 0)} = ${this.hex(e[0], e[1])}`);
      this.writeEntryPhys(table, idx, e);
      if (leafHere || l === 1) return;
      table = Math.floor(e[0] / 4096) & 0xfffff;
    }
  }

  /** A PAE PDPT with valid PDPTEs (so CR3 loads succeed more often than not). */
  private validPdpt(): number {
    // A PDPT the guest can write: not in ROM (whose entries stay what they are) nor in the hole.
    const writable = this.tables.filter((t) => t * 4096 < ROM.gpa || t * 4096 >= HOLE.gpa + HOLE.bytes);
    const f = this.rng.pick(writable);
    for (let i = 0; i < 4; i++) {
      const e = this.rng.chance(0.8) ? (this.rng.pick(this.tables) * 4096) | PTE_P : 0;
      this.physAll(f * 4096 + i * 8, 4, e);
      this.physAll(f * 4096 + i * 8 + 4, 4, 0);
    }
    return f;
  }

  private randomIndex(): number {
    const l = 1 + this.rng.below(this.shape.levels);
    return this.rng.chance(0.85) ? this.rng.pick(this.idxSet[l]!) : this.rng.below(1 << this.shape.bits[l]!);
  }

  private randomGva(): { lo: number; hi: number } {
    const s = this.shape;
    let lo = 0, hi = 0;
    for (let l = 1; l <= s.levels; l++) {
      const idx = this.rng.chance(0.9) ? this.rng.pick(this.idxSet[l]!) : this.rng.below(1 << s.bits[l]!);
      const sh = s.shift[l]!;
      if (sh >= 32) hi += idx * 2 ** (sh - 32);
      else {
        const v = idx * 2 ** sh;
        lo += v % TWO32;
        hi += Math.floor(v / TWO32);
      }
    }
    lo = (lo + this.rng.below(4096)) % TWO32;
    if (this.format === '4-level' && hi & 0x8000) hi |= 0xffff0000;
    if (this.format === '5-level' && hi & 0x1000000) hi |= 0xfe000000;
    return { lo: lo >>> 0, hi: hi >>> 0 };
  }

  /** A random entry for a table at `level`: a pointer to a table, a data page, a large page, or junk. */
  private randomEntry(level: number): [number, number] {
    const r = this.rng;
    const s = this.shape;
    let flags = (r.chance(0.92) ? PTE_P : 0) | (r.chance(0.7) ? PTE_RW : 0) | (r.chance(0.6) ? PTE_US : 0)
      | (r.chance(0.5) ? PTE_A : 0) | (r.chance(0.4) ? PTE_D : 0) | (r.chance(0.3) ? PTE_G : 0);
    let frame: number;
    const large = level >= 2 && r.chance(0.25) && (level === 2 || (this.format !== '32-bit' && this.format !== 'pae' && level === 3));
    if (large) {
      flags |= PTE_PS;
      const span = 2 ** (s.shift[level]! - 12);
      frame = r.chance(0.8) ? Math.floor(r.below(FRAMES) / span) * span : r.below(FRAMES * 4);
      if (span > FRAMES && r.chance(0.8)) frame = 0;
    } else {
      const p = r.u32() % 100;
      frame = p < 55 ? r.pick(this.tables) : p < 95 ? r.pick(this.data) : r.below(FRAMES * 2);
    }
    let lo = ((frame * 4096) | flags) | 0;
    let hi = 0;
    if (s.esz === 8) {
      hi = Math.floor((frame * 4096) / TWO32);
      if (r.chance(0.25)) hi |= 1 << 31; // XD
      if (r.chance(0.3)) hi |= r.below(16) << 27; // protection key
      if (r.chance(0.02)) hi |= 1 << (r.below(20) + 4); // reserved or avail bits
    }
    if (r.chance(0.01)) lo |= 1 << (9 + r.below(3)); // available bits
    if (this.format === '32-bit' && large && r.chance(0.1)) lo |= 1 << (13 + r.below(8)); // PSE-36 bits or reserved
    return [lo, hi];
  }

  private physAll(gpa: number, size: number, v: number): void {
    for (const m of this.mmus) m.writePhys(gpa, size, v);
  }

  private writeEntryPhys(frame: number, idx: number, e: [number, number]): void {
    const gpa = frame * 4096 + idx * this.shape.esz;
    if (this.shape.esz === 8 && this.rng.chance(0.5)) {
      // one 8-byte write, as a device or a 64-bit store makes it (one notification of size 8)
      for (const m of this.mmus) m.writePhys64(gpa, e[0], e[1]);
      return;
    }
    this.physAll(gpa, 4, e[0]);
    if (this.shape.esz === 8) this.physAll(gpa + 4, 4, e[1]);
  }

  private note(s: () => string): void {
    this.history.push(s);
    if (this.history.length > 40) this.history.shift();
  }

  private lastOps(): string[] {
    return this.history.map((f) => f());
  }

  private hex(lo: number, hi: number): string {
    return hi ? `${(hi >>> 0).toString(16)}_${(lo >>> 0).toString(16).padStart(8, '0')}` : `0x${(lo >>> 0).toString(16)}`;
  }

  /** Applies one random operation; returns a divergence or null. */
  step(): Divergence | null {
    this.ops++;
    const r = this.rng;
    const p = r.u32() % 1000;
    if (p < 400) return this.access();
    if (p < 560) return this.remapLive();
    if (p < 700) return this.tableWrite();
    if (p < 760) {
      const g = r.pick(this.gvas);
      this.note(() => `invlpg ${this.hex(g.lo, g.hi)}`);
      for (const m of this.mmus) m.invlpg(g.lo, g.hi);
      this.stats.invlpg++;
      return null;
    }
    if (p < 800) return this.cr3Load();
    if (p < 830) return this.controlChange();
    if (p < 850) {
      if (this.format !== '4-level' && this.format !== '5-level') return null;
      const v = r.chance(0.5) ? r.u32() & 0x5555_5555 & r.u32() : r.u32() | 0;
      this.note(() => `wrpkru ${this.hex(v, 0)}`);
      for (const m of this.mmus) m.writePkru(v);
      this.stats.pkru++;
      return null;
    }
    if (p < 880) {
      const cpl = r.chance(0.5) ? 3 : 0;
      const ac = r.chance(0.5);
      this.note(() => `privilege cpl=${cpl} ac=${ac}`);
      for (const m of this.mmus) m.setPrivilege(cpl, ac);
      return null;
    }
    if (p < 900) {
      const global = r.chance(0.3);
      this.note(() => `flush global=${global}`);
      for (const m of this.mmus) m.flushTlb(global);
      this.stats.flushes++;
      return null;
    }
    if (p < 920) {
      const type = r.below(4);
      const pcid = r.below(4);
      const g = r.pick(this.gvas);
      this.note(() => `invpcid type=${type} pcid=${pcid} ${this.hex(g.lo, g.hi)}`);
      const out = this.mmus.map((m) => { const v = m.invpcid(type, pcid, g.lo, g.hi); const f = m.faultVector; m.clearFault(); return `${v}/${f}`; });
      return this.compare(out, 'invpcid');
    }
    if (p < 960) {
      // an OS maps a page in the current address space (no invalidation needed for a not-present entry, but the old one may have been present)
      const root = Math.floor(this.mmus[0]!.paging().cr3Lo / 4096);
      this.mapPath(this.format === 'pae' ? r.pick(this.tables) : root, r.pick(this.gvas));
      return null;
    }
    if (p < 985) return this.remapLive();
    // a fresh gva for the pool: the set of touched addresses drifts
    this.gvas[r.below(this.gvas.length)] = this.randomGva();
    return null;
  }

  /**
   * The leaf entry that maps gva in the current address space (walked in
   * guest memory from CR3; for PAE from the PDPT in memory, which the
   * PDPTE registers may no longer match): its gpa and level, or null when
   * the walk stops at a non-present entry or outside RAM.
   */
  private leafOf(g: { lo: number; hi: number }): { gpa: number; level: number } | null {
    const s = this.shape;
    const m0 = this.mmus[0]!;
    let table = Math.floor(m0.paging().cr3Lo / 4096);
    for (let l = s.levels; l >= 1; l--) {
      const sh = s.shift[l]!;
      const idx = (sh >= 32 ? g.hi >>> (sh - 32) : sh + s.bits[l]! > 32 ? (g.lo >>> sh) | (g.hi << (32 - sh)) : g.lo >>> sh) & ((1 << s.bits[l]!) - 1);
      const gpa = this.format === 'pae' && l === 3 ? (m0.paging().cr3Lo & ~31) + idx * 8 : table * 4096 + idx * s.esz;
      if (gpa >= RAM) return null;
      const lo = m0.readPhys(gpa, 4);
      if (!(lo & PTE_P)) return null;
      if (l === 1 || (lo & PTE_PS && (l === 2 || (l === 3 && s.levels >= 4)))) return { gpa, level: l };
      table = Math.floor(lo / 4096) & 0xfffff;
      if (table >= FRAMES) return null;
    }
    return null;
  }

  /**
   * Rewrites the leaf of a translation in use (a pool address, touched
   * first so that every TLB and shadow structure holds it) and touches it
   * again at once, with INVLPG between only sometimes: the frame moves
   * (to data, a table, the ROM or the hole: a ROM or hole page is never
   * cached for every kind of access, so each access asks the mode again),
   * rights or A/D bits change, or the entry goes away. This is the case
   * where a shadow MMU's own copy of the entry (out of sync, or not yet
   * zapped) must never answer for the guest's.
   */
  private remapLive(): Divergence | null {
    const r = this.rng;
    const g = r.pick(this.gvas);
    // Mapped first when it is not (most random tables leave an address unmapped), as an OS maps a page before use.
    if (this.leafOf(g) === null) this.mapPath(Math.floor(this.mmus[0]!.paging().cr3Lo / 4096), g);
    const before = this.access(g);
    if (before) return before;
    const leaf = this.leafOf(g);
    if (leaf === null) return null;
    const s = this.shape;
    const old = this.mmus[0]!.readPhys(leaf.gpa, 4);
    const large = leaf.level > 1;
    const span = large ? 2 ** (s.shift[leaf.level]! - 12) : 1;
    const k = r.below(5);
    let lo: number;
    if (k <= 1) {
      // another frame, the same flags
      const f = k === 0 ? r.pick([ROM.gpa / 4096 + r.below(ROM.bytes / 4096), HOLE.gpa / 4096 + r.below(HOLE.bytes / 4096)]) : r.chance(0.5) ? r.pick(this.data) : r.pick(this.tables);
      lo = ((Math.floor(f / span) * span * 4096) | (old & 0xfff)) | 0;
    } else if (k === 2) lo = old ^ r.pick([PTE_RW, PTE_US, PTE_A, PTE_D, PTE_G, PTE_A | PTE_D]);
    else if (k === 3) lo = old & ~PTE_P;
    else lo = old ^ (r.chance(0.5) ? PTE_RW : PTE_D);
    this.note(() => `remap live ${this.hex(g.lo, g.hi)} L${leaf.level} entry ${this.hex(leaf.gpa, 0)} = ${this.hex(lo, 0)} (was ${this.hex(old, 0)})`);
    // The store: through a pool address that maps the table, as a kernel writes its tables (a shadow MMU lets such a
    // table go out of sync instead of trapping every write), else a physical (device) store.
    const frame = Math.floor(leaf.gpa / 4096) * 4096;
    if ((leaf.gpa & 0xfff) !== 0 && r.chance(0.25)) {
      // A store that straddles the entry before and this one (its low 16 bits: the flags and frame bits 12-15), as
      // no OS does: a shadow MMU must drop what it built from both entries, not only from the first.
      if (s.esz === 8 && r.chance(0.5)) {
        // one 8-byte store of the entry before's high half and this one's low half (Mmu.writePhys64)
        const prev = this.mmus[0]!.readPhys(leaf.gpa - 4, 4);
        this.note(() => `  (a straddling 8-byte store of ${this.hex(lo, prev)} at ${this.hex(leaf.gpa - 4, 0)})`);
        for (const m of this.mmus) m.writePhys64(leaf.gpa - 4, prev, lo);
        this.stats.tableWrites++;
        return this.access(g);
      }
      const v = (this.mmus[0]!.readPhys(leaf.gpa - 2, 2) | (lo << 16)) | 0;
      this.note(() => `  (a straddling store of ${this.hex(v, 0)} at ${this.hex(leaf.gpa - 2, 0)}: only the low half lands)`);
      this.physAll(leaf.gpa - 2, 4, v);
      this.stats.tableWrites++;
      return this.access(g);
    }
    let via: { lo: number; hi: number } | null = null;
    for (let n = 0; n < 6 && via === null; n++) {
      const c = r.pick(this.gvas);
      const page = { lo: (c.lo & ~0xfff) >>> 0, hi: c.hi };
      if (this.gpaOf(page) === frame) via = page;
    }
    if (via !== null) {
      const at = { lo: (via.lo + (leaf.gpa & 0xfff)) >>> 0, hi: via.hi };
      this.note(() => `  (a store at ${this.hex(at.lo, at.hi)})`);
      const out: string[] = [];
      // an 8-byte leaf: sometimes one 64-bit store of the whole entry, its high half as it is
      const wide = s.esz === 8 && r.chance(0.5);
      const high = this.mmus[0]!.readPhys(leaf.gpa + 4, 4);
      for (const m of this.mmus) {
        if (wide) m.write64(at.lo, at.hi, lo, high);
        else m.write32(at.lo, at.hi, lo);
        out.push(this.outcome(m, 0));
      }
      const d = this.compare(out, `linear store to a live leaf at ${this.hex(at.lo, at.hi)}`);
      if (d) return d;
      this.stats.linearTableWrites++;
    } else {
      this.physAll(leaf.gpa, 4, lo);
      this.stats.tableWrites++;
    }
    this.stats.remaps++;
    if (r.chance(0.4)) {
      this.note(() => `invlpg ${this.hex(g.lo, g.hi)}`);
      for (const m of this.mmus) m.invlpg(g.lo, g.hi);
    } else {
      // Other accesses first, which may evict the entry from the TLB (a small one above all): then the next access
      // asks the mode, and the mode must answer from the guest's entry as it is now.
      for (let n = r.below(4); n > 0; n--) {
        const d = this.access();
        if (d) return d;
      }
    }
    return this.access(g);
  }

  private access(at?: { lo: number; hi: number }): Divergence | null {
    const r = this.rng;
    const g = at ?? r.pick(this.gvas);
    let lo = g.lo, hi = g.hi;
    const kind = r.u32() % 10;
    // 8 bytes: read64, write64 and the read-modify-write pair readAcc64, writeAcc64
    const size = r.pick([1, 2, 4, 8]) as 1 | 2 | 4 | 8;
    if (r.chance(0.05)) lo = (lo | 0xfff) - r.below(size === 8 ? 7 : 3); // page-crossing accesses
    else if (size === 8 && r.chance(0.3)) lo = (lo & ~7) + 4; // across two 8-byte entries
    lo >>>= 0;
    this.stats.accesses++;
    const out: string[] = [];
    let what: string;
    if (kind < 5) {
      what = `read${size * 8} ${this.hex(lo, hi)}`;
      for (const m of this.mmus) {
        const v = size === 1 ? m.read8(lo, hi) : size === 2 ? m.read16(lo, hi) : size === 4 ? m.read32(lo, hi) : m.read64(lo, hi);
        out.push(this.outcome(m, v) + (size === 8 ? `:${m.readHi}` : ''));
      }
    } else if (kind < 8) {
      const v = r.u32() | 0;
      what = `write${size * 8} ${this.hex(lo, hi)} = ${this.hex(v, 0)}`;
      const vh = ~v;
      for (const m of this.mmus) {
        if (size === 1) m.write8(lo, hi, v & 0xff);
        else if (size === 2) m.write16(lo, hi, v & 0xffff);
        else if (size === 4) m.write32(lo, hi, v);
        else m.write64(lo, hi, v, vh);
        out.push(this.outcome(m, 0));
      }
    } else if (kind === 9) {
      // a read-modify-write (an ADD or XCHG to memory): read checked as a write, then the write
      what = `rmw${size * 8} ${this.hex(lo, hi)} += 1`;
      for (const m of this.mmus) {
        // 8 bytes, as the CPU's 64-bit read-modify-write reads them: the high dword checked as a write where it reaches another page
        const o = lo & 0xfff;
        const rmw = m.ctxAcc | ACC_WRITE | ACC_RMW_R;
        const v = size === 8 ? m.readAcc64(lo, hi, rmw, o >= 0xff9 && o <= 0xffc ? rmw : m.ctxAcc) : m.readAcc(lo, hi, size as 1 | 2 | 4, rmw);
        if (m.faultVector !== 0) { /* faulted: nothing written */ } else if (size === 8) m.writeAcc64(lo, hi, (v + 1) | 0, m.readHi, m.ctxAcc | ACC_RMW_W);
        else m.writeAcc(lo, hi, size as 1 | 2 | 4, (v + 1) & (size === 4 ? -1 : (1 << (size * 8)) - 1), m.ctxAcc | ACC_RMW_W);
        out.push(this.outcome(m, v));
      }
    } else {
      what = `fetch${size === 4 ? 32 : 8} ${this.hex(lo, hi)}`;
      for (const m of this.mmus) out.push(this.outcome(m, size === 4 ? m.fetch32(lo, hi) : m.fetch8(lo, hi)));
    }
    this.note(() => `${what} -> ${out[0]}`);
    if (out[0]!.startsWith('#')) this.stats.faults++;
    return this.compare(out, what);
  }

  private outcome(m: Mmu, v: number): string {
    if (m.faultVector !== 0) {
      const s = `#${m.faultVector}(${m.fault.errorCode.toString(16)}) cr2=${this.hex(m.fault.addrLo, m.fault.addrHi)}`;
      m.clearFault();
      return s;
    }
    return (v >>> 0).toString(16);
  }

  /** Rewrites a table entry: physically (a DMA-like write) or through a linear mapping of the table. */
  private tableWrite(): Divergence | null {
    const r = this.rng;
    const frame = r.pick(this.tables);
    const idx = this.randomIndex();
    const level = 1 + r.below(this.shape.levels);
    const p = r.u32() % 100;
    let e: [number, number];
    const gpa = frame * 4096 + idx * this.shape.esz;
    if (p < 25) {
      // clear A/D (and sometimes G) in place, the way an OS ages pages: a one-byte store
      const old = this.mmus[0]!.readPhys(gpa, 1);
      const nv = old & ~(r.chance(0.5) ? PTE_A | PTE_D : PTE_D) & (r.chance(0.2) ? ~PTE_G : 0xff);
      this.note(() => `phys byte ${this.hex(gpa, 0)} = ${nv.toString(16)} (was ${old.toString(16)})`);
      this.physAll(gpa, 1, nv & 0xff);
      this.stats.tableWrites++;
      return null;
    }
    e = this.randomEntry(level);
    if (p < 55) {
      this.note(() => `phys entry ${this.hex(gpa, 0)} = ${this.hex(e[0], e[1])}`);
      this.writeEntryPhys(frame, idx, e);
      this.stats.tableWrites++;
      // The guest often invalidates right after: sometimes the right page, sometimes another.
      if (r.chance(0.5)) {
        const g = r.pick(this.gvas);
        this.note(() => `invlpg ${this.hex(g.lo, g.hi)}`);
        for (const m of this.mmus) m.invlpg(g.lo, g.hi);
      }
      return null;
    }
    // Through the guest's own mappings: find a pool gva that maps a table frame.
    const g = r.pick(this.gvas);
    const page = { lo: (g.lo & ~0xfff) >>> 0, hi: g.hi };
    const target = this.tables.includes(this.gpaOf(page) / 4096) ? page : null;
    const at = target ?? page;
    const lo = (at.lo + idx * this.shape.esz) >>> 0;
    const out: string[] = [];
    // sometimes as an exchange (XCHG, a read-modify-write: the read checked as a write)
    const xchg = r.chance(0.3);
    // an 8-byte entry: often one 64-bit store (Mmu.write64, writeAcc64), as a 64-bit kernel writes it
    const wide = this.shape.esz === 8 && r.chance(0.5);
    this.note(() => `linear entry ${this.hex(lo, at.hi)} = ${this.hex(e[0], e[1])}${target ? ' (maps a table)' : ''}${xchg ? ' by xchg' : ''}${wide ? ' (one 8-byte store)' : ''}`);
    for (const m of this.mmus) {
      if (xchg) {
        m.readAcc(lo, at.hi, 4, m.ctxAcc | ACC_WRITE | ACC_RMW_R);
        if (m.faultVector === 0) {
          if (wide) m.writeAcc64(lo, at.hi, e[0], e[1], m.ctxAcc | ACC_RMW_W);
          else m.writeAcc(lo, at.hi, 4, e[0], m.ctxAcc | ACC_RMW_W);
        }
      } else if (wide) m.write64(lo, at.hi, e[0], e[1]);
      else m.write32(lo, at.hi, e[0]);
      if (!wide && m.faultVector === 0 && this.shape.esz === 8) m.write32((lo + 4) >>> 0, at.hi, e[1]);
      out.push(this.outcome(m, 0));
    }
    this.stats.linearTableWrites++;
    return this.compare(out, `linear table write at ${this.hex(lo, at.hi)}`);
  }

  /**
   * The gpa a page translates to for a supervisor read (-1 if it faults).
   * Done in every participant alike, since a translation sets accessed bits
   * and fills TLBs exactly as the read would.
   */
  private gpaOf(g: { lo: number; hi: number }): number {
    let gpa = -1;
    for (const m of this.mmus) {
      const h = m.translate(g.lo, g.hi, 0);
      if (m === this.mmus[0]) gpa = h >= 0 ? Math.floor(m.lastGpa / 4096) * 4096 : -1;
      m.clearFault();
    }
    return gpa;
  }

  private cr3Load(): Divergence | null {
    const r = this.rng;
    let frame = r.chance(0.85) ? r.pick(this.roots) : r.pick(this.tables);
    if (this.format === 'pae' && r.chance(0.5)) frame = this.validPdpt();
    let lo = frame * 4096;
    let hi = 0;
    if (this.cr4 & CR4_PCIDE) {
      lo |= r.below(4);
      if (r.chance(0.4)) hi = 0x80000000 | 0;
    }
    if (this.format === 'pae') lo |= r.below(4) * 32 * (r.chance(0.2) ? 1 : 0);
    this.note(() => `cr3 ${this.hex(lo, hi)}`);
    this.stats.cr3++;
    const out = this.mmus.map((m) => { const v = m.writeCr3(lo, hi); const f = m.faultVector; m.clearFault(); return `${v}/${f}`; });
    return this.compare(out, 'cr3 load');
  }

  private controlChange(): Divergence | null {
    const r = this.rng;
    const long = this.format === '4-level' || this.format === '5-level';
    const p = r.below(7);
    const out: string[] = [];
    this.stats.cr++;
    if (p === 0) {
      this.cr0 ^= CR0_WP;
      this.note(() => `cr0 WP=${(this.cr0 & CR0_WP) !== 0}`);
      for (const m of this.mmus) out.push(`${m.writeCr0(this.cr0)}/${m.faultVector}`);
    } else if (p <= 4) {
      const bit = p === 1 ? CR4_PGE : p === 2 ? CR4_SMEP : p === 3 ? CR4_SMAP : long ? CR4_PKE : this.format === '32-bit' ? CR4_PSE : CR4_PGE;
      this.cr4 ^= bit;
      this.note(() => `cr4 ^= ${bit.toString(16)} -> ${(this.cr4 >>> 0).toString(16)}`);
      for (const m of this.mmus) out.push(`${m.writeCr4(this.cr4)}/${m.faultVector}`);
    } else if (p === 5 && this.format !== '32-bit') {
      this.efer ^= EFER_NXE;
      this.note(() => `efer NXE=${(this.efer & EFER_NXE) !== 0}`);
      for (const m of this.mmus) out.push(`${m.writeEfer(this.efer)}/${m.faultVector}`);
    } else {
      this.note(() => 'cr4 rewritten unchanged');
      for (const m of this.mmus) out.push(`${m.writeCr4(this.cr4)}/${m.faultVector}`);
    }
    for (const m of this.mmus) m.clearFault();
    // A faulting write (PAE PDPTEs) leaves the register unchanged everywhere.
    if (out[0]!.startsWith('-')) {
      this.cr0 = this.mmus[0]!.cr0;
      this.cr4 = this.mmus[0]!.cr4;
      this.efer = this.mmus[0]!.efer;
    }
    return this.compare(out, 'control register write');
  }

  private compare(out: string[], what: string): Divergence | null {
    for (let k = 1; k < out.length; k++) {
      if (out[k] !== out[0]) {
        return { op: this.ops, what: `${what}: ${this.labels[0]} gave ${out[0]} but ${this.labels[k]} gave ${out[k]}`, history: this.lastOps() };
      }
    }
    return null;
  }

  /** The first guest frame whose bytes differ between participants, with who differs; null when none. */
  memoryDivergence(): Divergence | null {
    const ref = this.mmus[0]!.readPhysBytes(0, RAM);
    for (let k = 1; k < this.mmus.length; k++) {
      const b = this.mmus[k]!.readPhysBytes(0, RAM);
      if (Buffer.compare(ref, b) === 0) continue;
      for (let i = 0; i < RAM; i += 4) {
        if (ref[i] !== b[i] || ref[i + 1] !== b[i + 1] || ref[i + 2] !== b[i + 2] || ref[i + 3] !== b[i + 3]) {
          const v = (x: Uint8Array): string => ((x[i]! | (x[i + 1]! << 8) | (x[i + 2]! << 16) | (x[i + 3]! << 24)) >>> 0).toString(16);
          return { op: this.ops, what: `guest memory at gpa 0x${i.toString(16)}: ${this.labels[0]} has 0x${v(ref)}, ${this.labels[k]} has 0x${v(b)}`, history: this.lastOps() };
        }
      }
    }
    return null;
  }

  /** Shadow structure audits; the first violation or null. */
  auditDivergence(): Divergence | null {
    for (let k = 0; k < this.mmus.length; k++) {
      const m = this.mmus[k]!;
      if (m.mode.name !== 'shadow') continue;
      const errs = (m.mode as ShadowMode).audit();
      if (errs.length > 0) return { op: this.ops, what: `${this.labels[k]} audit: ${errs.slice(0, 3).join('; ')}`, history: this.lastOps() };
    }
    return null;
  }

  /** Runs `ops` operations, checking memory and audits every `checkEvery`; the first divergence or null. */
  run(ops: number, checkEvery = 10_000): Divergence | null {
    for (let i = 0; i < ops; i++) {
      const d = this.step();
      if (d) return d;
      if (i % checkEvery === checkEvery - 1) {
        const m = this.memoryDivergence() ?? this.auditDivergence();
        if (m) return m;
      }
    }
    return this.memoryDivergence() ?? this.auditDivergence();
  }
}

/** A divergence as text, with the operations that led to it. */
export function describeDivergence(format: AdvFormat, seed: number, d: Divergence): string {
  return `${format} seed ${seed}, op ${d.op}: ${d.what}\n  last operations:\n    ${d.history.join('\n    ')}`;
}
