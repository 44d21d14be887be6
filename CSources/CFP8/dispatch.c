/* CPU feature detection (once) and the FP8EMU_ISA override. */
#include "internal.h"
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <strings.h>

static pthread_once_t detect_once = PTHREAD_ONCE_INIT;
static int32_t supported[4];
static int32_t has_vbmi, has_vnni;
static int32_t default_isa = CFP8_ISA_SCALAR;
static char env_error[160];

static int32_t parse_isa(const char *s) {
  if (!strcasecmp(s, "scalar")) return CFP8_ISA_SCALAR;
  if (!strcasecmp(s, "avx2")) return CFP8_ISA_AVX2;
  if (!strcasecmp(s, "avx512")) return CFP8_ISA_AVX512;
  if (!strcasecmp(s, "neon")) return CFP8_ISA_NEON;
  return -2;
}

static void detect(void) {
  supported[CFP8_ISA_SCALAR] = 1;
#if defined(CFP8_X86)
  __builtin_cpu_init();
  supported[CFP8_ISA_AVX2] = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                             __builtin_cpu_supports("f16c") && __builtin_cpu_supports("bmi2");
  supported[CFP8_ISA_AVX512] = supported[CFP8_ISA_AVX2] && __builtin_cpu_supports("avx512f") &&
                               __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
                               __builtin_cpu_supports("avx512dq");
  has_vbmi = supported[CFP8_ISA_AVX512] && __builtin_cpu_supports("avx512vbmi");
  has_vnni = supported[CFP8_ISA_AVX512] && __builtin_cpu_supports("avx512vnni");
#if defined(CFP8_AVX512_VIA_SIMDE)
  /* The AVX-512 kernels run on SIMDe's implementations, which need only the AVX2 the build
   * assumes. CFP8_SIMDE_NO_VBMI_VNNI=1 leaves VBMI and VNNI out (as on Skylake-X), so that the
   * AVX-512 paths for such CPUs run too. */
  supported[CFP8_ISA_AVX512] = supported[CFP8_ISA_AVX2];
  has_vbmi = has_vnni = supported[CFP8_ISA_AVX512] && !getenv("CFP8_SIMDE_NO_VBMI_VNNI");
#endif
#elif defined(CFP8_ARM64)
  supported[CFP8_ISA_NEON] = 1; /* Advanced SIMD is mandatory on AArch64. */
#endif
  int32_t best = CFP8_ISA_SCALAR;
  if (supported[CFP8_ISA_NEON]) best = CFP8_ISA_NEON;
  if (supported[CFP8_ISA_AVX2]) best = CFP8_ISA_AVX2;
  if (supported[CFP8_ISA_AVX512]) best = CFP8_ISA_AVX512;
  default_isa = best;

  const char *env = getenv("FP8EMU_ISA");
  if (env && *env && strcasecmp(env, "auto") != 0) {
    int32_t forced = parse_isa(env);
    if (forced < 0) {
      snprintf(env_error, sizeof env_error,
               "FP8EMU_ISA=%.40s is not one of scalar, avx2, avx512, neon, auto; using %s", env,
               cfp8_isa_name(best));
    } else if (!supported[forced]) {
      snprintf(env_error, sizeof env_error, "FP8EMU_ISA=%s is not supported by this CPU; using %s",
               cfp8_isa_name(forced), cfp8_isa_name(best));
    } else {
      default_isa = forced;
    }
  }
}

int32_t cfp8_isa_supported(int32_t isa) {
  pthread_once(&detect_once, detect);
  return (isa >= 0 && isa <= 3) ? supported[isa] : 0;
}

int32_t cfp8_isa_default(void) {
  pthread_once(&detect_once, detect);
  return default_isa;
}

const char *cfp8_isa_env_error(void) {
  pthread_once(&detect_once, detect);
  return env_error[0] ? env_error : NULL;
}

cfp8_status cfp8_isa_resolve(int32_t isa, int32_t *out) {
  if (!out) return CFP8_ERR_NULL_POINTER;
  if (isa == CFP8_ISA_AUTO) { *out = cfp8_isa_default(); return CFP8_OK; }
  if (isa < 0 || isa > 3) return CFP8_ERR_BAD_ARGUMENT;
  if (!cfp8_isa_supported(isa)) return CFP8_ERR_UNSUPPORTED_ISA;
  *out = isa;
  return CFP8_OK;
}

const char *cfp8_isa_name(int32_t isa) {
  switch (isa) {
  case CFP8_ISA_AUTO: return "auto";
  case CFP8_ISA_SCALAR: return "scalar";
  case CFP8_ISA_AVX2: return "avx2";
  case CFP8_ISA_AVX512: return "avx512";
  case CFP8_ISA_NEON: return "neon";
  default: return "unknown";
  }
}

int32_t cfp8_cpu_has_avx512vbmi(void) { pthread_once(&detect_once, detect); return has_vbmi; }
int32_t cfp8_cpu_has_avx512vnni(void) { pthread_once(&detect_once, detect); return has_vnni; }

int32_t cfp8_max_threads(void) { return (int32_t)omp_get_max_threads(); }

const char *cfp8_status_string(cfp8_status status) {
  switch (status) {
  case CFP8_OK: return "ok";
  case CFP8_ERR_NULL_POINTER: return "a required pointer was NULL";
  case CFP8_ERR_BAD_FORMAT: return "unknown or unsupported element format";
  case CFP8_ERR_BAD_ROUNDING: return "unknown rounding mode";
  case CFP8_ERR_BAD_PRESET: return "unknown overflow preset";
  case CFP8_ERR_BAD_SHAPE: return "invalid or inconsistent dimensions";
  case CFP8_ERR_BAD_STRIDE: return "leading dimension too small";
  case CFP8_ERR_BAD_SCALE: return "scale missing, of the wrong shape, or not finite";
  case CFP8_ERR_SIZE_OVERFLOW: return "size computation would overflow";
  case CFP8_ERR_NO_MEMORY: return "out of memory";
  case CFP8_ERR_UNSUPPORTED_ISA: return "instruction set not supported on this CPU";
  case CFP8_ERR_BAD_ARGUMENT: return "invalid argument";
  default: return "unknown status";
  }
}
