/**
 * The oracle checked against numbers worked out by hand from the Intel SDM
 * vol. 3A, chapter 4, so that the permission matrix rests on something
 * other than the oracle's own word. Every expected value below is written
 * out literally; the comment next to it says where it comes from.
 */
import { describe, expect, it } from 'vitest';
import { ACC_AC, ACC_FETCH, ACC_USER, ACC_WRITE } from '../../src/mmu/index.js';
import { oracleLoadPdptes, oracleTranslate, PlainMemory, type OracleState } from './oracle.js';

const PG = 0x80000000 | 0;
const WP = 0x10000;
const PSE = 0x10;
const PAE = 0x20;
const LA57 = 0x1000;
const SMEP = 0x100000;
const SMAP = 0x200000;
const PKE = 0x400000;
const LME = 0x100;
const NXE = 0x800;

function state(over: Partial<OracleState>): OracleState {
  return { cr0: PG, cr3Lo: 0x1000, cr3Hi: 0, cr4: 0, efer: 0, pkru: 0, maxPhysAddr: 36, gbPages: true, ...over };
}

describe('32-bit paging (SDM 4.3)', () => {
  // gva 0x00403abc: PDE index 1 (0x1004), PTE index 3 (0x200c), offset 0xabc.
  function setup(): PlainMemory {
    const mem = new PlainMemory(1 << 20);
    mem.write32(0x1004, 0x2007); // PDE: page table at 0x2000, P|RW|US
    mem.write32(0x200c, 0x5003); // PTE: frame 0x5000, P|RW, supervisor
    return mem;
  }

  it('does a supervisor read of a 4 KiB page give frame + offset and set A top-down?', () => {
    const mem = setup();
    const r = oracleTranslate(mem, state({}), 0x00403abc, 0, 0);
    expect(r).toEqual({ ok: true, gpa: 0x5abc, pageSize: 4096, writes: [{ gpa: 0x1004, value: 0x2027 }, { gpa: 0x200c, value: 0x5023 }] });
    expect(mem.read32(0x1004)).toBe(0x2027);
    expect(mem.read32(0x200c)).toBe(0x5023);
  });

  it('does a supervisor write set D only in the PTE?', () => {
    const mem = setup();
    const r = oracleTranslate(mem, state({}), 0x00403abc, 0, ACC_WRITE);
    expect(r.ok).toBe(true);
    expect(mem.read32(0x1004)).toBe(0x2027); // A only: D is not set in a non-leaf entry (4.8)
    expect(mem.read32(0x200c)).toBe(0x5063);
  });

  it('does a user read of a supervisor page fault with P|U = 5 and set no A bit?', () => {
    const mem = setup();
    expect(oracleTranslate(mem, state({}), 0x00403abc, 0, ACC_USER)).toEqual({ ok: false, vector: 14, errorCode: 5 });
    expect(mem.read32(0x1004)).toBe(0x2007);
    expect(mem.read32(0x200c)).toBe(0x5003);
  });

  it('does a supervisor write to a read-only page pass with WP=0 and fault with P|W = 3 with WP=1?', () => {
    const mem = setup();
    mem.write32(0x200c, 0x5001);
    expect(oracleTranslate(mem, state({}), 0x00403abc, 0, ACC_WRITE).ok).toBe(true);
    expect(oracleTranslate(mem, state({ cr0: PG | WP }), 0x00403abc, 0, ACC_WRITE)).toEqual({ ok: false, vector: 14, errorCode: 3 });
  });

  it('does a fetch from a not-present page report I/D only when SMEP=1 (NXE does not count without PAE)?', () => {
    const mem = setup();
    mem.write32(0x200c, 0);
    expect(oracleTranslate(mem, state({ efer: NXE }), 0x00403abc, 0, ACC_FETCH)).toEqual({ ok: false, vector: 14, errorCode: 0 });
    expect(oracleTranslate(mem, state({ cr4: SMEP }), 0x00403abc, 0, ACC_FETCH)).toEqual({ ok: false, vector: 14, errorCode: 0x10 });
  });

  it('does PS in a PDE mean nothing while CR4.PSE=0?', () => {
    const mem = setup();
    mem.write32(0x1004, 0x2087); // PS set: ignored, still a page table at 0x2000
    const r = oracleTranslate(mem, state({}), 0x00403abc, 0, 0);
    expect(r.ok && r.gpa).toBe(0x5abc);
  });

  it('does a PSE-36 4 MiB page take physical bits 35:32 from PDE bits 16:13?', () => {
    const mem = new PlainMemory(1 << 20);
    // gva 0x00c12345: PDE index 3 (0x100c). PDE = base 0x00800000, bits 16:13 = 5, PS|RW|P.
    mem.write32(0x100c, 0x0080a083);
    const r = oracleTranslate(mem, state({ cr4: PSE }), 0x00c12345, 0, 0);
    expect(r).toEqual({ ok: true, gpa: 0x5_0081_2345, pageSize: 4 << 20, writes: [{ gpa: 0x100c, value: 0x0080a0a3 }] });
  });

  it('is PDE bit 17 reserved in a 4 MiB page with MAXPHYADDR 36 but address bit 36 with MAXPHYADDR 40?', () => {
    const mem = new PlainMemory(1 << 20);
    mem.write32(0x100c, 0x0082a083); // bits 20:13 = 0x15: bit 17 and bits 15, 13
    expect(oracleTranslate(mem, state({ cr4: PSE }), 0x00c12345, 0, 0)).toEqual({ ok: false, vector: 14, errorCode: 9 });
    const r = oracleTranslate(mem, state({ cr4: PSE, maxPhysAddr: 40 }), 0x00c12345, 0, 0);
    expect(r.ok && r.gpa).toBe(0x15_0081_2345);
  });

  it('is PSE-36 capped at 40 bits, leaving PDE bit 21 reserved even with MAXPHYADDR 52?', () => {
    const mem = new PlainMemory(1 << 20);
    mem.write32(0x100c, 0x00a00083); // bit 21 set
    expect(oracleTranslate(mem, state({ cr4: PSE, maxPhysAddr: 52 }), 0x00c12345, 0, ACC_WRITE | ACC_USER)).toEqual({ ok: false, vector: 14, errorCode: 0xf });
  });
});

