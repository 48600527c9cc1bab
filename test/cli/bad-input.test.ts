/**
 * Bad input to the vmmu command, as a table: every case runs the built
 * command and must end with the expected exit status and a message that
 * says what is wrong and where (the option, the file, the limit), never a
 * stack trace, a hang or a crash; and whatever the user had must still be
 * there afterwards, with no temporary file left behind.
 */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { exit, forever, print, writeGuest } from './tiny-guest.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const main = join(root, 'dist/src/cli/main.js');
const env = { ...process.env, CI: '1' };
const tmp = mkdtempSync(join(tmpdir(), 'vmmu-bad-input-'));
/** A stack trace line: "at fn (file.js:12:3)". */
const STACK = /at .*\(?.*\.js:\d+/;

function vmmu(args: string[], timeoutMs = 60_000, moreEnv: Record<string, string> = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [main, ...args], { encoding: 'utf8', cwd: tmp, env: { ...env, ...moreEnv }, timeout: timeoutMs, maxBuffer: 64 << 20 });
}

/** The temporary files the command may have left in `dir`. */
const strays = (dir: string): string[] => readdirSync(dir).filter((n) => n.endsWith('.tmp'));

// ---- inputs for the table ----------------------------------------------

let lackeyText = '';
for (let i = 0; i < 2000; i++) lackeyText += `I  ${(0x401000 + i * 4).toString(16)},3\n L ${(0x7ff000 + (i % 64) * 8).toString(16)},8\n`;
const lackey = join(tmp, 'prog.lackey');
writeFileSync(lackey, lackeyText);
/** A text trace that fails on its last line: a replay of it fails only once it runs. */
const badLackey = join(tmp, 'bad.lackey');
writeFileSync(badLackey, `${lackeyText} L 7ff008;8\n`);
const hardLink = join(tmp, 'hard.lackey');
linkSync(lackey, hardLink);
const softLink = join(tmp, 'soft.lackey');
symlinkSync(lackey, softLink);
const tlbJson = join(tmp, 'tlb.json');
writeFileSync(tlbJson, '{}');
/** 8 MiB, sparse: more than a 4 MiB guest can hold. */
const bigKernel = join(tmp, 'big.elf');
writeFileSync(bigKernel, '');
truncateSync(bigKernel, 8 << 20);
/** 17 MiB, sparse: more than a JSON input may hold. */
const bigJson = join(tmp, 'big.json');
writeFileSync(bigJson, '');
truncateSync(bigJson, 17 << 20);
const notAKernel = join(tmp, 'garbage.elf');
writeFileSync(notAKernel, Buffer.alloc(4096, 0x5a));
const subdir = join(tmp, 'dir');
mkdirSync(subdir);
const guestExit0 = writeGuest(tmp, 'exit0.elf', print('hi\n'), exit);
/** Writes 5 to isa-debug-exit, then halts. */
const exit5 = (): number[] => [0x66, 0xba, 0xf4, 0x00, 0xb0, 0x05, 0xee, 0xf4];
const guestExit5 = writeGuest(tmp, 'exit5.elf', exit5);
const guestForever = writeGuest(tmp, 'forever.elf', print('spinning\n'), forever);
const missingDir = join(tmp, 'no-such-dir');
/** A guest cache with nothing in it. */
const emptyCache = join(tmp, 'empty-cache');
mkdirSync(emptyCache);

interface Case {
  name: string;
  args: string[];
  status: number;
  stderr: RegExp;
  /** more checks on the result */
  also?: (r: SpawnSyncReturns<string>) => void;
  /** environment variables for this case */
  env?: Record<string, string>;
}

