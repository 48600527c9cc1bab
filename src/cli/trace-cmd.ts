/**
 * The trace commands: `vmmu record`, `vmmu replay`, `vmmu compare`.
 * Option parsing and pattern matching live here (cold); the replays run in
 * src/trace, in worker threads when there are several.
 */
import { open } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { match, P } from 'ts-pattern';
// Only light modules here: a replay starts its parse thread before the Mmu,
// the synthetic OS and the replayer are loaded (src/trace/parallel.ts);
// recording and the HTML report load theirs when they run.
import type { MmuReport } from '../mmu/mmu.js';
import { MODE_NAMES, type ModeName } from '../mmu/modes/mode.js';
import { SKYLAKE_TLB, type CostProfile, type TlbGeometry } from '../mmu/defaults.js';
import { FORMAT_NAMES } from '../mmu/paging/format.js';
import { COUNTERS } from '../mmu/counters.js';
import { KERNEL_APART, OS_FORMATS, type OsFormat, type OsPageSize } from '../workload/os-names.js';
import { MAGIC_HEADER, SOURCE_IMPORTED, type TraceHeader } from '../trace/format.js';
import { guessTextFormat, IMPORT_FORMATS, splittable, type ImportFormat, type ImportOptions } from '../trace/importers.js';
import { compressionOf } from '../trace/input.js';
import { OS_DEFAULTS, osMemoryDefault, type OsReplayOptions } from '../trace/os-options.js';
import { defaultParallelism, parsedOnce, runJobs, type LabeledResult, type ReplayJob, type ReplaySource } from '../trace/parallel.js';
import { prestartParser } from '../trace/stream.js';
import { InputError, describeGeometry, loadCostProfile, loadTlbGeometry, parseSweep, readJson } from './config.js';
import { comparisonRows, formatTable, type Column } from './table.js';
import { ProgressBar, progressWanted } from './progress.js';
import type { ReportRun } from './report-html.js';
import { DEMO_DEFAULTS } from './demo-defaults.js';
import { checkOutput, withOutput, type NamedInput } from './output.js';
import { intOption, MAX_DEMO_PROCESSES, MAX_JOBS, mib, MAX_TLB_ENTRIES, MAX_TRACE_PROCESSES, memoryOption, SEED_RANGE, TRACE_MEMORY_LIMIT } from './options.js';

/** A command-line mistake: printed with the usage text, exit status 2. */
export class TraceUsageError extends Error {}

/** The most parse threads a text trace gets (--parse-threads). */
const MAX_PARSE_THREADS = 8;

const REPLAY_OPTIONS_TEXT = `  --mode naive|shadow|slat|all   modes (default all; a comma-separated list works)
  --tlb FILE.json                modeled TLB geometry (default Skylake, docs/costs.md; at most
                                 ${MAX_TLB_ENTRIES} entries an array)
  --cost-profile FILE.json       cycle costs (default skylake-kvm)
  --sweep SPEC                   TLB geometries to run, each in every mode: FILE.json
                                 (an array of geometries) or FIELD=ENTRIESxWAYS,...
                                 (e.g. l2.k4m2=256x4,512x8,1536x12); repeatable
  --jobs N                       replays at once in worker threads (default: cores, for a text trace
                                 at least the modes, which share one parse; at most ${MAX_JOBS})
  --parse-threads N              text traces: threads that parse a plain lackey or cache-lab file,
                                 each a part of it cut at a line end (default 2 when the cores
                                 outnumber the replays at once by two or more, else 1; at most ${MAX_PARSE_THREADS})
  --no-verify                    binary traces: count CHECK mismatches instead of stopping
  --quiet                        no progress bar (it only shows on a terminal anyway)
`;

