/**
 * `vmmu record`, `vmmu replay` and `vmmu compare` as a user runs them:
 * side-by-side text, JSON, sweeps, the HTML report, and clear errors
 * (file and line or offset, never a stack trace).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const vmmu = (...args: string[]) => spawnSync(process.execPath, [join(root, 'dist/src/cli/main.js'), ...args], { encoding: 'utf8', cwd: root, env: { ...process.env, CI: '1' } });
const tmp = mkdtempSync(join(tmpdir(), 'vmmu-trace-cli-'));

let lackeyText = '==1== Lackey\n';
let lackeyAccesses = 0; // the importer makes two of an access that crosses a page
for (let i = 0; i < 20_000; i++) {
  const ip = 0x401000 + ((i * 7) % 30000);
  lackeyText += `I  ${ip.toString(16)},3\n`;
  lackeyAccesses += (ip & 0xfff) > 0xffd ? 2 : 1;
  if (i % 2 === 0) { lackeyText += ` L ${(0x1ffefff000 - ((i * 4096) % (300 * 4096)) + (i % 64) * 8).toString(16)},8\n`; lackeyAccesses++; }
  if (i % 7 === 0) { lackeyText += ` S ${(0x4a0000 + (i % 900) * 32).toString(16)},4\n`; lackeyAccesses++; }
}
const lackey = join(tmp, 'prog.lackey');
writeFileSync(lackey, lackeyText);

type Run = { label: string; mode: string; geometry: string; counters: Record<string, number>; counts: { checks: number; accesses: number }; cycles: { total: number } };
const json = (r: ReturnType<typeof vmmu>): { runs: Run[] } => JSON.parse(r.stdout) as { runs: Run[] };

describe('record and replay', () => {
  const vmt = join(tmp, 'prog.vmt');

  it('does record --import write a binary trace whose replay matches the text replay, counter for counter?', () => {
    const rec = vmmu('record', '--import', 'lackey', lackey, '-o', vmt, '--memory', '32M');
    expect(rec.status).toBe(0);
    expect(rec.stdout).toMatch(/wrote .*prog\.vmt: \d+ accesses from \d+ lines/);
    const bin = vmmu('replay', vmt, '--json');
    const txt = vmmu('replay', lackey, '--json', '--memory', '32M');
    expect(bin.status).toBe(0);
    expect(txt.status).toBe(0);
    const b = json(bin), t = json(txt);
    expect(b.runs.map((r) => r.mode)).toEqual(['naive', 'shadow', 'slat']);
    for (let i = 0; i < 3; i++) expect(b.runs[i]!.counters).toEqual(t.runs[i]!.counters);
    expect(b.runs[0]!.counts.checks).toBeGreaterThan(5);
  });

  it('does --parse-threads 2 (the trace parsed in two parts cut at a line end) give every counter of one parse thread, and a malformed line its line in the file?', () => {
    const one = vmmu('replay', lackey, '--json', '--memory', '32M', '--mode', 'shadow,slat', '--parse-threads', '1');
    const two = vmmu('replay', lackey, '--json', '--memory', '32M', '--mode', 'shadow,slat', '--parse-threads', '2');
    expect(one.status, one.stderr).toBe(0);
    expect(two.status, two.stderr).toBe(0);
    const strip = (r: ReturnType<typeof vmmu>): unknown => JSON.parse(r.stdout, (k, v: unknown) => (k === 'seconds' ? undefined : v)) as unknown;
    expect(strip(two)).toEqual(strip(one));
    const lines = lackeyText.split('\n');
    lines.splice(lines.length - 20, 0, ' L 4a0000,');
    const bad = join(tmp, 'bad-late.lackey');
    writeFileSync(bad, lines.join('\n'));
    const r = vmmu('replay', bad, '--memory', '32M', '--mode', 'shadow', '--parse-threads', '2');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${bad}:${lines.length - 20}: no decimal size after the address in lackey line ' L 4a0000,'`);
    expect(vmmu('replay', lackey, '--parse-threads', '9').stderr).toMatch(/--parse-threads/);
    expect(vmmu('replay', join(root, 'traces/ls.vmt'), '--parse-threads', '2').stderr).toMatch(/--parse-threads applies to text traces only/);
  });

  it('does a one-line trace replay with 8 GiB of guest memory, four times the host memory, in every mode?', () => {
    const one = join(tmp, 'one.lackey');
    writeFileSync(one, ' L 7ff000,8\n');
    const r = vmmu('replay', one, '--memory', '8G', '--json');
    expect(r.status, r.stderr).toBe(0);
    expect(json(r).runs.map((x) => x.counts.accesses)).toEqual([1, 1, 1]);
    expect(vmmu('replay', one).stdout).toMatch(/guest: synthetic OS, 4-level paging, .*, 4 GiB, reclaim off/);
    // Reclaim acts when guest memory runs out: with it, the default guest fits host memory.
    expect(vmmu('replay', one, '--reclaim', '--mode', 'naive').stdout).toMatch(/guest: synthetic OS, 4-level paging, .*, 1 GiB, reclaim on/);
  });

  it('does each paging format replay with its default guest memory (1 GiB for 32-bit and PAE, all their kernel maps)?', () => {
    for (const format of ['32-bit', 'pae', '5-level']) {
      const r = vmmu('replay', lackey, '--format', format, '--mode', 'shadow');
      expect(r.status, `${format}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`guest: synthetic OS, ${format} paging, 4k pages, 1 process, ${format === '5-level' ? 4 : 1} GiB`));
    }
  });

  it('does replay print every mode side by side with TLB levels, walks, exits and cycles?', () => {
    const r = vmmu('replay', lackey, '--memory', '32M', '--mode', 'shadow,slat');
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    for (const row of [/shadow\s+slat/, /L1 dTLB hits \/ misses/, /L2 TLB hits \/ misses/, /memory refs per walk/, /VM exits/, /hidden_pf/, /ept_violation/, /cycles per access/, /TLB geometry skylake/, /cost profile skylake-kvm/]) {
      expect(r.stdout).toMatch(row);
    }
  });

  it('does --sweep run every geometry in every mode, smaller TLBs missing more?', () => {
    const r = vmmu('replay', lackey, '--memory', '32M', '--json', '--sweep', 'l2.k4m2=16x4,1536x12', '--mode', 'shadow,slat');
    expect(r.status).toBe(0);
    const runs = json(r).runs;
    expect(runs.map((x) => x.label)).toEqual(['shadow l2.k4m2=16x4', 'slat l2.k4m2=16x4', 'shadow l2.k4m2=1536x12', 'slat l2.k4m2=1536x12']);
    expect(runs[0]!.counters['tlb.l2.miss']).toBeGreaterThan(runs[2]!.counters['tlb.l2.miss']);
    expect(runs[0]!.counters['exit.total']).toBe(runs[2]!.counters['exit.total']); // exits do not depend on the TLB
  });

  it('do --tlb and --cost-profile files reach the replay, changing the TLB counts and the cycles only?', () => {
    const a = (entries: number, ways: number) => ({ entries, ways });
    const tlbFile = join(tmp, 'small-tlb.json');
    writeFileSync(tlbFile, JSON.stringify({ name: 'small', l1d: { k4: a(8, 8), m2: a(4, 4) }, l1i: { k4: a(8, 8), m2: a(4, 4) }, l2: { k4m2: a(32, 8) }, pwc: { pml5e: a(2, 2), pml4e: a(4, 4), pdpte: a(4, 4), pde: a(8, 8) }, nestedTlb: a(8, 8) }));
    const costFile = join(tmp, 'walks.json');
    writeFileSync(costFile, JSON.stringify({ name: 'slow walks', walkRef: 300 }));
    const base = json(vmmu('replay', vmt, '--json', '--mode', 'slat')).runs[0]!;
    const small = json(vmmu('replay', vmt, '--json', '--mode', 'slat', '--tlb', tlbFile)).runs[0]!;
    const slow = json(vmmu('replay', vmt, '--json', '--mode', 'slat', '--cost-profile', costFile)).runs[0]!;
    expect(small.counters['tlb.l1d.miss']).toBeGreaterThan(base.counters['tlb.l1d.miss']);
    expect(small.counters['exit.total']).toBe(base.counters['exit.total']);
    expect(slow.counters).toEqual(base.counters);
    expect(slow.cycles.total).toBeGreaterThan(base.cycles.total);
  });

  it('does --jobs 1 (serial) give the same numbers as worker threads?', () => {
    const a = json(vmmu('replay', vmt, '--json', '--jobs', '1')).runs;
    const b = json(vmmu('replay', vmt, '--json', '--jobs', '3')).runs;
    expect(b.map((x) => x.counters)).toEqual(a.map((x) => x.counters));
  });

  it('does record --demo record the built-in workload so that it replays exactly?', () => {
    const out = join(tmp, 'demo.vmt');
    const rec = vmmu('record', '--demo', '--accesses', '20000', '-o', out);
    expect(rec.status).toBe(0);
    const r = json(vmmu('replay', out, '--json', '--mode', 'slat'));
    expect(r.runs[0]!.counts.accesses).toBeGreaterThanOrEqual(20_000);
    expect(r.runs[0]!.counts.checks).toBeGreaterThan(0);
  });
});

describe('recording a guest', () => {
  it.each(['paging32', 'pae_nx', 'exceptions'])('does vmmu boot --record write a trace of the x86 guest %s that replays exactly in every mode?', (guest) => {
    const out = join(tmp, `${guest}.vmt`);
    const b = vmmu('boot', '--multiboot', join(root, `test/guests/${guest}/${guest}.elf`), '--record', out);
    expect(b.status).toBe(1); // every check passed: the guest wrote 0 to port 0xf4, (0 << 1) | 1
    expect(b.stderr).toMatch(/guest wrote 0 to port 0xf4: exit status 1/);
    expect(b.stderr).toMatch(new RegExp(`recorded .*${guest}\\.vmt: \\d+ records \\((\\d+) accesses`));
    const recorded = Number(/\((\d+) accesses/.exec(b.stderr)![1]);
    const r = json(vmmu('replay', out, '--json'));
    expect(r.runs.map((x) => x.mode)).toEqual(['naive', 'shadow', 'slat']);
    for (const run of r.runs) {
      expect(run.counts.accesses).toBe(recorded);
      expect(run.counts.checks).toBe(Math.ceil(recorded / 4096)); // every 4096 accesses and at the end: all matched
    }
  });
});

describe('compare', () => {
  it('does compare write a self-contained HTML report with charts for the sweep?', () => {
    const out = join(tmp, 'report.html');
    const r = vmmu('compare', lackey, '--memory', '32M', '--sweep', 'l1d.k4=16x4,64x4', '-o', out);
    expect(r.status).toBe(0);
    const html = readFileSync(out, 'utf8');
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect((html.match(/<svg /g) ?? []).length).toBeGreaterThanOrEqual(6);
    for (const title of ['L1 data TLB miss rate', 'L2 TLB miss rate', 'Page-walk memory references', 'VM exits', 'Modeled cycles per access']) expect(html).toContain(title);
    expect(html).toContain('l1d.k4=16x4');
    // Nothing to fetch: no scripts, no external resources.
    expect(html).not.toMatch(/<script|<link|src=|https?:\/\//);
  });

  describe('a report that compares like with like', () => {
    const out = join(tmp, 'like.html');
    let html = '';
    let runs: Run[] = [];
    const chartOf = (title: string): string => {
      const m = new RegExp(`<svg [^>]*aria-label="${title}"[\\s\\S]*?</svg>`).exec(html);
      expect(m, title).not.toBeNull();
      return m![0];
    };
    /** Each bar of a chart: its series, group, exact value (the tooltip) and label. */
    const bars = (svg: string): { series: string; group: string; value: number; label: string }[] =>
      [...svg.matchAll(/<title>([^<]*), ([^<,]*): ([-\d.e+]+)[^<]*<\/title><\/rect><text[^>]*class="v"[^>]*>([^<]*)<\/text>/g)]
        .map((m) => ({ series: m[1]!, group: m[2]!, value: Number(m[3]), label: m[4]! }));
    const CHARTS = ['L1 data TLB miss rate', 'L1 instruction TLB miss rate', 'L2 TLB miss rate', "Naive's virtual TLB miss rate", 'Page-walk memory references', 'Memory references per walk', 'VM exits', 'Modeled cycles per access', 'Modeled cycles'];

    it('writes the report and the JSON of the same replays', () => {
      const r = vmmu('compare', lackey, '--memory', '32M', '--sweep', 'l2.k4m2=16x4,1536x12', '-o', out);
      expect(r.status).toBe(0);
      html = readFileSync(out, 'utf8');
      runs = json(vmmu('replay', lackey, '--memory', '32M', '--sweep', 'l2.k4m2=16x4,1536x12', '--json')).runs;
      expect(runs).toHaveLength(6);
    });

    it("does it label naive's TLB counters as the host TLB, keep naive's virtual TLB, and leave naive out of the iTLB chart?", () => {
      for (const t of ['L1 data TLB miss rate', 'L2 TLB miss rate']) {
        const series = new Set(bars(chartOf(t)).map((b) => b.series));
        expect([...series].sort(), t).toEqual(['naive (host TLB)', 'shadow', 'slat']);
      }
      expect(new Set(bars(chartOf('L1 instruction TLB miss rate')).map((b) => b.series))).toEqual(new Set(['shadow', 'slat']));
      const vtlb = bars(chartOf("Naive's virtual TLB miss rate"));
      const naive = runs.filter((x) => x.mode === 'naive');
      expect(vtlb).toHaveLength(naive.length);
      naive.forEach((x, i) => expect(vtlb[i]!.value).toBeCloseTo((100 * x.counters['sw.vtlb.miss']!) / (x.counters['sw.vtlb.hit']! + x.counters['sw.vtlb.miss']!), 8));
      // the tables: naive's columns are empty in the guest-TLB rows and alone in the host-TLB rows
      const row = (label: string): string[] => {
        const m = new RegExp(`<tr><td>${label}</td>((?:<td class="n">[^<]*</td>)+)</tr>`).exec(html);
        expect(m, label).not.toBeNull();
        return [...m![1]!.matchAll(/<td class="n">([^<]*)<\/td>/g)].map((c) => c[1]!);
      };
      expect(row('  L1 dTLB hits / misses')[0]).toBe('');
      expect(row('  L1 dTLB hits / misses')[1]).toMatch(/\d+ \/ \d+/);
      expect(row('  host L1 dTLB hits / misses').map((c) => c !== '')).toEqual([true, false, false]);
    });

    it('does the per-walk chart divide exactly what the page-walk total counts, by the walks?', () => {
      const total = bars(chartOf('Page-walk memory references'));
      const perWalk = bars(chartOf('Memory references per walk'));
      expect(total).toHaveLength(6);
      for (const run of runs) {
        const series = run.mode === 'naive' ? 'naive (host walks)' : run.mode;
        const t = total.find((b) => b.series === series && b.group === run.geometry)!;
        const w = perWalk.find((b) => b.series === series && b.group === run.geometry)!;
        expect(t.value).toBe(run.counters['walk.refs']);
        expect(w.value).toBeCloseTo(t.value / run.counters['walk.count']!, 9);
      }
    });

    it('are the axis ticks round numbers, evenly stepped, and the value labels different wherever the values are?', () => {
      for (const title of CHARTS) {
        const svg = chartOf(title);
        const ticks = [...svg.matchAll(/<text [^>]*class="a" text-anchor="end">([^<]*)<\/text>/g)].map((m) => m[1]!);
        expect(ticks.length, title).toBeGreaterThanOrEqual(2);
        const mult = { '': 1, k: 1e3, M: 1e6, G: 1e9 } as const;
        const values = ticks.map((t) => { const m = /^(\d+(?:\.\d+)?)([kMG]?)$/.exec(t); expect(m, `${title}: tick '${t}'`).not.toBeNull(); return Number(m![1]) * mult[m![2] as keyof typeof mult]; });
        const step = values[1]! - values[0]!;
        expect(ticks[0]).toBe('0');
        values.forEach((v, k) => expect(v).toBeCloseTo(k * step, 6));
        const mantissa = step / 10 ** Math.floor(Math.log10(step));
        expect([1, 2, 2.5, 5].some((m) => Math.abs(m - mantissa) < 1e-9), `${title}: step ${step}`).toBe(true);
        const b = bars(svg);
        for (const x of b) for (const y of b) if (x.value !== y.value) expect(x.label, `${title}: ${x.value} and ${y.value}`).not.toBe(y.label);
      }
    });

    it('does the page explain every field and counter name it shows?', () => {
      const explained = new Set([...html.matchAll(/<dt><code>([^<]*)<\/code><\/dt><dd>([^<]+)<\/dd>/g)].map((m) => m[1]!));
      const shown = new Set<string>();
      for (const m of html.matchAll(/<tr><td>([^<]*)<\/td>/g)) {
        const label = m[1]!.trim();
        if (/^[a-z_]+(\.[a-z0-9_]+)*$/.test(label) && (label.includes('.') || label.includes('_'))) shown.add(label);
      }
      for (const m of html.matchAll(/(?:aria-label|<figcaption>)[^<]*/g)) for (const n of m[0].matchAll(/\b[a-z][a-z0-9]*(?:\.[a-z0-9_]+)+\b/g)) shown.add(n[0]);
      shown.add('l2.k4m2'); // the sweep's field, in every geometry name
      expect(shown.size).toBeGreaterThan(20);
      for (const n of shown) expect(explained.has(n), n).toBe(true);
      expect(html).toContain('<dt><code>FIELD=ExW</code></dt>');
    });

    it("does the report say that the synthetic kernel's stores are counted apart, and the access counters hold the trace's accesses?", () => {
      expect(html).toMatch(/the synthetic kernel's \d+ stores to page-table entries are counted apart/);
      for (const run of runs) {
        expect(run.counts.accesses).toBe(lackeyAccesses);
        expect(run.counters['access.read']! + run.counters['access.write']! + run.counters['access.fetch']!).toBe(lackeyAccesses);
        expect((run.counts as unknown as { kernelAccesses: number }).kernelAccesses).toBeGreaterThan(0);
      }
      const text = vmmu('replay', lackey, '--memory', '32M', '--mode', 'naive,shadow');
      expect(text.stdout).toMatch(/synthetic kernel's page-table stores \(not counted above\) +\d+ +\d+/);
      expect(text.stdout).toMatch(/naive: host TLB \(the emulator's accesses to guest RAM\)/);
    });
  });

  it('does compare --results turn replay --json output into the same kind of report?', () => {
    const runs = join(tmp, 'runs.json');
    writeFileSync(runs, vmmu('replay', lackey, '--memory', '32M', '--json').stdout);
    const out = join(tmp, 'from-json.html');
    const r = vmmu('compare', '--results', runs, '-o', out);
    expect(r.status).toBe(0);
    expect(readFileSync(out, 'utf8')).toMatch(/<svg [^>]*aria-label="Modeled cycles per access"/);
  });
});

