/* A registry of temporary files that a fatal SIGHUP, SIGINT, SIGPIPE or SIGTERM removes before
 * the process dies.
 *
 * Writers create their output as a temporary file beside the target and rename it when done; a
 * Ctrl-C in between would otherwise leave the temporary file behind. The handler is installed
 * the first time a path is registered, for each of those signals whose disposition is still the
 * default (an ignored SIGINT, as under nohup, stays ignored; a handler someone else installed
 * stays theirs). It unlinks every registered path, restores the default disposition and
 * re-raises the signal, so that the parent sees the process killed by that signal (a shell
 * reports 128 + signal number: 130 for SIGINT, 143 for SIGTERM).
 *
 * The handler calls only unlink, sigaction and raise (async-signal-safe) on paths copied into
 * static storage when they were registered. */
#ifndef TEMPFILES_H
#define TEMPFILES_H

#ifdef __cplusplus
extern "C" {
#endif

/* The most paths registered at once. */
#define TEMPFILES_CAPACITY 64
/* The longest path (bytes, without the terminating NUL) a slot holds. */
#define TEMPFILES_PATH_MAX 4095

/* Registers `path`; returns its slot (>= 0), or -1 when the registry is full or the path too long
 * (the caller then refuses to create the file). */
int tempfiles_register(const char *path);

/* Forgets a slot (the file was renamed into place or removed); a negative slot is ignored. */
void tempfiles_unregister(int slot);

/* How many paths are registered now. */
int tempfiles_count(void);

#ifdef __cplusplus
}
#endif
#endif
