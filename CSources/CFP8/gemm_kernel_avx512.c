/* AVX-512 GEMM kernels: a 14×32 register-blocked FMA micro-kernel (28 zmm accumulators, two B
 * vectors and a broadcast A element per step), and the skinny-M path that streams a row-major FP8
 * B once, decoding it in registers with VBMI byte permutes. Same FMA chains as the scalar kernel. */
#include "internal.h"
#include "gemm_internal.h"
#if defined(CFP8_X86)
#include "simd.h"
#include <pthread.h>

enum { AMR = 14, ANR = 32 };

CFP8_TARGET_AVX512 static inline void chain14x32(int64_t kc, const float *a, const float *b, __m512 c[AMR][2]) {
  for (int64_t k = 0; k < kc; k++) {
    const __m512 b0 = _mm512_loadu_ps(b + k * ANR), b1 = _mm512_loadu_ps(b + k * ANR + 16);
#pragma clang loop unroll(full)
    for (int r = 0; r < AMR; r++) {
      const __m512 ar = _mm512_set1_ps(a[k * AMR + r]);
      c[r][0] = _mm512_fmadd_ps(ar, b0, c[r][0]);
      c[r][1] = _mm512_fmadd_ps(ar, b1, c[r][1]);
    }
  }
}

CFP8_TARGET_AVX512 static void kernel_avx512(int64_t kc, const float *a, const float *b, float *w, int64_t ldw,
                                             int load, const float *scales) {
  __m512 c[AMR][2];
  if (!scales) {
#pragma clang loop unroll(full)
    for (int r = 0; r < AMR; r++) {
      c[r][0] = load ? _mm512_loadu_ps(w + r * ldw) : _mm512_setzero_ps();
      c[r][1] = load ? _mm512_loadu_ps(w + r * ldw + 16) : _mm512_setzero_ps();
    }
    chain14x32(kc, a, b, c);
#pragma clang loop unroll(full)
    for (int r = 0; r < AMR; r++) {
      _mm512_storeu_ps(w + r * ldw, c[r][0]);
      _mm512_storeu_ps(w + r * ldw + 16, c[r][1]);
    }
    return;
  }
  for (int64_t k0 = 0, q = 0; k0 < kc; k0 += CFP8_GEMM_SCALE_BLOCK, q++) {
    const int64_t len = kc - k0 < CFP8_GEMM_SCALE_BLOCK ? kc - k0 : CFP8_GEMM_SCALE_BLOCK;
#pragma clang loop unroll(full)
    for (int r = 0; r < AMR; r++) c[r][0] = c[r][1] = _mm512_setzero_ps();
    chain14x32(len, a + k0 * AMR, b + k0 * ANR, c);
    const int from_w = load || q > 0;
#pragma clang loop unroll(full)
    for (int r = 0; r < AMR; r++) {
      const __m512 s = _mm512_set1_ps(scales[q * AMR + r]);
      const __m512 o0 = from_w ? _mm512_loadu_ps(w + r * ldw) : _mm512_setzero_ps();
      const __m512 o1 = from_w ? _mm512_loadu_ps(w + r * ldw + 16) : _mm512_setzero_ps();
      _mm512_storeu_ps(w + r * ldw, _mm512_fmadd_ps(s, c[r][0], o0));
      _mm512_storeu_ps(w + r * ldw + 16, _mm512_fmadd_ps(s, c[r][1], o1));
    }
  }
}

void cfp8_gemm_kernel_avx512(cfp8_gemm_kernel_info *info) {
  info->mr = AMR;
  info->nr = ANR;
  info->kernel = kernel_avx512;
}

/* ---- Skinny M ------------------------------------------------------------------------------
 * Every FP8 value is exactly a BF16 value, so decoding is two 128-entry byte lookups (VBMI
 * vpermi2b) giving the high and low bytes of the BF16 pattern, then interleaves that place them in
 * the top half of FP32 lanes. The interleaves permute the 64 columns of a block: vector q lane p
 * holds column 16·(p/4) + 4·q + p%4; the accumulators are stored back through that permutation. */

typedef struct skinny_tables { __m512i hi0, hi1, lo0, lo1, nhi0, nhi1, nlo0, nlo1; int ocp; } skinny_tables;

