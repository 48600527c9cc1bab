/*
 * Reference results for test/cpu/sse-float.test.ts, taken from the SSE/SSE2
 * unit of the machine this runs on. Build and run (any x86-64 Linux with gcc):
 *
 *   gcc -O1 -msse2 -o /tmp/sse-gen test/cpu/sse-ref/gen.c && /tmp/sse-gen > test/cpu/sse-ref/reference.ts
 *
 * Each case: LDMXCSR mx (exception flags clear), XMM0 = a, XMM1 = b, the
 * instruction under test (XMM0 the destination / first source, XMM1 or a
 * 32-bit integer in memory the second source), STMXCSR, then the result
 * register and ZF/PF/CF (COMISS/UCOMISS and the SD forms).
 *
 * Unmasked exceptions are not derived: they are trapped. With any exception
 * unmasked the instruction may raise SIGFPE (#XM); the handler reads the
 * MXCSR the kernel saved at the fault (the flags the faulting instruction
 * set) and jumps back, and the case is recorded as a fault with those flags
 * and no result. A case that does not fault under unmasked settings is
 * recorded like a masked one.
 *
 * Scalar forms get fixed patterns in the upper parts of XMM0 and XMM1 and
 * the generator checks that the upper part of the destination is left as it
 * was, so only the low lane is printed. The inputs come from a fixed
 * xorshift generator, so the output is reproducible on one machine (it was
 * generated on an AMD EPYC; IEEE results are the same on every SSE unit).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

static uint64_t rs = 0x2545f4914f6cdd1dull;
static uint64_t rnd(void) { rs ^= rs << 13; rs ^= rs >> 7; rs ^= rs << 17; return rs; }
static int rint_(int lo, int hi) { return lo + (int)(rnd() % (uint64_t)(hi - lo + 1)); }

typedef struct { uint32_t d[4]; } __attribute__((aligned(16))) x128;

static x128 A, B, R;
static uint32_t MX, MXO, IIN, IOUT, DEF = 0x1f80;
static uint8_t ZF, PF, CF;

/* ---- operands ---- */

/* a significand field of `bits` bits: random, or runs of ones/zeros (rounding edges), or few bits (exact results) */
static uint64_t frac(int bits) {
  uint64_t mask = bits == 64 ? ~0ull : (1ull << bits) - 1, f = rnd() & mask;
  int k = (int)(rnd() % 8);
  if (k == 0) { int n = rint_(0, bits - 1); f = (rnd() & 1) ? (mask << n) & mask : (1ull << n) - 1; if (rnd() & 1) f ^= 1ull << rint_(0, bits - 1); }
  else if (k == 1) f &= mask << (bits - rint_(0, 4));
  return f & mask;
}

/* binary32: exponent center/spread (biased), specials on or off */
static uint32_t f32(int center, int spread, int specials) {
  uint32_t s = (uint32_t)(rnd() & 1) << 31, f = (uint32_t)frac(23);
  int e = center + rint_(-spread, spread), k = (int)(rnd() % 100);
  if (e < 1) e = 1;
  if (e > 254) e = 254;
  if (specials) {
    if (k < 4) return s;
    if (k < 7) return s | 0x7f800000;
    if (k < 9) return s | 0x7fc00000 | (uint32_t)(rnd() & 0x3fffff);
    if (k < 11) return s | 0x7f800000 | (uint32_t)((rnd() & 0x3fffff) | 1);
    if (k < 16) { f >>= rint_(0, 22); return s | (f ? f : 1); }
    if (k < 17) return s | (rnd() & 1 ? 0x00800000 : 0x007fffff);
    if (k < 18) return s | (rnd() & 1 ? 0x7f7fffff : 0x3f800000);
    if (k < 21) e = rnd() & 1 ? rint_(1, 4) : rint_(250, 254);
  }
  return s | (uint32_t)e << 23 | f;
}

typedef struct { uint32_t lo, hi; } d64;
static d64 mk64(uint32_t s, int e, uint64_t f) { d64 v; uint64_t x = (uint64_t)s << 63 | (uint64_t)e << 52 | f; v.lo = (uint32_t)x; v.hi = (uint32_t)(x >> 32); return v; }

static d64 f64(int center, int spread, int specials) {
  uint32_t s = (uint32_t)(rnd() & 1);
  uint64_t f = frac(52);
  int e = center + rint_(-spread, spread), k = (int)(rnd() % 100);
  if (e < 1) e = 1;
  if (e > 2046) e = 2046;
  if (specials) {
    if (k < 4) return mk64(s, 0, 0);
    if (k < 7) return mk64(s, 2047, 0);
    if (k < 9) return mk64(s, 2047, (1ull << 51) | (rnd() & ((1ull << 51) - 1)));
    if (k < 11) return mk64(s, 2047, (rnd() & ((1ull << 51) - 1)) | 1);
    if (k < 16) { f >>= rint_(0, 51); return mk64(s, 0, f ? f : 1); }
    if (k < 17) return rnd() & 1 ? mk64(s, 1, 0) : mk64(s, 0, (1ull << 52) - 1);
    if (k < 18) return rnd() & 1 ? mk64(s, 2046, (1ull << 52) - 1) : mk64(s, 1023, 0);
    if (k < 21) e = rnd() & 1 ? rint_(1, 4) : rint_(2042, 2046);
  }
  return mk64(s, e, f);
}

