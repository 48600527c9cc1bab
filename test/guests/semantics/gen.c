/* gen.c - computes the expected results of the semantics guest by running
 * every case natively on the host CPU.
 *
 * It links cases.o (cases.asm assembled for this process) and calls its
 * sem_harness on each snippet of sem_table with the inputs chosen below, the
 * same harness and the same instruction bytes the guest runs. For each case
 * it writes the inputs, the outputs and the EFLAGS masked to the flags the
 * SDM defines for that instruction and those operands (undefined flags are
 * left out; the mask is the snippet's, or, for the operand-dependent rules
 * R_*, one per case), as nasm source: expected.inc.
 *
 * Build and run (see build.sh):
 *   nasm -f elf32 -I semantics/ semantics/cases.asm -o cases.o
 *   gcc -m32 -O2 -no-pie semantics/gen.c cases.o -o gen && ./gen > semantics/expected.inc
 *
 * The operand choice is deterministic: fixed interesting values plus values
 * from a xorshift32 generator with a fixed seed. */
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <stdlib.h>

typedef uint32_t u32;
typedef uint64_t u64;
typedef int32_t i32;
typedef int64_t i64;

/* --- must match classes.inc --- */
enum { IN_EAX = 1, IN_EBX = 2, IN_ECX = 4, IN_EDX = 8, IN_ESI = 16, IN_EDI = 32, IN_MEM = 64 };
enum { OUT_SUM = 128 };
enum { C_BIN = 1, C_BINC, C_BINM, C_UN, C_UNB, C_UNC, C_UNM, C_MUL, C_DIV, C_IDIV, C_SHIFT, C_SHIFTI,
       C_SHIFTM, C_SHD, C_SHDI, C_SHDM, C_BT, C_BTM, C_BSX, C_CMPX, C_CMPXM, C_CX8, C_BCD, C_AAM,
       C_CONV, C_FLAGS, C_STR };
enum { R_NONE, R_SHL, R_SHR, R_SAR, R_ROT, R_RC, R_SHD, R_BSX };

enum { F_CF = 0x001, F_PF = 0x004, F_AF = 0x010, F_ZF = 0x040, F_SF = 0x080, F_DF = 0x400, F_OF = 0x800 };
#define F_ALL (F_CF | F_PF | F_AF | F_ZF | F_SF | F_DF | F_OF)
#define F_STATUS (F_ALL & ~F_DF)

/* --- must match cases.asm --- */
struct sem_state {
    u32 r[7];           /* eax ebx ecx edx esi edi mem: in and out */
    u32 sum, eflags, pad[3];
    unsigned char scratch[32], src[64], dst[64];
};
enum { EAX, EBX, ECX, EDX, ESI, EDI, MEM };
struct snip {
    const char *name;
    void (*code)(void);
    u32 cls, width, mask, rule, in, out, param;
};
extern struct snip sem_table[], sem_table_end[];
extern u32 sem_defaults[7];
extern void sem_harness(struct sem_state *s, void (*code)(void));

static u32 rng_state = 0x2545f491u;
static u32 rnd(void)
{
    u32 x = rng_state;
    x ^= x << 13; x ^= x >> 17; x ^= x << 5;
    return rng_state = x;
}

/* one case's inputs */
struct in { u32 r[7]; u32 fin; };
#define MAXCASES 1100
static struct in cases[MAXCASES];
static int ncases;
static struct in cur;

static void reset(void) { memcpy(cur.r, sem_defaults, sizeof cur.r); cur.fin = 0; }
static void add(void)
{
    if (ncases == MAXCASES) { fprintf(stderr, "too many cases\n"); exit(1); }
    cases[ncases++] = cur;
}
/* flags for the n-th case: alternately all clear and all status flags set,
 * so "unchanged" flags are seen in both states */
static u32 fl(int n) { return (n & 1) ? F_STATUS : 0; }

static const u32 V32[] = { 0, 1, 0xffffffff, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0x7fffffff, 0x80000000 };
static const u32 V16[] = { 0, 1, 0x7f, 0x80, 0x7fff, 0x8000, 0xffff };
static const u32 V8[] = { 0, 1, 0x7f, 0x80, 0xff };
static u32 wmask(u32 w) { return w >= 32 ? 0xffffffffu : (1u << w) - 1; }

/* the interesting values for a width, with random upper bits below 32 bits
 * (which the instruction must leave alone), then nrand random values */
