/**
 * Programs where a shadow MMU is easy to get wrong, each checked against the
 * SDM's answer in every mode and under every shadow policy. Each program
 * invalidates exactly as the SDM requires (4.10.4), so the answer does not
 * depend on what any TLB caches.
 */
import { describe, expect, it } from 'vitest';
import {
  Mmu, type ModeName, type ShadowOptions, CR0_PE, CR0_PG, CR0_WP, CR4_LA57, CR4_PAE, CR4_PCIDE, CR4_PGE, CR4_PKE, CR4_PSE,
  EFER_LMA, EFER_LME, EFER_NXE, PTE_A, PTE_D, PTE_G, PTE_P, PTE_PS, PTE_RW, PTE_US, VEC_GP, VEC_PF,
} from '../../src/mmu/index.js';

type Fmt = '32-bit' | 'pae' | '4-level' | '5-level';

const CONFIGS: { label: string; mode: ModeName; shadow?: ShadowOptions }[] = [
  { label: 'naive', mode: 'naive' },
  { label: 'slat', mode: 'slat' },
  { label: 'shadow', mode: 'shadow' },
  { label: 'shadow unsync off', mode: 'shadow', shadow: { unsync: false } },
  { label: 'shadow flood 1, no root cache', mode: 'shadow', shadow: { floodThreshold: 1, rootCache: 0 } },
  { label: 'shadow flood 4, 16 pages', mode: 'shadow', shadow: { floodThreshold: 4, maxPages: 16 } },
];

const LEVELS: Record<Fmt, number> = { '32-bit': 2, pae: 3, '4-level': 4, '5-level': 5 };
const SHIFT = [0, 12, 21, 30, 39, 48];

/** A guest with hand-built tables: a bump allocator of table frames from 1 MiB up. */
class Guest {
  readonly mmu: Mmu;
  readonly esz: number;
  private next = 0x100000;
  constructor(readonly fmt: Fmt, mode: ModeName, shadow: ShadowOptions | undefined, extraCr4 = 0) {
    this.mmu = new Mmu({ mode, shadow, guestMemory: 16 << 20 });
    this.esz = fmt === '32-bit' ? 4 : 8;
    const long = fmt === '4-level' || fmt === '5-level';
    const root = this.table();
    const cr4 = (fmt === '32-bit' ? CR4_PSE : CR4_PAE) | (fmt === '5-level' ? CR4_LA57 : 0) | extraCr4;
    expect(this.mmu.setPaging({ cr0: CR0_PE | CR0_PG | CR0_WP, cr4, efer: long ? EFER_LME | EFER_LMA | EFER_NXE : fmt === 'pae' ? EFER_NXE : 0, cr3Lo: root, cr3Hi: 0 })).toBe(0);
  }
  table(): number {
    const t = this.next;
    this.next += 0x1000;
    return t;
  }
  /** An empty root (a PAE root gets four present PDPTEs to empty directories). */
  newRoot(): number {
    const r = this.table();
    if (this.fmt === 'pae') for (let i = 0; i < 4; i++) this.mmu.writePhys(r + i * 8, 4, this.table() | PTE_P);
    return r;
  }
  index(gva: number, gvaHi: number, level: number): number {
    const s = this.fmt === '32-bit' ? [0, 12, 22][level]! : SHIFT[level]!;
    const bits = this.fmt === '32-bit' ? 10 : this.fmt === 'pae' && level === 3 ? 2 : 9;
    const v = s >= 32 ? gvaHi >>> (s - 32) : s + bits > 32 ? (gva >>> s) | (gvaHi << (32 - s)) : gva >>> s;
    return v & ((1 << bits) - 1);
  }
  /** gpa of the entry for gva at `level` under root, creating tables above it (all rights, A set). */
  entry(root: number, gva: number, level: number, gvaHi = 0): number {
    let table = root;
    for (let l = LEVELS[this.fmt]; l > level; l--) {
      const e = table + this.index(gva, gvaHi, l) * this.esz;
      let v = this.mmu.readPhys(e, 4);
      if (!(v & PTE_P)) {
        v = this.table() | PTE_P | (this.fmt === 'pae' && l === 3 ? 0 : PTE_RW | PTE_US | PTE_A);
        this.mmu.writePhys(e, 4, v);
        if (this.fmt === 'pae' && l === 3) expect(this.mmu.writeCr3(this.mmu.cr3Lo, 0)).toBe(0);
      }
      table = v & ~0xfff;
    }
    return table + this.index(gva, gvaHi, level) * this.esz;
  }
  set(gpa: number, lo: number, hi = 0): void {
    this.mmu.writePhys(gpa, 4, lo);
    if (this.esz === 8) this.mmu.writePhys(gpa + 4, 4, hi);
  }
  get root(): number {
    return this.mmu.cr3Lo & ~0xfff;
  }
  /** A read's outcome: the value, or '#PF(code)' / '#GP'. */
  read(gva: number, gvaHi = 0): string {
    const v = this.mmu.read32(gva, gvaHi);
    return this.outcome(v);
  }
  write(gva: number, value: number, gvaHi = 0): string {
    this.mmu.write32(gva, gvaHi, value);
    return this.outcome(0);
  }
  private outcome(v: number): string {
    const m = this.mmu;
    if (m.faultVector === VEC_PF) { const s = `#PF(${m.fault.errorCode.toString(16)})`; m.clearFault(); return s; }
    if (m.faultVector === VEC_GP) { m.clearFault(); return '#GP'; }
    return (v >>> 0).toString(16);
  }
}

