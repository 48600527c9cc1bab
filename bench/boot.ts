/**
 * `npm run bench:boot`: how long each engine takes to boot Debian bookworm's
 * 686 kernel to the batch initramfs's final marker (VMMU-GUEST-DONE), on the
 * same kernel, initramfs and command line: vmmu in naive, shadow and slat
 * mode with vmmu boot's default CPU engine (wasm) and in shadow mode with
 * the JavaScript jit, the block engine and the reference interpreter, v86 with and without its
 * JIT, QEMU's TCG. Then the same for Debian's 64-bit kernel (cloud-amd64,
 * its own batch initramfs, vmmu's CPU `--cpu +lm,+sse,+sse2`): vmmu's three
 * modes and QEMU's TCG (qemu-system-x86_64); v86 has no 64-bit CPU, and
 * vmmu runs 64-bit code in its interpreter under every CPU engine. One
 * engine at a time, each in a process of its own, in that order; then a
 * table of the architecture, the CPU engine, wall and CPU seconds, guest
 * instructions, MIPS, wall time relative to v86 without its JIT and CPU
 * time relative to QEMU's (same architecture), the default engine's
 * speed-up over the interpreter (the bar: 4×, and shadow faster than v86
 * without its JIT; the goal: at or below v86 with it), and the seconds to the first
 * marker (VMMU-GUEST-BOOTED: kernel booted, user space started), as text and
 * as Markdown for docs/bench.md.
 *
 *   npm run bench:boot
 *   npm run bench:boot -- --only shadow,v86-nojit
 *   npm run bench:boot -- --only vmmu --timeout 1200
 *   npm run bench:boot -- --arch x86_64            the 64-bit rows only
 *   npm run bench:boot -- --arch i686 --only qemu  QEMU on the 686 kernel only
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
import { formatTable } from '../src/cli/table.js';
import type { BootArch } from '../src/cli/arch.js';
import { ARCHES, BASELINE, ENGINE_GROUPS, ENGINES, MEMORY_MIB, type Engine, type EngineName, type EngineResult } from './boot/engines.js';
import { CPU_X86_64, findBootGuest, type BootGuest } from './boot/guest.js';
import { bootQemu, ensureQemu } from './boot/qemu.js';

const CHILD = fileURLToPath(new URL('./boot/child.js', import.meta.url));
/** Time a child gets beyond its engine's limit before it is killed from outside. */
const KILL_GRACE_MS = 90_000;

const USAGE = `usage: npm run bench:boot [-- --only NAME[,NAME...]] [-- --arch ARCH[,ARCH]] [-- --timeout SECONDS]

Boots Debian's 686 kernel, then its 64-bit kernel, each with its batch
initramfs to the final marker under each engine, one after the other, and
prints the times.

  --only NAMES      run only these engines: ${ENGINES.map((e) => e.name).join(', ')},
                    or the groups ${Object.keys(ENGINE_GROUPS).join(', ')} (default: all, in that order)
  --arch ARCHES     boot only these kernels, by uname -m's names as vmmu boot --arch:
                    i686 (the 686 kernel: every engine) or
                    x86_64 (the 64-bit kernel on --cpu ${CPU_X86_64}: naive, shadow, slat
                    and qemu only) (default: both, i686 first)
  --timeout SECONDS time limit of every engine (default: ${ENGINES[0]!.timeoutSeconds} s for vmmu's modes, ${ENGINES.find((e) => e.name === 'qemu')!.timeoutSeconds} s for the others)
  --help            this text

Needs the guest files of \`npm run guests\` (without --arch, an architecture
whose files are missing is skipped with a note).
QEMU (qemu-system-i386, qemu-system-x86_64) is installed with apt-get when
missing and running as root.`;

class UsageError extends Error {}

/** One row of the benchmark: an engine booting one architecture's kernel. */
interface Run {
  engine: Engine;
  arch: BootArch;
}

interface Options {
  runs: Run[];
  /** --arch was given: a chosen architecture whose guest files are missing is an error, not a skipped part */
  archGiven: boolean;
  timeoutSeconds: number | null;
}

