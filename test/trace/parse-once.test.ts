/**
 * Parse once: a text trace is parsed in one parse thread and its record
 * chunks feed every replay. The same trace as text, gzipped text and .vmt
 * gives identical counters in every mode, through the parse-once stream
 * (worker threads and this thread), the direct per-mode replay and the
 * command line's --mode all; the parser's fast paths read every line as the
 * general path does.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { LineParser, newImportStats, RECORD_CHUNK, type ImportOptions, type RecordChunk } from '../../src/trace/importers.js';
import { OS_DEFAULTS, recordImported, replayImported, type OsReplayOptions, type ReplayResult } from '../../src/trace/replayer.js';
import { runJobs, type ReplayJob, type ReplaySource } from '../../src/trace/parallel.js';
import type { TextStream } from '../../src/trace/stream.js';
import type { TlbGeometry } from '../../src/mmu/defaults.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'vmmu-parse-once-'));
const MODES = ['naive', 'shadow', 'slat'] as const;
const a = (entries: number, ways: number): { entries: number; ways: number } => ({ entries, ways });
const TINY: TlbGeometry = {
  name: 'tiny', l1d: { k4: a(4, 4), m2: a(4, 4), g1: a(4, 4) }, l1i: { k4: a(4, 4), m2: a(4, 4) }, l2: { k4m2: a(8, 8), g1: a(4, 4) },
  pwc: { pml5e: a(0, 1), pml4e: a(0, 1), pdpte: a(0, 1), pde: a(0, 1) }, nestedTlb: a(0, 1),
};

/** A lackey trace of about 190,000 accesses (three record chunks): code, a stack above 4 GiB, data, modifies, page crossings. */
function lackeyText(lines: number): string {
  const out: string[] = ['==1== Lackey, an example Valgrind tool'];
  for (let i = 0; i < lines; i++) {
    out.push(`I  ${(0x401000 + ((i * 5) % 40000)).toString(16).padStart(8, '0')},${1 + (i % 7)}`);
    if (i % 3 === 0) out.push(` L ${(0x1ffeff0000 + ((i * 4096 * 7) % (900 * 4096)) + (i % 512) * 8).toString(16)},8`);
    if (i % 5 === 0) out.push(` M ${(0x601000 + (i % 700) * 64).toString(16)},4`);
    if (i % 97 === 0) out.push(` S ${(0x700ffc + (i % 13) * 4096).toString(16)},16`); // crosses into the next page
  }
  out.push('==1== ');
  return out.join('\n') + '\n';
}

const text = join(tmp, 'mix.lackey');
writeFileSync(text, lackeyText(130_000));
const gz = join(tmp, 'mix.lackey.gz');
writeFileSync(gz, gzipSync(Buffer.from(lackeyText(130_000)), { level: 1 }));
const imp: ImportOptions = { format: 'lackey' };
const os: OsReplayOptions = { ...OS_DEFAULTS, memory: 32 << 20 };
const textSource = (path: string, o: OsReplayOptions = os): ReplaySource => ({ kind: 'text', path, import: imp, os: o });
const allModes: ReplayJob[] = MODES.map((mode) => ({ label: mode, options: { mode } }));
/** What must agree between two replays of one trace: the Mmu's counters and cycles, the OS's work. */
const essence = (r: ReplayResult): unknown => ({ mode: r.mode, counters: r.report.counters, cycles: r.report.cycles, faults: r.counts.faults, os: r.os });

