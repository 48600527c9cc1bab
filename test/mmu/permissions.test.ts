/**
 * The exhaustive permission matrix, in the manner of kvm-unit-tests
 * x86/access.c: for every guest paging format and every mode, every legal
 * combination of
 *
 *   leaf entry      P, R/W, U/S, A, D, G, and XD in 8-byte-entry formats
 *                   (4-/5-level: a protection key, rotated through 0..15)
 *   next-higher     P, R/W, U/S, and XD in 8-byte-entry formats (the PDE
 *   entry           above a PTE, the PDPTE above a 2 MiB PDE, the PML4E
 *                   above a 1 GiB PDPTE; PAE: the PDPTE register, P only;
 *                   a 32-bit 4 MiB PDE has none)
 *   leaf size       4 KiB and the format's large pages (32-bit without PSE:
 *                   a PDE with PS=1, which must be ignored)
 *   reserved bit    none, one in the leaf, one in the higher entry (the bit
 *                   rotates through every reserved bit of that entry)
 *   CR0.WP, CR4.SMEP, CR4.SMAP, EFER.NXE
 *   CR4.PKE         off, or on with the four AD/WD settings of the leaf's
 *                   key in PKRU (every other key gets the opposite setting,
 *                   so reading the wrong key shows); outside 4-/5-level
 *                   paging PKE is toggled too and must change nothing
 *   access          supervisor / user x read / write / fetch, plus
 *                   supervisor data accesses with EFLAGS.AC=1 when SMAP=1
 *
 * is translated by the Mmu and by the oracle (oracle.ts) on a plain copy of
 * guest memory, comparing: success or fault, vector, error code, CR2, the
 * guest-physical address (and the hpa the mode gives for it), and every
 * table entry of the walk afterwards (accessed/dirty bits).
 *
 * Combinations the architecture makes meaningless are represented once:
 * below a not-present entry nothing is read, so an absent higher entry is
 * tried with one leaf; an absent entry is tried as all zeros and as all ones
 * but P (its other bits are ignored); an entry with a reserved bit stops the
 * walk, so under a reserved higher entry there is one leaf, and a reserved
 * leaf varies only P, R/W, U/S and XD. XD with NXE=0 is not skipped: it is
 * a reserved bit and must fault as one. Every present entry also carries,
 * in rotation, one bit the SDM says is ignored (PWT, PCD, PAT, bits 11:9, D
 * and G of a non-leaf, 62:52 of a 4-level non-leaf, 58:52 of a 4-level
 * leaf).
 *
 * Between cases the walk's entries are rewritten in guest memory (through
 * writePhys, as a CPU or device write would be) and the TLB is flushed with
 * flushTlb(true); after each leaf size all of guest memory is compared with
 * the oracle's copy, so a stray write anywhere shows.
 *
 * Smaller checks in the same blocks cover what the matrix does not: pairs of
 * accesses without a flush between them (cached rights, D set by the first
 * write through a cached translation), restrictions in entries above the
 * next-higher one, non-canonical addresses, CR3 and page tables outside RAM
 * (read as all ones), physical-address bits above 31 (PSE-36, PAE, 4-level),
 * the PSE-36 cap at 40 bits, PDPTE loading (#GP for reserved bits, no
 * re-read per walk), PS in a PDPTE without 1 GiB pages, and paging off.
 */
import { describe, expect, it } from 'vitest';
import {
  ACC_AC, ACC_FETCH, ACC_USER, ACC_WRITE, CR0_PE, CR0_PG, CR0_WP, CR4_LA57, CR4_PAE, CR4_PGE, CR4_PKE, CR4_PSE,
  CR4_SMAP, CR4_SMEP, EFER_LMA, EFER_LME, EFER_NXE, Mmu, MODE_NAMES, PFERR_P, PFERR_PK, PFERR_RSVD, PFERR_U, PFERR_W, PTE_A, PTE_D, PTE_G,
  PTE_P, PTE_PS, PTE_RW, PTE_US, T_FAULT, T_MMIO, type ModeName,
} from '../../src/mmu/index.js';
import { oracleLoadPdptes, oracleTranslate, PlainMemory, type OracleResult, type OracleState } from './oracle.js';

// ---------------------------------------------------------------- formats

type FormatName = '32-bit' | '32-bit-pse' | 'pae' | '4-level' | '5-level';
/** '4k-ps': a 4 KiB leaf under a 32-bit PDE with PS=1 while CR4.PSE=0 */
type Size = '4k' | '4k-ps' | '4m' | '2m' | '1g';

interface FormatSpec {
  readonly name: FormatName;
  /** MAXPHYADDR: deliberately different per format, so masks are tested at several widths */
  readonly maxPhysAddr: number;
  /** 8-byte entries (PAE, 4-/5-level) */
  readonly wide: boolean;
  /** 4-/5-level: canonical addresses, bits 51:M reserved, 62:52 ignored, protection keys */
  readonly long: boolean;
  /** level of the table CR3 points at */
  readonly top: number;
  readonly cr4: number;
  readonly efer: number;
  /** CR3 with PWT|PCD set (they do not move the table) */
  readonly cr3Lo: number;
  /** gpa of each level's table (index = level) */
  readonly tables: readonly number[];
  readonly gvaHi: number;
  readonly sizes: readonly Size[];
}

const GUEST_MEMORY = 4 << 20;
/** every case's linear address ends in ...40345678 and every case's byte is at gpa 0x345678 */
const GVA_LO = 0x40345678;
const DATA_GPA = 0x345678;
/** PAE: the same address under PDPTE 2, which is not present (all bits but P set) */
const PAE_ABSENT_GVA_LO = 0x80345678 | 0;
const PAE_PDPT = 0x1fe0;

