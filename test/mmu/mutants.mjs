// Mutants of shadow mode, to test the generators (docs/architecture.md,
// "How good the generators are is itself tested, by mutants"). Each mutant
// breaks one rule of src/mmu/modes/shadow.ts by hand; this script copies the
// project to a temporary directory, applies one mutant at a time and runs
// the adversary test and the differential test on it. A mutant that both
// pass marks a blind spot of the generators (or an equivalent mutant: one
// that changes nothing the guest can see). The project's own tree is never
// touched.
//
//   node test/mmu/mutants.mjs            every mutant
//   node test/mmu/mutants.mjs NAME ...   the named ones
//
// VMMU_ADV_OPS and VMMU_DIFF_OPS set the tests' operations (defaults here:
// the adversary's own, and 200,000 for the differential test).
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const FILE = 'src/mmu/modes/shadow.ts';

/** name, what it breaks, the text it replaces, and the replacement */
const MUTANTS = [
  ['unsync-refill', 'a refill answered from an out-of-sync shadow entry without checking it against the guest entry',
    '      if (this.spUnsync[leaf >>> 9] && !this.leafCurrent(leaf >>> 9, leaf & 511)) {',
    '      if (false && this.spUnsync[leaf >>> 9] && !this.leafCurrent(leaf >>> 9, leaf & 511)) {'],
  ['write-clean-leaf', 'a write through a shadow leaf whose guest entry is clean',
    '    if (acc & ACC_WRITE) return (leafLo & SPTE_GUEST_DIRTY) !== 0 && (leafLo & PTE_RW) !== 0;',
    '    if (acc & ACC_WRITE) return (leafLo & PTE_RW) !== 0;'],
  ['flush-no-sync', 'a TLB flush that leaves out-of-sync tables unsynchronized',
    '    this.exit(byInvpcid ? C_EXIT_INVPCID : C_EXIT_CR);\n    this.syncAll();',
    '    this.exit(byInvpcid ? C_EXIT_INVPCID : C_EXIT_CR);'],
  ['no-dirtied', "the hypervisor's own dirty-bit write not dropping other leaves of that entry",
    '    if (acc & ACC_WRITE && mmu.counters[C_GUEST_AD] !== adBefore && w.entryHpa[w.level]! >= 0) this.dirtied(w.entryAddr[w.level]!);',
    ''],
  ['legacy-half-zap', "a 32-bit guest entry's write zapping one of its two shadow entries",
    '        this.zapEntry(sp, (gidx & 255) * 2 + 1);', ''],
  ['straddle-first-only', 'a write straddling two entries zapping only the first',
    '        this.mmu.counters[C_MISALIGNED]++;\n        this.zap(sp);\n        continue;',
    '        this.mmu.counters[C_MISALIGNED]++;'],
  ['global-never', 'guest global pages never global in the shadow leaf',
    '    t.global = mmu.state.gctx.pge && leafLo & SPTE_GUEST_GLOBAL ? 1 : 0;', '    t.global = 0;'],
  ['invlpg-no-resync', 'INVLPG not resynchronizing the out-of-sync entry',
    '    if (this.spUnsync[sp]) this.syncEntry(sp, shadowIndex(lo, hi, 1));', ''],
];

const TESTS = ['test/mmu/adversary.test.ts', 'test/mmu/differential.test.ts'];

function main() {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((n) => !MUTANTS.some((m) => m[0] === n));
  if (unknown.length > 0) {
    console.error(`mutants: no mutant named ${unknown.join(', ')}; they are: ${MUTANTS.map((m) => m[0]).join(', ')}`);
    return 2;
  }
  const original = readFileSync(join(root, FILE), 'utf8');
  for (const [name, , from] of MUTANTS) {
    if (!original.includes(from)) {
      console.error(`mutants: ${name}: its text is no longer in ${FILE}; update the mutant`);
      return 1;
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'vmmu-mutants-'));
  try {
    for (const f of ['src', 'test', 'package.json', 'tsconfig.json', 'vitest.config.ts']) cpSync(join(root, f), join(dir, f), { recursive: true });
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
    const env = { ...process.env, VMMU_DIFF_OPS: process.env.VMMU_DIFF_OPS ?? '200000' };
    let survivors = 0;
    for (const [name, what, from, to] of MUTANTS) {
      if (wanted.length > 0 && !wanted.includes(name)) continue;
      writeFileSync(join(dir, FILE), original.replace(from, to));
      const verdicts = TESTS.map((t) => {
        const r = spawnSync(process.execPath, [join(root, 'node_modules/vitest/vitest.mjs'), 'run', t], { cwd: dir, env, encoding: 'utf8' });
        return r.status === 0 ? 'survives' : 'killed';
      });
      if (verdicts.every((v) => v === 'survives')) survivors++;
      console.log(`${name.padEnd(20)} ${TESTS.map((t, i) => `${t.split('/').pop().replace('.test.ts', '')}: ${verdicts[i]}`).join(', ')}  (${what})`);
    }
    console.log(`${survivors} mutant(s) passed every test: a blind spot of the generators, or a change the guest cannot see`);
    return 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

process.exitCode = main();
