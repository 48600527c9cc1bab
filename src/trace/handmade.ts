/**
 * Hand-built binary traces whose costs can be worked out with pencil and
 * paper: a 4-level guest page table written as page images, then a stride
 * pattern of user reads. Used by the tests (exact expected counters) and
 * the benchmarks (a TLB-friendly trace of any length).
 */
import { FMT_L4 } from '../mmu/index.js';
import { ACC_USER, ACC_WRITE, CR0_PE, CR0_PG, CR0_WP, CR4_PAE, EFER_LMA, EFER_LME, EFER_NXE, PTE_A, PTE_P, PTE_RW, PTE_US } from '../mmu/index.js';
import { accessOp, FORMAT_VERSION, R_PAGING, R_PRIV, SOURCE_RECORDED } from './format.js';
import { TraceWriter, type TraceSink, type WriterOptions } from './writer.js';

export interface StrideTraceOptions {
  /** user pages mapped, consecutive from `base` (at most 512 * 8) */
  pages: number;
  /** the access pattern: page indexes 0, stride, 2*stride, ... modulo `pages`, `accesses` times */
  stride: number;
  accesses: number;
  /** gva of the first page (default 0x400000, 2 MiB aligned) */
  base?: number;
  /** guest memory (default 16 MiB) */
  guestMemory?: number;
  /** make every fourth access a write (default false) */
  writes?: boolean;
}

/** The gfns the stride trace uses: its tables, and the frame of user page i. */
export const STRIDE_ROOT_GFN = 1;
export const STRIDE_DATA_GFN = 64;

/**
 * Writes a stride trace: page images of a 4-level table (root, one PDPT, one
 * PD, one page table per 512 pages) mapping the pages user read/write with
 * accessed bits already set, a PAGING record, CPL 3, then the accesses (4-byte
 * user reads at offset 0x40 of each page). Returns the writer's totals.
 */
export function writeStrideTrace(sink: TraceSink, o: StrideTraceOptions, wo: WriterOptions = {}): ReturnType<TraceWriter['close']> {
  const base = o.base ?? 0x400000;
  const pts = Math.ceil(o.pages / 512);
  if (pts > 8 || base % 0x200000 !== 0 || base >= 0x40000000) throw new RangeError('stride trace: at most 4096 pages from a 2 MiB-aligned base below 1 GiB');
  const cr0 = CR0_PE | CR0_PG | CR0_WP, cr4 = CR4_PAE, efer = EFER_LME | EFER_LMA | EFER_NXE;
  const w = new TraceWriter(sink, {
    version: FORMAT_VERSION, source: SOURCE_RECORDED, format: FMT_L4, maxPhysAddr: 36, gbPages: true, softTlbBits: 13, cpl: 0, ac: false,
    checkEvery: 0, seed: 1, guestMemory: o.guestMemory ?? 16 << 20, holes: [], cr0: 0, cr3Lo: 0, cr3Hi: 0, cr4: 0, efer: 0, pkru: 0,
    pdpte: [0, 0, 0, 0, 0, 0, 0, 0], notes: { workload: 'stride', ...o },
  }, wo);
  const table = (): { bytes: Uint8Array; dv: DataView } => {
    const bytes = new Uint8Array(4096);
    return { bytes, dv: new DataView(bytes.buffer) };
  };
  const link = PTE_P | PTE_RW | PTE_US | PTE_A;
  const root = table(), pdpt = table(), pd = table();
  root.dv.setUint32(0, ((STRIDE_ROOT_GFN + 1) << 12) | link, true);
  pdpt.dv.setUint32(0, ((STRIDE_ROOT_GFN + 2) << 12) | link, true);
  w.page(STRIDE_ROOT_GFN, root.bytes);
  w.page(STRIDE_ROOT_GFN + 1, pdpt.bytes);
  const pdIndex = Math.floor(base / 0x200000);
  for (let t = 0; t < pts; t++) {
    const pt = table();
    for (let i = 0; i < 512 && t * 512 + i < o.pages; i++) pt.dv.setUint32(i * 8, ((STRIDE_DATA_GFN + t * 512 + i) << 12) | link, true);
    pd.dv.setUint32((pdIndex + t) * 8, ((STRIDE_ROOT_GFN + 3 + t) << 12) | link, true);
    w.page(STRIDE_ROOT_GFN + 3 + t, pt.bytes);
  }
  w.page(STRIDE_ROOT_GFN + 2, pd.bytes);
  w.event(R_PAGING, cr0, STRIDE_ROOT_GFN << 12, 0, cr4, efer, 0);
  w.event(R_PRIV, 3);
  const read = accessOp(ACC_USER, 0, 4);
  const write = accessOp(ACC_USER | ACC_WRITE, 0, 4);
  let page = 0;
  for (let i = 0; i < o.accesses; i++) {
    w.access(o.writes && (i & 3) === 3 ? write : read, base + page * 4096 + 0x40, 0);
    page = (page + o.stride) % o.pages;
  }
  return w.close();
}
