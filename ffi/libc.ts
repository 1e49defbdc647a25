/**
 * libc over bun:ffi: the system calls the TUN device, netlink and the UDP data path need.
 *
 * Rules that come from measurements (reference/bun-lab.md §0):
 * - Every call returns `i32`: an `i64` return is a BigInt allocation per call, and every byte
 *   count we move fits in 31 bits. `-1` survives the truncation (eax of rax = -1).
 * - One `dlopen` binds one signature per symbol, so `ioctl` with an integer argument
 *   (TUNSETOFFLOAD, TUNSETPERSIST) lives in a second handle, `libcInt`.
 * - Memory whose address C sees more than once must be `pinned()` and held by a long-lived object.
 */
import { dlopen, FFIType, ptr, read, type Pointer } from "bun:ffi";
import { errnoName, SysError } from "./errno.ts";

const LIBC = "libc.so.6";
const { i32, u32, u64, ptr: P, cstring } = FFIType;

const lib = dlopen(LIBC, {
  open: { args: [P, i32, u32], returns: i32 },
  close: { args: [i32], returns: i32 },
  read: { args: [i32, P, u64], returns: i32 },
  write: { args: [i32, P, u64], returns: i32 },
  readv: { args: [i32, P, i32], returns: i32 },
  writev: { args: [i32, P, i32], returns: i32 },
  ioctl: { args: [i32, u64, P], returns: i32 },
  fcntl: { args: [i32, i32, i32], returns: i32 },
  poll: { args: [P, u64, i32], returns: i32 },
  socket: { args: [i32, i32, i32], returns: i32 },
  bind: { args: [i32, P, u32], returns: i32 },
  connect: { args: [i32, P, u32], returns: i32 },
  getsockname: { args: [i32, P, P], returns: i32 },
  send: { args: [i32, P, u64, i32], returns: i32 },
  sendto: { args: [i32, P, u64, i32, P, u32], returns: i32 },
  recvfrom: { args: [i32, P, u64, i32, P, P], returns: i32 },
  sendmsg: { args: [i32, P, i32], returns: i32 },
  sendmmsg: { args: [i32, P, u32, i32], returns: i32 },
  recvmmsg: { args: [i32, P, u32, i32, P], returns: i32 },
  setsockopt: { args: [i32, i32, i32, P, u32], returns: i32 },
  getsockopt: { args: [i32, i32, i32, P, P], returns: i32 },
  epoll_create1: { args: [i32], returns: i32 },
  epoll_ctl: { args: [i32, i32, i32, P], returns: i32 },
  epoll_wait: { args: [i32, P, i32, i32], returns: i32 },
  strerror: { args: [i32], returns: cstring },
  __errno_location: { args: [], returns: P },
});

/** `ioctl(fd, req, int)`: the integer-argument signature (second handle, see header). */
const libInt = dlopen(LIBC, {
  ioctl: { args: [i32, u64, u64], returns: i32 },
});

/** Raw symbols for hot paths that manage errno themselves. */
export const libc = lib.symbols;
export const libcInt = libInt.symbols;

/** The calling thread's errno (each Worker has its own). Read it right after the failing call. */
export function errno(): number {
  const loc = lib.symbols.__errno_location();
  return loc === null ? 0 : read.i32(loc, 0);
}

export function strerror(code: number): string {
  return lib.symbols.strerror(code)?.toString() ?? `errno ${code}`;
}

/** A `SysError` for `code` with the call or operation that failed as context. */
export function sysError(code: number, context: string): SysError {
  return new SysError(code, errnoName(code), strerror(code), context);
}

/** Throws the current errno as a `SysError` when `ret < 0`; returns `ret` otherwise. */
export function check(ret: number, context: string): number {
  if (ret < 0) throw sysError(errno(), context);
  return ret;
}

/**
 * Memory C may keep an address of. Views over an explicit ArrayBuffer never moved in the lab,
 * small "fast" typed arrays did (bun-lab §0.2). The caller must hold the returned array.
 */
export function pinned(bytes: number): Uint8Array {
  return new Uint8Array(new ArrayBuffer(bytes));
}

/** `ptr(view) + offset` as a Pointer, for slots inside one pinned region. */
export function addr(view: Uint8Array | Int32Array | Uint32Array | Int16Array | BigUint64Array, offset = 0): Pointer {
  return (ptr(view) + offset) as Pointer;
}

/** NUL-terminated copy of a string for path/name arguments. */
export function cString(s: string): Uint8Array {
  const enc = new TextEncoder().encode(s);
  const out = pinned(enc.length + 1);
  out.set(enc);
  return out;
}

// fcntl.h, x86-64 / generic
export const O_RDONLY = 0;
export const O_RDWR = 2;
export const O_CREAT = 0o100;
export const O_NONBLOCK = 0o4000;
export const O_CLOEXEC = 0o2000000;
export const F_GETFL = 3;
export const F_SETFL = 4;

// poll.h
export const POLLIN = 0x001;
export const POLLOUT = 0x004;
export const POLLERR = 0x008;
export const POLLHUP = 0x010;

// sys/epoll.h. struct epoll_event is packed on x86-64 (u32 events, u64 data: 12 bytes) and
// naturally aligned elsewhere (16 bytes).
export const EPOLL_CLOEXEC = 0o2000000;
export const EPOLL_CTL_ADD = 1;
export const EPOLL_CTL_DEL = 2;
export const EPOLLIN = 0x001;
export const EPOLL_EVENT_SIZE = process.arch === "x64" ? 12 : 16;
export const EPOLL_EVENT_DATA_OFFSET = process.arch === "x64" ? 4 : 8;

// socket.h
export const AF_INET = 2;
export const AF_INET6 = 10;
export const AF_NETLINK = 16;
export const SOCK_DGRAM = 2;
export const SOCK_RAW = 3;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
export const SOL_SOCKET = 1;
export const SO_REUSEADDR = 2;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const SO_SNDBUFFORCE = 32;
export const SO_RCVBUFFORCE = 33;
export const SO_MARK = 36;
export const IPPROTO_UDP = 17;
export const SOL_UDP = 17;
export const UDP_SEGMENT = 103;
export const UDP_GRO = 104;
export const MSG_DONTWAIT = 0x40;
