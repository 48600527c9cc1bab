/**
 * REP STOS and REP MOVS take runs of elements through the MMU's fast path
 * (Mmu.fillRun, copyRun) where they can. With measuring on every element
 * goes one by one through the read and write accessors, so each program here runs both ways, in
 * every mode, and must end the same: registers, EIP, the exception it
 * stopped on, CR2 and every byte of RAM. The programs are made to break a
 * run: overlapping source and destination in both orders, misaligned
 * elements and elements across a page end, a page that is not present, a
 * read-only page (CR0.WP = 1), and a page of the region that is the page
 * table mapping the region (so that a run writes the translations it runs
 * on, which shadow paging traps and the other modes do not).
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Machine } from '../../src/machine/machine.js';
import type { ModeName } from '../../src/mmu/modes/mode.js';
import { CR0_ET, CR0_PE, CR0_PG, CR0_WP, F_1, F_DF } from '../../src/cpu/constants.js';
import { CODE, flatMachine, haltedInStub, runToHalt } from './flat-machine.js';
import { Rng } from '../mmu/rng.js';

const MODES: ModeName[] = ['naive', 'shadow', 'slat'];
const PD = 0x400000, PT_LOW = 0x401000, PT_REGION = 0x402000;
/** the string region: 16 pages at 6 MiB, mapped by PT_REGION */
const REGION = 0x600000, PAGES = 16;
/** region pages: one not present, one read-only, one mapping PT_REGION itself, one mapping another region page (an alias) */
const ABSENT = 9, READ_ONLY = 11, SELF = 5, ALIAS = 13, ALIAS_OF = 2;

interface Case { kind: 'movs' | 'stos'; size: 1 | 2 | 4; src: number; dst: number; count: number; eax: number; df: boolean; seed: number }

function setUp(m: Machine, c: Case): void {
  const mmu = m.mmu;
  // RAM below 8 MiB identity-mapped by 4 KiB pages, but for the region
  for (let i = 0; i < 1024; i++) mmu.writePhys(PT_LOW + 4 * i, 4, (i << 12) | 3);
  mmu.writePhys(PD, 4, PT_LOW | 3);
  mmu.writePhys(PD + 4, 4, PT_REGION | 3);
  for (let i = 0; i < 1024; i++) mmu.writePhys(PT_REGION + 4 * i, 4, ((0x400000 + (i << 12)) | 3) >>> 0);
  const r = (REGION - 0x400000) >>> 12;
  mmu.writePhys(PT_REGION + 4 * (r + ABSENT), 4, 0);
  mmu.writePhys(PT_REGION + 4 * (r + READ_ONLY), 4, (REGION + READ_ONLY * 4096) | 1);
  mmu.writePhys(PT_REGION + 4 * (r + SELF), 4, PT_REGION | 3);
  mmu.writePhys(PT_REGION + 4 * (r + ALIAS), 4, (REGION + ALIAS_OF * 4096) | 3);
  // the region's bytes
  const rng = new Rng(c.seed);
  const bytes = new Uint8Array(PAGES * 4096);
  for (let i = 0; i < bytes.length; i++) bytes[i] = rng.below(256);
  mmu.writePhysBytes(REGION, bytes);
  // rep movs/stos; hlt
  const op = c.kind === 'movs' ? 0xa4 : 0xaa;
  const code = [0xf3, ...(c.size === 2 ? [0x66] : []), c.size === 1 ? op : op + 1, 0xf4];
  mmu.writePhysBytes(CODE, new Uint8Array(code));
  const cpu = m.cpu;
  cpu.cr0 = CR0_PE | CR0_ET | CR0_PG | CR0_WP;
  mmu.setPaging({ cr0: cpu.cr0, cr3Lo: PD, cr4: 0, efer: 0 });
  cpu.updateMode();
  cpu.setFlags(F_1 | (c.df ? F_DF : 0), -1);
  cpu.reg32[0] = c.eax;
  cpu.reg32[1] = c.count;
  cpu.reg32[6] = c.src;
  cpu.reg32[7] = c.dst;
}

function outcome(mode: ModeName, c: Case, measure: boolean): Record<string, unknown> {
  const m = flatMachine({ mode, measure, memory: 16 << 20 });
  setUp(m, c);
  const r = runToHalt(m);
  return {
    instructions: r.instructions,
    stoppedOn: haltedInStub(m),
    eip: m.cpu.eip,
    regs: Array.from(m.cpu.reg32),
    cr2: m.cpu.cr2,
    ram: createHash('sha256').update(m.mmu.readPhysBytes(0, 8 << 20)).digest('hex'),
  };
}

