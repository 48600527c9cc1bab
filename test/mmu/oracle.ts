/**
 * A slow, obviously correct reference translator for x86 guest paging: the
 * oracle of the differential tests. Written from the Intel SDM vol. 3A,
 * chapter 4, independently of src/mmu/paging/walker.ts. BigInt everywhere,
 * one function per paging format, no caching, no cleverness.
 *
 * Rules implemented (section numbers of the Intel SDM vol. 3A):
 *
 * 4.1.1, table 4-1  Paging mode: CR0.PG=0 -> no paging (gpa = linear
 *   address); PG=1, CR4.PAE=0 -> 32-bit paging; PAE=1, EFER.LME=0 -> PAE
 *   paging; LME=1 -> 4-level paging, or 5-level paging when CR4.LA57=1.
 *
 * 4.3  32-bit paging. CR3[31:12] locates the page directory; the PDE is
 *   selected by linear bits 31:22. A PDE with P=1, PS=1 and CR4.PSE=1 maps a
 *   4 MiB page (table 4-4): physical bits 31:22 from PDE bits 31:22 and, with
 *   PSE-36 and M' = min(MAXPHYADDR, 40), physical bits (M'-1):32 from PDE bits
 *   (M'-20):13; PDE bits 21:(M'-19) are reserved. Otherwise (PS=0, or
 *   CR4.PSE=0, which makes PS ignored) the PDE references a page table; the
 *   PTE is selected by linear bits 21:12 and maps a 4 KiB page (table 4-6).
 *   Such PDEs and PTEs have no reserved bits. There is no execute-disable
 *   bit and no protection key in 32-bit paging.
 *
 * 4.4  PAE paging. 4.4.1: the four PDPTEs are loaded from CR3[31:5] when CR3
 *   is loaded or paging is enabled (a MOV to CR0/CR4/CR3), not on each walk;
 *   a PDPTE with P=1 and any of bits 2:1, 8:5 or 63:M set makes that load
 *   #GP(0) (table 4-8; bit 63 is reserved even with NXE=1). A PDPTE has no
 *   R/W, U/S, XD or accessed bit that takes part in the walk. 4.4.2: PDE by
 *   linear bits 29:21, PTE by bits 20:12; a PDE with PS=1 maps a 2 MiB page
 *   (CR4.PSE does not matter). Reserved in PDEs and PTEs: bits 62:M, bit 63
 *   unless EFER.NXE=1 (then it is XD), and bits 20:13 of a 2 MiB PDE
 *   (tables 4-9..4-11).
 *
 * 4.5  4-level and 5-level paging. Linear addresses must be canonical
 *   (bits 63:47, or 63:56 with LA57, all equal), else #GP(0) and no walk
 *   (3.3.7.1; the walk of 4.5 is only for canonical addresses). CR3[M-1:12]
 *   locates the PML4 (PML5) table; entries are selected by linear bits
 *   56:48 (PML5E), 47:39 (PML4E), 38:30 (PDPTE), 29:21 (PDE), 20:12 (PTE).
 *   Reserved in every entry: bits 51:M, and bit 63 unless EFER.NXE=1.
 *   Bits 62:52 are ignored (62:59 are the protection key of a leaf when
 *   CR4.PKE=1). PS (bit 7) is reserved in PML5Es and PML4Es, and in PDPTEs
 *   when 1 GiB pages are not supported. A PDPTE with PS=1 maps a 1 GiB page
 *   (bits 29:13 reserved), a PDE with PS=1 a 2 MiB page (bits 20:13
 *   reserved) (tables 4-14..4-20).
 *
 * 4.7 (walk part)  The walk stops at the first entry that is not present
 *   (#PF, error code P=0) or, if present, has a reserved bit set (#PF with
 *   P=1 and RSVD=1). Reserved bits of a not-present entry are ignored.
 *
 * 4.6  Access rights, checked only after a walk that reached a page. A
 *   linear address is a user-mode address when U/S=1 in every paging-
 *   structure entry used, else a supervisor-mode address; it is writable
 *   when R/W=1 in every entry used; it is execute-disabled when NX is in use
 *   (not 32-bit paging, EFER.NXE=1) and XD=1 in any entry used. (PAE PDPTEs
 *   contribute none of these.)
 *   Supervisor-mode accesses (CPL<3, acc without ACC_USER):
 *     data read of a user-mode address: denied if CR4.SMAP=1, unless the
 *       access is explicit with EFLAGS.AC=1 (ACC_AC);
 *     data write: the same SMAP rule, and additionally denied to a
 *       non-writable address when CR0.WP=1;
 *     instruction fetch: denied if execute-disabled, and from a user-mode
 *       address when CR4.SMEP=1 (EFLAGS.AC does not matter for fetches).
 *   User-mode accesses (ACC_USER): only user-mode addresses; writes need
 *     the address writable (CR0.WP does not matter); fetches need it not
 *     execute-disabled.
 * 4.6.2  Protection keys: only in 4-/5-level paging with CR4.PKE=1, only
 *   for data accesses to user-mode addresses (by user or supervisor mode).
 *   With key i = leaf bits 62:59: ADi=PKRU[2i]=1 denies every data access;
 *   WDi=PKRU[2i+1]=1 denies user-mode writes, and supervisor-mode writes
 *   when CR0.WP=1. Instruction fetches are not affected.
 *
 * 4.7  Page-fault error code: P (bit 0) = 0 for a not-present entry, 1 for a
 *   protection or reserved-bit violation; W/R (bit 1) = the access was a
 *   write (0 for fetches); U/S (bit 2) = a user-mode access; RSVD (bit 3) =
 *   a reserved bit was set; I/D (bit 4) = an instruction fetch, only when
 *   CR4.SMEP=1 or (CR4.PAE=1 and EFER.NXE=1); PK (bit 5) = the conditions
 *   of 4.6.2 deny the access (data access, user-mode address, ADi=1, or
 *   WDi=1 with a write by user mode or with CR0.WP=1), set whether or not
 *   another rule also denies it. PK is only reported for faults with P=1
 *   that come from the permission check (a not-present or reserved-bit
 *   fault has no page and so no key). CR2 receives the linear address.
 *
 * 4.8  Accessed and dirty flags: on a successful translation the accessed
 *   flag (bit 5) is set in every paging-structure entry used that does not
 *   have it yet, from the top level down; the dirty flag (bit 6) is set in
 *   the leaf (the entry that maps the page) on a write. PAE PDPTEs are not
 *   written. Design decision of this project (the SDM allows either): a walk
 *   that faults sets no accessed flag.
 *
 * Conventions of this API, not architectural: 32-bit and PAE paging have
 *   32-bit linear addresses, so a nonzero gvaHi gives #GP(0), as in the Mmu.
 *   An entry read from a gpa outside RAM is whatever `mem` returns (the test
 *   memories return all ones there).
 */

