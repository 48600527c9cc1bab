/**
 * The example in docs/trace-format.md runs as written, through the
 * `vmmu/trace` and `vmmu/mmu` package entries in a separate Node process:
 * it records a guest, reads the trace back and replays it in every mode.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

it('runs the example of docs/trace-format.md: what was written is read back, and every mode replays it exactly', () => {
  const doc = readFileSync(`${root}/docs/trace-format.md`, 'utf8');
  const blocks = [...doc.matchAll(/```js\n([\s\S]*?)```/g)];
  expect(blocks).toHaveLength(1);
  const code = blocks[0]![1]!;
  expect(code).toMatch(/from 'vmmu\/trace'/);
  expect(code).not.toMatch(/from '\.\.?\//); // the package entries only, as another emulator imports them
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', code], { cwd: root, encoding: 'utf8' });
  const num = (re: RegExp): number[] => { const m = re.exec(out); expect(m, `${re} in\n${out}`).not.toBeNull(); return m!.slice(1).map(Number); };
  // 300 rounds of a fetch, a write and a read; the faulting read; the kernel's store; the read after INVLPG
  const [wRecords, wAccesses] = num(/written \{ records: (\d+), accesses: (\d+)/);
  expect(wAccesses).toBe(903);
  const [rRecords, rAccesses, ptWrites] = num(/read \{ records: (\d+), accesses: (\d+), ptWrites: (\d+)/);
  expect([rRecords, rAccesses]).toEqual([wRecords, wAccesses]);
  expect(ptWrites).toBe(1);
  const exits: Record<string, number> = {};
  for (const mode of ['naive', 'shadow', 'slat']) {
    const [accesses, faults, checks, e] = num(new RegExp(`${mode} \\{\\s*accesses: (\\d+),\\s*faults: (\\d+),\\s*checks: (\\d+),\\s*exits: (\\d+)`));
    expect({ mode, accesses, faults, checks }).toEqual({ mode, accesses: 903, faults: 1, checks: Math.ceil(903 / 64) });
    exits[mode] = e!;
  }
  // the same guest view, each mode's own costs: naive has no VM exits, shadow and slat do
  expect(exits.naive).toBe(0);
  expect(exits.shadow).toBeGreaterThan(0);
  expect(exits.slat).toBeGreaterThan(0);
});
