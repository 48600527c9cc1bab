/**
 * Read-only memory (MmuOptions.rom, the PC's BIOS area): reads and fetches
 * see the bytes loadRom put there, at memory speed; every write, the
 * guest's (paging off or on, through a fresh fill or a TLB entry that
 * allows writing) and a device's (writePhys, writePhysBytes), goes to the
 * MMIO handler and leaves the bytes unchanged, identically in every mode.
 */
import { describe, expect, it } from 'vitest';
import { Mmu, CR0_PE, CR0_PG, PTE_P, PTE_RW, PTE_US, type MmioHandler } from '../../src/mmu/index.js';
import { MODE_NAMES } from '../../src/mmu/modes/mode.js';

const ROM = { gpa: 0xc0000, bytes: 0x40000 };
const PD = 0x10000, PT = 0x11000, LIN = 0x5000;

function romMmu(mode: (typeof MODE_NAMES)[number], measure = false): { mmu: Mmu; writes: string[] } {
  const writes: string[] = [];
  const mmio: MmioHandler = {
    read: (_gpa, size) => (size === 4 ? 0xffffffff : (1 << (size * 8)) - 1),
    write: (gpa, size, value) => { writes.push(`${gpa.toString(16)}/${size}=${value.toString(16)}`); },
  };
  const mmu = new Mmu({ mode, guestMemory: 4 << 20, holes: [{ gpa: 0xa0000, bytes: 0x20000 }], rom: [ROM], mmio, measure });
  const image = new Uint8Array(ROM.bytes);
  for (let k = 0; k < image.length; k++) image[k] = (k * 7 + 3) & 0xff;
  mmu.loadRom(ROM.gpa, image);
  return { mmu, writes };
}

describe.each(MODE_NAMES)('read-only memory under %s', (mode) => {
  it('does the guest read what loadRom put there, and does no write of the guest or of a device change it?', () => {
    const { mmu, writes } = romMmu(mode);
    const at = ROM.gpa + 0x3_1000;
    const before = mmu.readPhys(at, 4);
    expect(before).toBe((((0x31000 * 7 + 3) & 0xff) | (((0x31001 * 7 + 3) & 0xff) << 8) | (((0x31002 * 7 + 3) & 0xff) << 16) | (((0x31003 * 7 + 3) & 0xff) << 24)) >>> 0);
    // Paging off: a CPU read, then writes (the first fills, the next ones hit the TLB slot).
    expect(mmu.read32(at, 0) >>> 0).toBe(before);
    for (let k = 0; k < 3; k++) mmu.write32(at, 0, 0x1234_5678);
    mmu.write8(at + 1, 0, 0);
    expect(mmu.read32(at, 0) >>> 0).toBe(before);
    // Devices.
    mmu.writePhys(at, 2, 0xbeef);
    mmu.writePhysBytes(at - 2, new Uint8Array([1, 2, 3, 4, 5, 6]));
    expect(mmu.readPhys(at, 4)).toBe(before);
    expect(Array.from(mmu.readPhysBytes(at - 2, 2))).toEqual([((0x30ffe * 7 + 3) & 0xff), ((0x30fff * 7 + 3) & 0xff)]);
    expect(writes.slice(0, 5)).toEqual([`${at.toString(16)}/4=12345678`, `${at.toString(16)}/4=12345678`, `${at.toString(16)}/4=12345678`, `${(at + 1).toString(16)}/1=0`, `${at.toString(16)}/2=beef`]);
    expect(writes.length).toBe(5 + 3); // writePhysBytes goes entry-sized into watched frames: 1 + 1 + 4 bytes
    // RAM next to it is RAM.
    mmu.write32(0x9_f000, 0, 0x55aa_55aa);
    expect(mmu.read32(0x9_f000, 0) >>> 0).toBe(0x55aa_55aa);
    expect(mmu.map.ramBytes).toBe(4 << 20);
    expect(mmu.map.romBytes).toBe(ROM.bytes);
  });

  it('through a guest page table that allows writing, do reads see the ROM and writes leave it unchanged?', () => {
    const { mmu, writes } = romMmu(mode, true);
    mmu.writePhys(PD, 4, PT | PTE_P | PTE_RW | PTE_US);
    mmu.writePhys(PT + (LIN >>> 12) * 4, 4, (ROM.gpa + 0x2_0000) | PTE_P | PTE_RW | PTE_US);
    mmu.writePhys(PT + 4 * 4, 4, 0x4000 | PTE_P | PTE_RW | PTE_US);
    mmu.setPaging({ cr0: CR0_PE | CR0_PG, cr3Lo: PD, cr4: 0, efer: 0 });
    const v = mmu.readPhys(ROM.gpa + 0x2_0010, 4);
    for (let k = 0; k < 4; k++) {
      expect(mmu.read32(LIN + 0x10, 0) >>> 0).toBe(v);
      mmu.write32(LIN + 0x10, 0, k);
    }
    expect(mmu.read32(LIN + 0x10, 0) >>> 0).toBe(v);
    expect(writes).toEqual(Array.from({ length: 4 }, (_, k) => `e0010/4=${k}`));
    // The walk for the write set D in the guest's entry, as for any page.
    expect(mmu.readPhys(PT + (LIN >>> 12) * 4, 4) & 0x60).toBe(0x60);
    const c = mmu.countersByName();
    if (mode === 'shadow') expect(c['exit.mmio']).toBe(4);
    else expect(c['exit.mmio']).toBe(0);
  });
});

