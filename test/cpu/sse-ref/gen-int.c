/*
 * Reference results for test/cpu/sse-int.test.ts, taken from the SSE2 unit of
 * the machine this runs on. Build and run (any x86-64 Linux with gcc):
 *
 *   gcc -O1 -msse2 -o /tmp/sse-gen-int test/cpu/sse-ref/gen-int.c && /tmp/sse-gen-int > test/cpu/sse-ref/reference-int.ts
 *
 * Each case: XMM0 = a, XMM1 = b, EAX = a 32-bit value, then the instruction
 * under test (XMM0 the destination and first source, XMM1 the second source
 * or the shift count, EAX the general-register operand), then XMM0 or EAX.
 * Immediates are assembled into the instruction: every op that takes one
 * has all 256 encodings compiled in and a case picks one.
 *
 * Operands come from a fixed xorshift generator, so the output is the same
 * on every run. They are shaped by the op's element size: the signed and
 * unsigned saturation boundaries, the sign boundary, all ones, zero and
 * random elements; the first cases of each op fill both registers with one
 * boundary value each (so 8000h * 8000h in every word of PMADDWD, for one);
 * some cases repeat a in b or put b one or two away from a. Shift counts
 * cover 0, the lane width and its neighbours, counts with only high bits set
 * and random ones. Integer results do not depend on the CPU model.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static uint64_t rs = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) { rs ^= rs << 13; rs ^= rs >> 7; rs ^= rs << 17; return rs; }

typedef struct { uint32_t d[4]; } __attribute__((aligned(16))) x128;

static x128 A, B, R;
static uint32_t IIN, IOUT;
static uint64_t Q;
static int IMM;

/* ---- the instructions ---- */

/* operand kinds: what goes in and what comes out */
enum {
  BIN,    /* xmm0 op= xmm1 */
  SHR,    /* xmm0 shifted by the low 64 bits of xmm1 */
  SHI,    /* xmm0 shifted by imm8 */
  UIMM,   /* xmm0 = f(xmm1, imm8) */
  BIMM,   /* xmm0 = f(xmm0, xmm1, imm8) */
  TOREG,  /* eax = f(xmm1) */
  TOREGI, /* eax = f(xmm1, imm8) */
  FROMREGI, /* xmm0 = f(xmm0, eax, imm8) */
  FROMREG, /* xmm0 = f(eax) */
  FROMM64, /* xmm0 = f(m64) */
};

