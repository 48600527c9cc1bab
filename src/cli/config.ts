/**
 * User-supplied JSON: cost profiles and TLB geometries. Every mistake is
 * reported with the file, and the line and column or the field, never as a
 * stack trace.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { match, P } from 'ts-pattern';
import { MAX_TLB_ENTRIES } from './options.js';
import { DEFAULT_COST_PROFILE, type CostProfile, type TlbArrayGeometry, type TlbGeometry } from '../mmu/defaults.js';

/** A problem with a file the user gave: the message names the file and where. */
export class InputError extends Error {}

/** A system error as a person reads it: "no space left on device (ENOSPC)". */
export function errnoText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const code = typeof err?.code === 'string' ? err.code : undefined;
  const text: Record<string, string> = {
    ENOENT: 'no such file or directory', ENOTDIR: 'a part of the path is not a directory', EISDIR: 'it is a directory',
    EACCES: 'permission denied', EPERM: 'operation not permitted', EROFS: 'read-only file system',
    ENOSPC: 'no space left on device', EDQUOT: 'disk quota exceeded', EFBIG: 'file too large', EIO: 'input/output error',
    ENAMETOOLONG: 'file name too long', ELOOP: 'too many levels of symbolic links', ENXIO: 'no such device or address',
    EBUSY: 'device or resource busy', ETXTBSY: 'text file busy', EMFILE: 'too many open files', EXDEV: 'not on the same file system',
  };
  if (code === undefined) return e instanceof Error ? e.message : String(e);
  return `${text[code] ?? err.message} (${code})`;
}

/** What kind of file a stat describes, for "not a regular file" messages. */
function kindOf(st: { isDirectory(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isFIFO(): boolean; isSocket(): boolean }): string {
  return st.isDirectory() ? 'a directory' : st.isCharacterDevice() ? 'a character device' : st.isBlockDevice() ? 'a block device'
    : st.isFIFO() ? 'a pipe' : st.isSocket() ? 'a socket' : 'not a regular file';
}

/** "256 MiB", "3.5 KiB", "17 bytes". */
export function sizeText(bytes: number): string {
  if (bytes >= 1 << 20) return `${Number((bytes / (1 << 20)).toFixed(1))} MiB`;
  if (bytes >= 1 << 10) return `${Number((bytes / (1 << 10)).toFixed(1))} KiB`;
  return `${bytes} bytes`;
}

/**
 * Reads a whole input file that the user named, at most `limit` bytes:
 * only a regular file (a device such as /dev/zero, a pipe or a directory
 * is refused: it has no size to check), and one no larger than the limit.
 * `what` names the file in messages ("--initrd FILE", or just the path);
 * `limitText` says where the limit comes from. Throws InputError.
 */
export function readInputFile(path: string, what: string, limit: number, limitText: string): Buffer {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new InputError(`${what}: cannot open: ${errnoText(e)}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new InputError(`${what}: ${kindOf(st)}, not a regular file; give a file`);
    if (st.size > limit) throw new InputError(`${what}: ${sizeText(st.size)} is more than ${limitText}`);
    const buf = Buffer.allocUnsafe(st.size);
    let got = 0;
    while (got < st.size) {
      const n = readSync(fd, buf, got, st.size - got, got);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`${what}: cannot read: ${errnoText(e)}`);
  } finally {
    closeSync(fd);
  }
}

/** The largest JSON input (cost profiles, TLB geometries, sweep files, compare --results) read, in bytes. */
export const JSON_LIMIT = 16 << 20;

/**
 * Reads and parses a JSON file; syntax errors carry line and column.
 * `option` (e.g. "--tlb") is named in messages about the file itself.
 */
export function readJson(path: string, option?: string): unknown {
  const text = readInputFile(path, option === undefined ? path : `${option} ${path}`, JSON_LIMIT, `the ${sizeText(JSON_LIMIT)} that a JSON input may hold`).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    const at = jsonErrorOffset(text);
    const before = text.slice(0, at);
    const line = before.split('\n').length;
    const col = at - before.lastIndexOf('\n');
    const found = at < text.length ? `'${text[at]}'` : 'end of file';
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
  const v = readJson(path, '--cost-profile');
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
  if (typeof entries === 'number' && entries > MAX_TLB_ENTRIES) {
    throw new InputError(`${path}: '${field}': ${entries} entries is more than the limit of ${MAX_TLB_ENTRIES} for one modeled TLB array`);
  }
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
  return tlbGeometryFrom(readJson(path, '--tlb'), path);
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
    const v = readJson(spec, '--sweep');
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
