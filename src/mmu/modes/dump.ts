/**
 * Text dumps of 64-bit-entry tables vmmu owns (host page table, shadow
 * tables, EPT). Non-leaf entries get a line each; runs of leaf entries
 * with the same flags that map consecutive frames are folded into one line.
 */
import type { HostMemory } from '../host/memory.js';
import { EPT_PS, EPT_RWX, PTE_P, PTE_PS } from '../paging/bits.js';

function hex(n: number): string {
  return '0x' + n.toString(16);
}

function flagsOf(lo: number, hi: number, ept: boolean): string {
  if (ept) return `${lo & 1 ? 'R' : '-'}${lo & 2 ? 'W' : '-'}${lo & 4 ? 'X' : '-'}${lo & 0x100 ? 'A' : '-'}${lo & 0x200 ? 'D' : '-'}`;
  return `${lo & 2 ? 'W' : '-'}${lo & 4 ? 'U' : '-'}${hi < 0 ? 'NX' : '--'}${lo & 0x20 ? 'A' : '-'}${lo & 0x40 ? 'D' : '-'}`;
}

/**
 * Dumps the table at `rootHpa` with `levels` levels of 512 8-byte entries.
 * `vaBase` is added to every input address shown; `label(hpa)` may annotate
 * a table (for example with its shadow-page role).
 */
export function dumpTable(host: HostMemory, rootHpa: number, levels: number, vaBase: number, ept = false, label?: (hpa: number) => string): string {
  const out: string[] = [];
  const i32 = host.i32;
  const present = ept ? EPT_RWX : PTE_P;
  const ps = ept ? EPT_PS : PTE_PS;
  const visit = (table: number, level: number, va: number, indent: string): void => {
    const size = 2 ** (12 + 9 * (level - 1));
    let runStart = -1;
    let runFirst = 0;
    let runNext = 0;
    let runFlags = '';
    const flushRun = (end: number): void => {
      if (runStart < 0) return;
      const n = end - runStart;
      out.push(`${indent}L${level}[${runStart}${n > 1 ? '..' + (end - 1) : ''}] ${hex(vaBase + va + runStart * size)} -> ${hex(runFirst)}${n > 1 ? ' ...' : ''} ${runFlags} (${n} page${n > 1 ? 's' : ''})`);
      runStart = -1;
    };
    for (let i = 0; i < 512; i++) {
      const lo = i32[(table >>> 2) + i * 2]!;
      const hi = i32[(table >>> 2) + i * 2 + 1]!;
      if (!(lo & present)) {
        flushRun(i);
        continue;
      }
      const addr = (hi & 0xfffff) * 4294967296 + ((lo & 0xfffff000) >>> 0);
      if (level === 1 || lo & ps) {
        const f = flagsOf(lo, hi, ept);
        if (runStart >= 0 && f === runFlags && addr === runNext) {
          runNext += size;
          continue;
        }
        flushRun(i);
        runStart = i;
        runFirst = addr;
        runNext = addr + size;
        runFlags = f;
        continue;
      }
      flushRun(i);
      const note = label ? label(addr) : '';
      out.push(`${indent}L${level}[${i}] ${hex(vaBase + va + i * size)} -> table ${hex(addr)} ${flagsOf(lo, hi, ept)}${note ? ' ' + note : ''}`);
      visit(addr, level - 1, va + i * size, indent + '  ');
    }
    flushRun(512);
  };
  visit(rootHpa, levels, 0, '');
  return out.join('\n') + '\n';
}
