/* fp8emu._cfp8: the CPython binding of the C kernels (CSources/CFP8, public header only).
 *
 * Deliberately thin: every function takes plain integers and memory, and the Python layer
 * (fp8emu/*.py) checks shapes, dtypes and layouts. A memory argument is either an object with the
 * buffer protocol (numpy arrays, bytes, mmap) or an integer address (torch's data_ptr()), so that
 * no operand is ever copied on the way in or out. The GIL is released while a kernel runs. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "cfp8.h"

/* Up to this many buffers are held during one call. */
#define MAX_VIEWS 8

typedef struct {
  Py_buffer views[MAX_VIEWS];
  int count;
} held_views;

static void release_views(held_views *h) {
  for (int i = 0; i < h->count; i++) PyBuffer_Release(&h->views[i]);
  h->count = 0;
}

/* An address from None (NULL), an int, or a buffer (held until release_views). */
static int get_pointer(PyObject *obj, int writable, held_views *h, void **out) {
  if (obj == Py_None) { *out = NULL; return 0; }
  if (PyLong_Check(obj)) {
    *out = PyLong_AsVoidPtr(obj);
    return PyErr_Occurred() ? -1 : 0;
  }
  if (h->count >= MAX_VIEWS) { PyErr_SetString(PyExc_RuntimeError, "too many buffers"); return -1; }
  Py_buffer *v = &h->views[h->count];
  if (PyObject_GetBuffer(obj, v, writable ? PyBUF_STRIDED : PyBUF_STRIDED_RO) < 0) return -1;
  h->count++;
  *out = v->buf;
  return 0;
}

static int get_i64(PyObject *obj, int64_t *out) {
  long long v = PyLong_AsLongLong(obj);
  if (v == -1 && PyErr_Occurred()) return -1;
  *out = (int64_t)v;
  return 0;
}

static int get_i32(PyObject *obj, int32_t *out) {
  long v = PyLong_AsLong(obj);
  if (v == -1 && PyErr_Occurred()) return -1;
  if (v < INT32_MIN || v > INT32_MAX) { PyErr_SetString(PyExc_OverflowError, "value out of int32 range"); return -1; }
  *out = (int32_t)v;
  return 0;
}

static int get_f32(PyObject *obj, float *out) {
  double v = PyFloat_AsDouble(obj);
  if (v == -1.0 && PyErr_Occurred()) return -1;
  *out = (float)v;
  return 0;
}

static PyObject *status_error(cfp8_status st) {
  PyErr_Format(PyExc_ValueError, "%s", cfp8_status_string(st));
  return NULL;
}

static PyObject *finish(held_views *h, cfp8_status st) {
  release_views(h);
  if (st) return status_error(st);
  Py_RETURN_NONE;
}

static PyObject *fail(held_views *h) {
  release_views(h);
  return NULL;
}

/* Runs a kernel call without the GIL, then releases the buffers and reports its status. */
#define RUN_KERNEL(h, call)                                                                        \
  do {                                                                                             \
    cfp8_status st_;                                                                               \
    Py_BEGIN_ALLOW_THREADS st_ = (call);                                                           \
    Py_END_ALLOW_THREADS return finish((h), st_);                                                  \
  } while (0)

static int check_nargs(const char *name, Py_ssize_t got, Py_ssize_t want) {
  if (got == want) return 0;
  PyErr_Format(PyExc_TypeError, "%s takes %zd arguments (%zd given)", name, want, got);
  return -1;
}

