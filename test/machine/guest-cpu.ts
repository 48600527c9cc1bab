/**
 * The CPU features a test kernel needs beyond the defaults, as a `--cpu`
 * specification (src/cpu/features.ts), from its `cpu` field in
 * test/guests/guests.json ('' when it has none): `access` needs SMEP and
 * SMAP, which the default CPU does not advertise.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const list = (JSON.parse(readFileSync(fileURLToPath(new URL('../guests/guests.json', import.meta.url)), 'utf8')) as { guests: { name: string; cpu?: string }[] }).guests;

export function guestCpu(name: string): string {
  return list.find((g) => g.name === name)?.cpu ?? '';
}
