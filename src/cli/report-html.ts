/**
 * `vmmu compare`: a self-contained HTML report (inline CSS and SVG, no
 * script, no external resource) that opens in any browser without a server
 * or a network: charts of miss rates, walk references, VM exits and modeled
 * cycles per mode across the swept TLB geometries, and the full tables.
 */
import type { MmuReport } from '../mmu/index.js';
import { COUNTERS } from '../mmu/index.js';
import { comparisonRows, type Column } from './table.js';

/** One replay in the report. */
export interface ReportRun {
  mode: string;
  /** the TLB geometry's name (the sweep axis) */
  geometry: string;
  report: MmuReport;
}

const MODE_COLORS: Record<string, string> = { naive: '#d1495b', shadow: '#edae49', slat: '#00798c' };
const FALLBACK_COLORS = ['#30638e', '#003d5b', '#8f2d56', '#218380'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

interface Series { name: string; color: string; values: number[] }

/** The unit a set of numbers is shown in (by the largest): G, M, k (from 10,000 up, as num() does) or none. */
function unitOf(max: number): [number, string] {
  const a = Math.abs(max);
  return a >= 1e9 ? [1e9, 'G'] : a >= 1e6 ? [1e6, 'M'] : a >= 1e4 ? [1e3, 'k'] : [1, ''];
}

/**
 * Axis ticks at round values: 0 and multiples of a step of 1, 2, 2.5 or 5
 * times a power of ten, about four of them, the last at or above `max`.
 */
export function niceTicks(max: number): number[] {
  if (!(max > 0) || !Number.isFinite(max)) return [0, 1];
  const raw = max / 4;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * p).find((st) => st >= raw)!;
  const n = Math.ceil(max / step - 1e-9);
  return Array.from({ length: n + 1 }, (_, k) => Number((k * step).toPrecision(12)));
}

/** Tick labels: one unit for the axis, as few decimals as show every tick exactly. */
export function tickLabels(ticks: readonly number[]): string[] {
  const [d, suffix] = unitOf(ticks[ticks.length - 1] ?? 0);
  let dec = 0;
  while (dec < 6 && ticks.some((t) => Math.abs(Number((t / d).toFixed(dec)) - t / d) > 1e-9 * Math.max(1, Math.abs(t / d)))) dec++;
  return ticks.map((t) => (t === 0 ? '0' : `${(t / d).toFixed(dec)}${suffix}`));
}

/** `v` with `digits` significant digits, in the unit num() would pick; integers below 10,000 as they are. */
function sig(v: number, digits: number): string {
  if (!Number.isFinite(v)) return '-';
  const [d, suffix] = unitOf(v);
  const x = v / d;
  if (suffix === '' && Number.isInteger(x)) return String(x);
  const intDigits = x === 0 ? 1 : Math.max(1, Math.floor(Math.log10(Math.abs(x))) + 1);
  if (suffix !== '' && Number.isInteger(v) && digits >= intDigits + Math.log10(d)) return String(v);
  return `${x.toFixed(Math.max(0, digits - intDigits))}${suffix}`;
}

/**
 * Labels for the values of one chart, with enough significant digits (3 at
 * least) that values that differ get labels that differ.
 */
export function valueLabels(values: readonly number[]): string[] {
  const distinct = new Set(values.filter(Number.isFinite)).size;
  for (let digits = 3; digits < 17; digits++) {
    const labels = values.map((v) => sig(v, digits));
    if (new Set(labels.filter((_, i) => Number.isFinite(values[i]!))).size === distinct) return labels;
  }
  return values.map((v) => String(v));
}