describe('PAE paging (SDM 4.4)', () => {
  // gva 0x40201abc: PDPTE 1, PDE index 1 (0x2008), PTE index 1 (0x3008), offset 0xabc.
  function setup(): PlainMemory {
    const mem = new PlainMemory(1 << 20);
    mem.write64(0x1008, 0x2001, 0); // PDPTE 1 -> PD 0x2000
    mem.write64(0x2008, 0x3007, 0); // PDE -> PT 0x3000, P|RW|US
    mem.write64(0x3008, 0x4003, 0x80000000 | 0); // PTE: frame 0x4000, P|RW, XD
    return mem;
  }

  it('does a supervisor fetch from an XD page fault with P|I/D = 0x11 when NXE=1?', () => {
    const mem = setup();
    expect(oracleTranslate(mem, state({ cr4: PAE, efer: NXE }), 0x40201abc, 0, ACC_FETCH)).toEqual({ ok: false, vector: 14, errorCode: 0x11 });
    const r = oracleTranslate(mem, state({ cr4: PAE, efer: NXE }), 0x40201abc, 0, 0);
    expect(r.ok && r.gpa).toBe(0x4abc);
  });

  it('is bit 63 a reserved bit when NXE=0 (P|RSVD = 9, and no I/D for a fetch)?', () => {
    const mem = setup();
    expect(oracleTranslate(mem, state({ cr4: PAE }), 0x40201abc, 0, 0)).toEqual({ ok: false, vector: 14, errorCode: 9 });
    expect(oracleTranslate(mem, state({ cr4: PAE }), 0x40201abc, 0, ACC_FETCH)).toEqual({ ok: false, vector: 14, errorCode: 9 });
  });

  it('does a 2 MiB PDE with bit 13 set fault with P|W|RSVD = 0xb on a write?', () => {
    const mem = setup();
    mem.write64(0x2008, 0x00402083, 0); // 2 MiB page at 0x400000, bit 13 set
    expect(oracleTranslate(mem, state({ cr4: PAE, efer: NXE }), 0x40201abc, 0, ACC_WRITE)).toEqual({ ok: false, vector: 14, errorCode: 0xb });
    mem.write64(0x2008, 0x00400083, 0);
    const r = oracleTranslate(mem, state({ cr4: PAE, efer: NXE }), 0x40201abc, 0, ACC_WRITE);
    expect(r).toEqual({ ok: true, gpa: 0x401abc, pageSize: 2 << 20, writes: [{ gpa: 0x2008, value: 0x004000e3 }] });
  });

  it('does a PDE bit 62 (reserved in PAE, ignored in 4-level) fault?', () => {
    const mem = setup();
    mem.write64(0x2008, 0x3007, 0x40000000);
    expect(oracleTranslate(mem, state({ cr4: PAE, efer: NXE }), 0x40201abc, 0, 0)).toEqual({ ok: false, vector: 14, errorCode: 9 });
  });

  it('do the PDPTEs come from CR3[31:5], with reserved bits giving #GP only when P=1?', () => {
    const mem = new PlainMemory(1 << 20);
    mem.write64(0x1fe0, 0x2001, 0);
    mem.write64(0x1fe8, 0x20, 0); // bit 5 reserved, but not present: fine
    expect(oracleLoadPdptes(mem, state({ cr4: PAE, cr3Lo: 0x1ff8 }))).toEqual([0x2001n, 0x20n, 0n, 0n]);
    mem.write64(0x1fe8, 0x21, 0);
    expect(oracleLoadPdptes(mem, state({ cr4: PAE, cr3Lo: 0x1ff8 }))).toBeNull();
    mem.write64(0x1fe8, 0x1, 0x80000000 | 0); // bit 63 is reserved in a PDPTE even with NXE
    expect(oracleLoadPdptes(mem, state({ cr4: PAE, efer: NXE, cr3Lo: 0x1fe0 }))).toBeNull();
  });

  it('does a walk use the loaded PDPTEs, not the ones in memory?', () => {
    const mem = setup();
    const pdpte = oracleLoadPdptes(mem, state({ cr4: PAE }))!;
    mem.write64(0x1008, 0, 0);
    const r = oracleTranslate(mem, state({ cr4: PAE, efer: NXE, pdpte }), 0x40201abc, 0, 0);
    expect(r.ok && r.gpa).toBe(0x4abc);
  });
});

