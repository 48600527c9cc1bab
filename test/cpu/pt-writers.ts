/**
 * Random x86 programs whose memory accesses land on the guest's own page
 * tables, in the CPU's unusual ways: REP STOS/MOVS forwards and backwards
 * (DF=1) over a table and across the boundary between a plain page and a
 * table, misaligned 2- and 4-byte stores straddling such a boundary or
 * reaching a page that is not present, locked read-modify-writes
 * (XCHG, CMPXCHG, CMPXCHG8B, XADD, BTS/BTR/BTC, ADD/OR/AND/INC with LOCK)
 * on an entry that maps the very page written through, stacks (PUSH, CALL,
 * PUSHFD, INT frames) placed in a table or straddling into one, segment
 * loads whose descriptor (and its accessed bit) lies in a table, code run
 * from window pages whose entries the program rewrites (a fetch that
 * crosses into a page whose entry changed, with and without INVLPG), and
 * CR3 reloads, CR4.PGE/PSE and CR0.WP toggles, directory entries switched
 * to another table or a large page, and (PAE) PDPTE 0 rewritten with and
 * without a CR3 load, in between; window pages are read again after
 * them, most after an INVLPG.
 *
 * Paging is 32-bit (CR4.PSE and PGE on) or PAE. The first 4 MiB are mapped
 * one to one by PT0, which the program never writes, and again at HI,
 * where the program, its handlers, stack, IDT and GDT run; the window at
 * 4 MiB is mapped by PT1 (or PT2, when the program points the directory
 * entry there, or by a large page), and its entries map data frames, code
 * frames, the tables themselves and the directory. The page-fault handler
 * folds CR2, the error code and the saved EIP into EBP, puts the window
 * and the first directory entries back as they were (CR3 reload) and
 * returns; any other exception, or a block's fifth page fault, abandons
 * the block and resumes at the next one; after too many it halts.
 *
 * The same program must end in exactly the same state (registers, EIP,
 * EFLAGS, CR2, the instruction count, every byte of the first 4 MiB)
 * under every translation mode and shadow policy, and under every engine.
 */
import { createHash } from 'node:crypto';
import type { Engine } from '../../src/cpu/cpu.js';
import type { Machine } from '../../src/machine/machine.js';
import type { ShadowMode } from '../../src/mmu/modes/shadow.js';
import { Rng } from '../mmu/rng.js';
import { PARTICIPANTS as ADV_PARTICIPANTS, type Participant as AdvParticipant } from '../mmu/adversary.js';
import { CODE, GDT, IDT, flatMachine, le32 } from './flat-machine.js';

/** A participant of the MMU adversary (test/mmu/adversary.ts), with the software TLB's size when not the default. */
export interface Participant extends AdvParticipant {
  softTlbBits?: number;
}

export const PARTICIPANTS: readonly Participant[] = [
  // the adversary's first five: naive, slat, shadow, shadow without unsync, with flooding at 1 and no root cache
  ...ADV_PARTICIPANTS.slice(0, 5),
  { label: 'shadow maxPages=16', mode: 'shadow', shadow: { maxPages: 16, rootCache: 2 } },
  { label: 'shadow maxPages=24 unsync=off tlb=256', mode: 'shadow', shadow: { maxPages: 24, unsync: false, floodThreshold: 1 }, softTlbBits: 8 },
  { label: 'naive tlb=256', mode: 'naive', softTlbBits: 8 },
];

// ---- physical layout (all below 4 MiB, mapped one to one by PT0) ----
export const PD = 0x300000;
export const PT0 = 0x301000;
/** a plain data page right below PT1 (stores straddle from it into PT1) */
export const D1 = 0x303000;
export const PT1 = 0x304000;
/** a plain data page right above PT1 */
export const D2 = 0x305000;
export const PT2 = 0x306000;
export const D3 = 0x307000;
/** PAE: the page-directory-pointer table (32-byte aligned, in a page of its own) and the directory of the first GiB */
export const PDPT = 0x308000;
/** PAE: another directory of the first GiB, whose window entry is PT2 */
export const PD_ALT = 0x309000;
/** data frames the window maps */
const DATA = [0x310000, 0x311000, 0x312000, 0x313000, 0x314000, 0x315000];
/** code frames: INC EAX everywhere, DEC EAX everywhere */
const CODE_INC = 0x318000, CODE_DEC = 0x319000;
/**
 * Code that ends its page rewriting the next page's entry: at 0xfe0
 * `mov [ebx], eax; invlpg [ecx]`, at 0xff0 `mov [ebx], eax`, then NOPs up
 * to a MOV EAX, imm32 at 0xffd whose immediate lies in the next page.
 */
