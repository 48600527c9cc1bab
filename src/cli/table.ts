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

/** Rows of the standard comparison: label plus one cell per column. Rows that are all zero or empty are dropped. */
export function comparisonRows(cols: readonly Column[], o: ComparisonOptions = {}): string[][] {
  const c = (col: Column, k: CounterName): number => col.report.counters[k];
  const rows: [string, (col: Column) => string, (col: Column) => number][] = [
    ['accesses', (x) => num(c(x, 'access.read') + c(x, 'access.write') + c(x, 'access.fetch')), (x) => c(x, 'access.read') + c(x, 'access.write') + c(x, 'access.fetch')],
    ['  reads / writes / fetches', (x) => `${num(c(x, 'access.read'))} / ${num(c(x, 'access.write'))} / ${num(c(x, 'access.fetch'))}`, () => 1],
    ['L1 dTLB hits / misses', (x) => `${num(c(x, 'tlb.l1d.hit'))} / ${num(c(x, 'tlb.l1d.miss'))}`, (x) => c(x, 'tlb.l1d.hit') + c(x, 'tlb.l1d.miss')],
    ['L1 iTLB hits / misses', (x) => `${num(c(x, 'tlb.l1i.hit'))} / ${num(c(x, 'tlb.l1i.miss'))}`, (x) => c(x, 'tlb.l1i.hit') + c(x, 'tlb.l1i.miss')],
    ['L1 dTLB miss rate', (x) => pct(c(x, 'tlb.l1d.miss'), c(x, 'tlb.l1d.hit') + c(x, 'tlb.l1d.miss')), (x) => c(x, 'tlb.l1d.hit') + c(x, 'tlb.l1d.miss')],
    ['L1 iTLB miss rate', (x) => pct(c(x, 'tlb.l1i.miss'), c(x, 'tlb.l1i.hit') + c(x, 'tlb.l1i.miss')), (x) => c(x, 'tlb.l1i.hit') + c(x, 'tlb.l1i.miss')],
    ['L2 TLB hits / misses', (x) => `${num(c(x, 'tlb.l2.hit'))} / ${num(c(x, 'tlb.l2.miss'))}`, (x) => c(x, 'tlb.l2.hit') + c(x, 'tlb.l2.miss')],
    ['L2 TLB miss rate', (x) => pct(c(x, 'tlb.l2.miss'), c(x, 'tlb.l2.hit') + c(x, 'tlb.l2.miss')), (x) => c(x, 'tlb.l2.hit') + c(x, 'tlb.l2.miss')],
    ['virtual TLB miss rate (software)', (x) => pct(c(x, 'sw.vtlb.miss'), c(x, 'sw.vtlb.hit') + c(x, 'sw.vtlb.miss')), (x) => c(x, 'sw.vtlb.hit') + c(x, 'sw.vtlb.miss')],
    ['hardware walks', (x) => num(c(x, 'walk.count')), (x) => c(x, 'walk.count')],
    ['memory refs per walk', (x) => (c(x, 'walk.count') ? (c(x, 'walk.refs') / c(x, 'walk.count')).toFixed(2) : '-'), (x) => c(x, 'walk.count')],
    ['  guest / nested / shadow / host refs', (x) => `${num(c(x, 'walk.refs.guest'))} / ${num(c(x, 'walk.refs.nested'))} / ${num(c(x, 'walk.refs.shadow'))} / ${num(c(x, 'walk.refs.host'))}`, (x) => c(x, 'walk.refs')],
    ['walk-cache hits (PWC / nested TLB)', (x) => `${num(c(x, 'pwc.hit'))} / ${num(c(x, 'ntlb.hit'))}`, (x) => c(x, 'pwc.hit') + c(x, 'ntlb.hit')],
    ['software walk refs', (x) => num(c(x, 'sw.walk.refs')), (x) => c(x, 'sw.walk.refs')],
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
  return rows
    .filter(([label, , keep]) => (measured || !MEASURED_ONLY.has(label)) && cols.some((x) => keep(x) !== 0))
    .map(([label, cell]) => [measured || label !== '  exits / shadow upkeep / flushes' ? label : 'modeled cycles of exits / shadow upkeep / flushes', ...cols.map(cell)]);
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
