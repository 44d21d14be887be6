/* Bulk conversion driver: argument checks, the ISA's kernels (convert_<isa>.c), OpenMP split
 * above a size threshold, and the exhaustive sweep that compares every SIMD path with the scalar
 * reference. */
#include "internal.h"
#include "kernels.h"
#include <stdlib.h>

static int src_ok(int32_t f) { return f == CFP8_FORMAT_F32 || f == CFP8_FORMAT_F16 || f == CFP8_FORMAT_BF16; }

/* One contiguous piece on one thread: s and d point at element index0 of the call. */
static void encode_piece(const void *s, int32_t src_format, uint8_t *d, size_t n, size_t index0,
                         const cfp8_convert_kernels *k, int32_t preset, const cfp8_enc_plan *p) {
  const int done = p->dst_format != CFP8_FORMAT_E8M0 && k->encode && k->encode(s, src_format, d, n, index0, p);
  if (!done) cfp8_enc_scalar(s, src_format, d, n, index0, preset, p);
}

cfp8_status cfp8_encode(const void *src, int32_t src_format, uint8_t *dst, int32_t dst_format, size_t n,
                        const cfp8_encode_options *options) {
  if (!options || (n && (!src || !dst))) return CFP8_ERR_NULL_POINTER;
  if (!src_ok(src_format) || !cfp8_format_is_fp8(dst_format)) return CFP8_ERR_BAD_FORMAT;
  const int32_t r = options->rounding;
  if (dst_format == CFP8_FORMAT_E8M0) {
    if (r != CFP8_ROUND_NEAREST_EVEN && r != CFP8_ROUND_TOWARD_ZERO && r != CFP8_ROUND_UP) return CFP8_ERR_BAD_ROUNDING;
  } else if (r < 0 || r > 2) {
    return CFP8_ERR_BAD_ROUNDING;
  }
  if (options->preset < 0 || options->preset > 3) return CFP8_ERR_BAD_PRESET;
  if (n > SIZE_MAX / 4) return CFP8_ERR_SIZE_OVERFLOW;
  const cfp8_kernels *kern;
  cfp8_status st = cfp8_kernels_resolve(options->isa, &kern);
  if (st != CFP8_OK) return st;
  const cfp8_convert_kernels *k = &kern->convert;
  cfp8_enc_plan p;
  if (dst_format == CFP8_FORMAT_E8M0) {
    p = (cfp8_enc_plan){.dst_format = dst_format, .rounding = r};
  } else {
    cfp8_enc_plan_init(&p, dst_format, r, options->preset, options->seed, options->random_bits);
  }
  if (n < CFP8_PARALLEL_THRESHOLD || options->threads == 1) {
    encode_piece(src, src_format, dst, n, 0, k, options->preset, &p);
    return CFP8_OK;
  }
  const size_t es = (size_t)cfp8_format_size(src_format);
  const size_t block = 1 << 16; /* pieces are multiples of 64 KiElements: no shared cache lines */
  const size_t blocks = (n + block - 1) / block;
  const int32_t preset = options->preset;
#pragma omp parallel for schedule(static) num_threads(cfp8_threads(options->threads))
  for (size_t b = 0; b < blocks; b++) {
    const size_t i0 = b * block, len = n - i0 < block ? n - i0 : block;
    encode_piece((const char *)src + i0 * es, src_format, dst + i0, len, i0, k, preset, &p);
  }
  return CFP8_OK;
}

static void decode_piece(const uint8_t *src, int32_t src_format, void *dst, int32_t dst_format, size_t n,
                         const cfp8_convert_kernels *k) {
  if (!(k->decode && k->decode(src, src_format, dst, dst_format, n))) cfp8_dec_scalar(src, src_format, dst, dst_format, n);
}

cfp8_status cfp8_decode(const uint8_t *src, int32_t src_format, void *dst, int32_t dst_format, size_t n,
                        int32_t isa, int32_t threads) {
  if (n && (!src || !dst)) return CFP8_ERR_NULL_POINTER;
  if (!cfp8_format_is_fp8(src_format) || !src_ok(dst_format)) return CFP8_ERR_BAD_FORMAT;
  if (n > SIZE_MAX / 4) return CFP8_ERR_SIZE_OVERFLOW;
  const cfp8_kernels *kern;
  cfp8_status st = cfp8_kernels_resolve(isa, &kern);
  if (st != CFP8_OK) return st;
  const cfp8_convert_kernels *k = &kern->convert;
  const size_t es = (size_t)cfp8_format_size(dst_format);
  if (n < CFP8_PARALLEL_THRESHOLD || threads == 1) {
    decode_piece(src, src_format, dst, dst_format, n, k);
    return CFP8_OK;
  }
  const size_t block = 1 << 16;
  const size_t blocks = (n + block - 1) / block;
#pragma omp parallel for schedule(static) num_threads(cfp8_threads(threads))
  for (size_t b = 0; b < blocks; b++) {
    const size_t i0 = b * block, len = n - i0 < block ? n - i0 : block;
    decode_piece(src + i0, src_format, (char *)dst + i0 * es, dst_format, len, k);
  }
  return CFP8_OK;
}

