/**
 * Importers for text traces made by tools nobody here wrote:
 *
 * - Valgrind lackey (`valgrind --tool=lackey --trace-mem=yes`): one access a
 *   line, `I  addr,size` (instruction fetch), ` L addr,size` (load),
 *   ` S addr,size` (store), ` M addr,size` (modify: a load then a store);
 *   lines starting `==` or `--` are Valgrind's own messages.
 * - The CMU cache-lab format: the same lines (its traces are lackey output).
 * - Intel Pin's pinatrace (`ip: R addr` / `ip: W addr`, an optional size
 *   after the address, `#` comment lines such as `#eof`). Pinatrace has no
 *   instruction fetches; with `pinFetches` (the default) a fetch of 1 byte at
 *   `ip` is added whenever the ip changes from the previous line.
 *
 * Parsing streams the file (gzip-compressed too) and works on bytes, never
 * on per-line strings: well-formed lines of the usual shape go through a
 * tight byte loop, anything else (comments, messages, tabs, malformed
 * lines) through the general line parser, which reports errors. It yields
 * chunks of access records in the form of a binary trace's decoded chunks
 * (RecordChunk: u16 access ops, low address halves, high halves), or, for
 * readTextTrace, batches of accesses. An access that crosses a 4 KiB page becomes
 * two accesses, as the MMU splits them. A malformed line is an ImportError
 * naming the file and line, or, with onError 'skip', is counted and skipped.
 *
 * Limits, so that no input costs unbounded time or memory: a line is at
 * most MAX_LINE_BYTES long, an access at most a page (4096 bytes), and an
 * access may not run past the top of the 64-bit address space.
 */
import { KIND_FETCH, KIND_READ, KIND_WRITE, OP_ACCESS, OP_HI, OP_KIND_SHIFT } from './format.js';

import { ImportError, importChunks, openTraceInput, type ByteRange } from './input.js';
import { looksLikeChampSim, readChampSimRecords } from './champsim.js';

export { ImportError, type ByteRange };

export type ImportFormat = 'lackey' | 'cachelab' | 'pinatrace' | 'champsim';
export const IMPORT_FORMATS: readonly ImportFormat[] = ['lackey', 'cachelab', 'pinatrace', 'champsim'];

/** The longest line the importers read (the longest real lackey or pinatrace line is under 100 bytes). */
export const MAX_LINE_BYTES = 4096;
/** The largest access size: an access spans at most two pages. */
export const MAX_ACCESS_BYTES = 4096;

const TWO32 = 4294967296;

export interface ImportOptions {
  format: ImportFormat;
  /** 'stop' (default): the first malformed line is an error; 'skip': count and go on */
  onError?: 'stop' | 'skip';
  /** pinatrace: add an instruction fetch at each new ip (default true) */
  pinFetches?: boolean;
}

/** Malformed lines an import keeps the message of (ImportStats.errors). */
export const ERRORS_KEPT = 5;

/** What an import saw (filled in as it goes). */
export interface ImportStats {
  lines: number;
  accesses: number;
  skipped: number;
  /** the first few malformed lines, as "file:line: reason" */
  errors: string[];
  /** bytes of the file read so far (compressed bytes for .gz) */
  bytes: number;
}

export function newImportStats(): ImportStats {
  return { lines: 0, accesses: 0, skipped: 0, errors: [], bytes: 0 };
}

/** A batch of accesses: kind (KIND_*), size in bytes (0..255, 255 = 255 or more), gva halves. */
export interface AccessBatch {
  n: number;
  kind: Uint8Array;
  size: Uint8Array;
  lo: Int32Array;
  hi: Int32Array;
}

/**
 * Parsed accesses in the record form of a binary trace's decoded chunk
 * (docs/trace-format.md, "Records"): one access op a record (bit 15 set,
 * HI, kind, size; no U or AC bit), the low 32 bits of each address, and
 * the high 32 bits of the records with OP_HI, in record order.
 */
export interface RecordChunk {
  n: number;
  nArgs: number;
  ops: Uint16Array;
  addr: Int32Array;
  args: Int32Array;
}

/** Records in a full RecordChunk. */
export const RECORD_CHUNK = 65536;
/** Chunks at the start of a text trace's stream that hold fewer than RECORD_CHUNK records (see FIRST_FULL). */
export const SMALL_CHUNKS = 4;
/** A chunk is handed out once this full: a line makes at most 4 records (a modify that crosses a page). */
const CHUNK_FULL = RECORD_CHUNK - 4;
/**
 * The first chunk of a parse is handed out at this many records, each next
 * one at twice as many, up to CHUNK_FULL: a replay waiting for the first
 * chunk starts while the parser, still running unoptimized code, fills
 * the next ones.
 */
