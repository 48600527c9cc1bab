/**
 * `vmmu boot`: runs a guest (a Multiboot kernel, or a Linux bzImage with an
 * initrd) with the serial console on the terminal and prints, at the end,
 * why it stopped, the instructions executed, MIPS and the MMU's counters.
 * On a terminal the console is interactive (docs/console.md).
 */
import { Machine, type RunResult, type StopReason } from '../machine/machine.js';
import type { Engine } from '../cpu/cpu.js';
import type { CpuFeatures } from '../cpu/features.js';
import { CR0_PG, CR0_WP, CR4_OSXSAVE, CR4_PAE, CR4_PGE, CR4_PSE } from '../cpu/constants.js';
import { CR4_LA57, CR4_PCIDE, CR4_PKE, CR4_SMAP, CR4_SMEP, EFER_LMA, EFER_LME, EFER_NXE } from '../mmu/index.js';
import type { ModeName } from '../mmu/index.js';
import { MultibootError, type MultibootModule } from '../machine/multiboot.js';
import { MAX_BLOCKS } from '../cpu/block.js';
import { LinuxBootError } from '../machine/linux.js';
import { comparisonText } from './table.js';
import { InputError, readInputFile, sizeText } from './config.js';
import type { TraceSink } from '../trace/writer.js';
import { TraceRecorder } from '../trace/recorder.js';
import { runConsole, type ConsoleIo } from './console.js';
import { BootProgress, SerialOutput, type ByteSink, type ProgressStream } from './boot-status.js';

/**
 * What to boot: a Multiboot kernel with its modules, or a Linux kernel with
 * an optional initrd. A module is its file and its command line, which
 * (as QEMU passes modules) is the whole text given for it, file name first.
 */
export type BootImage = { multiboot: string; modules?: { file: string; cmdline: string }[] } | { kernel: string; initrd?: string };

/**
 * The modules of `vmmu boot --multiboot K --initrd LIST`, read as QEMU reads
 * its -initrd for a Multiboot kernel: modules separated by commas (",," is
 * a comma within one), each the file name up to the first space, and the
 * whole text the module's command line. Throws RangeError naming the
 * module that has no file name.
 */
export function multibootModules(list: string): { file: string; cmdline: string }[] {
  const texts: string[] = [];
  let cur = '';
  for (let i = 0; i < list.length; i++) {
    if (list[i] === ',' && list[i + 1] === ',') {
      cur += ',';
      i++;
    } else if (list[i] === ',') {
      texts.push(cur);
      cur = '';
    } else {
      cur += list[i];
    }
  }
  texts.push(cur);
  return texts.map((text, i) => {
    const file = text.split(' ')[0]!;
    if (file === '') throw new RangeError(`--initrd: module ${i + 1} of ${texts.length} (${JSON.stringify(text)}) has no file name (modules are "FILE ARGS,FILE ARGS")`);
    return { file, cmdline: text };
  });
}

export interface BootOptions {
  mode: ModeName;
  image: BootImage;
  cmdline: string;
  memory: number;
  maxInstructions?: number;
  measure: boolean;
  /** where guest serial output goes, byte for byte (default: stdout, or the console's output) */
  out?: ByteSink;
  /** where the status line goes while the guest is silent (default: stderr) */
  status?: ProgressStream;
  /** where the end-of-run summary goes (default: stderr) */
  report?: (text: string) => void;
  /** record a trace of the run at the MMU boundary into this file (docs/trace-format.md) */
  record?: string;
  /** with `record`: where the trace's bytes go instead of the file (the name is still shown) */
  recordSink?: TraceSink;
  /** with `record`: accesses between CHECK records (default 4096) */
  recordCheckEvery?: number;
  /** run the serial console interactively on these streams (keys to the guest, Ctrl-a x quits) */
  console?: ConsoleIo;
  /** the date the CMOS clock starts from (default: RTC_DEFAULT_START, a fixed date; vmmu boot's --rtc) */
  startDate?: Date;
  /** how the CPU runs instructions (vmmu boot's --engine; default the Machine's) */
  engine?: Engine;
  /** the CPU's features (vmmu boot's --cpu; default the Machine's) */
  cpu?: CpuFeatures;
}