const cases: Case[] = [
  // ---- item 4: inputs are read with a limit, regular files only ----
  { name: '--multiboot /dev/zero', args: ['boot', '--multiboot', '/dev/zero'], status: 1, stderr: /--multiboot \/dev\/zero: a character device, not a regular file/ },
  { name: '--initrd /dev/zero', args: ['boot', '--kernel', guestExit0, '--initrd', '/dev/zero'], status: 1, stderr: /--initrd \/dev\/zero: a character device, not a regular file/ },
  { name: '--kernel a directory', args: ['boot', '--kernel', subdir], status: 1, stderr: /--kernel .*dir: a directory, not a regular file/ },
  { name: 'a kernel larger than guest memory', args: ['boot', '--multiboot', bigKernel, '--mem', '4M'], status: 1, stderr: /--multiboot .*big\.elf: 8 MiB is more than the 4 MiB of guest memory left for it \(--mem 4 MiB\)/ },
  { name: '--tlb /dev/zero', args: ['demo', '--tlb', '/dev/zero'], status: 1, stderr: /--tlb \/dev\/zero: a character device, not a regular file/ },
  { name: '--cost-profile /dev/zero', args: ['replay', lackey, '--cost-profile', '/dev/zero'], status: 1, stderr: /--cost-profile \/dev\/zero: a character device/ },
  { name: '--results /dev/zero', args: ['compare', '--results', '/dev/zero', '-o', join(tmp, 'r0.html')], status: 1, stderr: /--results \/dev\/zero: a character device/ },
  { name: 'a JSON input over 16 MiB', args: ['demo', '--cost-profile', bigJson], status: 1, stderr: /--cost-profile .*big\.json: 17 MiB is more than the 16 MiB that a JSON input may hold/ },

  // ---- item 5: an output is never one of the inputs ----
  { name: 'record --import X -o X --force', args: ['record', '--import', 'lackey', lackey, '-o', lackey, '--force'], status: 1, stderr: /record -o .*prog\.lackey: is also the input of record --import; writing it would destroy the input/ },
  { name: 'record -o a hard link to the input', args: ['record', '--import', 'lackey', lackey, '-o', hardLink, '--force'], status: 1, stderr: /record -o .*hard\.lackey: is the same file as .*prog\.lackey, the input of record --import/ },
  { name: 'record -o a symbolic link to the input', args: ['record', '--import', 'lackey', lackey, '-o', softLink, '--force'], status: 1, stderr: /record -o .*soft\.lackey: is the same file as .*prog\.lackey/ },
  { name: 'compare X -o X --force', args: ['compare', lackey, '-o', lackey, '--force'], status: 1, stderr: /compare -o .*prog\.lackey: is also the input of compare FILE/ },
  { name: 'compare --tlb T -o T --force', args: ['compare', lackey, '--tlb', tlbJson, '-o', tlbJson, '--force'], status: 1, stderr: /compare -o .*tlb\.json: is also the input of --tlb/ },
  { name: 'boot --record KERNEL --force', args: ['boot', '--multiboot', guestExit0, '--record', guestExit0, '--force'], status: 1, stderr: /--record .*exit0\.elf: is also the input of --multiboot/ },

  // ---- item 11: an output that cannot be written is refused before any work, by name ----
  { name: 'record -o into a missing directory', args: ['record', '--demo', '--accesses', '1000', '-o', join(missingDir, 'x.vmt')], status: 1, stderr: /record -o .*no-such-dir\/x\.vmt: the directory .*no-such-dir does not exist/ },
  { name: 'record -o onto a directory', args: ['record', '--demo', '--accesses', '1000', '-o', subdir, '--force'], status: 1, stderr: /record -o .*dir: is a directory; give a file name/ },
  { name: 'record -o /dev/full', args: ['record', '--demo', '--accesses', '1000', '-o', '/dev/full'], status: 1, stderr: /record -o \/dev\/full: cannot write: no space left on device \(ENOSPC\)/ },
  // The trace fails on its last line when replayed: the output's error coming first shows it is checked before the replays.
  { name: 'compare -o into a missing directory, before replaying', args: ['compare', badLackey, '--import', 'lackey', '-o', join(missingDir, 'r.html')], status: 1, stderr: /^vmmu: compare -o .*no-such-dir\/r\.html: the directory .*no-such-dir does not exist\n$/ },
  { name: 'compare -o onto a directory', args: ['compare', lackey, '-o', subdir], status: 1, stderr: /compare -o .*dir: is a directory/ },
  { name: 'compare -o /dev/full', args: ['compare', lackey, '--mode', 'naive', '--memory', '32M', '-o', '/dev/full'], status: 1, stderr: /compare -o \/dev\/full: cannot write: no space left on device \(ENOSPC\)/ },
  // The kernel does not exist either: the output is checked before anything is read or booted.
  { name: 'boot --record into a missing directory, before booting', args: ['boot', '--multiboot', join(tmp, 'none.elf'), '--record', join(missingDir, 'b.vmt')], status: 1, stderr: /--record .*no-such-dir\/b\.vmt: the directory .*no-such-dir does not exist/ },
  { name: 'boot --record onto a directory', args: ['boot', '--multiboot', guestExit0, '--record', subdir], status: 1, stderr: /--record .*dir: is a directory/ },
  { name: 'boot --record /dev/full', args: ['boot', '--multiboot', guestExit0, '--record', '/dev/full'], status: 1, stderr: /--record \/dev\/full: cannot write: no space left on device \(ENOSPC\)/ },
  // Not here: EACCES and a read-only file system. These tests run as root, which
  // bypasses permission bits (a chmod 0o500 directory still takes files), and no
  // read-only mount can be assumed; checkOutput reports both through access(2).

  // ---- items 9 and 14: sizes and counts checked in the CLI, naming the option and the range ----
  { name: '--processes 2000 on a text trace', args: ['replay', lackey, '--processes', '2000'], status: 2, stderr: /--processes 2000 is more than the limit of 256 \(each process is a guest address space with its own page tables, played round robin from the one parse of the file\)/ },
  { name: 'demo --processes 5000', args: ['demo', '--processes', '5000'], status: 2, stderr: /--processes 5000 is more than the limit of 4096/ },
  { name: '--sweep with 2^31 entries', args: ['replay', lackey, '--sweep', 'l2.k4m2=2147483648x1'], status: 1, stderr: /'l2\.k4m2': 2147483648 entries is more than the limit of 65536/ },
  { name: '--sweep with 2^32 entries', args: ['replay', lackey, '--sweep', 'l2.k4m2=4294967296x1'], status: 1, stderr: /4294967296 entries is more than the limit of 65536/ },
  { name: '--mem 2G', args: ['boot', '--multiboot', guestExit0, '--mem', '2G'], status: 2, stderr: /--mem 2G is more than the maximum of 2000 MiB/ },
  { name: '--mem 99999999999', args: ['boot', '--multiboot', guestExit0, '--mem', '99999999999'], status: 2, stderr: /--mem 99999999999 is more than the maximum of 2000 MiB/ },
  { name: '--mem with 400 digits', args: ['boot', '--multiboot', guestExit0, '--mem', `${'9'.repeat(400)}G`], status: 2, stderr: /--mem 9+G is more than the maximum/ },
  { name: '--mem NaN', args: ['boot', '--multiboot', guestExit0, '--mem', 'NaN'], status: 2, stderr: /--mem must be a size such as 256M or 1G \(a bare number is MiB\), not 'NaN'/ },
  { name: '--mem not whole pages', args: ['boot', '--multiboot', guestExit0, '--mem', '3000001B'], status: 2, stderr: /--mem 3000001B is not a whole number of 4 KiB pages/ },
  { name: '--mem below the minimum', args: ['boot', '--multiboot', guestExit0, '--mem', '1M'], status: 2, stderr: /--mem 1M is below the minimum of 2 MiB/ },
  { name: '--memory 65G', args: ['replay', lackey, '--memory', '65G'], status: 2, stderr: /--memory 65G is more than the maximum of 64 GiB \(the largest guest-physical map vmmu builds/ },
  { name: '--format 32-bit --memory 2G', args: ['replay', lackey, '--format', '32-bit', '--memory', '2G'], status: 1, stderr: /a 32-bit kernel direct-maps at most 1 GiB of guest memory, not 2048 MiB/ },
  { name: '--cpu with an unknown feature', args: ['boot', '--multiboot', guestExit0, '--cpu', '+avx'], status: 2, stderr: /^vmmu boot: --cpu: no feature 'avx' \(the features: pse, pae, apic, pge, sse, sse2, pcid, xsave, smep, invpcid, smap, pku, la57, rdpid, nx, pdpe1gb, rdtscp, lm\); see 'vmmu boot --help'\n$/ },
  { name: '--cpu with la57 but not lm', args: ['boot', '--multiboot', guestExit0, '--cpu', '+la57'], status: 2, stderr: /^vmmu boot: --cpu: 'la57' needs 'lm' \(\+lm,\+la57\); see 'vmmu boot --help'\n$/ },
  { name: '--cpu with sse2 but not sse', args: ['boot', '--multiboot', guestExit0, '--cpu', '+sse2'], status: 2, stderr: /^vmmu boot: --cpu: 'sse2' needs 'sse' \(\+sse,\+sse2\); see 'vmmu boot --help'\n$/ },
  { name: '--cpu without + or -', args: ['boot', '--multiboot', guestExit0, '--cpu', 'smep'], status: 2, stderr: /^vmmu boot: --cpu: 'smep' must be \+NAME \(turn on\) or -NAME \(turn off\); see 'vmmu boot --help'\n$/ },
  { name: 'a value starting with a dash', args: ['boot', '--multiboot', guestExit0, '--mem', '-3'], status: 2, stderr: /^vmmu boot: --mem's value starts with a dash: write it as --mem=VALUE; see 'vmmu boot --help'\n$/ },
  { name: '--arch unknown', args: ['boot', '--multiboot', guestExit0, '--arch', 'arm64'], status: 2, stderr: /^vmmu boot: --arch: 'arm64' is not one of i686, x86_64 \(uname -m's names\); see 'vmmu boot --help'\n$/ },
  { name: '--arch with Debian\'s name', args: ['boot', '--arch', 'amd64'], status: 2, stderr: /^vmmu boot: --arch: 'amd64' is not one of i686, x86_64 \(uname -m's names; x86_64 is Debian's amd64\); see 'vmmu boot --help'\n$/ },
  { name: '--arch without a value', args: ['boot', '--arch'], status: 2, stderr: /^vmmu boot: --arch needs a value; see 'vmmu boot --help'\n$/ },
  { name: '--arch x86_64 --cpu -lm', args: ['boot', '--arch', 'x86_64', '--cpu', '-lm'], status: 2, stderr: /^vmmu boot: --cpu -lm: --arch x86_64 needs lm \(long mode: 64-bit code\), so --cpu cannot turn it off; see 'vmmu boot --help'\n$/ },
  { name: '--arch x86_64 --cpu +smep,-sse2', args: ['boot', '--multiboot', guestExit0, '--arch', 'x86_64', '--cpu', '+smep,-sse2'], status: 2, stderr: /^vmmu boot: --cpu -sse2: --arch x86_64 needs sse2 \(every x86-64 processor has it, and the 64-bit kernel halts at once without it\), so --cpu cannot turn it off; see 'vmmu boot --help'\n$/ },
  { name: '--arch x86_64 without the 64-bit guest files', args: ['boot', '--arch', 'x86_64'], env: { VMMU_GUEST_CACHE: emptyCache }, status: 1, stderr: /^vmmu: the 64-bit guest files are not ready in .*empty-cache\/x86_64: no usable manifest\.json in .*\. Run `npm run guests -- --arch x86_64`\.\n$/ },
  { name: '--engine unknown', args: ['boot', '--multiboot', guestExit0, '--engine', 'fast'], status: 2, stderr: /^vmmu boot: --engine: 'fast' is not one of interp, block, jit, wasm; see 'vmmu boot --help'\n$/ },
  { name: '--memory 1e3', args: ['replay', lackey, '--memory', '1e3'], status: 2, stderr: /--memory must be a size/ },
  { name: '--seed 1e20', args: ['replay', lackey, '--seed', '1e20'], status: 2, stderr: /--seed must be a whole number, 0 to 4294967295, not '1e20'/ },
  { name: '--seed 2^32', args: ['record', '--demo', '--seed', '4294967296', '-o', join(tmp, 's.vmt')], status: 2, stderr: /--seed 4294967296 is more than the limit of 4294967295 \(seeds are 32-bit\)/ },
  { name: '--jobs 1000', args: ['replay', lackey, '--jobs', '1000'], status: 2, stderr: /--jobs 1000 is more than the limit of 64/ },
  { name: '--level 10', args: ['record', '--demo', '--level', '10', '-o', join(tmp, 'l.vmt')], status: 2, stderr: /--level 10 is more than the limit of 9/ },
  { name: '--max-instructions 1e9', args: ['boot', '--multiboot', guestExit0, '--max-instructions', '1e9'], status: 2, stderr: /--max-instructions must be a whole number, 1 or more, not '1e9'/ },

  // ---- item 24: record --demo options it cannot honour are refused ----
  { name: 'record --demo --page-size', args: ['record', '--demo', '--page-size', '2m', '-o', join(tmp, 'p.vmt')], status: 2, stderr: /--page-size applies to text traces \(record --import\), not to record --demo/ },
  { name: 'record --demo --reclaim', args: ['record', '--demo', '--reclaim', '-o', join(tmp, 'p.vmt')], status: 2, stderr: /--reclaim applies to text traces/ },

  // ---- item 21: an unknown option is one line naming it, and where the options are ----
  { name: 'boot --frobnicate', args: ['boot', '--frobnicate'], status: 2, stderr: /^vmmu boot: unknown option '--frobnicate'; see 'vmmu boot --help'\n$/ },
  { name: 'replay --frobnicate', args: ['replay', lackey, '--frobnicate'], status: 2, stderr: /^vmmu replay: unknown option '--frobnicate'; see 'vmmu replay --help'\n$/ },
  { name: 'demo --mem', args: ['demo', '--mem', '1G'], status: 2, stderr: /^vmmu demo: unknown option '--mem'; see 'vmmu demo --help'\n$/ },
  { name: 'vmmu --frobnicate', args: ['--frobnicate'], status: 2, stderr: /^vmmu: unknown option '--frobnicate'; see 'vmmu --help'\n$/ },
  { name: 'boot --mem without a value', args: ['boot', '--mem'], status: 2, stderr: /^vmmu boot: --mem needs a value; see 'vmmu boot --help'\n$/ },
  { name: 'replay without a file', args: ['replay'], status: 2, stderr: /^vmmu replay: which trace file\?; see 'vmmu replay --help'\n$/ },
];

describe('bad input: a clear message, the right status, no stack trace', () => {
  it.each(cases)('$name', (c) => {
    const r = vmmu(c.args, undefined, c.env);
    expect(r.error, 'the command did not finish in time').toBeUndefined();
    expect(r.signal).toBeNull();
    expect(r.stderr).not.toMatch(STACK);
    expect(r.stderr).not.toMatch(/internal error/);
    expect(r.stderr).toMatch(c.stderr);
    expect(r.status, r.stderr).toBe(c.status);
    c.also?.(r);
    expect(strays(tmp)).toEqual([]);
  });

  it('does a pipe given as a text trace end with a message naming it, not a hang (nothing opens it ahead of the command)?', () => {
    const fifo = join(tmp, 'pipe.lackey');
    spawnSync('mkfifo', [fifo]);
    // The writer opens the pipe once, as a producer would; a second open by the command would wait for ever.
    const writer = spawn('sh', ['-c', `cat '${lackey}' > '${fifo}'`], { stdio: 'ignore' });
    try {
      const r = vmmu(['replay', fifo, '--mode', 'shadow'], 30_000);
      expect(r.error, 'the command did not finish in time').toBeUndefined();
      expect(r.stderr).not.toMatch(STACK);
      expect(r.stderr).toContain(fifo);
      expect(r.status, r.stderr).not.toBe(0);
    } finally {
      writer.kill();
    }
  });

  it('are the inputs that the refused outputs named still whole?', () => {
    expect(readFileSync(lackey, 'utf8')).toBe(lackeyText);
    expect(readFileSync(tlbJson, 'utf8')).toBe('{}');
    expect(readFileSync(guestExit0).subarray(0, 4).readUInt32LE(0)).toBe(0x1badb002);
  });
});

describe('nothing the user has is lost, nothing half-written is left', () => {
  it('does a failed import with --force leave the file it was to replace as it was, and no temporary file?', () => {
    const out = join(tmp, 'kept.vmt');
    writeFileSync(out, 'an hour of recording\n');
    const r = vmmu(['record', '--import', 'lackey', badLackey, '-o', out, '--force']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/bad\.lackey:\d+: no ',' after the address/);
    expect(readFileSync(out, 'utf8')).toBe('an hour of recording\n');
    expect(strays(tmp)).toEqual([]);
  });

  it('does a boot that fails on a bad kernel leave --record\'s file as it was, or no file at all?', () => {
    const out = join(tmp, 'boot-kept.vmt');
    writeFileSync(out, 'previous trace\n');
    const r = vmmu(['boot', '--multiboot', notAKernel, '--record', out, '--force']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/garbage\.elf/);
    expect(r.stderr).not.toMatch(STACK);
    expect(readFileSync(out, 'utf8')).toBe('previous trace\n');
    const fresh = join(tmp, 'boot-new.vmt');
    expect(vmmu(['boot', '--multiboot', notAKernel, '--record', fresh]).status).toBe(1);
    expect(readdirSync(tmp)).not.toContain('boot-new.vmt');
    expect(strays(tmp)).toEqual([]);
  });

  it('does a finished --force run replace the file, keeping its permissions?', () => {
    const out = join(tmp, 'replaced.vmt');
    writeFileSync(out, 'old', { mode: 0o640 });
    const r = vmmu(['record', '--demo', '--accesses', '2000', '-o', out, '--force']);
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(out).subarray(0, 4).toString('latin1')).toBe('VMTR');
    expect(spawnSync('stat', ['-c', '%a', out], { encoding: 'utf8' }).stdout.trim()).toBe('640');
    expect(strays(tmp)).toEqual([]);
  });

  /** Starts `args`, waits for its temporary file to appear, sends `signal`, and returns how it ended. */
  async function interrupted(args: string[], dir: string, signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
    const child = spawn(process.execPath, [main, ...args], { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
    const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, sig) => resolve({ code, signal: sig })));
    const deadline = Date.now() + 30_000;
    while (strays(dir).length === 0 && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
    expect(strays(dir).length, `no temporary file appeared; stderr: ${stderr}`).toBe(1);
    child.kill(signal);
    const end = await ended;
    return { ...end, stderr };
  }

  it.each([
    ['record --demo', 'SIGTERM'], ['record --demo', 'SIGINT'], ['boot --record', 'SIGTERM'], ['boot --record', 'SIGINT'],
  ] as const)('does %s stopped by %s leave the previous file and no temporary file?', async (what, signal) => {
    const dir = mkdtempSync(join(tmp, 'sig-'));
    const out = join(dir, 'out.vmt');
    writeFileSync(out, 'previous\n');
    const args = what === 'boot --record'
      ? ['boot', '--multiboot', guestForever, '--record', out, '--force']
      : ['record', '--demo', '--accesses', '1000000000', '-o', out, '--force'];
    const r = await interrupted(args, dir, signal);
    // Ended by the signal itself, or (boot, Ctrl-C) in order with status 130.
    expect(r.signal === signal || r.code === 130, `code ${r.code} signal ${r.signal}: ${r.stderr}`).toBe(true);
    expect(r.stderr).not.toMatch(STACK);
    expect(readFileSync(out, 'utf8')).toBe('previous\n');
    expect(strays(dir)).toEqual([]);
    if (what === 'boot --record' && signal === 'SIGINT') expect(r.stderr).toMatch(/not recorded: the run was interrupted, and .*out\.vmt is left as it was/);
  }, 60_000);
});

describe('the boot command\'s exit status and summary', () => {
  it('does a guest that writes v to port 0xf4 make vmmu exit (v << 1) | 1, and say so?', () => {
    const zero = vmmu(['boot', '--multiboot', guestExit0]);
    expect(zero.status).toBe(1);
    expect(zero.stderr).toMatch(/guest wrote 0 to port 0xf4: exit status 1 \(\(value << 1\) \| 1/);
    const five = vmmu(['boot', '--multiboot', guestExit5]);
    expect(five.status).toBe(11);
    expect(five.stderr).toMatch(/guest wrote 5 to port 0xf4: exit status 11/);
  });

  it('does a guest that spins to the instruction limit exit 4, not a status a guest could report?', () => {
    const r = vmmu(['boot', '--multiboot', guestForever, '--max-instructions', '100000']);
    expect(r.stderr).toMatch(/instruction-limit/);
    expect(r.status).toBe(4);
  });

  it('without --measure, does the summary leave out what was not measured and say how to get it?', () => {
    const r = vmmu(['boot', '--multiboot', guestExit0]);
    expect(r.stderr).not.toMatch(/reads \/ writes \/ fetches|TLB \/ walks \/ software|cycles per access/);
    expect(r.stderr).toMatch(/run with --measure for access, TLB, page-walk and cycle figures/);
    const m = vmmu(['boot', '--multiboot', guestExit0, '--measure']);
    expect(m.stderr).toMatch(/reads \/ writes \/ fetches\s+\d+ \/ \d+ \/ \d+/);
    expect(m.stderr).toMatch(/cycles per access\s+\d+\.\d\d/);
    expect(m.stderr).not.toMatch(/run with --measure/);
  });
});

describe('help', () => {
  it('does each command\'s --help list that command\'s options, and only those?', () => {
    const help = (cmd: string): string => {
      const r = vmmu([cmd, '--help']);
      expect(r.status).toBe(0);
      expect(r.stderr).toBe('');
      return r.stdout;
    };
    const boot = help('boot');
    expect(boot).toMatch(/usage: vmmu boot/);
    expect(boot).toMatch(/--multiboot FILE/);
    expect(boot).toMatch(/boot exit status:/);
    expect(boot).toMatch(/--arch i686\|x86_64 +the guest's architecture \(default i686\)/);
    expect(boot).not.toMatch(/--working-set|--sweep/);
    const demo = help('demo');
    expect(demo).toMatch(/--working-set N/);
    expect(demo).not.toMatch(/--multiboot|--sweep|--arch/);
    const record = help('record');
    expect(record).toMatch(/--check-every N/);
    expect(record).toMatch(/vmmu boot --record FILE/); // a guest to record from exists
    expect(record).not.toMatch(/arrives with the x86 CPU|--sweep/);
    const replay = help('replay');
    expect(replay).toMatch(/--sweep SPEC/);
    expect(replay).toMatch(/--json/);
    expect(replay).not.toMatch(/--check-every|--results/);
    const compare = help('compare');
    expect(compare).toMatch(/--results RUNS\.json/);
    expect(compare).not.toMatch(/--check-every/);
  });

  it('does vmmu --version print the package\'s version?', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    const r = vmmu(['--version']);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`vmmu ${pkg.version}\n`);
  });

  it('does record --demo honour --memory and --seed (recorded in the trace\'s header)?', () => {
    const out = join(tmp, 'demo-32m.vmt');
    const r = vmmu(['record', '--demo', '--accesses', '5000', '--memory', '32M', '--seed', '7', '-o', out]);
    expect(r.status, r.stderr).toBe(0);
    const replay = vmmu(['replay', out, '--mode', 'naive']);
    expect(replay.stdout).toMatch(/guest: 32 MiB, .*scatter seed 7/);
  });
});
