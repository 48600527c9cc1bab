/**
 * `vmmu boot`: runs a guest (a Multiboot kernel, or a Linux bzImage with an
 * initrd) with the serial console on the terminal and prints, at the end,
 * why it stopped, the instructions executed, MIPS and the MMU's counters.
 * On a terminal the console is interactive (docs/console.md).
 */
import { readFileSync } from 'node:fs';
import { Machine, type RunResult } from '../machine/machine.js';
import type { ModeName } from '../mmu/modes/mode.js';
import { MultibootError } from '../machine/multiboot.js';
import { LinuxBootError } from '../machine/linux.js';
import { comparisonText } from './table.js';
import { InputError } from './config.js';
import { TraceRecorder } from '../trace/recorder.js';
import { runConsole, type ConsoleIo } from './console.js';

/** What to boot: a Multiboot kernel, or a Linux kernel with an optional initrd. */
export type BootImage = { multiboot: string } | { kernel: string; initrd?: string };

export interface BootOptions {
  mode: ModeName;
  image: BootImage;
  cmdline: string;
  memory: number;
  maxInstructions?: number;
  measure: boolean;
  /** where guest serial output goes (default: stdout) */
  out?: (byte: number) => void;
  /** where the end-of-run summary goes (default: stderr) */
  report?: (text: string) => void;
  /** record a trace of the run at the MMU boundary into this file (docs/trace-format.md) */
  record?: string;
  /** with `record`: accesses between CHECK records (default 4096) */
  recordCheckEvery?: number;
  /** run the serial console interactively on these streams (keys to the guest, Ctrl-a x quits) */
  console?: ConsoleIo;
  /** the date the CMOS clock starts from (default: now) */
  startDate?: Date;
}

export interface BootOutcome {
  result: RunResult;
  machine: Machine;
}

function readInput(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new InputError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
}

/**
 * Boots a guest and runs it to the end (or, on a console, until the person
 * quits). Throws InputError for an unreadable or invalid image.
 */
export async function bootGuest(o: BootOptions): Promise<BootOutcome> {
  const img = o.image;
  const files = 'multiboot' in img
    ? { kernel: readInput(img.multiboot) }
    : { kernel: readInput(img.kernel), ...(img.initrd !== undefined ? { initrd: readInput(img.initrd) } : {}) };
  const out = o.out ?? (o.console
    ? (b: number): void => { o.console!.output.write(String.fromCharCode(b)); }
    : (b: number): void => { process.stdout.write(String.fromCharCode(b)); });
  const m = new Machine({ mode: o.mode, memory: o.memory, serialOut: out, mmu: { measure: o.measure }, ...(o.startDate ? { startDate: o.startDate } : {}) });
  // Recording starts before the loader runs, so the trace holds the whole life of the guest's MMU.
  const recorder = o.record !== undefined
    ? new TraceRecorder(m.mmu, o.record, { ...(o.recordCheckEvery !== undefined ? { checkEvery: o.recordCheckEvery } : {}), notes: { boot: { ...img, cmdline: o.cmdline, memory: o.memory, mode: o.mode } } })
    : null;
  recorder?.start();
  let result: RunResult;
  let recorded: ReturnType<TraceRecorder['close']> | null = null;
  try {
    try {
      if ('multiboot' in img) m.loadMultiboot(files.kernel, img.multiboot, o.cmdline);
      else m.loadLinux(files.kernel, img.kernel, files.initrd, img.initrd, o.cmdline);
    } catch (e) {
      if (e instanceof MultibootError || e instanceof LinuxBootError) throw new InputError(e.message);
      throw e;
    }
    result = o.console ? await runConsole(m, o.console) : m.run(o.maxInstructions !== undefined ? { maxInstructions: o.maxInstructions } : {});
  } finally {
    recorded = recorder?.close() ?? null;
  }
  let text = summary(m, result);
  if (recorded !== null) {
    const s = recorded;
    text += `recorded ${o.record}: ${s.records} records (${s.accesses} accesses, ${s.pageImages} page images, ${s.ptWrites} page-table writes), ${s.bytes} bytes\n`;
  }
  (o.report ?? ((t: string): void => { process.stderr.write(t); }))(text);
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
