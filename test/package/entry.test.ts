/**
 * Uses the library only through the `vmmu/mmu` package entry, from a separate
 * Node process, the way another emulator would import it.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

const program = `
import { Mmu, MODE_NAMES, PTE_P, PTE_RW, PTE_US, CR0_PE, CR0_PG } from 'vmmu/mmu';
const out = {};
for (const mode of MODE_NAMES) {
  const mmu = new Mmu({ mode, guestMemory: 4 << 20, measure: true });
  mmu.writePhys(0x1000 + 4 * 1, 4, 0x2000 | PTE_P | PTE_RW | PTE_US); // PDE 1 -> page table at 0x2000
  mmu.writePhys(0x2000 + 4 * 3, 4, 0x9000 | PTE_P | PTE_RW | PTE_US); // PTE 3 -> frame 0x9000
  mmu.writePhys(0x9010, 4, 0x600dcafe);
  mmu.setPaging({ cr0: CR0_PE | CR0_PG, cr3Lo: 0x1000 });
  const v = mmu.read32(0x403010, 0) >>> 0;
  mmu.write32(0x403014, 0, 7);
  const r = mmu.report();
  out[mode] = { v, w: mmu.readPhys(0x9014, 4), pte: mmu.readPhys(0x200c, 4), accesses: r.counters['access.read'] + r.counters['access.write'], cycles: r.cycles.total > 0 };
}
console.log(JSON.stringify(out));
`;

it('works through the vmmu/mmu entry in a separate process', () => {
  const stdout = execFileSync(process.execPath, ['--input-type=module', '-e', program], { cwd: root, encoding: 'utf8' });
  const out = JSON.parse(stdout) as Record<string, { v: number; w: number; pte: number; accesses: number; cycles: boolean }>;
  for (const mode of ['naive', 'shadow', 'slat']) {
    expect(out[mode]).toEqual({ v: 0x600dcafe, w: 7, pte: 0x9000 | 0x67, accesses: 2, cycles: true });
  }
});

it('declares the package entries with types', async () => {
  const pkg = (await import('../../package.json', { with: { type: 'json' } })).default as { exports: Record<string, { types: string; default: string }> };
  expect(Object.keys(pkg.exports).sort()).toEqual(['.', './mmu', './trace']);
  for (const e of Object.values(pkg.exports)) expect(e.types).toMatch(/\.d\.ts$/);
});
