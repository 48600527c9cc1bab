/**
 * Instruction fetches reach the MMU's observation path whenever it is on
 * (docs/cpu.md, "Instruction fetches and the MMU"): one fetch access per
 * instruction and page, of the instruction's length, in every translation
 * mode alike; switched on and off at run time; and recorded in traces,
 * which replay with them.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Machine } from '../../src/machine/machine.js';
import { MODE_NAMES, type ModeName } from '../../src/mmu/modes/mode.js';
import { ACC_SIZE_MASK, ACC_SIZE_SHIFT, type MmuObserver } from '../../src/mmu/mmu.js';
import { ACC_FETCH, ACC_USER, ACC_WRITE } from '../../src/mmu/paging/bits.js';
import { CR0_ET, CR0_PE, CR0_PG, CR4_PSE } from '../../src/cpu/constants.js';
import { TraceRecorder } from '../../src/trace/recorder.js';
import { replayBinary } from '../../src/trace/replayer.js';
import { TraceReader } from '../../src/trace/reader.js';
import { KIND_FETCH, OP_KIND_SHIFT } from '../../src/trace/format.js';
import { CODE, STUBS, flatMachine, haltedInStub, runToHalt } from '../cpu/flat-machine.js';

const guests = fileURLToPath(new URL('../guests', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'vmmu-fetch-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function guestImage(name: string): Uint8Array {
  return readFileSync(join(guests, name, `${name}.elf`));
}

/** An observed access or event, in the order the MMU reported it. */
type Seen = { what: 'fetch' | 'read' | 'write'; at: number; size: number; user: boolean } | { what: 'cr3' | 'other' };

/** An observer that keeps everything it sees. */
function watcher(): MmuObserver & { seen: Seen[]; fetches(): { at: number; size: number }[] } {
  const seen: Seen[] = [];
  return {
    seen,
    fetches: () => seen.flatMap((s) => (s.what === 'fetch' ? [{ at: s.at, size: s.size }] : [])),
    access(lo, _hi, acc) {
      seen.push({ what: acc & ACC_FETCH ? 'fetch' : acc & ACC_WRITE ? 'write' : 'read', at: lo >>> 0, size: (acc & ACC_SIZE_MASK) >>> ACC_SIZE_SHIFT, user: (acc & ACC_USER) !== 0 });
    },
    filled() {},
    register(which) { seen.push({ what: which === 'cr3' ? 'cr3' : 'other' }); },
    invlpg() { seen.push({ what: 'other' }); },
    invpcid() { seen.push({ what: 'other' }); },
    flush() { seen.push({ what: 'other' }); },
    privilege() { seen.push({ what: 'other' }); },
  };
}

/** Boots a test kernel with the cost model on; its instructions and fetch, read and write counters. */
function bootMeasured(name: string, mode: ModeName, cpu?: string): { instructions: number; fetches: number; reads: number; writes: number; output: string } {
  let output = '';
  const m = new Machine({ mode, memory: 64 << 20, mmu: { measure: true }, ...(cpu !== undefined ? { cpu } : {}), serialOut: (b) => { output += String.fromCharCode(b); } });
  m.loadMultiboot(guestImage(name), name, '');
  const r = m.run({ maxInstructions: 100_000_000 });
  expect(r.reason).toBe('exit');
  const c = m.mmu.report().counters;
  return { instructions: r.instructions, fetches: c['access.fetch'], reads: c['access.read'], writes: c['access.write'], output };
}

describe('a test kernel (paging32) booted with measure: true', () => {
  const runs = new Map<ModeName, ReturnType<typeof bootMeasured>>();
  it.each(MODE_NAMES)('under %s translation, is every instruction fetch counted (at least one per instruction)?', (mode) => {
    const r = bootMeasured('paging32', mode);
    runs.set(mode, r);
    expect(r.output).toContain('paging32: 45 checks, 0 failed');
    expect(r.fetches).toBeGreaterThanOrEqual(r.instructions);
    // one per instruction and page: only the few instructions that cross a page add one
    expect(r.fetches - r.instructions).toBeLessThan(r.instructions / 1000);
  });

  it('are the fetch, read and write counts the same in all three modes?', () => {
    const [naive, shadow, slat] = MODE_NAMES.map((m) => runs.get(m)!);
    expect(shadow.instructions).toBe(naive.instructions);
    expect(slat.instructions).toBe(naive.instructions);
    for (const r of [shadow, slat]) {
      expect(r.fetches).toBe(naive.fetches);
      expect(r.reads).toBe(naive.reads);
      expect(r.writes).toBe(naive.writes);
    }
  });
});

