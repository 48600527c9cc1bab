/*
 * pagestride: a deliberately TLB-unfriendly program for the sample traces.
 * It touches every 4 KiB page of an 8 MiB buffer once, then reads it back
 * four times with a stride of one page plus one cache line, so most data
 * accesses land on a different page than the one before.
 */
#include <stdio.h>
#include <stdlib.h>

int main(void) {
    size_t n = 8u << 20;
    char *a = malloc(n);
    if (a == NULL) return 1;
    for (size_t i = 0; i < n; i += 4096) a[i] = (char)(i >> 12);
    long s = 0;
    for (int r = 0; r < 4; r++)
        for (size_t i = (size_t)r * 64; i < n; i += 4096 + 64) s += a[i];
    printf("%ld\n", s);
    free(a);
    return 0;
}
