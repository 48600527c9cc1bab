/**
 * `vmmu compare`: a self-contained HTML report (inline CSS and SVG, no
 * script, no external resource) that opens in any browser without a server
 * or a network: charts of miss rates, walk references, VM exits and modeled
 * cycles per mode across the swept TLB geometries, and the full tables.
 */
import type { MmuReport } from '../mmu/index.js';
import { comparisonRows, num as fmt, type Column } from './table.js';

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

/** A grouped bar chart as inline SVG: one group per geometry, one bar per mode. */
export function barChart(title: string, unit: string, groups: readonly string[], series: readonly Series[]): string {
  const W = 720, H = 280, left = 70, right = 16, top = 36, bottom = 64;
  const max = Math.max(0, ...series.flatMap((s) => s.values.filter(Number.isFinite)));
  const scale = max > 0 ? (H - top - bottom) / (max * 1.08) : 0;
  const gw = (W - left - right) / Math.max(1, groups.length);
  const bw = Math.min(48, (gw * 0.8) / Math.max(1, series.length));
  const parts: string[] = [];
  parts.push(`<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}">`);
  parts.push(`<text x="${left}" y="20" class="t">${esc(title)}${unit ? ` (${esc(unit)})` : ''}</text>`);
  for (let k = 0; k <= 4; k++) {
    const v = (max * 1.08 * k) / 4;
    const y = H - bottom - v * scale;
    parts.push(`<line x1="${left}" x2="${W - right}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" class="g"/><text x="${left - 6}" y="${(y + 4).toFixed(1)}" class="a" text-anchor="end">${esc(fmt(v))}</text>`);
  }
  groups.forEach((g, gi) => {
    const x0 = left + gi * gw + (gw - bw * series.length) / 2;
    series.forEach((s, si) => {
      const v = s.values[gi] ?? NaN;
      const h = Number.isFinite(v) ? v * scale : 0;
      const x = x0 + si * bw;
      parts.push(`<rect x="${x.toFixed(1)}" y="${(H - bottom - h).toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${s.color}"><title>${esc(`${s.name}, ${g}: ${fmt(v)}${unit ? ` ${unit}` : ''}`)}</title></rect>`);
      if (series.length * groups.length <= 12) parts.push(`<text x="${(x + bw / 2 - 1).toFixed(1)}" y="${(H - bottom - h - 4).toFixed(1)}" class="v" text-anchor="middle">${esc(fmt(v))}</text>`);
    });
    parts.push(`<text x="${(left + gi * gw + gw / 2).toFixed(1)}" y="${H - bottom + 18}" class="a" text-anchor="middle">${esc(g.length > 28 ? `${g.slice(0, 27)}…` : g)}</text>`);
  });
  series.forEach((s, si) => {
    const x = left + si * 110;
    parts.push(`<rect x="${x}" y="${H - 22}" width="12" height="12" fill="${s.color}"/><text x="${x + 16}" y="${H - 12}" class="a">${esc(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

function rate(n: number, d: number): number {
  return d > 0 ? (100 * n) / d : NaN;
}

/** The whole report page. `facts` are lines about the trace and the options. */
export function reportHtml(title: string, facts: readonly string[], runs: readonly ReportRun[]): string {
  const modes = [...new Set(runs.map((r) => r.mode))];
  const geos = [...new Set(runs.map((r) => r.geometry))];
  const find = (m: string, g: string): MmuReport | undefined => runs.find((r) => r.mode === m && r.geometry === g)?.report;
  const series = (f: (r: MmuReport) => number): Series[] => modes.map((m, i) => ({
    name: m, color: MODE_COLORS[m] ?? FALLBACK_COLORS[i % FALLBACK_COLORS.length]!,
    values: geos.map((g) => { const r = find(m, g); return r ? f(r) : NaN; }),
  }));
  const c = (r: MmuReport, k: keyof MmuReport['counters']): number => r.counters[k];
  const charts = [
    barChart('L1 data TLB miss rate', '%', geos, series((r) => rate(c(r, 'tlb.l1d.miss'), c(r, 'tlb.l1d.hit') + c(r, 'tlb.l1d.miss')))),
    barChart('L2 TLB miss rate', '%', geos, series((r) => rate(c(r, 'tlb.l2.miss'), c(r, 'tlb.l2.hit') + c(r, 'tlb.l2.miss')))),
    barChart('Page-walk memory references', 'total', geos, series((r) => c(r, 'walk.refs') + c(r, 'sw.walk.refs'))),
    barChart('Memory references per walk', '', geos, series((r) => (c(r, 'walk.count') > 0 ? c(r, 'walk.refs') / c(r, 'walk.count') : NaN))),
    barChart('VM exits', 'total', geos, series((r) => c(r, 'exit.total'))),
    barChart('Modeled cycles per access', 'cycles', geos, series((r) => r.cycles.perAccess)),
    barChart('Modeled cycles', 'total', geos, series((r) => r.cycles.total)),
  ];
  const tables = geos.map((g) => {
    const cols: Column[] = runs.filter((r) => r.geometry === g).map((r) => ({ label: r.mode, report: r.report }));
    const rows = comparisonRows(cols);
    const head = `<tr><th></th>${cols.map((x) => `<th>${esc(x.label)}</th>`).join('')}</tr>`;
    const body = rows.map((row) => `<tr><td>${esc(row[0]!)}</td>${row.slice(1).map((cell) => `<td class="n">${esc(cell)}</td>`).join('')}</tr>`).join('\n');
    return `<h3>TLB geometry ${esc(g)}</h3>\n<table>${head}\n${body}</table>`;
  });
  const first = runs[0]?.report;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${esc(title)}</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 980px; color: #222; }
h1 { font-size: 1.5em; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; } h3 { margin-top: 1.5em; }
ul.facts { color: #444; } svg { display: block; margin: 1em 0; }
svg .t { font-weight: 600; font-size: 14px; } svg .a { font-size: 11px; fill: #444; } svg .v { font-size: 10px; fill: #222; }
svg .g { stroke: #e4e4e4; }
table { border-collapse: collapse; margin: 0.5em 0; } td, th { padding: 2px 10px; border-bottom: 1px solid #eee; text-align: left; }
td.n, th { text-align: right; } th:first-child { text-align: left; }
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
</body>
</html>
`;
}
