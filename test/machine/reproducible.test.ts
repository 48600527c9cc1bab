/**
 * Batch runs are reproducible instruction for instruction (docs/cpu.md,
 * "Time"): the RTC starts from a fixed date unless `--rtc` says otherwise,
 * so two batch runs of `vmmu boot`, in different translation modes, print
 * the same bytes and execute the same number of instructions.
 *
 * The guest here reads the CMOS clock and prints it, so a clock that
 * started from the host's time would show in its output.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { rtcStartDate } from '../../src/cli/rtc-option.js';
import { RTC_DEFAULT_START } from '../../src/devices/rtc.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const main = join(root, 'dist/src/cli/main.js'); // built by npm test's pretest; run alone, npm run build first
const dir = mkdtempSync(join(tmpdir(), 'vmmu-repro-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const env = { ...process.env, CI: '1' };
delete env.DEBUG;

/**
 * A Multiboot kernel (a.out kludge, loaded at 1 MiB) that prints the RTC as
 * "CCYY-MM-DD hh:mm:ss\n" on COM1 and exits through port 0xf4 with 0.
 * Assembled from (Intel syntax, 32-bit):
 *
 *   start:  mov esp, 0x80000
 *           mov esi, table
 *   next:   lodsb                 ; CMOS register, or 0xff at the end
 *           cmp al, 0xff
 *           je done
 *           out 0x70, al
 *           in al, 0x71           ; BCD (the power-on format)
 *           mov ah, al
 *           shr al, 4
 *           call hexdig
 *           mov al, ah
 *           and al, 0x0f
 *           call hexdig
 *           lodsb                 ; separator, 0 for none
 *           test al, al
 *           jz next
 *           call putc
 *           jmp next
 *   done:   mov al, 10
 *           call putc
 *           xor eax, eax
 *           out 0xf4, eax
 *           cli
 *           hlt
 *   hexdig: add al, '0'
 *           cmp al, '9' + 1
 *           jb putc
 *           add al, 7
 *   putc:   mov dx, 0x3f8
 *           out dx, al
 *           ret
 *   table:  db 0x32,0, 0x09,'-', 0x08,'-', 0x07,' ', 0x04,':', 0x02,':', 0x00,0, 0xff
 */
const RTC_GUEST = Buffer.from(
  '02b0ad1b00000100fe4f51e40000100000001000000000000000000020001000'
  + 'bc00000800be6d001000ac3cff7423e670e47188c4c0e804e82200000088e024'
  + '0fe819000000ac84c074dfe817000000ebd8b00ae80e00000031c0e7f4faf404'
  + '303c3a7202040766baf803eec33200092d082d0720043a023a0000ff',
  'hex',
);
const rtcGuest = join(dir, 'rtc.bin');
writeFileSync(rtcGuest, RTC_GUEST);
const multitask = join(root, 'test/guests/multitask/multitask.elf');

interface Boot { status: number | null; stdout: string; stderr: string; instructions: number }

function boot(image: string, ...args: string[]): Boot {
  const r = spawnSync(process.execPath, [main, 'boot', '--batch', '--multiboot', image, ...args], { env, cwd: root, encoding: 'latin1', timeout: 120_000 });
  const m = /instructions (\d+)/.exec(r.stderr);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, instructions: m ? Number(m[1]) : -1 };
}

