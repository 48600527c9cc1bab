/**
 * naive: two-layer translation in software on every access, the way an
 * emulator without hardware help does it.
 *
 * The guest's tables are walked in software (gva -> gpa). Every
 * guest-physical reference, each guest entry included, is then translated
 * through a real host page table (x86-64 4-level, in host memory) that maps
 * the emulator's view of guest RAM: host virtual address HVA_BASE + gpa ->
 * hpa. Nothing traps; the cost is in every access: a software lookup per
 * access, software walks on virtual-TLB misses, and the host hardware TLB
 * misses on the emulator's own accesses to guest RAM.
 */
import { C_ACCESS_FETCH, C_ACCESS_READ, C_ACCESS_WRITE, C_SW_TRANSLATE, C_SW_WALK_REFS, C_VTLB_HIT, C_VTLB_MISS, C_WALK, C_WALK_REFS, C_WALK_REFS_HOST, VTLB_IDS } from '../counters.js';
import { FRAME_HOST_TABLE, PAGE_SIZE } from '../host/memory.js';
import { ACC_FETCH, ACC_RMW_R, ACC_WRITE, PTE_A, PTE_D, PTE_P, PTE_RW, PTE_HI_XD } from '../paging/bits.js';
import { FMT_NONE, FMT_PAE, hostWalkContext, type WalkContext } from '../paging/format.js';
import { HOST_PORT, Walker, WALK_NO_CHECK, WALK_OK, type TablePort } from '../paging/walker.js';
import { addAccesses, HardwareTlb, TLB_MISS, WalkCaches } from '../tlb/hardware.js';
import { FILL_FAULT, FILL_MMIO, FILL_OK, PG_PKRU, REPEATS_IN_A_ROW, REPEATS_NONE, type Mode, type ModeHost, type Translation } from './mode.js';
import { guestWalk } from './guest-walk.js';
import { dumpTable } from './dump.js';

/** high 32 bits of the host virtual address where the emulator maps guest RAM (0x7f00_0000_0000) */
export const HVA_BASE_HI = 0x7f00;
const TWO_32 = 4294967296;

export class NaiveMode implements Mode {
  readonly name = 'naive' as const;
  /** hpa of the host PML4 */
  readonly hostRoot: number;
  private readonly hostCtx: WalkContext;
  private readonly hostWalker: Walker;
  private readonly tables: number[] = [];
  /** guest-table references go through the host table (the real software walk) */
  private readonly port: TablePort;
  /** probes for the cost model read guest tables through the memory map directly */
  private readonly mapPort: TablePort;
  // modeled structures
  private readonly vtlb: HardwareTlb;
  private readonly hw: HardwareTlb;
  private readonly hostPwc: WalkCaches;

  constructor(private readonly mmu: ModeHost) {
    this.hostCtx = hostWalkContext(4, { cr0: 0, cr4: 0, efer: 0, pkru: 0 });
    this.hostWalker = new Walker(mmu.host);
    this.hostRoot = this.newTable();
    const map = mmu.map;
    // The host table maps a guest frame once it is backed: at construction
    // the frames backed so far, later at the first translation that finds
    // no host entry for RAM (hostTranslate), as a host kernel maps an
    // emulator's anonymous memory at its first touch. The guest sees nothing
    // of it, and no counter moves.
    for (let gfn = 0; gfn < map.gfnCount; gfn++) {
      const hfn = map.hfnOf[gfn]!;
      if (hfn > 0) this.mapHostPage(gfn, hfn);
    }
    this.port = { entryHpa: (gpa: number) => this.hostTranslate(gpa) };
    this.mapPort = { entryHpa: (gpa: number) => map.hpaOf(gpa) };
    // The virtual TLB is software: it counts into the sw.vtlb.* counters, the
    // guest-side TLB figures to set beside shadow's and slat's tlb.*.
    this.vtlb = new HardwareTlb(mmu.tlbGeometry, mmu.counters, VTLB_IDS);
    this.hw = new HardwareTlb(mmu.tlbGeometry, mmu.counters);
    this.repeats = this.vtlb.l1For4k && this.hw.l1For4k ? REPEATS_IN_A_ROW : REPEATS_NONE;
    this.hostPwc = new WalkCaches(mmu.tlbGeometry.pwc, mmu.counters);
  }