const SPECS: readonly FormatSpec[] = [
  {
    name: '32-bit', maxPhysAddr: 36, wide: false, long: false, top: 2, cr4: 0, efer: 0, cr3Lo: 0x1018,
    tables: [0, 0x2000, 0x1000], gvaHi: 0, sizes: ['4k', '4k-ps'],
  },
  {
    name: '32-bit-pse', maxPhysAddr: 38, wide: false, long: false, top: 2, cr4: CR4_PSE, efer: 0, cr3Lo: 0x1018,
    tables: [0, 0x2000, 0x1000], gvaHi: 0, sizes: ['4k', '4m'],
  },
  {
    name: 'pae', maxPhysAddr: 40, wide: true, long: false, top: 3, cr4: CR4_PAE, efer: 0, cr3Lo: PAE_PDPT | 0x18,
    tables: [0, 0x3000, 0x2000, PAE_PDPT], gvaHi: 0, sizes: ['4k', '2m'],
  },
  {
    name: '4-level', maxPhysAddr: 39, wide: true, long: true, top: 4, cr4: CR4_PAE, efer: EFER_LME | EFER_LMA, cr3Lo: 0x1018,
    tables: [0, 0x4000, 0x3000, 0x2000, 0x1000], gvaHi: 0xffff8040 | 0, sizes: ['4k', '2m', '1g'],
  },
  {
    name: '5-level', maxPhysAddr: 46, wide: true, long: true, top: 5, cr4: CR4_PAE | CR4_LA57, efer: EFER_LME | EFER_LMA, cr3Lo: 0x1018,
    tables: [0, 0x5000, 0x4000, 0x3000, 0x2000, 0x1000], gvaHi: 0xff808040 | 0, sizes: ['4k', '2m', '1g'],
  },
];

const SIZE_NAMES: Record<Size, string> = {
  '4k': 'a 4 KiB leaf', '4k-ps': 'a 4 KiB leaf under a PDE whose PS bit CR4.PSE=0 ignores',
  '4m': 'a 4 MiB leaf', '2m': 'a 2 MiB leaf', '1g': 'a 1 GiB leaf',
};

function leafLevel(size: Size): number {
  return size === '4k' || size === '4k-ps' ? 1 : size === '1g' ? 3 : 2;
}

function leafBase(size: Size): number {
  return size === '4k' || size === '4k-ps' ? 0x345000 : size === '2m' ? 0x200000 : 0;
}

/** Index of the level-`level` entry for a linear address. */
function entryIndex(spec: FormatSpec, level: number, gvaLo: number, gvaHi: number): number {
  if (!spec.wide) return level === 2 ? gvaLo >>> 22 : (gvaLo >>> 12) & 0x3ff;
  const la = (BigInt(gvaHi >>> 0) << 32n) | BigInt(gvaLo >>> 0);
  const mask = spec.name === 'pae' && level === 3 ? 3n : 0x1ffn;
  return Number((la >> BigInt(12 + 9 * (level - 1))) & mask);
}

/** Is there a next-higher entry in memory above this leaf (not the PAE PDPTE register)? */
function hasUpper(spec: FormatSpec, size: Size): boolean {
  const upper = leafLevel(size) + 1;
  return upper <= spec.top && !(spec.name === 'pae' && upper === 3);
}

function range(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let b = lo; b <= hi; b++) out.push(b);
  return out;
}

/** The reserved bits (bit numbers 0..63) of the leaf or of the entry above it (SDM tables 4-4..4-20). */
function reservedBits(spec: FormatSpec, size: Size, role: 'leaf' | 'upper'): number[] {
  const M = spec.maxPhysAddr;
  if (!spec.wide) {
    // 32-bit: only a 4 MiB PDE has reserved bits, 21:(M'-19) with M' = min(M, 40).
    return role === 'leaf' && size === '4m' ? range(Math.min(M, 40) - 19, 21) : [];
  }
  const top = spec.long ? range(M, 51) : range(M, 62);
  if (role === 'upper') return leafLevel(size) + 1 >= 4 ? [...top, 7] : top; // PS is reserved in a PML4E
  if (size === '2m') return [...range(13, 20), ...top];
  if (size === '1g') return [...range(13, 29), ...top];
  return top;
}

/** Bits the SDM calls ignored (or PWT/PCD/PAT, which do not take part in translation) in a present entry. */
function ignoredBits(spec: FormatSpec, size: Size, role: 'leaf' | 'upper'): number[] {
  if (role === 'upper') return [3, 4, 6, 8, 9, 10, 11, ...(spec.long ? range(52, 62) : [])];
  const pat = leafLevel(size) === 1 ? 7 : 12;
  return [3, 4, 9, 10, 11, pat, ...(spec.long ? range(52, 58) : [])];
}

// ---------------------------------------------------------------- entry combinations

interface Bits { lo: number; hi: number }
type Rsvd = 'none' | 'leaf' | 'upper';

interface EntryCase {
  readonly size: Size;
  readonly leaf: Bits;
  /** the next-higher entry's flags; null when there is none in memory */
  readonly upper: Bits | null;
  readonly rsvd: Rsvd;
  /** PAE: use the address under the not-present PDPTE */
  readonly pdpteAbsent: boolean;
  /** level of the entry that gets `upper` (default: the one right above the leaf) */
  readonly upperLevel?: number;
}

const ZERO: Bits = { lo: 0, hi: 0 };
const JUNK_NOT_PRESENT: Bits = { lo: ~PTE_P, hi: -1 };
const PLAIN_LEAF: Bits = { lo: PTE_P | PTE_RW | PTE_US, hi: 0 };
const XD_HI = 1 << 31;

/** Every combination of the given flags (low-dword bits, plus XD as hi bit 31 when `xd`). */
function combos(flags: number[], xd: boolean): Bits[] {
  let out: Bits[] = [{ lo: PTE_P, hi: 0 }];
  for (const f of flags) out = out.flatMap((b) => [b, { lo: b.lo | f, hi: b.hi }]);
  if (xd) out = out.flatMap((b) => [b, { lo: b.lo, hi: b.hi | XD_HI }]);
  return out;
}

