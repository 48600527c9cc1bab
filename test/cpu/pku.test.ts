/**
 * Protection keys on the CPU's side (`--cpu +lm,+pku`): the feature and
 * CPUID (PKU in CPUID.(7,0):ECX[3], OSPKE in ECX[4] following CR4.PKE), the
 * CR4.PKE refusal without it, RDPKRU and WRPKRU (NP 0F 01 EE/EF: #UD while
 * CR4.PKE = 0 or with a 66/F2/F3/LOCK prefix, #GP(0) for ECX != 0 and for
 * WRPKRU EDX != 0, the high halves of RAX/RDX cleared by RDPKRU and those
 * of RAX/RCX/RDX ignored, at CPL 3 as at CPL 0, in legacy and compatibility
 * mode as in 64-bit mode), and the page faults the keys cause through the
 * MMU once WRPKRU has handed it PKRU (SDM vol. 3A, 4.6.2: AD stops data
 * accesses to user-mode addresses, WD writes at CPL 3 and supervisor writes
 * with CR0.WP = 1, never fetches, never supervisor-mode addresses; the key
 * is the leaf's bits 62:59, 4 KiB, 2 MiB and 1 GiB; the error code's PK bit
 * 5, vol. 3A 4.7). Every program runs under naive, shadow and slat and the
 * four engines (and once with the cost model observing), which must agree;
 * the expected values are written by hand from the SDM (vol. 2A CPUID,
 * vol. 2B RDPKRU/WRPKRU).
 *
 * Planted errors each caught by some test here (each made in the source,
 * the file run, the error reverted): OSPKE always 0; RDPKRU without its ECX
 * check; WRPKRU not checking EDX; WRPKRU not handing PKRU to the MMU (the
 * register kept in the CPU only); RDPKRU leaving RDX's high half; the #UD
 * for CR4.PKE = 0 left out (then RDPKRU reads 0); the 66 prefix accepted (in each decoder); LOCK accepted in 64-bit mode;
 * CR4.PKE allowed without the feature; the feature not needing lm.
 */
import { describe, expect, it } from 'vitest';
import type { Machine } from '../../src/machine/machine.js';
import type { ModeName } from '../../src/mmu/modes/mode.js';
import type { Engine } from '../../src/cpu/cpu.js';
import { CpuFeatureError, CpuFeatures } from '../../src/cpu/features.js';
import { CODE64, DATA, everywhere as everywhereLong, frameAt, HIGH, HIGH_PHYS, IDTR64, le64, PML4, regs64, rip, runLongProgram, stubVector, type LongProgram } from './long-machine.js';
import { le32, STUBS } from './flat-machine.js';

const HLT = 0xf4;
const CPU = '+lm,+pku,+pdpe1gb';
const PDPT = PML4 + 0x1000, PD = PML4 + 0x2000, PD2 = PML4 + 0x3000, PT = PML4 + 0x4000;
const PKE = 1 << 22;

interface End {
  regs: bigint[];
  rip: bigint;
  /** the vector whose 64-bit stub halted the CPU, or -1 */
  vector: number;
  /** the vector whose 32-bit stub halted the CPU (flatMachine's IDT), else -1 */
  vector32: number;
  cr2: bigint;
  cr4: number;
  /** PKRU as the MMU holds it */
  pkru: number;
  cpl: number;
  /** the error code and RIP of an exception frame (the two words at RSP) */
  frame: bigint[];
  instructions: number;
  reason: string;
}

type Program = LongProgram;

const pair = (lo: number, hi: number): bigint => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);

function run(mode: ModeName, engine: Engine, p: Program, measure = false): End {
  const { m, r } = runLongProgram({ mode, engine, measure, cpu: p.cpu ?? CPU }, p, (m) => {
    m.mmu.writePhys(HIGH_PHYS, 4, 0xaaaa0001);
    m.mmu.writePhys(DATA, 4, 0xdddd0001);
  });
  const c = m.cpu;
  return {
    regs: regs64(m),
    rip: rip(m),
    vector: stubVector(m),
    vector32: !c.long64 && c.halted && (c.eip >>> 0) > STUBS && (c.eip >>> 0) <= STUBS + 4 * 32 ? c.reg8[0]! : -1,
    cr2: pair(c.cr2, c.cr2Hi),
    cr4: c.cr4,
    pkru: m.mmu.pkru >>> 0,
    cpl: c.cpl,
    frame: frameAt(m),
    instructions: r.instructions,
    reason: r.reason,
  };
}

