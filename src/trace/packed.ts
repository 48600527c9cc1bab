/**
 * The parsed chunks of a parse-once stream (stream.ts) as they travel
 * between threads: each in a SharedArrayBuffer. Apart from stream.ts so
 * that the parse thread, which only makes chunks, loads nothing else of
 * the broker.
 *
 * A chunk's buffer holds room for `cap` records: ops (u16, padded to 4
 * bytes), then addr (i32), then args (i32), each `cap` long. The parse
 * thread parses straight into buffers of RECORD_CHUNK records (no copy;
 * the pages of room it does not fill are never touched); packChunk copies
 * a chunk made elsewhere into a buffer of exactly its size.
 */
import type { RecordChunk } from './importers.js';

/** One parsed chunk: `n` records, `nArgs` high halves, and the file's bytes consumed up to its end. */
export interface StreamChunk {
  index: number;
  n: number;
  nArgs: number;
  /** bytes of the file read (compressed bytes of a gzipped file) when the chunk was complete */
  bytes: number;
  /** records the buffer has room for (the arrays' length, see above) */
  cap: number;
  sab: SharedArrayBuffer;
}

/** Byte offsets of addr and args in a chunk buffer of `cap` records. */
function addrAt(cap: number): number {
  return (cap * 2 + 3) & ~3;
}

/** Bytes of a chunk buffer of `cap` records. */
function bufferBytes(cap: number): number {
  return addrAt(cap) + cap * 8;
}

/** An empty RecordChunk of `cap` records whose arrays are views of one SharedArrayBuffer (`sab`, or a new one). */
export function sharedRecordChunk(cap: number, sab?: SharedArrayBuffer): RecordChunk {
  const b = sab ?? new SharedArrayBuffer(bufferBytes(cap));
  const a = addrAt(cap);
  return { n: 0, nArgs: 0, ops: new Uint16Array(b, 0, cap), addr: new Int32Array(b, a, cap), args: new Int32Array(b, a + cap * 4, cap) };
}

/**
 * The StreamChunk of a parsed chunk: its own buffer when it was made by
 * sharedRecordChunk, else a copy into a SharedArrayBuffer of exactly its
 * size.
 */
export function packChunk(rc: RecordChunk, index: number, bytes: number): StreamChunk {
  const cap = rc.ops.length;
  const own = rc.ops.buffer;
  if (own instanceof SharedArrayBuffer && rc.ops.byteOffset === 0 && own.byteLength === bufferBytes(cap)
    && rc.addr.buffer === own && rc.addr.byteOffset === addrAt(cap) && rc.args.buffer === own && rc.args.byteOffset === addrAt(cap) + cap * 4) {
    return { index, n: rc.n, nArgs: rc.nArgs, bytes, cap, sab: own };
  }
  const n = rc.n;
  const sab = new SharedArrayBuffer(bufferBytes(n));
  const a = addrAt(n);
  new Uint16Array(sab, 0, n).set(rc.ops.subarray(0, n));
  new Int32Array(sab, a, n).set(rc.addr.subarray(0, n));
  new Int32Array(sab, a + n * 4, n).set(rc.args.subarray(0, rc.nArgs));
  return { index, n, nArgs: rc.nArgs, bytes, cap: n, sab };
}

/** Bytes of a chunk's buffer its records take (the rest is room never touched). */
export function chunkBytes(c: StreamChunk): number {
  return c.n * 6 + c.nArgs * 4;
}

/** The typed-array views of a chunk. */
export function chunkViews(c: StreamChunk): { ops: Uint16Array; addr: Int32Array; args: Int32Array } {
  const a = addrAt(c.cap);
  return { ops: new Uint16Array(c.sab, 0, c.n), addr: new Int32Array(c.sab, a, c.n), args: new Int32Array(c.sab, a + c.cap * 4, c.nArgs) };
}
