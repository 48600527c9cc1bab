/**
 * MMU throughput: translations per second in each mode on a stream that
 * hits the software TLB and on one that misses it on every access (each
 * access then refills from the mode's structures: a guest walk through the
 * host table, a shadow-table walk, or a two-dimensional walk), plus the hit
 * path with the cost model on.
 */
import { Bench } from 'tinybench';
import { Mmu } from '../src/mmu/mmu.js';
import { MODE_NAMES, type ModeName } from '../src/mmu/modes/mode.js';
import { SyntheticOs } from '../src/workload/synthetic-os.js';

const HIT_PAGES = 64;
const MISS_PAGES = 16;
const LOOP = 1 << 20;

function setup(mode: ModeName, measure: boolean): { mmu: Mmu; hit: Int32Array; miss: Int32Array } {
  const mmu = new Mmu({ mode, guestMemory: 64 << 20, measure });
  const os = new SyntheticOs(mmu, { format: '4-level' });
  os.createProcess();
  os.switchTo(0);
  // Hit stream: 64 pages, consecutive, all resident in the software TLB.
  const hit = new Int32Array(LOOP);
  for (let i = 0; i < LOOP; i++) hit[i] = 0x10000000 + ((i * 7) % HIT_PAGES) * 4096 + ((i * 52) & 0xffc);
  // Miss stream: 16 pages that all index the same software-TLB slot.
  const stride = 2 ** mmu.softTlbBits * 4096;
  const miss = new Int32Array(LOOP);
  for (let i = 0; i < LOOP; i++) miss[i] = 0x20000000 + (i % MISS_PAGES) * stride + ((i * 52) & 0xffc);
  for (const a of [...hit.subarray(0, HIT_PAGES * 8), ...miss.subarray(0, MISS_PAGES * 2)]) os.access(a >>> 0, 0, 0);
  mmu.setPrivilege(3, false);
  return { mmu, hit, miss };
}

/**
 * A fresh copy of the read loop for each benchmark case, compiled from its
 * own source text (the case's name in a comment: V8 caches compilations by
 * source text), so each case has its own type feedback and optimized code.
 */
function readLoop(name: string): (mmu: Mmu, stream: Int32Array) => number {
  return new Function('mmu', 'stream', `// ${name}
    let sum = 0;
    for (let i = 0; i < stream.length; i++) sum = (sum + mmu.read32(stream[i] >>> 0, 0)) | 0;
    if (mmu.faultVector) throw new Error('benchmark stream faulted');
    return sum;
  `) as (mmu: Mmu, stream: Int32Array) => number;
}

export interface MmuBenchRow {
  mode: ModeName;
  hitPerSecond: number;
  /** The fastest sample of the hit loop (1M reads): the machine's speed drifts within seconds, so the mean alone hides the path's own speed. */
  bestHitPerSecond: number;
  missPerSecond: number;
  measuredHitPerSecond: number;
}

/**
 * All hit cases run first, then the cost-model cases, then the misses.
 * `Mmu.read32` is one function whatever the Mmu, and V8 inlines a call only
 * where its feedback says the call is frequent: once a stream that misses on
 * every access has run, `readSlow` is inlined into every later loop and a
 * hit drops from about 190 to about 105 M/s on this machine (2026-12-06, the
 * same in the builds before and after the shadow-exactness work). A real
 * caller misses rarely, so the hit cases run while the miss path is cold.
 */
export async function benchMmu(): Promise<MmuBenchRow[]> {
  const setups = MODE_NAMES.map((mode) => ({ mode, fast: setup(mode, false), measured: setup(mode, true) }));
  const bench = new Bench({ time: 1500, warmup: true, warmupTime: 300 });
  for (const { mode, fast } of setups) {
    const loop = readLoop(`${mode} hit`);
    bench.add(`${mode} hit`, () => { loop(fast.mmu, fast.hit); });
  }
  for (const { mode, measured } of setups) {
    const loop = readLoop(`${mode} measured`);
    bench.add(`${mode} hit, cost model on`, () => { loop(measured.mmu, measured.hit); });
  }
  for (const { mode, fast } of setups) {
    const loop = readLoop(`${mode} miss`);
    bench.add(`${mode} miss`, () => { loop(fast.mmu, fast.miss); });
  }
  await bench.run();
  const perSecond = (name: string, which: 'mean' | 'min' = 'mean'): number => {
    const t = bench.tasks.find((x) => x.name === name)!;
    const r = t.result as { latency?: { mean: number; min: number } } | undefined;
    const ms = r?.latency?.[which];
    if (ms === undefined || !(ms > 0)) throw new Error(`benchmark ${name} produced no result`);
    return (LOOP / ms) * 1000;
  };
  return MODE_NAMES.map((mode) => ({
    mode,
    hitPerSecond: perSecond(`${mode} hit`),
    bestHitPerSecond: perSecond(`${mode} hit`, 'min'),
    missPerSecond: perSecond(`${mode} miss`),
    measuredHitPerSecond: perSecond(`${mode} hit, cost model on`),
  }));
}
