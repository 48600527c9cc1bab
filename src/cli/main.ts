#!/usr/bin/env node
/**
 * The `vmmu` command. Without arguments it boots the built-in default
 * guest (Debian's 686 kernel and a busybox shell, from `npm run guests`).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { match, P } from 'ts-pattern';
// Only what every command needs is loaded here; each command's modules
// (the CPU and devices for boot, the Mmu and the trace replayer for
// replay, ...) are imported when it runs, so that `vmmu replay` starts
// without compiling the machine it does not use.
import { MODE_NAMES, type ModeName } from '../mmu/modes/mode.js';
import type { OsFormat } from '../workload/synthetic-os.js';
import type { DemoOptions } from './demo.js';
import type { BootImage } from './boot.js';
import type { Engine } from '../cpu/cpu.js';
import type { CpuFeatures as CpuFeatureSet } from '../cpu/features.js';
import { ANY_COUNT, intOption, MAX_DEMO_PROCESSES, MAX_GUEST_MEMORY, MAX_WORKING_SET, memoryOption, OptionError, type IntRange } from './options.js';
import type { TraceSink } from '../trace/writer.js';

const USAGE = `usage: vmmu [command] [options]

commands:
  boot      run a guest kernel with the serial console on the terminal; with
            no command, boots the built-in default guest (Debian's 686 kernel
            and a busybox shell, fetched by npm run guests; boot --arch x86_64:
            its 64-bit kernel)
  demo      translate a generated workload in every mode and print the costs
            side by side
  record    write a binary trace (from a text trace, or the demo workload)
  replay    replay a trace in every mode and print the costs side by side
  compare   the same as a self-contained HTML report with charts
  help      show this text (vmmu COMMAND --help: that command's options)
  --version print the version

boot options:
  --arch i686|x86_64             the guest's architecture (default i686): with neither
                                 --kernel nor --multiboot, the default guest of it from
                                 npm run guests (Debian's 686 kernel, or its 64-bit
                                 cloud-amd64 kernel), with a busybox shell on a terminal
                                 and the batch initramfs otherwise (--batch, a pipe);
                                 and the CPU it needs: x86_64 turns on lm, sse and sse2
                                 (--cpu applies on top, but cannot turn those off). The
                                 64-bit kernel runs interpreted: a minute or more to the
                                 shell's prompt
  --kernel FILE                  a Linux bzImage (32-bit boot protocol)
  --initrd FILE                  its initrd / initramfs
  --multiboot FILE               or a Multiboot v1 kernel (ELF or a.out kludge); then
                                 --initrd "FILE ARGS,FILE ARGS" gives its modules, as
                                 QEMU's -initrd does (",," is a comma; each module's
                                 command line is its whole text)
  --mode naive|shadow|slat       translation mode (default shadow)
  --append "..."                 the kernel command line
  --mem SIZE                     guest memory: 256M, 1G, a bare number of MiB (default
                                 256M for Linux, 64M for Multiboot; 2M to ${MAX_GUEST_MEMORY >> 20}M,
                                 whole 4 KiB pages); a kernel and initrd must fit in it
  --batch                        never take the terminal: run without input
  --rtc now|YYYY-MM-DDTHH:MM:SS  the date the guest's clock (CMOS RTC) starts from, in
                                 UTC; default 2026-01-01T00:00:00 without a terminal,
                                 so that runs are reproducible, and now on the console
  --max-instructions N           stop after N instructions
  --engine interp|block|jit|wasm how the CPU runs instructions: wasm runs decoded blocks from
                                 a cache and compiles the hot ones to WebAssembly where it
                                 can, else to JavaScript (the default where guest and host
                                 memory fit in 4 GiB), jit compiles them to JavaScript (the
                                 default above that), block only decodes them once, interp
                                 decodes each instruction every time (the reference); the
                                 same results every way (docs/cpu.md, "The block engine",
                                 "The JIT", "The wasm engine")
  --cpu +NAME,-NAME              turn CPU features on or off (CPUID tells, the CPU
                                 enforces): pse, pae, pge, nx (on by default), sse,
                                 sse2, smep, smap, apic, rdtscp, rdpid, lm, pcid,
                                 invpcid, pku, la57, pdpe1gb, xsave (off; apic adds the local
                                 APIC, an IOAPIC and their MP table; sse2 needs sse;
                                 rdtscp and rdpid add their instructions and the
                                 IA32_TSC_AUX MSR; lm, long mode: IA-32e paging and
                                 64-bit code, enough for Debian's 64-bit kernel with
                                 +lm,+sse,+sse2, which --arch x86_64 turns on; pcid,
                                 invpcid, pku (protection keys), la57 (5-level paging)
                                 and pdpe1gb (1 GiB pages) need lm; xsave: XCR0,
                                 XGETBV/XSETBV, XSAVE/XRSTOR for x87, SSE and PKRU,
                                 which Linux needs before it uses pku); e.g. --cpu
                                 +smep,+smap,-pge or --cpu +sse,+sse2
  --measure                      play every access through the cost model (TLB, walk
                                 and cycle figures in the summary)
  --record FILE                  record a trace of the run (vmmu replay FILE replays it);
                                 written whole or not at all (Ctrl-C leaves no file)
  --force                        let --record replace an existing file (never an input)

boot exit status:
  (v << 1) | 1                   the guest wrote v to port 0xf4 (isa-debug-exit, as under
                                 QEMU; the low 8 bits): odd, so 1 means it wrote 0
  0                              the guest halted or powered off, or Ctrl-a x quit the console
  4                              it stopped otherwise: triple fault, reset, --max-instructions
  130                            Ctrl-C stopped it
  1, 2                           bad input, a usage mistake (as for every command)

demo options:
  --mode naive|shadow|slat|all   modes to run (default all)
  --format 32-bit|pae|4-level|5-level
                                 guest paging format (default 4-level)
  --accesses N                   guest accesses per mode (default 2000000)
  --processes N                  processes, switched round robin (default 4, at most ${MAX_DEMO_PROCESSES})
  --working-set N                pages per process (default 2048; 128 to ${MAX_WORKING_SET})
  --cost-profile FILE.json       cycle costs (any subset of the fields in docs/costs.md)
  --tlb FILE.json                modeled TLB geometry (the shape in docs/costs.md)
  --json                         print the reports as JSON
`;

/** A command-line mistake: printed without a stack trace, exit status 2. */
export class UsageError extends Error {}

