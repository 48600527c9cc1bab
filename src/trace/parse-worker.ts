/**
 * The parse thread of a text trace (see stream.ts): reads the file
 * (inflating a gzipped one), parses it into record chunks and posts each,
 * in a SharedArrayBuffer, to the broker, at most as many chunks ahead as
 * the broker has granted. Ends with the import's statistics, or the error
 * (an ImportError naming the file and line) after the chunks before it.
 *
 * One of several parse threads of a split parse (ParseStart.part), it
 * parses one part of a plain file, cut at line ends (input.ts, lineCuts);
 * its chunks are numbered from 0 and its line numbers count from the
 * part's first line: the broker puts the parts in order and the line
 * numbers right.
 */
import { parentPort } from 'node:worker_threads';
import { newImportStats, readTextRecords, RECORD_CHUNK, type ImportOptions, type RecordChunk } from './importers.js';
import { compressionOf, lineCuts, type ByteRange } from './input.js';
import { packChunk, sharedRecordChunk } from './packed.js';
import type { ParseStart, ParserMessage, StreamMessage } from './stream.js';

// The thread may start before its trace is known (stream.ts, prestartParser):
// the first message names it, the rest grant credit or give back buffers.
const port = parentPort!;
let credit = 0;
let wake: (() => void) | null = null;
let started = false;
/** buffers of chunks no replay will read again, given back by the broker to be parsed into again */
const spare: SharedArrayBuffer[] = [];
port.on('message', (m: ParserMessage | ParseStart) => {
  if (!started) {
    started = true;
    const s = m as ParseStart;
    run(s.path, s.import, s.part).catch((e: unknown) => {
      port.postMessage({ type: 'error', name: e instanceof Error ? e.constructor.name : 'Error', message: e instanceof Error ? e.message : String(e) } satisfies StreamMessage);
    });
    return;
  }
  const g = m as ParserMessage;
  if (g.recycle !== undefined) {
    for (const b of g.recycle) spare.push(b);
    return;
  }
  credit += g.credit ?? 0;
  const w = wake;
  wake = null;
  if (w !== null) w();
});

/**
 * The bytes part `index` of `of` parses: undefined for the whole file,
 * null for none. A file that is not plain is parsed whole by part 0; the
 * other parts are then empty.
 */
async function rangeOf(path: string, part: { index: number; of: number }): Promise<ByteRange | undefined | null> {
  if ((await compressionOf(path)) !== 'none') return part.index === 0 ? undefined : null;
  const cuts = await lineCuts(path, part.of);
  const end = part.index < cuts.length ? cuts[part.index]! : Infinity;
  return { start: part.index === 0 ? 0 : cuts[part.index - 1]!, end };
}

async function run(path: string, imp: ImportOptions, part: ParseStart['part']): Promise<void> {
  const stats = newImportStats();
  let index = 0;
  const range = part === undefined ? undefined : await rangeOf(path, part);
  if (range !== null) {
    // Each chunk is parsed into shared memory of its own (a buffer given back, or a new one), handed on as it is.
    const alloc = (): RecordChunk => { const b = spare.pop(); return sharedRecordChunk(RECORD_CHUNK, b); };
    for await (const rc of readTextRecords(path, imp, stats, false, range, alloc)) {
      while (credit <= 0) await new Promise<void>((r) => { wake = r; });
      credit--;
      port.postMessage({ type: 'chunk', chunk: packChunk(rc, index++, stats.bytes) } satisfies StreamMessage);
    }
  }
  port.postMessage({ type: 'end', chunks: index, stats } satisfies StreamMessage);
}