const FIRST_FULL = 4096;

/** An empty RecordChunk of RECORD_CHUNK records (the text and ChampSim importers fill these). */
export function newRecordChunk(): RecordChunk {
  return { n: 0, nArgs: 0, ops: new Uint16Array(RECORD_CHUNK), addr: new Int32Array(RECORD_CHUNK), args: new Int32Array(RECORD_CHUNK) };
}

/** The accesses of a RecordChunk as an AccessBatch. */
function batchOf(c: RecordChunk): AccessBatch {
  const n = c.n;
  const b: AccessBatch = { n, kind: new Uint8Array(n), size: new Uint8Array(n), lo: c.addr.slice(0, n), hi: new Int32Array(n) };
  for (let i = 0, g = 0; i < n; i++) {
    const op = c.ops[i]!;
    b.kind[i] = (op >> OP_KIND_SHIFT) & 3;
    b.size[i] = op & 0xff;
    if (op & OP_HI) b.hi[i] = c.args[g++]!;
  }
  return b;
}

/** Bytes of a text trace (decompressed) that format detection reads. */
const DETECT_BYTES = 65536;

/**
 * The first `max` bytes of a text trace, decompressed when it is gzipped,
 * and whether that is the whole file. A gzip stream damaged within those
 * bytes is an ImportError unless some text came out before the damage.
 */
async function textHead(path: string, max: number): Promise<{ head: Buffer; whole: boolean }> {
  // A plain file's pieces come in one reused buffer (no read stream to load): each is copied.
  const input = await openTraceInput(path, 16384, true);
  const parts: Buffer[] = [];
  let n = 0;
  let whole = true;
  try {
    for await (const c of input.stream) {
      parts.push(Buffer.from(c));
      n += c.length;
      if (n > max) { whole = false; break; }
    }
  } catch (e) {
    if (n === 0) throw input.error(e, '');
    whole = false; // detect from what came out before the damage; the import reports the damage
  } finally {
    input.close();
  }
  return { head: Buffer.concat(parts).subarray(0, max), whole };
}

/** What one format's parser made of the head of a trace. */
interface Trial { format: ImportFormat; accesses: number; bad: BadLine | null }

/**
 * Guesses the format of a text trace by parsing its first 64 KiB with each
 * importer: the format whose parser reads every line (and finds accesses)
 * wins, so detection accepts exactly what the import accepts. When none
 * does, the ImportError names the line that fails (and why, in each format
 * that fails there). With onError 'skip', the format with the most accesses
 * wins even over malformed lines.
 */
export async function guessTextFormat(path: string, onError: 'stop' | 'skip' = 'stop'): Promise<ImportFormat> {
  // ChampSim traces are binary records with no magic: told by their name.
  if (looksLikeChampSim(path)) return 'champsim';
  const { head, whole } = await textHead(path, DETECT_BYTES);
  const trial = (format: ImportFormat): Trial => {
    const stats = newImportStats();
    const p = new LineParser(path, { format, onError: 'skip' }, stats);
    p.feed(head, whole);
    return { format, accesses: stats.accesses, bad: p.firstBad };
  };
  // Lackey is tried first and wins when it reads every line: the pinatrace
  // parse (which, on a lackey trace, reports every line as malformed) is
  // then of no use.
  const lackey = trial('lackey');
  if (lackey.bad === null && lackey.accesses > 0) return lackey.format;
  const trials: Trial[] = [lackey, trial('pinatrace')];
  const clean = trials.find((t) => t.bad === null && t.accesses > 0);
  if (clean) return clean.format;
  if (onError === 'skip') {
    const best = [...trials].sort((a, b) => b.accesses - a.accesses)[0]!;
    if (best.accesses > 0 && best.accesses !== trials.find((t) => t !== best)!.accesses) return best.format;
  }
  const [l, p] = trials as [Trial, Trial];
  const give = `give --import FORMAT (${IMPORT_FORMATS.join(', ')})`;
  if (l.bad === null || p.bad === null) {
    throw new ImportError(`${path}: no access lines in the first ${head.length} bytes, so the format cannot be told; ${give}`);
  }
  if (l.bad.line === p.bad.line) {
    throw new ImportError(`${path}:${l.bad.line}: line '${l.bad.text}' is neither lackey/cache-lab (${l.bad.why}) nor pinatrace (${p.bad.why}); ${give}`);
  }
  const t = l.bad.line > p.bad.line ? l : p;
  const bad = t.bad!;
  throw new ImportError(`${path}:${bad.line}: ${bad.why} in ${t.format} line '${bad.text}' (the lines before it read as ${t.format}); ${give} to choose the format`);
}

