/**
 * The busybox applet check reads the binary's applet name table instead of
 * running the i386 binary, so that `npm run guests` checks it on any host.
 */
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureGuests } from '../../src/guests/build.js';
import { readAppletNames } from '../../src/guests/busybox.js';
import { APPLETS } from '../../src/guests/init-scripts.js';
import { guestFiles } from '../../src/guests/paths.js';
import { bookworm, fakeBusybox, FakeSource } from './fake-source.js';

describe('reading the applet name table', () => {
  it('does Debian\'s busybox (the guests cache) give its sorted table, with every applet the images link?', () => {
    const names = readAppletNames(readFileSync(guestFiles().busybox));
    expect(names).not.toBeNull();
    // busybox-static 1:1.35.0-4+deb12u1+b1: 269 applets, "[" first and "zcat" last, as `busybox --list` prints them
    expect(names!.length).toBeGreaterThan(200);
    expect(names![0]).toBe('[');
    expect(names).toEqual([...names!].sort());
    expect(APPLETS.filter((a) => !names!.includes(a))).toEqual([]);
  });

  it('is the table found between other strings, and its end taken at the double NUL?', () => {
    const applets = ['sh', 'mount', 'cat', 'wc', 'md5sum', 'poweroff', 'uname', 'setsid', 'cttyhack', 'echo', 'seq', 'ls', 'mkdir', 'sleep', 'true', '[', '[['];
    expect(readAppletNames(fakeBusybox('busybox', applets))).toEqual([...applets].sort());
  });

  it('what if there is no table, or only a short sorted run of names?', () => {
    expect(readAppletNames(fakeBusybox())).toBeNull();
    expect(readAppletNames(new TextEncoder().encode('\0a\0b\0c\0d\0e\0'))).toBeNull();
    expect(readAppletNames(new Uint8Array(0))).toBeNull();
  });
});

describe('`npm run guests` checks the applets without running busybox', () => {
  let cacheDir: string;
  beforeEach(() => {
    cacheDir = mkdtempSync(join(tmpdir(), 'vmmu-guests-busybox-'));
  });
  afterEach(() => {
    rmSync(cacheDir, { recursive: true, force: true });
  });
  const withBusybox = (binary: Uint8Array): FakeSource => {
    const packages = bookworm();
    packages.get('busybox-static')!.files['bin/busybox'] = binary;
    return new FakeSource(packages);
  };

  it('is a busybox whose table lacks an applet refused, by default (no listApplets given)?', () => {
    const source = withBusybox(fakeBusybox('busybox', APPLETS.filter((a) => a !== 'cttyhack')));
    expect(() => ensureGuests({ cacheDir, source })).toThrow(/this busybox lacks applets the images link: cttyhack/);
  });

  it('is a busybox whose table has them all accepted, and is nothing said about it?', () => {
    const said: string[] = [];
    const r = ensureGuests({ cacheDir, source: withBusybox(fakeBusybox('busybox', APPLETS)), say: (l) => said.push(l) });
    expect(r.rebuilt).toContain('busybox');
    expect(said.filter((l) => l.includes('applet'))).toEqual([]);
  });

  it('without a table, does it say what was not checked and how to check it, without blaming the host?', () => {
    const said: string[] = [];
    ensureGuests({ cacheDir, source: withBusybox(fakeBusybox()), say: (l) => said.push(l) });
    const note = said.find((l) => l.includes('applet'));
    expect(note).toMatch(/no applet name table found in busybox\/busybox.*not checked.*--qemu/);
    expect(note).not.toMatch(/cannot run/);
  });
});