/** The lines of `text` from the line `header` up to the next blank line. */
function section(text: string, header: string): string {
  const lines = text.split('\n');
  const at = lines.indexOf(header);
  if (at < 0) return '';
  const end = lines.indexOf('', at);
  return `${lines.slice(at, end < 0 ? undefined : end).join('\n')}\n`;
}

/** Each command's help: its usage line and its options. */
async function commandHelp(cmd: string): Promise<string | undefined> {
  const { TRACE_HELP } = cmd === 'record' || cmd === 'replay' || cmd === 'compare' ? await import('./trace-cmd.js') : { TRACE_HELP: null };
  return match(cmd)
    .with('boot', () => `usage: vmmu boot [options]\n\nRuns a guest kernel with its serial console on the terminal; with neither\n--kernel nor --multiboot, the built-in default guest of --arch (npm run guests).\n\n${section(USAGE, 'boot options:')}\n${section(USAGE, 'boot exit status:')}`)
    .with('demo', () => `usage: vmmu demo [options]\n\nTranslates a generated workload in every mode and prints the costs side by side.\n\n${section(USAGE, 'demo options:')}`)
    .with(P.union('record', 'replay', 'compare'), (c) => TRACE_HELP![c])
    .otherwise(() => undefined);
}

/** The package's version, from package.json next to dist/. */
function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function positiveInt(name: string, v: string | undefined, dflt: number, r: IntRange = ANY_COUNT): number {
  return intOption(name, v, dflt, r);
}

function modesOf(v: string | undefined): ModeName[] {
  if (v === undefined || v === 'all') return [...MODE_NAMES];
  const out = v.split(',').map((m) => m.trim());
  for (const m of out) if (!MODE_NAMES.includes(m as ModeName)) throw new UsageError(`--mode: '${m}' is not one of ${MODE_NAMES.join(', ')}, all`);
  return out as ModeName[];
}