/** The program in every mode and engine, and once with the cost model observing: all must agree and halt. */
const everywhere = (p: Program): End => everywhereLong((mode, engine, measure) => run(mode, engine, p, measure));

// encodings
const movImm64 = (r: number, v: bigint): number[] => [0x48 | (r >> 3), 0xb8 + (r & 7), ...le64(v)];
const MOV_EAX = (v: number): number[] => [0xb8, ...le32(v)];
const RDPKRU = [0x0f, 0x01, 0xee], WRPKRU = [0x0f, 0x01, 0xef];
const XOR_ECX = [0x31, 0xc9], XOR_EDX = [0x31, 0xd2];
/** CR4.PKE = 1 (mov rax, cr4; bts rax, 22; mov cr4, rax) */
const SET_PKE = [0x0f, 0x20, 0xe0, 0x48, 0x0f, 0xba, 0xe8, 22, 0x0f, 0x22, 0xe0];
/** CR4.PKE = 0 (mov rax, cr4; btr rax, 22; mov cr4, rax) */
const CLEAR_PKE = [0x0f, 0x20, 0xe0, 0x48, 0x0f, 0xba, 0xf0, 22, 0x0f, 0x22, 0xe0];
/** CR0.WP = 1 (mov rax, cr0; bts rax, 16; mov cr0, rax) */
const SET_WP = [0x0f, 0x20, 0xc0, 0x48, 0x0f, 0xba, 0xe8, 16, 0x0f, 0x22, 0xc0];
/** PKRU = v with ECX = EDX = 0 */
const setPkru = (v: number): number[] => [...XOR_ECX, ...XOR_EDX, ...MOV_EAX(v), ...WRPKRU];
/** mov rbx, a; mov eax, [rbx] (a read) and mov [rbx], eax (a write) */
const read = (a: bigint): number[] => [...movImm64(3, a), 0x8b, 0x03];
const write = (a: bigint): number[] => [...movImm64(3, a), 0x89, 0x03];
/** the length of movImm64 before the access itself */
const MOVI = 10;
/** protection key `key` in a 64-bit entry's high dword (bits 62:59 are its bits 30:27) */
const keyed = (key: number): number => key << 27;
/** one PKRU's AD (bit 2k) and WD (bit 2k+1) for key k */
const AD = (k: number): number => 1 << (2 * k);
const WD = (k: number): number => 2 << (2 * k);

describe('the feature and CPUID', () => {
  it('does pku need lm, stay off by default (CR4.PKE refused), and report CPUID.(7,0):ECX[3] with the highest basic leaf 7?', () => {
    expect(() => new CpuFeatures('+pku')).toThrow(new CpuFeatureError("'pku' needs 'lm' (+lm,+pku)"));
    const d = new CpuFeatures('+lm');
    expect([d.leaf7Ecx, d.maxLeaf, d.cr4Refused & PKE, d.pku]).toEqual([0, 2, PKE, false]);
    const f = new CpuFeatures('+lm,+pku');
    expect([f.leaf7Ecx, f.maxLeaf, f.cr4Refused & PKE, f.pku, f.toString()]).toEqual([1 << 3, 7, 0, true, '+pku,+lm']);
  });

  it('does CPUID.(7,0):ECX give PKU, and OSPKE (bit 4) as CR4.PKE is now, set and cleared?', () => {
    const leaf7 = (dst: number): number[] => [...MOV_EAX(7), ...XOR_ECX, 0x0f, 0xa2, 0x49, 0x89, 0xc8 | (dst - 8)]; // cpuid; mov r<dst>, rcx
    const e = everywhere({ code: [...leaf7(8), ...SET_PKE, ...leaf7(9), ...CLEAR_PKE, ...leaf7(10), HLT] });
    expect([e.regs[8], e.regs[9], e.regs[10], e.cr4 & PKE, e.vector]).toEqual([8n, 0x18n, 8n, 0, -1]);
    // without pku (smep keeps leaf 7 there): neither bit, and CR4.PKE is #GP(0) at the MOV to CR4
    const off = everywhere({ code: [...leaf7(8), ...SET_PKE, HLT], cpu: '+lm,+smep' });
    expect([off.regs[8], off.vector, off.frame, off.cr4 & PKE]).toEqual([0n, 13, [0n, BigInt(CODE64 + 12 + 8)], 0]);
  });
});

