/**
 * A split parse: a plain lackey or cache-lab file cut at line ends into
 * parts, each parsed by a thread of its own (src/trace/stream.ts, the
 * broker; parse-worker.ts, a part). The replays see what one parse thread
 * gives them: the same records in the same order, the same statistics, and
 * a malformed line reported with its line number in the file, whichever
 * part it is in.
 */
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { lineCuts } from '../../src/trace/input.js';
import { OS_DEFAULTS, replayImported, type OsReplayOptions, type ReplayResult } from '../../src/trace/replayer.js';
import { runJobs, type ReplayJob, type ReplaySource } from '../../src/trace/parallel.js';
import { shiftLine, type TextStream } from '../../src/trace/stream.js';
import type { ImportOptions } from '../../src/trace/importers.js';

const tmp = mkdtempSync(join(tmpdir(), 'vmmu-split-parse-'));
const os: OsReplayOptions = { ...OS_DEFAULTS, memory: 32 << 20 };
const shadow: ReplayJob[] = [{ label: 'shadow', options: { mode: 'shadow' } }];
const two: ReplayJob[] = [{ label: 'shadow', options: { mode: 'shadow' } }, { label: 'slat', options: { mode: 'slat' } }];
const source = (path: string, imp: ImportOptions = { format: 'lackey' }): ReplaySource => ({ kind: 'text', path, import: imp, os });
const essence = (r: ReplayResult): unknown => ({ mode: r.mode, counters: r.report.counters, cycles: r.report.cycles, counts: r.counts, os: r.os, import: r.import });

/** Lackey lines: code, a stack above 4 GiB, modifies, page crossings. */
function lines(n: number, from = 0): string[] {
  const out: string[] = [];
  for (let i = from; i < from + n; i++) {
    out.push(`I  ${(0x401000 + ((i * 5) % 40000)).toString(16).padStart(8, '0')},${1 + (i % 7)}`);
    if (i % 3 === 0) out.push(` L ${(0x1ffeff0000 + ((i * 4096 * 7) % (900 * 4096)) + (i % 512) * 8).toString(16)},8`);
    if (i % 5 === 0) out.push(` M ${(0x601000 + (i % 700) * 64).toString(16)},4`);
    if (i % 97 === 0) out.push(` S ${(0x700ffc + (i % 13) * 4096).toString(16)},16`); // crosses into the next page
  }
  return out;
}

function write(name: string, text: string): string {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
}

/** The replays with 1 parse thread, then with `threads`; their results must agree. */
async function both(src: ReplaySource, jobs: ReplayJob[], threads: number): Promise<[ReplayResult[], ReplayResult[], TextStream[]]> {
  const one = await runJobs(src, jobs, jobs.length);
  const streams: TextStream[] = [];
  const split = await runJobs(src, jobs, jobs.length, undefined, { parseThreads: threads, onStream: (s) => streams.push(s) });
  return [one, split, streams];
}

