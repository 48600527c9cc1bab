/**
 * vmmu/trace: the trace layer as a package entry (docs/trace-format.md).
 *
 * What another emulator needs to record its own guest in vmmu's format and
 * replay it: the recorder (an MmuObserver attached to the emulator's
 * `vmmu/mmu` Mmu), the writer under it, the reader (header, chunks, the
 * record encoding), and the replayers (one binary trace in one mode, text
 * traces on the synthetic guest OS, several replays in worker threads).
 */

// ---- recording ----
export { TraceRecorder } from './recorder.js';
export type { RecorderOptions, RecorderStats } from './recorder.js';
export { TraceWriter, fileSink, memorySink } from './writer.js';
export type { TraceSink, WriterOptions, WriterStats } from './writer.js';

// ---- reading: the header, the chunks, and what their records mean ----
export { TraceReader, threadedChunks } from './reader.js';
export type { DecodedChunk, ReadState, TraceTotals } from './reader.js';
export {
  FORMAT_VERSION, TraceError, decodeHeader, encodeHeader, SOURCE_RECORDED, SOURCE_IMPORTED,
  OP_ACCESS, OP_HI, OP_KIND_SHIFT, OP_USER, OP_AC, OP_RMW, OP_SIZE_MASK, KIND_READ, KIND_WRITE, KIND_FETCH,
  R_CR0, R_CR3, R_CR4, R_EFER, R_PKRU, R_PAGING, R_PRIV, R_INVLPG, R_INVPCID, R_FLUSH, R_PTWRITE, R_PTWRITE8, R_PAGE, R_ZPAGE, R_CHECK, R_SWITCH,
} from './format.js';
export type { TraceHeader } from './format.js';

// ---- replaying ----
export {
  BinaryReplayer, DivergenceError, OS_DEFAULTS, recordImported, replayBinary, replayImported, traceHeader,
} from './replayer.js';
export type { MmuReplayOptions, OsReplayOptions, Progress, ReplayResult, TraceCounts } from './replayer.js';
export { runJob, runJobs, runJobInWorker, defaultParallelism } from './parallel.js';
export type { LabeledResult, ReplayJob, ReplaySource } from './parallel.js';

// ---- text traces from other tools ----
export { ImportError, IMPORT_FORMATS, detectTextFormat, readTextTrace } from './importers.js';
export type { AccessBatch, ImportFormat, ImportOptions, ImportStats } from './importers.js';

// ---- hand-built traces (tests, benchmarks) ----
export { writeStrideTrace } from './handmade.js';
export type { StrideTraceOptions } from './handmade.js';
