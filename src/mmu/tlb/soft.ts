/**
 * The software TLB: the fast path every mode shares.
 *
 * Direct-mapped, indexed by the low bits of the 4 KiB virtual page number.
 * Each slot holds one page (vpn) and, per privilege context and access kind,
 * a tag that equals the vpn when that access may use the slot:
 *
 *   context 0: supervisor (CPL < 3), EFLAGS.AC = 0 (or an implicit access)
 *   context 1: supervisor with EFLAGS.AC = 1 (SMAP lets it reach user pages)
 *   context 2: user (CPL 3)
 *   kinds: R (read), W (write), X (fetch)
 *
 * A hit is one index, one compare, one add: `tagR[i] === vpn` then
 * `hpa[i] + offset`. Anything that must take the slow path (write-protected
 * guest page tables in shadow mode, clean pages whose dirty bit must be set,
 * MMIO, a permission the page lacks) simply has no tag, so the compare fails.
 * Large pages are cached 4 KiB at a time.
 *
 * The software TLB is the guest's architectural TLB: it caches translations
 * exactly as the SDM allows a TLB to (4.10), is flushed by the same
 * operations, and is identical in every mode, so modes never differ in what
 * the guest can observe.
 */
import { Arena } from '../host/arena.js';
import { ACC_AC, ACC_FETCH, ACC_USER, ACC_WRITE } from '../paging/bits.js';
import type { WalkContext } from '../paging/format.js';
import { permissionFault } from '../paging/walker.js';

export const CTX_SUP = 0;
export const CTX_SUP_AC = 1;
export const CTX_USER = 2;
export const KIND_R = 0;
export const KIND_W = 1;
export const KIND_X = 2;

/** the write tags of all three contexts, as a tag mask */
export const W_TAGS = (1 << KIND_W) | (1 << (3 + KIND_W)) | (1 << (6 + KIND_W));
export const ALL_TAGS = 0x1ff;

/** slot flag bits */
export const SLOT_GLOBAL = 1;
/** the slot belongs to a 2/4 MiB or 1 GiB guest page (INVLPG must find it) */
export const SLOT_LARGE = 2;
/** the slot belongs to a 1 GiB guest page */
export const SLOT_HUGE = 4;

export class SoftTlb {
  readonly size: number;
  readonly mask: number;
  /** vpn cached in each slot, -1 when empty */
  readonly vpn: Float64Array;
  /** tags[ctx * 3 + kind] */
  readonly tags: Float64Array[];
  /**
   * The same tags as int32 page numbers, for addresses below 4 GiB only
   * (-1 otherwise): a 32-bit guest's fast path compares integers.
   */
  readonly tags32: Int32Array[];
  /** hpa of the slot's 4 KiB page */
  readonly hpa: Int32Array;
  /** gpa of the slot's 4 KiB page */
  readonly gpa: Float64Array;
  /** log2 size of the translation the hardware would cache (mode-specific: see Mode.fill) */
  readonly shift: Uint8Array;
  readonly flags: Uint8Array;
  /**
   * The guest's rights for the slot (a rightsKey): what the guest's TLB entry
   * allows, whether or not the fast-path tag for it was withheld.
   */
  readonly rights: Uint8Array;
  /** the mode's tag mask when the slot was filled (before a watched frame's write tags were withheld): see restoreWrite */
  private readonly modeTags: Uint16Array;
  /** slots in use, for flushes proportional to occupancy */
  private readonly used: Int32Array;
  private readonly inUsed: Uint8Array;
  private usedCount = 0;
  /**
   * 4 MiB-aligned groups (vpn >>> 10) and 1 GiB groups (vpn >>> 18) that
   * hold slots of large pages: INVLPG scans a group's slots only when the
   * group is here.
   */
  private readonly largeGroups = new Set<number>();
  private readonly hugeGroups = new Set<number>();
  /** allowed-tag bitmask (bit ctx*3+kind) for each rights combination, see rightsKey */
  private allow = new Uint16Array(64);

  /**
   * @param bits log2 of the number of slots (8..20)
   * @param arena where to place tags32, hpa and gpa (arena.ts; default: arrays of their own)
   */
  constructor(bits: number, arena?: Arena) {
    if (!Number.isInteger(bits) || bits < 8 || bits > 20) throw new RangeError(`software TLB size 2^${bits} is outside 2^8..2^20 slots`);
    this.size = 1 << bits;
    this.mask = this.size - 1;
    this.vpn = new Float64Array(this.size).fill(-1);
    this.tags = [];
    for (let i = 0; i < 9; i++) this.tags.push(new Float64Array(this.size).fill(-1));
    this.tags32 = [];
    // The arrays compiled code reads (the wasm engine's) go in the arena when there is one.
    const int32 = (n: number): Int32Array => (arena === undefined ? new Int32Array(n) : arena.int32(n));
    for (let i = 0; i < 9; i++) this.tags32.push(int32(this.size).fill(-1));
    this.hpa = int32(this.size);
    this.gpa = arena === undefined ? new Float64Array(this.size) : arena.float64(this.size);
    this.shift = new Uint8Array(this.size);
    this.flags = new Uint8Array(this.size);
    this.rights = new Uint8Array(this.size);
    this.modeTags = new Uint16Array(this.size);
    this.used = new Int32Array(this.size);
    this.inUsed = new Uint8Array(this.size);
  }

