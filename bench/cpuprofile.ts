/**
 * Summarizes a V8 CPU profile (a .cpuprofile file written by
 * `node --cpu-prof`): self time per function, largest first. Used for the
 * boot profile in docs/bench.md:
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof dist/src/cli/main.js boot --batch --max-instructions 1500000000
 *   node dist/bench/cpuprofile.js /tmp/prof/*.cpuprofile [ROWS]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function main(): number {
  const [path, rowsArg] = process.argv.slice(2);
  if (!path) {
    console.error('usage: node dist/bench/cpuprofile.js FILE.cpuprofile [ROWS]');
    return 2;
  }
  let p: Profile;
  try {
    p = JSON.parse(readFileSync(path, 'utf8')) as Profile;
  } catch (e) {
    console.error(`${path}: not a readable CPU profile (${(e as Error).message})`);
    return 1;
  }
  if (!Array.isArray(p.nodes) || !Array.isArray(p.samples) || !Array.isArray(p.timeDeltas)) {
    console.error(`${path}: not a V8 CPU profile (no nodes, samples and timeDeltas)`);
    return 1;
  }
  const perNode = new Map<number, number>();
  p.samples.forEach((id, i) => perNode.set(id, (perNode.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const perFunction = new Map<string, number>();
  let total = 0;
  for (const n of p.nodes) {
    const t = perNode.get(n.id) ?? 0;
    total += t;
    const f = n.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;
    perFunction.set(key, (perFunction.get(key) ?? 0) + t);
  }
  const rows = [...perFunction].sort((a, b) => b[1] - a[1]).slice(0, Number(rowsArg ?? 30));
  console.log(`${(total / 1e6).toFixed(1)} s sampled; self time per function (JavaScript line numbers of dist/)`);
  for (const [name, t] of rows) console.log(`${((100 * t) / total).toFixed(1).padStart(5)}%  ${(t / 1e6).toFixed(2).padStart(7)} s  ${name}`);
  return 0;
}

process.exitCode = main();
