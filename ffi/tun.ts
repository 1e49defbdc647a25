/**
 * Opening a Linux TUN device over bun:ffi: `/dev/net/tun` + `TUNSETIFF` (linux/if_tun.h).
 *
 * The device lives exactly as long as its file descriptors (persistence is switched off even if
 * a previous run left a persistent device of the same name), so closing the fd removes the link
 * and every address and route on it.
 */
import {
  addr,
  check,
  cString,
  errno,
  libc,
  libcInt,
  O_CLOEXEC,
  O_NONBLOCK,
  O_RDWR,
  pinned,
  AF_INET,
  SOCK_DGRAM,
  SOCK_CLOEXEC,
  sysError,
} from "./libc.ts";

export const TUNSETIFF = 0x400454ca;
export const TUNSETPERSIST = 0x400454cb;
export const TUNSETOFFLOAD = 0x400454d0;
export const TUNGETVNETHDRSZ = 0x800454d7;
export const SIOCGIFINDEX = 0x8933;

export const IFF_TUN = 0x0001;
export const IFF_NO_PI = 0x1000;
export const IFF_MULTI_QUEUE = 0x0100;
export const IFF_VNET_HDR = 0x4000;

/** IFNAMSIZ including the terminating NUL. */
export const IFNAMSIZ = 16;
const IFREQ_SIZE = 40;

export interface OpenTunOptions {
  /** Interface name (≤ 15 bytes); a pattern such as `tun%d` lets the kernel pick. */
  name: string;
  /** Extra queues attach further fds to the same device (IFF_MULTI_QUEUE). */
  multiQueue?: boolean;
  /** O_NONBLOCK: the data path reads in bursts until EAGAIN and polls when idle. */
  nonBlocking?: boolean;
}

export interface TunFd {
  fd: number;
  /** The name the kernel gave the device (resolves `%d` patterns). */
  name: string;
}

export function validateIfName(name: string): void {
  const n = new TextEncoder().encode(name).length;
  if (n === 0 || n >= IFNAMSIZ || /[\s/]/.test(name)) {
    throw new RangeError(`invalid interface name "${name}": 1–15 bytes, no spaces or '/'`);
  }
}

export function openTun(opts: OpenTunOptions): TunFd {
  validateIfName(opts.name);
  const path = cString("/dev/net/tun");
  const flags = O_RDWR | O_CLOEXEC | (opts.nonBlocking === false ? 0 : O_NONBLOCK);
  const fd = check(libc.open(path, flags, 0), "open /dev/net/tun");
  try {
    const ifr = pinned(IFREQ_SIZE);
    ifr.set(new TextEncoder().encode(opts.name));
    const ifFlags = IFF_TUN | IFF_NO_PI | (opts.multiQueue ? IFF_MULTI_QUEUE : 0);
    new DataView(ifr.buffer).setUint16(16, ifFlags, true);
    check(libc.ioctl(fd, TUNSETIFF, ifr), `TUNSETIFF ${opts.name}`);
    const end = ifr.indexOf(0);
    const name = new TextDecoder().decode(ifr.subarray(0, end < 0 ? IFNAMSIZ : end));
    check(libcInt.ioctl(fd, TUNSETPERSIST, 0), `TUNSETPERSIST 0 on ${name}`);
    return { fd, name };
  } catch (e) {
    libc.close(fd);
    throw e;
  }
}

export function closeTun(tun: TunFd): void {
  if (tun.fd >= 0) libc.close(tun.fd);
  tun.fd = -1;
}

/** The kernel's index for an interface name (SIOCGIFINDEX); the netlink calls are keyed by it. */
export function ifIndex(name: string): number {
  validateIfName(name);
  const sock = check(libc.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), "socket for SIOCGIFINDEX");
  try {
    const ifr = pinned(IFREQ_SIZE);
    ifr.set(new TextEncoder().encode(name));
    if (libc.ioctl(sock, SIOCGIFINDEX, addr(ifr)) < 0) throw sysError(errno(), `SIOCGIFINDEX ${name}`);
    return new DataView(ifr.buffer).getInt32(16, true);
  } finally {
    libc.close(sock);
  }
}
