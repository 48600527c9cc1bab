/**
 * Opening a trace file for import: plain, gzip or xz, told apart by their
 * magic bytes (gzip 1f 8b; xz fd 37 7a 58 5a 00), never by the name. The
 * decompressed bytes stream in pieces; `consumed` says how many of the
 * file's own bytes are behind the piece just read (for progress), and
 * `error` turns a failure of the read or of the decompressor into an
 * ImportError that says what is wrong and where.
 *
 * xz is decoded by the xz-decompress package (xz-embedded compiled to
 * WebAssembly, no native code): the ChampSim trace sets are distributed as
 * .xz, and Node has no xz decoder of its own.
 */
import { createReadStream, type ReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { Gunzip } from 'node:zlib';
import type XzModule from 'xz-decompress';
import type { ImportStats, RecordChunk } from './importers.js';

/** A malformed trace: the message names the file and line or record (or, for damaged compressed data, the offset). */
export class ImportError extends Error {}

export type Compression = 'none' | 'gzip' | 'xz';

export interface TraceInput {
  compression: Compression;
  stream: AsyncIterable<Uint8Array>;
  /** The file's bytes consumed once `piece` (the piece just read) is counted. */
  consumed(piece: Uint8Array): number;
  /** The ImportError for a failure while reading; `after` is appended (what was read before it). */
  error(e: unknown, after: string): ImportError;
  close(): void;
}

/** Opens a trace file for reading; a failure is an ImportError that names the file and the reason. */
async function openTrace(path: string): Promise<FileHandle> {
  try {
    return await open(path, 'r');
  } catch (e) {
    throw new ImportError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
}

/** The compression of a file, from its first 6 bytes. */
export async function compressionOf(path: string): Promise<Compression> {
  const fh = await openTrace(path);
  try {
    const b = Buffer.alloc(6);
    const { bytesRead } = await fh.read(b, 0, 6, 0);
    if (bytesRead >= 2 && b[0] === 0x1f && b[1] === 0x8b) return 'gzip';
    if (bytesRead === 6 && b.equals(XZ_MAGIC)) return 'xz';
    return 'none';
  } catch (e) {
    throw new ImportError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  } finally {
    await fh.close();
  }
}

const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);

/** What xz-embedded's return codes mean (xz.h, enum xz_ret). */
const XZ_ERRORS: Record<number, string> = {
  2: 'an integrity check of a kind this decoder does not support',
  3: 'out of memory',
  4: 'the dictionary is larger than the decoder allows',
  5: 'not xz data (bad stream header)',
  6: 'unsupported xz options (a filter other than LZMA2, or a BCJ filter)',
  7: 'corrupt xz data',
  8: 'truncated xz data: the file ends inside the xz stream',
};

/**
 * The bytes of a plain file in pieces of at most `size`, each read into the
 * same buffer: a piece is valid only until the next one is asked for.
 * Reading a large trace this way allocates one buffer, not one a piece
 * (whose fresh memory the kernel must fault in and clear, and the garbage
 * collector then reclaim). `read` counts the bytes read.
 */
async function* plainPieces(path: string, size: number, read: { bytes: number }, range?: ByteRange): AsyncGenerator<Uint8Array> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(size);
    const end = range?.end ?? Infinity;
    for (;;) {
      const want = Math.min(size, end - read.bytes);
      if (want <= 0) return;
      const { bytesRead } = await fh.read(buf, 0, want, range === undefined ? null : read.bytes);
      if (bytesRead === 0) return;
      read.bytes += bytesRead;
      yield buf.subarray(0, bytesRead);
    }
  } finally {
    await fh.close();
  }
}

/** Bytes `start` up to `end` of a plain file (a part of a split parse, see stream.ts). */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Opens `path` for import. `highWaterMark` is the read size of an
 * uncompressed file (compressed files are read 64 KiB at a time). With
 * `reuse`, the pieces of an uncompressed file are read into one buffer, so
 * each is valid only until the next is asked for (the importers copy what
 * they keep of a piece).
 */
