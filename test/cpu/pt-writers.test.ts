/**
 * The guest's own page tables written by the CPU's unusual writers (REP
 * STOS/MOVS both ways, misaligned and straddling stores, locked
 * read-modify-writes, stacks and interrupt frames, descriptor accessed
 * bits, code fetched across a page whose entry changed), with CR3 reloads
 * and CR4.PGE/PSE, CR0.WP and PAE PDPTE changes between them: every
 * translation mode and shadow policy, and every engine, must end each
 * program in exactly the same state (pt-writers.ts). A failure names the
 * seed; `VMMU_PTW_SEEDS` and `VMMU_PTW_FIRST` run other seeds.
 */
import { describe, expect, it } from 'vitest';
import { PARTICIPANTS, describe as show, diff, generate, run, type End } from './pt-writers.js';

const SEEDS = Number(process.env.VMMU_PTW_SEEDS ?? 60);
const FIRST = Number(process.env.VMMU_PTW_FIRST ?? 1);
/** programs also run under the jit and wasm engines (every block compiled after its first run) */
const ENGINE_SEEDS = Number(process.env.VMMU_PTW_ENGINE_SEEDS ?? 8);

describe('CPU writers on page tables', () => {
  const ends = new Map<number, End>();

  it(`does every mode and shadow policy end ${SEEDS} random programs alike?`, () => {
    const bad: string[] = [];
    let normal = 0;
    for (let seed = FIRST; seed < FIRST + SEEDS; seed++) {
      const p = generate(seed);
      // programs are compared at the same software-TLB size: a smaller TLB drops stale translations sooner
      const refs = new Map<number, End>();
      for (const part of PARTICIPANTS) {
        const e = run(p, { participant: part, engine: 'interp' });
        expect(e.audit, `seed ${seed} ${part.label}: shadow audit`).toEqual([]);
        const bits = part.softTlbBits ?? 13;
        const ref = refs.get(bits);
        if (ref === undefined) {
          refs.set(bits, e);
          continue;
        }
        const d = diff(ref, e);
        if (d.length) bad.push(`seed ${seed} ${part.label} vs ${PARTICIPANTS.find((q) => (q.softTlbBits ?? 13) === bits)!.label}: ${d.join('; ')}`);
      }
      const ref = refs.get(13)!;
      ends.set(seed, ref);
      if (ref.reason === 'halted' && ref.halt !== 0xee && ref.instructions < 200_000) normal++;
      if (bad.length) { console.log(show(p)); break; }
    }
    console.log(`${SEEDS} programs from seed ${FIRST}: ${normal} ran to their end`);
    expect(bad).toEqual([]);
    // most programs run to their end (not a triple fault, an endless loop or too many exceptions)
    expect(normal).toBeGreaterThan(SEEDS * 0.8);
  }, Math.max(120_000, SEEDS * 1000));

  it(`does each engine end ${ENGINE_SEEDS} of them as the interpreter does?`, () => {
    const bad: string[] = [];
    for (let seed = FIRST; seed < FIRST + Math.min(ENGINE_SEEDS, SEEDS); seed++) {
      const ref = ends.get(seed)!;
      // a program that ran into its instruction limit is mostly self-modifying garbage: slow to compile block by block
      if (ref.instructions >= 50_000) continue;
      const p = generate(seed);
      for (const engine of ['jit', 'wasm'] as const) {
        for (const part of [PARTICIPANTS[0]!, PARTICIPANTS[2]!]) {
          const e = run(p, { participant: part, engine, eager: true });
          const d = diff(ref, e);
          if (d.length) bad.push(`seed ${seed} ${part.label} ${engine}: ${d.join('; ')}`);
        }
      }
      // and with the cost model observing every access (other run loops and fetch paths)
      const e = run(p, { participant: PARTICIPANTS[2]!, engine: seed % 2 ? 'interp' : 'jit', measure: true });
      const d = diff(ref, e);
      if (d.length) bad.push(`seed ${seed} ${PARTICIPANTS[2]!.label} measured: ${d.join('; ')}`);
    }
    expect(bad).toEqual([]);
  }, Math.max(120_000, ENGINE_SEEDS * 5000));
});
