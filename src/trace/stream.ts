/**
 * Parse once: a text trace is read and parsed once, in a parse thread
 * (parse-worker.ts), into chunks of access records (the record form of a
 * binary trace's decoded chunks: u16 access ops, low address halves, high
 * halves; see RecordChunk), each in a SharedArrayBuffer. A broker in the
 * main thread (TextStream) hands the same chunks to every replay of the
 * trace (every mode, every sweep point, every process of --processes),
 * each in its worker thread or in the main thread, without copying them.
 *
 * Memory: the broker keeps every chunk while the parsed trace takes at most
 * `retainBytes` (default 256 MiB, about 40 million accesses), so replays
 * that start later (more replays than --jobs) read the same chunks. Beyond
 * that the stream slides: chunks every attached replay has passed are
 * dropped, the parse thread runs at most a window ahead of the slowest
 * replay, and a replay that starts after chunk 0 was dropped gets a stream
 * (a parse) of its own.
 *
 * Messages, all in stream order:
 *   parse thread -> broker:   chunk | end (with the import's statistics) | error
 *   broker -> parse thread:   credit (chunks it may parse ahead) | recycle (buffers of dropped chunks)
 *   broker -> replay:         chunk | end | error
 *   replay -> broker:         release (the replay needs no chunk below `below`)
 */
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { createLog } from '../mmu/log.js';
import { ERRORS_KEPT, RECORD_CHUNK, SMALL_CHUNKS, splittable, type ImportOptions, type ImportStats } from './importers.js';
import { chunkBytes, type StreamChunk } from './packed.js';
import { takePrestarted } from './prestart.js';
import { workerScript } from './threads.js';

export { chunkViews, packChunk, type StreamChunk } from './packed.js';

export type StreamMessage =
  | { type: 'chunk'; chunk: StreamChunk }
  | { type: 'end'; chunks: number; stats: ImportStats }
  | { type: 'error'; name: string; message: string };

export type ReleaseMessage = { type: 'release'; below: number };

/**
 * Broker -> parse thread, after the ParseStart: chunks it may parse ahead,
 * or buffers of dropped chunks (no replay reads them again) to parse into
 * again.
 */
export type ParserMessage = { credit?: number; recycle?: SharedArrayBuffer[] };

/**
 * The first message to a parse thread: its trace, and with `part`, the part
 * of a split parse it parses (part `index` of `of`, cut at line ends). Then
 * only credit messages.
 */
export type ParseStart = { path: string; import: ImportOptions; part?: { index: number; of: number } };

const log = createLog('vmmu:trace');

/** Chunks a replay of `processes` copies switched every `quantum` accesses must hold at once: its processes are at most a quantum apart. */
export function windowChunks(processes: number, quantum: number): number {
  return 4 + (processes > 1 ? Math.ceil(quantum / RECORD_CHUNK) + 1 + SMALL_CHUNKS : 0);
}

/** Bytes of parsed chunks a stream keeps for replays that start later. */
export const RETAIN_BYTES = 256 << 20;

interface Consumer {
  port: MessagePort;
  /** the replay needs no chunk below this */
  below: number;
  /** the next chunk to send it */
  sent: number;
  window: number;
  ended: boolean;
}

/**
 * Chunks a later part of a split parse may parse ahead while the parts
 * before it still run (held apart until they end; about 400 KB each).
 */
export const PART_AHEAD = 128;

/**
 * Chunks the parse thread of a sealed stream may parse ahead of the
 * slowest replay (about 40 MB of buffers at most).
 */
export const SEALED_AHEAD = 64;

/** One parse thread of a stream: its part, what it has sent and been granted. */
interface Part {
  worker: Worker;
  /** the stream index of its first chunk (known once the parts before it have ended) */
  base: number;
  /** file bytes before the part (for progress) and lines before it (for error messages), known with `base` */
  bytesBefore: number;
  linesBefore: number;
  /** chunks it may parse in all (its own numbering) */
  granted: number;
  /** its chunks held until the parts before it end */
  held: StreamChunk[];
  end: { chunks: number; stats: ImportStats } | null;
  failure: { name: string; message: string } | null;
}

export { prestartParser } from './prestart.js';

