/* access.c - page-level access rights, page-fault error codes and accessed/
 * dirty flags, checked combination by combination against a model written
 * from the Intel SDM vol. 3A: 4.3 (32-bit paging), 4.4 (PAE paging), 4.6
 * (access rights), 4.7 (page-fault exceptions), 4.8 (accessed and dirty
 * flags), 4.10.4 (invalidation). With CR4.SMEP and CR4.SMAP (CPUID 7.0
 * EBX bits 7 and 20), the supervisor-mode accesses are tried again under
 * every combination of SMEP, SMAP and EFLAGS.AC.
 *
 * One linear address, TEST_VA, is translated by an "upper" entry and a
 * "leaf" entry (4 KiB pages: the PDE and the PTE; 4 MiB and 2 MiB pages: the
 * PDE alone, which is the leaf). For every combination of the entries' flags,
 * CR0.WP, the access kind (read, write, instruction fetch) and the CPL (0, 3),
 * the kernel writes fresh entries, executes INVLPG, performs the access
 * (entry.asm, do_access) and compares what happened - #PF or not, error code,
 * CR2, saved EIP, the entries afterwards, the data read or written - with
 * what model() predicts. Only differences are printed, one line each; every
 * group prints one ok/not ok line with its number of combinations.
 *
 * The SDM leaves one thing open here: whether a faulting access sets the
 * accessed flag in the entries its walk read (4.8 speaks only of entries
 * "used as part of linear-address translation"). After a fault the model
 * therefore ignores A in every present entry the walk reached, and checks
 * every other bit (D included: there was no write) and every entry the walk
 * did not reach (4.3, 4.4: a walk stops at a not-present entry or one with a
 * reserved bit set).
 */

#include "guest.h"

/* --- entry.asm -------------------------------------------------------------- */
extern int do_access(int kind, u32 addr, int cpl);
extern volatile u32 pf_err, pf_cr2, pf_eip, read_val;
extern char acc_read0[], acc_write0[], acc_read3[], acc_write3[];
#define WRITE_VAL 0x5a5aa5a5u

