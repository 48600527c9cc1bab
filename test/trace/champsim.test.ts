/**
 * The ChampSim importer (src/trace/champsim.ts): 64-byte instruction
 * records, plain, gzip or xz, become a fetch at ip, the loads in slot order
 * and the stores; a damaged file is an error naming the record and offset.
 *
 * test/trace/fixtures/sample.champsimtrace.xz is `sampleTrace()` below
 * compressed by `xz -6` (xz 5.x, CRC64 check, as the public trace sets
 * are): the test compares what the importer reads from it with the records
 * generated here.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { CHAMPSIM_RECORD_BYTES } from '../../src/trace/champsim.js';
import { KIND_FETCH, KIND_READ, KIND_WRITE, OP_HI, OP_KIND_SHIFT } from '../../src/trace/format.js';
import { guessTextFormat, ImportError, newImportStats, readTextRecords } from '../../src/trace/importers.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const fixture = join(root, 'test/trace/fixtures/sample.champsimtrace.xz');
const tmp = mkdtempSync(join(tmpdir(), 'vmmu-champsim-'));

interface Instr { ip: bigint; branch: number; taken: number; dst: bigint[]; src: bigint[] }

function encode(list: Instr[]): Buffer {
  const b = Buffer.alloc(list.length * CHAMPSIM_RECORD_BYTES);
  list.forEach((r, i) => {
    const at = i * CHAMPSIM_RECORD_BYTES;
    b.writeBigUInt64LE(r.ip, at);
    b[at + 8] = r.branch;
    b[at + 9] = r.taken;
    b[at + 10] = 1; b[at + 12] = 2; // register ids: ignored
    for (let k = 0; k < 2; k++) b.writeBigUInt64LE(r.dst[k] ?? 0n, at + 16 + k * 8);
    for (let k = 0; k < 4; k++) b.writeBigUInt64LE(r.src[k] ?? 0n, at + 32 + k * 8);
  });
  return b;
}

/** 3,000 instructions: a loop over a 64-bit code region, loads and stores in a high and a low region, some slots empty. */
function sampleTrace(): Instr[] {
  const list: Instr[] = [];
  for (let i = 0; i < 3000; i++) {
    const ip = 0x5555_5555_4000n + BigInt((i * 5) % 9000);
    const src: bigint[] = [];
    const dst: bigint[] = [];
    if (i % 3 === 0) src.push(0x7ffd_0000_0000n + BigInt((i * 4104) % (1 << 22)));
    if (i % 5 === 0) src.push(0n, 0x60_0000n + BigInt(i * 8)); // an empty slot before a used one
    if (i % 4 === 1) dst.push(0x7ffd_0000_1000n + BigInt(i * 16));
    if (i % 11 === 0 && dst.length === 0) dst.push(0n, 0x61_0000n + BigInt(i)); // two slots: an empty one, then a used one
    list.push({ ip, branch: i % 6 === 5 ? 1 : 0, taken: i % 12 === 11 ? 1 : 0, dst, src });
  }
  return list;
}

/** The accesses the importer must make of `list`: [kind, address]. */
function expected(list: Instr[], fetches = true): [number, bigint][] {
  const out: [number, bigint][] = [];
  for (const r of list) {
    if (fetches) out.push([KIND_FETCH, r.ip]);
    for (const a of r.src) if (a !== 0n) out.push([KIND_READ, a]);
    for (const a of r.dst) if (a !== 0n) out.push([KIND_WRITE, a]);
  }
  return out;
}

async function imported(path: string, fetches = true): Promise<{ accesses: [number, bigint][]; sizes: Set<number>; records: number }> {
  const stats = newImportStats();
  const accesses: [number, bigint][] = [];
  const sizes = new Set<number>();
  for await (const c of readTextRecords(path, { format: 'champsim', pinFetches: fetches }, stats)) {
    for (let i = 0, g = 0; i < c.n; i++) {
      const op = c.ops[i]!;
      const hi = op & OP_HI ? c.args[g++]! >>> 0 : 0;
      accesses.push([(op >> OP_KIND_SHIFT) & 3, (BigInt(hi) << 32n) | BigInt(c.addr[i]! >>> 0)]);
      sizes.add(op & 0xff);
    }
  }
  expect(stats.accesses).toBe(accesses.length);
  return { accesses, sizes, records: stats.lines };
}

async function importError(path: string): Promise<string> {
  try {
    for await (const c of readTextRecords(path, { format: 'champsim' })) void c;
  } catch (e) {
    expect(e).toBeInstanceOf(ImportError);
    return (e as Error).message;
  }
  throw new Error('no error');
}

