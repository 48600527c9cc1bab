/**
 * The long-mode counterpart of pt-writers.ts: random 64-bit programs on
 * 4-level and 5-level paging whose memory accesses land on the guest's own PML4, PDPT,
 * PD and PT entries in the CPU's unusual ways, run under every translation
 * mode and shadow policy (PARTICIPANTS of pt-writers.ts) and every engine,
 * which must all end each program in exactly the same state.
 *
 * What the programs do (one operation kind per `OP_KINDS` name, so that a
 * failure's report can say which operation it was):
 * - 8-byte stores (MOV qword: two 4-byte MMU writes, docs/cpu.md), 4-, 2-
 *   and 1-byte stores to either half of an entry, misaligned stores
 *   straddling two entries or a table boundary (table to table, data page
 *   to table), loads;
 * - REP STOSQ/STOSD/STOSB/STOSW/MOVSQ/MOVSD/MOVSB, DF 0 and 1, over tables;
 * - locked read-modify-writes (XCHG, CMPXCHG, CMPXCHG8B, XADD, BTS/BTR/BTC
 *   on bit 63 (XD), 7 (PS), 1 (R/W), 0 (P) and the others, ADD/OR/AND with
 *   a sign-extended immediate, INC/DEC) on entries that may map the page
 *   written through;
 * - pushes, CALL, PUSHFQ and interrupt frames with RSP inside a table
 *   page (written through the alias, so that they never fault);
 * - code fetched from window pages near their end, so that the fetch runs
 *   on into a page whose entry the program (or that very code) rewrote,
 *   with and without INVLPG;
 * - entries above the PT switched: PD_W[1] and PDPT_W[1] between a table,
 *   a 2 MiB and a 1 GiB page (PS), the same table aliased at several levels
 *   (PDPT_W[2] naming PT_W as a directory, PD_W[2] naming PD_W as a table,
 *   PML4[3] naming PDPT_W again, PML4[4] naming PD_W as a PDPT), the
 *   recursive PML4 entry PML4[2] and accesses through it;
 * - XD with EFER.NXE toggled, the U/S bit with CPL 3 accesses (SYSRETQ to
 *   CPL 3 and back by SYSCALL; IRETQ to CPL 3 and back by an interrupt
 *   gate of DPL 3), CR0.WP and CR4.PGE toggles with global entries, CR3
 *   reloads, INVLPG, reserved bits in entries (#PF with RSVD: bits 51:36
 *   with MAXPHYADDR 36, PS in a PML4E, XD without NXE), physical addresses
 *   beyond RAM, unmapped canonical addresses (CR2's high half), non-
 *   canonical addresses (#GP(0), and #SS(0) through RSP, on an IST stack);
 * - compatibility mode: a far JMP to 32-bit code that loops over 32-bit
 *   stores and locked RMWs on table entries and far-jumps back, so that the
 *   block, jit and wasm engines run code on 4-level paging too (64-bit code
 *   itself runs in long.ts under every engine).
 *
 * Machine: flatMachine with `--cpu +lm`; the 32-bit prologue runs a hot
 * loop (compiled by the block engines), turns on 4-level paging and long
 * mode (SDM vol. 3A, 9.8.5) and far-jumps to the program at the alias HI.
 *
 * Linear layout:
 * - 0 .. 8 MiB identity (PML4[0] -> PDPT_ID[0] -> PD_ID: 2 MiB pages, but
 *   2..4 MiB, where the tables are, through PT_ID's 4 KiB pages): the
 *   program writes tables through it;
 * - HI = 1 GiB (PML4[0] -> PDPT_ID[1] -> PD_HI: 2 MiB pages of 0..8 MiB,
 *   user-accessible): the program, handlers, stacks, IDT, GDT, TSS and the
 *   user code run there; no random operation targets PML4[0], PDPT_ID[1]
 *   or PD_HI, so the handlers survive what the program does (a store
 *   through the window to a page that maps PML4 may still hit PML4[0]:
 *   that program then triple-faults, alike in every participant);
 * - WIN = 512 GiB (PML4[1] -> PDPT_W[0] -> PD_W[0] -> PT_W): 16 window
 *   pages whose entries map data frames, code frames and the tables
 *   themselves; WIN + 2 MiB through PD_W[1] (PT_W2, or a 2 MiB page);
 *   WIN + 1 GiB through PDPT_W[1] (a 1 GiB page, or a table); WIN + 2 GiB
 *   through PDPT_W[2] (PT_W as a directory);
 * - REC = 1 TiB (PML4[2] = PML4 itself): the tables seen as data.
 *
 * The #PF handler (64-bit IDT, interrupt gate) folds CR2 (both halves),
 * the error code and the saved RIP into RBP, puts the window's entries and
 * the upper entries back (from PRISTINE, through the alias, then a CR3
 * reload) and returns with IRETQ; any other exception, or a block's fifth
 * page fault, abandons the block and resumes at the next one; after
 * MAX_EXCEPTIONS of those it halts with AL = 0xee.
 *
 * PCIDs and 5-level paging: every program runs on a CPU with PCID and
 * INVPCID (and LA57 in some without 5-level tables: INVPCID's canonical
 * check is then 57 bits wide); half turn CR4.PCIDE on before the blocks, and
 * `pcidOp` loads CR3 with PCIDs and bit 63, runs INVPCID of every type and
 * toggles PCIDE. Four programs in ten run on 5-level tables: CR4.LA57 set
 * before CR0.PG, CR3 naming PML5 (or PML5_B), PML5[0] the PML4 of the
 * layout below, PML5[1] and [2] (at 2^48 and 2^49) rewritten like the
 * other upper entries; the non-canonical operation's 48-bit addresses are
 * then canonical (a #PF or a translation). Protection keys: six programs
 * in ten set CR4.PKE, all start with a random PKRU, and `pkeyOp` runs
 * WRPKRU and RDPKRU and toggles PKE; the entries' bits 62:59 are their keys.
 *
 * Planted errors the test caught when the generator was written (each a
 * scratch edit of src/mmu, reverted): see the header of pt-writers64.test.ts.
 */
import { createHash } from 'node:crypto';
import type { Engine } from '../../src/cpu/cpu.js';
import type { Machine } from '../../src/machine/machine.js';
import type { ShadowMode } from '../../src/mmu/modes/shadow.js';
import { Rng } from '../mmu/rng.js';
import { CODE, GDT, flatMachine, le32 } from './flat-machine.js';
import type { Participant } from './pt-writers.js';

export { PARTICIPANTS } from './pt-writers.js';

// ---- physical layout ----
const IDT64 = 0x3000;
const STUBS64 = 0x4000;
const PF_HANDLER = 0x5000, COMMON = 0x5800, DIE = 0x5f00, INT40 = 0x5f10, BACK_FROM_USER = 0x5f20;
const TSS = 0x6000;
/** the pseudo-descriptors LIDT and LGDT load in 64-bit mode (10 bytes) and the 32-bit one of the prologue */
const IDTR64 = 0x6100, GDTR64 = 0x6110, IDTR32 = 0x6120;
/** user code (CPL 3 snippets) */
const USER = 0x7000;
const RSP0_TOP = 0x70000, IST_TOP = 0x78000, STACK_TOP = 0x80000;
/** the stack of CPL 3 code (its page and USER's are the only user pages of the alias) */
const USER_STACK_TOP = 0x7e000;
/** the 64-bit program */
const PROG = 0x110000;

export const PML4 = 0x300000;
export const PDPT_ID = 0x301000, PD_ID = 0x302000, PT_ID = 0x303000, PD_HI = 0x304000;
/** a data page right below PT_W and one right above */
const D1 = 0x305000;
export const PT_W = 0x306000;
const D2 = 0x307000;
export const PT_W2 = 0x308000;
export const PD_W = 0x309000;
export const PDPT_W = 0x30a000;
const D3 = 0x30b000;
/** the pristine entries the handlers copy back */
const PRISTINE = 0x30c000;
/** handler state */
const STATE = 0x30d000;
// (STATE + 0x60: DESC)
const FAULTS = STATE, SAVE_RSP = STATE + 8, RESUME = STATE + 0x10, PF_BLOCK = STATE + 0x18, LOOPS = STATE + 0x20, RESUME_U = STATE + 0x28;
const FARPTR = STATE + 0x30, FARPTR2 = STATE + 0x40, SEL10 = STATE + 0x50;
/**
 * A second PML4, the root the program switches CR3 to and back (its entry 0
 * the same PDPT_ID, its entries 1..4 other choices among the same tables):
 * entries written while it is not CR3 must be seen when it is again.
 */
export const PML4_B = 0x30e000;
/**
 * 5-level paging (programs with `la57`): CR3 names PML5 (or PML5_B), whose
 * entry 0 is PML4 (PML4_B) and whose entries 1 and 2 the program rewrites:
 * another root, PML5 itself (recursive at the fifth level), a PML4 or a
 * PDPT walked a level up; reached at 2^48 and 2^49 (canonical with 57 bits).
 */
export const PML5 = 0x314000, PML5_B = 0x315000;
/** the INVPCID descriptor (16 bytes: PCID, then the linear address) */
const DESC = 0x30d000 + 0x60;
/** the alias's first 2 MiB in 4 KiB pages: supervisor pages but USER's and the user stack's (SMEP, SMAP) */
const PT_HI = 0x30f000;
/** data frames the window maps */
const DATA = [0x310000, 0x311000, 0x312000, 0x313000];
/** code frames: sleds of CMC, STC, CLC (one-byte instructions in 64-bit mode too), RET at 0x40 */
export const CODE_CMC = 0x318000, CODE_STC = 0x319000, CODE_CLC = 0x31b000;
/**
 * Code that ends its page rewriting the next page's entry: at 0xfe0
 * `mov [rbx], rax; invlpg [rcx]`, at 0xff0 `mov [rbx], eax` (the low half
 * only), then NOPs up to a MOV RAX, imm64 at 0xffa whose immediate lies in
 * the next page.
 */
const CODE_ST = 0x31a000;
/** what the window's 4 KiB entries map */
// (not PML4: a window page offset 0 would be PML4[0], whose loss no handler survives; the program reaches PML4 as
// data through the recursive entry and the 1 GiB page instead, at entries 2 and up)
const FRAMES = [...DATA, CODE_CMC, CODE_STC, CODE_CLC, CODE_CMC, CODE_ST, PT_W, PT_W2, PD_W, PDPT_W, D1, D2];
/** the tables the program writes (identity addresses) */
const TABLES = [PT_W, PT_W, PT_W, PT_W2, PD_W, PD_W, PDPT_W, PDPT_W, PML4, PML4_B, PD_ID, PDPT_ID];