static uint32_t i32(void) {
  static const uint32_t edge[] = { 0, 1, 0xffffffff, 0x7fffffff, 0x80000000, 0x80000001, 0x01000001, 0xfeffffff, 0x00ffffff, 0x02000003 };
  if (rnd() % 6 == 0) return edge[rnd() % 10];
  uint32_t v = (uint32_t)rnd() >> rint_(0, 31);
  return rnd() & 1 ? (uint32_t)-(int32_t)v : v;
}

/* values for the float->int32 conversions: fractions, halves, the 2^31 boundary */
static uint32_t f32int(void) {
  static const uint32_t edge[] = { 0x4f000000, 0xcf000000, 0x4effffff, 0xcf000001, 0x3f000000, 0xbf000000, 0x3fc00000, 0x40200000, 0xc0200000, 0x3effffff };
  if (rnd() % 5 == 0) return edge[rnd() % 10];
  return f32(127 + 15, 17, 1);
}
static d64 f64int(void) {
  static const uint64_t edge[] = { 0x41e0000000000000ull, 0xc1e0000000000000ull, 0x41dfffffffe00000ull, 0x41dfffffffffffffull,
    0xc1e00000001fffffull, 0xc1e0000000100000ull, 0xc1e0000000200000ull, 0x3fe0000000000000ull, 0x4004000000000000ull, 0xbff8000000000000ull };
  if (rnd() % 5 == 0) { uint64_t x = edge[rnd() % 10]; d64 v = { (uint32_t)x, (uint32_t)(x >> 32) }; return v; }
  return f64(1023 + 15, 17, 1);
}

/* ---- the instructions ---- */

enum { W32 = 1, W64 = 2, W128 = 4 };
typedef struct { const char *name; int wa, wb, wr; int single; } opinfo;

#define OPS(X) \
  X(ADDSS, "addss", 1, 1, 1, 1) X(SUBSS, "subss", 1, 1, 1, 1) X(MULSS, "mulss", 1, 1, 1, 1) X(DIVSS, "divss", 1, 1, 1, 1) \
  X(SQRTSS, "sqrtss", 1, 1, 1, 1) X(MINSS, "minss", 1, 1, 1, 1) X(MAXSS, "maxss", 1, 1, 1, 1) \
  X(CMPSS0, "cmpss0", 1, 1, 1, 1) X(CMPSS1, "cmpss1", 1, 1, 1, 1) X(CMPSS2, "cmpss2", 1, 1, 1, 1) X(CMPSS3, "cmpss3", 1, 1, 1, 1) \
  X(CMPSS4, "cmpss4", 1, 1, 1, 1) X(CMPSS5, "cmpss5", 1, 1, 1, 1) X(CMPSS6, "cmpss6", 1, 1, 1, 1) X(CMPSS7, "cmpss7", 1, 1, 1, 1) \
  X(COMISS, "comiss", 1, 1, 0, 1) X(UCOMISS, "ucomiss", 1, 1, 0, 1) \
  X(CVTSS2SD, "cvtss2sd", 2, 1, 2, 1) X(CVTSS2SI, "cvtss2si", 0, 1, 1, 1) X(CVTTSS2SI, "cvttss2si", 0, 1, 1, 1) X(CVTSI2SS, "cvtsi2ss", 1, 1, 1, 1) \
  X(ADDSD, "addsd", 2, 2, 2, 0) X(SUBSD, "subsd", 2, 2, 2, 0) X(MULSD, "mulsd", 2, 2, 2, 0) X(DIVSD, "divsd", 2, 2, 2, 0) \
  X(SQRTSD, "sqrtsd", 2, 2, 2, 0) X(MINSD, "minsd", 2, 2, 2, 0) X(MAXSD, "maxsd", 2, 2, 2, 0) \
  X(CMPSD0, "cmpsd0", 2, 2, 2, 0) X(CMPSD1, "cmpsd1", 2, 2, 2, 0) X(CMPSD2, "cmpsd2", 2, 2, 2, 0) X(CMPSD3, "cmpsd3", 2, 2, 2, 0) \
  X(CMPSD4, "cmpsd4", 2, 2, 2, 0) X(CMPSD5, "cmpsd5", 2, 2, 2, 0) X(CMPSD6, "cmpsd6", 2, 2, 2, 0) X(CMPSD7, "cmpsd7", 2, 2, 2, 0) \
  X(COMISD, "comisd", 2, 2, 0, 0) X(UCOMISD, "ucomisd", 2, 2, 0, 0) \
  X(CVTSD2SS, "cvtsd2ss", 1, 2, 1, 0) X(CVTSD2SI, "cvtsd2si", 0, 2, 1, 0) X(CVTTSD2SI, "cvttsd2si", 0, 2, 1, 0) X(CVTSI2SD, "cvtsi2sd", 2, 1, 2, 0) \
  X(ADDPS, "addps", 4, 4, 4, 1) X(SUBPS, "subps", 4, 4, 4, 1) X(MULPS, "mulps", 4, 4, 4, 1) X(DIVPS, "divps", 4, 4, 4, 1) \
  X(SQRTPS, "sqrtps", 4, 4, 4, 1) X(MINPS, "minps", 4, 4, 4, 1) X(MAXPS, "maxps", 4, 4, 4, 1) X(CMPPS1, "cmpps1", 4, 4, 4, 1) X(CMPPS4, "cmpps4", 4, 4, 4, 1) \
  X(CVTDQ2PS, "cvtdq2ps", 4, 4, 4, 1) X(CVTPS2DQ, "cvtps2dq", 4, 4, 4, 1) X(CVTTPS2DQ, "cvttps2dq", 4, 4, 4, 1) \
  X(ADDPD, "addpd", 4, 4, 4, 0) X(SUBPD, "subpd", 4, 4, 4, 0) X(MULPD, "mulpd", 4, 4, 4, 0) X(DIVPD, "divpd", 4, 4, 4, 0) \
  X(SQRTPD, "sqrtpd", 4, 4, 4, 0) X(MINPD, "minpd", 4, 4, 4, 0) X(MAXPD, "maxpd", 4, 4, 4, 0) X(CMPPD2, "cmppd2", 4, 4, 4, 0) X(CMPPD7, "cmppd7", 4, 4, 4, 0) \
  X(CVTDQ2PD, "cvtdq2pd", 4, 2, 4, 0) X(CVTPD2DQ, "cvtpd2dq", 4, 4, 4, 0) X(CVTTPD2DQ, "cvttpd2dq", 4, 4, 4, 0) \
  X(CVTPS2PD, "cvtps2pd", 4, 2, 4, 1) X(CVTPD2PS, "cvtpd2ps", 4, 4, 4, 0)