/* encode(src, src_format, dst, dst_format, n, rounding, preset, seed, random_bits, isa, threads) */
static PyObject *py_encode(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  if (check_nargs("encode", nargs, 11)) return NULL;
  held_views h = {.count = 0};
  void *src, *dst, *rnd;
  int32_t sf, df, rounding, preset, isa, threads;
  int64_t n;
  unsigned long long seed;
  if (get_pointer(args[0], 0, &h, &src) || get_i32(args[1], &sf) || get_pointer(args[2], 1, &h, &dst) ||
      get_i32(args[3], &df) || get_i64(args[4], &n) || get_i32(args[5], &rounding) || get_i32(args[6], &preset))
    return fail(&h);
  seed = PyLong_AsUnsignedLongLongMask(args[7]);
  if (PyErr_Occurred() || get_pointer(args[8], 0, &h, &rnd) || get_i32(args[9], &isa) || get_i32(args[10], &threads))
    return fail(&h);
  if (n < 0) { PyErr_SetString(PyExc_ValueError, "negative length"); return fail(&h); }
  cfp8_encode_options o = {.rounding = rounding, .preset = preset, .seed = seed, .random_bits = rnd, .isa = isa,
                           .threads = threads};
  RUN_KERNEL(&h, cfp8_encode(src, sf, dst, df, (size_t)n, &o));
}

/* decode(src, src_format, dst, dst_format, n, isa, threads) */
static PyObject *py_decode(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  if (check_nargs("decode", nargs, 7)) return NULL;
  held_views h = {.count = 0};
  void *src, *dst;
  int32_t sf, df, isa, threads;
  int64_t n;
  if (get_pointer(args[0], 0, &h, &src) || get_i32(args[1], &sf) || get_pointer(args[2], 1, &h, &dst) ||
      get_i32(args[3], &df) || get_i64(args[4], &n) || get_i32(args[5], &isa) || get_i32(args[6], &threads))
    return fail(&h);
  if (n < 0) { PyErr_SetString(PyExc_ValueError, "negative length"); return fail(&h); }
  RUN_KERNEL(&h, cfp8_decode(src, sf, dst, df, (size_t)n, isa, threads));
}

/* tc_gemm(m, n, k,
 *         a, a_format, a_transposed, a_ld, b, b_format, b_transposed, b_ld, acc_init,
 *         scaling_mode, a_scales, b_scales, a_mx, b_mx,
 *         model (None or (L, F, min_exponent, accumulator, c_mode)), accumulation, promotion_interval,
 *         bias, d, d_format, ldd, d_scale, isa, threads) */
static PyObject *py_tc_gemm(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  if (check_nargs("tc_gemm", nargs, 27)) return NULL;
  held_views h = {.count = 0};
  int64_t m, n, k, lda, ldb, ldd;
  int32_t fa, fb, ta, tb, mode, accumulation, interval, df, isa, threads;
  void *pa, *pb, *pinit, *psa, *psb, *pma, *pmb, *pbias, *pd;
  float d_scale;
  cfp8_tc_model model = {0};
  int has_model = args[17] != Py_None;
  if (get_i64(args[0], &m) || get_i64(args[1], &n) || get_i64(args[2], &k) || get_pointer(args[3], 0, &h, &pa) ||
      get_i32(args[4], &fa) || get_i32(args[5], &ta) || get_i64(args[6], &lda) || get_pointer(args[7], 0, &h, &pb) ||
      get_i32(args[8], &fb) || get_i32(args[9], &tb) || get_i64(args[10], &ldb) ||
      get_pointer(args[11], 0, &h, &pinit) || get_i32(args[12], &mode) || get_pointer(args[13], 0, &h, &psa) ||
      get_pointer(args[14], 0, &h, &psb) || get_pointer(args[15], 0, &h, &pma) || get_pointer(args[16], 0, &h, &pmb))
    return fail(&h);
  if (has_model) {
    if (!PyTuple_Check(args[17]) || PyTuple_GET_SIZE(args[17]) != 5) {
      PyErr_SetString(PyExc_TypeError, "model must be a 5-tuple");
      return fail(&h);
    }
    PyObject *const *t = &PyTuple_GET_ITEM(args[17], 0);
    if (get_i32(t[0], &model.block_size) || get_i32(t[1], &model.fraction_bits) || get_i32(t[2], &model.min_exponent) ||
        get_i32(t[3], &model.accumulator) || get_i32(t[4], &model.c_mode))
      return fail(&h);
  }
  if (get_i32(args[18], &accumulation) || get_i32(args[19], &interval) || get_pointer(args[20], 0, &h, &pbias) ||
      get_pointer(args[21], 1, &h, &pd) || get_i32(args[22], &df) || get_i64(args[23], &ldd) ||
      get_f32(args[24], &d_scale) || get_i32(args[25], &isa) || get_i32(args[26], &threads))
    return fail(&h);
  cfp8_operand a = {.data = pa, .format = fa, .transposed = ta, .ld = lda};
  cfp8_operand b = {.data = pb, .format = fb, .transposed = tb, .ld = ldb};
  cfp8_scaling sc = {.mode = mode, .a_scales = psa, .b_scales = psb, .a_mx = pma, .b_mx = pmb};
  cfp8_epilogue ep = {.alpha = 1.0f, .beta = 0.0f, .c = NULL, .ldc = 0, .bias = pbias, .d = pd, .d_format = df,
                      .ldd = ldd, .d_scale = d_scale, .amax_out = NULL};
  RUN_KERNEL(&h, cfp8_tc_gemm(m, n, k, &a, &b, pinit, &sc, has_model ? &model : NULL, accumulation,
                                          interval, &ep, isa, threads));
}

