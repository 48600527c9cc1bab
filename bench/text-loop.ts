/**
 * The two halves of a text-trace replay, each alone in this thread, for
 * comparing builds side by side (docs/bench.md, "Text traces"): the lackey
 * parse (LineParser fed 1 MiB pieces, ns a line) and the replay loop
 * (driveStream over chunks parsed before the clock starts, a fresh Mmu and
 * synthetic OS each run, CPU ns an access). Prints the best of `--reps`
 * runs and a hash of each mode's report, which must not change when only
 * speed does. With --no-model the cost model is off (Mmu `measure`
 * false): the loop then does only the functional replay (the record, the
 * software TLB, the synthetic OS), and the difference is what the cost
 * model adds per access. With --no-repeats the Mmu models every access,
 * also those that repeat a page (Mmu.countRepeats off): the report hash
 * must be the same as without it.
 *
 *   node dist/bench/text-loop.js FILE.lackey [MODE ...] [--reps N] [--no-model] [--no-repeats]
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Mmu, type ModeName } from '../src/mmu/index.js';
import { LineParser, newImportStats, type RecordChunk } from '../src/trace/importers.js';
import { packChunk, type StreamChunk } from '../src/trace/packed.js';
import { driveStream, OS_DEFAULTS } from '../src/trace/replayer.js';
import type { StreamReader } from '../src/trace/stream.js';
import { SyntheticOs } from '../src/workload/synthetic-os.js';

const PIECE = 1 << 20;

function parse(data: Buffer, path: string, keep: StreamChunk[] | null): { lines: number; records: number } {
  const stats = newImportStats();
  const p = new LineParser(path, { format: 'lackey' }, stats);
  let records = 0;
  const take = (cs: RecordChunk[]): void => {
    for (const c of cs) {
      records += c.n;
      if (keep !== null) keep.push(packChunk(c, keep.length, 0));
    }
  };
  for (let at = 0; at < data.length; at += PIECE) take(p.feed(data.subarray(at, Math.min(data.length, at + PIECE)), false));
  take(p.feed(Buffer.alloc(0), true));
  return { lines: stats.lines, records };
}

function cpuMs(since: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1000;
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const r = args.indexOf('--reps');
  const reps = r >= 0 ? Number(args.splice(r, 2)[1]) : 3;
  const nm = args.indexOf('--no-model');
  const model = nm < 0;
  if (!model) args.splice(nm, 1);
  const nr = args.indexOf('--no-repeats');
  const repeats = nr < 0;
  if (!repeats) args.splice(nr, 1);
  const [path, ...modeArgs] = args;
  if (!path || !Number.isInteger(reps) || reps < 1) {
    console.error('usage: node dist/bench/text-loop.js FILE.lackey [MODE ...] [--reps N] [--no-model] [--no-repeats]');
    return 2;
  }
  const modes = (modeArgs.length > 0 ? modeArgs : ['naive', 'shadow', 'slat']) as ModeName[];
  const data = readFileSync(path);

  let best = Infinity;
  let lines = 0;
  for (let k = 0; k < reps; k++) {
    const c0 = process.cpuUsage();
    lines = parse(data, path, null).lines;
    best = Math.min(best, cpuMs(c0));
  }
  console.log(`parse: ${lines} lines, best of ${reps}: ${best.toFixed(0)} ms CPU, ${((best * 1e6) / lines).toFixed(1)} ns a line`);

  const chunks: StreamChunk[] = [];
  parse(data, path, chunks);
  const reader = { chunk: (i: number) => Promise.resolve(chunks[i] ?? null), release: () => {}, close: () => {}, stats: null } as unknown as StreamReader;
  for (const mode of modes) {
    let bestRun = Infinity;
    let hash = '';
    let accesses = 0;
    for (let k = 0; k < reps; k++) {
      const mmu = new Mmu({ mode, measure: model, guestMemory: OS_DEFAULTS.memory, seed: OS_DEFAULTS.seed });
      mmu.countRepeats = repeats;
      const os = new SyntheticOs(mmu, { format: OS_DEFAULTS.format, pageSize: OS_DEFAULTS.pageSize, reclaim: OS_DEFAULTS.reclaim });
      const c0 = process.cpuUsage();
      const res = await driveStream(os, reader, OS_DEFAULTS);
      bestRun = Math.min(bestRun, cpuMs(c0));
      accesses = res.accesses;
      const rep = mmu.report();
      hash = createHash('sha1').update(JSON.stringify({ c: rep.counters, g: rep.gauges, cy: rep.cycles, os: os.stats, a: res.accesses })).digest('hex').slice(0, 12);
    }
    console.log(`${mode}${model ? '' : ' (cost model off)'}${repeats ? '' : ' (every repeat modeled)'}: ${accesses} accesses, best of ${reps}: ${bestRun.toFixed(0)} ms CPU, ${((bestRun * 1e6) / accesses).toFixed(1)} ns an access; report hash ${hash}`);
  }
  return 0;
}

main().then((code) => { process.exitCode = code; }, (e: unknown) => { console.error(e); process.exitCode = 1; });