describe('64-bit code (paging64) booted with measure: true', () => {
  // long.ts fetches byte by byte; observed, the bytes of an instruction on one page are one fetch access
  // (Cpu.fetchRun64), as for 32-bit code, not one access per byte (before: 3 to 4 per instruction)
  const runs = new Map<ModeName, ReturnType<typeof bootMeasured>>();
  it.each(MODE_NAMES)('under %s translation, is every 64-bit instruction one fetch access (and one more on a page boundary)?', (mode) => {
    const r = bootMeasured('paging64', mode, '+lm,+pcid,+invpcid,+la57,+pdpe1gb');
    runs.set(mode, r);
    expect(r.output).toContain('paging64: 147 checks, 0 failed');
    expect(r.fetches).toBeGreaterThanOrEqual(r.instructions);
    expect(r.fetches - r.instructions).toBeLessThan(r.instructions / 100);
  });

  it('are the fetch, read and write counts the same in all three modes?', () => {
    const [naive, shadow, slat] = MODE_NAMES.map((m) => runs.get(m)!);
    for (const r of [shadow, slat]) expect([r.instructions, r.fetches, r.reads, r.writes]).toEqual([naive.instructions, naive.fetches, naive.reads, naive.writes]);
  });
});

describe('what a fetch access is (hand-assembled code, paging off)', () => {
  /**
   * CODE:        b8 78 56 34 12     mov eax, 0x12345678
   * CODE+5:      03 43 10           add eax, [ebx+0x10]   (EBX = 0: reads 0x10)
   * CODE+8:      66 05 34 12        add ax, 0x1234
   * CODE+12:     90                 nop
   * CODE+13:     e9 rel32           jmp CODE+0xffe
   * CODE+0xffe:  b9 01 00 00 00     mov ecx, 1            (2 bytes on one page, 3 on the next)
   * CODE+0x1003: f4                 hlt
   */
  function load(m: Machine): void {
    m.mmu.writePhysBytes(CODE, new Uint8Array([0xb8, 0x78, 0x56, 0x34, 0x12, 0x03, 0x43, 0x10, 0x66, 0x05, 0x34, 0x12, 0x90, 0xe9, ...le32(0xffe - 18)]));
    m.mmu.writePhysBytes(CODE + 0xffe, new Uint8Array([0xb9, 0x01, 0x00, 0x00, 0x00, 0xf4]));
  }
  const le32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
  const EXPECTED = [
    { at: CODE, size: 5 }, { at: CODE + 5, size: 3 }, { at: CODE + 8, size: 4 }, { at: CODE + 12, size: 1 }, { at: CODE + 13, size: 5 },
    { at: CODE + 0xffe, size: 2 }, { at: CODE + 0x1000, size: 3 }, { at: CODE + 0x1003, size: 1 },
  ];

  it.each(MODE_NAMES)('under %s translation, is each instruction one fetch of its length, split at the page boundary?', (mode) => {
    const m = flatMachine({ mode, measure: true });
    load(m);
    const w = watcher();
    m.mmu.setObserver(w);
    runToHalt(m);
    // First pass: the code's pages were not in the software TLB, so the first
    // instruction on each is reported when its fill is made, size not known (0).
    expect(w.fetches()).toEqual(EXPECTED.map((f, i) => (i === 0 || i === 6 ? { ...f, size: 0 } : f)));
    // Second pass over the same code, its pages now in the software TLB: exact lengths.
    w.seen.length = 0;
    m.cpu.halted = false;
    m.cpu.eip = CODE;
    runToHalt(m);
    expect(w.fetches()).toEqual(EXPECTED);
    // The add's data read comes before its fetch is reported (the run ends with the instruction).
    const read = w.seen.findIndex((s) => s.what === 'read' && s.at === 0x10);
    const addFetch = w.seen.findIndex((s) => s.what === 'fetch' && s.at === CODE + 5);
    expect(read).toBeGreaterThanOrEqual(0);
    expect(addFetch).toBe(read + 1);
    expect(w.seen.every((s) => s.what !== 'fetch' || !s.user)).toBe(true);
  });

  it('is a faulting instruction\'s fetch reported before the exception handler\'s?', () => {
    const m = flatMachine({ mode: 'shadow', measure: true });
    m.mmu.writePhysBytes(CODE, new Uint8Array([0x90, 0x0f, 0x0b])); // nop; ud2
    const w = watcher();
    m.mmu.setObserver(w);
    runToHalt(m);
    expect(haltedInStub(m)).toBe(6);
    // The stub is mov al, 6; hlt: its page was not in the software TLB (size 0 for its first instruction).
    expect(w.fetches()).toEqual([{ at: CODE, size: 0 }, { at: CODE + 1, size: 2 }, { at: STUBS + 24, size: 0 }, { at: STUBS + 26, size: 1 }]);
  });

  it('is the fetch of a MOV to CR3 reported before the CR3 load, in the address space it was fetched from?', () => {
    const m = flatMachine({ mode: 'slat', measure: true });
    // 32-bit paging, one 4 MiB page mapping 0-4 MiB; CR3 reloaded with the same directory.
    m.mmu.writePhys(0x3000, 4, 0x83);
    const c = m.cpu;
    c.cr0 = CR0_PE | CR0_PG | CR0_ET;
    c.cr3 = 0x3000;
    c.cr4 = CR4_PSE;
    m.mmu.setPaging({ cr0: c.cr0, cr3Lo: 0x3000, cr4: CR4_PSE });
    c.flushFetch();
    m.mmu.writePhysBytes(CODE, new Uint8Array([0xb8, 0x00, 0x30, 0x00, 0x00, 0x0f, 0x22, 0xd8, 0xf4])); // mov eax, 0x3000; mov cr3, eax; hlt
    const w = watcher();
    m.mmu.setObserver(w);
    runToHalt(m);
    const i = w.seen.findIndex((s) => s.what === 'cr3');
    expect(w.seen[i - 1]).toEqual({ what: 'fetch', at: CODE + 5, size: 3, user: false });
    // after the load (a TLB flush), the HLT's page is filled again: size not known
    expect(w.seen.slice(i + 1).filter((s) => s.what === 'fetch')).toEqual([{ what: 'fetch', at: CODE + 8, size: 0, user: false }]);
  });
});

