/**
 * The binary trace format: what goes in comes out, in constant memory, and
 * a damaged file is reported with the byte offset where it goes wrong.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  accessOp, decodeHeader, encodeHeader, FORMAT_VERSION, OP_ACCESS, OP_HI, R_CHECK, R_CR3, R_INVPCID, R_PAGE, R_PAGING, R_PTWRITE, R_ZPAGE,
  TraceError, type TraceHeader,
} from '../../src/trace/format.js';
import { fileSink, memorySink, TraceWriter } from '../../src/trace/writer.js';
import { threadedChunks, TraceReader, type DecodedChunk } from '../../src/trace/reader.js';
import { ACC_AC, ACC_FETCH, ACC_USER, ACC_WRITE } from '../../src/mmu/paging/bits.js';

const tmp = mkdtempSync(join(tmpdir(), 'vmmu-format-'));

function header(over: Partial<TraceHeader> = {}): TraceHeader {
  return {
    version: FORMAT_VERSION, source: 0, format: 3, maxPhysAddr: 36, gbPages: true, softTlbBits: 13, cpl: 3, ac: true, checkEvery: 64,
    seed: 7, guestMemory: 96 << 20, holes: [{ gpa: 0xa0000, bytes: 0x20000 }], cr0: 0x80010001 | 0, cr3Lo: 0x5000, cr3Hi: 0, cr4: 0x20, efer: 0xd00, pkru: 0x55,
    pdpte: [1, 2, 3, 4, 5, 6, 7, 8], notes: { tool: 'test', nested: { a: [1, 2] } }, ...over,
  };
}

/** A deterministic mix of every record type. */
interface Rec { op: number; lo?: number; hi?: number; args?: number[]; page?: Uint8Array }
function records(n: number): Rec[] {
  let s = 99;
  const rnd = (): number => { s ^= s << 13; s ^= s >>> 17; s ^= s << 5; return s >>> 0; };
  const out: Rec[] = [];
  for (let i = 0; i < n; i++) {
    const r = rnd() % 100;
    if (r < 80) {
      const acc = [0, ACC_WRITE, ACC_FETCH, ACC_USER, ACC_USER | ACC_WRITE, ACC_AC][rnd() % 6]!;
      const hi = rnd() % 4 === 0 ? rnd() | 0 : 0;
      out.push({ op: accessOp(acc, hi, rnd() % 16), lo: rnd() | 0, hi });
    } else if (r < 85) out.push({ op: R_CR3, args: [rnd() | 0, rnd() | 0] });
    else if (r < 88) out.push({ op: R_PAGING, args: [1, 2, 3, 4, 5, 6].map(() => rnd() | 0) });
    else if (r < 92) out.push({ op: R_PTWRITE, args: [rnd() | 0, 0, 4, rnd() | 0] });
    else if (r < 94) out.push({ op: R_INVPCID, args: [rnd() % 4, rnd() % 4096, rnd() | 0, 0] });
    else if (r < 96) out.push({ op: R_CHECK, args: [rnd() | 0, i, 0] });
    else {
      const page = new Uint8Array(4096);
      if (r < 98) for (let k = 0; k < 4096; k += 7) page[k] = rnd() & 0xff;
      out.push({ op: R_PAGE, args: [rnd() % 100000, 0], page });
    }
  }
  return out;
}

function write(w: TraceWriter, recs: Rec[]): void {
  for (const r of recs) {
    if (r.op & OP_ACCESS) w.access(r.op, r.lo!, r.hi!);
    else if (r.op === R_PAGE) w.page(r.args![0]!, r.page!);
    else w.event(r.op, ...(r.args ?? []));
  }
}

/** Flattens decoded chunks back into records (a ZPAGE comes back as a zero page image). */
function flatten(chunks: DecodedChunk[]): Rec[] {
  const out: Rec[] = [];
  for (const ch of chunks) {
    let k = 0, g = 0, p = 0;
    for (let i = 0; i < ch.nOps; i++) {
      const op = ch.ops[i]!;
      if (op & OP_ACCESS) {
        const hi = op & OP_HI ? ch.args[g++]! : 0;
        out.push({ op, lo: ch.addr[k++]!, hi });
      } else if (op === R_PAGE || op === R_ZPAGE) {
        const page = op === R_PAGE ? ch.blob.slice(p, p + 4096) : new Uint8Array(4096);
        if (op === R_PAGE) p += 4096;
        out.push({ op: R_PAGE, args: [ch.args[g]!, ch.args[g + 1]!], page });
        g += 2;
      } else {
        const n = { [R_CR3]: 2, [R_PAGING]: 6, [R_PTWRITE]: 4, [R_INVPCID]: 4, [R_CHECK]: 3 }[op]!;
        out.push({ op, args: Array.from(ch.args.subarray(g, g + n)) });
        g += n;
      }
    }
  }
  return out;
}

async function readAll(path: string): Promise<{ header: TraceHeader; recs: Rec[]; reader: TraceReader }> {
  const reader = await TraceReader.open(path);
  const chunks: DecodedChunk[] = [];
  try {
    for await (const ch of reader.chunks()) chunks.push(ch);
  } finally {
    await reader.close();
  }
  return { header: reader.header, recs: flatten(chunks), reader };
}

