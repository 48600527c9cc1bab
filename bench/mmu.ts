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

function readAll(mmu: Mmu, stream: Int32Array): number {
  let sum = 0;
  for (let i = 0; i < stream.length; i++) sum = (sum + mmu.read32(stream[i]! >>> 0, 0)) | 0;
  if (mmu.faultVector) throw new Error('benchmark stream faulted');
  return sum;
}

export interface MmuBenchRow {
  mode: ModeName;
  hitPerSecond: number;
  missPerSecond: number;
  measuredHitPerSecond: number;
}

export async function benchMmu(): Promise<MmuBenchRow[]> {
  const rows: MmuBenchRow[] = [];
  for (const mode of MODE_NAMES) {
    const fast = setup(mode, false);
    const measured = setup(mode, true);
    const bench = new Bench({ time: 1500, warmup: true, warmupTime: 300 });
    bench
      .add(`${mode} hit`, () => { readAll(fast.mmu, fast.hit); })
      .add(`${mode} miss`, () => { readAll(fast.mmu, fast.miss); })
      .add(`${mode} hit, cost model on`, () => { readAll(measured.mmu, measured.hit); });
    await bench.run();
    const perSecond = (name: string): number => {
      const t = bench.tasks.find((x) => x.name === name)!;
      const r = t.result as { latency?: { mean: number } } | undefined;
      const mean = r?.latency?.mean;
      if (mean === undefined) throw new Error(`benchmark ${name} produced no result`);
      return (LOOP / mean) * 1000;
    };
    rows.push({ mode, hitPerSecond: perSecond(`${mode} hit`), missPerSecond: perSecond(`${mode} miss`), measuredHitPerSecond: perSecond(`${mode} hit, cost model on`) });
  }
  return rows;
}
