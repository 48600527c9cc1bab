/**
 * The cost model counts what the hardware would do, in numbers worked out by
 * hand: walk references per dimension, TLB hits and misses by level, and
 * the exits each mode takes.
 */
import { describe, expect, it } from 'vitest';
import { Mmu, type MmuOptions, CR0_PE, CR0_PG, CR4_PAE, EFER_LME, PTE_P, PTE_RW, PTE_US, ACC_USER, ACC_FETCH } from '../../src/mmu/index.js';
import { ModelCache } from '../../src/mmu/tlb/cache.js';

/** A 4-level guest: PML4 0x1000 -> PDPT 0x2000 -> PD 0x3000 -> PT 0x4000, 512 pages from gpa 0x100000 at gva 0. */
function fourLevel(o: MmuOptions): Mmu {
  const m = new Mmu({ guestMemory: 16 << 20, measure: true, ...o });
  const e = PTE_P | PTE_RW | PTE_US;
  m.writePhys(0x1000, 4, 0x2000 | e);
  m.writePhys(0x2000, 4, 0x3000 | e);
  m.writePhys(0x3000, 4, 0x4000 | e);
  for (let i = 0; i < 512; i++) m.writePhys(0x4000 + i * 8, 4, (0x100000 + i * 4096) | e);
  expect(m.setPaging({ cr0: CR0_PE | CR0_PG, cr4: CR4_PAE, efer: EFER_LME, cr3Lo: 0x1000 })).toBe(0);
  m.resetCounters();
  return m;
}

describe('two-dimensional walks', () => {
  it('does a cold 4-level x 4-level walk with no walk caches make 24 memory references?', () => {
    const m = fourLevel({ mode: 'slat', slat: { pwc: false, nestedTlb: false } });
    m.translate(0x5000, 0, ACC_USER);
    const c = m.countersByName();
    expect(c['walk.count']).toBe(1);
    expect(c['walk.refs.guest']).toBe(4); // one per guest level
    expect(c['walk.refs.nested']).toBe(20); // 4 EPT refs for each of 4 guest entries and the final gpa
    expect(c['walk.refs']).toBe(24);
    expect(c['exit.ept_violation']).toBe(5); // four table frames and the data frame, first touch
  });

  it('does the nested TLB remove the EPT walks of table pages already translated?', () => {
    const m = fourLevel({ mode: 'slat', slat: { pwc: false, nestedTlb: true } });
    m.translate(0x5000, 0, ACC_USER);
    m.translate(0x6000, 0, ACC_USER); // same tables, new data page: only the data page's EPT walk misses
    const c = m.countersByName();
    expect(c['walk.count']).toBe(2);
    expect(c['walk.refs']).toBe(24 + 4 + 4);
    expect(c['ntlb.hit']).toBe(4);
  });

  it('do paging-structure caches shorten the EPT walks of the first walk and cut the second to the last guest level?', () => {
    const m = fourLevel({ mode: 'slat', slat: { pwc: true, nestedTlb: true } });
    m.translate(0x5000, 0, ACC_USER);
    // First walk: 4 guest refs; the first nested walk (gpa 0x1000) is a full
    // 4-level EPT walk, then every other gpa (0x2000..0x4000, 0x105000) shares
    // its EPT PDE, cached: 1 ref each. 4 + 4 + 4 = 12.
    expect(m.countersByName()['walk.refs']).toBe(12);
    m.translate(0x6000, 0, ACC_USER);
    // Second walk: the guest PDE cache hit leaves the PTE (1 guest ref, its
    // table page in the nested TLB) and the new data page (EPT PDE cached: 1).
    const c = m.countersByName();
    expect(c['walk.refs']).toBe(12 + 2);
    expect(c['ntlb.hit']).toBe(1);
  });
});