/* quantize(x, src_format, rows, cols, format, granularity, mx_rule, q, scales, mx_scales, isa, threads) */
static PyObject *py_quantize(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  if (check_nargs("quantize", nargs, 12)) return NULL;
  held_views h = {.count = 0};
  void *x, *q, *s, *mx;
  int32_t sf, fmt, g, rule, isa, threads;
  int64_t rows, cols;
  if (get_pointer(args[0], 0, &h, &x) || get_i32(args[1], &sf) || get_i64(args[2], &rows) || get_i64(args[3], &cols) ||
      get_i32(args[4], &fmt) || get_i32(args[5], &g) || get_i32(args[6], &rule) || get_pointer(args[7], 1, &h, &q) ||
      get_pointer(args[8], 1, &h, &s) || get_pointer(args[9], 1, &h, &mx) || get_i32(args[10], &isa) ||
      get_i32(args[11], &threads))
    return fail(&h);
  cfp8_quantize_options o = {.format = fmt, .granularity = g, .mx_rule = rule, .isa = isa, .threads = threads};
  RUN_KERNEL(&h, cfp8_quantize(x, sf, rows, cols, &o, q, s, mx));
}

/* dequantize(q, format, rows, cols, granularity, scales, mx_scales, out, out_format, isa, threads) */
static PyObject *py_dequantize(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  if (check_nargs("dequantize", nargs, 11)) return NULL;
  held_views h = {.count = 0};
  void *q, *s, *mx, *out;
  int32_t fmt, g, of, isa, threads;
  int64_t rows, cols;
  if (get_pointer(args[0], 0, &h, &q) || get_i32(args[1], &fmt) || get_i64(args[2], &rows) || get_i64(args[3], &cols) ||
      get_i32(args[4], &g) || get_pointer(args[5], 0, &h, &s) || get_pointer(args[6], 0, &h, &mx) ||
      get_pointer(args[7], 1, &h, &out) || get_i32(args[8], &of) || get_i32(args[9], &isa) || get_i32(args[10], &threads))
    return fail(&h);
  RUN_KERNEL(&h, cfp8_dequantize(q, fmt, rows, cols, g, s, mx, out, of, isa, threads));
}

static PyObject *py_isa_supported(PyObject *self, PyObject *arg) {
  int32_t isa;
  if (get_i32(arg, &isa)) return NULL;
  return PyBool_FromLong(cfp8_isa_supported(isa));
}

static PyObject *py_isa_default(PyObject *self, PyObject *unused) { return PyLong_FromLong(cfp8_isa_default()); }

static PyObject *py_isa_env_error(PyObject *self, PyObject *unused) {
  const char *e = cfp8_isa_env_error();
  if (!e) Py_RETURN_NONE;
  return PyUnicode_FromString(e);
}

static PyObject *py_max_threads(PyObject *self, PyObject *unused) { return PyLong_FromLong(cfp8_max_threads()); }

