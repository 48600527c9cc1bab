/**
 * Fuzzing the trace readers: damaged and crafted inputs for the binary
 * reader (.vmt) and the text importers (lackey, cache-lab, pinatrace, plain
 * and gzipped), each read to the end. Every input must either read, or be
 * refused with the reader's own error (TraceError, ImportError) naming the
 * file and a location: a byte offset, a line, a compressed offset. Any
 * other exception, or an error without a location, is a failure, reported
 * with the seed and the case number that reproduce it.
 *
 * The mutations: random bit flips and truncations; crafted headers, chunk
 * headers, chunk bodies and end records whose CRCs are made valid again, so
 * that only the reader's checks against the format stand in the way; chunks
 * spliced, dropped or swapped; deflate bombs; text lines built from hostile
 * tokens (64-bit overflows, sizes of 10^14, kinds that are not kinds),
 * lines without end, binary noise, CRLF, and gzip streams cut or corrupted.
 *
 * npm test runs a few hundred cases (test/trace/fuzz.test.ts); the soak
 * part below runs for minutes: npm run soak -- --only trace-fuzz --seconds N.
 */
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateRawSync, gzipSync, inflateRawSync } from 'node:zlib';
import type { SoakOptions, SoakPart } from './parts.js';
import {
  accessOp, CHUNK_HEAD_BYTES, END_BYTES, FORMAT_VERSION, MAGIC_CHUNK, MAGIC_END, MAX_CHUNK_RECORDS, R_CHECK, R_CR3, R_INVPCID,
  R_PAGING, R_PRIV, R_PTWRITE, R_PTWRITE8, R_SWITCH, TraceError, type TraceHeader,
} from '../src/trace/format.js';
import { memorySink, TraceWriter } from '../src/trace/writer.js';
import { TraceReader } from '../src/trace/reader.js';
import { guessTextFormat, ImportError, IMPORT_FORMATS, newImportStats, readTextTrace, type ImportFormat } from '../src/trace/importers.js';
import { ACC_FETCH, ACC_USER, ACC_WRITE } from '../src/mmu/index.js';

// ---------------------------------------------------------------------------
// randomness: one xorshift32 stream per case, from the run's seed and the case number
// ---------------------------------------------------------------------------

export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = (seed | 0) || 0x9e3779b9;
    for (let i = 0; i < 4; i++) this.next();
  }
  next(): number {
    let s = this.s;
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    this.s = s;
    return s >>> 0;
  }
  /** 0 .. n-1 */
  int(n: number): number { return Math.floor((this.next() / 4294967296) * n); }
  pick<T>(xs: readonly T[]): T { return xs[this.int(xs.length)]!; }
  chance(p: number): boolean { return this.next() / 4294967296 < p; }
}

/** The seed of case `i` of a run seeded `seed`. */
export function caseSeed(seed: number, i: number): number {
  let h = Math.imul(seed ^ 0x85ebca6b, 0xc2b2ae35) ^ Math.imul(i + 1, 0x27d4eb2f);
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  return (h ^ (h >>> 13)) >>> 0;
}

// ---------------------------------------------------------------------------
// good inputs the mutations start from
// ---------------------------------------------------------------------------

function vmtHeader(over: Partial<TraceHeader>): TraceHeader {
  return {
    version: FORMAT_VERSION, source: 0, format: 3, maxPhysAddr: 36, gbPages: true, softTlbBits: 13, cpl: 3, ac: false, checkEvery: 64,
    seed: 1, guestMemory: 16 << 20, holes: [{ gpa: 0xa0000, bytes: 0x20000 }], cr0: 0x80010001 | 0, cr3Lo: 0x5000, cr3Hi: 0, cr4: 0x20, efer: 0xd00, pkru: 0,
    pdpte: [0, 0, 0, 0, 0, 0, 0, 0], notes: { tool: 'trace-fuzz', options: { a: [1, 2, 3] } }, ...over,
  };
}

