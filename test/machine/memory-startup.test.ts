/**
 * Guest RAM at start-up: a fresh host buffer is already all zeros, so a
 * large guest must not be cleared frame by frame before it runs (that
 * touched every host page: 1 GiB took seconds and 1 GiB of resident
 * memory before the first instruction). Frames that are handed out again
 * after use must still come back zeroed.
 */
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/machine/machine.js';
import { FRAME_GUEST, FRAME_SHADOW, HostMemory, PAGE_SIZE } from '../../src/mmu/host/memory.js';
import { GuestMemoryMap } from '../../src/mmu/host/memory-map.js';

const MiB = 1 << 20;

describe('a large guest at start-up', () => {
  it('does a 1 GiB machine start without touching its RAM (resident memory grows by far less than 1 GiB)?', () => {
    const before = process.memoryUsage().rss;
    const started = performance.now();
    const m = new Machine({ mode: 'shadow', memory: 1024 * MiB });
    const grew = process.memoryUsage().rss - before;
    const ms = performance.now() - started;
    expect(m.memoryBytes).toBe(1024 * MiB);
    expect(grew, `resident memory grew by ${(grew / MiB).toFixed(0)} MiB in ${ms.toFixed(0)} ms`).toBeLessThan(256 * MiB);
  });
});

describe('frames handed out are zero', () => {
  const fillFrame = (host: HostMemory, hfn: number): void => { host.u8.fill(0xa5, hfn * PAGE_SIZE, (hfn + 1) * PAGE_SIZE); };
  const isZero = (host: HostMemory, hfn: number): boolean => host.u8.subarray(hfn * PAGE_SIZE, (hfn + 1) * PAGE_SIZE).every((b) => b === 0);

  it('does allocFrame clear a frame that was used and freed, and hand out a fresh one as it is (zero)?', () => {
    const host = new HostMemory(64 * PAGE_SIZE);
    const a = host.allocFrame(FRAME_SHADOW);
    expect(isZero(host, a)).toBe(true);
    fillFrame(host, a);
    host.freeFrame(a);
    const again = host.allocFrame(FRAME_SHADOW);
    expect(again).toBe(a); // the free stack gives the last freed frame back first
    expect(isZero(host, again)).toBe(true);
  });

  it('does backing guest RAM (allocScatteredFrame) clear frames that were used and freed?', () => {
    const host = new HostMemory(64 * PAGE_SIZE);
    const used: number[] = [];
    for (let i = 0; i < 63; i++) {
      const hfn = host.allocFrame(FRAME_SHADOW);
      fillFrame(host, hfn);
      used.push(hfn);
    }
    for (const hfn of used) host.freeFrame(hfn);
    const map = new GuestMemoryMap(host, 63 * PAGE_SIZE, [], 7);
    for (let gfn = 0; gfn < 63; gfn++) expect(isZero(host, map.hfnFor(gfn))).toBe(true);
    expect(host.owner[map.hfnOf[0]!]).toBe(FRAME_GUEST);
  });
});