/**
 * Guesses the format of a text trace from its first lines: 'lackey' or
 * 'pinatrace', or null when neither fits (guessTextFormat says why).
 */
export async function detectTextFormat(path: string): Promise<ImportFormat | null> {
  try {
    return await guessTextFormat(path);
  } catch (e) {
    if (e instanceof ImportError) return null;
    throw e;
  }
}

/**
 * Streams the accesses of a text trace in batches. Throws ImportError at
 * the first malformed line unless onError is 'skip'. `stats` is updated as
 * the file is read; `stats.bytes` counts the file's bytes (compressed bytes
 * of a gzipped file) consumed up to the batch just handed out.
 */
export async function* readTextTrace(path: string, options: ImportOptions, stats: ImportStats = newImportStats()): AsyncGenerator<AccessBatch> {
  for await (const c of readTextRecords(path, options, stats)) yield batchOf(c);
}

/**
 * The same accesses as readTextTrace, as chunks of access records (at most
 * RECORD_CHUNK each; the arrays are the chunk's own, not reused, unless
 * `reuse`: then a chunk is valid only until the next one is asked for).
 * With `range` (a plain lackey or cache-lab file only), the lines of those
 * bytes alone, as a part of a parse split at line ends (stream.ts): the
 * range starts at a line's start and ends just past a line end, or at the
 * end of the file; line numbers in errors count from the range's start.
 */
export function readTextRecords(path: string, options: ImportOptions, stats: ImportStats = newImportStats(), reuse = false, range?: ByteRange,
  alloc?: () => RecordChunk): AsyncGenerator<RecordChunk> {
  if (range !== undefined && !splittable(options)) throw new Error(`${path}: a ${options.format} trace is not parsed in parts`);
  if (options.format === 'champsim') return readChampSimRecords(path, options, stats);
  const p = new LineParser(path, options, stats, true, alloc, range === undefined || range.start === 0);
  const chunks = importChunks(path, 1 << 20, stats, (piece) => p.feed(Buffer.from(piece.buffer, piece.byteOffset, piece.length), false),
    () => p.feed(Buffer.alloc(0), true), () => `; ${stats.lines} line${stats.lines === 1 ? '' : 's'} read before it`, range);
  return reuse ? recycled(chunks, p) : chunks;
}

/**
 * Whether a trace of this format can be parsed in parts cut at line ends:
 * lackey and cache-lab lines stand alone (a pinatrace line's fetch depends
 * on the line before it; ChampSim traces are records, not lines).
 */
export function splittable(options: ImportOptions): boolean {
  return options.format === 'lackey' || options.format === 'cachelab';
}

/**
 * readTextRecords with `reuse`: each chunk goes back to the parser when
 * the next one is asked for, and the parser fills it again instead of
 * allocating (the parse thread copies each chunk before it asks).
 */
async function* recycled(chunks: AsyncGenerator<RecordChunk>, p: LineParser): AsyncGenerator<RecordChunk> {
  for await (const c of chunks) {
    yield c;
    p.recycle(c);
  }
}

/** A malformed line, as detection reports it. */
interface BadLine { line: number; why: string; text: string }

/**
 * The byte-level parser: feed it chunks of the file, it hands back full
 * record chunks. Lines of the usual shape take a fast path (fastLackey,
 * fastPin: one pass over the bytes, no calls); a line it does not take is
 * read by the general path (line, pinLine), which accepts everything the
 * format allows and names what is wrong with a malformed line. Both emit
 * exactly the same records for a line both accept.
 */
export class LineParser {
  private carry: Buffer = Buffer.alloc(0);
  private out: RecordChunk;
  private readonly pin: boolean;
  private readonly skip: boolean;
  private readonly pinFetches: boolean;
  private lastIpLo = 0;
  private lastIpHi = 0;
  private haveIp = false;
  private readonly label: string;
  // scratch for the parsed hex number
  private numLo = 0;
  private numHi = 0;
  private pos = 0;
  /** inside a line longer than MAX_LINE_BYTES that is being skipped (onError 'skip') */
  private discarding = false;
  /** the first malformed line (detection reports it) */
  firstBad: BadLine | null = null;
  /** records at which the chunk being filled is handed out (FIRST_FULL, doubling up to CHUNK_FULL) */
  private full: number;
  /** chunks given back (recycle()) to be filled again before new ones are allocated */
  private readonly spare: RecordChunk[] = [];

