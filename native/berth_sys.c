// The few Linux syscalls Node does not expose and that Berth needs on hot
// paths (mounting snapshots, creating whiteouts, copying xattrs), the
// client end of conmon's attach socket, and a spawn that does not copy the
// daemon's page tables (posix_spawn: clone with CLONE_VM|CLONE_VFORK), for
// every program the daemon runs. Each call is synchronous and throws
// an Error with `code` set to the errno name, like a fs error.
#define _GNU_SOURCE
#include <errno.h>
#include <node_api.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdio.h>
#include <stdint.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <spawn.h>
#include <sys/wait.h>
#include <sched.h>

#define CHECK(call) do { if ((call) != napi_ok) return NULL; } while (0)

static const char *errno_name(int e) {
  switch (e) {
    case ENOENT: return "ENOENT"; case EEXIST: return "EEXIST";
    case EPERM: return "EPERM"; case EACCES: return "EACCES";
    case EBUSY: return "EBUSY"; case EINVAL: return "EINVAL";
    case ENOTDIR: return "ENOTDIR"; case ENODATA: return "ENODATA";
    case ENOTSUP: return "ENOTSUP"; case ENOSPC: return "ENOSPC";
    case ERANGE: return "ERANGE"; case ENOMEM: return "ENOMEM";
    case ELOOP: return "ELOOP"; case ENAMETOOLONG: return "ENAMETOOLONG";
    case EPIPE: return "EPIPE"; case EBADF: return "EBADF";
    case ECONNREFUSED: return "ECONNREFUSED"; case ECONNRESET: return "ECONNRESET";
    default: return "EUNKNOWN";
  }
}

static napi_value throw_errno(napi_env env, const char *op, const char *path) {
  int e = errno;
  char msg[4200];
  snprintf(msg, sizeof msg, "%s: %s, %s '%s'", errno_name(e), strerror(e), op, path ? path : "");
  napi_value code, message, err, num;
  napi_create_string_utf8(env, errno_name(e), NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &err);
  napi_create_int32(env, -e, &num);
  napi_set_named_property(env, err, "errno", num);
  napi_set_named_property(env, err, "syscall", message);
  napi_throw(env, err);
  return NULL;
}

// Copies a JS string argument into a heap buffer; the caller frees it.
static char *get_string(napi_env env, napi_value v) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "expected a string");
    return NULL;
  }
  char *s = malloc(len + 1);
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  return s;
}

// mount(source, target, fstype, flags, data)
static napi_value js_mount(napi_env env, napi_callback_info info) {
  size_t argc = 5; napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char *src = get_string(env, argv[0]); if (!src) return NULL;
  char *dst = get_string(env, argv[1]);
  char *fstype = get_string(env, argv[2]);
  int64_t flags = 0; napi_get_value_int64(env, argv[3], &flags);
  char *data = get_string(env, argv[4]);
  int rc = mount(src, dst, fstype[0] ? fstype : NULL, (unsigned long)flags, data[0] ? data : NULL);
  napi_value r = NULL;
  if (rc != 0) r = throw_errno(env, "mount", dst);
  free(src); free(dst); free(fstype); free(data);
  return r;
}

// umount2(target, flags)
static napi_value js_umount(napi_env env, napi_callback_info info) {
  size_t argc = 2; napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char *dst = get_string(env, argv[0]); if (!dst) return NULL;
  int32_t flags = 0; napi_get_value_int32(env, argv[1], &flags);
  napi_value r = NULL;
  if (umount2(dst, flags) != 0) r = throw_errno(env, "umount2", dst);
  free(dst);
  return r;
}

// mknod(path, mode, major, minor)
static napi_value js_mknod(napi_env env, napi_callback_info info) {
  size_t argc = 4; napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char *path = get_string(env, argv[0]); if (!path) return NULL;
  uint32_t mode = 0, maj = 0, min = 0;
  napi_get_value_uint32(env, argv[1], &mode);
  napi_get_value_uint32(env, argv[2], &maj);
  napi_get_value_uint32(env, argv[3], &min);
  napi_value r = NULL;
  if (mknod(path, mode, makedev(maj, min)) != 0) r = throw_errno(env, "mknod", path);
  free(path);
  return r;
}

// lsetxattr(path, name, buffer)
static napi_value js_lsetxattr(napi_env env, napi_callback_info info) {
  size_t argc = 3; napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char *path = get_string(env, argv[0]); if (!path) return NULL;
  char *name = get_string(env, argv[1]);
  void *buf; size_t len;
  napi_get_buffer_info(env, argv[2], &buf, &len);
  napi_value r = NULL;
  if (lsetxattr(path, name, buf, len, 0) != 0) r = throw_errno(env, "lsetxattr", path);
  free(path); free(name);
  return r;
}

