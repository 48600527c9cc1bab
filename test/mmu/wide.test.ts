/**
 * The MMU's 8-byte accesses (read64, write64, readAcc64, writeAcc64,
 * writePhys64): one access within a page, two across one, in every mode;
 * and what shadow mode counts for an 8-byte store to a guest table (one
 * exit, one emulated write), where two 4-byte stores count twice.
 */
import { describe, expect, it } from 'vitest';
import {
  Mmu, MODE_NAMES, type ModeName, CR0_PE, CR0_PG, CR0_WP, CR4_PAE, EFER_LME, PTE_P, PTE_RW, PTE_US, PTE_PS, ACC_WRITE, ACC_RMW_R, ACC_RMW_W,
} from '../../src/mmu/index.js';

const E = PTE_P | PTE_RW | PTE_US;
/** the kernel's window onto guest-physical memory (PML4 slot 256, 2 MiB pages) */
const KHI = 0xffff8000;
const PML4 = 0x1000, PDPT = 0x2000, PD = 0x3000, PT = 0x4000;
/** gva 0x0000 maps frame 0x400000, gva 0x1000 frame 0x500000 (not the next one), gva 0x2000 nothing */
const F0 = 0x400000, F1 = 0x500000;

function guest(mode: ModeName, measure = false, unsync = true): Mmu {
  const m = new Mmu({ mode, guestMemory: 16 << 20, measure, shadow: { unsync } });
  m.writePhys(PML4, 4, PDPT | E);
  m.writePhys(PML4 + 256 * 8, 4, 0x100000 | PTE_P | PTE_RW);
  m.writePhys(0x100000, 4, 0x101000 | PTE_P | PTE_RW);
  for (let i = 0; i < 8; i++) m.writePhys(0x101000 + i * 8, 4, (i << 21) | PTE_P | PTE_RW | PTE_PS);
  m.writePhys(PDPT, 4, PD | E);
  m.writePhys(PD, 4, PT | E);
  m.writePhys(PT, 4, F0 | E);
  m.writePhys(PT + 8, 4, F1 | E);
  expect(m.setPaging({ cr0: CR0_PE | CR0_PG | CR0_WP, cr4: CR4_PAE, efer: EFER_LME, cr3Lo: PML4 })).toBe(0);
  return m;
}

describe('8-byte accesses', () => {
  it.each(MODE_NAMES)('%s: do write64 and read64 store and load the 8 bytes in place, unaligned and across a page to a frame elsewhere?', (mode) => {
    const m = guest(mode);
    for (const off of [0x10, 0x13, 0xff8, 0xffa, 0xffc, 0xfff]) {
      m.write64(off, 0, 0x44332211, 0x88776655 | 0);
      expect(m.faultVector).toBe(0);
      const bytes = [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88];
      // each byte in the frame its page maps: gva 0xfff and up are in F0's last bytes, then F1
      expect(bytes.map((_, k) => m.readPhys(off + k < 0x1000 ? F0 + off + k : F1 + off + k - 0x1000, 1)), `at ${off.toString(16)}`).toEqual(bytes);
      expect([m.read64(off, 0), m.readHi]).toEqual([0x44332211, 0x88776655 | 0]);
      expect([m.readAcc64(off, 0, ACC_WRITE | ACC_RMW_R, ACC_WRITE | ACC_RMW_R), m.readHi]).toEqual([0x44332211, 0x88776655 | 0]);
      m.writeAcc64(off, 0, 1, 2, ACC_RMW_W);
      expect([m.read64(off, 0), m.readHi]).toEqual([1, 2]);
    }
    m.writePhys64(F0 + 0x20, 0x01020304, -1);
    expect([m.read64(0x20, 0), m.readHi]).toEqual([0x01020304, -1]);
  });

  it.each(MODE_NAMES)('%s: across into a page that is not present, does write64 write nothing and fault at the second page, and read64 return 0?', (mode) => {
    const m = guest(mode);
    m.writePhys(F1 + 0xff8, 4, 0x5a5a5a5a);
    m.write64(0x1ffc, 0, -1, -1);
    expect([m.faultVector, m.fault.errorCode & ACC_WRITE, m.fault.addrLo]).toEqual([14, ACC_WRITE, 0x2000]);
    expect(m.readPhys(F1 + 0xffc, 4)).toBe(0);
    m.clearFault();
    expect(m.read64(0x1ffe, 0)).toBe(0);
    expect([m.faultVector, m.fault.addrLo]).toEqual([14, 0x2000]);
  });

  it.each(MODE_NAMES)('%s: with the cost model on, is an 8-byte load or store within a page one access, and across a page two?', (mode) => {
    const m = guest(mode, true);
    m.read64(0x10, 0);
    m.write64(0x10, 0, 1, 2);
    m.resetCounters();
    m.read64(0x18, 0);
    m.write64(0x20, 0, 1, 2);
    m.read64(0xffc, 0);
    m.write64(0xffc, 0, 1, 2);
    const c = m.countersByName();
    expect([c['access.read'], c['access.write']]).toEqual([3, 3]);
  });

  it('under shadow, is an 8-byte store to a write-protected table one exit and one emulated write, where two 4-byte stores are two?', () => {
    const counts = (store: (m: Mmu, at: number) => void): number[] => {
      const m = guest('shadow', false, false); // no out-of-sync tables: every store to one is trapped
      m.translate(0x1000, 0, 0); // shadows the PT: its frame is write-protected
      m.resetCounters();
      store(m, PT + 8); // through the kernel's window
      const c = m.countersByName();
      return [c['exit.pt_write']!, c['shadow.emulated_write']!];
    };
    expect(counts((m, at) => m.write64(at, KHI, F0 | E, 0))).toEqual([1, 1]);
    expect(counts((m, at) => { m.write32(at, KHI, F0 | E); m.write32(at + 4, KHI, 0); })).toEqual([2, 2]);
    // a read-modify-write of 8 bytes: its one exit at the read, its write one emulated write
    expect(counts((m, at) => { m.readAcc64(at, KHI, ACC_WRITE | ACC_RMW_R, 0); m.writeAcc64(at, KHI, F0 | E, 0, ACC_RMW_W); })).toEqual([1, 1]);
    // and the new entry takes effect (the shadow entry was dropped) at the next miss
    const m = guest('shadow');
    m.writePhys(F1 + 0x10, 4, 0x5678);
    m.writePhys(F0 + 0x1010, 4, 0x1234);
    expect(m.read32(0x1010, 0)).toBe(0x5678); // gva 0x1000 maps F1, and shadow holds that
    m.write64(PT + 8, KHI, (F0 + 0x1000) | E, 0);
    m.invlpg(0x1000, 0);
    expect(m.read32(0x1010, 0)).toBe(0x1234);
  });

  it('are bad writePhys64 addresses refused with a RangeError naming the method?', () => {
    const m = guest('naive');
    expect(() => m.writePhys64(-8, 0, 0)).toThrow(/writePhys64: gpa -8 is not a whole address/);
    expect(() => m.writePhys64(2 ** 52, 0, 0)).toThrow(RangeError);
  });
});
