/**
 * Shadow mode's machinery, each piece checked by what it must do: the root
 * cache, write protection seen from CPU and device writes, out-of-sync pages,
 * write-flood detection, the memory budget, guest large pages, roles.
 */
import { describe, expect, it } from 'vitest';
import { Mmu, CR0_PE, CR0_PG, CR0_WP, CR4_PAE, EFER_LME, PTE_P, PTE_RW, PTE_US, PTE_PS, ACC_USER, ACC_WRITE, WATCH_SHADOW } from '../../src/mmu/index.js';
import type { ShadowMode } from '../../src/mmu/modes/shadow.js';

const E = PTE_P | PTE_RW | PTE_US;
/** gva of the kernel's window onto guest-physical memory (PML4 slot 256) */
const KHI = 0xffff8000;

/**
 * A 4-level guest with `spaces` address spaces. Space s: PML4 at (1+4s)
 * pages, its own PDPT/PD/PT below it for gva 0..2 MiB mapping data frames
 * from 0x400000; PML4[256] maps all 16 MiB of guest memory (2 MiB pages,
 * supervisor) for the "kernel" to write tables through.
 */
function guest(spaces: number, options: ConstructorParameters<typeof Mmu>[0] = {}): { mmu: Mmu; root: (s: number) => number; pt: (s: number) => number } {
  const mmu = new Mmu({ mode: 'shadow', guestMemory: 16 << 20, ...options });
  const root = (s: number): number => (1 + 4 * s) * 4096;
  const pt = (s: number): number => root(s) + 3 * 4096;
  const kpdpt = 0x100000, kpd = 0x101000;
  mmu.writePhys(kpdpt, 4, kpd | PTE_P | PTE_RW);
  for (let i = 0; i < 8; i++) mmu.writePhys(kpd + i * 8, 4, (i << 21) | PTE_P | PTE_RW | PTE_PS);
  for (let s = 0; s < spaces; s++) {
    const r = root(s);
    mmu.writePhys(r, 4, (r + 4096) | E);
    mmu.writePhys(r + 256 * 8, 4, kpdpt | PTE_P | PTE_RW);
    mmu.writePhys(r + 4096, 4, (r + 8192) | E);
    mmu.writePhys(r + 8192, 4, pt(s) | E);
    for (let i = 0; i < 512; i++) mmu.writePhys(pt(s) + i * 8, 4, (0x400000 + (s * 512 + i) * 4096) | E);
  }
  expect(mmu.setPaging({ cr0: CR0_PE | CR0_PG | CR0_WP, cr4: CR4_PAE, efer: EFER_LME, cr3Lo: root(0) })).toBe(0);
  return { mmu, root, pt };
}

const audit = (m: Mmu): string[] => (m.mode as ShadowMode).audit();

describe('root cache', () => {
  it('does switching among five address spaces reuse their roots instead of rebuilding?', () => {
    const { mmu, root } = guest(5);
    for (let round = 0; round < 3; round++) {
      for (let s = 0; s < 5; s++) {
        expect(mmu.writeCr3(root(s), 0)).toBe(0);
        mmu.translate(0x1000, 0, ACC_USER);
      }
      if (round === 0) mmu.resetCounters();
    }
    const c = mmu.countersByName();
    expect(c['shadow.root.hit']).toBe(10);
    expect(c['shadow.root.miss']).toBe(0);
    expect(c['shadow.page.create']).toBe(0);
    expect(c['exit.hidden_pf']).toBe(0);
    expect(audit(mmu)).toEqual([]);
  });

  it('does a sixth address space push the oldest root out?', () => {
    const { mmu, root } = guest(6, { shadow: { rootCache: 4 } });
    for (let s = 0; s < 6; s++) mmu.writeCr3(root(s), 0);
    mmu.resetCounters();
    mmu.writeCr3(root(0), 0);
    expect(mmu.countersByName()['shadow.root.miss']).toBe(1);
  });
});

