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
import { bootMultiboot } from './boot.js';
import { comparisonText } from './table.js';

const USAGE = `usage: vmmu [command] [options]

commands:
  demo      translate a generated workload in every mode and print the costs
            side by side (the default)
  boot      run a guest kernel with the serial console on the terminal
  help      show this text

boot options:
  --multiboot FILE               a Multiboot v1 kernel (ELF or a.out kludge)
  --mode naive|shadow|slat       translation mode (default shadow)
  --append "..."                 the kernel command line
  --mem SIZE                     guest memory, e.g. 64M, 1G (default 64M)
  --max-instructions N           stop after N instructions
  --measure                      play every access through the cost model

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

/** Parses a memory size: bytes, or a number with K, M or G. */
function memorySize(v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const m = /^(\d+)([KMG]?)i?B?$/i.exec(v.trim());
  if (!m) throw new UsageError(`--mem must be a size like 64M or 1G, not '${v}'`);
  const n = Number(m[1]) * ({ '': 1, K: 1024, M: 1 << 20, G: 1 << 30 } as Record<string, number>)[m[2]!.toUpperCase()]!;
  if (n < 2 << 20) throw new UsageError(`--mem ${v} is below the 2M minimum`);
  return n;
}

function boot(args: string[]): number {
  const { values } = parseArgs({
    args,
    options: {
      multiboot: { type: 'string' },
      mode: { type: 'string' },
      append: { type: 'string' },
      mem: { type: 'string' },
      'max-instructions': { type: 'string' },
      measure: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.multiboot === undefined) throw new UsageError('boot needs --multiboot FILE');
  const mode = (values.mode ?? 'shadow') as ModeName;
  if (!MODE_NAMES.includes(mode)) throw new UsageError(`--mode: '${values.mode}' is not one of ${MODE_NAMES.join(', ')}`);
  const { result } = bootMultiboot({
    mode,
    multiboot: values.multiboot,
    cmdline: values.append ?? '',
    memory: memorySize(values.mem, 64 << 20),
    ...(values['max-instructions'] !== undefined ? { maxInstructions: positiveInt('max-instructions', values['max-instructions'], 0) } : {}),
    measure: values.measure ?? false,
  });
  if (result.reason === 'exit') return result.exitStatus === 1 ? 0 : 1;
  return result.reason === 'halted' ? 0 : 1;
}

export function main(argv: string[]): number {
  const [cmd, ...rest] = argv;
  try {
    let code = 0;
    match(cmd ?? 'demo')
      .with('demo', () => demo(cmd === undefined ? [] : rest))
      .with('boot', () => { code = boot(rest); })
      .with(P.union('help', '--help', '-h'), () => process.stdout.write(USAGE))
      .otherwise((c) => {
        throw new UsageError(`unknown command '${c}'`);
      });
    return code;
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