/** A grouped bar chart as inline SVG: one group per geometry, one bar per mode. */
export function barChart(title: string, unit: string, groups: readonly string[], series: readonly Series[]): string {
  const W = 720, H = 280, left = 70, right = 16, top = 36, bottom = 64;
  const max = Math.max(0, ...series.flatMap((s) => s.values.filter(Number.isFinite)));
  const ticks = niceTicks(max);
  const axisTop = ticks[ticks.length - 1]!;
  const scale = (H - top - bottom) / axisTop;
  const gw = (W - left - right) / Math.max(1, groups.length);
  const bw = Math.min(48, (gw * 0.8) / Math.max(1, series.length));
  const labels = valueLabels(series.flatMap((s) => groups.map((_, gi) => s.values[gi] ?? NaN)));
  const parts: string[] = [];
  parts.push(`<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}">`);
  parts.push(`<text x="${left}" y="20" class="t">${esc(title)}${unit ? ` (${esc(unit)})` : ''}</text>`);
  tickLabels(ticks).forEach((label, k) => {
    const y = H - bottom - ticks[k]! * scale;
    parts.push(`<line x1="${left}" x2="${W - right}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" class="g"/><text x="${left - 6}" y="${(y + 4).toFixed(1)}" class="a" text-anchor="end">${esc(label)}</text>`);
  });
  groups.forEach((g, gi) => {
    const x0 = left + gi * gw + (gw - bw * series.length) / 2;
    series.forEach((s, si) => {
      const v = s.values[gi] ?? NaN;
      const label = labels[si * groups.length + gi]!;
      const h = Number.isFinite(v) ? v * scale : 0;
      const x = x0 + si * bw;
      parts.push(`<rect x="${x.toFixed(1)}" y="${(H - bottom - h).toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${s.color}"><title>${esc(`${s.name}, ${g}: ${Number.isFinite(v) ? String(Number(v.toPrecision(12))) : '-'}${unit ? ` ${unit}` : ''}`)}</title></rect>`);
      if (series.length * groups.length <= 12) parts.push(`<text x="${(x + bw / 2 - 1).toFixed(1)}" y="${(H - bottom - h - 4).toFixed(1)}" class="v" text-anchor="middle">${esc(label)}</text>`);
    });
    parts.push(`<text x="${(left + gi * gw + gw / 2).toFixed(1)}" y="${H - bottom + 18}" class="a" text-anchor="middle">${esc(g.length > 28 ? `${g.slice(0, 27)}…` : g)}</text>`);
  });
  let lx = left;
  for (const s of series) {
    parts.push(`<rect x="${lx}" y="${H - 22}" width="12" height="12" fill="${s.color}"/><text x="${lx + 16}" y="${H - 12}" class="a">${esc(s.name)}</text>`);
    lx += 30 + 7 * s.name.length;
  }
  parts.push('</svg>');
  return parts.join('');
}

function rate(n: number, d: number): number {
  return d > 0 ? (100 * n) / d : NaN;
}

/** What each geometry field of a sweep (`--sweep FIELD=ExW,...`) is. */
const GEOMETRY_FIELDS: Record<string, string> = {
  'l1d.k4': 'L1 data TLB, entries for 4 KiB pages',
  'l1d.m2': 'L1 data TLB, entries for 2 MiB (and 4 MiB) pages',
  'l1d.g1': 'L1 data TLB, entries for 1 GiB pages',
  'l1i.k4': 'L1 instruction TLB, entries for 4 KiB pages',
  'l1i.m2': 'L1 instruction TLB, entries for 2 MiB (and 4 MiB) pages',
  'l1i.g1': 'L1 instruction TLB, entries for 1 GiB pages',
  'l2.k4m2': 'second-level (shared) TLB, entries for 4 KiB and 2 MiB pages',
  'l2.g1': 'second-level TLB, entries for 1 GiB pages',
  'pwc.pml5e': 'paging-structure cache of PML5 entries',
  'pwc.pml4e': 'paging-structure cache of PML4 entries',
  'pwc.pdpte': 'paging-structure cache of PDPT entries',
  'pwc.pde': 'paging-structure cache of page-directory entries',
  nestedTlb: 'nested TLB: guest-physical to host-physical translations cached for SLAT walks',
};

/** What each mode's gauges (values at the end of the replay) are. */
const GAUGES: Record<string, string> = {
  'host.table.pages': 'naive: pages of the host page table (guest-physical to host-physical)',
  'shadow.pages': 'shadow: shadow page-table pages alive',
  'shadow.pages.synthetic': 'shadow: the tables a root builds above a 32-bit or PAE guest\'s top level (4-level shadow tables over a shorter guest tree; outside the budget)',
  'shadow.pages.max': 'shadow: the budget of shadow pages',
  'shadow.unsync.pages': 'shadow: shadow pages out of sync with their guest table',
  'shadow.shadowed.frames': 'shadow: guest frames write-protected because they are page tables',
  'shadow.rmap.entries': 'shadow: reverse-map entries (guest frame to the shadow entries mapping it)',
  'shadow.roots.cached': 'shadow: shadow roots kept in the root cache',
  'ept.table.pages': 'slat: pages of the EPT tables',
  'ept.mapped.frames': 'slat: guest frames mapped in the EPT',
};

const COUNTER_TEXT = new Map<string, string>(COUNTERS.map(([name, text]) => [name, text]));

/** One chart: its title, unit, caption (what it counts, by counter name), and the value of a run. */
interface ChartSpec {
  title: string;
  unit: string;
  caption: string;
  value: (r: MmuReport) => number;
  /** the modes it shows (default all) */
  modes?: (mode: string) => boolean;
  /** the series name of a mode (default the mode) */
  name?: (mode: string) => string;
}