CFP8_TARGET_AVX512VBMI static inline void decode64(const uint8_t *src, const skinny_tables *t, __m512 f[4]) {
  const __m512i x = _mm512_loadu_si512((const void *)src);
  __m512i hi, lo;
  if (t->ocp) { /* value(b | 0x80) = -value(b): look up the magnitude, copy the sign bit */
    hi = _mm512_permutex2var_epi8(t->hi0, x, t->hi1);
    hi = _mm512_ternarylogic_epi32(hi, x, _mm512_set1_epi8((char)0x80), 0xF8); /* hi | (x & 0x80) */
    lo = _mm512_permutex2var_epi8(t->lo0, x, t->lo1);
  } else {
    const __mmask64 neg = _mm512_movepi8_mask(x);
    hi = _mm512_mask_blend_epi8(neg, _mm512_permutex2var_epi8(t->hi0, x, t->hi1),
                                _mm512_permutex2var_epi8(t->nhi0, x, t->nhi1));
    lo = _mm512_mask_blend_epi8(neg, _mm512_permutex2var_epi8(t->lo0, x, t->lo1),
                                _mm512_permutex2var_epi8(t->nlo0, x, t->nlo1));
  }
  const __m512i w0 = _mm512_unpacklo_epi8(lo, hi), w1 = _mm512_unpackhi_epi8(lo, hi);
  const __m512i z = _mm512_setzero_si512();
  f[0] = _mm512_castsi512_ps(_mm512_unpacklo_epi16(z, w0));
  f[1] = _mm512_castsi512_ps(_mm512_unpackhi_epi16(z, w0));
  f[2] = _mm512_castsi512_ps(_mm512_unpacklo_epi16(z, w1));
  f[3] = _mm512_castsi512_ps(_mm512_unpackhi_epi16(z, w1));
}

enum { SK_PD = 12 };

/* rows R (1..6) of af against a 64-column block for k in [k0, k1); acc has R*4 vectors. */
#define SKINNY_ROWS(R)                                                                                     \
  CFP8_TARGET_AVX512VBMI static void skinny_rows##R(const float *af, int64_t ldaf, const uint8_t *b,       \
                                                    int64_t ldb, int64_t k0, int64_t k1,                   \
                                                    const skinny_tables *t, float *acc, int first,         \
                                                    int64_t prefetch_bytes) {                              \
    __m512 c[R][4];                                                                                        \
    for (int r = 0; r < R; r++)                                                                            \
      for (int q = 0; q < 4; q++) c[r][q] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(acc + (r * 4 + q) * 16); \
    for (int64_t k = k0; k < k1; k++) {                                                                    \
      /* rows are ldb apart (a page or more): fetch a whole super-block row SK_PD rows ahead */            \
      if (prefetch_bytes && k + SK_PD < k1)                                                                \
        for (int64_t o = 0; o < prefetch_bytes; o += 64) _mm_prefetch((const char *)(b + (k + SK_PD) * ldb + o), _MM_HINT_T0); \
      __m512 f[4];                                                                                         \
      decode64(b + k * ldb, t, f);                                                                         \
      for (int r = 0; r < R; r++) {                                                                        \
        const __m512 ar = _mm512_set1_ps(af[r * ldaf + k]);                                                \
        for (int q = 0; q < 4; q++) c[r][q] = _mm512_fmadd_ps(ar, f[q], c[r][q]);                          \
      }                                                                                                    \
    }                                                                                                      \
    for (int r = 0; r < R; r++)                                                                            \
      for (int q = 0; q < 4; q++) _mm512_storeu_ps(acc + (r * 4 + q) * 16, c[r][q]);                       \
  }
SKINNY_ROWS(1)
SKINNY_ROWS(2)
SKINNY_ROWS(3)
SKINNY_ROWS(4)
SKINNY_ROWS(5)
SKINNY_ROWS(6)

typedef void (*skinny_fn)(const float *, int64_t, const uint8_t *, int64_t, int64_t, int64_t, const skinny_tables *,
                          float *, int, int64_t);

enum { SK_KB = 256, SK_NB = 1024, SK_RG = 6 };