  private newTable(): number {
    const hfn = this.mmu.host.allocFrame(FRAME_HOST_TABLE);
    if (hfn < 0) throw new RangeError('host memory exhausted while building the host page table');
    this.tables.push(hfn);
    return hfn * PAGE_SIZE;
  }

  /** Maps host virtual HVA_BASE + gfn*4K to host frame hfn (4 KiB page, RW, NX). */
  private mapHostPage(gfn: number, hfn: number): void {
    const i32 = this.mmu.host.i32;
    const hvaHi = HVA_BASE_HI + Math.floor(gfn / 1048576);
    const hvaLo = (gfn % 1048576) * PAGE_SIZE;
    let table = this.hostRoot;
    for (let level = 4; level > 1; level--) {
      const s = 12 + 9 * (level - 1);
      const index = (s >= 32 ? hvaHi >>> (s - 32) : (hvaLo >>> s) | (hvaHi << (32 - s))) & 511;
      const e = (table + index * 8) >>> 2;
      if (!(i32[e]! & PTE_P)) i32[e] = this.newTable() | PTE_P | PTE_RW | PTE_A;
      table = i32[e]! & 0xfffff000;
    }
    const e = (table + ((hvaLo >>> 12) & 511) * 8) >>> 2;
    i32[e] = (hfn * PAGE_SIZE) | PTE_P | PTE_RW | PTE_A | PTE_D;
    i32[e + 1] = PTE_HI_XD;
  }

  /** gpa -> hpa through the host page table (functional walk), or -1 when the gpa is not RAM. */
  hostTranslate(gpa: number): number {
    const hi = HVA_BASE_HI + Math.floor(gpa / TWO_32);
    const r = this.hostWalker.walk(this.hostCtx, HOST_PORT, this.hostRoot, null, gpa >>> 0, hi, 0, WALK_NO_CHECK);
    return r === WALK_OK ? this.hostWalker.out : this.firstTouch(gpa);
  }

  /** No host entry for gpa: maps its frame if it is RAM (backing it now if need be) and returns the hpa; -1 for MMIO. */
  private firstTouch(gpa: number): number {
    const map = this.mmu.map;
    const gfn = Math.floor(gpa / PAGE_SIZE);
    if (gfn >= map.gfnCount) return -1;
    const hfn = map.hfnFor(gfn);
    if (hfn < 0) return -1;
    this.mapHostPage(gfn, hfn);
    return hfn * PAGE_SIZE + (gpa & 0xfff);
  }

  fill(lo: number, hi: number, acc: number, t: Translation): number {
    const mmu = this.mmu;
    if (mmu.state.format === FMT_NONE) {
      t.reset(lo >>> 0);
    } else if (!guestWalk(mmu, this.port, lo, hi, acc, t)) {
      return FILL_FAULT;
    }
    // The software virtual TLB caches the guest's page at its own size.
    t.tlbShift = mmu.state.format === FMT_NONE ? 12 : mmu.walker.pageShift;
    const hpa = this.hostTranslate(t.gpa);
    if (hpa < 0) return FILL_MMIO;
    t.hpa = hpa;
    return FILL_OK;
  }

  assist(): void {}

  /**
   * In a row only (Mode.repeats): model() looks a 4 KiB translation up in
   * the virtual TLB's L1 arrays, then the emulator's access in the host
   * TLB, whose one data L1 array sees fetched and data pages alike (and a
   * virtual-TLB miss's walk). Both TLBs need their 4 KiB L1 arrays.
   */
  readonly repeats: number;

  addRepeats(reads: number, writes: number, fetches: number): void {
    const c = this.mmu.counters;
    const n = reads + writes + fetches;
    addAccesses(c, reads, writes, fetches);
    c[C_SW_TRANSLATE] += n;
    this.vtlb.addL1Hits(reads + writes, fetches);
    c[C_VTLB_HIT] += n;
    this.hw.addL1Hits(n, 0);
  }

