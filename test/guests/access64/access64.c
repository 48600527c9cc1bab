/* access64.c - page-level access rights under IA-32e (4-level) paging, with
 * protection keys: page-fault error codes, CR2 and accessed/dirty flags,
 * checked combination by combination against a model written from the
 * Intel SDM vol. 3A: 4.5 (4-level paging), 4.6.1 (access rights), 4.6.2
 * (protection keys), 4.7 (page-fault exceptions), 4.8 (accessed and dirty
 * flags), 4.10.4 (invalidation). The 64-bit counterpart of test/guests/access.
 *
 * One linear address per page size is translated through fixed PML4 and
 * PDPT entries (P, R/W, U/S, A) and the entries under test: a PDE and a PTE
 * (4 KiB pages), a PDE with PS (2 MiB) or a PDPTE with PS (1 GiB). For each
 * combination the kernel writes fresh entries, executes INVLPG, performs the
 * access (entry.asm, do_access: a read, a write, or a CALL to a RET in the
 * page, at CPL 0 or at CPL 3) and compares what happened - #PF or not, the
 * error code (P, W/R, U/S, RSVD, I/D, PK), CR2, the saved RIP, the entries
 * afterwards, the data read or written - with what model() predicts. Only
 * differences are printed, one line each (at most 32 per group); each group
 * prints one ok/not ok line with its number of combinations.
 *
 * The full product of every control (entry bits of two levels, CR0.WP,
 * EFER.NXE, CR4.SMEP, CR4.SMAP, EFLAGS.AC, CR4.PKE, PKRU's AD and WD, kind,
 * CPL: about half a million accesses for 4 KiB pages) is more than a few
 * seconds of emulation, so the kernel walks three systematic groups, each a
 * full product of its own controls, for each page size:
 *
 *   A  entry bits: P, R/W, U/S, XD of every tested entry (present: every
 *      combination; not present: all clear and all set, the other bits being
 *      ignored, 4.5) x CR0.WP x EFER.NXE (XD reserved without it: P|RSVD)
 *      x kind x CPL; SMEP, SMAP off; CR4.PKE = 0 with PKRU denying every key
 *      but 0 (so keys must be ignored);
 *   B  SMEP/SMAP: the same entry bits (EFER.NXE = 1) x CR0.WP x CR4.SMEP x
 *      CR4.SMAP x EFLAGS.AC x kind x CPL;
 *   C  protection keys: P, R/W, U/S of every tested entry x CR0.WP x
 *      CR4.PKE x PKRU's AD and WD for the leaf's key x (SMAP, AC) in
 *      {(0,0), (1,0), (1,1)} x kind x CPL. PKRU gives every other key but 0
 *      the opposite AD and WD, so a key taken from the wrong place or the
 *      wrong PKRU bits shows; the PDE above a 4 KiB leaf carries a key too
 *      (bits 62:59 are ignored there, 4.5).
 *
 * Every tested leaf carries a protection key (4 KiB: 9, 2 MiB: 5, 1 GiB: 14;
 * the 4 KiB PDE key 3), in every group.
 *
 * The kernel's own pages are supervisor-mode addresses (its identity map has
 * U/S = 0), except the 2 MiB page at 4 MiB that holds the CPL 3 code and
 * stack (key 0, which PKRU always allows), so SMEP, SMAP and the keys
 * restrict only the page under test.
 *
 * As in access: whether a faulting access sets A in the entries its walk
 * read is left open by the SDM (4.8 speaks of entries "used as part of
 * linear-address translation"), so after a fault A in every present entry
 * the walk reached is not checked; everything else is.
 */

#include "guest.h"

/* --- entry.asm -------------------------------------------------------------- */
extern u64 do_access(u64 kind, u64 addr, u64 cpl, u64 ac);
extern volatile u64 pf_err, pf_cr2, pf_rip;
extern volatile u32 read_val;
extern char acc_read0[], acc_write0[], acc_read3[], acc_write3[];
#define WRITE_VAL 0x5a5aa5a5u