describe('switching measurement on and off at run time', () => {
  it('does an observer attached while the guest runs (from a device callback) see the very next instructions\' fetches?', () => {
    const w = watcher();
    let attached = false;
    // mov dx, 0x3f8; mov al, 'a'; out dx, al; nop; nop; nop; out dx, al; hlt
    const m = flatMachine({
      mode: 'naive',
      serialOut: () => {
        if (!attached) m.mmu.setObserver(w);
        attached = true;
      },
    });
    m.mmu.writePhysBytes(CODE, new Uint8Array([0x66, 0xba, 0xf8, 0x03, 0xb0, 0x61, 0xee, 0x90, 0x90, 0x90, 0xee, 0xf4]));
    expect(m.mmu.measure).toBe(false);
    runToHalt(m);
    expect(w.fetches()).toEqual([7, 8, 9, 10, 11].map((o) => ({ at: CODE + o, size: 1 })));
  });

  it('does an observer attached in the middle of a run slice (from an MMIO write) see the fetches from the next page the code reaches?', () => {
    const w = watcher();
    const m = flatMachine({ mode: 'slat' });
    m.io.registerMmio(0xb0000, 4, { read: () => 0, write: () => { m.mmu.setObserver(w); } }, 'test');
    // mov byte [0xb0000], 1; jmp CODE+0x1000 ... CODE+0x1000: nop; nop; hlt
    m.mmu.writePhysBytes(CODE, new Uint8Array([0xc6, 0x05, 0x00, 0x00, 0x0b, 0x00, 0x01, 0xe9, 0xf4, 0x0f, 0x00, 0x00]));
    m.mmu.writePhysBytes(CODE + 0x1000, new Uint8Array([0x90, 0x90, 0xf4]));
    runToHalt(m);
    // The JMP ran from the page the CPU had cached; the first fetch outside it
    // saw the MMU measuring (a page not in the software TLB yet: size 0).
    expect(w.fetches()).toEqual([{ at: CODE + 0x1000, size: 0 }, { at: CODE + 0x1001, size: 1 }, { at: CODE + 0x1002, size: 1 }]);
  });

  it('does setCostModel between runs start and stop the counting of fetches?', () => {
    const m = new Machine({ mode: 'shadow', memory: 64 << 20 });
    m.loadMultiboot(guestImage('paging32'), 'paging32', '');
    const fetches = (): number => m.mmu.report().counters['access.fetch'];
    expect(m.run({ maxInstructions: 10_000 }).instructions).toBe(10_000);
    expect(fetches()).toBe(0);
    m.mmu.setCostModel(true);
    expect(m.run({ maxInstructions: 20_000 }).instructions).toBe(20_000);
    const counted = fetches();
    expect(counted).toBeGreaterThanOrEqual(20_000);
    expect(counted).toBeLessThan(20_100);
    m.mmu.setCostModel(false);
    expect(m.run({ maxInstructions: 100_000_000 }).reason).toBe('exit');
    expect(fetches()).toBe(counted);
  });
});

