/**
 * `npm run bench:phases`: where in a Linux boot the time goes. Boots
 * Debian's 686 (or 686-pae) kernel with the batch initramfs, as
 * `npm run bench:boot` does, in one engine and one mode, and stops every N
 * guest instructions to print what that stretch cost: the process's CPU
 * seconds and wall seconds, and the CPU engine's figures (blocks decoded,
 * frames dropped by writes, times the block cache was emptied, blocks
 * compiled). The batch guest's marker lines are printed where they fall.
 * At the end, the CPU seconds up to the first marker (the kernel's boot)
 * and after it (user space) are printed apart.
 *
 *   npm run bench:phases
 *   npm run bench:phases -- --engine interp --mode naive --chunk 50
 *
 * Two runs started together on an otherwise idle machine are the way to
 * compare engines stretch by stretch (docs/bench.md, "The boot's last
 * billion instructions").
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { match, P } from 'ts-pattern';
import { Machine } from '../src/machine/machine.js';
import { ENGINES, type Engine } from '../src/cpu/cpu.js';
import type { ModeName } from '../src/mmu/modes/mode.js';
import { findGuestFiles } from '../src/guests/paths.js';
import { ConsoleWatcher } from './boot/console.js';
import { MEMORY_MIB } from './boot/engines.js';
import { START_DATE } from './boot/vmmu.js';

const USAGE = `usage: npm run bench:phases [-- OPTIONS]

Boots Debian's kernel with the batch initramfs to its end in one engine and
mode, printing the CPU time of every stretch of N million instructions.

  --engine ${ENGINES.join('|')}  the CPU engine (default: vmmu boot's, wasm)
  --mode naive|shadow|slat         translation mode (default shadow)
  --kernel 686|686-pae             the kernel flavour (default 686)
  --chunk N                        millions of instructions per line (default 100)
  --help                           this text`;

class UsageError extends Error {}

interface Options { engine: Engine | undefined; mode: ModeName; flavour: '686' | '686-pae'; chunk: number }

function parseArgs(argv: readonly string[]): Options | 'help' {
  const o: Options = { engine: undefined, mode: 'shadow', flavour: '686', chunk: 100 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') return 'help';
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      return v;
    };
    match(a)
      .with('--engine', () => {
        const v = value();
        if (!(ENGINES as readonly string[]).includes(v)) throw new UsageError(`--engine ${v}: not one of ${ENGINES.join(', ')}`);
        o.engine = v as Engine;
      })
      .with('--mode', () => {
        o.mode = match(value())
          .with(P.union('naive', 'shadow', 'slat'), (m) => m)
          .otherwise((m) => { throw new UsageError(`--mode ${m}: not one of naive, shadow, slat`); });
      })
      .with('--kernel', () => {
        o.flavour = match(value())
          .with(P.union('686', '686-pae'), (k) => k)
          .otherwise((k) => { throw new UsageError(`--kernel ${k}: not one of 686, 686-pae`); });
      })
      .with('--chunk', () => {
        const v = value();
        const n = Number(v);
        if (!/^\d+$/.test(v) || n < 1 || n > 100_000) throw new UsageError(`--chunk ${v}: a whole number of millions of instructions, 1 to 100000`);
        o.chunk = n;
      })
      .otherwise(() => { throw new UsageError(`unknown option ${a}`); });
  }
  return o;
}

function main(): number {
  let o: Options | 'help';
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`bench:phases: ${e.message}\n\n${USAGE}`);
    return 2;
  }
  if (o === 'help') {
    console.log(USAGE);
    return 0;
  }
  const found = findGuestFiles();
  if (!found.ok) {
    console.error(`bench:phases: ${found.reason}`);
    return 1;
  }
  const files = found.files;
  const watcher = new ConsoleWatcher();
  let m: Machine | null = null;
  let bootedAt = -1;
  const notes: string[] = [];
  const serialOut = (byte: number): void => {
    const marker = watcher.pushByte(byte);
    if (marker === null || m === null) return;
    const at = m.cpu.totalInstructions + m.cpu.executed;
    if (marker === 'booted' && bootedAt < 0) bootedAt = at;
    notes.push(`${marker} marker at ${at}`);
  };
  m = new Machine({ mode: o.mode, ...(o.engine !== undefined ? { engine: o.engine } : {}), memory: MEMORY_MIB << 20, startDate: START_DATE, serialOut });
  const kernel = files.kernels[o.flavour];
  m.loadLinux(readFileSync(kernel), kernel, readFileSync(files.initramfs.batch), files.initramfs.batch, files.cmdline);
  console.log(`bench:phases: ${files.kernelReleases[o.flavour]}, batch initramfs, mode ${o.mode}, engine ${m.cpu.engine}, ${o.chunk} M instructions a line, ${new Date().toISOString()}`);
  console.log('   instructions   cpu s  wall s   decoded  dropped  emptied  compiled');
  const b = m.cpu.blocks;
  let last = { built: 0, dropped: 0, flushes: 0, compiled: 0 };
  let total = 0;
  let before = 0, after = 0;
  const cpuStart = process.cpuUsage();
  for (;;) {
    const c0 = process.cpuUsage(), t0 = performance.now();
    const r = m.run({ maxInstructions: o.chunk * 1e6 });
    const c = process.cpuUsage(c0), sec = (c.user + c.system) / 1e6;
    const wall = (performance.now() - t0) / 1000;
    const start = total;
    total += r.instructions;
    // a stretch that holds the first marker counts before it, in proportion
    if (bootedAt < 0 || bootedAt >= total) before += sec;
    else if (bootedAt <= start) after += sec;
    else {
      const share = (bootedAt - start) / (total - start);
      before += sec * share;
      after += sec * (1 - share);
    }
    const now = { built: b?.built ?? 0, dropped: b?.dropped ?? 0, flushes: b?.flushes ?? 0, compiled: b?.jitCompiled ?? 0 };
    const col = (k: keyof typeof now): string => (b === null ? '-' : String(now[k] - last[k])).padStart(k === 'compiled' ? 10 : 9);
    console.log(`${String(total).padStart(15)} ${sec.toFixed(2).padStart(7)} ${wall.toFixed(2).padStart(7)} ${col('built')}${col('dropped')}${col('flushes')}${col('compiled')}`);
    for (const n of notes.splice(0)) console.log(`  (${n})`);
    last = now;
    if (r.reason !== 'instruction-limit') {
      const all = process.cpuUsage(cpuStart);
      console.log(`stopped: ${r.reason}${r.detail ? ` (${r.detail.split('\n')[0]})` : ''} after ${total} instructions; ${((all.user + all.system) / 1e6).toFixed(1)} CPU s in all`);
      if (bootedAt >= 0) console.log(`CPU s to the first marker (${bootedAt} instructions): ${before.toFixed(1)}; after it: ${after.toFixed(1)}`);
      if (!watcher.done) console.log('the final marker did not appear');
      return watcher.done ? 0 : 1;
    }
  }
}

process.exitCode = main();
