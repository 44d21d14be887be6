/* The real-GPU tensor-core vectors (the public layout: <GPU>/<format>/{a,b,c,d}_*.txt, see
 * ../shared/tensorcore-vectors/README.md) through cfp8_tc_gemm on one ISA: every row as a 1×K·K×1
 * product with fast chaining, compared bit for bit with the GPU's FP32 and FP16 outputs. The
 * models are the presets of Sources/TensorCores/GPUArchitecture.swift, written out again here so
 * that this C test stands alone (the Swift suite "Real-GPU tensor-core vectors" checks the same
 * rows through the Swift presets). One line per file; returns the number of files with a
 * mismatch or an error (a missing folder is skipped and said so). */
#include "cfp8.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  const char *gpu, *fmt;
  int32_t in_format;
  cfp8_tc_model m32, m16; /* m16.block_size == 0: no FP16-output file */
  int ignore_c32;         /* H100 FP8, FP32 output: wgmma D = A·B + D with D = 0 */
} vec_plan;

#define F32M(l, f, e) {l, f, e, CFP8_TC_ACC_F32, CFP8_TC_C_FUSED}
#define F16M(l, f, e) {l, f, e, CFP8_TC_ACC_F16, CFP8_TC_C_FUSED}
#define NONE {0, 0, 0, 0, 0}
static const vec_plan plans[] = {
  {"V100", "fp16", CFP8_FORMAT_F16, F32M(4, 23, CFP8_TC_NO_MIN_EXPONENT), F16M(4, 23, -19), 0},
  {"A100", "fp16", CFP8_FORMAT_F16, F32M(8, 24, -132), F16M(8, 24, -20), 0},
  {"A100", "bf16", CFP8_FORMAT_BF16, F32M(8, 24, -132), NONE, 0},
  {"A100", "tf32", CFP8_FORMAT_F32, F32M(4, 24, -132), NONE, 0},
  {"Ada", "fp16", CFP8_FORMAT_F16, F32M(8, 24, -132), F16M(8, 24, -20), 0},
  {"Ada", "bf16", CFP8_FORMAT_BF16, F32M(8, 24, -132), NONE, 0},
  {"Ada", "tf32", CFP8_FORMAT_F32, F32M(4, 24, -132), NONE, 0},
  {"Ada", "E4M3", CFP8_FORMAT_E4M3, F32M(16, 13, -132), F16M(16, 13, -20), 0},
  {"Ada", "E5M2", CFP8_FORMAT_E5M2, F32M(16, 13, -132), F16M(16, 13, -20), 0},
  {"H100", "fp16", CFP8_FORMAT_F16, F32M(16, 25, -133), F16M(16, 25, -21), 0},
  {"H100", "bf16", CFP8_FORMAT_BF16, F32M(16, 25, -133), NONE, 0},
  {"H100", "tf32", CFP8_FORMAT_F32, F32M(8, 25, -133), NONE, 0},
  {"H100", "E4M3", CFP8_FORMAT_E4M3, F32M(32, 13, -133), {32, 25, -21, CFP8_TC_ACC_F16, CFP8_TC_C_ADDED_HALVES}, 1},
  {"H100", "E5M2", CFP8_FORMAT_E5M2, F32M(32, 13, -133), {32, 25, -21, CFP8_TC_ACC_F16, CFP8_TC_C_ADDED_HALVES}, 1},
  {"B200", "fp16", CFP8_FORMAT_F16, F32M(16, 25, -133), F16M(16, 25, -21), 0},
  {"B200", "bf16", CFP8_FORMAT_BF16, F32M(16, 25, -133), NONE, 0},
  {"B200", "tf32", CFP8_FORMAT_F32, F32M(8, 25, -133), NONE, 0},
  {"B200", "E4M3", CFP8_FORMAT_E4M3, {32, 24, -133, CFP8_TC_ACC_F32, CFP8_TC_C_ADDED}, {32, 25, -21, CFP8_TC_ACC_F16, CFP8_TC_C_ADDED_HALVES}, 0},
  {"B200", "E5M2", CFP8_FORMAT_E5M2, {32, 24, -133, CFP8_TC_ACC_F32, CFP8_TC_C_ADDED}, {32, 25, -21, CFP8_TC_ACC_F16, CFP8_TC_C_ADDED_HALVES}, 0},
};

static float bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static uint32_t f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

/* Reads up to max lines of a file into a malloc'd array of lines; returns the count or -1. */
static int read_lines(const char *path, char ***out) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  int n = 0, cap = 0;
  char **lines = NULL, buf[8192];
  while (fgets(buf, sizeof buf, f)) {
    if (n == cap) { cap = cap ? 2 * cap : 1024; lines = realloc(lines, (size_t)cap * sizeof *lines); }
    lines[n++] = strdup(buf);
  }
  fclose(f);
  *out = lines;
  return n;
}

static void free_lines(char **l, int n) { for (int i = 0; i < n; i++) free(l[i]); free(l); }

