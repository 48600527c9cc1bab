/**
 * The project's own test kernels (test/guests), each booted under naive,
 * shadow and slat translation: the UART output must be exactly the expected
 * text, the exit status a pass, and every mode must print the same thing
 * and leave the same guest memory behind.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/machine/machine.js';
import { MODE_NAMES } from '../../src/mmu/modes/mode.js';
import { guestCpu } from './guest-cpu.js';

const guestsDir = fileURLToPath(new URL('../guests', import.meta.url));

/** Every guest that has a built image and an expected-output file. */
function guests(): { name: string; image: string; expected: string }[] {
  const out: { name: string; image: string; expected: string }[] = [];
  for (const name of readdirSync(guestsDir).sort()) {
    const image = join(guestsDir, name, `${name}.elf`);
    const expected = join(guestsDir, name, `${name}.expected`);
    if (existsSync(image) && existsSync(expected)) out.push({ name, image, expected });
  }
  return out;
}

interface Boot {
  output: string;
  status: number | null;
  reason: string;
  memoryHash: string;
  instructions: number;
}

function boot(name: string, image: string, mode: (typeof MODE_NAMES)[number]): Boot {
  let output = '';
  const m = new Machine({ mode, memory: 64 << 20, cpu: guestCpu(name), serialOut: (b) => { output += String.fromCharCode(b); } });
  m.loadMultiboot(readFileSync(image), image, '');
  const r = m.run({ maxInstructions: 2_000_000_000 });
  const hash = createHash('sha256').update(m.mmu.readPhysBytes(0, m.ramTop)).digest('hex');
  return { output, status: r.exitStatus, reason: r.reason + (r.detail ? `: ${r.detail}` : ''), memoryHash: hash, instructions: r.instructions };
}

const list = guests();

it('are there test kernels to boot?', () => {
  expect(list.map((g) => g.name)).toEqual(expect.arrayContaining(['paging32', 'pae_nx', 'exceptions', 'multitask', 'semantics', 'access', 'paging64', 'access64']));
});

describe.each(list)('$name', ({ name, image, expected }) => {
  const runs = new Map<string, Boot>();
  it.each(MODE_NAMES)('does it print exactly the expected output and pass under %s translation?', (mode) => {
    const b = boot(name, image, mode);
    runs.set(mode, b);
    expect(b.reason).toBe('exit');
    expect(b.output).toBe(readFileSync(expected, 'utf8'));
    expect(b.status).toBe(1);
  });

  it('do all three modes print the same and leave the same guest memory?', () => {
    const [naive, shadow, slat] = MODE_NAMES.map((m) => runs.get(m)!);
    expect(shadow.output).toBe(naive.output);
    expect(slat.output).toBe(naive.output);
    expect(shadow.memoryHash).toBe(naive.memoryHash);
    expect(slat.memoryHash).toBe(naive.memoryHash);
    expect(shadow.instructions).toBe(naive.instructions);
  });
});
