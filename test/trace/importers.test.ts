/**
 * Text importers: lackey, cache-lab and pinatrace lines become the right
 * accesses; malformed lines are reported with file and line, or skipped
 * and counted.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { detectTextFormat, ImportError, newImportStats, readTextTrace, type ImportOptions } from '../../src/trace/importers.js';
import { KIND_FETCH, KIND_READ, KIND_WRITE } from '../../src/trace/format.js';
import { AddressFolder } from '../../src/trace/fold.js';

const tmp = mkdtempSync(join(tmpdir(), 'vmmu-import-'));

function file(name: string, text: string | Buffer): string {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
}

interface Acc { kind: number; size: number; lo: number; hi: number }
async function accesses(path: string, o: ImportOptions, stats = newImportStats()): Promise<Acc[]> {
  const out: Acc[] = [];
  for await (const b of readTextTrace(path, o, stats)) {
    for (let i = 0; i < b.n; i++) out.push({ kind: b.kind[i]!, size: b.size[i]!, lo: b.lo[i]! >>> 0, hi: b.hi[i]! >>> 0 });
  }
  return out;
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
`;

describe('lackey and cache-lab', () => {
  it('does each lackey line become the access it describes, a modify being a load then a store?', async () => {
    const got = await accesses(file('a.lackey', LACKEY), { format: 'lackey' });
    expect(got).toEqual([
      { kind: KIND_FETCH, size: 2, lo: 0x0401b790, hi: 0 },
      { kind: KIND_WRITE, size: 8, lo: 0xff000760, hi: 0x1f },
      { kind: KIND_READ, size: 4, lo: 0x04033e06, hi: 0 },
      { kind: KIND_READ, size: 1, lo: 0x04033ad0, hi: 0 },
      { kind: KIND_WRITE, size: 1, lo: 0x04033ad0, hi: 0 },
      { kind: KIND_FETCH, size: 7, lo: 0x0401b7c2, hi: 0 },
      { kind: KIND_READ, size: 8, lo: 0xff600000, hi: 0xffffffff },
    ]);
  });

  it('does a cache-lab trace (the same lines, without leading zeros) read the same way?', async () => {
    const got = await accesses(file('t.trace', ' L 10,1\n M 20,1\n S 18,1\n I 7ff000ffe,4\n'), { format: 'cachelab' });
    expect(got.map((a) => [a.kind, a.lo, a.size])).toEqual([[KIND_READ, 0x10, 1], [KIND_READ, 0x20, 1], [KIND_WRITE, 0x20, 1], [KIND_WRITE, 0x18, 1], [KIND_FETCH, 0xff000ffe, 2], [KIND_FETCH, 0xff001000, 2]]);
  });

  it('does an access crossing a page become two, the second at the next page?', async () => {
    const got = await accesses(file('cross.lackey', ' L 00000ffc,8\n'), { format: 'lackey' });
    expect(got).toEqual([{ kind: KIND_READ, size: 4, lo: 0xffc, hi: 0 }, { kind: KIND_READ, size: 4, lo: 0x1000, hi: 0 }]);
  });

  it('does a malformed line stop the import with the file and line number?', async () => {
    const p = file('bad.lackey', `I  0401b790,2\n L 04033e06,4\n X 1234,4\n`);
    await expect(accesses(p, { format: 'lackey' })).rejects.toThrow(ImportError);
    await expect(accesses(p, { format: 'lackey' })).rejects.toThrow(`${p}:3: unknown access kind 'X' in lackey line ' X 1234,4'`);
  });

  it.each([
    [' L 04033e06', "no ',' after the address"],
    [' L 04033e06,', 'no decimal size'],
    [' L zz,4', 'no hexadecimal address'],
    [' L 123,4 extra', 'unexpected text after the size'],
    [' L 11112222333344445,4', 'address wider than 64 bits'],
    [' L 1234,0', 'size 0'],
    ['L1234,4', 'no space after the access kind'],
  ])('does the malformed line %j say what is wrong (%s)?', async (line, why) => {
    const p = file('one.lackey', `I  1000,4\n${line}\n`);
    await expect(accesses(p, { format: 'lackey' })).rejects.toThrow(new RegExp(`:2: ${why}`));
  });

  it('does --on-error skip count the malformed lines and keep the good ones?', async () => {
    const stats = newImportStats();
    const p = file('skip.lackey', `I  1000,4\n garbage\n L 2000,4\n S nothex,4\n S 3000,4\n`);
    const got = await accesses(p, { format: 'lackey', onError: 'skip' }, stats);
    expect(got.map((a) => a.lo)).toEqual([0x1000, 0x2000, 0x3000]);
    expect(stats.skipped).toBe(2);
    expect(stats.lines).toBe(5);
    expect(stats.errors[0]).toMatch(/skip\.lackey:2:/);
    expect(stats.errors[1]).toMatch(/skip\.lackey:4:/);
  });

  it('does a missing file or a broken gzip stream give an ImportError naming the file?', async () => {
    await expect(accesses(join(tmp, 'nope.lackey'), { format: 'lackey' })).rejects.toThrow(/nope\.lackey: cannot read \(ENOENT\)/);
    const gz = gzipSync(LACKEY);
    const broken = file('broken.lackey.gz', gz.subarray(0, gz.length - 12));
    await expect(accesses(broken, { format: 'lackey' })).rejects.toThrow(ImportError);
    await expect(accesses(broken, { format: 'lackey' })).rejects.toThrow(new RegExp(`broken\\.lackey\\.gz: truncated gzip data: the file ends at compressed offset ${gz.length - 12}, inside the gzip stream; \\d+ lines read before it`));
  });

  it('does a gzipped trace read like the plain one, even split across stream chunks?', async () => {
    let text = '';
    for (let i = 0; i < 50_000; i++) text += i % 2 ? ` L ${(0x10000 + i * 8).toString(16)},8\n` : `I  ${(0x400000 + i).toString(16)},1\n`;
    const plain = await accesses(file('big.lackey', text), { format: 'lackey' });
    const gz = await accesses(file('big.lackey.gz', gzipSync(text)), { format: 'lackey' });
    expect(gz).toEqual(plain);
    expect(plain.length).toBe(50_000);
  });
});

describe('pinatrace', () => {
  const PIN = `# a comment the tool wrote
0x7f1234567890: R 0x7ffd12345678
0x7f1234567890: W 0x7ffd12345680
0x7f1234567895: R 0x601040 4
#eof
`;

  it('does each line become its access, with a fetch at each new instruction pointer?', async () => {
    const got = await accesses(file('a.pin', PIN), { format: 'pinatrace' });
    expect(got).toEqual([
      { kind: KIND_FETCH, size: 1, lo: 0x34567890, hi: 0x7f12 },
      { kind: KIND_READ, size: 0, lo: 0x12345678, hi: 0x7ffd },
      { kind: KIND_WRITE, size: 0, lo: 0x12345680, hi: 0x7ffd },
      { kind: KIND_FETCH, size: 1, lo: 0x34567895, hi: 0x7f12 },
      { kind: KIND_READ, size: 4, lo: 0x601040, hi: 0 },
    ]);
  });

  it('does pinFetches off leave only the data accesses?', async () => {
    const got = await accesses(file('b.pin', PIN), { format: 'pinatrace', pinFetches: false });
    expect(got.map((a) => a.kind)).toEqual([KIND_READ, KIND_WRITE, KIND_READ]);
  });

  it('does a malformed pinatrace line name the file and line?', async () => {
    const p = file('bad.pin', '0x401000: R 0x601040\n0x401004: X 0x601040\n');
    await expect(accesses(p, { format: 'pinatrace' })).rejects.toThrow(`${p}:2: access kind is not 'R' or 'W' in pinatrace line '0x401004: X 0x601040'`);
    const q = file('bad2.pin', '0x401000 R 0x601040\n');
    await expect(accesses(q, { format: 'pinatrace' })).rejects.toThrow(/:1: no ':' after the instruction pointer/);
  });
});

describe('format detection and folding', () => {
  it('does detection tell lackey from pinatrace, also gzipped, and give up on anything else?', async () => {
    expect(await detectTextFormat(file('d1', LACKEY))).toBe('lackey');
    expect(await detectTextFormat(file('d2.gz', gzipSync(LACKEY)))).toBe('lackey');
    expect(await detectTextFormat(file('d3', '0x400000: R 0x601000\n#eof\n'))).toBe('pinatrace');
    expect(await detectTextFormat(file('d4', 'hello\nworld\n'))).toBe(null);
  });

  it('does folding keep low addresses, move high granules below 3 GiB and keep offsets?', () => {
    const f = new AddressFolder();
    expect(f.fold(0x0040_1234, 0)).toBe(0x0040_1234);
    expect(f.fold(0xff00_0760, 0x1f)).toBe(0xbf00_0760); // first high granule: slot 11
    expect(f.fold(0xfe00_0000, 0x1f)).toBe(0xbe00_0000); // same granule, other offset
    expect(f.fold(0x1000_0000, 0x7ffd)).toBe(0xa000_0000); // next granule: slot 10
    expect(f.moved).toBe(2);
    expect(f.collisions).toBe(0);
  });
});