  /**
   * `fast` false: every line through the general path (the tests compare
   * the two paths on the same lines).
   */
  /**
   * `alloc`: makes each new chunk (default newRecordChunk; the parse thread
   * makes them in shared memory, to be handed on without a copy).
   * `small`: the first chunks are small (FIRST_FULL; not for a later part
   * of a split parse, whose chunks are not the stream's first).
   */
  constructor(private readonly path: string, options: ImportOptions, private readonly stats: ImportStats, private readonly fast = true,
    private readonly alloc: () => RecordChunk = newRecordChunk, small = true) {
    this.out = alloc();
    this.full = small ? FIRST_FULL : CHUNK_FULL;
    this.pin = options.format === 'pinatrace';
    this.skip = options.onError === 'skip';
    this.pinFetches = options.pinFetches ?? true;
    this.label = options.format;
  }

  /** Gives back a chunk this parser handed out, once its records are no longer needed: it is filled again. */
  recycle(c: RecordChunk): void {
    c.n = 0;
    c.nArgs = 0;
    this.spare.push(c);
  }

  private fresh(): RecordChunk {
    return this.spare.pop() ?? this.alloc();
  }

  /**
   * Parses whole lines of `chunk` (plus what was left over); with `last`,
   * the final unterminated line too. What is left over is less than
   * MAX_LINE_BYTES, so each chunk costs time in proportion to its length.
   */
  feed(chunk: Buffer, last: boolean): RecordChunk[] {
    const out: RecordChunk[] = [];
    if (this.discarding) {
      // the rest of an overlong line that was reported and is being skipped
      const nl = chunk.indexOf(10);
      if (nl < 0) chunk = Buffer.alloc(0);
      else {
        this.discarding = false;
        chunk = chunk.subarray(nl + 1);
      }
      if (last) this.discarding = false;
    }
    let buf = chunk;
    if (this.carry.length > 0) {
      const nl = chunk.indexOf(10);
      if (nl < 0) {
        buf = Buffer.concat([this.carry, chunk]);
      } else {
        // Only the line cut at the end of the last piece is joined (a copy
        // of a line, not of the whole piece); it ends with its line end, so
        // nothing of it is left over.
        this.parse(Buffer.concat([this.carry, chunk.subarray(0, nl + 1)]), false, out);
        buf = chunk.subarray(nl + 1);
      }
    }
    const start = this.parse(buf, last, out);
    this.carry = start < buf.length ? Buffer.from(buf.subarray(start)) : Buffer.alloc(0);
    if (last && this.out.n > 0) {
      out.push(this.out);
      this.out = this.fresh();
    }
    return out;
  }

  /** Parses the lines of `buf` into `out` (see feed); returns where the unparsed rest starts (an unterminated last line). */
  private parse(buf: Buffer, last: boolean, out: RecordChunk[]): number {
    // The fast paths read only whole lines: up to just past the last line end.
    const u8 = new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
    const lim = buf.lastIndexOf(10) + 1;
    let start = 0;
    for (;;) {
      if (this.out.n >= this.full) {
        out.push(this.out);
        this.out = this.fresh();
        this.full = Math.min(this.full * 2, CHUNK_FULL);
      }
      if (this.fast && start < lim) start = this.pin ? this.fastPin(u8, start, lim) : this.fastLackey(u8, start, lim);
      if (this.out.n >= this.full) continue;
      // The general path, for one line.
      let end = buf.indexOf(10, start);
      if (end < 0) {
        if (buf.length - start > MAX_LINE_BYTES) {
          // no end in sight: report it now rather than keep gathering it
          this.stats.lines++;
          this.bad(buf, start, buf.length, `line longer than ${MAX_LINE_BYTES} bytes`);
          this.discarding = !last;
          start = buf.length;
          break;
        }
        if (!last || start >= buf.length) break;
        end = buf.length;
      }
      this.stats.lines++;
      if (end - start > MAX_LINE_BYTES) this.bad(buf, start, end, `line longer than ${MAX_LINE_BYTES} bytes`);
      else this.line(buf, start, end);
      start = end + 1;
    }
    return start;
  }