#define ENUM(id, name, wa, wb, wr, s) id,
enum { OPS(ENUM) NOPS };
#define INFO(id, name, wa, wb, wr, s) { name, wa, wb, wr, s },
static const opinfo info[] = { OPS(INFO) };

#define PRE "ldmxcsr %[mx]\n movdqu %[a], %%xmm0\n movdqu %[b], %%xmm1\n"
#define POST "\n stmxcsr %[mo]\n setz %[z]\n setp %[p]\n setc %[c]\n movdqu %%xmm0, %[r]\n ldmxcsr %[def]\n"
#define X(ins) __asm__ volatile(PRE ins POST \
  : [mo] "=m"(MXO), [r] "=m"(R), [z] "=m"(ZF), [p] "=m"(PF), [c] "=m"(CF), [io] "=m"(IOUT) \
  : [mx] "m"(MX), [a] "m"(A), [b] "m"(B), [def] "m"(DEF), [ii] "m"(IIN) \
  : "xmm0", "xmm1", "eax", "cc", "memory")

static void exec(int op) {
  switch (op) {
    case ADDSS: X("addss %%xmm1, %%xmm0"); break;
    case SUBSS: X("subss %%xmm1, %%xmm0"); break;
    case MULSS: X("mulss %%xmm1, %%xmm0"); break;
    case DIVSS: X("divss %%xmm1, %%xmm0"); break;
    case SQRTSS: X("sqrtss %%xmm1, %%xmm0"); break;
    case MINSS: X("minss %%xmm1, %%xmm0"); break;
    case MAXSS: X("maxss %%xmm1, %%xmm0"); break;
    case CMPSS0: X("cmpss $0, %%xmm1, %%xmm0"); break;
    case CMPSS1: X("cmpss $1, %%xmm1, %%xmm0"); break;
    case CMPSS2: X("cmpss $2, %%xmm1, %%xmm0"); break;
    case CMPSS3: X("cmpss $3, %%xmm1, %%xmm0"); break;
    case CMPSS4: X("cmpss $4, %%xmm1, %%xmm0"); break;
    case CMPSS5: X("cmpss $5, %%xmm1, %%xmm0"); break;
    case CMPSS6: X("cmpss $6, %%xmm1, %%xmm0"); break;
    case CMPSS7: X("cmpss $7, %%xmm1, %%xmm0"); break;
    case COMISS: X("comiss %%xmm1, %%xmm0"); break;
    case UCOMISS: X("ucomiss %%xmm1, %%xmm0"); break;
    case CVTSS2SD: X("cvtss2sd %%xmm1, %%xmm0"); break;
    case CVTSS2SI: X("cvtss2si %%xmm1, %%eax\n movl %%eax, %[io]"); break;
    case CVTTSS2SI: X("cvttss2si %%xmm1, %%eax\n movl %%eax, %[io]"); break;
    case CVTSI2SS: X("cvtsi2ssl %[ii], %%xmm0"); break;
    case ADDSD: X("addsd %%xmm1, %%xmm0"); break;
    case SUBSD: X("subsd %%xmm1, %%xmm0"); break;
    case MULSD: X("mulsd %%xmm1, %%xmm0"); break;
    case DIVSD: X("divsd %%xmm1, %%xmm0"); break;
    case SQRTSD: X("sqrtsd %%xmm1, %%xmm0"); break;
    case MINSD: X("minsd %%xmm1, %%xmm0"); break;
    case MAXSD: X("maxsd %%xmm1, %%xmm0"); break;
    case CMPSD0: X("cmpsd $0, %%xmm1, %%xmm0"); break;
    case CMPSD1: X("cmpsd $1, %%xmm1, %%xmm0"); break;
    case CMPSD2: X("cmpsd $2, %%xmm1, %%xmm0"); break;
    case CMPSD3: X("cmpsd $3, %%xmm1, %%xmm0"); break;
    case CMPSD4: X("cmpsd $4, %%xmm1, %%xmm0"); break;
    case CMPSD5: X("cmpsd $5, %%xmm1, %%xmm0"); break;
    case CMPSD6: X("cmpsd $6, %%xmm1, %%xmm0"); break;
    case CMPSD7: X("cmpsd $7, %%xmm1, %%xmm0"); break;
    case COMISD: X("comisd %%xmm1, %%xmm0"); break;
    case UCOMISD: X("ucomisd %%xmm1, %%xmm0"); break;
    case CVTSD2SS: X("cvtsd2ss %%xmm1, %%xmm0"); break;
    case CVTSD2SI: X("cvtsd2si %%xmm1, %%eax\n movl %%eax, %[io]"); break;
    case CVTTSD2SI: X("cvttsd2si %%xmm1, %%eax\n movl %%eax, %[io]"); break;
    case CVTSI2SD: X("cvtsi2sdl %[ii], %%xmm0"); break;
    case ADDPS: X("addps %%xmm1, %%xmm0"); break;
    case SUBPS: X("subps %%xmm1, %%xmm0"); break;
    case MULPS: X("mulps %%xmm1, %%xmm0"); break;
    case DIVPS: X("divps %%xmm1, %%xmm0"); break;
    case SQRTPS: X("sqrtps %%xmm1, %%xmm0"); break;
    case MINPS: X("minps %%xmm1, %%xmm0"); break;
    case MAXPS: X("maxps %%xmm1, %%xmm0"); break;
    case CMPPS1: X("cmpps $1, %%xmm1, %%xmm0"); break;
    case CMPPS4: X("cmpps $4, %%xmm1, %%xmm0"); break;
    case CVTDQ2PS: X("cvtdq2ps %%xmm1, %%xmm0"); break;
    case CVTPS2DQ: X("cvtps2dq %%xmm1, %%xmm0"); break;
    case CVTTPS2DQ: X("cvttps2dq %%xmm1, %%xmm0"); break;
    case ADDPD: X("addpd %%xmm1, %%xmm0"); break;
    case SUBPD: X("subpd %%xmm1, %%xmm0"); break;
    case MULPD: X("mulpd %%xmm1, %%xmm0"); break;
    case DIVPD: X("divpd %%xmm1, %%xmm0"); break;
    case SQRTPD: X("sqrtpd %%xmm1, %%xmm0"); break;
    case MINPD: X("minpd %%xmm1, %%xmm0"); break;
    case MAXPD: X("maxpd %%xmm1, %%xmm0"); break;
    case CMPPD2: X("cmppd $2, %%xmm1, %%xmm0"); break;
    case CMPPD7: X("cmppd $7, %%xmm1, %%xmm0"); break;
    case CVTDQ2PD: X("cvtdq2pd %%xmm1, %%xmm0"); break;
    case CVTPD2DQ: X("cvtpd2dq %%xmm1, %%xmm0"); break;
    case CVTTPD2DQ: X("cvttpd2dq %%xmm1, %%xmm0"); break;
    case CVTPS2PD: X("cvtps2pd %%xmm1, %%xmm0"); break;
    case CVTPD2PS: X("cvtpd2ps %%xmm1, %%xmm0"); break;
  }
}

