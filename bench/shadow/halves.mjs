// 64-bit stores to write-protected guest tables reach the shadow MMU as two 4-byte writes (src/cpu/long.ts,
// wr): how many, and what the shadow MMU's counters become when the high half of such a pair is not
// passed on as a write of its own (`merge`: the low half already dropped the shadow entry of that
// guest entry). An investigation, not a benchmark: it wraps ShadowMode.onWatchedWrite on the instance.
// Runs on the compiled code (npm run build first); figures in docs/bench.md (see floods.mjs).
//
//   node bench/shadow/halves.mjs [CPU] [merge]
import { readFileSync } from 'node:fs';
const dist = new URL('../../dist/src/', import.meta.url).href;
const { Machine } = await import(dist + 'machine/machine.js');
const { findGuestFiles64 } = await import(dist + 'guests/x86_64.js');
const { guestCacheDir } = await import(dist + 'guests/paths.js');
const cpu = process.argv[2] ?? '+lm,+sse,+sse2';
const merge = process.argv[3] === 'merge';
const f = findGuestFiles64(guestCacheDir());
let out = '';
const m = new Machine({ mode: 'shadow', cpu, memory: 256 << 20, startDate: new Date('2026-01-01T00:00:00Z'), serialOut: (b) => { out += String.fromCharCode(b); } });
m.loadLinux(readFileSync(f.kernel), f.kernel, readFileSync(f.batch), f.batch, f.cmdline);
const s = m.mmu.mode;
const orig = Object.getPrototypeOf(s).onWatchedWrite;
const now = () => m.cpu.totalInstructions + m.cpu.executed;
let writes = 0, highHalves = 0, lastGpa = -1, lastAt = -1, lastSize = 0;
s.onWatchedWrite = function (gpa, size) {
  writes++;
  const t = now();
  const high = size === 4 && gpa % 8 === 4 && lastSize === 4 && lastGpa === gpa - 4 && lastAt === t;
  lastGpa = gpa; lastAt = t; lastSize = size;
  if (high) { highHalves++; if (merge) return; }
  return orig.call(this, gpa, size);
};
const r = m.run({ maxInstructions: 3e9 });
const c = m.mmu.countersByName();
const k = ['exit.total', 'exit.pt_write', 'exit.hidden_pf', 'shadow.page.create', 'shadow.page.zap', 'shadow.flood', 'shadow.unsync', 'shadow.root.miss'];
console.log(`${merge ? 'merged halves' : 'as built'}: ${r.reason}, ${r.instructions} instructions, batch done: ${out.includes('VMMU-GUEST-DONE')}, md5 line: ${/VMMU-MD5 e071f707df7bbeee2a6a1eb48011ddd0/.test(out)}`);
console.log(`watched writes ${writes}, of them the high half of an 8-byte store ${highHalves}`);
console.log(k.map((x) => `${x}=${c[x]}`).join(' '));
