/**
 * Guest RAM is backed by host frames as it is first touched
 * (src/mmu/host/memory-map.ts): a guest may be larger than host memory,
 * what it never touches costs no host frame, each frame lands at a random
 * place in host memory, and running out of host frames is a clear error
 * naming the frame that did not fit. The guest sees none of it: every mode
 * reads back what was written, untouched memory reads as zeros.
 */
import { describe, expect, it } from 'vitest';
import { Mmu } from '../../src/mmu/mmu.js';
import { MODE_NAMES } from '../../src/mmu/modes/mode.js';
import { FRAME_GUEST, HostMemory, PAGE_SIZE } from '../../src/mmu/host/memory.js';
import { GUEST_MEMORY_MAX, GuestMemoryMap } from '../../src/mmu/host/memory-map.js';

const GiB = 2 ** 30;

describe('guest RAM backed on first touch', () => {
  it.each(MODE_NAMES)('under %s, does an 8 GiB guest (four times the host memory) take host frames only for the frames it touches?', (mode) => {
    const mmu = new Mmu({ mode, guestMemory: 8 * GiB, maxPhysAddr: 40 });
    expect(mmu.map.ramBytes).toBe(8 * GiB);
    expect(mmu.map.backedFrames).toBe(0);
    // Physical writes and reads at the bottom, the middle and the top of RAM.
    const at = [0, 0x1234_5678, 4 * GiB + 0x10, 8 * GiB - 4];
    at.forEach((gpa, i) => mmu.writePhys(gpa, 4, 0x1111_1111 * (i + 1)));
    at.forEach((gpa, i) => expect(mmu.readPhys(gpa, 4)).toBe((0x1111_1111 * (i + 1)) >>> 0));
    expect(mmu.map.backedFrames).toBe(at.length);
    // Reading a frame never written backs it with zeros.
    expect(mmu.readPhys(6 * GiB, 4)).toBe(0);
    expect(mmu.map.backedFrames).toBe(at.length + 1);
    // Paging off: CPU accesses go through the mode's own fill path.
    mmu.write32(0x0010_0000, 0, 0xcafe_f00d);
    expect(mmu.read32(0x0010_0000, 0) >>> 0).toBe(0xcafe_f00d);
    expect(mmu.readPhys(0x0010_0000, 4)).toBe(0xcafe_f00d);
    expect(mmu.map.backedFrames).toBe(at.length + 2);
    for (let gfn = 0; gfn < 4; gfn++) if (mmu.map.hfnOf[gfn]! > 0) expect(mmu.host.owner[mmu.map.hfnOf[gfn]!]).toBe(FRAME_GUEST);
  });

  it('are frames backed in gfn order scattered over host memory (no two neighbours side by side in the host)?', () => {
    const host = new HostMemory(4096 * PAGE_SIZE);
    const map = new GuestMemoryMap(host, 1024 * PAGE_SIZE, [], 3);
    const hfns = Array.from({ length: 1024 }, (_, gfn) => map.hfnFor(gfn));
    expect(new Set(hfns).size).toBe(1024);
    let adjacent = 0;
    for (let gfn = 1; gfn < 1024; gfn++) if (hfns[gfn] === hfns[gfn - 1]! + 1) adjacent++;
    expect(adjacent).toBeLessThan(8); // 1024 frames picked at random among 4095: about 0.25 expected
    // The same seed and the same order of first touches give the same frames.
    const again = new GuestMemoryMap(new HostMemory(4096 * PAGE_SIZE), 1024 * PAGE_SIZE, [], 3);
    expect(Array.from({ length: 1024 }, (_, gfn) => again.hfnFor(gfn))).toEqual(hfns);
  });

  it('are holes never backed, and counted out of the RAM size even when they overlap?', () => {
    const host = new HostMemory(64 * PAGE_SIZE);
    const map = new GuestMemoryMap(host, 32 * PAGE_SIZE, [{ gpa: 4 * PAGE_SIZE, bytes: 8 * PAGE_SIZE }, { gpa: 8 * PAGE_SIZE, bytes: 8 * PAGE_SIZE }], 1);
    expect(map.ramBytes).toBe(20 * PAGE_SIZE);
    expect(map.isRam(3)).toBe(true);
    expect(map.isRam(4)).toBe(false);
    expect(map.isRam(15)).toBe(false);
    expect(map.isRam(16)).toBe(true);
    expect(map.hpaOf(5 * PAGE_SIZE)).toBe(-1);
    expect(map.hfnFor(10)).toBe(-1);
    expect(map.backedFrames).toBe(0);
  });

  it('does running out of host frames say so, with what the guest touched and the frame that did not fit?', () => {
    const host = new HostMemory(16 * PAGE_SIZE); // frame 0 is never handed out: 15 usable
    const map = new GuestMemoryMap(host, 64 * PAGE_SIZE, [], 1);
    for (let gfn = 0; gfn < 15; gfn++) map.hfnFor(gfn);
    expect(() => map.hfnFor(40)).toThrow(new RangeError("host memory exhausted: the guest has touched 0.1 MiB of its 0 MiB of RAM, all that 0 MiB of host memory hold beside the MMU's own tables (the frame at gpa 0x28000 did not fit)"));
    // The frames already backed stay as they were.
    expect(map.backedFrames).toBe(15);
    expect(map.hfnOf[40]).toBe(0);
  });

  it('is a guest-physical map beyond 64 GiB refused, naming the limit?', () => {
    expect(GUEST_MEMORY_MAX).toBe(64 * GiB);
    expect(() => new Mmu({ mode: 'shadow', guestMemory: 65 * GiB, maxPhysAddr: 40 })).toThrow(/guest memory top 0x1040000000 exceeds vmmu's limit of 64 GiB of guest-physical memory/);
  });
});