function writeTrace(name: string, recs: Rec[], chunkRecords = 1000): string {
  const path = join(tmp, name);
  const w = new TraceWriter(fileSink(path), header(), { chunkRecords });
  write(w, recs);
  w.close();
  return path;
}

describe('the trace format', () => {
  it('does a header survive encoding, holes, registers and notes included?', () => {
    const h = header();
    expect(decodeHeader(encodeHeader(h), 'x')).toEqual(h);
  });

  it('does every record type come back exactly, across many chunks?', async () => {
    const recs = records(6000);
    const path = writeTrace("all.vmt", recs, 777);
    const { header: h, recs: back, reader } = await readAll(path);
    expect(h).toEqual(header());
    expect(back).toEqual(recs);
    expect(reader.totals).toEqual({ chunks: Math.ceil(6000 / 777), records: 6000, accesses: recs.filter((r) => r.op & OP_ACCESS).length });
  });

  it('does the reader thread hand out the same chunks as the in-thread reader?', async () => {
    const path = writeTrace('threaded.vmt', records(5000), 500);
    const direct = (await readAll(path)).recs;
    const chunks: DecodedChunk[] = [];
    const state = { bytesRead: 0, totals: null };
    for await (const ch of threadedChunks(path, state)) chunks.push(ch);
    expect(flatten(chunks)).toEqual(direct);
    expect(state.totals).toMatchObject({ records: 5000 });
  });

  it('does the reader hold at most two chunks at a time however long the trace?', async () => {
    const w = new TraceWriter(fileSink(join(tmp, 'long.vmt')), header(), { chunkRecords: 256 });
    for (let i = 0; i < 200_000; i++) w.access(accessOp(0, 0, 4), i * 64, 0);
    expect(w.close().chunks).toBeGreaterThan(700);
    const reader = await TraceReader.open(join(tmp, 'long.vmt'));
    let n = 0;
    for await (const ch of reader.chunks()) n += ch.nOps;
    await reader.close();
    expect(n).toBe(200_000);
    expect(reader.peakBuffered).toBeLessThanOrEqual(2);
  });

  it('does a sequential stream compress to well under a byte per access?', () => {
    const sink = memorySink();
    const w = new TraceWriter(sink, header());
    for (let i = 0; i < 100_000; i++) w.access(accessOp(i % 3 === 0 ? ACC_FETCH : 0, 0, 4), i % 3 === 0 ? 0x400000 + i : 0x7fff0000 + ((i * 8) & 0xffff), 0);
    w.close();
    expect(sink.bytes().length).toBeLessThan(100_000);
  });
});

describe('a damaged trace', () => {
  const good = (): string => writeTrace('good.vmt', records(3000), 500);

  async function errorOf(bytes: Buffer, name: string): Promise<string> {
    const path = join(tmp, name);
    writeFileSync(path, bytes);
    try {
      await readAll(path);
    } catch (e) {
      expect(e).toBeInstanceOf(TraceError);
      return (e as Error).message;
    }
    throw new Error('no error');
  }

  it('does a truncated trace name the offset where the file ends?', async () => {
    const b = readFileSync(good());
    for (const cut of [b.length - 1, b.length - 30, Math.floor(b.length / 2), 200]) {
      const msg = await errorOf(b.subarray(0, cut), `cut-${cut}.vmt`);
      expect(msg).toMatch(/truncated/);
      expect(msg).toMatch(new RegExp(`offset ${cut}\\b`));
    }
  });

  it('does a flipped byte in a chunk give a CRC error naming the chunk offset?', async () => {
    const b = Buffer.from(readFileSync(good()));
    const hlen = b.readUInt16LE(6);
    const at = hlen + 20 + 10; // inside the first chunk's compressed data
    b[at] = b[at]! ^ 0x40;
    const msg = await errorOf(b, 'flipped.vmt');
    expect(msg).toMatch(new RegExp(`chunk at offset ${hlen}: CRC mismatch`));
  });

  it('does a file that is not a trace, or a newer version, say so at offset 0 or 4?', async () => {
    expect(await errorOf(Buffer.from('hello world, not a trace at all'), 'text.vmt')).toMatch(/not a vmmu trace.*offset 0/);
    const b = Buffer.from(readFileSync(good()));
    b.writeUInt16LE(99, 4);
    expect(await errorOf(b, 'v99.vmt')).toMatch(/version 99 at offset 4 is not supported/);
    const c = Buffer.from(readFileSync(good()));
    c[20] = c[20]! ^ 1;
    expect(await errorOf(c, 'hdr.vmt')).toMatch(/header CRC mismatch/);
  });

  it('does garbage after a chunk name its offset?', async () => {
    const b = readFileSync(good());
    const hlen = b.readUInt16LE(6);
    const clen = b.readUInt32LE(hlen + 4);
    const next = hlen + 20 + clen;
    const bad = Buffer.concat([b.subarray(0, next), Buffer.from('JUNKJUNKJUNKJUNKJUNKJUNK'), b.subarray(next)]);
    expect(await errorOf(bad, 'junk.vmt')).toMatch(new RegExp(`no chunk or end record at offset ${next}`));
  });
});
