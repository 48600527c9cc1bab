/**
 * A replay worker thread for a text trace read from a parse-once stream
 * (see parallel.ts and stream.ts): worker.ts for that case only, loading
 * only the stream replay's modules (the Mmu, the synthetic OS, the chunk
 * views), not the binary reader, the importers or the broker. Posts the
 * same messages as worker.ts.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { replayStream } from './stream-replay.js';
import { StreamReader } from './stream-reader.js';
import type { ReplayJob, ReplaySource, WorkerMessage } from './parallel.js';

const { source, job, stream } = workerData as { source: ReplaySource & { kind: 'text' }; job: ReplayJob; stream: MessagePort };
const post = (m: WorkerMessage): void => parentPort!.postMessage(m);
let last = 0;

replayStream(new StreamReader(stream), source.os, job.options, (bytes, records) => {
  const now = Date.now();
  if (now - last >= 100) {
    last = now;
    post({ type: 'progress', bytes, records });
  }
}).then(
  (r) => post({ type: 'result', result: { label: job.label, ...r } }),
  (e: unknown) => post({ type: 'error', name: e instanceof Error ? e.constructor.name : 'Error', message: e instanceof Error ? e.message : String(e) }),
);