function parseArgs(argv: readonly string[]): Options | 'help' {
  let only: EngineName[] | null = null;
  let arches: BootArch[] = [...ARCHES];
  let archGiven = false;
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
    } else if (a === '--arch' || a.startsWith('--arch=')) {
      const names = value().split(',').map((s) => s.trim()).filter(Boolean);
      for (const n of names) {
        if (!ARCHES.includes(n as BootArch)) throw new UsageError(`--arch: unknown architecture '${n}' (known: ${ARCHES.join(', ')}, uname -m's names)`);
      }
      if (names.length === 0) throw new UsageError('--arch needs at least one architecture');
      arches = ARCHES.filter((x) => names.includes(x));
      archGiven = true;
    } else if (a === '--timeout' || a.startsWith('--timeout=')) {
      const v = value();
      timeoutSeconds = Number(v);
      if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) throw new UsageError(`--timeout: '${v}' is not a positive number of seconds`);
    } else {
      throw new UsageError(`unknown argument '${a}'`);
    }
  }
  const chosen = only;
  const engines = chosen === null ? [...ENGINES] : ENGINES.filter((e) => chosen.includes(e.name));
  const runs = arches.flatMap((arch) => engines.filter((e) => e.arches.includes(arch)).map((engine) => ({ engine, arch })));
  if (runs.length === 0) {
    throw new UsageError(`none of the engines chosen boots ${arches.join(' or ')} (x86_64: ${ENGINES.filter((e) => e.arches.includes('x86_64')).map((e) => e.name).join(', ')})`);
  }
  return { runs, archGiven, timeoutSeconds };
}

/** Runs one engine in a child process; resolves when the child is gone. */
function runInChild(engine: Engine, arch: BootArch, timeoutMs: number): Promise<EngineResult> {
  return new Promise((resolve) => {
    const child = fork(CHILD, [engine.name, arch, String(timeoutMs)], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
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
        arch,
        status: killed ? 'timeout' : 'failed',
        reason: killed
          ? `killed after ${(timeoutMs + KILL_GRACE_MS) / 1000} s without a result`
          : `its process ended (${signal ?? `exit ${code}`}) without a result${lastLines ? `: ${lastLines}` : ''}`,
      });
    });
  });
}

async function runEngine(engine: Engine, guest: BootGuest, timeoutMs: number): Promise<EngineResult> {
  if (engine.name !== 'qemu') return runInChild(engine, guest.arch, timeoutMs);
  const qemu = ensureQemu(guest, (line) => console.log(line));
  if ('reason' in qemu) return { name: 'qemu', arch: guest.arch, status: 'unavailable', reason: qemu.reason };
  return bootQemu(qemu.binary, guest, timeoutMs);
}

function cpuModel(): string {
  const r = spawnSync('lscpu', [], { encoding: 'utf8' });
  const m = /^Model name:\s*(.+)$/m.exec(r.stdout ?? '');
  return (m?.[1] ?? cpus()[0]?.model ?? 'unknown').trim();
}

const fmtSeconds = (s: number): string => s.toFixed(1);
const fmtCount = (n: number): string => `${(n / 1e9).toFixed(3)} G`;

interface Row extends Run {
  result: EngineResult;
  load: number;
}

/**
 * The table's CPU engine: for the 64-bit kernel, vmmu's engine runs the
 * boot stub's 32-bit code and the interpreter all 64-bit code.
 */
function cpuLabel(row: Run): string {
  return row.arch === 'x86_64' && row.engine.label.startsWith('vmmu') ? `${row.engine.cpu} (64-bit code: interp)` : row.engine.cpu;
}

const ratio = (r: EngineResult, base: EngineResult | undefined): string =>
  base?.status === 'ok' && base.seconds !== undefined && r.seconds !== undefined ? `${(r.seconds / base.seconds).toFixed(2)}×` : '—';
/** CPU seconds to the marker relative to `base`'s: steadier than wall time on a machine shared with other work */
const cpuRatio = (r: EngineResult, base: EngineResult | undefined): string =>
  base?.status === 'ok' && base.cpuSeconds !== undefined && r.cpuSeconds !== undefined ? `${(r.cpuSeconds / base.cpuSeconds).toFixed(2)}×` : '—';

/**
 * Table cells: engine, architecture, CPU engine, wall s, CPU s, instructions, MIPS, time relative
 * to v86 without its JIT (i686 only), CPU s relative to QEMU's on the same architecture, wall s to the first marker.
 */
