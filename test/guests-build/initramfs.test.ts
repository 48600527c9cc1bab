/**
 * The initramfs images and their /init scripts, built around a stand-in
 * busybox (no download): layout, device nodes, reproducibility, shell
 * syntax, and the checker that reads a guest's console output.
 */
import { spawnSync } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { S_IFCHR, S_IFDIR, S_IFLNK, S_IFREG } from '../../src/guests/cpio.js';
import {
  APPLETS, BATCH_INIT, FORK_LOOP_TOTAL, FORK_LOOP_ITERATIONS, missingBatchLines, SEQ_COUNT, SEQ_MD5, SHELL_INIT,
  stripTerminalControls,
} from '../../src/guests/init-scripts.js';
import { buildInitramfs, initramfsRecipe, INIT_SCRIPTS, type InitramfsVariant } from '../../src/guests/initramfs.js';
import { readNewc } from './newc-reader.js';

const FAKE_BUSYBOX = new TextEncoder().encode('not really busybox');
const VARIANTS: InitramfsVariant[] = ['batch', 'shell'];

/** Shell keywords and builtins the scripts use as commands (not applets). */
const SHELL_WORDS = new Set(['while', 'do', 'done', 'export', 'cd', 'echo', '[']);

/** The command words of a shell script: the first word of each simple command, after any NAME=value prefixes. */
function commandWords(script: string): string[] {
  const words: string[] = [];
  const start = /(?:^|[|;]|\$\(|&&|\bdo\b|\bthen\b)\s*((?:[A-Za-z_]\w*=(?:'[^']*'|"[^"]*"|[^\s$(]*)\s+)*)([^\s;|()$"']+)/gm;
  // Quoted text is not a command: keep quotes (for assignments) and $(...) inside double quotes, drop separators.
  const unquoted = script.replace(/'[^']*'/g, "''").replace(/"[^"]*"/g, (q) => q.replace(/[;|]/g, ' '));
  for (const line of unquoted.split('\n')) {
    if (line.trim().startsWith('#')) continue;
    for (const m of line.matchAll(start)) {
      const word = m[2]!;
      if (/^[A-Za-z_]\w*=/.test(word)) continue; // an assignment on its own
      words.push(word);
    }
  }
  return words;
}

describe('the images', () => {
  for (const variant of VARIANTS) {
    it(`does the ${variant} image unpack to busybox, its links, the console devices and an executable /init?`, () => {
      const members = readNewc(gunzipSync(buildInitramfs(variant, FAKE_BUSYBOX)));
      const byName = new Map(members.map((m) => [m.name, m]));
      const device = (name: string): [number, number, number] => {
        const m = byName.get(name)!;
        return [m.mode, m.rdevMajor, m.rdevMinor];
      };
      expect(device('dev/console')).toEqual([S_IFCHR | 0o600, 5, 1]);
      expect(device('dev/ttyS0')).toEqual([S_IFCHR | 0o660, 4, 64]);
      expect(device('dev/null')).toEqual([S_IFCHR | 0o666, 1, 3]);
      expect(byName.get('bin/busybox')!.mode).toBe(S_IFREG | 0o755);
      expect(Buffer.from(byName.get('bin/busybox')!.data).equals(Buffer.from(FAKE_BUSYBOX))).toBe(true);
      expect(byName.get('init')!.mode).toBe(S_IFREG | 0o755);
      expect(new TextDecoder().decode(byName.get('init')!.data)).toBe(INIT_SCRIPTS[variant]);
      for (const d of ['proc', 'sys', 'tmp', 'root', 'dev', 'bin']) expect(byName.get(d)!.mode & 0o170000).toBe(S_IFDIR);
      expect(byName.get('tmp')!.mode & 0o7777).toBe(0o1777);
      for (const applet of APPLETS) {
        const link = byName.get(`bin/${applet}`);
        expect(link?.mode, applet).toBe(S_IFLNK | 0o777);
        expect(new TextDecoder().decode(link!.data)).toBe('busybox');
      }
    });
  }

  it('is an image built twice the same bytes?', () => {
    const a = buildInitramfs('batch', FAKE_BUSYBOX);
    const b = buildInitramfs('batch', FAKE_BUSYBOX);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
  });

  it('do the two variants differ only in /init, and does the recipe tell them apart?', () => {
    const names = (v: InitramfsVariant): string[] => readNewc(gunzipSync(buildInitramfs(v, FAKE_BUSYBOX))).map((m) => m.name);
    expect(names('batch')).toEqual(names('shell'));
    expect(initramfsRecipe('batch')).not.toBe(initramfsRecipe('shell'));
    expect(initramfsRecipe('batch')).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('the /init scripts', () => {
  for (const variant of VARIANTS) {
    it(`is the ${variant} /init valid POSIX sh (sh -n)?`, () => {
      const r = spawnSync('sh', ['-n'], { input: INIT_SCRIPTS[variant], encoding: 'utf8' });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    });

    it(`does every command the ${variant} /init runs exist in the image?`, () => {
      const names = new Set(readNewc(gunzipSync(buildInitramfs(variant, FAKE_BUSYBOX))).map((m) => m.name));
      const words = commandWords(INIT_SCRIPTS[variant]);
      expect(words).toEqual(expect.arrayContaining(variant === 'batch' ? ['mount', 'uname', '/bin/cat', '/bin/wc', '/bin/md5sum', 'poweroff'] : ['mount', '/bin/busybox', 'setsid', 'poweroff']));
      for (const word of words) {
        if (SHELL_WORDS.has(word)) continue;
        expect(names, `${word} in the ${variant} /init`).toContain(word.startsWith('/') ? word.slice(1) : `bin/${word}`);
      }
    });
  }

  it('does `sh -n` catch a broken script (so the checks above mean something)?', () => {
    const r = spawnSync('sh', ['-n'], { input: 'while true; do\necho x\n', encoding: 'utf8' });
    expect(r.status).not.toBe(0);
  });

  it('does the batch loop, run by the host\'s sh, print the total and checksum the guest must print?', () => {
    // The same script body on the host: only the guest-specific lines (mounts, uname, poweroff) are dropped
    // and /bin paths made plain, so this checks the expected values, not the host.
    const body = BATCH_INIT.split('\n')
      .filter((l) => !/^(mount|poweroff|echo "VMMU-UNAME)/.test(l))
      .join('\n')
      .replace(/\/bin\/(\w+)/g, '$1')
      .replace(/\/tmp\/seq\.txt/g, '"$SEQ_FILE"')
      .replace('export PATH=/bin', '');
    const r = spawnSync('sh', ['-c', `SEQ_FILE=$(mktemp)\n${body}\nrm -f "$SEQ_FILE"\n`], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain(`VMMU-FORK-LOOP ${FORK_LOOP_ITERATIONS} ${FORK_LOOP_TOTAL}\n`);
    expect(r.stdout).toContain(`VMMU-MD5 ${SEQ_MD5}\n`);
    expect(SEQ_COUNT).toBe(20000);
  });

  it('does the shell /init give the shell a controlling tty and power off after it?', () => {
    expect(SHELL_INIT).toMatch(/setsid cttyhack sh\n/);
    expect(SHELL_INIT.trimEnd().split('\n').slice(-1)[0]).toBe('poweroff -f');
  });
});

describe('reading a guest\'s console', () => {
  /** What qemu-system-i386 printed for the 686 kernel (SeaBIOS banner shortened). */
  const QEMU_TRANSCRIPT = '\x1bc\x1b[?7l\x1b[2J\x1b[0mSeaBIOS (version 1.16.2-debian-1.16.2-1)\r\n\r\n'
    + 'Booting from ROM..\x1bc\x1b[?7l\x1b[2JVMMU-GUEST-BOOTED\r\n'
    + 'VMMU-UNAME Linux (none) 6.1.0-50-686 #1 SMP PREEMPT_DYNAMIC Debian 6.1.176-1 (2026-07-02) i686 GNU/Linux\r\n'
    + '[    0.008000] ..MP-BIOS bug: 8254 timer not connected to IO-APIC\r\n'
    + 'VMMU-FORK-LOOP 200 690\r\n'
    + 'VMMU-MD5 e071f707df7bbeee2a6a1eb48011ddd0\r\n'
    + 'VMMU-GUEST-DONE\r\n'
    + '[    3.700816] reboot: Power down\r\n';

  it('is a real QEMU transcript, escape sequences and kernel lines included, accepted?', () => {
    expect(missingBatchLines(QEMU_TRANSCRIPT)).toEqual([]);
  });

  it('what if the checksum is wrong or the final marker never comes?', () => {
    expect(missingBatchLines(QEMU_TRANSCRIPT.replace('e071f707', 'deadbeef'))).toEqual([`VMMU-MD5 ${SEQ_MD5}$`]);
    expect(missingBatchLines(QEMU_TRANSCRIPT.replace('VMMU-GUEST-DONE', 'Kernel panic'))).toEqual(['VMMU-GUEST-DONE$']);
  });

  it('what if the lines come out of order?', () => {
    const swapped = 'VMMU-GUEST-DONE\n' + QEMU_TRANSCRIPT.replace('VMMU-GUEST-DONE', 'x');
    expect(missingBatchLines(swapped)).toEqual(['VMMU-GUEST-DONE$']);
  });

  it('are escape sequences and carriage returns removed, and text kept?', () => {
    expect(stripTerminalControls('\x1bc\x1b[?7l\x1b[2Ja\r\nb\x1b[0m\x1b7c')).toBe('a\nbc');
  });
});
