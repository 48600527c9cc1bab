/**
 * The ChampSim instruction-trace importer.
 *
 * A ChampSim trace (the DPC-3 and CRC-2 trace sets, and what ChampSim's Pin
 * tracer writes) is a sequence of fixed 64-byte records, one a retired
 * instruction, little-endian, no header:
 *
 * | offset | size | field |
 * | ---: | ---: | --- |
 * | 0 | 8 | ip |
 * | 8 | 1 | is_branch (0 or 1) |
 * | 9 | 1 | branch_taken (0 or 1) |
 * | 10 | 2 | destination register ids |
 * | 12 | 4 | source register ids |
 * | 16 | 16 | two destination (store) addresses, 0 = none |
 * | 32 | 32 | four source (load) addresses, 0 = none |
 *
 * Each record becomes: a 1-byte instruction fetch at ip (unless `ipFetches`
 * is false), a 1-byte read at every nonzero source address, in slot order,
 * then a 1-byte write at every nonzero destination address. ChampSim records
 * no access sizes (its model works on cache lines), so every access is one
 * byte and none crosses a page. Registers and branch flags carry no memory
 * access; the flags are checked (0 or 1), so that a file in another format
 * read as ChampSim is most often stopped at its first record (whenever its
 * bytes 8 or 9 are above 1, as in any text) rather than replayed as
 * nonsense.
 *
 * The file may be plain, gzip- or xz-compressed (the public sets are .xz).
 * Errors name the file, the record number (from 1) and its byte offset in
 * the decompressed stream.
 */
import { KIND_FETCH, KIND_READ, KIND_WRITE, OP_ACCESS, OP_HI, OP_KIND_SHIFT } from './format.js';
import { importChunks } from './input.js';
import { ImportError, newRecordChunk, RECORD_CHUNK, type ImportOptions, type ImportStats, type RecordChunk } from './importers.js';

/** Bytes in one ChampSim record. */
export const CHAMPSIM_RECORD_BYTES = 64;
/** Accesses one record can make: a fetch, four loads, two stores. */
const MAX_PER_RECORD = 7;

/** Whether a file name looks like a ChampSim trace (`*.champsimtrace[.xz|.gz]`, `*.champsim[.xz|.gz]`). */
export function looksLikeChampSim(path: string): boolean {
  return /\.champsim(trace)?(\.(xz|gz))?$/i.test(path);
}

/**
 * Parses ChampSim records fed in arbitrary pieces into record chunks.
 * `feed` takes any number of bytes; a record split between two pieces is
 * carried over. `finish` says whether the stream ended inside a record.
 */
export class ChampSimParser {
  private carry = new Uint8Array(CHAMPSIM_RECORD_BYTES);
  private carried = 0;
  private out: RecordChunk = newRecordChunk();
  /** Records read so far. */
  records = 0;

  constructor(private readonly path: string, private readonly ipFetches: boolean, private readonly stats: ImportStats) {}

  feed(chunk: Uint8Array): RecordChunk[] {
    const done: RecordChunk[] = [];
    let i = 0;
    if (this.carried > 0) {
      const take = Math.min(CHAMPSIM_RECORD_BYTES - this.carried, chunk.length);
      this.carry.set(chunk.subarray(0, take), this.carried);
      this.carried += take;
      i = take;
      if (this.carried < CHAMPSIM_RECORD_BYTES) return done;
      this.record(this.carry, 0, done);
      this.carried = 0;
    }
    for (; i + CHAMPSIM_RECORD_BYTES <= chunk.length; i += CHAMPSIM_RECORD_BYTES) this.record(chunk, i, done);
    if (i < chunk.length) {
      this.carry.set(chunk.subarray(i), 0);
      this.carried = chunk.length - i;
    }
    return done;
  }

  /** The last chunk; an ImportError when the stream ended inside a record. */
  finish(): RecordChunk[] {
    if (this.carried > 0) {
      const at = this.records * CHAMPSIM_RECORD_BYTES;
      throw new ImportError(`${this.path}: record ${this.records + 1} at offset ${at} is truncated: the data ends after ${this.carried} of its ${CHAMPSIM_RECORD_BYTES} bytes (is this a ChampSim trace?)`);
    }
    const done: RecordChunk[] = [];
    if (this.out.n > 0) done.push(this.out);
    this.out = newRecordChunk();
    return done;
  }

  private record(b: Uint8Array, at: number, done: RecordChunk[]): void {
    const n = ++this.records;
    this.stats.lines = n;
    const isBranch = b[at + 8]!;
    const taken = b[at + 9]!;
    if (isBranch > 1 || taken > 1) {
      const why = isBranch > 1 ? `is_branch is ${isBranch}` : `branch_taken is ${taken}`;
      const err = `${this.path}: record ${n} at offset ${(n - 1) * CHAMPSIM_RECORD_BYTES}: ${why}, not 0 or 1 (is this a ChampSim trace?)`;
      throw new ImportError(err);
    }
    if (this.out.n > RECORD_CHUNK - MAX_PER_RECORD) {
      done.push(this.out);
      this.out = newRecordChunk();
    }
    if (this.ipFetches) this.put(KIND_FETCH, b, at);
    for (let k = 0; k < 4; k++) this.put(KIND_READ, b, at + 32 + k * 8);
    for (let k = 0; k < 2; k++) this.put(KIND_WRITE, b, at + 16 + k * 8);
  }

  /** A 1-byte access at the little-endian u64 at b[at]; nothing when it is 0 (an empty slot; never for the ip). */
  private put(kind: number, b: Uint8Array, at: number): void {
    const lo = b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24);
    const hi = b[at + 4]! | (b[at + 5]! << 8) | (b[at + 6]! << 16) | (b[at + 7]! << 24);
    if (lo === 0 && hi === 0 && kind !== KIND_FETCH) return;
    const o = this.out;
    o.ops[o.n] = OP_ACCESS | (hi !== 0 ? OP_HI : 0) | (kind << OP_KIND_SHIFT) | 1;
    o.addr[o.n++] = lo;
    if (hi !== 0) o.args[o.nArgs++] = hi;
    this.stats.accesses++;
  }
}

/**
 * Streams a ChampSim trace (plain, .gz or .xz) as chunks of access records.
 * `stats.lines` counts records (instructions); `stats.bytes` the file's
 * bytes consumed (compressed bytes for a compressed file).
 */
export function readChampSimRecords(path: string, options: ImportOptions, stats: ImportStats): AsyncGenerator<RecordChunk> {
  const p = new ChampSimParser(path, options.pinFetches ?? true, stats);
  return importChunks(path, 1 << 20, stats, (piece) => p.feed(piece), () => p.finish(),
    () => `; ${p.records} record${p.records === 1 ? '' : 's'} read before it`);
}