const CODE_ST = 0x31a000;
/** what the window's entries may map */
const FRAMES = [...DATA, CODE_INC, CODE_DEC, CODE_INC, CODE_DEC, CODE_ST, PT1, PT2, PD, D1, D2];
/** linear base of the window (directory entry 1 in 32-bit paging, directory entry 2 of the first PAE directory) */
export const WIN = 0x400000;
const WIN_PAGES = 16;
/** the window entries as they were, copied back by the page-fault handler */
const PRISTINE = 0x320000;
/** handler state: fault count, saved ESP, the GDTR of the flat GDT and of a moved one */
const FAULTS = 0x321000, SAVE_ESP = 0x321004, GDTR_FLAT = 0x321010, GDTR_MOVED = 0x321020, LOOPS = 0x321030;
/**
 * The program, its handlers, stack, IDT and GDT run at this alias of the
 * first 4 MiB (a directory entry the random code never writes), so that a
 * store that breaks the one-to-one mapping of the first 4 MiB (the window
 * may map the directory) faults and gets repaired instead of killing the
 * machine.
 */
export const HI = 0xc0000000;
const hi = (x: number): number => (HI + x) >>> 0;
/** PAE: the directory of the alias (PDPTE 3) */
const PD_HI = 0x30a000;
const IDTR = 0x321050;
const PF_HANDLER = 0x3000, INT_HANDLER = 0x3200, DIE = 0x3300, COMMON = 0x3400, STUBS2 = 0x3600;
/** where the common handler resumes (the next block), and the page faults of the current block */
const RESUME = 0x321040, PF_BLOCK = 0x321044;
const PF_PER_BLOCK = 4, MAX_EXCEPTIONS = 60;
const INT_VECTOR = 0x40;
/** where ESP starts (identity mapped, never written by the random stores) */
const STACK_TOP = 0x80000;

const P = 1, RW = 2, US = 4, A = 0x20, D = 0x40, PS = 0x80, G = 0x100;

export interface Program {
  seed: number;
  pae: boolean;
  /** the random part, in blocks (runs `loops` times); an exception other than a page fault resumes at the next block */
  blocks: number[][];
  loops: number;
  /** initial window entries (also the pristine copy) */
  entries: number[];
  /** initial PT2 entries */
  entries2: number[];
}

/** A readable dump of a program (for failure messages). */
export function describe(p: Program): string {
  return `seed ${p.seed} ${p.pae ? 'PAE' : '32-bit'} loops ${p.loops}\nentries ${p.entries.map((e) => e.toString(16)).join(' ')}\nblocks\n${p.blocks.map((b) => b.map((x) => x.toString(16).padStart(2, '0')).join(' ')).join('\n')}`;
}

// ---- encodings ----
const movR = (r: number, v: number): number[] => [0xb8 + r, ...le32(v)];
const fold = [0x31, 0xc5, 0xc1, 0xc5, 0x03]; // xor ebp, eax; rol ebp, 3
const EAX = 0, ECX = 1, EDX = 2, EBX = 3, ESI = 6, EDI = 7;

