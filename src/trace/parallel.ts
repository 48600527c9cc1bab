/**
 * Runs several replays of one trace (different modes, different TLB
 * geometries) in parallel worker threads, or one after another. Each replay
 * is deterministic and shares nothing with the others but the parsed trace,
 * so the results are the same either way (only the wall-clock seconds
 * differ).
 *
 * A text trace is parsed once (stream.ts): one parse thread feeds every
 * replay the same chunks of access records, whether the replays run in
 * worker threads or one after another in this thread.
 */
import { availableParallelism } from 'node:os';
import { isMainThread, Worker, type MessagePort } from 'node:worker_threads';
import { createLog } from '../mmu/log.js';
import type { ImportOptions } from './importers.js';
import { workerScript } from './threads.js';
import type { MmuReplayOptions, Progress, ReplayResult } from './replayer.js';
import type { OsReplayOptions } from './os-options.js';
import { RETAIN_BYTES, StreamReader, TextStream, windowChunks } from './stream.js';

const log = createLog('vmmu:trace');

/** The trace to replay: a binary trace, or a text trace on the synthetic OS. */
export type ReplaySource =
  | { kind: 'binary'; path: string }
  | { kind: 'text'; path: string; import: ImportOptions; os: OsReplayOptions };

/** One replay: a mode and a geometry, with a label for reports. */
export interface ReplayJob {
  label: string;
  options: MmuReplayOptions;
}

export interface LabeledResult extends ReplayResult {
  label: string;
}

/**
 * Runs one job in this thread. With `stream` (a port from TextStream.attach),
 * a text trace's accesses come parsed from the stream instead of from the
 * file.
 */
export async function runJob(source: ReplaySource, job: ReplayJob, progress?: Progress, stream?: MessagePort): Promise<LabeledResult> {
  // Loaded here, not with this module: a text trace's parse thread (made
  // before the first job runs) starts while the Mmu's code loads, and a
  // replay from a stream loads only the stream replay's modules.
  if (source.kind === 'text' && stream !== undefined) {
    const { replayStream } = await import('./stream-replay.js');
    return { label: job.label, ...await replayStream(new StreamReader(stream, isMainThread), source.os, job.options, progress) };
  }
  const { replayBinary, replayImported } = await import('./replayer.js');
  const r = source.kind === 'binary'
    ? await replayBinary(source.path, job.options, progress)
    : await replayImported(source.path, source.import, source.os, job.options, progress);
  return { label: job.label, ...r };
}

/** Longest quantum a parse-once stream serves several processes with (their lag is held in memory: about 6 bytes an access). */
export const MAX_STREAM_QUANTUM = 1 << 24;

/** Whether a replay source is a text trace that is parsed once for all its replays. */
export function parsedOnce(source: ReplaySource): boolean {
  return source.kind === 'text' && (source.os.processes === 1 || source.os.quantum <= MAX_STREAM_QUANTUM);
}

export interface RunOptions {
  /** parse-once streams: bytes of parsed chunks kept for replays that start later (default RETAIN_BYTES) */
  retainBytes?: number;
  /**
   * parse-once streams: parse threads, each parsing a part of the file cut
   * at line ends (default 1; more only for a plain lackey or cache-lab
   * file, see stream.ts)
   */
  parseThreads?: number;
  /** called with each parse-once stream made (tests look at how many) */
  onStream?: (s: TextStream) => void;
}


/** Progress of all jobs together: bytes per job summed, records per job summed. */
export type MultiProgress = (job: number, bytes: number, records: number) => void;

/**
 * Runs every job, at most `parallel` at a time in worker threads (1: all in
 * this thread, one after another). Results come back in job order. The
 * first failure rejects (with the worker's error message).
 */
