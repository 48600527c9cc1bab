/**
 * MOV to CR0, CR3 and CR4 that make the processor load invalid PAE PDPTEs:
 * #GP(0), and the instruction changes nothing (SDM vol. 3A, 4.4.1: the
 * PDPTEs are loaded by MOV to CR3 in PAE paging, and by MOV to CR0 or CR4
 * that enter PAE paging or change CR0.CD/NW or CR4.PAE/PGE/PSE while in it; a present
 * PDPTE with a reserved bit set is a #GP(0)). Reserved CR4 bits are the
 * same #GP(0), checked before anything changes.
 */
import { describe, expect, it } from 'vitest';
import { MODE_NAMES } from '../../src/mmu/modes/mode.js';
import { CR0_CD, CR0_ET, CR0_NW, CR0_PE, CR0_PG, CR4_PAE, CR4_PSE } from '../../src/cpu/constants.js';
import { CODE, flatMachine, haltedInStub, runToHalt, stackWord } from './flat-machine.js';

/** PAE tables: a valid PDPT, a page directory mapping 0-2 MiB with one 2 MiB page, and a bad PDPT. */
const PDPT_OK = 0x3000;
const PD = 0x4000;
/**
 * Read as a PAE PDPT, its entry 0 (0x83: P, bit 1, bit 7) has reserved bits
 * set (SDM table 4-8); read as a 32-bit page directory, the same entry maps
 * 0-4 MiB with a 4 MiB page (P, R/W, PS), so 32-bit paging with PSE runs on it.
 */
const BAD = 0x5000;

function machine(mode: (typeof MODE_NAMES)[number]): ReturnType<typeof flatMachine> {
  const m = flatMachine({ mode });
  m.mmu.writePhys(PDPT_OK, 4, PD | 1);
  m.mmu.writePhys(PD, 4, 0x83); // 2 MiB page at 0: P, R/W, PS
  m.mmu.writePhys(BAD, 4, 0x83);
  return m;
}

/** Sets the paging registers in the CPU and the MMU alike. */
function paging(m: ReturnType<typeof flatMachine>, cr0: number, cr3: number, cr4: number): void {
  const c = m.cpu;
  c.cr0 = cr0 | CR0_ET;
  c.cr3 = cr3;
  c.cr4 = cr4;
  expect(m.mmu.setPaging({ cr0: c.cr0, cr3Lo: cr3, cr4 })).toBe(0);
  c.flushFetch();
}

interface State { cr0: number; cr3: number; cr4: number; mmu: string; pdpte: number[]; eax: number }

function state(m: ReturnType<typeof flatMachine>): State {
  const c = m.cpu, p = m.mmu.paging();
  return { cr0: c.cr0, cr3: c.cr3, cr4: c.cr4, mmu: JSON.stringify(p), pdpte: m.mmu.pdptes(), eax: c.reg32[0]! };
}

/**
 * Runs `mov eax, value; mov crN, eax; hlt` and checks that the MOV raised
 * #GP(0) at its own address and that nothing it could change changed.
 */
function expectGpAndNoChange(m: ReturnType<typeof flatMachine>, cr: number, value: number): void {
  const code = new Uint8Array([0xb8, value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, value >>> 24, 0x0f, 0x22, 0xc0 | (cr << 3), 0xf4]);
  m.mmu.writePhysBytes(CODE, code);
  const before = state(m);
  runToHalt(m);
  expect(haltedInStub(m)).toBe(13);
  expect(stackWord(m, 0)).toBe(0); // error code
  expect(stackWord(m, 4)).toBe(CODE + 5); // the MOV's own EIP: a fault
  const after = state(m);
  expect({ ...after, eax: before.eax }).toEqual(before);
}