export function generate(seed: number, size = 40): Program {
  const r = new Rng(seed);
  const pae = r.chance(0.35);
  const esz = pae ? 8 : 4;
  const pte = (): number => {
    if (r.chance(0.08)) return r.u32();
    let v = r.pick(FRAMES);
    if (r.chance(0.9)) v |= P;
    if (r.chance(0.8)) v |= RW;
    if (r.chance(0.1)) v |= US;
    if (r.chance(0.5)) v |= A;
    if (r.chance(0.5)) v |= D;
    if (r.chance(0.25)) v |= G;
    return v >>> 0;
  };
  const entries: number[] = [];
  for (let k = 0; k < WIN_PAGES; k++) entries.push(k < 2 ? CODE_INC | P | RW | A : r.pick(FRAMES) | P | RW | (r.chance(0.5) ? A : 0) | (r.chance(0.3) ? D : 0) | (r.chance(0.2) ? G : 0));
  const entries2: number[] = [];
  for (let k = 0; k < WIN_PAGES; k++) entries2.push(pte());
  /** an entry of the window's table, by index, as an identity address */
  const entryAddr = (t: number, k: number): number => t + k * esz;
  /** a random address the program writes or reads */
  const target = (stackOnly = false): number => {
    const k = r.below(20);
    const x = r.below(100);
    if (x < 30) return entryAddr(r.pick([PT1, PT1, PT2]), k) + (r.chance(0.65) ? 0 : r.below(esz));
    if (x < 42) return PT1 - 6 + r.below(12); // D1 -> PT1
    if (x < 52) return PT1 + 0x1000 - 6 + r.below(12); // PT1 -> D2
    if (x < 56) return PT2 - 6 + r.below(12);
    if (x < 62) return PD + (pae ? 0x10 + 8 * r.below(4) : 4 + 4 * r.below(6)) + (r.chance(0.85) ? 0 : r.below(4));
    if (stackOnly) return PT1 + 4 * r.below(0x400);
    // through the window (the table itself may be mapped there)
    const page = r.below(WIN_PAGES);
    const off = r.pick([0, 4, 8, 0x10, 0xffc, 0xffe, 0xfff, 0xff8, r.below(0x1000), 4 * r.below(20)]);
    return WIN + page * 0x1000 + off;
  };
  const value = (): number => (r.chance(0.8) ? pte() : r.pick([0, 0xffffffff, r.u32()]));
  const blocks: number[][] = [];
  const dirEntry = pae ? PD + 0x10 : PD + 4;
  while (blocks.length < size) {
    const body: number[] = [];
    blocks.push(body);
    if (r.chance(0.2)) {
      // touch window pages (and invalidate them first, or not): a translation the program changed since it was last
      // cached must be walked afresh, whatever a mode kept of the old one (SDM 4.10.4.1)
      for (let n = 1 + r.below(4); n > 0; n--) {
        const page = WIN + r.below(WIN_PAGES) * 0x1000;
        if (r.chance(0.7)) body.push(0x0f, 0x01, 0x3d, ...le32(page));
        body.push(0xa1, ...le32(page + r.pick([0, 0x10, 0x800, 0xffc])), ...fold);
      }
      continue;
    }
    const k = r.below(100);
    if (k < 12) {
      body.push(...movR(r.pick([EAX, EAX, ECX, EDX, EBX]), value()));
    } else if (k < 26) {
      // a plain store of 1, 2 or 4 bytes, maybe misaligned or straddling
      const t = target();
      const s = r.below(3);
      if (r.chance(0.5)) body.push(...movR(EAX, value()));
      body.push(...(s === 0 ? [0xa2] : s === 1 ? [0x66, 0xa3] : [0xa3]), ...le32(t));
    } else if (k < 32) {
      // a load, folded
      body.push(0xa1, ...le32(target()), ...fold);
    } else if (k < 46) {
      // a string instruction
      const dst = target();
      // never backwards into the directory entries of the first 4 MiB
      const dir = r.chance(0.35) && !(dst >= PD && dst < PD + 0x1000);
      const count = r.chance(0.2) ? 0 : 1 + r.below(r.chance(0.7) ? 6 : 24);
      const op = r.pick([0xab, 0xab, 0xaa, 0xa5, 0xa5, 0xa4, 0x66ab, 0x66a5]);
      const rep = r.chance(0.8);
      body.push(dir ? 0xfd : 0xfc, ...movR(EDI, dst), ...movR(ESI, target()), ...movR(ECX, count));
      if (r.chance(0.6)) body.push(...movR(EAX, value()));
      if (op > 0xff) body.push(0x66);
      if (rep) body.push(0xf3);
      body.push(op & 0xff, 0xfc, 0x89, 0xf8, ...fold, 0x89, 0xc8, ...fold); // cld; mov eax, edi; fold; mov eax, ecx; fold
    } else if (k < 60) {
      // a locked read-modify-write
      const t = target();
      if (r.chance(0.5)) body.push(...movR(EAX, value()));
      if (r.chance(0.5)) body.push(...movR(ECX, value()));
      const lock = r.chance(0.85) ? [0xf0] : [];
      switch (r.below(9)) {
        case 0: body.push(0x87, 0x05, ...le32(t)); break; // xchg [t], eax
        case 1: body.push(0xa1, ...le32(t), ...lock, 0x0f, 0xb1, 0x0d, ...le32(t)); break; // cmpxchg [t], ecx (often equal)
        case 2: body.push(...lock, 0x0f, 0xb1, 0x0d, ...le32(t)); break;
        case 3: body.push(...movR(EDX, 0), ...movR(EBX, value()), 0xa1, ...le32(t), ...lock, 0x0f, 0xc7, 0x0d, ...le32(t)); break; // cmpxchg8b
        case 4: body.push(...lock, 0x0f, 0xc1, 0x05, ...le32(t)); break; // xadd [t], eax
        case 5: body.push(...lock, 0x0f, 0xba, r.pick([0x2d, 0x35, 0x3d]), ...le32(t), r.pick([0, 1, 2, 5, 6, 8, 31])); break; // bts/btr/btc
        case 6: body.push(...lock, 0x81, r.pick([0x05, 0x0d, 0x25, 0x35]), ...le32(t), ...le32(r.pick([P, RW, A | D, ~P, ~RW, ~(A | D), 0x1000, G]))); break;
        case 7: body.push(...lock, 0xff, r.pick([0x05, 0x0d]), ...le32(t)); break; // inc/dec
        default: body.push(...lock, 0x66, 0x81, r.pick([0x05, 0x0d, 0x25]), ...le32(t), ...le32(r.u32()).slice(0, 2)); break; // 16-bit
      }
      body.push(...fold, 0x9c, 0x58, ...fold); // the flags too
    } else if (k < 68) {
      // TLB maintenance, control-register toggles
      const page = r.below(WIN_PAGES + 1);
      switch (r.below(pae ? 9 : 8)) {
        case 6: case 7: // the window's directory entry: another table, a large page, not present
          body.push(0xc7, 0x05, ...le32(dirEntry), ...le32(r.pick([PT1 | P | RW | A, PT2 | P | RW, PT2 | P | RW | A, 0x400000 | PS | P | RW, 0xc00000 | PS | P | RW | A | D | G, PT1 | P, PT1])));
          break;
        case 8: // PAE: PDPTE 0 to the other directory; in effect only from the next CR3 load (SDM 4.4.1)
          body.push(0xc7, 0x05, ...le32(PDPT), ...le32(r.pick([PD_ALT | P, PD | P, PD_ALT | P | RW])));
          if (r.chance(0.5)) body.push(0x0f, 0x20, 0xd8, 0x0f, 0x22, 0xd8);
          break;
        case 0: case 1: body.push(0x0f, 0x01, 0x3d, ...le32(WIN + page * 0x1000 + r.below(0x1000))); break; // invlpg
        case 2: body.push(0x0f, 0x20, 0xd8, 0x0f, 0x22, 0xd8); break; // reload cr3
        case 3: body.push(0x0f, 0x20, 0xe0, 0x35, ...le32(0x80), 0x0f, 0x22, 0xe0); break; // toggle CR4.PGE
        case 4: body.push(0x0f, 0x20, 0xc0, 0x35, ...le32(0x10000), 0x0f, 0x22, 0xc0); break; // toggle CR0.WP
        default: body.push(0x0f, 0x20, 0xe0, 0x35, ...le32(0x10), 0x0f, 0x22, 0xe0); break; // toggle CR4.PSE
      }
    } else if (k < 78) {
      // a stack in a table (or straddling into one)
      let t = target(true) + (r.chance(0.8) ? 0 : r.below(4));
      // never down into the directory entries of the first 4 MiB (code, handlers, tables)
      if (t >= PD && t < PD + 0x40) t += 0x40;
      // through the alias: the frame pushes never fault (a fault there would find no stack)
      body.push(0x89, 0x25, ...le32(hi(SAVE_ESP)), 0xbc, ...le32(hi(t)));
      if (r.chance(0.5)) body.push(...movR(EAX, value()));
      const n = 1 + r.below(3);
      for (let i = 0; i < n; i++) {
        switch (r.below(5)) {
          case 0: body.push(0x50); break; // push eax
          case 1: body.push(0x68, ...le32(value())); break;
          case 2: body.push(0xe8, 0, 0, 0, 0); break; // call next: pushes EIP
          case 3: body.push(0x9c); break; // pushfd
          default: body.push(0xcd, INT_VECTOR); break; // an interrupt frame
        }
      }
      body.push(0x8b, 0x04, 0x24, ...fold, 0x8b, 0x25, ...le32(hi(SAVE_ESP))); // mov eax, [esp]; fold; mov esp, [SAVE_ESP]
    } else if (k < 90) {
      // code in the window: call into a page, near its end so that the fetch crosses into the next
      const page = r.below(WIN_PAGES - 1);
      const off = r.pick([0xff0, 0xffa, 0xffd, 0xfff, 0x800 + r.below(0x800)]);
      if (r.chance(0.4)) {
        // first rewrite the next page's entry (and maybe invalidate it)
        const e = entryAddr(PT1, page + 1);
        body.push(...movR(EAX, r.pick([CODE_INC, CODE_DEC, DATA[0]!, PT1]) | P | RW | A), 0xa3, ...le32(e));
        if (r.chance(0.5)) body.push(0x0f, 0x01, 0x3d, ...le32(WIN + (page + 1) * 0x1000));
      }
      if (r.chance(0.5)) {
        body.push(...movR(EAX, 0), ...movR(EDX, WIN + page * 0x1000 + off), 0xff, 0xd2, ...fold); // call edx
      } else {
        // code that rewrites the next page's entry itself (EBX: the entry, EAX: its new value), maybe
        // invalidates it (ECX), and runs on into that page with an instruction that straddles the boundary
        if (r.chance(0.6)) body.push(...movR(EAX, CODE_ST | P | RW | A), 0xa3, ...le32(entryAddr(PT1, page)), 0x0f, 0x01, 0x3d, ...le32(WIN + page * 0x1000));
        const next = r.chance(0.9) ? r.pick([CODE_INC, CODE_DEC, DATA[1]!, PT2]) | P | RW | (r.chance(0.7) ? A : 0) | (r.chance(0.3) ? G : 0) : r.pick([CODE_INC, 0]);
        body.push(...movR(EBX, entryAddr(PT1, page + 1)), ...movR(EAX, next), ...movR(ECX, WIN + (page + 1) * 0x1000));
        body.push(...movR(EDX, WIN + page * 0x1000 + r.pick([0xfe0, 0xff0])), 0xff, 0xd2, ...fold);
      }
    } else {
      // a segment load whose descriptor lies in a table: the CPU writes its accessed bit
      // written through the identity mapping (which may fault, and be repaired), used through the alias (or the window)
      const inWindow = r.chance(0.08);
      const g = !inWindow ? r.pick([PT1 + 0x800, PT1 - 0x10, PT1 + 0xff8, PT2 + 0x100, PT1 + 8 * r.below(8), PD + 0x100]) : WIN + r.below(WIN_PAGES) * 0x1000 + 0x800;
      const base = inWindow ? g : hi(g);
      body.push(0xc7, 0x05, ...le32(g + 8), ...le32(0x0000ffff), 0xc7, 0x05, ...le32(g + 12), ...le32(0x00cf9b00)); // code, accessed
      body.push(0xc7, 0x05, ...le32(g + 16), ...le32(0x0000ffff), 0xc7, 0x05, ...le32(g + 20), ...le32(0x00cf9200)); // data, not accessed
      body.push(0xc7, 0x05, ...le32(hi(GDTR_MOVED + 2)), ...le32(base), 0x0f, 0x01, 0x15, ...le32(hi(GDTR_MOVED))); // lgdt
      body.push(...movR(EAX, 0x10), 0x8e, 0xd8); // mov ds, eax
      if (r.chance(0.5)) body.push(0x8e, 0xc0); // mov es, eax
      body.push(0x0f, 0x01, 0x15, ...le32(hi(GDTR_FLAT)), 0x8e, 0xd8, 0x8e, 0xc0); // back to the flat GDT: lgdt; mov ds, eax; mov es, eax
      body.push(0xa1, ...le32(base + 20), ...fold);
    }
  }
  return { seed, pae, blocks: blocks.filter((b) => b.length > 0), loops: 1 + r.below(3), entries, entries2 };
}

