/**
 * The vmmu command as a user runs it: the built-in demonstration, JSON
 * output, and clear errors for bad input.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const vmmu = (...args: string[]) => spawnSync(process.execPath, [join(root, 'dist/src/cli/main.js'), ...args], { encoding: 'utf8' });
const tmp = mkdtempSync(join(tmpdir(), 'vmmu-cli-'));

it('does the demo print the three modes side by side?', () => {
  const r = vmmu('demo', '--accesses', '30000');
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(/naive\s+shadow\s+slat/);
  expect(r.stdout).toMatch(/cycles per access/);
  expect(r.stderr).toBe('');
});

it('does --json give one report per mode with the same guest-visible counts?', () => {
  const r = vmmu('demo', '--accesses', '30000', '--format', 'pae', '--json');
  expect(r.status).toBe(0);
  const j = JSON.parse(r.stdout) as { runs: { mode: string; format: string; counters: Record<string, number> }[] };
  expect(j.runs.map((x) => x.mode)).toEqual(['naive', 'shadow', 'slat']);
  expect(new Set(j.runs.map((x) => x.counters['guest.pf'])).size).toBe(1);
  expect(new Set(j.runs.map((x) => x.counters['access.read'])).size).toBe(1);
  expect(j.runs.every((x) => x.format === 'pae')).toBe(true);
  expect(j.runs[1]!.counters['exit.total']).toBeGreaterThan(0);
  expect(j.runs[0]!.counters['exit.total']).toBe(0);
});

it('does a cost profile change the modeled cycles and nothing else?', () => {
  const p = join(tmp, 'slow-exits.json');
  writeFileSync(p, JSON.stringify({ name: 'slow exits', vmExit: 100000 }));
  const base = JSON.parse(vmmu('demo', '--accesses', '20000', '--mode', 'shadow', '--json').stdout) as { runs: { cycles: { total: number }; counters: Record<string, number> }[] };
  const slow = JSON.parse(vmmu('demo', '--accesses', '20000', '--mode', 'shadow', '--json', '--cost-profile', p).stdout) as typeof base;
  expect(slow.runs[0]!.counters).toEqual(base.runs[0]!.counters);
  expect(slow.runs[0]!.cycles.total).toBeGreaterThan(base.runs[0]!.cycles.total);
});

it('does malformed JSON name the file, line and column?', () => {
  const p = join(tmp, 'broken.json');
  writeFileSync(p, '{\n  "vmExit": 700,\n  "walkRef": oops\n}\n');
  const r = vmmu('demo', '--cost-profile', p);
  expect(r.status).toBe(1);
  expect(r.stderr).toMatch(new RegExp(`${p.replace(/[/.]/g, '\\$&')}:3:\\d+: invalid JSON`));
  expect(r.stderr).not.toMatch(/at .*\.js:\d+/); // no stack trace
});

it('does an unknown profile field or a bad TLB geometry say which field?', () => {
  const p = join(tmp, 'unknown.json');
  writeFileSync(p, JSON.stringify({ vmexit: 5 }));
  expect(vmmu('demo', '--cost-profile', p).stderr).toMatch(/unknown cost-profile field 'vmexit'/);
  const t = join(tmp, 'tlb.json');
  writeFileSync(t, JSON.stringify({ l1d: { k4: { entries: 64, ways: 3 }, m2: { entries: 32, ways: 4 } }, l1i: { k4: { entries: 128, ways: 8 }, m2: { entries: 8, ways: 8 } }, l2: { k4m2: { entries: 1536, ways: 12 } }, pwc: { pml5e: { entries: 2, ways: 2 }, pml4e: { entries: 4, ways: 4 }, pdpte: { entries: 8, ways: 4 }, pde: { entries: 32, ways: 8 } }, nestedTlb: { entries: 16, ways: 16 } }));
  const r = vmmu('demo', '--tlb', t);
  expect(r.status).toBe(1);
  expect(r.stderr).toMatch(/'l1d\.k4': 64 entries cannot be split into 3-way sets/);
});

it('does a usage mistake exit 2 with one line naming the option and pointing to --help?', () => {
  const r = vmmu('demo', '--accesses', 'many');
  expect(r.status).toBe(2);
  expect(r.stderr).toBe("vmmu demo: --accesses must be a whole number, 1 or more, not 'many'; see 'vmmu demo --help'\n");
  expect(vmmu('frobnicate').stderr).toMatch(/unknown command 'frobnicate'/);
});

it('does COMMAND --help print that command\'s options on stdout and exit 0?', () => {
  const replay = vmmu('replay', '--help');
  expect(replay.status).toBe(0);
  expect(replay.stdout).toMatch(/replay options:/);
  expect(replay.stderr).toBe('');
  const boot = vmmu('boot', '-h');
  expect(boot.status).toBe(0);
  expect(boot.stdout).toMatch(/boot options:/);
  expect(vmmu('help').stdout).toMatch(/replay and compare options:/);
});
