/*
 * Loaded with LD_PRELOAD by the resident suites: every dynamically linked program started with $EXEC_LOG set appends
 * the path of its executable (/proc/self/exe) to that file, one line each. The Bun multi-call executable is dynamically
 * linked and the shim static, so the log holds a line for each plugin process that ran our code (a fallback, or an
 * exec'd plugin) and none for a call the daemon ran.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
__attribute__((constructor)) static void log_exec(void) {
  const char *log = getenv("EXEC_LOG");
  if (!log) return;
  char line[4097];
  ssize_t n = readlink("/proc/self/exe", line, 4096);
  if (n <= 0) return;
  line[n++] = '\n';
  int fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return;
  if (write(fd, line, (size_t)n) < 0) {}
  close(fd);
}
