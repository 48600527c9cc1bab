/**
 * Side-by-side reports of several MMU runs (one column per mode or per
 * geometry), as aligned text for a terminal or as JSON.
 */
import type { MmuReport } from '../mmu/index.js';
import type { CounterName } from '../mmu/index.js';

/** One column: a label and the report it shows. */
export interface Column {
  label: string;
  report: MmuReport;
  /** wall-clock seconds the run took (optional) */
  seconds?: number;
}

function pct(n: number, d: number): string {
  return d > 0 ? `${((100 * n) / d).toFixed(2)}%` : '-';
}

/** A count, short: 1234 as is, 12.3k, 4.56M, 7.89G. */
export function num(n: number): string {
  if (!Number.isFinite(n)) return '-';
  if (Math.abs(n) >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
  if (Math.abs(n) >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (Math.abs(n) >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return Number.isInteger(n) ? String(n) : n.toFixed(2);
}

/** How the runs were made. */
export interface ComparisonOptions {
  /**
   * The cost model was on (default true). When off, accesses were not
   * counted and the modeled TLB, walk and software cycles are zero: those
   * rows are left out rather than shown as zeros, and only the cycles of
   * the events that are always counted (exits, shadow upkeep, flushes) stay.
   */
  measured?: boolean;
}

/** Rows left out of a run made without the cost model. */
const MEASURED_ONLY = new Set(['accesses', '  reads / writes / fetches', 'modeled cycles', '  TLB / walks / software', 'cycles per access']);

/**
 * Rows of the standard comparison: label plus one cell per column. Rows that
 * are all zero or empty are dropped.
 *
 * Like is compared with like: the `tlb.*` counters are the hardware TLB over
 * the guest's accesses in shadow and slat mode, but over the emulator's own
 * accesses to guest RAM (host virtual to host physical) in naive mode, whose
 * guest translations go through a software virtual TLB (`sw.vtlb.*`). So the
 * guest-TLB rows show shadow and slat only, naive's virtual TLB has its rows,
 * and naive's hardware TLB has rows of its own, labeled as the host's.
 */
export function comparisonRows(cols: readonly Column[], o: ComparisonOptions = {}): string[][] {
  const c = (col: Column, k: CounterName): number => col.report.counters[k];
  const naive = (x: Column): boolean => x.report.mode === 'naive';
  /** a cell for one kind of column only ('' in the others), kept when such a column has a nonzero `keep` */
  const only = (want: boolean, cell: (x: Column) => string, keep: (x: Column) => number): [(x: Column) => string, (x: Column) => number] =>
    [(x) => (naive(x) === want ? cell(x) : ''), (x) => (naive(x) === want ? keep(x) : 0)];
  const hitMiss = (hit: CounterName, miss: CounterName) => (x: Column): string => `${num(c(x, hit))} / ${num(c(x, miss))}`;
  const lookups = (hit: CounterName, miss: CounterName) => (x: Column): number => c(x, hit) + c(x, miss);
  const rate = (hit: CounterName, miss: CounterName) => (x: Column): string => pct(c(x, miss), c(x, hit) + c(x, miss));
  const guest = (cell: (x: Column) => string, keep: (x: Column) => number) => only(false, cell, keep);
  const host = (cell: (x: Column) => string, keep: (x: Column) => number) => only(true, cell, keep);
  const rows: [string, (col: Column) => string, (col: Column) => number][] = [
    ['accesses', (x) => num(c(x, 'access.read') + c(x, 'access.write') + c(x, 'access.fetch')), (x) => c(x, 'access.read') + c(x, 'access.write') + c(x, 'access.fetch')],
    ['  reads / writes / fetches', (x) => `${num(c(x, 'access.read'))} / ${num(c(x, 'access.write'))} / ${num(c(x, 'access.fetch'))}`, () => 1],
    ["guest TLB (shadow, slat: over the guest's accesses)", ...guest(() => '', () => 1)],
    ['  L1 dTLB hits / misses', ...guest(hitMiss('tlb.l1d.hit', 'tlb.l1d.miss'), lookups('tlb.l1d.hit', 'tlb.l1d.miss'))],
    ['  L1 iTLB hits / misses', ...guest(hitMiss('tlb.l1i.hit', 'tlb.l1i.miss'), lookups('tlb.l1i.hit', 'tlb.l1i.miss'))],
    ['  L1 dTLB miss rate', ...guest(rate('tlb.l1d.hit', 'tlb.l1d.miss'), lookups('tlb.l1d.hit', 'tlb.l1d.miss'))],
    ['  L1 iTLB miss rate', ...guest(rate('tlb.l1i.hit', 'tlb.l1i.miss'), lookups('tlb.l1i.hit', 'tlb.l1i.miss'))],
    ['  L2 TLB hits / misses', ...guest(hitMiss('tlb.l2.hit', 'tlb.l2.miss'), lookups('tlb.l2.hit', 'tlb.l2.miss'))],
    ['  L2 TLB miss rate', ...guest(rate('tlb.l2.hit', 'tlb.l2.miss'), lookups('tlb.l2.hit', 'tlb.l2.miss'))],
    ['naive: virtual TLB hits / misses (software, L1+L2)', ...host(hitMiss('sw.vtlb.hit', 'sw.vtlb.miss'), lookups('sw.vtlb.hit', 'sw.vtlb.miss'))],
    ['naive: virtual TLB miss rate', ...host(rate('sw.vtlb.hit', 'sw.vtlb.miss'), lookups('sw.vtlb.hit', 'sw.vtlb.miss'))],
    ['  virtual L1 dTLB hits / misses', ...host(hitMiss('sw.vtlb.l1d.hit', 'sw.vtlb.l1d.miss'), lookups('sw.vtlb.l1d.hit', 'sw.vtlb.l1d.miss'))],
    ['  virtual L1 iTLB hits / misses', ...host(hitMiss('sw.vtlb.l1i.hit', 'sw.vtlb.l1i.miss'), lookups('sw.vtlb.l1i.hit', 'sw.vtlb.l1i.miss'))],
    ["naive: host TLB (the emulator's accesses to guest RAM)", ...host(() => '', () => 1)],
    ['  host L1 dTLB hits / misses', ...host(hitMiss('tlb.l1d.hit', 'tlb.l1d.miss'), lookups('tlb.l1d.hit', 'tlb.l1d.miss'))],
    ['  host L1 dTLB miss rate', ...host(rate('tlb.l1d.hit', 'tlb.l1d.miss'), lookups('tlb.l1d.hit', 'tlb.l1d.miss'))],
    ['  host L2 TLB hits / misses', ...host(hitMiss('tlb.l2.hit', 'tlb.l2.miss'), lookups('tlb.l2.hit', 'tlb.l2.miss'))],
    ['  host L2 TLB miss rate', ...host(rate('tlb.l2.hit', 'tlb.l2.miss'), lookups('tlb.l2.hit', 'tlb.l2.miss'))],
    ['hardware walks (naive: of the host table)', (x) => num(c(x, 'walk.count')), (x) => c(x, 'walk.count')],
    ['  page-walk memory references', (x) => num(c(x, 'walk.refs')), (x) => c(x, 'walk.refs')],
    ['  memory refs per walk', (x) => (c(x, 'walk.count') ? (c(x, 'walk.refs') / c(x, 'walk.count')).toFixed(2) : '-'), (x) => c(x, 'walk.count')],
    ['  guest / nested / shadow / host refs', (x) => `${num(c(x, 'walk.refs.guest'))} / ${num(c(x, 'walk.refs.nested'))} / ${num(c(x, 'walk.refs.shadow'))} / ${num(c(x, 'walk.refs.host'))}`, (x) => c(x, 'walk.refs')],
    ['  walk-cache hits (PWC / nested TLB)', (x) => `${num(c(x, 'pwc.hit'))} / ${num(c(x, 'ntlb.hit'))}`, (x) => c(x, 'pwc.hit') + c(x, 'ntlb.hit')],
    ['naive: software walk refs (guest tables)', (x) => num(c(x, 'sw.walk.refs')), (x) => c(x, 'sw.walk.refs')],
    ['VM exits', (x) => num(c(x, 'exit.total')), () => 1],
  ];
  const exitReasons: CounterName[] = ['exit.hidden_pf', 'exit.guest_pf', 'exit.pt_write', 'exit.cr3', 'exit.cr', 'exit.invlpg', 'exit.invpcid', 'exit.ept_violation', 'exit.mmio'];
  for (const r of exitReasons) rows.push([`  ${r.slice(5)}`, (x) => num(c(x, r)), (x) => c(x, r)]);
  const shadow: CounterName[] = ['shadow.page.create', 'shadow.page.zap', 'shadow.page.reclaim', 'shadow.unsync', 'shadow.resync', 'shadow.flood', 'shadow.root.hit', 'shadow.root.miss', 'ept.map'];
  for (const r of shadow) rows.push([r, (x) => num(c(x, r)), (x) => c(x, r)]);
  rows.push(['guest page faults', (x) => num(c(x, 'guest.pf')), () => 1]);
  const gaugeNames = [...new Set(cols.flatMap((x) => Object.keys(x.report.gauges)))];
  for (const g of gaugeNames) rows.push([g, (x) => (g in x.report.gauges ? num(x.report.gauges[g]!) : ''), (x) => (g in x.report.gauges ? 1 : 0)]);
  rows.push(['modeled cycles', (x) => num(x.report.cycles.total), () => 1]);
  rows.push(['  TLB / walks / software', (x) => `${num(x.report.cycles.tlb)} / ${num(x.report.cycles.walks)} / ${num(x.report.cycles.software)}`, () => 1]);
  rows.push(['  exits / shadow upkeep / flushes', (x) => `${num(x.report.cycles.exits)} / ${num(x.report.cycles.shadow)} / ${num(x.report.cycles.flushes)}`, () => 1]);
  rows.push(['cycles per access', (x) => x.report.cycles.perAccess.toFixed(2), () => 1]);
  if (cols.some((x) => x.seconds !== undefined)) {
    rows.push(['wall time (s)', (x) => (x.seconds === undefined ? '' : x.seconds.toFixed(2)), () => 1]);
  }
  const measured = o.measured ?? true;
  const kept = rows
    .filter(([label, , keep]) => (measured || !MEASURED_ONLY.has(label)) && cols.some((x) => keep(x) !== 0))
    .map(([label, cell]) => [measured || label !== '  exits / shadow upkeep / flushes' ? label : 'modeled cycles of exits / shadow upkeep / flushes', ...cols.map(cell)]);
  // A heading (no cells) stays only above the indented rows it introduces.
  return kept.filter((r, i) => r.slice(1).some((cell) => cell !== '') || (kept[i + 1]?.[0]?.startsWith('  ') ?? false));
}

/** Formats rows as an aligned text table with a header. */
export function formatTable(header: readonly string[], rows: readonly string[][]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]): string => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** The standard side-by-side comparison as text. */
export function comparisonText(cols: readonly Column[], o: ComparisonOptions = {}): string {
  return formatTable(['', ...cols.map((x) => x.label)], comparisonRows(cols, o));
}