CFP8_TARGET_AVX512VBMI static void skinny_body(int64_t m, int64_t n0, int64_t n1, int64_t k, const float *af,
                                               int64_t ldaf, const uint8_t *b, int64_t ldb, int32_t bformat,
                                               float *w, int64_t ldw) {
  const float *table = cfp8_decode_table_f32(bformat);
  uint8_t hb[256], lb[256];
  for (int i = 0; i < 256; i++) {
    const uint32_t u = cfp8_f32_bits(table[i]);
    hb[i] = (uint8_t)(u >> 24);
    lb[i] = (uint8_t)(u >> 16);
  }
  skinny_tables t;
  t.ocp = bformat == CFP8_FORMAT_E4M3 || bformat == CFP8_FORMAT_E5M2;
  t.hi0 = _mm512_loadu_si512((const void *)hb), t.hi1 = _mm512_loadu_si512((const void *)(hb + 64));
  t.lo0 = _mm512_loadu_si512((const void *)lb), t.lo1 = _mm512_loadu_si512((const void *)(lb + 64));
  t.nhi0 = _mm512_loadu_si512((const void *)(hb + 128)), t.nhi1 = _mm512_loadu_si512((const void *)(hb + 192));
  t.nlo0 = _mm512_loadu_si512((const void *)(lb + 128)), t.nlo1 = _mm512_loadu_si512((const void *)(lb + 192));
  static const skinny_fn fns[SK_RG + 1] = {0, skinny_rows1, skinny_rows2, skinny_rows3, skinny_rows4, skinny_rows5,
                                           skinny_rows6};
  /* accumulators of one super-block: [row group][column block][R*4 vectors] */
  float acc[16 * (SK_NB / 64) * 64] __attribute__((aligned(64)));
  uint8_t tail[64] __attribute__((aligned(64)));
  for (int64_t nb = n0; nb < n1; nb += SK_NB) {
    const int64_t nbe = nb + SK_NB < n1 ? nb + SK_NB : n1;
    const int64_t nblocks = (nbe - nb + 63) / 64;
    for (int64_t kb = 0; kb < k || kb == 0; kb += SK_KB) {
      const int64_t ke = kb + SK_KB < k ? kb + SK_KB : k;
      for (int64_t jb = 0; jb < nblocks; jb++) {
        const int64_t j = nb + jb * 64;
        for (int64_t r0 = 0; r0 < m; r0 += SK_RG) {
          const int R = (int)(m - r0 < SK_RG ? m - r0 : SK_RG);
          float *ac = acc + (r0 * (SK_NB / 64) + jb * R) * 64;
          if (j + 64 <= nbe) {
            const int64_t pf = jb == 0 && r0 == 0 ? nbe - nb : 0;
            fns[R](af + r0 * ldaf, ldaf, b + j, ldb, kb, ke, &t, ac, kb == 0, pf);
          } else { /* last partial block: one row at a time through a padded copy */
            const int64_t cols = nbe - j;
            memset(tail, 0, sizeof tail);
            const int first = kb == 0;
            if (first) memset(ac, 0, sizeof(float) * 64 * R);
            for (int64_t kk = kb; kk < ke; kk++) {
              memcpy(tail, b + kk * ldb + j, (size_t)cols);
              fns[R](af + r0 * ldaf, ldaf, tail, 0, kk, kk + 1, &t, ac, 0, 0); /* ldb 0: row kk is tail */
            }
          }
        }
      }
    }
    /* unpermute into w */
    for (int64_t jb = 0; jb < nblocks; jb++) {
      const int64_t j = nb + jb * 64;
      const int64_t cols = nbe - j < 64 ? nbe - j : 64;
      for (int64_t r0 = 0; r0 < m; r0 += SK_RG) {
        const int R = (int)(m - r0 < SK_RG ? m - r0 : SK_RG);
        const float *ac = acc + (r0 * (SK_NB / 64) + jb * R) * 64;
        for (int r = 0; r < R; r++)
          for (int q = 0; q < 4; q++)
            for (int p = 0; p < 16; p++) {
              const int col = 16 * (p / 4) + 4 * q + p % 4;
              if (col < cols) w[(r0 + r) * ldw + j + col] = ac[(r * 4 + q) * 16 + p];
            }
      }
    }
  }
}

int cfp8_gemm_skinny_avx512(int64_t m, int64_t n0, int64_t n1, int64_t k, const float *af, int64_t ldaf,
                            const uint8_t *b, int64_t ldb, int32_t bformat, float *w, int64_t ldw) {
  if (!cfp8_cpu_has_avx512vbmi() || m > 16 || !cfp8_format_is_fp8(bformat) || bformat == CFP8_FORMAT_E8M0) return 0;
  skinny_body(m, n0, n1, k, af, ldaf, b, ldb, bformat, w, ldw);
  return 1;
}
#endif

#if defined(CFP8_X86)
/* Contiguous FP8 → FP32 decode in natural order for packing (same values as the tables): the
 * high and low bytes of each value's BF16 pattern by 256-entry byte lookups, widened to FP32. */
