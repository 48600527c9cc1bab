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
 *   broker -> parse thread:   credit (chunks it may parse ahead)
 *   broker -> replay:         chunk | end | error
 *   replay -> broker:         release (the replay needs no chunk below `below`)
 */
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { createLog } from '../mmu/log.js';
import { RECORD_CHUNK, type ImportOptions, type ImportStats } from './importers.js';
import type { StreamChunk } from './packed.js';
import { workerScript } from './threads.js';

export { chunkViews, packChunk, type StreamChunk } from './packed.js';

export type StreamMessage =
  | { type: 'chunk'; chunk: StreamChunk }
  | { type: 'end'; chunks: number; stats: ImportStats }
  | { type: 'error'; name: string; message: string };

export type ReleaseMessage = { type: 'release'; below: number };

/** The first message to a parse thread: its trace. Then only credit messages. */
export type ParseStart = { path: string; import: ImportOptions };

const log = createLog('vmmu:trace');

/** Chunks a replay of `processes` copies switched every `quantum` accesses must hold at once: its processes are at most a quantum apart. */
export function windowChunks(processes: number, quantum: number): number {
  return 4 + (processes > 1 ? Math.ceil(quantum / RECORD_CHUNK) + 1 : 0);
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

/** A parse thread started before its trace was known (prestartParser), not yet taken by a stream. */
let spare: { worker: Worker; exited: boolean } | null = null;

/**
 * Starts a parse thread ahead of the stream that will use it (the next
 * TextStream made takes it): its start-up, a V8 engine and its modules,
 * then overlaps what comes first in this thread (detecting the trace's
 * format, loading the Mmu). Until taken it does not keep the process alive.
 */
export function prestartParser(): void {
  if (spare !== null) return;
  const s = { worker: new Worker(workerScript(import.meta.url, 'parse-worker.js')), exited: false };
  s.worker.on('error', () => {}); // a stream that takes it sees the exit; one never taken is of no concern
  s.worker.on('exit', () => { s.exited = true; });
  s.worker.unref();
  spare = s;
}

/** The parse thread started ahead, or a new one; the first message it gets names its trace. */
function takeParser(): Worker {
  const s = spare;
  spare = null;
  if (s !== null && !s.exited) {
    s.worker.removeAllListeners();
    s.worker.ref();
    return s.worker;
  }
  return new Worker(workerScript(import.meta.url, 'parse-worker.js'));
}

/** The broker: one parse of one text trace, and the replays reading it. */
export class TextStream {
  private readonly chunks: (StreamChunk | null)[] = [];
  /** chunks below this index have been dropped */
  private dropped = 0;
  private retained = 0;
  private sliding = false;
  private granted = 0;
  private end: { chunks: number; stats: ImportStats } | null = null;
  private failure: { name: string; message: string } | null = null;
  private readonly consumers = new Set<Consumer>();
  private readonly worker: Worker;
  private closed = false;

  constructor(readonly path: string, imp: ImportOptions, private readonly retainBytes = RETAIN_BYTES) {
    this.worker = takeParser();
    this.worker.postMessage({ path, import: imp } satisfies ParseStart);
    this.worker.on('message', (m: StreamMessage) => this.fromParser(m));
    this.worker.on('error', (e) => this.fail(e.constructor.name, e.message));
    this.worker.on('exit', (code) => { if (this.end === null && this.failure === null && !this.closed) this.fail('Error', `trace parse thread for ${path} exited with code ${code}`); });
    this.grant();
  }

  /** Whether a replay starting now can still read the stream from its first chunk. */
  get joinable(): boolean {
    return this.dropped === 0 && !this.closed;
  }

  /** Chunks parsed so far, and whether the stream slides (drops what every replay has passed). */
  get state(): { parsed: number; dropped: number; retainedBytes: number; sliding: boolean } {
    return { parsed: this.chunks.length, dropped: this.dropped, retainedBytes: this.retained, sliding: this.sliding };
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
        this.pump();
      }
    });
    port1.on('close', () => this.detach(c));
    this.pump();
    return port2;
  }

  /** Stops the parse thread and lets go of the chunks. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const c of this.consumers) c.port.close();
    this.consumers.clear();
    this.chunks.length = 0;
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
  }

  private detach(c: Consumer): void {
    this.consumers.delete(c);
    this.slide();
    this.grant();
    // Nobody can join a stream that has dropped its start: its parse is of no more use.
    if (this.consumers.size === 0 && this.dropped > 0) void this.close();
  }

  private fromParser(m: StreamMessage): void {
    if (this.closed) return;
    if (m.type === 'chunk') {
      this.chunks.push(m.chunk);
      this.retained += m.chunk.sab.byteLength;
      if (!this.sliding && this.retained > this.retainBytes) {
        this.sliding = true;
        log('%s: parsed chunks exceed %d bytes; the stream slides from chunk %d', this.path, this.retainBytes, this.chunks.length);
      }
      this.slide();
    } else if (m.type === 'end') {
      this.end = { chunks: m.chunks, stats: m.stats };
      log('%s: parsed once: %d chunks, %d accesses', this.path, m.chunks, m.stats.accesses);
    } else {
      this.fail(m.name, m.message);
      return;
    }
    this.grant();
    this.pump();
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

  /** While sliding, drops the chunks every attached replay has passed. */
  private slide(): void {
    if (!this.sliding) return;
    const low = this.consumers.size === 0 && this.dropped === 0 ? 0 : this.lowest();
    for (; this.dropped < low; this.dropped++) {
      const c = this.chunks[this.dropped];
      if (c) this.retained -= c.sab.byteLength;
      this.chunks[this.dropped] = null;
    }
  }

  /** Lets the parse thread run ahead: freely while the chunks are kept, else a window ahead of the slowest replay. */
  private grant(): void {
    if (this.closed || this.end !== null || this.failure !== null) return;
    let ahead = 8;
    for (const c of this.consumers) ahead = Math.max(ahead, c.window + 4);
    const target = this.sliding ? this.lowest() + ahead : this.chunks.length + 8;
    if (target > this.granted) {
      this.worker.postMessage({ credit: target - this.granted });
      this.granted = target;
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