describe('ChampSim traces', () => {
  const list = sampleTrace();
  const plain = join(tmp, 'sample.champsimtrace');
  writeFileSync(plain, encode(list));

  it('does each record become a fetch at ip, its loads in slot order, then its stores, all of one byte?', async () => {
    const r = await imported(plain);
    expect(r.records).toBe(3000);
    expect(r.accesses).toEqual(expected(list));
    expect([...r.sizes]).toEqual([1]);
    // 64-bit addresses keep their high halves
    expect(r.accesses[0]).toEqual([KIND_FETCH, 0x5555_5555_4000n]);
  });

  it('does --no-ip-fetches (pinFetches false) leave the fetches out?', async () => {
    expect((await imported(plain, false)).accesses).toEqual(expected(list, false));
  });

  it('do gzip and xz files give the same accesses as the plain file?', async () => {
    const gz = join(tmp, 'sample.champsimtrace.gz');
    writeFileSync(gz, gzipSync(encode(list)));
    expect((await imported(gz)).accesses).toEqual(expected(list));
    expect((await imported(fixture)).accesses).toEqual(expected(list));
  });

  it('is the format told from the name, and is a ChampSim file without such a name refused with a hint?', async () => {
    expect(await guessTextFormat(fixture)).toBe('champsim');
    expect(await guessTextFormat(plain)).toBe('champsim');
    const unnamed = join(tmp, 'trace.bin');
    writeFileSync(unnamed, encode(list.slice(0, 10)));
    await expect(guessTextFormat(unnamed)).rejects.toThrow(/give --import FORMAT \(.*champsim\)/);
  });

  it('does a file that ends inside a record name the record and its offset?', async () => {
    const cut = join(tmp, 'cut.champsimtrace');
    writeFileSync(cut, encode(list.slice(0, 5)).subarray(0, 4 * 64 + 10));
    expect(await importError(cut)).toBe(`${cut}: record 5 at offset 256 is truncated: the data ends after 10 of its 64 bytes (is this a ChampSim trace?)`);
  });

  it('does a branch flag other than 0 or 1 (another format read as ChampSim) stop at that record?', async () => {
    const bad = join(tmp, 'bad.champsimtrace');
    const b = encode(list.slice(0, 4));
    b[64 + 8] = 7;
    writeFileSync(bad, b);
    expect(await importError(bad)).toBe(`${bad}: record 2 at offset 64: is_branch is 7, not 0 or 1 (is this a ChampSim trace?)`);
  });

  it('do truncated and corrupt xz data say so, with the compressed bytes read?', async () => {
    const xz = readFileSync(fixture);
    const cut = join(tmp, 'cut.champsimtrace.xz');
    writeFileSync(cut, xz.subarray(0, xz.length - 40));
    expect(await importError(cut)).toMatch(/cut\.champsimtrace\.xz: truncated xz data: the file ends inside the xz stream, within the first \d+ compressed bytes; \d+ records read before it/);
    const flipped = Buffer.from(xz);
    flipped[200] = flipped[200]! ^ 0xff;
    const corrupt = join(tmp, 'corrupt.champsimtrace.xz');
    writeFileSync(corrupt, flipped);
    expect(await importError(corrupt)).toMatch(/corrupt\.champsimtrace\.xz: corrupt xz data, within the first \d+ compressed bytes/);
  });

  it('does vmmu replay run a ChampSim trace in every mode, with the same accesses in each?', () => {
    const r = spawnSync(process.execPath, [join(root, 'dist/src/cli/main.js'), 'replay', fixture, '--json', '--memory', '64M'], { encoding: 'utf8', cwd: root, env: { ...process.env, CI: '1' } });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const runs = (JSON.parse(r.stdout) as { runs: { mode: string; counts: { accesses: number } }[] }).runs;
    expect(runs.map((x) => x.mode).sort()).toEqual(['naive', 'shadow', 'slat']);
    for (const x of runs) expect(x.counts.accesses).toBe(expected(list).length);
  });

  it('does vmmu record --import champsim write a binary trace that replays counter for counter as the file does?', () => {
    const vmt = join(tmp, 'sample.vmt');
    const cli = (...args: string[]) => spawnSync(process.execPath, [join(root, 'dist/src/cli/main.js'), ...args], { encoding: 'utf8', cwd: root, env: { ...process.env, CI: '1' } });
    const rec = cli('record', '--import', 'champsim', fixture, '-o', vmt, '--memory', '64M', '--quiet');
    expect(rec.stderr).toBe('');
    expect(rec.stdout).toContain(`wrote ${vmt}: ${expected(list).length} accesses from 3000 records of ${fixture}`);
    // the binary trace replays counter for counter as the ChampSim file does
    type Runs = { runs: { counters: Record<string, number> }[] };
    const bin = cli('replay', vmt, '--json', '--mode', 'shadow');
    const direct = cli('replay', fixture, '--json', '--mode', 'shadow', '--memory', '64M');
    expect(bin.status).toBe(0);
    expect(direct.status).toBe(0);
    const b = JSON.parse(bin.stdout) as Runs, d = JSON.parse(direct.stdout) as Runs;
    expect(b.runs[0]!.counters['tlb.l1d.hit']).toBeGreaterThan(0);
    expect(b.runs[0]!.counters).toEqual(d.runs[0]!.counters);
  });
});