  /**
   * Recomputes which tags a translation's rights allow, for the guest's
   * current permission controls (CR0.WP, SMEP, SMAP, PKE/PKRU). Call on every
   * change of those (the caller also flushes).
   */
  setPermissions(ctx: WalkContext): void {
    for (let key = 0; key < 64; key++) {
      const us = key & 1, rw = (key >> 1) & 1, xd = (key >> 2) & 1, dirty = (key >> 3) & 1;
      // Bits 4..5 stand for the protection key's AD/WD; evaluate with a PKRU made of them.
      const pkCtx = { ...ctx, pkru: (key >> 4) & 3 } as WalkContext;
      let m = 0;
      for (let c = 0; c < 3; c++) {
        const base = c === CTX_USER ? ACC_USER : c === CTX_SUP_AC ? ACC_AC : 0;
        if (permissionFault(pkCtx, base, us, rw, xd, 0) === 0) m |= 1 << (c * 3 + KIND_R);
        if (dirty && permissionFault(pkCtx, base | ACC_WRITE, us, rw, xd, 0) === 0) m |= 1 << (c * 3 + KIND_W);
        if (permissionFault(pkCtx, base | ACC_FETCH, us, rw, xd, 0) === 0) m |= 1 << (c * 3 + KIND_X);
      }
      this.allow[key] = m;
    }
  }

  /** Bytes an arena needs for a software TLB of 2^bits slots (the nine int32 tag arrays, hpa and the float64 gpa). */
  static arenaBytes(bits: number): number {
    return 10 * Arena.int32Bytes(1 << bits) + 8 * (1 << bits);
  }

  /** The index into the allow table for a translation's rights (all 0/1 except pkey, 0..15) and PKRU. */
  static rightsKey(us: number, rw: number, xd: number, dirty: number, pkru: number, pkey: number): number {
    return us | (rw << 1) | (xd << 2) | (dirty << 3) | (((pkru >>> (pkey * 2)) & 3) << 4);
  }

  /**
   * Fills the slot of page `vpn` (whose 4 KiB page is at hpa/gpa) with every
   * tag its rights allow; `tagMask` (bit ctx*3+kind) removes tags the mode
   * forbids (for example W on a write-protected guest page table).
   * Evicts whatever page held the slot.
   */
  fill(vpn: number, vpnIndex: number, hpa: number, gpa: number, rightsKey: number, tagMask: number, shift: number, flags: number, modeMask = tagMask): void {
    const i = vpnIndex & this.mask;
    if (this.vpn[i] !== vpn) {
      this.clearSlot(i);
      this.vpn[i] = vpn;
    }
    if (!this.inUsed[i]) {
      this.inUsed[i] = 1;
      this.used[this.usedCount++] = i;
    }
    const m = this.allow[rightsKey]! & tagMask;
    const t = this.tags;
    const t32 = this.tags32;
    const v32 = vpn === vpnIndex ? vpnIndex : -1;
    for (let k = 0; k < 9; k++) {
      t[k]![i] = m & (1 << k) ? vpn : -1;
      t32[k]![i] = m & (1 << k) ? v32 : -1;
    }
    this.hpa[i] = hpa;
    this.gpa[i] = gpa;
    this.shift[i] = shift;
    this.rights[i] = rightsKey;
    this.modeTags[i] = modeMask;
    if (flags & SLOT_LARGE) {
      if (flags & SLOT_HUGE) this.hugeGroups.add(Math.floor(vpn / 262144));
      else this.largeGroups.add(Math.floor(vpn / 1024));
    }
    this.flags[i] = flags;
  }

  /**
   * Whether slot i (already known to hold the page) allows the access of tag
   * index ctx*3+kind by the guest's rights, fast-path tag or not.
   */
  allows(i: number, tagIndex: number): boolean {
    return ((this.allow[this.rights[i]!]! >>> tagIndex) & 1) !== 0;
  }

  private clearSlot(i: number): void {
    this.vpn[i] = -1;
    const t = this.tags;
    const t32 = this.tags32;
    for (let k = 0; k < 9; k++) {
      t[k]![i] = -1;
      t32[k]![i] = -1;
    }
    this.flags[i] = 0;
  }

  /** Drops the 4 KiB page `vpn` (if cached). */
  flushPage(vpn: number, vpnIndex: number): void {
    const i = vpnIndex & this.mask;
    if (this.vpn[i] === vpn) this.clearSlot(i);
  }