/** Puts the window back as the program found it: PT1's entries, the directory entry, PAE's PDPTE 0; reloads CR3. */
function restoreWindow(pae: boolean): number[] {
  const esz = pae ? 8 : 4;
  const dirEntry = pae ? PD + 0x10 : PD + 4;
  return [
    0x56, 0x57, 0x51, 0x9c, 0xfc, // push esi, edi, ecx; pushfd; cld
    0xbe, ...le32(hi(PRISTINE)), 0xbf, ...le32(hi(PT1)), 0xb9, ...le32(WIN_PAGES * esz / 4), 0xf3, 0xa5, // rep movsd
    ...st(dirEntry, PT1 | P | RW | A), ...st(PD, PT0 | P | RW),
    ...(pae ? [...st(dirEntry + 4, 0), ...st(PDPT, PD | P), ...st(PDPT + 4, 0), ...st(PD + 4, 0), ...st(PD + 8, (PT0 + 0x1000) | P | RW), ...st(PD + 12, 0)] : []),
    0x0f, 0x20, 0xd8, 0x0f, 0x22, 0xd8, // reload cr3 (the window's pristine entries are not global)
    0x9d, 0x59, 0x5f, 0x5e, // popfd; pop ecx, edi, esi
  ];
}

/** mov dword [alias of gpa], v */
const st = (gpa: number, v: number): number[] => [0xc7, 0x05, ...le32(hi(gpa)), ...le32(v)];