static int values(u32 w, u32 *out, int nrand)
{
    const u32 *v = w == 8 ? V8 : w == 16 ? V16 : V32;
    int n = w == 8 ? 5 : w == 16 ? 7 : 10, k = 0;
    for (int i = 0; i < n; i++) out[k++] = v[i] | (rnd() & ~wmask(w));
    for (int i = 0; i < nrand; i++) out[k++] = rnd();
    return k;
}

static const u32 COUNTS[] = { 0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 255 };
#define NCOUNTS (int)(sizeof COUNTS / sizeof COUNTS[0])

static void gen_cases(const struct snip *s, const struct sem_state *dry)
{
    u32 v[32];
    int nv;
    ncases = 0;
    switch (s->cls) {
    case C_BIN: case C_BINC: case C_BINM: case C_MUL: {
        int a = s->cls == C_BINM ? MEM : EAX;
        nv = values(s->width, v, 0);
        if (s->cls == C_BINM) {           /* memory forms test the operand, not the arithmetic: fewer pairs */
            v[2] = v[8]; v[3] = v[9]; v[4] = 0xffffffffu; v[5] = rnd();
            nv = 6;
        }
        for (int i = 0; i < nv; i++)
            for (int j = 0; j < nv; j++) {
                reset();
                cur.r[a] = v[i];
                cur.r[EBX] = v[j] | (rnd() & ~wmask(s->width));
                cur.r[EDX] = rnd();
                cur.fin = fl(ncases);
                if (s->cls == C_BINC) { cur.fin = 0; add(); reset(); cur.r[a] = v[i]; cur.r[EBX] = cases[ncases - 1].r[EBX]; cur.fin = F_STATUS; }
                add();
            }
        int extra = s->cls == C_BINM ? 4 : s->width == 32 ? 20 : 10;
        for (int i = 0; i < extra; i++) {
            reset();
            cur.r[a] = rnd(); cur.r[EBX] = rnd(); cur.r[EDX] = rnd();
            cur.fin = fl(ncases) | (s->cls == C_BINC ? (i & 1) : 0);
            add();
        }
        break;
    }
    case C_UN: case C_UNB: case C_UNC: case C_UNM: case C_CONV: case C_SHIFTI: {
        int a = s->cls == C_UNB ? EBX : s->cls == C_UNC ? ECX : s->cls == C_UNM ? MEM : EAX;
        nv = values(s->width, v, 6);
        for (int i = 0; i < nv; i++)
            for (int f = 0; f < 2; f++) {
                reset();
                cur.r[a] = v[i];
                cur.r[EDX] = rnd();
                cur.fin = f ? F_STATUS : 0;
                add();
            }
        break;
    }
    case C_DIV: case C_IDIV: {
        /* dividend = q * d + r with q fitting the width, so no #DE */
        u32 wd = s->width, m = wmask(wd);
        static const i32 DS[] = { 1, 2, 3, 7, 10, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, -1, -2, -7, -0x80, -0x8000 };
        int signd = s->cls == C_IDIV;
        for (unsigned di = 0; di < sizeof DS / sizeof DS[0]; di++) {
            i64 d = DS[di];
            if (!signd && d < 0) d = (u32)d & m;
            if (signd) { d = (i64)(((i64)d << (64 - wd)) >> (64 - wd)); }  /* as a signed wd-bit value */
            else d &= m;
            if (d == 0) continue;
            for (int k = 0; k < 4; k++) {
                i64 qmax = signd ? ((i64)1 << (wd - 1)) - 1 : (i64)m;
                i64 qmin = signd ? -((i64)1 << (wd - 1)) : 0;
                i64 q = k == 0 ? 0 : k == 1 ? qmax : k == 2 ? qmin + (signd ? 0 : 1) : (i64)(rnd() % (u32)(qmax > 0xffff ? 0xffff : qmax + 1));
                if (signd && k == 3 && (rnd() & 1)) q = -q;
                i64 ad = d < 0 ? -d : d;
                i64 r = (i64)(rnd() % (u64)ad);
                i64 x = q * d;
                /* the remainder takes the dividend's sign */
                if (signd && x < 0) r = -r;
                if (signd && x == 0 && (rnd() & 1)) r = -r;
                x += r;
                /* reject if the quotient does not fit (truncating division) */
                i64 qq = signd ? x / d : (i64)((u64)x / (u64)d);
                if (qq > qmax || qq < qmin) continue;
                reset();
                u64 ux = (u64)x;
                if (wd == 8) { cur.r[EAX] = (rnd() & 0xffff0000u) | (u32)(ux & 0xffff); }
                else if (wd == 16) { cur.r[EAX] = (rnd() & 0xffff0000u) | (u32)(ux & 0xffff); cur.r[EDX] = (rnd() & 0xffff0000u) | (u32)((ux >> 16) & 0xffff); }
                else { cur.r[EAX] = (u32)ux; cur.r[EDX] = (u32)(ux >> 32); }
                if (wd == 8) cur.r[EDX] = rnd();
                cur.r[EBX] = ((u32)d & m) | (rnd() & ~m);
                cur.fin = fl(ncases);
                add();
            }
        }
        break;
    }
    case C_SHIFT: case C_SHIFTM: {
        int a = s->cls == C_SHIFTM ? MEM : EAX;
        /* 1, all ones, the sign bit alone, sign and low bit, two random */
        u32 up = ~wmask(s->width), top = 1u << (s->width - 1);
        nv = 0;
        v[nv++] = 1 | (rnd() & up);
        v[nv++] = 0xffffffffu;
        v[nv++] = top | (rnd() & up);
        v[nv++] = top | 1 | (rnd() & up);
        v[nv++] = rnd();
        v[nv++] = rnd();
        if (s->cls == C_SHIFTM) nv = 3;   /* the memory form: fewer values */
        for (int i = 0; i < nv; i++)
            for (int c = 0; c < NCOUNTS; c++) {
                reset();
                cur.r[a] = v[i];
                cur.r[ECX] = COUNTS[c] | (rnd() & 0xffffff00u);   /* only CL counts */
                cur.fin = fl(ncases + i);
                add();
            }
        break;
    }
    case C_SHD: case C_SHDI: case C_SHDM: {
        int a = s->cls == C_SHDM ? MEM : EAX;
        u32 pairs[5][2] = { { 0x12345678, 0x9abcdef0 }, { 0xffffffff, 0 }, { 0, 0xffffffff }, { 0x80000001, 0x7ffffffe }, { 0, 0 } };
        pairs[4][0] = rnd(); pairs[4][1] = rnd();
        for (int i = 0; i < (s->cls == C_SHDM ? 2 : 5); i++) {
            int nc = s->cls == C_SHDI ? 2 : NCOUNTS;
            for (int c = 0; c < nc; c++) {
                u32 count = s->cls == C_SHDI ? s->param : COUNTS[c];
                if ((count & 31) > s->width) continue;    /* undefined result */
                reset();
                cur.r[a] = pairs[i][0];
                cur.r[EBX] = pairs[i][1];
                cur.r[ECX] = count | (rnd() & 0xffffff00u);
                cur.fin = s->cls == C_SHDI ? (c ? F_STATUS : 0) : fl(ncases + i);
                add();
            }
        }
        break;
    }
    case C_BT: case C_BTM: {
        static const i32 OFF_REG[] = { 0, 1, 7, 8, 15, 16, 31, 32, 33, 63, -1, -32, (i32)0x80000000 };
        static const i32 OFF_MEM[] = { -128, -65, -33, -17, -1, 0, 1, 7, 31, 32, 63, 64, 100, 127 };
        const i32 *off = s->cls == C_BT ? OFF_REG : OFF_MEM;
        int noff = s->cls == C_BT ? 13 : 14;
        u32 vals[4] = { 0, 0xffffffff, 0xa5a5a5a5, rnd() };
        for (int i = 0; i < 4; i++)
            for (int k = 0; k < noff; k++) {
                reset();
                cur.r[s->cls == C_BT ? EAX : MEM] = vals[i];
                cur.r[EBX] = (u32)off[k];
                if (s->width == 16 && s->cls == C_BT) cur.r[EBX] = ((u32)off[k] & 0xffff) | (rnd() & 0xffff0000u);
                cur.fin = fl(ncases + i);
                add();
            }
        break;
    }
    case C_BSX: {
        u32 src[12] = { 0, 1, 2, 0x10, 0x8000, 0x10000, 0x80000000, 0xffffffff, 0, 0, 0, 0 };
        for (int i = 8; i < 12; i++) src[i] = rnd() >> (rnd() & 31);
        src[11] = 0xffff0000u;            /* zero in 16 bits */
        for (int i = 0; i < 12; i++)
            for (int f = 0; f < 2; f++) {
                reset();
                cur.r[EAX] = src[i];
                cur.r[EBX] = rnd();
                cur.fin = f ? F_STATUS : 0;
                add();
            }
        break;
    }
    case C_CMPX: case C_CMPXM: {
        int d = s->cls == C_CMPXM ? MEM : EBX;
        nv = values(s->width, v, 4);
        for (int i = 0; i < nv; i++)
            for (int eq = 0; eq < 2; eq++) {
                reset();
                cur.r[EAX] = v[i];
                cur.r[d] = eq ? ((v[i] & wmask(s->width)) | (rnd() & ~wmask(s->width))) : v[(i + 3) % nv] ^ (rnd() & 1);
                cur.r[ECX] = rnd();
                cur.fin = fl(ncases + i);
                add();
            }
        break;
    }
    case C_CX8: {
        u32 hi = 0;
        memcpy(&hi, dry->scratch + 20, 4);   /* the dword at [EBP + 4] */
        for (int i = 0; i < 24; i++) {
            reset();
            cur.r[MEM] = i < 4 ? (u32)-i : rnd();
            int eq = i & 1;
            cur.r[EAX] = eq ? cur.r[MEM] : cur.r[MEM] ^ (1u << (i % 32));
            cur.r[EDX] = eq || (i & 2) ? hi : hi ^ 0x100;
            if (!eq && (i & 2)) cur.r[EAX] = cur.r[MEM] + 1;
            cur.r[EBX] = rnd();
            cur.r[ECX] = rnd();
            cur.fin = (i & 2) ? F_STATUS : 0;
            add();
        }
        break;
    }
    case C_BCD: {
        /* every AL. DAA DAS: two of the four CF/AF combinations per AL, all
         * four over each run of 4 AL values; AAA AAS: AF alternating with
         * the high nibble (so each low nibble meets both), CF random */
        int daa = (s->mask & F_PF) != 0;
        for (int al = 0; al < 256; al++)
            for (int k = 0; k < (daa ? 2 : 1); k++) {
                reset();
                cur.r[EAX] = (rnd() & 0xffffff00u) | (u32)al;
                u32 other = rnd() & (F_PF | F_ZF | F_SF | F_OF);
                int f = (al + 2 * k) & 3;
                cur.fin = daa ? (((f & 1) ? F_CF : 0) | ((f & 2) ? F_AF : 0) | other)
                              : ((((al >> 4) ^ al) & 1 ? F_AF : 0) | (rnd() & F_CF) | other);
                add();
            }
        break;
    }
    case C_AAM: {
        /* AAM/AAD with base 10: every other AL (both parities over the
         * range); other bases: every fourth */
        int step = s->param == 10 ? 2 : 4;
        for (int k = 0; k < 256; k += step) {
            int al = k | ((k >> 3) & 1);
            reset();
            cur.r[EAX] = (rnd() & 0xffffff00u) | (u32)al;
            cur.fin = fl(k / step);
            add();
        }
        break;
    }
    case C_FLAGS:
        for (int f = 0; f < 32; f++) {
            reset();
            cur.r[EAX] = rnd();
            cur.r[EBX] = rnd();
            cur.r[MEM] = rnd();
            cur.fin = ((f & 1) ? F_CF : 0) | ((f & 2) ? F_PF : 0) | ((f & 4) ? F_ZF : 0) | ((f & 8) ? F_SF : 0)
                    | ((f & 16) ? F_OF : 0) | (rnd() & F_AF);
            add();
        }
        break;
    case C_STR: {
        /* counts x directions x two alignments; the search value is taken from
         * the destination buffer so REPNE SCAS finds it, or made absent */
        static const u32 CNT[] = { 0, 1, 3, 9 };
        u32 sz = s->param;
        for (int dir = 0; dir < 2; dir++)
            for (int c = 0; c < 4; c++)
                for (int al = 0; al < 2; al++) {
                    reset();
                    u32 n = CNT[c];
                    u32 start = dir ? 60 - sz - (u32)al * sz : 2 + (u32)al * 3;
                    cur.r[ESI] = start;
                    cur.r[EDI] = dir ? start - 4 : start + 5;
                    cur.r[ECX] = n;
                    u32 pos = dir ? cur.r[EDI] - 2 * sz : cur.r[EDI] + 2 * sz;   /* the third element */
                    u32 val = 0;
                    memcpy(&val, dry->dst + pos, 4);
                    cur.r[EAX] = (al ? val : ~val);
                    cur.fin = (dir ? F_DF : 0) | ((c & 1) ? (F_STATUS & ~F_ZF) : F_ZF);
                    add();
                }
        break;
    }
    default:
        fprintf(stderr, "%s: unknown class %u\n", s->name, s->cls);
        exit(1);
    }
}