describe('4-level and 5-level paging (SDM 4.5)', () => {
  // gva 0x1_4012_3456: PML4 index 0, PDPT index 5 (0x2028), offset in a 1 GiB page 0x123456.
  function setup(): PlainMemory {
    const mem = new PlainMemory(1 << 20);
    mem.write64(0x1000, 0x2007, 0); // PML4E -> PDPT 0x2000
    mem.write64(0x2028, 0xc0000087 | 0, 0x2); // 1 GiB page at 0x2_c000_0000, P|RW|US|PS
    return mem;
  }
  const L4 = { cr4: PAE, efer: LME | NXE };

  it('does a 1 GiB page translate to 0x2_c012_3456 and set A in PML4E and A|D in the PDPTE?', () => {
    const mem = setup();
    const r = oracleTranslate(mem, state(L4), 0x40123456, 1, ACC_WRITE | ACC_USER);
    expect(r).toEqual({
      ok: true, gpa: 0x2_c012_3456, pageSize: 1 << 30,
      writes: [{ gpa: 0x1000, value: 0x2027 }, { gpa: 0x2028, value: 0xc00000e7 }],
    });
  });

  it('is PS in a PDPTE reserved without 1 GiB pages (P|W|U|RSVD = 0xf)?', () => {
    const mem = setup();
    expect(oracleTranslate(mem, state({ ...L4, gbPages: false }), 0x40123456, 1, ACC_WRITE | ACC_USER)).toEqual({ ok: false, vector: 14, errorCode: 0xf });
  });

  it('are bits 29:13 reserved in a 1 GiB page and bits 51:M in every entry?', () => {
    const mem = setup();
    mem.write64(0x2028, 0xe0000087 | 0, 0x2); // bit 29
    expect(oracleTranslate(mem, state(L4), 0x40123456, 1, 0)).toEqual({ ok: false, vector: 14, errorCode: 9 });
    mem.write64(0x2028, 0xc0000087 | 0, 0x12); // bit 36 with MAXPHYADDR 36
    expect(oracleTranslate(mem, state(L4), 0x40123456, 1, 0)).toEqual({ ok: false, vector: 14, errorCode: 9 });
    const r = oracleTranslate(mem, state({ ...L4, maxPhysAddr: 40 }), 0x40123456, 1, 0);
    expect(r.ok && r.gpa).toBe(0x12_c012_3456);
  });

  it('are bits 62:52 of a PML4E ignored?', () => {
    const mem = setup();
    mem.write64(0x1000, 0x2007, 0x7ff00000);
    expect(oracleTranslate(mem, state(L4), 0x40123456, 1, 0).ok).toBe(true);
  });

  it('is PS reserved in a PML4E?', () => {
    const mem = setup();
    mem.write64(0x1000, 0x2087, 0);
    expect(oracleTranslate(mem, state(L4), 0x40123456, 1, ACC_FETCH)).toEqual({ ok: false, vector: 14, errorCode: 0x19 });
  });

  it('does a 2 MiB PDE with bit 20 set fault with P|RSVD, while bit 21 is an address bit?', () => {
    const mem = new PlainMemory(1 << 20);
    // gva 0x00654321: PML4 0, PDPT 0, PD index 3 (0x3018), offset 0x54321 in the 2 MiB page.
    mem.write64(0x1000, 0x2003, 0);
    mem.write64(0x2000, 0x3003, 0);
    mem.write64(0x3018, 0x00700083, 0); // base 0x600000 | bit 20
    expect(oracleTranslate(mem, state(L4), 0x00654321, 0, 0)).toEqual({ ok: false, vector: 14, errorCode: 9 });
    mem.write64(0x3018, 0x00e00083, 0); // base 0xe00000 (bit 21 and up are address)
    const r = oracleTranslate(mem, state(L4), 0x00654321, 0, 0);
    expect(r.ok && r.gpa).toBe(0x00e54321);
  });

  it('does a non-canonical address give #GP(0) without a walk?', () => {
    const mem = setup();
    expect(oracleTranslate(mem, state(L4), 0, 0x00008000, 0)).toEqual({ ok: false, vector: 13, errorCode: 0 });
    expect(oracleTranslate(mem, state(L4), 0, 0xffff7fff | 0, 0)).toEqual({ ok: false, vector: 13, errorCode: 0 });
    // Canonical for 4-level: bits 63:47 all ones.
    expect(oracleTranslate(mem, state(L4), 0, 0xffff8000 | 0, 0)).toEqual({ ok: false, vector: 14, errorCode: 0 });
    // 5-level: 0x0000_8000_0000_0000 is canonical (bit 56 = 0), 0xfeff_... is not.
    expect(oracleTranslate(mem, state({ ...L4, cr4: PAE | LA57 }), 0, 0x00008000, 0)).toEqual({ ok: false, vector: 14, errorCode: 0 });
    expect(oracleTranslate(mem, state({ ...L4, cr4: PAE | LA57 }), 0, 0xfeffffff | 0, 0)).toEqual({ ok: false, vector: 13, errorCode: 0 });
  });

  it('does 5-level paging walk five tables (PML5 index 1 for gva 0x0001_0000_0000_0000)?', () => {
    const mem = new PlainMemory(1 << 20);
    mem.write64(0x1008, 0x2007, 0); // PML5E 1
    mem.write64(0x2000, 0x3007, 0); // PML4E 0
    mem.write64(0x3000, 0x4007, 0); // PDPTE 0
    mem.write64(0x4000, 0x5007, 0); // PDE 0
    mem.write64(0x5000, 0x6007, 0); // PTE 0
    const r = oracleTranslate(mem, state({ cr4: PAE | LA57, efer: LME }), 0x00000123, 0x00010000, ACC_USER);
    expect(r.ok && r.gpa).toBe(0x6123);
    expect(r.ok && r.writes.map((w) => w.gpa)).toEqual([0x1008, 0x2000, 0x3000, 0x4000, 0x5000]);
  });
});