/* name, operand kind, element size in bits (for shaping operands) */
#define OPS(X) \
  X(PADDB, "paddb", BIN, 8) X(PADDW, "paddw", BIN, 16) X(PADDD, "paddd", BIN, 32) X(PADDQ, "paddq", BIN, 64) \
  X(PSUBB, "psubb", BIN, 8) X(PSUBW, "psubw", BIN, 16) X(PSUBD, "psubd", BIN, 32) X(PSUBQ, "psubq", BIN, 64) \
  X(PADDSB, "paddsb", BIN, 8) X(PADDSW, "paddsw", BIN, 16) X(PADDUSB, "paddusb", BIN, 8) X(PADDUSW, "paddusw", BIN, 16) \
  X(PSUBSB, "psubsb", BIN, 8) X(PSUBSW, "psubsw", BIN, 16) X(PSUBUSB, "psubusb", BIN, 8) X(PSUBUSW, "psubusw", BIN, 16) \
  X(PMULLW, "pmullw", BIN, 16) X(PMULHW, "pmulhw", BIN, 16) X(PMULHUW, "pmulhuw", BIN, 16) X(PMULUDQ, "pmuludq", BIN, 32) \
  X(PMADDWD, "pmaddwd", BIN, 16) X(PSADBW, "psadbw", BIN, 8) X(PAVGB, "pavgb", BIN, 8) X(PAVGW, "pavgw", BIN, 16) \
  X(PMINUB, "pminub", BIN, 8) X(PMAXUB, "pmaxub", BIN, 8) X(PMINSW, "pminsw", BIN, 16) X(PMAXSW, "pmaxsw", BIN, 16) \
  X(PCMPEQB, "pcmpeqb", BIN, 8) X(PCMPEQW, "pcmpeqw", BIN, 16) X(PCMPEQD, "pcmpeqd", BIN, 32) \
  X(PCMPGTB, "pcmpgtb", BIN, 8) X(PCMPGTW, "pcmpgtw", BIN, 16) X(PCMPGTD, "pcmpgtd", BIN, 32) \
  X(PAND, "pand", BIN, 32) X(PANDN, "pandn", BIN, 32) X(POR, "por", BIN, 32) X(PXOR, "pxor", BIN, 32) \
  X(ANDPS, "andps", BIN, 32) X(ANDNPS, "andnps", BIN, 32) X(ORPS, "orps", BIN, 32) X(XORPS, "xorps", BIN, 32) \
  X(ANDPD, "andpd", BIN, 64) X(ANDNPD, "andnpd", BIN, 64) X(ORPD, "orpd", BIN, 64) X(XORPD, "xorpd", BIN, 64) \
  X(PACKSSWB, "packsswb", BIN, 16) X(PACKSSDW, "packssdw", BIN, 32) X(PACKUSWB, "packuswb", BIN, 16) \
  X(PUNPCKLBW, "punpcklbw", BIN, 8) X(PUNPCKHBW, "punpckhbw", BIN, 8) X(PUNPCKLWD, "punpcklwd", BIN, 16) \
  X(PUNPCKHWD, "punpckhwd", BIN, 16) X(PUNPCKLDQ, "punpckldq", BIN, 32) X(PUNPCKHDQ, "punpckhdq", BIN, 32) \
  X(PUNPCKLQDQ, "punpcklqdq", BIN, 64) X(PUNPCKHQDQ, "punpckhqdq", BIN, 64) \
  X(UNPCKLPS, "unpcklps", BIN, 32) X(UNPCKHPS, "unpckhps", BIN, 32) X(UNPCKLPD, "unpcklpd", BIN, 64) X(UNPCKHPD, "unpckhpd", BIN, 64) \
  X(PSLLW, "psllw", SHR, 16) X(PSLLD, "pslld", SHR, 32) X(PSLLQ, "psllq", SHR, 64) \
  X(PSRLW, "psrlw", SHR, 16) X(PSRLD, "psrld", SHR, 32) X(PSRLQ, "psrlq", SHR, 64) \
  X(PSRAW, "psraw", SHR, 16) X(PSRAD, "psrad", SHR, 32) \
  X(PSLLWI, "psllwi", SHI, 16) X(PSLLDI, "pslldi", SHI, 32) X(PSLLQI, "psllqi", SHI, 64) \
  X(PSRLWI, "psrlwi", SHI, 16) X(PSRLDI, "psrldi", SHI, 32) X(PSRLQI, "psrlqi", SHI, 64) \
  X(PSRAWI, "psrawi", SHI, 16) X(PSRADI, "psradi", SHI, 32) X(PSLLDQ, "pslldq", SHI, 128) X(PSRLDQ, "psrldq", SHI, 128) \
  X(PSHUFD, "pshufd", UIMM, 32) X(PSHUFLW, "pshuflw", UIMM, 16) X(PSHUFHW, "pshufhw", UIMM, 16) \
  X(SHUFPS, "shufps", BIMM, 32) X(SHUFPD, "shufpd", BIMM, 64) \
  X(PMOVMSKB, "pmovmskb", TOREG, 8) X(MOVMSKPS, "movmskps", TOREG, 32) X(MOVMSKPD, "movmskpd", TOREG, 64) \
  X(PEXTRW, "pextrw", TOREGI, 16) X(PINSRW, "pinsrw", FROMREGI, 16) \
  X(MOVD_TO, "movd_to", FROMREG, 32) X(MOVD_FROM, "movd_from", TOREG, 32) X(MOVQ_M64, "movq_m64", FROMM64, 64) \
  X(MOVQ_XMM, "movq_xmm", BIN, 64)