describe('a trace recorded from a test kernel (exceptions: PAE with NX, CPL 3, faulting fetches)', () => {
  it('does it hold the instruction fetches, and does every mode replay them with the counts seen live?', async () => {
    const path = join(dir, 'exceptions.vmt');
    let output = '';
    const m = new Machine({ mode: 'shadow', memory: 64 << 20, mmu: { measure: true }, serialOut: (b) => { output += String.fromCharCode(b); } });
    // As vmmu boot --record does: recording starts before the loader runs.
    const rec = new TraceRecorder(m.mmu, path);
    rec.start();
    m.loadMultiboot(guestImage('exceptions'), 'exceptions', '');
    const r = m.run({ maxInstructions: 100_000_000 });
    const stats = rec.close();
    expect(r.reason).toBe('exit');
    expect(output).toContain('exceptions: 110 checks, 0 failed');
    const live = m.mmu.report().counters;
    // Every instruction's fetch, but for the few whose fetch faulted (no access the cost model counts).
    expect(live['access.fetch']).toBeLessThanOrEqual(r.instructions);
    expect(live['access.fetch']).toBeGreaterThan(r.instructions - 100);
    // The trace holds them all, the faulting ones too.
    let fetchRecords = 0;
    const reader = await TraceReader.open(path);
    for await (const ch of reader.chunks()) for (const op of ch.ops) if (op & 0x8000 && ((op >> OP_KIND_SHIFT) & 3) === KIND_FETCH) fetchRecords++;
    await reader.close();
    expect(fetchRecords).toBeGreaterThanOrEqual(r.instructions);
    // the recorder also keeps the accesses that faulted, which the cost model does not count
    expect(stats.accesses).toBeGreaterThanOrEqual(live['access.fetch'] + live['access.read'] + live['access.write']);
    for (const mode of MODE_NAMES) {
      const replay = await replayBinary(path, { mode }); // a wrong translation or fault throws
      expect(replay.counts.checks).toBeGreaterThan(0);
      expect(replay.counts.mismatches).toBe(0);
      expect(replay.counts.accesses).toBe(stats.accesses);
      const c = replay.report.counters;
      expect(c['access.fetch']).toBe(live['access.fetch']);
      expect(c['access.read']).toBe(live['access.read']);
      expect(c['access.write']).toBe(live['access.write']);
    }
  }, 60_000);
});
