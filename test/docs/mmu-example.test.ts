/**
 * The example in docs/mmu.md runs as written, through the package entry, and
 * prints the same guest-visible results in every mode.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

it('runs the example of docs/mmu.md and shows one guest view in all modes', () => {
  const doc = readFileSync(`${root}/docs/mmu.md`, 'utf8');
  const block = /```js\n([\s\S]*?)```/.exec(doc);
  expect(block).not.toBeNull();
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', block![1]!], { cwd: root, encoding: 'utf8' });
  expect(out).toContain('naive');
  expect(out).toContain('shadow');
  expect(out).toContain('slat');
  // value 12345678, PTE with A and D set, and a not-present user read fault at 0x800000 in every mode
  const values = [...out.matchAll(/value: '([0-9a-f]+)'/g)].map((m) => m[1]);
  const ptes = [...out.matchAll(/pte: '([0-9a-f]+)'/g)].map((m) => m[1]);
  const faults = [...out.matchAll(/fault: \{ vector: (\d+), errorCode: (\d+), cr2: (\d+) \}/g)].map((m) => m.slice(1).join(','));
  expect(values).toEqual(['12345678', '12345678', '12345678']);
  expect(ptes).toEqual(['5067', '5067', '5067']);
  expect(faults).toEqual(['14,4,8388608', '14,4,8388608', '14,4,8388608']);
});
