/**
 * `npm run guests`: obtains Debian's i386 kernels, busybox and SeaBIOS and
 * builds the initramfs images (see build.ts for the cache layout), or only
 * verifies them when they are all there.
 *
 *   npm run guests                 obtain what is missing, else verify
 *   npm run guests -- --refresh    ask apt for current versions, redo everything
 *   npm run guests -- --qemu       then boot each kernel under qemu-system-i386 as a check
 *   npm run guests -- --arch i386     only the i386 files; --arch x86_64: only the 64-bit ones (x86_64.ts)
 *
 * Exit status 0 when the cache is complete (and the QEMU boots, if asked,
 * printed every expected line); 1 with one sentence on stderr otherwise.
 */
import createDebug from 'debug';
import { AptSource, type PackageSource } from './apt.js';
import { ensureGuests, type EnsureResult } from './build.js';
import { GuestsError } from './errors.js';
import { MARKER_DONE, MARKER_SHELL, missingBatchLines, stripTerminalControls } from './init-scripts.js';
import { INITRAMFS_VARIANTS, KERNEL_FLAVOURS, type FileRecord } from './manifest.js';
import { CACHE_ENV, guestCacheDir, guestFiles } from './paths.js';
import { bootInQemu, type QemuRun } from './qemu-check.js';
import { ensureGuests64 } from './x86_64.js';

const log = createDebug('vmmu:guests');

const USAGE = `usage: npm run guests [-- --refresh] [-- --qemu] [-- --arch i386|x86_64]

Downloads Debian bookworm's i386 kernels (linux-image-686, linux-image-686-pae),
busybox-static and seabios with apt (download only, nothing is installed),
builds the initramfs images and writes manifest.json, into $${CACHE_ENV}
(default ~/.cache/vmmu/guests). With everything present it only verifies.

  --refresh   ask apt for the current versions and redo everything
  --qemu      afterwards boot each i386 kernel under qemu-system-i386 and check the output
  --arch i386 | x86_64
              only one architecture; without it, both: the i386 files above, then
              Debian's 64-bit kernel (linux-image-<abi>-cloud-amd64 at the 686 kernels'
              version), busybox-static:amd64 and the batch and shell initramfs images
              around it, into $${CACHE_ENV}/x86_64 (vmmu boot --arch x86_64 boots them)
`;

async function main(argv: readonly string[]): Promise<number> {
  const known = new Set(['--refresh', '--qemu', '--help', '-h', '--arch', 'i386', 'x86_64']);
  const unknown = argv.filter((a) => !known.has(a));
  const archAt = argv.indexOf('--arch');
  const arch = archAt >= 0 ? argv[archAt + 1] : 'both';
  if (arch !== 'i386' && arch !== 'x86_64' && arch !== 'both') throw new GuestsError(`--arch takes i386 or x86_64\n${USAGE}`);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (unknown.length > 0) throw new GuestsError(`unknown option ${unknown.join(' ')}\n${USAGE}`);
  const cacheDir = guestCacheDir();
  const say = (line: string): void => console.log(`  ${line}`);
  const source = new AptSource();
  let prepared = false;
  // one apt-get update for both architectures
  const once: PackageSource = Object.assign(Object.create(source) as PackageSource, {
    prepare: (s: (line: string) => void): void => {
      if (!prepared) source.prepare(s);
      prepared = true;
    },
  });
  let status = 0;
  if (arch !== 'x86_64') {
    const result = ensureGuests({ cacheDir, source: once, refresh: argv.includes('--refresh'), say });
    printSummary(cacheDir, result);
    if (argv.includes('--qemu')) status = (await qemuCheck()) ? 0 : 1;
  }
  if (arch !== 'i386') {
    const r = ensureGuests64({ cacheDir, source: once, refresh: argv.includes('--refresh'), say });
    const m = r.manifest;
    console.log(`vmmu x86_64 guest in ${r.dir} (${r.rebuilt.length === 0 ? 'all present, sha256 verified' : `obtained or rebuilt: ${r.rebuilt.join(', ')}`}; ${(r.elapsedMs / 1000).toFixed(2)} s)`);
    console.log(`  kernel ${m.kernel.package.name} ${m.kernel.package.version}  ${file(m.kernel.vmlinuz)}  boot protocol ${m.kernel.bootProtocol}`);
    console.log(`  busybox ${m.busybox.package.name}:${m.busybox.package.arch} ${m.busybox.package.version}  ${file(m.busybox.binary)}`);
    console.log(`  initramfs batch  ${file(m.initramfs.batch.file)}`);
    if (m.initramfs.shell) console.log(`  initramfs shell  ${file(m.initramfs.shell.file)}`);
    console.log('  boot: node dist/src/cli/main.js boot --arch x86_64   (the shell on a terminal, the batch image in a pipe or with --batch)');
  }
  return status;
}