  /**
   * The fast path for lackey and cache-lab: parses lines of the forms
   * Valgrind and cache-lab write, `K spaces HEX,DEC` and ` K spaces
   * HEX,DEC` (K one of I, L, S, M; at most 16 hex digits, leading zeros
   * included; a decimal size of 1 to 4096; `\n` or `\r\n` at the end) from
   * `start`, all before `lim` (just past the buffer's last `\n`: every line
   * there is complete, and each scan stops at its `\n`), until the chunk is
   * full or a line is not of that form. Returns where it stopped: the start
   * of the line the general path is to read (which takes every other form
   * the format allows, more leading blanks or tabs for one).
   *
   * Few branches a line: the first two bytes look up the access kind in
   * one table (LEAD), the address is decoded two digits at a time from one
   * table of digit pairs (HEX2), 8 or 10 digits with one test, and the
   * checks of a well-formed line all fail the same way.
   */
  private fastLackey(buf: Uint8Array, start: number, lim: number): number {
    const o = this.out;
    const ops = o.ops, addr = o.addr, args = o.args;
    let n = o.n, g = o.nArgs;
    const full = this.full;
    const n0 = n;
    let lines = 0;
    let i = start;
    let ls = start;
    while (n < full && i < lim) {
      ls = i;
      const t = LEAD[(buf[i]! << 8) | buf[i + 1]!]!;
      if (t === 0) break;
      const kind = (t & 7) - 1;
      i += 2;
      // `K ` has had its space; ` K` needs one now
      if ((buf[i]! - 32) * (t >> 3) !== 0) break;
      while (buf[i] === 32) i++;
      const h0 = i;
      let lo = 0, hi = 0;
      // Most addresses have 8 digits (code, heap) or 10 (the stack of a
      // 64-bit process): four or five digit pairs, then the ','.
      const q1 = HEX2[(buf[i]! << 8) | buf[i + 1]!]!, q2 = HEX2[(buf[i + 2]! << 8) | buf[i + 3]!]!;
      const q3 = HEX2[(buf[i + 4]! << 8) | buf[i + 5]!]!, q4 = HEX2[(buf[i + 6]! << 8) | buf[i + 7]!]!;
      const c8 = buf[i + 8]!;
      if (((q1 | q2 | q3 | q4) >>> 8) === 0 && c8 === 44) {
        lo = (q1 << 24) | (q2 << 16) | (q3 << 8) | q4;
        i += 8;
      } else {
        const q5 = HEX2[(c8 << 8) | buf[i + 9]!]!;
        if (((q1 | q2 | q3 | q4 | q5) >>> 8) === 0 && buf[i + 10] === 44) {
          hi = q1;
          lo = (q2 << 24) | (q3 << 16) | (q4 << 8) | q5;
          i += 10;
        } else {
          for (;;) {
            const p = HEX2[(buf[i]! << 8) | buf[i + 1]!]!;
            if (p < 256) {
              if (p < 0) break;
              hi = (hi << 8) | (lo >>> 24);
              lo = (lo << 8) | p;
              i += 2;
            } else {
              // the last digit, alone
              hi = (hi << 4) | (lo >>> 28);
              lo = (lo << 4) | (p & 15);
              i++;
              break;
            }
          }
        }
      }
      if (i === h0 || i - h0 > 16 || buf[i] !== 44) break;
      let c = buf[++i]!;
      let size = c - 48;
      if (size < 0 || size > 9) break;
      c = buf[++i]!;
      while (c >= 48 && c <= 57) {
        size = size * 10 + (c - 48);
        c = buf[++i]!;
      }
      if (c === 13) c = buf[++i]!;
      if (c !== 10 || size === 0 || size > MAX_ACCESS_BYTES || i - ls > MAX_LINE_BYTES) break;
      if (hi === -1 && (lo >>> 0) + size > TWO32) break; // past the top: the general path says so
      i++;
      lines++;
      if ((lo & 0xfff) + size > 4096) {
        // crosses a page: two accesses (each twice for a modify)
        o.n = n;
        o.nArgs = g;
        if (kind === 3) {
          this.put(KIND_READ, size, lo, hi);
          this.put(KIND_WRITE, size, lo, hi);
        } else {
          this.put(kind, size, lo, hi);
        }
        n = o.n;
        g = o.nArgs;
        ls = i;
        continue;
      }
      const op = OP_ACCESS | (hi !== 0 ? OP_HI : 0) | (size > 255 ? 255 : size);
      if (kind === 3) {
        ops[n] = op; // KIND_READ is 0
        addr[n++] = lo;
        if (hi !== 0) args[g++] = hi;
        ops[n] = op | (KIND_WRITE << OP_KIND_SHIFT);
      } else {
        ops[n] = op | (kind << OP_KIND_SHIFT);
      }
      addr[n++] = lo;
      if (hi !== 0) args[g++] = hi;
      ls = i;
    }
    o.n = n;
    o.nArgs = g;
    this.stats.lines += lines;
    this.stats.accesses += n - n0;
    return ls;
  }

