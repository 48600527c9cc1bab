/**
 * slat: second-level address translation (Intel EPT, AMD NPT).
 *
 * The guest owns its page tables; the "hardware" walks them in two
 * dimensions: every guest table reference is a guest-physical address that
 * is itself translated through the EPT, and so is the final address. For 4
 * guest levels and 4 EPT levels that is up to 24 memory references
 * (SDM vol. 3C, 29.3; Bhargava et al., ASPLOS 2008).
 *
 * The EPT (real 4-level EPT tables in host memory, accessed/dirty flags
 * enabled) is populated lazily: the first touch of a guest frame is an EPT
 * violation, a VM exit, after which the hypervisor maps that frame. Nothing
 * else exits: the guest's CR3 loads, INVLPG and page-table writes run
 * natively.
 *
 * Modeled hardware: the combined TLB (tagged with VPID and PCID), the guest
 * paging-structure caches, a nested TLB caching guest-physical to
 * host-physical translations, and EPT paging-structure caches. Each cache can
 * be turned off to see what it saves.
 */
import {
  C_ACCESS_FETCH, C_ACCESS_READ, C_ACCESS_WRITE, C_EPT_MAP, C_EPT_TABLE, C_EXIT, C_EXIT_EPT_VIOLATION, C_NTLB_HIT, C_NTLB_MISS,
  C_WALK, C_WALK_REFS, C_WALK_REFS_GUEST, C_WALK_REFS_NESTED,
} from '../counters.js';
import { FRAME_EPT, PAGE_SIZE } from '../host/memory.js';
import { ACC_FETCH, ACC_RMW_R, ACC_WRITE, EPT_MT_WB, EPT_RWX } from '../paging/bits.js';
import { eptWalkContext, FMT_NONE, FMT_PAE, type WalkContext } from '../paging/format.js';
import { HOST_PORT, Walker, WALK_NO_CHECK, WALK_OK, WALK_SET_AD, type TablePort } from '../paging/walker.js';
import { ModelCache } from '../tlb/cache.js';
import { addAccesses, HardwareTlb, TLB_MISS, WalkCaches } from '../tlb/hardware.js';
import { FILL_FAULT, FILL_MMIO, FILL_OK, PG_PKRU, REPEATS_BY_KIND, REPEATS_NONE, type Mode, type ModeHost, type Translation } from './mode.js';
import { guestWalk } from './guest-walk.js';
import { dumpTable } from './dump.js';

export interface SlatOptions {
  /** model the guest and EPT paging-structure caches (default true) */
  pwc?: boolean;
  /** model the nested TLB (default true) */
  nestedTlb?: boolean;
}

const TWO_32 = 4294967296;

export class SlatMode implements Mode {
  readonly name = 'slat' as const;
  /** hpa of the EPT PML4 (the EPTP's address) */
  readonly eptRoot: number;
  private readonly eptCtx: WalkContext;
  private readonly eptWalker: Walker;
  private readonly tables: number[] = [];
  private mappedFrames = 0;
  private readonly port: TablePort;
  private readonly mapPort: TablePort;
  private readonly usePwc: boolean;
  private readonly useNtlb: boolean;
  private readonly hw: HardwareTlb;
  /** model() counts the access and looks it up at 4 KiB in hw (Mode.repeats) */
  readonly repeats: number;
  private readonly gpwc: WalkCaches;
  private readonly eptPwc: WalkCaches;
  private readonly ntlb: ModelCache;

  constructor(private readonly mmu: ModeHost, options: SlatOptions) {
    this.eptCtx = eptWalkContext(52);
    this.eptWalker = new Walker(mmu.host);
    this.eptRoot = this.newTable();
    // With EPT A/D flags on, guest paging-structure accesses count as writes (SDM 29.3.5).
    this.port = { entryHpa: (gpa: number) => this.eptTranslate(gpa, true) };
    this.mapPort = { entryHpa: (gpa: number) => mmu.map.hpaOf(gpa) };
    this.usePwc = options.pwc ?? true;
    this.useNtlb = options.nestedTlb ?? true;
    this.hw = new HardwareTlb(mmu.tlbGeometry, mmu.counters);
    this.repeats = this.hw.l1For4k ? REPEATS_BY_KIND : REPEATS_NONE;
    this.gpwc = new WalkCaches(mmu.tlbGeometry.pwc, mmu.counters);
    this.eptPwc = new WalkCaches(mmu.tlbGeometry.pwc, mmu.counters);
    this.ntlb = new ModelCache(mmu.tlbGeometry.nestedTlb.entries, mmu.tlbGeometry.nestedTlb.ways, 'nestedTlb');
  }