static uint8_t bf16_bytes[4][2][256] __attribute__((aligned(64))); /* [format][high, low][bits] */
static pthread_once_t bf16_once = PTHREAD_ONCE_INIT;
static void build_bf16_bytes(void) {
  for (int f = 0; f < 4; f++) {
    const float *table = cfp8_decode_table_f32(f);
    for (int i = 0; i < 256; i++) {
      const uint32_t u = cfp8_f32_bits(table[i]);
      bf16_bytes[f][0][i] = (uint8_t)(u >> 24);
      bf16_bytes[f][1][i] = (uint8_t)(u >> 16);
    }
  }
}

CFP8_TARGET_AVX512VBMI void cfp8_gemm_decode_fp8_avx512(const uint8_t *src, int64_t n, int32_t format, float *dst) {
  pthread_once(&bf16_once, build_bf16_bytes);
  const uint8_t *hb = bf16_bytes[format][0], *lb = bf16_bytes[format][1];
  const __m512i h0 = _mm512_load_si512((const void *)hb), h1 = _mm512_load_si512((const void *)(hb + 64));
  const __m512i h2 = _mm512_load_si512((const void *)(hb + 128)), h3 = _mm512_load_si512((const void *)(hb + 192));
  const __m512i l0 = _mm512_load_si512((const void *)lb), l1 = _mm512_load_si512((const void *)(lb + 64));
  const __m512i l2 = _mm512_load_si512((const void *)(lb + 128)), l3 = _mm512_load_si512((const void *)(lb + 192));
  int64_t i = 0;
  for (; i < n; i += 64) {
    const int64_t len = n - i < 64 ? n - i : 64;
    const __mmask64 lm = len == 64 ? ~(__mmask64)0 : (((__mmask64)1 << len) - 1);
    const __m512i x = _mm512_maskz_loadu_epi8(lm, src + i);
    const __mmask64 neg = _mm512_movepi8_mask(x);
    const __m512i hi = _mm512_mask_blend_epi8(neg, _mm512_permutex2var_epi8(h0, x, h1), _mm512_permutex2var_epi8(h2, x, h3));
    const __m512i lo = _mm512_mask_blend_epi8(neg, _mm512_permutex2var_epi8(l0, x, l1), _mm512_permutex2var_epi8(l2, x, l3));
    for (int q = 0; q < 4 && q * 16 < len; q++) {
      __m128i h128, l128;
      switch (q) {
      case 0: h128 = _mm512_extracti32x4_epi32(hi, 0); l128 = _mm512_extracti32x4_epi32(lo, 0); break;
      case 1: h128 = _mm512_extracti32x4_epi32(hi, 1); l128 = _mm512_extracti32x4_epi32(lo, 1); break;
      case 2: h128 = _mm512_extracti32x4_epi32(hi, 2); l128 = _mm512_extracti32x4_epi32(lo, 2); break;
      default: h128 = _mm512_extracti32x4_epi32(hi, 3); l128 = _mm512_extracti32x4_epi32(lo, 3); break;
      }
      const __m512i v = _mm512_or_si512(_mm512_slli_epi32(_mm512_cvtepu8_epi32(h128), 24),
                                        _mm512_slli_epi32(_mm512_cvtepu8_epi32(l128), 16));
      const int64_t cnt = len - q * 16 < 16 ? len - q * 16 : 16;
      _mm512_mask_storeu_ps(dst + i + q * 16, (__mmask16)(cnt == 16 ? 0xFFFF : ((1u << cnt) - 1)), _mm512_castsi512_ps(v));
    }
  }
}
#endif

#if defined(CFP8_X86)
/* ---- Skinny M, column-major B (B = Wᵀ with W an N×K row-major weight) -----------------------
 * Column j of B is a contiguous run over k, so the chains over k still need one lane per column:
 * 64-long runs of 16·V columns are decoded into an L1 tile, transposed to [k][column], and R rows
 * × V vectors of accumulators (R·V ≤ 28) run the same FMA chains as every other path. */
enum { ST_KC = 64, ST_PD = 4 };

#define SKINNY_T(R, V)                                                                                    \
  CFP8_TARGET_AVX512 static void skinny_t_##R##x##V(const float *af, int64_t ldaf, const float *tile,    \
                                                    int64_t k0, int64_t kc, float *acc, int first) {      \
    __m512 c[R][V];                                                                                       \
    for (int r = 0; r < R; r++)                                                                           \
      for (int v = 0; v < V; v++) c[r][v] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(acc + (r * V + v) * 16); \
    for (int64_t k = 0; k < kc; k++) {                                                                    \
      __m512 bv[V];                                                                                       \
      for (int v = 0; v < V; v++) bv[v] = _mm512_loadu_ps(tile + k * 16 * V + 16 * v);                   \
      for (int r = 0; r < R; r++) {                                                                       \
        const __m512 ar = _mm512_set1_ps(af[r * ldaf + k0 + k]);                                          \
        for (int v = 0; v < V; v++) c[r][v] = _mm512_fmadd_ps(ar, bv[v], c[r][v]);                        \
      }                                                                                                   \
    }                                                                                                     \
    for (int r = 0; r < R; r++)                                                                           \
      for (int v = 0; v < V; v++) _mm512_storeu_ps(acc + (r * V + v) * 16, c[r][v]);                      \
  }