describe('bad input', () => {
  it('does a malformed lackey line stop with the file and line, and no stack trace?', () => {
    const p = join(tmp, 'bad.lackey');
    writeFileSync(p, 'I  401000,3\n L 7ff000,8\n L 7ff008;8\n');
    const r = vmmu('replay', p, '--import', 'lackey', '--mode', 'shadow');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${p}:3: no ',' after the address`);
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
  });

  it('does --on-error skip go on and say how many lines it skipped?', () => {
    const p = join(tmp, 'skip.lackey');
    writeFileSync(p, 'I  401000,3\n L 7ff000,8\n nonsense\n L 7ff008,8\n');
    const r = vmmu('replay', p, '--import', 'lackey', '--mode', 'shadow', '--on-error', 'skip');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/skipped 1 malformed line; first: .*skip\.lackey:3:/);
  });

  it('does a corrupt or truncated trace give the offset, and no stack trace?', () => {
    const good = readFileSync(join(tmp, 'prog.vmt'));
    const cut = join(tmp, 'cut.vmt');
    writeFileSync(cut, good.subarray(0, good.length - 100));
    const r = vmmu('replay', cut, '--mode', 'slat');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/truncated.*offset \d+/);
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
    const flipped = Buffer.from(good);
    flipped[flipped.readUInt16LE(6) + 40] ^= 0xff;
    const bad = join(tmp, 'flipped.vmt');
    writeFileSync(bad, flipped);
    const s = vmmu('replay', bad);
    expect(s.status).toBe(1);
    expect(s.stderr).toMatch(/chunk at offset \d+: CRC mismatch/);
  });

  it('do usage mistakes exit 2 with the trace usage text?', () => {
    const a = vmmu('replay', join(tmp, 'prog.vmt'), '--page-size', '2m');
    expect(a.status).toBe(2);
    expect(a.stderr).toMatch(/--page-size applies to text traces only/);
    const b = vmmu('replay', lackey, '--mode', 'turbo');
    expect(b.status).toBe(2);
    expect(b.stderr).toMatch(/--mode: 'turbo' is not one of/);
    const c = vmmu('replay', lackey, '--sweep', 'l2.k4m2=100x3');
    expect(c.status).toBe(1);
    expect(c.stderr).toMatch(/100 entries cannot be split into 3-way sets/);
    const d = vmmu('record', lackey);
    expect(d.status).toBe(2);
    expect(d.stderr).toMatch(/give -o OUT\.vmt/);
  });

  it('does a file that is neither a trace nor a known text format say so?', () => {
    const p = join(tmp, 'mystery.txt');
    writeFileSync(p, 'this is not a trace\n');
    const r = vmmu('replay', p);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${p}:1: line 'this is not a trace' is neither lackey/cache-lab (unknown access kind 't') nor pinatrace (instruction pointer does not start with '0x'); give --import FORMAT`);
  });
});

