/**
 * shadow: the hypervisor keeps shadow page tables (gva -> hpa, x86-64
 * format, in host memory) that the "hardware" walks, and keeps them in step
 * with the guest's own tables by write-protecting them. Modeled on KVM's
 * shadow MMU (Documentation/virt/kvm/x86/mmu.rst):
 *
 * - Shadow pages are built lazily on hidden page faults. A shadow page is
 *   identified by the guest frame it shadows plus a role: level, quadrant
 *   (a 32-bit guest table is wider than a 512-entry shadow table), the
 *   guest's cumulative access above it, guest format, CR0.WP, EFER.NXE,
 *   CR4.PSE and the SMEP/SMAP-without-WP bits. A mode change selects other
 *   shadow pages instead of throwing all away.
 * - Every guest frame that has a shadow page is write-protected: writes to
 *   it (from the CPU or a device, through the same memory map) reach
 *   onWatchedWrite, which zaps the affected shadow entries. A page written
 *   too often without being used as a page table (write flooding), or
 *   written misaligned, is unshadowed.
 * - Accessed and dirty bits are emulated: a shadow entry exists only after a
 *   guest walk set the accessed bits, and is writable only once the guest
 *   entry is dirty.
 * - Guest large pages are shadowed by small pages ("direct" shadow pages
 *   keyed by the guest frame they map), because guest RAM sits on scattered
 *   4 KiB host frames.
 * - Out-of-sync leaf tables (policy, on by default): a write to a shadowed
 *   last-level table unprotects it instead of trapping every write; its
 *   shadow entries are resynchronized at INVLPG (one entry), CR3 load and TLB
 *   flush (all), which is when the architecture requires the guest to expect
 *   its change to be visible (SDM 4.10.4).
 * - A root cache keeps the current root and `rootCache` previous ones, so
 *   switching between processes' CR3 values does not rebuild.
 * - A reverse map (guest frame -> leaf shadow entries) makes
 *   write-protection a list walk, and parent lists make zapping one.
 * - Shadow memory has a budget; past it the least recently used shadow pages
 *   are reclaimed.
 */
import {
  C_ACCESS_FETCH, C_ACCESS_READ, C_ACCESS_WRITE, C_EXIT, C_EXIT_CR, C_EXIT_CR3, C_EXIT_GUEST_PF, C_EXIT_HIDDEN_PF,
  C_EXIT_INVLPG, C_EXIT_INVPCID, C_EXIT_MMIO, C_EXIT_PT_WRITE, C_FLOOD, C_MISALIGNED, C_ROOT_HIT, C_ROOT_MISS, C_SP_CREATE,
  C_SP_RECLAIM, C_SP_RESYNC, C_SP_RESYNC_ENTRIES, C_SP_STALE, C_GUEST_AD, C_SP_UNSYNC, C_SP_ZAP, C_SPTE_ZAP, C_UNPROTECT, C_WALK, C_WALK_REFS,
  C_WALK_REFS_SHADOW, C_WRPROTECT, C_EMULATED_WRITE,
} from '../counters.js';
import { FRAME_SHADOW, PAGE_SIZE } from '../host/memory.js';
import {
  ACC_FETCH, ACC_RMW_R, ACC_RMW_W, ACC_USER, ACC_WRITE, CR0_WP, CR4_PKE, CR4_PSE, CR4_SMAP, CR4_SMEP, EFER_NXE, PTE_A, PTE_D, PTE_G, PTE_HI_XD,
  PTE_P, PTE_PS, PTE_RW, PTE_US,
} from '../paging/bits.js';
import { FMT_32, FMT_L4, FMT_L5, FMT_NONE, FMT_PAE, hostWalkContext, type WalkContext } from '../paging/format.js';
import { permissionFault, type TablePort } from '../paging/walker.js';
import { addAccesses, HardwareTlb, TLB_MISS, WalkCaches } from '../tlb/hardware.js';
import { ALL_TAGS, SLOT_HUGE, SLOT_LARGE, W_TAGS } from '../tlb/soft.js';
import { WATCH_SHADOW } from '../watch.js';
import { FILL_FAULT, FILL_MMIO, FILL_OK, PG_CONTROLS, PG_FORMAT, PG_GLOBAL, REPEATS_BY_KIND, REPEATS_NONE, type Mode, type ModeHost, type Translation } from './mode.js';
import { guestWalk, rawLeafPkey } from './guest-walk.js';
import { LinkPool } from './link-pool.js';
import { dumpTable } from './dump.js';

export interface ShadowOptions {
  /** let written last-level tables go out of sync instead of trapping each write (default true) */
  unsync?: boolean;
  /** previous roots kept besides the current one (default 4) */
  rootCache?: number;
  /** shadow-page budget (default: 20 per 1000 guest frames, at least 256) */
  maxPages?: number;
  /** trapped writes to a shadow page, without it being used in between, that unshadow it (default 3) */
  floodThreshold?: number;
}

// ---- role bits ----
const ROLE_LEVEL = 7;
const ROLE_QUAD_SHIFT = 3;
const ROLE_DIRECT = 1 << 5;
const ROLE_ACCESS_SHIFT = 6; // 3 bits: ACCESS_W, ACCESS_U, ACCESS_X
const ROLE_FMT_SHIFT = 9;
const ROLE_WP = 1 << 12;
const ROLE_NXE = 1 << 13;
const ROLE_PSE = 1 << 14;
const ROLE_SMEP_NOWP = 1 << 15;
const ROLE_SMAP_NOWP = 1 << 16;
const ROLE_SYNTH = 1 << 17;
const ROLE_INVALID = 1 << 18;
// direct pages below a guest large page: the large entry's attributes
const ROLE_DIRTY = 1 << 19;
const ROLE_GLOBAL = 1 << 20;
const ROLE_HUGE = 1 << 21;
const ROLE_PKEY_SHIFT = 22; // 4 bits
/** the role bits that come from the paging controls (baseRole) */
const ROLE_BASE_MASK = (7 << ROLE_FMT_SHIFT) | ROLE_WP | ROLE_NXE | ROLE_PSE | ROLE_SMEP_NOWP | ROLE_SMAP_NOWP;
const ACCESS_W = 1;
const ACCESS_U = 2;
const ACCESS_X = 4;
const ACCESS_ALL = 7;

// ---- shadow leaf software bits (x86-64 entry, available bits) ----
// A leaf keeps the guest's view of the translation next to its own
// (hardware) rights, which may be fewer (write protection, clean pages):
//
//   low dword   bit 9: guest G    bit 10: guest large page    bit 11: guest D
//   high dword  bit 20 (63-bit 52): 1 GiB page   bits 21..23: guest U/S, R/W, XD
//               (cumulative over the levels)     bits 27..30: the guest PKEY
//
/** the guest leaf has G (global while CR4.PGE is set) */
const SPTE_GUEST_GLOBAL = 1 << 9;
/** the guest mapped this page with a 2/4 MiB or 1 GiB page */
const SPTE_GUEST_LARGE = 1 << 10;
/** the guest leaf is dirty */
const SPTE_GUEST_DIRTY = 1 << 11;
/** high dword: the guest page is 1 GiB */
const SPTE_HI_GUEST_HUGE = 1 << 20;
const SPTE_HI_GUEST_US = 1 << 21;
const SPTE_HI_GUEST_RW = 1 << 22;
const SPTE_HI_GUEST_XD = 1 << 23;
/** the fast-path tags of the user context (see tlb/soft.ts) */
const USER_TAGS = 0x1c0;
/** the fetch tags of all contexts */
const X_TAGS = 0x124;

