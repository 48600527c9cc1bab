/**
 * The guest's own 4-level tables (PML4, PDPT, PD, PT entries) written by
 * 64-bit code in the CPU's unusual ways (pt-writers64.ts): every
 * translation mode and shadow policy, and every engine, must end each
 * program in exactly the same state (all sixteen registers, RIP, RFLAGS,
 * CR2, the control registers, the instruction count, a hash of guest
 * memory). A failure prints the seed and the program's operations.
 *
 * `VMMU_PTW64_SEEDS` (default 36) and `VMMU_PTW64_FIRST` (default 1) run
 * other seeds; `VMMU_PTW64_ENGINE_SEEDS` (default 12) how many of them also
 * run under the block, jit and wasm engines; `VMMU_PTW64_SIZE` the blocks
 * per program (default 36); `npm run soak -- --only pt-writers` runs many
 * more (32-bit and 64-bit).
 *
 * Planted errors (scratch edits, reverted), each caught by the first test
 * with the default seeds, at the seed given:
 * 1. shadow.ts getPage: a PML4 page not write-protected when shadowed
 *    (`if ((role & ROLE_LEVEL) !== 4) this.protectFrame(gfn)`): seed 1.
 * 2. shadow.ts onWatchedWrite: a 4-byte write to the high half of a 4-level
 *    entry ignored (`if (!legacy && (off & 4) !== 0) continue;`): seed 1.
 *    Before the half-entry operation (halfOp) existed, this one survived 24
 *    seeds: the 8-byte stores zap the entry through their low half anyway.
 * 3. mmu.ts invlpg: in shadow mode, an INVLPG of a page whose software-TLB
 *    slot is global dropped (the slot kept): seed 1.
 * 4. shadow.ts leafCurrent: an out-of-sync leaf compared on its low half
 *    only (XD, reserved bits 51:36 and address bits 35:32 missed): seed 23.
 * An equivalent one survives, as expected: onInvlpg not resynchronizing an
 * out-of-sync global leaf (the refill's leafCurrent check drops it anyway).
 * Of the mutants of test/mmu/mutants.mjs, this test kills the three the
 * adversary kills that apply to 4-level paging (unsync-refill,
 * straddle-first-only, global-never; the last two only after straddleOp
 * and globalOp were added for them) and, like the adversary, lets the
 * equivalent ones live (write-clean-leaf, flush-no-sync, no-dirtied,
 * invlpg-no-resync); legacy-half-zap concerns 32-bit tables only.
 * Apply a plant, then: npx vitest run test/cpu/pt-writers64.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { PARTICIPANTS, describe64, diff64, generate64, run64, type End64 } from './pt-writers64.js';

const SEEDS = Number(process.env.VMMU_PTW64_SEEDS ?? 36);
const FIRST = Number(process.env.VMMU_PTW64_FIRST ?? 1);
const ENGINE_SEEDS = Number(process.env.VMMU_PTW64_ENGINE_SEEDS ?? 12);
/** blocks per program (VMMU_PTW64_SIZE) */
const SIZE = Number(process.env.VMMU_PTW64_SIZE ?? 36);

describe('64-bit writers on 4-level page tables', () => {
  const ends = new Map<number, End64>();

  it(`does every mode and shadow policy end ${SEEDS} random 64-bit programs alike?`, () => {
    const bad: string[] = [];
    let normal = 0;
    for (let seed = FIRST; seed < FIRST + SEEDS; seed++) {
      const p = generate64(seed, SIZE);
      const refs = new Map<number, End64>();
      for (const part of PARTICIPANTS) {
        const e = run64(p, { participant: part, engine: 'interp' });
        if (e.audit.length) bad.push(`seed ${seed} ${part.label}: shadow audit ${e.audit.join('; ')}`);
        // compared at the same software-TLB size: a smaller TLB drops stale translations sooner
        const bits = part.softTlbBits ?? 13;
        const ref = refs.get(bits);
        if (ref === undefined) { refs.set(bits, e); continue; }
        const d = diff64(ref, e);
        if (d.length) bad.push(`seed ${seed} ${part.label} vs ${PARTICIPANTS.find((q) => (q.softTlbBits ?? 13) === bits)!.label}: ${d.join('; ')}`);
      }
      const ref = refs.get(13)!;
      ends.set(seed, ref);
      if (ref.reason === 'halted' && ref.halt === 0) normal++;
      if (bad.length) { console.log(describe64(p)); break; }
    }
    console.log(`${SEEDS} 64-bit programs from seed ${FIRST}: ${normal} ran to their end`);
    expect(bad).toEqual([]);
    expect(normal).toBeGreaterThan(SEEDS * 0.6);
  }, Math.max(120_000, SEEDS * 5000));

  it(`does each engine (and the cost model) end ${ENGINE_SEEDS} of them as the interpreter does?`, () => {
    const bad: string[] = [];
    for (let seed = FIRST; seed < FIRST + Math.min(ENGINE_SEEDS, SEEDS); seed++) {
      const p = generate64(seed, SIZE);
      const ref = ends.get(seed) ?? run64(p, { participant: PARTICIPANTS[0]!, engine: 'interp' });
      for (const engine of ['block', 'jit', 'wasm'] as const) {
        for (const part of [PARTICIPANTS[0]!, PARTICIPANTS[2]!]) {
          const e = run64(p, { participant: part, engine, eager: engine !== 'block' });
          const d = diff64(ref, e);
          if (d.length) bad.push(`seed ${seed} ${part.label} ${engine}: ${d.join('; ')}`);
        }
      }
      // and with the cost model observing every access (the MMU's observed paths, runObserved and runLong)
      for (const part of [PARTICIPANTS[2]!, PARTICIPANTS[1]!]) {
        const e = run64(p, { participant: part, engine: seed % 2 ? 'interp' : 'jit', measure: true });
        const d = diff64(ref, e);
        if (d.length) bad.push(`seed ${seed} ${part.label} measured: ${d.join('; ')}`);
      }
      if (bad.length) { console.log(describe64(p)); break; }
    }
    expect(bad).toEqual([]);
  }, Math.max(120_000, ENGINE_SEEDS * 10000));
});
