/**
 * The one page walker. Every table vmmu walks goes through `Walker.walk`:
 * guest tables in all four guest formats, the naive mode's host table, shadow
 * tables and EPT tables. What differs is data (a WalkContext) and how a table
 * address becomes a host address (a TablePort).
 *
 * Like a hardware walker, it records every level it read (entry address,
 * host address, value) in the Walker's own fields, so that accessed/dirty
 * updates and shadow fills reuse the walk instead of walking twice.
 */
import { HostMemory } from '../host/memory.js';
import { ACC_AC, ACC_FETCH, ACC_USER, ACC_WRITE, EPT_R, EPT_W, EPT_X, PFERR_P, PFERR_PK, PFERR_RSVD, PTE_G, PTE_PS } from './bits.js';
import { FMT_EPT, WalkContext } from './format.js';

/** Maps the address of a table entry to the host address that holds it. */
export interface TablePort {
  /**
   * Returns the hpa of the entry at table address `addr` (a gpa for guest
   * tables, an hpa for tables vmmu owns), or -1 when no RAM backs it.
   * `write` says the walker is about to set an accessed/dirty bit there.
   */
  entryHpa(addr: number, write: boolean): number;
}

/** A port for tables that already live at host-physical addresses. */
export const HOST_PORT: TablePort = { entryHpa: (hpa: number) => hpa };

/** Walk result codes. */
export const WALK_OK = 0;
/** a page fault: the error code is in Walker.errorCode */
export const WALK_FAULT = 1;

/** walk flags */
/** set accessed bits on every level and the dirty bit on a write, when the walk succeeds (SDM 4.8) */
export const WALK_SET_AD = 1;
/** skip the permission check: translate only (used by probes and cost models) */
export const WALK_NO_CHECK = 2;

const TWO_32 = 4294967296;

/**
 * The permission check of SDM vol. 3A, 4.6, for an access `acc` (ACC_* bits)
 * to a translation whose levels all allowed user access (`us`=1), all allowed
 * writes (`rw`=1), or any forbade execution (`xd`=1), with protection key
 * `pkey`. Returns 0 when allowed, else the page-fault error code bits the
 * violation contributes (PFERR_P, plus PFERR_PK when protection keys caused
 * it; the caller adds W/U/I/D).
 */
export function permissionFault(ctx: WalkContext, acc: number, us: number, rw: number, xd: number, pkey: number): number {
  const user = acc & ACC_USER;
  if (acc & ACC_FETCH) {
    // Fetches: XD forbids; user fetches need a user page; SMEP forbids
    // supervisor fetches from user pages (4.6.1). Protection keys do not apply.
    if (xd) return PFERR_P;
    if (user ? !us : us && ctx.smep) return PFERR_P;
    return 0;
  }
  const write = acc & ACC_WRITE;
  let fault = 0;
  if (user) {
    if (!us || (write && !rw)) fault = PFERR_P;
  } else {
    // SMAP: supervisor data accesses to user pages fault unless EFLAGS.AC=1 on an explicit access.
    if (us && ctx.smap && !(acc & ACC_AC)) fault = PFERR_P;
    // CR0.WP=1: supervisor writes need R/W=1 at every level; WP=0 allows them.
    if (write && !rw && ctx.wp) fault = PFERR_P;
  }
  if (ctx.pke && us) {
    // Protection keys (4.6.2): AD forbids data access, WD forbids user writes
    // and, with CR0.WP=1, supervisor writes. The PK error bit is reported
    // whenever these conditions hold for the faulting access (4.7).
    const pk = ctx.pkru >>> (pkey * 2);
    if (pk & 1 || (write && pk & 2 && (user || ctx.wp))) fault = PFERR_P | PFERR_PK;
  }
  return fault;
}

/** EPT permission check (SDM 29.3.3.2): returns 0 or 1 (an EPT violation). */
export function eptPermissionFault(rights: number, write: boolean, fetch: boolean): number {
  if (fetch) return rights & EPT_X ? 0 : 1;
  if (write) return rights & EPT_W ? 0 : 1;
  return rights & EPT_R ? 0 : 1;
}

