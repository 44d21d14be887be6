#include "tempfiles.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

/* A slot is FREE, being FILLED by a registering thread, or READY (the handler may unlink its
 * path). The handler reads READY slots only, so it never sees a half-written path. */
enum { FREE = 0, FILLED = 1, READY = 2 };

static _Atomic int state[TEMPFILES_CAPACITY];
static char paths[TEMPFILES_CAPACITY][TEMPFILES_PATH_MAX + 1];
static _Atomic int registered;

static const int handled[] = {SIGHUP, SIGINT, SIGPIPE, SIGTERM};

static void on_signal(int signo) {
  for (int k = 0; k < TEMPFILES_CAPACITY; k++) {
    if (atomic_load(&state[k]) == READY) unlink(paths[k]);
  }
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(signo, &dfl, NULL);
  /* Pending while this handler runs (the signal is blocked here); delivered with the default
   * action, which ends the process, as soon as the handler returns. */
  raise(signo);
}

static void install(void) {
  for (size_t k = 0; k < sizeof handled / sizeof handled[0]; k++) {
    struct sigaction old;
    if (sigaction(handled[k], NULL, &old) != 0) continue;
    if ((old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL) continue;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigfillset(&sa.sa_mask); /* no other handled signal interrupts the cleanup */
    sigaction(handled[k], &sa, NULL);
  }
}

static pthread_once_t once = PTHREAD_ONCE_INIT;

int tempfiles_register(const char *path) {
  if (!path) return -1;
  size_t n = strlen(path);
  if (n == 0 || n > TEMPFILES_PATH_MAX) return -1;
  pthread_once(&once, install);
  for (int k = 0; k < TEMPFILES_CAPACITY; k++) {
    int expected = FREE;
    if (atomic_compare_exchange_strong(&state[k], &expected, FILLED)) {
      memcpy(paths[k], path, n + 1);
      atomic_store(&state[k], READY);
      atomic_fetch_add(&registered, 1);
      return k;
    }
  }
  return -1;
}

void tempfiles_unregister(int slot) {
  if (slot < 0 || slot >= TEMPFILES_CAPACITY) return;
  int expected = READY;
  if (atomic_compare_exchange_strong(&state[slot], &expected, FREE)) atomic_fetch_sub(&registered, 1);
}

int tempfiles_count(void) { return atomic_load(&registered); }
