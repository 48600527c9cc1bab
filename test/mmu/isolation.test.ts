/**
 * Isolation: whatever a guest writes into its page tables, and whatever it
 * loads into CR3, no mode may translate to a host frame that is not one of
 * the guest's own (in particular never a shadow, EPT or host-table frame),
 * and the translation must be the one the memory map gives for its gpa.
 *
 * The guest here is adversarial: random values written anywhere in its
 * memory (tables included) with no invalidation, random CR3 values and
 * paging formats, and accesses of every kind.
 */
import { describe, expect, it } from 'vitest';
import { Mmu, MODE_NAMES, T_MMIO, CR0_PE, CR0_PG, CR0_WP, CR4_PAE, CR4_PSE, CR4_PGE, CR4_LA57, EFER_LME, EFER_NXE, ACC_WRITE, ACC_USER, ACC_FETCH } from '../../src/mmu/index.js';
import type { ShadowMode } from '../../src/mmu/modes/shadow.js';
import { Rng } from './world.js';

const OPS = Number(process.env.VMMU_ISOLATION_OPS ?? 150_000);
const FORMATS = [
  { name: '32-bit', cr4: CR4_PSE | CR4_PGE, efer: 0 },
  { name: 'pae', cr4: CR4_PAE | CR4_PGE, efer: EFER_NXE },
  { name: '4-level', cr4: CR4_PAE | CR4_PGE, efer: EFER_LME | EFER_NXE },
  { name: '5-level', cr4: CR4_PAE | CR4_PGE | CR4_LA57, efer: EFER_LME | EFER_NXE },
];

describe.each(MODE_NAMES)('%s mode', (mode) => {
  it.each(FORMATS)('never maps an $name guest outside its own frames', ({ cr4, efer }) => {
    const ram = 2 << 20;
    const m = new Mmu({ mode, guestMemory: ram, holes: [{ gpa: ram, bytes: 64 << 10 }], shadow: { maxPages: 24, rootCache: 2 } });
    const rng = new Rng(0x150 + cr4 + efer);
    const wide = cr4 & CR4_PAE;
    // Dense, mostly-present tables: every entry of the low 256 KiB points at
    // another table there or, at the leaves, anywhere in RAM or beyond.
    const entry = (gpa: number): number => {
      if (wide && gpa & 4) return rng.chance(0.9) ? 0 : rng.u32(); // high dwords: mostly clean
      const frame = rng.chance(0.8) ? rng.below(64) : rng.below(ram / 4096 + 32);
      return (frame * 4096) | (rng.u32() & 0xfff & ~(wide ? 0x1e6 : 0)) | 1;
    };
    for (let gpa = 0; gpa < 256 << 10; gpa += 4) m.writePhys(gpa, 4, entry(gpa));
    for (let gpa = 256 << 10; gpa < ram; gpa += 4) m.writePhys(gpa, 4, rng.u32());
    expect(m.setPaging({ cr0: CR0_PE | CR0_PG | CR0_WP, cr4, efer, cr3Lo: 0x1000 })).toBe(0);
    let translations = 0;
    for (let i = 0; i < OPS; i++) {
      const r = rng.below(100);
      if (r < 70) {
        const acc = rng.pick([0, ACC_WRITE, ACC_USER, ACC_USER | ACC_WRITE, ACC_FETCH, ACC_USER | ACC_FETCH]);
        const lo = rng.u32();
        const hi = efer & EFER_LME ? (rng.chance(0.7) ? 0 : rng.chance(0.5) ? 0xffffffff : rng.below(0x10000)) : 0;
        const h = m.translate(lo, hi, acc);
        if (h >= 0) {
          translations++;
          if (m.ownerOf(h) !== 'guest') throw new Error(`op ${i}: translated to a ${m.ownerOf(h)} frame (hpa 0x${h.toString(16)})`);
          if (m.map.hpaOf(m.lastGpa) !== h) throw new Error(`op ${i}: hpa 0x${h.toString(16)} is not the memory map's for gpa 0x${m.lastGpa.toString(16)}`);
          if (acc & ACC_WRITE) m.writeAcc(lo, hi, 4, rng.u32(), acc);
        } else if (h !== T_MMIO) {
          m.clearFault();
        }
      } else if (r < 90) {
        // Random garbage into the tables, without invalidation.
        const gpa = rng.below(256 << 10) & ~3;
        m.writePhys(gpa, 4, rng.chance(0.8) ? entry(gpa) : rng.u32());
      } else if (r < 95) {
        if (m.writeCr3(rng.below(64) * 4096 + (wide ? rng.below(128) * 32 : 0), 0) !== 0) m.clearFault();
      } else if (r < 97) {
        m.invlpg(rng.u32(), 0);
      } else if (r < 98) {
        m.flushTlb(rng.chance(0.5));
      } else {
        m.writeCr0(m.cr0 ^ CR0_WP);
      }
      m.clearFault();
    }
    // Every cached translation still points at a guest frame.
    const soft = m.soft;
    for (let i = 0; i < soft.size; i++) {
      if (soft.vpn[i] === -1) continue;
      expect(m.ownerOf(soft.hpa[i]!)).toBe('guest');
      expect(m.map.hpaOf(soft.gpa[i]!)).toBe(soft.hpa[i]);
    }
    if (mode === 'shadow') expect((m.mode as ShadowMode).audit()).toEqual([]);
    expect(translations).toBeGreaterThan(OPS / 50);
  });
});