describe.each(MODE_NAMES)('under %s translation', (mode) => {
  it('does MOV to CR3 of a PDPT with a reserved bit raise #GP(0) and leave CR3, the MMU and the PDPTEs as they were?', () => {
    const m = machine(mode);
    paging(m, CR0_PE | CR0_PG, PDPT_OK, CR4_PAE);
    expectGpAndNoChange(m, 3, BAD);
    expect(m.cpu.cr3).toBe(PDPT_OK);
    expect(m.mmu.cr3Lo).toBe(PDPT_OK);
    // Paging still runs on the old tables: the stub the #GP went to was fetched through them.
    expect(m.mmu.translate(CODE, 0, 0)).toBeGreaterThanOrEqual(0);
  });

  it('does a valid MOV to CR3 still load CR3 in the CPU and the MMU?', () => {
    const m = machine(mode);
    m.mmu.writePhys(0x6000, 4, PD | 1); // a second valid PDPT
    paging(m, CR0_PE | CR0_PG, PDPT_OK, CR4_PAE);
    m.mmu.writePhysBytes(CODE, new Uint8Array([0xb8, 0x00, 0x60, 0x00, 0x00, 0x0f, 0x22, 0xd8, 0xf4]));
    runToHalt(m);
    expect(haltedInStub(m)).toBe(-1);
    expect(m.cpu.cr3).toBe(0x6000);
    expect(m.mmu.cr3Lo).toBe(0x6000);
  });

  it('does MOV to CR4 that sets PAE over a bad PDPT raise #GP(0) and leave CR4 and the MMU as they were?', () => {
    const m = machine(mode);
    paging(m, CR0_PE | CR0_PG, BAD, CR4_PSE); // 32-bit paging, 4 MiB page at 0
    expectGpAndNoChange(m, 4, CR4_PSE | CR4_PAE);
    expect(m.cpu.cr4).toBe(CR4_PSE);
    expect(m.mmu.cr4).toBe(CR4_PSE);
  });

  it('does MOV to CR4 with a reserved bit (VME) raise #GP(0) and change nothing?', () => {
    const m = machine(mode);
    paging(m, CR0_PE | CR0_PG, PDPT_OK, CR4_PAE);
    expectGpAndNoChange(m, 4, CR4_PAE | 1);
  });

  it('does MOV to CR0 that turns paging on in PAE mode over a bad PDPT raise #GP(0) and leave CR0 and the MMU as they were?', () => {
    const m = machine(mode);
    paging(m, CR0_PE, BAD, CR4_PAE);
    expectGpAndNoChange(m, 0, CR0_PE | CR0_PG | CR0_ET);
    expect(m.cpu.cr0 & CR0_PG).toBe(0);
    expect(m.mmu.cr0 & CR0_PG).toBe(0);
  });

  it('does MOV to CR0 that sets CD in PAE paging load the PDPTEs, with #GP(0) over a PDPTE that gained a reserved bit?', () => {
    const m = machine(mode);
    paging(m, CR0_PE | CR0_PG, PDPT_OK, CR4_PAE);
    // The PDPTE registers keep the old, valid entry until the next load (SDM 4.4.1).
    m.mmu.writePhys(PDPT_OK, 4, 0x83);
    expectGpAndNoChange(m, 0, CR0_PE | CR0_PG | CR0_ET | CR0_CD);
    expect(m.cpu.cr0 & CR0_CD).toBe(0);
    expect(m.mmu.pdptes()[0]).toBe(PD | 1);
  });

  it.each([['CD', CR0_CD], ['NW and CD', CR0_NW | CR0_CD]])('does MOV to CR0 that changes %s in PAE paging make the next walk use the PDPTE the PDPT holds now?', (_name, bits) => {
    const m = machine(mode);
    // A second directory: the same 2 MiB page at 0, and 2-4 MiB mapped to 4 MiB (not present in the first).
    const PD2 = 0x7000;
    m.mmu.writePhys(PD2, 4, 0x83);
    m.mmu.writePhys(PD2 + 8, 4, 0x400083);
    m.mmu.writePhys(0x400000, 4, 0x12345678);
    paging(m, CR0_PE | CR0_PG, PDPT_OK, CR4_PAE);
    // mov dword [PDPT_OK], PD2 | 1; mov eax, cr0; or eax, bits; mov cr0, eax; mov eax, [0x200000]; hlt
    m.mmu.writePhysBytes(CODE, new Uint8Array([0xc7, 0x05, ...le(PDPT_OK), ...le(PD2 | 1), 0x0f, 0x20, 0xc0, 0x0d, ...le(bits), 0x0f, 0x22, 0xc0, 0xa1, ...le(0x200000), 0xf4]));
    runToHalt(m);
    expect(haltedInStub(m)).toBe(-1);
    expect(m.mmu.pdptes()[0]).toBe(PD2 | 1);
    expect(m.cpu.reg32[0]! >>> 0).toBe(0x12345678);
  });

  describe('a task switch in PAE paging', () => {
    /**
     * Two 32-bit TSSs in the GDT (0x18 the current one, loaded by LTR; 0x20
     * the target, whose CR3 is `cr3`, EIP CODE+0x100); PDPTE 0 of PDPT_OK
     * is rewritten to a second directory (PD2, which also maps 2-4 MiB),
     * then JMP FAR to the target task reads 0x200000 there.
     */
    function taskSwitch(cr3: number): ReturnType<typeof flatMachine> {
      const m = machine(mode);
      const PD2 = 0x7000, PDPT2 = 0x6000, TSS1 = 0x8000, TSS2 = 0x8100;
      m.mmu.writePhys(PD2, 4, 0x83);
      m.mmu.writePhys(PD2 + 8, 4, 0x400083);
      m.mmu.writePhys(PDPT2, 4, PD2 | 1);
      m.mmu.writePhys(0x400000, 4, 0x12345678);
      const tssDesc = (base: number): [number, number] => [((base & 0xffff) << 16) | 0x67, (base & 0xff000000) | ((base >>> 16) & 0xff) | 0x8900];
      for (const [sel, base] of [[0x18, TSS1], [0x20, TSS2]] as const) {
        const [lo, hi] = tssDesc(base);
        m.mmu.writePhys(0x800 + sel, 4, lo);
        m.mmu.writePhys(0x800 + sel + 4, 4, hi);
      }
      m.cpu.gdtLimit = 5 * 8 - 1;
      const w = (o: number, v: number): void => m.mmu.writePhys(TSS2 + o, 4, v);
      w(0x1c, cr3);
      w(0x20, CODE + 0x100);
      w(0x24, 2);
      w(0x38, 0x80000); // ESP
      for (const [o, sel] of [[0x48, 0x10], [0x4c, 0x08], [0x50, 0x10], [0x54, 0x10], [0x58, 0x10], [0x5c, 0x10]] as const) w(o, sel);
      paging(m, CR0_PE | CR0_PG, PDPT_OK, CR4_PAE);
      // mov ax, 0x18; ltr ax; mov dword [PDPT_OK], PD2 | 1; jmp 0x20:0
      m.mmu.writePhysBytes(CODE, new Uint8Array([0x66, 0xb8, 0x18, 0x00, 0x0f, 0x00, 0xd8, 0xc7, 0x05, ...le(PDPT_OK), ...le(PD2 | 1), 0xea, 0, 0, 0, 0, 0x20, 0x00]));
      // the new task: mov eax, [0x200000]; hlt
      m.mmu.writePhysBytes(CODE + 0x100, new Uint8Array([0xa1, ...le(0x200000), 0xf4]));
      runToHalt(m);
      return m;
    }

    it('that keeps CR3 keeps the PDPTEs loaded before (SDM 4.4.1: loaded only when the switch changes CR3)', () => {
      const m = taskSwitch(PDPT_OK);
      expect(m.mmu.pdptes()[0]).toBe(PD | 1);
      // 2-4 MiB is not present in the directory PDPTE 0 still names: a page fault at 0x200000
      expect(haltedInStub(m)).toBe(14);
      expect(m.cpu.cr2 >>> 0).toBe(0x200000);
    });

    it('that changes CR3 loads the PDPTEs of the new PDPT', () => {
      const m = taskSwitch(0x6000);
      expect(haltedInStub(m)).toBe(-1);
      expect(m.mmu.pdptes()[0]).toBe(0x7000 | 1);
      expect(m.cpu.reg32[0]! >>> 0).toBe(0x12345678);
    });
  });
});

const le = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