/** A small trace with every kind of record, in several chunks. */
function vmtBase(seed: number, chunkRecords: number, over: Partial<TraceHeader> = {}): Buffer {
  const rng = new Rng(seed);
  const sink = memorySink();
  const w = new TraceWriter(sink, vmtHeader(over), { chunkRecords, level: 1 + (seed % 9) });
  const page = new Uint8Array(4096);
  for (let i = 0; i < page.length; i += 8) page[i] = (i * 7) & 0xff;
  w.page(0x123, page);
  w.page(0x124, new Uint8Array(4096));
  for (let i = 0; i < 400; i++) {
    const r = rng.int(100);
    if (r < 80) {
      const acc = rng.pick([0, ACC_WRITE, ACC_FETCH, ACC_USER, ACC_USER | ACC_WRITE]);
      const hi = rng.chance(0.2) ? rng.next() | 0 : 0;
      w.access(accessOp(acc, hi, rng.int(16)), rng.next() | 0, hi);
    } else if (r < 84) w.event(R_CR3, rng.next() & ~0xfff, 0);
    else if (r < 87) w.event(R_PAGING, 0x80010001 | 0, 0x5000, 0, 0x20, 0xd00, 0);
    else if (r < 90) w.event(R_PTWRITE, 0x5000 + rng.int(512) * 8, 0, 4, rng.next() | 0);
    else if (r < 91) w.event(R_PTWRITE8, 0x5000 + rng.int(512) * 8, 0, rng.next() | 0, rng.next() | 0);
    else if (r < 93) w.event(R_INVPCID, rng.int(4), rng.int(4096), rng.next() | 0, 0);
    else if (r < 95) w.event(R_CHECK, rng.next() | 0, i, 0);
    else if (r < 97) w.event(R_PRIV, 3);
    else if (r < 98) w.event(R_SWITCH, rng.int(4));
    else w.page(0x200 + rng.int(100), page);
  }
  w.close();
  return sink.bytes();
}

let vmtBasesCache: Buffer[] | null = null;
function vmtBases(): Buffer[] {
  vmtBasesCache ??= [
    vmtBase(1, 64),
    vmtBase(2, 150, { holes: [], notes: {} }),
    vmtBase(3, 1000, { source: 1, format: 4, maxPhysAddr: 52, holes: [{ gpa: 0xfee00000, bytes: 4096 }, { gpa: 0xa0000, bytes: 0x20000 }] }),
  ];
  return vmtBasesCache;
}

const LACKEY = `==24138== Lackey, an example Valgrind tool
==24138== Command: ls /
I  0401b790,2
 S 1fff000760,8
 L 04033e06,4
 M 04033ad0,1
I  0401b7c2,7
--24138-- a Valgrind debug message
 L ffffffffff600000,8
 S 00000ffc,8
I  ffffffffffffffff,1
 L 7ff0001000,4096
`;

const CACHELAB = ' L 10,1\n M 20,1\n S 18,1\n I 7ff000ffe,4\n L 0,1\n S ffffffff,4\n';

const PINATRACE = `# a comment the tool wrote
0x7f1234567890: R 0x7ffd12345678
0x7f1234567890: W 0x7ffd12345680
0x7f1234567895: R 0x601040 4
0X401000:R 0X601000 8
0x401004:\tW\t0x601008
#eof
`;

function textBases(): string[] {
  let big = '';
  for (let i = 0; i < 300; i++) big += i % 3 === 0 ? `I  ${(0x400000 + i * 5).toString(16)},5\n` : ` L ${(0x7ffd0000 + i * 8).toString(16)},8\n`;
  return [LACKEY, CACHELAB, PINATRACE, big];
}

// ---------------------------------------------------------------------------
// the binary format's pieces, for crafted mutations
// ---------------------------------------------------------------------------

/** Offsets of the chunks ("VMTC") of a well-formed trace, and of its end record. */
function chunkOffsets(b: Buffer): { chunks: number[]; end: number } {
  const chunks: number[] = [];
  let pos = b.readUInt16LE(6);
  while (pos + CHUNK_HEAD_BYTES <= b.length && b.readUInt32LE(pos) === MAGIC_CHUNK) {
    chunks.push(pos);
    pos += CHUNK_HEAD_BYTES + b.readUInt32LE(pos + 4);
  }
  return { chunks, end: pos };
}

function fixHeaderCrc(b: Buffer): void {
  const len = b.readUInt16LE(6);
  if (len >= 8 && len <= b.length) b.writeUInt32LE(crc32(b.subarray(0, len - 4)), len - 4);
}

