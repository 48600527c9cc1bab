/** The soak parts, in the order npm run soak runs them. */
import { bootMatrix } from './boot-matrix.js';
import { mmuAdversary } from './mmu-adversary.js';
import { ptWriters } from './pt-writers.js';
import { repeats } from './repeats.js';
import { traceFuzz } from './trace-fuzz.js';

export interface SoakOptions {
  /** a time budget in seconds, or null for the part's default */
  seconds: number | null;
  seed: number;
  log: (line: string) => void;
}

export interface SoakPart {
  name: string;
  what: string;
  /** run only when asked for by name (--only NAME), not by a plain npm run soak */
  onlyWhenNamed?: boolean;
  /** Runs the part; returns a one-line summary, throws on the first failure. */
  run: (o: SoakOptions) => Promise<string>;
}

export const soaks: SoakPart[] = [mmuAdversary, ptWriters, repeats, traceFuzz, bootMatrix];
