/*
 * Reference results for test/cpu/fpu-ref.test.ts, taken from the x87 of the
 * machine this runs on. Build and run (any x86-64 Linux with gcc; the x87
 * works the same in 64-bit mode, so -m32 is not needed):
 *
 *   gcc -O1 -o /tmp/fpu-gen test/cpu/fpu-ref/gen.c && /tmp/fpu-gen > test/cpu/fpu-ref/reference.ts
 *
 * Each case: FNINIT, FLDCW cw, FLD m80 b, FLD m80 a (so ST0 = a, ST1 = b),
 * the instruction under test, then FNSAVE (non-waiting, so unmasked
 * exceptions are captured without a trap). Recorded: status word, tag
 * word, ST0, ST1 from the FNSAVE image, the 10 bytes of the memory operand
 * (pre-filled with AA) for stores, and the arithmetic EFLAGS for FCOMI.
 * The inputs come from a fixed xorshift generator, so the output is
 * reproducible on one machine (it was generated on an AMD EPYC; basic
 * arithmetic is IEEE-exact on every x87, transcendentals may differ in the
 * last bits between vendors, which the test tolerates).
 */
#include <stdio.h>
#include <stdint.h>
#include <string.h>

static uint64_t rs = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) { rs ^= rs << 13; rs ^= rs >> 7; rs ^= rs << 17; return rs; }
static int rint_(int lo, int hi) { return lo + (int)(rnd() % (uint64_t)(hi - lo + 1)); }

typedef struct { uint16_t se; uint64_t sig; } x80;

/* a random operand; `expSpread` is the spread of normal exponents around `center` */
static x80 operand(int center, int spread, int specials) {
  x80 v; uint64_t s = rnd(); int k = (int)(rnd() % 100);
  int sign = (int)(rnd() & 1) << 15;
  uint64_t sig = rnd() | 0x8000000000000000ull;
  if ((rnd() % 5) == 0) { /* significands with long runs of ones or zeros: rounding edge cases */
    int n = rint_(1, 63);
    sig = (rnd() & 1) ? (0xffffffffffffffffull << n) : (0x8000000000000000ull | ((1ull << n) - 1));
    if (rnd() & 1) sig ^= 1ull << rint_(0, 10);
    sig |= 0x8000000000000000ull;
  }
  int e = center + rint_(-spread, spread);
  if (e < 1) e = 1;
  if (e > 0x7ffe) e = 0x7ffe;
  v.se = sign | e; v.sig = sig;
  if (!specials) return v;
  if (k < 4) { v.se = sign; v.sig = 0; }                                   /* zero */
  else if (k < 7) { v.se = sign | 0x7fff; v.sig = 0x8000000000000000ull; } /* infinity */
  else if (k < 9) { v.se = sign | 0x7fff; v.sig = 0xc000000000000000ull | (s >> 2); } /* QNaN */
  else if (k < 11) { v.se = sign | 0x7fff; v.sig = 0x8000000000000000ull | ((s >> 2) | 1); } /* SNaN */
  else if (k < 14) { v.se = sign; v.sig = s >> rint_(1, 40); }              /* denormal */
  else if (k < 15) { v.se = sign; v.sig = s | 0x8000000000000000ull; }      /* pseudo-denormal */
  else if (k < 16) { v.se = sign | rint_(1, 0x7ffe); v.sig = s >> 1; }       /* unnormal */
  else if (k < 20) { v.se = sign | (rnd() & 1 ? rint_(0x7ff0, 0x7ffe) : rint_(1, 16)); } /* range edges */
  return v;
}

static void put(unsigned char *p, x80 v) { memcpy(p, &v.sig, 8); memcpy(p + 8, &v.se, 2); }