export class Walker {
  // ---- result of the last walk (a guest_walker record) ----
  /** the page-fault error code when walk() returned WALK_FAULT */
  errorCode = 0;
  /** top level walked and the level of the leaf (or of the faulting entry) */
  topLevel = 0;
  level = 0;
  /** page size of the leaf, as log2 bytes (12, 21, 22, 30) */
  pageShift = 12;
  /** the translated address (gpa for guest/EPT walks, hpa for host tables) */
  out = 0;
  /** cumulative rights: AND of R/W and U/S over all levels, OR of XD; for EPT, AND of R|W|X in `rights` */
  rw = 0;
  us = 0;
  xd = 0;
  rights = 0;
  pkey = 0;
  /** leaf G bit with CR4.PGE=1 */
  global = 0;
  /** leaf dirty bit after the walk */
  dirty = 0;
  /** per level (index = level): table entry address, its hpa, and its value */
  readonly entryAddr = new Float64Array(6);
  readonly entryHpa = new Int32Array(6);
  readonly lo = new Int32Array(6);
  readonly hi = new Int32Array(6);
  /** per level: the address of the table read at that level */
  readonly tableAddr = new Float64Array(6);

  /** bit l set: the last walk wrote an accessed or dirty bit into level l's entry (0 after a walk that wrote none) */
  adWrites = 0;
  /**
   * Guest walks only: per gfn, 1 for read-only memory (MmuOptions.rom). An
   * entry there keeps its A and D bits clear, as a ROM ignores the
   * processor's write of them; the walk succeeds all the same.
   */
  romFrames: Uint8Array | null = null;

  /** when set, every accessed/dirty bit written bumps counters[adCounter] */
  counters: Float64Array | null = null;
  adCounter = 0;

  constructor(private readonly mem: HostMemory) {}