// lgetxattr(path, name) -> Buffer | null when the attribute is absent
static napi_value js_lgetxattr(napi_env env, napi_callback_info info) {
  size_t argc = 2; napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char *path = get_string(env, argv[0]); if (!path) return NULL;
  char *name = get_string(env, argv[1]);
  napi_value r = NULL;
  ssize_t n = lgetxattr(path, name, NULL, 0);
  if (n < 0) {
    if (errno == ENODATA || errno == ENOTSUP) napi_get_null(env, &r);
    else r = throw_errno(env, "lgetxattr", path);
  } else {
    void *data;
    napi_create_buffer(env, (size_t)n, &data, &r);
    if (n > 0 && lgetxattr(path, name, data, (size_t)n) < 0) r = throw_errno(env, "lgetxattr", path);
  }
  free(path); free(name);
  return r;
}

// llistxattr(path) -> string[]
static napi_value js_llistxattr(napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char *path = get_string(env, argv[0]); if (!path) return NULL;
  napi_value arr; napi_create_array(env, &arr);
  ssize_t n = llistxattr(path, NULL, 0);
  if (n < 0) {
    napi_value r = (errno == ENOTSUP) ? arr : throw_errno(env, "llistxattr", path);
    free(path);
    return r;
  }
  char *list = malloc((size_t)n + 1);
  n = llistxattr(path, list, (size_t)n);
  uint32_t i = 0;
  for (ssize_t off = 0; n > 0 && off < n; off += (ssize_t)strlen(list + off) + 1) {
    napi_value s;
    napi_create_string_utf8(env, list + off, NAPI_AUTO_LENGTH, &s);
    napi_set_element(env, arr, i++, s);
  }
  free(list); free(path);
  return arr;
}

// A client connection to conmon's attach socket (SOCK_SEQPACKET, which libuv
// cannot wrap). conmon writes the container's output back on it with blocking
// writes, so a thread drains and discards it: left unread, conmon would stall,
// and shutting down our read side instead makes conmon 2.1 forget to close the
// container's stdin at our EOF. The connection owns its fd, so no write can
// reach an fd number that was closed and reused.
typedef struct {
  int fd;
  int wake;  // eventfd: tells the drain thread to stop
  pthread_t drain;
  bool closed;
} attach_conn;

static void *drain_attach(void *arg) {
  attach_conn *c = arg;
  char buf[65536];
  struct pollfd p[2] = {{c->fd, POLLIN, 0}, {c->wake, POLLIN, 0}};
  for (;;) {
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (p[1].revents) break;
    if (p[0].revents) {
      ssize_t n = recv(c->fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) p[0].fd = -1;  // conmon is done: wait to be told to stop
    }
  }
  return NULL;
}

static attach_conn *get_attach(napi_env env, napi_value v) {
  void *c = NULL;
  if (napi_get_value_external(env, v, &c) != napi_ok || !c) {
    napi_throw_type_error(env, NULL, "not an attach connection");
    return NULL;
  }
  return c;
}

static void attach_stop(attach_conn *c) {
  if (c->closed) return;
  c->closed = true;
  uint64_t one = 1;
  if (write(c->wake, &one, sizeof one) < 0) { /* the thread polls it; a full counter is as good */ }
  pthread_join(c->drain, NULL);
  close(c->wake);
  close(c->fd);
}

static void attach_finalize(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  attach_stop(data);
  free(data);
}

// attachOpen(path) -> connection. Connects through /proc/self/fd so that
// paths longer than sun_path work.
static napi_value js_attach_open(napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char *path = get_string(env, argv[0]); if (!path) return NULL;
  napi_value r = NULL;
  int pfd = open(path, O_PATH | O_CLOEXEC);
  if (pfd < 0) { r = throw_errno(env, "open", path); free(path); return r; }
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) { r = throw_errno(env, "socket", path); close(pfd); free(path); return r; }
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  snprintf(addr.sun_path, sizeof addr.sun_path, "/proc/self/fd/%d", pfd);
  int rc;
  do { rc = connect(fd, (struct sockaddr *)&addr, sizeof addr); } while (rc < 0 && errno == EINTR);
  if (rc < 0 && errno != EINPROGRESS) { r = throw_errno(env, "connect", path); close(fd); close(pfd); free(path); return r; }
  close(pfd);
  attach_conn *c = calloc(1, sizeof *c);
  c->fd = fd;
  c->wake = eventfd(0, EFD_CLOEXEC);
  if (c->wake < 0 || pthread_create(&c->drain, NULL, drain_attach, c) != 0) {
    r = throw_errno(env, "drain", path);
    if (c->wake >= 0) close(c->wake);
    close(fd); free(c); free(path);
    return r;
  }
  free(path);
  if (napi_create_external(env, c, attach_finalize, NULL, &r) != napi_ok) { attach_stop(c); free(c); return NULL; }
  return r;
}