  /**
   * The fast path for pinatrace: lines of the form
   * `[spaces]0xHEX: spaces? R|W spaces 0xHEX [spaces DEC]` before `lim`
   * (as fastLackey: at most 16 significant digits, a size of 1 to 4096 in
   * at most 4 digits); comments and anything else go to the general path.
   */
  private fastPin(buf: Uint8Array, start: number, lim: number): number {
    const o = this.out;
    const ops = o.ops, addr = o.addr, args = o.args;
    let n = o.n, g = o.nArgs;
    const full = this.full;
    const n0 = n;
    const fetches = this.pinFetches;
    let haveIp = this.haveIp, ipLo0 = this.lastIpLo, ipHi0 = this.lastIpHi;
    let lines = 0;
    let i = start;
    let ls = start;
    while (n < full && i < lim) {
      ls = i;
      while (buf[i] === 32) i++;
      if (buf[i] !== 48 || (buf[i + 1] !== 120 && buf[i + 1] !== 88)) break;
      i += 2;
      let ipLo = 0, ipHi = 0, d = HEX[buf[i]!]!;
      let h0 = i;
      while (d === 0) d = HEX[buf[++i]!]!;
      let s0 = i;
      while (d >= 0) {
        ipHi = (ipHi << 4) | (ipLo >>> 28);
        ipLo = (ipLo << 4) | d;
        d = HEX[buf[++i]!]!;
      }
      if (i === h0 || i - s0 > 16 || buf[i] !== 58) break;
      while (buf[++i] === 32);
      const k = buf[i]!;
      if (k !== 82 && k !== 87) break;
      if (buf[++i] !== 32) break;
      while (buf[++i] === 32);
      if (buf[i] !== 48 || (buf[i + 1] !== 120 && buf[i + 1] !== 88)) break;
      i += 2;
      let lo = 0, hi = 0;
      d = HEX[buf[i]!]!;
      h0 = i;
      while (d === 0) d = HEX[buf[++i]!]!;
      s0 = i;
      while (d >= 0) {
        hi = (hi << 4) | (lo >>> 28);
        lo = (lo << 4) | d;
        d = HEX[buf[++i]!]!;
      }
      if (i === h0 || i - s0 > 16) break;
      let size = 0;
      if (buf[i] === 32) {
        while (buf[++i] === 32);
        const d0 = i;
        for (let c = buf[i]!; c >= 48 && c <= 57; c = buf[++i]!) size = size * 10 + (c - 48);
        if (i === d0 || i - d0 > 4 || size === 0 || size > MAX_ACCESS_BYTES) break;
      }
      if (buf[i] === 13) i++;
      if (buf[i] !== 10 || i - ls > MAX_LINE_BYTES) break;
      if (hi === -1 && (lo >>> 0) + size > TWO32) break; // past the top: the general path says so
      i++;
      lines++;
      if (fetches && (!haveIp || ipLo !== ipLo0 || ipHi !== ipHi0)) {
        haveIp = true;
        ipLo0 = ipLo;
        ipHi0 = ipHi;
        // a 1-byte fetch never crosses a page
        ops[n] = OP_ACCESS | (ipHi !== 0 ? OP_HI : 0) | (KIND_FETCH << OP_KIND_SHIFT) | 1;
        addr[n++] = ipLo;
        if (ipHi !== 0) args[g++] = ipHi;
      }
      const kind = k === 87 ? KIND_WRITE : KIND_READ;
      if ((lo & 0xfff) + size > 4096) {
        o.n = n;
        o.nArgs = g;
        this.put(kind, size, lo, hi);
        n = o.n;
        g = o.nArgs;
      } else {
        ops[n] = OP_ACCESS | (hi !== 0 ? OP_HI : 0) | (kind << OP_KIND_SHIFT) | (size > 255 ? 255 : size);
        addr[n++] = lo;
        if (hi !== 0) args[g++] = hi;
      }
      ls = i;
    }
    o.n = n;
    o.nArgs = g;
    this.haveIp = haveIp;
    this.lastIpLo = ipLo0;
    this.lastIpHi = ipHi0;
    this.stats.lines += lines;
    this.stats.accesses += n - n0;
    return ls;
  }

  private bad(buf: Buffer, start: number, end: number, why: string): void {
    // the line as it is, but with control and non-ASCII bytes escaped: the message goes to a terminal
    const text = printable(buf.toString('latin1', start, Math.min(end, start + 80)).replace(/\r$/, ''));
    const msg = `${this.path}:${this.stats.lines}: ${why} in ${this.label} line '${text}'`;
    if (!this.skip) throw new ImportError(msg);
    this.stats.skipped++;
    if (this.firstBad === null) this.firstBad = { line: this.stats.lines, why, text };
    if (this.stats.errors.length < ERRORS_KEPT) this.stats.errors.push(msg);
  }

  /** Whether an access of `size` bytes at hi:lo is too big, or runs past 2^64 (reported as malformed). */
  private badAccess(buf: Buffer, start: number, end: number, size: number, lo: number, hi: number): boolean {
    if (size > MAX_ACCESS_BYTES) {
      this.bad(buf, start, end, `size ${size} is larger than a page (${MAX_ACCESS_BYTES} bytes)`);
      return true;
    }
    if ((hi >>> 0) === 0xffffffff && (lo >>> 0) + size > TWO32) {
      this.bad(buf, start, end, `an access of ${size} bytes at 0xffffffff${(lo >>> 0).toString(16).padStart(8, '0')} runs past the top of the 64-bit address space`);
      return true;
    }
    return false;
  }