/** A random case: addresses in and around the region, near page ends and the special pages more often than not. */
function randomCase(rng: Rng, seed: number): Case {
  const size = ([1, 2, 4] as const)[rng.below(3)]!;
  const near = (): number => {
    const page = rng.below(4) === 0 ? rng.below(PAGES) : [ABSENT, READ_ONLY, SELF, ALIAS, ALIAS_OF, ABSENT - 1, READ_ONLY - 1, SELF - 1][rng.below(8)]!;
    const off = rng.below(3) === 0 ? rng.below(4096) : 4096 - 1 - rng.below(4 * size);
    return REGION + page * 4096 + off;
  };
  const src = near();
  const dst = rng.below(3) === 0 ? src + (rng.below(2) ? 1 : -1) * (1 + rng.below(3 * size)) : near();
  const count = rng.below(4) === 0 ? rng.below(8) : rng.below(3 * 4096 / size);
  return { kind: rng.below(2) ? 'movs' : 'stos', size, src, dst, count, eax: rng.below(0x10000) * 0x10000 + rng.below(0x10000), df: rng.below(8) === 0, seed };
}

describe('REP STOS and REP MOVS in runs', () => {
  it('ends as element by element, in every mode, on hand-picked cases', () => {
    const cases: Case[] = [
      // a whole run on one page, then across into the next
      { kind: 'stos', size: 4, src: 0, dst: REGION, count: 2048, eax: 0x12345678, df: false, seed: 1 },
      // into the not-present page: a #PF part-way, ECX and EDI where it stopped
      { kind: 'stos', size: 4, src: 0, dst: REGION + (ABSENT - 1) * 4096 + 8, count: 2000, eax: 7, df: false, seed: 2 },
      // into the read-only page
      { kind: 'movs', size: 4, src: REGION, dst: REGION + (READ_ONLY - 1) * 4096 + 2, count: 1500, eax: 0, df: false, seed: 3 },
      // over the page table that maps the region (the entries of the pages after it change under the copy)
      { kind: 'stos', size: 4, src: 0, dst: REGION + SELF * 4096, count: 1024 + 64, eax: (REGION + 3 * 4096) | 3, df: false, seed: 4 },
      // overlapping, destination just above the source: a pattern repeats
      { kind: 'movs', size: 1, src: REGION + 100, dst: REGION + 101, count: 5000, eax: 0, df: false, seed: 5 },
      { kind: 'movs', size: 4, src: REGION + 100, dst: REGION + 104, count: 3000, eax: 0, df: false, seed: 6 },
      { kind: 'movs', size: 4, src: REGION + 100, dst: REGION + 102, count: 3000, eax: 0, df: false, seed: 7 },
      { kind: 'movs', size: 2, src: REGION + 4093, dst: REGION + 4094, count: 3000, eax: 0, df: false, seed: 8 },
      // destination below the source, overlapping
      { kind: 'movs', size: 4, src: REGION + 103, dst: REGION + 100, count: 3000, eax: 0, df: false, seed: 9 },
      // through an alias: the destination's frame is the source's
      { kind: 'movs', size: 4, src: REGION + ALIAS_OF * 4096, dst: REGION + ALIAS * 4096 + 4, count: 1000, eax: 0, df: false, seed: 10 },
      // downward (DF = 1) stays element by element
      { kind: 'stos', size: 2, src: 0, dst: REGION + 3 * 4096 + 10, count: 3000, eax: 0xbeef, df: true, seed: 11 },
    ];
    for (const c of cases) {
      const ref = outcome('naive', c, true);
      for (const mode of MODES) {
        for (const measure of [false, true]) expect(outcome(mode, c, measure), `${mode} measure=${measure} ${JSON.stringify(c)}`).toEqual(ref);
      }
    }
    // the cases reach what they are for: a #PF part-way (vector 14) and a run that ends normally
    expect(outcome('shadow', cases[1]!, false).stoppedOn).toBe(14);
    expect(outcome('shadow', cases[2]!, false).stoppedOn).toBe(14);
    expect(outcome('shadow', cases[0]!, false).stoppedOn).toBe(-1);
  });

  it('ends as element by element, in every mode, on random cases', () => {
    const rng = new Rng(20261207);
    let faulted = 0, finished = 0;
    for (let n = 0; n < 60; n++) {
      const c = randomCase(rng, 100 + n);
      const ref = outcome('naive', c, true);
      if (ref.stoppedOn === -1) finished++; else faulted++;
      for (const mode of MODES) {
        for (const measure of [false, true]) {
          if (mode === 'naive' && measure) continue;
          expect(outcome(mode, c, measure), `${mode} measure=${measure} ${JSON.stringify(c)}`).toEqual(ref);
        }
      }
    }
    expect(faulted).toBeGreaterThan(5);
    expect(finished).toBeGreaterThan(5);
  });
});
