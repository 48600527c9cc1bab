/**
 * The MMU soak: the adversarial generator of test/mmu/adversary.ts on many
 * seeds and every guest format, each program run through naive, slat and
 * shadow under seven policies, until a target count of operations (default
 * 10^8, VMMU_SOAK_OPS) or a time budget is reached, on one worker thread per
 * core. The first divergence stops it with the seed, the operation and the
 * operations before it.
 */
import { availableParallelism } from 'node:os';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { Adversary, ADV_FORMATS, describeDivergence } from '../test/mmu/adversary.js';
import type { SoakOptions, SoakPart } from './parts.js';

/** operations per program: long enough for tables to churn, short enough to vary often */
const OPS_PER_PROGRAM = 200_000;
const SLICE = 10_000;

interface Job { worker: number; workers: number; firstSeed: number; target: number; deadline: number }
type Msg = { kind: 'progress'; format: string; ops: number } | { kind: 'divergence'; text: string } | { kind: 'done' };

/** One worker: seeds firstSeed + worker, + workers, ...; every format per seed. */
function work(job: Job, post: (m: Msg) => void): void {
  let ops = 0;
  const perProgram = job.deadline === Infinity ? OPS_PER_PROGRAM : 20_000;
  for (let seed = job.firstSeed + job.worker; ops < job.target && Date.now() < job.deadline; seed += job.workers) {
    for (const format of ADV_FORMATS) {
      if (ops >= job.target || Date.now() >= job.deadline) break;
      const a = new Adversary({ format, seed });
      const n = Math.min(perProgram, job.target - ops);
      for (let done = 0; done < n && Date.now() < job.deadline; done += SLICE) {
        const before = a.ops;
        const d = a.run(Math.min(SLICE, n - done));
        if (d) {
          post({ kind: 'divergence', text: describeDivergence(format, seed, d) });
          return;
        }
        ops += a.ops - before;
        post({ kind: 'progress', format, ops: a.ops - before });
      }
    }
  }
  post({ kind: 'done' });
}

if (!isMainThread && (workerData as { soak?: string } | null)?.soak === 'mmu') {
  work((workerData as { job: Job }).job, (m) => parentPort!.postMessage(m));
}

export const mmuAdversary: SoakPart = {
  name: 'mmu',
  what: 'unruly page-table programs, naive vs slat vs shadow under every policy, all formats',
  async run(o: SoakOptions): Promise<string> {
    const target = Number(process.env.VMMU_SOAK_OPS ?? 1e8);
    if (!Number.isFinite(target) || target < 1) throw new Error(`VMMU_SOAK_OPS '${process.env.VMMU_SOAK_OPS}' is not a positive number`);
    const deadline = o.seconds === null ? Infinity : Date.now() + o.seconds * 1000;
    const workers = Math.max(1, availableParallelism());
    const perFormat = new Map<string, number>();
    let ops = 0;
    let lastLog = Date.now();
    const t0 = Date.now();
    const file = fileURLToPath(import.meta.url);
    const all: Worker[] = [];
    const results = await Promise.all(Array.from({ length: workers }, (_, w) => new Promise<string | null>((resolve, reject) => {
      const job: Job = { worker: w, workers, firstSeed: o.seed, target: Math.ceil(target / workers), deadline };
      const worker = new Worker(file, { workerData: { soak: 'mmu', job } });
      all.push(worker);
      worker.on('exit', () => resolve(null));
      worker.on('message', (m: Msg) => {
        if (m.kind === 'progress') {
          ops += m.ops;
          perFormat.set(m.format, (perFormat.get(m.format) ?? 0) + m.ops);
          if (Date.now() - lastLog > 60_000) {
            lastLog = Date.now();
            const s = (Date.now() - t0) / 1000;
            o.log(`${ops.toLocaleString('en-US')} operations in ${Math.round(s)} s, ${Math.round(ops / s).toLocaleString('en-US')} per second`);
          }
        } else if (m.kind === 'divergence') {
          resolve(m.text);
          // One divergence is enough: stop every worker.
          for (const x of all) void x.terminate();
        } else {
          resolve(null);
        }
      });
      worker.on('error', reject);
    })));
    const bad = results.find((r) => r !== null);
    if (bad) throw new Error(bad);
    const s = (Date.now() - t0) / 1000;
    const formats = [...perFormat].map(([f, n]) => `${f} ${n.toLocaleString('en-US')}`).join(', ');
    return `${ops.toLocaleString('en-US')} operations (${formats}) on ${workers} threads, ${Math.round(ops / s).toLocaleString('en-US')} per second, 9 participants each, no divergence`;
  },
};
