/**
 * `npm run bench`: prints throughput figures and ratios. Never pass/fail:
 * the targets are stated next to the figures, and docs/bench.md records them.
 */
import { benchMmu } from './mmu.js';
import { benchCpu } from './cpu.js';
import { benchRecord, benchReplay } from './trace.js';
import { benchText, type TextBenchRow } from './text.js';

const M = (n: number): string => `${(n / 1e6).toFixed(1)}M`;

async function main(): Promise<void> {
  console.log(`vmmu benchmarks, ${new Date().toISOString().slice(0, 10)}, node ${process.version}\n`);
  const only = (name: string): boolean => !process.argv.some((a) => a.endsWith('-only')) || process.argv.includes(`--${name}-only`);
  if (only('mmu')) await mmuSection();
  if (only('cpu')) cpuSection();
  if (only('trace')) await traceSection();
  else if (only('text')) await textSection();
}

function cpuSection(): void {
  console.log('\nCPU: guest instructions per second on the benchmark kernels (bench/guests; best of 3 after a warm-up)');
  const pad = (s: string, n: number): string => s.padStart(n);
  console.log(`${'guest'.padEnd(12)}${'mode'.padEnd(8)}${'engine'.padEnd(8)}${pad('instructions', 14)}${pad('seconds', 9)}${pad('MIPS', 8)}`);
  for (const r of benchCpu()) {
    console.log(`${r.guest.padEnd(12)}${r.mode.padEnd(8)}${r.engine.padEnd(8)}${pad(String(r.instructions), 14)}${pad(r.seconds.toFixed(2), 9)}${pad(r.mips.toFixed(1), 8)}`);
  }
  console.log('compute: paging off, ALU work with a load and a store per iteration; pagefault: ~49,000 demand-paging faults and INVLPGs.');
}

async function mmuSection(): Promise<void> {
  console.log('MMU translations per second (32-bit reads through Mmu.read32, 4-level guest)');
  const rows = await benchMmu();
  const pad = (s: string, n: number): string => s.padStart(n);
  console.log(`${'mode'.padEnd(8)}${pad('TLB hit', 12)}${pad('best hit', 12)}${pad('TLB miss', 12)}${pad('hit+model', 12)}${pad('hit/miss', 10)}${pad('vs 100M', 10)}`);
  for (const r of rows) {
    console.log(`${r.mode.padEnd(8)}${pad(M(r.hitPerSecond), 12)}${pad(M(r.bestHitPerSecond), 12)}${pad(M(r.missPerSecond), 12)}${pad(M(r.measuredHitPerSecond), 12)}${pad((r.hitPerSecond / r.missPerSecond).toFixed(1) + 'x', 10)}${pad((r.hitPerSecond / 1e8).toFixed(2) + 'x', 10)}`);
  }
  console.log('\nTLB hit: the mean over 1.5 s; best hit: the fastest sample (1M reads). The machine\'s speed drifts within seconds (docs/bench.md), so compare best hits, side by side.');
  console.log('TLB miss: every access misses the software TLB and refills it from the mode\'s structures (fills per second).');
  console.log('hit+model: the hit stream with every access also played through the modeled TLB (measure: true).');
  console.log('vs 100M: hit throughput against the 100 M translations/s aim.');
}