/** The parse thread started ahead (prestart.ts), or a new one; the first message it gets names its trace. */
function takeParser(): Worker {
  return takePrestarted() ?? new Worker(workerScript(import.meta.url, 'parse-worker.js'));
}

/**
 * `message` of an error from a part of a split parse, its line number
 * counted from the part's first line, with the number counted from the
 * file's first line (`FILE:LINE: ...`; other messages are left as they are).
 */
export function shiftLine(message: string, path: string, linesBefore: number): string {
  const head = `${path}:`;
  if (linesBefore === 0 || !message.startsWith(head)) return message;
  let j = head.length;
  while (j < message.length && message.charCodeAt(j) >= 48 && message.charCodeAt(j) <= 57) j++;
  if (j === head.length || message[j] !== ':') return message;
  return `${head}${Number(message.slice(head.length, j)) + linesBefore}${message.slice(j)}`;
}

/**
 * The broker: one parse of one text trace, and the replays reading it.
 *
 * With `parseThreads` above 1 (a plain lackey or cache-lab file), the file
 * is cut at line ends into that many parts, each parsed by a thread of its
 * own; the broker puts their chunks in file order (a part's chunks wait
 * until the parts before it have ended, at most PART_AHEAD of them), adds
 * up their statistics, and gives an error of a later part its line number
 * in the file. The replays see the stream of a single parse thread.
 */
export class TextStream {
  private readonly chunks: (StreamChunk | null)[] = [];
  /** chunks below this index have been dropped */
  private dropped = 0;
  private retained = 0;
  private sliding = false;
  /** no replay attaches any more (seal) */
  private sealed = false;
  /** buffers of dropped chunks given back to a parse thread */
  private recycled = 0;
  private end: { chunks: number; stats: ImportStats } | null = null;
  private failure: { name: string; message: string } | null = null;
  private readonly consumers = new Set<Consumer>();
  private readonly parts: Part[] = [];
  /** the part whose chunks go to the stream now; the parts before it have ended */
  private current = 0;
  private closed = false;

  constructor(readonly path: string, imp: ImportOptions, private readonly retainBytes = RETAIN_BYTES, parseThreads = 1) {
    if (!splittable(imp)) parseThreads = 1;
    for (let k = 0; k < parseThreads; k++) {
      const worker = k === 0 ? takeParser() : new Worker(workerScript(import.meta.url, 'parse-worker.js'));
      const part: Part = { worker, base: 0, bytesBefore: 0, linesBefore: 0, granted: 0, held: [], end: null, failure: null };
      this.parts.push(part);
      worker.postMessage({ path, import: imp, ...(parseThreads > 1 ? { part: { index: k, of: parseThreads } } : {}) } satisfies ParseStart);
      worker.on('message', (m: StreamMessage) => this.fromParser(part, m));
      worker.on('error', (e) => this.partFailed(part, e.constructor.name, e.message));
      worker.on('exit', (code) => { if (part.end === null && part.failure === null && !this.closed) this.partFailed(part, 'Error', `trace parse thread for ${path} exited with code ${code}`); });
    }
    this.grant();
  }

  /** Parse threads: more than 1 for a split parse. */
  get threads(): number {
    return this.parts.length;
  }

  /** Whether a replay starting now can still read the stream from its first chunk. */
  get joinable(): boolean {
    return this.dropped === 0 && !this.closed && !this.sealed;
  }

  /**
   * Chunks parsed so far, whether the stream slides (drops what every
   * replay has passed), whether it is sealed, and how many buffers of
   * dropped chunks went back to a parse thread.
   */
  get state(): { parsed: number; dropped: number; retainedBytes: number; sliding: boolean; sealed: boolean; recycled: number } {
    return { parsed: this.chunks.length, dropped: this.dropped, retainedBytes: this.retained, sliding: this.sliding, sealed: this.sealed, recycled: this.recycled };
  }

  /**
   * Attaches a replay holding at most `window` chunks at once; returns the
   * port it reads from (a StreamReader's), to be transferred to its thread
   * or used in this one. Only while joinable.
   */
  attach(window: number): MessagePort {
    if (!this.joinable) throw new Error(`${this.path}: the parsed stream has moved on; a new replay needs a stream of its own`);
    const { port1, port2 } = new MessageChannel();
    const c: Consumer = { port: port1, below: 0, sent: 0, window, ended: false };
    this.consumers.add(c);
    port1.on('message', (m: ReleaseMessage) => {
      if (m.type === 'release' && m.below > c.below) {
        c.below = m.below;
        this.slide();
        this.grant();
        this.pump();
      }
    });
    port1.on('close', () => this.detach(c));
    this.pump();
    return port2;
  }

