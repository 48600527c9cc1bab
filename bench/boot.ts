/**
 * `npm run bench:boot`: how long each engine takes to boot Debian bookworm's
 * 686 kernel to the batch initramfs's final marker (VMMU-GUEST-DONE), on the
 * same kernel, initramfs and command line: vmmu in naive, shadow and slat
 * mode with vmmu boot's default CPU engine (wasm) and in shadow mode with
 * the JavaScript jit, the block engine and the reference interpreter, v86 with and without its
 * JIT, QEMU's TCG. One engine at a time, each in a process of its own, in
 * that order; then a table of the CPU engine, wall seconds, guest
 * instructions, MIPS and time relative to v86 without its JIT, the default engine's
 * speed-up over the interpreter (the bar: 4×, and shadow faster than v86
 * without its JIT; the goal: at or below v86 with it), and the seconds to the first
 * marker (VMMU-GUEST-BOOTED: kernel booted, user space started), as text and
 * as Markdown for docs/bench.md.
 *
 *   npm run bench:boot
 *   npm run bench:boot -- --only shadow,v86-nojit
 *   npm run bench:boot -- --only vmmu --timeout 1200
 *
 * A benchmark, not a test: it reports figures and never fails on speed. It
 * exits non-zero only when it cannot run at all (bad arguments, guest files
 * missing). An engine that is not installed, times out or misbehaves is a
 * row saying so.
 */
import { fork } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { findGuestFiles, type GuestFiles } from '../src/guests/paths.js';
import { formatTable } from '../src/cli/table.js';
import { BASELINE, ENGINE_GROUPS, ENGINES, MEMORY_MIB, type Engine, type EngineName, type EngineResult } from './boot/engines.js';
import { bootQemu, ensureQemu } from './boot/qemu.js';

const CHILD = fileURLToPath(new URL('./boot/child.js', import.meta.url));
/** Time a child gets beyond its engine's limit before it is killed from outside. */
const KILL_GRACE_MS = 90_000;

const USAGE = `usage: npm run bench:boot [-- --only NAME[,NAME...]] [-- --timeout SECONDS]

Boots Debian's 686 kernel with the batch initramfs to its final marker under
each engine, one after the other, and prints the times.

  --only NAMES      run only these engines: ${ENGINES.map((e) => e.name).join(', ')},
                    or the groups ${Object.keys(ENGINE_GROUPS).join(', ')} (default: all, in that order)
  --timeout SECONDS time limit of every engine (default: ${ENGINES[0]!.timeoutSeconds} s for vmmu's modes, ${ENGINES.find((e) => e.name === 'qemu')!.timeoutSeconds} s for the others)
  --help            this text

Needs the guest files of \`npm run guests\`. QEMU (qemu-system-i386) is
installed with apt-get when missing and running as root.`;

class UsageError extends Error {}

interface Options {
  engines: Engine[];
  timeoutSeconds: number | null;
}

function parseArgs(argv: readonly string[]): Options | 'help' {
  let only: EngineName[] | null = null;
  let timeoutSeconds: number | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const eq = a.indexOf('=');
      if (eq >= 0) return a.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      return v;
    };
    if (a === '--help' || a === '-h') return 'help';
    if (a === '--only' || a.startsWith('--only=')) {
      only = [];
      for (const n of value().split(',').map((s) => s.trim()).filter(Boolean)) {
        const group = ENGINE_GROUPS[n];
        if (group) only.push(...group);
        else if (ENGINES.some((e) => e.name === n)) only.push(n as EngineName);
        else throw new UsageError(`--only: unknown engine '${n}' (known: ${[...ENGINES.map((e) => e.name), ...Object.keys(ENGINE_GROUPS)].join(', ')})`);
      }
      if (only.length === 0) throw new UsageError('--only needs at least one engine');
    } else if (a === '--timeout' || a.startsWith('--timeout=')) {
      const v = value();
      timeoutSeconds = Number(v);
      if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) throw new UsageError(`--timeout: '${v}' is not a positive number of seconds`);
    } else {
      throw new UsageError(`unknown argument '${a}'`);
    }
  }
  const chosen = only;
  return { engines: chosen === null ? [...ENGINES] : ENGINES.filter((e) => chosen.includes(e.name)), timeoutSeconds };
}