describe('damaged and crafted input, end to end', () => {
  const noTrace = (r: ReturnType<typeof vmmu>): void => {
    expect(r.stderr).not.toMatch(/internal error|at .*\.js:\d+|Assertion failed|node::/);
  };

  it('does a flipped bit in an unchecked chunk length (bit 7 of byte 419 of traces/ls.vmt) give an error with the offset, not a native abort?', () => {
    const b = Buffer.from(readFileSync(join(root, 'traces/ls.vmt')));
    b[419] = b[419]! ^ 0x80;
    const p = join(tmp, 'ls-flipped.vmt');
    writeFileSync(p, b);
    const r = vmmu('replay', p, '--mode', 'shadow');
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`vmmu: ${p}: chunk at offset 412: compressed length 2147520258 at offset 416 is outside 1..486817, what DEFLATE makes of 431816 bytes (corrupt)\n`);
  });

  it('is a directory given as the trace refused by name?', () => {
    const r = vmmu('replay', tmp, '--mode', 'shadow');
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`vmmu: ${tmp}: is a directory; give a trace file\n`);
  });

  it('does detection name the line that is neither format, as --import does?', () => {
    const p = join(tmp, 'mostly.lackey');
    writeFileSync(p, 'I  401000,3\n L 7ff000,8\n L 7ff008;8\n');
    const r = vmmu('replay', p, '--mode', 'shadow');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${p}:3: no ',' after the address in lackey line ' L 7ff008;8'`);
    noTrace(r);
  });

  it('does compare --results refuse runs without counters, naming the run and the field, and an empty list of runs?', () => {
    const out = join(tmp, 'never.html');
    const noCounters = join(tmp, 'no-counters.json');
    writeFileSync(noCounters, JSON.stringify({ runs: [{ mode: 'shadow', cycles: {}, tlb: { name: 'x' } }] }));
    const a = vmmu('compare', '--results', noCounters, '-o', out);
    expect(a.status).toBe(1);
    expect(a.stderr).toContain(`${noCounters}: runs[0].counters is missing or not an object; expected the output of 'vmmu replay --json'`);
    noTrace(a);
    const real = JSON.parse(vmmu('replay', lackey, '--memory', '32M', '--json', '--mode', 'slat').stdout) as { runs: { counters: Record<string, number> }[] };
    delete real.runs[0]!.counters['tlb.l2.miss'];
    const oneMissing = join(tmp, 'one-missing.json');
    writeFileSync(oneMissing, JSON.stringify(real));
    const b = vmmu('compare', '--results', oneMissing, '-o', out);
    expect(b.status).toBe(1);
    expect(b.stderr).toContain('runs[0].counters["tlb.l2.miss"] is missing or not a number');
    const empty = join(tmp, 'empty-runs.json');
    writeFileSync(empty, '{"runs":[]}');
    const c = vmmu('compare', '--results', empty, '-o', out);
    expect(c.status).toBe(1);
    expect(c.stderr).toContain(`${empty}: "runs" is empty: there is nothing to report`);
    expect(existsSync(out)).toBe(false);
  });

  it('does /dev/zero as a lackey trace stop at its first line, in bounded time?', () => {
    // killed after 10 s: a reader that gathers the endless line would otherwise grow until memory runs out
    const r = spawnSync(process.execPath, [join(root, 'dist/src/cli/main.js'), 'replay', '/dev/zero', '--import', 'lackey', '--mode', 'shadow'], { encoding: 'utf8', cwd: root, env: { ...process.env, CI: '1' }, timeout: 10_000 });
    expect(r.signal).toBe(null);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`vmmu: /dev/zero:1: line longer than 4096 bytes in lackey line '${'\\x00'.repeat(80)}'\n`);
  });
});

describe('outputs the user already has', () => {
  it('does record -o refuse to replace an existing file, leave it intact, and replace it with --force?', () => {
    const out = join(tmp, 'precious.vmt');
    writeFileSync(out, 'an hour of recording\n');
    const r = vmmu('record', '--demo', '--accesses', '1000', '-o', out);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/precious\.vmt exists, and record -o does not replace files: .*--force/);
    expect(readFileSync(out, 'utf8')).toBe('an hour of recording\n');
    const forced = vmmu('record', '--demo', '--accesses', '1000', '-o', out, '--force');
    expect(forced.status, forced.stderr).toBe(0);
    expect(readFileSync(out).subarray(0, 4).toString('latin1')).not.toBe('an h');
  });

  it('do compare -o and boot --record refuse the same way?', () => {
    const html = join(tmp, 'kept.html');
    writeFileSync(html, 'mine');
    const c = vmmu('compare', lackey, '-o', html);
    expect(c.status).toBe(1);
    expect(c.stderr).toMatch(/kept\.html exists, and compare -o does not replace files/);
    const b = vmmu('boot', '--multiboot', 'test/guests/paging32/paging32.elf', '--batch', '--record', html);
    expect(b.status).toBe(1);
    expect(b.stderr).toMatch(/kept\.html exists, and --record does not replace files/);
    expect(readFileSync(html, 'utf8')).toBe('mine');
  });
});