describe('shadow and naive walks', () => {
  it('does a shadow TLB miss cost one reference per shadow level?', () => {
    const m = fourLevel({ mode: 'shadow' });
    m.translate(0x5000, 0, ACC_USER);
    const c = m.countersByName();
    expect(c['walk.refs.shadow']).toBe(4);
    expect(c['exit.hidden_pf']).toBe(1);
    expect(c['walk.refs.nested'] + c['walk.refs.guest']).toBe(0);
  });

  it('does naive mode make a software walk of 4 references and host walks for them?', () => {
    const m = fourLevel({ mode: 'naive' });
    m.translate(0x5000, 0, ACC_USER);
    const c = m.countersByName();
    expect(c['sw.translate']).toBe(1);
    expect(c['sw.vtlb.miss']).toBe(1);
    // its virtual TLB's levels are counted too: the guest-side figures
    expect([c['sw.vtlb.l1d.hit'], c['sw.vtlb.l1d.miss'], c['sw.vtlb.l2.hit'], c['sw.vtlb.l2.miss']]).toEqual([0, 1, 0, 1]);
    m.translate(0x5000, 0, ACC_USER);
    m.translate(0x5004, 0, ACC_USER | ACC_FETCH);
    const d = m.countersByName();
    expect([d['sw.vtlb.l1d.hit'], d['sw.vtlb.l1i.miss'], d['sw.vtlb.l2.hit']]).toEqual([1, 1, 1]);
    expect(d['sw.vtlb.l1d.hit'] + d['sw.vtlb.l1i.hit'] + d['sw.vtlb.l2.hit']).toBe(d['sw.vtlb.hit']);
    // 5 host accesses (4 table pages + the data page), each a host TLB miss
    expect(c['tlb.l2.miss']).toBe(5);
    expect(c['exit.total']).toBe(0);
  });
});

describe('modeled TLB', () => {
  it('does a 4-way set evict its least recently used way?', () => {
    const c = new ModelCache(8, 4); // 2 sets
    for (const k of [0, 2, 4, 6]) c.insert(k, 0, 0, false); // set 0 full
    expect(c.lookup(0, 0, 0)).toBe(true); // 0 becomes most recent
    c.insert(8, 0, 0, false); // evicts 2, the LRU
    expect(c.lookup(2, 0, 0)).toBe(false);
    expect(c.lookup(0, 0, 0) && c.lookup(4, 0, 0) && c.lookup(6, 0, 0) && c.lookup(8, 0, 0)).toBe(true);
  });

  it('do global entries survive an address-space flush and match any address space?', () => {
    const c = new ModelCache(4, 4);
    c.insert(1, 0, 7, true);
    c.insert(2, 0, 7, false);
    c.flushAsid(7, true);
    expect(c.lookup(1, 0, 9)).toBe(true);
    expect(c.lookup(2, 0, 7)).toBe(false);
  });

  it('does a stride over more pages than the L1 dTLB holds miss L1 every time and hit L2 after the first pass?', () => {
    // 128 pages > 64-entry L1 dTLB (16 sets x 4 ways), < 1536-entry L2: with LRU, a cyclic sweep misses L1 always.
    const m = fourLevel({ mode: 'shadow' });
    for (let pass = 0; pass < 3; pass++) for (let p = 0; p < 128; p++) m.translate(p * 4096, 0, ACC_USER);
    const c = m.countersByName();
    expect(c['tlb.l1d.miss']).toBe(384);
    expect(c['tlb.l2.miss']).toBe(128);
    expect(c['tlb.l2.hit']).toBe(256);
  });

  it('do 48 pages, fewer than the L1 dTLB holds, hit L1 after the first pass?', () => {
    const m = fourLevel({ mode: 'shadow' });
    for (let pass = 0; pass < 3; pass++) for (let p = 0; p < 48; p++) m.translate(p * 4096, 0, ACC_USER);
    const c = m.countersByName();
    expect(c['tlb.l1d.hit']).toBe(96);
    expect(c['tlb.l1d.miss']).toBe(48);
  });
});

describe('VPID', () => {
  it('does turning VPID off make every VM exit flush the modeled TLB?', () => {
    const on = fourLevel({ mode: 'slat', vpid: true });
    const off = fourLevel({ mode: 'slat', vpid: false });
    for (const m of [on, off]) {
      m.translate(0x5000, 0, ACC_USER);
      m.translate(0x7000, 0, ACC_USER); // EPT violation: an exit
      m.translate(0x5000, 0, ACC_USER);
    }
    expect(on.countersByName()['tlb.l1d.hit']).toBe(1);
    expect(off.countersByName()['tlb.l1d.hit']).toBe(0);
    expect(off.countersByName()['tlb.flush.all']).toBeGreaterThan(0);
  });
});

describe('cost profile', () => {
  it('does a user profile replace only the fields it gives?', () => {
    const m = new Mmu({ mode: 'shadow', guestMemory: 1 << 20, costProfile: { vmExit: 1234 } });
    expect(m.profile.vmExit).toBe(1234);
    expect(m.profile.l2TlbHit).toBe(9);
  });

  it('does a negative or non-numeric cost field fail with its name?', () => {
    expect(() => new Mmu({ guestMemory: 1 << 20, costProfile: { walkRef: -1 } })).toThrow(/walkRef/);
    expect(() => new Mmu({ guestMemory: 1 << 20, costProfile: { walkRef: 'x' as unknown as number } })).toThrow(/walkRef/);
  });
});