async function demo(args: string[]): Promise<void> {
  const [{ DEMO_DEFAULTS, runDemo }, { OS_FORMATS }, { loadCostProfile, loadTlbGeometry }, { comparisonText }] = await Promise.all([
    import('./demo.js'), import('../workload/synthetic-os.js'), import('./config.js'), import('./table.js'),
  ]);
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
    processes: positiveInt('processes', values.processes, DEMO_DEFAULTS.processes, { min: 1, max: MAX_DEMO_PROCESSES }),
    workingSet: positiveInt('working-set', values['working-set'], DEMO_DEFAULTS.workingSet, { min: 128, max: MAX_WORKING_SET }),
    ...(values['cost-profile'] !== undefined ? { costProfile: loadCostProfile(values['cost-profile']) } : {}),
    ...(values.tlb !== undefined ? { tlb: loadTlbGeometry(values.tlb) } : {}),
  };
  const cols = o.modes.map((m) => runDemo(m, o));
  if (values.json) {
    console.log(JSON.stringify({ workload: o, runs: cols.map((c) => ({ seconds: c.seconds, ...c.report })) }, null, 2));
    return;
  }
  console.log(`vmmu demo: ${o.accesses} guest accesses per mode, ${o.processes} processes x ${o.workingSet} pages, ${o.format} guest paging`);
  console.log(`TLB geometry ${cols[0]!.report.tlb.name}, cost profile ${cols[0]!.report.costProfile.name} (see docs/costs.md)\n`);
  console.log(comparisonText(cols));
}

/**
 * `vmmu boot`. With neither --kernel nor --multiboot, the default guest of
 * --arch (arch.ts): Debian's 686 kernel, or with --arch x86_64 its 64-bit
 * kernel, with the interactive busybox shell on a terminal, or with the
 * batch initramfs (which runs its checks and powers off) when the console
 * is not a terminal.
 */