/* ---- running a case, with #XM trapped ---- */

static sigjmp_buf jb;
static volatile uint32_t trapMx;
static void onFpe(int sig, siginfo_t *si, void *ctx) {
  (void)sig; (void)si;
  trapMx = ((ucontext_t *)ctx)->uc_mcontext.fpregs->mxcsr;
  siglongjmp(jb, 1);
}

static void hexw(const uint32_t *d, int words) { for (int i = words - 1; i >= 0; i--) printf("%08x", d[i]); }
static int words(int w) { return w == 4 ? 4 : w; }

static int cases;
static void run(int op, uint32_t mx) {
  const opinfo *o = &info[op];
  x128 a0 = A;
  volatile int fault = 0;
  uint32_t flags;
  MX = mx & ~0x3fu;
  IOUT = 0xaaaaaaaa;
  if (sigsetjmp(jb, 1)) {
    fault = 1;
    flags = trapMx & 0x3f;
  } else {
    exec(op);
    flags = MXO & 0x3f;
  }
  /* scalar forms keep the rest of the destination */
  if (!fault && o->wr && o->wr < 4 && memcmp(&R.d[o->wr], &a0.d[o->wr], 4 * (4 - o->wr)) != 0 && op != CVTSS2SI && op != CVTTSS2SI &&
      op != CVTSD2SI && op != CVTTSD2SI) {
    fprintf(stderr, "%s: upper part of the destination changed\n", o->name);
    exit(1);
  }
  printf("  '%s %04x ", o->name, MX);
  if (o->wa) hexw(A.d, words(o->wa)); else printf("-");
  printf(" ");
  if (op == CVTSI2SS || op == CVTSI2SD) printf("%08x", IIN); else hexw(B.d, words(o->wb));
  printf(" ");
  if (fault) printf("-");
  else if (op == CVTSS2SI || op == CVTTSS2SI || op == CVTSD2SI || op == CVTTSD2SI) printf("%08x", IOUT);
  else if (o->wr) hexw(R.d, words(o->wr));
  else printf("-");
  printf(" %02x %d %x',\n", flags, fault, (o->wr || fault) ? 0 : (ZF << 2 | PF << 1 | CF));
  cases++;
}