/** Why a boot ended: the machine's reasons, or the person's. */
export type BootStopReason = StopReason | 'quit' | 'interrupted';

/** The whole run, over all its slices. */
export interface BootRunResult extends Omit<RunResult, 'reason'> {
  reason: BootStopReason;
  /** seconds the CPU ran: the wall time less the console's waits for input (MIPS is measured over these) */
  cpuSeconds: number;
}

export interface BootOutcome {
  result: BootRunResult;
  machine: Machine;
}

/** Wall-clock length of one batch slice: progress and Ctrl-C are looked at between slices. */
const BATCH_SLICE_MS = 100;

/**
 * Runs the machine without input until it stops, in slices, so that the
 * status line is kept up to date and Ctrl-C (SIGINT) ends the run with
 * the summary. Slicing does not change what the guest does: a slice ends
 * between two of the machine's steps, and the next resumes there.
 */
export async function runBatch(m: Machine, output: SerialOutput, progress: BootProgress | null, maxInstructions?: number, interruptedBefore = false): Promise<BootRunResult> {
  const started = performance.now();
  let instructions = 0;
  let cpuSeconds = 0;
  // A Ctrl-C while the machine was being built ends the run after its first slice.
  let interrupted = interruptedBefore;
  const onSigint = (): void => {
    interrupted = true;
  };
  process.once('SIGINT', onSigint);
  try {
    for (;;) {
      const remaining = maxInstructions === undefined ? undefined : maxInstructions - instructions;
      const r = m.run({ maxMillis: BATCH_SLICE_MS, ...(remaining !== undefined ? { maxInstructions: remaining } : {}) });
      instructions += r.instructions;
      cpuSeconds += r.seconds;
      output.flush();
      const seconds = (performance.now() - started) / 1000;
      if (r.reason !== 'time-limit') return { ...r, instructions, seconds, cpuSeconds };
      progress?.tick({ instructions, cpuSeconds, virtualNs: m.clock.now });
      // Let signals and stream writes through.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (interrupted) {
        return { reason: 'interrupted', exitStatus: null, instructions, seconds: (performance.now() - started) / 1000, cpuSeconds, detail: '' };
      }
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/**
 * Reads a kernel or initrd: a regular file that fits in guest memory
 * (with what is already loaded), never a device such as /dev/zero.
 */
function readInput(path: string, option: string, room: number, memory: number): Uint8Array {
  return readInputFile(path, `${option} ${path}`, room, `the ${sizeText(room)} of guest memory left for it (--mem ${sizeText(memory)})`);
}

/**
 * Boots a guest and runs it to the end (or, on a console, until the person
 * quits). Throws InputError for an unreadable or invalid image.
 */
export async function bootGuest(o: BootOptions): Promise<BootOutcome> {
  // From the banner on, Ctrl-C must not kill the process while the files
  // are read and the machine built (a second or more on a loaded machine):
  // a listener holds it for runBatch, which then stops with the summary.
  let sigintBefore = false;
  const onEarlySigint = (): void => {
    sigintBefore = true;
  };
  if (!o.console) process.on('SIGINT', onEarlySigint);
  try {
    return await bootGuestHeld(o, () => sigintBefore);
  } finally {
    process.off('SIGINT', onEarlySigint);
  }
}

async function bootGuestHeld(o: BootOptions, sigintBefore: () => boolean): Promise<BootOutcome> {
  const img = o.image;
  let files: { kernel: Uint8Array; initrd?: Uint8Array; modules?: MultibootModule[] };
  if ('multiboot' in img) {
    const kernel = readInput(img.multiboot, '--multiboot', o.memory, o.memory);
    let room = o.memory - kernel.length;
    const modules = (img.modules ?? []).map((mod, i): MultibootModule => {
      const data = readInput(mod.file, `--initrd module ${i + 1}`, room, o.memory);
      room -= data.length;
      return { data, cmdline: mod.cmdline };
    });
    files = { kernel, modules };
  } else {
    const kernel = readInput(img.kernel, '--kernel', o.memory, o.memory);
    files = { kernel, ...(img.initrd !== undefined ? { initrd: readInput(img.initrd, '--initrd', o.memory - kernel.length, o.memory) } : {}) };
  }
  const output = new SerialOutput(o.out ?? (o.console ? o.console.output : process.stdout));
  const m = new Machine({ mode: o.mode, memory: o.memory, serialOut: output.push, mmu: { measure: o.measure }, ...(o.startDate ? { startDate: o.startDate } : {}), ...(o.engine !== undefined ? { engine: o.engine } : {}), ...(o.cpu !== undefined ? { cpu: o.cpu } : {}) });
  // Recording starts before the loader runs, so the trace holds the whole life of the guest's MMU.
  const recorder = o.record !== undefined
    ? new TraceRecorder(m.mmu, o.recordSink ?? o.record, { ...(o.recordCheckEvery !== undefined ? { checkEvery: o.recordCheckEvery } : {}), notes: { boot: { ...img, cmdline: o.cmdline, memory: o.memory, mode: o.mode, ...(o.cpu !== undefined && o.cpu.toString() !== '' ? { cpu: o.cpu.toString() } : {}) } } })
    : null;
  recorder?.start();
  let result: BootRunResult;
  let recorded: ReturnType<TraceRecorder['close']> | null = null;
  try {
    try {
      if ('multiboot' in img) m.loadMultiboot(files.kernel, img.multiboot, o.cmdline, files.modules ?? []);
      else m.loadLinux(files.kernel, img.kernel, files.initrd, img.initrd, o.cmdline);
    } catch (e) {
      if (e instanceof MultibootError || e instanceof LinuxBootError) throw new InputError(e.message);
      throw e;
    }
    const statusStream = o.status ?? process.stderr;
    const progress = new BootProgress(statusStream, output, {
      quitHint: o.console ? 'Ctrl-a x quits' : 'Ctrl-C stops',
      // the console shares the terminal; so does a batch run with both streams on one
      sharesTerminal: o.console !== undefined || (o.out === undefined && process.stdout.isTTY === true && statusStream.isTTY === true),
    });
    try {
      result = o.console
        ? await runConsole(m, o.console, { output, progress, ...(o.maxInstructions !== undefined ? { maxInstructions: o.maxInstructions } : {}) })
        : await runBatch(m, output, progress, o.maxInstructions, sigintBefore());
    } finally {
      output.flush();
      progress.clear();
    }
  } finally {
    recorded = recorder?.close() ?? null;
  }
  let text = summary(m, result);
  if (recorded !== null && result.reason === 'interrupted') {
    text += `not recorded: the run was interrupted, and ${o.record} is left as it was\n`;
  } else if (recorded !== null) {
    const s = recorded;
    text += `recorded ${o.record}: ${s.records} records (${s.accesses} accesses, ${s.pageImages} page images, ${s.ptWrites} page-table writes), ${s.bytes} bytes\n`;
  }
  (o.report ?? ((t: string): void => { process.stderr.write(t); }))(text);
  return { result, machine: m };
}

const CR4_NAMES: [number, string][] = [[CR4_PSE, 'PSE'], [CR4_PAE, 'PAE'], [CR4_PGE, 'PGE'], [CR4_LA57, 'LA57'], [CR4_PCIDE, 'PCIDE'], [CR4_OSXSAVE, 'OSXSAVE'], [CR4_SMEP, 'SMEP'], [CR4_SMAP, 'SMAP'], [CR4_PKE, 'PKE']];
const EFER_NAMES: [number, string][] = [[EFER_LME, 'LME'], [EFER_LMA, 'LMA'], [EFER_NXE, 'NXE']];

/** The paging controls the guest left set: what its kernel turned on of the CPU's features. */
function controlRegisters(m: Machine): string {
  const c = m.cpu;
  const hex = (v: number): string => `0x${(v >>> 0).toString(16)}`;
  const names = (v: number, table: [number, string][]): string => {
    const on = table.filter(([bit]) => v & bit).map(([, name]) => name);
    return on.length > 0 ? ` (${on.join(', ')})` : '';
  };
  // CR3 in IA-32e mode is 64 bits: its high half when it has one
  const cr3 = c.cr3Hi !== 0 ? `0x${(c.cr3Hi >>> 0).toString(16)}${(c.cr3 >>> 0).toString(16).padStart(8, '0')}` : hex(c.cr3);
  return `paging at the end: CR0 ${hex(c.cr0)}${c.cr0 & CR0_PG ? ' (PG' + (c.cr0 & CR0_WP ? ', WP)' : ')') : ''}, CR3 ${cr3}, CR4 ${hex(c.cr4)}${names(c.cr4, CR4_NAMES)}, EFER ${hex(c.efer)}${names(c.efer, EFER_NAMES)}${m.cpu.features.toString() !== '' ? `; CPU ${m.cpu.features.toString()}` : ''}`;
}

/** The end-of-run report: stop reason, exit status, instructions, MIPS, MMU counters. */
export function summary(m: Machine, r: BootRunResult): string {
  const lines: string[] = [];
  lines.push('');
  const status = r.reason === 'exit' ? `guest wrote ${((r.exitStatus ?? 1) - 1) / 2} to port 0xf4: exit status ${r.exitStatus} ((value << 1) | 1, as QEMU's isa-debug-exit)`
    : r.reason === 'quit' ? 'quit from the console (Ctrl-a x); the guest was still running'
      : r.reason === 'interrupted' ? 'stopped by Ctrl-C; the guest was still running'
        : r.reason;
  lines.push(`vmmu: ${status}`);
  if (r.detail) lines.push(r.detail);
  // MIPS over the time the CPU ran: a console session spends most of its wall time waiting for keys.
  const mips = r.cpuSeconds > 0 ? r.instructions / r.cpuSeconds / 1e6 : 0;
  const time = r.seconds - r.cpuSeconds > 0.05 ? `${r.seconds.toFixed(2)} s (the CPU ran ${r.cpuSeconds.toFixed(2)} s of it)` : `${r.seconds.toFixed(2)} s`;
  lines.push(`instructions ${r.instructions}, ${time}, ${mips.toFixed(1)} MIPS, virtual time ${(m.clock.now / 1e6).toFixed(1)} ms`);
  lines.push(controlRegisters(m));
  const b = m.cpu.blocks;
  lines.push(b === null ? 'engine interp: every instruction decoded as it runs (the reference interpreter)'
    : `engine ${m.cpu.engine}: ${b.built} blocks decoded, ${b.size} in the cache (at most ${MAX_BLOCKS}), ${b.dropped} frames' blocks dropped by writes to them, the cache emptied ${b.flushes} times`);
  if (b !== null && (m.cpu.engine === 'jit' || m.cpu.engine === 'wasm')) {
    const wasm = m.cpu.engine === 'wasm' ? ` (${b.wasmCompiled} as WebAssembly, the rest as JavaScript)` : '';
    lines.push(`jit: ${b.jitCompiled} blocks compiled${wasm} (after ${b.jitThreshold} runs each) in ${b.jitMs.toFixed(0)} ms, ${b.jitLive} compiled functions live, ${b.jitDropped} dropped with their blocks`);
  }
  if (m.lapic !== null && m.ioapic !== null) {
    const a = m.lapic.counts;
    lines.push(`apic: ${a.timer} local timer expiries, ${a.accepted} interrupts accepted, ${a.eoi} EOIs, ${a.ipi} IPIs sent, ${a.extint} taken from the 8259s (ExtINT), ${a.spurious} spurious; IOAPIC ${m.ioapic.messages} messages`);
  }
  // Without --measure the cost model was off: no access, TLB, walk or cycle figures to show.
  lines.push(comparisonText([{ label: m.mmu.mode.name, report: m.mmu.report() }], { measured: m.mmu.measure }));
  if (!m.mmu.measure) lines.push('(run with --measure for access, TLB, page-walk and cycle figures)');
  return lines.join('\n') + '\n';
}
