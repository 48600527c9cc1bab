/**
 * The PC's BIOS area (0xC0000-0xFFFFF) is read-only memory holding all ones
 * (src/machine/machine.ts BIOS_ROM): a guest that scans it, as Linux does
 * for its tables, reads 0xFF without a device exit, and a write there is
 * dropped, in every mode and under both engines; the VGA window below it
 * stays device memory (open bus). A trace recorded there says so in its
 * header's notes, and its replay plays those writes as ROM writes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TraceRecorder } from '../../src/trace/recorder.js';
import { TraceReader } from '../../src/trace/reader.js';
import { replayBinary } from '../../src/trace/replayer.js';
import { ROM_NOTE } from '../../src/trace/format.js';
import { MODE_NAMES } from '../../src/mmu/modes/mode.js';
import { CODE, flatMachine, le32, runToHalt } from '../cpu/flat-machine.js';


describe.each(MODE_NAMES)('the BIOS area under %s translation', (mode) => {
  it.each(['interp', 'block', 'jit'] as const)('with the %s engine, does a scan of 0xE0000-0xFFFFF read all ones without a device exit, and does a write there stay unseen?', (engine) => {
    const m = flatMachine({ mode, engine, measure: true });
    const code = [
      0xc7, 0x05, ...le32(0xf0010), ...le32(0x12345678), // mov dword [0xF0010], 0x12345678
      0xc6, 0x05, ...le32(0xb8000), 0x41, // mov byte [0xB8000], 'A' (VGA window: open bus)
      0xbe, ...le32(0xe0000), // mov esi, 0xE0000
      0x31, 0xdb, // xor ebx, ebx
      0xb9, ...le32(0x8000), // mov ecx, 0x8000 (dwords)
      0x03, 0x1e, // top: add ebx, [esi]
    ];
    code.push(0x83, 0xc6, 0x04); // add esi, 4
    code.push(0x49); // dec ecx
    code.push(0x75, 0x100 - 8); // jnz top (add 2 + add 3 + dec 1 + jnz 2 = 8 bytes back)
    code.push(0x8b, 0x15, ...le32(0xf0010)); // mov edx, [0xF0010]
    code.push(0x8a, 0x05, ...le32(0xb8000)); // mov al, [0xB8000]
    code.push(0xf4);
    m.mmu.writePhysBytes(CODE, new Uint8Array(code));
    const before = m.mmu.countersByName()['exit.mmio'];
    runToHalt(m, 1_000_000);
    expect(m.cpu.reg32[3]! >>> 0).toBe((0x8000 * 0xffffffff) % 2 ** 32); // 0x8000 dwords of all ones
    expect(m.cpu.reg32[2]! >>> 0).toBe(0xffffffff);
    expect(m.cpu.reg8[0]).toBe(0xff);
    expect(m.mmu.readPhys(0xf0010, 4)).toBe(0xffffffff);
    const exits = m.mmu.countersByName()['exit.mmio'] - before;
    // Shadow: the dropped ROM write and the two VGA accesses exit; the 32,768 reads of the scan do not.
    expect(exits).toBe(mode === 'shadow' ? 3 : 0);
  });
});

describe('a trace recorded from a machine with the BIOS ROM', () => {
  it('does its header note the ROM, and does every mode replay the ROM writes and reads with the counts seen live?', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vmmu-rom-'));
    try {
      const path = join(dir, 'rom.vmt');
      const m = flatMachine({ mode: 'shadow', engine: 'interp', measure: true });
      const rec = new TraceRecorder(m.mmu, path);
      rec.start();
      const code = [
        0xb9, ...le32(5), // mov ecx, 5
        0xc7, 0x05, ...le32(0xf0010), ...le32(0x12345678), // top: mov dword [0xF0010], 0x12345678
        0x8b, 0x15, ...le32(0xf0010), // mov edx, [0xF0010]
        0x49, 0x75, 0x100 - 19, // dec ecx; jnz top
        0xf4,
      ];
      m.mmu.writePhysBytes(CODE, new Uint8Array(code));
      expect(runToHalt(m, 1_000).instructions).toBe(1 + 5 * 4 + 1);
      rec.close();
      expect(m.cpu.reg32[2]! >>> 0).toBe(0xffffffff);
      const live = m.mmu.report().counters;
      expect(live['exit.mmio']).toBe(5);
      const header = (await TraceReader.open(path));
      expect(header.header.notes[ROM_NOTE]).toEqual([{ gpa: 0xc0000, bytes: 0x40000 }]);
      await header.close();
      for (const mode of MODE_NAMES) {
        const replay = await replayBinary(path, { mode });
        expect(replay.counts.mismatches).toBe(0);
        const c = replay.report.counters;
        for (const k of ['access.fetch', 'access.read', 'access.write'] as const) expect(c[k]).toBe(live[k]);
        if (mode === 'shadow') expect(c['exit.mmio']).toBe(live['exit.mmio']);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