describe('RDPKRU and WRPKRU', () => {
  it('are they #UD while CR4.PKE = 0 (with the feature and without), and with 66, F2, F3 or LOCK when it is 1?', () => {
    for (const insn of [RDPKRU, WRPKRU]) {
      for (const cpu of [CPU, '+lm']) {
        const e = everywhere({ code: [...XOR_ECX, ...XOR_EDX, ...insn, HLT], cpu });
        expect([e.vector, e.frame, e.pkru], cpu).toEqual([6, [BigInt(CODE64 + 4), 0x18n], 0]);
      }
      for (const prefix of [0x66, 0xf2, 0xf3, 0xf0]) {
        const e = everywhere({ code: [...SET_PKE, ...XOR_ECX, ...XOR_EDX, ...MOV_EAX(4), prefix, ...insn, HLT] });
        expect([e.vector, e.frame, e.pkru], `prefix ${prefix.toString(16)}`).toEqual([6, [BigInt(CODE64 + 11 + 9), 0x18n], 0]);
      }
    }
  });

  it('does WRPKRU hand EAX to the MMU (RAX\'s high half ignored) and RDPKRU read it into EAX with EDX = 0 and the high halves of RAX and RDX cleared?', () => {
    const code = [...SET_PKE, ...XOR_ECX, ...XOR_EDX, ...movImm64(0, 0xffffffff_12345678n), ...WRPKRU,
      ...movImm64(0, -1n), ...movImm64(2, -1n), ...movImm64(1, 0xffffffff_00000000n), ...RDPKRU, HLT]; // RCX's high half is ignored too
    const e = everywhere({ code });
    expect([e.regs[0], e.regs[2], e.pkru, e.vector]).toEqual([0x12345678n, 0n, 0x12345678, -1]);
  });

  it('is RDPKRU #GP(0) for ECX != 0, and WRPKRU for ECX != 0 or EDX != 0 (PKRU unchanged), while RDX\'s high half does not count?', () => {
    const before = [...SET_PKE, ...setPkru(0x30)];
    const at = CODE64 + before.length;
    const rd = everywhere({ code: [...before, 0xba, ...le32(0x77), 0xb1, 1, ...RDPKRU, HLT] }); // mov edx, 0x77; mov cl, 1
    expect([rd.vector, rd.frame, rd.regs[2]]).toEqual([13, [0n, BigInt(at + 7)], 0x77n]);
    for (const [name, set] of [['ECX', [0xb1, 1]], ['EDX', [0xb2, 1]]] as const) {
      const e = everywhere({ code: [...before, ...MOV_EAX(0xc), ...set, ...WRPKRU, HLT] });
      expect([e.vector, e.frame, e.pkru], name).toEqual([13, [0n, BigInt(at + 5 + 2)], 0x30]);
    }
    const hi = everywhere({ code: [...before, ...movImm64(2, 1n << 32n), ...MOV_EAX(0xc), ...WRPKRU, HLT] });
    expect([hi.vector, hi.pkru]).toEqual([-1, 0xc]);
  });

  it('in 32-bit protected mode with paging off (CR4.PKE settable outside IA-32e mode): do they work in a hot loop (compiled 32-bit code), and give #UD and #GP(0) by the same rules?', () => {
    const pke = [0x0f, 0x20, 0xe0, 0x0d, ...le32(PKE), 0x0f, 0x22, 0xe0]; // mov eax, cr4; or eax, PKE; mov cr4, eax
    // esi = 5000; loop: PKRU = esi; edi += RDPKRU; then CPUID 7.0 and EDX after RDPKRU (EBX was -1 in it)
    const loop = [0xbe, ...le32(5000), 0x31, 0xff, // mov esi, 5000; xor edi, edi
      ...XOR_ECX, ...XOR_EDX, 0x89, 0xf0, ...WRPKRU, 0x89, 0xda, ...RDPKRU, 0x01, 0xc7, 0x4e, 0x75, -17 & 0xff, // mov eax, esi; wrpkru; mov edx, ebx; rdpkru; add edi, eax; dec esi; jnz
      0x89, 0xd3, ...MOV_EAX(7), 0x0f, 0xa2, HLT]; // mov ebx, edx; cpuid 7.0 (ECX is 0)
    const e = everywhere({ code: [HLT], entry: [...pke, 0xbb, ...le32(-1), ...loop] });
    expect([e.vector32, e.regs[7], e.regs[1], e.pkru, e.cr4]).toEqual([-1, 12502500n, 0x18n, 1, PKE]);
    const off = everywhere({ code: [HLT], entry: [...pke, HLT], cpu: '+lm' });
    expect([off.vector32, off.cr4]).toEqual([13, 0]);
    for (const [what, code, vector] of [
      ['RDPKRU with CR4.PKE = 0', [...XOR_ECX, ...RDPKRU], 6], ['WRPKRU with CR4.PKE = 0', [...XOR_ECX, ...XOR_EDX, ...WRPKRU], 6],
      ['66 RDPKRU', [...pke, ...XOR_ECX, 0x66, ...RDPKRU], 6], ['F3 WRPKRU', [...pke, ...XOR_ECX, ...XOR_EDX, 0xf3, ...WRPKRU], 6],
      ['LOCK WRPKRU', [...pke, ...XOR_ECX, ...XOR_EDX, 0xf0, ...WRPKRU], 6],
      ['RDPKRU with ECX = 1', [...pke, 0xb9, ...le32(1), ...RDPKRU], 13], ['WRPKRU with EDX = 1', [...pke, ...XOR_ECX, 0xba, ...le32(1), ...WRPKRU], 13],
    ] as const) {
      const f = everywhere({ code: [HLT], entry: [...code, HLT] });
      expect([f.vector32, f.pkru], what).toEqual([vector, 0]);
    }
  });

  it('at CPL 3: do they work, and does the key stop a CPL 3 write (#PF P|W|U|PK) while a read goes through?', () => {
    const TSS = 0x6000;
    const withTss = (m: Machine): void => {
      m.mmu.writePhys(TSS + 4, 4, 0x70000);
      m.cpu.loadSystemCache(7, 0x38, TSS, 0x67, 0x8000 | (11 << 8));
      m.mmu.writePhys(PT + 4, 4, keyed(1));
    };
    const wrmsr = (msr: number, lo: number, hi: number): number[] => [0xb9, ...le32(msr), 0xb8, ...le32(lo), 0xba, ...le32(hi), 0x0f, 0x30];
    const U = CODE64 + 0x100;
    const main = [...SET_PKE, 0xb9, ...le32(0xc0000080), 0x0f, 0x32, 0x83, 0xc8, 0x01, 0x0f, 0x30, // EFER.SCE
      ...wrmsr(0xc0000081, 0, 0x00200018), ...movImm64(1, BigInt(U)), 0x49, 0xc7, 0xc3, ...le32(0x2), 0x48, 0x0f, 0x07]; // STAR; rcx = U; r11 = 2; sysretq
    const user = [...setPkru(WD(1) | AD(2)), ...RDPKRU, 0x49, 0x89, 0xc4, ...read(HIGH), 0x49, 0x89, 0xc5, ...write(HIGH), HLT]; // r12 = PKRU; r13 = [4 GiB]
    const code = [...main];
    while (code.length < 0x100) code.push(HLT);
    code.push(...user);
    const e = everywhere({ code, setup: withTss });
    const writeAt = U + user.length - 1 - write(HIGH).length + MOVI;
    expect([e.regs[12], e.regs[13], e.vector, e.frame, e.cr2, e.pkru]).toEqual([BigInt(WD(1) | AD(2)), 0xaaaa0001n, 14, [0x27n, BigInt(writeAt)], HIGH, WD(1) | AD(2)]);
  });
});

