#!/usr/bin/env node
/**
 * The `vmmu` command. Without arguments it runs the built-in demonstration.
 */
import { parseArgs } from 'node:util';
import { match, P } from 'ts-pattern';
import { MODE_NAMES, type ModeName } from '../mmu/modes/mode.js';
import { OS_FORMATS, type OsFormat } from '../workload/synthetic-os.js';
import { DEMO_DEFAULTS, runDemo, type DemoOptions } from './demo.js';
import { InputError, loadCostProfile, loadTlbGeometry } from './config.js';
import { comparisonText } from './table.js';

const USAGE = `usage: vmmu [command] [options]

commands:
  demo      translate a generated workload in every mode and print the costs
            side by side (the default)
  help      show this text

demo options:
  --mode naive|shadow|slat|all   modes to run (default all)
  --format 32-bit|pae|4-level|5-level
                                 guest paging format (default 4-level)
  --accesses N                   guest accesses per mode (default 2000000)
  --processes N                  processes, switched round robin (default 4)
  --working-set N                pages per process (default 2048)
  --cost-profile FILE.json       cycle costs (any subset of the fields in docs/costs.md)
  --tlb FILE.json                modeled TLB geometry (the shape in docs/costs.md)
  --json                         print the reports as JSON
`;

/** A command-line mistake: printed without a stack trace, exit status 2. */
export class UsageError extends Error {}

function positiveInt(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--${name} must be a positive integer, not '${v}'`);
  return n;
}

function modesOf(v: string | undefined): ModeName[] {
  if (v === undefined || v === 'all') return [...MODE_NAMES];
  const out = v.split(',').map((m) => m.trim());
  for (const m of out) if (!MODE_NAMES.includes(m as ModeName)) throw new UsageError(`--mode: '${m}' is not one of ${MODE_NAMES.join(', ')}, all`);
  return out as ModeName[];
}

function demo(args: string[]): void {
  const { values } = parseArgs({
    args,
    options: {
      mode: { type: 'string' },
      format: { type: 'string' },
      accesses: { type: 'string' },
      processes: { type: 'string' },
      'working-set': { type: 'string' },
      'cost-profile': { type: 'string' },
      tlb: { type: 'string' },
      json: { type: 'boolean' },
    },
    strict: true,
  });
  const format = (values.format ?? DEMO_DEFAULTS.format) as OsFormat;
  if (!OS_FORMATS.includes(format)) throw new UsageError(`--format: '${values.format}' is not one of ${OS_FORMATS.join(', ')}`);
  const o: DemoOptions = {
    ...DEMO_DEFAULTS,
    modes: modesOf(values.mode),
    format,
    accesses: positiveInt('accesses', values.accesses, DEMO_DEFAULTS.accesses),
    processes: positiveInt('processes', values.processes, DEMO_DEFAULTS.processes),
    workingSet: positiveInt('working-set', values['working-set'], DEMO_DEFAULTS.workingSet),
    ...(values['cost-profile'] !== undefined ? { costProfile: loadCostProfile(values['cost-profile']) } : {}),
    ...(values.tlb !== undefined ? { tlb: loadTlbGeometry(values.tlb) } : {}),
  };
  if (o.workingSet < 128) throw new UsageError('--working-set must be at least 128 pages');
  const cols = o.modes.map((m) => runDemo(m, o));
  if (values.json) {
    console.log(JSON.stringify({ workload: o, runs: cols.map((c) => ({ seconds: c.seconds, ...c.report })) }, null, 2));
    return;
  }
  console.log(`vmmu demo: ${o.accesses} guest accesses per mode, ${o.processes} processes x ${o.workingSet} pages, ${o.format} guest paging`);
  console.log(`TLB geometry ${cols[0]!.report.tlb.name}, cost profile ${cols[0]!.report.costProfile.name} (see docs/costs.md)\n`);
  console.log(comparisonText(cols));
}

export function main(argv: string[]): number {
  const [cmd, ...rest] = argv;
  try {
    match(cmd ?? 'demo')
      .with('demo', () => demo(cmd === undefined ? [] : rest))
      .with(P.union('help', '--help', '-h'), () => process.stdout.write(USAGE))
      .otherwise((c) => {
        throw new UsageError(`unknown command '${c}'`);
      });
    return 0;
  } catch (e) {
    if (e instanceof UsageError || (e instanceof TypeError && 'code' in e && String(e.code).startsWith('ERR_PARSE_ARGS'))) {
      process.stderr.write(`vmmu: ${e.message}\n${USAGE}`);
      return 2;
    }
    if (e instanceof RangeError || e instanceof InputError) {
      process.stderr.write(`vmmu: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

process.exitCode = main(process.argv.slice(2));