describe('the same trace as text, gzipped text and .vmt', () => {
  it('does every mode count the same through the parse-once stream, the direct replay and the recorded binary trace?', async () => {
    const streams: TextStream[] = [];
    const plain = await runJobs(textSource(text), allModes, 3, undefined, { onStream: (s) => streams.push(s) });
    const zipped = await runJobs(textSource(gz), allModes, 1);
    expect(streams.length).toBe(1); // three modes, one parse
    const vmt = join(tmp, 'mix.vmt');
    await recordImported(gz, vmt, imp, os);
    const binary = await runJobs({ kind: 'binary', path: vmt }, allModes, 3);
    for (let m = 0; m < MODES.length; m++) {
      const direct = await replayImported(text, imp, os, { mode: MODES[m]! });
      expect(essence(plain[m]!)).toEqual(essence(direct));
      expect(essence(zipped[m]!)).toEqual(essence(direct));
      expect(binary[m]!.report.counters).toEqual(direct.report.counters);
      expect(plain[m]!.counts).toEqual(direct.counts);
      expect(plain[m]!.import).toEqual(direct.import);
    }
    expect(plain[0]!.counts.accesses).toBeGreaterThan(2 * RECORD_CHUNK);
    expect(plain[1]!.report.counters['tlb.l2.miss']).toBeGreaterThan(0);
    // the modes differ where they should: only shadow pays hidden page faults
    expect(plain[1]!.report.counters['exit.hidden_pf']).toBeGreaterThan(0);
    expect(plain[2]!.report.counters['exit.hidden_pf']).toBe(0);
  });

  it('does a sweep of geometries in every mode, more replays than lanes, read one parse?', async () => {
    const jobs: ReplayJob[] = MODES.flatMap((mode) => [{ label: `${mode} skylake`, options: { mode } }, { label: `${mode} tiny`, options: { mode, tlb: TINY } }]);
    const streams: TextStream[] = [];
    const lanes = await runJobs(textSource(gz), jobs, 2, undefined, { onStream: (s) => streams.push(s) });
    expect(streams.length).toBe(1);
    const serial = await runJobs(textSource(gz), jobs, 1);
    expect(lanes.map(essence)).toEqual(serial.map(essence));
    expect(lanes[1]!.report.counters['tlb.l2.miss']).toBeGreaterThan(lanes[0]!.report.counters['tlb.l2.miss']);
  });

  it('does a stream that outgrows what it keeps slide under three replays at once, and do the counts stay those of a kept stream, with one lane too?', async () => {
    // Three lanes: every replay attaches before the first chunk is read, so
    // all three share one parse, which slides (a chunk is more than 64 KiB).
    const together: TextStream[] = [];
    const slid = await runJobs(textSource(text), allModes, 3, undefined, { retainBytes: 1 << 16, onStream: (s) => together.push(s) });
    expect(together.length).toBe(1);
    expect(together[0]!.state.sliding).toBe(true);
    // With fewer lanes than replays, whether a later replay can still join
    // depends on how far the running ones have got when it starts (timing,
    // not a rule), so only its counts are checked.
    const apart = await runJobs(textSource(text), allModes, 1, undefined, { retainBytes: 1 << 16 });
    const kept = await runJobs(textSource(text), allModes, 3);
    expect(slid.map(essence)).toEqual(kept.map(essence));
    expect(apart.map(essence)).toEqual(kept.map(essence));
  });

  it('does the stream of the last replay to attach slide and give its chunks back to the parse thread, with the counts of a kept stream?', async () => {
    // About 1.5 M accesses: 23 chunks, more than a replay and the parse thread hold at once.
    const big = join(tmp, 'big.lackey');
    writeFileSync(big, lackeyText(1_000_000));
    const streams: TextStream[] = [];
    const [sealed] = await runJobs(textSource(big), [{ label: 'slat', options: { mode: 'slat' } }], 1, undefined, { onStream: (s) => streams.push(s) });
    expect(streams.length).toBe(1);
    const st = streams[0]!.state;
    expect(st.sealed).toBe(true);
    expect(st.dropped).toBeGreaterThan(20);
    expect(st.recycled).toBeGreaterThan(0);
    const direct = await replayImported(big, imp, os, { mode: 'slat' });
    expect(essence(sealed!)).toEqual(essence(direct));
    expect(sealed!.counts).toEqual(direct.counts);
    expect(sealed!.import).toEqual(direct.import);
  });

  it('do several processes, each with its own cursor into the one stream, replay as when each reads the file?', async () => {
    const many = { ...os, processes: 3, quantum: 50_000 };
    const streamed = await runJobs(textSource(gz, many), [{ label: 'slat', options: { mode: 'slat' } }], 1, undefined, { retainBytes: 1 << 16 });
    const direct = await replayImported(gz, imp, many, { mode: 'slat' });
    expect(essence(streamed[0]!)).toEqual(essence(direct));
    expect(streamed[0]!.os!.switches).toBeGreaterThan(3);
  });

  it('does a malformed line stop every replay with the file and line, as the direct replay does?', async () => {
    const bad = join(tmp, 'bad.lackey');
    writeFileSync(bad, lackeyText(30_000) + ' L 1234,x\n');
    const direct = await replayImported(bad, imp, os, { mode: 'shadow' }).then(() => null, (e: Error) => e);
    expect(direct?.message).toMatch(/bad\.lackey:\d+: no decimal size after the address in lackey line ' L 1234,x'/);
    await expect(runJobs(textSource(bad), allModes, 3)).rejects.toThrow(direct!.message);
    await expect(runJobs(textSource(bad), allModes, 1)).rejects.toThrow(direct!.message);
  });

  it('does vmmu replay --mode all print the same counters for the text, the gzipped text and the .vmt?', () => {
    const vmt = join(tmp, 'cli.vmt');
    const rec = spawnSync(process.execPath, [join(root, 'dist/src/cli/main.js'), 'record', '--import', 'lackey', text, '-o', vmt, '--memory', '32M', '--quiet'], { encoding: 'utf8' });
    expect(rec.status, rec.stderr).toBe(0);
    const runs = (file: string, ...extra: string[]): { label: string; counters: Record<string, number> }[] => {
      const r = spawnSync(process.execPath, [join(root, 'dist/src/cli/main.js'), 'replay', file, '--mode', 'all', '--json', '--quiet', ...extra], { encoding: 'utf8', env: { ...process.env, CI: '1' } });
      expect(r.status, r.stderr).toBe(0);
      return (JSON.parse(r.stdout) as { runs: { label: string; counters: Record<string, number> }[] }).runs;
    };
    const fromText = runs(text, '--memory', '32M');
    expect(fromText.map((r) => r.label)).toEqual([...MODES]);
    expect(runs(gz, '--memory', '32M', '--jobs', '1').map((r) => r.counters)).toEqual(fromText.map((r) => r.counters));
    expect(runs(vmt).map((r) => r.counters)).toEqual(fromText.map((r) => r.counters));
  });
});

