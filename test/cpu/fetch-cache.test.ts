/**
 * The CPU's fetch cache (fetchPage, fetchHpa) is a copy of one slot of the
 * MMU's software TLB. The guest must see the same instruction stream
 * whether the MMU observes accesses (--measure, where fetches go through
 * the TLB byte by byte) or not, in every mode and engine. So when the slot
 * the fetch page sits in is filled again, by a refill of the page itself
 * (a write that missed a read-only slot) or by another page that maps to
 * the same slot, the copy must go too.
 *
 * The program runs on code page X and rewrites X's own PTE to map frame F2
 * (no INVLPG: the old translation may stay cached, SDM vol. 3A 4.10.4.3),
 * then reads page Y, whose software-TLB slot is X's (a 256-slot TLB, Y 256
 * pages above X). X's slot now holds Y, so the next fetch from X walks
 * X's new entry: F2's code (EBX = 2), with or without the cost model.
 */
import { describe, expect, it } from 'vitest';
import { ENGINES, type Engine } from '../../src/cpu/cpu.js';
import { CR0_PE, CR0_PG } from '../../src/cpu/constants.js';
import { MODE_NAMES, type ModeName } from '../../src/mmu/modes/mode.js';
import { CODE, flatMachine, le32, runToHalt } from './flat-machine.js';

const PD = 0x300000, PT0 = 0x301000;
const F2 = 0x140000; // the frame X is remapped to
const Y = CODE + 256 * 4096; // X's software-TLB slot in a 256-slot TLB

function run(mode: ModeName, engine: Engine, measure: boolean): { ebx: number; instructions: number } {
  const m = flatMachine({ mode, engine, measure, mmu: { softTlbBits: 8 } });
  const mmu = m.mmu;
  // 32-bit paging: the first 4 MiB one to one, user and writable
  mmu.writePhys(PD, 4, PT0 | 7);
  for (let i = 0; i < 1024; i++) mmu.writePhys(PT0 + 4 * i, 4, (i * 4096) | 7);
  // at X: mov dword [PTE of X], F2|7; mov eax, [Y]; mov ebx, 1; hlt
  const head = [0xc7, 0x05, ...le32(PT0 + 4 * (CODE >>> 12)), ...le32(F2 | 7), 0xa1, ...le32(Y)];
  mmu.writePhysBytes(CODE, new Uint8Array([...head, 0xbb, ...le32(1), 0xf4]));
  // at F2, the same offsets: the same head, then mov ebx, 2; hlt
  mmu.writePhysBytes(F2, new Uint8Array([...head, 0xbb, ...le32(2), 0xf4]));
  // paging on: X is fetched (its slot filled) before the program starts
  const c = m.cpu;
  c.cr3 = PD;
  c.cr0 = CR0_PE | CR0_PG | 0x10;
  mmu.setPaging({ cr0: c.cr0, cr3Lo: PD, cr4: 0, efer: 0 });
  c.flushFetch();
  const r = runToHalt(m);
  return { ebx: c.reg32[3]!, instructions: r.instructions };
}

describe('the fetch cache and the software TLB slot it copies', () => {
  for (const mode of MODE_NAMES) {
    for (const engine of ENGINES) {
      it(`does a fill of the fetch page's slot by another page make the next fetch walk again, measured or not (${mode}, ${engine})?`, () => {
        const plain = run(mode, engine, false);
        const measured = run(mode, engine, true);
        expect(measured).toEqual(plain);
        expect(plain.ebx).toBe(2);
      });
    }
  }
});