import { ACC_AC, ACC_FETCH, ACC_USER, ACC_WRITE } from '../../src/mmu/index.js';

export interface OracleState {
  cr0: number;
  cr3Lo: number;
  cr3Hi: number;
  cr4: number;
  efer: number;
  pkru: number;
  maxPhysAddr: number;
  gbPages: boolean;
  /** PAE: the 4 loaded PDPTEs; when absent, read from memory at CR3 */
  pdpte?: bigint[];
}

export interface OracleMemory {
  read32(gpa: number): number;
  write32(gpa: number, value: number): void;
}

export type OracleResult =
  | { ok: true; gpa: number; pageSize: number; writes: { gpa: number; value: number }[] }
  | { ok: false; vector: 13 | 14; errorCode: number };

// ---- the register and entry bits this file uses, spelled out from the SDM ----
const CR0_PG = 31;
const CR0_WP = 16;
const CR4_PSE = 4;
const CR4_PAE = 5;
const CR4_LA57 = 12;
const CR4_SMEP = 20;
const CR4_SMAP = 21;
const CR4_PKE = 22;
const EFER_LME = 8;
const EFER_NXE = 11;

const P = 1n << 0n;
const RW = 1n << 1n;
const US = 1n << 2n;
const A = 1n << 5n;
const D = 1n << 6n;
const PS = 1n << 7n;
const XD = 1n << 63n;

const ERR_P = 1;
const ERR_W = 2;
const ERR_U = 4;
const ERR_RSVD = 8;
const ERR_ID = 16;
const ERR_PK = 32;

const KIB4 = 4096;
const MIB2 = 2 * 1024 * 1024;
const MIB4 = 4 * 1024 * 1024;

/** Bit n of a 32-bit register value, as a boolean. */
function flag(reg: number, n: number): boolean {
  return ((reg >>> n) & 1) === 1;
}

