/**
 * errno as a readable error: `EEXIST: File exists (RTM_NEWADDR 10.0.0.1/32 on tun-xyz)`.
 *
 * The numbers are Linux's (asm-generic/errno-base.h and errno.h, identical on x86-64 and arm64).
 * Only the names are tabled here; the human text comes from the C library's `strerror` so it
 * matches what `ip` and strace print.
 */

export const ERRNO_NAMES: Readonly<Record<number, string>> = {
  1: "EPERM",
  2: "ENOENT",
  3: "ESRCH",
  4: "EINTR",
  5: "EIO",
  6: "ENXIO",
  7: "E2BIG",
  8: "ENOEXEC",
  9: "EBADF",
  10: "ECHILD",
  11: "EAGAIN",
  12: "ENOMEM",
  13: "EACCES",
  14: "EFAULT",
  16: "EBUSY",
  17: "EEXIST",
  18: "EXDEV",
  19: "ENODEV",
  20: "ENOTDIR",
  21: "EISDIR",
  22: "EINVAL",
  23: "ENFILE",
  24: "EMFILE",
  25: "ENOTTY",
  27: "EFBIG",
  28: "ENOSPC",
  30: "EROFS",
  32: "EPIPE",
  34: "ERANGE",
  38: "ENOSYS",
  61: "ENODATA",
  71: "EPROTO",
  74: "EBADMSG",
  75: "EOVERFLOW",
  88: "ENOTSOCK",
  89: "EDESTADDRREQ",
  90: "EMSGSIZE",
  91: "EPROTOTYPE",
  92: "ENOPROTOOPT",
  93: "EPROTONOSUPPORT",
  94: "ESOCKTNOSUPPORT",
  95: "EOPNOTSUPP",
  97: "EAFNOSUPPORT",
  98: "EADDRINUSE",
  99: "EADDRNOTAVAIL",
  100: "ENETDOWN",
  101: "ENETUNREACH",
  103: "ECONNABORTED",
  104: "ECONNRESET",
  105: "ENOBUFS",
  106: "EISCONN",
  107: "ENOTCONN",
  110: "ETIMEDOUT",
  111: "ECONNREFUSED",
  113: "EHOSTUNREACH",
  114: "EALREADY",
  115: "EINPROGRESS",
};

/** Numbers by name, for comparisons in callers (`err.errno === ERRNO.EAGAIN`). */
export const ERRNO = Object.freeze(
  Object.fromEntries(Object.entries(ERRNO_NAMES).map(([n, name]) => [name, Number(n)])),
) as Readonly<Record<string, number>>;

export const EPERM = 1;
export const ENOENT = 2;
export const ESRCH = 3;
export const EINTR = 4;
export const EAGAIN = 11;
export const EEXIST = 17;
export const ENODEV = 19;
export const EINVAL = 22;
export const EMSGSIZE = 90;
export const ENOPROTOOPT = 92;
export const EOPNOTSUPP = 95;
export const EADDRNOTAVAIL = 99;
export const ENOBUFS = 105;
export const ECONNREFUSED = 111;
export const EIO = 5;
export const EBADF = 9;

export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `E#${errno}`;
}

/** A failed system call or a kernel-reported error (netlink NLMSG_ERROR), named and described. */
export class SysError extends Error {
  override readonly name = "SysError";
  constructor(
    readonly errno: number,
    readonly code: string,
    readonly description: string,
    readonly context: string,
  ) {
    super(`${code}: ${description} (${context})`);
  }
}