/** jmp rel32 from `at` to `to` */
const jmp = (at: number, to: number): number[] => [0xe9, ...le32(to - (at + 5))];

/**
 * The page-fault handler: fold CR2, the error code and EIP into EBP, put
 * the window back, return to retry; after PF_PER_BLOCK faults in one block,
 * give up on the block as for any other exception.
 */
function pfHandler(pae: boolean): number[] {
  const code = [
    0x50, // push eax
    0x0f, 0x20, 0xd0, ...fold, // mov eax, cr2
    0x8b, 0x44, 0x24, 0x04, ...fold, // error code
    0x8b, 0x44, 0x24, 0x08, ...fold, // eip
    ...restoreWindow(pae),
    0xff, 0x05, ...le32(hi(PF_BLOCK)), // inc dword [PF_BLOCK]
    0x83, 0x3d, ...le32(hi(PF_BLOCK)), PF_PER_BLOCK, // cmp dword [PF_BLOCK], n
    0x58, // pop eax
  ];
  // ja COMMON (the vector and error code are pushed by a stub: push 14 here, the error code is in place)
  code.push(0x77, 8); // ja +8 (to the push below)
  code.push(0x83, 0xc4, 0x04, 0xcf); // add esp, 4; iret (4 bytes)
  code.push(0x90, 0x90, 0x90, 0x90); // pad to +8
  const pushAt = PF_HANDLER + code.length;
  code.push(0x6a, 14, ...jmp(pushAt + 2, COMMON)); // relative: the same at the alias
  return code;
}

