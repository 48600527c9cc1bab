/**
 * CPU speed: guest instructions per second (MIPS) of each engine (the
 * interpreter, the block engine of src/cpu/block.ts and the jit of
 * src/cpu/jit.ts) on two
 * of the project's benchmark kernels (bench/guests), per translation mode:
 * a compute-bound loop (ALU work, a load and a store, a branch; paging off)
 * and a page-fault-heavy kernel (demand paging of 4096 pages, unmapping with
 * INVLPG, twelve rounds: about 49,000 page faults, each a trip through the
 * IDT and back).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Machine } from '../src/machine/machine.js';
import { MODE_NAMES, type ModeName } from '../src/mmu/modes/mode.js';
import { ENGINES, type Engine } from '../src/cpu/cpu.js';

export interface CpuBenchRow {
  guest: string;
  mode: ModeName;
  engine: Engine;
  instructions: number;
  seconds: number;
  mips: number;
}

const guestsDir = fileURLToPath(new URL('../../bench/guests/', import.meta.url));

function once(image: Uint8Array, name: string, mode: ModeName, engine: Engine): { instructions: number; seconds: number } {
  const m = new Machine({ mode, engine, memory: 64 << 20, startDate: new Date('2026-01-01T00:00:00Z') });
  m.loadMultiboot(image, name, '');
  const r = m.run({ maxInstructions: 5e9 });
  if (r.reason !== 'exit' || r.exitStatus !== 1) throw new Error(`${name} under ${mode} (${engine}) did not pass: ${r.reason} ${r.detail}`);
  return { instructions: r.instructions, seconds: r.seconds };
}

/**
 * Runs each guest in each mode under each engine: a warm-up, then the best
 * of three timed runs, the engines alternating so that both see the same
 * load.
 */
export function benchCpu(): CpuBenchRow[] {
  const rows: CpuBenchRow[] = [];
  for (const guest of ['compute', 'pagefault']) {
    const image = readFileSync(`${guestsDir}${guest}.elf`);
    for (const mode of MODE_NAMES) {
      for (const engine of ENGINES) once(image, guest, mode, engine);
      const best = new Map<Engine, number>(ENGINES.map((e) => [e, Infinity]));
      let instructions = 0;
      for (let k = 0; k < 3; k++) {
        for (const engine of ENGINES) {
          const r = once(image, guest, mode, engine);
          if (instructions !== 0 && r.instructions !== instructions) throw new Error(`${guest} under ${mode}: ${engine} ran ${r.instructions} instructions, not ${instructions}`);
          instructions = r.instructions;
          best.set(engine, Math.min(best.get(engine)!, r.seconds));
        }
      }
      for (const engine of ENGINES) rows.push({ guest, mode, engine, instructions, seconds: best.get(engine)!, mips: instructions / best.get(engine)! / 1e6 });
    }
  }
  return rows;
}
