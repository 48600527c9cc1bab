/**
 * Host memory and the software TLB's arrays in a buffer someone else owns
 * (src/mmu/host/arena.ts, MmuOptions.arena): the Mmu asks once for the
 * bytes it needs, keeps inside the region it is given, and behaves as with
 * buffers of its own.
 */
import { describe, expect, it } from 'vitest';
import { Mmu } from '../../src/mmu/mmu.js';
import { MODE_NAMES } from '../../src/mmu/modes/mode.js';
import { Arena } from '../../src/mmu/host/arena.js';
import { SoftTlb } from '../../src/mmu/tlb/soft.js';

describe('an Mmu in an arena', () => {
  it.each(MODE_NAMES)('under %s, does it place host memory and the TLB arrays inside its region, and translate as without one?', (mode) => {
    const base = 4096 + 8;
    let asked = 0;
    let buffer: ArrayBuffer | null = null;
    const mmu = new Mmu({
      mode, guestMemory: 4 << 20, softTlbBits: 10,
      arena: (bytes) => {
        asked++;
        buffer = new ArrayBuffer(base + bytes + 64);
        // a canary on each side of the region
        new Uint8Array(buffer).fill(0xa5, 0, base);
        new Uint8Array(buffer).fill(0x5a, base + bytes);
        return { buffer, base };
      },
    });
    const plain = new Mmu({ mode, guestMemory: 4 << 20, softTlbBits: 10 });
    expect(asked).toBe(1);
    const buf = buffer!;
    expect(mmu.host.buffer).toBe(buf);
    const needed = buf.byteLength - base - 64;
    expect(needed).toBe(plain.host.bytes + 4096 + SoftTlb.arenaBytes(10));
    const inside = (a: { buffer: ArrayBufferLike; byteOffset: number; byteLength: number }): boolean =>
      a.buffer === buf && a.byteOffset >= base && a.byteOffset + a.byteLength <= base + needed;
    expect(inside(mmu.u8)).toBe(true);
    expect(mmu.u8.byteOffset % 4096).toBe(0);
    expect(inside(mmu.tlbHpa)).toBe(true);
    for (const t of mmu.soft.tags32) expect(inside(t)).toBe(true);
    // Paging on with one mapping; the same reads and writes through both.
    for (const m of [mmu, plain]) {
      m.writePhys(0x1000, 4, 0x2003); // PDE 0 -> table at 0x2000
      m.writePhys(0x2000 + 4 * 5, 4, 0x7000 | 3); // linear page 5 -> frame 7
      m.setPaging({ cr0: 0x80000001, cr3Lo: 0x1000, cr3Hi: 0, cr4: 0, efer: 0 });
      expect(m.rd32(0x5000 + 8)).toBe(0);
      m.wr32(0x5000 + 8, 0x12345678);
      expect(m.readPhys(0x7008, 4)).toBe(0x12345678);
      expect(m.rd32(0x5000 + 8)).toBe(0x12345678);
    }
    expect(mmu.countersByName()).toEqual(plain.countersByName());
    // nothing outside the region was touched
    expect(new Uint8Array(buf, 0, base).every((v) => v === 0xa5)).toBe(true);
    expect(new Uint8Array(buf, base + needed).every((v) => v === 0x5a)).toBe(true);
  });

  it('is a region that does not fit its buffer, or an arena that is not a function, refused with a message saying so?', () => {
    expect(() => new Mmu({ guestMemory: 4 << 20, arena: (bytes) => ({ buffer: new ArrayBuffer(bytes), base: 8 }) })).toThrow(/does not fit/);
    expect(() => new Mmu({ guestMemory: 4 << 20, arena: (bytes) => ({ buffer: new ArrayBuffer(bytes + 16), base: 4 }) })).toThrow(/8-aligned/);
    expect(() => new Mmu({ guestMemory: 4 << 20, arena: 5 as never })).toThrow(/arena must be a function/);
    const a = new Arena(new ArrayBuffer(64), 8, 32);
    expect(a.alloc(12)).toBe(8);
    expect(a.alloc(4, 16)).toBe(32);
    expect(() => a.alloc(9)).toThrow(/do not fit \(4 left\)/);
  });
});
