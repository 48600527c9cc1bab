/**
 * Every Debian kernel under every translation mode and every CPU engine:
 * the differential check of the issue "Binary translation" in full, which
 * npm test runs only in part (one engine per mode, test/machine/linux-boot.ts).
 * Each boot runs in a child process (test/machine/linux-boot-runner.mjs),
 * two at a time on a 2-core machine; each must reach the batch marker and
 * halt, and must match the kernel's interpreter boot under naive
 * translation in its console output, instruction count, final registers,
 * a SHA-256 of all guest RAM and (with the APIC) its interrupt counts. 24 boots with the defaults (four
 * engines), about 40 minutes of wall time on the 2-core machine.
 *
 *   npm run soak -- --only boot-matrix [--seconds N]
 *   BOOT_MATRIX_CPU=+apic BOOT_MATRIX_KERNELS=686 npm run soak -- --only boot-matrix
 *   BOOT_MATRIX_ENGINES=wasm npm run soak -- --only boot-matrix   (the references and one engine)
 *
 * With --seconds, no boot starts after the budget is spent, and the
 * summary says how many ran.
 */
import { availableParallelism } from 'node:os';
import { missingBatchLines } from '../src/guests/init-scripts.js';
import { bootLinux, type LinuxBoot } from '../test/machine/linux-boot-child.js';
import type { SoakOptions, SoakPart } from './parts.js';

interface Cell { kernel: string; mode: string; engine: string }

async function run(o: SoakOptions): Promise<string> {
  const kernels = (process.env.BOOT_MATRIX_KERNELS ?? '686,686-pae').split(',').filter((k) => k !== '');
  const cpu = process.env.BOOT_MATRIX_CPU ?? '';
  const engines = (process.env.BOOT_MATRIX_ENGINES ?? 'interp,jit,block,wasm').split(',').filter((e) => e !== '');
  const unknown = engines.filter((e) => !['interp', 'jit', 'block', 'wasm'].includes(e));
  if (unknown.length > 0) throw new Error(`BOOT_MATRIX_ENGINES: ${unknown.join(', ')} is not an engine (interp, jit, block, wasm)`);
  const cells: Cell[] = [];
  // The references (naive, interp) first, the kernels' side by side; then the rest, each compared as it ends.
  for (const kernel of kernels) cells.push({ kernel, mode: 'naive', engine: 'interp' });
  for (const kernel of kernels) {
    for (const engine of engines) {
      for (const mode of ['naive', 'shadow', 'slat']) if (mode !== 'naive' || engine !== 'interp') cells.push({ kernel, mode, engine });
    }
  }
  const deadline = o.seconds === null ? Infinity : Date.now() + o.seconds * 1000;
  const results = new Map<string, LinuxBoot>();
  const key = (c: Cell): string => `${c.kernel} ${c.mode} ${c.engine}`;
  const problems: string[] = [];
  let next = 0;
  let ran = 0;
  const check = (c: Cell, b: LinuxBoot): void => {
    const missing = missingBatchLines(b.output);
    if (missing.length > 0 || !/^halted/.test(b.reason)) problems.push(`${key(c)}: did not reach the marker and halt (${b.reason}; missing ${missing.join(', ')})`);
    const ref = results.get(`${c.kernel} naive interp`);
    if (ref === undefined || ref === b) return;
    for (const f of ['output', 'instructions', 'cpuState', 'memoryHash', 'apic'] as const) {
      if (JSON.stringify(b[f]) !== JSON.stringify(ref[f])) problems.push(`${key(c)}: ${f} differs from ${c.kernel} naive interp (${String(b[f]).slice(0, 80)} against ${String(ref[f]).slice(0, 80)})`);
    }
  };
  const worker = async (): Promise<void> => {
    while (next < cells.length && Date.now() < deadline) {
      const c = cells[next++]!;
      // The other cells of a kernel compare with its reference: wait for it.
      if (c.mode !== 'naive' || c.engine !== 'interp') {
        while (!results.has(`${c.kernel} naive interp`) && problems.length === 0) await new Promise((r) => setTimeout(r, 1000));
      }
      const b = await bootLinux(c.kernel, c.mode, c.engine, cpu, 3_600_000);
      results.set(key(c), b);
      ran++;
      check(c, b);
      o.log(`${key(c).padEnd(24)} ${b.instructions} instructions, ${b.seconds.toFixed(0)} s, RAM ${b.memoryHash.slice(0, 12)}${problems.length > 0 ? ` (${problems.length} problems so far)` : ''}`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(2, availableParallelism()) }, worker));
  if (problems.length > 0) throw new Error(problems.join('\n'));
  return `${ran} of ${cells.length} boots${cpu ? ` with --cpu ${cpu}` : ''}, every one the same as its kernel's interpreter boot under naive translation`;
}

export const bootMatrix: SoakPart = {
  name: 'boot-matrix',
  what: 'each Debian kernel under every mode and CPU engine: the same console, instructions, registers and RAM',
  onlyWhenNamed: true,
  run,
};