/** Runs one engine in a child process; resolves when the child is gone. */
function runInChild(engine: Engine, timeoutMs: number): Promise<EngineResult> {
  return new Promise((resolve) => {
    const child = fork(CHILD, [engine.name, String(timeoutMs)], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    let result: EngineResult | null = null;
    let output = '';
    let killed = false;
    const keep = (chunk: Buffer): void => {
      output = (output + chunk.toString('utf8')).slice(-4000);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    child.on('message', (m) => {
      result = m as EngineResult;
    });
    const backstop = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, timeoutMs + KILL_GRACE_MS);
    child.on('exit', (code, signal) => {
      clearTimeout(backstop);
      if (result !== null) return resolve(result);
      const lastLines = output.trim().split('\n').slice(-3).join(' | ');
      resolve({
        name: engine.name,
        status: killed ? 'timeout' : 'failed',
        reason: killed
          ? `killed after ${(timeoutMs + KILL_GRACE_MS) / 1000} s without a result`
          : `its process ended (${signal ?? `exit ${code}`}) without a result${lastLines ? `: ${lastLines}` : ''}`,
      });
    });
  });
}

async function runEngine(engine: Engine, files: GuestFiles, timeoutMs: number): Promise<EngineResult> {
  if (engine.name !== 'qemu') return runInChild(engine, timeoutMs);
  const qemu = ensureQemu(files, (line) => console.log(line));
  if ('reason' in qemu) return { name: 'qemu', status: 'unavailable', reason: qemu.reason };
  return bootQemu(qemu.binary, files, timeoutMs);
}

function cpuModel(): string {
  const r = spawnSync('lscpu', [], { encoding: 'utf8' });
  const m = /^Model name:\s*(.+)$/m.exec(r.stdout ?? '');
  return (m?.[1] ?? cpus()[0]?.model ?? 'unknown').trim();
}

const fmtSeconds = (s: number): string => s.toFixed(1);
const fmtCount = (n: number): string => `${(n / 1e9).toFixed(3)} G`;

interface Row {
  engine: Engine;
  result: EngineResult;
  load: number;
}

/** Table cells: engine, CPU engine, wall s, instructions, MIPS, time relative to the baseline, wall s to the first marker. */
function cells(row: Row, baseline: EngineResult | undefined): string[] {
  const r = row.result;
  if (r.status !== 'ok' || r.seconds === undefined) {
    const what = r.status === 'timeout' ? 'timed out' : r.status;
    return [row.engine.label, row.engine.cpu, what, '', '', '', r.booted ? fmtSeconds(r.booted.seconds) : ''];
  }
  const base = baseline?.status === 'ok' ? baseline.seconds : undefined;
  const wrong = r.missing !== undefined && r.missing.length > 0 ? ' (output wrong)' : '';
  return [
    row.engine.label,
    row.engine.cpu,
    fmtSeconds(r.seconds) + wrong,
    r.instructions === undefined ? '—' : fmtCount(r.instructions),
    r.instructions === undefined ? '—' : (r.instructions / r.seconds / 1e6).toFixed(1),
    base === undefined ? '—' : `${(r.seconds / base).toFixed(2)}×`,
    r.booted ? fmtSeconds(r.booted.seconds) : '—',
  ];
}

function markdown(header: readonly string[], rows: readonly string[][]): string {
  const line = (r: readonly string[]): string => `| ${r.join(' | ')} |`;
  return [line(header), `| ${header.map((_, i) => (i < 2 ? '---' : '---:')).join(' | ')} |`, ...rows.map(line)].join('\n');
}

function describe(row: Row): string[] {
  const r = row.result;
  const lines: string[] = [];
  const extra: string[] = [];
  if (r.booted) {
    extra.push(`user space (VMMU-GUEST-BOOTED) at ${fmtSeconds(r.booted.seconds)} s`
      + (r.booted.instructions !== undefined ? ` and ${fmtCount(r.booted.instructions)} instructions` : ''));
  }
  if (r.setupSeconds !== undefined) extra.push(`set-up ${r.setupSeconds.toFixed(2)} s`);
  if (r.cpuSeconds !== undefined && r.seconds !== undefined && r.status === 'ok') extra.push(`CPU ${r.cpuSeconds.toFixed(1)} s`);
  extra.push(`load average before ${row.load.toFixed(2)}`);
  lines.push(`${row.engine.label} (${row.engine.cpu}): ${r.status}${r.reason ? ` (${r.reason})` : ''}; ${extra.join(', ')}`);
  if (r.missing && r.missing.length > 0) lines.push(`  the guest's output lacked: ${r.missing.join(' ; ')}`);
  for (const n of r.notes ?? []) lines.push(`  ${n}`);
  if (r.status !== 'ok' && r.status !== 'unavailable' && r.consoleTail) {
    lines.push('  end of the console:', ...r.consoleTail.trimEnd().split('\n').slice(-8).map((l) => `  | ${l}`));
  }
  return lines;
}

async function main(): Promise<number> {
  let options: Options | 'help';
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`bench:boot: ${e.message}\n\n${USAGE}`);
    return 2;
  }
  if (options === 'help') {
    console.log(USAGE);
    return 0;
  }
  const found = findGuestFiles();
  if (!found.ok) {
    console.error(`bench:boot: ${found.reason}`);
    return 1;
  }
  const files = found.files;
  const date = new Date().toISOString().slice(0, 10);
  console.log(`vmmu boot benchmark, ${date}, node ${process.version}, ${cpus().length} cores (${cpuModel()})`);
  console.log(`guest: ${files.kernelReleases['686']} + batch initramfs, ${MEMORY_MIB} MiB, "${files.cmdline}"; to the line ending in VMMU-GUEST-DONE`);
  console.log(`engines, one at a time: ${options.engines.map((e) => e.name).join(', ')}\n`);

  const rows: Row[] = [];
  for (const engine of options.engines) {
    const timeoutSeconds = options.timeoutSeconds ?? engine.timeoutSeconds;
    const load = loadavg()[0]!;
    process.stdout.write(`${engine.label} (${engine.cpu}) ... `);
    const result = await runEngine(engine, files, timeoutSeconds * 1000);
    rows.push({ engine, result, load });
    console.log(result.status === 'ok' && result.seconds !== undefined
      ? `${fmtSeconds(result.seconds)} s${result.instructions !== undefined ? `, ${fmtCount(result.instructions)} instructions` : ''}`
      : `${result.status}${result.reason ? `: ${result.reason}` : ''}`);
  }

  const baseline = rows.find((r) => r.engine.name === BASELINE)?.result;
  const header = ['engine', 'CPU engine', 'wall s to marker', 'guest instructions', 'MIPS', 'time ÷ v86 no-JIT', 'wall s to user space'];
  const table = rows.map((r) => cells(r, baseline));
  console.log(`\n${formatTable(header, table)}\n`);
  for (const r of rows) for (const l of describe(r)) console.log(l);
  if (baseline?.status !== 'ok') console.log(`\n(no ratio column: v86 without its JIT${baseline ? ` ${baseline.status}` : ' was not run'})`);

  const ok = (name: EngineName): EngineResult | undefined => {
    const r = rows.find((x) => x.engine.name === name)?.result;
    return r?.status === 'ok' && r.seconds !== undefined ? r : undefined;
  };
  const shadow = ok('shadow'), interp = ok('shadow-interp'), v86 = ok('v86-nojit'), v86jit = ok('v86-jit');
  const verdict = (met: boolean): string => (met ? 'met' : 'not met');
  if (shadow && interp) {
    const x = interp.seconds! / shadow.seconds!;
    console.log(`\nbar: vmmu shadow under its default engine (wasm) at least 4× faster than under the interpreter: ${fmtSeconds(shadow.seconds!)} s vs ${fmtSeconds(interp.seconds!)} s, ${x.toFixed(2)}× (${verdict(x >= 4)})`);
  }
  if (shadow && v86) {
    const ratio = shadow.seconds! / v86.seconds!;
    console.log(`bar: vmmu shadow faster than v86 without its JIT: ${fmtSeconds(shadow.seconds!)} s vs ${fmtSeconds(v86.seconds!)} s, ${ratio.toFixed(2)}× (${verdict(ratio < 1)})`);
  }
  if (shadow && v86jit) {
    const ratio = shadow.seconds! / v86jit.seconds!;
    console.log(`goal: vmmu shadow at or below v86 with its JIT: ${fmtSeconds(shadow.seconds!)} s vs ${fmtSeconds(v86jit.seconds!)} s, ${ratio.toFixed(2)}× (${verdict(ratio <= 1)})`);
  }
  console.log(`\nMarkdown (docs/bench.md):\n\n${markdown(header, table)}`);
  return 0;
}

main().then((code) => {
  process.exitCode = code;
}, (e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
