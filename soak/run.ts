/**
 * npm run soak: long randomized runs that are too slow for npm test.
 *
 *   node dist/soak/run.js [--only NAME] [--seconds N] [--seed N]
 *
 * Without --only it runs every part but those that run only when named
 * (boot-matrix: half an hour of Linux boots).
 *
 * Each soak part runs its own checks, prints what it ran and how long it
 * took, and throws on the first failure it finds (exit code 1).
 */
import { soaks } from './parts.js';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  let only: string | null = null;
  let seconds: number | null = null;
  let seed = 1;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const v = args[i + 1];
    if (a === '--only' && v !== undefined) { only = v; i++; }
    else if (a === '--seconds' && v !== undefined && Number.isFinite(Number(v)) && Number(v) > 0) { seconds = Number(v); i++; }
    else if (a === '--seed' && v !== undefined && Number.isInteger(Number(v))) { seed = Number(v); i++; }
    else {
      process.stderr.write(`soak: unknown or incomplete option '${a}'\nusage: node dist/soak/run.js [--only ${soaks.map((s) => s.name).join('|')}] [--seconds N] [--seed N]\n`);
      process.exit(2);
    }
  }
  const chosen = soaks.filter((s) => (only === null ? !s.onlyWhenNamed : s.name === only));
  if (chosen.length === 0) {
    process.stderr.write(`soak: no part named '${only}' (parts: ${soaks.map((s) => s.name).join(', ')})\n`);
    process.exit(2);
  }
  let failed = 0;
  for (const s of chosen) {
    const t0 = Date.now();
    process.stdout.write(`== soak ${s.name}: ${s.what}\n`);
    try {
      const summary = await s.run({ seconds, seed, log: (line) => process.stdout.write(`   ${line}\n`) });
      process.stdout.write(`   ok in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${summary}\n`);
    } catch (e) {
      failed++;
      process.stdout.write(`   FAILED after ${((Date.now() - t0) / 1000).toFixed(1)} s: ${(e as Error).message}\n`);
    }
  }
  process.stdout.write(`${chosen.length - failed} passed, ${failed} failed\n`);
  process.exit(failed === 0 ? 0 : 1);
}

void main();
