/**
 * The guest walk every mode makes on a miss: the guest's own tables, gva ->
 * gpa, with the accessed and dirty bits the access sets (SDM 4.8), the
 * result written into a Translation. One function, so that no mode can walk
 * differently from another; modes differ only in how a guest-physical table
 * reference reaches host memory (`port`) and in what they count.
 */
import { FMT_L4, FMT_L5, FMT_PAE } from '../paging/format.js';
import { WALK_OK, WALK_SET_AD, type TablePort } from '../paging/walker.js';
import { SLOT_HUGE, SLOT_LARGE } from '../tlb/soft.js';
import type { ModeHost, Translation } from './mode.js';

/**
 * Walks the guest's tables for gvaHi:gvaLo and access `acc` (paging on).
 * Returns true with t's gpa and guest rights set (t.tagMask all, t.hpa
 * untouched), or false with t.errorCode set (the #PF error code). Writes
 * accessed bits on the path and the dirty bit on a write, only when the walk
 * succeeds; those are writes to guest memory like any other, so a frame the
 * CPU watches for code hears of them (mmu.guestEntriesWritten). The walker's per-level record (mmu.walker) stays for callers
 * that build structures from it.
 */
export function guestWalk(mmu: ModeHost, port: TablePort, lo: number, hi: number, acc: number, t: Translation): boolean {
  const w = mmu.walker;
  if (w.walk(mmu.state.gctx, port, mmu.state.rootGpa, mmu.state.format === FMT_PAE ? mmu.state.pdpte : null, lo, hi, acc, WALK_SET_AD) !== WALK_OK) {
    t.errorCode = w.errorCode;
    return false;
  }
  if (w.adWrites !== 0) mmu.guestEntriesWritten(w);
  t.gpa = w.out;
  t.us = w.us;
  t.rw = w.rw;
  t.xd = w.xd;
  t.pkey = w.pkey;
  t.dirty = w.dirty;
  t.global = w.global;
  t.large = w.pageShift > 12 ? SLOT_LARGE | (w.pageShift >= 30 ? SLOT_HUGE : 0) : 0;
  t.tlbShift = 12;
  t.tagMask = 0x1ff;
  t.errorCode = 0;
  return true;
}

/** The protection key the leaf entry of the last walk carries, whether or not CR4.PKE reads it (4-/5-level only). */
export function rawLeafPkey(mmu: ModeHost): number {
  if (mmu.state.format !== FMT_L4 && mmu.state.format !== FMT_L5) return 0;
  const w = mmu.walker;
  return (w.hi[w.level]! >>> 27) & 15;
}