describe.each(MODE_NAMES)('a guest page table in read-only memory under %s', (mode) => {
  it('does a walk through it translate, leaving its accessed and dirty bits clear (a ROM ignores their write)?', () => {
    const { mmu, writes } = romMmu(mode, true);
    const romPt = ROM.gpa + 0x1000;
    const image = new Uint8Array(0x1000);
    new DataView(image.buffer).setUint32((LIN >>> 12) * 4, 0x7000 | PTE_P | PTE_RW | PTE_US, true); // A and D clear
    mmu.loadRom(romPt, image);
    mmu.writePhys(PD, 4, romPt | PTE_P | PTE_RW | PTE_US);
    mmu.writePhys(0x7010, 4, 0xfeed_f00d);
    mmu.setPaging({ cr0: CR0_PE | CR0_PG, cr3Lo: PD, cr4: 0, efer: 0 });
    expect(mmu.read32(LIN + 0x10, 0) >>> 0).toBe(0xfeed_f00d);
    mmu.write32(LIN + 0x14, 0, 0x1234_5678);
    expect(mmu.readPhys(0x7014, 4)).toBe(0x1234_5678);
    expect(mmu.readPhys(romPt + (LIN >>> 12) * 4, 4)).toBe(0x7000 | PTE_P | PTE_RW | PTE_US);
    // The directory entry in RAM did get its accessed bit.
    expect(mmu.readPhys(PD, 4) & 0x20).toBe(0x20);
    // A write to the table through its own mapping would be a ROM write: dropped.
    mmu.writePhys(romPt + (LIN >>> 12) * 4, 4, 0);
    expect(mmu.readPhys(romPt + (LIN >>> 12) * 4, 4)).toBe(0x7000 | PTE_P | PTE_RW | PTE_US);
    expect(writes.length).toBe(1);
  });
});

describe('read-only memory: bad input', () => {
  it('is loadRom outside every ROM range refused, naming the address?', () => {
    const { mmu } = romMmu('naive');
    expect(() => mmu.loadRom(ROM.gpa - 2, new Uint8Array(4))).toThrow(new RangeError('loadRom: gpa 0xbfffe (byte 0 of 4) is not in a ROM range (MmuOptions.rom)'));
    const before = mmu.readPhys(ROM.gpa + ROM.bytes - 2, 2);
    expect(() => mmu.loadRom(ROM.gpa + ROM.bytes - 2, new Uint8Array(4))).toThrow(new RangeError('loadRom: gpa 0x100000 (byte 2 of 4) is not in a ROM range (MmuOptions.rom)'));
    expect(mmu.readPhys(ROM.gpa + ROM.bytes - 2, 2)).toBe(before); // a refused load stores nothing
  });

  it('are ROM ranges that overlap a hole or are not page-aligned refused, naming them?', () => {
    expect(() => new Mmu({ holes: [{ gpa: 0xa0000, bytes: 0x30000 }], rom: [ROM] })).toThrow(new RangeError('holes[0] and rom[0] overlap: 0xa0000+0x30000 and 0xc0000+0x40000'));
    expect(() => new Mmu({ rom: [{ gpa: 0xc0800, bytes: 0x1000 }] })).toThrow(new RangeError('rom[0].gpa 788480 is not a page-aligned address'));
    expect(() => new Mmu({ rom: {} as never })).toThrow(new TypeError('rom must be an array of { gpa, bytes }'));
  });
});
