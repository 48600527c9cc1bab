/**
 * Text-trace replay next to a C reference: `vmmu replay` of a lackey text
 * trace (parsed once in a parse thread, see src/trace/stream.ts) in one
 * mode and in all three, gzipped and not, against bench/tlbsim.c, a plain C
 * simulator of the same modeled TLBs (compiled here with the system's C
 * compiler when there is one). Every figure is a whole process, end to end,
 * taken in the same run; first a check that the C reference and vmmu's
 * shadow and slat replays count the same hits and misses on a small trace.
 * With `full` false only the C reference, shadow and --mode all of the
 * plain text (for a second, larger trace: the start-up's share falls).
 */
import { spawnSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import { Bench } from 'tinybench';
import { OS_DEFAULTS } from '../src/trace/replayer.js';
import { runJobInWorker } from '../src/trace/parallel.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = join(root, 'dist/src/cli/main.js');

export interface TextBenchRow {
  what: string;
  records: number;
  /** mean wall seconds of a whole run */
  seconds: number;
  perSecond: number;
}

export interface TextBench {
  /** the C compiler used, or null when none was found */
  compiler: string | null;
  /** the small trace's counts: the C reference's, vmmu's shadow and slat replays' */
  check: { trace: string; c: Record<string, number> | null; shadow: Record<string, number>; slat: Record<string, number> } | null;
  rows: TextBenchRow[];
  copies: number;
}

/** The first C compiler found (cc, gcc, clang), or null. */
function findCompiler(): string | null {
  for (const cc of ['cc', 'gcc', 'clang']) {
    const r = spawnSync(cc, ['--version'], { encoding: 'utf8' });
    if (r.status === 0) return cc;
  }
  return null;
}

/** Mean wall seconds of `run` (3 runs after a warm-up); returns the last run's record count too. */
async function timed(what: string, run: () => number, iterations = 3): Promise<TextBenchRow> {
  let records = 0;
  const bench = new Bench({ iterations, time: 0, warmupIterations: 1, warmupTime: 0 });
  bench.add(what, () => { records = run(); });
  await bench.run();
  const mean = (bench.tasks[0]!.result as { latency?: { mean: number } } | undefined)?.latency?.mean;
  if (mean === undefined) throw new Error(`benchmark '${what}' produced no result`);
  return { what, records, seconds: mean / 1000, perSecond: records / (mean / 1000) };
}

interface ReplayJson { runs: { label: string; counts: { accesses: number }; counters: Record<string, number> }[] }

function vmmuReplay(file: string, ...args: string[]): ReplayJson {
  const r = spawnSync(process.execPath, [cli, 'replay', file, '--json', '--quiet', ...args], { encoding: 'utf8', maxBuffer: 64 << 20, env: { ...process.env, CI: '1' } });
  if (r.status !== 0) throw new Error(`vmmu replay ${file} ${args.join(' ')} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as ReplayJson;
}

function cReference(bin: string, file: string): Record<string, number> {
  const r = spawnSync(bin, [file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${bin} ${file} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, number>;
}

/** The C reference's counts under vmmu's counter names. */
function asCounters(c: Record<string, number>): Record<string, number> {
  return { 'tlb.l1d.hit': c.l1dHit!, 'tlb.l1d.miss': c.l1dMiss!, 'tlb.l1i.hit': c.l1iHit!, 'tlb.l1i.miss': c.l1iMiss!, 'tlb.l2.hit': c.l2Hit!, 'tlb.l2.miss': c.l2Miss! };
}

function pick(c: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of ['tlb.l1d.hit', 'tlb.l1d.miss', 'tlb.l1i.hit', 'tlb.l1i.miss', 'tlb.l2.hit', 'tlb.l2.miss']) out[k] = c[k]!;
  return out;
}

/**
 * `copies` copies of traces/ls.lackey.gz (0.78 M accesses each) make the
 * large trace: one process runs `ls /` that many times over in one address
 * space, so after the first copy its pages are mapped and the TLBs warm.
 */
export async function benchText(copies = 12, full = true): Promise<TextBench> {
  const dir = mkdtempSync(join(tmpdir(), 'vmmu-bench-text-'));
  try {
    const small = join(dir, 'ls.lackey');
    const one = gunzipSync(readFileSync(join(root, 'traces/ls.lackey.gz')));
    const big = join(dir, `ls-x${copies}.lackey`);
    await new Promise<void>((resolve, reject) => {
      const out = createWriteStream(big);
      out.on('error', reject);
      for (let i = 0; i < copies; i++) out.write(one);
      out.end(resolve);
    });
    const bigGz = `${big}.gz`;
    if (full) {
      await new Promise<void>((resolve, reject) => {
        const out = createWriteStream(bigGz);
        out.on('error', reject);
        out.end(gzipSync(Buffer.concat(Array.from({ length: copies }, () => one)), { level: 6 }), resolve);
      });
    }
    await new Promise<void>((resolve, reject) => {
      const out = createWriteStream(small);
      out.on('error', reject);
      out.end(one, resolve);
    });

    const compiler = findCompiler();
    let bin: string | null = null;
    if (compiler !== null) {
      bin = join(dir, 'tlbsim');
      const r = spawnSync(compiler, ['-O2', '-o', bin, join(root, 'bench/tlbsim.c')], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`${compiler} could not build bench/tlbsim.c: ${r.stderr}`);
    }

    const modes = full ? vmmuReplay(small, '--mode', 'shadow,slat') : null;
    const check = modes === null ? null : {
      trace: 'traces/ls.lackey.gz',
      c: bin !== null ? asCounters(cReference(bin, small)) : null,
      shadow: pick(modes.runs[0]!.counters),
      slat: pick(modes.runs[1]!.counters),
    };

    const rows: TextBenchRow[] = [];
    const accessesOf = (j: ReplayJson): number => j.runs[0]!.counts.accesses;
    if (bin !== null) { const b = bin; rows.push(await timed('C reference (bench/tlbsim.c), text', () => cReference(b, big).accesses!)); }
    rows.push(await timed('vmmu replay --mode shadow, text', () => accessesOf(vmmuReplay(big, '--mode', 'shadow'))));
    if (full) rows.push(await timed('vmmu replay --mode slat, text', () => accessesOf(vmmuReplay(big, '--mode', 'slat'))));
    rows.push(await timed('vmmu replay --mode all, text', () => accessesOf(vmmuReplay(big, '--mode', 'all'))));
    if (!full) return { compiler, check, rows, copies };
    rows.push(await timed('vmmu replay --mode shadow, gzipped', () => accessesOf(vmmuReplay(bigGz, '--mode', 'shadow'))));
    rows.push(await timed('vmmu replay --mode all, gzipped', () => accessesOf(vmmuReplay(bigGz, '--mode', 'all'))));
    // Without the parse thread: the replaying thread (a worker) reads and parses the text itself, as every mode did before parse-once.
    const direct = { kind: 'text' as const, path: big, import: { format: 'lackey' as const }, os: OS_DEFAULTS };
    let n = 0;
    const b = new Bench({ iterations: 1, time: 0, warmupIterations: 0, warmupTime: 0 });
    b.add('direct', async () => { n = (await runJobInWorker(direct, { label: 'shadow', options: { mode: 'shadow' } })).counts.accesses; });
    await b.run();
    const mean = (b.tasks[0]!.result as { latency: { mean: number } }).latency.mean / 1000;
    rows.push({ what: 'shadow, parsed in the replaying thread', records: n, seconds: mean, perSecond: n / mean });
    return { compiler, check, rows, copies };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