function entryCases(spec: FormatSpec, size: Size): EntryCase[] {
  const out: EntryCase[] = [];
  const presentLeaves = combos([PTE_RW, PTE_US, PTE_A, PTE_D, PTE_G], spec.wide);
  const leaves = [ZERO, JUNK_NOT_PRESENT, ...presentLeaves];
  const reservedLeaves = [ZERO, ...combos([PTE_RW, PTE_US], spec.wide)];
  const leafRsvd = reservedBits(spec, size, 'leaf').length > 0;
  const push = (leaf: Bits, upper: Bits | null, rsvd: Rsvd, pdpteAbsent = false): void => {
    out.push({ size, leaf, upper, rsvd, pdpteAbsent });
  };
  if (hasUpper(spec, size)) {
    const upperRsvd = reservedBits(spec, size, 'upper').length > 0;
    for (const u of [ZERO, JUNK_NOT_PRESENT]) push(PLAIN_LEAF, u, 'none');
    for (const u of combos([PTE_RW, PTE_US], spec.wide)) {
      for (const l of leaves) push(l, u, 'none');
      if (upperRsvd) push(PLAIN_LEAF, u, 'upper');
      if (leafRsvd) for (const l of reservedLeaves) push(l, u, 'leaf');
    }
  } else {
    if (spec.name === 'pae') push(PLAIN_LEAF, null, 'none', true);
    for (const l of leaves) push(l, null, 'none');
    if (leafRsvd) for (const l of reservedLeaves) push(l, null, 'leaf');
  }
  return out;
}

/**
 * The number of cases the matrix must run for one size, computed from the
 * dimensions rather than by the enumerator: higher entry absent (2 ways) or
 * present (R/W, U/S, XD), under which the leaf is absent (2 ways) or present
 * (R/W, U/S, A, D, G, XD), or a reserved higher entry (1), or a reserved
 * leaf (absent, or present with R/W, U/S, XD); times the control settings
 * (WP, SMEP, SMAP, NXE, and 2 PKE settings, or 5 in 4-/5-level paging);
 * times 6 accesses, 8 when SMAP=1.
 */
function minimumCases(spec: FormatSpec, size: Size): number {
  const xd = spec.wide ? 2 : 1;
  const leaf = 2 + 32 * xd;
  const rsvdLeaf = reservedBits(spec, size, 'leaf').length > 0 ? 1 + 4 * xd : 0;
  let entries: number;
  if (hasUpper(spec, size)) {
    const rsvdUpper = reservedBits(spec, size, 'upper').length > 0 ? 1 : 0;
    entries = 2 + 4 * xd * (leaf + rsvdUpper + rsvdLeaf);
  } else {
    entries = (spec.name === 'pae' ? 1 : 0) + leaf + rsvdLeaf;
  }
  const pk = spec.long ? 5 : 2;
  const accessesPerPk = 8 * 6 + 8 * 8; // WP x SMEP x NXE (8) with SMAP=0 (6 accesses) and SMAP=1 (8)
  return entries * pk * accessesPerPk;
}

// ---------------------------------------------------------------- control settings and accesses

interface Control {
  readonly cr0: number;
  readonly cr4: number;
  readonly efer: number;
  readonly pkru: number;
  /** protection key written into leaf bits 62:59 (4-/5-level) */
  readonly key: number;
  /** CR4.PKE=1 in 4-/5-level paging: the key's AD | WD << 1 in PKRU; else -1 */
  readonly adwd: number;
}

function controls(spec: FormatSpec): Control[] {
  const out: Control[] = [];
  let n = 0;
  for (const wp of [0, CR0_WP]) for (const smep of [0, CR4_SMEP]) for (const smap of [0, CR4_SMAP]) for (const nxe of [0, EFER_NXE]) {
    const cr0 = CR0_PG | CR0_PE | wp;
    const cr4 = spec.cr4 | CR4_PGE | smep | smap;
    const efer = spec.efer | nxe;
    if (!spec.long) {
      out.push({ cr0, cr4, efer, pkru: 0, key: 0, adwd: -1 });
      out.push({ cr0, cr4: cr4 | CR4_PKE, efer, pkru: -1, key: 0, adwd: -1 });
      continue;
    }
    const key = n++ % 16;
    out.push({ cr0, cr4, efer, pkru: -1, key, adwd: -1 }); // PKE=0: the key and PKRU mean nothing
    for (const adwd of [0, 1, 2, 3]) {
      let pkru = 0;
      for (let k = 0; k < 16; k++) pkru |= (k === key ? adwd : 3 - adwd) << (2 * k);
      out.push({ cr0, cr4: cr4 | CR4_PKE, efer, pkru, key, adwd });
    }
  }
  return out;
}

interface Access { readonly acc: number; readonly name: string }
const ACCESSES: readonly Access[] = [
  { acc: 0, name: 'supervisor read' }, { acc: ACC_WRITE, name: 'supervisor write' }, { acc: ACC_FETCH, name: 'supervisor fetch' },
  { acc: ACC_USER, name: 'user read' }, { acc: ACC_USER | ACC_WRITE, name: 'user write' }, { acc: ACC_USER | ACC_FETCH, name: 'user fetch' },
];
const AC_ACCESSES: readonly Access[] = [
  { acc: ACC_AC, name: 'supervisor read with AC=1' }, { acc: ACC_AC | ACC_WRITE, name: 'supervisor write with AC=1' },
];

const hex = (v: number): string => '0x' + (v >>> 0).toString(16);
/** a guest-physical address, which may be wider than 32 bits */
const gpaHex = (v: number): string => '0x' + v.toString(16);

// ---------------------------------------------------------------- the matrix runner

/** One entry of a walk path: where it is and what it must hold before the access. */
interface PathEntry { readonly name: string; readonly gpa: number; lo: number; hi: number }