/** The mask of bits hi..lo inclusive (0n when hi < lo). */
function bits(hi: number, lo: number): bigint {
  if (hi < lo) return 0n;
  return ((1n << BigInt(hi - lo + 1)) - 1n) << BigInt(lo);
}

function read32(mem: OracleMemory, gpa: bigint): bigint {
  return BigInt(mem.read32(Number(gpa)) >>> 0);
}

function read64(mem: OracleMemory, gpa: bigint): bigint {
  return (read32(mem, gpa + 4n) << 32n) | read32(mem, gpa);
}

/** One paging-structure entry used by a walk. */
interface UsedEntry {
  gpa: bigint;
  value: bigint;
  /** PAE PDPTE registers take no part in rights or A/D */
  register: boolean;
}

/** What a walk produced: the entries it used (top first) and the page, or the fault that stopped it. */
type Walk =
  | { kind: 'page'; used: UsedEntry[]; gpa: bigint; pageSize: number }
  | { kind: 'not-present' }
  | { kind: 'reserved' }
  | { kind: 'gp' };

/** The paging mode of table 4-1. */
type PagingMode = 'none' | '32-bit' | 'pae' | '4-level' | '5-level';

function pagingMode(s: OracleState): PagingMode {
  if (!flag(s.cr0, CR0_PG)) return 'none';
  if (!flag(s.cr4, CR4_PAE)) return '32-bit';
  if (!flag(s.efer, EFER_LME)) return 'pae';
  return flag(s.cr4, CR4_LA57) ? '5-level' : '4-level';
}

// ---------------------------------------------------------------- 32-bit (4.3)

function walk32(mem: OracleMemory, s: OracleState, la: bigint): Walk {
  const cr3 = BigInt(s.cr3Lo >>> 0);
  const pdeGpa = (cr3 & bits(31, 12)) | (((la >> 22n) & 0x3ffn) << 2n);
  const pde = read32(mem, pdeGpa);
  if (!(pde & P)) return { kind: 'not-present' };
  if (flag(s.cr4, CR4_PSE) && pde & PS) {
    // 4 MiB page, table 4-4, with PSE-36 limited to 40 physical bits.
    const m = Math.min(s.maxPhysAddr, 40);
    if (pde & bits(21, m - 19)) return { kind: 'reserved' };
    const high = (pde & bits(m - 20, 13)) >> 13n; // physical bits (m-1):32
    const gpa = (high << 32n) | (pde & bits(31, 22)) | (la & bits(21, 0));
    return { kind: 'page', used: [{ gpa: pdeGpa, value: pde, register: false }], gpa, pageSize: MIB4 };
  }
  const pteGpa = (pde & bits(31, 12)) | (((la >> 12n) & 0x3ffn) << 2n);
  const pte = read32(mem, pteGpa);
  if (!(pte & P)) return { kind: 'not-present' };
  const gpa = (pte & bits(31, 12)) | (la & bits(11, 0));
  return {
    kind: 'page',
    used: [{ gpa: pdeGpa, value: pde, register: false }, { gpa: pteGpa, value: pte, register: false }],
    gpa,
    pageSize: KIB4,
  };
}

// ---------------------------------------------------------------- PAE (4.4)

/** Loads and checks PAE PDPTEs like a MOV to CR3 would: returns the 4 entries or null for #GP. */
export function oracleLoadPdptes(mem: OracleMemory, s: OracleState): bigint[] | null {
  const base = BigInt(s.cr3Lo >>> 0) & bits(31, 5);
  const reserved = bits(2, 1) | bits(8, 5) | bits(63, s.maxPhysAddr);
  const out: bigint[] = [];
  for (let i = 0n; i < 4n; i++) {
    const e = read64(mem, base + i * 8n);
    if (e & P && e & reserved) return null;
    out.push(e);
  }
  return out;
}

