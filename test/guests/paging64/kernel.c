/* paging64 - IA-32e paging from the inside: 4-level and 5-level tables with
 * 4 KiB, 2 MiB and 1 GiB pages, their accessed and dirty bits, page-fault
 * error codes and CR2, canonical addresses for 48 and 57 bits, PCIDs (CR4.PCIDE,
 * CR3 with and without bit 63, INVPCID of every type) and CR8 (SDM vol. 3A,
 * chapter 4; vol. 2A-2B, INVPCID and MOV to/from control registers).
 *
 * entry.asm enters IA-32e mode with a boot table and calls kmain in 64-bit
 * mode. kmain builds the tables under test, runs every check under 4-level
 * paging, leaves IA-32e mode to turn CR4.LA57 on, and runs them again under
 * 5-level paging, whose PML5[0] is the same PML4.
 *
 * TLB checks test only what the SDM guarantees: after an edit of an entry and
 * an invalidation that covers it (MOV to CR3 without bit 63, INVPCID, clearing
 * CR4.PCIDE), the new translation is used. Whether a translation survives
 * an operation that need not invalidate it (CR3 with bit 63 set) is never
 * checked: a TLB may drop an entry at any time.
 *
 * Physical memory: the kernel at 1 MiB (identity-mapped 0-32 MiB with 2 MiB
 * pages, user-accessible, as the boot table has it), page tables from its
 * bss, data frames at 8 MiB (FRAME_*), the 2 MiB page at 16 MiB.
 *
 * Without LA57 the 5-level run is skipped, without PCID and INVPCID the PCID
 * checks (each a failed CPUID check first), so that emulators lacking one of
 * them still check the rest: Bochs 2.7 (no LA57), QEMU 7.2 TCG (no PCID). */
#include "guest.h"

typedef unsigned long u64l;
#define U64(x) ((u64)(x))

/* entry.asm */
extern volatile u64 trap_vector, trap_error, trap_cr2, trap_rip;
u64 probe_read(u64 addr);
void probe_write(u64 addr, u64 value);
void probe_cr4(u64 value);
void probe_cr3(u64 value);
void probe_cr8(u64 value);
void probe_invpcid(u64 type, const u64 *descriptor);
u64 probe_user(u64 addr, u64 value, u64 what);
void switch_paging(u64 cr3, u64 la57);

#define PTE_P   0x001ull
#define PTE_RW  0x002ull
#define PTE_US  0x004ull
#define PTE_PWT 0x008ull
#define PTE_A   0x020ull
#define PTE_D   0x040ull
#define PTE_PS  0x080ull
#define PTE_G   0x100ull
#define CR4_PGE   0x80ull
#define CR4_LA57  0x1000ull
#define CR4_PCIDE 0x20000ull
#define CR3_NOFLUSH (1ull << 63)

#define FRAME_A 0x800000ull     /* the 4 KiB supervisor page */
#define FRAME_B 0x801000ull     /* the read-only page */
#define FRAME_C 0x802000ull     /* the user page */
#define FRAME_1 0x810000ull     /* PCID checks: the two frames a page is switched between */
#define FRAME_2 0x811000ull
#define FRAME_W 0x812000ull     /* written through the 1 GiB page */
#define BIG2M   0x1000000ull    /* the 2 MiB page's frame */

