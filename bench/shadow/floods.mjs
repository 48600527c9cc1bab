// The write-flood detector's zaps in one shadow boot of Debian's 64-bit kernel: which levels, which
// guest frames, at which kernel addresses (the command line gets nokaslr, so that addresses repeat),
// the live shadow pages at most, and how many zaps come before user space. An investigation, not a
// benchmark: it wraps ShadowMode's private methods (zap, allocPage, onWatchedWrite) on the instance.
// Runs on the compiled code (npm run build first); docs/bench.md, "The 64-bit kernel: bench:boot rows
// and the MMU's counters per mode", has its figures.
//
//   node bench/shadow/floods.mjs [CPU [MAX_INSTRUCTIONS]]   CPU: vmmu's --cpu (default +lm,+sse,+sse2)
import { readFileSync } from 'node:fs';
const dist = new URL('../../dist/src/', import.meta.url).href;
const { Machine } = await import(dist + 'machine/machine.js');
const { findGuestFiles64 } = await import(dist + 'guests/x86_64.js');
const { guestCacheDir } = await import(dist + 'guests/paths.js');
const cpu = process.argv[2] ?? '+lm,+sse,+sse2';
const f = findGuestFiles64(guestCacheDir());
let out = '', atBooted = -1;
const m = new Machine({ mode: 'shadow', cpu, memory: 256 << 20, startDate: new Date('2026-01-01T00:00:00Z'), serialOut: (b) => { out += String.fromCharCode(b); if (atBooted < 0 && out.endsWith('VMMU-GUEST-BOOTED')) atBooted = floods; } });
m.loadLinux(readFileSync(f.kernel), f.kernel, readFileSync(f.batch), f.batch, f.cmdline + ' nokaslr');
const s = m.mmu.mode;
const proto = Object.getPrototypeOf(s);
const origWatched = proto.onWatchedWrite, origZap = proto.zap, origAlloc = proto.allocPage;
let inWrite = null; // the guest write being handled
const born = new Map(); // sp -> instruction count at creation
const byLevel = new Map(), byGfn = new Map(), byRip = new Map(), bySize = new Map();
let floods = 0, otherZaps = 0, young = 0;
const now = () => m.cpu.totalInstructions + m.cpu.executed;
let peak = 0;
s.allocPage = function (gfn, role) { const sp = origAlloc.call(this, gfn, role); born.set(sp, now()); if (this.live + 1 > peak) peak = this.live + 1; return sp; };
s.onWatchedWrite = function (gpa, size) { inWrite = { gpa, size }; try { return origWatched.call(this, gpa, size); } finally { inWrite = null; } };
s.zap = function (sp) {
  const role = this.spRole[sp];
  if (!(role & (1 << 18))) {
    if (inWrite) {
      floods++;
      const lvl = (role & 7) + ((role & (1 << 5)) ? 'd' : '');
      byLevel.set(lvl, (byLevel.get(lvl) ?? 0) + 1);
      const gfn = this.spGfn[sp];
      byGfn.set(gfn, (byGfn.get(gfn) ?? 0) + 1);
      const rip = ((m.cpu.ripHi >>> 0).toString(16) + ':' + (m.cpu.eip >>> 0).toString(16));
      byRip.set(rip, (byRip.get(rip) ?? 0) + 1);
      bySize.set(inWrite.size, (bySize.get(inWrite.size) ?? 0) + 1);
      if (now() - (born.get(sp) ?? 0) < 100000) young++;
    } else otherZaps++;
  }
  return origZap.call(this, sp);
};
const r = m.run({ maxInstructions: Number(process.argv[3] ?? 3e9) });
const c = m.mmu.countersByName();
const top = (mp, n) => [...mp.entries()].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => `${typeof k === 'number' ? '0x' + k.toString(16) : k}: ${v}`).join(', ');
console.log(`${r.reason}, ${r.instructions} instructions; create ${c['shadow.page.create']}, zap ${c['shadow.page.zap']}, flood ${c['shadow.flood']}, misaligned ${c['shadow.misaligned'] ?? '?'}`);
console.log(`live shadow pages at most: ${peak} (budget ${s.maxPages}); reclaims: ${c['shadow.page.reclaim']}`);
console.log(`flood zaps before user space (VMMU-GUEST-BOOTED): ${atBooted}`);
console.log(`zaps inside a guest write: ${floods}, elsewhere: ${otherZaps}; zapped within 100k instructions of creation: ${young}`);
console.log(`by level (d: direct): ${top(byLevel, 10)}`);
console.log(`by write size: ${top(bySize, 10)}`);
console.log(`distinct frames: ${byGfn.size}; most zapped frames: ${top(byGfn, 12)}`);
console.log(`distinct RIPs: ${byRip.size}; top RIPs: ${top(byRip, 12)}`);
