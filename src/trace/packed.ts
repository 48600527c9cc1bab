/**
 * The parsed chunks of a parse-once stream (stream.ts) as they travel
 * between threads: each in a SharedArrayBuffer of exactly its size. Apart
 * from stream.ts so that the parse thread, which only packs chunks, loads
 * nothing else of the broker.
 */
import type { RecordChunk } from './importers.js';

/** One parsed chunk: `n` records, `nArgs` high halves, and the file's bytes consumed up to its end. */
export interface StreamChunk {
  index: number;
  n: number;
  nArgs: number;
  /** bytes of the file read (compressed bytes of a gzipped file) when the chunk was complete */
  bytes: number;
  /** ops (u16, padded to 4 bytes), then addr (i32), then args (i32) */
  sab: SharedArrayBuffer;
}

/** Copies a parsed chunk into a SharedArrayBuffer of exactly its size. */
export function packChunk(rc: RecordChunk, index: number, bytes: number): StreamChunk {
  const opb = (rc.n * 2 + 3) & ~3;
  const sab = new SharedArrayBuffer(opb + rc.n * 4 + rc.nArgs * 4);
  new Uint16Array(sab, 0, rc.n).set(rc.ops.subarray(0, rc.n));
  new Int32Array(sab, opb, rc.n).set(rc.addr.subarray(0, rc.n));
  new Int32Array(sab, opb + rc.n * 4, rc.nArgs).set(rc.args.subarray(0, rc.nArgs));
  return { index, n: rc.n, nArgs: rc.nArgs, bytes, sab };
}

/** The typed-array views of a chunk. */
export function chunkViews(c: StreamChunk): { ops: Uint16Array; addr: Int32Array; args: Int32Array } {
  const opb = (c.n * 2 + 3) & ~3;
  return { ops: new Uint16Array(c.sab, 0, c.n), addr: new Int32Array(c.sab, opb, c.n), args: new Int32Array(c.sab, opb + c.n * 4, c.nArgs) };
}
