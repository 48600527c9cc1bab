/**
 * A replay worker thread (see parallel.ts): runs one job and posts progress
 * (at most ten times a second) and the result, or the error's class and
 * message.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { runJob, type ReplayJob, type ReplaySource, type WorkerMessage } from './parallel.js';

const { source, job, stream } = workerData as { source: ReplaySource; job: ReplayJob; stream?: MessagePort };
const post = (m: WorkerMessage): void => parentPort!.postMessage(m);
let last = 0;

runJob(source, job, (bytes, records) => {
  const now = Date.now();
  if (now - last >= 100) {
    last = now;
    post({ type: 'progress', bytes, records });
  }
}, stream).then(
  (result) => post({ type: 'result', result }),
  (e: unknown) => post({ type: 'error', name: e instanceof Error ? e.constructor.name : 'Error', message: e instanceof Error ? e.message : String(e) }),
);