export async function openTraceInput(path: string, highWaterMark: number, reuse = false, range?: ByteRange): Promise<TraceInput> {
  const compression = await compressionOf(path);
  if (range !== undefined && (compression !== 'none' || !reuse)) throw new Error(`${path}: only a plain file is read in parts`);
  // The xz decoder (WebAssembly) loads only for an xz file: every trace
  // thread imports this module, few read xz.
  const xz: typeof XzModule | null = compression === 'xz' ? (await import('xz-decompress')).default : null;
  // zlib and the stream module likewise, for a compressed file only (a few ms of start-up in every thread).
  const createGunzip = compression === 'gzip' ? (await import('node:zlib')).createGunzip : null;
  const Readable = xz !== null ? (await import('node:stream')).Readable : null;
  const plain = compression === 'none' && reuse ? { bytes: range?.start ?? 0 } : null;
  const raw: ReadStream | null = plain === null ? createReadStream(path, { highWaterMark: compression === 'none' ? highWaterMark : 65536 }) : null;
  const rawRead = (): number => (raw !== null ? raw.bytesRead : plain!.bytes);
  let gunzip: Gunzip | null = null;
  let stream: AsyncIterable<Uint8Array>;
  let fed = 0;
  let consumed: (piece: Uint8Array) => number;
  if (raw === null) {
    const pieces = plainPieces(path, highWaterMark, plain!, range);
    stream = pieces;
    consumed = (piece) => (fed += piece.length);
  } else if (createGunzip !== null) {
    const g = createGunzip({ chunkSize: 1 << 18 });
    gunzip = g;
    // pipe() does not pass errors on: a read error ends the gunzip stream with it.
    raw.on('error', (e) => g.destroy(e));
    stream = raw.pipe(g);
    // inflate's input as it consumes it (what it has read ahead does not count)
    consumed = () => g.bytesWritten;
  } else if (xz !== null) {
    stream = new xz.XzReadableStream(Readable!.toWeb(raw) as ReadableStream<Uint8Array>) as unknown as AsyncIterable<Uint8Array>;
    consumed = () => raw.bytesRead;
  } else {
    stream = raw;
    consumed = (piece) => (fed += piece.length);
  }
  const error = (e: unknown, after: string): ImportError => {
    const code = (e as NodeJS.ErrnoException).code ?? '';
    const message = e instanceof Error ? e.message : String(e);
    if (gunzip !== null && code === 'Z_BUF_ERROR') {
      return new ImportError(`${path}: truncated gzip data: the file ends at compressed offset ${rawRead()}, inside the gzip stream${after}`);
    }
    if (gunzip !== null && code.startsWith('Z_')) {
      return new ImportError(`${path}: corrupt gzip data at compressed offset ${gunzip.bytesWritten} (${message})${after}`);
    }
    const xzCode = compression === 'xz' ? /error code (\d+)/.exec(message) : null;
    if (xzCode !== null) {
      const why = XZ_ERRORS[Number(xzCode[1])] ?? `xz decoder error ${xzCode[1]}`;
      return new ImportError(`${path}: ${why}, within the first ${rawRead()} compressed bytes${after}`);
    }
    return new ImportError(`${path}: cannot read at offset ${rawRead()} (${code || message})`);
  };
  const close = (): void => {
    if (raw !== null) raw.destroy();
    if (gunzip !== null) gunzip.destroy();
  };
  return { compression, stream, consumed, error, close };
}

/**
 * The import loop every importer shares: streams `path` (decompressed),
 * hands each piece to `feed`, yields the record chunks it completes, then
 * those of `finish`. `stats.bytes` moves through a piece's compressed span
 * in proportion as its chunks are handed out, so progress stays honest. A
 * read or decompression failure becomes an ImportError ending with
 * `readBefore()` (how much was read before it).
 */
export async function* importChunks(path: string, highWaterMark: number, stats: ImportStats,
  feed: (piece: Uint8Array) => RecordChunk[], finish: () => RecordChunk[], readBefore: () => string, range?: ByteRange): AsyncGenerator<RecordChunk> {
  // Each piece is fed before the next is read, and `feed` keeps no view of it.
  const input = await openTraceInput(path, highWaterMark, true, range);
  try {
    try {
      for await (const piece of input.stream) {
        const before = stats.bytes;
        const after = input.consumed(piece);
        const chunks = feed(piece);
        for (let i = 0; i < chunks.length; i++) {
          stats.bytes = Math.round(before + ((after - before) * (i + 1)) / chunks.length);
          yield chunks[i]!;
        }
        stats.bytes = after;
      }
    } catch (e) {
      if (e instanceof ImportError) throw e;
      throw input.error(e, readBefore());
    }
    for (const c of finish()) yield c;
  } finally {
    input.close();
  }
}

/**
 * Where a plain file is cut into `parts` parts at line ends: `parts - 1`
 * offsets, each just past the first `\n` at or after its share of the file
 * (k * size / parts), or the file's size when no line ends after it. Every
 * parse thread of a split parse computes the same cuts.
 */
export async function lineCuts(path: string, parts: number): Promise<number[]> {
  const fh = await openTrace(path);
  try {
    const size = (await fh.stat()).size;
    const buf = Buffer.allocUnsafe(65536);
    const cuts: number[] = [];
    for (let k = 1; k < parts; k++) {
      let at = Math.max(Math.floor((size * k) / parts), cuts[cuts.length - 1] ?? 0);
      let cut = size;
      while (at < size) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, at);
        if (bytesRead === 0) break;
        const nl = buf.subarray(0, bytesRead).indexOf(10);
        if (nl >= 0) {
          cut = at + nl + 1;
          break;
        }
        at += bytesRead;
      }
      cuts.push(cut);
    }
    return cuts;
  } catch (e) {
    throw new ImportError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  } finally {
    await fh.close();
  }
}