function printSummary(cacheDir: string, r: EnsureResult): void {
  const m = r.manifest;
  const how = r.rebuilt.length === 0 ? 'all present, sha256 verified' : `obtained or rebuilt: ${r.rebuilt.join(', ')}`;
  console.log(`vmmu guests in ${cacheDir} (${how}; ${(r.elapsedMs / 1000).toFixed(2)} s)`);
  const rows: string[][] = [];
  for (const f of KERNEL_FLAVOURS) {
    const k = m.kernels[f];
    rows.push([`kernel ${f}`, `${k.package.name} ${k.package.version}`, file(k.vmlinuz), `boot protocol ${k.bootProtocol}`]);
  }
  for (const v of INITRAMFS_VARIANTS) rows.push([`initramfs ${v}`, '', file(m.initramfs[v].file), '']);
  rows.push(['busybox', `${m.busybox.package.name} ${m.busybox.package.version}`, file(m.busybox.binary), '']);
  rows.push(['seabios', `${m.seabios.package.name} ${m.seabios.package.version}`, file(m.seabios.bios), file(m.seabios.vgabios)]);
  const q = m.qemu;
  rows.push(['qemu', `${q.package} ${q.candidate ?? '(no candidate)'}`,
    q.installable ? `installable${q.installed ? ` (installed: ${q.installed})` : ''}` : `NOT installable: ${q.note}`, `bench: ${q.installCommand}`]);
  rows.push(['manifest', '', 'manifest.json', `cmdline: ${m.guest.cmdline}`]);
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((row) => row[i]!.length)));
  for (const row of rows) console.log(`  ${row.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c)).join('  ').trimEnd()}`);
}

function file(r: FileRecord): string {
  return `${r.path} ${(r.size / 1024).toFixed(0)} KiB sha256 ${r.sha256.slice(0, 12)}`;
}

/** Boots both kernels with the batch image and the 686 one with the shell image; prints what happened. */
async function qemuCheck(): Promise<boolean> {
  const g = guestFiles();
  let ok = true;
  const report = (what: string, run: QemuRun, problems: string[]): void => {
    const t = (ms: number | null): string => (ms === null ? 'never' : `${(ms / 1000).toFixed(1)} s`);
    console.log(`\nqemu ${what}: exit ${run.exitCode}${run.timedOut ? ' (timed out, killed)' : ''}, `
      + `${t(run.elapsedMs)} in all, booted marker at ${t(run.bootedMs)}, done marker at ${t(run.doneMs)}`);
    console.log(`  ${run.args.map((a) => (a.includes(' ') ? `"${a}"` : a)).join(' ')}`);
    console.log(stripTerminalControls(run.output).split('\n').map((l) => `  | ${l}`).join('\n'));
    if (problems.length > 0) {
      ok = false;
      console.log(`  FAILED: ${problems.join('; ')}`);
    } else {
      console.log('  ok');
    }
  };
  for (const f of KERNEL_FLAVOURS) {
    const run = await bootInQemu(g.kernels[f], g.initramfs.batch, { cmdline: g.cmdline, timeoutMs: 300_000 });
    const problems = missingBatchLines(run.output).map((l) => `no line matching /${l}/`);
    if (run.timedOut || run.exitCode !== 0) problems.push('QEMU did not power off by itself');
    report(`${f} batch`, run, problems);
  }
  const shell = await bootInQemu(g.kernels['686'], g.initramfs.shell, {
    cmdline: g.cmdline,
    timeoutMs: 300_000,
    steps: [
      { after: 'vmmu:', send: 'echo "shell says $((6 * 7))"; tty; uname -r\n' },
      { after: 'vmmu:', send: 'exit\n' },
    ],
  });
  const problems: string[] = [];
  for (const want of [MARKER_SHELL, 'shell says 42', '/dev/ttyS0', MARKER_DONE]) {
    if (!shell.output.includes(want)) problems.push(`no "${want}"`);
  }
  if (shell.timedOut || shell.exitCode !== 0) problems.push('QEMU did not power off by itself');
  report('686 shell', shell, problems);
  return ok;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof GuestsError) {
      console.error(`npm run guests: ${e.message}`);
    } else {
      log('%O', e);
      console.error(`npm run guests: unexpected failure: ${(e as Error)?.message ?? String(e)} `
        + '(run with DEBUG=vmmu:guests for the stack)');
    }
    process.exitCode = 1;
  },
);