/* the flags the SDM defines after this case, and the outputs it leaves
 * undefined (bit i = register i) */
static u32 case_mask(const struct snip *s, const struct in *c, u32 *undef)
{
    u32 count = (s->cls == C_SHIFTI || s->cls == C_SHDI) ? s->param : c->r[ECX] & 0xff;
    u32 masked = count & 31;
    *undef = 0;
    switch (s->rule) {
    case R_SHL: case R_SHR: case R_SAR:
        if (masked == 0) return F_ALL;
        {
            u32 m = F_CF | F_PF | F_ZF | F_SF | F_DF;          /* AF undefined */
            if (masked == 1) m |= F_OF;
            if (s->rule != R_SAR && masked >= s->width) m &= ~F_CF;
            return m;
        }
    case R_ROT: case R_RC:
        if (masked == 0) return F_ALL;
        return masked == 1 ? F_ALL : F_ALL & ~F_OF;         /* only CF and OF change */
    case R_SHD:
        if (masked == 0) return F_ALL;
        return F_CF | F_PF | F_ZF | F_SF | F_DF | (masked == 1 ? F_OF : 0);
    case R_BSX:
        if ((c->r[EAX] & wmask(s->width)) == 0) *undef = 1u << EBX;
        return F_ZF | F_DF;
    default:
        return s->mask;
    }
}