  /**
   * INVLPG: drops the page holding `vpn` and, when large pages are cached,
   * every 4 KiB slot of a large page that contains it (SDM 4.10.4.1: INVLPG
   * invalidates the translation whatever its page size).
   */
  invalidate(vpn: number, vpnIndex: number): void {
    this.flushPage(vpn, vpnIndex);
    const huge = Math.floor(vpn / 262144);
    if (this.hugeGroups.has(huge)) {
      // 1 GiB pages span more slots than exist: scan the used list.
      const lo = huge * 262144;
      this.dropWhere((i) => this.vpn[i]! >= lo && this.vpn[i]! < lo + 262144 && (this.flags[i]! & SLOT_LARGE) !== 0);
      return;
    }
    const group = Math.floor(vpn / 1024);
    if (!this.largeGroups.has(group)) return;
    // 2 MiB and 4 MiB pages: at most 1024 slots, checked directly.
    const lo = group * 1024;
    for (let v = lo; v < lo + 1024; v++) {
      const i = (vpnIndex - vpn + v) & this.mask;
      if (this.vpn[i] === v && this.flags[i]! & SLOT_LARGE) this.clearSlot(i);
    }
    this.largeGroups.delete(group);
  }

  /** Drops every slot (global ones too). */
  flushAll(): void {
    if (this.usedCount * 4 > this.size) {
      this.vpn.fill(-1);
      for (const t of this.tags) t.fill(-1);
      for (const t of this.tags32) t.fill(-1);
      this.flags.fill(0);
      this.inUsed.fill(0);
    } else {
      for (let k = 0; k < this.usedCount; k++) {
        const i = this.used[k]!;
        this.clearSlot(i);
        this.inUsed[i] = 0;
      }
    }
    this.usedCount = 0;
    this.largeGroups.clear();
    this.hugeGroups.clear();
  }

  /** Drops every slot not marked global (a CR3 load, SDM 4.10.4.1). */
  flushNonGlobal(): void {
    this.dropWhere((i) => (this.flags[i]! & SLOT_GLOBAL) === 0);
  }

  /** Drops the write tags of every slot whose page is host frame `hfn`. */
  revokeWrite(hfn: number): void {
    const t3 = this.tags;
    for (let k = 0; k < this.usedCount; k++) {
      const i = this.used[k]!;
      if (this.vpn[i] !== -1 && this.hpa[i]! >>> 12 === hfn) {
        t3[KIND_W]![i] = -1;
        t3[3 + KIND_W]![i] = -1;
        t3[6 + KIND_W]![i] = -1;
        this.tags32[KIND_W]![i] = -1;
        this.tags32[3 + KIND_W]![i] = -1;
        this.tags32[6 + KIND_W]![i] = -1;
      }
    }
  }

  /**
   * Gives back the write tags revokeWrite took from the slots of host frame
   * `hfn` (its watch ended): each slot gets the write tags its rights and
   * the mode's tag mask at its fill allow, as a fill without the watch
   * would have given it.
   */
  restoreWrite(hfn: number): void {
    const t3 = this.tags;
    for (let k = 0; k < this.usedCount; k++) {
      const i = this.used[k]!;
      const vpn = this.vpn[i]!;
      if (vpn !== -1 && this.hpa[i]! >>> 12 === hfn) {
        const m = this.allow[this.rights[i]!]! & this.modeTags[i]!;
        const v32 = vpn < 1048576 ? vpn : -1;
        for (let c = 0; c < 3; c++) {
          const bit = c * 3 + KIND_W;
          if (m & (1 << bit)) {
            t3[bit]![i] = vpn;
            this.tags32[bit]![i] = v32;
          }
        }
      }
    }
  }

  /** Drops every slot whose page is host frame `hfn`. */
  dropFrame(hfn: number): void {
    this.dropWhere((i) => this.hpa[i]! >>> 12 === hfn);
  }

  private dropWhere(pred: (i: number) => boolean): void {
    let keep = 0;
    this.largeGroups.clear();
    this.hugeGroups.clear();
    for (let k = 0; k < this.usedCount; k++) {
      const i = this.used[k]!;
      if (this.vpn[i] === -1 || pred(i)) {
        this.clearSlot(i);
        this.inUsed[i] = 0;
      } else {
        this.used[keep++] = i;
        const f = this.flags[i]!;
        if (f & SLOT_LARGE) {
          if (f & SLOT_HUGE) this.hugeGroups.add(Math.floor(this.vpn[i]! / 262144));
          else this.largeGroups.add(Math.floor(this.vpn[i]! / 1024));
        }
      }
    }
    this.usedCount = keep;
  }

  /** Number of slots holding a page. */
  occupancy(): number {
    let n = 0;
    for (let k = 0; k < this.usedCount; k++) if (this.vpn[this.used[k]!] !== -1) n++;
    return n;
  }
}
