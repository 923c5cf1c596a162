/*
 * tscni-shim: the plugin shim of resident mode (docs/resident.md, protocol version 1).
 *
 * Installed as one link per plugin name beside `tscni-cni` (the multi-call executable). It holds no plugin logic:
 * it hands the call (its name, environment and standard input) to the resident daemon, tscni-plugind, over a unix
 * socket and prints the daemon's answer. When the daemon is not there, or answers `F` (it will not run this call),
 * it runs `tscni-cni` from its own directory instead, with the same argv, environment and standard input: the daemon
 * is an accelerator, never a dependency.
 *
 *   TSCNI_PLUGIND_SOCKET  the daemon's socket (default /run/tscni/plugind.sock)
 *   TSCNI_PLUGIND=off     never connect: always run tscni-cni
 *
 * Built static (gcc -O2 -static, tools/shim-build.mjs): its start-up is the whole point of it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAGIC "tscni-plugind/1"
#define DEFAULT_SOCKET "/run/tscni/plugind.sock"
#define FALLBACK_NAME "tscni-cni"
/* CNI error codes (SPEC §Error): 11 "try again later", 999 the generic internal error. */
#define CNI_TRY_AGAIN 11
#define CNI_INTERNAL 999
/* An `R` answer's header: 'R', the exit code, the standard output's length (4 bytes, little-endian). */
#define R_HEADER 6

extern char **environ;

/* ---- output ----------------------------------------------------------------------------------------------------- */

/* Write every byte (partial writes, EINTR); 0, or the errno of the failed write. */
static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w >= 0) {
      p += w;
      n -= (size_t)w;
    } else if (errno != EINTR) {
      return errno;
    }
  }
  return 0;
}

/* Append `s` to out[*len] as JSON string content, never past `cap` (a message cut short is still valid JSON). */
static void json_append(char *out, size_t *len, size_t cap, const char *s) {
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    char esc[8];
    size_t n;
    if (c == '"' || c == '\\') {
      esc[0] = '\\';
      esc[1] = (char)c;
      n = 2;
    } else if (c < 0x20) {
      n = (size_t)snprintf(esc, sizeof esc, "\\u%04x", c);
    } else {
      esc[0] = (char)c;
      n = 1;
    }
    if (*len + n > cap) return;
    memcpy(out + *len, esc, n);
    *len += n;
  }
}

/* Print a CNI error, {"code":N,"msg":"<printf of fmt>"}, on stdout and exit 1, as a plugin does. No allocation:
 * running out of memory is one of the reasons to be here. */