/** The fast-path tags a leaf's hardware rights allow: the rest exit. */
function physicalTags(leafLo: number, leafHi: number): number {
  let m = ALL_TAGS;
  if (!(leafLo & PTE_RW)) m &= ~W_TAGS;
  if (!(leafLo & PTE_US)) m &= ~USER_TAGS;
  if (leafHi < 0) m &= ~X_TAGS;
  return m;
}
const SPTE_FRAME = 0xfffff000 | 0;


/** An entry of the root cache. */
interface RootSlot {
  key: string;
  /** shadow page at the top level (walked from the hardware's CR3) */
  top: number;
  /** synthetic pages owned by this slot (32-bit and PAE guests), freed with it */
  synth: number[];
}

export class ShadowMode implements Mode {
  readonly name = 'shadow' as const;
  private readonly unsyncOn: boolean;
  private readonly rootCacheSize: number;
  readonly maxPages: number;
  private readonly floodThreshold: number;
  // ---- shadow pages: parallel arrays indexed by shadow-page id ----
  private readonly cap: number;
  private readonly spHfn: Int32Array;
  private readonly spGfn: Float64Array;
  private readonly spRole: Int32Array;
  private readonly spUnsync: Uint8Array;
  private readonly spFlood: Uint8Array;
  private readonly spPin: Int32Array;
  private readonly spNext: Int32Array; // next in the chain of the same guest frame
  private readonly spParents: Int32Array; // head of the parent list
  private readonly lruPrev: Int32Array;
  private readonly lruNext: Int32Array;
  private lruHead = -1; // most recently used
  private lruTail = -1;
  private readonly freeIds: number[] = [];
  private live = 0; // shadow pages counted against the budget (all but synthetic)
  private synthLive = 0;
  private readonly spOfHfn: Int32Array;
  /**
   * For each leaf of a guest page table (sp*512+idx, two int32 per entry):
   * the guest entry it was built from. An out-of-sync leaf is used only while
   * the guest entry still holds exactly this.
   */
  private readonly snap: Int32Array;
  // ---- per guest frame ----
  private readonly gfnHead: Int32Array; // chain of table shadow pages
  private readonly gfnCount: Int32Array; // table shadow pages (the frame is protected while > 0 and not unsync)
  private readonly gfnUnsync: Uint8Array;
  private readonly directHead = new Map<number, number>();
  private readonly rmapHead: Int32Array;
  private readonly rmap = new LinkPool(4096);
  private readonly parents = new LinkPool(1024);
  private readonly unsyncList = new Set<number>();
  /** guest frames that have at least one table shadow page */
  private shadowedFrames = 0;
  // ---- roots ----
  private roots: RootSlot[] = [];
  private started = false;
  private baseRole = 0;
  private shadowTop = 0;
  /** guest top table level (0 when paging is off; PAE: 2, its PDPTEs are registers) */
  private guestTop = 0;
  private sctx: WalkContext;
  private readonly mapPort: TablePort;
  // ---- modeled hardware ----
  private readonly hw: HardwareTlb;
  /** model() counts the access and looks it up at 4 KiB in hw (Mode.repeats) */
  readonly repeats: number;
  private readonly pwc: WalkCaches;
  /** scratch: cumulative guest access above each level, for the current install */
  private readonly accessAbove = new Int32Array(7);

  constructor(private readonly mmu: ModeHost, options: ShadowOptions) {
    this.unsyncOn = options.unsync ?? true;
    this.rootCacheSize = options.rootCache ?? 4;
    this.maxPages = options.maxPages ?? 256;
    this.floodThreshold = options.floodThreshold ?? 3;
    if (!Number.isInteger(this.rootCacheSize) || this.rootCacheSize < 0 || this.rootCacheSize > 64) throw new RangeError(`shadow.rootCache ${this.rootCacheSize} is outside 0..64`);
    if (!Number.isInteger(this.maxPages) || this.maxPages < 16) throw new RangeError(`shadow.maxPages ${this.maxPages} is below 16`);
    if (!Number.isInteger(this.floodThreshold) || this.floodThreshold < 1) throw new RangeError(`shadow.floodThreshold ${this.floodThreshold} must be a positive integer`);
    this.cap = this.maxPages + 3 * (this.rootCacheSize + 2) + 16;
    this.spHfn = new Int32Array(this.cap).fill(-1);
    this.spGfn = new Float64Array(this.cap);
    this.spRole = new Int32Array(this.cap);
    this.spUnsync = new Uint8Array(this.cap);
    this.spFlood = new Uint8Array(this.cap);
    this.spPin = new Int32Array(this.cap);
    this.spNext = new Int32Array(this.cap).fill(-1);
    this.spParents = new Int32Array(this.cap).fill(-1);
    this.lruPrev = new Int32Array(this.cap).fill(-1);
    this.lruNext = new Int32Array(this.cap).fill(-1);
    for (let i = this.cap - 1; i >= 0; i--) this.freeIds.push(i);
    this.spOfHfn = new Int32Array(mmu.host.frames).fill(-1);
    this.snap = new Int32Array(this.cap * 1024);
    const frames = mmu.map.gfnCount;
    this.gfnHead = new Int32Array(frames).fill(-1);
    this.gfnCount = new Int32Array(frames);
    this.gfnUnsync = new Uint8Array(frames);
    this.rmapHead = new Int32Array(frames).fill(-1);
    this.sctx = hostWalkContext(4, mmu.state);
    this.mapPort = { entryHpa: (gpa: number) => mmu.map.hpaOf(gpa) };
    this.hw = new HardwareTlb(mmu.tlbGeometry, mmu.counters);
    this.repeats = this.hw.l1For4k ? REPEATS_BY_KIND : REPEATS_NONE;
    this.pwc = new WalkCaches(mmu.tlbGeometry.pwc, mmu.counters);
  }

  // =====================================================================
  // Fill: the hardware walks the shadow table; a miss is a VM exit
  // =====================================================================