/* --- port I/O, control registers, MSRs ------------------------------------- */
static inline u32 read_cr0(void) { u32 v; __asm__ volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static inline void write_cr0(u32 v) { __asm__ volatile("mov %0, %%cr0" : : "r"(v) : "memory"); }
static inline void write_cr3(u32 v) { __asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory"); }
static inline void write_cr4(u32 v) { __asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory"); }
static inline u32 read_cr4(void) { u32 v; __asm__ volatile("mov %%cr4, %0" : "=r"(v)); return v; }
/* EFLAGS.AC (bit 18) by POPF, which may change it at any CPL */
static inline void set_ac(int on)
{
    u32 f;
    __asm__ volatile("pushfl; popl %0" : "=r"(f));
    f = on ? f | (1u << 18) : f & ~(1u << 18);
    __asm__ volatile("pushl %0; popfl" : : "r"(f) : "memory", "cc");
}
static inline void invlpg(u32 va) { __asm__ volatile("invlpg (%0)" : : "r"(va) : "memory"); }
static inline void wrmsr(u32 msr, u64 v) { __asm__ volatile("wrmsr" : : "c"(msr), "a"((u32)v), "d"((u32)(v >> 32)) : "memory"); }

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
void __attribute__((noreturn)) unexpected(u32 vector, u32 err, u32 eip, u32 cs, u32 cr2)
{
    puts("unexpected exception: vector "); putdec(vector);
    puts(", error code "); puthex(err);
    puts(", at "); puthex(cs); putc(':'); puthex(eip);
    puts(", cr2 "); puthex(cr2); putc('\n');
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

#define CR0_PG (1u << 31)
#define CR0_WP (1u << 16)
#define CR0_PE 1u
#define CR4_PSE (1u << 4)
#define CR4_PAE (1u << 5)
#define CR4_SMEP (1u << 20)
#define CR4_SMAP (1u << 21)
#define MSR_EFER 0xc0000080u
#define EFER_NXE (1u << 11)

#define TEST_VA   0x40000000u       /* PD index 256 (32-bit); PDPTE 1, PDE 0 (PAE) */
#define DATA_OFF  0x800u            /* reads and writes go here */
#define CODE_OFF  0x400u            /* a RET: fetches go here */
#define FRAME     0x800000u         /* the page (any size) the leaf maps */
#define FRAME_4K2 0x801000u         /* other frames for the INVLPG / CR3 checks */
#define FRAME_4M2 0xc00000u
#define FRAME_2M2 0xa00000u
#define MARK      0x13579bdfu       /* what a read finds at DATA_OFF */

/* fixed physical addresses (3 MiB up), identity-mapped */
#define PD32   ((volatile u32 *)0x300000)   /* 32-bit page directory */
#define PT32   ((volatile u32 *)0x301000)   /* its page table for TEST_VA */
#define PDPT   ((volatile u64 *)0x302000)
#define PD0    ((volatile u64 *)0x303000)   /* PAE: 0-1 GiB (identity, 2 MiB pages) */
#define PD1    ((volatile u64 *)0x304000)   /* PAE: 1-2 GiB (TEST_VA) */
#define PTPAE  ((volatile u64 *)0x305000)   /* PAE page table for TEST_VA */
#define PD32_VA_INDEX (TEST_VA >> 22)

enum { READ, WRITE, FETCH };
static const char *const kind_name[] = { "read", "write", "fetch" };

struct cfg {
    int pae;        /* 0: 32-bit paging, 1: PAE paging */
    int large;      /* the leaf is the PDE (4 MiB / 2 MiB page) */
    int nxe;        /* IA32_EFER.NXE (PAE only) */
    int wp;         /* CR0.WP */
    int smep;       /* CR4.SMEP */
    int smap;       /* CR4.SMAP */
    int ac;         /* EFLAGS.AC during the access */
    int prot;       /* a SMEP/SMAP group: print smep, smap and ac with a mismatch */
};

/* what the CPU reports (CPUID): the model depends on it */
static int maxphyaddr;  /* 4.1.4: CPUID 80000008H:EAX[7:0], else 36 with PAE */
static int pse36;       /* CPUID 01H:EDX[17] */

static u64 bits(int lo, int hi)  /* bits hi:lo set */
{
    u64 m = 0;
    for (int i = lo; i <= hi; i++) m |= 1ull << i;
    return m;
}

/* Reserved bits of a present entry (SDM tables 4-4..4-6 for 32-bit paging,
 * 4-8..4-11 for PAE paging), for the paging mode of `c`: rsvd[0] a PDE that
 * references a page table, rsvd[1] a PDE that maps a page (PS = 1), rsvd[2]
 * a PTE. */
static void reserved_masks(const struct cfg *c, u64 *rsvd)
{
    if (!c->pae) {
        /* 32-bit paging: only a 4 MiB PDE has reserved bits. Bits (M-20):13
         * are physical bits (M-1):32 and bits 21:(M-19) are reserved, where
         * M = min(MAXPHYADDR, 40); without PSE-36, bits 21:13 are reserved
         * (4.3, table 4-4) */
        int m = maxphyaddr < 40 ? maxphyaddr : 40;
        rsvd[0] = 0;
        rsvd[1] = pse36 ? bits(m - 19, 21) : bits(13, 21);
        rsvd[2] = 0;
        return;
    }
    /* PAE: bits 62:MAXPHYADDR, and XD (63) when IA32_EFER.NXE = 0 (4.4.2,
     * tables 4-9..4-11); a 2 MiB PDE also bits 20:13 (table 4-9) */
    u64 r = bits(maxphyaddr, 62) | (c->nxe ? 0 : XD);
    rsvd[0] = r;
    rsvd[1] = r | bits(13, 20);
    rsvd[2] = r;
}
static u64 rsvd_cur[3];     /* reserved_masks() of the current paging mode */

/* the reserved bits of entry e at level 2 (PDE) or 1 (PTE) */
static u64 reserved(int level, u64 e)
{
    return level == 1 ? rsvd_cur[2] : (e & PS) ? rsvd_cur[1] : rsvd_cur[0];
}

struct outcome {
    int fault;
    u32 err, cr2, eip;
    u64 e[2];       /* upper, leaf (large pages: e[0] only) */
    u32 data;       /* the dword at DATA_OFF afterwards; for reads, what was read */
};

/* The model. entries: e[0] the PDE, e[1] the PTE (4 KiB pages). Returns the
 * outcome, and in ignore[] the bits of each entry the SDM leaves open. */
static void model(const struct cfg *c, int kind, int cpl, const u64 *e, u32 addr,
                  struct outcome *w, u64 *ignore)
{
    int n = c->large ? 1 : 2;
    int reached = 0, fault = 0;
    u32 err = 0;
    /* 4.3, 4.4.2: the walk reads each entry in turn; it stops at one with
     * P = 0 (no translation, #PF with P = 0) or one with a reserved bit set
     * (no translation, #PF with P = 1 and RSVD = 1; 4.7) */
    for (int i = 0; i < n; i++) {
        reached = i + 1;
        if (!(e[i] & P)) { fault = 1; err = 0; break; }
        if (e[i] & reserved(2 - i, e[i])) { fault = 1; err = 0x9; break; }
    }
    if (!fault) {
        /* 4.6: the access rights of a translation combine every entry's
         * R/W and U/S (0 in any entry wins) and XD (1 in any entry wins,
         * with IA32_EFER.NXE = 1; PAE only) */
        int rw = 1, us = 1, xd = 0;
        for (int i = 0; i < n; i++) {
            if (!(e[i] & RW)) rw = 0;
            if (!(e[i] & US)) us = 0;
            if (c->pae && c->nxe && (e[i] & XD)) xd = 1;
        }
        int ok;
        if (cpl == 3) {
            /* 4.6.1 user-mode accesses: only to user-mode addresses (U/S = 1
             * everywhere); writes need R/W = 1 everywhere (whatever CR0.WP);
             * fetches need XD = 0 */
            ok = us && (kind != WRITE || rw) && (kind != FETCH || !xd);
        } else if (!us) {
            /* 4.6.1 supervisor-mode accesses to supervisor-mode addresses:
             * reads always; writes if CR0.WP = 0 or R/W = 1 everywhere;
             * fetches unless XD */
            ok = (kind != WRITE || rw || !c->wp) && (kind != FETCH || !xd);
        } else if (kind == FETCH) {
            /* 4.6.1 supervisor-mode fetches from user-mode addresses: never
             * with CR4.SMEP = 1; otherwise unless XD */
            ok = !c->smep && !xd;
        } else {
            /* 4.6.1 supervisor-mode (explicit) data accesses to user-mode
             * addresses: none with CR4.SMAP = 1 and EFLAGS.AC = 0;
             * otherwise reads always, writes if CR0.WP = 0 or R/W = 1
             * everywhere */
            ok = !(c->smap && !c->ac) && (kind != WRITE || rw || !c->wp);
        }
        if (!ok) { fault = 1; err = 0x1; }
    }
    /* 4.7: W/R is the access, U/S the CPL, I/D only for fetches with
     * CR4.SMEP = 1, or with PAE paging and IA32_EFER.NXE = 1 (whatever
     * the cause of the fault) */
    if (fault) {
        if (kind == WRITE) err |= 0x2;
        if (cpl == 3) err |= 0x4;
        if (kind == FETCH && (c->smep || (c->pae && c->nxe))) err |= 0x10;
    }
    w->fault = fault;
    w->err = fault ? err : 0;
    w->cr2 = fault ? addr : 0;
    w->eip = !fault ? 0
           : kind == FETCH ? addr /* 6.15: the faulting instruction is the target */
           : kind == READ ? (u32)(cpl ? acc_read3 : acc_read0)
           : (u32)(cpl ? acc_write3 : acc_write0);
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
static struct cfg cur;

static void set_entries(const u64 *e)
{
    if (!cur.pae) {
        PD32[PD32_VA_INDEX] = (u32)e[0];
        if (!cur.large) PT32[0] = (u32)e[1];
    } else {
        PD1[0] = e[0];
        if (!cur.large) PTPAE[0] = e[1];
    }
}

/* only the leaf entry: the PTE, or the PDE of a 4 MiB / 2 MiB page */
static void set_leaf(u64 v)
{
    if (!cur.pae) {
        if (cur.large) PD32[PD32_VA_INDEX] = (u32)v; else PT32[0] = (u32)v;
    } else {
        if (cur.large) PD1[0] = v; else PTPAE[0] = v;
    }
}

static void get_entries(u64 *e)
{
    if (!cur.pae) {
        e[0] = PD32[PD32_VA_INDEX];
        if (!cur.large) e[1] = PT32[0];
    } else {
        e[0] = PD1[0];
        if (!cur.large) e[1] = PTPAE[0];
    }
}

/* the frame address field of the upper/leaf entry */
static u64 frame_of(int i)
{
    if (cur.large) return FRAME;
    if (i == 0) return cur.pae ? 0x305000 : 0x301000;
    return FRAME;
}

static void set_paging(int pae, int nxe, int wp)
{
    write_cr0(read_cr0() & ~CR0_PG);
    if (pae) {
        write_cr4(CR4_PSE | CR4_PAE);
        u64 efer = rdmsr(MSR_EFER);
        wrmsr(MSR_EFER, nxe ? efer | EFER_NXE : efer & ~(u64)EFER_NXE);
        write_cr3(0x302000);
    } else {
        write_cr4(CR4_PSE);
        write_cr3(0x300000);
    }
    write_cr0(CR0_PG | CR0_PE | (wp ? CR0_WP : 0) | (read_cr0() & ~(CR0_PG | CR0_WP)));
    cur.pae = pae;
    cur.nxe = nxe;
    cur.wp = wp;
    reserved_masks(&cur, rsvd_cur);
}

static void set_wp(int wp)
{
    u32 cr0 = read_cr0();
    write_cr0(wp ? cr0 | CR0_WP : cr0 & ~CR0_WP);
    cur.wp = wp;
}

static u32 combinations;    /* in all */
static u32 group_combos, group_bad;
static u32 checks, failed, first_failed;

static void put_outcome(const struct outcome *o, int n, int kind)
{
    if (o->fault) {
        puts("#PF err "); puthex(o->err);
        puts(" cr2 "); puthex(o->cr2);
        puts(" eip "); puthex(o->eip);
    } else {
        puts("no fault");
    }
    puts(", pde "); puthex64(o->e[0]);
    if (n == 2) { puts(", pte "); puthex64(o->e[1]); }
    puts(kind == READ && !o->fault ? ", read " : ", data "); puthex(o->data);
}

#define MAX_PRINTED 32
static u32 group_printed;

/* Set within a sequence (walk_prot), to the step's number */
static int in_sequence;

/* One combination: fresh entries (flags + frame), INVLPG, the access, the
 * comparison; within a sequence, the entries as the previous access left
 * them and no INVLPG (the access may use what the TLB kept). Returns 1 if
 * it matched the model. */
static int run_case(const char *label, int kind, int cpl, u64 upper, u64 leaf)
{
    int n = cur.large ? 1 : 2;
    u64 e[2] = { upper, leaf };
    for (int i = 0; i < n; i++) e[i] |= frame_of(i);
    u32 addr = TEST_VA + (kind == FETCH ? CODE_OFF : DATA_OFF);
    volatile u32 *data = (volatile u32 *)(FRAME + DATA_OFF);
    *data = MARK;
    read_val = 0;
    if (in_sequence) {
        get_entries(e);
    } else {
        set_entries(e);
        invlpg(TEST_VA);
    }

    struct outcome got, want;
    u64 ignore[2];
    if (cur.ac) set_ac(1);
    got.fault = do_access(kind, addr, cpl);
    if (cur.ac) set_ac(0);
    got.err = got.fault ? pf_err : 0;
    got.cr2 = got.fault ? pf_cr2 : 0;
    got.eip = got.fault ? pf_eip : 0;
    get_entries(got.e);
    got.data = kind == READ && !got.fault ? read_val : *data;
    model(&cur, kind, cpl, e, addr, &want, ignore);

    int ok = got.fault == want.fault && got.err == want.err && got.cr2 == want.cr2
          && got.eip == want.eip && got.data == want.data;
    for (int i = 0; i < n; i++)
        if ((got.e[i] & ~ignore[i]) != (want.e[i] & ~ignore[i])) ok = 0;
    combinations++;
    group_combos++;
    if (!ok) {
        group_bad++;
        if (group_printed++ < MAX_PRINTED) {
            puts("mismatch: "); puts(label);
            puts(cur.pae ? (cur.nxe ? " nxe=1" : " nxe=0") : "");
            if (cur.prot) {
                puts(cur.smep ? " smep=1" : " smep=0");
                puts(cur.smap ? " smap=1" : " smap=0");
                puts(cur.ac ? " ac=1" : " ac=0");
            }
            if (in_sequence) { puts(" sequence step "); putdec(in_sequence); }
            puts(cur.wp ? " wp=1 cpl" : " wp=0 cpl"); putdec(cpl);
            putc(' '); puts(kind_name[kind]);
            puts(" pde="); puthex64(e[0]);
            if (n == 2) { puts(" pte="); puthex64(e[1]); }
            puts(": got "); put_outcome(&got, n, kind);
            puts("; want "); put_outcome(&want, n, kind);
            if (ignore[0] | ignore[1]) puts(" (A after a fault unchecked)");
            putc('\n');
        }
    }
    return ok;
}

static void group_begin(void) { group_combos = group_bad = group_printed = 0; }

static void group_end(const char *text, const char *unit)
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
    putdec(checks); puts(" - "); puts(text); puts(": "); putdec(group_combos);
    putc(' '); puts(unit);
    if (group_bad) { puts(", "); putdec(group_bad); puts(" differ"); }
    putc('\n');
}

/* --- the combinations ------------------------------------------------------ */

/* The values an entry takes: every combination of `flags` with P = 1, and
 * two not-present entries (all other bits clear; all set): with P = 0 the
 * other bits are ignored (4.3, 4.4.2), so two stand for all of them. */
static int entry_values(u64 flags, u64 *out)
{
    int n = 0;
    u64 list[8];
    int k = 0;
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

static void walk_all(const char *label, u64 upper_flags, u64 leaf_flags)
{
    static u64 up[130], lf[130];
    int nu = entry_values(upper_flags, up);
    int nl = cur.large ? 1 : entry_values(leaf_flags, lf);
    if (cur.large) lf[0] = 0;
    for (int wp = 0; wp < 2; wp++) {
        set_wp(wp);
        for (int i = 0; i < nu; i++)
            for (int j = 0; j < nl; j++)
                for (int cpl = 0; cpl <= 3; cpl += 3)
                    for (int kind = READ; kind <= FETCH; kind++)
                        run_case(label, kind, cpl, up[i] | (cur.large ? PS : 0), lf[j]);
    }
}

/* The identity map of 0-16 MiB: user-accessible (U/S = 1, as the CPL 3
 * accesses need), or supervisor-only, so that the kernel's own code and
 * data are not user-mode addresses while CR4.SMEP or CR4.SMAP is set. */
static void identity_map(int user)
{
    u64 us = user ? US : 0;
    for (u32 i = 0; i < 4; i++) PD32[i] = (i << 22) | (u32)(P | RW | us | A | D | PS);
    for (u32 i = 0; i < 8; i++) PD0[i] = ((u64)i << 21) | P | RW | us | A | D | PS;
}

/* CR4.SMEP and CR4.SMAP as cur says, the other CR4 bits kept */
static void set_prot(void)
{
    u32 cr4 = read_cr4() & ~(CR4_SMEP | CR4_SMAP);
    write_cr4(cr4 | (cur.smep ? CR4_SMEP : 0) | (cur.smap ? CR4_SMAP : 0));
}

/* SMEP and SMAP (4.6.1): every combination of the entries' flags, CR0.WP,
 * CR4.SMEP, CR4.SMAP and EFLAGS.AC, a read, a write and a fetch, each on
 * fresh entries, then the sequence read, write, fetch, read, at CPL 0
 * (they restrict supervisor-mode accesses only; CPL 3 is walk_all's). The
 * identity map is supervisor-only meanwhile. */
static void walk_prot(const char *label, u64 upper_flags, u64 leaf_flags)
{
    static u64 up[130], lf[130];
    int nu = entry_values(upper_flags, up);
    int nl = cur.large ? 1 : entry_values(leaf_flags, lf);
    if (cur.large) lf[0] = 0;
    identity_map(0);
    write_cr3(cur.pae ? 0x302000 : 0x300000);
    cur.prot = 1;
    for (int m = 0; m < 8; m++) {
        cur.smep = m & 1;
        cur.smap = (m >> 1) & 1;
        cur.ac = (m >> 2) & 1;
        set_prot();
        for (int wp = 0; wp < 2; wp++) {
            set_wp(wp);
            for (int i = 0; i < nu; i++)
                for (int j = 0; j < nl; j++) {
                    u64 upper = up[i] | (cur.large ? PS : 0);
                    for (int kind = READ; kind <= FETCH; kind++)
                        run_case(label, kind, 0, upper, lf[j]);
                    /* then a read, a write, a fetch and a read in a row on
                     * fresh entries, each checked against the entries the
                     * one before left: what a write let through (CR0.WP = 0)
                     * must not let a fetch (SMEP) or a read (SMAP) through */
                    static const int seq[4] = { READ, WRITE, FETCH, READ };
                    run_case(label, seq[0], 0, upper, lf[j]);
                    for (int k = 1; k < 4; k++) {
                        in_sequence = k;
                        run_case(label, seq[k], 0, upper, lf[j]);
                    }
                    in_sequence = 0;
                }
        }
    }
    cur.smep = cur.smap = cur.ac = cur.prot = 0;
    set_prot();
    identity_map(1);
    write_cr3(cur.pae ? 0x302000 : 0x300000);
}

/* reserved bits: each one alone in an otherwise fully permissive entry */
static void reserved_bits(const char *label, int level, u64 candidates, int leaf_present)
{
    for (int b = 0; b < 64; b++) {
        u64 bit = 1ull << b;
        if (!(candidates & bit)) continue;
        u64 base = P | RW | US | (cur.large ? PS : 0);
        if (!(reserved(level, base | bit) & bit)) continue;
        for (int cpl = 0; cpl <= 3; cpl += 3)
            for (int kind = READ; kind <= FETCH; kind++) {
                if (level == 2) run_case(label, kind, cpl, base | bit, leaf_present ? P | RW | US : 0);
                else run_case(label, kind, cpl, P | RW | US, base | bit);
            }
    }
}

/* INVLPG and CR3 loads (4.10.4.1): an edited entry takes effect after either.
 * Before them the old translation may or may not be used (4.10.4.2), which
 * is not checked. A not-present entry made present needs neither (4.10.4.3). */
static void flush_check(const char *label, int large)
{
    cur.large = large;
    int n = large ? 1 : 2;
    u32 other = !large ? FRAME_4K2 : cur.pae ? FRAME_2M2 : FRAME_4M2;
    volatile u32 *da = (volatile u32 *)(FRAME + DATA_OFF);
    volatile u32 *db = (volatile u32 *)(other + DATA_OFF);
    volatile u32 *va = (volatile u32 *)(TEST_VA + DATA_OFF);
    u64 e[2], f = P | RW | US | A | D, big = large ? PS : 0;
    int step = 0;
    set_wp(1);
#define STEP(cond) do { step++; group_combos++; combinations++; if (!(cond)) { group_bad++; \
        puts("mismatch: "); puts(label); puts(" step "); putdec(step); putc('\n'); } } while (0)
    *da = 0xaaaa0001u;
    *db = 0xbbbb0002u;
    /* the first frame, read through the TLB */
    e[0] = (large ? FRAME : frame_of(0)) | f | big;
    e[1] = FRAME | f;
    set_entries(e);
    invlpg(TEST_VA);
    STEP(*va == 0xaaaa0001u);
    /* the leaf edited to the other frame, INVLPG */
    e[n - 1] = other | f | big;
    set_leaf(e[n - 1]);
    invlpg(TEST_VA);
    STEP(*va == 0xbbbb0002u);
    /* back to the first frame, CR3 load */
    e[n - 1] = FRAME | f | big;
    set_leaf(e[n - 1]);
    write_cr3(cur.pae ? 0x302000 : 0x300000);
    STEP(*va == 0xaaaa0001u);
    /* made read-only, INVLPG: a supervisor write faults (CR0.WP = 1) */
    e[n - 1] &= ~RW;
    set_leaf(e[n - 1]);
    invlpg(TEST_VA);
    STEP(do_access(WRITE, TEST_VA + DATA_OFF, 0) == 1 && pf_err == 3 && *da == 0xaaaa0001u);
    /* writable again, CR3 load: the write goes through */
    e[n - 1] |= RW;
    set_leaf(e[n - 1]);
    write_cr3(cur.pae ? 0x302000 : 0x300000);
    STEP(do_access(WRITE, TEST_VA + DATA_OFF, 0) == 0 && *da == WRITE_VAL);
    /* not present: a read faults; made present with no invalidation: it works */
    e[n - 1] &= ~P;
    set_leaf(e[n - 1]);
    invlpg(TEST_VA);
    STEP(do_access(READ, TEST_VA + DATA_OFF, 3) == 1 && pf_err == 4);
    e[n - 1] = other | f | big;
    set_leaf(e[n - 1]);
    STEP(do_access(READ, TEST_VA + DATA_OFF, 3) == 0 && read_val == 0xbbbb0002u);
#undef STEP
}

/* --- main -------------------------------------------------------------------- */
void kmain(u32 magic, u32 mbi)
{
    console_init();
    puts("access: page-level protection, #PF error codes and A/D flags for every\n"
         "combination of entry flags, CR0.WP, CR4.SMEP/SMAP, EFLAGS.AC, access kind\n"
         "and CPL (SDM 4.6-4.8)\n");
    if (magic != 0x2badb002u) exit_with(0x7e);
    const u32 *info = (const u32 *)mbi;
    if (!(info[0] & 1) || info[2] < 23 * 1024) exit_with(0x7d);

    /* CPUID: PSE, PAE (leaf 1), NX (leaf 80000001H), MAXPHYADDR (80000008H) */
    u32 a, b, c, d, maxext, nx = 0;
    cpuid(1, &a, &b, &c, &d);
    int pse = (d >> 3) & 1, pae = (d >> 6) & 1;
    pse36 = (d >> 17) & 1;
    cpuid(0x80000000u, &maxext, &b, &c, &d);
    if (maxext >= 0x80000001u) { cpuid(0x80000001u, &a, &b, &c, &d); nx = (d >> 20) & 1; }
    maxphyaddr = 36;
    if (maxext >= 0x80000008u) { cpuid(0x80000008u, &a, &b, &c, &d); maxphyaddr = a & 0xff; }
    u32 maxbasic;
    int smep_smap = 0;
    cpuid(0, &maxbasic, &b, &c, &d);
    if (maxbasic >= 7) { cpuid(7, &a, &b, &c, &d); smep_smap = ((b >> 7) & 1) && ((b >> 20) & 1); }
    checks++;
    if (!(pse && pae && nx)) {
        puts("not ok 1 - CPUID reports PSE, PAE and NX\n");
        exit_with(1);
    }
    puts("ok 1 - CPUID reports PSE, PAE and NX; PSE-36 "); putdec(pse36);
    puts(", MAXPHYADDR "); putdec(maxphyaddr); putc('\n');

    /* the test page: a RET at CODE_OFF of each frame a leaf may map */
    *(volatile u8 *)(FRAME + CODE_OFF) = 0xc3;
    *(volatile u8 *)(FRAME_4K2 + CODE_OFF) = 0xc3;

    /* 32-bit paging: 0-16 MiB identity with 4 MiB pages, user-accessible and
     * writable (the page under test is the only restricted one) */
    for (u32 i = 0; i < 1024; i++) { PD32[i] = 0; PT32[i] = 0; }
    /* PAE: PDPTE 0 -> PD0 (0-16 MiB identity, 2 MiB pages), PDPTE 1 -> PD1 */
    for (u32 i = 0; i < 512; i++) { PD0[i] = 0; PD1[i] = 0; PTPAE[i] = 0; }
    identity_map(1);
    PDPT[0] = 0x303000 | P;
    PDPT[1] = 0x304000 | P;
    PDPT[2] = 0;
    PDPT[3] = 0;

    set_paging(0, 0, 0);
    group_begin(); cur.large = 0;
    walk_all("32-bit 4K", RW | US | A | D, RW | US | A | D);
    group_end("32-bit paging, 4 KiB pages: PDE and PTE P, R/W, U/S, A, D; CR0.WP; read, write, fetch at CPL 0 and 3", "combinations");
    group_begin(); cur.large = 1;
    walk_all("32-bit 4M", RW | US | A | D, 0);
    group_end("32-bit paging, 4 MiB pages: PDE P, R/W, U/S, A, D; CR0.WP; read, write, fetch at CPL 0 and 3", "combinations");
    for (int nxe = 0; nxe < 2; nxe++) {
        set_paging(1, nxe, 0);
        group_begin(); cur.large = 0;
        walk_all("PAE 4K", RW | US | A | D | XD, RW | US | A | D | XD);
        group_end(nxe ? "PAE paging, EFER.NXE=1, 4 KiB pages: PDE and PTE P, R/W, U/S, XD, A, D; CR0.WP; read, write, fetch at CPL 0 and 3"
                      : "PAE paging, EFER.NXE=0, 4 KiB pages: PDE and PTE P, R/W, U/S, XD (reserved), A, D; CR0.WP; read, write, fetch at CPL 0 and 3",
                  "combinations");
        group_begin(); cur.large = 1;
        walk_all("PAE 2M", RW | US | A | D | XD, 0);
        group_end(nxe ? "PAE paging, EFER.NXE=1, 2 MiB pages: PDE P, R/W, U/S, XD, A, D; CR0.WP; read, write, fetch at CPL 0 and 3"
                      : "PAE paging, EFER.NXE=0, 2 MiB pages: PDE P, R/W, U/S, XD (reserved), A, D; CR0.WP; read, write, fetch at CPL 0 and 3",
                  "combinations");
    }

    /* reserved bits (4.7: RSVD, with P = 1) */
    group_begin();
    set_paging(0, 0, 1);
    cur.large = 1;
    reserved_bits("32-bit 4M rsvd", 2, bits(13, 21), 0);
    for (int nxe = 0; nxe < 2; nxe++) {
        set_paging(1, nxe, 1);
        u64 hi = (1ull << maxphyaddr) | (1ull << 51) | (1ull << 62) | XD;
        cur.large = 0;
        reserved_bits("PAE 4K rsvd in PDE", 2, hi, 1);
        reserved_bits("PAE 4K rsvd in PDE, PTE not present", 2, hi, 0);
        reserved_bits("PAE 4K rsvd in PTE", 1, hi, 1);
        cur.large = 1;
        reserved_bits("PAE 2M rsvd", 2, hi | (1ull << 13) | (1ull << 20), 0);
    }
    group_end("reserved bits: 4 MiB PDE bits 21:13 as CPUID says; PAE PDE, PTE, 2 MiB PDE bits MAXPHYADDR, 51, 62, 63 (NXE=0), 2 MiB PDE bits 13, 20", "combinations");

    /* SMEP and SMAP (CPUID 7.0 EBX bits 7 and 20) */
    group_begin();
    if (!smep_smap) {
        puts("mismatch: CPUID 7.0 EBX does not report SMEP and SMAP (bits 7, 20)\n");
        group_bad++;
    } else {
        set_paging(0, 0, 0);
        cur.large = 0;
        walk_prot("32-bit 4K", RW | US, RW | US);
        cur.large = 1;
        walk_prot("32-bit 4M", RW | US, 0);
        set_paging(1, 1, 0);
        cur.large = 0;
        walk_prot("PAE 4K", RW | US | XD, RW | US | XD);
        cur.large = 1;
        walk_prot("PAE 2M", RW | US | XD, 0);
    }
    group_end("SMEP and SMAP: 32-bit paging (4 KiB, 4 MiB pages) and PAE paging with EFER.NXE=1 (4 KiB, 2 MiB pages), PDE and PTE P, R/W, U/S (and XD); CR0.WP, CR4.SMEP, CR4.SMAP, EFLAGS.AC; read, write, fetch, and the sequence read, write, fetch, read, at CPL 0", "combinations");

    /* INVLPG and CR3 loads */
    group_begin();
    set_paging(0, 0, 1);
    flush_check("32-bit 4K", 0);
    flush_check("32-bit 4M", 1);
    set_paging(1, 1, 1);
    flush_check("PAE 4K", 0);
    flush_check("PAE 2M", 1);
    group_end("an edited PTE or large PDE takes effect after INVLPG or a CR3 load; a not-present entry made present needs neither", "steps");

    puts("access: "); putdec(checks); puts(" checks, "); putdec(failed); puts(" failed; ");
    putdec(combinations); puts(" combinations\n");
    exit_with(first_failed);
}