#define ENUM(id, name, kind, size) id,
enum { OPS(ENUM) NOPS };
typedef struct { const char *name; int kind, size; } opinfo;
#define INFO(id, name, kind, size) { name, kind, size },
static const opinfo info[] = { OPS(INFO) };

#define X(ins) __asm__ volatile("movdqu %[a], %%xmm0\n movdqu %[b], %%xmm1\n movl %[ii], %%eax\n" ins "\n movdqu %%xmm0, %[r]\n" \
  : [r] "=m"(R), [io] "=m"(IOUT) : [a] "m"(A), [b] "m"(B), [ii] "m"(IIN), [q] "m"(Q) : "xmm0", "xmm1", "eax", "cc", "memory")

/* all 256 immediates: M(ins, 0x00) .. M(ins, 0xff) */
#define H16(M, ins, h) M(ins, 0x##h##0) M(ins, 0x##h##1) M(ins, 0x##h##2) M(ins, 0x##h##3) M(ins, 0x##h##4) M(ins, 0x##h##5) \
  M(ins, 0x##h##6) M(ins, 0x##h##7) M(ins, 0x##h##8) M(ins, 0x##h##9) M(ins, 0x##h##a) M(ins, 0x##h##b) M(ins, 0x##h##c) \
  M(ins, 0x##h##d) M(ins, 0x##h##e) M(ins, 0x##h##f)
#define IMM256(M, ins) H16(M, ins, 0) H16(M, ins, 1) H16(M, ins, 2) H16(M, ins, 3) H16(M, ins, 4) H16(M, ins, 5) H16(M, ins, 6) \
  H16(M, ins, 7) H16(M, ins, 8) H16(M, ins, 9) H16(M, ins, a) H16(M, ins, b) H16(M, ins, c) H16(M, ins, d) H16(M, ins, e) H16(M, ins, f)
#define C_SH(ins, n) case n: X(ins " $" #n ", %%xmm0"); break;
#define C_SHUF(ins, n) case n: X(ins " $" #n ", %%xmm1, %%xmm0"); break;
#define C_EXTR(ins, n) case n: X(ins " $" #n ", %%xmm1, %%eax\n movl %%eax, %[io]"); break;
#define C_INS(ins, n) case n: X(ins " $" #n ", %%eax, %%xmm0"); break;
#define IMMOP(id, M, ins) case id: switch (IMM) { IMM256(M, ins) } break;

static void exec(int op) {
  switch (op) {
    case PADDB: X("paddb %%xmm1, %%xmm0"); break;
    case PADDW: X("paddw %%xmm1, %%xmm0"); break;
    case PADDD: X("paddd %%xmm1, %%xmm0"); break;
    case PADDQ: X("paddq %%xmm1, %%xmm0"); break;
    case PSUBB: X("psubb %%xmm1, %%xmm0"); break;
    case PSUBW: X("psubw %%xmm1, %%xmm0"); break;
    case PSUBD: X("psubd %%xmm1, %%xmm0"); break;
    case PSUBQ: X("psubq %%xmm1, %%xmm0"); break;
    case PADDSB: X("paddsb %%xmm1, %%xmm0"); break;
    case PADDSW: X("paddsw %%xmm1, %%xmm0"); break;
    case PADDUSB: X("paddusb %%xmm1, %%xmm0"); break;
    case PADDUSW: X("paddusw %%xmm1, %%xmm0"); break;
    case PSUBSB: X("psubsb %%xmm1, %%xmm0"); break;
    case PSUBSW: X("psubsw %%xmm1, %%xmm0"); break;
    case PSUBUSB: X("psubusb %%xmm1, %%xmm0"); break;
    case PSUBUSW: X("psubusw %%xmm1, %%xmm0"); break;
    case PMULLW: X("pmullw %%xmm1, %%xmm0"); break;
    case PMULHW: X("pmulhw %%xmm1, %%xmm0"); break;
    case PMULHUW: X("pmulhuw %%xmm1, %%xmm0"); break;
    case PMULUDQ: X("pmuludq %%xmm1, %%xmm0"); break;
    case PMADDWD: X("pmaddwd %%xmm1, %%xmm0"); break;
    case PSADBW: X("psadbw %%xmm1, %%xmm0"); break;
    case PAVGB: X("pavgb %%xmm1, %%xmm0"); break;
    case PAVGW: X("pavgw %%xmm1, %%xmm0"); break;
    case PMINUB: X("pminub %%xmm1, %%xmm0"); break;
    case PMAXUB: X("pmaxub %%xmm1, %%xmm0"); break;
    case PMINSW: X("pminsw %%xmm1, %%xmm0"); break;
    case PMAXSW: X("pmaxsw %%xmm1, %%xmm0"); break;
    case PCMPEQB: X("pcmpeqb %%xmm1, %%xmm0"); break;
    case PCMPEQW: X("pcmpeqw %%xmm1, %%xmm0"); break;
    case PCMPEQD: X("pcmpeqd %%xmm1, %%xmm0"); break;
    case PCMPGTB: X("pcmpgtb %%xmm1, %%xmm0"); break;
    case PCMPGTW: X("pcmpgtw %%xmm1, %%xmm0"); break;
    case PCMPGTD: X("pcmpgtd %%xmm1, %%xmm0"); break;
    case PAND: X("pand %%xmm1, %%xmm0"); break;
    case PANDN: X("pandn %%xmm1, %%xmm0"); break;
    case POR: X("por %%xmm1, %%xmm0"); break;
    case PXOR: X("pxor %%xmm1, %%xmm0"); break;
    case ANDPS: X("andps %%xmm1, %%xmm0"); break;
    case ANDNPS: X("andnps %%xmm1, %%xmm0"); break;
    case ORPS: X("orps %%xmm1, %%xmm0"); break;
    case XORPS: X("xorps %%xmm1, %%xmm0"); break;
    case ANDPD: X("andpd %%xmm1, %%xmm0"); break;
    case ANDNPD: X("andnpd %%xmm1, %%xmm0"); break;
    case ORPD: X("orpd %%xmm1, %%xmm0"); break;
    case XORPD: X("xorpd %%xmm1, %%xmm0"); break;
    case PACKSSWB: X("packsswb %%xmm1, %%xmm0"); break;
    case PACKSSDW: X("packssdw %%xmm1, %%xmm0"); break;
    case PACKUSWB: X("packuswb %%xmm1, %%xmm0"); break;
    case PUNPCKLBW: X("punpcklbw %%xmm1, %%xmm0"); break;
    case PUNPCKHBW: X("punpckhbw %%xmm1, %%xmm0"); break;
    case PUNPCKLWD: X("punpcklwd %%xmm1, %%xmm0"); break;
    case PUNPCKHWD: X("punpckhwd %%xmm1, %%xmm0"); break;
    case PUNPCKLDQ: X("punpckldq %%xmm1, %%xmm0"); break;
    case PUNPCKHDQ: X("punpckhdq %%xmm1, %%xmm0"); break;
    case PUNPCKLQDQ: X("punpcklqdq %%xmm1, %%xmm0"); break;
    case PUNPCKHQDQ: X("punpckhqdq %%xmm1, %%xmm0"); break;
    case UNPCKLPS: X("unpcklps %%xmm1, %%xmm0"); break;
    case UNPCKHPS: X("unpckhps %%xmm1, %%xmm0"); break;
    case UNPCKLPD: X("unpcklpd %%xmm1, %%xmm0"); break;
    case UNPCKHPD: X("unpckhpd %%xmm1, %%xmm0"); break;
    case PSLLW: X("psllw %%xmm1, %%xmm0"); break;
    case PSLLD: X("pslld %%xmm1, %%xmm0"); break;
    case PSLLQ: X("psllq %%xmm1, %%xmm0"); break;
    case PSRLW: X("psrlw %%xmm1, %%xmm0"); break;
    case PSRLD: X("psrld %%xmm1, %%xmm0"); break;
    case PSRLQ: X("psrlq %%xmm1, %%xmm0"); break;
    case PSRAW: X("psraw %%xmm1, %%xmm0"); break;
    case PSRAD: X("psrad %%xmm1, %%xmm0"); break;
    IMMOP(PSLLWI, C_SH, "psllw")
    IMMOP(PSLLDI, C_SH, "pslld")
    IMMOP(PSLLQI, C_SH, "psllq")
    IMMOP(PSRLWI, C_SH, "psrlw")
    IMMOP(PSRLDI, C_SH, "psrld")
    IMMOP(PSRLQI, C_SH, "psrlq")
    IMMOP(PSRAWI, C_SH, "psraw")
    IMMOP(PSRADI, C_SH, "psrad")
    IMMOP(PSLLDQ, C_SH, "pslldq")
    IMMOP(PSRLDQ, C_SH, "psrldq")
    IMMOP(PSHUFD, C_SHUF, "pshufd")
    IMMOP(PSHUFLW, C_SHUF, "pshuflw")
    IMMOP(PSHUFHW, C_SHUF, "pshufhw")
    IMMOP(SHUFPS, C_SHUF, "shufps")
    IMMOP(SHUFPD, C_SHUF, "shufpd")
    IMMOP(PEXTRW, C_EXTR, "pextrw")
    IMMOP(PINSRW, C_INS, "pinsrw")
    case PMOVMSKB: X("pmovmskb %%xmm1, %%eax\n movl %%eax, %[io]"); break;
    case MOVMSKPS: X("movmskps %%xmm1, %%eax\n movl %%eax, %[io]"); break;
    case MOVMSKPD: X("movmskpd %%xmm1, %%eax\n movl %%eax, %[io]"); break;
    case MOVD_TO: X("movd %%eax, %%xmm0"); break;
    case MOVD_FROM: X("movd %%xmm1, %%eax\n movl %%eax, %[io]"); break;
    case MOVQ_M64: X("movq %[q], %%xmm0"); break;
    case MOVQ_XMM: X("movq %%xmm1, %%xmm0"); break;
  }
}

/* ---- operands ---- */

/* boundary values of an element of `size` bits: 0, 1, signed max, signed min, signed min + 1, -2, -1, and a few more */
static uint64_t edge(int size, int k) {
  static const uint64_t e8[] = { 0, 1, 0x7f, 0x80, 0x81, 0xfe, 0xff, 0x7e, 0x40, 0xc0 };
  static const uint64_t e16[] = { 0, 1, 0x7fff, 0x8000, 0x8001, 0xfffe, 0xffff, 0x7ffe, 0x007f, 0x0080, 0xff80, 0xff7f, 0x00ff, 0x0100 };
  static const uint64_t e32[] = { 0, 1, 0x7fffffff, 0x80000000, 0x80000001, 0xfffffffe, 0xffffffff, 0x7ffffffe,
                                  0x00007fff, 0x00008000, 0xffff8000, 0xffff7fff, 0x0000ffff, 0x00010000 };
  static const uint64_t e64[] = { 0, 1, 0x7fffffffffffffffull, 0x8000000000000000ull, 0x8000000000000001ull, 0xfffffffffffffffeull,
                                  ~0ull, 0x00000000ffffffffull, 0x0000000100000000ull, 0xffffffff00000000ull, 0x000000007fffffffull };
  switch (size) {
    case 8: return e8[k % 10];
    case 16: return e16[k % 14];
    case 32: return e32[k % 14];
    default: return e64[k % 11];
  }
}
static uint64_t maskOf(int size) { return size == 64 ? ~0ull : (1ull << size) - 1; }

/* one element: a boundary, a small signed value, or random */
static uint64_t elem(int size) {
  uint64_t m = maskOf(size);
  switch (rnd() % 4) {
    case 0: return edge(size, (int)(rnd() % 16));
    case 1: return (uint64_t)((int64_t)(rnd() % 9) - 4) & m;
    default: return rnd() & m;
  }
}

static void setElem(x128 *x, int size, int i, uint64_t v) {
  int bits = i * size;
  uint64_t m = maskOf(size);
  for (int b = 0; b < size; b += 32 < size ? 32 : size) {
    int sz = 32 < size ? 32 : size, pos = bits + b;
    uint32_t mm = (uint32_t)(m >> b) & (sz == 32 ? 0xffffffffu : (1u << sz) - 1);
    x->d[pos / 32] = (x->d[pos / 32] & ~(mm << (pos % 32))) | (uint32_t)((v >> b) & mm) << (pos % 32);
  }
}
static uint64_t getElem(const x128 *x, int size, int i) {
  uint64_t v = 0;
  for (int b = 0; b < size; b += 32 < size ? 32 : size) {
    int sz = 32 < size ? 32 : size, pos = i * size + b;
    uint32_t mm = sz == 32 ? 0xffffffffu : (1u << sz) - 1;
    v |= (uint64_t)((x->d[pos / 32] >> (pos % 32)) & mm) << b;
  }
  return v;
}

static void fillElems(x128 *x, int size) { for (int i = 0; i < 128 / size; i++) setElem(x, size, i, elem(size)); }
static void splat(x128 *x, int size, uint64_t v) { for (int i = 0; i < 128 / size; i++) setElem(x, size, i, v); }
static void random128(x128 *x) { for (int i = 0; i < 4; i++) x->d[i] = (uint32_t)rnd(); }

/* (a, b) edge index pairs for the first cases of a two-source op: min*min, max*max, min/max, -1/-1, 0/0, ... */
static const int splatPairs[][2] = { { 3, 3 }, { 2, 2 }, { 2, 3 }, { 3, 2 }, { 6, 6 }, { 0, 0 }, { 6, 0 }, { 2, 1 }, { 3, 6 }, { 0, 6 },
                                     { 1, 3 }, { 5, 4 } };

static void fillBinary(int size, int i) {
  if (size > 64) size = 64;
  if (i < 12) { splat(&A, size, edge(size, splatPairs[i][0])); splat(&B, size, edge(size, splatPairs[i][1])); return; }
  fillElems(&A, size);
  switch (i % 6) {
    case 0: B = A; break;
    case 1: /* one or two away from a, element by element */
      for (int k = 0; k < 128 / size; k++) setElem(&B, size, k, (getElem(&A, size, k) + (uint64_t)((int64_t)(rnd() % 5) - 2)) & maskOf(size));
      break;
    case 2: random128(&A); random128(&B); break;
    default: fillElems(&B, size);
  }
}

/* shift counts: around the lane width, with high bits only, huge, random */
static uint64_t shiftCount(int size, int i) {
  const uint64_t w = (uint64_t)size;
  const uint64_t fixed[] = { 0, 1, 2, w / 2, w - 1, w, w + 1, w + 2, 2 * w - 1, 31, 32, 33, 63, 64, 65, 127, 128, 255, 256,
                             0x7fffffff, 0x80000000ull, 0xffffffffull, 1ull << 32, (1ull << 32) | 1, (1ull << 32) | 3, 1ull << 63, ~0ull };
  const int nf = (int)(sizeof fixed / sizeof fixed[0]);
  if (i < nf) return fixed[i];
  switch (rnd() % 3) {
    case 0: return rnd() % w;
    case 1: return rnd() % 300;
    default: return rnd() >> (rnd() % 64);
  }
}
static int shiftImm(int size, int i) {
  const int w = size, fixed[] = { 0, 1, 2, w / 2, w - 1, w, w + 1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 200, 255 };
  const int nf = (int)(sizeof fixed / sizeof fixed[0]);
  if (size == 128) return i < 20 ? i : i < 20 + nf ? fixed[i - 20] : (int)(rnd() % 256);
  if (i < nf) return fixed[i] & 0xff;
  return (int)(rnd() % 2 ? rnd() % (uint64_t)w : rnd() % 256);
}

/* ---- printing ---- */

static int cases;
static void hexw(const uint32_t *d, int words) { for (int i = words - 1; i >= 0; i--) printf("%08x", d[i]); }

/* op imm a b -> r: imm two hex digits or '-', a and b and r 128-bit or 32/64-bit as the op reads/writes them, '-' when unused */
static void run(int op) {
  const opinfo *o = &info[op];
  x128 a0 = A, b0 = B;
  IOUT = 0xaaaaaaaa;
  exec(op);
  if (memcmp(&b0, &B, sizeof B)) { fprintf(stderr, "%s: source changed\n", o->name); }
  printf("  '%s ", o->name);
  int k = o->kind;
  if (k == SHI || k == UIMM || k == BIMM || k == TOREGI || k == FROMREGI) printf("%02x ", IMM); else printf("- ");
  if (k == UIMM || k == TOREG || k == TOREGI) printf("-"); else hexw(a0.d, 4);
  printf(" ");
  if (k == FROMREG || k == FROMREGI) printf("%08x", IIN);
  else if (k == FROMM64) hexw((const uint32_t *)&Q, 2);
  else if (k == SHI) printf("-");
  else hexw(b0.d, 4);
  printf(" ");
  if (k == TOREG || k == TOREGI) printf("%08x", IOUT); else hexw(R.d, 4);
  printf("',\n");
  cases++;
}

int main(void) {
  printf("// Generated by test/cpu/sse-ref/gen-int.c on a real SSE2 unit: do not edit.\n");
  printf("// op imm a b -> result; hex, most significant dword first; '-' for an operand the op does not have\n");
  printf("export const SSE_INT_CASES: readonly string[] = [\n");
  for (int op = 0; op < NOPS; op++) {
    const opinfo *o = &info[op];
    int n;
    switch (o->kind) {
      case BIN: n = op == MOVQ_XMM ? 16 : 40; break;
      case SHR: n = 48; break;
      case SHI: n = o->size == 128 ? 48 : 40; break;
      case UIMM: n = op == PSHUFD ? 256 : 64; break;
      case BIMM: n = op == SHUFPS ? 64 : 16; break;
      case TOREG: n = op == PMOVMSKB ? 40 : op == MOVD_FROM ? 8 : 24; break;
      default: n = 32;
    }
    for (int i = 0; i < n; i++) {
      memset(&A, 0, sizeof A); memset(&B, 0, sizeof B);
      IIN = (uint32_t)rnd();
      IMM = 0;
      switch (o->kind) {
        case BIN: fillBinary(o->size, i); break;
        case SHR: {
          fillElems(&A, o->size);
          uint64_t c = shiftCount(o->size, i);
          B.d[0] = (uint32_t)c; B.d[1] = (uint32_t)(c >> 32); B.d[2] = (uint32_t)rnd(); B.d[3] = (uint32_t)rnd();
          break;
        }
        case SHI: fillElems(&A, o->size > 64 ? 8 : o->size); IMM = shiftImm(o->size, i); break;
        case UIMM: case BIMM:
          random128(&A); random128(&B);
          IMM = op == PSHUFD ? i : (int)(rnd() % 256);
          break;
        case TOREG: case TOREGI:
          random128(&A);
          if (i % 2) fillElems(&B, o->size); else random128(&B);
          IMM = i < 16 ? i : (int)(rnd() % 256);
          break;
        case FROMREGI: random128(&A); IMM = i < 16 ? i : (int)(rnd() % 256); break;
        case FROMREG: random128(&A); break;
        case FROMM64: random128(&A); Q = rnd(); break;
      }
      run(op);
    }
  }
  printf("];\n");
  fprintf(stderr, "%d cases\n", cases);
  return 0;
}