/* MXCSR: any rounding control, FTZ and DAZ now and then, some exceptions unmasked now and then */
static uint32_t randomMx(int unmaskOneIn) {
  uint32_t mx = 0x1f80 | (uint32_t)(rnd() & 3) << 13;
  if (rnd() % 3 == 0) mx |= 0x8000;
  if (rnd() % 3 == 0) mx |= 0x40;
  if (unmaskOneIn && rnd() % unmaskOneIn == 0) mx &= ~((uint32_t)(rnd() & 0x3f) << 7);
  return mx;
}

static int isBinary(int op) {
  switch (op) {
    case ADDSS: case SUBSS: case MULSS: case DIVSS: case ADDSD: case SUBSD: case MULSD: case DIVSD:
    case ADDPS: case SUBPS: case MULPS: case DIVPS: case ADDPD: case SUBPD: case MULPD: case DIVPD: return 1;
  }
  return 0;
}
static int kindOf(int op) { /* 0 add/sub, 1 mul, 2 div, 3 sqrt, 4 compare-like, 5 conversions */
  switch (op) {
    case ADDSS: case SUBSS: case ADDSD: case SUBSD: case ADDPS: case SUBPS: case ADDPD: case SUBPD: return 0;
    case MULSS: case MULSD: case MULPS: case MULPD: return 1;
    case DIVSS: case DIVSD: case DIVPS: case DIVPD: return 2;
    case SQRTSS: case SQRTSD: case SQRTPS: case SQRTPD: return 3;
    case CVTSS2SD: case CVTSS2SI: case CVTTSS2SI: case CVTSI2SS: case CVTSD2SS: case CVTSD2SI: case CVTTSD2SI: case CVTSI2SD:
    case CVTDQ2PS: case CVTPS2DQ: case CVTTPS2DQ: case CVTDQ2PD: case CVTPD2DQ: case CVTTPD2DQ: case CVTPS2PD: case CVTPD2PS: return 5;
  }
  return 4;
}