function cells(row: Row, baseline: EngineResult | undefined, qemu: EngineResult | undefined): string[] {
  const r = row.result;
  if (r.status !== 'ok' || r.seconds === undefined) {
    const what = r.status === 'timeout' ? 'timed out' : r.status;
    return [row.engine.label, row.arch, cpuLabel(row), what, '', '', '', '', '', r.booted ? fmtSeconds(r.booted.seconds) : ''];
  }
  const wrong = r.missing !== undefined && r.missing.length > 0 ? ' (output wrong)' : '';
  return [
    row.engine.label,
    row.arch,
    cpuLabel(row),
    fmtSeconds(r.seconds) + wrong,
    r.cpuSeconds === undefined ? '—' : fmtSeconds(r.cpuSeconds),
    r.instructions === undefined ? '—' : fmtCount(r.instructions),
    r.instructions === undefined ? '—' : (r.instructions / r.seconds / 1e6).toFixed(1),
    row.arch === 'i686' ? ratio(r, baseline) : '—',
    cpuRatio(r, qemu),
    r.booted ? fmtSeconds(r.booted.seconds) : '—',
  ];
}

function markdown(header: readonly string[], rows: readonly string[][]): string {
  const line = (r: readonly string[]): string => `| ${r.join(' | ')} |`;
  return [line(header), `| ${header.map((_, i) => (i < 3 ? '---' : '---:')).join(' | ')} |`, ...rows.map(line)].join('\n');
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
  lines.push(`${row.engine.label} (${row.arch}, ${cpuLabel(row)}): ${r.status}${r.reason ? ` (${r.reason})` : ''}; ${extra.join(', ')}`);
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
  const guests = new Map<BootArch, BootGuest>();
  const skipped: string[] = [];
  for (const arch of new Set(options.runs.map((r) => r.arch))) {
    const found = findBootGuest(arch);
    if (found.ok) {
      guests.set(arch, found.guest);
      continue;
    }
    // Without --arch, the other architecture's rows still run.
    if (options.archGiven) {
      console.error(`bench:boot: ${found.reason}`);
      return 1;
    }
    skipped.push(`${arch} rows skipped: ${found.reason}`);
  }
  if (guests.size === 0) {
    for (const line of skipped) console.error(`bench:boot: ${line}`);
    return 1;
  }
  const runs = options.runs.filter((r) => guests.has(r.arch));
  const date = new Date().toISOString().slice(0, 10);
  console.log(`vmmu boot benchmark, ${date}, node ${process.version}, ${cpus().length} cores (${cpuModel()})`);
  for (const g of guests.values()) {
    console.log(`guest ${g.arch}: ${g.release} + batch initramfs, ${MEMORY_MIB} MiB, "${g.cmdline}"`
      + `${g.vmmuCpu ? `, vmmu --cpu ${g.vmmuCpu}` : ''}, QEMU -cpu ${g.qemuCpu}; to the line ending in VMMU-GUEST-DONE`);
  }
  for (const line of skipped) console.log(line);
  console.log(`engines, one at a time: ${runs.map((r) => `${r.engine.name} (${r.arch})`).join(', ')}\n`);

  const rows: Row[] = [];
  for (const { engine, arch } of runs) {
    const timeoutSeconds = options.timeoutSeconds ?? engine.timeoutSeconds;
    const load = loadavg()[0]!;
    process.stdout.write(`${engine.label} (${arch}, ${cpuLabel({ engine, arch })}) ... `);
    const result = await runEngine(engine, guests.get(arch)!, timeoutSeconds * 1000);
    rows.push({ engine, arch, result, load });
    console.log(result.status === 'ok' && result.seconds !== undefined
      ? `${fmtSeconds(result.seconds)} s${result.instructions !== undefined ? `, ${fmtCount(result.instructions)} instructions` : ''}`
      : `${result.status}${result.reason ? `: ${result.reason}` : ''}`);
  }

  const find = (name: EngineName, arch: BootArch): EngineResult | undefined => rows.find((x) => x.engine.name === name && x.arch === arch)?.result;
  const baseline = find(BASELINE, 'i686');
  const header = ['engine', 'arch', 'CPU engine', 'wall s to marker', 'CPU s', 'guest instructions', 'MIPS', 'time ÷ v86 no-JIT', 'CPU s ÷ QEMU', 'wall s to user space'];
  const table = rows.map((r) => cells(r, baseline, find('qemu', r.arch)));
  console.log(`\n${formatTable(header, table)}\n`);
  for (const r of rows) for (const l of describe(r)) console.log(l);
  if (rows.some((r) => r.arch === 'i686') && baseline?.status !== 'ok') console.log(`\n(no ratio to v86: v86 without its JIT${baseline ? ` ${baseline.status}` : ' was not run'})`);

  // the bars are the 686 kernel's
  const ok = (name: EngineName): EngineResult | undefined => {
    const r = find(name, 'i686');
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
