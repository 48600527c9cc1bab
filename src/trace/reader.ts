/**
 * Reads a trace as a stream of decoded chunks, in constant memory: the file
 * is read chunk by chunk at known offsets, inflated and decoded into typed
 * arrays (ops, absolute access addresses, operands, page images); with
 * threadedChunks all of that happens in a reader thread while the caller
 * replays.
 *
 * Every defect is a TraceError naming the file and the byte offset: a bad
 * magic or version, a CRC mismatch (corruption), a chunk or end record cut
 * short (truncation), a body whose columns do not add up.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { crc32, inflateRawSync } from 'node:zlib';
import { Worker } from 'node:worker_threads';
import type { ReadWorkerMessage } from './read-worker.js';
import { workerScript } from './threads.js';
import { createLog } from '../mmu/log.js';
import {
  ARITY, BODY_HEAD_BYTES, CHUNK_HEAD_BYTES, decodeHeader, END_BYTES, KIND_FETCH, MAGIC_CHUNK, MAGIC_END, MAX_ARITY, MAX_CHUNK_BLOB,
  MAX_CHUNK_RECORDS, maxBodyBytes, maxCompressedBytes, minBodyBytes, OP_ACCESS, OP_HI, OP_KIND_SHIFT, opBytes, PAGE_BYTES, R_PAGE, R_PTWRITE8, validAccessOp,
  TraceError, type TraceHeader,
} from './format.js';

const log = createLog('vmmu:trace');

/** One chunk, decoded. Arrays are exactly `nOps`, `nAddr`, ... long. */
export interface DecodedChunk {
  /** chunk number and the file offset of its "VMTC" */
  index: number;
  offset: number;
  /** index in the trace of the chunk's first record */
  firstRecord: number;
  nOps: number;
  ops: Uint16Array;
  /** absolute low 32 bits of each access's gva, in access order */
  addr: Int32Array;
  /** operands of the other records, and access high halves, in record order */
  args: Int32Array;
  /** page images, 4096 bytes each, in record order */
  blob: Uint8Array;
}

/** What the end record says. */
export interface TraceTotals {
  chunks: number;
  records: number;
  accesses: number;
}

export class TraceReader {
  /** bytes of the file consumed so far (for progress) */
  bytesRead = 0;
  /** set once the end record has been read */
  totals: TraceTotals | null = null;
  /** the most chunks held at once: being read or inflated, plus the one the caller works on (2: constant memory) */
  peakBuffered = 0;
  private held = 0;

  private constructor(readonly path: string, private readonly fh: FileHandle, readonly header: TraceHeader, readonly headerBytes: number, readonly fileSize: number) {}

