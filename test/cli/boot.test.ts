/**
 * `vmmu boot` as a user meets it, with tiny hand-assembled guests (tiny-guest.ts)
 * instead of Linux: the guest's bytes reach the terminal or the pipe
 * unchanged, the command says what it boots and how to stop it, shows
 * progress on stderr while the guest is silent, honours --max-instructions
 * on a terminal as in a pipe, and tells a quit from a halt.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

// Each test runs the real command; on a loaded 2-core machine the interpreter
// can be ten times slower than usual, so the tests that run a guest for a
// while get minutes, not the default 5 s.
import { exit, forever, idle, print, printModules, spin, writeGuest } from './tiny-guest.js';
import { JIT_THRESHOLD } from '../../src/cpu/jit.js';
import { ensureGuests } from '../../src/guests/build.js';
import { APPLETS } from '../../src/guests/init-scripts.js';
import { ensureGuests64 } from '../../src/guests/x86_64.js';
import { amd64Archive, FakeSource } from '../guests-build/fake-source.js';
import { WASM_THRESHOLD } from '../../src/cpu/wasm/compile.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const main = join(root, 'dist/src/cli/main.js'); // built by npm test's pretest; run alone, npm run build first
const ptyRun = fileURLToPath(new URL('./pty-run.py', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'vmmu-boot-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const env = { ...process.env, CI: '' };
delete env.DEBUG;

/** Bytes that a second UTF-8 encoding would change: "é" (C3 A9), a lone 0xff, "€" (E2 82 AC). */
const GUEST_BYTES = new Uint8Array([0x68, 0xc3, 0xa9, 0x20, 0xff, 0x20, 0xe2, 0x82, 0xac, 0x0a]);

/** Runs the command on a pseudo-terminal; `steps`: [pattern, keys, delay s] typed once the pattern appears. */
function onTerminal(args: string[], steps: [string, string, number][] = [], timeoutS = 60, runEnv: NodeJS.ProcessEnv = env): { output: Buffer; text: string; exitCode: number | null; timedOut: boolean } {
  const r = spawnSync('python3', [ptyRun, String(timeoutS), JSON.stringify(steps), process.execPath, main, ...args], { encoding: 'utf8', env: runEnv, cwd: root });
  expect(r.status, r.stderr).toBe(0);
  const j = JSON.parse(r.stdout) as { output: string; exitCode: number | null; timedOut: boolean };
  const output = Buffer.from(j.output, 'base64');
  return { output, text: output.toString('latin1'), exitCode: j.exitCode, timedOut: j.timedOut };
}

describe('the guest\'s bytes', () => {
  const guest = writeGuest(dir, 'bytes.elf', print(GUEST_BYTES), exit);

  it('in a pipe, is standard output exactly the bytes the guest wrote, and is the rest on stderr?', () => {
    const r = spawnSync(process.execPath, [main, 'boot', '--multiboot', guest], { env, cwd: root });
    expect(r.status, r.stderr.toString()).toBe(1); // the guest wrote 0 to port 0xf4: (0 << 1) | 1
    expect([...r.stdout]).toEqual([...GUEST_BYTES]);
    expect(r.stderr.toString()).toMatch(/wrote 0 to port 0xf4/);
  });

  it('on a terminal (the interactive console), do the same bytes arrive unchanged?', () => {
    const r = onTerminal(['boot', '--multiboot', guest]);
    expect(r.exitCode).toBe(1);
    // the terminal turns "\n" into "\r\n"; nothing else may change
    expect(r.output.includes(Buffer.from([0x68, 0xc3, 0xa9, 0x20, 0xff, 0x20, 0xe2, 0x82, 0xac, 0x0d, 0x0a]))).toBe(true);
    expect(r.output.includes(Buffer.from([0xc3, 0x83]))).toBe(false); // 0xc3 encoded again
  });
});