enum { FADD, FSUB, FSUBR, FMUL, FDIV, FDIVR, FSQRT, FPREM, FPREM1, FRNDINT, FSCALE, FXTRACT, FCOM, FUCOM, FCOMI, FUCOMI,
       FSTM32, FSTM64, FISTM16, FISTM32, FISTM64, FBSTP, FXAM, FSIN, FCOS, FPTAN, FSINCOS, FPATAN, F2XM1, FYL2X, FYL2XP1, NOPS };
static const char *names[] = { "fadd", "fsub", "fsubr", "fmul", "fdiv", "fdivr", "fsqrt", "fprem", "fprem1", "frndint", "fscale", "fxtract",
  "fcom", "fucom", "fcomi", "fucomi", "fst32", "fst64", "fist16", "fist32", "fist64", "fbstp", "fxam", "fsin", "fcos", "fptan", "fsincos",
  "fpatan", "f2xm1", "fyl2x", "fyl2xp1" };

#define RUN(ins) __asm__ volatile("fninit\n fldcw %[cw]\n fldt %[b]\n fldt %[a]\n" ins "\n fnsave %[sv]\n" \
  : [sv] "=m"(sv), [m] "+m"(mem) : [cw] "m"(cw), [a] "m"(ia), [b] "m"(ib) : "memory")

static void hex(const unsigned char *p, int n) { for (int i = n - 1; i >= 0; i--) printf("%02x", p[i]); }

static void run(int op, uint16_t cw, x80 a, x80 b) {
  unsigned char ia[10], ib[10], sv[108], mem[16];
  uint64_t fl = 0;
  put(ia, a); put(ib, b); memset(mem, 0xaa, sizeof mem);
  switch (op) {
    case FADD: RUN(".byte 0xd8, 0xc1"); break;
    case FSUB: RUN(".byte 0xd8, 0xe1"); break;
    case FSUBR: RUN(".byte 0xd8, 0xe9"); break;
    case FMUL: RUN(".byte 0xd8, 0xc9"); break;
    case FDIV: RUN(".byte 0xd8, 0xf1"); break;
    case FDIVR: RUN(".byte 0xd8, 0xf9"); break;
    case FSQRT: RUN(".byte 0xd9, 0xfa"); break;
    case FPREM: RUN(".byte 0xd9, 0xf8"); break;
    case FPREM1: RUN(".byte 0xd9, 0xf5"); break;
    case FRNDINT: RUN(".byte 0xd9, 0xfc"); break;
    case FSCALE: RUN(".byte 0xd9, 0xfd"); break;
    case FXTRACT: RUN(".byte 0xd9, 0xf4"); break;
    case FCOM: RUN(".byte 0xd8, 0xd1"); break;
    case FUCOM: RUN(".byte 0xdd, 0xe1"); break;
    case FCOMI: __asm__ volatile("fninit\n fldcw %[cw]\n fldt %[b]\n fldt %[a]\n .byte 0xdb, 0xf1\n pushfq\n pop %[fl]\n fnsave %[sv]\n"
      : [sv] "=m"(sv), [fl] "=r"(fl) : [cw] "m"(cw), [a] "m"(ia), [b] "m"(ib) : "memory", "cc"); break;
    case FUCOMI: __asm__ volatile("fninit\n fldcw %[cw]\n fldt %[b]\n fldt %[a]\n .byte 0xdb, 0xe9\n pushfq\n pop %[fl]\n fnsave %[sv]\n"
      : [sv] "=m"(sv), [fl] "=r"(fl) : [cw] "m"(cw), [a] "m"(ia), [b] "m"(ib) : "memory", "cc"); break;
    case FSTM32: RUN("fstps %[m]"); break;
    case FSTM64: RUN("fstpl %[m]"); break;
    case FISTM16: RUN("fistps %[m]"); break;
    case FISTM32: RUN("fistpl %[m]"); break;
    case FISTM64: RUN("fistpll %[m]"); break;
    case FBSTP: RUN("fbstp %[m]"); break;
    case FXAM: RUN(".byte 0xd9, 0xe5"); break;
    case FSIN: RUN(".byte 0xd9, 0xfe"); break;
    case FCOS: RUN(".byte 0xd9, 0xff"); break;
    case FPTAN: RUN(".byte 0xd9, 0xf2"); break;
    case FSINCOS: RUN(".byte 0xd9, 0xfb"); break;
    case FPATAN: RUN(".byte 0xd9, 0xf3"); break;
    case F2XM1: RUN(".byte 0xd9, 0xf0"); break;
    case FYL2X: RUN(".byte 0xd9, 0xf1"); break;
    case FYL2XP1: RUN(".byte 0xd9, 0xf9"); break;
  }
  uint16_t sw, tw; memcpy(&sw, sv + 4, 2); memcpy(&tw, sv + 8, 2);
  printf("  '%s %04x ", names[op], cw); hex(ia, 10); printf(" "); hex(ib, 10);
  printf(" %04x %04x ", sw, tw); hex(sv + 28, 10); printf(" "); hex(sv + 38, 10);
  printf(" "); hex(mem, 10); printf(" %02x',\n", (unsigned)(fl & 0xd5));
}

