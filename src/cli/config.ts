/**
 * User-supplied JSON: cost profiles and TLB geometries. Every mistake is
 * reported with the file, and the line and column or the field, never as a
 * stack trace.
 */
import { existsSync, readFileSync } from 'node:fs';
import { match, P } from 'ts-pattern';
import { DEFAULT_COST_PROFILE, type CostProfile, type TlbArrayGeometry, type TlbGeometry } from '../mmu/defaults.js';

/** A problem with a file the user gave: the message names the file and where. */
export class InputError extends Error {}

/**
 * Refuses to replace an existing file named as an output (a trace that
 * took an hour to record, or the input itself), unless `force`.
 */
export function checkNewOutput(path: string, option: string, force: boolean): void {
  if (!force && existsSync(path)) {
    throw new InputError(`${path} exists, and ${option} does not replace files: remove it, choose another name, or add --force`);
  }
}

/** Reads and parses a JSON file; syntax errors carry line and column. */
export function readJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new InputError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    const at = jsonErrorOffset(text);
    const before = text.slice(0, at);
    const line = before.split('\n').length;
    const col = at - before.lastIndexOf('\n');
    const found = at < text.length ? `'${text[at]}'` : 'the end of the file';
    throw new InputError(`${path}:${line}:${col}: invalid JSON: unexpected ${found}`);
  }
}

/**
 * The offset of the first character that makes `text` invalid JSON (RFC
 * 8259), found by a small recursive-descent scan; Node's own messages do not
 * always say where.
 */