  /** Opens a trace and reads its header. Throws TraceError for a file that is not a readable trace. */
  static async open(path: string): Promise<TraceReader> {
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (e) {
      throw new TraceError(`${path}: cannot open (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
    }
    try {
      const st = await ioOf(path, 0, fh.stat());
      if (!st.isFile()) throw new TraceError(`${path}: ${st.isDirectory() ? 'is a directory' : 'is not a regular file'}, not a trace`);
      const size = st.size;
      const head = Buffer.alloc(8);
      const { bytesRead } = await ioOf(path, 0, fh.read(head, 0, 8, 0));
      const h8 = head.subarray(0, bytesRead);
      if (bytesRead < 8) decodeHeader(h8, path); // throws: too short or bad magic
      const len = h8.readUInt16LE(6); // at most 65535: a u16
      const buf = Buffer.alloc(Math.max(len, 8));
      const r = await ioOf(path, 0, fh.read(buf, 0, buf.length, 0));
      const header = decodeHeader(buf.subarray(0, r.bytesRead), path);
      return new TraceReader(path, fh, header, len, size);
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  /**
   * Closes the file, after the read-ahead of the next chunk (when a caller
   * stopped early) has finished: a read on a closed file would fail with
   * nobody to hear it.
   */
  async close(): Promise<void> {
    if (this.readAhead !== null) await this.readAhead.catch(() => {});
    await this.fh.close();
  }

  /** The chunk being read ahead, if any. */
  private readAhead: Promise<Loaded> | null = null;

  /** Starts reading the chunk at `pos`; its failure reaches whoever awaits it, and no one else. */
  private prefetch(pos: number): Promise<Loaded> {
    const p = this.load(pos);
    p.catch(() => {}); // handled: the generator awaits it, or close() waits for it
    this.readAhead = p;
    return p;
  }

  /**
   * The chunks in order, each decoded; the next one is read and inflated
   * while the caller works on the current one. Ends after the end record;
   * throws TraceError for a truncated or corrupt file.
   */
  async *chunks(): AsyncGenerator<DecodedChunk> {
    let pos = this.headerBytes;
    let index = 0;
    let firstRecord = 0;
    let accesses = 0;
    let pending: Promise<Loaded> | null = this.prefetch(pos);
    this.held++;
    while (pending !== null) {
      const cur = await pending;
      if (cur.end !== null) {
        if (cur.end.chunks !== index || cur.end.records !== firstRecord || cur.end.accesses !== accesses) {
          throw new TraceError(`${this.path}: end record at offset ${cur.offset} counts ${cur.end.chunks} chunks, ${cur.end.records} records and ${cur.end.accesses} accesses, but the file holds ${index}, ${firstRecord} and ${accesses} (corrupt)`);
        }
        this.totals = cur.end;
        this.bytesRead = cur.offset + END_BYTES;
        if (cur.offset + END_BYTES !== this.fileSize) {
          throw new TraceError(`${this.path}: ${this.fileSize - cur.offset - END_BYTES} stray bytes after the end record at offset ${cur.offset + END_BYTES}`);
        }
        return;
      }
      pos = cur.offset + CHUNK_HEAD_BYTES + cur.compressed;
      pending = this.prefetch(pos);
      this.held++;
      this.peakBuffered = Math.max(this.peakBuffered, this.held);
      const chunk = this.decode(cur, index, firstRecord);
      index++;
      firstRecord += chunk.nOps;
      accesses += chunk.addr.length;
      this.bytesRead = pos;
      yield chunk;
      this.held--; // the caller is done with it
    }
  }

  private async readAt(pos: number, n: number): Promise<Buffer> {
    const b = Buffer.alloc(n);
    let got = 0;
    while (got < n) {
      const { bytesRead } = await ioOf(this.path, pos + got, this.fh.read(b, got, n - got, pos + got));
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return got === n ? b : b.subarray(0, got);
  }

  private async load(pos: number): Promise<Loaded> {
    const p = this.path;
    if (pos >= this.fileSize) throw new TraceError(`${p}: truncated: the trace ends at offset ${this.fileSize} without its end record`);
    const head = await this.readAt(pos, CHUNK_HEAD_BYTES);
    if (head.length < 4) throw new TraceError(`${p}: truncated: the trace ends at offset ${this.fileSize} inside a chunk header at offset ${pos}`);
    const magic = head.readUInt32LE(0);
    if (magic === MAGIC_END) {
      const e = await this.readAt(pos, END_BYTES);
      if (e.length < END_BYTES) throw new TraceError(`${p}: truncated: the end record at offset ${pos} is cut short at offset ${this.fileSize}`);
      if (crc32(e.subarray(0, END_BYTES - 4)) !== e.readUInt32LE(END_BYTES - 4)) throw new TraceError(`${p}: end record CRC mismatch at offset ${pos} (corrupt)`);
      return { offset: pos, compressed: 0, uncompressed: 0, records: 0, body: null, end: { chunks: e.readUInt32LE(4), records: e.readDoubleLE(8), accesses: e.readDoubleLE(16) } };
    }
    if (magic !== MAGIC_CHUNK) throw new TraceError(`${p}: no chunk or end record at offset ${pos} (corrupt or not a trace)`);
    if (head.length < CHUNK_HEAD_BYTES) throw new TraceError(`${p}: truncated: the chunk header at offset ${pos} is cut short at offset ${this.fileSize}`);
    const compressed = head.readUInt32LE(4);
    const uncompressed = head.readUInt32LE(8);
    const records = head.readUInt32LE(12);
    const sum = head.readUInt32LE(16);
    // No CRC covers these fields: check each against the format's limits before it sizes a read or an inflate.
    const where = `${p}: chunk at offset ${pos}`;
    if (records === 0 || records > MAX_CHUNK_RECORDS) {
      throw new TraceError(`${where}: record count ${records} at offset ${pos + 12} is outside 1..${MAX_CHUNK_RECORDS} (corrupt)`);
    }
    const minU = minBodyBytes(records), maxU = maxBodyBytes(records);
    if (uncompressed < minU || uncompressed > maxU) {
      throw new TraceError(`${where}: uncompressed length ${uncompressed} at offset ${pos + 8} is outside ${minU}..${maxU}, what ${records} records can take (corrupt)`);
    }
    const maxC = maxCompressedBytes(uncompressed);
    if (compressed === 0 || compressed > maxC) {
      throw new TraceError(`${where}: compressed length ${compressed} at offset ${pos + 4} is outside 1..${maxC}, what DEFLATE makes of ${uncompressed} bytes (corrupt)`);
    }
    if (compressed > this.fileSize - pos - CHUNK_HEAD_BYTES) {
      throw new TraceError(`${p}: truncated: the chunk at offset ${pos} needs ${compressed} compressed bytes, the file ends at offset ${this.fileSize}`);
    }
    const z = await this.readAt(pos + CHUNK_HEAD_BYTES, compressed);
    if (z.length < compressed) {
      throw new TraceError(`${p}: truncated: the chunk at offset ${pos} needs ${compressed} compressed bytes, the file ends at offset ${pos + CHUNK_HEAD_BYTES + z.length}`);
    }
    if (crc32(z) !== sum) throw new TraceError(`${where}: CRC mismatch (corrupt data between offsets ${pos + CHUNK_HEAD_BYTES} and ${pos + CHUNK_HEAD_BYTES + compressed})`);
    let body: Buffer;
    try {
      // Synchronous on purpose: the asynchronous API inflates in 16 KiB
      // pieces through the thread pool and costs several times more; this
      // runs in the reader thread anyway (threadedChunks). maxOutputLength:
      // a body that inflates beyond its declared length stops there.
      body = inflateRawSync(z, { maxOutputLength: uncompressed, chunkSize: Math.max(64, Math.min(uncompressed, 1 << 24)) });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        throw new TraceError(`${where}: the body inflates to more than the ${uncompressed} bytes declared at offset ${pos + 8} (corrupt)`);
      }
      throw new TraceError(`${where}: cannot decompress the data between offsets ${pos + CHUNK_HEAD_BYTES} and ${pos + CHUNK_HEAD_BYTES + compressed} (${(e as Error).message}; corrupt)`);
    }
    if (body.length !== uncompressed) throw new TraceError(`${where}: ${body.length} bytes decompressed, ${uncompressed} declared at offset ${pos + 8} (corrupt)`);
    return { offset: pos, compressed, uncompressed, records, body, end: null };
  }

  private decode(l: Loaded, index: number, firstRecord: number): DecodedChunk {
    const b = l.body!;
    const where = `${this.path}: chunk at offset ${l.offset}`;
    if (b.length < BODY_HEAD_BYTES) throw new TraceError(`${where}: body of ${b.length} bytes is too short (corrupt)`);
    const nOps = b.readUInt32LE(0), nAddr = b.readUInt32LE(4), nArgs = b.readUInt32LE(8), nBlob = b.readUInt32LE(12);
    if (nOps !== l.records) throw new TraceError(`${where}: the body holds ${nOps} records, the chunk header ${l.records} (corrupt)`);
    if (nAddr > nOps || nArgs > nOps * MAX_ARITY) {
      throw new TraceError(`${where}: ${nAddr} addresses and ${nArgs} operands are more than ${nOps} records can have (corrupt)`);
    }
    if (nBlob % PAGE_BYTES !== 0 || nBlob > MAX_CHUNK_BLOB) {
      throw new TraceError(`${where}: the page-image column of ${nBlob} bytes is not a whole number of ${PAGE_BYTES}-byte pages up to ${MAX_CHUNK_BLOB} bytes (corrupt)`);
    }
    if (BODY_HEAD_BYTES + opBytes(nOps) + nAddr * 4 + nArgs * 4 + nBlob !== b.length) {
      throw new TraceError(`${where}: column sizes (${nOps} records, ${nAddr} addresses, ${nArgs} operands, ${nBlob / PAGE_BYTES} page images) do not add up to the body's ${b.length} bytes (corrupt)`);
    }
    // Plain typed-array views and tight loops: this runs for every record.
    const u8 = new Uint8Array(b.buffer, b.byteOffset, b.length);
    const ops = (b.byteOffset & 1) === 0
      ? new Uint16Array(b.buffer, b.byteOffset + BODY_HEAD_BYTES, nOps).slice()
      : opsByBytes(u8, nOps);
    const a0 = BODY_HEAD_BYTES + opBytes(nOps);
    const g0 = a0 + nAddr * 4;
    const args = unplane(u8, g0, nArgs);
    const addr = new Int32Array(nAddr);
    // One pass over the ops: gather the addresses from their planes, undo the
    // per-class zigzag deltas, and count what the ops need, to check it
    // against the columns.
    const pass = deltaPass(ops, u8, a0, addr, nOps, nAddr, this.header.version >= 2 ? VALID_V2 : VALID_V1, this.header.version >= 3 ? ARITY : ARITY_V2);
    if (pass < 0) {
      const i = -1 - pass;
      const op = ops[i]!;
      if (op & OP_ACCESS && !validAccessOp(op, this.header.version)) {
        throw new TraceError(`${where}: record ${firstRecord + i} is an access with bits 0x${op.toString(16)} that version ${this.header.version} of the format does not define (corrupt, or written by a newer vmmu)`);
      }
      if (op & OP_ACCESS) throw new TraceError(`${where}: record ${firstRecord + i} is an access beyond the ${nAddr} addresses the chunk holds (corrupt)`);
      if (op === R_PTWRITE8) throw new TraceError(`${where}: record ${firstRecord + i} is an 8-byte page-table write (PTWRITE8), which version ${this.header.version} of the format does not define (corrupt)`);
      throw new TraceError(`${where}: record ${firstRecord + i} has unknown type 0x${op.toString(16)} (corrupt, or written by a newer vmmu)`);
    }
    const k = pass % TWO21, g = Math.floor(pass / TWO21) % TWO23, pages = Math.floor(pass / TWO44);
    if (k !== nAddr || g !== nArgs || pages * PAGE_BYTES !== nBlob) {
      throw new TraceError(`${where}: the records need ${k} addresses, ${g} operands and ${pages} page images; the columns hold ${nAddr}, ${nArgs} and ${nBlob / PAGE_BYTES} (corrupt)`);
    }
    log('chunk %d at %d: %d records', index, l.offset, nOps);
    const blob = new Uint8Array(b.buffer, b.byteOffset + g0 + nArgs * 4, nBlob);
    return { index, offset: l.offset, firstRecord, nOps, ops, addr, args, blob };
  }
}

/** Awaits a file operation; an I/O error becomes a TraceError naming the file and the offset. */
async function ioOf<T>(path: string, offset: number, op: Promise<T>): Promise<T> {
  try {
    return await op;
  } catch (e) {
    throw new TraceError(`${path}: cannot read at offset ${offset} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

const TWO21 = 2 ** 21, TWO23 = 2 ** 23, TWO44 = 2 ** 44;

/** The operand counts of versions 1 and 2: ARITY without PTWRITE8 (version 3). */
const ARITY_V2 = ((): Int8Array => {
  const a = ARITY.slice();
  a[R_PTWRITE8] = -1;
  return a;
})();

/** validAccessOp of each access op's low 14 bits, for versions 1 and 2. */
const validTable = (version: number): Uint8Array => {
  const t = new Uint8Array(0x4000);
  for (let op = 0; op < 0x4000; op++) t[op] = validAccessOp(OP_ACCESS | op, version) ? 1 : 0;
  return t;
};
const VALID_V1 = validTable(1), VALID_V2 = validTable(2);

/**
 * Reads the access addresses from their byte planes at `a0` into `addr`,
 * undoing the zigzag deltas (two predictors: data and fetch), and counts
 * addresses, operands and page images the ops need.
 * Returns them packed as k + g * 2^21 + pages * 2^44 (a chunk holds at most
 * 2^20 records), or -1 - i when record i is an access beyond the address
 * column, an access whose bits `valid` (indexed by op & 0x3fff) refuses, or
 * an unknown op. A standalone function with nothing after its loop
 * but `return`: V8's on-stack-replaced code for the loop then never meets a
 * property access it has no feedback for (which would deoptimize it for
 * every chunk).
 */
function deltaPass(ops: Uint16Array, u8: Uint8Array, a0: number, addr: Int32Array, nOps: number, nAddr: number, valid: Uint8Array, arity: Int8Array): number {
  let k = 0, g = 0, pages = 0, prevData = 0, prevFetch = 0;
  const p1 = a0 + nAddr, p2 = a0 + 2 * nAddr, p3 = a0 + 3 * nAddr;
  for (let i = 0; i < nOps; i++) {
    const op = ops[i]!;
    if (op & OP_ACCESS) {
      if (k >= nAddr || valid[op & 0x3fff] === 0) return -1 - i;
      const z = u8[a0 + k]! | (u8[p1 + k]! << 8) | (u8[p2 + k]! << 16) | (u8[p3 + k]! << 24);
      const d = (z >>> 1) ^ -(z & 1);
      if (((op >> OP_KIND_SHIFT) & 3) === KIND_FETCH) addr[k++] = prevFetch = (prevFetch + d) | 0;
      else addr[k++] = prevData = (prevData + d) | 0;
      if (op & OP_HI) g++;
    } else {
      const n = op > 0xff ? -1 : arity[op]!;
      if (n < 0) return -1 - i;
      g += n;
      if (op === R_PAGE) pages++;
    }
  }
  return k + g * TWO21 + pages * TWO44;
}

/** n int32 words stored byte-planar at `at`. */
function unplane(u8: Uint8Array, at: number, n: number): Int32Array {
  const out = new Int32Array(n);
  const p1 = at + n, p2 = at + 2 * n, p3 = at + 3 * n;
  for (let i = 0; i < n; i++) out[i] = u8[at + i]! | (u8[p1 + i]! << 8) | (u8[p2 + i]! << 16) | (u8[p3 + i]! << 24);
  return out;
}

/** The ops column when the body is not 2-byte aligned. */
function opsByBytes(u8: Uint8Array, n: number): Uint16Array {
  const ops = new Uint16Array(n);
  for (let i = 0, at = BODY_HEAD_BYTES; i < n; i++, at += 2) ops[i] = u8[at]! | (u8[at + 1]! << 8);
  return ops;
}

interface Loaded {
  offset: number;
  compressed: number;
  uncompressed: number;
  records: number;
  body: Buffer | null;
  end: TraceTotals | null;
}

/** Progress and totals of a threaded read (see threadedChunks). */
export interface ReadState {
  bytesRead: number;
  totals: TraceTotals | null;
}

/**
 * The same chunks as TraceReader.chunks(), read, inflated and decoded by a
 * reader thread (read-worker.ts) at most three chunks ahead, so the caller's
 * thread only replays. Throws TraceError as TraceReader does.
 */
export async function* threadedChunks(path: string, state: ReadState): AsyncGenerator<DecodedChunk> {
  const w = new Worker(workerScript(import.meta.url, 'read-worker.js'), { workerData: { path } });
  const queue: ReadWorkerMessage[] = [];
  let notify: (() => void) | null = null;
  let failure: Error | null = null;
  const poke = (): void => {
    const n = notify;
    notify = null;
    if (n !== null) n();
  };
  w.on('message', (m: ReadWorkerMessage) => { queue.push(m); poke(); });
  w.on('error', (e) => { failure = e; poke(); });
  w.on('exit', (code) => { if (failure === null) failure = new Error(`trace reader thread exited with code ${code}`); poke(); });
  w.postMessage({ credit: 3 });
  try {
    for (;;) {
      while (queue.length === 0) {
        if (failure !== null) throw failure;
        await new Promise<void>((r) => { notify = r; });
      }
      const m = queue.shift()!;
      if (m.type === 'error') throw m.name === 'TraceError' ? new TraceError(m.message) : new Error(m.message);
      if (m.type === 'end') {
        state.bytesRead = m.bytesRead;
        state.totals = { chunks: m.chunks, records: m.records, accesses: m.accesses };
        return;
      }
      w.postMessage({ credit: 1 });
      state.bytesRead = m.bytesRead;
      yield { index: m.index, offset: m.offset, firstRecord: m.firstRecord, nOps: m.nOps, ops: m.ops, addr: m.addr, args: m.args, blob: m.blob };
    }
  } finally {
    w.removeAllListeners('exit');
    await w.terminate();
  }
}