/* one binary32 lane pair (a, b) shaped for the operation; `edge` aims results at the range limits */
static void pair32(int op, int i, uint32_t *a, uint32_t *b) {
  int k = kindOf(op);
  *a = f32(127, 40, 1); *b = f32(127, 40, 1);
  uint32_t ea = (*a >> 23) & 0xff, eb;
  int finite = ea != 0 && ea != 255 && ((*b >> 23) & 0xff) != 0 && ((*b >> 23) & 0xff) != 255;
  switch (k) {
    case 0:
      if (i % 2 == 0 && finite) { eb = ea + rint_(-3, 3) + (i % 6 == 0 ? rint_(-30, 30) : 0); if (eb >= 1 && eb <= 254) *b = (*b & 0x807fffff) | eb << 23; }
      if (i % 7 == 1) { *a = (*a & 0x807fffff) | (uint32_t)rint_(1, 3) << 23; *b = (*b & 0x807fffff) | (uint32_t)rint_(0, 2) << 23; }
      if (i % 11 == 2) { *a = (*a & 0x807fffff) | 254u << 23; *b = (*b & 0x807fffff) | (uint32_t)rint_(250, 254) << 23; }
      break;
    case 1: case 2:
      if (i % 4 == 0 && finite) { /* results near the smallest normal */
        int ua = rint_(-60, 60), target = -126 + rint_(-25, 2);
        int ub = k == 1 ? target - ua : ua - target;
        if (ub >= -126 && ub <= 127) { *a = (*a & 0x807fffff) | (uint32_t)(ua + 127) << 23; *b = (*b & 0x807fffff) | (uint32_t)(ub + 127) << 23; }
      }
      if (i % 4 == 1 && finite) { /* results near the largest finite */
        int ua = rint_(60, 127), target = 127 + rint_(-1, 1);
        int ub = k == 1 ? target - ua : ua - target;
        if (ub >= -126 && ub <= 127) { *a = (*a & 0x807fffff) | (uint32_t)(ua + 127) << 23; *b = (*b & 0x807fffff) | (uint32_t)(ub + 127) << 23; }
      }
      if (i % 9 == 2) *b = (*b & 0x80000000) | 0x3f800000 | (uint32_t)(rnd() & 1) << 23; /* exact: x * 1, x * 2 */
      break;
    case 3:
      if (i % 3) *b &= 0x7fffffff;
      break;
    case 4:
      if (i % 3 == 0) *b = *a;
      else if (i % 6 == 1) *b = *a ^ 0x80000000;
      else if (i % 6 == 2) *b = *a + (rnd() & 1 ? 1 : -1);
      break;
  }
}

static void pair64(int op, int i, d64 *a, d64 *b) {
  int k = kindOf(op);
  *a = f64(1023, 300, 1); *b = f64(1023, 300, 1);
  int ea = (a->hi >> 20) & 0x7ff, eb0 = (b->hi >> 20) & 0x7ff, eb;
  int finite = ea != 0 && ea != 2047 && eb0 != 0 && eb0 != 2047;
#define SETE(v, e) ((v)->hi = ((v)->hi & 0x800fffff) | (uint32_t)(e) << 20)
  switch (k) {
    case 0:
      if (i % 2 == 0 && finite) { eb = ea + rint_(-3, 3) + (i % 6 == 0 ? rint_(-60, 60) : 0); if (eb >= 1 && eb <= 2046) SETE(b, eb); }
      if (i % 7 == 1) { SETE(a, rint_(1, 3)); SETE(b, rint_(0, 2)); }
      if (i % 11 == 2) { SETE(a, 2046); SETE(b, rint_(2042, 2046)); }
      break;
    case 1: case 2:
      if (i % 4 == 0 && finite) {
        int ua = rint_(-500, 500), target = -1022 + rint_(-54, 2);
        int ub = k == 1 ? target - ua : ua - target;
        if (ub >= -1022 && ub <= 1023) { SETE(a, ua + 1023); SETE(b, ub + 1023); }
      }
      if (i % 4 == 1 && finite) {
        int ua = rint_(500, 1023), target = 1023 + rint_(-1, 1);
        int ub = k == 1 ? target - ua : ua - target;
        if (ub >= -1022 && ub <= 1023) { SETE(a, ua + 1023); SETE(b, ub + 1023); }
      }
      if (i % 9 == 2) { b->hi = (b->hi & 0x80000000) | 0x3ff00000 | (uint32_t)(rnd() & 1) << 20; b->lo = 0; }
      break;
    case 3:
      if (i % 3) b->hi &= 0x7fffffff;
      break;
    case 4:
      if (i % 3 == 0) *b = *a;
      else if (i % 6 == 1) { *b = *a; b->hi ^= 0x80000000; }
      else if (i % 6 == 2) { *b = *a; b->lo += rnd() & 1 ? 1 : -1; }
      break;
  }
}

/* binary64 values around the binary32 range (CVTSD2SS, CVTPD2PS) */
static d64 f64near32(int i) {
  if (i % 5 == 0) return f64(1023, 300, 1);
  if (i % 5 == 1) return f64(1023 - 126 - 12, 13, 0);
  if (i % 5 == 2) return f64(1023 + 127, 1, 0);
  d64 v = f64(1023, 30, 1);
  if (i % 2) { v.lo = (v.lo & ~0x3fffffffu) | (rnd() & 1 ? 0x10000000 : 0); } /* halfway and near-halfway below bit 29 */
  return v;
}