// attachWrite(conn, buffer) -> bytes sent, or -1 when the socket is full (try again).
static napi_value js_attach_write(napi_env env, napi_callback_info info) {
  size_t argc = 2; napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  attach_conn *c = get_attach(env, argv[0]); if (!c) return NULL;
  void *data; size_t len;
  CHECK(napi_get_buffer_info(env, argv[1], &data, &len));
  if (c->closed) { errno = EBADF; return throw_errno(env, "send", "attach"); }
  ssize_t n;
  do { n = send(c->fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL); } while (n < 0 && errno == EINTR);
  if (n < 0 && errno != EAGAIN) return throw_errno(env, "send", "attach");
  napi_value r;
  napi_create_int32(env, n < 0 ? -1 : (int32_t)n, &r);
  return r;
}

// attachEnd(conn): half-close, so conmon reads EOF and closes the container's stdin.
static napi_value js_attach_end(napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  attach_conn *c = get_attach(env, argv[0]); if (!c) return NULL;
  if (!c->closed && shutdown(c->fd, SHUT_WR) != 0 && errno != ENOTCONN) return throw_errno(env, "shutdown", "attach");
  return NULL;
}

// attachClose(conn): stops the drain thread and closes the socket. Idempotent.
static napi_value js_attach_close(napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  attach_conn *c = get_attach(env, argv[0]); if (!c) return NULL;
  attach_stop(c);
  return NULL;
}

// Frees a NULL-terminated array of strings made by get_string_array.
static void free_strings(char **a) {
  if (!a) return;
  for (char **p = a; *p; p++) free(*p);
  free(a);
}

static char **get_string_array(napi_env env, napi_value v) {
  uint32_t n;
  if (napi_get_array_length(env, v, &n) != napi_ok) {
    napi_throw_type_error(env, NULL, "expected an array of strings");
    return NULL;
  }
  char **a = calloc(n + 1, sizeof(char *));
  for (uint32_t i = 0; i < n; i++) {
    napi_value e;
    napi_get_element(env, v, i, &e);
    a[i] = get_string(env, e);
    if (!a[i]) { free_strings(a); return NULL; }
  }
  return a;
}

// spawn(file, argv, env, cwd, stdio, setsid) -> Promise<{ pid, fds }>: one
// letter of `stdio` per fd of the child from 0: '-' /dev/null, 'w' a pipe the
// child writes (the parent reads fds[i]), 'r' one it reads (the parent
// writes); fds[i] is -1 for '-'. The parent's ends are close-on-exec. A file
// without a slash is looked up in PATH; an empty cwd keeps the daemon's;
// setsid puts the child in a session of its own. posix_spawn suspends the
// calling thread until the child has exec'd (a few ms for conmon on a busy
// host): it runs on a libuv worker, never on the event loop.
typedef struct {
  char *file, **args, **envp, *cwd, *dirs;
  int parent_fd[16], child_fd[16];
  size_t npipes;
  bool setsid;
  pid_t pid;
  int err;
  const char *op;
  napi_deferred deferred;
  napi_async_work work;
} spawn_job;