/** the alias where everything the handlers need lives (PDPT_ID[1]) */
export const HI = 0x40000000;
const hi = (x: number): number => HI + x;
/** the window (PML4[1]) and the recursive region (PML4[2]) */
export const WIN = 1n << 39n;
const REC = 2n << 39n;
const WIN_PAGES = 16;
const PF_PER_BLOCK = 4, MAX_EXCEPTIONS = 150;
const INT_VECTOR = 0x40, USER_BACK_VECTOR = 0x41;

const P = 1, RW = 2, US = 4, A = 0x20, D = 0x40, PS = 0x80, G = 0x100;
const XD = 0x80000000;

/** A 64-bit entry as its two halves. */
export type Entry = [lo: number, hi: number];

/** One operation of a block: what it is (for the failure report) and its bytes. */
export interface Op {
  what: string;
  bytes: number[];
}

export interface Program64 {
  seed: number;
  /** the random part, in blocks (run `loops` times); an exception other than a page fault resumes at the next block */
  blocks: Op[][];
  loops: number;
  /** initial (and pristine) entries: PT_W's 16, PT_W2's 16, PD_W's, PDPT_W's, PML4's, PDPT_ID's, PD_ID's first 4 or 8 */
  pristine: Map<number, Entry[]>;
  /** CR4.PGE at the start */
  pge: boolean;
  /** CR0.WP at the start */
  wp: boolean;
  /** EFER.NXE at the start */
  nxe: boolean;
  /** CR4.SMEP and CR4.SMAP at the start (the program toggles them) */
  smep: boolean;
  smap: boolean;
  /** 1 GiB pages supported (the CPU's pdpe1gb, which sets the MMU's gbPages: PS in a PDPTE is reserved without them) */
  gbPages: boolean;
  /** 5-level paging (CR4.LA57 set before CR0.PG; CR3 names PML5) */
  la57: boolean;
  /** the CPU advertises LA57 (with la57, and sometimes without: INVPCID's canonical check is then 57 bits wide) */
  la57Cpu: boolean;
  /** CR4.PCIDE set at the start of the 64-bit program (the program toggles it, loads CR3 with PCIDs and bit 63, runs INVPCID) */
  pcid: boolean;
  /** CR4.PKE set at the start, and PKRU's first value (the program toggles PKE and runs WRPKRU; entries carry keys in bits 62:59) */
  pke: boolean;
  pkru: number;
}

/** The root CR3 names first, and the other one the program switches to: PML4 and PML4_B, or PML5 and PML5_B. */
const rootA = (la57: boolean): number => (la57 ? PML5 : PML4);
const rootB = (la57: boolean): number => (la57 ? PML5_B : PML4_B);
/** the address the fifth level's entry k maps from (k << 48: canonical with 57 bits only) */
const L5 = (k: number): bigint => BigInt(k) << 48n;

const hex = (v: number): string => (v >>> 0).toString(16);
const entryText = (e: Entry): string => (e[1] ? `${hex(e[1])}_${hex(e[0]).padStart(8, '0')}` : hex(e[0]));

/** A readable dump of a program (for failure messages): the seed, the initial entries and every operation. */
export function describe64(p: Program64): string {
  const lines = [`seed ${p.seed} loops ${p.loops} pge ${p.pge} wp ${p.wp} nxe ${p.nxe} smep ${p.smep} smap ${p.smap} gbPages ${p.gbPages} la57 ${p.la57} la57Cpu ${p.la57Cpu} pcid ${p.pcid} pke ${p.pke} pkru ${hex(p.pkru)}`];
  for (const [at, es] of p.pristine) lines.push(`  ${hex(at)}: ${es.map(entryText).join(' ')}`);
  p.blocks.forEach((b, i) => {
    lines.push(`block ${i}`);
    for (const op of b) lines.push(`  ${op.what.padEnd(44)} ${op.bytes.map((x) => x.toString(16).padStart(2, '0')).join(' ')}`);
  });
  return lines.join('\n');
}

// ---- encodings (64-bit mode) ----
const le64 = (lo: number, hiw: number): number[] => [...le32(lo), ...le32(hiw)];
const big = (v: bigint): Entry => [Number(v & 0xffffffffn) | 0, Number((v >> 32n) & 0xffffffffn) | 0];
/** movabs r64, imm64 */
const movabs = (r: number, lo: number, hiw: number): number[] => [0x48 | (r >> 3), 0xb8 + (r & 7), ...le64(lo, hiw)];
const movabsB = (r: number, v: bigint): number[] => { const [lo, hiw] = big(v); return movabs(r, lo, hiw); };
/** mov r32, imm32 (zero-extends) */
const movR32 = (r: number, v: number): number[] => [...(r >= 8 ? [0x41] : []), 0xb8 + (r & 7), ...le32(v)];
/** xor rbp, r64; rol rbp, 3 */
const foldR = (r: number): number[] => [0x48 | ((r >> 3) << 2), 0x31, 0xc0 | ((r & 7) << 3) | 5, 0x48, 0xc1, 0xc5, 0x03];
const fold = foldR(0);
/** ModR/M + SIB for an absolute [disp32] */
const abs = (reg: number, at: number): number[] => [((reg & 7) << 3) | 4, 0x25, ...le32(at)];
/** mov qword [disp32], imm32 (sign-extended) */
const stq = (at: number, v: number): number[] => [0x48, 0xc7, ...abs(0, at), ...le32(v)];
/** mov rax, [disp32] / mov [disp32], rax */
const ldAbs = (r: number, at: number): number[] => [0x48 | ((r >> 3) << 2), 0x8b, ...abs(r, at)];
const stAbs = (r: number, at: number): number[] => [0x48 | ((r >> 3) << 2), 0x89, ...abs(r, at)];
const RELOAD_CR3 = [0x0f, 0x20, 0xd8, 0x0f, 0x22, 0xd8];
const PUSHF_FOLD = [0x9c, 0x58, ...fold];
const RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSI = 6, RDI = 7;

/** The window page k's linear address. */
const winPage = (k: number): bigint => WIN + BigInt(k) * 0x1000n;

export const OP_KINDS = ['touch', 'value', 'store', 'load', 'string', 'rmw', 'tlb', 'pcid', 'pkey', 'upper', 'stack', 'code', 'user', 'compat', 'canonical'] as const;