  /**
   * A software-TLB miss. The "hardware" walks the shadow table; a leaf that
   * allows the access answers it without an exit, and a leaf answers only
   * what a fresh guest walk would answer: every guest entry above it is
   * write-protected and unchanged since the leaf was built, with its accessed
   * bit set, and an out-of-sync leaf is checked against the guest entry it
   * was built from (a leaf the guest changed without invalidating is dropped
   * and rebuilt, never used). Anything else is a VM exit: the hypervisor
   * walks the guest's tables (setting A/D) and installs the path.
   */
  fill(lo: number, hi: number, acc: number, t: Translation): number {
    const mmu = this.mmu;
    const leaf = this.shadowLeaf(lo, hi);
    if (leaf >= 0) {
      const i32 = mmu.host.i32;
      const e = this.spHfn[leaf >>> 9]! * 1024 + (leaf & 511) * 2;
      if (this.spUnsync[leaf >>> 9] && !this.leafCurrent(leaf >>> 9, leaf & 511)) {
        mmu.counters[C_SP_STALE]++;
        this.dropEntry(leaf >>> 9, leaf & 511);
      } else if (this.leafAnswers(i32[e]!, i32[e + 1]!, acc)) {
        this.recordLeaf(i32[e]!, i32[e + 1]!, lo, t);
        return FILL_OK;
      }
    }
    // ---- VM exit: the hypervisor walks the guest's table ----
    let gfn: number;
    if (mmu.state.format === FMT_NONE) {
      t.reset(lo >>> 0);
    } else {
      const w = mmu.walker;
      const adBefore = mmu.counters[C_GUEST_AD]!;
      if (!guestWalk(mmu, this.mapPort, lo, hi, acc, t)) {
        this.exit(C_EXIT_GUEST_PF);
        return FILL_FAULT;
      }
      // A write walk that set A/D may have set the leaf's D: leaves built
      // from that entry while clean are stale now.
      if (acc & ACC_WRITE && mmu.counters[C_GUEST_AD] !== adBefore && w.entryHpa[w.level]! >= 0) this.dirtied(w.entryAddr[w.level]!);
    }
    t.tlbShift = 12;
    gfn = Math.floor(t.gpa / PAGE_SIZE);
    const hfn = gfn < mmu.map.gfnCount ? mmu.map.hfnFor(gfn) : -1;
    if (hfn < 0) {
      this.exit(C_EXIT_MMIO);
      return FILL_MMIO;
    }
    const write = (acc & ACC_WRITE) !== 0;
    let emulate = false;
    if (write && this.gfnCount[gfn]! > 0 && !this.gfnUnsync[gfn]) {
      if (this.canUnsync(gfn)) this.unsyncFrame(gfn);
      else emulate = true;
    }
    // A write to ROM: the shadow leaf of a ROM frame is read-only and the
    // write is emulated as a device access (the Mmu drops it).
    const rom = write && mmu.map.rom !== null && mmu.map.rom[gfn] === 1;
    // The write of a read-modify-write whose read took this exit already
    // (the instruction was emulated there): no second exit.
    if (!((emulate || rom) && acc & ACC_RMW_W)) this.exit(emulate ? C_EXIT_PT_WRITE : rom ? C_EXIT_MMIO : C_EXIT_HIDDEN_PF);
    t.hpa = hfn * PAGE_SIZE + (lo & 0xfff);
    const e = this.install(lo, hi, acc, gfn, hfn);
    // The installed leaf's own rights decide which accesses skip the exit
    // next time; without a leaf (an emulated write) only reads do.
    t.tagMask = e < 0 ? ALL_TAGS & ~W_TAGS : physicalTags(mmu.host.i32[e]!, mmu.host.i32[e + 1]!);
    return FILL_OK;
  }

  /**
   * An access the guest's TLB allows but whose fast-path tag this mode
   * withheld: a write to a write-protected guest table is an exit and an
   * emulated write; a user access to a page the CR0.WP=0 trick made
   * supervisor-only is a hidden page fault. A read-modify-write takes its
   * one exit at its read (ACC_RMW_R, checked as a write), where the
   * hypervisor emulates the whole instruction, as a shadow MMU does; its
   * write (ACC_RMW_W) takes none.
   */
  assist(_lo: number, _hi: number, acc: number, gpa: number): void {
    const gfn = Math.floor(gpa / PAGE_SIZE);
    if (acc & ACC_WRITE) {
      if (acc & ACC_RMW_W) return;
      if (gfn < this.gfnCount.length && this.gfnCount[gfn]! > 0 && !this.gfnUnsync[gfn]) this.exit(C_EXIT_PT_WRITE);
      else if (this.mmu.map.rom !== null && this.mmu.map.rom[gfn] === 1) this.exit(C_EXIT_MMIO);
    } else {
      this.exit(C_EXIT_HIDDEN_PF);
    }
  }

  /** The shadow leaf for gvaHi:gvaLo as sp*512+idx, or -1 when the shadow walk stops short. */
  private shadowLeaf(lo: number, hi: number): number {
    const i32 = this.mmu.host.i32;
    let sp = this.currentTop();
    for (let level = this.shadowTop; level > 1; level--) {
      const v = i32[this.spHfn[sp]! * 1024 + shadowIndex(lo, hi, level) * 2]!;
      if (!(v & PTE_P)) return -1;
      sp = this.spOfHfn[(v >>> 12) & 0xfffff]!;
    }
    const idx = shadowIndex(lo, hi, 1);
    return i32[this.spHfn[sp]! * 1024 + idx * 2]! & PTE_P ? sp * 512 + idx : -1;
  }

  /**
   * Whether a leaf answers access `acc` as a fresh guest walk would, with no
   * A/D bit to set: the guest's rights (kept in the leaf, checked against the
   * current CR0.WP, SMEP, SMAP, PKE and PKRU) allow it, a write finds the
   * guest's dirty bit set, and the leaf's own (hardware) rights allow it.
   */
  private leafAnswers(leafLo: number, leafHi: number, acc: number): boolean {
    const ctx = this.mmu.state.gctx;
    const gUs = (leafHi >>> 21) & 1, gRw = (leafHi >>> 22) & 1, gXd = (leafHi >>> 23) & 1;
    const pkey = ctx.pke ? (leafHi >>> 27) & 15 : 0;
    if (permissionFault(ctx, acc, gUs, gRw, gXd, pkey) !== 0) return false;
    if (acc & ACC_WRITE) return (leafLo & SPTE_GUEST_DIRTY) !== 0 && (leafLo & PTE_RW) !== 0;
    if (acc & ACC_USER && !(leafLo & PTE_US)) return false;
    if (acc & ACC_FETCH && leafHi < 0) return false;
    return true;
  }

  /** Writes the translation a leaf holds into t (guest rights from the leaf, tags from its hardware rights). */
  private recordLeaf(leafLo: number, leafHi: number, lo: number, t: Translation): void {
    const mmu = this.mmu;
    const hfn = (leafLo >>> 12) & 0xfffff;
    const off = lo & 0xfff;
    t.hpa = hfn * PAGE_SIZE + off;
    t.gpa = mmu.map.gfnOf[hfn]! * PAGE_SIZE + off;
    t.us = (leafHi >>> 21) & 1;
    t.rw = (leafHi >>> 22) & 1;
    t.xd = (leafHi >>> 23) & 1;
    t.pkey = mmu.state.gctx.pke ? (leafHi >>> 27) & 15 : 0;
    t.dirty = (leafLo >>> 11) & 1;
    t.global = mmu.state.gctx.pge && leafLo & SPTE_GUEST_GLOBAL ? 1 : 0;
    t.large = leafLo & SPTE_GUEST_LARGE ? SLOT_LARGE | (leafHi & SPTE_HI_GUEST_HUGE ? SLOT_HUGE : 0) : 0;
    t.tlbShift = 12;
    t.tagMask = physicalTags(leafLo, leafHi);
    t.errorCode = 0;
  }

  private exit(reason: number): void {
    const c = this.mmu.counters;
    c[C_EXIT]++;
    c[reason]++;
    if (!this.mmu.vpid) {
      // Without VPID, VM entry and exit flush the TLB and walk caches.
      this.hw.flushAll();
      this.pwc.flush(-1);
    }
  }

  // =====================================================================
  // Building the shadow path for one address (after a successful guest walk)
  // =====================================================================