/**
 * Any other exception (and a block's page faults past the limit): fold the
 * vector and what lies above it on the stack, put the flat GDT, the stack
 * and the window back, and resume at the next block. Halts (AL=0xee) after
 * too many.
 */
function commonHandler(pae: boolean): number[] {
  return [
    0x8b, 0x04, 0x24, ...fold, 0x8b, 0x44, 0x24, 0x04, ...fold, 0x8b, 0x44, 0x24, 0x08, ...fold,
    0xfc, 0x0f, 0x01, 0x15, ...le32(hi(GDTR_FLAT)), // cld; lgdt
    ...movR(EAX, 0x10), 0x8e, 0xd8, 0x8e, 0xc0, 0x8e, 0xd0, // ds, es, ss
    0xbc, ...le32(hi(STACK_TOP)),
    ...restoreWindow(pae),
    0xff, 0x05, ...le32(hi(FAULTS)), 0x81, 0x3d, ...le32(hi(FAULTS)), ...le32(MAX_EXCEPTIONS),
    0x0f, 0x87, ...le32(DIE - (COMMON + 0)), // patched
    0xff, 0x25, ...le32(hi(RESUME)), // jmp [RESUME]
  ];
}

/** The state a run ends in. */
export interface End {
  reason: string;
  instructions: number;
  eip: number;
  flags: number;
  cr2: number;
  regs: number[];
  memory: string;
  halt: number;
  /** shadow mode's own consistency check (ShadowMode.audit), empty when sound */
  audit: string[];
}

