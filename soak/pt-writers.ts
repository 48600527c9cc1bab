/**
 * The page-table writers soak: the random guest programs of
 * test/cpu/pt-writers.ts (32-bit and PAE paging) and
 * test/cpu/pt-writers64.ts (4- and 5-level paging, PCIDs, 64-bit code), seed after seed
 * and alternating between the two, each under every translation mode and
 * shadow policy with the interpreter, and every fourth seed under the block,
 * jit and wasm engines too (naive and shadow). Default budget 300 s
 * (--seconds N); --seed N is the first seed. The first divergence stops it
 * with the seed, the generator and the program's operations; reproduce it
 * with `VMMU_PTW_FIRST=seed VMMU_PTW_SEEDS=1` (32-bit) or
 * `VMMU_PTW64_FIRST=seed VMMU_PTW64_SEEDS=1` (64-bit) and vitest.
 */
import { PARTICIPANTS, describe as describe32, diff as diff32, generate, run as run32 } from '../test/cpu/pt-writers.js';
import { describe64, diff64, generate64, run64 } from '../test/cpu/pt-writers64.js';
import type { SoakOptions, SoakPart } from './parts.js';

/** One seed of one generator: returns the divergences (empty when every participant and engine agree). */
function check(seed: number, long: boolean, engines: boolean): { bad: string[]; program: string } {
  const bad: string[] = [];
  const gen = long ? generate64(seed) : generate(seed);
  const runOne = (part: (typeof PARTICIPANTS)[number], engine: 'interp' | 'block' | 'jit' | 'wasm'): { end: unknown; audit: string[] } => {
    const e = long ? run64(gen as ReturnType<typeof generate64>, { participant: part, engine, eager: engine !== 'interp' && engine !== 'block' }) : run32(gen as ReturnType<typeof generate>, { participant: part, engine, eager: engine !== 'interp' && engine !== 'block' });
    return { end: e, audit: e.audit };
  };
  const differ = (a: unknown, b: unknown): string[] => (long ? diff64(a as never, b as never) : diff32(a as never, b as never));
  // compared at the same software-TLB size, with the first participant of that size
  const refs = new Map<number, { end: unknown; label: string }>();
  for (const part of PARTICIPANTS) {
    const { end, audit } = runOne(part, 'interp');
    if (audit.length) bad.push(`${part.label}: shadow audit ${audit.join('; ')}`);
    const bits = part.softTlbBits ?? 13;
    const ref = refs.get(bits);
    if (ref === undefined) { refs.set(bits, { end, label: part.label }); continue; }
    const d = differ(ref.end, end);
    if (d.length) bad.push(`${part.label} vs ${ref.label} (interp): ${d.join('; ')}`);
  }
  if (engines && bad.length === 0) {
    for (const engine of ['block', 'jit', 'wasm'] as const) {
      for (const part of [PARTICIPANTS[0]!, PARTICIPANTS[2]!]) {
        const d = differ(refs.get(13)!.end, runOne(part, engine).end);
        if (d.length) bad.push(`${part.label} ${engine} vs ${refs.get(13)!.label} (interp): ${d.join('; ')}`);
      }
    }
  }
  return { bad, program: bad.length ? (long ? describe64(gen as ReturnType<typeof generate64>) : describe32(gen as ReturnType<typeof generate>)) : '' };
}

export const ptWriters: SoakPart = {
  name: 'pt-writers',
  what: 'random guest programs writing their own page tables (32-bit, PAE, 4- and 5-level paging, PCIDs, protection keys), every mode, shadow policy and engine',
  async run(o: SoakOptions): Promise<string> {
    const end = Date.now() + (o.seconds ?? 300) * 1000;
    const t0 = Date.now();
    let lastLog = t0;
    const count = [0, 0];
    for (let seed = o.seed; Date.now() < end; seed++) {
      for (const long of [false, true]) {
        const { bad, program } = check(seed, long, seed % 4 === 0);
        count[long ? 1 : 0]!++;
        if (bad.length) throw new Error(`${long ? '64-bit (pt-writers64.ts)' : '32-bit (pt-writers.ts)'} seed ${seed}:\n  ${bad.join('\n  ')}\n${program}`);
      }
      if (Date.now() - lastLog > 60_000) {
        lastLog = Date.now();
        o.log(`${count[0]} 32-bit and ${count[1]} 64-bit programs in ${Math.round((Date.now() - t0) / 1000)} s`);
      }
    }
    return `${count[0]} 32-bit and ${count[1]} 64-bit programs from seed ${o.seed}, ${PARTICIPANTS.length} participants each (every fourth also under block, jit and wasm), no divergence`;
  },
};