export function generate64(seed: number, size = 36): Program64 {
  const r = new Rng(seed);
  // drawn first: the shape of the tables and the operations depend on them
  const la57 = r.chance(0.4);
  const la57Cpu = la57 || r.chance(0.3);
  const pcid = r.chance(0.5);
  const pke = r.chance(0.6);
  const pkru = pkruValue(r);
  const tables = la57 ? [...TABLES, PML5, PML5_B] : TABLES;
  const frameEntry = (fr: number): Entry => {
    let lo = fr;
    if (r.chance(0.9)) lo |= P;
    if (r.chance(0.8)) lo |= RW;
    if (r.chance(0.35)) lo |= US;
    if (r.chance(0.5)) lo |= A;
    if (r.chance(0.5)) lo |= D;
    if (r.chance(0.25)) lo |= G;
    if (r.chance(0.05)) lo |= PS;
    return [lo | 0, highHalf() | key()];
  };
  /** a protection key (bits 62:59, the high half's 30:27) for a leaf, often 0 */
  const key = (): number => (r.chance(0.5) ? r.below(16) << 27 : 0);
  /** the high half of an entry: XD, ignored bits 62:52, a reserved bit (51:36), a physical address beyond RAM */
  const highHalf = (): number => {
    const x = r.below(100);
    if (x < 66) return 0;
    if (x < 82) return XD;
    if (x < 86) return 0x7ff00000 | (r.chance(0.5) ? XD : 0);
    if (x < 90) return 1 << (4 + r.below(16)); // bits 51:36: reserved with MAXPHYADDR 36
    if (x < 93) return 1 + r.below(15); // physical bits 35:32: beyond RAM
    return r.u32() | 0;
  };
  const pte = (): Entry => (r.chance(0.06) ? [r.u32() | 0, r.u32() | 0] : frameEntry(r.pick(FRAMES)));
  /** an upper-level entry: one of the tables, a large page (2 MiB or 1 GiB frame), or random */
  const upper = (): Entry => {
    const x = r.below(100);
    const fl = P | (r.chance(0.85) ? RW : 0) | (r.chance(0.6) ? US : 0) | (r.chance(0.5) ? A : 0);
    if (x < 55) return [r.pick([PT_W, PT_W2, PD_W, PDPT_W, PML4, PT_ID, ...(la57 ? [PML5] : [])]) | fl, r.chance(0.85) ? 0 : highHalf()];
    if (x < 80) return [r.pick([0, 0x200000, 0x400000, 0x600000]) | fl | PS | (r.chance(0.5) ? D : 0) | (r.chance(0.3) ? G : 0), r.chance(0.85) ? 0 : highHalf()];
    if (x < 90) return [(r.pick([PT_W, PD_W, 0x400000]) | fl) & ~(r.chance(0.5) ? P : 0), 0];
    return [r.u32() | 0, r.chance(0.5) ? 0 : r.u32() | 0];
  };
  const value = (): Entry => (r.chance(0.75) ? pte() : r.chance(0.5) ? upper() : r.pick<Entry>([[0, 0], [-1, -1], [r.u32() | 0, r.u32() | 0], [-1, 0]]));

  // initial entries
  const pristine = new Map<number, Entry[]>();
  const win: Entry[] = [];
  for (let k = 0; k < WIN_PAGES; k++) {
    win.push(k < 2 ? [CODE_CMC | P | RW | A | US, 0] : [r.pick(FRAMES) | P | RW | (r.chance(0.5) ? US : 0) | (r.chance(0.5) ? A : 0) | (r.chance(0.3) ? D : 0) | (r.chance(0.2) ? G : 0), (r.chance(0.15) ? XD : 0) | key()]);
  }
  pristine.set(PT_W, win);
  const win2: Entry[] = [];
  for (let k = 0; k < WIN_PAGES; k++) win2.push(pte());
  pristine.set(PT_W2, win2);
  const u = (): number => (r.chance(0.8) ? US : 0);
  // PD_W[1]: PT_W2, a 2 MiB page of RET, or a 2 MiB page over the tables themselves (2..4 MiB)
  pristine.set(PD_W, [[PT_W | P | RW | A | u(), 0], [r.pick([PT_W2 | P | RW, 0x400000 | PS | P | RW, 0x200000 | PS | P | RW | (r.chance(0.5) ? G : 0)]) | u(), 0], [PD_W | P | RW | u(), 0], [0, 0]]);
  pristine.set(PDPT_W, [[PD_W | P | RW | A | u(), 0], [r.chance(0.5) ? PS | P | RW | u() : PD_W | P | RW | u(), 0], [PT_W | P | RW | u(), 0], [0, 0]]);
  pristine.set(PML4, [[PDPT_ID | P | RW | US | A, 0], [PDPT_W | P | RW | A | US, 0], [PML4 | P | RW | u(), 0], [r.chance(0.5) ? PDPT_W | P | RW | u() : 0, 0], [r.chance(0.5) ? PD_W | P | u() : 0, 0], [0, 0], [0, 0], [0, 0]]);
  pristine.set(PML4_B, [[PDPT_ID | P | RW | US | A, 0], [r.pick([PDPT_W, PDPT_W, PD_W, PML4_B]) | P | RW | u(), 0], [r.pick([PML4_B, PML4]) | P | RW | u(), 0], [r.chance(0.5) ? PD_W | P | RW | u() : 0, 0], [PDPT_W | P | u(), 0], [0, 0], [0, 0], [0, 0]]);
  pristine.set(PDPT_ID, [[PD_ID | P | RW | US | A, 0], [PD_HI | P | RW | US | A, 0], [0, 0], [0, 0]]);
  pristine.set(PD_ID, [[0 | P | RW | PS | G, 0], [PT_ID | P | RW, 0], [0x400000 | P | RW | PS, 0], [0x600000 | P | RW | PS | US, 0]]);
  if (la57) {
    // entry 0 the PML4 below it (the identity, the alias, the window); 1 and 2 another root, a table a level up, or none
    const five = (): Entry => (r.chance(0.15) ? [0, 0] : [r.pick([PML4, PML4_B, PML5, PML5_B, PDPT_W]) | P | RW | u() | (r.chance(0.5) ? A : 0), 0]);
    pristine.set(PML5, [[PML4 | P | RW | US | A, 0], five(), five(), [0, 0]]);
    pristine.set(PML5_B, [[PML4_B | P | RW | US | A, 0], five(), five(), [0, 0]]);
  }

  /** an identity address of an entry (maybe misaligned) in a table the program writes */
  const tableTarget = (): number => {
    const t = r.pick(tables);
    let k: number;
    if (t === PML4 || t === PML4_B) k = 1 + r.below(7); // never PML4[0] (the identity and the alias)
    else if (t === PML5 || t === PML5_B) k = 1 + r.below(3); // nor PML5[0]
    else if (t === PDPT_ID) k = r.pick([0, 2, 3]); // never PDPT_ID[1] (the alias)
    else if (t === PD_ID) k = r.pick([2, 3, 3, 1]);
    else k = r.below(t === PT_W || t === PT_W2 ? 20 : 6);
    return t + 8 * k + (r.chance(0.7) || t === PDPT_ID ? 0 : r.chance(0.5) ? 4 : r.below(8));
  };
  /** a random address the program writes or reads, as a 64-bit value */
  const target = (): bigint => {
    const x = r.below(100);
    if (x < 30) return BigInt(tableTarget());
    if (x < 38) return BigInt(PT_W - 6 + r.below(12)); // D1 -> PT_W
    if (x < 44) return BigInt(PT_W + 0x1000 - 6 + r.below(12)); // PT_W -> D2
    if (x < 48) return BigInt(PD_W + 0x1000 - 6 + r.below(12)); // PD_W -> PDPT_W (entry 0)
    if (x < 51) return BigInt(PT_W2 + 0x1000 - 6 + r.below(12)); // PT_W2 -> PD_W (entry 0)
    if (x < 53) return BigInt(PML4 + 0x1000 - 6 + r.below(6)); // PML4[511] -> PDPT_ID[0]
    if (x < 80) {
      // through the window (the tables themselves may be mapped there)
      const off = r.pick([0, 8, 0x10, 0xffc, 0xffe, 0xfff, 0xff8, 0xff9, r.below(0x1000), 8 * r.below(20), 8 * r.below(20) + 4]);
      return winPage(r.below(WIN_PAGES)) + BigInt(off);
    }
    if (x < 82) return WIN + 0x200000n + BigInt(r.below(WIN_PAGES) * 0x1000 + r.pick([0, 8, 0xff8, 0xffc, r.below(0x1000)])); // PD_W[1]
    if (x < 85) return WIN + 0x200000n + BigInt(tableTarget() - 0x200000); // PD_W[1] as a 2 MiB page over the tables
    if (x < 89) return WIN + (1n << 30n) + BigInt(r.pick([PT_W, PD_W, PDPT_W, PT_W2, DATA[0]!, PML4 + 0x10]) + 8 * r.below(6) + (r.chance(0.2) ? 4 : 0)); // PDPT_W[1]: a 1 GiB page over the tables
    if (x < 91) return WIN + (2n << 30n) + BigInt(r.below(4) << 21) + BigInt(r.below(4) * 0x1000 + r.pick([0, 8, 0x18])); // PDPT_W[2]: PT_W as a directory
    if (x < 97) {
      // the recursive entry: PML4[2] walked as PDPT, PD or PT, the tables as data (never offset 0 or 8 of the final page)
      const i = BigInt(r.pick([2, 2, 1, 0, 3])), j = BigInt(r.pick([2, 1, 0, 3])), k = BigInt(r.pick([2, 1, 0, 3, 4]));
      return REC + (i << 30n) + (j << 21n) + (k << 12n) + BigInt(r.pick([0x10, 0x18, 0x20, 0x28, 0x30, 0x800, 0xff8]));
    }
    // with 5-level paging, through PML5[1] and [2] (2^48 and 2^49: non-canonical with 48 bits)
    if (la57 && x < 99) return L5(r.pick([1, 1, 2])) + r.pick([WIN, REC + (2n << 30n), 0n, WIN + (1n << 30n) + BigInt(PT_W), 1n << 30n]) + BigInt(r.pick([0, 8, 0x10, 0xff8]));
    // unmapped canonical addresses (#PF with CR2's high half) and the top of the lower half
    return r.pick([0x7ffffffff000n, 0x7fffffffeff8n, 0x123400000000n, WIN - 8n]);
  };

  const blocks: Op[][] = [];
  while (blocks.length < size) {
    const body: Op[] = [];
    blocks.push(body);
    const ops = 1 + r.below(4);
    for (let n = 0; n < ops; n++) {
      const x = r.below(100);
      const op = x < 10 ? halfOp(r, la57) : x < 16 ? straddleOp(r, value, la57) : x < 21 ? globalOp(r) : x < 25 ? pcidOp(r, la57, target) : x < 28 ? pkeyOp(r) : operation(r, la57, target, tableTarget, value, upper);
      // and often a read (or a call) through the window right after: a stale translation shows before the next repair
      if (r.chance(0.4)) {
        const t = touchAddress(r, la57);
        op.what += ` +touch ${t.toString(16)}`;
        op.bytes = [...op.bytes, ...movabsB(RDX, t), 0x48, 0x8b, 0x02, ...fold]; // mov rax, [rdx] (a copy: some ops' bytes are shared constants)
      }
      body.push(op);
    }
  }
  return { seed, blocks, loops: 1 + r.below(3), pristine, pge: r.chance(0.7), wp: r.chance(0.8), nxe: r.chance(0.8), smep: r.chance(0.3), smap: r.chance(0.2), gbPages: r.chance(0.75), la57, la57Cpu, pcid, pke, pkru };
}

/** An address whose translation goes through the entries the program rewrites. */
function touchAddress(r: Rng, la57: boolean): bigint {
  const x = r.below(la57 ? 12 : 10);
  if (x >= 10) return L5(r.pick([1, 2])) + r.pick([WIN, WIN + 0x1000n * BigInt(r.below(WIN_PAGES)), 0n, 1n << 30n, REC + (2n << 30n)]) + BigInt(r.pick([0, 8, 0x800]));
  if (x < 6) return winPage(r.below(WIN_PAGES)) + BigInt(r.pick([0, 8, 0x800, 0xff8]));
  if (x < 7) return WIN + 0x200000n + BigInt(r.chance(0.5) ? r.below(WIN_PAGES) * 0x1000 : r.pick([PT_W, PD_W, PDPT_W, PML4 + 0x10]) - 0x200000);
  if (x < 8) return WIN + (1n << 30n) + BigInt(r.pick([PT_W, PD_W, 0x200000, DATA[1]!]));
  if (x < 9) return REC + (2n << 30n) + (BigInt(r.pick([1, 2])) << 21n) + (BigInt(r.pick([0, 1, 2])) << 12n) + 0x10n;
  return (BigInt(r.pick([3, 4])) << 39n) + BigInt(r.below(4) << 21);
}

/**
 * One half of an entry rewritten on its own (4 bytes at +4: XD, reserved bits, physical bits beyond RAM, the ignored
 * bits 62:52; or a locked BTS/BTR/BTC of one of them), at any level of the window's path, then an access through it.
 */
function halfOp(r: Rng, la57: boolean): Op {
  const [at, through] = r.pick<[number, bigint]>([
    [PT_W + 8 * r.below(WIN_PAGES), -1n], [PD_W, WIN], [PD_W + 8, WIN + 0x200000n], [PDPT_W, WIN], [PDPT_W + 8, WIN + (1n << 30n)],
    [PML4 + 8, WIN], [PML4 + 16, REC], [PML4 + 24, 3n << 39n], [PML4 + 32, 4n << 39n], [PDPT_W + 16, WIN + (2n << 30n)],
    ...(la57 ? [[PML5 + 8, L5(1)], [PML5 + 8, L5(1) + WIN], [PML5 + 16, L5(2)]] as [number, bigint][] : []),
  ]);
  const t = through < 0n ? winPage((at - PT_W) / 8) : through + BigInt(r.below(4) * 0x1000);
  // first a read through it, so that a translation built from the entry exists when its half changes
  const b: number[] = r.chance(0.6) ? [...movabsB(RDX, t), 0x48, 0x8b, 0x02, ...fold] : [];
  let what = b.length ? 'read, ' : '';
  // a fetch through it (below) needs code there: set the PT_W entry's low half to a code frame first
  const call = through === -1n && r.chance(0.35);
  if (call) {
    const c = r.pick([CODE_CMC, CODE_STC, CODE_CLC]) | P | RW | A | (r.chance(0.3) ? US : 0);
    b.push(0xc7, ...abs(0, at), ...le32(c));
    what = `${hex(at)}.lo = ${hex(c)}, `;
  }
  if (r.chance(0.6)) {
    const v = r.pick([XD, 0, 0, 0x80000, 0x10, 1, 0x7ff00000, XD | 0x7ff00000, 0x8]);
    b.push(0xc7, ...abs(0, at + 4), ...le32(v)); // mov dword [at + 4], v
    what += `half ${hex(at)}.hi = ${hex(v)}`;
  } else {
    const bit = r.pick([31, 31, 19, 0, 4, 20]);
    const which = r.below(3);
    b.push(0xf0, 0x0f, 0xba, (0x2c + 8 * which), 0x25, ...le32(at + 4), bit); // lock bts/btr/btc dword [at + 4], bit
    what += `half ${hex(at)}.hi ${['bts', 'btr', 'btc'][which]} ${bit}`;
  }
  if (r.chance(0.5)) { b.push(...movabsB(RDI, t), 0x0f, 0x01, 0x3f); what += ' invlpg'; } else if (r.chance(0.3)) { b.push(...RELOAD_CR3); what += ' cr3'; }
  // a fetch through it (elsewhere than a code frame it would run low memory or tables as code, whose stray stores
  // may reach PML4[0] and end the program)
  if (call) {
    b.push(...movabsB(RDX, t + 0xff0n), 0xff, 0xd2, ...PUSHF_FOLD);
    what += ` call ${(t + 0xff0n).toString(16)}`;
  } else if (r.chance(0.35)) {
    // a write after the first read (whose slot, from a clean entry, allows no write): the software TLB refills from
    // the entry as it is now, invalidated or not, and so must the shadow MMU, out of sync or not
    b.push(...movabsB(RDX, t + BigInt(r.pick([0x20, 0x28, 0x800]))), 0x48, 0x89, 0x2a, 0x48, 0x8b, 0x02, ...fold); // mov [rdx], rbp; mov rax, [rdx]
    what += ` write ${t.toString(16)}`;
  } else {
    b.push(...movabsB(RDX, t + BigInt(r.pick([0, 8, 0x10]))), 0x48, 0x8b, 0x02, ...fold);
    what += ` read ${t.toString(16)}`;
  }
  return { what, bytes: b };
}

