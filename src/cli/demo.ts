/**
 * The built-in demonstration: one generated workload on a synthetic guest
 * OS, translated by each mode in turn with the cost model on, and the costs
 * side by side. Deterministic: the same options give the same counters.
 */
import { Mmu } from '../mmu/index.js';
import { ACC_FETCH, ACC_WRITE } from '../mmu/index.js';
import type { ModeName } from '../mmu/index.js';
import { SyntheticOs } from '../workload/synthetic-os.js';
import type { Column } from './table.js';

import type { DemoOptions } from './demo-defaults.js';

export { DEMO_DEFAULTS, type DemoOptions } from './demo-defaults.js';

/**
 * The workload, per process: 60% of data accesses go to a hot set of 48
 * pages, 25% stream sequentially through the working set, 15% hit it at
 * random; 30% of data accesses are writes; one access in four is an
 * instruction fetch walking a 24-page code region. Every 100 quanta a
 * process unmaps 64 pages of its working set (they fault back in later).
 */
export function runDemo(mode: ModeName, o: DemoOptions): Column {
  const mmu = new Mmu({ mode, guestMemory: o.memory, measure: true, seed: o.seed, ...(o.costProfile ? { costProfile: o.costProfile } : {}), ...(o.tlb ? { tlb: o.tlb } : {}) });
  const os = new SyntheticOs(mmu, { format: o.format });
  const start = performance.now();
  demoWorkload(os, o);
  const seconds = (performance.now() - start) / 1000;
  return { label: mode, report: mmu.report(), seconds };
}

/** Runs the demonstration's workload (described above runDemo) on a freshly booted synthetic OS. */
export function demoWorkload(os: SyntheticOs, o: DemoOptions): void {
  demoSteps(os, o)(Infinity);
}

/**
 * The same workload in steps: the returned function runs up to `n` more
 * accesses and says whether the workload is done, so that a caller can
 * let events (signals) through between steps. The accesses are the same
 * however they are split.
 */
export function demoSteps(os: SyntheticOs, o: DemoOptions): (n: number) => boolean {
  for (let p = 0; p < o.processes; p++) os.createProcess();
  let s = o.seed * 2654435761 >>> 0 || 1;
  const rand = (): number => {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
  const dataBase = 0x10000000;
  const codeBase = 0x00400000;
  const stream = new Array<number>(o.processes).fill(0);
  const pc = new Array<number>(o.processes).fill(0);
  let pid = 0;
  os.switchTo(0);
  let i = 0;
  return (n: number): boolean => {
    const end = Math.min(o.accesses, i + n);
    for (; i < end; i++) {
      if (i > 0 && i % o.quantum === 0) {
        pid = (pid + 1) % o.processes;
        os.switchTo(pid);
        if ((i / o.quantum) % 100 === 0) os.unmap(dataBase + Math.floor(rand() * (o.workingSet - 64)) * 4096, 0, 64);
      }
      let gva: number;
      let acc = 0;
      if ((i & 3) === 3) {
        pc[pid] = (pc[pid]! + 16) % (24 * 4096);
        gva = codeBase + pc[pid]!;
        acc = ACC_FETCH;
      } else {
        const r = rand();
        let page: number;
        if (r < 0.6) page = Math.floor(rand() * 48);
        else if (r < 0.85) page = stream[pid] = (stream[pid]! + 1) % o.workingSet;
        else page = Math.floor(rand() * o.workingSet);
        gva = dataBase + page * 4096 + (Math.floor(rand() * 1024) << 2);
        if (rand() < 0.3) acc = ACC_WRITE;
      }
      os.access(gva, 0, acc);
    }
    return i >= o.accesses;
  };
}