static void print_dd(const char *sep, u32 x) { printf("%s0x%08x", sep, x); }

int main(void)
{
    int nsnip = (int)(sem_table_end - sem_table);
    struct sem_state st;
    char model[256] = "unknown";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f))
            if (!strncmp(line, "model name", 10)) {
                char *p = strchr(line, ':');
                if (p) { snprintf(model, sizeof model, "%s", p + 2); model[strcspn(model, "\n")] = 0; }
                break;
            }
        fclose(f);
    }
    /* a dry run shows the buffers' initial contents */
    memset(&st, 0, sizeof st);
    memcpy(st.r, sem_defaults, sizeof st.r);
    sem_harness(&st, sem_table[0].code);
    struct sem_state dry = st;

    printf("; expected.inc - GENERATED by gen.c from cases.asm; do not edit.\n");
    printf("; Expected results of every case, from running the same instruction bytes\n");
    printf("; natively on: %s\n", model);
    printf("; Per case: the inputs listed in the snippet's input mask, then\n");
    printf("; (flags in) | (flags out & mask) << 16, then the outputs in its output\n");
    printf("; mask, then for rule-based snippets (mask) | (undefined outputs) << 16.\n\n");
    printf("section .rodata\nalign 4\n\nSEM_SNIPPETS equ %d\n\n", nsnip);
    printf("sem_case_dir:\n");
    for (int i = 0; i < nsnip; i++) printf("        dd sem_cases_%d, sem_cases_%d_end\n", i, i);
    long total = 0;
    for (int i = 0; i < nsnip; i++) {
        const struct snip *s = &sem_table[i];
        gen_cases(s, &dry);
        total += ncases;
        printf("\n; %s: %d cases\nsem_cases_%d:\n", s->name, ncases, i);
        for (int k = 0; k < ncases; k++) {
            const struct in *c = &cases[k];
            memset(&st, 0, sizeof st);
            memcpy(st.r, c->r, sizeof st.r);
            st.eflags = c->fin;
            sem_harness(&st, s->code);
            u32 undef = 0, mask = case_mask(s, c, &undef);
            const char *sep = "        dd ";
            for (int r = 0; r < 7; r++)
                if (s->in & (1u << r)) { print_dd(sep, c->r[r]); sep = ","; }
            print_dd(sep, (c->fin & 0xffff) | ((st.eflags & mask) << 16));
            sep = ",";
            for (int r = 0; r < 7; r++)
                if (s->out & (1u << r)) print_dd(sep, st.r[r]);
            if (s->out & OUT_SUM) print_dd(sep, st.sum);
            if (s->rule != R_NONE) print_dd(sep, mask | (undef << 16));
            printf("\n");
        }
        printf("sem_cases_%d_end:\n", i);
    }
    printf("\nSEM_TOTAL_CASES equ %ld\n", total);
    fprintf(stderr, "gen: %d snippets, %ld cases\n", nsnip, total);
    return 0;
}