const LEVEL_NAMES: Record<FormatName, readonly string[]> = {
  '32-bit': ['', 'PTE', 'PDE'], '32-bit-pse': ['', 'PTE', 'PDE'], pae: ['', 'PTE', 'PDE', 'PDPTE'],
  '4-level': ['', 'PTE', 'PDE', 'PDPTE', 'PML4E'], '5-level': ['', 'PTE', 'PDE', 'PDPTE', 'PML4E', 'PML5E'],
};

class Matrix {
  readonly mmu: Mmu;
  /** the plain copy of guest memory the oracle reads and writes */
  readonly mirror = new PlainMemory(GUEST_MEMORY);
  state: OracleState;
  control: Control;
  checked = 0;
  failures = 0;
  /** what the oracle said, by kind: the matrix must have seen every kind */
  readonly outcomes = { ok: 0, notPresent: 0, reserved: 0, protection: 0, key: 0 };
  readonly messages: string[] = [];
  /** rotation counter for the ignored and reserved bit chosen per entry case */
  private turn = 0;

  readonly maxPhysAddr: number;
  readonly gbPages: boolean;

  constructor(readonly spec: FormatSpec, readonly mode: ModeName, options: { maxPhysAddr?: number; gbPages?: boolean } = {}) {
    this.maxPhysAddr = options.maxPhysAddr ?? spec.maxPhysAddr;
    this.gbPages = options.gbPages ?? true;
    this.mmu = new Mmu({ mode, guestMemory: GUEST_MEMORY, maxPhysAddr: this.maxPhysAddr, gbPages: this.gbPages });
    if (spec.name === 'pae') {
      this.put(PAE_PDPT + 8, 0x2000 | PTE_P | 0x18, 0); // PDPTE 1 -> page directory (PWT|PCD allowed)
      this.put(PAE_PDPT + 16, JUNK_NOT_PRESENT.lo, JUNK_NOT_PRESENT.hi); // PDPTE 2: not present, reserved bits ignored
    }
    this.control = controls(spec)[0]!;
    this.state = this.oracleState(this.control);
  }

  private oracleState(c: Control): OracleState {
    return {
      cr0: c.cr0, cr3Lo: this.spec.cr3Lo, cr3Hi: 0, cr4: c.cr4, efer: c.efer, pkru: c.pkru,
      maxPhysAddr: this.maxPhysAddr, gbPages: this.gbPages,
    };
  }

  /** Writes an entry into guest memory (Mmu and mirror); the Mmu only when it differs, to keep shadow work down. */
  put(gpa: number, lo: number, hi: number): void {
    if (this.mmu.readPhys(gpa, 4) !== lo >>> 0) this.mmu.writePhys(gpa, 4, lo);
    this.mirror.write32(gpa, lo);
    if (this.spec.wide) {
      if (this.mmu.readPhys(gpa + 4, 4) !== hi >>> 0) this.mmu.writePhys(gpa + 4, 4, hi);
      this.mirror.write32(gpa + 4, hi);
    }
  }

  /** Loads the control registers into the Mmu and the oracle state. */
  setControl(c: Control): void {
    this.control = c;
    const r = this.mmu.setPaging({ cr0: c.cr0, cr3Lo: this.spec.cr3Lo, cr3Hi: 0, cr4: c.cr4, efer: c.efer, pkru: c.pkru });
    expect(r, `setPaging ${this.describeControl()}`).toBe(0);
    this.state = this.oracleState(c);
    if (this.spec.name === 'pae') {
      const pdpte = oracleLoadPdptes(this.mirror, this.state);
      expect(pdpte).not.toBeNull();
      this.state.pdpte = pdpte!;
    }
  }

  /** The entries of the walk for one case, top first, with the values they get. */
  path(c: EntryCase, extraBits = true): { entries: PathEntry[]; gvaLo: number; gvaHi: number } {
    const spec = this.spec;
    const gvaLo = c.pdpteAbsent ? PAE_ABSENT_GVA_LO : GVA_LO;
    const gvaHi = spec.gvaHi;
    const leafLvl = leafLevel(c.size);
    const upperLvl = c.upperLevel ?? leafLvl + 1;
    const turn = this.turn++;
    const pick = (list: number[], salt: number): number => (list.length === 0 || !extraBits ? -1 : list[(turn + salt) % list.length]!);
    const setBit = (b: Bits, bit: number): Bits =>
      bit < 0 ? b : bit < 32 ? { lo: b.lo | (1 << bit), hi: b.hi } : { lo: b.lo, hi: b.hi | (1 << (bit - 32)) };
    const entries: PathEntry[] = [];
    const first = spec.name === 'pae' ? 2 : spec.top; // PAE PDPTEs are registers, set up once
    for (let level = first; level >= leafLvl; level--) {
      const gpa = spec.tables[level]! + entryIndex(spec, level, gvaLo, gvaHi) * (spec.wide ? 8 : 4);
      let v: Bits;
      if (level === leafLvl) {
        v = { lo: leafBase(c.size) | c.leaf.lo | (leafLvl > 1 ? PTE_PS : 0), hi: c.leaf.hi };
        if (c.leaf.lo === JUNK_NOT_PRESENT.lo) v = { ...JUNK_NOT_PRESENT };
        if (spec.long && v.lo & PTE_P) v.hi = (v.hi & ~(0xf << 27)) | (this.control.key << 27);
        if (c.rsvd === 'leaf') v = setBit(v, pick(reservedBits(spec, c.size, 'leaf'), 0));
        else if (v.lo & PTE_P) v = setBit(v, pick([-1, ...ignoredBits(spec, c.size, 'leaf')], 0));
      } else if (level === upperLvl && c.upper !== null) {
        v = { lo: c.upper.lo | spec.tables[level - 1]!, hi: c.upper.hi };
        if (c.upper.lo === JUNK_NOT_PRESENT.lo) v = { ...JUNK_NOT_PRESENT };
        if (c.size === '4k-ps' && level === 2) v.lo |= PTE_PS;
        if (c.rsvd === 'upper') v = setBit(v, pick(reservedBits(spec, c.size, 'upper'), 3));
        else if (v.lo & PTE_P) v = setBit(v, pick([-1, ...ignoredBits(spec, c.size, 'upper')], 5));
      } else {
        v = { lo: spec.tables[level - 1]! | PTE_P | PTE_RW | PTE_US, hi: 0 };
      }
      entries.push({ name: LEVEL_NAMES[spec.name][level]!, gpa, lo: v.lo | 0, hi: spec.wide ? v.hi | 0 : 0 });
    }
    return { entries, gvaLo, gvaHi };
  }