export interface RunOptions {
  participant: Participant;
  engine: Engine;
  /** compile each block after its first run (jit, wasm) */
  eager?: boolean;
  /** the MMU observes every access (the cost model) */
  measure?: boolean;
  maxInstructions?: number;
}

/** Builds the machine for program p under one participant and engine. */
export function build(p: Program, o: RunOptions): Machine {
  const part = o.participant;
  const m = flatMachine({ mode: part.mode, engine: o.engine, memory: 16 << 20, measure: o.measure ?? false, mmu: { ...(part.shadow ? { shadow: part.shadow } : {}), ...(part.softTlbBits ? { softTlbBits: part.softTlbBits } : {}) } });
  if (o.eager && m.cpu.blocks) {
    m.cpu.blocks.jitThreshold = 1;
    if (o.engine === 'wasm') m.cpu.blocks.wasmBatch = 1;
  }
  const mmu = m.mmu;
  const c = m.cpu;
  const w32 = (a: number, v: number): void => mmu.writePhys(a, 4, v >>> 0);
  // frames
  const sled = (b: number): Uint8Array => { const a = new Uint8Array(0x1000).fill(b); a[0x40] = 0xc3; return a; };
  mmu.writePhysBytes(CODE_INC, sled(0x40));
  mmu.writePhysBytes(CODE_DEC, sled(0x48));
  const stFrame = sled(0x90);
  stFrame.set([0x89, 0x03, 0x0f, 0x01, 0x39], 0xfe0);
  stFrame.set([0x89, 0x03], 0xff0);
  stFrame[0xffd] = 0xb8;
  mmu.writePhysBytes(CODE_ST, stFrame);
  for (const f of [...DATA, D1, D2, D3]) mmu.writePhysBytes(f, new Uint8Array(0x1000).fill(0xc3));
  // what the window's large pages map (RET, so that a call there returns)
  mmu.writePhysBytes(0x400000, new Uint8Array(WIN_PAGES * 0x1000).fill(0xc3));
  mmu.writePhysBytes(0xc00000, new Uint8Array(WIN_PAGES * 0x1000).fill(0xc3));
  const esz = p.pae ? 8 : 4;
  // tables
  for (let i = 0; i < 1024; i++) {
    if (p.pae) {
      if (i < 512) { w32(PT0 + i * 8, (i * 0x1000) | P | RW | (i < 256 ? G : 0)); w32(PT0 + 0x1000 + i * 8, ((i + 512) * 0x1000) | P | RW); }
    } else {
      w32(PT0 + i * 4, (i * 0x1000) | P | RW | (i < 256 ? G : 0));
    }
  }
  // PT0 in PAE is two pages (0..2 MiB at PT0, 2..4 MiB at PT0+0x1000 = 0x302000)
  for (let k = 0; k < WIN_PAGES; k++) {
    w32(PT1 + k * esz, p.entries[k]!);
    w32(PRISTINE + k * esz, p.entries[k]!);
    w32(PT2 + k * esz, p.entries2[k]!);
  }
  if (p.pae) {
    w32(PDPT, PD | P);
    w32(PD, PT0 | P | RW);
    w32(PD + 8, (PT0 + 0x1000) | P | RW);
    w32(PD + 0x10, PT1 | P | RW);
    w32(PD_ALT, PT0 | P | RW);
    w32(PD_ALT + 8, (PT0 + 0x1000) | P | RW);
    w32(PD_ALT + 0x10, PT2 | P | RW);
    w32(PDPT + 24, PD_HI | P);
    w32(PD_HI, PT0 | P | RW);
    w32(PD_HI + 8, (PT0 + 0x1000) | P | RW);
  } else {
    w32(PD, PT0 | P | RW);
    w32(PD + 4, PT1 | P | RW);
    w32(PD + (HI >>> 22) * 4, PT0 | P | RW);
  }
  // handlers
  mmu.writePhysBytes(PF_HANDLER, new Uint8Array(pfHandler(p.pae)));
  mmu.writePhysBytes(INT_HANDLER, new Uint8Array([0xcf]));
  mmu.writePhysBytes(DIE, new Uint8Array([0xb0, 0xee, 0xf4]));
  const common = commonHandler(p.pae);
  const ja = common.lastIndexOf(0x87, common.length - 7) + 1;
  common.splice(ja, 4, ...le32(DIE - (COMMON + ja + 4)));
  mmu.writePhysBytes(COMMON, new Uint8Array(common));
  const gate = (v: number, phys: number): void => {
    const h = hi(phys);
    w32(IDT + v * 8, (0x08 << 16) | (h & 0xffff));
    w32(IDT + v * 8 + 4, (h & 0xffff0000) | 0x8e00);
  };
  for (let v = 0; v < 32; v++) {
    const at = STUBS2 + 8 * v;
    mmu.writePhysBytes(at, new Uint8Array([0x6a, v, ...jmp(at + 2, COMMON)]));
    gate(v, at);
  }
  gate(14, PF_HANDLER);
  gate(INT_VECTOR, INT_HANDLER);
  mmu.writePhys(IDTR, 2, (INT_VECTOR + 1) * 8 - 1);
  w32(IDTR + 2, hi(IDT));
  mmu.writePhys(GDTR_FLAT, 2, 3 * 8 - 1);
  w32(GDTR_FLAT + 2, hi(GDT));
  mmu.writePhys(GDTR_MOVED, 2, 3 * 8 - 1);
  w32(LOOPS, p.loops);
  // the program: turn paging on, move to the alias, run the body `loops` times, halt
  const pre = [
    ...movR(EAX, p.pae ? PDPT : PD), 0x0f, 0x22, 0xd8, // cr3
    ...movR(EAX, p.pae ? 0xb0 : 0x90), 0x0f, 0x22, 0xe0, // cr4: PSE, PGE (, PAE)
    0x0f, 0x20, 0xc0, 0x0d, ...le32(0x80010000), 0x0f, 0x22, 0xc0, // cr0: PG, WP
    ...movR(EAX, hi(CODE + 40)), 0xff, 0xe0, // jmp eax (to the alias, the next instruction)
  ];
  while (pre.length < 40) pre.push(0x90);
  pre.push(0x0f, 0x01, 0x1d, ...le32(hi(IDTR)), 0x0f, 0x01, 0x15, ...le32(hi(GDTR_FLAT)), 0xbc, ...le32(hi(STACK_TOP)), ...movR(5, 0)); // lidt; lgdt; mov esp; ebp = 0
  const loopTop = hi(CODE + pre.length);
  const body: number[] = [];
  for (const b of p.blocks) {
    // mov dword [RESUME], the next block; mov dword [PF_BLOCK], 0
    body.push(0xc7, 0x05, ...le32(hi(RESUME)), ...le32(loopTop + body.length + 20 + b.length), 0xc7, 0x05, ...le32(hi(PF_BLOCK)), ...le32(0), ...b);
  }
  const tail = [0xff, 0x0d, ...le32(hi(LOOPS))]; // dec dword [LOOPS]
  const jnzAt = loopTop + body.length + tail.length;
  const code = [...pre, ...body, ...tail, 0x0f, 0x85, ...le32(loopTop - (jnzAt + 6)), 0xf4];
  mmu.writePhysBytes(CODE, new Uint8Array(code));
  c.reg32[4] = STACK_TOP;
  return m;
}

export function endOf(m: Machine, reason: string, instructions: number): End {
  const c = m.cpu;
  const eip = c.eip >>> 0;
  return {
    reason,
    instructions,
    eip,
    flags: c.getFlags(),
    cr2: c.cr2 >>> 0,
    regs: Array.from(c.reg32, (v) => v >>> 0),
    memory: createHash('sha256').update(m.mmu.readPhysBytes(0, 4 << 20)).digest('hex'),
    halt: c.halted ? c.reg8[0]! : -1,
    audit: m.mmu.mode.name === 'shadow' ? (m.mmu.mode as ShadowMode).audit() : [],
  };
}

export function run(p: Program, o: RunOptions): End {
  const m = build(p, o);
  const r = m.run({ maxInstructions: o.maxInstructions ?? 200_000 });
  return endOf(m, r.reason, r.instructions);
}

/** The fields of two ends that differ (empty when equal). */
export function diff(a: End, b: End): string[] {
  const out: string[] = [];
  for (const k of Object.keys(a) as (keyof End)[]) {
    if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) out.push(`${k}: ${JSON.stringify(a[k])} vs ${JSON.stringify(b[k])}`);
  }
  return out;
}