  /** Reads hex digits at this.pos into numLo/numHi; returns the digit count, -1 when wider than 64 bits. */
  private hex(buf: Buffer, end: number): number {
    let lo = 0, hi = 0, n = 0;
    let i = this.pos;
    for (; i < end; i++) {
      const c = buf[i]!;
      let d: number;
      if (c >= 48 && c <= 57) d = c - 48;
      else if (c >= 97 && c <= 102) d = c - 87;
      else if (c >= 65 && c <= 70) d = c - 55;
      else break;
      if (n === 0 && d === 0 && i + 1 < end && isHex(buf[i + 1]!)) continue; // leading zeros
      hi = (hi << 4) | (lo >>> 28);
      lo = (lo << 4) | d;
      n++;
      if (n > 16) return -1;
    }
    if (i === this.pos) return 0;
    this.pos = i;
    this.numLo = lo;
    this.numHi = hi;
    return Math.max(n, 1);
  }

  private dec(buf: Buffer, end: number): number {
    let v = 0;
    let i = this.pos;
    for (; i < end; i++) {
      const c = buf[i]!;
      if (c < 48 || c > 57) break;
      if (v <= 1e9) v = v * 10 + (c - 48); // beyond, any size is too big: keep it too big
    }
    if (i === this.pos) return -1;
    this.pos = i;
    return v;
  }

  private line(buf: Buffer, start: number, end: number): void {
    let e = end;
    while (e > start && (buf[e - 1] === 13 || buf[e - 1] === 32 || buf[e - 1] === 9)) e--;
    let i = start;
    while (i < e && (buf[i] === 32 || buf[i] === 9)) i++;
    if (i === e) return; // blank
    const c0 = buf[i]!;
    if (this.pin) {
      if (c0 === 35) return; // '#'
      this.pinLine(buf, start, i, e);
      return;
    }
    if (c0 === 61 || c0 === 45) return; // '==' / '--': Valgrind's messages
    let kind: number;
    let modify = false;
    if (c0 === 73) kind = KIND_FETCH; // I
    else if (c0 === 76) kind = KIND_READ; // L
    else if (c0 === 83) kind = KIND_WRITE; // S
    else if (c0 === 77) { kind = KIND_READ; modify = true; } // M
    else return this.bad(buf, start, end, `unknown access kind '${printable(String.fromCharCode(c0))}'`);
    i++;
    if (i >= e || (buf[i] !== 32 && buf[i] !== 9)) return this.bad(buf, start, end, 'no space after the access kind');
    while (i < e && (buf[i] === 32 || buf[i] === 9)) i++;
    this.pos = i;
    const nd = this.hex(buf, e);
    if (nd === 0) return this.bad(buf, start, end, 'no hexadecimal address');
    if (nd < 0) return this.bad(buf, start, end, 'address wider than 64 bits');
    if (buf[this.pos] !== 44) return this.bad(buf, start, end, "no ',' after the address");
    this.pos++;
    const size = this.dec(buf, e);
    if (size < 0) return this.bad(buf, start, end, 'no decimal size after the address');
    if (this.pos !== e) return this.bad(buf, start, end, 'unexpected text after the size');
    if (size === 0) return this.bad(buf, start, end, 'size 0');
    const lo = this.numLo, hi = this.numHi;
    if (this.badAccess(buf, start, end, size, lo, hi)) return;
    this.emit(kind, size, lo, hi);
    if (modify) this.emit(KIND_WRITE, size, lo, hi);
  }