const GUEST_OPTIONS_TEXT = `guest options (text traces only):
  --import lackey|cachelab|pinatrace|champsim  the trace format (default: guessed from the content;
                                 champsim, 64-byte binary records, from a name *.champsimtrace[.xz|.gz])
  --format 32-bit|pae|4-level|5-level  guest paging format (default ${OS_DEFAULTS.format})
  --page-size 4k|2m|1g           largest user page size (default ${OS_DEFAULTS.pageSize}); 2m/1g are used where the
                                 aligned region is free, else smaller pages (docs/trace-format.md)
  --processes N                  copies of the trace, each its own process (default ${OS_DEFAULTS.processes},
                                 at most ${MAX_TRACE_PROCESSES}; all read one parse of the file)
  --quantum N                    accesses between process switches (default ${OS_DEFAULTS.quantum})
  --reclaim                      evict pages when guest memory runs out (default off; with
                                 it, guest memory defaults to 1 GiB, which host memory holds)
  --memory SIZE                  guest memory: 256M, 4G, a bare number of MiB (default
                                 ${mib(osMemoryDefault('4-level'))} with 4- or 5-level paging, ${mib(osMemoryDefault('pae'))} with 32-bit or PAE;
                                 4M to ${mib(TRACE_MEMORY_LIMIT.max)}, whole 4 KiB pages); host memory backs
                                 only the pages the trace touches
  --seed N                       guest-RAM scatter seed, 0 to 4294967295 (default ${OS_DEFAULTS.seed})
  --on-error stop|skip           a malformed line stops the import (default) or is skipped and counted
  --no-ip-fetches                pinatrace: no instruction fetch at each new ip; champsim: no fetch
                                 at each record's ip
`;

const RECORD_USAGE = `usage: vmmu record --import lackey|cachelab|pinatrace|champsim FILE -o OUT.vmt [options] [guest options]
       vmmu record --demo -o OUT.vmt [options] [demo options]

Writes a binary trace (docs/trace-format.md). --import converts a text trace:
it runs on the synthetic guest OS under the recorder, page tables included.
--demo records the workload of vmmu demo at the MMU boundary. (A guest
kernel is recorded by vmmu boot --record FILE.)

record options:
  -o, --output FILE              the trace to write; written whole or not at all
  --force                        replace an existing FILE (refused otherwise; never an input)
  --level N                      DEFLATE level 0..9 (default 6)
  --check-every N                accesses between CHECK records (default 4096; 0: none)
  --quiet                        no progress bar (it only shows on a terminal anyway)

demo options (record --demo):
  --accesses N                   guest accesses (default ${DEMO_DEFAULTS.accesses})
  --processes N                  processes, switched round robin (default ${DEMO_DEFAULTS.processes}, at most ${MAX_DEMO_PROCESSES})
  --quantum N                    accesses between process switches (default ${DEMO_DEFAULTS.quantum})
  --format 32-bit|pae|4-level|5-level  guest paging format (default ${DEMO_DEFAULTS.format})
  --memory SIZE                  guest memory (default ${mib(DEMO_DEFAULTS.memory)})
  --seed N                       workload and guest-RAM seed (default ${DEMO_DEFAULTS.seed})

${GUEST_OPTIONS_TEXT}`;

const REPLAY_USAGE = `usage: vmmu replay FILE [options] [guest options]

Replays a trace (binary .vmt, lackey/cache-lab/pinatrace text or a ChampSim
trace, plain, gzipped or xz-compressed) in each mode and prints the costs side by side.

replay options:
${REPLAY_OPTIONS_TEXT}  --json                         print the results as JSON

${GUEST_OPTIONS_TEXT}`;

const COMPARE_USAGE = `usage: vmmu compare FILE -o REPORT.html [options] [guest options]
       vmmu compare --results RUNS.json -o REPORT.html

The same replays as vmmu replay, as a self-contained HTML report with
charts; or the report of a saved vmmu replay --json output.

compare options:
  -o, --output FILE              the report (default vmmu-report.html); written whole or not at all
  --force                        replace an existing FILE (refused otherwise; never an input)
  --results RUNS.json            report these results instead of replaying (at most 16 MiB)
${REPLAY_OPTIONS_TEXT}
${GUEST_OPTIONS_TEXT}`;

/** Each trace command's help: its usage and options. */
export const TRACE_HELP: Record<'record' | 'replay' | 'compare', string> = { record: RECORD_USAGE, replay: REPLAY_USAGE, compare: COMPARE_USAGE };

/** All three, for `vmmu help`. */
export const TRACE_USAGE = `trace commands:
  record --import FORMAT FILE -o OUT.vmt | record --demo -o OUT.vmt
            write a binary trace (vmmu record --help)
  replay FILE
            replay a trace in each mode; costs side by side (vmmu replay --help)
  compare FILE -o REPORT.html | compare --results RUNS.json -o REPORT.html
            the same replays as an HTML report with charts (vmmu compare --help)

replay and compare options:
${REPLAY_OPTIONS_TEXT}  --json                         print the results as JSON (replay)
  -o FILE, --force, --results    compare: the report, replacing it, from saved results

${GUEST_OPTIONS_TEXT}`;