/* A value the format holds exactly, stored in that format (1 on success). */
static int store(float x, int32_t format, void *dst, int64_t i) {
  switch (format) {
  case CFP8_FORMAT_E4M3: case CFP8_FORMAT_E5M2: {
    uint8_t b = cfp8_encode_f32_reference(x, format, CFP8_ROUND_NEAREST_EVEN, CFP8_PRESET_CUDA_SATFINITE, 0);
    ((uint8_t *)dst)[i] = b;
    return cfp8_decode_table_f32(format)[b] == x;
  }
  case CFP8_FORMAT_BF16: ((uint16_t *)dst)[i] = (uint16_t)(f32_bits(x) >> 16); return (f32_bits(x) & 0xFFFF) == 0;
  case CFP8_FORMAT_F16: {
    uint16_t s = signbit(x) ? 0x8000 : 0, h;
    float a = fabsf(x);
    if (a == 0.0f) h = 0;
    else if (a < 0x1p-14f) h = (uint16_t)ldexpf(a, 24);
    else { int e = ilogbf(a); h = (uint16_t)(((e + 15) << 10) | (uint16_t)(ldexpf(a, 10 - e) - 1024.0f)); }
    ((uint16_t *)dst)[i] = s | h;
    return 1;
  }
  default: ((float *)dst)[i] = x; return 1;
  }
}

static int check_file(const char *dir, const vec_plan *p, int acc16, int32_t isa) {
  char path[4096];
  char **la, **lb, **lc, **ld;
  const char *dname = acc16 ? "fp16" : "fp32";
  snprintf(path, sizeof path, "%s/%s/%s/a_%s_%s.txt", dir, p->gpu, p->fmt, p->gpu, p->fmt);
  int na = read_lines(path, &la);
  if (na < 0) { printf("  %-5s %-5s %s: no such folder, skipped\n", p->gpu, p->fmt, dname); return 0; }
  snprintf(path, sizeof path, "%s/%s/%s/b_%s_%s.txt", dir, p->gpu, p->fmt, p->gpu, p->fmt);
  int nb = read_lines(path, &lb);
  snprintf(path, sizeof path, "%s/%s/%s/c_%s_fp32.txt", dir, p->gpu, p->fmt, p->gpu);
  int nc = read_lines(path, &lc);
  snprintf(path, sizeof path, "%s/%s/%s/d_%s_%s.txt", dir, p->gpu, p->fmt, p->gpu, dname);
  int nd = read_lines(path, &ld);
  int bad = 0, match = 0, errors = 0;
  if (nb != na || nc != na || nd != na) { printf("  %-5s %-5s %s: files disagree on the row count\n", p->gpu, p->fmt, dname); bad = 1; }
  const cfp8_tc_model *m = acc16 ? &p->m16 : &p->m32;
  for (int r = 0; !bad && r < na; r++) {
    float av[64], bv[64];
    int k = 0, kb = 0;
    char *s = la[r], *e;
    while (k < 64) { unsigned long u = strtoul(s, &e, 16); if (e == s) break; av[k++] = bits_f32((uint32_t)u); s = e; }
    s = lb[r];
    while (kb < 64) { unsigned long u = strtoul(s, &e, 16); if (e == s) break; bv[kb++] = bits_f32((uint32_t)u); s = e; }
    float c = bits_f32((uint32_t)strtoul(lc[r], NULL, 2)), want = bits_f32((uint32_t)strtoul(ld[r], NULL, 2));
    if (acc16 == 0 && p->ignore_c32) c = 0.0f;
    uint8_t sa[256], sb[256];
    int ok = kb == k && k > 0;
    for (int t = 0; ok && t < k; t++) ok = store(av[t], p->in_format, sa, t) && store(bv[t], p->in_format, sb, t);
    float d = 0.0f;
    cfp8_operand oa = {sa, p->in_format, 0, k}, ob = {sb, p->in_format, 0, 1};
    cfp8_epilogue ep = {1.0f, 0.0f, NULL, 1, NULL, &d, CFP8_FORMAT_F32, 1, 1.0f, NULL};
    if (!ok || cfp8_tc_gemm(1, 1, k, &oa, &ob, &c, NULL, m, CFP8_TC_ACCUM_FAST, 0, &ep, isa, 1) != CFP8_OK) { errors++; continue; }
    if (f32_bits(d) == f32_bits(want)) match++;
  }
  printf("  %-5s %-5s %s: %d / %d bit-exact%s\n", p->gpu, p->fmt, dname, match, na, errors ? " (rows that failed to run)" : "");
  free_lines(la, na);
  if (nb >= 0) free_lines(lb, nb);
  if (nc >= 0) free_lines(lc, nc);
  if (nd >= 0) free_lines(ld, nd);
  return bad || errors || match != na;
}

int tc_vectors_run(const char *dir, int32_t isa) {
  int failed = 0;
  printf("real-GPU tensor-core vectors on %s (%s):\n", cfp8_isa_name(isa), dir);
  for (size_t i = 0; i < sizeof plans / sizeof plans[0]; i++) {
    failed += check_file(dir, &plans[i], 0, isa);
    if (plans[i].m16.block_size) failed += check_file(dir, &plans[i], 1, isa);
  }
  printf("real-GPU vectors on %s: %s\n", cfp8_isa_name(isa), failed ? "MISMATCH" : "every row bit-exact");
  return failed;
}
