// berth-probe: runs a container's health probes from inside it.
//
// Started once per container run as an exec session (runc exec through
// conmon, so it has the container's namespaces, cgroup, user, capabilities,
// seccomp filter, environment and working folder). It connects to the
// daemon's probe socket, bind-mounted into the container, and then runs each
// probe the daemon asks for as its own child: a fork and an exec inside the
// container instead of a `runc exec` per probe (runc compiles the seccomp
// profile anew at every exec, which is most of a probe's cost).
//
// It is a child subreaper, so whatever a probe leaves behind is reaped here
// and not by the container's PID 1 (which often reaps nothing). At a probe's
// timeout, and when the daemon goes, it kills every process below it.
//
// Protocol, little-endian, on the stream socket:
//   agent -> daemon, once: "berth-probe 1 <token>\n"
//   daemon -> agent: u32 len, u32 seq, u32 timeout_ms, argv as NUL-ended strings (len bytes after the first u32)
//   agent -> daemon: u32 len, u32 seq, i32 code, u8 how, u8 more, output (len bytes after the first u32)
//     how 0: exited, code is the exit status (128+n for signal n)
//     how 1: killed at the timeout (code as above when it ended before the kill)
//     how 2: could not start, code is the errno of execvp
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_OUTPUT 4096
#define MAX_REQUEST (1 << 20)
#define RESPONSE_HEAD 14
#define HOW_EXITED 0
#define HOW_TIMEOUT 1
#define HOW_NOSTART 2

static int sock = -1;
static int sigfd = -1;

static void die(const char *what) {
  fprintf(stderr, "berth-probe: %s: %s\n", what, strerror(errno));
  exit(1);
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int read_full(int fd, void *buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, (char *)buf + got, n - got);
    if (r == 0) return -1;
    if (r < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    got += (size_t)r;
  }
  return 0;
}

static int write_full(int fd, const void *buf, size_t n) {
  size_t put = 0;
  while (put < n) {
    ssize_t w = send(fd, (const char *)buf + put, n - put, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    put += (size_t)w;
  }
  return 0;
}

static uint32_t get_u32(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static void put_u32(unsigned char *p, uint32_t v) { p[0] = v; p[1] = v >> 8; p[2] = v >> 16; p[3] = v >> 24; }

// The processes below this one, from /proc (the container's own).
static int descendants(pid_t *out, int cap) {
  DIR *d = opendir("/proc");
  if (!d) return 0;
  enum { MAXP = 4096 };
  static pid_t pids[MAXP], ppids[MAXP];
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) && n < MAXP) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    char file[300], buf[512];
    snprintf(file, sizeof file, "/proc/%s/stat", e->d_name);
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ssize_t r = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (r <= 0) continue;
    buf[r] = 0;
    char *close_paren = strrchr(buf, ')');
    char state;
    int ppid;
    if (!close_paren || sscanf(close_paren + 1, " %c %d", &state, &ppid) != 2 || state == 'Z') continue;
    pids[n] = atoi(e->d_name);
    ppids[n] = ppid;
    n++;
  }
  closedir(d);
  int found = 0;
  pid_t self = getpid();
  // Breadth-first from this process: each pass adds the children of what was found.
  int from = 0;
  out[found++] = self;
  while (from < found) {
    pid_t parent = out[from++];
    for (int i = 0; i < n && found < cap; i++)
      if (ppids[i] == parent && pids[i] != self) out[found++] = pids[i];
  }
  // Without this process itself.
  memmove(out, out + 1, (size_t)(found - 1) * sizeof *out);
  return found - 1;
}

// Stops, then kills, everything below this process; again while some remain
// (one may have forked between the look and the stop).
static void kill_all(void) {
  static pid_t pids[4096];
  for (int pass = 0; pass < 5; pass++) {
    int n = descendants(pids, 4096);
    if (n == 0) return;
    for (int i = 0; i < n; i++) kill(pids[i], SIGSTOP);
    n = descendants(pids, 4096);
    for (int i = 0; i < n; i++) kill(pids[i], SIGKILL);
  }
}

// Reaps whatever has ended; returns the probe's wait status if it was among them.
static int reap(pid_t probe, int *status) {
  int found = 0, st;
  pid_t p;
  while ((p = waitpid(-1, &st, WNOHANG)) > 0)
    if (p == probe) {
      *status = st;
      found = 1;
    }
  return found;
}

static void drain_signals(void) {
  struct signalfd_siginfo si;
  while (read(sigfd, &si, sizeof si) > 0) {
  }
}

static int exit_code(int st) { return WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : -1; }

static void respond(uint32_t seq, int32_t code, uint8_t how, uint8_t more, const char *out, size_t outlen) {
  unsigned char head[RESPONSE_HEAD];
  put_u32(head, (uint32_t)(RESPONSE_HEAD - 4 + outlen));
  put_u32(head + 4, seq);
  put_u32(head + 8, (uint32_t)code);
  head[12] = how;
  head[13] = more;
  if (write_full(sock, head, sizeof head) < 0 || (outlen && write_full(sock, out, outlen) < 0)) {
    kill_all();
    exit(0);
  }
}