describe('access rights (SDM 4.6) and protection keys (4.6.2)', () => {
  // 4-level, gva 0x1000: PML4E 0 -> PDPTE 0 -> PDE 0 -> PTE 1, all user.
  function setup(pteLo: number, pteHi: number): PlainMemory {
    const mem = new PlainMemory(1 << 20);
    mem.write64(0x1000, 0x2007, 0);
    mem.write64(0x2000, 0x3007, 0);
    mem.write64(0x3000, 0x4007, 0);
    mem.write64(0x4008, pteLo, pteHi);
    return mem;
  }
  const L4 = { cr4: PAE, efer: LME | NXE };

  it('does SMAP stop a supervisor read of a user page (P = 1) unless EFLAGS.AC=1?', () => {
    const mem = setup(0x9007, 0);
    expect(oracleTranslate(mem, state({ ...L4, cr4: PAE | SMAP }), 0x1000, 0, 0)).toEqual({ ok: false, vector: 14, errorCode: 1 });
    expect(oracleTranslate(mem, state({ ...L4, cr4: PAE | SMAP }), 0x1000, 0, ACC_AC).ok).toBe(true);
  });

  it('does SMEP stop a supervisor fetch from a user page with P|I/D = 0x11?', () => {
    const mem = setup(0x9007, 0);
    expect(oracleTranslate(mem, state({ ...L4, cr4: PAE | SMEP }), 0x1000, 0, ACC_FETCH | ACC_AC)).toEqual({ ok: false, vector: 14, errorCode: 0x11 });
  });

  it('does key 3 with AD3 set stop a user read with P|U|PK = 0x25, but not a fetch?', () => {
    const mem = setup(0x9007, 3 << 27); // key 3 in bits 62:59
    const s = state({ ...L4, cr4: PAE | PKE, pkru: 1 << 6 });
    expect(oracleTranslate(mem, s, 0x1000, 0, ACC_USER)).toEqual({ ok: false, vector: 14, errorCode: 0x25 });
    expect(oracleTranslate(mem, s, 0x1000, 0, ACC_USER | ACC_FETCH).ok).toBe(true);
  });

  it('does WD3 stop a supervisor write only when CR0.WP=1 (P|W|PK = 0x23)?', () => {
    const mem = setup(0x9007, 3 << 27);
    const s = state({ ...L4, cr4: PAE | PKE, pkru: 2 << 6 });
    expect(oracleTranslate(mem, s, 0x1000, 0, ACC_WRITE).ok).toBe(true);
    expect(oracleTranslate(mem, { ...s, cr0: PG | WP }, 0x1000, 0, ACC_WRITE)).toEqual({ ok: false, vector: 14, errorCode: 0x23 });
  });

  it('does a key violation on a read-only page report both causes as P|W|U|PK = 0x27?', () => {
    const mem = setup(0x9005, 3 << 27);
    const s = state({ ...L4, cr4: PAE | PKE, pkru: 2 << 6 });
    expect(oracleTranslate(mem, s, 0x1000, 0, ACC_WRITE | ACC_USER)).toEqual({ ok: false, vector: 14, errorCode: 0x27 });
  });

  it('are keys ignored on supervisor pages and without CR4.PKE?', () => {
    const mem = setup(0x9003, 3 << 27);
    expect(oracleTranslate(mem, state({ ...L4, cr4: PAE | PKE, pkru: -1 }), 0x1000, 0, 0).ok).toBe(true);
    const mem2 = setup(0x9007, 3 << 27);
    expect(oracleTranslate(mem2, state({ ...L4, pkru: -1 }), 0x1000, 0, ACC_USER | ACC_WRITE).ok).toBe(true);
  });

  it('does an XD bit in a non-leaf entry disable execution of the whole range?', () => {
    const mem = setup(0x9007, 0);
    mem.write64(0x2000, 0x3007, 0x80000000 | 0);
    expect(oracleTranslate(mem, state(L4), 0x1000, 0, ACC_USER | ACC_FETCH)).toEqual({ ok: false, vector: 14, errorCode: 0x15 });
  });

  it('does a read-only PDE make a user write fault with P|W|U = 7 even when the PTE is writable?', () => {
    const mem = setup(0x9007, 0);
    mem.write64(0x3000, 0x4005, 0);
    expect(oracleTranslate(mem, state(L4), 0x1000, 0, ACC_USER | ACC_WRITE)).toEqual({ ok: false, vector: 14, errorCode: 7 });
  });
});
