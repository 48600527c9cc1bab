/**
 * The parse thread of a text trace (see stream.ts): reads the file
 * (inflating a gzipped one), parses it into record chunks and posts each,
 * in a SharedArrayBuffer, to the broker, at most as many chunks ahead as
 * the broker has granted. Ends with the import's statistics, or the error
 * (an ImportError naming the file and line) after the chunks before it.
 */
import { parentPort } from 'node:worker_threads';
import { newImportStats, readTextRecords, type ImportOptions } from './importers.js';
import { packChunk } from './packed.js';
import type { ParseStart, StreamMessage } from './stream.js';

// The thread may start before its trace is known (stream.ts, prestartParser):
// the first message names it, the rest grant credit.
const port = parentPort!;
let credit = 0;
let wake: (() => void) | null = null;
let started = false;
port.on('message', (m: { credit: number } | ParseStart) => {
  if (!started) {
    started = true;
    const s = m as ParseStart;
    run(s.path, s.import).catch((e: unknown) => {
      port.postMessage({ type: 'error', name: e instanceof Error ? e.constructor.name : 'Error', message: e instanceof Error ? e.message : String(e) } satisfies StreamMessage);
    });
    return;
  }
  credit += (m as { credit: number }).credit;
  const w = wake;
  wake = null;
  if (w !== null) w();
});

async function run(path: string, imp: ImportOptions): Promise<void> {
  const stats = newImportStats();
  let index = 0;
  for await (const rc of readTextRecords(path, imp, stats, true)) { // packChunk copies each chunk: the parser reuses its arrays
    while (credit <= 0) await new Promise<void>((r) => { wake = r; });
    credit--;
    port.postMessage({ type: 'chunk', chunk: packChunk(rc, index++, stats.bytes) } satisfies StreamMessage);
  }
  port.postMessage({ type: 'end', chunks: index, stats } satisfies StreamMessage);
}