typedef unsigned long ulong;

/* --- control registers, MSRs, PKRU ----------------------------------------- */
static inline ulong read_cr0(void) { ulong v; __asm__ volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static inline void write_cr0(ulong v) { __asm__ volatile("mov %0, %%cr0" : : "r"(v) : "memory"); }
static inline void write_cr3(ulong v) { __asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory"); }
static inline ulong read_cr4(void) { ulong v; __asm__ volatile("mov %%cr4, %0" : "=r"(v)); return v; }
static inline void write_cr4(ulong v) { __asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory"); }
static inline void invlpg(ulong va) { __asm__ volatile("invlpg (%0)" : : "r"(va) : "memory"); }
static inline void wrmsr(u32 msr, u64 v) { __asm__ volatile("wrmsr" : : "c"(msr), "a"((u32)v), "d"((u32)(v >> 32)) : "memory"); }
/* WRPKRU and RDPKRU (SDM vol. 2B): ECX = 0, and EDX = 0 for WRPKRU */
static inline void wrpkru(u32 v) { __asm__ volatile("wrpkru" : : "a"(v), "c"(0), "d"(0) : "memory"); }
static inline u32 rdpkru(void) { u32 a, d; __asm__ volatile("rdpkru" : "=a"(a), "=d"(d) : "c"(0)); return a; }

static void puthex64(u64 v)
{
    if (v >> 32) {
        puthex((u32)(v >> 32));
        for (int i = 28; i >= 0; i -= 4) putc("0123456789abcdef"[((u32)v >> i) & 15]);
    } else {
        puthex((u32)v);
    }
}

/* an exception nobody expected: entry.asm calls this */
void __attribute__((noreturn)) unexpected_trap(u64 vector, u64 err, u64 rip, u64 cs, u64 cr2)
{
    puts("unexpected exception: vector "); putdec((u32)vector);
    puts(", error code "); puthex64(err);
    puts(", at "); puthex((u32)cs); putc(':'); puthex64(rip);
    puts(", cr2 "); puthex64(cr2); putc('\n');
    exit_with(0x7f);
}

/* --- paging structures ----------------------------------------------------- */
#define P   0x001ull
#define RW  0x002ull
#define US  0x004ull
#define A   0x020ull
#define D   0x040ull
#define PS  0x080ull
#define XD  (1ull << 63)
#define KEY(k) ((u64)(k) << 59)     /* protection key, bits 62:59 of a leaf (4.5) */

#define CR0_WP    (1ul << 16)
#define CR4_SMEP  (1ul << 20)
#define CR4_SMAP  (1ul << 21)
#define CR4_PKE   (1ul << 22)
#define MSR_EFER  0xc0000080u
#define EFER_NXE  (1ull << 11)

/* fixed physical addresses (3 MiB up), identity-mapped */
#define PML4    ((volatile u64 *)0x300000)
#define PDPT_ID ((volatile u64 *)0x301000)  /* PML4[0]: 0-1 GiB */
#define PD_ID   ((volatile u64 *)0x302000)  /* 0-32 MiB, 2 MiB pages */
#define PDPT_T  ((volatile u64 *)0x303000)  /* PML4[1]: the pages under test */
#define PD_T    ((volatile u64 *)0x304000)
#define PT_T    ((volatile u64 *)0x305000)

#define T       0x0000008000000000ull  /* PML4[1] */
#define VA_4K   T                       /* PDPT_T[0] -> PD_T[0] -> PT_T[0] */
#define VA_2M   (T + 0x200000ull)       /* PDPT_T[0] -> PD_T[1] */
#define VA_1G   (T + 0x40000000ull)     /* PDPT_T[1] */
#define FRAME   0x800000ull             /* the 4 KiB and 2 MiB pages' frame; the 1 GiB page's is 0 */
#define DATA_OFF 0x800u                 /* reads and writes go here */
#define CODE_OFF 0x400u                 /* a RET: fetches go here */
#define MARK    0x13579bdfu             /* what a read finds at DATA_OFF */

enum { READ, WRITE, FETCH };
enum { S4K, S2M, S1G };
static const char *const kind_name[] = { "read", "write", "fetch" };
static const char *const size_name[] = { "4 KiB", "2 MiB", "1 GiB" };
static const int leaf_key[] = { 9, 5, 14 };
#define PDE_KEY 3

struct cfg {
    int size;   /* S4K, S2M, S1G */
    int wp, nxe, smep, smap, ac, pke;
    u32 pkru;
};
static struct cfg cur;

struct outcome {
    int fault;
    u64 err, cr2, rip;
    u64 e[2];   /* the tested entries, top first */
    u32 data;   /* the dword at DATA_OFF afterwards; for reads, what was read */
};

static int nentries(void) { return cur.size == S4K ? 2 : 1; }

/* The model. e[]: the tested entries from the top (4 KiB: PDE, PTE; else the
 * leaf alone). Returns the outcome, and in ignore[] the bits of each entry the
 * SDM leaves open. */
static void model(const struct cfg *c, int kind, int cpl, const u64 *e, u64 addr,
                  struct outcome *w, u64 *ignore)
{
    int n = c->size == S4K ? 2 : 1;
    int reached = 0, fault = 0;
    u64 err = 0;
    /* 4.5: the walk reads each entry in turn and stops at one with P = 0 (#PF
     * with P = 0) or one with a reserved bit set (#PF with P = 1 and RSVD = 1,
     * 4.7); the only reserved bit the tested values can have is XD (bit 63)
     * with IA32_EFER.NXE = 0 (tables 4-15 to 4-19) */
    for (int i = 0; i < n; i++) {
        reached = i + 1;
        if (!(e[i] & P)) { fault = 1; err = 0; break; }
        if (!c->nxe && (e[i] & XD)) { fault = 1; err = 0x9; break; }
    }
    if (!fault) {
        /* 4.6.1: R/W and U/S are 0 if 0 in any entry (the fixed PML4E and
         * PDPTE have both 1), XD 1 if 1 in any entry (with NXE = 1) */
        int rw = 1, us = 1, xd = 0;
        for (int i = 0; i < n; i++) {
            if (!(e[i] & RW)) rw = 0;
            if (!(e[i] & US)) us = 0;
            if (c->nxe && (e[i] & XD)) xd = 1;
        }
        int ok;
        if (kind == FETCH) {
            /* user-mode fetches: user-mode addresses without XD; supervisor-
             * mode fetches: without XD, and not from a user-mode address
             * with CR4.SMEP = 1 */
            ok = cpl == 3 ? us && !xd : !xd && !(us && c->smep);
        } else if (cpl == 3) {
            /* user-mode data accesses: user-mode addresses only; writes need
             * R/W = 1 (whatever CR0.WP) */
            ok = us && (kind != WRITE || rw);
        } else if (!us) {
            /* supervisor-mode accesses to supervisor-mode addresses: reads
             * always, writes with R/W = 1 or CR0.WP = 0 */
            ok = kind != WRITE || rw || !c->wp;
        } else {
            /* supervisor-mode (explicit) accesses to user-mode addresses:
             * none with CR4.SMAP = 1 and EFLAGS.AC = 0; else as above */
            ok = !(c->smap && !c->ac) && (kind != WRITE || rw || !c->wp);
        }
        /* 4.6.2: with CR4.PKE = 1 (and IA-32e paging), a data access to a
         * user-mode address with key k is refused if PKRU.ADk = 1, a write if
         * PKRU.WDk = 1 and it is a user-mode access or CR0.WP = 1. Never
         * fetches, never supervisor-mode addresses. 4.7: PK is set whenever
         * this holds for the faulting access, whatever else refused it. */
        int pk = 0;
        if (kind != FETCH && c->pke && us) {
            u32 k = (u32)(e[n - 1] >> 59) & 15;
            u32 b = (c->pkru >> (2 * k)) & 3;
            if ((b & 1) || ((b & 2) && kind == WRITE && (cpl == 3 || c->wp))) pk = 1;
        }
        if (!ok || pk) { fault = 1; err = 0x1 | (pk ? 0x20 : 0); }
    }
    /* 4.7: W/R is the access, U/S the CPL, I/D for fetches with CR4.SMEP = 1
     * or IA32_EFER.NXE = 1 (CR4.PAE is 1 under 4-level paging) */
    if (fault) {
        if (kind == WRITE) err |= 0x2;
        if (cpl == 3) err |= 0x4;
        if (kind == FETCH && (c->smep || c->nxe)) err |= 0x10;
    }
    w->fault = fault;
    w->err = fault ? err : 0;
    w->cr2 = fault ? addr : 0;
    w->rip = !fault ? 0
           : kind == FETCH ? addr /* 6.15: the faulting instruction is the target */
           : kind == READ ? (u64)(ulong)(cpl ? acc_read3 : acc_read0)
           : (u64)(ulong)(cpl ? acc_write3 : acc_write0);
    for (int i = 0; i < n; i++) {
        w->e[i] = e[i];
        ignore[i] = 0;
        if (!fault) {
            /* 4.8: A in every entry used; D in the leaf on a write */
            w->e[i] |= A;
            if (i == n - 1 && kind == WRITE) w->e[i] |= D;
        } else if (i < reached && (e[i] & P)) {
            ignore[i] = A;  /* see the top of this file */
        }
    }
    w->data = kind == WRITE && !fault ? WRITE_VAL : MARK;
}

/* --- setting entries, running one access ---------------------------------- */
static volatile u64 *entry_ptr(int i)
{
    if (cur.size == S4K) return i == 0 ? &PD_T[0] : &PT_T[0];
    return cur.size == S2M ? &PD_T[1] : &PDPT_T[1];
}

/* the frame address (and PS) of tested entry i, and its key */
static u64 frame_of(int i)
{
    if (cur.size == S4K) return i == 0 ? 0x305000ull | KEY(PDE_KEY) : FRAME | KEY(leaf_key[S4K]);
    return (cur.size == S2M ? FRAME : 0) | PS | KEY(leaf_key[cur.size]);
}

static u64 test_va(void) { return cur.size == S4K ? VA_4K : cur.size == S2M ? VA_2M : VA_1G + FRAME; }

static u32 combinations, group_combos, group_bad, group_printed;
static u32 checks, failed, first_failed;
#define MAX_PRINTED 32

static void put_outcome(const struct outcome *o, int n, int kind)
{
    if (o->fault) {
        puts("#PF err "); puthex64(o->err);
        puts(" cr2 "); puthex64(o->cr2);
        puts(" rip "); puthex64(o->rip);
    } else {
        puts("no fault");
    }
    for (int i = 0; i < n; i++) { puts(", e"); putdec(i); putc(' '); puthex64(o->e[i]); }
    puts(kind == READ && !o->fault ? ", read " : ", data "); puthex(o->data);
}

/* One combination: fresh entries (flags + frame + key), INVLPG, the access,
 * the comparison. Returns 1 if it matched the model. */
static int run_case(int kind, int cpl, u64 upper, u64 leaf)
{
    int n = nentries();
    u64 e[2] = { n == 2 ? upper : leaf, leaf };
    for (int i = 0; i < n; i++) e[i] |= frame_of(i);
    u64 va = test_va();
    u64 addr = va + (kind == FETCH ? CODE_OFF : DATA_OFF);
    volatile u32 *data = (volatile u32 *)(ulong)(FRAME + DATA_OFF);
    *data = MARK;
    read_val = 0;
    for (int i = 0; i < n; i++) *entry_ptr(i) = e[i];
    invlpg(va);

    struct outcome got, want;
    u64 ignore[2] = { 0, 0 };
    got.fault = (int)do_access(kind, addr, cpl, cur.ac);
    got.err = got.fault ? pf_err : 0;
    got.cr2 = got.fault ? pf_cr2 : 0;
    got.rip = got.fault ? pf_rip : 0;
    for (int i = 0; i < n; i++) got.e[i] = *entry_ptr(i);
    got.data = kind == READ && !got.fault ? read_val : *data;
    model(&cur, kind, cpl, e, addr, &want, ignore);

    int ok = got.fault == want.fault && got.err == want.err && got.cr2 == want.cr2
          && got.rip == want.rip && got.data == want.data;
    for (int i = 0; i < n; i++)
        if ((got.e[i] & ~ignore[i]) != (want.e[i] & ~ignore[i])) ok = 0;
    combinations++;
    group_combos++;
    if (!ok) {
        group_bad++;
        if (group_printed++ < MAX_PRINTED) {
            puts("mismatch: "); puts(size_name[cur.size]);
            puts(" wp="); putdec(cur.wp); puts(" nxe="); putdec(cur.nxe);
            puts(" smep="); putdec(cur.smep); puts(" smap="); putdec(cur.smap); puts(" ac="); putdec(cur.ac);
            puts(" pke="); putdec(cur.pke); puts(" pkru="); puthex(cur.pkru);
            puts(" cpl"); putdec(cpl); putc(' '); puts(kind_name[kind]);
            for (int i = 0; i < n; i++) { puts(" e"); putdec(i); putc('='); puthex64(e[i]); }
            puts(": got "); put_outcome(&got, n, kind);
            puts("; want "); put_outcome(&want, n, kind);
            if (ignore[0] | ignore[1]) puts(" (A after a fault unchecked)");
            putc('\n');
        }
    }
    return ok;
}

static void group_begin(int size) { cur.size = size; group_combos = group_bad = group_printed = 0; }

static void group_end(const char *text)
{
    checks++;
    if (group_printed > MAX_PRINTED) {
        puts("mismatch: "); putdec(group_printed - MAX_PRINTED); puts(" more not printed\n");
    }
    if (group_bad) {
        failed++;
        if (!first_failed) first_failed = checks;
        puts("not ok ");
    } else {
        puts("ok ");
    }
    putdec(checks); puts(" - "); puts(size_name[cur.size]); puts(" pages: "); puts(text); puts(": ");
    putdec(group_combos); puts(" combinations");
    if (group_bad) { puts(", "); putdec(group_bad); puts(" differ"); }
    putc('\n');
}

/* --- controls ---------------------------------------------------------------- */
static void set_controls(void)
{
    ulong cr0 = read_cr0();
    write_cr0(cur.wp ? cr0 | CR0_WP : cr0 & ~CR0_WP);
    u64 efer = rdmsr(MSR_EFER);
    wrmsr(MSR_EFER, cur.nxe ? efer | EFER_NXE : efer & ~EFER_NXE);
    /* PKRU first (WRPKRU needs CR4.PKE = 1), then CR4 as asked */
    ulong cr4 = read_cr4() & ~(CR4_SMEP | CR4_SMAP | CR4_PKE);
    write_cr4(cr4 | CR4_PKE);
    wrpkru(cur.pkru);
    write_cr4(cr4 | (cur.smep ? CR4_SMEP : 0) | (cur.smap ? CR4_SMAP : 0) | (cur.pke ? CR4_PKE : 0));
}

/* PKRU with AD/WD = adwd for key k and the opposite for every other key but 0 */
static u32 pkru_for(u32 adwd, int k)
{
    u32 v = 0;
    for (int i = 1; i < 16; i++) v |= (i == k ? adwd : adwd ^ 3) << (2 * i);
    return v;
}

/* The values an entry takes: every combination of `flags` with P = 1, and two
 * not-present entries (all other bits clear; all set): with P = 0 the other
 * bits are ignored (4.5), so two stand for all of them. */
static int entry_values(u64 flags, u64 *out)
{
    int n = 0, k = 0;
    u64 list[8];
    for (int b = 0; b < 64; b++)
        if (flags & (1ull << b)) list[k++] = 1ull << b;
    for (u32 m = 0; m < (1u << k); m++) {
        u64 v = P;
        for (int j = 0; j < k; j++)
            if (m & (1u << j)) v |= list[j];
        out[n++] = v;
    }
    out[n++] = 0;
    out[n++] = flags;
    return n;
}

/* every tested entry's values (`flags`) under the current controls, each kind at CPL 0 and 3 */
static void walk_entries(u64 flags)
{
    static u64 v[20];
    int nv = entry_values(flags, v);
    int nu = cur.size == S4K ? nv : 1;
    for (int i = 0; i < nu; i++)
        for (int j = 0; j < nv; j++)
            for (int cpl = 0; cpl <= 3; cpl += 3)
                for (int kind = READ; kind <= FETCH; kind++)
                    run_case(kind, cpl, v[i], v[j]);
}

static void group_a(int size)
{
    group_begin(size);
    cur.smep = cur.smap = cur.ac = cur.pke = 0;
    cur.pkru = 0xfffffffcu;     /* every key but 0 denied: ignored with CR4.PKE = 0 */
    for (int nxe = 0; nxe < 2; nxe++)
        for (int wp = 0; wp < 2; wp++) {
            cur.nxe = nxe; cur.wp = wp;
            set_controls();
            walk_entries(RW | US | XD);
        }
    group_end("P, R/W, U/S, XD of each tested entry; CR0.WP; EFER.NXE; read, write, fetch at CPL 0 and 3");
}

static void group_b(int size)
{
    group_begin(size);
    cur.nxe = 1; cur.pke = 0; cur.pkru = 0xfffffffcu;
    for (int m = 0; m < 16; m++) {
        cur.smep = m & 1; cur.smap = (m >> 1) & 1; cur.ac = (m >> 2) & 1; cur.wp = (m >> 3) & 1;
        set_controls();
        walk_entries(RW | US | XD);
    }
    group_end("P, R/W, U/S, XD of each tested entry; CR0.WP; CR4.SMEP; CR4.SMAP; EFLAGS.AC; read, write, fetch at CPL 0 and 3");
}

static void group_c(int size)
{
    static const int smap_ac[3][2] = { { 0, 0 }, { 1, 0 }, { 1, 1 } };
    group_begin(size);
    cur.nxe = 1; cur.smep = 0;
    for (int pke = 0; pke < 2; pke++)
        for (u32 adwd = 0; adwd < 4; adwd++)
            for (int s = 0; s < 3; s++)
                for (int wp = 0; wp < 2; wp++) {
                    cur.pke = pke; cur.pkru = pkru_for(adwd, leaf_key[size]);
                    cur.smap = smap_ac[s][0]; cur.ac = smap_ac[s][1]; cur.wp = wp;
                    set_controls();
                    walk_entries(RW | US);
                }
    cur.pke = 0;
    group_end("P, R/W, U/S of each tested entry; CR4.PKE; PKRU.AD and WD of the leaf's key; CR4.SMAP and EFLAGS.AC; CR0.WP; read, write, fetch at CPL 0 and 3");
}

/* the tables: PML4[0] the identity map of 0-32 MiB in 2 MiB pages, supervisor-mode
 * but for the page at 4 MiB (the user code); PML4[1] the pages under test */
static void build_tables(void)
{
    for (int i = 0; i < 512; i++) PML4[i] = PDPT_ID[i] = PD_ID[i] = PDPT_T[i] = PD_T[i] = PT_T[i] = 0;
    PML4[0] = 0x301000 | P | RW | US | A;
    PML4[1] = 0x303000 | P | RW | US | A;
    PDPT_ID[0] = 0x302000 | P | RW | US | A;
    for (u64 i = 0; i < 16; i++) PD_ID[i] = (i << 21) | P | RW | A | D | PS | (i == 2 ? US : 0);
    PDPT_T[0] = 0x304000 | P | RW | US | A;
    write_cr3(0x300000);
}

static void check_ok(const char *what, int ok)
{
    checks++;
    if (!ok) { failed++; if (!first_failed) first_failed = checks; puts("not ok "); }
    else puts("ok ");
    putdec(checks); puts(" - "); puts(what); putc('\n');
}

/* --- main -------------------------------------------------------------------- */
void kmain(u32 magic, u32 mbi)
{
    console_init();
    puts("access64: IA-32e paging's page-level protection, #PF error codes and A/D\n"
         "flags for every combination of entry flags, CR0.WP, EFER.NXE, CR4.SMEP/SMAP,\n"
         "EFLAGS.AC, CR4.PKE and PKRU, access kind and CPL (SDM 4.5-4.8)\n");
    if (magic != 0x2badb002u) exit_with(0x7e);
    const u32 *info = (const u32 *)(ulong)mbi;
    if (!(info[0] & 1) || info[2] < 23 * 1024) exit_with(0x7d);

    /* CPUID: NX, 1 GiB pages (80000001H EDX 20, 26), SMEP, SMAP (7.0 EBX 7, 20), PKU (7.0 ECX 3) */
    u32 a, b, c, d, maxext, maxbasic, ext_d = 0, l7b = 0, l7c = 0;
    cpuid(0x80000000u, &maxext, &b, &c, &d);
    if (maxext >= 0x80000001u) cpuid(0x80000001u, &a, &b, &c, &ext_d);
    cpuid(0, &maxbasic, &b, &c, &d);
    if (maxbasic >= 7) cpuid(7, &a, &l7b, &l7c, &d);
    int have = ((ext_d >> 20) & 1) && ((ext_d >> 26) & 1) && ((l7b >> 7) & 1) && ((l7b >> 20) & 1) && ((l7c >> 3) & 1);
    check_ok("CPUID reports NX, 1 GiB pages, SMEP, SMAP and PKU", have);
    if (!have) exit_with(1);

    /* OSPKE (CPUID 7.0 ECX bit 4) follows CR4.PKE; WRPKRU and RDPKRU (SDM vol. 2A CPUID, vol. 2B) */
    ulong cr4 = read_cr4();
    write_cr4(cr4 | CR4_PKE);
    cpuid(7, &a, &b, &c, &d);
    int ospke_on = (c >> 4) & 1;
    wrpkru(0x12345678u);
    u32 back = rdpkru();
    wrpkru(0);
    write_cr4(cr4 & ~CR4_PKE);
    cpuid(7, &a, &b, &c, &d);
    check_ok("CPUID.7.0:ECX.OSPKE follows CR4.PKE; RDPKRU reads what WRPKRU wrote", ospke_on && !((c >> 4) & 1) && back == 0x12345678u);

    build_tables();
    /* the test page: a RET at CODE_OFF of the frame (every size maps FRAME there) */
    *(volatile u8 *)(ulong)(FRAME + CODE_OFF) = 0xc3;

    for (int s = S4K; s <= S1G; s++) group_a(s);
    for (int s = S4K; s <= S1G; s++) group_b(s);
    for (int s = S4K; s <= S1G; s++) group_c(s);

    puts("access64: "); putdec(checks); puts(" checks, "); putdec(failed); puts(" failed; ");
    putdec(combinations); puts(" combinations\n");
    exit_with(first_failed);
}
