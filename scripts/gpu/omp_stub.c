/* dispatch.c asks OpenMP for the default thread count; the conversion sweep links the scalar
 * reference without OpenMP (its own host threads are std::thread), so this weak stub answers 1. */
__attribute__((weak)) int omp_get_max_threads(void) { return 1; }