static uint16_t randomCw(int unmaskSome) {
  static const int pcs[] = { 0, 2, 3 };
  uint16_t cw = 0x3f | (pcs[rnd() % 3] << 8) | ((rnd() & 3) << 10);
  if (unmaskSome && rnd() % 5 == 0) cw &= ~(rnd() & 0x3d); /* leave PM alone now and then */
  return cw | 0x40;
}

int main(void) {
  printf("// Generated by test/cpu/fpu-ref/gen.c on a real x87: do not edit.\n");
  printf("// op cw a b -> sw tw st0 st1 mem eflags(ZF PF CF bits)\n");
  printf("export const ARITH_CASES: readonly string[] = [\n");
  for (int op = FADD; op <= FUCOMI; op++) {
    int n = op <= FDIVR ? 160 : op == FSQRT ? 80 : 50;
    for (int i = 0; i < n; i++) {
      x80 a = operand(16383, 70, 1), b = operand(16383, 70, 1);
      if (op == FADD || op == FSUB || op == FSUBR) { /* close exponents: cancellation and alignment */
        if (i % 2 == 0 && (a.se & 0x7fff) != 0x7fff && (a.se & 0x7fff)) b.se = (b.se & 0x8000) | ((a.se & 0x7fff) + rint_(-3, 3));
      }
      if ((op == FMUL || op == FDIV) && i % 4 == 0) { a.se = (a.se & 0x8000) | rint_(1, 40); b.se = (b.se & 0x8000) | (op == FMUL ? rint_(16340, 16390) : rint_(16380, 16420)); }
      if ((op == FMUL || op == FDIV) && i % 4 == 1) { a.se = (a.se & 0x8000) | rint_(0x7fd0, 0x7ffe); b.se = (b.se & 0x8000) | (op == FMUL ? rint_(16380, 16430) : rint_(16340, 16390)); }
      if (op == FSQRT && i % 3 == 0) a.se &= 0x7fff;
      if (op == FPREM || op == FPREM1) { if ((a.se & 0x7fff) && (a.se & 0x7fff) < 0x7fff && (b.se & 0x7fff) < 0x7fff) b.se = (b.se & 0x8000) | (((a.se & 0x7fff) - rint_(-2, 60)) & 0x7fff); }
      if (op == FSCALE) b = operand(16383, 5, i % 5 == 0);
      if (op == FRNDINT) a = operand(16383, 66, 1);
      if ((op == FCOM || op == FUCOM || op == FCOMI || op == FUCOMI) && i % 3 == 0) b = a;
      run(op, randomCw(1), a, b);
    }
  }
  for (int op = FSTM32; op <= FXAM; op++) {
    for (int i = 0; i < 80; i++) {
      x80 a;
      switch (op) {
        case FSTM32: a = operand(16383, i % 2 ? 140 : 30, 1); break;
        case FSTM64: a = operand(16383, i % 2 ? 1090 : 30, 1); break;
        case FISTM16: a = operand(16383, 17, 1); break;
        case FISTM32: a = operand(16383, 33, 1); break;
        case FISTM64: a = operand(16383 + 30, 36, 1); break;
        case FBSTP: a = operand(16383 + 30, 32, 1); break;
        default: a = operand(16383, 16383, 1);
      }
      run(op, randomCw(1), a, operand(16383, 3, 0));
    }
  }
  /* edges: results at the underflow/overflow boundary (tininess after rounding, round-up to the smallest
     normal, denormal results under every precision control), with OM/UM/DM unmasked half of the time */
  static const int edgeOps[] = { FMUL, FDIV, FADD, FSUB, FSTM32, FSTM64, FSQRT };
  for (int k = 0; k < 7; k++) {
    int op = edgeOps[k];
    for (int i = 0; i < 60; i++) {
      x80 a = operand(16383, 3, 0), b = operand(16383, 3, 0);
      uint64_t ones = 0xffffffffffffffffull << rint_(0, 40);
      if (i % 2) a.sig = ones;
      switch (op) {
        case FMUL: a.se = (a.se & 0x8000) | 8192; b.se = (b.se & 0x8000) | (8191 + rint_(-2, 1) - (i % 3 == 0 ? 16382 - 8192 : 0) + (i % 3 == 0 ? 8190 : 0)); break;
        case FDIV: a.se = (a.se & 0x8000) | rint_(1, 3); b.se = (b.se & 0x8000) | rint_(16382, 16385); if (i % 4 == 0) { a.se = (a.se & 0x8000) | 0x7ffe; b.se = (b.se & 0x8000) | rint_(16380, 16383); } break;
        case FADD: case FSUB: a.se &= 0x8000; a.sig >>= rint_(0, 3); b.se = (b.se & 0x8000) | rint_(0, 2); if (!(b.se & 0x7fff)) b.sig >>= 1; break;
        case FSTM32: a.se = (a.se & 0x8000) | (16383 - 126 + rint_(-26, 1)); if (i % 5 == 0) a.se = (a.se & 0x8000) | (16383 + 127 + rint_(0, 1)); break;
        case FSTM64: a.se = (a.se & 0x8000) | (16383 - 1022 + rint_(-54, 1)); if (i % 5 == 0) a.se = (a.se & 0x8000) | (16383 + 1023 + rint_(0, 1)); break;
        default: a.se = rint_(0, 2); if (!a.se) a.sig >>= rint_(1, 20); break;
      }
      uint16_t cw = randomCw(0);
      if (i % 2) cw &= ~0x1a;
      run(op, cw, a, b);
    }
  }
  printf("];\n\nexport const TRANSCENDENTAL_CASES: readonly string[] = [\n");
  for (int op = FSIN; op <= FYL2XP1; op++) {
    for (int i = 0; i < 24; i++) {
      x80 a = operand(16383, 3, 0), b = operand(16383, 3, 0);
      if (op == FSIN || op == FCOS || op == FPTAN || op == FSINCOS) a = operand(16383, i % 3 ? 4 : 50, 0);
      if (op == F2XM1) { a = operand(16382, i % 3 ? 1 : 30, 0); if ((a.se & 0x7fff) > 16382) a.se = (a.se & 0x8000) | 16382; } /* |x| < 1 */
      if (op == FYL2X) { a.se &= 0x7fff; if (i % 3 == 0) a.se = 16383 - (int)(rnd() % 2); if (i % 4 == 0) a.se = rint_(1, 0x7ffe); }
      if (op == FYL2XP1) { a = operand(16380, i % 3 ? 2 : 40, 0); if ((a.se & 0x7fff) > 16380) a.se = (a.se & 0x8000) | 16380; } /* |x| < 1 - sqrt(2)/2 */
      run(op, 0x037f, a, b);
    }
  }
  printf("];\n");
  return 0;
}