  private newTable(): number {
    const hfn = this.mmu.host.allocFrame(FRAME_EPT);
    if (hfn < 0) throw new RangeError('host memory exhausted while building the EPT');
    this.tables.push(hfn);
    this.mmu.counters[C_EPT_TABLE]++;
    return hfn * PAGE_SIZE;
  }

  /** address-space tag of the modeled TLB: VPID (1 when enabled) and PCID */
  private asid(): number {
    return (this.mmu.vpid ? 1 << 12 : 0) | this.mmu.state.pcid;
  }

  /**
   * gpa -> hpa through the EPT, setting EPT accessed (and dirty, for writes)
   * flags. With EPT A/D enabled, guest paging-structure accesses count as
   * writes (SDM 29.3.5), so the walker passes write=true for them. An
   * unmapped RAM frame is an EPT violation: the frame is mapped and the walk
   * retried. Returns -1 when the gpa is not RAM (MMIO).
   */
  eptTranslate(gpa: number, write: boolean): number {
    const lo = gpa >>> 0;
    const hi = Math.floor(gpa / TWO_32);
    const w = this.eptWalker;
    if (w.walk(this.eptCtx, HOST_PORT, this.eptRoot, null, lo, hi, write ? ACC_WRITE : 0, WALK_SET_AD) === WALK_OK) return w.out;
    const gfn = Math.floor(gpa / PAGE_SIZE);
    const hfn = gfn < this.mmu.map.gfnCount ? this.mmu.map.hfnFor(gfn) : -1;
    if (hfn < 0) return -1;
    this.violation(gfn, hfn);
    return w.walk(this.eptCtx, HOST_PORT, this.eptRoot, null, lo, hi, write ? ACC_WRITE : 0, WALK_SET_AD) === WALK_OK ? w.out : -1;
  }

  /** EPT violation exit: map guest frame gfn to host frame hfn (4 KiB, RWX, write-back). */
  private violation(gfn: number, hfn: number): void {
    const c = this.mmu.counters;
    c[C_EXIT]++;
    c[C_EXIT_EPT_VIOLATION]++;
    c[C_EPT_MAP]++;
    this.afterExit();
    const i32 = this.mmu.host.i32;
    const lo = (gfn % 1048576) * PAGE_SIZE;
    const hi = Math.floor(gfn / 1048576);
    let table = this.eptRoot;
    for (let level = 4; level > 1; level--) {
      const s = 12 + 9 * (level - 1);
      const index = (s >= 32 ? hi >>> (s - 32) : (lo >>> s) | (hi << (32 - s))) & 511;
      const e = (table + index * 8) >>> 2;
      if (!(i32[e]! & EPT_RWX)) i32[e] = this.newTable() | EPT_RWX;
      table = i32[e]! & 0xfffff000;
    }
    const e = (table + ((lo >>> 12) & 511) * 8) >>> 2;
    i32[e] = (hfn * PAGE_SIZE) | EPT_RWX | EPT_MT_WB;
    this.mappedFrames++;
  }

  /** Without VPID every VM exit and entry flushes the TLB and the walk caches. */
  private afterExit(): void {
    if (this.mmu.vpid) return;
    this.hw.flushAll();
    this.gpwc.flush(-1);
    this.eptPwc.flush(-1);
    this.ntlb.flushAll();
  }

  fill(lo: number, hi: number, acc: number, t: Translation): number {
    const mmu = this.mmu;
    if (mmu.state.format === FMT_NONE) {
      t.reset(lo >>> 0);
    } else if (!guestWalk(mmu, this.port, lo, hi, acc, t)) {
      return FILL_FAULT;
    }
    // The combined TLB entry is as large as the smaller of the guest page and
    // the EPT page; the EPT maps 4 KiB frames (host frames are scattered).
    t.tlbShift = 12;
    const hpa = this.eptTranslate(t.gpa, (acc & ACC_WRITE) !== 0);
    if (hpa < 0) return FILL_MMIO;
    t.hpa = hpa;
    return FILL_OK;
  }

  assist(): void {}

  addRepeats(reads: number, writes: number, fetches: number): void {
    addAccesses(this.mmu.counters, reads, writes, fetches);
    this.hw.addL1Hits(reads + writes, fetches);
  }

  model(lo: number, hi: number, acc: number, _gpa: number, _shift: number, globalFlag: number): void {
    const mmu = this.mmu;
    const c = mmu.counters;
    c[acc & ACC_FETCH ? C_ACCESS_FETCH : (acc & (ACC_WRITE | ACC_RMW_R)) === ACC_WRITE ? C_ACCESS_WRITE : C_ACCESS_READ]++;
    const fetch = (acc & ACC_FETCH) !== 0;
    const asid = this.asid();
    if (this.hw.lookup4k(lo, hi, fetch, asid) !== TLB_MISS) return;
    this.walkMiss(lo, hi, acc, fetch, asid, globalFlag !== 0);
  }