function endRecord(chunks: number, records: number, accesses: number): Buffer {
  const e = Buffer.alloc(END_BYTES);
  e.writeUInt32LE(MAGIC_END, 0);
  e.writeUInt32LE(chunks >>> 0, 4);
  e.writeDoubleLE(records, 8);
  e.writeDoubleLE(accesses, 16);
  e.writeUInt32LE(crc32(e.subarray(0, END_BYTES - 4)), END_BYTES - 4);
  return e;
}

function chunkOf(body: Buffer, records: number, declared?: number): Buffer {
  const z = deflateRawSync(body, { level: 1 });
  const head = Buffer.alloc(CHUNK_HEAD_BYTES);
  head.writeUInt32LE(MAGIC_CHUNK, 0);
  head.writeUInt32LE(z.length, 4);
  head.writeUInt32LE((declared ?? body.length) >>> 0, 8);
  head.writeUInt32LE(records >>> 0, 12);
  head.writeUInt32LE(crc32(z), 16);
  return Buffer.concat([head, z]);
}

/** Numbers that probe limits: zero, one, powers of two and their neighbours, the format's limits. */
function edgy(rng: Rng, near: number): number {
  return rng.pick([
    0, 1, 2, 3, 4, 15, 16, 20, 4095, 4096, 4097, 65535, 65536, MAX_CHUNK_RECORDS - 1, MAX_CHUNK_RECORDS, MAX_CHUNK_RECORDS + 1,
    0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffe, near, near + 1, near - 1, near * 2, Math.floor(near / 2), rng.next(),
  ]) >>> 0;
}

let zerosZ: Buffer | null = null;

type Mutation = { name: string; apply: (b: Buffer, rng: Rng) => Buffer };