describe('write protection', () => {
  it('does a device (DMA) write to a shadowed page table reach the shadow entries?', () => {
    const { mmu, pt } = guest(1);
    expect(mmu.readAcc(0x3000, 0, 4, ACC_USER)).toBe(0);
    mmu.writePhys(0x400000 + 3 * 4096, 4, 0x11111111);
    mmu.writePhys(0x500000, 4, 0x22222222);
    expect(mmu.readAcc(0x3000, 0, 4, ACC_USER)).toBe(0x11111111);
    expect(mmu.watch[pt(0) / 4096]! & WATCH_SHADOW).toBeTruthy();
    // remap gva 0x3000 -> gpa 0x500000 with a device write, then INVLPG
    mmu.writePhys(pt(0) + 3 * 8, 4, 0x500000 | E);
    mmu.invlpg(0x3000, 0);
    expect(mmu.readAcc(0x3000, 0, 4, ACC_USER)).toBe(0x22222222);
    expect(mmu.countersByName()['shadow.spte.zap']).toBe(1);
    expect(audit(mmu)).toEqual([]);
  });

  it('with out-of-sync pages off, does every CPU write to a page table exit and get emulated?', () => {
    const { mmu, pt } = guest(1, { shadow: { unsync: false, floodThreshold: 100 } });
    mmu.translate(0x3000, 0, ACC_USER);
    mmu.resetCounters();
    for (let i = 0; i < 5; i++) mmu.writeAcc(pt(0) + 8 * (10 + i), KHI, 4, (0x600000 + i * 4096) | E, ACC_WRITE);
    const c = mmu.countersByName();
    expect(c['exit.pt_write']).toBe(5);
    expect(c['shadow.emulated_write']).toBe(5);
    expect(mmu.readPhys(pt(0) + 8 * 14, 4)).toBe(0x604000 | E);
  });
});

describe('out-of-sync pages', () => {
  it('does the first write to a last-level table unsync it, later writes run free, and INVLPG resync the entry?', () => {
    const { mmu, pt } = guest(1);
    expect(mmu.readAcc(0x5000, 0, 4, ACC_USER)).toBe(0);
    mmu.writePhys(0x700000, 4, 0x77);
    mmu.resetCounters();
    const kpte = pt(0) + 5 * 8; // the PTE of gva 0x5000, seen through the kernel window
    mmu.writeAcc(kpte, KHI, 4, 0x700000 | E, ACC_WRITE);
    mmu.writeAcc(kpte + 8, KHI, 4, 0x700000 | E, ACC_WRITE);
    let c = mmu.countersByName();
    expect(c['shadow.unsync']).toBe(1);
    expect(c['exit.pt_write']).toBe(0); // unsynced on the first write fault, not emulated
    expect(c['exit.hidden_pf']).toBe(1); // only the first write faulted
    expect(mmu.watch[pt(0) / 4096]! & WATCH_SHADOW).toBe(0);
    // Stale until invalidated (allowed by SDM 4.10.4.3), fresh after INVLPG.
    mmu.invlpg(0x5000, 0);
    expect(mmu.readAcc(0x5000, 0, 4, ACC_USER)).toBe(0x77);
    c = mmu.countersByName();
    expect(c['shadow.resync.entries']).toBeGreaterThan(0);
    // A CR3 load resyncs every out-of-sync page and protects the table again.
    mmu.writeCr3(mmu.cr3Lo, 0);
    expect(mmu.countersByName()['shadow.resync']).toBe(1);
    expect(mmu.watch[pt(0) / 4096]! & WATCH_SHADOW).toBeTruthy();
    expect(audit(mmu)).toEqual([]);
  });
});

describe('write flooding', () => {
  it('is a page table written three times without being walked unshadowed, so later writes run free?', () => {
    const { mmu, pt } = guest(1, { shadow: { unsync: false } });
    mmu.translate(0x3000, 0, ACC_USER);
    mmu.resetCounters();
    for (let i = 0; i < 10; i++) mmu.writeAcc(pt(0) + 8 * (100 + i), KHI, 4, 0, ACC_WRITE);
    const c = mmu.countersByName();
    expect(c['shadow.flood']).toBe(1);
    expect(c['exit.pt_write']).toBe(3);
    expect(mmu.watch[pt(0) / 4096]! & WATCH_SHADOW).toBe(0);
    expect(audit(mmu)).toEqual([]);
  });

  it('is a write straddling two entries treated as misaligned and the page unshadowed?', () => {
    const { mmu, pt } = guest(1, { shadow: { unsync: false } });
    mmu.translate(0x3000, 0, ACC_USER);
    mmu.writeAcc(pt(0) + 8 * 20 + 6, KHI, 4, 0, ACC_WRITE);
    expect(mmu.countersByName()['shadow.misaligned']).toBe(1);
  });
});

