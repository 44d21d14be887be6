/* The OpenMP runtime entry points that CSources/CFP8 calls (declared in internal.h), for builds
 * without -fopenmp (the `#pragma omp` lines are then ignored and every region runs on the calling
 * thread). Used by scripts/neon_qemu.sh for the clang AArch64 build (no libomp for arm64 in the
 * cross packages) and for the x86-64 scalar-digest build. */
int omp_get_max_threads(void) { return 1; }
int omp_get_thread_num(void) { return 0; }
int omp_get_num_threads(void) { return 1; }
void omp_set_num_threads(int n) { (void)n; }
int omp_in_parallel(void) { return 0; }
