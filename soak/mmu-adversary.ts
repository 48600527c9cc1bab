/**
 * The MMU soak: the adversarial generator of test/mmu/adversary.ts on many
 * seeds and every guest format, each program run through naive, slat and
 * shadow under seven policies, until a target count of operations (default
 * 10^8) or a time budget is reached. The first divergence stops it with the
 * seed, the operation and the operations before it.
 */
import { Adversary, ADV_FORMATS, describeDivergence } from '../test/mmu/adversary.js';
import type { SoakOptions, SoakPart } from './parts.js';

/** operations per seed: long enough for tables to churn, short enough to vary often */
const OPS_PER_SEED = 200_000;

export const mmuAdversary: SoakPart = {
  name: 'mmu',
  what: 'unruly page-table programs, naive vs slat vs shadow under every policy, all formats',
  async run(o: SoakOptions): Promise<string> {
    const target = Number(process.env.VMMU_SOAK_OPS ?? 1e8);
    const deadline = o.seconds === null ? Infinity : Date.now() + o.seconds * 1000;
    let ops = 0;
    let seeds = 0;
    const perFormat = new Map<string, number>();
    const t0 = Date.now();
    for (let seed = o.seed; ops < target && Date.now() < deadline; seed++) {
      for (const format of ADV_FORMATS) {
        if (ops >= target || Date.now() >= deadline) break;
        const a = new Adversary({ format, seed });
        // With a time budget, shorter programs so that every format gets its share.
        const n = Math.min(deadline === Infinity ? OPS_PER_SEED : 20_000, target - ops);
        // Run in slices so the time budget is honoured.
        for (let done = 0; done < n && Date.now() < deadline; done += 10_000) {
          const d = a.run(Math.min(10_000, n - done));
          if (d) throw new Error(describeDivergence(format, seed, d));
        }
        ops += a.ops;
        perFormat.set(format, (perFormat.get(format) ?? 0) + a.ops);
        seeds++;
      }
      const s = (Date.now() - t0) / 1000;
      o.log(`seed ${seed}: ${ops.toLocaleString('en-US')} operations so far, ${Math.round(ops / s).toLocaleString('en-US')} per second`);
      await new Promise((r) => setImmediate(r));
    }
    const formats = [...perFormat].map(([f, n]) => `${f} ${n.toLocaleString('en-US')}`).join(', ');
    return `${ops.toLocaleString('en-US')} operations (${formats}) on ${seeds} seed-format programs, 9 participants each, no divergence`;
  },
};