  model(lo: number, hi: number, acc: number, gpa: number, shift: number, globalFlag: number): void {
    const mmu = this.mmu;
    const c = mmu.counters;
    c[acc & ACC_FETCH ? C_ACCESS_FETCH : (acc & (ACC_WRITE | ACC_RMW_R)) === ACC_WRITE ? C_ACCESS_WRITE : C_ACCESS_READ]++;
    c[C_SW_TRANSLATE]++;
    const fetch = (acc & ACC_FETCH) !== 0;
    const pcid = mmu.state.pcid;
    // The hit paths stay small (V8 inlines them into the replay loop); the misses are calls.
    if ((shift === 12 ? this.vtlb.lookup4k(lo, hi, fetch, pcid) : this.vtlb.lookup(lo, hi, shift, fetch, pcid)) === TLB_MISS) {
      this.vtlbMiss(lo, hi, acc, shift, fetch, globalFlag !== 0);
    } else {
      c[C_VTLB_HIT]++;
    }
    this.hostAccess(gpa);
  }

  /** A virtual-TLB miss: the software walk (each entry read is a host access), then the fill. */
  private vtlbMiss(lo: number, hi: number, acc: number, shift: number, fetch: boolean, global: boolean): void {
    const mmu = this.mmu;
    const c = mmu.counters;
    c[C_VTLB_MISS]++;
    if (mmu.state.format !== FMT_NONE) {
      const w = mmu.walker;
      w.walk(mmu.state.gctx, this.mapPort, mmu.state.rootGpa, mmu.state.format === FMT_PAE ? mmu.state.pdpte : null, lo, hi, acc, WALK_NO_CHECK);
      for (let level = w.topLevel; level >= w.level; level--) {
        if (w.entryHpa[level]! < 0) continue; // PAE PDPTE registers: no memory reference
        c[C_SW_WALK_REFS]++;
        this.hostAccess(w.entryAddr[level]!);
      }
    }
    this.vtlb.insert(lo, hi, shift, fetch, mmu.state.pcid, global);
  }

  /** The emulator touches guest RAM at gpa: one host data-TLB lookup, a host walk on a miss. */
  private hostAccess(gpa: number): void {
    const hvaLo = gpa >>> 0;
    const hvaHi = HVA_BASE_HI + Math.floor(gpa / TWO_32);
    if (this.hw.lookup4k(hvaLo, hvaHi, false, 0) !== TLB_MISS) return;
    this.hostWalk(hvaLo, hvaHi);
  }

  /** A host TLB miss: the host walk, shortened by the host's paging-structure caches, then the fill. */
  private hostWalk(hvaLo: number, hvaHi: number): void {
    const c = this.mmu.counters;
    const start = this.hostPwc.startLevel(hvaLo, hvaHi, 4, this.hostCtx.fmt.shift, 0);
    c[C_WALK]++;
    c[C_WALK_REFS] += start;
    c[C_WALK_REFS_HOST] += start;
    this.hostPwc.insert(hvaLo, hvaHi, 4, 1, this.hostCtx.fmt.shift, 0);
    this.hw.insert(hvaLo, hvaHi, 12, false, 0, false);
  }

  onPagingChange(what: number): void {
    // WRPKRU does not flush TLBs; every other paging change here does.
    if (what & ~PG_PKRU) this.vtlb.flushAll();
  }

  onCr3(flush: boolean): void {
    if (flush) this.vtlb.flush(this.mmu.state.pcid, true);
  }

  onInvlpg(lo: number, hi: number, pcid: number): void {
    this.vtlb.invalidatePage(lo, hi, pcid < 0 ? this.mmu.state.pcid : pcid, false);
  }

  onFlush(global: boolean, pcid: number): void {
    if (global) this.vtlb.flushAll();
    else this.vtlb.flush(pcid, true);
  }

  onWatchedWrite(): void {}

  gauges(): Record<string, number> {
    return { 'host.table.pages': this.tables.length };
  }

  dump(): string {
    return `host page table (gpa ${'->'} hpa, host virtual base 0x${HVA_BASE_HI.toString(16)}00000000), root hpa 0x${this.hostRoot.toString(16)}\n`
      + dumpTable(this.mmu.host, this.hostRoot, 4, 0);
  }

  destroy(): void {
    for (const hfn of this.tables) this.mmu.host.freeFrame(hfn);
    this.tables.length = 0;
  }
}
