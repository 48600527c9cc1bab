/**
 * A reader thread: reads, inflates and decodes the chunks of one trace and
 * hands them to the replaying thread (the typed arrays are transferred, not
 * copied), so that the replay loop does nothing but replay. It runs at most
 * `credit` chunks ahead of the replayer, which grants one more per chunk it
 * takes: memory stays constant however long the trace.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { TraceReader } from './reader.js';

export type ReadWorkerMessage =
  | { type: 'chunk'; index: number; offset: number; firstRecord: number; nOps: number; ops: Uint16Array; addr: Int32Array; args: Int32Array; blob: Uint8Array; bytesRead: number }
  | { type: 'end'; bytesRead: number; chunks: number; records: number; accesses: number }
  | { type: 'error'; name: string; message: string };

const { path } = workerData as { path: string };
const port = parentPort!;
let credit = 0;
let wake: (() => void) | null = null;
port.on('message', (m: { credit: number }) => {
  credit += m.credit;
  if (wake !== null) {
    const w = wake;
    wake = null;
    w();
  }
});

async function run(): Promise<void> {
  const reader = await TraceReader.open(path);
  try {
    for await (const ch of reader.chunks()) {
      while (credit <= 0) await new Promise<void>((r) => { wake = r; });
      credit--;
      // The blob is a view into the inflated body; copy it out so only what is needed crosses.
      const blob = ch.blob.slice();
      port.postMessage({ type: 'chunk', index: ch.index, offset: ch.offset, firstRecord: ch.firstRecord, nOps: ch.nOps, ops: ch.ops, addr: ch.addr, args: ch.args, blob, bytesRead: reader.bytesRead } satisfies ReadWorkerMessage,
        [ch.ops.buffer, ch.addr.buffer, ch.args.buffer, blob.buffer] as ArrayBuffer[]);
    }
    const t = reader.totals!;
    port.postMessage({ type: 'end', bytesRead: reader.bytesRead, ...t } satisfies ReadWorkerMessage);
  } finally {
    await reader.close();
  }
}

run().catch((e: unknown) => {
  port.postMessage({ type: 'error', name: e instanceof Error ? e.constructor.name : 'Error', message: e instanceof Error ? e.message : String(e) } satisfies ReadWorkerMessage);
});