export function jsonErrorOffset(text: string): number {
  let i = 0;
  const ws = (): void => { while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++; };
  const fail = (): never => { throw i; };
  const literal = (word: string): void => { if (text.startsWith(word, i)) i += word.length; else fail(); };
  const string = (): void => {
    i++;
    while (i < text.length && text[i] !== '"') {
      if (text[i] === '\\') {
        i++;
        if (text[i] === 'u') { if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) fail(); i += 4; }
        else if (!'"\\/bfnrt'.includes(text[i] ?? 'x')) fail();
      } else if (text.charCodeAt(i) < 0x20) fail();
      i++;
    }
    if (i >= text.length) fail();
    i++;
  };
  const number = (): void => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
    if (!m || m[0] === '' || m[0] === '-') fail();
    i += m![0].length;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++; ws();
      if (text[i] === '}') { i++; return; }
      for (;;) {
        ws();
        if (text[i] !== '"') fail();
        string(); ws();
        if (text[i] !== ':') fail();
        i++; value(); ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === '}') { i++; return; }
        fail();
      }
    } else if (c === '[') {
      i++; ws();
      if (text[i] === ']') { i++; return; }
      for (;;) {
        value(); ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === ']') { i++; return; }
        fail();
      }
    } else if (c === '"') string();
    else if (c === 't') literal('true');
    else if (c === 'f') literal('false');
    else if (c === 'n') literal('null');
    else if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) number();
    else fail();
  };
  try {
    value(); ws();
    return i < text.length ? i : text.length;
  } catch (at) {
    return at as number;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Loads a cost profile: a JSON object with any subset of CostProfile's
 * fields (numbers of cycles, at least 0; `name` a string). Missing fields
 * keep the defaults; unknown fields are an error.
 */
export function loadCostProfile(path: string): CostProfile {
  const v = readJson(path);
  if (!isObject(v)) throw new InputError(`${path}: a cost profile must be a JSON object`);
  const out: Record<string, number | string> = { ...DEFAULT_COST_PROFILE, name: path };
  for (const [k, x] of Object.entries(v)) {
    if (!(k in DEFAULT_COST_PROFILE)) throw new InputError(`${path}: unknown cost-profile field '${k}' (known: ${Object.keys(DEFAULT_COST_PROFILE).join(', ')})`);
    match([k, x])
      .with(['name', P.string], ([, s]) => { out.name = s; })
      .with(['name', P._], () => { throw new InputError(`${path}: field 'name' must be a string`); })
      .with([P._, P.number.gte(0)], ([key, n]) => { if (!Number.isFinite(n)) throw new InputError(`${path}: field '${key}' must be finite`); out[key] = n; })
      .otherwise(([key]) => { throw new InputError(`${path}: field '${key}' must be a number of cycles >= 0, not ${JSON.stringify(x)}`); });
  }
  return out as unknown as CostProfile;
}

function arrayGeometry(path: string, field: string, v: unknown, optional: boolean): TlbArrayGeometry | undefined {
  if (v === undefined && optional) return undefined;
  if (!isObject(v) || typeof v.entries !== 'number' || typeof v.ways !== 'number') {
    throw new InputError(`${path}: '${field}' must be { "entries": N, "ways": W }`);
  }
  for (const k of Object.keys(v)) if (k !== 'entries' && k !== 'ways') throw new InputError(`${path}: unknown field '${field}.${k}'`);
  const { entries, ways } = v;
  if (!Number.isInteger(entries) || entries < 0 || !Number.isInteger(ways) || ways < 1 || (entries > 0 && entries % ways !== 0)) {
    throw new InputError(`${path}: '${field}': ${entries} entries cannot be split into ${ways}-way sets`);
  }
  const sets = entries / ways;
  if (entries > 0 && (sets & (sets - 1)) !== 0) throw new InputError(`${path}: '${field}': ${sets} sets is not a power of two`);
  return { entries, ways };
}

function section(path: string, v: Record<string, unknown>, name: string, fields: readonly string[]): Record<string, unknown> {
  const s = v[name];
  if (!isObject(s)) throw new InputError(`${path}: '${name}' must be an object with ${fields.join(', ')}`);
  for (const k of Object.keys(s)) if (!fields.includes(k)) throw new InputError(`${path}: unknown field '${name}.${k}' (known: ${fields.join(', ')})`);
  return s;
}

/** Loads a TLB geometry in the shape of TlbGeometry (see docs/costs.md). */
export function loadTlbGeometry(path: string): TlbGeometry {
  return tlbGeometryFrom(readJson(path), path);
}

/**
 * Validates a TLB geometry object (`path` names where it came from in
 * messages, e.g. "sweep.json[2]"). Throws InputError naming the field.
 */
export function tlbGeometryFrom(v: unknown, path: string): TlbGeometry {
  if (!isObject(v)) throw new InputError(`${path}: a TLB geometry must be a JSON object`);
  const known = ['name', 'l1d', 'l1i', 'l2', 'pwc', 'nestedTlb'];
  for (const k of Object.keys(v)) if (!known.includes(k)) throw new InputError(`${path}: unknown field '${k}' (known: ${known.join(', ')})`);
  const l1d = section(path, v, 'l1d', ['k4', 'm2', 'g1']);
  const l1i = section(path, v, 'l1i', ['k4', 'm2', 'g1']);
  const l2 = section(path, v, 'l2', ['k4m2', 'g1']);
  const pwc = section(path, v, 'pwc', ['pml5e', 'pml4e', 'pdpte', 'pde']);
  const g = (f: string, x: unknown): TlbArrayGeometry => arrayGeometry(path, f, x, false)!;
  const opt = (f: string, x: unknown): TlbArrayGeometry | undefined => arrayGeometry(path, f, x, true);
  return {
    name: typeof v.name === 'string' ? v.name : path,
    l1d: { k4: g('l1d.k4', l1d.k4), m2: g('l1d.m2', l1d.m2), ...(l1d.g1 !== undefined ? { g1: opt('l1d.g1', l1d.g1)! } : {}) },
    l1i: { k4: g('l1i.k4', l1i.k4), m2: g('l1i.m2', l1i.m2), ...(l1i.g1 !== undefined ? { g1: opt('l1i.g1', l1i.g1)! } : {}) },
    l2: { k4m2: g('l2.k4m2', l2.k4m2), ...(l2.g1 !== undefined ? { g1: opt('l2.g1', l2.g1)! } : {}) },
    pwc: { pml5e: g('pwc.pml5e', pwc.pml5e), pml4e: g('pwc.pml4e', pwc.pml4e), pdpte: g('pwc.pdpte', pwc.pdpte), pde: g('pwc.pde', pwc.pde) },
    nestedTlb: g('nestedTlb', v.nestedTlb),
  };
}

/** The geometry fields a sweep can vary, as "section.field". */
export const SWEEP_FIELDS = ['l1d.k4', 'l1d.m2', 'l1d.g1', 'l1i.k4', 'l1i.m2', 'l1i.g1', 'l2.k4m2', 'l2.g1', 'pwc.pml5e', 'pwc.pml4e', 'pwc.pdpte', 'pwc.pde', 'nestedTlb'] as const;

/**
 * A list of TLB geometries to sweep. `spec` is either a JSON file holding an
 * array of geometries (each in the shape of --tlb), or FIELD=ExW,ExW,...:
 * variants of `base` with one array (e.g. l2.k4m2) set to E entries, W ways.
 * Throws InputError (file) or RangeError (spec) naming what is wrong.
 */
export function parseSweep(spec: string, base: TlbGeometry): TlbGeometry[] {
  if (spec.endsWith('.json')) {
    const v = readJson(spec);
    if (!Array.isArray(v) || v.length === 0) throw new InputError(`${spec}: a sweep file must hold a non-empty JSON array of TLB geometries`);
    return v.map((g, i) => tlbGeometryFrom(g, `${spec}[${i}]`));
  }
  const m = /^([a-z0-9.]+)=(.+)$/i.exec(spec);
  if (!m) throw new RangeError(`--sweep '${spec}': expected FILE.json or FIELD=ENTRIESxWAYS,... (e.g. l2.k4m2=512x4,1536x12)`);
  const field = m[1]!;
  if (!(SWEEP_FIELDS as readonly string[]).includes(field)) throw new RangeError(`--sweep: unknown geometry field '${field}' (known: ${SWEEP_FIELDS.join(', ')})`);
  return m[2]!.split(',').map((item) => {
    const em = /^(\d+)x(\d+)$/.exec(item.trim());
    if (!em) throw new RangeError(`--sweep: '${item}' is not ENTRIESxWAYS (e.g. 512x4)`);
    const entries = Number(em[1]), ways = Number(em[2]);
    const g = arrayGeometry(`--sweep ${field}=${item}`, field, { entries, ways }, false)!;
    const name = `${field}=${entries}x${ways}`;
    const [sec, key] = field.split('.') as [string, string | undefined];
    const copy = JSON.parse(JSON.stringify(base)) as Record<string, unknown>;
    if (key === undefined) copy[sec] = g;
    else (copy[sec] as Record<string, unknown>)[key] = g;
    copy.name = name;
    return copy as unknown as TlbGeometry;
  });
}

/** A one-line description of a geometry: entries x ways of each array. */
export function describeGeometry(g: TlbGeometry): string {
  const a = (x: TlbArrayGeometry | undefined): string => (x === undefined ? '-' : `${x.entries}x${x.ways}`);
  return `L1d 4K ${a(g.l1d.k4)} 2M ${a(g.l1d.m2)} 1G ${a(g.l1d.g1)}; L1i 4K ${a(g.l1i.k4)} 2M ${a(g.l1i.m2)} 1G ${a(g.l1i.g1)}; `
    + `L2 4K+2M ${a(g.l2.k4m2)} 1G ${a(g.l2.g1)}; PWC PML5E ${a(g.pwc.pml5e)} PML4E ${a(g.pwc.pml4e)} PDPTE ${a(g.pwc.pdpte)} PDE ${a(g.pwc.pde)}; nested TLB ${a(g.nestedTlb)}`;
}
