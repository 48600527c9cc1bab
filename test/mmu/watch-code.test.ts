/**
 * WATCH_CODE (the CPU's decoded-code watch, src/cpu/block.ts): while it is
 * set, writes to the frame leave the software TLB's fast path and reach
 * Mmu.onCodeWrite; when it ends, the frame's write tags come back, so the
 * CPU's dropping of decoded code does not slow the frame's writes for good.
 */
import { expect, it } from 'vitest';
import { Mmu, WATCH_CODE, WATCH_SHADOW } from '../../src/mmu/index.js';
import { MODE_NAMES } from '../../src/mmu/modes/mode.js';

it.each(MODE_NAMES)('under %s, does a write to a watched frame reach onCodeWrite, and does the fast path come back after?', (mode) => {
  const mmu = new Mmu({ mode, guestMemory: 1 << 20, seed: 1 });
  const lin = 0x5000;
  const slot = (lin >>> 12) & mmu.tlbMask;
  mmu.wr32(lin, 1); // fills the slot, write tag included (paging off)
  expect(mmu.tagW32[slot]).toBe(lin >>> 12);
  const seen: number[] = [];
  mmu.onCodeWrite = (gpa) => seen.push(gpa);
  mmu.setWatch(5, WATCH_CODE, true);
  expect(mmu.tagW32[slot]).toBe(-1);
  mmu.wr32(lin + 8, 2);
  expect(seen).toEqual([0x5008]);
  mmu.setWatch(5, WATCH_CODE, false);
  expect(mmu.tagW32[slot]).toBe(lin >>> 12);
  mmu.wr32(lin + 12, 3);
  expect(seen).toEqual([0x5008]);
  expect(mmu.readPhys(0x5008, 4)).toBe(2);
  expect(mmu.readPhys(0x500c, 4)).toBe(3);
  // Another watcher's bit keeps the write tags withheld.
  mmu.setWatch(5, WATCH_SHADOW | WATCH_CODE, true);
  mmu.setWatch(5, WATCH_CODE, false);
  expect(mmu.tagW32[slot]).toBe(-1);
});