const VMT_MUTATIONS: Mutation[] = [
  {
    name: 'bit flips',
    apply: (b, rng) => {
      const c = Buffer.from(b);
      const n = 1 + rng.int(4);
      for (let k = 0; k < n; k++) { const at = rng.int(c.length); c[at] = c[at]! ^ (1 << rng.int(8)); }
      return c;
    },
  },
  {
    name: 'a bit flip in an unchecked chunk-header field',
    apply: (b, rng) => {
      const c = Buffer.from(b);
      const { chunks } = chunkOffsets(b);
      const at = rng.pick(chunks) + 4 + rng.int(12);
      c[at] = c[at]! ^ (1 << rng.int(8));
      return c;
    },
  },
  { name: 'truncation', apply: (b, rng) => b.subarray(0, rng.int(b.length)) },
  {
    name: 'a crafted header field (valid CRC)',
    apply: (b, rng) => {
      const c = Buffer.from(b);
      const len = c.readUInt16LE(6);
      const at = rng.chance(0.5) ? 8 + rng.int(8) : rng.pick([6, 16, 20, 24, 28, 88, 90, 92, 96, 100, 104, len - 6, 8 + rng.int(len - 12)]);
      if (rng.chance(0.5)) c[at] = rng.next() & 0xff;
      else c.writeUInt16LE(edgy(rng, len) & 0xffff, Math.min(at, len - 6));
      fixHeaderCrc(c);
      return c;
    },
  },
  {
    name: 'crafted notes (valid CRC)',
    apply: (b, rng) => {
      const len = b.readUInt16LE(6);
      const holes = b.readUInt16LE(88);
      const at = 92 + holes * 16;
      const notes = Buffer.from(rng.pick(['null', '[]', '[1,2]', '7', '"text"', 'true', '{}', '{"a":', '{"a":1}', '\u0000', '{"importedFrom":null}', '{"importFormat":{"x":1}}']));
      const head = Buffer.alloc(at + 2 + notes.length + 4);
      b.copy(head, 0, 0, at);
      head.writeUInt16LE(head.length, 6);
      head.writeUInt16LE(notes.length, at);
      notes.copy(head, at + 2);
      fixHeaderCrc(head);
      return Buffer.concat([head, b.subarray(len)]);
    },
  },
  {
    name: 'a crafted chunk header (C, U or records)',
    apply: (b, rng) => {
      const c = Buffer.from(b);
      const { chunks } = chunkOffsets(b);
      const at = rng.pick(chunks);
      const field = rng.pick([4, 8, 12]);
      c.writeUInt32LE(edgy(rng, c.readUInt32LE(at + field)), at + field);
      return c;
    },
  },
  {
    name: 'a crafted chunk body (valid CRC, declared lengths kept or made to match)',
    apply: (b, rng) => {
      const { chunks } = chunkOffsets(b);
      const at = rng.pick(chunks);
      const clen = b.readUInt32LE(at + 4);
      const body = Buffer.from(inflateRawSync(b.subarray(at + CHUNK_HEAD_BYTES, at + CHUNK_HEAD_BYTES + clen)));
      let records = b.readUInt32LE(at + 12);
      let mutated: Buffer = body;
      const how = rng.int(5);
      if (how === 0) mutated.writeUInt32LE(edgy(rng, mutated.readUInt32LE(4 * rng.int(4))), 4 * rng.int(4)); // a column count
      else if (how === 1) { const k = 16 + rng.int(Math.max(1, mutated.length - 16)); mutated[k] = rng.next() & 0xff; } // ops, addresses, operands
      else if (how === 2) mutated = mutated.subarray(0, rng.int(mutated.length)); // cut short
      else if (how === 3) mutated = Buffer.concat([mutated, Buffer.alloc(1 + rng.int(5000), rng.next() & 0xff)]); // too long
      else { records = edgy(rng, records); } // a record count the body does not have
      const declared = rng.chance(0.7) ? mutated.length : edgy(rng, mutated.length);
      return Buffer.concat([b.subarray(0, at), chunkOf(mutated, records, declared), b.subarray(at + CHUNK_HEAD_BYTES + clen)]);
    },
  },
  {
    name: 'a crafted end record (valid CRC)',
    apply: (b, rng) => {
      const { end } = chunkOffsets(b);
      const chunks = b.readUInt32LE(end + 4), records = b.readDoubleLE(end + 8), accesses = b.readDoubleLE(end + 16);
      const k = rng.int(3);
      const odd = rng.pick([NaN, Infinity, -1, 0.5, 2 ** 60, rng.next()]);
      const e = endRecord(k === 0 ? edgy(rng, chunks) : chunks, k === 1 ? (rng.chance(0.5) ? odd : records + 1) : records, k === 2 ? (rng.chance(0.5) ? odd : accesses - 1) : accesses);
      return Buffer.concat([b.subarray(0, end), e, rng.chance(0.2) ? Buffer.from('tail') : Buffer.alloc(0)]);
    },
  },
  {
    name: 'chunks dropped, repeated or swapped',
    apply: (b, rng) => {
      const { chunks, end } = chunkOffsets(b);
      const pieces = chunks.map((at, i) => b.subarray(at, i + 1 < chunks.length ? chunks[i + 1] : end));
      const how = rng.int(3);
      if (how === 0) pieces.splice(rng.int(pieces.length), 1);
      else if (how === 1) { const i = rng.int(pieces.length); pieces.splice(i, 0, pieces[i]!); }
      else if (pieces.length > 1) { const i = rng.int(pieces.length - 1); [pieces[i], pieces[i + 1]] = [pieces[i + 1]!, pieces[i]!]; }
      return Buffer.concat([b.subarray(0, b.readUInt16LE(6)), ...pieces, b.subarray(end)]);
    },
  },
  {
    name: 'random bytes inserted',
    apply: (b, rng) => {
      const at = rng.int(b.length);
      const junk = Buffer.alloc(1 + rng.int(64));
      for (let i = 0; i < junk.length; i++) junk[i] = rng.next() & 0xff;
      if (rng.chance(0.3)) junk.writeUInt32LE(rng.pick([MAGIC_CHUNK, MAGIC_END]), 0);
      return Buffer.concat([b.subarray(0, at), junk, b.subarray(at)]);
    },
  },
  {
    name: 'a deflate bomb (16 MiB of zeros, a declared length the format allows)',
    apply: (b, rng) => {
      zerosZ ??= deflateRawSync(Buffer.alloc(16 << 20), { level: 9 });
      const { chunks } = chunkOffsets(b);
      const at = rng.pick(chunks);
      const clen = b.readUInt32LE(at + 4);
      const records = rng.pick([1, 4096, 65536, MAX_CHUNK_RECORDS]);
      const head = Buffer.alloc(CHUNK_HEAD_BYTES);
      head.writeUInt32LE(MAGIC_CHUNK, 0);
      head.writeUInt32LE(zerosZ.length, 4);
      head.writeUInt32LE(rng.pick([64 << 10, 1 << 20, 4 << 20, 16 << 20, 27 << 20]), 8);
      head.writeUInt32LE(records, 12);
      head.writeUInt32LE(crc32(zerosZ), 16);
      return Buffer.concat([b.subarray(0, at), head, zerosZ, b.subarray(at + CHUNK_HEAD_BYTES + clen)]);
    },
  },
];

