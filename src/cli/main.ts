#!/usr/bin/env node
/**
 * The `vmmu` command. Without arguments it boots the built-in default
 * guest (Debian's 686 kernel and a busybox shell, from `npm run guests`).
 */
import { parseArgs } from 'node:util';
import { match, P } from 'ts-pattern';
import { MODE_NAMES, type ModeName } from '../mmu/modes/mode.js';
import { OS_FORMATS, type OsFormat } from '../workload/synthetic-os.js';
import { DEMO_DEFAULTS, runDemo, type DemoOptions } from './demo.js';
import { InputError, checkNewOutput, loadCostProfile, loadTlbGeometry } from './config.js';
import { bootGuest, type BootImage } from './boot.js';
import { guestFiles } from '../guests/paths.js';
import { comparisonText } from './table.js';
import { compareCommand, recordCommand, replayCommand, TRACE_USAGE, TraceUsageError } from './trace-cmd.js';
import { TraceError } from '../trace/format.js';
import { ImportError } from '../trace/importers.js';

const USAGE = `usage: vmmu [command] [options]

commands:
  boot      run a guest kernel with the serial console on the terminal; with
            no command, boots the built-in default guest (Debian's 686 kernel
            and a busybox shell, fetched by npm run guests)
  demo      translate a generated workload in every mode and print the costs
            side by side
  record    write a binary trace (from a text trace, or the demo workload)
  replay    replay a trace in every mode and print the costs side by side
  compare   the same as a self-contained HTML report with charts
  help      show this text

boot options:
  --kernel FILE                  a Linux bzImage (32-bit boot protocol)
  --initrd FILE                  its initrd / initramfs
  --multiboot FILE               or a Multiboot v1 kernel (ELF or a.out kludge)
  --mode naive|shadow|slat       translation mode (default shadow)
  --append "..."                 the kernel command line
  --mem SIZE                     guest memory, e.g. 256M, 1G (default 256M for
                                 Linux, 64M for Multiboot)
  --batch                        never take the terminal: run without input
  --max-instructions N           stop after N instructions
  --measure                      play every access through the cost model
  --record FILE                  record a trace of the run (vmmu replay FILE replays it)
  --force                        let --record replace an existing file

demo options:
  --mode naive|shadow|slat|all   modes to run (default all)
  --format 32-bit|pae|4-level|5-level
                                 guest paging format (default 4-level)
  --accesses N                   guest accesses per mode (default 2000000)
  --processes N                  processes, switched round robin (default 4)
  --working-set N                pages per process (default 2048)
  --cost-profile FILE.json       cycle costs (any subset of the fields in docs/costs.md)
  --tlb FILE.json                modeled TLB geometry (the shape in docs/costs.md)
  --json                         print the reports as JSON
`;

/** A command-line mistake: printed without a stack trace, exit status 2. */
export class UsageError extends Error {}