  /**
   * Says that no more replays will attach: from now on each chunk every
   * attached replay has passed is dropped and its buffer given back to the
   * parse thread to parse into again (memory already faulted in, instead of
   * new memory a chunk), and the parse thread runs at most SEALED_AHEAD
   * chunks ahead of the slowest replay. The replays are still sent every
   * chunk as soon as it is parsed (unless the stream slides, see above), so
   * that a replay in a worker never waits for this thread.
   */
  seal(): void {
    if (this.sealed || this.closed) return;
    this.sealed = true;
    log('%s: all replays attached at chunk %d; passed chunks go back to the parse thread', this.path, this.chunks.length);
    this.slide();
    this.grant();
    this.pump();
  }

  /** Stops the parse threads and lets go of the chunks. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const c of this.consumers) c.port.close();
    this.consumers.clear();
    this.chunks.length = 0;
    for (const p of this.parts) {
      p.held.length = 0;
      p.worker.removeAllListeners('exit');
    }
    await Promise.all(this.parts.map((p) => p.worker.terminate()));
  }

  private detach(c: Consumer): void {
    this.consumers.delete(c);
    this.slide();
    this.grant();
    // Nobody can join a stream that has dropped its start: its parse is of no more use.
    if (this.consumers.size === 0 && this.dropped > 0) void this.close();
  }

  private fromParser(part: Part, m: StreamMessage): void {
    if (this.closed || part.end !== null || part.failure !== null) return;
    if (m.type === 'chunk') {
      if (part === this.parts[this.current]) this.add(part, m.chunk);
      else part.held.push(m.chunk);
    } else if (m.type === 'end') {
      part.end = { chunks: m.chunks, stats: m.stats };
      this.advance();
    } else {
      this.partFailed(part, m.name, m.message);
      return;
    }
    this.grant();
    this.pump();
  }

  /** Appends a chunk of the current part to the stream, numbered in stream order. */
  private add(part: Part, c: StreamChunk): void {
    const chunk = part.base === 0 && part.bytesBefore === 0 ? c : { ...c, index: c.index + part.base, bytes: c.bytes + part.bytesBefore };
    this.chunks.push(chunk);
    this.retained += chunkBytes(chunk);
    if (!this.sliding && this.retained > this.retainBytes) {
      this.sliding = true;
      log('%s: parsed chunks exceed %d bytes; the stream slides from chunk %d', this.path, this.retainBytes, this.chunks.length);
    }
    this.slide();
  }

  /**
   * While the current part has ended: the next part becomes current (its
   * held chunks join the stream, its failure, if it failed, becomes the
   * stream's), and after the last part, the stream ends with the parts'
   * statistics added up.
   */
  private advance(): void {
    for (;;) {
      const done = this.parts[this.current]!;
      if (done.end === null) return;
      if (this.current + 1 === this.parts.length) {
        this.end = { chunks: this.chunks.length, stats: this.sumStats() };
        log('%s: parsed once: %d chunks, %d accesses, %d parse thread%s', this.path, this.end.chunks, this.end.stats.accesses, this.parts.length, this.parts.length === 1 ? '' : 's');
        return;
      }
      const next = this.parts[++this.current]!;
      next.base = this.chunks.length;
      next.bytesBefore = done.bytesBefore + done.end.stats.bytes;
      next.linesBefore = done.linesBefore + done.end.stats.lines;
      for (const c of next.held) this.add(next, c);
      next.held.length = 0;
      if (next.failure !== null) {
        this.fail(next.failure.name, shiftLine(next.failure.message, this.path, next.linesBefore));
        return;
      }
    }
  }

  /** The statistics of the whole parse: the parts' added up, errors with their lines in the file. */
  private sumStats(): ImportStats {
    if (this.parts.length === 1) return this.parts[0]!.end!.stats;
    const sum: ImportStats = { lines: 0, accesses: 0, skipped: 0, errors: [], bytes: 0 };
    for (const p of this.parts) {
      const st = p.end!.stats;
      sum.lines += st.lines;
      sum.accesses += st.accesses;
      sum.skipped += st.skipped;
      sum.bytes += st.bytes;
      for (const e of st.errors) if (sum.errors.length < ERRORS_KEPT) sum.errors.push(shiftLine(e, this.path, p.linesBefore));
    }
    return sum;
  }