describe('the RTC\'s start date on the command line (rtcStartDate)', () => {
  const host = new Date(Date.UTC(2031, 4, 17, 8, 9, 10));
  const now = (): Date => host;

  it('is it the fixed date in a batch run and the host\'s time on the console when --rtc is not given?', () => {
    expect(rtcStartDate(undefined, false, now).toISOString()).toBe('2026-01-01T00:00:00.000Z');
    expect(rtcStartDate(undefined, false, now).getTime()).toBe(RTC_DEFAULT_START);
    expect(rtcStartDate(undefined, true, now)).toBe(host);
  });

  it('does --rtc now take the host\'s time, and --rtc YYYY-MM-DDTHH:MM:SS that UTC date, in either kind of run?', () => {
    expect(rtcStartDate('now', false, now)).toBe(host);
    expect(rtcStartDate('2030-06-15T12:34:56', false, now).toISOString()).toBe('2030-06-15T12:34:56.000Z');
    expect(rtcStartDate('2030-06-15T12:34:56Z', true, now).toISOString()).toBe('2030-06-15T12:34:56.000Z');
    expect(rtcStartDate('2024-02-29T23:59:59', false, now).toISOString()).toBe('2024-02-29T23:59:59.000Z');
    expect(rtcStartDate('0099-01-01T00:00:00', false, now).getUTCFullYear()).toBe(99); // not 1999
  });

  it.each([
    ['', 'is not now or a UTC date'],
    ['today', 'is not now or a UTC date'],
    ['NOW', 'is not now or a UTC date'],
    ['2026-01-01', 'is not now or a UTC date'],
    ['2026-01-01 00:00:00', 'is not now or a UTC date'],
    ['2026-1-01T00:00:00', 'is not now or a UTC date'],
    ['2026-01-01T00:00:00+02:00', 'is not now or a UTC date'],
    ['2026-13-01T00:00:00', 'is not a date and time that exists'],
    ['2026-02-29T00:00:00', 'is not a date and time that exists'],
    ['2026-04-31T00:00:00', 'is not a date and time that exists'],
    ['2026-01-01T24:00:00', 'is not a date and time that exists'],
    ['2026-01-01T00:60:00', 'is not a date and time that exists'],
    ['2026-01-01T00:00:60', 'is not a date and time that exists'],
  ])('is --rtc \'%s\' refused with a message naming --rtc and the value?', (value, why) => {
    expect(() => rtcStartDate(value, false, now)).toThrow(RangeError);
    expect(() => rtcStartDate(value, false, now)).toThrow(`--rtc: '${value}' ${why}`);
  });
});

describe('vmmu boot --batch', () => {
  it('do two runs in different modes print the same bytes, the fixed start date, and run the same instructions?', () => {
    const naive = boot(rtcGuest, '--mode', 'naive');
    const slat = boot(rtcGuest, '--mode', 'slat');
    expect(naive.status, naive.stderr).toBe(1); // the guest wrote 0 to port 0xf4: (0 << 1) | 1
    expect(naive.stdout).toBe('2026-01-01 00:00:00\n');
    expect(slat.stdout).toBe(naive.stdout);
    expect(naive.instructions).toBeGreaterThan(100);
    expect(slat.instructions).toBe(naive.instructions);
  });

  it('does a guest with timer-driven preemption (multitask) run the same instructions and print the same under shadow and slat?', () => {
    const shadow = boot(multitask, '--mode', 'shadow');
    const slat = boot(multitask, '--mode', 'slat');
    expect(shadow.status, shadow.stderr).toBe(1);
    expect(shadow.stdout).toContain('multitask: 15 checks, 0 failed');
    expect(slat.stdout).toBe(shadow.stdout);
    expect(shadow.instructions).toBeGreaterThan(1_000_000);
    expect(slat.instructions).toBe(shadow.instructions);
  });

  it('do --engine block and --engine jit run the same instructions and print the same as --engine interp (multitask)?', () => {
    const interp = boot(multitask, '--mode', 'shadow', '--engine', 'interp');
    expect(interp.status, interp.stderr).toBe(1);
    expect(interp.stdout).toContain('multitask: 15 checks, 0 failed');
    for (const engine of ['block', 'jit']) {
      const other = boot(multitask, '--mode', 'shadow', '--engine', engine);
      expect(other.status, other.stderr).toBe(1);
      expect(other.stdout).toBe(interp.stdout);
      expect(other.instructions).toBe(interp.instructions);
    }
  });

  it('does --rtc with a date start the guest\'s clock there?', () => {
    expect(boot(rtcGuest, '--rtc', '2030-06-15T12:34:56').stdout).toBe('2030-06-15 12:34:56\n');
  });

  it('does --rtc now start the guest\'s clock at the host\'s time?', () => {
    const before = Math.floor(Date.now() / 1000) * 1000;
    const r = boot(rtcGuest, '--rtc', 'now');
    const after = Date.now();
    expect(r.status, r.stderr).toBe(1);
    const m = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)\n$/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    const [y, mo, d, h, mi, s] = m!.slice(1).map(Number) as [number, number, number, number, number, number];
    const t = Date.UTC(y, mo - 1, d, h, mi, s);
    expect(t).toBeGreaterThanOrEqual(before);
    expect(t).toBeLessThanOrEqual(after);
  });

  it('is a malformed --rtc a usage error (status 2) that names the option and the value, without a stack trace?', () => {
    const r = boot(rtcGuest, '--rtc', '2026-02-30T00:00:00');
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('--rtc: \'2026-02-30T00:00:00\' is not a date and time that exists');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('does the boot command\'s help list --rtc?', () => {
    const r = spawnSync(process.execPath, [main, 'boot', '--help'], { env, cwd: root, encoding: 'utf8' });
    expect(r.stdout).toMatch(/--rtc now\|YYYY-MM-DDTHH:MM:SS/);
  });
});