/**
 * A store that straddles two entries of a table on the window's path (2, 4
 * or 8 bytes; an 8-byte one is two 4-byte MMU writes, the second or both
 * straddling), then an access through the second entry: both must be seen.
 */
function straddleOp(r: Rng, value: () => Entry, la57: boolean): Op {
  const [base, through] = r.pick<[number, (k: number) => bigint]>([
    [PT_W, (k) => winPage(k)], [PT_W, (k) => winPage(k)], [PD_W, (k) => WIN + (BigInt(k) << 21n)], [PDPT_W, (k) => WIN + (BigInt(k) << 30n)],
    [PML4, (k) => BigInt(k) << 39n], [PML4_B, (k) => BigInt(k) << 39n],
    ...(la57 ? [[PML5, (k: number) => L5(k)], [PML5_B, (k: number) => L5(k) + WIN]] as [number, (k: number) => bigint][] : []),
  ]);
  const k = base === PT_W ? r.below(WIN_PAGES - 1) : base === PML4 || base === PML4_B ? 1 + r.below(3) : base === PML5 || base === PML5_B ? 1 : r.below(2);
  const size = r.pick([2, 4, 8, 8]);
  const at = base + 8 * k + 8 - 1 - r.below(size - 1); // the last byte of entry k and the first of k + 1 at least
  const [lo, h] = value();
  const t = through(k + 1) + BigInt(r.pick([0, 8, 0x800]));
  // read through entry k + 1 first, so that a translation (a shadow entry) built from it exists when the store lands
  const b = [...movabsB(RDX, t), 0x48, 0x8b, 0x02, ...fold];
  b.push(...movabs(RAX, lo, h), ...movR32(RDI, at), ...(size === 2 ? [0x66, 0x89, 0x07] : size === 4 ? [0x89, 0x07] : [0x48, 0x89, 0x07]));
  if (r.chance(0.5)) b.push(...RELOAD_CR3); // the software TLB forgets it, a shadow table need not
  b.push(0x48, 0x8b, 0x02, ...fold);
  return { what: `straddle${size * 8} ${hex(at)} = ${entryText([lo, h])} read ${t.toString(16)}`, bytes: b };
}

/**
 * A global page (CR4.PGE set, G in the entry) cached, its entry then
 * rewritten without INVLPG, CR3 reloaded: the old translation may stay
 * (SDM 4.10.4.1: a CR3 load does not invalidate global entries) and must
 * stay alike in every mode; then INVLPG (or a CR4.PGE toggle) and the new one.
 */
function globalOp(r: Rng): Op {
  const k = r.below(WIN_PAGES);
  const entry = PT_W + 8 * k, page = winPage(k);
  const b = [0x0f, 0x20, 0xe0, 0x0d, ...le32(0x80), 0x0f, 0x22, 0xe0]; // cr4 |= PGE
  b.push(0xf0, 0x48, 0x81, 0x0c, 0x25, ...le32(entry), ...le32(G | P | A)); // lock or qword [entry], G | P | A
  b.push(...movabsB(RDX, page), 0x0f, 0x01, 0x3a, 0x48, 0x8b, 0x02, ...fold); // invlpg [rdx]; mov rax, [rdx]
  const v = r.pick([DATA[0]!, DATA[1]!, DATA[2]!, PT_W2, CODE_STC, D1]) | P | RW | A | (r.chance(0.7) ? G : 0);
  b.push(0xc7, ...abs(0, entry), ...le32(v)); // the low half: another frame
  b.push(...RELOAD_CR3, 0x48, 0x8b, 0x42, 0x10, ...fold); // mov rax, [rdx + 0x10]
  let what = `global page ${k} -> ${hex(v)}, cr3 reload`;
  const end = r.below(3);
  if (end === 0) { b.push(0x0f, 0x01, 0x3a); what += ', invlpg'; }
  else if (end === 1) { b.push(0x0f, 0x20, 0xe0, 0x35, ...le32(0x80), 0x0f, 0x22, 0xe0, 0x35, ...le32(0x80), 0x0f, 0x22, 0xe0); what += ', pge off and on'; }
  b.push(0x48, 0x8b, 0x42, 0x18, ...fold);
  return { what, bytes: b };
}

/**
 * PCIDs (SDM vol. 3A 4.10.1, 4.10.4.1; vol. 2 "MOV--Move to/from Control
 * Registers", "INVPCID"): MOV to CR3 with a PCID and bit 63 (keep that
 * PCID's translations), INVPCID of each type (and a bad type, PCID or
 * address), CR4.PCIDE toggled (set only while CR3[11:0] is 0; clearing it
 * flushes). A PTE rewritten without INVLPG before a no-flush CR3 load or
 * an INVPCID of another PCID leaves a translation the SDM lets the CPU
 * keep or drop: whatever vmmu does must be the same in every mode, which
 * is what the shadow MMU's own caches (resynchronized at every CR3 load,
 * docs/architecture.md) must not break. With PCIDE = 0 the same bytes
 * give #GP(0) (bit 63, INVPCID with a PCID) or a PWT/PCD CR3: alike too.
 */
function pcidOp(r: Rng, la57: boolean, target: () => bigint): Op {
  const pcid = (): number => r.pick([0, 0, 1, 2, 3, 0xfff]);
  const loadCr3 = (root: number, id: number, keep: boolean): number[] => [...movabs(RAX, root | id, keep ? XD : 0), 0x0f, 0x22, 0xd8];
  const cr3Text = (root: number, id: number, keep: boolean): string => `cr3 = ${hex(root)} pcid ${hex(id)}${keep ? ' keep' : ''}`;
  const x = r.below(10);
  if (x < 3) {
    // to a PCID (either root), maybe a read there, and back to the first root with a PCID, each keeping or not
    const root = r.pick([rootA(la57), rootB(la57)]), id = pcid(), keep = r.chance(0.5);
    const b = loadCr3(root, id, keep);
    let what = cr3Text(root, id, keep);
    if (r.chance(0.6)) {
      const t = touchAddress(r, la57);
      b.push(...movabsB(RDX, t), 0x48, 0x8b, 0x02, ...fold);
      what += `, read ${t.toString(16)}`;
    }
    if (r.chance(0.7)) {
      const id2 = r.chance(0.5) ? id : pcid(), keep2 = r.chance(0.5);
      b.push(...loadCr3(rootA(la57), id2, keep2));
      what += `, ${cr3Text(rootA(la57), id2, keep2)}`;
    }
    return { what, bytes: b };
  }
  if (x < 5) {
    // a cached window page's PTE rewritten without INVLPG; CR3 reloaded keeping the PCID; maybe away to another PCID
    // and back keeping both; a read after each
    const k = r.below(WIN_PAGES), page = winPage(k);
    const v = r.pick([DATA[0]!, DATA[1]!, DATA[3]!, CODE_STC, PT_W2, D2]) | P | RW | A | (r.chance(0.4) ? US : 0) | (r.chance(0.3) ? G : 0);
    const b = [...movabsB(RDX, page), 0x48, 0x8b, 0x02, ...fold]; // read: the translation cached
    b.push(0xc7, ...abs(0, PT_W + 8 * k), ...le32(v)); // the PTE's low half: another frame
    b.push(0x0f, 0x20, 0xd8, 0x48, 0x0f, 0xba, 0xe8, 0x3f, 0x0f, 0x22, 0xd8); // mov rax, cr3; bts rax, 63; mov cr3, rax
    b.push(0x48, 0x8b, 0x42, 0x08, ...fold);
    let what = `pte ${k} -> ${hex(v)}, cr3 reload keeping`;
    if (r.chance(0.6)) {
      const id = pcid();
      b.push(0x0f, 0x20, 0xd8, 0x49, 0x89, 0xc0); // mov rax, cr3; mov r8, rax
      b.push(...loadCr3(r.pick([rootA(la57), rootB(la57)]), id, r.chance(0.7)), 0x48, 0x8b, 0x42, 0x10, ...fold);
      b.push(0x4c, 0x89, 0xc0, 0x48, 0x0f, 0xba, 0xe8, 0x3f, 0x0f, 0x22, 0xd8, 0x48, 0x8b, 0x42, 0x18, ...fold); // mov rax, r8; bts rax, 63; mov cr3, rax
      what += `, away to pcid ${hex(id)} and back keeping`;
    }
    return { what, bytes: b };
  }
  if (x < 8) {
    // INVPCID: type 0 (an address), 1 (a PCID), 2 (all, globals too), 3 (all but globals); now and then a bad type,
    // a reserved descriptor bit, a non-canonical address; before it maybe a PTE rewritten, after it a read
    const type = r.chance(0.05) ? 4 : r.pick([0, 0, 1, 1, 2, 3]);
    const id = r.chance(0.05) ? 0x1000 : pcid();
    const k = r.below(WIN_PAGES);
    const addr = r.chance(0.7) ? winPage(k) + BigInt(r.chance(0.5) ? 0 : r.below(0x1000)) : r.chance(0.5) ? target() : r.pick([0x800000000000n, 0x0100000000000000n, L5(1) + WIN]);
    const b: number[] = [];
    let what = '';
    if (r.chance(0.5)) {
      const v = r.pick([DATA[0]!, DATA[2]!, CODE_CLC, PT_W]) | P | RW | A | (r.chance(0.3) ? G : 0);
      b.push(0xc7, ...abs(0, PT_W + 8 * k), ...le32(v));
      what = `pte ${k} -> ${hex(v)}, `;
    }
    b.push(...movabsB(RAX, addr), ...stAbs(RAX, hi(DESC + 8)), ...stq(hi(DESC), id), ...movR32(RAX, type));
    b.push(0x66, 0x0f, 0x38, 0x82, ...abs(0, hi(DESC))); // invpcid rax, [DESC]
    b.push(...movabsB(RDX, winPage(k)), 0x48, 0x8b, 0x02, ...fold);
    return { what: `${what}invpcid type ${type} pcid ${hex(id)} ${addr.toString(16)}, read page ${k}`, bytes: b };
  }
  if (x < 9) return { what: 'toggle cr4.pcide', bytes: [0x0f, 0x20, 0xe0, 0x35, ...le32(0x20000), 0x0f, 0x22, 0xe0] };
  // CR3 with a PCID, then PCIDE cleared (allowed, a flush; CR3's low bits become PWT/PCD) and set again (refused
  // while CR3[11:0] is not 0)
  const id = pcid();
  return {
    what: `cr3 pcid ${hex(id)}, pcide off and on`,
    bytes: [...loadCr3(rootA(la57), id, r.chance(0.5)), 0x0f, 0x20, 0xe0, 0x25, ...le32(~0x20000), 0x0f, 0x22, 0xe0, 0x0d, ...le32(0x20000), 0x0f, 0x22, 0xe0],
  };
}