async function boot(args: string[]): Promise<number> {
  // --cpu's value starts with + or - by nature ('--cpu -pge'): joined to the option so that it is not read as one.
  args = args.flatMap((a, i) => (a === '--cpu' && /^[+-]/.test(args[i + 1] ?? '') ? [] : i > 0 && args[i - 1] === '--cpu' && /^[+-]/.test(a) ? [`--cpu=${a}`] : [a]));
  const [{ rtcStartDate }, { bootGuest, multibootModules }, { archCpu, defaultGuest, parseArch }, { ENGINES }, { checkOutput, withOutput }] = await Promise.all([
    import('./rtc-option.js'), import('./boot.js'), import('./arch.js'), import('../cpu/cpu.js'), import('./output.js'),
  ]);
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
      rtc: { type: 'string' },
      engine: { type: 'string' },
      cpu: { type: 'string' },
      arch: { type: 'string' },
    },
    strict: true,
  });
  const mode = (values.mode ?? 'shadow') as ModeName;
  if (!MODE_NAMES.includes(mode)) throw new UsageError(`--mode: '${values.mode}' is not one of ${MODE_NAMES.join(', ')}`);
  // none given: the Machine's default (the wasm engine where memory fits, else the jit)
  const engine = values.engine as Engine | undefined;
  if (engine !== undefined && !ENGINES.includes(engine)) throw new UsageError(`--engine: '${values.engine}' is not one of ${ENGINES.join(', ')}`);
  const arch = parseArch(values.arch);
  // the features the architecture needs, then --cpu's changes
  const cpu = archCpu(arch, values.cpu ?? '');
  if (values.multiboot !== undefined && values.kernel !== undefined) throw new UsageError('give --kernel or --multiboot, not both');
  if (values.initrd !== undefined && values.kernel === undefined && values.multiboot === undefined) throw new UsageError('--initrd goes with --kernel or --multiboot');
  const interactive = !values.batch && process.stdin.isTTY === true && process.stdout.isTTY === true;
  let startDate: Date;
  try {
    startDate = rtcStartDate(values.rtc, interactive);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  let image: BootImage;
  let cmdline = values.append;
  let what: string;
  let note = '';
  if (values.multiboot !== undefined) {
    let modules: { file: string; cmdline: string }[] = [];
    try {
      modules = values.initrd !== undefined ? multibootModules(values.initrd) : [];
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    image = { multiboot: values.multiboot, ...(modules.length > 0 ? { modules } : {}) };
    what = `${values.multiboot}${modules.length > 0 ? ` with ${modules.length} module${modules.length > 1 ? 's' : ''}` : ''}`;
  } else if (values.kernel !== undefined) {
    image = { kernel: values.kernel, ...(values.initrd !== undefined ? { initrd: values.initrd } : {}) };
    what = `${values.kernel}${values.initrd !== undefined ? ` with ${values.initrd}` : ''}`;
  } else {
    const g = defaultGuest(arch, interactive);
    image = { kernel: g.kernel, initrd: g.initrd };
    cmdline ??= g.cmdline;
    what = g.what;
    note = `the kernel runs with "quiet" and prints nothing for the first minutes${process.stderr.isTTY && !process.env.CI ? '; a status line shows meanwhile' : ''}`;
  }
  const memory = memoryOption('mem', values.mem, 'multiboot' in image ? 64 << 20 : 256 << 20, 2 << 20);
  const maxInstructions = values['max-instructions'] !== undefined ? positiveInt('max-instructions', values['max-instructions'], 0) : undefined;
  // The trace is checked before the boot (not over an input, not into a missing directory), written to a
  // temporary file, and renamed into place when the run ends; a failed or interrupted run leaves no file.
  const target = values.record !== undefined
    ? checkOutput(values.record, '--record', values.force === true, bootInputs(image))
    : null;
  process.stderr.write(`${bootBanner(what, mode, memory, interactive, cpu)}\n${note ? `vmmu: ${note}\n` : ''}`);
  const run = (record?: { name: string; sink: TraceSink }): ReturnType<typeof bootGuest> => bootGuest({
    mode,
    image,
    cmdline: cmdline ?? '',
    startDate,
    memory,
    engine,
    cpu,
    ...(maxInstructions !== undefined ? { maxInstructions } : {}),
    measure: values.measure ?? false,
    ...(record ? { record: record.name, recordSink: record.sink } : {}),
    ...(interactive ? { console: { input: process.stdin, output: process.stdout } } : {}),
  });
  const { result } = target === null ? await run() : await withOutput(target, async (out) => {
    const r = await run({ name: target.path, sink: out.sink() });
    if (r.result.reason === 'interrupted') out.abort();
    return r;
  });
  return bootExitCode(result);
}

/** The files a boot reads, each with the option that named it (an output must be none of them). */
function bootInputs(image: BootImage): { option: string; path: string }[] {
  if ('multiboot' in image) return [{ option: '--multiboot', path: image.multiboot }, ...(image.modules ?? []).map((m) => ({ option: '--initrd', path: m.file }))];
  return [{ option: '--kernel', path: image.kernel }, ...(image.initrd !== undefined ? [{ option: '--initrd', path: image.initrd }] : [])];
}

/**
 * The exit status of `vmmu boot` (listed in its --help): a guest's report
 * through isa-debug-exit is (v << 1) | 1, as under QEMU, so it is odd; 0
 * for a guest that halted or powered off, or a console that was quit; 4
 * for any other stop; 130 for Ctrl-C.
 */
export function bootExitCode(r: { reason: string; exitStatus: number | null }): number {
  if (r.reason === 'exit') return (r.exitStatus ?? 1) & 0xff;
  if (r.reason === 'interrupted') return 130;
  return r.reason === 'halted' || r.reason === 'quit' ? 0 : 4;
}

/** The line `vmmu boot` starts with, on stderr: what boots, how, and how to stop it. */
function bootBanner(what: string, mode: ModeName, memory: number, interactive: boolean, cpu: CpuFeatureSet): string {
  const size = memory % (1 << 30) === 0 ? `${memory / (1 << 30)} GiB` : `${Math.round(memory / (1 << 20))} MiB`;
  const features = cpu.toString() === '' ? '' : `, CPU ${cpu.toString()}`;
  return `vmmu: booting ${what} (${mode} translation, ${size}${features}); ${interactive ? 'Ctrl-a x quits' : 'Ctrl-C stops it'}`;
}

/** Error classes (by name, also from worker threads) that are the user's input, not a bug: message only, exit 1. */
const INPUT_ERRORS = new Set(['RangeError', 'InputError', 'TraceError', 'ImportError', 'DivergenceError']);

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  let code = 0;
  // `vmmu COMMAND --help` and `vmmu help COMMAND`: that command's text, on stdout, status 0.
  const helpOf = cmd === 'help' ? rest[0] : cmd;
  const wantsHelp = cmd === 'help' || (rest.some((a) => a === '--help' || a === '-h') && !rest.includes('--'));
  const help = helpOf !== undefined && wantsHelp ? await commandHelp(helpOf) : undefined;
  if (wantsHelp && help !== undefined) {
    process.stdout.write(help);
    return 0;
  }
  if (cmd === '--version' || cmd === '-V' || cmd === 'version') {
    process.stdout.write(`vmmu ${version()}\n`);
    return 0;
  }
  // A text trace's parse thread starts first, while this thread loads the trace commands.
  if (cmd === 'replay' || cmd === 'compare') (await import('../trace/prestart.js')).prestartParserFor(rest[0]);
  try {
    await match(cmd ?? 'boot')
      .with('demo', () => demo(rest))
      .with('boot', async () => { code = await boot(cmd === undefined ? [] : rest); })
      .with('record', async () => (await import('./trace-cmd.js')).recordCommand(rest))
      .with('replay', async () => (await import('./trace-cmd.js')).replayCommand(rest))
      .with('compare', async () => (await import('./trace-cmd.js')).compareCommand(rest))
      .with(P.union('help', '--help', '-h'), async () => { process.stdout.write(`${USAGE}\n${(await import('./trace-cmd.js')).TRACE_USAGE}`); })
      .otherwise((c) => {
        throw new UsageError(c.startsWith('-') ? `unknown option '${c}'` : `unknown command '${c}'`);
      });
    return code;
  } catch (e) {
    // The error classes of the commands' modules (loaded already when one of them threw).
    const [{ TraceUsageError }, { InputError }, { TraceError }, { ImportError }] = await Promise.all([
      import('./trace-cmd.js'), import('./config.js'), import('../trace/format.js'), import('../trace/input.js'),
    ]);
    if (e instanceof UsageError || e instanceof TraceUsageError || e instanceof OptionError || (e instanceof TypeError && 'code' in e && String(e.code).startsWith('ERR_PARSE_ARGS'))) {
      // One line: what is wrong, and where the options are listed.
      const known = cmd !== undefined && (await commandHelp(cmd)) !== undefined;
      process.stderr.write(`vmmu${known ? ` ${cmd}` : ''}: ${usageMessage(e)}; see 'vmmu ${known ? `${cmd} ` : ''}--help'\n`);
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

/** A usage mistake in one line; parseArgs' own messages shortened to what is wrong. */
function usageMessage(e: Error): string {
  const code = (e as Error & { code?: string }).code;
  const quoted = /'([^']*)'/.exec(e.message)?.[1];
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && quoted !== undefined) return `unknown option '${quoted}'`;
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL' && quoted !== undefined) return `unexpected argument '${quoted}' (this command takes no file)`;
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && quoted !== undefined) {
    const option = quoted.split(' ')[0]!;
    if (/ambiguous/.test(e.message)) return `${option}'s value starts with a dash: write it as ${option}=VALUE`;
    return / argument missing/.test(e.message) ? `${option} needs a value` : `${option} takes no value`;
  }
  // "replay: which trace file?" already says the command, which the caller prints
  return e.message.split('\n')[0]!.replace(/^(record|replay|compare|demo|boot)( --\w+)?: /, (_m: string, _c: string, opt: string | undefined) => (opt ? `${opt.trim()}: ` : ''));
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e: unknown) => {
  process.stderr.write(`vmmu: internal error: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exitCode = 70;
});
