/**
 * `npm run bench`: prints throughput figures and ratios. Never pass/fail:
 * the targets are stated next to the figures, and docs/bench.md records them.
 */
import { benchMmu } from './mmu.js';

const M = (n: number): string => `${(n / 1e6).toFixed(1)}M`;

async function main(): Promise<void> {
  console.log(`vmmu benchmarks, ${new Date().toISOString().slice(0, 10)}, node ${process.version}\n`);
  console.log('MMU translations per second (32-bit reads through Mmu.read32, 4-level guest)');
  const rows = await benchMmu();
  const pad = (s: string, n: number): string => s.padStart(n);
  console.log(`${'mode'.padEnd(8)}${pad('TLB hit', 12)}${pad('TLB miss', 12)}${pad('hit+model', 12)}${pad('hit/miss', 10)}${pad('vs 100M', 10)}`);
  for (const r of rows) {
    console.log(`${r.mode.padEnd(8)}${pad(M(r.hitPerSecond), 12)}${pad(M(r.missPerSecond), 12)}${pad(M(r.measuredHitPerSecond), 12)}${pad((r.hitPerSecond / r.missPerSecond).toFixed(1) + 'x', 10)}${pad((r.hitPerSecond / 1e8).toFixed(2) + 'x', 10)}`);
  }
  console.log('\nTLB miss: every access misses the software TLB and refills it from the mode\'s structures (fills per second).');
  console.log('hit+model: the hit stream with every access also played through the modeled TLB (measure: true).');
  console.log('vs 100M: hit throughput against the 100 M translations/s aim.');
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