/** A PKRU value: all open, all closed, one key's AD or WD, or random (SDM vol. 3A 4.6.2: AD is bit 2k, WD bit 2k+1). */
function pkruValue(r: Rng): number {
  const k = r.below(16);
  return r.pick([0, 0x55555554, 0x55555554, 0xaaaaaaa8, 0xaaaaaaa8, 0xfffffffc, 1 << (2 * k), 2 << (2 * k), 3 << (2 * k), r.u32() | 0]) | 0;
}

/**
 * Protection keys (SDM vol. 3A 4.6.2; vol. 2 WRPKRU, RDPKRU): with CR4.PKE
 * set, bits 62:59 of a leaf that maps a user page are its key, and PKRU's
 * AD and WD bits for the key deny data accesses and writes (supervisor
 * writes too when CR0.WP is 1); no TLB maintenance goes with a WRPKRU. The
 * entries the generator makes carry keys already (random high halves, the
 * ignored bits 62:52 set); this writes PKRU, reads it back, and toggles
 * CR4.PKE, then reads and writes through the window.
 */
function pkeyOp(r: Rng): Op {
  const page = winPage(r.below(WIN_PAGES)) + BigInt(r.pick([0, 8, 0x800]));
  const access = [...movabsB(RDX, page), 0x48, 0x8b, 0x02, ...fold, ...(r.chance(0.5) ? [0x48, 0x89, 0x6a, 0x10] : [])]; // mov rax, [rdx]; maybe mov [rdx + 0x10], rbp
  if (r.chance(0.75)) {
    const v = pkruValue(r);
    // xor ecx, ecx; xor edx, edx; mov eax, v; wrpkru; rdpkru; fold (with CR4.PKE = 0: #UD, the block abandoned)
    return { what: `wrpkru ${hex(v)}, access ${page.toString(16)}`, bytes: [0x31, 0xc9, 0x31, 0xd2, 0xb8, ...le32(v), 0x0f, 0x01, 0xef, 0x0f, 0x01, 0xee, ...fold, ...access] };
  }
  return { what: `toggle cr4.pke, access ${page.toString(16)}`, bytes: [0x0f, 0x20, 0xe0, 0x35, ...le32(1 << 22), 0x0f, 0x22, 0xe0, ...access] };
}