// ---------------------------------------------------------------------------
// text mutations
// ---------------------------------------------------------------------------

const HEX = '0123456789abcdefABCDEF';
function hexDigits(rng: Rng): string {
  const pick = rng.int(6);
  if (pick === 0) return 'ffffffffffffffff';
  if (pick === 1) return rng.pick(['fffffffffffffffc', '10000000000000000', '0', '00000000000000000000001', 'fffffffffffff000']);
  let s = '';
  const n = 1 + rng.int(rng.chance(0.1) ? 30 : 16);
  for (let i = 0; i < n; i++) s += HEX[rng.int(HEX.length)];
  return s;
}

function hostileLine(rng: Rng): string {
  const size = (): string => rng.pick(['0', '1', '4', '8', '4095', '4096', '4097', '65536', '99999999999999', '-1', '', '1e3', ' 4', String(rng.int(10000))]);
  if (rng.chance(0.5)) {
    return `${rng.pick(['I  ', ' L ', ' S ', ' M ', 'X ', ' l ', 'L', '  I\t', '==1== ', '--2-- ', ''])}${hexDigits(rng)}${rng.pick([',', ';', ', ', ''])}${size()}${rng.pick(['', ' ', ' x', '\r', ',4'])}`;
  }
  return `${rng.pick(['0x', '0X', '', '#', '0x0x'])}${hexDigits(rng)}${rng.pick([': ', ':', ' ', ':\t', '::'])}${rng.pick(['R', 'W', 'X', 'r', ''])}${rng.pick([' ', '\t', ''])}${rng.pick(['0x', '0X', ''])}${hexDigits(rng)}${rng.chance(0.5) ? ` ${size()}` : ''}${rng.pick(['', ' ', ' extra', '\r'])}`;
}

type TextMutation = { name: string; apply: (t: Buffer, rng: Rng) => Buffer };

const TEXT_MUTATIONS: TextMutation[] = [
  {
    name: 'bit flips',
    apply: (t, rng) => {
      const c = Buffer.from(t);
      for (let k = 1 + rng.int(4); k > 0; k--) { const at = rng.int(c.length); c[at] = c[at]! ^ (1 << rng.int(8)); }
      return c;
    },
  },
  { name: 'truncation', apply: (t, rng) => t.subarray(0, rng.int(t.length + 1)) },
  {
    name: 'hostile lines',
    apply: (t, rng) => {
      const lines = t.toString('latin1').split('\n');
      for (let k = 1 + rng.int(3); k > 0; k--) lines.splice(rng.int(lines.length + 1), rng.int(2), hostileLine(rng));
      return Buffer.from(lines.join('\n'), 'latin1');
    },
  },
  {
    name: 'a line without end',
    apply: (t, rng) => {
      const at = rng.int(t.length + 1);
      const long = Buffer.alloc(3000 + rng.int(rng.chance(0.2) ? 3 << 20 : 20_000), rng.pick([0x31, 0x20, 0x00, 0x4c, 0xff]));
      return Buffer.concat([t.subarray(0, at), long, rng.chance(0.5) ? Buffer.from('\n') : Buffer.alloc(0), t.subarray(at)]);
    },
  },
  {
    name: 'binary noise',
    apply: (t, rng) => {
      const junk = Buffer.alloc(1 + rng.int(200));
      for (let i = 0; i < junk.length; i++) junk[i] = rng.next() & 0xff;
      const at = rng.int(t.length + 1);
      return Buffer.concat([t.subarray(0, at), junk, t.subarray(at)]);
    },
  },
  { name: 'CRLF line ends', apply: (t) => Buffer.from(t.toString('latin1').replace(/\n/g, '\r\n'), 'latin1') },
  { name: 'no line ends', apply: (t) => Buffer.from(t.toString('latin1').replace(/\n/g, ' '), 'latin1') },
];