SKINNY_T(1, 8) SKINNY_T(2, 8) SKINNY_T(3, 8)
SKINNY_T(1, 4) SKINNY_T(2, 4) SKINNY_T(3, 4) SKINNY_T(4, 4) SKINNY_T(5, 4) SKINNY_T(6, 4) SKINNY_T(7, 4)
SKINNY_T(1, 2) SKINNY_T(2, 2) SKINNY_T(3, 2) SKINNY_T(4, 2) SKINNY_T(5, 2) SKINNY_T(6, 2) SKINNY_T(7, 2)
SKINNY_T(8, 2) SKINNY_T(9, 2) SKINNY_T(10, 2) SKINNY_T(11, 2) SKINNY_T(12, 2) SKINNY_T(13, 2) SKINNY_T(14, 2)

typedef void (*skinny_t_fn)(const float *, int64_t, const float *, int64_t, int64_t, float *, int);
static const skinny_t_fn skinny_t_v8[4] = {0, skinny_t_1x8, skinny_t_2x8, skinny_t_3x8};
static const skinny_t_fn skinny_t_v4[8] = {0, skinny_t_1x4, skinny_t_2x4, skinny_t_3x4, skinny_t_4x4,
                                          skinny_t_5x4, skinny_t_6x4, skinny_t_7x4};
static const skinny_t_fn skinny_t_v2[15] = {0, skinny_t_1x2, skinny_t_2x2, skinny_t_3x2, skinny_t_4x2,
                                           skinny_t_5x2, skinny_t_6x2, skinny_t_7x2, skinny_t_8x2,
                                           skinny_t_9x2, skinny_t_10x2, skinny_t_11x2, skinny_t_12x2,
                                           skinny_t_13x2, skinny_t_14x2};

int cfp8_gemm_skinny_t_avx512(int64_t m, int64_t n0, int64_t n1, int64_t k, const float *af, int64_t ldaf,
                              const uint8_t *b, int64_t ldb, int32_t bformat, float *w, int64_t ldw) {
  if (!cfp8_cpu_has_avx512vbmi() || m > 16 || bformat < CFP8_FORMAT_E4M3 || bformat > CFP8_FORMAT_E5M2FNUZ) return 0;
  const int V = m <= 3 ? 8 : m <= 7 ? 4 : 2;
  const int G = V == 8 ? 3 : V == 4 ? 7 : 14;
  const skinny_t_fn *fns = V == 8 ? skinny_t_v8 : V == 4 ? skinny_t_v4 : skinny_t_v2;
  const int width = 16 * V;
  float lines[128][ST_KC] __attribute__((aligned(64)));
  float tile[ST_KC * 128] __attribute__((aligned(64)));
  float acc[16 * 128] __attribute__((aligned(64)));
  for (int64_t j = n0; j < n1; j += width) {
    const int cols = (int)(n1 - j < width ? n1 - j : width);
    for (int64_t kb = 0; kb < k; kb += ST_KC) {
      const int64_t len = k - kb < ST_KC ? k - kb : ST_KC;
      for (int c = 0; c < cols; c++) {
        const uint8_t *col = b + (j + c) * ldb;
        if (kb + (ST_PD + 1) * ST_KC < k) _mm_prefetch((const char *)(col + kb + ST_PD * ST_KC), _MM_HINT_T0);
        cfp8_gemm_decode_fp8_avx512(col + kb, len, bformat, lines[c]);
      }
      for (int64_t kk = 0; kk < len; kk++) {
        for (int c = 0; c < cols; c++) tile[kk * width + c] = lines[c][kk];
        for (int c = cols; c < width; c++) tile[kk * width + c] = 0.0f;
      }
      for (int64_t r0 = 0; r0 < m; r0 += G) {
        const int R = (int)(m - r0 < G ? m - r0 : G);
        fns[R](af + r0 * ldaf, ldaf, tile, kb, len, acc + r0 * width, kb == 0);
      }
    }
    for (int64_t r = 0; r < m; r++)
      for (int c = 0; c < cols; c++) w[r * ldw + j + c] = acc[r * width + c];
  }
  return 1;
}
#endif