function walkPae(mem: OracleMemory, s: OracleState, la: bigint): Walk {
  const pdptes = s.pdpte ?? oracleLoadPdptes(mem, s);
  if (pdptes === null) return { kind: 'gp' };
  const M = s.maxPhysAddr;
  const nxe = flag(s.efer, EFER_NXE);
  const reserved = bits(62, M) | (nxe ? 0n : XD);
  const pdpte = pdptes[Number((la >> 30n) & 3n)]!;
  if (!(pdpte & P)) return { kind: 'not-present' };
  const used: UsedEntry[] = [{ gpa: -1n, value: pdpte, register: true }];

  const pdeGpa = (pdpte & bits(M - 1, 12)) | (((la >> 21n) & 0x1ffn) << 3n);
  const pde = read64(mem, pdeGpa);
  if (!(pde & P)) return { kind: 'not-present' };
  if (pde & PS) {
    if (pde & (reserved | bits(20, 13))) return { kind: 'reserved' };
    used.push({ gpa: pdeGpa, value: pde, register: false });
    return { kind: 'page', used, gpa: (pde & bits(M - 1, 21)) | (la & bits(20, 0)), pageSize: MIB2 };
  }
  if (pde & reserved) return { kind: 'reserved' };
  used.push({ gpa: pdeGpa, value: pde, register: false });

  const pteGpa = (pde & bits(M - 1, 12)) | (((la >> 12n) & 0x1ffn) << 3n);
  const pte = read64(mem, pteGpa);
  if (!(pte & P)) return { kind: 'not-present' };
  if (pte & reserved) return { kind: 'reserved' };
  used.push({ gpa: pteGpa, value: pte, register: false });
  return { kind: 'page', used, gpa: (pte & bits(M - 1, 12)) | (la & bits(11, 0)), pageSize: KIB4 };
}

// ---------------------------------------------------------------- 4-/5-level (4.5)

function walkLong(mem: OracleMemory, s: OracleState, la: bigint, levels: 4 | 5): Walk {
  const M = s.maxPhysAddr;
  const nxe = flag(s.efer, EFER_NXE);
  const cr3 = (BigInt(s.cr3Hi >>> 0) << 32n) | BigInt(s.cr3Lo >>> 0);
  let table = cr3 & bits(M - 1, 12);
  const used: UsedEntry[] = [];
  for (let level: number = levels; level >= 1; level--) {
    const shift = BigInt(12 + 9 * (level - 1));
    const entryGpa = table | (((la >> shift) & 0x1ffn) << 3n);
    const e = read64(mem, entryGpa);
    if (!(e & P)) return { kind: 'not-present' };
    let reserved = bits(51, M) | (nxe ? 0n : XD);
    let mapsPage = level === 1;
    if (level >= 4) reserved |= PS; // PML5E, PML4E
    if (level === 3) {
      if (!s.gbPages) reserved |= PS;
      else if (e & PS) {
        mapsPage = true;
        reserved |= bits(29, 13);
      }
    }
    if (level === 2 && e & PS) {
      mapsPage = true;
      reserved |= bits(20, 13);
    }
    if (e & reserved) return { kind: 'reserved' };
    used.push({ gpa: entryGpa, value: e, register: false });
    if (mapsPage) {
      const pageBits = 12 + 9 * (level - 1);
      const gpa = (e & bits(M - 1, pageBits)) | (la & bits(pageBits - 1, 0));
      return { kind: 'page', used, gpa, pageSize: 2 ** pageBits };
    }
    table = e & bits(M - 1, 12);
  }
  throw new Error('unreachable: level 1 always maps a page');
}

/** True when bits 63:(width-1) of the linear address are all equal (3.3.7.1). */
function canonical(la: bigint, width: number): boolean {
  const top = la >> BigInt(width - 1);
  return top === 0n || top === bits(64 - width, 0);
}

// ---------------------------------------------------------------- rights (4.6, 4.7)

/**
 * Translates; on success also APPLIES the A/D writes to `mem` (and lists them).
 * A table read from a gpa not in RAM reads as whatever `mem` returns.
 * Fails with vector 13 (non-canonical address, bad PAE PDPTEs when none are
 * given) or 14 (page fault, with the error code of 4.7).
 */