const HOST_TLB = (m: string): string => (m === 'naive' ? 'naive (host TLB)' : m);
const HOST_WALKS = (m: string): string => (m === 'naive' ? 'naive (host walks)' : m);
const NAIVE_TLB_NOTE = "shadow and slat: the hardware TLB over the guest's accesses; naive: the host TLB over the emulator's own accesses to guest RAM (its data accesses and its software walks' reads), which is why it is labeled so";

const CHARTS: readonly ChartSpec[] = [
  {
    title: 'L1 data TLB miss rate', unit: '%', name: HOST_TLB,
    caption: `tlb.l1d.miss / (tlb.l1d.hit + tlb.l1d.miss). ${NAIVE_TLB_NOTE}.`,
    value: (r) => rate(r.counters['tlb.l1d.miss'], r.counters['tlb.l1d.hit'] + r.counters['tlb.l1d.miss']),
  },
  {
    title: 'L1 instruction TLB miss rate', unit: '%', modes: (m) => m !== 'naive',
    caption: "tlb.l1i.miss / (tlb.l1i.hit + tlb.l1i.miss), over the guest's instruction fetches. Shadow and slat only: naive translates fetches in its software virtual TLB, and its host TLB sees data accesses only.",
    value: (r) => rate(r.counters['tlb.l1i.miss'], r.counters['tlb.l1i.hit'] + r.counters['tlb.l1i.miss']),
  },
  {
    title: 'L2 TLB miss rate', unit: '%', name: HOST_TLB,
    caption: `tlb.l2.miss / (tlb.l2.hit + tlb.l2.miss): lookups that missed L1 and L2, each a hardware walk. ${NAIVE_TLB_NOTE}.`,
    value: (r) => rate(r.counters['tlb.l2.miss'], r.counters['tlb.l2.hit'] + r.counters['tlb.l2.miss']),
  },
  {
    title: "Naive's virtual TLB miss rate", unit: '%', modes: (m) => m === 'naive',
    caption: "sw.vtlb.miss / (sw.vtlb.hit + sw.vtlb.miss): naive's software TLB of guest translations (L1 and L2 together), each miss a software walk of the guest's tables (sw.walk.refs).",
    value: (r) => rate(r.counters['sw.vtlb.miss'], r.counters['sw.vtlb.hit'] + r.counters['sw.vtlb.miss']),
  },
  {
    title: 'Page-walk memory references', unit: 'total, hardware walks', name: HOST_WALKS,
    caption: 'walk.refs: the memory references of hardware walks, every dimension (walk.refs.guest + walk.refs.nested + walk.refs.shadow + walk.refs.host); naive: walks of the host table. Naive\'s software walks of the guest tables (sw.walk.refs) are in the tables below.',
    value: (r) => r.counters['walk.refs'],
  },
  {
    title: 'Memory references per walk', unit: 'references per hardware walk', name: HOST_WALKS,
    caption: 'walk.refs / walk.count: the references of the chart above, per walk.',
    value: (r) => (r.counters['walk.count'] > 0 ? r.counters['walk.refs'] / r.counters['walk.count'] : NaN),
  },
  { title: 'VM exits', unit: 'exits', caption: 'exit.total: VM exits for every reason (the reasons are in the tables below).', value: (r) => r.counters['exit.total'] },
  { title: 'Modeled cycles per access', unit: 'cycles', caption: 'Modeled cycles over the accesses counted (access.read + access.write + access.fetch).', value: (r) => r.cycles.perAccess },
  { title: 'Modeled cycles', unit: 'cycles', caption: 'Every counted event times its cost in the cost profile.', value: (r) => r.cycles.total },
];

/** Dotted names (counters, gauges, geometry fields) and exit reasons in `text` that the page explains. */
export function namesIn(text: string): string[] {
  const names = new Set<string>();
  for (const m of text.matchAll(/[a-z][a-zA-Z0-9_]*(?:\.[a-z0-9_]+)+|nestedTlb/g)) {
    const n = m[0]!;
    if (COUNTER_TEXT.has(n) || n in GAUGES || n in GEOMETRY_FIELDS) names.add(n);
  }
  return [...names].sort();
}