  /**
   * Links shadow pages from the root down to a leaf entry for gvaHi:gvaLo,
   * from the guest walk in mmu.walker (or the identity when paging is off),
   * mapping guest frame gfn -> host frame hfn. An existing link whose child
   * no longer matches what the guest walk asks for (another table, another
   * role) is replaced. Returns the host i32 index of the leaf entry, or -1
   * when no shadow entry can express the access (the caller emulates it).
   */
  private install(lo: number, hi: number, acc: number, gfn: number, hfn: number): number {
    const mmu = this.mmu;
    const w = mmu.walker;
    this.makeRoom(6);
    const paging = mmu.state.format !== FMT_NONE;
    // Guest leaf, in shadow levels: the guest table levels map one to one onto
    // shadow levels (a 32-bit table spans two or four shadow pages: quadrants).
    const gLeaf = paging ? w.level : this.shadowTop + 1;
    // Cumulative guest access above each level, and through the leaf.
    let and = -1;
    let xd = 0;
    const nxe = mmu.state.gctx.nxe;
    for (let l = this.guestTop; l >= 1; l--) {
      this.accessAbove[l] = ((and >>> 1) & 1 ? ACCESS_W : 0) | ((and >>> 2) & 1 ? ACCESS_U : 0) | (xd ? 0 : ACCESS_X);
      if (paging && l >= gLeaf && !(mmu.state.format === FMT_PAE && l === 3)) {
        and &= w.lo[l]!;
        if (nxe) xd |= w.hi[l]! >>> 31;
      }
    }
    const leafAccess = paging ? ((and >>> 1) & 1 ? ACCESS_W : 0) | ((and >>> 2) & 1 ? ACCESS_U : 0) | (xd ? 0 : ACCESS_X) : ACCESS_ALL;
    // What a direct page below a guest large page depends on besides the
    // region: the large entry's dirty and global flags, protection key and
    // size. Two different large entries never share a direct page, so its
    // leaves can never bring back the attributes of a rewritten entry.
    let directAttrs = 0;
    if (paging && gLeaf > 1) {
      const leafLo = w.lo[gLeaf]!;
      directAttrs = (leafLo & PTE_D ? ROLE_DIRTY : 0) | (leafLo & PTE_G ? ROLE_GLOBAL : 0)
        | (rawLeafPkey(mmu) << ROLE_PKEY_SHIFT) | (w.pageShift >= 30 ? ROLE_HUGE : 0);
    }
    let sp = this.currentTop();
    const i32 = mmu.host.i32;
    for (let level = this.shadowTop; level > 1; level--) {
      const idx = shadowIndex(lo, hi, level);
      const e = this.spHfn[sp]! * 1024 + idx * 2;
      const cl = level - 1;
      if (paging && cl > this.guestTop) {
        // Above a 32-bit or PAE guest's page directory: the root's own
        // synthetic tables, built with the root.
        sp = this.spOfHfn[(i32[e]! >>> 12) & 0xfffff]!;
        continue;
      }
      let wantGfn: number;
      let wantRole: number;
      const direct = cl < gLeaf;
      if (!direct) {
        // A guest table at level cl.
        wantGfn = Math.floor(w.tableAddr[cl]! / PAGE_SIZE);
        const quad = mmu.state.format === FMT_32 ? (cl === 2 ? lo >>> 30 : (lo >>> 21) & 1) : 0;
        wantRole = this.baseRole | cl | (quad << ROLE_QUAD_SHIFT) | (this.accessAbove[cl]! << ROLE_ACCESS_SHIFT);
      } else {
        // Below a guest large page (or with paging off): a direct page for the
        // guest-physical region this entry covers.
        const regionFrames = 2 ** (9 * cl);
        wantGfn = Math.floor(gfn / regionFrames) * regionFrames;
        wantRole = this.baseRole | cl | ROLE_DIRECT | (leafAccess << ROLE_ACCESS_SHIFT) | directAttrs;
      }
      const spte = i32[e]!;
      if (spte & PTE_P) {
        const child = this.spOfHfn[(spte >>> 12) & 0xfffff]!;
        if (this.spRole[child] === wantRole && this.spGfn[child] === wantGfn) {
          this.spFlood[child] = 0;
          this.touch(child);
          sp = child;
          continue;
        }
        this.dropEntry(sp, idx);
      }
      const child = this.getPage(wantGfn, wantRole, direct);
      this.link(sp, idx, child);
      sp = child;
    }
    // ---- the leaf entry ----
    let us = 1, rw = 1, dirty = 1, global = 0, large = 0, huge = 0, pkey = 0, glo = 0, ghi = 0;
    let nx = 0;
    if (paging) {
      us = w.us; rw = w.rw; nx = w.xd; dirty = w.dirty;
      global = w.lo[w.level]! & PTE_G ? 1 : 0;
      pkey = rawLeafPkey(mmu);
      large = w.level > 1 ? 1 : 0;
      huge = w.pageShift >= 30 ? 1 : 0;
      glo = w.lo[1]!;
      ghi = w.hi[1]!;
    }
    let sUs = us;
    let sRw = rw && dirty && !(this.gfnCount[gfn]! > 0 && !this.gfnUnsync[gfn]) ? 1 : 0;
    let sNx = nx;
    const supWrite = (acc & (ACC_WRITE | ACC_USER)) === ACC_WRITE;
    if (supWrite && !rw && !mmu.state.gctx.wp && paging) {
      // CR0.WP=0 lets supervisor writes through read-only pages. The
      // hardware runs with WP=1, so make the entry writable for supervisor
      // only: a user page loses U (user accesses exit and restore it); with
      // SMEP it gains NX so supervisor fetches still exit; with SMAP the
      // trick would let supervisor reads through, so the write is emulated.
      if (us && mmu.state.gctx.smap) return -1;
      if (!(this.gfnCount[gfn]! > 0 && !this.gfnUnsync[gfn])) sRw = 1;
      if (us) {
        sUs = 0;
        if (mmu.state.gctx.smep) sNx = 1;
      }
    }
    const idx = shadowIndex(lo, hi, 1);
    const lo1 = (hfn * PAGE_SIZE) | PTE_P | PTE_A | (sRw ? PTE_RW | PTE_D : 0) | (sUs ? PTE_US : 0)
      | (global ? SPTE_GUEST_GLOBAL : 0) | (large ? SPTE_GUEST_LARGE : 0) | (dirty ? SPTE_GUEST_DIRTY : 0);
    const hi1 = (sNx ? PTE_HI_XD : 0) | (pkey << 27) | (huge ? SPTE_HI_GUEST_HUGE : 0)
      | (us ? SPTE_HI_GUEST_US : 0) | (rw ? SPTE_HI_GUEST_RW : 0) | (nx ? SPTE_HI_GUEST_XD : 0);
    this.setLeaf(sp, idx, lo1, hi1, gfn, glo, ghi);
    return this.spHfn[sp]! * 1024 + idx * 2;
  }

  // =====================================================================
  // Shadow pages
  // =====================================================================

  /** Finds the shadow page for (gfn, role) or creates it (write-protecting gfn for table pages). */
  private getPage(gfn: number, role: number, direct: boolean): number {
    let sp = direct ? this.directHead.get(gfn) ?? -1 : this.gfnHead[gfn]!;
    for (; sp >= 0; sp = this.spNext[sp]!) {
      if (this.spRole[sp] === role) {
        this.touch(sp);
        this.spFlood[sp] = 0;
        return sp;
      }
    }
    if (!direct && this.gfnUnsync[gfn]) this.syncFrame(gfn);
    sp = this.allocPage(gfn, role);
    if (direct) {
      this.spNext[sp] = this.directHead.get(gfn) ?? -1;
      this.directHead.set(gfn, sp);
    } else {
      this.spNext[sp] = this.gfnHead[gfn]!;
      this.gfnHead[gfn] = sp;
      if (this.gfnCount[gfn]!++ === 0) {
        this.shadowedFrames++;
        this.protectFrame(gfn);
      }
    }
    this.lruPush(sp);
    this.live++;
    return sp;
  }

  private allocPage(gfn: number, role: number): number {
    const sp = this.freeIds.pop();
    if (sp === undefined) throw new Error(`shadow MMU: no free shadow-page ids (capacity ${this.cap})`);
    const hfn = this.mmu.host.allocFrame(FRAME_SHADOW);
    if (hfn < 0) throw new RangeError('host memory exhausted while allocating a shadow page');
    this.spHfn[sp] = hfn;
    this.spGfn[sp] = gfn;
    this.spRole[sp] = role;
    this.spUnsync[sp] = 0;
    this.spFlood[sp] = 0;
    this.spPin[sp] = 0;
    this.spNext[sp] = -1;
    this.spParents[sp] = -1;
    this.spOfHfn[hfn] = sp;
    this.mmu.counters[C_SP_CREATE]++;
    return sp;
  }

