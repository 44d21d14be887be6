/* The C kernel alone, for bench.py: cfp8_tc_gemm on E4M3 operands with H100 numerics, built as
 * SwiftPM builds CFP8 (clang -O3 -fopenmp, libomp), with the CLI's layout (A and B row-major, FP32
 * output), on THREADS threads (fp8-bench tensorcore's figures are single-threaded). Reads one line per
 * measurement from stdin ("fast" or "promoted") and prints the seconds the call took, so that
 * bench.py can interleave it with its own calls. */
#include "cfp8.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc != 5) { fprintf(stderr, "usage: tc_time M N K THREADS < commands\n"); return 64; }
  const int64_t m = atoll(argv[1]), n = atoll(argv[2]), k = atoll(argv[3]);
  const int32_t threads = atoi(argv[4]);
  uint8_t *a = malloc((size_t)(m * k)), *b = malloc((size_t)(k * n));
  float *d = malloc((size_t)(m * n) * 4);
  if (!a || !b || !d) return 71;
  uint32_t x = 12345;
  for (int64_t i = 0; i < m * k; i++) { x = x * 1664525u + 1013904223u; a[i] = (uint8_t)(((x >> 24) & 0x7E) | ((x >> 16) & 0x80)); }
  for (int64_t i = 0; i < k * n; i++) { x = x * 1664525u + 1013904223u; b[i] = (uint8_t)(((x >> 24) & 0x7E) | ((x >> 16) & 0x80)); }
  cfp8_operand A = {a, CFP8_FORMAT_E4M3, 0, k}, B = {b, CFP8_FORMAT_E4M3, 0, n};
  cfp8_tc_model h100 = {32, 13, -133, CFP8_TC_ACC_F32, CFP8_TC_C_FUSED};
  cfp8_epilogue ep = {1.0f, 0.0f, NULL, 0, NULL, d, CFP8_FORMAT_F32, n, 1.0f, NULL};
  char line[64];
  while (fgets(line, sizeof line, stdin)) {
    int acc = strncmp(line, "fast", 4) == 0 ? CFP8_TC_ACCUM_FAST : CFP8_TC_ACCUM_PROMOTED;
    double t0 = now();
    cfp8_status st = cfp8_tc_gemm(m, n, k, &A, &B, NULL, NULL, &h100, acc, 128, &ep, CFP8_ISA_AUTO, threads);
    double t = now() - t0;
    if (st) { fprintf(stderr, "%s\n", cfp8_status_string(st)); return 70; }
    printf("%.9f\n", t);
    fflush(stdout);
  }
  return 0;
}
