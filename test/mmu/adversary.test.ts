/**
 * The adversarial generator (adversary.ts) in CI: unruly page-table
 * programs on every guest format, run through naive, slat and shadow under
 * every shadow policy; every access, register write and byte of guest memory
 * must agree. `npm run soak` runs the same for hours on many seeds
 * (soak/mmu-adversary.ts); VMMU_ADV_OPS sets the operations per seed here.
 */
import { describe, expect, it } from 'vitest';
import { Adversary, ADV_FORMATS, describeDivergence } from './adversary.js';

const OPS = Number(process.env.VMMU_ADV_OPS ?? 15_000);
const SEEDS = [1, 2];

describe.each(ADV_FORMATS)('%s guest paging, unruly programs', (format) => {
  it.each(SEEDS)(`gives every mode and shadow policy the same view (seed %i, ${OPS} operations)`, (seed) => {
    const a = new Adversary({ format, seed });
    const d = a.run(OPS);
    if (d) throw new Error(describeDivergence(format, seed, d));
    // The program exercised what it is for.
    expect(a.stats.accesses).toBeGreaterThan(OPS * 0.4);
    expect(a.stats.accesses - a.stats.faults).toBeGreaterThan(OPS * 0.02);
    expect(a.stats.linearTableWrites).toBeGreaterThan(OPS * 0.02);
    expect(a.stats.remaps).toBeGreaterThan(OPS * 0.02); // leaves of live translations rewritten
    const byLabel = (label: string): Record<string, number> => a.mmus[a.labels.indexOf(label)]!.countersByName();
    expect(byLabel('shadow')['shadow.unsync']).toBeGreaterThan(0);
    expect(byLabel('shadow flood=1 rootCache=0')['shadow.flood']).toBeGreaterThan(0);
    expect(byLabel('shadow maxPages=16')['shadow.page.reclaim']).toBeGreaterThan(0);
  });
});