describe('a parse split at line ends', () => {
  const big = write('big.lackey', ['==7== Lackey', ...lines(90_000), '==7== '].join('\n') + '\n');

  it('does a trace parsed by two or three threads replay with every counter and statistic of one parse thread?', async () => {
    for (const threads of [2, 3]) {
      const [one, split, streams] = await both(source(big), two, threads);
      expect(streams.length).toBe(1);
      expect(split.map(essence)).toEqual(one.map(essence));
      expect(split[0]!.import!.bytes).toBe(statSync(big).size);
      expect(streams[0]!.threads).toBe(threads);
    }
  });

  it('are the cuts just past a line end at or after each share of the file, and a line cut by the middle left whole to the first part?', async () => {
    // the middle of the file falls inside the long line: it goes whole to part 1
    const head = lines(10).join('\n') + '\n';
    const long = ` L ${'0'.repeat(600)}1234,4\n`;
    const p = write('middle.lackey', head + long + head);
    const size = statSync(p).size;
    expect(head.length).toBeLessThan(size / 2);
    expect(head.length + long.length).toBeGreaterThan(size / 2);
    expect(await lineCuts(p, 2)).toEqual([head.length + long.length]);
    const [one, split] = await both(source(p), shadow, 2);
    expect(split.map(essence)).toEqual(one.map(essence));
    // no line end after the middle: the second part is empty, the first reads the unterminated last line
    const q = write('tail.lackey', head + long.slice(0, -1));
    expect(head.length).toBeLessThan(statSync(q).size / 2);
    expect(await lineCuts(q, 2)).toEqual([statSync(q).size]);
    const [one2, split2] = await both(source(q), shadow, 2);
    expect(split2.map(essence)).toEqual(one2.map(essence));
    expect(split2[0]!.import!.lines).toBe(lines(10).length + 1);
  });

  it('does a malformed line after the cut stop the replays with its line number in the file?', async () => {
    const body = lines(40_000);
    const at = body.length - 100; // in the second half
    body.splice(at, 0, ' L 1234,x');
    const p = write('bad-late.lackey', body.join('\n') + '\n');
    const direct = await replayImported(p, { format: 'lackey' }, os, { mode: 'shadow' }).then(() => null, (e: Error) => e);
    expect(direct?.message).toBe(`${p}:${at + 1}: no decimal size after the address in lackey line ' L 1234,x'`);
    expect((await lineCuts(p, 2))[0]).toBeLessThan(body.slice(0, at).join('\n').length);
    await expect(runJobs(source(p), two, 2, undefined, { parseThreads: 2 })).rejects.toThrow(direct!.message);
    await expect(runJobs(source(p), shadow, 1, undefined, { parseThreads: 3 })).rejects.toThrow(direct!.message);
  });

  it('does a malformed line before the cut stop the replays as with one parse thread, even when a later part fails too?', async () => {
    const body = lines(40_000);
    body.splice(body.length - 50, 0, ' Q 1234,4'); // the second part's error, never reported
    body.splice(1000, 0, ' L 1234,4,'); // the first part's
    const p = write('bad-both.lackey', body.join('\n') + '\n');
    const direct = await replayImported(p, { format: 'lackey' }, os, { mode: 'shadow' }).then(() => null, (e: Error) => e);
    expect(direct?.message).toBe(`${p}:1001: unexpected text after the size in lackey line ' L 1234,4,'`);
    await expect(runJobs(source(p), two, 2, undefined, { parseThreads: 2 })).rejects.toThrow(direct!.message);
  });

  it('with --on-error skip, are the skipped lines counted and the first messages kept, with their lines in the file?', async () => {
    const body = lines(40_000);
    for (const at of [body.length - 10, body.length - 300, 20]) body.splice(at, 0, ' X 1,1');
    const p = write('skip.lackey', body.join('\n') + '\n');
    const imp: ImportOptions = { format: 'lackey', onError: 'skip' };
    const [one, split] = await both(source(p, imp), shadow, 2);
    expect(split.map(essence)).toEqual(one.map(essence));
    expect(split[0]!.import!.skipped).toBe(3);
    const bad = body.flatMap((l, i) => (l === ' X 1,1' ? [i + 1] : []));
    expect(bad.length).toBe(3);
    expect(bad[1]!).toBeGreaterThan(body.length / 2); // two in the second part
    expect(split[0]!.import!.errors).toEqual(bad.map((l) => `${p}:${l}: unknown access kind 'X' in lackey line ' X 1,1'`));
  });

  it('is a gzipped file, or a pinatrace, parsed whole by one thread whatever is asked?', async () => {
    const gz = write('big.lackey.gz', '');
    writeFileSync(gz, gzipSync(Buffer.from(lines(20_000).join('\n') + '\n')));
    const [one, split] = await both(source(gz), shadow, 2);
    expect(split.map(essence)).toEqual(one.map(essence));
    const pin = write('t.pinatrace', Array.from({ length: 5000 }, (_, i) => `0x${(0x400000 + (i % 7) * 3).toString(16)}: R 0x${(0x601000 + i * 8).toString(16)}`).join('\n') + '\n');
    const [onePin, splitPin, pinStreams] = await both(source(pin, { format: 'pinatrace' }), shadow, 2);
    expect(splitPin.map(essence)).toEqual(onePin.map(essence));
    expect(pinStreams[0]!.threads).toBe(1);
  });

  it('does shiftLine move only a FILE:LINE: prefix?', () => {
    expect(shiftLine('/t/a:b.lackey:7: size 0 in lackey line', '/t/a:b.lackey', 100)).toBe('/t/a:b.lackey:107: size 0 in lackey line');
    expect(shiftLine('/t/x: cannot read at offset 5 (EIO)', '/t/x', 100)).toBe('/t/x: cannot read at offset 5 (EIO)');
    expect(shiftLine('/t/x:12 no colon', '/t/x', 100)).toBe('/t/x:12 no colon');
    expect(shiftLine('/t/x:3: y', '/t/x', 0)).toBe('/t/x:3: y');
  });
});