/** Gzips (sometimes), then damages the gzip stream (sometimes). */
function maybeGzip(t: Buffer, rng: Rng): { bytes: Buffer; how: string } {
  if (!rng.chance(0.4)) return { bytes: t, how: 'plain' };
  const z = gzipSync(t);
  const k = rng.int(4);
  if (k === 0) return { bytes: z, how: 'gzipped' };
  if (k === 1) return { bytes: z.subarray(0, 2 + rng.int(z.length - 2)), how: 'gzipped, cut' };
  if (k === 2) {
    const c = Buffer.from(z);
    const at = 2 + rng.int(c.length - 2);
    c[at] = c[at]! ^ (1 << rng.int(8));
    return { bytes: c, how: 'gzipped, a bit flipped' };
  }
  return { bytes: Buffer.concat([z, rng.chance(0.5) ? z : Buffer.from('trailing junk')]), how: 'gzipped, with more after it' };
}

// ---------------------------------------------------------------------------
// the checks
// ---------------------------------------------------------------------------

/** What reading one input came to. */
export type Outcome = 'parsed' | 'rejected';

/** A failure of a reader: an exception that is not its own, or an error that does not say where. */
export class FuzzFailure extends Error {}

const VMT_LOCATION = /\boffset \d+/;
/** file:line:, or a (compressed) offset */
const TEXT_LOCATION = (path: string): RegExp => new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(:\\d+: |: .*\\boffset \\d+|: no access lines)`);

/**
 * Classifies how a read ended: `parsed` when it returned, `rejected` when
 * it threw `errorClass` with a message that starts with the file and says
 * where; anything else is a FuzzFailure carrying the original error.
 */
export async function outcomeOf(read: () => Promise<void>, path: string, errorClass: typeof TraceError | typeof ImportError, where: RegExp): Promise<Outcome> {
  try {
    await read();
    return 'parsed';
  } catch (e) {
    if (e instanceof errorClass && e.message.startsWith(`${path}`) && where.test(e.message)) return 'rejected';
    const what = e instanceof Error ? `${e.constructor.name}: ${e.message}\n${e.stack ?? ''}` : String(e);
    throw new FuzzFailure(`not the reader's own error with a location: ${what}`);
  }
}

async function readVmt(path: string): Promise<void> {
  const r = await TraceReader.open(path);
  try {
    let records = 0;
    for await (const ch of r.chunks()) {
      records += ch.nOps;
      if (ch.ops.length !== ch.nOps || ch.blob.length % 4096 !== 0) throw new Error(`chunk ${ch.index} decoded to inconsistent arrays`);
    }
    if (r.totals === null || r.totals.records !== records) throw new Error('a trace that read to the end has no matching totals');
  } finally {
    await r.close();
  }
}

async function readText(path: string, format: ImportFormat, onError: 'stop' | 'skip', pinFetches: boolean): Promise<void> {
  const stats = newImportStats();
  let n = 0;
  for await (const b of readTextTrace(path, { format, onError, pinFetches }, stats)) {
    for (let i = 0; i < b.n; i++) {
      if (b.kind[i]! > 2) throw new Error(`access ${n + i} has kind ${b.kind[i]}`);
    }
    n += b.n;
  }
  if (n !== stats.accesses) throw new Error(`${n} accesses handed out, ${stats.accesses} counted`);
}

/** Tallies of a fuzz run. */
export interface FuzzTally {
  /** inputs made (files) */
  inputs: number;
  vmt: number;
  text: number;
  /** reads of them (a text input is read as each format, and detected) */
  reads: number;
  parsed: number;
  rejected: number;
}

export function newTally(): FuzzTally {
  return { inputs: 0, vmt: 0, text: 0, reads: 0, parsed: 0, rejected: 0 };
}

/**
 * Runs case `i` of a run seeded `seed` in directory `dir`: even cases damage
 * a binary trace, odd ones a text trace. Throws FuzzFailure (with the seed,
 * the case and what was done) on the first unexpected exception.
 */
