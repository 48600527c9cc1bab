/**
 * The pieces around apt: how a failed command is reported, how Debian's
 * fields are read, how a kernel metapackage is resolved, how a bzImage is
 * recognised, and what `npm run guests` prints when it fails.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { aptSpec, debFileName, kernelDependency, parseStanza } from '../../src/guests/apt.js';
import { readBzImage } from '../../src/guests/bzimage.js';
import { GuestsError } from '../../src/guests/errors.js';
import { commandLine, run } from '../../src/guests/run.js';
import { fakeBzImage } from './fake-source.js';

describe('running host commands', () => {
  it('when a command fails, does the message name it, its exit status, its stderr and the hint?', () => {
    const fail = (): unknown => run('sh', ['-c', 'echo "E: Unable to locate package linux-image-9-686" >&2; exit 100'], { hint: 'is Debian\'s archive reachable?' });
    expect(fail).toThrow(GuestsError);
    expect(fail).toThrow('sh -c \'echo "E: Unable to locate package linux-image-9-686" >&2; exit 100\' failed (exit 100): '
      + 'E: Unable to locate package linux-image-9-686; is Debian\'s archive reachable?');
  });

  it('when the program does not exist, is that what it says (not ENOENT and a stack)?', () => {
    expect(() => run('vmmu-no-such-program', ['x'])).toThrow('vmmu-no-such-program x failed: vmmu-no-such-program is not installed on this host');
  });

  it('are exit statuses listed as fine (apt-get update\'s 100) returned rather than thrown?', () => {
    expect(run('sh', ['-c', 'echo out; echo err >&2; exit 100'], { okStatus: [100] })).toEqual({ status: 100, stdout: 'out\n', stderr: 'err\n' });
  });

  it('does a quiet failure still say something, and is apt\'s root-sandbox notice left out?', () => {
    expect(() => run('sh', ['-c', 'exit 3'])).toThrow('sh -c \'exit 3\' failed (exit 3): (it printed nothing)');
    expect(() => run('sh', ['-c', 'echo "W: Download is performed unsandboxed as root as file x" >&2; echo "E: real problem" >&2; exit 1']))
      .toThrow(/failed \(exit 1\): E: real problem$/);
  });

  it('is a command line quoted so it can be pasted into a shell?', () => {
    expect(commandLine('apt-get', ['download', 'busybox-static:i386=1:1.35.0-4+deb12u1+b1'])).toBe('apt-get download busybox-static:i386=1:1.35.0-4+deb12u1+b1');
    expect(commandLine('sh', ['-c', "it's"])).toBe("sh -c 'it'\\''s'");
  });
});

describe('Debian package metadata', () => {
  it('does linux-image-686 resolve to the 686 kernel and not the 686-pae one?', () => {
    expect(kernelDependency('linux-image-6.1.0-50-686 (= 6.1.176-1)', '686')).toEqual({ name: 'linux-image-6.1.0-50-686', version: '6.1.176-1' });
    expect(kernelDependency('linux-image-6.1.0-50-686-pae (= 6.1.176-1)', '686')).toBeNull();
    expect(kernelDependency('linux-image-6.1.0-50-686-pae (= 6.1.176-1)', '686-pae')).toEqual({ name: 'linux-image-6.1.0-50-686-pae', version: '6.1.176-1' });
  });

  it('what if the dependency has alternatives, an architecture qualifier or no version?', () => {
    expect(kernelDependency('kmod, linux-image-6.1.0-50-686:i386 | linux-image-6.1.0-49-686', '686')).toEqual({ name: 'linux-image-6.1.0-50-686', version: null });
    expect(kernelDependency('', '686')).toBeNull();
  });

  it('are multi-line fields and the first stanza only read?', () => {
    const f = parseStanza('Package: seabios\nVersion: 1.16.2-1\nDescription: Legacy BIOS\n more text\n\nPackage: other\n');
    expect(f.get('Package')).toBe('seabios');
    expect(f.get('Description')).toBe('Legacy BIOS\nmore text');
    expect(f.has('other')).toBe(false);
  });

  it('are apt\'s names for packages and their .deb files spelled the way apt spells them?', () => {
    expect(aptSpec('busybox-static', 'i386')).toBe('busybox-static:i386');
    expect(aptSpec('seabios', 'all')).toBe('seabios');
    expect(debFileName({ name: 'busybox-static', version: '1:1.35.0-4+deb12u1+b1', arch: 'i386' })).toBe('busybox-static_1%3a1.35.0-4+deb12u1+b1_i386.deb');
  });
});

describe('bzImage headers', () => {
  it('does a setup header give its boot protocol and version string?', () => {
    expect(readBzImage(fakeBzImage('6.1.0-50-686'))).toEqual({ bootProtocol: '2.15', setupSects: 1, versionString: '6.1.0-50-686 (fake) #1' });
  });

  it('what if there is no "HdrS", no boot flag, or the kernel is not loaded high (a zImage)?', () => {
    const noHdrS = fakeBzImage('x');
    noHdrS[0x202] = 0;
    const noFlag = fakeBzImage('x');
    noFlag[0x1fe] = 0;
    const zImage = fakeBzImage('x');
    zImage[0x211] = 0;
    for (const image of [noHdrS, noFlag, zImage, new Uint8Array(16)]) expect(readBzImage(image)).toBeNull();
  });
});

describe('`npm run guests` as a command', () => {
  const main = join(process.cwd(), 'dist/src/guests/main.js');
  // dist/ is built by `npm test`'s pretest; run alone, build first (npm run build).
  it('when it fails, does it print one sentence and exit 1, without a stack trace?', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vmmu-guests-cli-'));
    try {
      writeFileSync(join(dir, 'a-file'), '');
      const r = spawnSync(process.execPath, [main], { env: { ...process.env, VMMU_GUEST_CACHE: join(dir, 'a-file', 'cache') }, encoding: 'utf8' });
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/^npm run guests: cannot create the cache directory .*a-file\/cache: .*set VMMU_GUEST_CACHE to a writable directory\n$/);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('does an unknown option get the usage, not a stack?', () => {
    const r = spawnSync(process.execPath, [main, '--frobnicate'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^npm run guests: unknown option --frobnicate\nusage: npm run guests/);
  });
});