  /** Runs every access of the current control setting on one entry case. */
  run(c: EntryCase): void {
    const { entries, gvaLo, gvaHi } = this.path(c);
    const accesses = this.control.cr4 & CR4_SMAP ? [...ACCESSES, ...AC_ACCESSES] : ACCESSES;
    for (const a of accesses) {
      this.checked++;
      const { expected, problem } = this.probe(entries, gvaLo, gvaHi, a.acc);
      this.tally(expected);
      if (problem !== '') this.fail(problem, c, entries, gvaLo, gvaHi, a);
    }
  }

  /**
   * Writes the entries into guest memory, flushes the TLB, and translates on
   * the oracle and the Mmu. Returns the oracle's answer and '' when the Mmu
   * agrees (else what differs).
   */
  probe(entries: PathEntry[], gvaLo: number, gvaHi: number, acc: number): { expected: OracleResult; problem: string } {
    for (const e of entries) this.put(e.gpa, e.lo, e.hi);
    this.mmu.flushTlb(true);
    const expected = oracleTranslate(this.mirror, this.state, gvaLo, gvaHi, acc);
    return { expected, problem: this.compare(expected, entries, gvaLo, gvaHi, acc) };
  }

  private tally(r: OracleResult): void {
    const o = this.outcomes;
    if (r.ok) o.ok++;
    else if (!(r.errorCode & PFERR_P)) o.notPresent++;
    else if (r.errorCode & PFERR_RSVD) o.reserved++;
    else if (r.errorCode & PFERR_PK) o.key++;
    else o.protection++;
  }

  /** Translates on the Mmu and returns '' when it matches the oracle, else what differs. */
  compare(expected: OracleResult, entries: PathEntry[], gvaLo: number, gvaHi: number, acc: number): string {
    const mmu = this.mmu;
    mmu.clearFault();
    let r: number;
    try {
      r = mmu.translate(gvaLo, gvaHi, acc);
    } catch (err) {
      mmu.clearFault();
      return `expected ${expected.ok ? `gpa ${hex(expected.gpa)}` : `vector ${expected.vector} error ${hex(expected.errorCode)}`}, but translate threw: ${(err as Error).message}`;
    }
    let problem = '';
    if (expected.ok) {
      const ram = expected.gpa < GUEST_MEMORY;
      if (r === T_FAULT) problem = `expected gpa ${gpaHex(expected.gpa)}, got vector ${mmu.faultVector} error ${hex(mmu.fault.errorCode)}`;
      else if (mmu.lastGpa !== expected.gpa) problem = `expected gpa ${gpaHex(expected.gpa)}, got ${gpaHex(mmu.lastGpa)}`;
      else if (ram && r === T_MMIO) problem = `expected RAM at gpa ${gpaHex(expected.gpa)}, got MMIO`;
      else if (ram && r !== mmu.map.hpaOf(expected.gpa)) problem = `hpa ${hex(r)} is not the host address of gpa ${gpaHex(expected.gpa)}`;
      else if (!ram && r !== T_MMIO) problem = `expected MMIO at gpa ${gpaHex(expected.gpa)} (not RAM), got ${r}`;
    } else if (r !== T_FAULT) {
      problem = `expected vector ${expected.vector} error ${hex(expected.errorCode)}, got success gpa ${hex(mmu.lastGpa)}`;
    } else if (mmu.faultVector !== expected.vector || (mmu.fault.errorCode | 0) !== expected.errorCode) {
      problem = `expected vector ${expected.vector} error ${hex(expected.errorCode)}, got vector ${mmu.faultVector} error ${hex(mmu.fault.errorCode)}`;
    } else if (expected.vector === 14 && ((mmu.fault.addrLo >>> 0) !== (gvaLo >>> 0) || (mmu.fault.addrHi >>> 0) !== (gvaHi >>> 0))) {
      problem = `CR2 ${hex(mmu.fault.addrHi)}:${hex(mmu.fault.addrLo)}, expected ${hex(gvaHi)}:${hex(gvaLo)}`;
    }
    mmu.clearFault();
    for (const e of entries) {
      const got = mmu.readPhys(e.gpa, 4);
      const want = this.mirror.read32(e.gpa);
      if (got !== want) problem += `${problem ? '; ' : ''}${e.name} after the access is ${hex(got)}, expected ${hex(want)}`;
    }
    return problem;
  }

  describeControl(): string {
    const c = this.control;
    return `CR0=${hex(c.cr0)} CR3=${hex(this.spec.cr3Lo)} CR4=${hex(c.cr4)} EFER=${hex(c.efer)} PKRU=${hex(c.pkru)}`;
  }

  fail(problem: string, c: EntryCase, entries: PathEntry[], gvaLo: number, gvaHi: number, a: Access): void {
    this.failures++;
    if (this.messages.length >= 25) return;
    const walk = entries.map((e) => `${e.name}@${hex(e.gpa)}=${this.spec.wide ? hex(e.hi) + '_' : ''}${hex(e.lo)}`).join(' ');
    this.messages.push(`[${this.spec.name}/${this.mode}] ${a.name} of ${hex(gvaHi)}:${hex(gvaLo)}, ${SIZE_NAMES[c.size]}, reserved=${c.rsvd}; ${this.describeControl()}; ${walk}: ${problem}`);
  }