/** The glossary: every name in `names`, explained. */
function glossary(names: readonly string[], exitReasons: readonly string[], geometries: readonly string[]): string {
  const items: string[] = [];
  for (const n of names) {
    const text = COUNTER_TEXT.get(n) ?? GAUGES[n] ?? (GEOMETRY_FIELDS[n] !== undefined ? `TLB geometry field: ${GEOMETRY_FIELDS[n]}` : undefined);
    items.push(`<dt><code>${esc(n)}</code></dt><dd>${esc(text ?? '')}</dd>`);
  }
  for (const r of exitReasons) items.push(`<dt><code>${esc(r)}</code></dt><dd>${esc(`${COUNTER_TEXT.get(`exit.${r}`) ?? ''} (counter exit.${r})`)}</dd>`);
  if (geometries.some((g) => /=\d+x\d+/.test(g))) items.push('<dt><code>FIELD=ExW</code></dt><dd>a geometry of the sweep: the base geometry (--tlb, or Skylake) with the array FIELD set to E entries in W ways (E/W sets)</dd>');
  return `<dl class="names">\n${items.join('\n')}\n</dl>`;
}

/** The whole report page. `facts` are lines about the trace and the options. */
export function reportHtml(title: string, facts: readonly string[], runs: readonly ReportRun[]): string {
  const modes = [...new Set(runs.map((r) => r.mode))];
  const geos = [...new Set(runs.map((r) => r.geometry))];
  const find = (m: string, g: string): MmuReport | undefined => runs.find((r) => r.mode === m && r.geometry === g)?.report;
  const charts = CHARTS.map((ch) => {
    const shown = modes.filter(ch.modes ?? (() => true));
    if (shown.length === 0) return '';
    const series: Series[] = shown.map((m) => ({
      name: ch.name ? ch.name(m) : m, color: MODE_COLORS[m] ?? FALLBACK_COLORS[modes.indexOf(m) % FALLBACK_COLORS.length]!,
      values: geos.map((g) => { const r = find(m, g); return r ? ch.value(r) : NaN; }),
    }));
    return `<figure>${barChart(ch.title, ch.unit, geos, series)}<figcaption>${esc(ch.caption)}</figcaption></figure>`;
  }).filter((x) => x !== '');
  const exitReasons = new Set<string>();
  const tables = geos.map((g) => {
    const cols: Column[] = runs.filter((r) => r.geometry === g).map((r) => ({ label: r.mode, report: r.report }));
    const rows = comparisonRows(cols);
    for (const row of rows) {
      const reason = row[0]!.trim();
      if (row[0]!.startsWith('  ') && COUNTER_TEXT.has(`exit.${reason}`)) exitReasons.add(reason);
    }
    const head = `<tr><th></th>${cols.map((x) => `<th>${esc(x.label)}</th>`).join('')}</tr>`;
    const body = rows.map((row) => `<tr><td>${esc(row[0]!)}</td>${row.slice(1).map((cell) => `<td class="n">${esc(cell)}</td>`).join('')}</tr>`).join('\n');
    return `<h3>TLB geometry ${esc(g)}</h3>\n<table>${head}\n${body}</table>`;
  });
  const first = runs[0]?.report;
  const page = [...facts, ...geos, ...charts, ...tables].join('\n');
  const geometryFields = geos.flatMap((g) => [...g.matchAll(/([a-zA-Z0-9.]+)=/g)].map((m) => m[1]!)).filter((f) => f in GEOMETRY_FIELDS);
  const names = [...new Set([...namesIn(page), ...geometryFields])].sort();
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${esc(title)}</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 980px; color: #222; }
h1 { font-size: 1.5em; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; } h3 { margin-top: 1.5em; }
ul.facts { color: #444; } svg { display: block; margin: 1em 0 0.3em; }
figure { margin: 1.5em 0; } figcaption { color: #555; font-size: 12.5px; max-width: 720px; }
svg .t { font-weight: 600; font-size: 14px; } svg .a { font-size: 11px; fill: #444; } svg .v { font-size: 10px; fill: #222; }
svg .g { stroke: #e4e4e4; }
table { border-collapse: collapse; margin: 0.5em 0; } td, th { padding: 2px 10px; border-bottom: 1px solid #eee; text-align: left; }
td.n, th { text-align: right; } th:first-child { text-align: left; }
dl.names dt { float: left; clear: left; width: 13em; } dl.names dd { margin-left: 14em; color: #444; }
code { background: #f4f4f4; padding: 0 3px; }
</style>
</head>
<body>
<h1>${esc(title)}</h1>
<ul class="facts">
${facts.map((f) => `<li>${esc(f)}</li>`).join('\n')}
${first ? `<li>cost profile <code>${esc(first.costProfile.name)}</code> (cycles per event: docs/costs.md)</li>` : ''}
</ul>
<h2>Charts</h2>
${charts.join('\n')}
<h2>Counters</h2>
${tables.join('\n')}
<h2>Names on this page</h2>
${glossary(names, [...exitReasons].sort(), geos)}
</body>
</html>
`;
}