  /** Points entry idx of sp at child (a non-leaf entry: all rights, the leaf decides). */
  private link(sp: number, idx: number, child: number): void {
    const e = this.spHfn[sp]! * 1024 + idx * 2;
    const i32 = this.mmu.host.i32;
    i32[e] = (this.spHfn[child]! * PAGE_SIZE) | PTE_P | PTE_RW | PTE_US | PTE_A;
    i32[e + 1] = 0;
    this.spParents[child] = this.parents.push(this.spParents[child]!, sp * 512 + idx);
  }

  /**
   * Writes a leaf entry mapping guest frame gfn, keeping the reverse map
   * right, and remembers the guest entry (glo, ghi) it was built from.
   */
  private setLeaf(sp: number, idx: number, lo: number, hi: number, gfn: number, glo: number, ghi: number): void {
    const e = this.spHfn[sp]! * 1024 + idx * 2;
    const i32 = this.mmu.host.i32;
    const old = i32[e]!;
    if (old & PTE_P && (old & SPTE_FRAME) !== (lo & SPTE_FRAME)) this.dropEntry(sp, idx);
    if (!(i32[e]! & PTE_P)) this.rmapHead[gfn] = this.rmap.push(this.rmapHead[gfn]!, sp * 512 + idx);
    i32[e] = lo;
    i32[e + 1] = hi;
    const k = sp * 1024 + idx * 2;
    this.snap[k] = glo;
    this.snap[k + 1] = ghi;
  }

  /** Whether the guest entry that leaf idx of table page sp shadows still holds what the leaf was built from. */
  private leafCurrent(sp: number, idx: number): boolean {
    const role = this.spRole[sp]!;
    if (role & ROLE_DIRECT) return true;
    const legacy = ((role >>> ROLE_FMT_SHIFT) & 7) === FMT_32;
    const gidx = legacy ? ((role >>> ROLE_QUAD_SHIFT) & 3) * 512 + idx : idx;
    const h = this.mmu.map.hpaOf(this.spGfn[sp]! * PAGE_SIZE + gidx * (legacy ? 4 : 8));
    const i32 = this.mmu.host.i32;
    const glo = h < 0 ? -1 : i32[h >>> 2]!;
    const ghi = legacy ? 0 : h < 0 ? -1 : i32[(h >>> 2) + 1]!;
    const k = sp * 1024 + idx * 2;
    return glo === this.snap[k] && ghi === this.snap[k + 1];
  }

  /** Clears entry idx of sp, unlinking the child page or the reverse-map node. */
  private dropEntry(sp: number, idx: number): void {
    const e = this.spHfn[sp]! * 1024 + idx * 2;
    const i32 = this.mmu.host.i32;
    const v = i32[e]!;
    if (!(v & PTE_P)) return;
    const hfn = (v >>> 12) & 0xfffff;
    if ((this.spRole[sp]! & ROLE_LEVEL) === 1) {
      const gfn = this.mmu.map.gfnOf[hfn]!;
      this.rmapHead[gfn] = this.rmap.remove(this.rmapHead[gfn]!, sp * 512 + idx);
    } else {
      const child = this.spOfHfn[hfn]!;
      this.spParents[child] = this.parents.remove(this.spParents[child]!, sp * 512 + idx);
    }
    i32[e] = 0;
    i32[e + 1] = 0;
  }

  /**
   * Zaps a shadow page: clears its entries and every parent entry pointing at
   * it, takes it out of its chain, unprotects its guest frame when it was the
   * last, and frees it (a pinned root is only marked invalid; its slot frees
   * it later).
   */
  private zap(sp: number): void {
    const role = this.spRole[sp]!;
    if (role & ROLE_INVALID) return;
    for (let idx = 0; idx < 512; idx++) this.dropEntry(sp, idx);
    for (const loc of this.parents.values(this.spParents[sp]!)) this.dropEntry(loc >>> 9, loc & 511);
    this.spParents[sp] = -1;
    if (!(role & ROLE_SYNTH)) {
      const gfn = this.spGfn[sp]!;
      if (role & ROLE_DIRECT) {
        const head = this.directHead.get(gfn) ?? -1;
        const next = this.unchain(head, sp);
        if (next < 0) this.directHead.delete(gfn);
        else this.directHead.set(gfn, next);
      } else {
        this.gfnHead[gfn] = this.unchain(this.gfnHead[gfn]!, sp);
        if (--this.gfnCount[gfn]! === 0) this.unprotectFrame(gfn);
      }
      this.lruRemove(sp);
      this.live--;
    }
    if (this.spUnsync[sp]) {
      this.spUnsync[sp] = 0;
      this.unsyncList.delete(sp);
      this.recheckUnsync(this.spGfn[sp]!);
    }
    this.mmu.counters[C_SP_ZAP]++;
    if (this.spPin[sp]! > 0) {
      this.spRole[sp] = role | ROLE_INVALID;
      return;
    }
    this.freePage(sp);
  }

  private freePage(sp: number): void {
    const hfn = this.spHfn[sp]!;
    this.mmu.host.freeFrame(hfn);
    this.spOfHfn[hfn] = -1;
    this.spHfn[sp] = -1;
    if (this.spRole[sp]! & ROLE_SYNTH) this.synthLive--;
    this.spRole[sp] = ROLE_INVALID;
    this.freeIds.push(sp);
  }

  /** Removes sp from a chain starting at head; returns the new head. */
  private unchain(head: number, sp: number): number {
    if (head === sp) return this.spNext[sp]!;
    for (let p = head; p >= 0; p = this.spNext[p]!) {
      if (this.spNext[p] === sp) {
        this.spNext[p] = this.spNext[sp]!;
        break;
      }
    }
    return head;
  }

  /** Reclaims least recently used shadow pages until `need` more fit in the budget. */
  private makeRoom(need: number): void {
    let sp = this.lruTail;
    while (this.live + need > this.maxPages && sp >= 0) {
      const prev = this.lruPrev[sp]!;
      if (this.spPin[sp] === 0) {
        this.zap(sp);
        this.mmu.counters[C_SP_RECLAIM]++;
      }
      sp = prev;
    }
  }

  private touch(sp: number): void {
    if (this.lruHead === sp || this.spRole[sp]! & ROLE_SYNTH) return;
    this.lruRemove(sp);
    this.lruPush(sp);
  }

  private lruPush(sp: number): void {
    this.lruPrev[sp] = -1;
    this.lruNext[sp] = this.lruHead;
    if (this.lruHead >= 0) this.lruPrev[this.lruHead] = sp;
    this.lruHead = sp;
    if (this.lruTail < 0) this.lruTail = sp;
  }

  private lruRemove(sp: number): void {
    const p = this.lruPrev[sp]!, n = this.lruNext[sp]!;
    if (p >= 0) this.lruNext[p] = n; else this.lruHead = n;
    if (n >= 0) this.lruPrev[n] = p; else this.lruTail = p;
    this.lruPrev[sp] = -1;
    this.lruNext[sp] = -1;
  }

  // =====================================================================
  // Write protection, trapped writes, out-of-sync pages
  // =====================================================================