/** One random operation. */
function operation(r: Rng, la57: boolean, target: () => bigint, tableTarget: () => number, value: () => Entry, upper: () => Entry): Op {
  const ldVal = (reg: number): number[] => { const [lo, h] = value(); return movabs(reg, lo, h); };
  const k = r.below(100);
  if (k < 8) {
    // touch window pages (invalidated first, or not): a translation the program changed must be walked afresh
    const b: number[] = [];
    for (let n = 1 + r.below(3); n > 0; n--) {
      const page = winPage(r.below(WIN_PAGES));
      b.push(...movabsB(RDI, page + BigInt(r.pick([0, 0x10, 0x800, 0xff8]))));
      if (r.chance(0.6)) b.push(0x0f, 0x01, 0x3f); // invlpg [rdi]
      b.push(0x48, 0x8b, 0x07, ...fold); // mov rax, [rdi]
    }
    return { what: 'touch', bytes: b };
  }
  if (k < 12) return { what: 'value', bytes: ldVal(r.pick([RAX, RAX, RCX, RDX, RBX])) };
  if (k < 28) {
    // a store of 1, 2, 4 or 8 bytes, maybe misaligned or straddling
    const t = target();
    const s = r.pick([0, 1, 2, 3, 3, 3]);
    const b = [...movabsB(RDI, t), ...ldVal(RAX)];
    b.push(...[[0x88, 0x07], [0x66, 0x89, 0x07], [0x89, 0x07], [0x48, 0x89, 0x07]][s]!);
    return { what: `store${8 << s} ${t.toString(16)}`, bytes: b };
  }
  if (k < 33) {
    const t = target();
    return { what: `load ${t.toString(16)}`, bytes: [...movabsB(RDI, t), 0x48, 0x8b, 0x07, ...fold] };
  }
  if (k < 45) {
    // a string instruction, forwards or backwards (never backwards from the start of PML4: PML4[0] is the alias's)
    // never into PDPT_ID (either way a run reaches PDPT_ID[1], the alias's entry)
    let dst = target();
    // (nor through the large pages that map the tables at the same offset modulo 2 MiB)
    const nearAlias = (v: bigint): boolean => { const m = Number(v & 0x1fffffn); return m >= ((PML4 + 0xe00) & 0x1fffff) && m < ((PDPT_ID + 0x1000) & 0x1fffff); };
    while (nearAlias(dst)) dst = target();
    const src = target();
    // backwards only where a run of 24 quadwords cannot reach entries 0 and 1 of PML4 or PDPT_ID, whatever the window
    // or the recursive entry maps
    const dir = r.chance(0.35) && !(dst >= BigInt(PML4) && dst < BigInt(PML4 + 0x40)) && (dst < 1n << 32n || (dst & 0xfffn) >= 0xd0n);
    const count = r.chance(0.1) ? 0 : 1 + r.below(r.chance(0.7) ? 6 : 24);
    const op = r.pick([[0x48, 0xab], [0x48, 0xab], [0xab], [0xaa], [0x66, 0xab], [0x48, 0xa5], [0x48, 0xa5], [0xa5], [0xa4]]);
    const rep = r.chance(0.85);
    const b = [dir ? 0xfd : 0xfc, ...movabsB(RDI, dst), ...movabsB(RSI, src), ...movR32(RCX, count)];
    if (r.chance(0.7)) b.push(...ldVal(RAX));
    b.push(...(rep ? [0xf3] : []), ...op, 0xfc, ...foldR(RDI), ...foldR(RCX), ...foldR(RSI));
    return { what: `${rep ? 'rep ' : ''}${op.map((x) => x.toString(16)).join(' ')} df=${dir ? 1 : 0} n=${count} ${dst.toString(16)} <- ${src.toString(16)}`, bytes: b };
  }
  if (k < 60) {
    // a locked read-modify-write
    const t = r.chance(0.7) ? BigInt(tableTarget()) : target();
    const b = [...movabsB(RDI, t)];
    if (r.chance(0.6)) b.push(...ldVal(RAX));
    if (r.chance(0.6)) b.push(...ldVal(RCX));
    const lock = r.chance(0.85) ? [0xf0] : [];
    const w = r.chance(0.75) ? [0x48] : [];
    let what: string;
    switch (r.below(10)) {
      case 0: what = 'xchg'; b.push(...w, 0x87, 0x07); break;
      case 1: what = 'cmpxchg (equal)'; b.push(...w, 0x8b, 0x07, ...lock, ...w, 0x0f, 0xb1, 0x0f); break; // mov rax, [rdi]; cmpxchg [rdi], rcx
      case 2: what = 'cmpxchg'; b.push(...lock, ...w, 0x0f, 0xb1, 0x0f); break;
      case 3: what = 'cmpxchg8b'; b.push(...ldVal(RBX), 0x8b, 0x07, 0x8b, 0x57, 0x04, ...(r.chance(0.3) ? [0xff, 0xc2] : []), ...lock, 0x0f, 0xc7, 0x0f); break; // eax, edx = [rdi]; (maybe unequal)
      case 4: what = 'xadd'; b.push(...lock, ...w, 0x0f, 0xc1, 0x07); break;
      case 5: case 6: {
        const bit = r.pick([63, 63, 1, 1, 0, 0, 7, 7, 2, 5, 6, 8, 12, 51, 31, 32]);
        const which = r.below(3);
        what = `${['bts', 'btr', 'btc'][which]} ${bit}`;
        // REX.W: the bit offset is taken mod 64 (bit 63 is XD); without it, bits 32 and up reach the high half's dword at [rdi + 4]
        if (bit >= 32 && r.chance(0.4)) b.push(...lock, 0x0f, 0xba, 0x6f + 8 * which, 0x04, bit - 32);
        else b.push(...lock, 0x48, 0x0f, 0xba, 0x2f + 8 * which, bit);
        break;
      }
      case 7: {
        const imm = r.pick([P, RW, PS, A | D, ~P, ~RW, ~PS, ~(A | D), 0x1000, G, XD, 0x7fffffff, US, ~US]);
        const sub = r.pick([0, 1, 4, 6]); // add, or, and, xor
        what = `${['add', 'or', '', '', 'and', '', 'xor'][sub]} ${hex(imm)}`;
        b.push(...lock, ...w, 0x81, (sub << 3) | 7, ...le32(imm));
        break;
      }
      case 8: what = 'inc/dec'; b.push(...lock, ...w, 0xff, r.pick([0x07, 0x0f])); break;
      default: what = 'or16'; b.push(...lock, 0x66, 0x81, 0x0f, ...le32(r.u32()).slice(0, 2)); break;
    }
    b.push(...fold, ...PUSHF_FOLD);
    return { what: `${lock.length ? 'lock ' : ''}${what}${w.length ? ' q' : ''} ${t.toString(16)}`, bytes: b };
  }
  if (k < 68) {
    // TLB maintenance and control-register toggles (the PCID ones: pcidOp)
    const x = r.below(12);
    switch (x) {
      case 9: return { what: 'toggle cr4.smep', bytes: [0x0f, 0x20, 0xe0, 0x35, ...le32(1 << 20), 0x0f, 0x22, 0xe0] };
      case 10: return { what: 'toggle cr4.smap', bytes: [0x0f, 0x20, 0xe0, 0x35, ...le32(1 << 21), 0x0f, 0x22, 0xe0] };
      case 11: return { what: 'toggle rflags.ac', bytes: [0x9c, 0x48, 0x81, 0x34, 0x24, ...le32(0x40000), 0x9d] }; // pushfq; xor qword [rsp], AC; popfq (STAC/CLAC are not in long.ts yet)
      case 7: case 8: {
        // the other root (or this one again), maybe with PWT/PCD; maybe back after a read through the window
        // (PWT and PCD; with CR4.PCIDE set, PCID 0x18)
        const to = r.pick([rootA(la57), rootB(la57), rootB(la57)]) | (r.chance(0.2) ? 0x18 : 0);
        const b = [...movR32(RAX, to), 0x0f, 0x22, 0xd8];
        let what = `cr3 = ${hex(to)}`;
        if (r.chance(0.5)) {
          const t = touchAddress(r, la57);
          b.push(...movabsB(RDX, t), 0x48, 0x8b, 0x02, ...fold, ...movR32(RAX, rootA(la57)), 0x0f, 0x22, 0xd8);
          what += `, read ${t.toString(16)}, cr3 = ${hex(rootA(la57))}`;
        }
        return { what, bytes: b };
      }
      case 0: case 1: {
        const page = r.chance(0.8) ? winPage(r.below(WIN_PAGES + 1)) : target();
        return { what: `invlpg ${page.toString(16)}`, bytes: [...movabsB(RDI, page + BigInt(r.chance(0.5) ? 0 : r.below(0x1000))), 0x0f, 0x01, 0x3f] };
      }
      case 2: return { what: 'reload cr3', bytes: RELOAD_CR3 };
      case 3: return { what: 'toggle cr4.pge', bytes: [0x0f, 0x20, 0xe0, 0x35, ...le32(0x80), 0x0f, 0x22, 0xe0] };
      case 4: return { what: 'toggle cr0.wp', bytes: [0x0f, 0x20, 0xc0, 0x35, ...le32(0x10000), 0x0f, 0x22, 0xc0] };
      case 5: return { what: 'toggle efer.nxe', bytes: [0xb9, ...le32(0xc0000080), 0x0f, 0x32, 0x35, ...le32(0x800), 0x0f, 0x30] };
      default: return { what: 'reload cr3 (after a global store)', bytes: [...movabsB(RDI, BigInt(PT_W + 8 * r.below(WIN_PAGES))), 0x48, 0x81, 0x0f, ...le32(G), ...RELOAD_CR3] };
    }
  }
  if (k < 74) {
    // an upper-level entry switched: another table, a 2 MiB or 1 GiB page, not present, an alias of a table at another level
    const at = r.pick([PD_W + 8, PD_W + 8, PD_W, PD_W + 16, PDPT_W + 8, PDPT_W + 8, PDPT_W, PDPT_W + 16, PML4 + 8, PML4 + 16, PML4 + 24, PML4 + 32, PDPT_ID, PML4_B + 8, PML4_B + 16, PML4_B + 24,
      ...(la57 ? [PML5 + 8, PML5 + 8, PML5 + 16, PML5_B + 8] : [])]);
    const [lo, h] = upper();
    const b = [...movabs(RAX, lo, h)];
    const how = r.below(4);
    if (how === 0) b.push(0x48, 0x89, 0x04, 0x25, ...le32(at)); // mov [at], rax
    else if (how === 1) b.push(0x89, 0x04, 0x25, ...le32(at)); // the low half only
    else if (how === 2) b.push(0x48, 0x87, 0x04, 0x25, ...le32(at)); // xchg
    else b.push(0x48, 0x89, 0x04, 0x25, ...le32(at), ...RELOAD_CR3);
    if (r.chance(0.6)) {
      // and read through it
      const t = r.pick([WIN, WIN + 0x200000n, WIN + (1n << 30n) + BigInt(PT_W), WIN + (2n << 30n), REC + (2n << 30n) + (2n << 21n) + (1n << 12n), (3n << 39n) + BigInt(r.below(4) << 21), (4n << 39n) + (BigInt(r.below(3)) << 30n),
        ...(la57 ? [L5(1), L5(1) + WIN, L5(2) + WIN] : [])]);
      b.push(...movabsB(RDI, t + BigInt(r.pick([0, 8, 0x10, 0xff8]))), 0x48, 0x8b, 0x07, ...fold);
    }
    return { what: `upper ${hex(at)} = ${entryText([lo, h])} (${['mov', 'mov32', 'xchg', 'mov+cr3'][how]})`, bytes: b };
  }
  if (k < 81) {
    // a stack in a table (or straddling into one), through the alias: the pushes never fault
    const page = r.pick([PT_W, PT_W2, PD_W, PDPT_W, D2, D3]);
    const t = page + 0x60 + 8 * r.below(0x1f0) + (r.chance(0.8) ? 0 : r.below(8));
    const b = [...stAbs(4, hi(SAVE_RSP)), 0x48, 0xc7, 0xc4, ...le32(hi(t))]; // mov [SAVE_RSP], rsp; mov rsp, hi(t)
    if (r.chance(0.6)) b.push(...ldVal(RAX));
    const kinds: string[] = [];
    for (let i = 1 + r.below(3); i > 0; i--) {
      const s = r.below(5);
      kinds.push(['push', 'push imm', 'call', 'pushfq', 'int'][s]!);
      if (s === 0) b.push(0x50);
      else if (s === 1) b.push(0x68, ...le32(value()[0]));
      else if (s === 2) b.push(0xe8, 0, 0, 0, 0);
      else if (s === 3) b.push(0x9c);
      else b.push(0xcd, INT_VECTOR);
    }
    b.push(0x48, 0x8b, 0x04, 0x24, ...fold, ...ldAbs(4, hi(SAVE_RSP))); // mov rax, [rsp]; fold; mov rsp, [SAVE_RSP]
    return { what: `stack at ${hex(t)}: ${kinds.join(', ')}`, bytes: b };
  }
  if (k < 89) {
    // code in the window: a call near a page's end, so that the fetch crosses into the next page
    const page = r.below(WIN_PAGES - 1);
    const b: number[] = [];
    const entry = PT_W + 8 * (page + 1);
    let what = `code page ${page}`;
    if (r.chance(0.8)) {
      // a code frame at the page called (else whatever the window maps there runs)
      const c = r.pick([CODE_CMC, CODE_STC, CODE_CLC]) | P | RW | A | (r.chance(0.3) ? US : 0);
      b.push(0xc7, ...abs(0, PT_W + 8 * page), ...le32(c), ...movabsB(RDI, winPage(page)), 0x0f, 0x01, 0x3f);
      what += ` = ${hex(c)}`;
    }
    if (r.chance(0.5)) {
      // first rewrite the next page's entry (and maybe invalidate it)
      const v = r.pick([CODE_CMC, CODE_STC, CODE_CLC, DATA[0]!, PT_W]) | P | RW | A;
      const h = r.chance(0.2) ? XD : 0;
      b.push(...movabs(RAX, v, h), ...stAbs(RAX, entry));
      what += ` next=${entryText([v, h])}`;
      if (r.chance(0.5)) { b.push(...movabsB(RDI, winPage(page + 1)), 0x0f, 0x01, 0x3f); what += ' invlpg'; }
    }
    if (r.chance(0.55)) {
      const off = r.pick([0xff0, 0xffa, 0xffd, 0xfff, 0x800 + r.below(0x800)]);
      b.push(...movabsB(RDX, winPage(page) + BigInt(off)), 0xff, 0xd2, ...PUSHF_FOLD); // call rdx
      what += ` call +${hex(off)}`;
    } else {
      // code that rewrites the next page's entry itself (RBX: the entry, RAX: its new value), maybe invalidates it (RCX),
      // and runs on into that page with an instruction that straddles the boundary
      if (r.chance(0.6)) b.push(...movabs(RAX, CODE_ST | P | RW | A, 0), ...stAbs(RAX, PT_W + 8 * page), ...movabsB(RDI, winPage(page)), 0x0f, 0x01, 0x3f);
      const nv = r.chance(0.9) ? r.pick([CODE_CMC, CODE_STC, DATA[1]!, PT_W2]) | P | RW | (r.chance(0.7) ? A : 0) | (r.chance(0.3) ? G : 0) : r.pick([CODE_CLC, 0]);
      const nh = r.chance(0.15) ? XD : 0;
      b.push(...movabsB(RBX, BigInt(entry)), ...movabs(RAX, nv, nh), ...movabsB(RCX, winPage(page + 1)));
      const at = r.pick([0xfe0, 0xff0]);
      b.push(...movabsB(RDX, winPage(page) + BigInt(at)), 0xff, 0xd2, ...fold, ...PUSHF_FOLD);
      what += ` self-rewrite +${hex(at)} next=${entryText([nv, nh])}`;
    }
    return { what, bytes: b };
  }
  if (k < 95) {
    // CPL 3: SYSRETQ (or IRETQ) to a user snippet that reads, writes, sets XD in or runs [rbx], then SYSCALL (or INT 0x41) back
    const snippet = r.below(5);
    const viaIret = r.chance(0.4);
    const t = snippet === 4 ? winPage(r.below(WIN_PAGES - 1)) + BigInt(r.pick([0x10, 0xff0, 0xffd, 0xfff])) : r.chance(0.6) ? target() : BigInt(tableTarget());
    const b = [...movabsB(RBX, t), ...ldVal(RAX)];
    const userAt = hi(USER + (viaIret ? 0x80 : 0) + 0x10 * snippet);
    const flags = 0x2 | (r.chance(0.5) ? 1 : 0);
    let enter: number[];
    if (viaIret) enter = [0x6a, 0x2b, 0x68, ...le32(hi(USER_STACK_TOP)), 0x6a, flags, 0x6a, 0x33, 0x68, ...le32(userAt), 0x48, 0xcf]; // ss, rsp, rflags, cs, rip; iretq
    else enter = [...movR32(RCX, userAt), ...movR32(11, flags), 0x48, 0xc7, 0xc4, ...le32(hi(USER_STACK_TOP)), 0x48, 0x0f, 0x07]; // rcx, r11, rsp; sysretq
    // lea r8, [rip + enter.length + 8]; mov [RESUME_U], r8 (the continuation: after `enter`)
    b.push(0x4c, 0x8d, 0x05, ...le32(8 + enter.length), 0x4c, 0x89, ...abs(0, hi(RESUME_U)), ...enter);
    b.push(...fold, ...foldR(RCX), ...foldR(11));
    return { what: `user ${['load', 'store64', 'store32', 'bts 63', 'call'][snippet]} ${t.toString(16)} via ${viaIret ? 'iretq/int' : 'sysret/syscall'}`, bytes: b };
  }
  if (k < 98) {
    // compatibility mode: 32-bit code on 4-level paging, looping over table stores (compiled by the block engines)
    const code32: number[] = [];
    const n = 2 + r.below(40);
    const whats: string[] = [];
    for (let i = 1 + r.below(3); i > 0; i--) {
      const t = tableTarget();
      const s = r.below(5);
      whats.push(`${['mov', 'lock or', 'lock xchg', 'load', 'rep stosd'][s]} ${hex(t)}`);
      if (s === 0) code32.push(0xc7, 0x05, ...le32(t), ...le32(r.chance(0.5) ? value()[0] : value()[1]));
      else if (s === 1) code32.push(0xf0, 0x81, 0x0d, ...le32(t), ...le32(r.pick([A, D, XD, G, US, RW])));
      else if (s === 2) code32.push(0xb8, ...le32(value()[0]), 0x87, 0x05, ...le32(t));
      else if (s === 3) code32.push(0xa1, ...le32(t), 0x31, 0xc5, 0xc1, 0xc5, 0x03); // mov eax, [t]; xor ebp, eax; rol ebp, 3
      else code32.push(0x51, 0xbf, ...le32(t), 0xb9, ...le32(1 + r.below(4)), 0xb8, ...le32(value()[0]), 0xf3, 0xab, 0x59); // push ecx ... (a 32-bit stack)
    }
    // mov ecx, n; L: code32; dec ecx; jnz L; jmp far [FARPTR2]
    const loop = [0xb9, ...le32(n), ...code32, 0x49, 0x0f, 0x85, ...le32(-(code32.length + 1 + 6)), 0xff, 0x2d, ...le32(hi(FARPTR2))];
    const b: number[] = [];
    // lea r8, [rip + X] (the 32-bit code), lea r9, [rip + Y] (after it); far pointers; jmp far [FARPTR]
    const tailLen = 7 + 8 + 10 + 8 + 10 + 7; // lea r9; mov [FARPTR], r8d; mov word [FARPTR + 4]; the same for FARPTR2; jmp far
    b.push(0x4c, 0x8d, 0x05, ...le32(tailLen), 0x4c, 0x8d, 0x0d, ...le32(tailLen - 7 + loop.length));
    b.push(0x44, 0x89, ...abs(0, hi(FARPTR)), 0x66, 0xc7, ...abs(0, hi(FARPTR + 4)), 0x08, 0x00); // mov [FARPTR], r8d; mov word [FARPTR+4], 0x08
    b.push(0x44, 0x89, ...abs(1, hi(FARPTR2)), 0x66, 0xc7, ...abs(0, hi(FARPTR2 + 4)), SEL_CODE64, 0x00);
    b.push(0xff, 0x2c, 0x25, ...le32(hi(FARPTR)));
    b.push(...loop, ...foldR(RCX));
    return { what: `compat x${n}: ${whats.join('; ')}`, bytes: b };
  }
  // non-canonical addresses: #GP(0) for a load or a branch, #SS(0) for a stack access (on IST1); the first, second
  // and fourth are canonical with 5-level paging (a #PF or a translation through PML5[0] or [1] then)
  const nc = r.pick([0x800000000000n, 0xffff7ffffffff000n, 0x8000000000000000n, 0x0000800000000ff8n, 0x0100000000000000n, 0xfeffffffffff0000n]);
  const s = r.below(3);
  const b = [...movabsB(RDI, nc)];
  if (s === 0) b.push(0x48, 0x89, 0x07); // mov [rdi], rax
  else if (s === 1) b.push(0xff, 0xd7); // call rdi
  else b.push(...stAbs(4, hi(SAVE_RSP)), 0x48, 0x89, 0xfc, 0x50, ...ldAbs(4, hi(SAVE_RSP))); // mov rsp, rdi; push rax
  return { what: `non-canonical ${nc.toString(16)} ${['store', 'call', 'push'][s]}`, bytes: b };
}

