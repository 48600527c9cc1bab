/**
 * The trace layer: the binary format (docs/trace-format.md), the recorder
 * (an MmuObserver), importers for lackey, cache-lab and pinatrace text
 * traces, the replayer, and parallel replays in worker threads.
 */
export { TraceRecorder } from './recorder.js';
export type { RecorderOptions, RecorderStats } from './recorder.js';
export { TraceWriter, fileSink, memorySink } from './writer.js';
export type { TraceSink, WriterOptions, WriterStats } from './writer.js';
export { TraceReader, threadedChunks } from './reader.js';
export type { DecodedChunk, ReadState, TraceTotals } from './reader.js';
export { FORMAT_VERSION, TraceError, decodeHeader, encodeHeader } from './format.js';
export type { TraceHeader } from './format.js';
export { ImportError, IMPORT_FORMATS, detectTextFormat, readTextTrace } from './importers.js';
export type { AccessBatch, ImportFormat, ImportOptions, ImportStats } from './importers.js';
export {
  BinaryReplayer, DivergenceError, OS_DEFAULTS, recordImported, replayBinary, replayImported, traceHeader,
} from './replayer.js';
export type { MmuReplayOptions, OsReplayOptions, Progress, ReplayResult, TraceCounts } from './replayer.js';
export { runJob, runJobs, runJobInWorker, defaultParallelism } from './parallel.js';
export type { LabeledResult, ReplayJob, ReplaySource } from './parallel.js';
export { writeStrideTrace } from './handmade.js';
export type { StrideTraceOptions } from './handmade.js';