export async function runJobs(source: ReplaySource, jobs: readonly ReplayJob[], parallel: number, progress?: MultiProgress, ro: RunOptions = {}): Promise<LabeledResult[]> {
  const results: LabeledResult[] = new Array<LabeledResult>(jobs.length);
  // A text trace: one parse for every job, unless the parsed chunks outgrow
  // what is kept and a job starts after the start was dropped (it then gets
  // a parse of its own).
  const streams: TextStream[] = [];
  let attached = 0;
  const attach = (): MessagePort | undefined => {
    if (source.kind !== 'text' || !parsedOnce(source)) return undefined;
    let s = streams[streams.length - 1];
    if (s === undefined || !s.joinable) {
      s = new TextStream(source.path, source.import, ro.retainBytes ?? RETAIN_BYTES, ro.parseThreads ?? 1);
      streams.push(s);
      ro.onStream?.(s);
    }
    const port = s.attach(windowChunks(source.os.processes, source.os.quantum));
    // The last job is attached: no chunk need be kept for a later one.
    if (++attached === jobs.length) s.seal();
    return port;
  };
  try {
    if (parallel <= 1 || jobs.length <= 1) {
      for (let j = 0; j < jobs.length; j++) {
        results[j] = await runJob(source, jobs[j]!, progress ? (b, r) => progress(j, b, r) : undefined, attach());
      }
      return results;
    }
    await runLanes(source, jobs, parallel, results, attach, progress);
    return results;
  } finally {
    for (const s of streams) await s.close();
  }
}

async function runLanes(source: ReplaySource, jobs: readonly ReplayJob[], parallel: number, results: LabeledResult[], attach: () => MessagePort | undefined, progress?: MultiProgress): Promise<void> {
  let next = 0;
  const runOne = async (j: number): Promise<void> => {
    results[j] = await runJobInWorker(source, jobs[j]!, progress ? (b, r) => progress(j, b, r) : undefined, attach());
  };
  const lanes: Promise<void>[] = [];
  const lane = async (): Promise<void> => {
    while (next < jobs.length) {
      const j = next++;
      log('worker starts job %d: %s', j, jobs[j]!.label);
      await runOne(j);
    }
  };
  for (let k = 0; k < Math.min(parallel, jobs.length); k++) lanes.push(lane());
  await Promise.all(lanes);
}

/**
 * Runs one job in a fresh worker thread (its own JavaScript engine state,
 * as `vmmu replay` runs each mode). Rejects with the worker's error message;
 * the error carries the original class name in `workerErrorClass`.
 */
export function runJobInWorker(source: ReplaySource, job: ReplayJob, progress?: Progress, stream?: MessagePort): Promise<LabeledResult> {
  return new Promise((resolveJob, reject) => {
    const w = new Worker(workerScript(import.meta.url, source.kind === 'text' && stream !== undefined ? 'stream-worker.js' : 'worker.js'), stream !== undefined
      ? { workerData: { source, job, stream }, transferList: [stream] }
      : { workerData: { source, job } });
    let settled = false;
    w.on('message', (m: WorkerMessage) => {
      if (m.type === 'progress') {
        if (progress) progress(m.bytes, m.records);
      } else if (m.type === 'result') {
        settled = true;
        resolveJob(m.result);
      } else {
        settled = true;
        const e = new Error(m.message);
        e.name = m.name;
        reject(Object.assign(e, { workerErrorClass: m.name }));
      }
    });
    w.on('error', (e) => { if (!settled) { settled = true; reject(e); } });
    w.on('exit', (code) => {
      if (!settled) { settled = true; reject(new Error(`replay worker for '${job.label}' exited with code ${code}`)); }
    });
  });
}

/** A sensible number of worker threads: the machine's cores, at most the jobs. */
export function defaultParallelism(jobs: number): number {
  return Math.max(1, Math.min(jobs, availableParallelism()));
}

export type WorkerMessage =
  | { type: 'progress'; bytes: number; records: number }
  | { type: 'result'; result: LabeledResult }
  | { type: 'error'; name: string; message: string };