describe('the parser', () => {
  /** Every record of `text` parsed with the fast paths on or off, in chunks of `step` bytes. */
  function parse(t: string, o: ImportOptions, fast: boolean, step: number): { records: number[]; lines: number; accesses: number; skipped: number } {
    const stats = newImportStats();
    const p = new LineParser('t', { ...o, onError: 'skip' }, stats, fast);
    const buf = Buffer.from(t, 'latin1');
    const chunks: RecordChunk[] = [];
    for (let i = 0; i < buf.length; i += step) chunks.push(...p.feed(buf.subarray(i, i + step), false));
    chunks.push(...p.feed(Buffer.alloc(0), true));
    const records: number[] = [];
    for (const c of chunks) {
      for (let i = 0, g = 0; i < c.n; i++) records.push(c.ops[i]!, c.addr[i]!, c.ops[i]! & 0x4000 ? c.args[g++]! : 0);
    }
    return { records, lines: stats.lines, accesses: stats.accesses, skipped: stats.skipped };
  }

  /** Lines of every shape the formats allow, and malformed ones, from a fixed seed. */
  function corpus(pin: boolean, n: number): string {
    let x = 12345;
    const rnd = (k: number): number => { x = (Math.imul(x, 1103515245) + 12345) >>> 0; return (x >>> 8) % k; };
    const hex = (): string => {
      const digits = ['0', '1f', '7fff', 'ffffffff', '1fffeff8', 'ffffffffffff', 'fffffffffffff000', 'ffffffffffffffff', '00000000004005d2', '0123456789abcdef0',
        '0401ab7', '1fff00077', 'fFfFfFfF'][rnd(13)]!; // with 0 to 3 digits more: 8 and 10 digits as Valgrind writes them, and their neighbours
      return rnd(4) === 0 ? digits.toUpperCase() : digits + (rnd(3) === 0 ? '' : rnd(4096).toString(16));
    };
    const size = (): string => ['1', '4', '8', '16', '4096', '4097', '0', '0008', '300', ''][rnd(10)]!;
    const space = (): string => [' ', '  ', '\t', ' \t'][rnd(4)]!;
    const end = (): string => ['\n', '\n', '\r\n', ' \n', '\t\n'][rnd(5)]!;
    const lines: string[] = [];
    for (let i = 0; i < n; i++) {
      if (pin) {
        const r = rnd(20);
        if (r === 0) lines.push('#eof\n');
        else if (r === 1) lines.push(`0x${hex()}: X 0x${hex()}\n`);
        else lines.push(`${rnd(5) === 0 ? ' ' : ''}0x${hex()}:${rnd(3) ? ' ' : ''}${rnd(2) ? 'R' : 'W'}${space()}0${rnd(6) ? 'x' : 'X'}${hex()}${rnd(3) === 0 ? ' ' + size() : ''}${end()}`);
      } else {
        const r = rnd(20);
        if (r === 0) lines.push('==12== message\n');
        else if (r === 1) lines.push('\n');
        // the forms Valgrind and cache-lab write (`I `, ` L`), and others the format allows (`L`, `  S`, `\tM`)
        else lines.push(`${['I ', ' L', ' S', ' M', ' X', 'L', ' I', '  S', '\tM', 'I'][rnd(10)]}${space()}${hex()},${size()}${end()}`);
      }
    }
    return lines.join('');
  }

  for (const format of ['lackey', 'pinatrace'] as const) {
    it(`do the ${format} fast path and the general path read every line alike, whatever the chunking?`, () => {
      const t = corpus(format === 'pinatrace', 20_000);
      const slow = parse(t, { format }, false, 1 << 20);
      expect(slow.accesses).toBeGreaterThan(10_000);
      expect(slow.skipped).toBeGreaterThan(100);
      for (const step of [1 << 20, 4093, 17]) expect(parse(t, { format }, true, step)).toEqual(slow);
    });
  }
});