export function oracleTranslate(mem: OracleMemory, s: OracleState, gvaLo: number, gvaHi: number, acc: number): OracleResult {
  const la = (BigInt(gvaHi >>> 0) << 32n) | BigInt(gvaLo >>> 0);
  const mode = pagingMode(s);
  const fetch = (acc & ACC_FETCH) !== 0;
  const write = !fetch && (acc & ACC_WRITE) !== 0;
  const user = (acc & ACC_USER) !== 0;
  const acSet = !user && (acc & ACC_AC) !== 0;

  if (mode === 'none') {
    if (gvaHi !== 0) return { ok: false, vector: 13, errorCode: 0 };
    return { ok: true, gpa: gvaLo >>> 0, pageSize: KIB4, writes: [] };
  }

  let walk: Walk;
  if (mode === '32-bit' || mode === 'pae') {
    if (gvaHi !== 0) return { ok: false, vector: 13, errorCode: 0 };
    walk = mode === '32-bit' ? walk32(mem, s, la) : walkPae(mem, s, la);
  } else {
    const width = mode === '5-level' ? 57 : 48;
    if (!canonical(la, width)) return { ok: false, vector: 13, errorCode: 0 };
    walk = walkLong(mem, s, la, mode === '5-level' ? 5 : 4);
  }
  if (walk.kind === 'gp') return { ok: false, vector: 13, errorCode: 0 };

  // Access-type bits of the error code (4.7), reported with every page fault.
  const idReported = flag(s.cr4, CR4_SMEP) || (mode !== '32-bit' && flag(s.efer, EFER_NXE));
  const accessBits = (write ? ERR_W : 0) | (user ? ERR_U : 0) | (fetch && idReported ? ERR_ID : 0);
  if (walk.kind === 'not-present') return { ok: false, vector: 14, errorCode: accessBits };
  if (walk.kind === 'reserved') return { ok: false, vector: 14, errorCode: ERR_P | ERR_RSVD | accessBits };

  // Combined rights of the entries used (4.6.1).
  const entries = walk.used.filter((u) => !u.register);
  const userAddress = entries.every((u) => (u.value & US) !== 0n);
  const writable = entries.every((u) => (u.value & RW) !== 0n);
  const nxInUse = mode !== '32-bit' && flag(s.efer, EFER_NXE);
  const executeDisabled = nxInUse && entries.some((u) => (u.value & XD) !== 0n);
  const wp = flag(s.cr0, CR0_WP);
  const smep = flag(s.cr4, CR4_SMEP);
  const smap = flag(s.cr4, CR4_SMAP);

  let allowed: boolean;
  if (user) {
    if (fetch) allowed = userAddress && !executeDisabled;
    else if (write) allowed = userAddress && writable;
    else allowed = userAddress;
  } else if (fetch) {
    allowed = !executeDisabled && !(smep && userAddress);
  } else {
    const smapDenies = smap && userAddress && !acSet;
    allowed = !smapDenies && (!write || writable || !wp);
  }

  // Protection keys (4.6.2).
  let pkDenies = false;
  const keysInUse = (mode === '4-level' || mode === '5-level') && flag(s.cr4, CR4_PKE);
  if (keysInUse && userAddress && !fetch) {
    const leaf = entries[entries.length - 1]!;
    const key = Number((leaf.value >> 59n) & 0xfn);
    const ad = flag(s.pkru, 2 * key);
    const wd = flag(s.pkru, 2 * key + 1);
    pkDenies = ad || (wd && write && (user || wp));
  }
  if (!allowed || pkDenies) {
    return { ok: false, vector: 14, errorCode: ERR_P | accessBits | (pkDenies ? ERR_PK : 0) };
  }

  // Accessed/dirty flags (4.8): top-down; D only in the leaf, only on writes.
  const writes: { gpa: number; value: number }[] = [];
  entries.forEach((u, i) => {
    const isLeaf = i === entries.length - 1;
    const low = u.value & 0xffffffffn;
    let next = low | A;
    if (isLeaf && write) next |= D;
    if (next !== low) {
      const value = Number(next);
      mem.write32(Number(u.gpa), value);
      writes.push({ gpa: Number(u.gpa), value });
    }
  });
  return { ok: true, gpa: Number(walk.gpa), pageSize: walk.pageSize, writes };
}

/**
 * Guest-physical memory for the oracle: a plain array of `bytes` bytes of
 * RAM starting at gpa 0; reads outside it give all ones, writes are dropped
 * (an open bus, like the Mmu's default MMIO handler).
 */
export class PlainMemory implements OracleMemory {
  readonly words: Uint32Array;

  constructor(readonly bytes: number) {
    this.words = new Uint32Array(bytes / 4);
  }

  read32(gpa: number): number {
    return gpa >= 0 && gpa + 4 <= this.bytes ? this.words[gpa / 4]! : 0xffffffff;
  }

  write32(gpa: number, value: number): void {
    if (gpa >= 0 && gpa + 4 <= this.bytes) this.words[gpa / 4] = value >>> 0;
  }

  /** Writes a 64-bit entry as its two halves. */
  write64(gpa: number, lo: number, hi: number): void {
    this.write32(gpa, lo);
    this.write32(gpa + 4, hi);
  }
}
