/**
 * Damaged and crafted binary traces, one row each: every one is refused
 * with a TraceError that names the file and the byte offset of what is
 * wrong (never a native abort, a stack trace, an allocation the size of a
 * bogus length, or a silent acceptance). The crafted ones carry valid CRCs,
 * so only the reader's own checks against the format stand in their way.
 */
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  accessOp, CHUNK_HEAD_BYTES, encodeHeader, END_BYTES, FORMAT_VERSION, MAGIC_CHUNK, MAGIC_END, MAX_CHUNK_RECORDS, R_CR3, R_PTWRITE8,
  TraceError, type TraceHeader,
} from '../../src/trace/format.js';
import { memorySink, TraceWriter } from '../../src/trace/writer.js';
import { TraceReader } from '../../src/trace/reader.js';
import { replayBinary } from '../../src/trace/replayer.js';

const tmp = mkdtempSync(join(tmpdir(), 'vmmu-bad-vmt-'));

function header(over: Partial<TraceHeader> = {}): TraceHeader {
  return {
    version: FORMAT_VERSION, source: 0, format: 0, maxPhysAddr: 36, gbPages: true, softTlbBits: 13, cpl: 0, ac: false, checkEvery: 0,
    seed: 1, guestMemory: 16 << 20, holes: [{ gpa: 0xa0000, bytes: 0x20000 }], cr0: 0, cr3Lo: 0, cr3Hi: 0, cr4: 0, efer: 0, pkru: 0,
    pdpte: [0, 0, 0, 0, 0, 0, 0, 0], notes: { tool: 'bad-input corpus' }, ...over,
  };
}

/** A small good trace: two chunks of accesses, a CR3 load and a page image. */
function good(over: Partial<TraceHeader> = {}): Buffer {
  const sink = memorySink();
  const w = new TraceWriter(sink, header(over), { chunkRecords: 64 });
  const page = new Uint8Array(4096).fill(7);
  w.page(5, page);
  for (let i = 0; i < 100; i++) {
    if (i === 50) w.event(R_CR3, 0x5000, 0);
    w.access(accessOp(0, 0, 4), 0x1000 + i * 8, 0);
  }
  w.close();
  return sink.bytes();
}

const base = good();
const H = base.readUInt16LE(6); // the header's length: the first chunk starts here
const NOTES_AT = 92 + 16; // the notes' length field, after the one memory hole

/** The same bytes with the header's CRC made right again. */
function headerCrc(b: Buffer): Buffer {
  const len = b.readUInt16LE(6);
  b.writeUInt32LE(crc32(b.subarray(0, len - 4)), len - 4);
  return b;
}

/** A chunk with a valid CRC around `body` (declared lengths and records as given). */
function chunk(body: Buffer, records: number, declared: { u?: number } = {}): Buffer {
  const z = deflateRawSync(body);
  const head = Buffer.alloc(CHUNK_HEAD_BYTES);
  head.writeUInt32LE(MAGIC_CHUNK, 0);
  head.writeUInt32LE(z.length, 4);
  head.writeUInt32LE(declared.u ?? body.length, 8);
  head.writeUInt32LE(records, 12);
  head.writeUInt32LE(crc32(z), 16);
  return Buffer.concat([head, z]);
}

/** An end record with a valid CRC. */
function end(chunks: number, records: number, accesses: number): Buffer {
  const e = Buffer.alloc(END_BYTES);
  e.writeUInt32LE(MAGIC_END, 0);
  e.writeUInt32LE(chunks, 4);
  e.writeDoubleLE(records, 8);
  e.writeDoubleLE(accesses, 16);
  e.writeUInt32LE(crc32(e.subarray(0, END_BYTES - 4)), END_BYTES - 4);
  return e;
}

/** A body: the four column counts, then `rest`. */
function body(nOps: number, nAddr: number, nArgs: number, nBlob: number, rest: Buffer): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt32LE(nOps, 0); h.writeUInt32LE(nAddr, 4); h.writeUInt32LE(nArgs, 8); h.writeUInt32LE(nBlob, 12);
  return Buffer.concat([h, rest]);
}

/** One access record (by default op 0x8004, a 4-byte read; its address delta 0). */
function oneAccess(op = 0x8004): Buffer {
  const b = Buffer.alloc(4 + 4);
  b.writeUInt16LE(op, 0);
  return b;
}


