/* The AVX-512 layer kernels (nn_avx512.c) on a CPU without AVX-512: built on SIMDe's portable
 * AVX-512 (nn_avx512_simde.c) and compared with the scalar kernels bit for bit. Element-wise
 * kernels (exp, GELU, GELU', add, FP16/BF16 rounding) on every stride-th FP32 pattern (argument 1,
 * default 257), row kernels (softmax and its backward with every live length, LayerNorm and its
 * backward, log-sum-exp, cross-entropy rows, AdamW) on rows of 1..384 with random and adversarial
 * values. Run by scripts/avx512_simde.sh. */
#include "internal.h"
#include "nn_internal.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
void cfp8_nn_kernels_avx512_simde(cfp8_nn_kernels *k);
static uint64_t st = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) { uint64_t z = (st += 0x9E3779B97F4A7C15ull); z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull; z = (z ^ (z >> 27)) * 0x94D049BB133111EBull; return z ^ (z >> 31); }
static float bf(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static float val(void) {
  uint64_t r = rnd();
  static const float sp[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, 1e-40f, -3e38f, 65520.0f, -16.0f, -10.3f, 88.7f, -0.7518f};
  if ((r & 7) == 0) return sp[(r >> 8) % 12];
  if ((r & 7) == 1) return bf((uint32_t)(r >> 32));
  return (float)((int64_t)(r >> 20) % 2000000) / 250000.0f;
}
static long bad = 0, checked = 0;
/* Internal partials (dgamma/dbeta block sums, the log-sum-exp sum) are not canonicalised (the
 * public outputs they feed are): there any NaN equals any NaN. */
static void cmp(const char *what, const float *a, const float *b, size_t n, long ctx) {
  const int partial = strstr(what, "partial") || strstr(what, "logsumexp sum");
  checked += (long)n;
  for (size_t i = 0; i < n; i++) {
    uint32_t x, y; memcpy(&x, a + i, 4); memcpy(&y, b + i, 4);
    if (partial && a[i] != a[i] && b[i] != b[i]) continue;
    if (x != y) { if (bad++ < 20) printf("MISMATCH %s (%ld) at %zu: scalar %08x avx512 %08x\n", what, ctx, i, x, y); }
  }
}
int main(int argc, char **argv) {
  uint32_t stride = argc > 1 ? (uint32_t)atoi(argv[1]) : 257;
  cfp8_nn_kernels s, v;
  cfp8_nn_kernels_scalar(&s);
  cfp8_nn_kernels_avx512_simde(&v);
  enum { B = 1 << 16 };
  float *x = malloc(B * 4), *o = malloc(B * 4), *ys = malloc(B * 4), *yv = malloc(B * 4);
  for (uint64_t base = 0; base < (1ull << 32); base += (uint64_t)B * stride) {
    size_t n = 0;
    for (uint64_t q = base; q < (1ull << 32) && n < B; q += stride) x[n++] = bf((uint32_t)q);
    for (size_t i = 0; i < n; i++) o[i] = val();
    s.exp(x, ys, n); v.exp(x, yv, n); cmp("exp", ys, yv, n, (long)base);
    s.gelu(x, ys, n); v.gelu(x, yv, n); cmp("gelu", ys, yv, n, (long)base);
    s.gelu_backward(o, x, ys, n); v.gelu_backward(o, x, yv, n); cmp("gelu_backward", ys, yv, n, (long)base);
    for (int r = 0; r < 3; r++) {
      s.add(x, o, ys, n, r); v.add(x, o, yv, n, r); cmp("add", ys, yv, n, r);
      memcpy(ys, x, n * 4); memcpy(yv, x, n * 4); s.round(ys, n, r); v.round(yv, n, r); cmp("round", ys, yv, n, r);
    }
  }
  /* rows */
  static const int lens[] = {1, 2, 3, 7, 15, 16, 17, 31, 32, 33, 47, 63, 64, 65, 70, 129, 256, 384};
  float row[4][400], out[2][400 * 4];
  for (int li = 0; li < 18; li++) {
    const int L = lens[li];
    for (int rep = 0; rep < 40; rep++) {
      for (int q = 0; q < 4; q++) for (int j = 0; j < L; j++) row[q][j] = (rep & 1) ? val() : (float)((int64_t)(rnd() >> 20) % 2000000) / 250000.0f;
      for (int len = 1; len <= L; len += (L > 40 ? 13 : 1)) {
        for (int r = 0; r < 3; r++) {
          memset(out, 0, sizeof out);
          s.softmax_row(row[0], out[0], len, L, 0.125f, r); v.softmax_row(row[0], out[1], len, L, 0.125f, r);
          cmp("softmax_row", out[0], out[1], L, L * 1000 + len);
        }
        s.softmax_backward_row(row[0], row[1], out[0], len, L, 0.5f); v.softmax_backward_row(row[0], row[1], out[1], len, L, 0.5f);
        cmp("softmax_backward_row", out[0], out[1], L, L);
      }
      float ms[2], rs[2];
      for (int r = 0; r < 3; r++) {
        s.layernorm_row(row[0], row[1], row[2], L, 1e-5f, r, out[0], &ms[0], &rs[0]);
        v.layernorm_row(row[0], row[1], row[2], L, 1e-5f, r, out[1], &ms[1], &rs[1]);
        cmp("layernorm_row", out[0], out[1], L, L); cmp("layernorm mean", ms, ms + 1, 1, L); cmp("layernorm rstd", rs, rs + 1, 1, L);
      }
      float pg[2][400], pb[2][400];
      for (int j = 0; j < L; j++) pg[0][j] = pg[1][j] = row[3][j], pb[0][j] = pb[1][j] = row[2][j];
      s.layernorm_backward_row(row[1], row[0], ms[0], rs[0], row[2], L, out[0], pg[0], pb[0]);
      v.layernorm_backward_row(row[1], row[0], ms[0], rs[0], row[2], L, out[1], pg[1], pb[1]);
      cmp("layernorm_backward_row dx", out[0], out[1], L, L); cmp("dgamma partial", pg[0], pg[1], L, L); cmp("dbeta partial", pb[0], pb[1], L, L);
      float mx[2], z[2];
      s.logsumexp_row(row[0], L, &mx[0], &z[0]); v.logsumexp_row(row[0], L, &mx[1], &z[1]);
      cmp("logsumexp max", mx, mx + 1, 1, L); cmp("logsumexp sum", z, z + 1, 1, L);
      const int t = (int)(rnd() % (uint64_t)L);
      s.cross_entropy_row(row[0], L, 1.5f, 0.25f, t, 4.0f, out[0]); v.cross_entropy_row(row[0], L, 1.5f, 0.25f, t, 4.0f, out[1]);
      cmp("cross_entropy_row", out[0], out[1], L, L);
      cfp8_adamw_step as = {1e-3f, 0.9f, 0.95f, 1e-8f, (rep & 2) ? 0.1f : 0.0f, 0.19f, 0.0975f};
      float p2[2][400], m2[2][400], v2[2][400];
      for (int j = 0; j < L; j++) for (int k = 0; k < 2; k++) p2[k][j] = row[0][j], m2[k][j] = row[1][j], v2[k][j] = row[2][j] * row[2][j];
      s.adamw(p2[0], m2[0], v2[0], row[3], L, &as); v.adamw(p2[1], m2[1], v2[1], row[3], L, &as);
      cmp("adamw p", p2[0], p2[1], L, L); cmp("adamw m", m2[0], m2[1], L, L); cmp("adamw v", v2[0], v2[1], L, L);
    }
  }
  printf("%ld outputs compared, %ld mismatches: %s\n", checked, bad, bad ? "FAIL" : "OK: AVX-512 (via SIMDe) equals scalar");
  return bad != 0;
}