  /** A part's parse failed: the stream fails once the parts before it have ended (its chunks before the error first). */
  private partFailed(part: Part, name: string, message: string): void {
    if (part.end !== null || part.failure !== null) return;
    part.failure = { name, message };
    if (part === this.parts[this.current]) this.fail(name, shiftLine(message, this.path, part.linesBefore));
  }

  private fail(name: string, message: string): void {
    if (this.failure !== null || this.end !== null) return;
    this.failure = { name, message };
    this.pump();
  }

  /** The slowest attached replay's `below` (the chunks count when none is attached). */
  private lowest(): number {
    let low = this.chunks.length;
    for (const c of this.consumers) low = Math.min(low, c.below);
    return low;
  }

  /** While sliding or sealed, drops the chunks every attached replay has passed. */
  private slide(): void {
    if (!this.sliding && !this.sealed) return;
    const low = this.consumers.size === 0 && this.dropped === 0 ? 0 : this.lowest();
    const free: SharedArrayBuffer[] = [];
    for (; this.dropped < low; this.dropped++) {
      const c = this.chunks[this.dropped];
      if (c) {
        this.retained -= chunkBytes(c);
        free.push(c.sab);
      }
      this.chunks[this.dropped] = null;
    }
    this.recycle(free);
  }

  /**
   * Gives the buffers of dropped chunks (no replay holds or will be sent
   * them: every attached one has passed them, and none can attach now) to
   * a parse thread still parsing, to parse into again.
   */
  private recycle(free: SharedArrayBuffer[]): void {
    if (free.length === 0 || this.closed) return;
    for (let k = this.current; k < this.parts.length; k++) {
      const p = this.parts[k]!;
      if (p.end === null && p.failure === null) {
        p.worker.postMessage({ recycle: free } satisfies ParserMessage);
        this.recycled += free.length;
        return;
      }
    }
  }

  /**
   * Lets the parse thread of the current part run ahead: freely while the
   * chunks are kept, SEALED_AHEAD chunks ahead of the slowest replay once
   * the stream is sealed, a window ahead of it while the stream slides; the later
   * parts of a split parse, PART_AHEAD chunks.
   */
  private grant(): void {
    if (this.closed || this.end !== null || this.failure !== null) return;
    let ahead = 8;
    for (const c of this.consumers) ahead = Math.max(ahead, c.window + 4);
    // (A sealed stream's parse runs at least a window ahead too: the processes of a replay may be that far apart.)
    const target = this.sliding ? this.lowest() + ahead : this.sealed ? this.lowest() + Math.max(ahead, SEALED_AHEAD) : this.chunks.length + 8;
    for (let k = this.current; k < this.parts.length; k++) {
      const p = this.parts[k]!;
      const want = k === this.current ? target - p.base : PART_AHEAD;
      if (want > p.granted) {
        p.worker.postMessage({ credit: want - p.granted } satisfies ParserMessage);
        p.granted = want;
      }
    }
  }

  /**
   * Sends each replay the chunks it has room for (all parsed so far while
   * the stream keeps every chunk: they are shared memory, and a replay in a
   * worker then never waits for this thread), then the end or the failure.
   */
  private pump(): void {
    for (const c of this.consumers) {
      const upTo = this.sliding ? Math.min(this.chunks.length, c.below + c.window) : this.chunks.length;
      for (; c.sent < upTo; c.sent++) {
        const ch = this.chunks[c.sent]!;
        c.port.postMessage({ type: 'chunk', chunk: ch } satisfies StreamMessage);
      }
      if (c.ended || c.sent < this.chunks.length) continue;
      if (this.end !== null) {
        c.ended = true;
        c.port.postMessage({ type: 'end', chunks: this.end.chunks, stats: this.end.stats } satisfies StreamMessage);
      } else if (this.failure !== null) {
        c.ended = true;
        c.port.postMessage({ type: 'error', ...this.failure } satisfies StreamMessage);
      }
    }
  }
}

export { StreamReader } from './stream-reader.js';