/* ---- Exhaustive sweep ---------------------------------------------------------------------- */

/* Smallest FP32 magnitude bits at or above which a result can be an overflow for `format`
 * (half an ulp below the overflow threshold of RNE, minus margin): presets may differ only there. */
static uint32_t special_threshold_f32(int32_t format) {
  switch (format) {
  case CFP8_FORMAT_E4M3: return 0x43E00000u;     /* 448 */
  case CFP8_FORMAT_E4M3FNUZ: return 0x43700000u; /* 240 */
  default: return 0x47600000u;                   /* 57344 */
  }
}

static uint32_t pattern_abs_f32(int32_t src_format, uint64_t v) {
  if (src_format == CFP8_FORMAT_F32) return (uint32_t)v & 0x7FFFFFFFu;
  if (src_format == CFP8_FORMAT_BF16) return ((uint32_t)v << 16) & 0x7FFFFFFFu;
  /* F16: the exact FP32 image of normal values; subnormals are far below any threshold */
  const uint32_t h = (uint32_t)v & 0x7FFF;
  if (h >= 0x7C00) return 0x7F800000u | (h & 0x3FF);
  return h >= 0x0400 ? (h << 13) + (112u << 23) : 0;
}

cfp8_status cfp8_sweep_compare(int32_t src_format, int32_t dst_format, int32_t rounding, uint32_t preset_mask,
                               const int32_t *isas, int32_t isa_count, uint64_t begin, uint64_t end, uint64_t seed,
                               int32_t threads, uint64_t *mismatches, uint64_t *first) {
  if (!isas || !mismatches || !first) return CFP8_ERR_NULL_POINTER;
  if (!src_ok(src_format) || !cfp8_format_is_fp8(dst_format)) return CFP8_ERR_BAD_FORMAT;
  if (isa_count < 1 || isa_count > 8 || (preset_mask & 0xF) == 0 || preset_mask > 0xF) return CFP8_ERR_BAD_ARGUMENT;
  const uint64_t limit = src_format == CFP8_FORMAT_F32 ? (1ull << 32) : (1ull << 16);
  if (begin > end || end > limit) return CFP8_ERR_BAD_ARGUMENT;
  const cfp8_convert_kernels *paths[8];
  for (int k = 0; k < isa_count; k++) {
    const cfp8_kernels *kern;
    if (isas[k] == CFP8_ISA_AUTO || cfp8_kernels_resolve(isas[k], &kern) != CFP8_OK) return CFP8_ERR_UNSUPPORTED_ISA;
    paths[k] = &kern->convert;
  }
  const cfp8_sweep_ref_fn reference = cfp8_kernels_best()->convert.sweep_reference;
  if (dst_format == CFP8_FORMAT_E8M0) {
    if (rounding != CFP8_ROUND_NEAREST_EVEN && rounding != CFP8_ROUND_TOWARD_ZERO && rounding != CFP8_ROUND_UP)
      return CFP8_ERR_BAD_ROUNDING;
  } else if (rounding < 0 || rounding > 2) {
    return CFP8_ERR_BAD_ROUNDING;
  }
  for (int i = 0; i < 4 * isa_count; i++) { mismatches[i] = 0; first[i] = UINT64_MAX; }
  int first_preset = 0;
  while (!(preset_mask & (1u << first_preset))) first_preset++;
  const uint32_t key = cfp8_seed_key(seed);
  /* Toward zero keeps finite overflow finite, so only Inf/NaN consult the preset there. */
  const uint32_t thr = rounding == CFP8_ROUND_TOWARD_ZERO ? 0x7F800000u : special_threshold_f32(dst_format);
  const size_t chunk = 1 << 16;
  const uint64_t chunks = (end - begin + chunk - 1) / chunk;
  const size_t es = (size_t)cfp8_format_size(src_format);
  cfp8_status status = CFP8_OK;
#pragma omp parallel num_threads(cfp8_threads(threads))
  {
    uint64_t local_mm[32] = {0}, local_first[32];
    for (int i = 0; i < 32; i++) local_first[i] = UINT64_MAX;
    void *in = malloc(chunk * 4);
    uint8_t *ref = malloc(chunk), *ref_p = malloc(chunk), *out = malloc(chunk);
    uint32_t *rnd = malloc(chunk * 4);
    if (!in || !ref || !ref_p || !out || !rnd) {
#pragma omp atomic write
      status = CFP8_ERR_NO_MEMORY;
    } else {
#pragma omp for schedule(static, 1)
      for (uint64_t c = 0; c < chunks; c++) {
        const uint64_t b0 = begin + c * chunk;
        const size_t len = (size_t)((end - b0) < chunk ? (end - b0) : chunk);
        for (size_t i = 0; i < len; i++) {
          const uint64_t v = b0 + i;
          if (es == 4) ((uint32_t *)in)[i] = (uint32_t)v; else ((uint16_t *)in)[i] = (uint16_t)v;
        }
        /* FP32 to an OCP/FNUZ format: the reference loop compiled for speed (same C source). */
        const int fast_ref = src_format == CFP8_FORMAT_F32 && dst_format != CFP8_FORMAT_E8M0;
        if (rounding == CFP8_ROUND_STOCHASTIC && !fast_ref) /* the reference uses the bits the seed gives */
          for (size_t i = 0; i < len; i++) rnd[i] = cfp8_sr_bits(key, b0 + i);
        /* Reference for the first preset, element by element. */
        cfp8_enc_plan rp;
        if (dst_format == CFP8_FORMAT_E8M0) rp = (cfp8_enc_plan){.dst_format = dst_format, .rounding = rounding};
        else cfp8_enc_plan_init(&rp, dst_format, rounding, first_preset, 0, rnd);
        rp.random_bits = rnd;
        if (fast_ref) reference((const uint32_t *)in, ref, len, (size_t)b0, dst_format, rounding, first_preset, key, rnd);
        else cfp8_enc_scalar(in, src_format, ref, len, 0, first_preset, &rp);
        for (int pr = first_preset; pr < 4; pr++) {
          if (!(preset_mask & (1u << pr))) continue;
          const uint8_t *want = ref;
          if (pr != first_preset) {
            cfp8_enc_plan pp;
            if (dst_format == CFP8_FORMAT_E8M0) pp = rp; else cfp8_enc_plan_init(&pp, dst_format, rounding, pr, 0, rnd);
            pp.random_bits = rnd;
            /* Chunks are aligned ranges of one sign, so |pattern| is increasing within a chunk for
             * F32/BF16: whole chunks below the threshold keep the first preset's reference. */
            const int below_all = src_format != CFP8_FORMAT_F16 && pattern_abs_f32(src_format, b0 + len - 1) < thr;
            if (!below_all && fast_ref) {
              /* the whole chunk again with this preset (rnd already holds the bits) */
              reference((const uint32_t *)in, ref_p, len, (size_t)b0, dst_format, rounding, pr, key, rnd);
              want = ref_p;
            } else if (!below_all) {
              memcpy(ref_p, ref, len);
              for (size_t i = 0; i < len; i++)
                if (pattern_abs_f32(src_format, b0 + i) >= thr)
                  cfp8_enc_scalar((const char *)in + i * es, src_format, ref_p + i, 1, i, pr, &pp);
              want = ref_p;
            }
          }
          for (int k = 0; k < isa_count; k++) {
            /* The path computes its own bits from the seed, with the element index = the pattern. */
            cfp8_enc_plan xp;
            if (dst_format == CFP8_FORMAT_E8M0) xp = rp; else cfp8_enc_plan_init(&xp, dst_format, rounding, pr, seed, NULL);
            encode_piece(in, src_format, out, len, (size_t)b0, paths[k], pr, &xp);
            const int slot = pr * isa_count + k;
            if (memcmp(out, want, len) == 0) continue;
            for (size_t i = 0; i < len; i++) {
              if (out[i] != want[i]) {
                if (local_first[slot] == UINT64_MAX || b0 + i < local_first[slot]) local_first[slot] = b0 + i;
                local_mm[slot]++;
              }
            }
          }
        }
      }
#pragma omp critical(cfp8_sweep_merge)
      for (int i = 0; i < 4 * isa_count; i++) {
        mismatches[i] += local_mm[i];
        if (local_first[i] < first[i]) first[i] = local_first[i];
      }
    }
    free(in); free(ref); free(ref_p); free(out); free(rnd);
  }
  return status;
}