static PyObject *py_stochastic_bits(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  if (check_nargs("stochastic_bits", nargs, 2)) return NULL;
  unsigned long long seed = PyLong_AsUnsignedLongLongMask(args[0]), index = PyLong_AsUnsignedLongLongMask(args[1]);
  if (PyErr_Occurred()) return NULL;
  return PyLong_FromUnsignedLong(cfp8_stochastic_bits(seed, index));
}

static PyMethodDef methods[] = {
    {"encode", (PyCFunction)(void (*)(void))py_encode, METH_FASTCALL, "cfp8_encode"},
    {"decode", (PyCFunction)(void (*)(void))py_decode, METH_FASTCALL, "cfp8_decode"},
    {"tc_gemm", (PyCFunction)(void (*)(void))py_tc_gemm, METH_FASTCALL, "cfp8_tc_gemm"},
    {"quantize", (PyCFunction)(void (*)(void))py_quantize, METH_FASTCALL, "cfp8_quantize"},
    {"dequantize", (PyCFunction)(void (*)(void))py_dequantize, METH_FASTCALL, "cfp8_dequantize"},
    {"stochastic_bits", (PyCFunction)(void (*)(void))py_stochastic_bits, METH_FASTCALL, "cfp8_stochastic_bits"},
    {"isa_supported", py_isa_supported, METH_O, "cfp8_isa_supported"},
    {"isa_default", py_isa_default, METH_NOARGS, "cfp8_isa_default"},
    {"isa_env_error", py_isa_env_error, METH_NOARGS, "cfp8_isa_env_error"},
    {"max_threads", py_max_threads, METH_NOARGS, "cfp8_max_threads"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_cfp8", "The C kernels of fp8emu (CFP8).", -1, methods};

PyMODINIT_FUNC PyInit__cfp8(void) {
  PyObject *m = PyModule_Create(&module);
  if (!m) return NULL;
  /* The header's constants, so that the Python layer never restates them: C(NAME) is CFP8_NAME. */
#define C(name) {#name, (long)CFP8_##name}
  static const struct { const char *name; long value; } constants[] = {
      C(FORMAT_E4M3), C(FORMAT_E5M2), C(FORMAT_E4M3FNUZ), C(FORMAT_E5M2FNUZ),
      C(FORMAT_E8M0), C(FORMAT_F16), C(FORMAT_BF16), C(FORMAT_F32),
      C(ROUND_NEAREST_EVEN), C(ROUND_TOWARD_ZERO), C(ROUND_STOCHASTIC), C(ROUND_UP),
      C(PRESET_CUDA_SATFINITE), C(PRESET_CUDA_NOSAT), C(PRESET_ML_DTYPES), C(PRESET_PYTORCH),
      C(ISA_AUTO), C(ISA_SCALAR), C(ISA_AVX2), C(ISA_AVX512), C(ISA_NEON),
      C(SCALING_NONE), C(SCALING_TENSOR), C(SCALING_ROWWISE), C(SCALING_BLOCK), C(SCALING_MX),
      C(TC_ACC_F32), C(TC_ACC_F16),
      C(TC_C_FUSED), C(TC_C_ADDED), C(TC_C_ADDED_HALVES),
      C(TC_NO_MIN_EXPONENT),
      C(TC_ACCUM_FAST), C(TC_ACCUM_PROMOTED), C(TC_ACCUM_IDEAL), C(TC_ACCUM_EXACT),
      C(GRANULARITY_TENSOR), C(GRANULARITY_ROW), C(GRANULARITY_BLOCK128), C(GRANULARITY_MX32),
      C(MX_FLOOR), C(MX_ROUND_UP),
      C(PARALLEL_THRESHOLD),
  };
#undef C
  for (size_t i = 0; i < sizeof constants / sizeof constants[0]; i++)
    if (PyModule_AddIntConstant(m, constants[i].name, constants[i].value) < 0) { Py_DECREF(m); return NULL; }
  return m;
}
