/**
 * Writes a trace: records go into typed-array columns; a full chunk is
 * encoded (see format.ts), compressed with raw DEFLATE and written out.
 * Memory is one chunk, whatever the trace's length.
 *
 * Synchronous on purpose: the recorder is an MmuObserver called in the
 * middle of a guest access and cannot wait.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { crc32, deflateRawSync } from 'node:zlib';
import { createLog } from '../mmu/log.js';
import {
  ARITY, BODY_HEAD_BYTES, CHUNK_HEAD_BYTES, encodeHeader, END_BYTES, KIND_FETCH, MAGIC_CHUNK, MAGIC_END, OP_ACCESS,
  OP_HI, OP_KIND_SHIFT, PAGE_BYTES, R_PAGE, R_ZPAGE, type TraceHeader,
} from './format.js';

const log = createLog('vmmu:trace');

/** Where encoded bytes go. */
export interface TraceSink {
  write(bytes: Uint8Array): void;
  close(): void;
}

/** A sink writing to a file (created or truncated). */
export function fileSink(path: string): TraceSink {
  const fd = openSync(path, 'w');
  return {
    write(bytes: Uint8Array): void {
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    },
    close(): void { closeSync(fd); },
  };
}

/** A sink collecting everything in memory (tests, small traces). */
export function memorySink(): TraceSink & { bytes(): Buffer } {
  const parts: Buffer[] = [];
  return {
    write(b: Uint8Array): void { parts.push(Buffer.from(b)); },
    close(): void {},
    bytes: () => Buffer.concat(parts),
  };
}

export interface WriterOptions {
  /** DEFLATE level 0..9 (default 6) */
  level?: number;
  /** records per chunk (default 65536) */
  chunkRecords?: number;
}

/** Totals of a finished trace. */
export interface WriterStats {
  records: number;
  accesses: number;
  chunks: number;
  pageImages: number;
  bytes: number;
}

const BLOB_LIMIT = 1 << 20;

export class TraceWriter {
  // ---- the open chunk (public so a recorder can fill it inline) ----
  readonly ops: Uint16Array;
  nOps = 0;
  readonly addr: Int32Array;
  nAddr = 0;
  readonly args: Int32Array;
  nArgs = 0;
  blob: Uint8Array;
  nBlob = 0;
  /** previous access address of each class (0 data, 1 fetch), for the deltas */
  prevData = 0;
  prevFetch = 0;
  readonly chunkRecords: number;
  // ---- totals ----
  records = 0;
  accesses = 0;
  chunks = 0;
  pageImages = 0;
  bytes = 0;
  private readonly level: number;
  private closed = false;

  /** Writes the header at once. Throws RangeError for a bad option. */
  constructor(private readonly sink: TraceSink, header: TraceHeader, options: WriterOptions = {}) {
    this.level = options.level ?? 6;
    this.chunkRecords = options.chunkRecords ?? 65536;
    if (!Number.isInteger(this.level) || this.level < 0 || this.level > 9) throw new RangeError(`compression level ${this.level} is outside 0..9`);
    if (!Number.isInteger(this.chunkRecords) || this.chunkRecords < 16 || this.chunkRecords > 1 << 20) throw new RangeError(`chunk size ${this.chunkRecords} records is outside 16..1048576`);
    this.ops = new Uint16Array(this.chunkRecords);
    this.addr = new Int32Array(this.chunkRecords);
    this.args = new Int32Array(this.chunkRecords * 6);
    this.blob = new Uint8Array(BLOB_LIMIT + PAGE_BYTES);
    this.put(encodeHeader(header));
  }

  private put(b: Uint8Array): void {
    this.sink.write(b);
    this.bytes += b.length;
  }

  /** Appends an access record: `op` from accessOp(), gva gvaHi:gvaLo. */
  access(op: number, lo: number, hi: number): void {
    if (((op >> OP_KIND_SHIFT) & 3) === KIND_FETCH) {
      this.addr[this.nAddr++] = (lo | 0) - this.prevFetch;
      this.prevFetch = lo | 0;
    } else {
      this.addr[this.nAddr++] = (lo | 0) - this.prevData;
      this.prevData = lo | 0;
    }
    if (hi !== 0) {
      this.args[this.nArgs++] = hi;
      op |= OP_HI;
    }
    this.ops[this.nOps++] = op | OP_ACCESS;
    this.accesses++;
    if (this.nOps === this.chunkRecords) this.flush();
  }