const file = (...parts: Buffer[]): Buffer => Buffer.concat([base.subarray(0, H), ...parts]);
/** The good trace with `f` applied (and the header CRC made right again, with `crc`). */
const patch = (f: (b: Buffer) => void, crc = false): Buffer => {
  const b = Buffer.from(base);
  f(b);
  return crc ? headerCrc(b) : b;
};
const headerWith = (over: Partial<TraceHeader>): Buffer => Buffer.concat([encodeHeader(header(over)), base.subarray(H)]);

interface Case { name: string; bytes: () => Buffer; error: RegExp }

const CASES: Case[] = [
  // ---- item 1: a length no CRC covers reaches a read ----
  { name: "a flipped top bit in a chunk's compressed length", bytes: () => patch((b) => { b[H + 7] = b[H + 7]! ^ 0x80; }), error: new RegExp(`chunk at offset ${H}: compressed length \\d+ at offset ${H + 4} is outside 1\\.\\.\\d+`) },
  { name: 'a compressed length beyond the end of the file', bytes: () => patch((b) => { b.writeUInt32LE(b.readUInt32LE(H + 8), H + 4); }), error: new RegExp(`truncated: the chunk at offset ${H} needs \\d+ compressed bytes, the file ends at offset ${base.length}`) },
  { name: 'a compressed length of 0', bytes: () => patch((b) => { b.writeUInt32LE(0, H + 4); }), error: new RegExp(`compressed length 0 at offset ${H + 4}`) },
  { name: 'a record count of 0', bytes: () => patch((b) => { b.writeUInt32LE(0, H + 12); }), error: new RegExp(`record count 0 at offset ${H + 12} is outside 1\\.\\.${MAX_CHUNK_RECORDS}`) },
  { name: 'a record count above 2^20', bytes: () => patch((b) => { b.writeUInt32LE(MAX_CHUNK_RECORDS + 1, H + 12); }), error: new RegExp(`record count ${MAX_CHUNK_RECORDS + 1} at offset ${H + 12}`) },
  // ---- item 2: deflate bombs ----
  { name: 'an uncompressed length of 4 GiB', bytes: () => patch((b) => { b.writeUInt32LE(0xffffffff, H + 8); }), error: new RegExp(`uncompressed length 4294967295 at offset ${H + 8} is outside`) },
  {
    name: 'a body that inflates far beyond its declared length (a deflate bomb)',
    bytes: () => {
      const c = chunk(Buffer.alloc(8 << 20), 65536, { u: 1 << 20 });
      return file(c, end(1, 65536, 0));
    },
    error: new RegExp(`chunk at offset ${H}: the body inflates to more than the 1048576 bytes declared at offset ${H + 8}`),
  },
  {
    name: 'a body that inflates to less than declared',
    bytes: () => file(chunk(body(1, 1, 0, 0, oneAccess()), 1, { u: 40 }), end(1, 1, 1)),
    error: new RegExp(`chunk at offset ${H}: 24 bytes decompressed, 40 declared at offset ${H + 8}`),
  },
  // ---- columns that do not add up (valid CRCs) ----
  {
    name: 'a page-image column that is not whole pages',
    bytes: () => file(chunk(body(1, 1, 0, 100, Buffer.concat([oneAccess(), Buffer.alloc(100)])), 1), end(1, 1, 1)),
    error: new RegExp(`chunk at offset ${H}: the page-image column of 100 bytes is not a whole number of 4096-byte pages`),
  },
  {
    name: 'more addresses than records',
    bytes: () => file(chunk(body(1, 2, 0, 0, Buffer.concat([oneAccess(), Buffer.alloc(4)])), 1), end(1, 1, 1)),
    error: new RegExp(`chunk at offset ${H}: 2 addresses and 0 operands are more than 1 records can have`),
  },
  {
    name: "a body whose record count is not the chunk header's",
    bytes: () => file(chunk(body(2, 1, 0, 0, oneAccess()), 1, { u: 24 }), end(1, 1, 1)),
    error: new RegExp(`chunk at offset ${H}: the body holds 2 records, the chunk header 1`),
  },
  // ---- access ops with bits the format does not define (valid CRCs) ----
  {
    name: 'an access of kind 3',
    bytes: () => file(chunk(body(1, 1, 0, 0, oneAccess(0xb004)), 1), end(1, 1, 1)),
    error: new RegExp(`chunk at offset ${H}: record 0 is an access with bits 0xb004 that version 3 of the format does not define`),
  },
  {
    name: 'an access with bit 9 set',
    bytes: () => file(chunk(body(1, 1, 0, 0, oneAccess(0x8204)), 1), end(1, 1, 1)),
    error: new RegExp(`record 0 is an access with bits 0x8204 that version 3`),
  },
  {
    name: 'a fetch marked as half of a read-modify-write',
    bytes: () => file(chunk(body(1, 1, 0, 0, oneAccess(0xa104)), 1), end(1, 1, 1)),
    error: new RegExp(`record 0 is an access with bits 0xa104 that version 3`),
  },
  {
    name: 'a version-1 file with a read-modify-write half',
    bytes: () => { const h = Buffer.from(base.subarray(0, H)); h.writeUInt16LE(1, 4); return Buffer.concat([headerCrc(h), chunk(body(1, 1, 0, 0, oneAccess(0x8104)), 1), end(1, 1, 1)]); },
    error: new RegExp(`chunk at offset ${H}: record 0 is an access with bits 0x8104 that version 1 of the format does not define`),
  },
  {
    name: 'a version-2 file with an 8-byte page-table write (PTWRITE8, version 3)',
    bytes: () => {
      const h = Buffer.from(base.subarray(0, H));
      h.writeUInt16LE(2, 4);
      const ev = Buffer.alloc(4 + 16); // the op (its column padded to 4 bytes), then four operands
      ev.writeUInt16LE(R_PTWRITE8, 0);
      return Buffer.concat([headerCrc(h), chunk(body(1, 0, 4, 0, ev), 1), end(1, 1, 0)]);
    },
    error: new RegExp(`chunk at offset ${H}: record 0 is an 8-byte page-table write \\(PTWRITE8\\), which version 2 of the format does not define`),
  },
  // ---- the end record (valid CRC) ----
  { name: "an end record whose access count is wrong", bytes: () => Buffer.concat([base.subarray(0, base.length - END_BYTES), end(2, 102, 99)]), error: new RegExp(`end record at offset ${base.length - END_BYTES} counts 2 chunks, 102 records and 99 accesses, but the file holds 2, 102 and 100`) },
  { name: 'an end record whose chunk count is wrong', bytes: () => Buffer.concat([base.subarray(0, base.length - END_BYTES), end(3, 102, 100)]), error: /end record at offset \d+ counts 3 chunks/ },
  { name: 'bytes after the end record', bytes: () => Buffer.concat([base, Buffer.from('x')]), error: new RegExp(`1 stray bytes after the end record at offset ${base.length}`) },
  // ---- crafted headers (valid CRCs) ----
  { name: 'a CPL of 200', bytes: () => patch((b) => { b[13] = 200; }, true), error: /header field at offset 13: CPL 200 is outside 0\.\.3/ },
  { name: 'notes that are null', bytes: () => headerWith({ notes: null as unknown as Record<string, unknown> }), error: /header notes at offset \d+ are null, not a JSON object/ },
  { name: 'notes that are an array', bytes: () => headerWith({ notes: [1] as unknown as Record<string, unknown> }), error: /header notes at offset \d+ are an array/ },
  { name: 'notes that are not JSON', bytes: () => patch((b) => { b[H - 5] = 0x7b; }, true), error: /header notes at offset \d+ are not valid JSON/ },
  { name: 'a hole count far beyond the header', bytes: () => patch((b) => { b.writeUInt16LE(4000, 88); }, true), error: new RegExp(`header field at offset 88: 4000 memory holes need 64000 bytes from offset 92, past the header's end at offset ${H}`) },
  { name: 'a hole of 0 bytes', bytes: () => headerWith({ holes: [{ gpa: 0xa0000, bytes: 0 }] }), error: /header field at offset 100: memory hole 0 at gpa 0xa0000 is 0 bytes long, not a positive multiple of 4096/ },
  { name: 'a hole that is not page aligned', bytes: () => headerWith({ holes: [{ gpa: 0xa0010, bytes: 4096 }] }), error: /header field at offset 92: memory hole 0 at gpa 0xa0010 is not page aligned/ },
  { name: 'a source that is neither recorded nor imported', bytes: () => patch((b) => { b[8] = 7; }, true), error: /offset 8: source 7 is outside 0\.\.1/ },
  { name: 'a paging format that does not exist', bytes: () => patch((b) => { b[9] = 9; }, true), error: /offset 9: paging format 9 is outside 0\.\.4/ },
  { name: 'a MAXPHYADDR of 60', bytes: () => patch((b) => { b[10] = 60; }, true), error: /offset 10: MAXPHYADDR 60 is outside 32\.\.52/ },
  { name: 'a software TLB of 2^30 slots', bytes: () => patch((b) => { b[12] = 30; }, true), error: /offset 12: log2 of the software TLB slots 30 is outside 8\.\.20/ },
  { name: 'no guest RAM', bytes: () => headerWith({ guestMemory: 0 }), error: /offset 24: guest RAM of 0 bytes/ },
  { name: 'notes whose length runs into the CRC', bytes: () => patch((b) => { b.writeUInt16LE(b.readUInt16LE(NOTES_AT) + 1, NOTES_AT); }, true), error: new RegExp(`header field at offset ${NOTES_AT}: notes of \\d+ bytes from offset ${NOTES_AT + 2} do not end where the CRC starts, at offset ${H - 4}`) },
  { name: 'a header length too small', bytes: () => patch((b) => { b.writeUInt16LE(20, 6); }), error: /header length 20 at offset 6 is too small/ },
  { name: 'a newer format version', bytes: () => patch((b) => { b.writeUInt16LE(4, 4); }), error: /version 4 at offset 4 is not supported \(this vmmu reads versions 1 to 3\)/ },
  { name: 'format version 0', bytes: () => patch((b) => { b.writeUInt16LE(0, 4); }), error: /version 0 at offset 4 is not supported/ },
  { name: 'a file of 6 bytes', bytes: () => base.subarray(0, 6), error: /truncated header: the file ends at offset 6/ },
];