/* linear addresses: T is PML4[1] (PML5[0] under 5-level paging) */
#define T        0x0000008000000000ull
#define VA_4K    (T + 0x0000)   /* PT[0]: FRAME_A, supervisor, writable */
#define VA_RO    (T + 0x1000)   /* PT[1]: FRAME_B, read-only */
#define VA_NP    (T + 0x2000)   /* PT[2]: not present */
#define VA_USER  (T + 0x3000)   /* PT[3]: FRAME_C, user */
#define VA_X     (T + 0x4000)   /* PT[4]: the PCID checks' page */
#define VA_G     (T + 0x5000)   /* PT[5]: the PCID checks' global page */
#define VA_2M    (T + 0x200000) /* PD[1]: 2 MiB page at BIG2M */
#define VA_2MR   (T + 0x400000) /* PD[2]: 2 MiB page with reserved bit 13 */
#define VA_1G    (T + 0x40000000)  /* PDPT[1]: 1 GiB page at physical 0 */
#define VA_1GR   (T + 0x80000000)  /* PDPT[2]: 1 GiB page with reserved bit 13 */
#define VA_PS4   0x0000010000000000ull  /* PML4[2]: PS set (reserved in a PML4E) */
#define VA_HI48  0xffff800000000000ull  /* canonical, PML4[256] (PML5[511] PML4[256] under 5-level) not present */
#define VA_NC48  0x0000800000000000ull  /* non-canonical with 48 bits, canonical with 57: PML5[0] PML4[256] */
#define VA_L5    0x0001000000000000ull  /* PML5[1] -> a PML4 whose [0] is T's PDPT: like T; non-canonical with 48 bits */
#define VA_PS5   0x0002000000000000ull  /* PML5[2]: PS set (reserved in a PML5E) */
#define VA_NC57  0x0100000000000000ull  /* non-canonical with 57 bits */
#define VA_HI57  0xff00000000000000ull  /* canonical with 57 bits, PML5[256] not present */

static u64 pool[24][512] __attribute__((aligned(4096)));
static unsigned pool_used;
static u64 *table(void)
{
    u64 *t = pool[pool_used++];
    for (int i = 0; i < 512; i++) t[i] = 0;
    return t;
}
#define PHYS(p) ((u64)(u64l)(p))

static u64 *pml4, *pml4b, *pml5, *pdpt_t, *pd_t, *pt_t;