  /** gfn became a page table: remove write access from every leaf entry mapping it, and watch it. */
  private protectFrame(gfn: number): void {
    const i32 = this.mmu.host.i32;
    for (const loc of this.rmap.values(this.rmapHead[gfn]!)) {
      const e = this.spHfn[loc >>> 9]! * 1024 + (loc & 511) * 2;
      i32[e] = i32[e]! & ~PTE_RW;
    }
    this.mmu.setWatch(gfn, WATCH_SHADOW, true);
    this.mmu.counters[C_WRPROTECT]++;
  }

  /** The last table shadow page of gfn is gone: writes to it no longer trap. */
  private unprotectFrame(gfn: number): void {
    if (this.gfnUnsync[gfn]) this.gfnUnsync[gfn] = 0;
    else this.mmu.setWatch(gfn, WATCH_SHADOW, false);
    this.shadowedFrames--;
    this.mmu.counters[C_UNPROTECT]++;
  }

  private canUnsync(gfn: number): boolean {
    if (!this.unsyncOn) return false;
    for (let sp = this.gfnHead[gfn]!; sp >= 0; sp = this.spNext[sp]!) {
      if ((this.spRole[sp]! & ROLE_LEVEL) !== 1) return false;
    }
    return true;
  }

  /** Lets every (last-level) shadow page of gfn go out of sync and stops trapping writes to gfn. */
  private unsyncFrame(gfn: number): void {
    for (let sp = this.gfnHead[gfn]!; sp >= 0; sp = this.spNext[sp]!) {
      if (!this.spUnsync[sp]) {
        this.spUnsync[sp] = 1;
        this.unsyncList.add(sp);
        this.mmu.counters[C_SP_UNSYNC]++;
      }
    }
    this.gfnUnsync[gfn] = 1;
    this.mmu.setWatch(gfn, WATCH_SHADOW, false);
  }

  /** After an unsync page went away: if no unsync page of gfn is left, protect it again. */
  private recheckUnsync(gfn: number): void {
    if (!this.gfnUnsync[gfn]) return;
    for (let sp = this.gfnHead[gfn]!; sp >= 0; sp = this.spNext[sp]!) if (this.spUnsync[sp]) return;
    this.gfnUnsync[gfn] = 0;
    if (this.gfnCount[gfn]! > 0) this.protectFrame(gfn);
  }

  /** Resynchronizes every out-of-sync page of gfn and write-protects it again. */
  private syncFrame(gfn: number): void {
    for (let sp = this.gfnHead[gfn]!; sp >= 0; sp = this.spNext[sp]!) if (this.spUnsync[sp]) this.syncPage(sp);
  }

  /** Resynchronizes all out-of-sync pages (CR3 load, TLB flush). */
  private syncAll(): void {
    for (const sp of [...this.unsyncList]) if (this.spUnsync[sp]) this.syncPage(sp);
  }

  /** Re-reads every guest entry an out-of-sync page shadows and fixes or drops its shadow entry. */
  private syncPage(sp: number): void {
    this.mmu.counters[C_SP_RESYNC]++;
    // A page built under other paging controls cannot be re-derived with the
    // current ones: drop its entries and let faults rebuild what is used.
    const stale = (this.spRole[sp]! & ROLE_BASE_MASK) !== this.baseRole;
    for (let idx = 0; idx < 512; idx++) {
      if (stale) this.zapEntry(sp, idx);
      else this.syncEntry(sp, idx);
    }
    this.spUnsync[sp] = 0;
    this.unsyncList.delete(sp);
    this.recheckUnsync(this.spGfn[sp]!);
  }

  /**
   * Resynchronizes leaf entry idx of a last-level table page: kept when the
   * guest entry still holds exactly what the leaf was built from, dropped
   * otherwise (the next access rebuilds it through a guest walk, setting
   * the accessed bit as the guest expects).
   */
  private syncEntry(sp: number, idx: number): void {
    const e = this.spHfn[sp]! * 1024 + idx * 2;
    if (!(this.mmu.host.i32[e]! & PTE_P)) return;
    this.mmu.counters[C_SP_RESYNC_ENTRIES]++;
    if (!this.leafCurrent(sp, idx)) this.dropEntry(sp, idx);
  }

  /**
   * A write reached a write-protected guest frame (emulated CPU write or a
   * device): drop the shadow entries of the guest entries it touched, and
   * unshadow pages that are written misaligned or too often.
   */
  onWatchedWrite(gpa: number, size: number): void {
    const gfn = Math.floor(gpa / PAGE_SIZE);
    if (gfn >= this.gfnHead.length) return;
    this.mmu.counters[C_EMULATED_WRITE]++;
    const off = gpa & 0xfff;
    const pages: number[] = [];
    for (let sp = this.gfnHead[gfn]!; sp >= 0; sp = this.spNext[sp]!) pages.push(sp);
    for (const sp of pages) {
      const role = this.spRole[sp]!;
      if (role & ROLE_INVALID || this.spHfn[sp]! < 0) continue;
      const legacy = ((role >>> ROLE_FMT_SHIFT) & 7) === FMT_32;
      const esz = legacy ? 4 : 8;
      // A write that straddles entries, or writes under 4 bytes other than
      // one byte at an entry's start, is not a page-table update (the
      // one-byte case is how an atomic bit clear looks).
      const misaligned = ((off ^ (off + size - 1)) & ~(esz - 1)) !== 0 || (size < 4 && !(size === 1 && (off & (esz - 1)) === 0));
      if (misaligned) {
        this.mmu.counters[C_MISALIGNED]++;
        this.zap(sp);
        continue;
      }
      if (++this.spFlood[sp]! >= this.floodThreshold) {
        this.mmu.counters[C_FLOOD]++;
        this.zap(sp);
        continue;
      }
      this.zapGuestEntry(sp, Math.floor(off / esz));
    }
  }

  /** Drops the shadow entries of table page sp that guest entry gidx of its frame stands behind. */
  private zapGuestEntry(sp: number, gidx: number): void {
    const role = this.spRole[sp]!;
    const level = role & ROLE_LEVEL;
    if (((role >>> ROLE_FMT_SHIFT) & 7) === FMT_32) {
      const quad = (role >>> ROLE_QUAD_SHIFT) & 3;
      if (level === 2 && gidx >>> 8 === quad) {
        this.zapEntry(sp, (gidx & 255) * 2);
        this.zapEntry(sp, (gidx & 255) * 2 + 1);
      } else if (level === 1 && gidx >>> 9 === quad) {
        this.zapEntry(sp, gidx & 511);
      }
    } else {
      this.zapEntry(sp, gidx);
    }
  }

  /**
   * The hypervisor's own guest walk set the dirty flag of the guest leaf at
   * gpa. Shadow leaves built from that entry while it was clean (through
   * other addresses or roles) would answer later misses with dirty=0 where a
   * fresh walk says 1: drop them (the walk's A/D writes reach no watcher).
   */
  private dirtied(gpa: number): void {
    const gfn = Math.floor(gpa / PAGE_SIZE);
    if (gfn >= this.gfnHead.length) return;
    const legacy = this.mmu.state.format === FMT_32;
    const gidx = Math.floor((gpa & 0xfff) / (legacy ? 4 : 8));
    for (let sp = this.gfnHead[gfn]!; sp >= 0; sp = this.spNext[sp]!) {
      if (!(this.spRole[sp]! & ROLE_INVALID) && this.spHfn[sp]! >= 0) this.zapGuestEntry(sp, gidx);
    }
  }

  private zapEntry(sp: number, idx: number): void {
    const e = this.spHfn[sp]! * 1024 + idx * 2;
    if (!(this.mmu.host.i32[e]! & PTE_P)) return;
    this.dropEntry(sp, idx);
    this.mmu.counters[C_SPTE_ZAP]++;
  }

