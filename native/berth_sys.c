// The few Linux syscalls Node does not expose and that Berth needs on hot
// paths (mounting snapshots, creating whiteouts, copying xattrs). Each one
// is synchronous, returns nothing, and throws an Error with `code` set to
// the errno name so the TypeScript side can treat it like a fs error.
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

// seqpacketConnect(path, shutRead) -> fd of a connected, non-blocking SOCK_SEQPACKET
// socket (conmon's attach socket). Connects through /proc/self/fd so that
// paths longer than sun_path work.
static napi_value js_seqpacket_connect(napi_env env, napi_callback_info info) {
  size_t argc = 2; napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char *path = get_string(env, argv[0]); if (!path) return NULL;
  bool shut_read = false;
  if (argc > 1) napi_get_value_bool(env, argv[1], &shut_read);
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
  free(path);
  // A write-only client: the peer's writes to us fail at once instead of filling a buffer.
  if (shut_read) shutdown(fd, SHUT_RD);
  napi_create_int32(env, fd, &r);
  return r;
}

// shutdownWrite(fd): half-close, so the peer reads EOF.
static napi_value js_shutdown_write(napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd = -1; napi_get_value_int32(env, argv[0], &fd);
  if (shutdown(fd, SHUT_WR) != 0 && errno != ENOTCONN) return throw_errno(env, "shutdown", "");
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"mount", NULL, js_mount, NULL, NULL, NULL, napi_default, NULL},
    {"umount", NULL, js_umount, NULL, NULL, NULL, napi_default, NULL},
    {"mknod", NULL, js_mknod, NULL, NULL, NULL, napi_default, NULL},
    {"lsetxattr", NULL, js_lsetxattr, NULL, NULL, NULL, napi_default, NULL},
    {"lgetxattr", NULL, js_lgetxattr, NULL, NULL, NULL, napi_default, NULL},
    {"llistxattr", NULL, js_llistxattr, NULL, NULL, NULL, napi_default, NULL},
    {"shutdownWrite", NULL, js_shutdown_write, NULL, NULL, NULL, napi_default, NULL},
    {"seqpacketConnect", NULL, js_seqpacket_connect, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