const FORMATS: Fmt[] = ['32-bit', 'pae', '4-level', '5-level'];

describe.each(CONFIGS)('$label', ({ mode, shadow }) => {
  // Class 1: SDM 4.10.2.4 (G is ignored while CR4.PGE=0) and 4.10.4.1
  // (MOV to CR4 changing PGE flushes everything; MOV to CR3 flushes all
  // non-global translations).
  it.each(FORMATS)('what if a global page is used again after CR4.PGE is cleared, then CR3 is loaded? (%s)', (fmt) => {
    const g = new Guest(fmt, mode, shadow, CR4_PGE);
    g.mmu.writePhys(0x10000, 4, 0x1234);
    g.set(g.entry(g.root, 0x400000, 1), 0x10000 | PTE_P | PTE_RW | PTE_G);
    expect(g.read(0x400000)).toBe('1234');
    expect(g.mmu.writeCr4(g.mmu.cr4 & ~CR4_PGE)).toBe(0);
    expect(g.read(0x400000)).toBe('1234');
    expect(g.mmu.writeCr3(g.newRoot(), 0)).toBe(0);
    expect(g.read(0x400000)).toBe('#PF(0)');
  });

  // Class 2: SDM 4.8 (D is set by every write through an entry whose D is
  // clear) and 4.10.4.1 (INVLPG of any address in a large page invalidates
  // the whole page). A rewritten large entry must not come back with its
  // old attributes through another 4 KiB part.
  it.each(FORMATS)('what if a large page\'s entry is rewritten with A and D clear and one used part is invalidated? (%s)', (fmt) => {
    const g = new Guest(fmt, mode, shadow);
    const gva = 0x800000;
    const e = g.entry(g.root, gva, 2);
    const big = fmt === '32-bit' ? 0x400000 : 0x200000;
    const flags = PTE_P | PTE_RW | PTE_US | PTE_PS;
    g.set(e, 0x800000 | flags);
    expect(g.write(gva, 1)).toBe('0');
    expect(g.write(gva + 0x1000, 2)).toBe('0');
    expect(g.mmu.readPhys(e, 4)).toBe(0x800000 | flags | PTE_A | PTE_D);
    g.set(e, 0x800000 | flags); // software clears A and D
    g.mmu.invlpg(gva, 0);
    expect(g.read(gva + 0x2000)).toBe('0');
    expect(g.mmu.readPhys(e, 4)).toBe(0x800000 | flags | PTE_A);
    expect(g.write(gva + 0x1000, 3)).toBe('0');
    expect(g.mmu.readPhys(e, 4)).toBe(0x800000 | flags | PTE_A | PTE_D);
    void big;
  });

  it.each(FORMATS)('what if a global large page loses G, is invalidated through one part, and CR3 is loaded? (%s)', (fmt) => {
    const g = new Guest(fmt, mode, shadow, CR4_PGE);
    const gva = 0x800000;
    const e = g.entry(g.root, gva, 2);
    g.set(e, 0x800000 | PTE_P | PTE_RW | PTE_PS | PTE_G | PTE_A | PTE_D);
    expect(g.read(gva)).toBe('0');
    expect(g.read(gva + 0x1000)).toBe('0');
    g.set(e, 0x800000 | PTE_P | PTE_RW | PTE_PS | PTE_A | PTE_D);
    g.mmu.invlpg(gva + 0x1000, 0);
    expect(g.read(gva + 0x3000)).toBe('0');
    expect(g.read(gva)).toBe('0');
    expect(g.mmu.writeCr3(g.newRoot(), 0)).toBe(0);
    expect(g.read(gva + 0x3000)).toBe('#PF(0)');
    expect(g.read(gva)).toBe('#PF(0)');
  });

  it('what if a 1 GiB page\'s entry is rewritten with D clear? (4-level)', () => {
    const g = new Guest('4-level', mode, shadow);
    const e = g.entry(g.root, 0, 3, 0x10);
    const flags = PTE_P | PTE_RW | PTE_PS;
    g.set(e, flags);
    expect(g.write(0x5000, 7, 0x10)).toBe('0');
    g.set(e, flags | PTE_A);
    g.mmu.invlpg(0x5000, 0x10);
    expect(g.read(0x6000, 0x10)).toBe('0');
    expect(g.write(0x5000, 8, 0x10)).toBe('0');
    expect(g.mmu.readPhys(e, 4)).toBe(flags | PTE_A | PTE_D);
    expect(g.mmu.readPhys(0x5000, 4)).toBe(8);
  });

  // SDM 4.4.1: in PAE paging a MOV to CR4 that changes PGE loads the
  // PDPTEs from memory again; the translation must follow the new PDPTEs.
  it('what if a PDPTE is cleared in memory and CR4.PGE toggled (PAE)?', () => {
    const g = new Guest('pae', mode, shadow, CR4_PGE);
    g.set(g.entry(g.root, 0x400000, 1), 0x10000 | PTE_P | PTE_RW | PTE_A | PTE_D);
    g.mmu.writePhys(0x10000, 4, 0x77);
    expect(g.read(0x400000)).toBe('77');
    g.mmu.writePhys(g.root, 4, 0); // PDPTE 0 not present, in memory only
    expect(g.read(0x400000)).toBe('77'); // the PDPTE registers still hold the old entry
    expect(g.mmu.writeCr4(g.mmu.cr4 & ~CR4_PGE)).toBe(0);
    expect(g.read(0x400000)).toBe('#PF(0)');
  });

  // Class 3: SDM 4.6.2: protection keys are checked at every user data
  // access against the current PKRU; WRPKRU needs no invalidation.
  it.each(['4-level', '5-level'] as Fmt[])('what if WRPKRU denies a key after the page was used, or CR4.PKE is set after PKRU? (%s)', (fmt) => {
    const g = new Guest(fmt, mode, shadow, CR4_PKE);
    g.mmu.writePhys(0x10000, 4, 0xabc);
    g.set(g.entry(g.root, 0x400000, 1), 0x10000 | PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D, 1 << 27);
    g.mmu.setPrivilege(3, false);
    expect(g.read(0x400000)).toBe('abc');
    expect(g.write(0x400000, 0xabd)).toBe('0');
    g.mmu.writePkru(1 << 2); // AD for key 1
    expect(g.read(0x400000)).toBe('#PF(25)');
    expect(g.write(0x400000, 1)).toBe('#PF(27)');
    g.mmu.writePkru(2 << 2); // WD only
    expect(g.read(0x400000)).toBe('abd');
    expect(g.write(0x400000, 1)).toBe('#PF(27)');
    // PKRU first, CR4.PKE later.
    g.mmu.setPrivilege(0, false);
    expect(g.mmu.writeCr4(g.mmu.cr4 & ~CR4_PKE)).toBe(0);
    g.mmu.writePkru(1 << 2);
    g.mmu.setPrivilege(3, false);
    expect(g.read(0x400000)).toBe('abd');
    g.mmu.setPrivilege(0, false);
    expect(g.mmu.writeCr4(g.mmu.cr4 | CR4_PKE)).toBe(0);
    g.mmu.setPrivilege(3, false);
    expect(g.read(0x400000)).toBe('#PF(25)');
  });

  // Class 4: SDM 4.10.4.1-2: after a PTE is changed and INVLPG executed, the
  // next access uses the new entry, even when the page directory above it
  // was written often enough to be unshadowed in between.
  it.each([0x5000, 0x3ff000])('what if the page directory is written past the flood threshold, then the PTE of 0x%s is rewritten through a self-map and invalidated? (32-bit)', (target) => {
    const g = new Guest('32-bit', mode, shadow);
    const pd = g.root;
    const pt = g.table();
    g.set(pd, pt | PTE_P | PTE_RW | PTE_A);
    const pte = (gva: number): number => pt + ((gva >>> 12) & 1023) * 4;
    g.set(pte(0x1000), pd | PTE_P | PTE_RW | PTE_A | PTE_D); // the page directory, mapped
    g.set(pte(0x2000), pt | PTE_P | PTE_RW | PTE_A | PTE_D); // the page table, mapped into itself
    g.set(pte(0x5000), 0x10000 | PTE_P | PTE_RW);
    g.set(pte(0x6000), 0x13000 | PTE_P | PTE_RW);
    g.set(pte(0x3ff000), 0x11000 | PTE_P | PTE_RW); // an entry in the table's upper half
    g.mmu.writePhys(0x10000, 4, 0xaaaa);
    g.mmu.writePhys(0x11000, 4, 0xcccc);
    g.mmu.writePhys(0x12000, 4, 0xbbbb);
    expect(g.read(0x5000)).toBe('aaaa');
    expect(g.read(0x3ff000)).toBe('cccc');
    for (let k = 1; k <= 5; k++) expect(g.write(0x1000 + (100 + k) * 4, 0)).toBe('0');
    const other = target === 0x5000 ? 0x3ff000 : 0x5000;
    const otherValue = g.read(other);
    expect(g.write(0x2000 + ((target >>> 12) & 1023) * 4, 0x12000 | PTE_P | PTE_RW)).toBe('0');
    g.mmu.invlpg(target, 0);
    expect(g.read(0x6000)).toBe('0'); // a neighbouring page, not used before
    expect(g.read(target)).toBe('bbbb');
    expect(g.read(other)).toBe(otherValue);
  });

  // Class 5: SDM 4.8: the accessed flag is set by the walk that a TLB miss
  // makes; an entry rewritten with A clear and invalidated gets A again when
  // it is next used.
  it.each(FORMATS)('what if a written (out-of-sync) page table gets a rewritten PDE and a new PTE with A clear? (%s)', (fmt) => {
    const g = new Guest(fmt, mode, shadow);
    const pdeGpa = g.entry(g.root, 0, 2);
    const pt = g.table();
    g.set(pdeGpa, pt | PTE_P | PTE_RW | PTE_US | PTE_A);
    const pte = (gva: number): number => pt + ((gva >>> 12) & 511) * g.esz;
    g.set(pte(0x2000), pt | PTE_P | PTE_RW | PTE_A | PTE_D); // the table, mapped
    g.set(pte(0x5000), 0x5000 | PTE_P | PTE_RW | PTE_US);
    g.set(pte(0x7000), 0x7000 | PTE_P | PTE_RW | PTE_US);
    g.set(pte(0x8000), 0x8000 | PTE_P | PTE_RW | PTE_US);
    g.mmu.writePhys(0x6000, 4, 0x6666);
    expect(g.read(0x5000)).toBe('0');
    expect(g.read(0x7000)).toBe('0');
    // an ordinary write to the table, through its mapping (it goes out of sync)
    expect(g.write(0x2000 + ((0x9000 >>> 12) & 511) * g.esz, 0)).toBe('0');
    g.set(pdeGpa, pt | PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D); // the PDE above it, rewritten
    expect(g.write(0x2000 + ((0x5000 >>> 12) & 511) * g.esz, 0x6000 | PTE_P | PTE_RW | PTE_US)).toBe('0');
    // Only the PTE's translation changed (the PDE still points at the same
    // table with the same rights): INVLPG of that page is what is required.
    g.mmu.invlpg(0x5000, 0);
    expect(g.read(0x8000)).toBe('0'); // a neighbouring page, not used before
    expect(g.read(0x7000)).toBe('0');
    expect(g.read(0x5000)).toBe('6666');
    expect(g.mmu.readPhys(pte(0x5000), 4)).toBe(0x6000 | PTE_P | PTE_RW | PTE_US | PTE_A);
  });
});

describe('INVPCID (SDM vol. 2A)', () => {
  it('what if a nonzero PCID is given while CR4.PCIDE=0, or a non-canonical address with type 0?', () => {
    for (const { mode } of CONFIGS) {
      const g = new Guest('4-level', mode, undefined);
      expect(g.mmu.invpcid(1, 5, 0, 0)).toBe(-1);
      expect(g.mmu.faultVector).toBe(VEC_GP);
      g.mmu.clearFault();
      expect(g.mmu.invpcid(0, 0, 0, 0x00010000)).toBe(-1);
      expect(g.mmu.faultVector).toBe(VEC_GP);
      g.mmu.clearFault();
      expect(g.mmu.invpcid(2, 0, 0, 0)).toBe(0);
      expect(g.mmu.invpcid(4, 0, 0, 0)).toBe(-1);
      g.mmu.clearFault();
      const p = new Guest('4-level', mode, undefined, CR4_PCIDE);
      expect(p.mmu.invpcid(1, 5, 0, 0)).toBe(0);
      expect(p.mmu.invpcid(0, 5, 0, 0xffff8000)).toBe(0);
      expect(p.mmu.invpcid(0, 5, 0, 0x00008000)).toBe(-1);
      p.mmu.clearFault();
    }
  });
});