  /** Runs the whole matrix for one leaf size; returns the number of cases. */
  runSize(size: Size): number {
    const before = this.checked;
    const cases = entryCases(this.spec, size);
    for (const ctl of controls(this.spec)) {
      this.setControl(ctl);
      for (const c of cases) this.run(c);
    }
    this.compareMemory();
    return this.checked - before;
  }

  /** Compares all of guest memory with the mirror: no write may land outside the walk's entries. */
  compareMemory(): void {
    const got = this.mmu.readPhysBytes(0, GUEST_MEMORY);
    const want = new Uint8Array(this.mirror.words.buffer);
    for (let i = 0; i < GUEST_MEMORY; i += 4) {
      if (got[i] !== want[i] || got[i + 1] !== want[i + 1] || got[i + 2] !== want[i + 2] || got[i + 3] !== want[i + 3]) {
        this.failures++;
        this.messages.push(`[${this.spec.name}/${this.mode}] guest memory at ${hex(i)} is ${hex(this.mmu.readPhys(i, 4))}, expected ${hex(this.mirror.read32(i))}`);
        return;
      }
    }
  }
}

// ---------------------------------------------------------------- the tests

const BLOCKS = SPECS.flatMap((spec) => MODE_NAMES.map((mode) => ({ spec, mode, title: `${spec.name} paging, ${mode} mode` })));

const PLAIN_UPPER: Bits = { lo: PTE_P | PTE_RW | PTE_US, hi: 0 };

/** A walk with plain user, writable, executable entries and no extra bits. */
function plainCase(size: Size, leaf: Bits = PLAIN_LEAF, upper: Bits | null = PLAIN_UPPER): EntryCase {
  return { size, leaf, upper, rsvd: 'none', pdpteAbsent: false };
}


/** Registers a test only where it applies to the format (a test that does not apply is not a test, not a skip). */
function itWhen(cond: boolean): (name: string, fn: () => void) => void {
  return (name, fn) => {
    if (cond) it(name, fn);
  };
}