describe('a damaged or crafted binary trace', () => {
  it('is the notes-length case above aimed at the notes length field?', () => {
    expect(base.readUInt16LE(NOTES_AT)).toBe(JSON.stringify(header().notes).length);
  });

  it.each(CASES)('is $name refused with a TraceError naming the file and the offset?', async ({ name, bytes, error }) => {
    const path = join(tmp, `${name.replace(/\W+/g, '-')}.vmt`);
    writeFileSync(path, bytes());
    let err: unknown = null;
    try {
      const r = await TraceReader.open(path);
      try {
        for await (const ch of r.chunks()) void ch;
      } finally {
        await r.close();
      }
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TraceError);
    const msg = (err as Error).message;
    expect(msg).toMatch(error);
    expect(msg.startsWith(`${path}: `)).toBe(true);
    expect(msg).toMatch(/offset \d+/);
  });

  it('does the good trace the cases start from read, its totals checked?', async () => {
    const path = join(tmp, 'good.vmt');
    writeFileSync(path, base);
    const r = await TraceReader.open(path);
    let n = 0;
    for await (const ch of r.chunks()) n += ch.nOps;
    await r.close();
    expect(n).toBe(102);
    expect(r.totals).toEqual({ chunks: 2, records: 102, accesses: 100 });
  });

  it('is a directory refused with a TraceError, not an EISDIR stack trace?', async () => {
    const dir = join(tmp, 'a-directory.vmt');
    mkdirSync(dir);
    await expect(TraceReader.open(dir)).rejects.toThrow(new TraceError(`${dir}: is a directory, not a trace`));
  });

  it('is a header whose guest cannot be built (128 GiB of RAM) refused by the replay, naming the file and the limit?', async () => {
    const path = join(tmp, 'huge-guest.vmt');
    writeFileSync(path, good({ guestMemory: 128 * 2 ** 30, maxPhysAddr: 40, holes: [] }));
    await expect(replayBinary(path, { mode: 'shadow' })).rejects.toThrow(new RegExp(`^${path}: the guest in the header \\(offsets 8\\.\\.\\d+\\) cannot be built: .*exceeds vmmu's limit of 64 GiB`));
    await expect(replayBinary(path, { mode: 'shadow' })).rejects.toBeInstanceOf(TraceError);
  });

  it('is a header with 8 GiB of RAM, four times the host memory, replayed (host frames back only what the trace touches)?', async () => {
    const path = join(tmp, 'large-guest.vmt');
    writeFileSync(path, good({ guestMemory: 8 * 2 ** 30, maxPhysAddr: 40, holes: [] }));
    const r = await replayBinary(path, { mode: 'shadow' });
    expect(r.counts.records).toBeGreaterThan(0);
  });
});
