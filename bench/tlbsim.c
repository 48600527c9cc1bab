/*
 * The C reference for the trace benchmark (bench/text.ts): a plain TLB
 * simulator of the modeled Skylake TLBs that vmmu's shadow and slat modes
 * look up on every access (src/mmu/defaults.ts SKYLAKE_TLB; 4 KiB pages):
 *
 *   L1 dTLB 64 entries 4-way, L1 iTLB 128 entries 8-way, shared L2 1536
 *   entries 12-way, each set-associative with true LRU; an L1 miss looks
 *   up the L2, an L2 hit fills the L1, an L2 miss fills both (after the walk
 *   vmmu would do).
 *
 * It reads a Valgrind lackey text trace (not gzipped) the way vmmu's
 * importer does: `I`, `L`, `S`, `M` lines (a modify is a load, then a
 * store), an access that crosses a 4 KiB page is two accesses, `==` and `--`
 * lines and anything else are skipped. No page tables, no walks, no guest:
 * only the lookups, which is all a TLB simulator does.
 *
 * usage: tlbsim FILE
 * prints one line of JSON: accesses, hits and misses per level, seconds.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
  int sets, ways;
  uint64_t *tag;   /* page number + 1 (0: invalid) */
  uint64_t *stamp; /* last use; the smallest in a set is the LRU way */
  uint64_t clock;
} Cache;

static void cache_init(Cache *c, int entries, int ways) {
  c->ways = ways;
  c->sets = entries / ways;
  c->tag = calloc((size_t)entries, sizeof(uint64_t));
  c->stamp = calloc((size_t)entries, sizeof(uint64_t));
  c->clock = 0;
}

static int cache_lookup(Cache *c, uint64_t page) {
  uint64_t *t = c->tag + (size_t)(page & (uint64_t)(c->sets - 1)) * c->ways;
  for (int i = 0; i < c->ways; i++) {
    if (t[i] == page + 1) {
      c->stamp[t - c->tag + i] = ++c->clock;
      return 1;
    }
  }
  return 0;
}

static void cache_insert(Cache *c, uint64_t page) {
  size_t base = (size_t)(page & (uint64_t)(c->sets - 1)) * c->ways;
  size_t victim = base;
  uint64_t oldest = UINT64_MAX;
  for (int i = 0; i < c->ways; i++) {
    if (c->tag[base + i] == 0) { victim = base + i; break; }
    if (c->stamp[base + i] < oldest) { oldest = c->stamp[base + i]; victim = base + i; }
  }
  c->tag[victim] = page + 1;
  c->stamp[victim] = ++c->clock;
}

static Cache l1d, l1i, l2;
static uint64_t accesses, l1dHit, l1dMiss, l1iHit, l1iMiss, l2Hit, l2Miss;

static void lookup(uint64_t gva, int fetch) {
  uint64_t page = gva >> 12;
  Cache *l1 = fetch ? &l1i : &l1d;
  accesses++;
  if (cache_lookup(l1, page)) {
    if (fetch) l1iHit++; else l1dHit++;
    return;
  }
  if (fetch) l1iMiss++; else l1dMiss++;
  if (cache_lookup(&l2, page)) {
    l2Hit++;
    cache_insert(l1, page);
    return;
  }
  l2Miss++;
  cache_insert(&l2, page);
  cache_insert(l1, page);
}

/* One access of `size` bytes: two lookups when it crosses a page. */
static void touch(uint64_t gva, unsigned size, int fetch) {
  lookup(gva, fetch);
  if ((gva & 0xfff) + size > 4096) lookup((gva | 0xfff) + 1, fetch);
}

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Parses one line [p, end); skips it unless it is an access line. */
static void line(const char *p, const char *end) {
  while (p < end && *p == ' ') p++;
  if (p >= end) return;
  char k = *p++;
  if (k != 'I' && k != 'L' && k != 'S' && k != 'M') return;
  if (p >= end || *p != ' ') return;
  while (p < end && *p == ' ') p++;
  uint64_t gva = 0;
  int d, n = 0;
  while (p < end && (d = hexval(*p)) >= 0) { gva = (gva << 4) | (uint64_t)d; p++; n++; }
  if (n == 0 || p >= end || *p != ',') return;
  p++;
  unsigned size = 0;
  while (p < end && *p >= '0' && *p <= '9') size = size * 10 + (unsigned)(*p++ - '0');
  if (size == 0 || size > 4096) return;
  if (k == 'M') {
    touch(gva, size, 0);
    touch(gva, size, 0);
  } else {
    touch(gva, size, k == 'I');
  }
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: tlbsim FILE (a lackey text trace)\n");
    return 2;
  }
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  FILE *f = fopen(argv[1], "rb");
  if (f == NULL) {
    perror(argv[1]);
    return 1;
  }
  cache_init(&l1d, 64, 4);
  cache_init(&l1i, 128, 8);
  cache_init(&l2, 1536, 12);
  enum { BUF = 1 << 20 };
  char *buf = malloc(BUF + 4096);
  size_t have = 0, got;
  while ((got = fread(buf + have, 1, BUF, f)) > 0) {
    have += got;
    char *p = buf, *end = buf + have, *nl;
    while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
      line(p, nl);
      p = nl + 1;
    }
    have = (size_t)(end - p);
    if (have > 4096) have = 0; /* a line longer than 4096 bytes is not an access */
    memmove(buf, p, have);
  }
  if (have > 0) line(buf, buf + have);
  fclose(f);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  printf("{\"accesses\":%llu,\"l1dHit\":%llu,\"l1dMiss\":%llu,\"l1iHit\":%llu,\"l1iMiss\":%llu,\"l2Hit\":%llu,\"l2Miss\":%llu,\"seconds\":%.6f}\n",
    (unsigned long long)accesses, (unsigned long long)l1dHit, (unsigned long long)l1dMiss, (unsigned long long)l1iHit,
    (unsigned long long)l1iMiss, (unsigned long long)l2Hit, (unsigned long long)l2Miss, s);
  return 0;
}