const OS_OPTIONS = {
  import: { type: 'string' },
  format: { type: 'string' },
  'page-size': { type: 'string' },
  processes: { type: 'string' },
  quantum: { type: 'string' },
  reclaim: { type: 'boolean' },
  memory: { type: 'string' },
  seed: { type: 'string' },
  'on-error': { type: 'string' },
  'no-ip-fetches': { type: 'boolean' },
} as const;

const REPLAY_OPTIONS = {
  ...OS_OPTIONS,
  mode: { type: 'string' },
  tlb: { type: 'string' },
  'cost-profile': { type: 'string' },
  sweep: { type: 'string', multiple: true },
  jobs: { type: 'string' },
  'parse-threads': { type: 'string' },
  json: { type: 'boolean' },
  'no-verify': { type: 'boolean' },
  quiet: { type: 'boolean' },
  output: { type: 'string', short: 'o' },
  results: { type: 'string' },
  force: { type: 'boolean' },
} as const;

type Values = Record<string, string | boolean | string[] | undefined>;

function int(name: string, v: unknown, dflt: number, min = 1, max = Number.MAX_SAFE_INTEGER, why?: string): number {
  return intOption(name, v, dflt, { min, max, ...(why !== undefined ? { why } : {}) });
}

function modesOf(v: unknown): ModeName[] {
  if (v === undefined || v === 'all') return [...MODE_NAMES];
  const out = String(v).split(',').map((m) => m.trim());
  for (const m of out) if (!MODE_NAMES.includes(m as ModeName)) throw new TraceUsageError(`--mode: '${m}' is not one of ${MODE_NAMES.join(', ')}, all`);
  return out as ModeName[];
}

const OS_ONLY = ['import', 'format', 'page-size', 'processes', 'quantum', 'reclaim', 'memory', 'seed', 'on-error', 'no-ip-fetches', 'parse-threads'];

function osOptionsOf(v: Values): OsReplayOptions {
  const format = (v.format ?? OS_DEFAULTS.format) as OsFormat;
  if (!OS_FORMATS.includes(format)) throw new TraceUsageError(`--format: '${String(v.format)}' is not one of ${OS_FORMATS.join(', ')}`);
  const pageSize = match(v['page-size'] ?? OS_DEFAULTS.pageSize)
    .with(P.union('4k', '2m', '1g'), (x) => x as OsPageSize)
    .otherwise((x) => { throw new TraceUsageError(`--page-size: '${String(x)}' is not one of 4k, 2m, 1g`); });
  if (pageSize === '1g' && (format === '32-bit' || format === 'pae')) throw new TraceUsageError(`--page-size 1g needs 4-level or 5-level paging (${format} has no 1 GiB pages)`);
  return {
    format, pageSize,
    processes: int('processes', v.processes, OS_DEFAULTS.processes, 1, MAX_TRACE_PROCESSES, 'each process is a guest address space with its own page tables, played round robin from the one parse of the file'),
    quantum: int('quantum', v.quantum, OS_DEFAULTS.quantum),
    reclaim: v.reclaim === true,
    // Guest memory larger than host memory never runs out before the host
    // does, so reclaim, which acts when guest memory runs out, gets a guest
    // that fits.
    memory: memoryOption('memory', v.memory, v.reclaim === true ? Math.min(osMemoryDefault(format), 2 ** 30) : osMemoryDefault(format), 4 << 20, TRACE_MEMORY_LIMIT),
    seed: intOption('seed', v.seed, OS_DEFAULTS.seed, SEED_RANGE),
  };
}

/**
 * What the input file is: its size, and whether it is a binary trace (the
 * "VMTR" magic). A directory, or a file that cannot be opened or read, is an
 * InputError naming it.
 */
