/**
 * `vmmu boot`: runs a guest with the serial console on the terminal and
 * prints, at the end, why it stopped, the instructions executed, MIPS and
 * the MMU's counters.
 */
import { readFileSync } from 'node:fs';
import { Machine, type RunResult } from '../machine/machine.js';
import type { ModeName } from '../mmu/modes/mode.js';
import { MultibootError } from '../machine/multiboot.js';
import { comparisonText } from './table.js';
import { InputError } from './config.js';

export interface BootOptions {
  mode: ModeName;
  multiboot: string;
  cmdline: string;
  memory: number;
  maxInstructions?: number;
  measure: boolean;
  /** where guest serial output goes (default: stdout) */
  out?: (byte: number) => void;
  /** where the end-of-run summary goes (default: stderr) */
  report?: (text: string) => void;
}

export interface BootOutcome {
  result: RunResult;
  machine: Machine;
}

/** Boots a Multiboot kernel and runs it to the end. Throws InputError for an unreadable or invalid image. */
export function bootMultiboot(o: BootOptions): BootOutcome {
  let image: Uint8Array;
  try {
    image = readFileSync(o.multiboot);
  } catch (e) {
    throw new InputError(`${o.multiboot}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  const out = o.out ?? ((b: number): void => { process.stdout.write(String.fromCharCode(b)); });
  const m = new Machine({ mode: o.mode, memory: o.memory, serialOut: out, mmu: { measure: o.measure } });
  try {
    m.loadMultiboot(image, o.multiboot, o.cmdline);
  } catch (e) {
    if (e instanceof MultibootError) throw new InputError(e.message);
    throw e;
  }
  const result = m.run(o.maxInstructions !== undefined ? { maxInstructions: o.maxInstructions } : {});
  (o.report ?? ((t: string): void => { process.stderr.write(t); }))(summary(m, result));
  return { result, machine: m };
}

/** The end-of-run report: stop reason, exit status, instructions, MIPS, MMU counters. */
export function summary(m: Machine, r: RunResult): string {
  const lines: string[] = [];
  lines.push('');
  const status = r.reason === 'exit' ? `exit status ${r.exitStatus} (guest wrote ${((r.exitStatus ?? 1) - 1) / 2} to port 0xf4)` : r.reason;
  lines.push(`vmmu: ${status}`);
  if (r.detail) lines.push(r.detail);
  const mips = r.seconds > 0 ? r.instructions / r.seconds / 1e6 : 0;
  lines.push(`instructions ${r.instructions}, ${r.seconds.toFixed(2)} s, ${mips.toFixed(1)} MIPS, virtual time ${(m.clock.now / 1e6).toFixed(1)} ms`);
  lines.push(comparisonText([{ label: m.mmu.mode.name, report: m.mmu.report() }]));
  return lines.join('\n') + '\n';
}