  // =====================================================================
  // Roots
  // =====================================================================

  /** The current root's top shadow page, building or rebuilding it when needed. */
  private currentTop(): number {
    const slot = this.roots[0];
    if (slot !== undefined && !(this.spRole[slot.top]! & ROLE_INVALID)) return slot.top;
    if (slot !== undefined) this.releaseSlot(this.roots.shift()!);
    this.roots.unshift(this.buildRoot(this.rootKey()));
    return this.roots[0]!.top;
  }

  private rootKey(): string {
    const mmu = this.mmu;
    let k: string;
    switch (mmu.state.format) {
      case FMT_NONE: k = 'none'; break;
      case FMT_PAE: k = 'pae:' + Array.from(mmu.state.pdpte).join(','); break;
      default: k = `${mmu.state.format}:${mmu.state.rootGpa}`;
    }
    return `${k}/${this.baseRole}`;
  }

  /** Selects the root for the current CR3 and role: from the cache, or built. */
  private selectRoot(): void {
    const key = this.rootKey();
    const i = this.roots.findIndex((r) => r.key === key && !(this.spRole[r.top]! & ROLE_INVALID));
    if (i >= 0) {
      this.mmu.counters[C_ROOT_HIT]++;
      const [slot] = this.roots.splice(i, 1);
      this.roots.unshift(slot!);
      return;
    }
    this.mmu.counters[C_ROOT_MISS]++;
    this.roots.unshift(this.buildRoot(key));
    while (this.roots.length > this.rootCacheSize + 1) this.releaseSlot(this.roots.pop()!);
  }

  private buildRoot(key: string): RootSlot {
    const mmu = this.mmu;
    this.makeRoom(2);
    const synth: number[] = [];
    let top: number;
    if (mmu.state.format === FMT_NONE) {
      top = this.getPage(0, this.baseRole | this.shadowTop | ROLE_DIRECT | (ACCESS_ALL << ROLE_ACCESS_SHIFT), true);
    } else if (mmu.state.format === FMT_32 || mmu.state.format === FMT_PAE) {
      // Synthetic PML4 and PDPT above the guest's page directory.
      top = this.allocSynth(4);
      const pdpt = this.allocSynth(3);
      synth.push(top, pdpt);
      this.link(top, 0, pdpt);
    } else if (mmu.state.rootGpa / PAGE_SIZE < this.gfnHead.length) {
      top = this.getPage(Math.floor(mmu.state.rootGpa / PAGE_SIZE), this.baseRole | this.shadowTop | (ACCESS_ALL << ROLE_ACCESS_SHIFT), false);
    } else {
      // CR3 outside RAM: every guest walk faults, so an empty root serves.
      top = this.allocSynth(this.shadowTop);
      synth.push(top);
    }
    this.spPin[top]!++;
    return { key, top, synth };
  }

  private allocSynth(level: number): number {
    const sp = this.allocPage(-1, this.baseRole | level | ROLE_SYNTH);
    this.spPin[sp] = 1;
    this.synthLive++;
    return sp;
  }

  /** Drops a root-cache slot: unpins its top page and frees its synthetic pages. */
  private releaseSlot(slot: RootSlot): void {
    for (const sp of slot.synth) {
      this.spPin[sp] = 0;
      this.zap(sp);
    }
    if (!slot.synth.includes(slot.top)) {
      this.spPin[slot.top]!--;
      if (this.spPin[slot.top] === 0 && this.spRole[slot.top]! & ROLE_INVALID && this.spHfn[slot.top]! >= 0) this.freePage(slot.top);
    }
  }

  // =====================================================================
  // Paging events
  // =====================================================================

  onPagingChange(what: number): void {
    const mmu = this.mmu;
    // WRPKRU does not exit: the hardware checks protection keys against the
    // current PKRU at every access (here: leafAnswers reads mmu.state.gctx).
    if (this.started && (what & (PG_FORMAT | PG_CONTROLS | PG_GLOBAL)) === 0) return;
    if (this.started) this.exit(C_EXIT_CR);
    if (this.started && (what & (PG_FORMAT | PG_CONTROLS)) === 0) {
      // CR4.PGE alone: leaves keep the guest's G bit, read with the current
      // PGE when used, so only the TLBs flush (SDM 4.10.4.1), globals too.
      // In PAE paging the write also reloaded the PDPTEs (SDM 4.4.1): the
      // root follows them.
      this.syncAll();
      this.hw.flushAll();
      this.pwc.flush(-1);
      this.selectRoot();
      return;
    }
    this.started = true;
    const fmt = mmu.state.format;
    const top = fmt === FMT_L5 ? 5 : 4;
    if (top !== this.shadowTop) {
      // Between 4- and 5-level shadows no root can be reused.
      while (this.roots.length > 0) this.releaseSlot(this.roots.pop()!);
      this.shadowTop = top;
    }
    this.guestTop = fmt === FMT_NONE ? 0 : fmt === FMT_32 || fmt === FMT_PAE ? 2 : mmu.state.gctx.fmt.top;
    const g = mmu.state.gctx;
    this.baseRole = (fmt << ROLE_FMT_SHIFT) | (g.wp ? ROLE_WP : 0) | (g.nxe ? ROLE_NXE : 0)
      | (fmt === FMT_32 && mmu.state.cr4 & CR4_PSE ? ROLE_PSE : 0)
      | (!g.wp && g.smep ? ROLE_SMEP_NOWP : 0) | (!g.wp && g.smap ? ROLE_SMAP_NOWP : 0);
    this.syncAll();
    // The hardware walks shadow tables with CR0.WP=1 (see install) and the
    // guest's SMEP/SMAP/PKE; with paging off no permission applies.
    const paging = fmt !== FMT_NONE;
    this.sctx = hostWalkContext(this.shadowTop === 5 ? 5 : 4, {
      cr0: mmu.state.cr0 | CR0_WP,
      cr4: paging ? mmu.state.cr4 & ((fmt === FMT_L4 || fmt === FMT_L5 ? CR4_PKE : 0) | CR4_SMEP | CR4_SMAP) : 0,
      efer: EFER_NXE,
      pkru: mmu.state.pkru,
    });
    this.hw.flushAll();
    this.pwc.flush(-1);
    this.selectRoot();
  }

  onCr3(flush: boolean): void {
    this.exit(C_EXIT_CR3);
    this.syncAll();
    this.selectRoot();
    // The hypervisor flushes the guest's TLB context (the VPID) on a CR3
    // switch, global entries included, unless a PCID no-flush load.
    if (flush) {
      this.hw.flush(this.asid(), false);
      this.pwc.flush(this.asid());
    }
  }

  onInvlpg(lo: number, hi: number, pcid: number): void {
    this.exit(pcid < 0 ? C_EXIT_INVLPG : C_EXIT_INVPCID);
    this.hw.invalidatePage(lo, hi, this.asid(), false);
    this.pwc.flush(this.asid());
    if (pcid >= 0 && pcid !== this.mmu.state.pcid) {
      this.syncAll();
      return;
    }
    // Resync the one entry that maps the address, if its page is out of sync.
    const i32 = this.mmu.host.i32;
    let sp = this.currentTop();
    for (let level = this.shadowTop; level > 1; level--) {
      const v = i32[this.spHfn[sp]! * 1024 + shadowIndex(lo, hi, level) * 2]!;
      if (!(v & PTE_P)) return;
      sp = this.spOfHfn[(v >>> 12) & 0xfffff]!;
    }
    if (this.spUnsync[sp]) this.syncEntry(sp, shadowIndex(lo, hi, 1));
  }