export async function fuzzCase(seed: number, i: number, dir: string, tally: FuzzTally = newTally()): Promise<void> {
  const rng = new Rng(caseSeed(seed, i));
  let what = '';
  const path = join(dir, i % 2 === 0 ? 'case.vmt' : 'case.txt');
  const count = (o: Outcome): void => { tally.reads++; tally[o]++; };
  try {
    tally.inputs++;
    if (i % 2 === 0) {
      tally.vmt++;
      const baseIndex = rng.int(vmtBases().length);
      let b = vmtBases()[baseIndex]!;
      const steps = 1 + (rng.chance(0.25) ? 1 : 0);
      const names: string[] = [];
      for (let k = 0; k < steps; k++) {
        const m = rng.pick(VMT_MUTATIONS);
        names.push(m.name);
        try {
          b = m.apply(b, rng);
        } catch {
          // a mutation that needs structure an earlier one destroyed: use the input as it is
        }
      }
      what = `binary trace ${baseIndex}, ${names.join(', then ')}`;
      writeFileSync(path, b);
      count(await outcomeOf(() => readVmt(path), path, TraceError, VMT_LOCATION));
    } else {
      tally.text++;
      const bases = textBases();
      const baseIndex = rng.int(bases.length);
      let t: Buffer = Buffer.from(bases[baseIndex]!, 'latin1');
      const names: string[] = [];
      for (let k = 1 + rng.int(2); k > 0; k--) {
        const m = rng.pick(TEXT_MUTATIONS);
        names.push(m.name);
        t = m.apply(t, rng);
      }
      const z = maybeGzip(t, rng);
      what = `text trace ${baseIndex}, ${names.join(', then ')}, ${z.how}`;
      writeFileSync(path, z.bytes);
      const where = TEXT_LOCATION(path);
      for (const format of IMPORT_FORMATS) {
        const onError = rng.chance(0.3) ? 'skip' : 'stop';
        const pinFetches = rng.chance(0.8);
        what += `; read as ${format} (on error ${onError})`;
        count(await outcomeOf(() => readText(path, format, onError, pinFetches), path, ImportError, where));
      }
      what += '; detected';
      count(await outcomeOf(async () => { await guessTextFormat(path, rng.chance(0.3) ? 'skip' : 'stop'); }, path, ImportError, where));
    }
  } catch (e) {
    const keep = join(dir, `failure-seed${seed}-case${i}${i % 2 === 0 ? '.vmt' : '.txt'}`);
    try { copyFileSync(path, keep); } catch { /* the report below still says how to make it again */ }
    throw new FuzzFailure(`trace-fuzz seed ${seed} case ${i} (${what}): ${(e as Error).message}\n`
      + `  the input: ${keep}\n  reproduce: node -e "import('./dist/soak/trace-fuzz.js').then((m) => m.fuzzCase(${seed}, ${i}, '.'))"`);
  }
}

/** Runs cases `from` .. `to`-1 (or until `deadline`, a Date.now() value). */
export async function fuzzRun(seed: number, from: number, to: number, deadline = Infinity, log?: (line: string) => void): Promise<FuzzTally> {
  const dir = mkdtempSync(join(tmpdir(), 'vmmu-trace-fuzz-'));
  const tally = newTally();
  let lastLog = Date.now();
  for (let i = from; i < to && Date.now() < deadline; i++) {
    await fuzzCase(seed, i, dir, tally); // on a failure the directory stays: it holds the failing input
    if (log && Date.now() - lastLog > 30_000) {
      lastLog = Date.now();
      log(`${summary(tally)} so far (case ${i})`);
    }
  }
  rmSync(dir, { recursive: true, force: true });
  return tally;
}

export function summary(t: FuzzTally): string {
  return `${t.inputs} inputs tried (${t.vmt} binary, ${t.text} text), read ${t.reads} times: ${t.parsed} parsed, ${t.rejected} rejected with the reader's own error and a location`;
}

export const traceFuzz: SoakPart = {
  name: 'trace-fuzz',
  what: 'damaged and crafted .vmt and text traces: each reads, or is refused with the reader\'s own error and a location',
  run: async (o: SoakOptions): Promise<string> => {
    const seconds = o.seconds ?? 600;
    const t = await fuzzRun(o.seed, 0, Number.MAX_SAFE_INTEGER, Date.now() + seconds * 1000, o.log);
    return summary(t);
  },
};