static void spawn_execute(napi_env env, void *data) {
  (void)env;
  spawn_job *j = data;
  size_t made = 0;
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  bool fa_ok = false, attr_ok = false;
  for (; made < j->npipes; made++) {
    if (j->dirs[made] == '-') continue;
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) { j->err = errno; j->op = "pipe2"; goto out; }
    bool child_reads = j->dirs[made] == 'r';
    // The child's end moves above the fds it is given (2, 3, ...), so no dup2 overwrites the source of another.
    int mine = child_reads ? p[0] : p[1];
    int high = fcntl(mine, F_DUPFD_CLOEXEC, 64);
    int e = errno;
    close(mine);
    j->parent_fd[made] = child_reads ? p[1] : p[0];
    j->child_fd[made] = high;
    if (high < 0) { made++; j->err = e; j->op = "fcntl"; goto out; }
  }
  if (posix_spawn_file_actions_init(&fa) != 0) { j->err = errno; j->op = "spawn"; goto out; }
  fa_ok = true;
  // dup2 clears close-on-exec on the target.
  for (size_t i = 0; i < j->npipes; i++) {
    if (j->dirs[i] == '-') posix_spawn_file_actions_addopen(&fa, (int)i, "/dev/null", i ? O_WRONLY : O_RDONLY, 0);
    else posix_spawn_file_actions_adddup2(&fa, j->child_fd[i], (int)i);
  }
  if (j->cwd[0]) posix_spawn_file_actions_addchdir_np(&fa, j->cwd);
  if (posix_spawnattr_init(&attr) != 0) { j->err = errno; j->op = "spawn"; goto out; }
  attr_ok = true;
  posix_spawnattr_setflags(&attr, (j->setsid ? POSIX_SPAWN_SETSID : 0) | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  int rc = (strchr(j->file, '/') ? posix_spawn : posix_spawnp)(&j->pid, j->file, &fa, &attr, j->args, j->envp);
  if (rc != 0) { j->err = rc; j->op = "spawn"; }
out:
  for (size_t i = 0; i < made; i++) {
    if (j->child_fd[i] >= 0) close(j->child_fd[i]);
    if (j->err && j->parent_fd[i] >= 0) close(j->parent_fd[i]);
  }
  if (fa_ok) posix_spawn_file_actions_destroy(&fa);
  if (attr_ok) posix_spawnattr_destroy(&attr);
}

static void free_job(spawn_job *j) {
  free(j->file); free_strings(j->args); free_strings(j->envp); free(j->cwd); free(j->dirs);
  free(j);
}

static void spawn_complete(napi_env env, napi_status status, void *data) {
  (void)status;
  spawn_job *j = data;
  if (j->err) {
    errno = j->err;
    char msg[4200];
    snprintf(msg, sizeof msg, "%s: %s, %s '%s'", errno_name(j->err), strerror(j->err), j->op, j->file);
    napi_value code, message, err;
    napi_create_string_utf8(env, errno_name(j->err), NAPI_AUTO_LENGTH, &code);
    napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
    napi_create_error(env, code, message, &err);
    napi_reject_deferred(env, j->deferred, err);
  } else {
    napi_value obj, jpid, fds;
    napi_create_object(env, &obj);
    napi_create_int32(env, j->pid, &jpid);
    napi_set_named_property(env, obj, "pid", jpid);
    napi_create_array_with_length(env, j->npipes, &fds);
    for (size_t i = 0; i < j->npipes; i++) {
      napi_value fd;
      napi_create_int32(env, j->parent_fd[i], &fd);
      napi_set_element(env, fds, i, fd);
    }
    napi_set_named_property(env, obj, "fds", fds);
    napi_resolve_deferred(env, j->deferred, obj);
  }
  napi_delete_async_work(env, j->work);
  free_job(j);
}

static napi_value js_spawn(napi_env env, napi_callback_info info) {
  size_t argc = 6; napi_value argv[6];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  spawn_job *j = calloc(1, sizeof *j);
  j->file = get_string(env, argv[0]);
  j->args = j->file ? get_string_array(env, argv[1]) : NULL;
  j->envp = j->args ? get_string_array(env, argv[2]) : NULL;
  j->cwd = j->envp ? get_string(env, argv[3]) : NULL;
  j->dirs = j->cwd ? get_string(env, argv[4]) : NULL;
  if (!j->dirs) { free_job(j); return NULL; }
  napi_get_value_bool(env, argv[5], &j->setsid);
  j->npipes = strlen(j->dirs);
  if (j->npipes > 16) { free_job(j); napi_throw_range_error(env, NULL, "too many pipes"); return NULL; }
  for (size_t i = 0; i < 16; i++) j->parent_fd[i] = j->child_fd[i] = -1;
  napi_value promise, name;
  CHECK(napi_create_promise(env, &j->deferred, &promise));
  napi_create_string_utf8(env, "berth.spawn", NAPI_AUTO_LENGTH, &name);
  CHECK(napi_create_async_work(env, NULL, name, spawn_execute, spawn_complete, j, &j->work));
  CHECK(napi_queue_async_work(env, j->work));
  return promise;
}

// reap(pid) -> true once the child has been waited for (or is not ours), false while it runs.
static napi_value js_reap(napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t pid;
  CHECK(napi_get_value_int32(env, argv[0], &pid));
  int status;
  pid_t r = waitpid(pid, &status, WNOHANG);
  napi_value out;
  napi_get_boolean(env, r != 0, &out);
  return out;
}