const SEL_CODE64 = 0x18;

/** Puts the tables back as the program found them (from PRISTINE, through the alias), then reloads CR3. */
function restore(p: Program64): number[] {
  const b = [0x56, 0x57, 0x51, 0x9c, 0xfc]; // push rsi, rdi, rcx; pushfq; cld
  let off = 0;
  for (const [at, es] of p.pristine) {
    b.push(...movR32(RSI, hi(PRISTINE + off)), ...movR32(RDI, hi(at)), ...movR32(RCX, es.length), 0xf3, 0x48, 0xa5); // rep movsq
    off += es.length * 8;
  }
  b.push(...RELOAD_CR3, 0x9d, 0x59, 0x5f, 0x5e); // popfq; pop rcx, rdi, rsi
  return b;
}

/** jmp rel32 from `at` to `to` */
const jmp = (at: number, to: number): number[] => [0xe9, ...le32(to - (at + 5))];

/** The #PF handler: fold CR2, the error code, RIP; restore; IRETQ, or after PF_PER_BLOCK faults give up on the block. */
function pfHandler(p: Program64): number[] {
  const code = [
    0x50, // push rax
    0x0f, 0x20, 0xd0, ...fold, // mov rax, cr2
    0x48, 0x8b, 0x44, 0x24, 0x08, ...fold, // the error code
    0x48, 0x8b, 0x44, 0x24, 0x10, ...fold, // rip
    ...restore(p),
    0x48, 0xff, 0x04, 0x25, ...le32(hi(PF_BLOCK)), // inc qword [PF_BLOCK]
    0x48, 0x83, 0x3c, 0x25, ...le32(hi(PF_BLOCK)), PF_PER_BLOCK, // cmp qword [PF_BLOCK], n
    0x58, // pop rax
    0x77, 6, // ja +6
    0x48, 0x83, 0xc4, 0x08, 0x48, 0xcf, // add rsp, 8; iretq
  ];
  const pushAt = PF_HANDLER + code.length;
  code.push(0x6a, 14, ...jmp(pushAt + 2, COMMON));
  return code;
}

/** mov ds, es, ss from the word at SEL10 (flat data, 0x10) */
const FLAT_SEGS = [0x8e, ...abs(3, hi(SEL10)), 0x8e, ...abs(0, hi(SEL10)), 0x8e, ...abs(2, hi(SEL10))];

/** Every other exception: fold what the stub pushed and above; stack, segments and tables back; the next block. */
function commonHandler(p: Program64): number[] {
  const code = [
    0x48, 0x8b, 0x04, 0x24, ...fold, 0x48, 0x8b, 0x44, 0x24, 0x08, ...fold, 0x48, 0x8b, 0x44, 0x24, 0x10, ...fold,
    0xfc, 0x48, 0xc7, 0xc4, ...le32(hi(STACK_TOP)), ...FLAT_SEGS,
    ...restore(p),
    0x48, 0xff, 0x04, 0x25, ...le32(hi(FAULTS)), 0x48, 0x81, 0x3c, 0x25, ...le32(hi(FAULTS)), ...le32(MAX_EXCEPTIONS),
  ];
  code.push(0x0f, 0x87, ...le32(DIE - (COMMON + code.length + 6)));
  code.push(0xff, 0x24, 0x25, ...le32(hi(RESUME))); // jmp [RESUME]
  return code;
}

/** The state a run ends in. */
export interface End64 {
  reason: string;
  instructions: number;
  /** RAX..R15, RIP, CR2 as hex */
  regs: string[];
  rip: string;
  flags: number;
  cr2: string;
  cr0: number;
  cr3: number;
  cr4: number;
  efer: number;
  cpl: number;
  halt: number;
  memory: string;
  /** shadow mode's own consistency check (ShadowMode.audit), empty when sound */
  audit: string[];
}

export interface RunOptions64 {
  participant: Participant;
  engine: Engine;
  /** compile each block after its first run (jit, wasm) */
  eager?: boolean;
  /** the MMU observes every access (the cost model: modeled TLBs, the observed run loops) */
  measure?: boolean;
  maxInstructions?: number;
}

/** The 32-bit code at CODE: a hot loop, 4-level paging and long mode on, a far jump to the program at the alias. */
function prologue32(p: Program64): number[] {
  const cr4 = 0x20 | (p.pge ? 0x80 : 0) | (p.smep ? 1 << 20 : 0) | (p.smap ? 1 << 21 : 0) | (p.la57 ? 0x1000 : 0); // PAE, PGE, SMEP, SMAP, LA57
  return [
    0xb9, ...le32(3000), 0x49, 0x75, 0xfd, // mov ecx, 3000; dec ecx; jnz $-1 (compiled by the block engines)
    0xb8, ...le32(rootA(p.la57)), 0x0f, 0x22, 0xd8, // cr3
    0xb8, ...le32(cr4), 0x0f, 0x22, 0xe0, // cr4
    0xb9, ...le32(0xc0000080), 0x0f, 0x32, 0x0d, ...le32(0x100 | 1 | (p.nxe ? 0x800 : 0)), 0x0f, 0x30, // EFER: LME, SCE, NXE
    0x0f, 0x20, 0xc0, 0x0d, ...le32(0x80000000 | (p.wp ? 0x10000 : 0)), 0x0f, 0x22, 0xc0, // cr0: PG (IA-32e mode), WP
    0x0f, 0x01, 0x1d, ...le32(IDTR32), // lidt: a 64-bit IDT (its 32-bit base: the identity copy)
    0xea, ...le32(hi(PROG)), SEL_CODE64, 0x00, // jmp far 0x18:hi(PROG)
  ];
}

const wrmsr = (msr: number, lo: number, h: number): number[] => [0xb9, ...le32(msr), 0xb8, ...le32(lo), 0xba, ...le32(h), 0x0f, 0x30];