static void fill(int op, int i) {
  const opinfo *o = &info[op];
  int lanes = o->wb == 4 ? (o->single ? 4 : 2) : 1;
  memset(&A, 0, sizeof A); memset(&B, 0, sizeof B);
  if (o->wa < 4) { A.d[1] = 0x5a5a5a5a; A.d[2] = 0x3c3c3c3c; A.d[3] = 0xc3c3c3c3; B.d[1] = 0x11111111; B.d[2] = 0x22222222; B.d[3] = 0x33333333; }
  if (o->wa == 1 && o->wr == 2) A.d[1] = 0; /* CVTSS2SD writes 64 bits */
  for (int l = 0; l < lanes; l++) {
    int j = i * 4 + l;
    switch (op) {
      case CVTSS2SD: case CVTPS2PD: B.d[0] = f32(127, 127, 1); B.d[1] = f32(127, 127, 1); break;
      case CVTSS2SI: case CVTTSS2SI: B.d[0] = f32int(); break;
      case CVTPS2DQ: case CVTTPS2DQ: B.d[l] = f32int(); break;
      case CVTSD2SI: case CVTTSD2SI: { d64 v = f64int(); B.d[0] = v.lo; B.d[1] = v.hi; break; }
      case CVTPD2DQ: case CVTTPD2DQ: { d64 v = f64int(); B.d[2 * l] = v.lo; B.d[2 * l + 1] = v.hi; break; }
      case CVTSI2SS: case CVTSI2SD: IIN = i32(); if (op == CVTSI2SD) A.d[1] = 0; break;
      case CVTDQ2PS: B.d[l] = i32(); break;
      case CVTDQ2PD: B.d[0] = i32(); B.d[1] = i32(); break;
      case CVTSD2SS: { d64 v = f64near32(i); B.d[0] = v.lo; B.d[1] = v.hi; break; }
      case CVTPD2PS: { d64 v = f64near32(j); B.d[2 * l] = v.lo; B.d[2 * l + 1] = v.hi; break; }
      default:
        if (o->single) { uint32_t a, b; pair32(op, j, &a, &b); A.d[l] = a; B.d[l] = b; }
        else { d64 a, b; pair64(op, j, &a, &b); A.d[2 * l] = a.lo; A.d[2 * l + 1] = a.hi; B.d[2 * l] = b.lo; B.d[2 * l + 1] = b.hi; }
    }
  }
  if (op == CVTSD2SS) A.d[1] = 0x5a5a5a5a;
}

