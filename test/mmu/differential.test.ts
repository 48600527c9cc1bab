/**
 * Differential test: seeded random guest page tables, edits (with the
 * invalidation the architecture requires), address-space switches and
 * accesses, run through naive, shadow and slat and through the reference
 * translator (oracle.ts, no TLB). Every access must give the same value or
 * the same fault (vector, error code, CR2) everywhere, and guest memory,
 * accessed/dirty bits included, must be identical.
 */
import { describe, expect, it } from 'vitest';
import { World, type GuestFormat } from './world.js';
import type { ShadowMode } from '../../src/mmu/modes/shadow.js';

const OPS = Number(process.env.VMMU_DIFF_OPS ?? 1_000_000);
const FORMATS: GuestFormat[] = ['32-bit', 'pae', '4-level', '5-level'];

function run(world: World, ops: number): void {
  for (let i = 0; i < ops; i++) {
    const label = world.step();
    if (label.startsWith('access')) {
      const [a, ...rest] = world.lastOutcomes;
      for (let k = 0; k < rest.length; k++) {
        const b = rest[k]!;
        // Field by field (JSON.stringify here was a fifth of the test's time).
        if (b.value !== a!.value || b.vector !== a!.vector || b.errorCode !== a!.errorCode || b.cr2Lo !== a!.cr2Lo || b.cr2Hi !== a!.cr2Hi) {
          throw new Error(`op ${i} (${label}): ${world.modes[0]} gave ${JSON.stringify(a)} but ${world.modes[k + 1]} gave ${JSON.stringify(rest[k])}`);
        }
      }
    }
    if (i % 50_000 === 49_999) {
      const diff = world.firstMemoryDifference();
      if (diff >= 0) throw new Error(`after op ${i} (${label}): guest memory differs at gpa 0x${diff.toString(16)}`);
      for (const m of world.mmus) {
        if (m.mode.name === 'shadow') {
          const errs = (m.mode as ShadowMode).audit();
          if (errs.length > 0) throw new Error(`after op ${i}: shadow audit: ${errs.slice(0, 5).join('; ')}`);
        }
      }
    }
  }
}

describe.each(FORMATS)('%s guest paging', (format) => {
  it(`gives every mode the same view over ${OPS} random operations`, () => {
    const world = new World({ format, seed: 0x5eed + format.length, oracle: true });
    run(world, OPS);
    expect(world.firstMemoryDifference()).toBe(-1);
    // The run must have exercised what it claims to.
    expect(world.stats.accesses).toBeGreaterThan(OPS * 0.8);
    expect(world.stats.faults).toBeGreaterThan(OPS * 0.01);
    expect(world.stats.edits).toBeGreaterThan(OPS * 0.05);
    const shadow = world.mmus[1]!.countersByName();
    expect(shadow['exit.pt_write']).toBeGreaterThan(0);
    expect(shadow['shadow.unsync']).toBeGreaterThan(0);
    expect(shadow['shadow.resync']).toBeGreaterThan(0);
    expect(shadow['shadow.flood']).toBeGreaterThan(0);
    expect(shadow['shadow.root.hit']).toBeGreaterThan(0);
  }, 600_000); // bounded by OPS; a loaded 2-core machine needs more than the default

  it('agrees with out-of-sync pages off and a tiny shadow budget (reclaim on every fault)', () => {
    const world = new World({ format, seed: 0xbad + format.length, modes: ['naive', 'shadow'], mmu: { shadow: { unsync: false, maxPages: 16, rootCache: 1 } } });
    run(world, Math.min(OPS, 200_000));
    expect(world.firstMemoryDifference()).toBe(-1);
    const c = world.mmus[1]!.countersByName();
    expect(c['shadow.page.reclaim']).toBeGreaterThan(0);
    expect(c['shadow.unsync']).toBe(0);
  });
});
