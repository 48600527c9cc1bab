/**
 * A short, deterministic fuzz run of the trace readers (the long one is
 * `npm run soak -- --only trace-fuzz`): damaged and crafted binary traces
 * and text traces (lackey, cache-lab, pinatrace, plain and gzipped) each
 * read, or are refused with the reader's own error naming a location;
 * never another exception.
 */
import { describe, expect, it } from 'vitest';
import { caseSeed, FuzzFailure, fuzzCase, fuzzRun, newTally, outcomeOf, Rng } from '../../soak/trace-fuzz.js';
import { TraceError } from '../../src/trace/format.js';
import { ImportError } from '../../src/trace/importers.js';

describe('fuzzing the trace readers', () => {
  it('do 240 damaged binary and text traces (seed 1) each read or fail with the reader\'s own error and a location?', async () => {
    const t = await fuzzRun(1, 0, 240);
    expect(t.inputs).toBe(240);
    expect(t.vmt).toBe(120);
    expect(t.text).toBe(120);
    expect(t.reads).toBe(120 + 120 * 5); // a text input is read as lackey, cache-lab, pinatrace and ChampSim records, and detected
    expect(t.parsed + t.rejected).toBe(t.reads);
    // the mutations reach both ends: some inputs still read, most are refused
    expect(t.parsed).toBeGreaterThan(30);
    expect(t.rejected).toBeGreaterThan(240);
  });

  it('does another seed run clean too, and is a run the same every time?', async () => {
    const a = await fuzzRun(20240607, 0, 60);
    const b = await fuzzRun(20240607, 0, 60);
    expect(a).toEqual(b);
  });

  it('does the harness fail on another exception type, or on the reader\'s error without a location, naming the seed and case?', async () => {
    const where = /\boffset \d+/;
    await expect(outcomeOf(async () => { throw new TypeError('x is undefined'); }, '/f', TraceError, where)).rejects.toThrow(FuzzFailure);
    await expect(outcomeOf(async () => { throw new TraceError('/f: corrupt somewhere'); }, '/f', TraceError, where)).rejects.toThrow(/not the reader's own error with a location: TraceError: \/f: corrupt somewhere/);
    await expect(outcomeOf(async () => { throw new ImportError('/f: bad at offset 3'); }, '/f', TraceError, where)).rejects.toThrow(FuzzFailure);
    expect(await outcomeOf(async () => { throw new TraceError('/f: bad at offset 3'); }, '/f', TraceError, where)).toBe('rejected');
    expect(await outcomeOf(async () => {}, '/f', TraceError, where)).toBe('parsed');
    // a case that cannot even write its input fails with the seed and the case number
    await expect(fuzzCase(7, 3, '/nonexistent-dir', newTally())).rejects.toThrow(/^trace-fuzz seed 7 case 3 \(/);
  });

  it('are the cases seeded apart (no two neighbours share a random stream)?', () => {
    const firsts = new Set<number>();
    for (let i = 0; i < 1000; i++) firsts.add(new Rng(caseSeed(1, i)).next());
    expect(firsts.size).toBe(1000);
  });
});