static inline u64 read_cr3(void) { u64 v; __asm__ volatile("mov %%cr3, %0" : "=r"(v)); return v; }
static inline u64 read_cr4(void) { u64 v; __asm__ volatile("mov %%cr4, %0" : "=r"(v)); return v; }
static inline u64 read_cr8(void) { u64 v; __asm__ volatile("mov %%cr8, %0" : "=r"(v)); return v; }
static inline void write_cr3(u64 v) { __asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory"); }
static inline void write_cr4(u64 v) { __asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory"); }
static inline volatile u64 *phys64(u64 pa) { return (volatile u64 *)(u64l)pa; }

static void puthex64(u64 v)
{
    puts("0x");
    for (int i = 60; i >= 0; i -= 4) putc("0123456789abcdef"[(v >> i) & 15]);
}

/* check64: check() for 64-bit values */
static void check64(const char *what, u64 got, u64 want)
{
    checks_run++;
    if (got == want) {
        puts("ok "); putdec(checks_run); puts(" - "); puts(what); putc('\n');
        return;
    }
    checks_failed++;
    if (!first_failure) first_failure = checks_run;
    puts("not ok "); putdec(checks_run); puts(" - "); puts(what);
    puts(": got "); puthex64(got); puts(", want "); puthex64(want); putc('\n');
}

/* the trap a probe took: vector << 32 | error code, or all ones for none */
static u64 trap(void) { return trap_vector == (u64)-1 ? (u64)-1 : (trap_vector << 32) | (trap_error & 0xffffffff); }
#define PF(err) ((14ull << 32) | (err))
#define GP0 (13ull << 32)
#define NO_TRAP ((u64)-1)

void __attribute__((noreturn)) unexpected_trap(void)
{
    puts("unexpected trap: vector "); puthex64(trap_vector);
    puts(" error "); puthex64(trap_error);
    puts(" rip "); puthex64(trap_rip);
    puts(" cr2 "); puthex64(trap_cr2);
    putc('\n');
    exit_with(0x7f);
}

/* The tables under test; the identity map of the first 32 MiB (2 MiB pages, user) is PML4[0]. */
static void build_tables(void)
{
    pml4 = table();
    u64 *pdpt_id = table(), *pd_id = table();
    pml4[0] = PHYS(pdpt_id) | 7;
    pdpt_id[0] = PHYS(pd_id) | 7;
    for (u64 i = 0; i < 16; i++) pd_id[i] = (i << 21) | 0x87;
    pdpt_t = table(); pd_t = table(); pt_t = table();
    pml4[1] = PHYS(pdpt_t) | 7;
    pml4[2] = PHYS(table()) | 7 | PTE_PS;
    pdpt_t[0] = PHYS(pd_t) | 7;
    pd_t[0] = PHYS(pt_t) | 7;
    /* 5-level: PML5[0] is the same PML4; PML5[1] a PML4 whose [0] is T's PDPT; PML5[2] has PS */
    pml5 = table();
    pml4b = table();
    pml5[0] = PHYS(pml4) | 7;
    pml5[1] = PHYS(pml4b) | 7;
    pml5[2] = PHYS(table()) | 7 | PTE_PS;
    pml4b[0] = PHYS(pdpt_t) | 7;
}

/* Fresh leaves and no A/D anywhere in the tested paths (before each paging mode, whose entry flushes every TLB). */
static void reset_entries(void)
{
    pml4[1] &= ~(PTE_A | PTE_D); pml4b[0] &= ~(PTE_A | PTE_D);
    pml5[0] &= ~(PTE_A | PTE_D); pml5[1] &= ~(PTE_A | PTE_D);
    pdpt_t[0] = PHYS(pd_t) | 7;
    pd_t[0] = PHYS(pt_t) | 7;
    pt_t[0] = FRAME_A | PTE_P | PTE_RW;
    pt_t[1] = FRAME_B | PTE_P;
    pt_t[2] = 0;
    pt_t[3] = FRAME_C | PTE_P | PTE_RW | PTE_US;
    pt_t[4] = FRAME_1 | PTE_P | PTE_RW;
    pt_t[5] = FRAME_1 | PTE_P | PTE_RW | PTE_G;
    pd_t[1] = BIG2M | PTE_P | PTE_RW | PTE_PS;
    pd_t[2] = (BIG2M + 0x200000) | PTE_P | PTE_RW | PTE_PS | (1ull << 13);
    pdpt_t[1] = 0 | PTE_P | PTE_RW | PTE_PS;
    pdpt_t[2] = 0 | PTE_P | PTE_RW | PTE_PS | (1ull << 13);
    *phys64(FRAME_A) = 0xa0a0a0a0a0a0a0a0ull;
    *phys64(FRAME_B) = 0xb0b0b0b0b0b0b0b0ull;
    *phys64(FRAME_C) = 0xc0c0c0c0c0c0c0c0ull;
    *phys64(FRAME_1) = 0x1111111111111111ull;
    *phys64(FRAME_2) = 0x2222222222222222ull;
    *phys64(BIG2M + 0x1238) = 0x2020202020202020ull;
    *phys64(FRAME_W) = 0;
}

/* the fault of a probe: (vector << 32 | error) and CR2 */
static void check_pf(const char *what, const char *cr2what, u64 addr, u64 err)
{
    check64(what, trap(), PF(err));
    check64(cr2what, trap_cr2, addr);
}

static u64 desc[2];
static void invpcid(u64 type, u64 pcid, u64 addr) { desc[0] = pcid; desc[1] = addr; probe_invpcid(type, desc); }

static int have_pcid, have_la57;

static void checks(int five, u64 root)
{
    u64 v;
    /* ---- translations, A and D: 4 KiB ---- */
    v = probe_read(VA_4K);
    check64("4 KiB page: a read gives the frame's data", v, 0xa0a0a0a0a0a0a0a0ull);
    check64("4 KiB page: A set in the top entry (PML4E or PML5E), PDPTE, PDE and PTE, D clear in the PTE",
            ((five ? pml5[0] : pml4[1]) & PTE_A) | (pdpt_t[0] & PTE_A) << 1 | (pd_t[0] & PTE_A) << 2 | (pt_t[0] & (PTE_A | PTE_D)) << 3,
            PTE_A | PTE_A << 1 | PTE_A << 2 | PTE_A << 3);
    if (five) check64("4 KiB page: A set in the PML4E below the PML5E", pml4[1] & PTE_A, PTE_A);
    probe_write(VA_4K + 8, 0x0123456789abcdefull);
    check64("4 KiB page: a write sets D in the PTE", pt_t[0] & (PTE_A | PTE_D), PTE_A | PTE_D);
    check64("4 KiB page: the write reached the frame", *phys64(FRAME_A + 8), 0x0123456789abcdefull);
    check64("4 KiB page: D is not set in the PDE above it", pd_t[0] & PTE_D, 0);
    /* ---- 2 MiB ---- */
    v = probe_read(VA_2M + 0x1238);
    check64("2 MiB page: a read gives the frame's data", v, 0x2020202020202020ull);
    check64("2 MiB page: A set and D clear in the PDE (the leaf)", pd_t[1] & (PTE_A | PTE_D), PTE_A);
    probe_write(VA_2M + 0x1ff000, 0x5a5a);
    check64("2 MiB page: a write sets D in the PDE", pd_t[1] & (PTE_A | PTE_D), PTE_A | PTE_D);
    check64("2 MiB page: the write reached the frame's last 4 KiB", *phys64(BIG2M + 0x1ff000), 0x5a5a);
    /* ---- 1 GiB ---- */
    v = probe_read(VA_1G + FRAME_A);
    check64("1 GiB page: a read gives physical memory at the same offset", v, 0xa0a0a0a0a0a0a0a0ull);
    check64("1 GiB page: A set and D clear in the PDPTE (the leaf)", pdpt_t[1] & (PTE_A | PTE_D), PTE_A);
    probe_write(VA_1G + FRAME_W, 0x1600d1600d);
    check64("1 GiB page: a write sets D in the PDPTE", pdpt_t[1] & (PTE_A | PTE_D), PTE_A | PTE_D);
    check64("1 GiB page: the write reached physical memory", *phys64(FRAME_W), 0x1600d1600d);
    /* ---- page faults: error code and CR2 ---- */
    probe_read(VA_NP + 0x10);
    check_pf("not present, read: #PF error 0", "not present, read: CR2", VA_NP + 0x10, 0);
    probe_write(VA_NP + 0x18, 1);
    check_pf("not present, write: #PF error 2 (W)", "not present, write: CR2", VA_NP + 0x18, 2);
    v = probe_read(VA_RO);
    check64("read-only page: a read works", v, 0xb0b0b0b0b0b0b0b0ull);
    probe_write(VA_RO + 0x20, 1);
    check_pf("read-only page, supervisor write with CR0.WP = 1: #PF error 3 (P W)", "read-only page: CR2", VA_RO + 0x20, 3);
    check64("read-only page: the faulting write left D clear and memory as it was", (pt_t[1] & PTE_D) | *phys64(FRAME_B + 0x20), 0);
    v = probe_user(VA_USER, 0, 0);
    check64("CPL 3 read of a user page works", (trap() << 1) | (v == 0xc0c0c0c0c0c0c0c0ull), (NO_TRAP << 1) | 1);
    probe_user(VA_4K + 0x30, 0, 0);
    check_pf("CPL 3 read of a supervisor page: #PF error 5 (P U)", "CPL 3 read of a supervisor page: CR2", VA_4K + 0x30, 5);
    probe_user(VA_4K + 0x38, 7, 1);
    check_pf("CPL 3 write of a supervisor page: #PF error 7 (P W U)", "CPL 3 write of a supervisor page: CR2", VA_4K + 0x38, 7);
    probe_user(VA_NP, 0, 0);
    check_pf("CPL 3 read of a not-present page: #PF error 4 (U)", "CPL 3 read of a not-present page: CR2", VA_NP, 4);
    /* reserved bits (SDM 4.5, tables 4-14 to 4-20): P and RSVD in the error code */
    probe_read(VA_2MR + 0x40);
    check_pf("2 MiB page with bit 13 set (reserved): #PF error 9 (P RSVD)", "2 MiB page, reserved bit: CR2", VA_2MR + 0x40, 9);
    probe_read(VA_1GR + 0x48);
    check_pf("1 GiB page with bit 13 set (bits 29:13 reserved): #PF error 9", "1 GiB page, reserved bit: CR2", VA_1GR + 0x48, 9);
    probe_write(VA_PS4 + 0x50, 1);
    check_pf("PS set in a PML4E (reserved): #PF error 0xb (P W RSVD)", "PS in a PML4E: CR2", VA_PS4 + 0x50, 0xb);
    if (five) {
        probe_read(VA_PS5 + 0x58);
        check_pf("PS set in a PML5E (reserved): #PF error 9", "PS in a PML5E: CR2", VA_PS5 + 0x58, 9);
    }
    /* ---- canonical addresses (SDM 3.3.7.1, 4.5) ---- */
    probe_read(VA_HI48);
    check_pf("0xffff800000000000 is canonical: #PF error 0 (not present)", "0xffff800000000000: CR2", VA_HI48, 0);
    if (!five) {
        probe_read(VA_NC48);
        check64("4-level: 0x0000800000000000 is not canonical: #GP(0)", trap(), GP0);
        probe_read(VA_L5);
        check64("4-level: 0x0001000000000000 is not canonical: #GP(0)", trap(), GP0);
    } else {
        probe_read(VA_NC48);
        check_pf("5-level: 0x0000800000000000 is canonical: #PF error 0", "5-level: 0x0000800000000000: CR2", VA_NC48, 0);
        v = probe_read(VA_L5);
        check64("5-level: 0x0001000000000000 translates through PML5[1]", v, 0xa0a0a0a0a0a0a0a0ull);
        check64("5-level: A set in PML5[1] and the PML4E below it", (pml5[1] & PTE_A) | (pml4b[0] & PTE_A) << 1, PTE_A | PTE_A << 1);
        probe_read(VA_NC57);
        check64("5-level: 0x0100000000000000 is not canonical: #GP(0)", trap(), GP0);
        probe_read(VA_HI57);
        check_pf("5-level: 0xff00000000000000 is canonical: #PF error 0", "5-level: 0xff00000000000000: CR2", VA_HI57, 0);
    }
    /* ---- CR4.LA57 cannot change in IA-32e mode ---- */
    probe_cr4(read_cr4() ^ CR4_LA57);
    check64("MOV to CR4 changing LA57 in IA-32e mode: #GP(0)", trap(), GP0);
    check64("CR4.LA57 as the paging mode has it", read_cr4() & CR4_LA57, five ? CR4_LA57 : 0);

    /* ---- PCIDs (SDM 4.10.1, 4.10.4.1; INVPCID) ---- */
    if (!have_pcid) {
        puts("# PCID and INVPCID checks skipped: CPUID does not report both\n");
        goto cr8;
    }
    write_cr3(root | PTE_PWT);
    probe_cr4(read_cr4() | CR4_PCIDE);
    check64("setting CR4.PCIDE while CR3[11:0] is not 0: #GP(0)", trap(), GP0);
    write_cr3(root);
    probe_cr4(read_cr4() | CR4_PCIDE);
    check64("setting CR4.PCIDE with CR3[11:0] = 0 works", (trap() << 1) | ((read_cr4() & CR4_PCIDE) != 0), (NO_TRAP << 1) | 1);
    write_cr3(root | 1);
    check64("MOV to CR3 with PCID 1: CR3 reads it back", read_cr3(), root | 1);
    check64("PCID 1: the page gives frame 1", probe_read(VA_X), 0x1111111111111111ull);
    pt_t[4] = FRAME_2 | PTE_P | PTE_RW;
    write_cr3(root | 2);
    check64("PTE edited, MOV to CR3 with PCID 2: frame 2", probe_read(VA_X), 0x2222222222222222ull);
    write_cr3(root | 1 | CR3_NOFLUSH);
    check64("MOV to CR3 with bit 63 set: CR3 does not keep bit 63", read_cr3(), root | 1);
    (void)probe_read(VA_X); /* frame 1 or 2: either is allowed */
    pt_t[4] = FRAME_1 | PTE_P | PTE_RW;
    write_cr3(root | 1);
    check64("PTE edited, MOV to CR3 with PCID 1 and bit 63 clear: frame 1", probe_read(VA_X), 0x1111111111111111ull);
    pt_t[4] = FRAME_2 | PTE_P | PTE_RW;
    invpcid(0, 1, VA_X);
    check64("PTE edited, INVPCID type 0 (the address, PCID 1): no fault", trap(), NO_TRAP);
    check64("INVPCID type 0: frame 2", probe_read(VA_X), 0x2222222222222222ull);
    pt_t[4] = FRAME_1 | PTE_P | PTE_RW;
    invpcid(1, 1, 0);
    check64("PTE edited, INVPCID type 1 (PCID 1): frame 1", probe_read(VA_X), 0x1111111111111111ull);
    pt_t[4] = FRAME_2 | PTE_P | PTE_RW;
    invpcid(3, 0, 0);
    check64("PTE edited, INVPCID type 3 (all but globals): frame 2", probe_read(VA_X), 0x2222222222222222ull);
    check64("a global page (G, CR4.PGE): frame 1", probe_read(VA_G), 0x1111111111111111ull);
    pt_t[5] = FRAME_2 | PTE_P | PTE_RW | PTE_G;
    invpcid(2, 0, 0);
    check64("global PTE edited, INVPCID type 2 (everything): frame 2", probe_read(VA_G), 0x2222222222222222ull);
    /* another PCID's entries: invalidated while PCID 1 is current, then used with bit 63 set */
    write_cr3(root | 2 | CR3_NOFLUSH);
    (void)probe_read(VA_X);
    write_cr3(root | 1 | CR3_NOFLUSH);
    pt_t[4] = FRAME_1 | PTE_P | PTE_RW;
    invpcid(0, 2, VA_X);
    write_cr3(root | 2 | CR3_NOFLUSH);
    check64("INVPCID type 0 for PCID 2 from PCID 1, then CR3 to PCID 2 with bit 63: frame 1", probe_read(VA_X), 0x1111111111111111ull);
    write_cr3(root | 1 | CR3_NOFLUSH);
    pt_t[4] = FRAME_2 | PTE_P | PTE_RW;
    invpcid(1, 2, 0);
    write_cr3(root | 2 | CR3_NOFLUSH);
    check64("INVPCID type 1 for PCID 2 from PCID 1, then CR3 to PCID 2 with bit 63: frame 2", probe_read(VA_X), 0x2222222222222222ull);
    /* INVPCID's #GP(0) rules */
    desc[0] = 1; desc[1] = VA_X;
    probe_user(0, (u64)(u64l)desc, 2);
    check64("INVPCID at CPL 3: #GP(0)", trap(), GP0);
    invpcid(4, 0, 0);
    check64("INVPCID type 4: #GP(0)", trap(), GP0);
    invpcid(1, 0x1000, 0);
    check64("INVPCID with descriptor bit 12 set (bits 63:12 reserved): #GP(0)", trap(), GP0);
    invpcid(0, 2, VA_NC57);
    check64("INVPCID type 0 with 0x0100000000000000 (not canonical with 57 bits): #GP(0)", trap(), GP0);
    /* the address check is as wide as the processor's widest linear address whatever CR4.LA57
     * says (as on Intel processors with 5-level paging): 2^47 is no fault with LA57 */
    invpcid(0, 2, VA_NC48);
    check64("INVPCID type 0 with 0x0000800000000000: no fault with LA57 (57-bit check whatever CR4.LA57), #GP(0) without",
            trap(), have_la57 ? NO_TRAP : GP0);
    /* clearing CR4.PCIDE flushes everything; PCID 0 after it */
    write_cr3(root | CR3_NOFLUSH);
    pt_t[4] = FRAME_1 | PTE_P | PTE_RW;
    probe_cr4(read_cr4() & ~CR4_PCIDE);
    check64("PTE edited, CR4.PCIDE cleared: no fault, frame 1", (trap() << 1) | (probe_read(VA_X) == 0x1111111111111111ull), (NO_TRAP << 1) | 1);
    write_cr3(root);
    invpcid(1, 1, 0);
    check64("CR4.PCIDE = 0: INVPCID type 1 with PCID 1: #GP(0)", trap(), GP0);
    invpcid(0, 1, VA_X);
    check64("CR4.PCIDE = 0: INVPCID type 0 with PCID 1: #GP(0)", trap(), GP0);
    pt_t[4] = FRAME_2 | PTE_P | PTE_RW;
    invpcid(0, 0, VA_X);
    check64("CR4.PCIDE = 0: INVPCID type 0 with PCID 0 works: frame 2", (trap() << 1) | (probe_read(VA_X) == 0x2222222222222222ull), (NO_TRAP << 1) | 1);
    /* ---- CR8 ---- */
cr8:
    probe_cr8(9);
    check64("MOV to CR8 9, MOV from CR8", (trap() << 8) | read_cr8(), (NO_TRAP << 8) | 9);
    probe_cr8(0x10);
    check64("MOV to CR8 with bit 4 set (reserved): #GP(0), CR8 unchanged", (trap() << 8) | read_cr8(), (GP0 << 8) | 9);
    probe_cr8(9);
    probe_user(3, 0, 3);
    check64("MOV to CR8 at CPL 3: #GP(0), CR8 unchanged", (trap() << 8) | read_cr8(), (GP0 << 8) | 9);
    probe_cr8(0);
}

void __attribute__((noreturn)) kmain(u32 magic, u32 info)
{
    console_init();
    if (magic != 0x2badb002) { puts("boot: not started by a Multiboot loader\n"); exit_with(0x7e); }
    if (!(*(volatile u32 *)(u64l)info & 1) || ((volatile u32 *)(u64l)info)[2] < (32 - 1) * 1024) {
        puts("boot: needs at least 32 MiB of RAM\n");
        exit_with(0x7d);
    }
    u32 a, b, c, d;
    cpuid(1, &a, &b, &c, &d);
    u32 pcid = (c >> 17) & 1;
    cpuid(7, &a, &b, &c, &d);
    u32 invpcid_ = (b >> 10) & 1, la57 = (c >> 16) & 1;
    cpuid(0x80000001, &a, &b, &c, &d);
    u32 gb = (d >> 26) & 1;
    check("CPUID: 1 GiB pages (80000001h:EDX[26])", gb, 1);
    if (first_failure) { puts("paging64: the CPU lacks a feature this kernel needs\n"); exit_with(first_failure); }
    /* without LA57 the 5-level run is skipped (Bochs 2.7's models lack it), without PCID and
     * INVPCID the PCID checks (QEMU 7.2's TCG has neither); the check fails, the rest runs */
    cpuid(0x80000008, &a, &b, &c, &d);
    check("CPUID: LA57 (7:ECX[16]), 57 linear-address bits (80000008h:EAX[15:8])", la57 | (((a >> 8) & 0xff) == 57) << 1, 3);
    check("CPUID: PCID (1:ECX[17]), INVPCID (7:EBX[10])", pcid | invpcid_ << 1, 3);
    have_pcid = pcid && invpcid_;
    have_la57 = la57;

    build_tables();
    write_cr4(read_cr4() | CR4_PGE);
    puts("# 4-level paging\n");
    reset_entries();
    switch_paging(PHYS(pml4), 0);
    check64("4-level paging: CR3 is the PML4", read_cr3(), PHYS(pml4));
    checks(0, PHYS(pml4));
    if (!la57) {
        puts("# 5-level paging skipped: CPUID does not report LA57\n");
        goto done;
    }
    puts("# 5-level paging\n");
    reset_entries();
    switch_paging(PHYS(pml5), 1);
    check64("5-level paging: CR4.LA57 set, CR3 the PML5", (read_cr4() & CR4_LA57) | read_cr3(), CR4_LA57 | PHYS(pml5));
    checks(1, PHYS(pml5));
done:

    puts("paging64: "); putdec(checks_run); puts(" checks, "); putdec(checks_failed); puts(" failed\n");
    exit_with(first_failure);
}