/** Builds the machine for program p under one participant and engine. */
export function build64(p: Program64, o: RunOptions64): Machine {
  const part = o.participant;
  const m = flatMachine({ mode: part.mode, engine: o.engine, cpu: `+lm,+smep,+smap,+pcid,+invpcid,+pku${p.gbPages ? ',+pdpe1gb' : ''}${p.la57Cpu ? ',+la57' : ''}`, memory: 16 << 20, measure: o.measure ?? false, mmu: { ...(part.shadow ? { shadow: part.shadow } : {}), ...(part.softTlbBits ? { softTlbBits: part.softTlbBits } : {}) } });
  if (o.eager && m.cpu.blocks) {
    m.cpu.blocks.jitThreshold = 1;
    if (o.engine === 'wasm') m.cpu.blocks.wasmBatch = 1;
  }
  const mmu = m.mmu;
  const w32 = (a: number, v: number): void => mmu.writePhys(a, 4, v >>> 0);
  const w64 = (a: number, e: Entry): void => { w32(a, e[0]); w32(a + 4, e[1]); };
  // GDT: 0x18 64-bit code, 0x20 data, 0x28 data DPL 3, 0x30 64-bit code DPL 3 (SYSRET's layout), 0x38 a 64-bit TSS (16 bytes)
  w32(GDT + 0x18, 0x0000ffff); w32(GDT + 0x1c, 0x00af9a00);
  w32(GDT + 0x20, 0x0000ffff); w32(GDT + 0x24, 0x00cf9200);
  w32(GDT + 0x28, 0x0000ffff); w32(GDT + 0x2c, 0x00cff200);
  w32(GDT + 0x30, 0x0000ffff); w32(GDT + 0x34, 0x00affa00);
  const tss = hi(TSS);
  w32(GDT + 0x38, ((tss & 0xffff) << 16) | 0x67); w32(GDT + 0x3c, (tss & 0xff000000) | 0x8900 | ((tss >>> 16) & 0xff)); w32(GDT + 0x40, 0); w32(GDT + 0x44, 0);
  m.cpu.gdtLimit = 9 * 8 - 1;
  // TSS: RSP0, IST1
  w32(TSS + 4, hi(RSP0_TOP)); w32(TSS + 0x24, hi(IST_TOP));
  // frames
  const sled = (b: number): Uint8Array => { const a = new Uint8Array(0x1000).fill(b); a[0x40] = 0xc3; return a; };
  mmu.writePhysBytes(CODE_CMC, sled(0xf5));
  mmu.writePhysBytes(CODE_STC, sled(0xf9));
  mmu.writePhysBytes(CODE_CLC, sled(0xf8));
  const st = sled(0x90);
  st.set([0x48, 0x89, 0x03, 0x0f, 0x01, 0x39], 0xfe0); // mov [rbx], rax; invlpg [rcx]
  st.set([0x89, 0x03], 0xff0); // mov [rbx], eax
  st.set([0x48, 0xb8], 0xffa); // mov rax, imm64 (the immediate in the next page)
  mmu.writePhysBytes(CODE_ST, st);
  for (const f of [...DATA, D1, D2, D3]) mmu.writePhysBytes(f, new Uint8Array(0x1000).fill(0xc3));
  // what the large pages of the window map (RET, so that a call there returns)
  mmu.writePhysBytes(0x400000, new Uint8Array(0x400000).fill(0xc3));
  // tables: PT_ID maps 2..4 MiB one to one, the first half global
  for (let i = 0; i < 512; i++) w32(PT_ID + 8 * i, (0x200000 + i * 0x1000) | P | RW | (i < 256 ? G : 0));
  for (let i = 0; i < 512; i++) w32(PT_HI + 8 * i, (i << 12) | P | RW | (i === USER >> 12 || i === (USER_STACK_TOP >> 12) - 1 ? US : G));
  w32(PD_HI, PT_HI | P | RW | US);
  for (let i = 1; i < 4; i++) w32(PD_HI + 8 * i, (i << 21) | P | RW | PS);
  let off = 0;
  for (const [at, es] of p.pristine) {
    es.forEach((e, k) => { w64(at + 8 * k, e); w64(PRISTINE + off + 8 * k, e); });
    off += es.length * 8;
  }
  // IDT: 64-bit interrupt gates, selector 0x18
  const gate = (v: number, handler: number, dpl = 0, ist = 0): void => {
    const h = hi(handler);
    w32(IDT64 + 16 * v, (SEL_CODE64 << 16) | (h & 0xffff));
    w32(IDT64 + 16 * v + 4, (h & 0xffff0000) | 0x8e00 | (dpl << 13) | ist);
    w32(IDT64 + 16 * v + 8, 0); w32(IDT64 + 16 * v + 12, 0);
  };
  for (let v = 0; v < 32; v++) {
    const at = STUBS64 + 16 * v;
    mmu.writePhysBytes(at, new Uint8Array([0x6a, v, ...jmp(at + 2, COMMON)]));
    gate(v, at, 0, v === 8 || v === 12 ? 1 : 0);
  }
  gate(14, PF_HANDLER);
  gate(INT_VECTOR, INT40);
  gate(USER_BACK_VECTOR, BACK_FROM_USER, 3);
  mmu.writePhysBytes(PF_HANDLER, new Uint8Array(pfHandler(p)));
  mmu.writePhysBytes(COMMON, new Uint8Array(commonHandler(p)));
  mmu.writePhysBytes(DIE, new Uint8Array([0xb0, 0xee, 0xf4]));
  mmu.writePhysBytes(INT40, new Uint8Array([0x48, 0xcf])); // iretq
  // back from CPL 3 (SYSCALL's LSTAR and INT 0x41): the block's stack and segments, on to the continuation
  mmu.writePhysBytes(BACK_FROM_USER, new Uint8Array([0x48, 0xc7, 0xc4, ...le32(hi(STACK_TOP)), ...FLAT_SEGS, 0xff, 0x24, 0x25, ...le32(hi(RESUME_U))]));
  // user snippets: [rbx] read, written (8 and 4 bytes), XD set by a locked BTS, called; then SYSCALL (at 0x00..) or INT 0x41 (at 0x80..)
  const snippets = [[0x48, 0x8b, 0x03], [0x48, 0x89, 0x03], [0x89, 0x03], [0xf0, 0x48, 0x0f, 0xba, 0x2b, 0x3f], [0xff, 0xd3]];
  snippets.forEach((s, i) => {
    mmu.writePhysBytes(USER + 0x10 * i, new Uint8Array([...s, 0x0f, 0x05]));
    mmu.writePhysBytes(USER + 0x80 + 0x10 * i, new Uint8Array([...s, 0xcd, USER_BACK_VECTOR]));
  });
  mmu.writePhys(IDTR32, 2, 0x42 * 16 - 1);
  w32(IDTR32 + 2, IDT64);
  mmu.writePhys(IDTR64, 2, 0x42 * 16 - 1);
  w64(IDTR64 + 2, [hi(IDT64), 0]);
  mmu.writePhys(GDTR64, 2, 9 * 8 - 1);
  w64(GDTR64 + 2, [hi(GDT), 0]);
  w32(LOOPS, p.loops);
  mmu.writePhys(SEL10, 2, 0x10);
  mmu.writePhysBytes(CODE, new Uint8Array(prologue32(p)));
  // the 64-bit program: descriptor tables at the alias, TR, SYSCALL's MSRs; the blocks `loops` times; HLT
  const pre = [
    0x0f, 0x01, 0x1c, 0x25, ...le32(hi(IDTR64)), 0x0f, 0x01, 0x14, 0x25, ...le32(hi(GDTR64)), // lidt, lgdt (10 bytes)
    0xb8, ...le32(0x38), 0x0f, 0x00, 0xd8, // ltr ax
    ...(p.pcid ? [0x0f, 0x20, 0xe0, 0x0d, ...le32(0x20000), 0x0f, 0x22, 0xe0] : []), // cr4 |= PCIDE (IA-32e mode, CR3[11:0] = 0)
    // cr4 |= PKE; PKRU (xor ecx, ecx; xor edx, edx; mov eax; wrpkru: #UD while PKE is 0); PKE cleared again unless p.pke
    0x0f, 0x20, 0xe0, 0x0d, ...le32(1 << 22), 0x0f, 0x22, 0xe0, 0x31, 0xc9, 0x31, 0xd2, 0xb8, ...le32(p.pkru), 0x0f, 0x01, 0xef,
    ...(p.pke ? [] : [0x0f, 0x20, 0xe0, 0x25, ...le32(~(1 << 22)), 0x0f, 0x22, 0xe0]),
    ...wrmsr(0xc0000081, 0, 0x00200018), ...wrmsr(0xc0000082, hi(BACK_FROM_USER), 0), ...wrmsr(0xc0000084, 0x47700, 0), // STAR, LSTAR, FMASK
    0x48, 0xc7, 0xc4, ...le32(hi(STACK_TOP)), 0x31, 0xed, // rsp; rbp = 0
  ];
  const loopTop = hi(PROG + pre.length);
  const body: number[] = [];
  for (const b of p.blocks) {
    const bytes = b.flatMap((op) => op.bytes);
    // mov qword [RESUME], the next block; mov qword [PF_BLOCK], 0
    const head = [...stq(hi(RESUME), 0), ...stq(hi(PF_BLOCK), 0)];
    body.push(...stq(hi(RESUME), loopTop + body.length + head.length + bytes.length), ...stq(hi(PF_BLOCK), 0), ...bytes);
  }
  const tail = [0x48, 0xff, 0x0c, 0x25, ...le32(hi(LOOPS))]; // dec qword [LOOPS]
  const jnzAt = loopTop + body.length + tail.length;
  const code = [...pre, ...body, ...tail, 0x0f, 0x85, ...le32(loopTop - (jnzAt + 6)), 0xb0, 0x00, 0xf4]; // jnz; mov al, 0; hlt
  if (code.length > 0x80000) throw new Error('program too long');
  mmu.writePhysBytes(PROG, new Uint8Array(code));
  return m;
}

const pair = (lo: number, h: number): string => `${(h >>> 0).toString(16)}_${(lo >>> 0).toString(16).padStart(8, '0')}`;

export function endOf64(m: Machine, reason: string, instructions: number): End64 {
  const c = m.cpu;
  const regs: string[] = [];
  for (let k = 0; k < 16; k++) regs.push(pair(k < 8 ? c.reg32[k]! : c.regX[k - 8]!, c.regHi[k]!));
  return {
    reason,
    instructions,
    regs,
    rip: pair(c.eip, c.ripHi),
    flags: c.getFlags(),
    cr2: pair(c.cr2, c.cr2Hi),
    cr0: c.cr0 >>> 0,
    cr3: c.cr3 >>> 0,
    cr4: c.cr4 >>> 0,
    efer: c.efer >>> 0,
    cpl: c.cpl,
    halt: c.halted ? c.reg8[0]! : -1,
    memory: createHash('sha256').update(m.mmu.readPhysBytes(0, 8 << 20)).digest('hex'),
    audit: m.mmu.mode.name === 'shadow' ? (m.mmu.mode as ShadowMode).audit() : [],
  };
}

export function run64(p: Program64, o: RunOptions64): End64 {
  const m = build64(p, o);
  const r = m.run({ maxInstructions: o.maxInstructions ?? 300_000 });
  return endOf64(m, r.reason, r.instructions);
}

/** The fields of two ends that differ (empty when equal). */
export function diff64(a: End64, b: End64): string[] {
  const out: string[] = [];
  for (const k of Object.keys(a) as (keyof End64)[]) {
    if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) out.push(`${k}: ${JSON.stringify(a[k])} vs ${JSON.stringify(b[k])}`);
  }
  return out;
}