describe('protection-key page faults (SDM vol. 3A, 4.6.2)', () => {
  /** the page at 4 GiB (a 4 KiB PTE) with key `key` and, when `user` is false, U/S = 0 */
  const high = (key: number, user = true) => (m: Machine): void => {
    m.mmu.writePhys(PT, 4, HIGH_PHYS | (user ? 7 : 3));
    m.mmu.writePhys(PT + 4, 4, keyed(key));
  };

  it('does AD stop a supervisor read of a user page (#PF P|PK, CR2) and WD a supervisor write only with CR0.WP = 1 (P|W|PK), while other keys and supervisor pages are not affected?', () => {
    const pre = [...SET_PKE, ...setPkru(AD(1))];
    const ad = everywhere({ code: [...pre, ...read(HIGH), HLT], setup: high(1) });
    expect([ad.vector, ad.frame, ad.cr2]).toEqual([14, [0x21n, BigInt(CODE64 + pre.length + MOVI)], HIGH]);
    const otherKey = everywhere({ code: [...pre, ...read(HIGH), HLT], setup: high(2) });
    expect([otherKey.vector, otherKey.regs[0]]).toEqual([-1, 0xaaaa0001n]);
    const supervisorPage = everywhere({ code: [...pre, ...read(HIGH), ...write(HIGH), HLT], setup: high(1, false) });
    expect([supervisorPage.vector, supervisorPage.regs[0]]).toEqual([-1, 0xaaaa0001n]);
    const wd = [...SET_PKE, ...setPkru(WD(1))];
    const wp0 = everywhere({ code: [...wd, ...read(HIGH), 0x83, 0xc0, 1, ...write(HIGH), HLT], setup: high(1) }); // add eax, 1
    expect([wp0.vector, wp0.regs[0]]).toEqual([-1, 0xaaaa0002n]);
    const wp1pre = [...wd, ...SET_WP, ...read(HIGH)];
    const wp1 = everywhere({ code: [...wp1pre, ...write(HIGH), HLT], setup: high(1) });
    expect([wp1.vector, wp1.frame, wp1.cr2]).toEqual([14, [0x23n, BigInt(CODE64 + wp1pre.length + MOVI)], HIGH]);
    // a read-modify-write is a write from its read on (add dword [rbx], 1)
    const rmw = everywhere({ code: [...wd, ...SET_WP, ...movImm64(3, HIGH), 0x83, 0x03, 1, HLT], setup: high(1) });
    expect([rmw.vector, rmw.frame[0]]).toEqual([14, 0x23n]);
  });

  it('does WRPKRU take effect for the next access to a page the TLB already holds, and does CR4.PKE = 0 turn the keys off?', () => {
    const pre = [...SET_PKE, ...read(HIGH), ...setPkru(AD(1))];
    const e = everywhere({ code: [...pre, ...read(HIGH), HLT], setup: high(1) });
    expect([e.vector, e.frame]).toEqual([14, [0x21n, BigInt(CODE64 + pre.length + MOVI)]]);
    // AD for key 1 with PKE cleared: the read goes through; PKE set again: it faults
    const again = [...SET_PKE, ...setPkru(AD(1)), ...CLEAR_PKE, ...read(HIGH), 0x49, 0x89, 0xc0, ...SET_PKE]; // mov r8, rax
    const off = everywhere({ code: [...again, ...read(HIGH), HLT], setup: high(1) });
    expect([off.regs[8], off.vector, off.frame]).toEqual([0xaaaa0001n, 14, [0x21n, BigInt(CODE64 + again.length + MOVI)]]);
    // clearing AD lets it through again (the TLB's rights follow PKRU both ways)
    const back = everywhere({ code: [...SET_PKE, ...setPkru(AD(1)), ...setPkru(0), ...read(HIGH), HLT], setup: high(1) });
    expect([back.vector, back.regs[0]]).toEqual([-1, 0xaaaa0001n]);
  });

  it('are fetches never stopped: code runs on in a page whose key has AD and WD set?', () => {
    // the 2 MiB page at 0 holds this code (CODE64), with key 3; nothing here reads or writes it after the WRPKRU
    const e = everywhere({ code: [...SET_PKE, ...setPkru(AD(3) | WD(3)), 0x41, 0xbe, ...le32(0x1234), ...read(BigInt(DATA)), HLT], setup: (m) => { m.mmu.writePhys(PD + 4, 4, keyed(3)); } });
    expect([e.vector, e.regs[14], e.regs[0]]).toEqual([-1, 0x1234n, 0xdddd0001n]);
  });

  it('is the key the leaf\'s: a 2 MiB and a 1 GiB leaf\'s key applies, and a key in the entries above a 4 KiB leaf does not?', () => {
    const pre = [...SET_PKE, ...setPkru(AD(5) | WD(6))];
    const twoMiB = everywhere({ code: [...pre, ...read(BigInt(DATA)), HLT], setup: (m) => { m.mmu.writePhys(PD + 8 + 4, 4, keyed(5)); } });
    expect([twoMiB.vector, twoMiB.frame, twoMiB.cr2]).toEqual([14, [0x21n, BigInt(CODE64 + pre.length + MOVI)], BigInt(DATA)]);
    // PDPT[8]: linear 8 GiB, a 1 GiB page at physical 0 with key 6 (WD): a read goes through, a write with CR0.WP = 1 faults
    const gb = (8n << 30n) + BigInt(DATA);
    const map1g = (m: Machine): void => { m.mmu.writePhys(PDPT + 8 * 8, 4, 0x87); m.mmu.writePhys(PDPT + 8 * 8 + 4, 4, keyed(6)); };
    const gbPre = [...pre, ...SET_WP, ...read(gb), 0x49, 0x89, 0xc1]; // mov r9, rax
    const oneGiB = everywhere({ code: [...gbPre, ...write(gb), HLT], setup: map1g });
    expect([oneGiB.regs[9], oneGiB.vector, oneGiB.frame, oneGiB.cr2]).toEqual([0xdddd0001n, 14, [0x23n, BigInt(CODE64 + gbPre.length + MOVI)], gb]);
    // key 5 (AD) in PML4E, PDPTE[4] and the PDE above the page at 4 GiB, key 0 in its PTE: not a fault
    const above = everywhere({ code: [...pre, ...read(HIGH), HLT], setup: (m) => {
      m.mmu.writePhys(PML4 + 4, 4, keyed(5)); m.mmu.writePhys(PDPT + 8 * 4 + 4, 4, keyed(5)); m.mmu.writePhys(PD2 + 4, 4, keyed(5));
    } });
    expect([above.vector, above.regs[0]]).toEqual([-1, 0xaaaa0001n]);
  });

  it('in compatibility mode (IA-32e paging, 32-bit code): does the key apply, the #PF delivered through the 64-bit IDT?', () => {
    // long-machine's way into IA-32e mode with CR4.PKE, stopping short of the far jump: the rest runs in compatibility mode
    const entry = [
      0xb8, ...le32(PML4), 0x0f, 0x22, 0xd8, 0x0f, 0x20, 0xe0, 0x0d, ...le32(0x20 | PKE), 0x0f, 0x22, 0xe0,
      0xb9, ...le32(0xc0000080), 0x0f, 0x32, 0x0d, ...le32(0x100), 0x0f, 0x30,
      0x0f, 0x20, 0xc0, 0x0d, ...le32(0x80000000), 0x0f, 0x22, 0xc0, 0x0f, 0x01, 0x1d, ...le32(IDTR64), // lidt [IDTR64]
      ...setPkru(AD(4)), 0xbb, ...le32(DATA), 0x8b, 0x03, HLT]; // mov ebx, DATA; mov eax, [ebx]
    const e = everywhere({ code: [HLT], entry, setup: (m) => { m.mmu.writePhys(PD + 8 + 4, 4, keyed(4)); } });
    expect([e.vector, e.cr2, e.frame[0], e.pkru]).toEqual([14, BigInt(DATA), 0x21n, AD(4)]);
  });
});