static void run_probe(uint32_t seq, uint32_t timeout_ms, char **argv) {
  int out[2], errp[2];
  if (pipe2(out, O_CLOEXEC) < 0) die("pipe");
  if (pipe2(errp, O_CLOEXEC) < 0) die("pipe");
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    close(out[0]), close(out[1]), close(errp[0]), close(errp[1]);
    respond(seq, e, HOW_NOSTART, 0, NULL, 0);
    return;
  }
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    setsid();
    int null = open("/dev/null", O_RDONLY);
    if (null >= 0) dup2(null, 0);
    dup2(out[1], 1);
    dup2(out[1], 2);
    execvp(argv[0], argv);
    int e = errno;
    if (write(errp[1], &e, sizeof e) < 0) {
    }
    _exit(127);
  }
  close(out[1]);
  close(errp[1]);
  int e = 0;
  ssize_t got = read(errp[0], &e, sizeof e);
  close(errp[0]);
  if (got == (ssize_t)sizeof e) {
    close(out[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    respond(seq, e, HOW_NOSTART, 0, NULL, 0);
    return;
  }

  static char buf[MAX_OUTPUT];
  size_t len = 0;
  uint8_t more = 0;
  int status = 0, ended = 0, timed_out = 0, out_open = 1;
  int64_t deadline = now_ms() + timeout_ms;
  fcntl(out[0], F_SETFL, O_NONBLOCK);
  while (!ended || out_open) {
    int wait = ended ? 0 : (int)(deadline - now_ms());
    if (!ended && wait <= 0) {
      kill_all();
      // Killed; one that ended just then keeps its own status. One that
      // cannot be killed (a setuid program, when the container's user is
      // not root) is not waited for: it is reaped whenever it ends.
      status = W_EXITCODE(0, SIGKILL);
      for (int64_t until = now_ms() + 1000; now_ms() < until;) {
        if (reap(pid, &status)) break;
        struct pollfd sp = {sigfd, POLLIN, 0};
        if (poll(&sp, 1, 50) > 0) drain_signals();
      }
      ended = 1;
      timed_out = !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
      wait = 0;
    }
    // The socket is watched for the daemon's going only (POLLHUP comes unasked).
    struct pollfd fds[3] = {{out_open ? out[0] : -1, POLLIN, 0}, {sigfd, POLLIN, 0}, {sock, 0, 0}};
    int r = poll(fds, 3, ended ? 0 : wait);
    if (r < 0 && errno != EINTR) die("poll");
    if (fds[2].revents & (POLLHUP | POLLERR)) {
      // The daemon went: so does the probe.
      kill_all();
      exit(0);
    }
    if (fds[1].revents & POLLIN) {
      drain_signals();
      if (!ended && reap(pid, &status)) ended = 1;
    }
    if (out_open) {
      // Read what is there; after the probe's end, only what it left in the
      // pipe (a child of it may hold the pipe open: its output is not waited for).
      for (;;) {
        char tmp[8192];
        ssize_t n = read(out[0], tmp, sizeof tmp);
        if (n > 0) {
          size_t take = (size_t)n > MAX_OUTPUT - len ? MAX_OUTPUT - len : (size_t)n;
          memcpy(buf + len, tmp, take);
          len += take;
          if ((size_t)n > take) more = 1;
          continue;
        }
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) out_open = 0;
        else if (n < 0 && errno == EAGAIN && ended) out_open = 0;
        break;
      }
    }
  }
  close(out[0]);
  respond(seq, exit_code(status), timed_out ? HOW_TIMEOUT : HOW_EXITED, more, buf, len);
}

int main(void) {
  const char *path = getenv("BERTH_PROBE_SOCKET");
  const char *token = getenv("BERTH_PROBE_TOKEN");
  if (!path || !token) {
    fprintf(stderr, "berth-probe: started without BERTH_PROBE_SOCKET and BERTH_PROBE_TOKEN\n");
    return 2;
  }
  char hello[256];
  int hl = snprintf(hello, sizeof hello, "berth-probe 1 %s\n", token);
  if (hl <= 0 || hl >= (int)sizeof hello) return 2;
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof addr.sun_path) return 2;
  strcpy(addr.sun_path, path);
  // The probes get the container's environment, not the agent's own two.
  unsetenv("BERTH_PROBE_SOCKET");
  unsetenv("BERTH_PROBE_TOKEN");

  if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) die("subreaper");
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, NULL);
  sigfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
  if (sigfd < 0) die("signalfd");
  sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock < 0) die("socket");
  if (connect(sock, (struct sockaddr *)&addr, sizeof addr) < 0) die(path);
  if (write_full(sock, hello, (size_t)hl) < 0) die("hello");

  unsigned char *req = malloc(MAX_REQUEST);
  char *argv[1024];
  if (!req) die("malloc");
  for (;;) {
    // Between probes: reap what earlier probes left, until the next request.
    struct pollfd fds[2] = {{sock, POLLIN, 0}, {sigfd, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0 && errno != EINTR) die("poll");
    if (fds[1].revents & POLLIN) {
      int unused;
      drain_signals();
      reap(-2, &unused);
    }
    if (!(fds[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    unsigned char head[4];
    if (read_full(sock, head, 4) < 0) break;
    uint32_t len = get_u32(head);
    if (len < 9 || len > MAX_REQUEST || read_full(sock, req, len) < 0) break;
    uint32_t seq = get_u32(req), timeout_ms = get_u32(req + 4);
    if (req[len - 1] != 0) break;
    int argc = 0;
    for (uint32_t at = 8; at < len && argc < 1023; at += strlen((char *)req + at) + 1) argv[argc++] = (char *)req + at;
    argv[argc] = NULL;
    if (argc == 0 || argv[0][0] == 0) {
      respond(seq, ENOENT, HOW_NOSTART, 0, NULL, 0);
      continue;
    }
    run_probe(seq, timeout_ms, argv);
  }
  // The daemon went (or spoke nonsense): nothing of ours stays behind.
  kill_all();
  return 0;
}
