/**
 * Each mode's translation structure can be dumped for inspection and the
 * dump shows the mapping it holds.
 */
import { expect, it } from 'vitest';
import { Mmu, CR0_PE, CR0_PG, PTE_P, PTE_RW, PTE_US, ACC_USER } from '../../src/mmu/index.js';

function mapped(mode: 'naive' | 'shadow' | 'slat'): Mmu {
  const m = new Mmu({ mode, guestMemory: 4 << 20 });
  m.writePhys(0x1000, 4, 0x2000 | PTE_P | PTE_RW | PTE_US);
  m.writePhys(0x2000 + 4 * 5, 4, 0x7000 | PTE_P | PTE_RW | PTE_US);
  m.setPaging({ cr0: CR0_PE | CR0_PG, cr3Lo: 0x1000 });
  expect(m.translate(0x5000, 0, ACC_USER)).toBe(m.map.hpaOf(0x7000));
  return m;
}

it('does the naive dump show the host page table mapping every guest frame?', () => {
  const m = mapped('naive');
  const d = m.dump();
  expect(d).toMatch(/^host page table/);
  // the host virtual address of gpa 0x7000 maps to its host frame
  const hpa = m.map.hpaOf(0x7000);
  expect(d).toContain(`L1[7] 0x7f0000007000 -> 0x${hpa.toString(16)}`);
});

it('does the EPT dump show the frames mapped so far, with accessed flags?', () => {
  const m = mapped('slat');
  const d = m.dump();
  expect(d).toMatch(/3 frames mapped/); // the PD, the PT and the data page
  expect(d).toContain(`-> 0x${m.map.hpaOf(0x7000).toString(16)} RWXA-`);
});

it('does the shadow dump show the gva -> hpa entry built for the access?', () => {
  const m = mapped('shadow');
  expect(m.dump()).toContain(`L1[5] 0x5000 -> 0x${m.map.hpaOf(0x7000).toString(16)} -U--A-`);
});