int main(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = onFpe;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigaction(SIGFPE, &sa, 0);
  printf("// Generated by test/cpu/sse-ref/gen.c on a real SSE unit: do not edit.\n");
  printf("// op mxcsr a b -> result flags fault eflags(ZF<<2 | PF<<1 | CF); hex, most significant dword first\n");
  printf("export const SSE_CASES: readonly string[] = [\n");
  for (int op = 0; op < NOPS; op++) {
    const opinfo *o = &info[op];
    int packed = o->wb == 4 || op == CVTDQ2PD || op == CVTPS2PD;
    int n = packed ? 44 : isBinary(op) ? 110 : kindOf(op) == 3 ? 70 : (op >= CMPSS0 && op <= CMPSS7) || (op >= CMPSD0 && op <= CMPSD7) ? 26 : 56;
    for (int i = 0; i < n; i++) {
      fill(op, i);
      run(op, randomMx(packed ? 3 : 5));
    }
  }
  /* the underflow boundary: every rounding mode with FTZ off and on, UE masked and unmasked */
  static const int edgeOps[] = { MULSS, DIVSS, ADDSS, MULSD, DIVSD, SUBSD, CVTSD2SS };
  for (int k = 0; k < 7; k++) {
    int op = edgeOps[k];
    for (int i = 0; i < 64; i++) {
      fill(op, i * 4 + (op == CVTSD2SS ? 1 : 0)); /* i * 4: the near-smallest-normal shapes */
      uint32_t mx = 0x1f80 | (uint32_t)(i & 3) << 13 | (i & 4 ? 0x8000 : 0) | (i & 8 ? 0 : 0x40);
      if (i & 16) mx &= ~0x800u; /* UE unmasked */
      if ((i & 48) == 32) mx &= ~0x1000u; /* PE unmasked */
      run(op, mx);
    }
  }
  /* results just below the smallest normal that do or do not round up to it: tininess after rounding, FTZ */
  for (int i = 0; i < 16; i++) {
    uint32_t mx = 0x1f80 | (uint32_t)(i & 3) << 13 | (i & 4 ? 0x8000 : 0);
    if (i & 8) mx &= ~0x800u;
    for (int j = 1; j <= 2; j++)
      for (int k = 1; k <= 4; k++)
        for (int s = 0; s < 2; s++) {
          memset(&A, 0, sizeof A); memset(&B, 0, sizeof B);
          A.d[1] = 0x5a5a5a5a; A.d[2] = 0x3c3c3c3c; A.d[3] = 0xc3c3c3c3; B.d[1] = 0x11111111; B.d[2] = 0x22222222; B.d[3] = 0x33333333;
          A.d[0] = (uint32_t)s << 31 | (0x3f800000 - (uint32_t)k); B.d[0] = 0x00800000 + (uint32_t)j; /* (1 - k 2^-24)(1 + j 2^-23) 2^-126 */
          run(MULSS, mx);
          uint64_t x = (uint64_t)s << 63 | (0x3ff0000000000000ull - (uint64_t)k), y = 0x0010000000000000ull + (uint64_t)j;
          A.d[0] = (uint32_t)x; A.d[1] = (uint32_t)(x >> 32); B.d[0] = (uint32_t)y; B.d[1] = (uint32_t)(y >> 32);
          run(MULSD, mx);
        }
    for (int k = 24; k <= 28; k++)
      for (int s = 0; s < 2; s++) {
        uint64_t x = (uint64_t)s << 63 | (uint64_t)(1023 - 127) << 52 | (((1ull << 52) - 1) & ~((1ull << (52 - k + 1)) - 1)); /* (1 - 2^-k) 2^-126 */
        memset(&B, 0, sizeof B); B.d[2] = 0x22222222; B.d[3] = 0x33333333;
        A.d[0] = 0; A.d[1] = 0x5a5a5a5a;
        B.d[0] = (uint32_t)x; B.d[1] = (uint32_t)(x >> 32);
        run(CVTSD2SS, mx);
      }
  }
  /* exact and inexact overflow, OE masked and unmasked */
  for (int i = 0; i < 16; i++) {
    uint32_t mx = 0x1f80 | (uint32_t)(i & 3) << 13;
    if (i & 4) mx &= ~0x400u;
    if (i & 8) mx &= ~0x1000u;
    memset(&A, 0, sizeof A); memset(&B, 0, sizeof B);
    A.d[1] = 0x5a5a5a5a; A.d[2] = 0x3c3c3c3c; A.d[3] = 0xc3c3c3c3; B.d[1] = 0x11111111; B.d[2] = 0x22222222; B.d[3] = 0x33333333;
    A.d[0] = 0x7f000000; B.d[0] = 0x40000000; run(MULSS, mx);
    A.d[0] = 0x7f7fffff; B.d[0] = 0x3fc00000; run(MULSS, mx);
    A.d[0] = 0; A.d[1] = 0x7fe00000; B.d[0] = 0; B.d[1] = 0xc0000000; run(MULSD, mx);
    A.d[0] = 0xffffffff; A.d[1] = 0x7fefffff; B.d[0] = 0; B.d[1] = 0x3ff80000; run(MULSD, mx);
  }
  /* every pair of special operands: signed zeros, denormals, one, infinity, QNaN, SNaN; masked, with DAZ and FTZ,
     and with IE and DE unmasked (pre-computation faults) */
  static const uint32_t sp32[] = { 0x00000000, 0x80000000, 0x00000001, 0x807fffff, 0x3f800000, 0xff800000, 0x7fc12345, 0xff812345 };
  static const uint64_t sp64[] = { 0, 0x8000000000000000ull, 1, 0x800fffffffffffffull, 0x3ff0000000000000ull, 0xfff0000000000000ull,
                                   0x7ff8000012345678ull, 0xfff0000012345678ull };
  static const int spOps[] = { ADDSS, SUBSS, MULSS, DIVSS, SQRTSS, MINSS, MAXSS, CMPSS0, CMPSS1, COMISS, UCOMISS, CVTSS2SD, CVTSS2SI,
                               ADDSD, MULSD, DIVSD, SQRTSD, MINSD, MAXSD, CMPSD2, CMPSD4, COMISD, UCOMISD, CVTSD2SS, CVTTSD2SI };
  static const uint32_t spMx[] = { 0x1f80, 0xdfc0, 0x1e00 | 0x4000 };
  for (int k = 0; k < (int)(sizeof spOps / sizeof spOps[0]); k++) {
    int op = spOps[k];
    const opinfo *o = &info[op];
    int unary = op == SQRTSS || op == SQRTSD || op == CVTSS2SD || op == CVTSS2SI || op == CVTSD2SS || op == CVTTSD2SI;
    for (int m = 0; m < 3; m++)
      for (int x = 0; x < (unary ? 1 : 8); x++)
        for (int y = 0; y < 8; y++) {
          memset(&A, 0, sizeof A); memset(&B, 0, sizeof B);
          A.d[1] = 0x5a5a5a5a; A.d[2] = 0x3c3c3c3c; A.d[3] = 0xc3c3c3c3; B.d[1] = 0x11111111; B.d[2] = 0x22222222; B.d[3] = 0x33333333;
          if (o->single) { A.d[0] = sp32[x]; B.d[0] = sp32[y]; }
          else { A.d[0] = (uint32_t)sp64[x]; A.d[1] = (uint32_t)(sp64[x] >> 32); B.d[0] = (uint32_t)sp64[y]; B.d[1] = (uint32_t)(sp64[y] >> 32); }
          if (op == CVTSS2SD) A.d[1] = 0;
          if (op == CVTSD2SS) A.d[1] = 0x5a5a5a5a;
          run(op, spMx[m]);
        }
  }
  printf("];\n");
  fprintf(stderr, "%d cases\n", cases);
  return 0;
}