// exitStatus(pid) -> null while the child runs; once reaped { code, signal }
// (code null when a signal ended it; both null when it is not our child).
static napi_value js_exit_status(napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t pid;
  CHECK(napi_get_value_int32(env, argv[0], &pid));
  int status = 0;
  pid_t r;
  while ((r = waitpid(pid, &status, WNOHANG)) < 0 && errno == EINTR) {}
  napi_value out, code, sig, nul;
  napi_get_null(env, &nul);
  if (r == 0) return nul;
  napi_create_object(env, &out);
  code = sig = nul;
  if (r > 0 && WIFEXITED(status)) napi_create_int32(env, WEXITSTATUS(status), &code);
  if (r > 0 && WIFSIGNALED(status)) napi_create_int32(env, WTERMSIG(status), &sig);
  napi_set_named_property(env, out, "code", code);
  napi_set_named_property(env, out, "signal", sig);
  return out;
}

// injectBinds(pid, sources, targets) -> 0, or the errno of the first step that
// failed: binds each source (a host path) over the target (a path in the
// mount namespace of process pid), replacing what is mounted there. The
// sources are cloned as detached mounts (open_tree) in the daemon's
// namespace, then a forked child, single-threaded as setns requires, enters
// the target's namespace and moves them into place (move_mount): no binary
// of the container's is needed. For the views of a restarted lxcfs.
static napi_value js_inject_binds(napi_env env, napi_callback_info info) {
  size_t argc = 3; napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t pid;
  CHECK(napi_get_value_int32(env, argv[0], &pid));
  char **srcs = get_string_array(env, argv[1]);
  char **dsts = srcs ? get_string_array(env, argv[2]) : NULL;
  napi_value out = NULL;
  int fds[64];
  size_t n = 0;
  int ns = -1, err = 0;
  if (!dsts) goto done;
  char nspath[64];
  snprintf(nspath, sizeof nspath, "/proc/%d/ns/mnt", pid);
  ns = open(nspath, O_RDONLY | O_CLOEXEC);
  if (ns < 0) { err = errno; goto done; }
  for (; srcs[n] && dsts[n] && n < 64; n++) {
    fds[n] = open_tree(AT_FDCWD, srcs[n], OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (fds[n] < 0) { err = errno; goto done; }
  }
  pid_t child = fork();
  if (child < 0) { err = errno; goto done; }
  if (child == 0) {
    if (setns(ns, CLONE_NEWNS) < 0) _exit(errno);
    for (size_t i = 0; i < n; i++) {
      umount2(dsts[i], MNT_DETACH);
      if (move_mount(fds[i], "", AT_FDCWD, dsts[i], MOVE_MOUNT_F_EMPTY_PATH) < 0) _exit(errno);
    }
    _exit(0);
  }
  int status;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {}
  err = WIFEXITED(status) ? WEXITSTATUS(status) : EINTR;
done:
  for (size_t i = 0; i < n; i++) if (fds[i] >= 0) close(fds[i]);
  if (ns >= 0) close(ns);
  free_strings(srcs); free_strings(dsts);
  if (dsts) napi_create_int32(env, err, &out);
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"mount", NULL, js_mount, NULL, NULL, NULL, napi_default, NULL},
    {"umount", NULL, js_umount, NULL, NULL, NULL, napi_default, NULL},
    {"mknod", NULL, js_mknod, NULL, NULL, NULL, napi_default, NULL},
    {"lsetxattr", NULL, js_lsetxattr, NULL, NULL, NULL, napi_default, NULL},
    {"lgetxattr", NULL, js_lgetxattr, NULL, NULL, NULL, napi_default, NULL},
    {"llistxattr", NULL, js_llistxattr, NULL, NULL, NULL, napi_default, NULL},
    {"attachOpen", NULL, js_attach_open, NULL, NULL, NULL, napi_default, NULL},
    {"attachWrite", NULL, js_attach_write, NULL, NULL, NULL, napi_default, NULL},
    {"attachEnd", NULL, js_attach_end, NULL, NULL, NULL, napi_default, NULL},
    {"attachClose", NULL, js_attach_close, NULL, NULL, NULL, napi_default, NULL},
    {"spawn", NULL, js_spawn, NULL, NULL, NULL, napi_default, NULL},
    {"reap", NULL, js_reap, NULL, NULL, NULL, napi_default, NULL},
    {"exitStatus", NULL, js_exit_status, NULL, NULL, NULL, napi_default, NULL},
    {"injectBinds", NULL, js_inject_binds, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