  private pinLine(buf: Buffer, start: number, i: number, e: number): void {
    const end = e;
    if (buf[i] !== 48 || (buf[i + 1] !== 120 && buf[i + 1] !== 88)) return this.bad(buf, start, end, "instruction pointer does not start with '0x'");
    this.pos = i + 2;
    const nIp = this.hex(buf, e);
    if (nIp <= 0) return this.bad(buf, start, end, nIp < 0 ? 'instruction pointer wider than 64 bits' : 'no hexadecimal instruction pointer');
    const ipLo = this.numLo, ipHi = this.numHi;
    if (buf[this.pos] !== 58) return this.bad(buf, start, end, "no ':' after the instruction pointer");
    i = this.pos + 1;
    while (i < e && (buf[i] === 32 || buf[i] === 9)) i++;
    const k = buf[i];
    if (k !== 82 && k !== 87) return this.bad(buf, start, end, "access kind is not 'R' or 'W'");
    i++;
    if (buf[i] !== 32 && buf[i] !== 9) return this.bad(buf, start, end, 'no space after the access kind');
    while (i < e && (buf[i] === 32 || buf[i] === 9)) i++;
    if (buf[i] !== 48 || (buf[i + 1] !== 120 && buf[i + 1] !== 88)) return this.bad(buf, start, end, "address does not start with '0x'");
    this.pos = i + 2;
    const nA = this.hex(buf, e);
    if (nA <= 0) return this.bad(buf, start, end, nA < 0 ? 'address wider than 64 bits' : 'no hexadecimal address');
    const lo = this.numLo, hi = this.numHi;
    let size = 0;
    if (this.pos < e) {
      if (buf[this.pos] !== 32 && buf[this.pos] !== 9) return this.bad(buf, start, end, 'unexpected text after the address');
      while (this.pos < e && (buf[this.pos] === 32 || buf[this.pos] === 9)) this.pos++;
      size = this.dec(buf, e);
      if (size <= 0 || this.pos !== e) return this.bad(buf, start, end, 'the text after the address is not a size');
    }
    if (this.badAccess(buf, start, end, size, lo, hi)) return;
    if (this.pinFetches && (!this.haveIp || ipLo !== this.lastIpLo || ipHi !== this.lastIpHi)) {
      this.haveIp = true;
      this.lastIpLo = ipLo;
      this.lastIpHi = ipHi;
      this.emit(KIND_FETCH, 1, ipLo, ipHi);
    }
    this.emit(k === 87 ? KIND_WRITE : KIND_READ, size, lo, hi);
  }

  /** Appends one access (counted), split in two when it crosses a 4 KiB page. */
  private emit(kind: number, size: number, lo: number, hi: number): void {
    const n0 = this.out.n;
    this.put(kind, size, lo, hi);
    this.stats.accesses += this.out.n - n0;
  }

  /** Appends one access as records, split in two when it crosses a 4 KiB page; does not count it. */
  private put(kind: number, size: number, lo: number, hi: number): void {
    const o = this.out;
    const off = lo & 0xfff;
    const first = size > 0 && off + size > 4096 ? 4096 - off : size;
    const base = OP_ACCESS | (kind << OP_KIND_SHIFT);
    o.ops[o.n] = base | (hi !== 0 ? OP_HI : 0) | Math.min(first, 255);
    o.addr[o.n++] = lo;
    if (hi !== 0) o.args[o.nArgs++] = hi;
    if (first !== size) {
      const lo2 = ((lo | 0xfff) + 1) | 0;
      const hi2 = lo2 === 0 ? (hi + 1) | 0 : hi;
      o.ops[o.n] = base | (hi2 !== 0 ? OP_HI : 0) | Math.min(size - first, 255);
      o.addr[o.n++] = lo2;
      if (hi2 !== 0) o.args[o.nArgs++] = hi2;
    }
  }
}

/** `s` with control and non-ASCII characters escaped (\xNN): error messages go to a terminal. */
function printable(s: string): string {
  return s.replace(/[\x00-\x08\x0a-\x1f\x7f-\xff]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** The value of each hex digit byte, -1 for any other byte. */
const HEX: Int8Array = (() => {
  const t = new Int8Array(256).fill(-1);
  for (let c = 0; c < 10; c++) t[48 + c] = c;
  for (let c = 0; c < 6; c++) t[97 + c] = t[65 + c] = 10 + c;
  return t;
})();

/**
 * Two hex digit bytes (first << 8 | second): their value (0..255) when both
 * are digits, 256 + the first's value when only the first is, -1 when the
 * first is not.
 */
const HEX2: Int16Array = (() => {
  const t = new Int16Array(65536).fill(-1);
  for (let a = 0; a < 256; a++) {
    const x = HEX[a]!;
    if (x < 0) continue;
    for (let b = 0; b < 256; b++) {
      const y = HEX[b]!;
      t[(a << 8) | b] = y >= 0 ? (x << 4) | y : 256 | x;
    }
  }
  return t;
})();

/**
 * The first two bytes of a lackey line (first << 8 | second): 0 when not
 * of the fast path's forms, else the access kind + 1 (KIND_FETCH for I,
 * KIND_READ for L, KIND_WRITE for S, 3 for M) in bits 2..0, and 8 when the
 * byte after them must be a space (` K`; `K ` has its space).
 */
const LEAD: Uint8Array = (() => {
  const t = new Uint8Array(65536);
  const kinds: [string, number][] = [['I', KIND_FETCH], ['L', KIND_READ], ['S', KIND_WRITE], ['M', 3]];
  for (const [ch, kind] of kinds) {
    const c = ch.charCodeAt(0);
    t[(c << 8) | 32] = kind + 1;
    t[(32 << 8) | c] = (kind + 1) | 8;
  }
  return t;
})();

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
}