  onFlush(global: boolean, pcid: number, byInvpcid: boolean): void {
    this.exit(byInvpcid ? C_EXIT_INVPCID : C_EXIT_CR);
    this.syncAll();
    if (global || pcid < 0) this.hw.flushAll();
    else this.hw.flush(this.asid(), true);
    this.pwc.flush(-1);
  }

  private asid(): number {
    return this.mmu.vpid ? 1 : 0;
  }

  // =====================================================================
  // Cost model
  // =====================================================================

  addRepeats(reads: number, writes: number, fetches: number): void {
    addAccesses(this.mmu.counters, reads, writes, fetches);
    this.hw.addL1Hits(reads + writes, fetches);
  }

  model(lo: number, hi: number, acc: number): void {
    const c = this.mmu.counters;
    c[acc & ACC_FETCH ? C_ACCESS_FETCH : (acc & (ACC_WRITE | ACC_RMW_R)) === ACC_WRITE ? C_ACCESS_WRITE : C_ACCESS_READ]++;
    const fetch = (acc & ACC_FETCH) !== 0;
    const asid = this.asid();
    if (this.hw.lookup4k(lo, hi, fetch, asid) !== TLB_MISS) return;
    this.walkMiss(lo, hi, fetch, asid);
  }

  /** A modeled TLB miss (out of line, so that model() inlines small): one walk of the shadow table, shortened by the paging-structure caches. */
  private walkMiss(lo: number, hi: number, fetch: boolean, asid: number): void {
    const c = this.mmu.counters;
    const shifts = this.sctx.fmt.shift;
    const start = this.pwc.startLevel(lo, hi, this.shadowTop, shifts, asid);
    c[C_WALK]++;
    c[C_WALK_REFS] += start;
    c[C_WALK_REFS_SHADOW] += start;
    this.pwc.insert(lo, hi, this.shadowTop, 1, shifts, asid);
    this.hw.insert(lo, hi, 12, fetch, asid, false);
  }

  // =====================================================================
  // Reports, dumps, teardown, audits
  // =====================================================================

  gauges(): Record<string, number> {
    return {
      'shadow.pages': this.live,
      'shadow.pages.synthetic': this.synthLive,
      'shadow.pages.max': this.maxPages,
      'shadow.unsync.pages': this.unsyncList.size,
      'shadow.shadowed.frames': this.shadowedFrames,
      'shadow.rmap.entries': this.rmap.live,
      'shadow.roots.cached': this.roots.length,
    };
  }

  /** Describes shadow page sp (for dumps and tests). */
  describe(sp: number): string {
    const role = this.spRole[sp]!;
    const level = role & ROLE_LEVEL;
    const parts = [`sp${sp}`, `L${level}`];
    if (role & ROLE_SYNTH) parts.push('synthetic');
    else parts.push(`${role & ROLE_DIRECT ? 'direct gfn' : 'gfn'} 0x${this.spGfn[sp]!.toString(16)}`);
    const q = (role >>> ROLE_QUAD_SHIFT) & 3;
    if (q) parts.push(`quadrant ${q}`);
    const a = (role >>> ROLE_ACCESS_SHIFT) & 7;
    parts.push(`access ${a & ACCESS_W ? 'w' : '-'}${a & ACCESS_U ? 'u' : '-'}${a & ACCESS_X ? 'x' : '-'}`);
    if (this.spUnsync[sp]) parts.push('unsync');
    if (role & ROLE_INVALID) parts.push('invalid');
    return `[${parts.join(' ')}]`;
  }

  dump(): string {
    const out: string[] = [`shadow MMU: ${this.live} pages (budget ${this.maxPages}), ${this.unsyncList.size} out of sync, ${this.roots.length} roots cached`];
    this.roots.forEach((slot, i) => {
      const hpa = this.spHfn[slot.top]! * PAGE_SIZE;
      out.push(`root ${i}${i === 0 ? ' (current)' : ''} ${slot.key} at hpa 0x${hpa.toString(16)} ${this.describe(slot.top)}`);
      out.push(dumpTable(this.mmu.host, hpa, this.shadowTop, 0, false, (h) => this.describe(this.spOfHfn[Math.floor(h / PAGE_SIZE)]!)));
    });
    return out.join('\n');
  }

  destroy(): void {
    for (let sp = 0; sp < this.cap; sp++) {
      const hfn = this.spHfn[sp]!;
      if (hfn >= 0) {
        this.mmu.host.freeFrame(hfn);
        this.spHfn[sp] = -1;
      }
    }
    for (let gfn = 0; gfn < this.gfnHead.length; gfn++) {
      if (this.gfnCount[gfn]! > 0) this.mmu.setWatch(gfn, WATCH_SHADOW, false);
    }
    this.roots = [];
  }

  /**
   * Checks the shadow structures' invariants and returns the violations
   * found (empty when sound): every leaf entry maps a guest frame through
   * the memory map and has a reverse-map node; every protected frame's leaf
   * entries are read-only; every non-leaf entry points at a live shadow page
   * that lists it as a parent; no entry points outside guest RAM or shadow
   * pages. Slow: for tests and debugging.
   */
  audit(): string[] {
    const errs: string[] = [];
    const mmu = this.mmu;
    const i32 = mmu.host.i32;
    for (let sp = 0; sp < this.cap; sp++) {
      const hfn = this.spHfn[sp]!;
      if (hfn < 0 || this.spRole[sp]! & ROLE_INVALID) continue;
      const level = this.spRole[sp]! & ROLE_LEVEL;
      for (let idx = 0; idx < 512; idx++) {
        const v = i32[hfn * 1024 + idx * 2]!;
        if (!(v & PTE_P)) continue;
        const target = (v >>> 12) & 0xfffff;
        const loc = sp * 512 + idx;
        if (level === 1) {
          const gfn = mmu.map.gfnOf[target]!;
          if (gfn < 0) { errs.push(`${this.describe(sp)}[${idx}] maps host frame ${target}, which is not guest RAM`); continue; }
          if (!this.rmap.values(this.rmapHead[gfn]!).includes(loc)) errs.push(`${this.describe(sp)}[${idx}] maps gfn ${gfn} without a reverse-map node`);
          if (v & PTE_RW && this.gfnCount[gfn]! > 0 && !this.gfnUnsync[gfn]) errs.push(`${this.describe(sp)}[${idx}] maps protected gfn ${gfn} writable`);
          if (v & PTE_PS) errs.push(`${this.describe(sp)}[${idx}] is a large leaf`);
        } else {
          const child = this.spOfHfn[target]!;
          if (child < 0) { errs.push(`${this.describe(sp)}[${idx}] points at host frame ${target}, which is no shadow page`); continue; }
          if (!this.parents.values(this.spParents[child]!).includes(loc)) errs.push(`${this.describe(sp)}[${idx}] -> ${this.describe(child)} missing from its parent list`);
          if ((this.spRole[child]! & ROLE_LEVEL) !== level - 1) errs.push(`${this.describe(sp)}[${idx}] -> ${this.describe(child)}: level mismatch`);
        }
      }
    }
    if (this.live > this.maxPages) errs.push(`${this.live} shadow pages exceed the budget of ${this.maxPages}`);
    return errs;
  }
}

/** Index of gvaHi:gvaLo in a 4-/5-level table at `level`. */
function shadowIndex(lo: number, hi: number, level: number): number {
  const s = 12 + 9 * (level - 1);
  return (s >= 32 ? hi >>> (s - 32) : s > 20 ? (lo >>> s) | (hi << (32 - s)) : lo >>> s) & 511;
}