function positiveInt(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--${name} must be a positive integer, not '${v}'`);
  return n;
}

function modesOf(v: string | undefined): ModeName[] {
  if (v === undefined || v === 'all') return [...MODE_NAMES];
  const out = v.split(',').map((m) => m.trim());
  for (const m of out) if (!MODE_NAMES.includes(m as ModeName)) throw new UsageError(`--mode: '${m}' is not one of ${MODE_NAMES.join(', ')}, all`);
  return out as ModeName[];
}

function demo(args: string[]): void {
  const { values } = parseArgs({
    args,
    options: {
      mode: { type: 'string' },
      format: { type: 'string' },
      accesses: { type: 'string' },
      processes: { type: 'string' },
      'working-set': { type: 'string' },
      'cost-profile': { type: 'string' },
      tlb: { type: 'string' },
      json: { type: 'boolean' },
    },
    strict: true,
  });
  const format = (values.format ?? DEMO_DEFAULTS.format) as OsFormat;
  if (!OS_FORMATS.includes(format)) throw new UsageError(`--format: '${values.format}' is not one of ${OS_FORMATS.join(', ')}`);
  const o: DemoOptions = {
    ...DEMO_DEFAULTS,
    modes: modesOf(values.mode),
    format,
    accesses: positiveInt('accesses', values.accesses, DEMO_DEFAULTS.accesses),
    processes: positiveInt('processes', values.processes, DEMO_DEFAULTS.processes),
    workingSet: positiveInt('working-set', values['working-set'], DEMO_DEFAULTS.workingSet),
    ...(values['cost-profile'] !== undefined ? { costProfile: loadCostProfile(values['cost-profile']) } : {}),
    ...(values.tlb !== undefined ? { tlb: loadTlbGeometry(values.tlb) } : {}),
  };
  if (o.workingSet < 128) throw new UsageError('--working-set must be at least 128 pages');
  const cols = o.modes.map((m) => runDemo(m, o));
  if (values.json) {
    console.log(JSON.stringify({ workload: o, runs: cols.map((c) => ({ seconds: c.seconds, ...c.report })) }, null, 2));
    return;
  }
  console.log(`vmmu demo: ${o.accesses} guest accesses per mode, ${o.processes} processes x ${o.workingSet} pages, ${o.format} guest paging`);
  console.log(`TLB geometry ${cols[0]!.report.tlb.name}, cost profile ${cols[0]!.report.costProfile.name} (see docs/costs.md)\n`);
  console.log(comparisonText(cols));
}

/** Parses a memory size: bytes, or a number with K, M or G. */
function memorySize(v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const m = /^(\d+)([KMG]?)i?B?$/i.exec(v.trim());
  if (!m) throw new UsageError(`--mem must be a size like 64M or 1G, not '${v}'`);
  const n = Number(m[1]) * ({ '': 1, K: 1024, M: 1 << 20, G: 1 << 30 } as Record<string, number>)[m[2]!.toUpperCase()]!;
  if (n < 2 << 20) throw new UsageError(`--mem ${v} is below the 2M minimum`);
  return n;
}

/**
 * `vmmu boot`. With neither --kernel nor --multiboot, the default guest:
 * Debian's 686 kernel with the interactive busybox shell on a terminal, or
 * with the batch initramfs (which runs its checks and powers off) when the
 * console is not a terminal.
 */
async function boot(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      kernel: { type: 'string' },
      initrd: { type: 'string' },
      multiboot: { type: 'string' },
      mode: { type: 'string' },
      append: { type: 'string' },
      mem: { type: 'string' },
      'max-instructions': { type: 'string' },
      measure: { type: 'boolean' },
      record: { type: 'string' },
      force: { type: 'boolean' },
      batch: { type: 'boolean' },
    },
    strict: true,
  });
  const mode = (values.mode ?? 'shadow') as ModeName;
  if (!MODE_NAMES.includes(mode)) throw new UsageError(`--mode: '${values.mode}' is not one of ${MODE_NAMES.join(', ')}`);
  if (values.multiboot !== undefined && values.kernel !== undefined) throw new UsageError('give --kernel or --multiboot, not both');
  if (values.initrd !== undefined && values.kernel === undefined) throw new UsageError('--initrd goes with --kernel');
  if (values.record !== undefined) checkNewOutput(values.record, '--record', values.force === true);
  const interactive = !values.batch && process.stdin.isTTY === true && process.stdout.isTTY === true;
  let image: BootImage;
  let cmdline = values.append;
  let what: string;
  let note = '';
  if (values.multiboot !== undefined) {
    image = { multiboot: values.multiboot };
    what = values.multiboot;
  } else if (values.kernel !== undefined) {
    image = { kernel: values.kernel, ...(values.initrd !== undefined ? { initrd: values.initrd } : {}) };
    what = `${values.kernel}${values.initrd !== undefined ? ` with ${values.initrd}` : ''}`;
  } else {
    const g = guestFiles();
    image = { kernel: g.kernels['686'], initrd: interactive ? g.initramfs.shell : g.initramfs.batch };
    cmdline ??= g.cmdline;
    what = `Debian ${g.kernelReleases['686']} with ${interactive ? 'a busybox shell' : 'the batch initramfs (it runs its checks and powers off)'}`;
    note = `the kernel runs with "quiet" and prints nothing for the first minutes${process.stderr.isTTY && !process.env.CI ? '; a status line shows meanwhile' : ''}`;
  }
  const memory = memorySize(values.mem, 'multiboot' in image ? 64 << 20 : 256 << 20);
  process.stderr.write(`${bootBanner(what, mode, memory, interactive)}\n${note ? `vmmu: ${note}\n` : ''}`);
  const { result } = await bootGuest({
    mode,
    image,
    cmdline: cmdline ?? '',
    memory,
    ...(values['max-instructions'] !== undefined ? { maxInstructions: positiveInt('max-instructions', values['max-instructions'], 0) } : {}),
    measure: values.measure ?? false,
    ...(values.record !== undefined ? { record: values.record } : {}),
    ...(interactive ? { console: { input: process.stdin, output: process.stdout } } : {}),
  });
  if (result.reason === 'exit') return result.exitStatus === 1 ? 0 : 1;
  if (result.reason === 'interrupted') return 130;
  return result.reason === 'halted' || result.reason === 'quit' ? 0 : 1;
}

/** The line `vmmu boot` starts with, on stderr: what boots, how, and how to stop it. */
function bootBanner(what: string, mode: ModeName, memory: number, interactive: boolean): string {
  const size = memory % (1 << 30) === 0 ? `${memory / (1 << 30)} GiB` : `${Math.round(memory / (1 << 20))} MiB`;
  return `vmmu: booting ${what} (${mode} translation, ${size}); ${interactive ? 'Ctrl-a x quits' : 'Ctrl-C stops it'}`;
}

/** Error classes (by name, also from worker threads) that are the user's input, not a bug: message only, exit 1. */
const INPUT_ERRORS = new Set(['RangeError', 'InputError', 'TraceError', 'ImportError', 'DivergenceError']);

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  let code = 0;
  // `vmmu COMMAND --help`: that command's text, on stdout, status 0.
  if (cmd !== undefined && rest.some((a) => a === '--help' || a === '-h') && !rest.includes('--')) {
    const trace = cmd === 'record' || cmd === 'replay' || cmd === 'compare';
    process.stdout.write(trace ? TRACE_USAGE : USAGE);
    return 0;
  }
  try {
    await match(cmd ?? 'boot')
      .with('demo', () => demo(rest))
      .with('boot', async () => { code = await boot(cmd === undefined ? [] : rest); })
      .with('record', () => recordCommand(rest))
      .with('replay', () => replayCommand(rest))
      .with('compare', () => compareCommand(rest))
      .with(P.union('help', '--help', '-h'), () => { process.stdout.write(`${USAGE}\n${TRACE_USAGE}`); })
      .otherwise((c) => {
        throw new UsageError(`unknown command '${c}'`);
      });
    return code;
  } catch (e) {
    if (e instanceof UsageError || e instanceof TraceUsageError || (e instanceof TypeError && 'code' in e && String(e.code).startsWith('ERR_PARSE_ARGS'))) {
      process.stderr.write(`vmmu: ${e.message}\n${cmd === 'record' || cmd === 'replay' || cmd === 'compare' ? TRACE_USAGE : USAGE}`);
      return 2;
    }
    if (e instanceof RangeError || e instanceof InputError || e instanceof TraceError || e instanceof ImportError || (e instanceof Error && e.name === 'GuestsMissingError')
      || (e instanceof Error && INPUT_ERRORS.has((e as Error & { workerErrorClass?: string }).workerErrorClass ?? ''))) {
      process.stderr.write(`vmmu: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e: unknown) => {
  process.stderr.write(`vmmu: internal error: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exitCode = 70;
});