  /**
   * Walks the tables of `ctx` from `root` for the linear address gvaHi:gvaLo.
   *
   * @param root address of the top table (CR3 base, EPTP base, ...); for PAE
   *   the walk starts from `pdpte` (4 entries, lo/hi pairs) instead.
   * @param acc ACC_* bits of the access, for the permission check and the
   *   error code.
   * @param flags WALK_SET_AD and/or WALK_NO_CHECK.
   * Returns WALK_OK with the result in this walker's fields, or WALK_FAULT
   * with `errorCode` set: not present (P=0), reserved bit (P|RSVD), or a
   * permission violation (P, maybe PK). W, U and I/D come from `acc`.
   * Changes: with WALK_SET_AD and a successful walk, writes A into every
   * level's entry that lacks it and D into the leaf on a write, top-down.
   * Accessed bits are never set by a faulting walk, in every mode, so that all
   * modes leave identical guest memory (the SDM allows either, 4.8).
   */
  walk(ctx: WalkContext, port: TablePort, root: number, pdpte: Int32Array | null, gvaLo: number, gvaHi: number, acc: number, flags: number): number {
    const fmt = ctx.fmt;
    const mem = this.mem.i32;
    const eight = fmt.entryShift === 3;
    const ept = fmt.id === FMT_EPT;
    let level = fmt.top;
    let table = root;
    let and = -1;
    let xd = 0;
    this.topLevel = level;
    this.adWrites = 0;
    if (pdpte !== null) {
      // PAE: the PDPTE registers are the top level (SDM 4.4.1); not present -> #PF.
      const i = (gvaLo >>> 30) & 3;
      const lo = pdpte[i * 2]!;
      const hi = pdpte[i * 2 + 1]!;
      this.lo[3] = lo;
      this.hi[3] = hi;
      this.entryAddr[3] = root + i * 8;
      this.entryHpa[3] = -1;
      this.tableAddr[3] = root;
      if (!(lo & 1)) return this.fail(3, acc, 0, ctx);
      table = (hi & ctx.addrHiMask) * TWO_32 + ((lo & 0xfffff000) >>> 0);
      level = 2;
    }
    for (;;) {
      const s = fmt.shift[level]!;
      const index = (s >= 32 ? gvaHi >>> (s - 32) : s > 20 ? (gvaLo >>> s) | (gvaHi << (32 - s)) : gvaLo >>> s) & fmt.indexMask[level]!;
      const addr = table + index * (eight ? 8 : 4);
      this.tableAddr[level] = table;
      this.entryAddr[level] = addr;
      const hpa = port.entryHpa(addr, false);
      this.entryHpa[level] = hpa;
      let lo: number;
      let hi: number;
      if (hpa < 0) {
        // No RAM behind a table: the bus reads all ones.
        lo = -1;
        hi = eight ? -1 : 0;
      } else {
        lo = mem[hpa >>> 2]!;
        hi = eight ? mem[(hpa >>> 2) + 1]! : 0;
      }
      this.lo[level] = lo;
      this.hi[level] = hi;
      if (!(lo & ctx.presentMask)) return this.fail(level, acc, 0, ctx);
      const large = (ctx.largeMask >>> level) & 1 && lo & PTE_PS ? 1 : 0;
      const r = level * 2 + large;
      // Reserved bits fault even when a lower level is absent (SDM 4.7: RSVD with P=1).
      if ((lo & ctx.rsvdLo[r]!) | (hi & ctx.rsvdHi[r]!)) return this.fail(level, acc, PFERR_P | PFERR_RSVD, ctx);
      and &= lo;
      xd |= hi;
      if (level === 1 || large) {
        this.level = level;
        let shift: number;
        let frameLo: number;
        let frameHi: number;
        if (level === 1) {
          shift = 12;
          frameLo = lo & 0xfffff000;
          frameHi = hi & ctx.addrHiMask;
        } else if (eight) {
          shift = s;
          frameLo = lo & ~((1 << s) - 1) & ~0xfff;
          frameHi = hi & ctx.addrHiMask;
        } else {
          // 32-bit paging 4 MiB page with PSE-36 (SDM 4.3, table 4-4).
          shift = 22;
          frameLo = lo & 0xffc00000;
          frameHi = (lo >>> 13) & ctx.pse36Mask;
        }
        this.pageShift = shift;
        this.out = frameHi * TWO_32 + ((frameLo | (gvaLo & ((1 << shift) - 1))) >>> 0);
        break;
      }
      table = (hi & ctx.addrHiMask) * TWO_32 + ((lo & 0xfffff000) >>> 0);
      level--;
    }
    // ---- leaf reached ----
    const leafLo = this.lo[this.level]!;
    this.rights = and;
    this.rw = (and >>> 1) & 1;
    this.us = (and >>> 2) & 1;
    this.xd = ctx.nxe ? xd >>> 31 : 0;
    this.pkey = ctx.pke ? (this.hi[this.level]! >>> 27) & 15 : 0;
    this.global = ctx.pge && leafLo & PTE_G ? 1 : 0;
    if (!(flags & WALK_NO_CHECK)) {
      const f = ept
        ? eptPermissionFault(and, (acc & ACC_WRITE) !== 0, (acc & ACC_FETCH) !== 0)
        : permissionFault(ctx, acc, this.us, this.rw, this.xd, this.pkey);
      if (f !== 0) return this.fail(this.level, acc, f, ctx);
    }
    this.dirty = leafLo & ctx.dBit ? 1 : 0;
    if (flags & WALK_SET_AD) {
      const a = ctx.aBit;
      const rom = this.romFrames;
      for (let l = this.topLevel; l >= this.level; l--) {
        const v = this.lo[l]!;
        if (!(v & a) && this.entryHpa[l]! >= 0 && (rom === null || rom[Math.floor(this.entryAddr[l]! / 4096)] !== 1)) {
          const h = port.entryHpa(this.entryAddr[l]!, true);
          mem[h >>> 2] = v | a;
          this.lo[l] = v | a;
          this.adWrites |= 1 << l;
          if (this.counters !== null) this.counters[this.adCounter]++;
        }
      }
      if (acc & ACC_WRITE && !this.dirty && this.entryHpa[this.level]! >= 0 && (rom === null || rom[Math.floor(this.entryAddr[this.level]! / 4096)] !== 1)) {
        const l = this.level;
        const h = port.entryHpa(this.entryAddr[l]!, true);
        this.lo[l] = this.lo[l]! | ctx.dBit;
        mem[h >>> 2] = this.lo[l]!;
        this.dirty = 1;
        this.adWrites |= 1 << l;
        if (this.counters !== null) this.counters[this.adCounter]++;
      }
    }
    return WALK_OK;
  }

  private fail(level: number, acc: number, bits: number, ctx: WalkContext): number {
    this.level = level;
    this.errorCode = bits | (acc & (ACC_WRITE | ACC_USER)) | (acc & ACC_FETCH && ctx.idBit ? ACC_FETCH : 0);
    return WALK_FAULT;
  }
}