  /** Appends a non-access record with its operands (as many as ARITY says). */
  event(op: number, a = 0, b = 0, c = 0, d = 0, e = 0, f = 0): void {
    const n = ARITY[op]!;
    if (n < 0) throw new RangeError(`no record type ${op}`);
    const args = this.args;
    let k = this.nArgs;
    if (n > 0) args[k++] = a;
    if (n > 1) args[k++] = b;
    if (n > 2) args[k++] = c;
    if (n > 3) args[k++] = d;
    if (n > 4) args[k++] = e;
    if (n > 5) args[k++] = f;
    this.nArgs = k;
    this.ops[this.nOps++] = op;
    if (this.nOps === this.chunkRecords) this.flush();
  }

  /** Appends a page image of guest frame `gfn` (a ZPAGE when all zero). */
  page(gfn: number, bytes: Uint8Array): void {
    let zero = true;
    for (let i = 0; i < PAGE_BYTES; i += 4) {
      if (bytes[i] !== 0 || bytes[i + 1] !== 0 || bytes[i + 2] !== 0 || bytes[i + 3] !== 0) { zero = false; break; }
    }
    this.pageImages++;
    const lo = gfn % 4294967296, hi = Math.floor(gfn / 4294967296);
    if (zero) {
      this.event(R_ZPAGE, lo, hi);
      return;
    }
    this.blob.set(bytes.subarray(0, PAGE_BYTES), this.nBlob);
    this.nBlob += PAGE_BYTES;
    this.event(R_PAGE, lo, hi);
    if (this.nBlob >= BLOB_LIMIT && this.nOps > 0) this.flush();
  }

  /** Encodes, compresses and writes the open chunk (nothing when it is empty). */
  flush(): void {
    const nOps = this.nOps;
    if (nOps === 0) return;
    const nAddr = this.nAddr, nArgs = this.nArgs, nBlob = this.nBlob;
    const opBytes = (nOps * 2 + 3) & ~3;
    const size = BODY_HEAD_BYTES + opBytes + nAddr * 4 + nArgs * 4 + nBlob;
    // A plain Uint8Array and copies or standalone loops: this runs for every record.
    const body = new Uint8Array(size);
    const dv = new DataView(body.buffer);
    dv.setUint32(0, nOps, true);
    dv.setUint32(4, nAddr, true);
    dv.setUint32(8, nArgs, true);
    dv.setUint32(12, nBlob, true);
    // The ops column is little-endian u16: the host's own layout (see HostMemory).
    body.set(new Uint8Array(this.ops.buffer, 0, nOps * 2), BODY_HEAD_BYTES);
    let at = BODY_HEAD_BYTES + opBytes;
    planar(body, at, this.addr, nAddr, true);
    at += nAddr * 4;
    planar(body, at, this.args, nArgs, false);
    at += nArgs * 4;
    body.set(this.blob.subarray(0, nBlob), at);
    const z = deflateRawSync(body, { level: this.level });
    const head = Buffer.alloc(CHUNK_HEAD_BYTES);
    head.writeUInt32LE(MAGIC_CHUNK, 0);
    head.writeUInt32LE(z.length, 4);
    head.writeUInt32LE(size, 8);
    head.writeUInt32LE(nOps, 12);
    head.writeUInt32LE(crc32(z), 16);
    this.put(head);
    this.put(z);
    log('chunk %d: %d records, %d -> %d bytes', this.chunks, nOps, size, z.length);
    this.records += nOps;
    this.chunks++;
    this.nOps = 0;
    this.nAddr = 0;
    this.nArgs = 0;
    this.nBlob = 0;
    this.prevData = 0;
    this.prevFetch = 0;
  }

  /** Writes the last chunk and the end record, closes the sink. Returns the totals. */
  close(): WriterStats {
    if (!this.closed) {
      this.closed = true;
      this.flush();
      const end = Buffer.alloc(END_BYTES);
      end.writeUInt32LE(MAGIC_END, 0);
      end.writeUInt32LE(this.chunks, 4);
      end.writeDoubleLE(this.records, 8);
      end.writeDoubleLE(this.accesses, 16);
      end.writeUInt32LE(crc32(end.subarray(0, END_BYTES - 4)), END_BYTES - 4);
      this.put(end);
      this.sink.close();
    }
    return { records: this.records, accesses: this.accesses, chunks: this.chunks, pageImages: this.pageImages, bytes: this.bytes };
  }
}

/** Writes n int32 words byte-planar at `at` (zigzag first when `zz`). */
function planar(out: Uint8Array, at: number, words: Int32Array, n: number, zz: boolean): void {
  const p1 = at + n, p2 = at + 2 * n, p3 = at + 3 * n;
  for (let i = 0; i < n; i++) {
    let v = words[i]!;
    if (zz) v = (v << 1) ^ (v >> 31);
    out[at + i] = v & 0xff;
    out[p1 + i] = (v >>> 8) & 0xff;
    out[p2 + i] = (v >>> 16) & 0xff;
    out[p3 + i] = v >>> 24;
  }
}