  /** A modeled TLB miss (out of line, so that model() inlines small): the two-dimensional walk, then the fill. */
  private walkMiss(lo: number, hi: number, acc: number, fetch: boolean, asid: number, global: boolean): void {
    const mmu = this.mmu;
    const c = mmu.counters;
    c[C_WALK]++;
    let finalGpa: number;
    if (mmu.state.format === FMT_NONE) {
      finalGpa = lo >>> 0;
    } else {
      // Probe the guest walk (no side effects) for the guest-physical addresses it reads.
      const w = mmu.walker;
      const fmt = mmu.state.gctx.fmt;
      w.walk(mmu.state.gctx, this.mapPort, mmu.state.rootGpa, mmu.state.format === FMT_PAE ? mmu.state.pdpte : null, lo, hi, acc, WALK_NO_CHECK);
      const firstMem = fmt.pdpteRegisters ? 2 : fmt.top;
      const start = this.usePwc ? this.gpwc.startLevel(lo, hi, firstMem, fmt.shift, asid) : firstMem;
      for (let level = Math.min(start, w.topLevel); level >= w.level; level--) {
        if (w.entryHpa[level]! < 0) continue;
        this.nested(w.entryAddr[level]!);
        c[C_WALK_REFS]++;
        c[C_WALK_REFS_GUEST]++;
      }
      if (this.usePwc) this.gpwc.insert(lo, hi, firstMem, w.level, fmt.shift, asid);
      finalGpa = w.out;
    }
    this.nested(finalGpa);
    this.hw.insert(lo, hi, 12, fetch, asid, global);
  }

  /** One guest-physical reference of a two-dimensional walk: nested TLB, else an EPT walk. */
  private nested(gpa: number): void {
    const c = this.mmu.counters;
    const gfn = Math.floor(gpa / PAGE_SIZE);
    const klo = gfn | 0;
    const khi = Math.floor(gfn / TWO_32);
    const vpidTag = this.mmu.vpid ? 1 : 0;
    if (this.useNtlb) {
      if (this.ntlb.lookup(klo, khi, vpidTag)) {
        c[C_NTLB_HIT]++;
        return;
      }
      c[C_NTLB_MISS]++;
    }
    const lo = gpa >>> 0;
    const hi = Math.floor(gpa / TWO_32);
    const start = this.usePwc ? this.eptPwc.startLevel(lo, hi, 4, this.eptCtx.fmt.shift, vpidTag) : 4;
    c[C_WALK_REFS] += start;
    c[C_WALK_REFS_NESTED] += start;
    if (this.usePwc) this.eptPwc.insert(lo, hi, 4, 1, this.eptCtx.fmt.shift, vpidTag);
    if (this.useNtlb) this.ntlb.insert(klo, khi, vpidTag, false);
  }

  onPagingChange(what: number): void {
    // WRPKRU does not flush TLBs; every other paging change here does.
    if (what & ~PG_PKRU) {
      this.hw.flushAll();
      this.gpwc.flush(-1);
    }
  }

  onCr3(flush: boolean): void {
    // Without PCIDs a CR3 load flushes non-global entries; with PCIDs it
    // flushes the new PCID's non-global entries unless bit 63 says not to.
    if (flush) {
      this.hw.flush(this.asid(), true);
      this.gpwc.flush(this.asid());
    }
  }

  onInvlpg(lo: number, hi: number, pcid: number): void {
    const asid = (this.mmu.vpid ? 1 << 12 : 0) | (pcid < 0 ? this.mmu.state.pcid : pcid);
    this.hw.invalidatePage(lo, hi, asid, false);
    // INVLPG also drops the paging-structure caches of the current PCID (SDM 4.10.4.1).
    this.gpwc.flush(asid);
  }

  onFlush(global: boolean, pcid: number): void {
    const asid = pcid < 0 ? -1 : (this.mmu.vpid ? 1 << 12 : 0) | pcid;
    if (global) this.hw.flushAll();
    else this.hw.flush(asid, true);
    this.gpwc.flush(asid);
  }

  onWatchedWrite(): void {}

  gauges(): Record<string, number> {
    return { 'ept.table.pages': this.tables.length, 'ept.mapped.frames': this.mappedFrames };
  }

  dump(): string {
    return `EPT (gpa -> hpa), EPTP hpa 0x${this.eptRoot.toString(16)}, ${this.mappedFrames} frames mapped\n`
      + dumpTable(this.mmu.host, this.eptRoot, 4, 0, true);
  }

  destroy(): void {
    for (const hfn of this.tables) this.mmu.host.freeFrame(hfn);
    this.tables.length = 0;
  }
}