async function inputOf(path: string): Promise<{ binary: boolean; size: number }> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    throw new InputError(`${path}: cannot open (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  try {
    const st = await fh.stat();
    if (st.isDirectory()) throw new InputError(`${path}: is a directory; give a trace file`);
    const b = Buffer.alloc(4);
    const { bytesRead } = await fh.read(b, 0, 4, 0);
    return { binary: bytesRead === 4 && b.readUInt32LE(0) === MAGIC_HEADER, size: st.size };
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  } finally {
    await fh.close();
  }
}

async function importOptionsOf(path: string, v: Values): Promise<ImportOptions> {
  const onError = match(v['on-error'] ?? 'stop')
    .with(P.union('stop', 'skip'), (x) => x as 'stop' | 'skip')
    .otherwise((x) => { throw new TraceUsageError(`--on-error: '${String(x)}' is not stop or skip`); });
  let format: ImportFormat;
  if (v.import !== undefined) {
    if (!IMPORT_FORMATS.includes(v.import as ImportFormat)) throw new TraceUsageError(`--import: '${String(v.import)}' is not one of ${IMPORT_FORMATS.join(', ')}`);
    format = v.import as ImportFormat;
  } else {
    // A file that is not a binary trace must be a text trace: detection names the line that is neither format.
    format = await guessTextFormat(path, onError);
  }
  return { format, onError, pinFetches: v['no-ip-fetches'] !== true };
}

/** The replay source for FILE and the facts about it to print. */
async function sourceOf(path: string, v: Values): Promise<{ source: ReplaySource; facts: string[]; header?: TraceHeader; size: number }> {
  const { binary, size } = await inputOf(path);
  if (binary) {
    const given = OS_ONLY.filter((k) => v[k] !== undefined);
    if (given.length > 0) throw new TraceUsageError(`--${given[0]} applies to text traces only: ${path} is a binary trace that carries its own guest state`);
    const { traceHeader } = await import('../trace/replayer.js');
    const h = await traceHeader(path);
    const facts = [
      `${path}: binary trace (format version ${h.version}), ${h.source === SOURCE_IMPORTED ? `imported from ${String(h.notes.importedFrom ?? '?')} (${String(h.notes.importFormat ?? '?')})` : 'recorded at the MMU boundary'}`,
      `guest: ${mib(h.guestMemory)}, ${h.format === 0 ? 'paging off' : `${FORMAT_NAMES[h.format as 0] ?? h.format} paging`} at the start, scatter seed ${h.seed}${h.checkEvery ? `, translations checked every ${h.checkEvery} accesses` : ''}`,
    ];
    return { source: { kind: 'binary', path }, facts, header: h, size };
  }
  // A text trace is parsed in a parse thread: it starts now, while this
  // thread detects the format and loads the replay.
  prestartParser();
  const imp = await importOptionsOf(path, v);
  const os = osOptionsOf(v);
  const facts = [
    imp.format === 'champsim' ? `${path}: ChampSim trace (one 64-byte record an instruction)` : `${path}: ${imp.format} text trace`,
    `guest: synthetic OS, ${os.format} paging, ${os.pageSize} pages, ${os.processes} process${os.processes > 1 ? `es switched every ${os.quantum} accesses` : ''}, ${mib(os.memory)}, reclaim ${os.reclaim ? 'on' : 'off'}`,
  ];
  return { source: { kind: 'text', path, import: imp, os }, facts, size };
}

interface Plan {
  source: ReplaySource;
  facts: string[];
  size: number;
  jobs: (ReplayJob & { geometry: string })[];
  geometries: TlbGeometry[];
  costProfile?: CostProfile;
  parallel: number;
  /** threads parsing a text trace (parse-once streams) */
  parseThreads: number;
  quiet: boolean;
}

async function planOf(file: string, v: Values): Promise<Plan> {
  const modes = modesOf(v.mode);
  const costProfile = v['cost-profile'] !== undefined ? loadCostProfile(String(v['cost-profile'])) : undefined;
  const base = v.tlb !== undefined ? loadTlbGeometry(String(v.tlb)) : SKYLAKE_TLB;
  const sweeps = (v.sweep as string[] | undefined) ?? [];
  let geometries: TlbGeometry[];
  try {
    geometries = sweeps.length > 0 ? sweeps.flatMap((s) => parseSweep(s, base)) : [base];
  } catch (e) {
    if (e instanceof RangeError) throw new TraceUsageError(e.message);
    throw e;
  }
  const { source, facts, size } = await sourceOf(file, v);
  const verify = v['no-verify'] !== true;
  const jobs: (ReplayJob & { geometry: string })[] = geometries.flatMap((g) => modes.map((mode) => ({
    label: geometries.length > 1 ? `${mode} ${g.name}` : mode,
    geometry: g.name,
    options: { mode, tlb: g, ...(costProfile ? { costProfile } : {}), verify },
  })));
  // A text trace is parsed once for all replays (src/trace/stream.ts): the
  // modes of a geometry then run at once by default, reading the same
  // parsed chunks, even with fewer cores than modes.
  const parallel = v.jobs !== undefined ? int('jobs', v.jobs, 1, 1, MAX_JOBS, 'each replay holds a whole guest memory')
    : parsedOnce(source) ? Math.min(jobs.length, Math.max(defaultParallelism(jobs.length), modes.length)) : defaultParallelism(jobs.length);
  // A reader thread per replay only pays while cores are left over for it.
  if (Math.min(parallel, jobs.length) * 2 <= availableParallelism()) for (const j of jobs) j.options = { ...j.options, readerThread: true };
  // A plain lackey or cache-lab file is parsed by two threads, each half of
  // it, when a core is free for the second: one core a replay running at
  // once, one for the first parse thread.
  const parseThreads = v['parse-threads'] !== undefined ? int('parse-threads', v['parse-threads'], 1, 1, MAX_PARSE_THREADS)
    : source.kind === 'text' && parsedOnce(source) && splittable(source.import) && availableParallelism() >= Math.min(parallel, jobs.length) + 2
      && (await compressionOf(source.path)) === 'none' ? 2 : 1;
  return { source, facts, size, jobs, geometries, ...(costProfile ? { costProfile } : {}), parallel, parseThreads, quiet: v.quiet === true };
}

async function runPlan(p: Plan): Promise<LabeledResult[]> {
  const bar = !p.quiet && progressWanted() ? new ProgressBar(p.size * p.jobs.length, p.jobs.length, `replaying ${basename(p.source.path)}`) : null;
  try {
    return await runJobs(p.source, p.jobs, p.parallel, bar ? (j, b, r) => bar.update(j, b, r) : undefined, { parseThreads: p.parseThreads });
  } finally {
    bar?.done();
  }
}

function traceRows(results: readonly LabeledResult[]): string[][] {
  const rows: [string, (r: LabeledResult) => string, (r: LabeledResult) => number][] = [
    ['trace records', (r) => String(r.counts.records), (r) => r.counts.records],
    ["synthetic kernel's page-table stores (not counted above)", (r) => String(r.counts.kernelAccesses), (r) => r.counts.kernelAccesses],
    ['page images / page-table writes', (r) => `${r.counts.pageImages} / ${r.counts.ptWrites}`, (r) => r.counts.pageImages + r.counts.ptWrites],
    ['register loads / invalidations / flushes', (r) => `${r.counts.registerLoads} / ${r.counts.invalidations} / ${r.counts.flushes}`, (r) => r.counts.registerLoads + r.counts.invalidations + r.counts.flushes],
    ['process switches', (r) => String(r.os ? r.os.switches : r.counts.switches), (r) => (r.os ? r.os.switches : r.counts.switches)],
    ['faulting accesses', (r) => String(r.counts.faults), () => 1],
    ['checks verified', (r) => (r.counts.mismatches ? `${r.counts.checks - r.counts.mismatches} (${r.counts.mismatches} MISMATCHED)` : String(r.counts.checks)), (r) => r.counts.checks],
    ['synthetic OS: pages mapped / large', (r) => (r.os ? `${r.os.pagesMapped} / ${r.os.largePages}` : ''), (r) => (r.os ? 1 : 0)],
    ['synthetic OS: tables / evictions / segfaults', (r) => (r.os ? `${r.os.tablesAllocated} / ${r.os.evictions} / ${r.os.segfaults}` : ''), (r) => (r.os ? 1 : 0)],
  ];
  return rows.filter(([, , keep]) => results.some((r) => keep(r) !== 0)).map(([label, cell]) => [label, ...results.map(cell)]);
}

/**
 * A fact about the synthetic kernel's own stores, when the replays kept any
 * apart (docs/trace-format.md, "The kernel's own stores").
 */
function kernelFact(results: readonly { counts?: { kernelAccesses?: number } }[]): string[] {
  const n = Math.max(0, ...results.map((r) => r.counts?.kernelAccesses ?? 0));
  return n > 0 ? [`the synthetic kernel's ${n} stores to page-table entries are counted apart: the access, TLB and walk counts are the trace's accesses alone (the exits the stores cause are counted)`] : [];
}

function resultText(p: Plan, results: readonly LabeledResult[]): string {
  const out: string[] = [];
  out.push(...p.facts, ...kernelFact(results));
  const profile = results[0]!.report.costProfile;
  for (const g of p.geometries) out.push(`TLB geometry ${g.name}: ${describeGeometry(g)}`);
  out.push(`cost profile ${profile.name} (cycles per event, docs/costs.md)`);
  const imp = results[0]!.import;
  if (imp && imp.skipped > 0) out.push(`skipped ${imp.skipped} malformed line${imp.skipped > 1 ? 's' : ''}; first: ${imp.errors[0]}`);
  const folded = results[0]!.folded;
  if (folded && folded.moved > 0) out.push(`folded ${folded.moved} 256 MiB granule${folded.moved > 1 ? 's' : ''} of the trace into the 32-bit user space (${folded.collisions} collisions)`);
  out.push('');
  const cols: Column[] = results.map((r) => ({ label: r.label, report: r.report, seconds: r.seconds }));
  out.push(formatTable(['', ...cols.map((c) => c.label)], [...comparisonRows(cols), ...traceRows(results)]));
  return out.join('\n');
}

function jsonOf(p: Plan, results: readonly LabeledResult[]): unknown {
  return {
    trace: { file: p.source.path, kind: p.source.kind, facts: p.facts, ...(p.source.kind === 'text' ? { import: p.source.import, os: p.source.os } : {}) },
    runs: results.map((r, i) => ({ label: r.label, geometry: p.jobs[i]!.geometry, seconds: r.seconds, counts: r.counts, os: r.os, import: r.import, folded: r.folded, ...r.report })),
  };
}

function positional(args: string[], v: Values, name: string): string {
  if (args.length !== 1) throw new TraceUsageError(args.length === 0 ? `${name}: which trace file?` : `${name}: one trace file, not ${args.length} (${args.join(' ')})`);
  void v;
  return args[0]!;
}

/** `vmmu replay FILE [options]` */
export async function replayCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, options: REPLAY_OPTIONS, allowPositionals: true, strict: true });
  if (values.output !== undefined || values.results !== undefined) throw new TraceUsageError('replay prints its results; -o and --results belong to compare');
  const file = positional(positionals, values, 'replay');
  const plan = await planOf(file, values);
  const results = await runPlan(plan);
  if (values.json) console.log(JSON.stringify(jsonOf(plan, results), null, 2));
  else console.log(resultText(plan, results));
}

const CYCLE_FIELDS = ['tlb', 'walks', 'software', 'exits', 'shadow', 'flushes', 'total', 'perAccess'] as const;

/**
 * The runs of a `vmmu replay --json` output, checked field by field so that
 * the report never meets a missing counter: an InputError names the run and
 * the field that is missing or not a number.
 */
function resultsOf(file: string, j: unknown): { trace?: { facts?: string[]; file?: string }; runs: (MmuReport & { geometry?: string; counts?: { kernelAccesses?: number } })[] } {
  const not = (what: string): never => { throw new InputError(`${file}: ${what}; expected the output of 'vmmu replay --json'`); };
  const isNum = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v);
  const runs = match(j)
    .with({ runs: P.array(P.any) }, (x) => x.runs as unknown[])
    .otherwise(() => not('no "runs" array at the top level'));
  if (runs.length === 0) not('"runs" is empty: there is nothing to report');
  runs.forEach((r, i) => {
    const at = `runs[${i}]`;
    if (typeof r !== 'object' || r === null) not(`${at} is not an object`);
    const run = r as Record<string, unknown>;
    if (typeof run.mode !== 'string') not(`${at}.mode is missing or not a string`);
    if (run.geometry !== undefined && typeof run.geometry !== 'string') not(`${at}.geometry is not a string`);
    const tlb = run.tlb as Record<string, unknown> | undefined;
    if (typeof tlb !== 'object' || tlb === null || typeof tlb.name !== 'string') not(`${at}.tlb.name is missing or not a string`);
    const counters = run.counters as Record<string, unknown> | undefined;
    if (typeof counters !== 'object' || counters === null) not(`${at}.counters is missing or not an object`);
    for (const [name] of COUNTERS) if (!isNum(counters![name])) not(`${at}.counters["${name}"] is missing or not a number`);
    const cycles = run.cycles as Record<string, unknown> | undefined;
    if (typeof cycles !== 'object' || cycles === null) not(`${at}.cycles is missing or not an object`);
    for (const f of CYCLE_FIELDS) if (!isNum(cycles![f])) not(`${at}.cycles.${f} is missing or not a number`);
    const gauges = run.gauges ?? {};
    if (typeof gauges !== 'object' || gauges === null || Object.values(gauges).some((v) => !isNum(v))) not(`${at}.gauges is not an object of numbers`);
    run.gauges = gauges;
    const profile = run.costProfile as Record<string, unknown> | undefined;
    if (typeof profile !== 'object' || profile === null || typeof profile.name !== 'string') not(`${at}.costProfile.name is missing or not a string`);
  });
  const trace = (j as { trace?: unknown }).trace;
  const t = typeof trace === 'object' && trace !== null ? trace as { facts?: unknown; file?: unknown } : {};
  return {
    ...(typeof t.file === 'string' || Array.isArray(t.facts) ? {
      trace: {
        ...(typeof t.file === 'string' ? { file: t.file } : {}),
        ...(Array.isArray(t.facts) ? { facts: t.facts.map(String) } : {}),
      },
    } : {}),
    runs: runs as (MmuReport & { geometry?: string; counts?: { kernelAccesses?: number } })[],
  };
}

/** The files a replay or compare reads besides the trace, by option. */
function replayInputs(v: Values): NamedInput[] {
  const out: NamedInput[] = [];
  for (const k of ['results', 'tlb', 'cost-profile'] as const) if (typeof v[k] === 'string') out.push({ option: `--${k}`, path: v[k] });
  for (const s of (v.sweep as string[] | undefined) ?? []) if (s.endsWith('.json')) out.push({ option: '--sweep', path: s });
  return out;
}

/** `vmmu compare FILE -o REPORT.html [options]` or `vmmu compare --results RUNS.json -o REPORT.html` */
export async function compareCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, options: REPLAY_OPTIONS, allowPositionals: true, strict: true });
  // The output is checked before any replay runs, and may not be one of the inputs.
  const target = checkOutput(values.output ?? 'vmmu-report.html', 'compare -o', values.force === true, [
    ...positionals.map((path) => ({ option: 'compare FILE', path })),
    ...replayInputs(values),
  ]);
  let runs: ReportRun[];
  let facts: string[];
  let title: string;
  if (values.results !== undefined) {
    if (positionals.length > 0) throw new TraceUsageError('compare: give a trace file or --results, not both');
    const parsed = resultsOf(values.results, readJson(values.results, '--results'));
    runs = parsed.runs.map((r) => ({ mode: r.mode, geometry: r.geometry ?? r.tlb.name, report: r }));
    facts = [...(parsed.trace?.facts ?? [`results from ${values.results}`]), ...kernelFact(parsed.runs)];
    title = `vmmu: ${parsed.trace?.file ?? values.results}`;
  } else {
    const file = positional(positionals, values, 'compare');
    const plan = await planOf(file, values);
    const results = await runPlan(plan);
    runs = results.map((r, i) => ({ mode: r.mode, geometry: plan.jobs[i]!.geometry, report: r.report }));
    facts = [...plan.facts, ...plan.geometries.map((g) => `TLB geometry ${g.name}: ${describeGeometry(g)}`), ...kernelFact(results)];
    title = `vmmu: ${basename(file)} under naive, shadow and SLAT translation`;
  }
  const { reportHtml } = await import('./report-html.js');
  const html = reportHtml(title, [...facts, `made by vmmu compare on ${new Date().toISOString().slice(0, 10)}`], runs);
  await withOutput(target, (out) => out.write(html));
  console.log(`wrote ${target.path} (${runs.length} replays)`);
}

/** `vmmu record ...` */
export async function recordCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      ...OS_OPTIONS, output: { type: 'string', short: 'o' }, demo: { type: 'boolean' }, accesses: { type: 'string' },
      'check-every': { type: 'string' }, level: { type: 'string' }, quiet: { type: 'boolean' }, force: { type: 'boolean' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.output === undefined) throw new TraceUsageError('record: where to? give -o OUT.vmt');
  const checkEvery = int('check-every', values['check-every'], 4096, 0, 0x7fffffff);
  const level = int('level', values.level, 6, 0, 9);
  if (values.demo) {
    if (positionals.length > 0 || values.import !== undefined) throw new TraceUsageError('record --demo takes no trace file');
    const notForDemo = ['page-size', 'reclaim', 'on-error', 'no-ip-fetches'].filter((k) => values[k as keyof typeof values] !== undefined);
    if (notForDemo.length > 0) throw new TraceUsageError(`--${notForDemo[0]} applies to text traces (record --import), not to record --demo`);
    const format = (values.format ?? DEMO_DEFAULTS.format) as OsFormat;
    if (!OS_FORMATS.includes(format)) throw new TraceUsageError(`--format: '${values.format}' is not one of ${OS_FORMATS.join(', ')}`);
    const o = {
      ...DEMO_DEFAULTS, format,
      accesses: int('accesses', values.accesses, DEMO_DEFAULTS.accesses),
      processes: int('processes', values.processes, DEMO_DEFAULTS.processes, 1, MAX_DEMO_PROCESSES),
      quantum: int('quantum', values.quantum, DEMO_DEFAULTS.quantum),
      memory: memoryOption('memory', values.memory, DEMO_DEFAULTS.memory, 4 << 20),
      seed: intOption('seed', values.seed, DEMO_DEFAULTS.seed, SEED_RANGE),
    };
    const target = checkOutput(values.output, 'record -o', values.force === true);
    const [{ Mmu }, { TraceRecorder }, { SyntheticOs }, { demoSteps }] = await Promise.all([
      import('../mmu/mmu.js'), import('../trace/recorder.js'), import('../workload/synthetic-os.js'), import('./demo.js'),
    ]);
    const s = await withOutput(target, async (out) => {
      const mmu = new Mmu({ mode: 'shadow', guestMemory: o.memory, seed: o.seed });
      const rec = new TraceRecorder(mmu, out.sink(), { checkEvery, level, seed: o.seed, notes: { workload: 'vmmu demo', options: o, [KERNEL_APART]: true } });
      rec.start();
      const os = new SyntheticOs(mmu, { format: o.format });
      os.onSwitch = (pid) => rec.processSwitch(pid);
      // In steps, so that a signal is seen (and the temporary file removed) while it runs.
      const step = demoSteps(os, o);
      while (!step(1 << 18)) await new Promise<void>((resolve) => setImmediate(resolve));
      return rec.close();
    });
    console.log(`wrote ${target.path}: ${s.records} records (${s.accesses} accesses, ${s.pageImages} page images, ${s.ptWrites} page-table writes), ${s.bytes} bytes`);
    return;
  }
  if (values.import === undefined) throw new TraceUsageError('record: give --import FORMAT FILE or --demo (a guest kernel is recorded by vmmu boot --record FILE)');
  if (positionals.length !== 1) throw new TraceUsageError('record --import: one text trace file');
  const file = positionals[0]!;
  const target = checkOutput(values.output, 'record -o', values.force === true, [{ option: 'record --import', path: file }]);
  const { size } = await inputOf(file);
  const imp = await importOptionsOf(file, values);
  const os = osOptionsOf(values);
  const bar = values.quiet !== true && progressWanted() ? new ProgressBar(size, 1, `importing ${basename(file)}`) : null;
  let r;
  try {
    const { recordImported } = await import('../trace/replayer.js');
    r = await withOutput(target, (out) => recordImported(file, out.tempPath, imp, os, { checkEvery, level, notes: { command: `vmmu record ${argv.join(' ')}` } }, bar ? (b, n) => bar.update(0, b, n) : undefined));
  } finally {
    bar?.done();
  }
  const s = r.recorder;
  console.log(`wrote ${target.path}: ${r.import.accesses} accesses from ${r.import.lines} ${imp.format === 'champsim' ? 'records' : 'lines'} of ${file}${r.import.skipped ? ` (${r.import.skipped} malformed lines skipped; first: ${r.import.errors[0]})` : ''}`);
  console.log(`  ${s.records} records, ${s.pageImages} page images, ${s.ptWrites} page-table writes, ${r.os.pagesMapped} pages mapped (${r.os.largePages} large), ${s.bytes} bytes`);
}