__attribute__((format(printf, 2, 3), noreturn)) static void fail(int code, const char *fmt, ...) {
  static char msg[2048], out[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  size_t len = (size_t)snprintf(out, sizeof out, "{\"code\":%d,\"msg\":\"", code);
  json_append(out, &len, sizeof out - 3, msg); /* room left for the closing "}\n */
  memcpy(out + len, "\"}\n", 3);
  write_all(STDOUT_FILENO, out, len + 3);
  exit(1);
}

/* ---- a growable byte buffer ------------------------------------------------------------------------------------- */

struct buf {
  char *p;
  size_t len, cap;
};

/* Room for `n` more bytes (the capacity doubles). */
static void buf_reserve(struct buf *b, size_t n) {
  if (b->cap - b->len >= n) return;
  size_t cap = b->cap ? b->cap : 65536;
  while (cap - b->len < n) {
    if (cap > SIZE_MAX / 2) fail(CNI_INTERNAL, "tscni-shim: out of memory");
    cap *= 2;
  }
  char *p = realloc(b->p, cap);
  if (!p) fail(CNI_INTERNAL, "tscni-shim: out of memory");
  b->p = p;
  b->cap = cap;
}

static void buf_put(struct buf *b, const void *data, size_t n) {
  buf_reserve(b, n);
  memcpy(b->p + b->len, data, n);
  b->len += n;
}

/* One NUL-terminated field of the request. */
static void buf_field(struct buf *b, const char *s) { buf_put(b, s, strlen(s) + 1); }

/* Append everything `fd` holds, to its end; 0, or the errno of the failed read. */
static int buf_read_all(struct buf *b, int fd) {
  for (;;) {
    buf_reserve(b, 16384);
    ssize_t n = read(fd, b->p + b->len, b->cap - b->len);
    if (n > 0)
      b->len += (size_t)n;
    else if (n == 0)
      return 0;
    else if (errno != EINTR)
      return errno;
  }
}

/* ---- the fallback: run tscni-cni ------------------------------------------------------------------------------- */

/* SIGPIPE as we were given it, once the relay has ignored it. */
static struct sigaction sigpipe_before;
static int sigpipe_changed;

/* Become `exe` (tscni-cni) with our argv, whose argv[0] is the plugin name it dispatches on, and our environment.
 * `input`, when not NULL, is the standard input this process already consumed: it is replayed from a memfd. */
static void run_fallback(const char *exe, char **argv, const char *input, size_t input_len) {
  if (input) {
    int fd = memfd_create("tscni-shim-stdin", 0); /* not MFD_CLOEXEC: it becomes the new program's stdin */
    if (fd < 0) fail(CNI_INTERNAL, "tscni-shim: memfd_create: %s", strerror(errno));
    int err = write_all(fd, input, input_len);
    if (err) fail(CNI_INTERNAL, "tscni-shim: writing the memfd: %s", strerror(err));
    if (lseek(fd, 0, SEEK_SET) < 0 || dup2(fd, STDIN_FILENO) < 0)
      fail(CNI_INTERNAL, "tscni-shim: replaying stdin: %s", strerror(errno));
    close(fd);
  }
  /* The plugin starts with the SIGPIPE disposition we were given, not the one the relay needed. */
  if (sigpipe_changed) sigaction(SIGPIPE, &sigpipe_before, NULL);
  execv(exe, argv);
  fail(CNI_INTERNAL, "tscni-shim: cannot run %s: %s", exe, strerror(errno));
}

/* ---- the relay -------------------------------------------------------------------------------------------------- */

/* A unix stream socket connected to the daemon, or -1 (no socket, nobody listening, no permission, path too long). */
static int connect_daemon(void) {
  const char *path = getenv("TSCNI_PLUGIND_SOCKET");
  if (!path || !*path) path = DEFAULT_SOCKET;
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof addr.sun_path) return -1;
  strcpy(addr.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  /* An interrupted connect counts as a failed one: we fall back, and the daemon sees a connection with no request. */
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/* Exit with the daemon's `R` answer, or fail with code 11 when `ans` is no whole answer; returns on `F`. */
static void answer(const struct buf *ans, int send_err, int recv_err) {
  if (ans->len == 0) {
    if (recv_err) fail(CNI_TRY_AGAIN, "tscni-plugind: reading the answer: %s", strerror(recv_err));
    if (send_err) fail(CNI_TRY_AGAIN, "tscni-plugind: sending the request: %s", strerror(send_err));
    fail(CNI_TRY_AGAIN, "tscni-plugind: the connection closed before an answer");
  }
  if (ans->p[0] == 'F') return;
  const unsigned char *h = (const unsigned char *)ans->p;
  if (h[0] != 'R') fail(CNI_TRY_AGAIN, "tscni-plugind: not an answer (its first byte is 0x%02x)", h[0]);
  size_t out_len = ans->len < R_HEADER ? 0 : (size_t)h[2] | (size_t)h[3] << 8 | (size_t)h[4] << 16 | (size_t)h[5] << 24;
  if (ans->len < R_HEADER + out_len) /* the header, or the standard output, cut short */
    fail(CNI_TRY_AGAIN, "tscni-plugind: the answer ended after %zu bytes%s%s", ans->len, recv_err ? ": " : "",
         recv_err ? strerror(recv_err) : "");
  /* A runtime that stops reading gets what it read: nothing to do about a failed write but exit. */
  write_all(STDOUT_FILENO, ans->p + R_HEADER, out_len);
  write_all(STDERR_FILENO, ans->p + R_HEADER + out_len, ans->len - R_HEADER - out_len);
  exit(h[1]);
}

int main(int argc, char **argv) {
  /* Descriptors 0–2 open, so that the socket cannot become our "stdin" or "stdout". */
  for (int fd = 0; fd <= 2; fd++)
    if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
      fail(CNI_INTERNAL, "tscni-shim: cannot open /dev/null");
  if (argc < 1 || !argv[0]) fail(CNI_INTERNAL, "tscni-shim: no argv[0] (the plugin name)");
  const char *slash = strrchr(argv[0], '/');
  const char *plugin = slash ? slash + 1 : argv[0];

  /* The fallback: tscni-cni in the directory of this very file (links resolved by the kernel). */
  static char exe[PATH_MAX + sizeof FALLBACK_NAME + 1];
  ssize_t n = readlink("/proc/self/exe", exe, PATH_MAX);
  if (n < 0) fail(CNI_INTERNAL, "tscni-shim: /proc/self/exe: %s", strerror(errno));
  if (n >= PATH_MAX) fail(CNI_INTERNAL, "tscni-shim: /proc/self/exe: path too long");
  exe[n] = '\0';
  strcpy(strrchr(exe, '/') + 1, FALLBACK_NAME);

  /* Arguments make it something other than a plugin call (`dhcp daemon`): tscni-cni's business, like `off`. */
  const char *mode = getenv("TSCNI_PLUGIND");
  if ((mode && strcmp(mode, "off") == 0) || argc > 1) run_fallback(exe, argv, NULL, 0);
  /* Connect before reading stdin: when nobody listens, tscni-cni gets the untouched stdin, no replay needed. */
  int sock = connect_daemon();
  if (sock < 0) run_fallback(exe, argv, NULL, 0);

  /* The daemon may close before reading all of the request (it answered `F` early): a write error, not a signal. */
  struct sigaction ignore = {.sa_handler = SIG_IGN};
  sigpipe_changed = sigaction(SIGPIPE, &ignore, &sigpipe_before) == 0;

  /* The request: the fields, the environment (ended by an empty field), then stdin, in one buffer. */
  struct buf req = {0};
  buf_field(&req, MAGIC);
  buf_field(&req, plugin);
  buf_field(&req, exe);
  /* Our network and mount namespaces: paths and "the host side" mean what they mean here only in the daemon's own. */
  static const char *const namespaces[] = {"/proc/thread-self/ns/net", "/proc/thread-self/ns/mnt"};
  for (size_t i = 0; i < sizeof namespaces / sizeof *namespaces; i++) {
    char id[48] = "";
    struct stat st;
    if (stat(namespaces[i], &st) == 0)
      snprintf(id, sizeof id, "%llu:%llu", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
    buf_field(&req, id); /* empty when unknown: the daemon then declines (`F`) */
  }
  for (char **e = environ; *e; e++) buf_field(&req, *e);
  buf_field(&req, "");
  size_t input_at = req.len;
  int err = buf_read_all(&req, STDIN_FILENO);
  if (err) fail(CNI_INTERNAL, "tscni-shim: reading stdin: %s", strerror(err));

  int send_err = write_all(sock, req.p, req.len);
  shutdown(sock, SHUT_WR);
  struct buf ans = {0};
  int recv_err = buf_read_all(&ans, sock);
  close(sock);
  answer(&ans, send_err, recv_err);
  run_fallback(exe, argv, req.p + input_at, req.len - input_at); /* `F` */
  return 1;                                                       /* not reached */
}
