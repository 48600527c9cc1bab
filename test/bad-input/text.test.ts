/**
 * Damaged and hostile text traces (lackey, cache-lab, pinatrace), one row
 * each: every one is refused with an ImportError that names the file and
 * the line (or, for gzip damage, the compressed offset), in bounded time
 * and memory; and format detection names the line it cannot read.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  detectTextFormat, guessTextFormat, ImportError, MAX_LINE_BYTES, newImportStats, readTextTrace, type ImportFormat,
} from '../../src/trace/importers.js';

const tmp = mkdtempSync(join(tmpdir(), 'vmmu-bad-text-'));
let n = 0;
function file(content: string | Buffer, name = `t${n++}`): string {
  const p = join(tmp, name);
  writeFileSync(p, content);
  return p;
}

async function readAll(path: string, format: ImportFormat, onError: 'stop' | 'skip' = 'stop', stats = newImportStats()): Promise<number> {
  let count = 0;
  for await (const b of readTextTrace(path, { format, onError }, stats)) count += b.n;
  return count;
}

const gz = gzipSync(' L 1000,4\n'.repeat(2000) + ' S 2000,8\n'.repeat(2000));

interface Case { name: string; format: ImportFormat; content: () => string | Buffer; error: (path: string) => string | RegExp }

const CASES: Case[] = [
  // item 3: a line without end
  { name: 'a 10 KB line', format: 'lackey', content: () => `I  1000,4\n L ${'1'.repeat(10_000)},4\n`, error: (p) => `${p}:2: line longer than ${MAX_LINE_BYTES} bytes in lackey line ' L ${'1'.repeat(77)}'` },
  { name: 'an unterminated 5000-byte last line', format: 'pinatrace', content: () => `0x1: R 0x2\n${'x'.repeat(5000)}`, error: (p) => new RegExp(`^${p}:2: line longer than ${MAX_LINE_BYTES} bytes in pinatrace line 'x{80}'$`) },
  // lackey sizes and the top of the address space
  { name: 'a lackey size above a page', format: 'lackey', content: () => ' L 1000,8192\n', error: (p) => `${p}:1: size 8192 is larger than a page (4096 bytes) in lackey line ' L 1000,8192'` },
  { name: 'a lackey size of 10^12', format: 'lackey', content: () => ' L 1000,1000000000000\n', error: (p) => new RegExp(`^${p}:1: size \\d+ is larger than a page`) },
  { name: 'a cache-lab size above a page', format: 'cachelab', content: () => ' S 10,5000\n', error: (p) => `${p}:1: size 5000 is larger than a page (4096 bytes) in cachelab line ' S 10,5000'` },
  { name: 'a pinatrace size above a page', format: 'pinatrace', content: () => '0x400000: W 0x601000 4097\n', error: (p) => `${p}:1: size 4097 is larger than a page (4096 bytes) in pinatrace line '0x400000: W 0x601000 4097'` },
  { name: 'a lackey access that wraps past 2^64', format: 'lackey', content: () => 'I  1000,4\n L fffffffffffffffc,8\n', error: (p) => `${p}:2: an access of 8 bytes at 0xfffffffffffffffc runs past the top of the 64-bit address space in lackey line ' L fffffffffffffffc,8'` },
  { name: 'a pinatrace access that wraps past 2^64', format: 'pinatrace', content: () => '0x400000: R 0xffffffffffffffff 2\n', error: (p) => `${p}:1: an access of 2 bytes at 0xffffffffffffffff runs past the top of the 64-bit address space in pinatrace line '0x400000: R 0xffffffffffffffff 2'` },
  // control bytes are escaped, not sent to the terminal
  { name: 'a line of control bytes', format: 'lackey', content: () => 'I  1000,4\n\x1b[2J\x00\n', error: (p) => `${p}:2: unknown access kind '\\x1b' in lackey line '\\x1b[2J\\x00'` },
  // item 12: damaged gzip
  { name: 'a truncated gzip trace', format: 'lackey', content: () => gz.subarray(0, gz.length - 20), error: (p) => new RegExp(`^${p}: truncated gzip data: the file ends at compressed offset ${gz.length - 20}, inside the gzip stream; \\d+ lines read before it$`) },
  {
    name: 'a gzip trace with a bad CRC',
    format: 'lackey',
    content: () => { const b = Buffer.from(gz); b[b.length - 6] = b[b.length - 6]! ^ 0xff; return b; },
    error: (p) => new RegExp(`^${p}: corrupt gzip data at compressed offset \\d+ \\(incorrect data check\\); \\d+ lines read before it$`),
  },
  {
    name: 'a gzip trace with a bad compression method',
    format: 'lackey',
    content: () => { const b = Buffer.from(gz); b[2] = 7; return b; },
    error: (p) => new RegExp(`^${p}: corrupt gzip data at compressed offset \\d+ \\(unknown compression method\\); 0 lines read before it$`),
  },
];

describe('a damaged or hostile text trace', () => {
  it.each(CASES)('is $name refused with an ImportError naming the file and where?', async ({ format, content, error }) => {
    const p = file(content());
    const err = await readAll(p, format).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(ImportError);
    const want = error(p);
    if (typeof want === 'string') expect((err as Error).message).toBe(want);
    else expect((err as Error).message).toMatch(want);
  });

  it('does a 20 MB line fail at once, in well under a second (it was quadratic)?', async () => {
    const p = file(Buffer.alloc(20 << 20, 0x31));
    const t0 = performance.now();
    await expect(readAll(p, 'lackey')).rejects.toThrow(`${p}:1: line longer than ${MAX_LINE_BYTES} bytes in lackey line '${'1'.repeat(80)}'`);
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('does --on-error skip pass over an overlong line spread across read chunks, counting it once?', async () => {
    // 3 MiB: longer than the 1 MiB read chunk, so the line ends several chunks later
    const p = file(`I  1000,4\n L ${'2'.repeat(3 << 20)},4\n S 3000,8\n`);
    const stats = newImportStats();
    expect(await readAll(p, 'lackey', 'skip', stats)).toBe(2);
    expect(stats.skipped).toBe(1);
    expect(stats.lines).toBe(3);
    expect(stats.errors[0]).toMatch(new RegExp(`^${p}:2: line longer than ${MAX_LINE_BYTES} bytes`));
  });

  it('does an access of exactly a page, or ending exactly at 2^64, still read (as two accesses, and one)?', async () => {
    expect(await readAll(file(' L 1800,4096\n'), 'lackey')).toBe(2);
    expect(await readAll(file(' L fffffffffffffff8,8\n'), 'lackey')).toBe(1);
  });

  it('does progress through a gzipped trace follow the compressed bytes inflate has consumed (100% only at the end)?', async () => {
    // pseudo-random addresses, so that the file is megabytes even compressed
    let s = 12345;
    let text = '';
    for (let i = 0; i < 400_000; i++) {
      s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
      text += ` L ${(s >>> 0).toString(16)},4\n`;
    }
    const z = gzipSync(text);
    expect(z.length).toBeGreaterThan(2 << 20);
    const p = file(z, 'progress.lackey.gz');
    const stats = newImportStats();
    const points: [number, number][] = [];
    let done = 0;
    for await (const b of readTextTrace(p, { format: 'lackey' }, stats)) {
      done += b.n;
      points.push([stats.bytes / z.length, done / 400_000]);
    }
    expect(points.length).toBeGreaterThan(4);
    for (const [bytes, work] of points) expect(Math.abs(bytes - work)).toBeLessThan(0.1);
    expect(stats.bytes).toBe(z.length);
  });
});

describe('format detection', () => {
  it.each([
    ['0x400000:R 0x601000\n', 'pinatrace'],
    ['0X400000: W 0X601000 8\n#eof\n', 'pinatrace'],
    ['0x400000:\tR\t0x601000\n', 'pinatrace'],
    ['==1== Lackey\nI  0401b790,2\n M 1ff0,8\n', 'lackey'],
    [' L 10,1\n S 18,1\n', 'lackey'],
  ])('does detection accept what the importer accepts: %j?', async (text, format) => {
    expect(await detectTextFormat(file(text))).toBe(format);
  });

  it('does detection name the line that is neither format, with both reasons?', async () => {
    const p = file('I  1000,4\nhello world\n');
    await expect(guessTextFormat(p)).rejects.toThrow(`${p}:2: unknown access kind 'h' in lackey line 'hello world' (the lines before it read as lackey); give --import FORMAT (lackey, cachelab, pinatrace, champsim) to choose the format`);
    const q = file('hello\n');
    await expect(guessTextFormat(q)).rejects.toThrow(`${q}:1: line 'hello' is neither lackey/cache-lab (unknown access kind 'h') nor pinatrace (instruction pointer does not start with '0x'); give --import FORMAT`);
    const r = file('0x1: R 0x2\n0x1: R 0x3 4 5\n');
    await expect(guessTextFormat(r)).rejects.toThrow(`${r}:2: the text after the address is not a size in pinatrace line '0x1: R 0x3 4 5'`);
  });

  it('does detection say when there are no access lines at all, and read past a damaged gzip tail?', async () => {
    const p = file('==1== Lackey\n--1-- message\n\n');
    await expect(guessTextFormat(p)).rejects.toThrow(`${p}: no access lines in the first 28 bytes, so the format cannot be told; give --import FORMAT`);
    const z = file(gz.subarray(0, gz.length - 20));
    expect(await guessTextFormat(z)).toBe('lackey');
    const bad = Buffer.from(gz);
    bad[2] = 7;
    const q = file(bad);
    await expect(guessTextFormat(q)).rejects.toThrow(new RegExp(`^${q}: corrupt gzip data at compressed offset \\d+ \\(unknown compression method\\)$`));
  });

  it('does detection with --on-error skip take the format most lines read as?', async () => {
    const p = file('I  1000,4\ngarbage\n L 2000,4\n');
    await expect(guessTextFormat(p)).rejects.toThrow(/:2: /);
    expect(await guessTextFormat(p, 'skip')).toBe('lackey');
  });
});
