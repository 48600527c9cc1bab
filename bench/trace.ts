/**
 * Trace throughput: replay records per second for each mode (cost model on)
 * on a TLB-friendly stride trace and on the sample traces, and the slowdown
 * of recording at the MMU boundary.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Bench } from 'tinybench';
import { Mmu } from '../src/mmu/mmu.js';
import { Machine } from '../src/machine/machine.js';
import { MODE_NAMES, type ModeName } from '../src/mmu/modes/mode.js';
import { SyntheticOs } from '../src/workload/synthetic-os.js';
import { DEMO_DEFAULTS, demoWorkload } from '../src/cli/demo.js';
import { writeStrideTrace } from '../src/trace/handmade.js';
import { fileSink } from '../src/trace/writer.js';
import { TraceRecorder } from '../src/trace/recorder.js';
import { OS_DEFAULTS, type ReplayResult } from '../src/trace/replayer.js';
import { runJobInWorker, type ReplaySource } from '../src/trace/parallel.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface ReplayBenchRow {
  trace: string;
  mode: ModeName;
  records: number;
  /** records / end-to-end seconds (worker and reader thread start-up, Mmu creation and all) */
  perSecond: number;
  /** records / seconds inside the replay loop (best run) */
  loopPerSecond: number;
}

async function measure(trace: string, records: () => Promise<ReplayResult>, mode: ModeName): Promise<ReplayBenchRow> {
  let last: ReplayResult | null = null;
  let bestLoop = Infinity;
  const bench = new Bench({ iterations: 3, time: 0, warmupIterations: 1, warmupTime: 0 });
  bench.add(`${trace} ${mode}`, async () => {
    last = await records();
    bestLoop = Math.min(bestLoop, last.seconds);
  });
  await bench.run();
  const t = bench.tasks[0]!;
  const mean = (t.result as { latency?: { mean: number } } | undefined)?.latency?.mean;
  if (mean === undefined || last === null) throw new Error(`benchmark ${trace} ${mode} produced no result`);
  const n = (last as ReplayResult).counts.records;
  return { trace, mode, records: n, perSecond: n / (mean / 1000), loopPerSecond: n / bestLoop };
}

/** Replay throughput per mode on a generated TLB-friendly trace and the samples. */
export async function benchReplay(strideAccesses = 20_000_000): Promise<ReplayBenchRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'vmmu-bench-'));
  const rows: ReplayBenchRow[] = [];
  try {
    const stride = join(dir, 'stride.vmt');
    writeStrideTrace(fileSink(stride), { pages: 32, stride: 1, accesses: strideAccesses, writes: true });
    // Each replay runs in a fresh worker thread, as `vmmu replay` runs each
    // mode: one mode's code never makes another's call sites polymorphic.
    const inWorker = (source: ReplaySource, mode: ModeName, readerThread = false) => () => runJobInWorker(source, { label: mode, options: { mode, readerThread } });
    for (const mode of MODE_NAMES) rows.push(await measure('stride-32 (TLB-friendly)', inWorker({ kind: 'binary', path: stride }, mode), mode));
    for (const mode of MODE_NAMES) rows.push(await measure('stride-32, reader thread', inWorker({ kind: 'binary', path: stride }, mode, true), mode));
    for (const name of ['ls.vmt', 'multitask.vmt', 'demo.vmt']) {
      const path = join(root, 'traces', name);
      for (const mode of MODE_NAMES) rows.push(await measure(`traces/${name}`, inWorker({ kind: 'binary', path }, mode), mode));
    }
    const text: ReplaySource = { kind: 'text', path: join(root, 'traces', 'ls.lackey.gz'), import: { format: 'lackey' }, os: OS_DEFAULTS };
    for (const mode of MODE_NAMES) rows.push(await measure('traces/ls.lackey.gz (text)', inWorker(text, mode), mode));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

export interface RecordBenchRow {
  workload: string;
  accesses: number;
  plainPerSecond: number;
  recordedPerSecond: number;
}

/** Guest accesses per second with and without the recorder attached (shadow mode, cost model off). */
export async function benchRecord(): Promise<RecordBenchRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'vmmu-bench-rec-'));
  const rows: RecordBenchRow[] = [];
  try {
    const o = { ...DEMO_DEFAULTS, accesses: 1_000_000 };
    let guestBoot: ((record: boolean) => number) | null = null;
    const hitLoop = 1 << 22;
    const workloads: [string, number, number, (mmu: Mmu) => void][] = [
      ['demo workload (synthetic OS, 4 processes)', o.accesses, o.memory, (mmu) => demoWorkload(new SyntheticOs(mmu, { format: o.format }), o)],
      ['read32 hit stream (64 pages)', hitLoop, 16 << 20, (mmu) => {
        const os = new SyntheticOs(mmu, { format: '4-level' });
        os.createProcess();
        os.switchTo(0);
        for (let p = 0; p < 64; p++) os.access(0x10000000 + p * 4096, 0, 0);
        mmu.setPrivilege(3, false);
        let s = 0;
        for (let i = 0; i < hitLoop; i++) s = (s + mmu.read32(0x10000000 + ((i * 7) & 63) * 4096 + ((i * 52) & 0xffc), 0)) | 0;
        if (s === 42) console.log('');
      }],
    ];
    const guest = join(root, 'test/guests/multitask/multitask.elf');
    if (existsSync(guest)) {
      const image = readFileSync(guest);
      // Accesses per run: the recorder counts them (the plain run takes the same path through the guest).
      const boot = (record: boolean): number => {
        const m = new Machine({ mode: 'shadow', memory: 64 << 20, serialOut: () => {} });
        const rec = record ? new TraceRecorder(m.mmu, join(dir, 'guest.vmt')) : null;
        rec?.start();
        m.loadMultiboot(image, guest, '');
        m.run({ maxInstructions: 2_000_000_000 });
        return rec ? rec.close().accesses : 0;
      };
      const accesses = boot(true);
      workloads.push(['x86 guest: test/guests multitask (vmmu boot)', accesses, 64 << 20, () => {}]);
      guestBoot = boot;
    }
    for (const [name, accesses, memory, work] of workloads) {
      if (name.startsWith('x86 guest') && guestBoot !== null) {
        const b = guestBoot;
        const bench = new Bench({ iterations: 3, time: 0, warmupIterations: 1, warmupTime: 0 });
        bench.add('plain', () => { b(false); }).add('recorded', () => { b(true); });
        await bench.run();
        const per = (task: string): number => accesses / ((bench.tasks.find((t) => t.name === task)!.result as { latency: { mean: number } }).latency.mean / 1000);
        rows.push({ workload: name, accesses, plainPerSecond: per('plain'), recordedPerSecond: per('recorded') });
        continue;
      }
      const bench = new Bench({ iterations: 3, time: 0, warmupIterations: 1, warmupTime: 0 });
      bench
        .add('plain', () => { work(new Mmu({ mode: 'shadow', guestMemory: memory })); })
        .add('recorded', () => {
          const mmu = new Mmu({ mode: 'shadow', guestMemory: memory });
          const rec = new TraceRecorder(mmu, join(dir, 'rec.vmt'));
          rec.start();
          work(mmu);
          rec.close();
        });
      await bench.run();
      const per = (task: string): number => accesses / ((bench.tasks.find((t) => t.name === task)!.result as { latency: { mean: number } }).latency.mean / 1000);
      rows.push({ workload: name, accesses, plainPerSecond: per('plain'), recordedPerSecond: per('recorded') });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