describe('what the command says while it runs', () => {
  it('does it say first what it boots, with which translation and memory, and how to stop it?', () => {
    const guest = writeGuest(dir, 'hello.elf', print('hello\n'), exit);
    const r = spawnSync(process.execPath, [main, 'boot', '--multiboot', guest, '--mode', 'slat', '--mem', '32M'], { env, cwd: root, encoding: 'utf8' });
    expect(r.stdout).toBe('hello\n');
    expect(r.stderr.split('\n')[0]).toBe(`vmmu: booting ${guest} (slat translation, 32 MiB); Ctrl-C stops it`);
  });

  it('on a terminal, does a status line show instructions, MIPS and virtual time while the guest is silent, erased before its output goes on?', () => {
    // 120 M instructions of silence (3 s at the interpreter's usual speed), then a line; the interpreter, since the
    // jit runs a loop this tight in a fraction of a second, before the status line's first second
    const guest = writeGuest(dir, 'silent.elf', print('before\n'), spin(60_000_000), print('after\n'), exit);
    const r = onTerminal(['boot', '--batch', '--multiboot', guest, '--engine', 'interp'], [], 120);
    expect(r.exitCode, r.text).toBe(1);
    const between = r.text.slice(r.text.indexOf('before'), r.text.indexOf('after'));
    expect(between).toMatch(/\rvmmu: [\d.]+[kMG]? instructions, [\d.]+ MIPS, virtual time [\d.]+ s, \d+ s \(guest silent \d+ s; Ctrl-C stops\)\x1b\[K/);
    expect(between.endsWith('\r\x1b[K')).toBe(true); // erased just before "after"
    expect(r.text.slice(r.text.indexOf('after'))).not.toMatch(/guest silent/);
  }, 180_000);

  it('in a pipe, does standard output get nothing but the guest\'s bytes, however long the guest is silent?', () => {
    const guest = writeGuest(dir, 'silent-pipe.elf', spin(30_000_000), print('done\n'), exit);
    const r = spawnSync(process.execPath, [main, 'boot', '--multiboot', guest], { env, cwd: root, encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('done\n');
    expect(r.stderr).not.toMatch(/\r|\x1b\[/); // no live line on a non-terminal
  }, 180_000);

  it('does Ctrl-C (SIGINT) stop a batch run with the summary and exit status 130?', async () => {
    const guest = writeGuest(dir, 'forever.elf', forever);
    const child = spawn(process.execPath, [main, 'boot', '--multiboot', guest], { env, cwd: root });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (stderr.includes('Ctrl-C stops it')) setTimeout(() => child.kill('SIGINT'), 300);
    });
    const guard = setTimeout(() => child.kill('SIGKILL'), 20_000); // never leave the guest spinning
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    clearTimeout(guard);
    expect(code).toBe(130);
    expect(stderr).toMatch(/vmmu: stopped by Ctrl-C; the guest was still running\ninstructions [1-9]\d*, /);
  }, 30_000);
});

describe('--max-instructions', () => {
  const guest = writeGuest(dir, 'forever-tty.elf', print('spinning\n'), forever);

  it('on a terminal (the interactive console), does the run stop at the limit, as in a pipe?', () => {
    const r = onTerminal(['boot', '--multiboot', guest, '--max-instructions', '20000000'], [], 60);
    expect(r.timedOut, r.text).toBe(false);
    expect(r.text).toMatch(/vmmu: instruction-limit\r?\ninstructions 20000000, /);
  }, 180_000);

  it('in a pipe, the same?', () => {
    const r = spawnSync(process.execPath, [main, 'boot', '--multiboot', guest, '--max-instructions', '20000000'], { env, cwd: root, encoding: 'utf8' });
    expect(r.stderr).toMatch(/vmmu: instruction-limit\ninstructions 20000000, /);
  }, 180_000);
});

describe('Ctrl-a x', () => {
  it('does quitting say the person quit (not that the guest halted), with MIPS over the time the CPU ran?', () => {
    const guest = writeGuest(dir, 'idle.elf', spin(2_000_000), print('waiting\n'), idle);
    // the guest runs 4 M instructions, then idles; three seconds later, Ctrl-a x
    const r = onTerminal(['boot', '--multiboot', guest], [['waiting', '\x01x', 3]], 60);
    expect(r.exitCode, r.text).toBe(0);
    expect(r.text).not.toMatch(/vmmu: halted/);
    expect(r.text).toMatch(/vmmu: quit from the console \(Ctrl-a x\); the guest was still running/);
    const m = /instructions (\d+), ([\d.]+) s \(the CPU ran ([\d.]+) s of it\), ([\d.]+) MIPS/.exec(r.text);
    expect(m, r.text).not.toBeNull();
    const [instructions, wall, cpu, mips] = m!.slice(1).map(Number) as [number, number, number, number];
    expect(instructions).toBeGreaterThan(4_000_000);
    expect(wall).toBeGreaterThan(2.5);
    expect(cpu).toBeLessThan(wall / 2);
    // MIPS is instructions over the CPU's seconds (to the printed precision), not over the wall time
    expect(Math.abs(mips - instructions / cpu / 1e6)).toBeLessThan(Math.max(0.2, (instructions / 1e6) * (0.005 / cpu ** 2) + 0.1));
  }, 180_000);
});

describe('Multiboot modules (--initrd with --multiboot, as QEMU reads -initrd)', () => {
  const guest = writeGuest(dir, 'modules.elf', printModules, exit);
  const one = join(dir, 'one.mod');
  const two = join(dir, 'two.mod');
  writeFileSync(one, 'first module bytes|');
  writeFileSync(two, 'second|');

  it('does the guest find each module\'s bytes and its command line (the whole text, file name first; ",," a comma) in the order given?', () => {
    const r = spawnSync(process.execPath, [main, 'boot', '--multiboot', guest, '--initrd', `${one} a=1 b,,c,${two}`, '--append', 'kernel args'], { env, cwd: root, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(1);
    expect(r.stdout).toBe(`first module bytes|${one} a=1 b,c\nsecond|${two}\n`);
    expect(r.stderr).toContain(`vmmu: booting ${guest} with 2 modules`);
  });

  it('without --initrd, does it find no module?', () => {
    const r = spawnSync(process.execPath, [main, 'boot', '--multiboot', guest], { env, cwd: root, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(1);
    expect(r.stdout).toBe('');
  });

  it('does a module without a file name, or a file that is missing, stop with a message naming it?', () => {
    const empty = spawnSync(process.execPath, [main, 'boot', '--multiboot', guest, '--initrd', `${one},`], { env, cwd: root, encoding: 'utf8' });
    expect(empty.status).toBe(2);
    expect(empty.stderr).toMatch(/--initrd: module 2 of 2 \(""\) has no file name/);
    const missing = spawnSync(process.execPath, [main, 'boot', '--multiboot', guest, '--initrd', `${one},${join(dir, 'nope.mod')} x`], { env, cwd: root, encoding: 'utf8' });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/--initrd module 2 .*nope\.mod/);
    expect(missing.stderr).not.toMatch(/at .*\.js:\d+/);
  });
});

describe('the end-of-run summary names the CPU engine', () => {
  // a loop that runs more times than the jit's threshold, so that its block is compiled
  const guest = writeGuest(dir, 'engine.elf', spin(JIT_THRESHOLD * 4), exit);

  it('does the block engine report its blocks, and the interpreter say it is the reference?', () => {
    const block = spawnSync(process.execPath, [main, 'boot', '--multiboot', guest, '--engine', 'block'], { env, cwd: root, encoding: 'utf8' });
    expect(block.status, block.stderr).toBe(1);
    const m = /engine block: (\d+) blocks decoded, (\d+) in the cache \(at most 32768\), 0 frames' blocks dropped by writes to them, the cache emptied 0 times/.exec(block.stderr);
    expect(m, block.stderr).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThan(0);
    expect(Number(m![2])).toBe(Number(m![1]));
    const interp = spawnSync(process.execPath, [main, 'boot', '--multiboot', guest, '--engine', 'interp'], { env, cwd: root, encoding: 'utf8' });
    expect(interp.status, interp.stderr).toBe(1);
    expect(interp.stderr).toContain('engine interp: every instruction decoded as it runs (the reference interpreter)');
  });

  it('does the jit engine report its blocks and the blocks it compiled?', () => {
    const jit = spawnSync(process.execPath, [main, 'boot', '--multiboot', guest, '--engine', 'jit'], { env, cwd: root, encoding: 'utf8' });
    expect(jit.status, jit.stderr).toBe(1);
    expect(jit.stderr).toMatch(/engine jit: \d+ blocks decoded/);
    const m = new RegExp(`jit: (\\d+) blocks compiled \\(after ${JIT_THRESHOLD} runs each\\) in \\d+ ms, (\\d+) compiled functions live, 0 dropped with their blocks`).exec(jit.stderr);
    expect(m, jit.stderr).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThan(0);
    expect(Number(m![2])).toBe(Number(m![1]));
  });

  it('does the wasm engine (the default) report the blocks it compiled to WebAssembly, and run the guest to the same end as the jit?', () => {
    const wasm = spawnSync(process.execPath, [main, 'boot', '--multiboot', guest], { env, cwd: root, encoding: 'utf8' });
    expect(wasm.status, wasm.stderr).toBe(1);
    expect(wasm.stderr).toMatch(/engine wasm: \d+ blocks decoded/);
    const m = new RegExp(`jit: (\\d+) blocks compiled \\((\\d+) as WebAssembly, the rest as JavaScript\\) \\(after ${WASM_THRESHOLD} runs each\\) in \\d+ ms, (\\d+) compiled functions live, 0 dropped with their blocks`).exec(wasm.stderr);
    expect(m, wasm.stderr).not.toBeNull();
    // the spin loop (DEC, JNZ) is a WebAssembly block
    expect(Number(m![2])).toBeGreaterThan(0);
    expect(Number(m![2])).toBeLessThanOrEqual(Number(m![1]));
    const count = (s: string): string => /instructions (\d+)/.exec(s)![1]!;
    const jit = spawnSync(process.execPath, [main, 'boot', '--multiboot', guest, '--engine', 'jit'], { env, cwd: root, encoding: 'utf8' });
    expect(jit.stderr).toMatch(/engine jit: \d+ blocks decoded/);
    expect(count(wasm.stderr)).toBe(count(jit.stderr));
  });
});

describe('vmmu boot --cpu', () => {
  const guest = writeGuest(dir, 'cpu.elf', spin(1000), exit);

  it('does --cpu -pge,+smep (its value starting with a dash) reach the machine, named in the banner and the summary with the paging controls?', () => {
    const r = spawnSync(process.execPath, [main, 'boot', '--multiboot', guest, '--cpu', '-pge,+smep'], { env, cwd: root, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/^vmmu: booting .*cpu\.elf \(shadow translation, 64 MiB, CPU -pge,\+smep\); Ctrl-C stops it\n/);
    expect(r.stderr).toMatch(/\npaging at the end: CR0 0x11, CR3 0x0, CR4 0x0, EFER 0x0; CPU -pge,\+smep\n/);
    const plain = spawnSync(process.execPath, [main, 'boot', '--multiboot', guest], { env, cwd: root, encoding: 'utf8' });
    expect(plain.stderr).toMatch(/\(shadow translation, 64 MiB\); Ctrl-C stops it/);
    expect(plain.stderr).toMatch(/\npaging at the end: CR0 0x11, CR3 0x0, CR4 0x0, EFER 0x0\n/);
    expect(plain.stderr).not.toMatch(/\napic: /);
  });

  it('does the summary name the IA-32e controls a 64-bit guest left on (LA57 in CR4, LME and LMA in EFER)?', () => {
    const paging64 = join(root, 'test/guests/paging64/paging64.elf');
    const r = spawnSync(process.execPath, [main, 'boot', '--batch', '--multiboot', paging64, '--cpu', '+lm,+pcid,+invpcid,+la57,+pdpe1gb'], { env, cwd: root, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/\npaging at the end: CR0 0x80010011 \(PG, WP\), CR3 0x[0-9a-f]+, CR4 0x10a0 \(PAE, PGE, LA57\), EFER 0x500 \(LME, LMA\); CPU \+pcid,\+invpcid,\+la57,\+pdpe1gb,\+lm\n/);
  });

  it('does --cpu +apic give the guest the APIC, and the summary its interrupt counts?', () => {
    const apicGuest = join(root, 'test/guests/apic/apic.elf');
    const r = spawnSync(process.execPath, [main, 'boot', '--multiboot', apicGuest, '--cpu', '+apic', '--mode', 'slat'], { env, cwd: root, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(1);
    expect(r.stdout).toContain('PASSED: 48 of 48 checks');
    const m = /\napic: (\d+) local timer expiries, (\d+) interrupts accepted, (\d+) EOIs, (\d+) IPIs sent, (\d+) taken from the 8259s \(ExtINT\), 0 spurious; IOAPIC (\d+) messages\n/.exec(r.stderr);
    expect(m, r.stderr).not.toBeNull();
    // the guest's own counts (test/guests/apic/kernel.c): 1 one-shot, 5 periodic and 1 masked timer expiry; 10 IPIs to
    // itself accepted and 3 sent to no one (another logical group, INIT, start-up); 3 ticks of the 8259 through LINT0;
    // 3 PIT and 2 UART messages from the IOAPIC; every accepted interrupt ended by an EOI
    expect(m!.slice(1).map(Number)).toEqual([7, 21, 21, 13, 3, 5]);
  });
});

describe('vmmu boot --arch', () => {
  // A guest cache made by the pipeline from a fake archive: its kernels are bare setup headers, so a boot
  // stops at the loader, after the banner has said what it boots (no Linux runs here).
  const cacheDir = join(dir, 'guests');
  const listApplets = (): string[] => [...APPLETS];
  ensureGuests({ cacheDir, source: new FakeSource(), listApplets });
  ensureGuests64({ cacheDir, source: amd64Archive(), listApplets });
  const fakeEnv = { ...env, VMMU_GUEST_CACHE: cacheDir };
  const inPipe = (args: string[]) => spawnSync(process.execPath, [main, 'boot', ...args], { env: fakeEnv, cwd: root, encoding: 'utf8' });

  it('in a pipe, does --arch x86_64 boot the 64-bit kernel with the batch image on a CPU with lm, sse and sse2?', () => {
    const r = inPipe(['--arch', 'x86_64']);
    expect(r.stderr).toMatch(/^vmmu: booting Debian 6\.1\.0-50-cloud-amd64 with the batch initramfs \(it runs its checks and powers off\) \(shadow translation, 256 MiB, CPU \+sse,\+sse2,\+lm\); Ctrl-C stops it\n/);
    expect(r.stderr).toContain(join(cacheDir, 'x86_64/kernels/vmlinuz-6.1.0-50-cloud-amd64'));
    expect(r.stdout).toBe('');
    expect(r.status, r.stderr).toBe(1);
  });

  it('do i686 and no --arch boot the 686 kernel on the default CPU, and does --cpu still shape it?', () => {
    for (const args of [[], ['--arch', 'i686']]) {
      const r = inPipe(args);
      expect(r.stderr).toMatch(/^vmmu: booting Debian 6\.1\.0-50-686 with the batch initramfs \(it runs its checks and powers off\) \(shadow translation, 256 MiB\); Ctrl-C stops it\n/);
      expect(r.stderr).toContain(join(cacheDir, 'kernels/vmlinuz-6.1.0-50-686'));
    }
    expect(inPipe(['--arch', 'x86_64', '--cpu', '+smep,-pge', '--mode', 'slat']).stderr).toMatch(/^vmmu: booting Debian 6\.1\.0-50-cloud-amd64 .*\(slat translation, 256 MiB, CPU -pge,\+sse,\+sse2,\+smep,\+lm\)/);
  });

  it('on a terminal, does --arch x86_64 boot the shell image?', () => {
    const r = onTerminal(['boot', '--arch', 'x86_64'], [], 60, fakeEnv);
    expect(r.timedOut, r.text).toBe(false);
    expect(r.text).toMatch(/vmmu: booting Debian 6\.1\.0-50-cloud-amd64 with a busybox shell \(shadow translation, 256 MiB, CPU \+sse,\+sse2,\+lm\); Ctrl-a x quits/);
    expect(r.text).toContain(join(cacheDir, 'x86_64/kernels/vmlinuz-6.1.0-50-cloud-amd64'));
  }, 120_000);

  it('with a kernel of the user\'s own, does --arch x86_64 still give the CPU (lm for the features --cpu adds), and the guest run 64-bit code on it?', () => {
    const paging64 = join(root, 'test/guests/paging64/paging64.elf');
    // the CPU of the --cpu test above, with lm from --arch instead of --cpu
    const r = spawnSync(process.execPath, [main, 'boot', '--batch', '--arch', 'x86_64', '--cpu', '+pcid,+invpcid,+la57,+pdpe1gb', '--multiboot', paging64], { env, cwd: root, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(1);
    expect(r.stdout).toContain('paging64: 147 checks, 0 failed');
    expect(r.stderr).toMatch(/^vmmu: booting .*paging64\.elf \(shadow translation, 64 MiB, CPU \+sse,\+sse2,\+pcid,\+invpcid,\+la57,\+pdpe1gb,\+lm\)/);
    expect(r.stderr).toMatch(/\npaging at the end: CR0 0x80010011 \(PG, WP\), CR3 0x[0-9a-f]+, CR4 0x10a0 \(PAE, PGE, LA57\), EFER 0x500 \(LME, LMA\); CPU \+sse,\+sse2,\+pcid,\+invpcid,\+la57,\+pdpe1gb,\+lm\n/);
  }, 120_000);
});