describe.each(BLOCKS)('$title', ({ spec, mode }) => {
  const matrix = new Matrix(spec, mode);
  const counted: Partial<Record<Size, number>> = {};
  const baseControl = controls(spec)[0]!; // WP, SMEP, SMAP, NXE and PKE all off
  const withNx: Control = { ...baseControl, efer: baseControl.efer | EFER_NXE };

  /** Runs `acc` on the walk and fails the test with the Mmu's disagreement, if any. Returns the oracle's answer. */
  function expectAgreement(entries: PathEntry[], gvaLo: number, gvaHi: number, acc: number, what: string): OracleResult {
    const { expected, problem } = matrix.probe(entries, gvaLo, gvaHi, acc);
    expect(problem, `${what} (${matrix.describeControl()}; ${entries.map((e) => `${e.name}=${hex(e.hi)}_${hex(e.lo)}`).join(' ')})`).toBe('');
    return expected;
  }

  it.each(spec.sizes.map((size) => ({ size, what: SIZE_NAMES[size] })))(
    'does every combination with $what give the fault, error code, CR2, gpa and A/D bits of the oracle?',
    ({ size }) => {
      const failuresBefore = matrix.failures;
      const messagesBefore = matrix.messages.length;
      counted[size] = matrix.runSize(size);
      const failed = matrix.failures - failuresBefore;
      expect(failed, `${failed} of ${counted[size]} cases disagree; first ones:\n${matrix.messages.slice(messagesBefore).join('\n')}`).toBe(0);
    },
  );

  const minimum = spec.sizes.reduce((n, size) => n + minimumCases(spec, size), 0);
  it(`were all ${minimum} cases of the matrix checked, and did they reach every kind of outcome?`, () => {
    let total = 0;
    for (const size of spec.sizes) {
      if (counted[size] === undefined) return; // a filtered run: the matrix did not run
      expect(counted[size]).toBeGreaterThanOrEqual(minimumCases(spec, size));
      total += counted[size];
    }
    expect(total).toBeGreaterThanOrEqual(minimum);
    const o = matrix.outcomes;
    expect(o.ok).toBeGreaterThan(0);
    expect(o.notPresent).toBeGreaterThan(0);
    expect(o.protection).toBeGreaterThan(0);
    if (spec.name !== '32-bit') expect(o.reserved).toBeGreaterThan(0);
    if (spec.long) expect(o.key).toBeGreaterThan(0);
  });

  it('does a user write to a read-only page fault with P|W|U?', () => {
    matrix.setControl(baseControl);
    const { entries, gvaLo, gvaHi } = matrix.path(plainCase('4k', { lo: PTE_P | PTE_US, hi: 0 }), false);
    const r = expectAgreement(entries, gvaLo, gvaHi, ACC_USER | ACC_WRITE, 'user write');
    expect(r).toEqual({ ok: false, vector: 14, errorCode: PFERR_P | PFERR_W | PFERR_U });
  });

  it('does a supervisor write to a read-only user page pass with CR0.WP=0 and set A and D?', () => {
    matrix.setControl(baseControl);
    const { entries, gvaLo, gvaHi } = matrix.path(plainCase('4k', { lo: PTE_P | PTE_US, hi: 0 }), false);
    const r = expectAgreement(entries, gvaLo, gvaHi, ACC_WRITE, 'supervisor write');
    expect(r.ok && r.gpa).toBe(DATA_GPA);
    expect(matrix.mmu.readPhys(entries[entries.length - 1]!.gpa, 4) & (PTE_A | PTE_D)).toBe(PTE_A | PTE_D);
  });

  it('does translation with paging off give gpa = gva?', () => {
    matrix.setControl({ ...baseControl, cr0: CR0_PE });
    for (const a of ACCESSES) expectAgreement([], DATA_GPA, 0, a.acc, a.name);
  });

  it('does a second access right after the first, without a TLB flush, agree too (cached rights, D set by the first write)?', () => {
    const sizes = [spec.sizes[0]!, spec.sizes[spec.sizes.length - 1]!];
    const leaves = combos([PTE_RW, PTE_US, PTE_D], spec.wide);
    const before = matrix.failures;
    const messages = matrix.messages.length;
    let pairs = 0;
    for (const ctl of controls(spec).filter((c) => c.adwd !== 0 && c.adwd !== 3)) {
      matrix.setControl(ctl);
      const accesses = ctl.cr4 & CR4_SMAP ? [...ACCESSES, ...AC_ACCESSES] : ACCESSES;
      for (const size of sizes) {
        for (const leaf of leaves) {
          const c = plainCase(size, leaf);
          const { entries, gvaLo, gvaHi } = matrix.path(c, false);
          for (const first of accesses) {
            for (const second of accesses) {
              pairs++;
              const one = matrix.probe(entries, gvaLo, gvaHi, first.acc);
              if (one.problem !== '') matrix.fail(one.problem, c, entries, gvaLo, gvaHi, first);
              const two = oracleTranslate(matrix.mirror, matrix.state, gvaLo, gvaHi, second.acc);
              const problem = matrix.compare(two, entries, gvaLo, gvaHi, second.acc);
              if (problem !== '') matrix.fail(`after a ${first.name}: ${problem}`, c, entries, gvaLo, gvaHi, second);
            }
          }
        }
      }
    }
    expect(pairs).toBeGreaterThan(0);
    expect(matrix.failures - before, matrix.messages.slice(messages).join('\n')).toBe(0);
  });

  itWhen(spec.long)('does a supervisor write to a user page whose key has WD=1 pass with CR0.WP=0 and fault with P|W|PK with WP=1?', () => {
    const key = 1;
    const pkru = 2 << (2 * key); // WD1 only
    for (const wp of [0, CR0_WP]) {
      matrix.setControl({ ...withNx, cr0: withNx.cr0 | wp, cr4: withNx.cr4 | CR4_PKE, pkru, key, adwd: 2 });
      for (const size of spec.sizes) {
        const { entries, gvaLo, gvaHi } = matrix.path(plainCase(size), false);
        const r = expectAgreement(entries, gvaLo, gvaHi, ACC_WRITE, `supervisor write, ${SIZE_NAMES[size]}, key 1 with WD=1, WP=${wp ? 1 : 0}`);
        expect(r).toEqual(wp ? { ok: false, vector: 14, errorCode: PFERR_P | PFERR_W | PFERR_PK } : expect.objectContaining({ ok: true, gpa: DATA_GPA }));
      }
    }
  });

  itWhen(spec.long)('does a non-canonical address raise #GP(0), and a canonical one walk?', () => {
    matrix.setControl(withNx);
    const addresses: [number, number][] = spec.top === 4
      ? [[0x1000, 0x00008000], [0x1000, 0xffff7fff | 0], [GVA_LO, 0x7fffffff], [0, 0x80000000 | 0], [GVA_LO, 0x00007fff], [GVA_LO, 0xffff8000 | 0]]
      : [[0x1000, 0x01000000], [0x1000, 0xfeffffff | 0], [0, 0x80000000 | 0], [GVA_LO, 0x00008000], [GVA_LO, 0xffff7fff | 0], [GVA_LO, 0xff000000 | 0]];
    let gp = 0;
    for (const [lo, hi] of addresses) {
      for (const a of ACCESSES) {
        const r = expectAgreement([], lo, hi, a.acc, `${a.name} of ${hex(hi)}:${hex(lo)}`);
        if (!r.ok && r.vector === 13) gp++;
      }
    }
    expect(gp).toBe((spec.top === 4 ? 4 : 3) * ACCESSES.length);
  });

  itWhen(spec.top >= 4)('does a restriction in a higher entry (PDPTE, PML4E, PML5E) combine with the leaf like one in the PDE?', () => {
    const cases: EntryCase[] = [];
    for (const size of ['4k', '2m'] as const) {
      for (let level = leafLevel(size) + 2; level <= spec.top; level++) {
        for (const upper of [ZERO, ...combos([PTE_RW, PTE_US], true)]) {
          for (const leaf of combos([PTE_RW, PTE_US], true)) cases.push({ ...plainCase(size, leaf, upper), upperLevel: level });
        }
      }
    }
    const before = matrix.failures;
    const messages = matrix.messages.length;
    let n = 0;
    for (const ctl of controls(spec).filter((c) => !(c.cr4 & CR4_PKE))) {
      matrix.setControl(ctl);
      for (const c of cases) {
        matrix.run(c);
        n++;
      }
    }
    expect(n).toBe(16 * 9 * 8 * (spec.top === 5 ? 5 : 3));
    expect(matrix.failures - before, matrix.messages.slice(messages).join('\n')).toBe(0);
  });

  itWhen(spec.long)('does a CR3 above 4 GiB, outside RAM, give a walk of all-ones (reserved) entries?', () => {
    matrix.setControl(withNx);
    const regs = matrix.mmu.paging();
    expect(matrix.mmu.setPaging({ ...regs, cr3Hi: 1 })).toBe(0);
    const state: OracleState = { ...matrix.state, cr3Hi: 1 };
    for (const a of ACCESSES) {
      const expected = oracleTranslate(matrix.mirror, state, GVA_LO, spec.gvaHi, a.acc);
      expect(expected).toMatchObject({ ok: false, vector: 14 });
      expect(matrix.compare(expected, [], GVA_LO, spec.gvaHi, a.acc), a.name).toBe('');
    }
    matrix.setControl(withNx);
  });

  itWhen(spec.long)('is PS reserved in a PDPTE when 1 GiB pages are not supported?', () => {
    const small = new Matrix(spec, mode, { gbPages: false });
    for (const ctl of [baseControl, withNx]) {
      small.setControl(ctl);
      for (const size of spec.sizes) small.run(plainCase(size));
    }
    expect(small.failures, small.messages.join('\n')).toBe(0);
    expect(small.outcomes.reserved).toBeGreaterThan(0);
    expect(small.outcomes.ok).toBeGreaterThan(0);
  });

  itWhen(spec.name === 'pae')('does a PDPTE with a reserved bit make setPaging fail with #GP(0) and leave the registers as they were?', () => {
    matrix.setControl(withNx);
    const before = matrix.mmu.paging();
    const pdpte3 = PAE_PDPT + 24;
    for (const bit of [1, 2, 5, 6, 7, 8, ...range(matrix.maxPhysAddr, 63)]) {
      const lo = 0x4000 | PTE_P | (bit < 32 ? 1 << bit : 0);
      const hi = bit >= 32 ? 1 << (bit - 32) : 0;
      matrix.put(pdpte3, lo, hi);
      expect(oracleLoadPdptes(matrix.mirror, matrix.state), `bit ${bit}`).toBeNull();
      matrix.mmu.clearFault();
      const r = matrix.mmu.setPaging({ ...before, cr0: before.cr0 | CR0_WP });
      expect(r, `PDPTE 3 = ${hex(hi)}_${hex(lo)}`).toBe(T_FAULT);
      expect(matrix.mmu.faultVector).toBe(13);
      expect(matrix.mmu.fault.errorCode).toBe(0);
      expect(matrix.mmu.paging()).toEqual(before);
      matrix.mmu.clearFault();
    }
    matrix.put(pdpte3, 0, 0);
    // The PDPTEs loaded before still translate.
    const { entries, gvaLo, gvaHi } = matrix.path(plainCase('4k'), false);
    expectAgreement(entries, gvaLo, gvaHi, ACC_USER | ACC_WRITE, 'user write after the failed loads');
  });

  itWhen(spec.name === 'pae')('does a walk keep using the PDPTEs loaded by setPaging after the PDPT changes in memory?', () => {
    matrix.setControl(withNx);
    const { entries, gvaLo, gvaHi } = matrix.path(plainCase('4k'), false);
    const pdpte1 = PAE_PDPT + 8;
    const saved = [matrix.mirror.read32(pdpte1), matrix.mirror.read32(pdpte1 + 4)] as const;
    matrix.put(pdpte1, 0, 0); // not present in memory, still present in the registers
    const r = expectAgreement(entries, gvaLo, gvaHi, ACC_WRITE, 'supervisor write with PDPTE 1 cleared in memory only');
    expect(r.ok).toBe(true);
    matrix.setControl(withNx); // reloads: now the PDPTE is not present
    const r2 = expectAgreement(entries, gvaLo, gvaHi, ACC_WRITE, 'supervisor write after reloading PDPTE 1');
    expect(r2).toEqual({ ok: false, vector: 14, errorCode: PFERR_W });
    matrix.put(pdpte1, saved[0], saved[1]);
    matrix.setControl(withNx);
  });

  itWhen(spec.wide || spec.name === '32-bit-pse')('do physical-address bits above bit 31 reach the gpa (MMIO, beyond RAM)?', () => {
    matrix.setControl(withNx);
    for (const size of spec.wide ? spec.sizes : ['4m' as const]) {
      const { entries, gvaLo, gvaHi } = matrix.path(plainCase(size), false);
      const leaf = entries[entries.length - 1]!;
      if (spec.wide) leaf.hi |= (1 << (matrix.maxPhysAddr - 33)) | 1; // physical bits M-1 and 32
      else leaf.lo |= 0x2b << 13; // PSE-36: PDE bits 18:13 are physical bits 37:32 (M = 38)
      for (const a of ACCESSES) {
        const r = expectAgreement(entries, gvaLo, gvaHi, a.acc, `${a.name}, ${SIZE_NAMES[size]} above 4 GiB`);
        expect(r.ok && r.gpa).toBeGreaterThan(2 ** 32);
      }
    }
  });

  itWhen(spec.name === '32-bit-pse')('is PSE-36 capped at 40 physical bits (PDE bit 21 reserved) when MAXPHYADDR is 52?', () => {
    const wide = new Matrix(spec, mode, { maxPhysAddr: 52 });
    wide.setControl(withNx);
    const { entries, gvaLo, gvaHi } = wide.path(plainCase('4m'), false);
    const pde = entries[0]!;
    pde.lo |= 0xff << 13; // bits 20:13: physical bits 39:32
    const probe = (): OracleResult => {
      const { expected, problem } = wide.probe(entries, gvaLo, gvaHi, ACC_USER);
      expect(problem).toBe('');
      return expected;
    };
    const r = probe();
    expect(r.ok && r.gpa).toBe(0xff_0000_0000 + DATA_GPA);
    pde.lo |= 1 << 21;
    expect(probe()).toEqual({ ok: false, vector: 14, errorCode: PFERR_P | PFERR_RSVD | PFERR_U });
  });

  it('does a walk through a table outside RAM read its entries as all ones?', () => {
    matrix.setControl(withNx);
    const { entries, gvaLo, gvaHi } = matrix.path(plainCase('4k'), false);
    const upper = entries[entries.length - 2]!;
    upper.lo = (upper.lo & 0xfff) | 0x00ffe000; // page table at 16 MiB - 8 KiB: no RAM there
    const walk = entries.slice(0, -1);
    for (const a of ACCESSES) {
      const r = expectAgreement(walk, gvaLo, gvaHi, a.acc, `${a.name} through a page table outside RAM`);
      // An all-ones 4-byte PTE is a present user page at 0xfffff000; an all-ones 8-byte one has reserved bits.
      if (spec.wide) expect(r.ok || r.errorCode & PFERR_RSVD).toBeTruthy();
      else expect(r.ok && r.gpa).toBe(0xfffff000 + (GVA_LO & 0xfff));
    }
  });
});