async function traceSection(): Promise<void> {
  const pad = (s: string, n: number): string => s.padStart(n);
  console.log('\nTrace replay, records per second (cost model on, Skylake TLB; mean of 3 runs after a warm-up)');
  console.log(`${'trace'.padEnd(30)}${'mode'.padEnd(8)}${pad('records', 10)}${pad('end-to-end', 12)}${pad('loop', 10)}${pad('vs 20M', 8)}`);
  for (const r of await benchReplay()) {
    console.log(`${r.trace.padEnd(30)}${r.mode.padEnd(8)}${pad(M(r.records), 10)}${pad(M(r.perSecond), 12)}${pad(M(r.loopPerSecond), 10)}${pad((r.perSecond / 2e7).toFixed(2) + 'x', 8)}`);
  }
  console.log('end-to-end: whole replays, each in a fresh worker thread as vmmu replay runs them (start-up, Mmu creation, reading, decompression); loop: the replay loop alone (best run).');
  console.log('vs 20M: end-to-end against the 20 M records/s target for shadow and slat on a TLB-friendly trace.');

  await textSection();

  console.log('\nRecording at the MMU boundary, guest accesses per second (shadow mode, cost model off)');
  console.log(`${'workload'.padEnd(44)}${pad('plain', 10)}${pad('recorded', 10)}${pad('slowdown', 10)}`);
  for (const r of await benchRecord()) {
    console.log(`${r.workload.padEnd(44)}${pad(M(r.plainPerSecond), 10)}${pad(M(r.recordedPerSecond), 10)}${pad((r.plainPerSecond / r.recordedPerSecond).toFixed(1) + 'x', 10)}`);
  }
}

async function textSection(): Promise<void> {
  await textTable(await benchText());
  // The same on four times the trace, 37.5 M accesses (the issue's own examples are 17.8 M and 47.6 M): the
  // process's start-up (0.2 to 0.3 s) weighs a quarter as much.
  await textTable(await benchText(48, false));
}

async function textTable(t: Awaited<ReturnType<typeof benchText>>): Promise<void> {
  const pad = (s: string, n: number): string => s.padStart(n);
  console.log(`\nText traces: vmmu replay (parsed once in a parse thread) next to the C reference; ${t.copies} copies of traces/ls.lackey.gz, whole processes, mean of 3 runs after a warm-up`);
  if (t.compiler === null) console.log('no C compiler found (cc, gcc, clang): the C reference is skipped');
  else console.log(`C reference: bench/tlbsim.c built with ${t.compiler} -O2`);
  if (t.check !== null) {
    const names = Object.keys(t.check.shadow);
    console.log(`hits and misses on ${t.check.trace}:`);
    console.log(`${''.padEnd(14)}${names.map((k) => pad(k, 14)).join('')}`);
    if (t.check.c !== null) console.log(`${'C reference'.padEnd(14)}${names.map((k) => pad(String(t.check!.c![k]), 14)).join('')}`);
    console.log(`${'vmmu shadow'.padEnd(14)}${names.map((k) => pad(String(t.check!.shadow[k]), 14)).join('')}`);
    console.log(`${'vmmu slat'.padEnd(14)}${names.map((k) => pad(String(t.check!.slat[k]), 14)).join('')}`);
    if (t.check.c !== null) {
      const same = names.every((k) => t.check!.c![k] === t.check!.shadow[k] && t.check!.c![k] === t.check!.slat[k]);
      console.log(same ? 'the same counts in all three' : 'THE COUNTS DIFFER');
    }
  }
  const cRow = t.rows.find((r) => r.what.startsWith('C reference'));
  // each row against vmmu replay --mode shadow of the same file (text or gzipped)
  const oneOf = (what: string): TextBenchRow | undefined => t.rows.find((r) => r.what === `vmmu replay --mode shadow, ${what.endsWith('gzipped') ? 'gzipped' : 'text'}`);
  console.log(`${'run'.padEnd(50)}${pad('records', 10)}${pad('seconds', 9)}${pad('records/s', 11)}${pad('vs C', 7)}${pad('vs 1 mode', 11)}`);
  for (const r of t.rows) {
    const vsC = cRow ? (r.perSecond / cRow.perSecond).toFixed(2) : '-';
    console.log(`${r.what.padEnd(50)}${pad(M(r.records), 10)}${pad(r.seconds.toFixed(2), 9)}${pad(M(r.perSecond), 11)}${pad(vsC, 7)}${pad((r.seconds / oneOf(r.what)!.seconds).toFixed(2) + 'x', 11)}`);
  }
  console.log('records/s: the trace\'s accesses over the whole run, process start to exit (--mode all: per mode, the run replays each access three times).');
  console.log('vs C: records/s against the C reference; vs 1 mode: time against vmmu replay --mode shadow of the same file. Targets: at least 0.5 vs C in one mode; --mode all under 1.5x.');
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