describe('budget', () => {
  it('does a guest with more page tables than the budget stay within it by reclaiming?', () => {
    const mmu = new Mmu({ mode: 'shadow', guestMemory: 16 << 20, shadow: { maxPages: 32 } });
    // 64 page tables under one PD, each mapping one page.
    mmu.writePhys(0x1000, 4, 0x2000 | E);
    mmu.writePhys(0x2000, 4, 0x3000 | E);
    for (let i = 0; i < 64; i++) {
      mmu.writePhys(0x3000 + i * 8, 4, (0x10000 + i * 4096) | E);
      mmu.writePhys(0x10000 + i * 4096, 4, (0x400000 + i * 4096) | E);
    }
    mmu.setPaging({ cr0: CR0_PE | CR0_PG, cr4: CR4_PAE, efer: EFER_LME, cr3Lo: 0x1000 });
    for (let round = 0; round < 2; round++) for (let i = 0; i < 64; i++) expect(mmu.translate(i << 21, 0, ACC_USER)).toBeGreaterThanOrEqual(0);
    const c = mmu.countersByName();
    expect(c['shadow.page.reclaim']).toBeGreaterThan(0);
    expect(mmu.report().gauges['shadow.pages']).toBeLessThanOrEqual(32);
    expect(audit(mmu)).toEqual([]);
  });
});

describe('guest large pages and roles', () => {
  it('is a 2 MiB guest page shadowed by a direct page of 4 KiB entries?', () => {
    const mmu = new Mmu({ mode: 'shadow', guestMemory: 16 << 20 });
    mmu.writePhys(0x1000, 4, 0x2000 | E);
    mmu.writePhys(0x2000, 4, 0x3000 | E);
    mmu.writePhys(0x3000, 4, 0x400000 | E | PTE_PS);
    mmu.writePhys(0x400000 + 0x1234, 4, 0xabcdef);
    mmu.setPaging({ cr0: CR0_PE | CR0_PG, cr4: CR4_PAE, efer: EFER_LME, cr3Lo: 0x1000 });
    expect(mmu.readAcc(0x1234, 0, 4, ACC_USER)).toBe(0xabcdef);
    expect(mmu.readAcc(0x1ff000, 0, 4, ACC_USER)).toBe(0);
    const dump = mmu.dump();
    expect(dump).toMatch(/L1 direct gfn 0x400/);
    // PML4, PDPT and PD shadows, one direct page, and the paging-off root still in the root cache
    expect(mmu.report().gauges['shadow.pages']).toBe(5);
    expect(dump.match(/L1 direct/g)).toHaveLength(1);
  });

  it('does toggling CR0.WP select other shadow pages and find the old ones when toggled back?', () => {
    const { mmu } = guest(1);
    mmu.translate(0x3000, 0, ACC_USER);
    mmu.writeCr0(mmu.cr0 & ~CR0_WP);
    mmu.translate(0x3000, 0, ACC_USER);
    mmu.resetCounters();
    mmu.writeCr0(mmu.cr0 | CR0_WP);
    mmu.translate(0x3000, 0, ACC_USER);
    const c = mmu.countersByName();
    expect(c['shadow.root.hit']).toBe(1);
    expect(c['shadow.page.create']).toBe(0);
    expect(c['exit.hidden_pf']).toBe(0);
  });

  it('does the shadow dump name every root and shadow page role?', () => {
    const { mmu } = guest(2);
    mmu.translate(0x3000, 0, ACC_USER);
    const dump = mmu.dump();
    expect(dump).toMatch(/root 0 \(current\)/);
    expect(dump).toMatch(/L3 gfn 0x2 access wux/);
    expect(dump).toMatch(/L1\[3\] 0x3000 -> 0x[0-9a-f]+ -U--A- \(1 page\)/);
  });
});
