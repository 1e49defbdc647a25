/**
 * An AF_NETLINK / NETLINK_ROUTE socket over bun:ffi: send one request, read until its
 * acknowledgement (or the end of a dump). Messages are encoded in src/io/netlink/codec.ts.
 *
 * The socket is blocking but every receive is guarded by `poll()`, so a kernel that never answers
 * becomes a readable ETIMEDOUT error instead of a hung process.
 */
import {
  AF_NETLINK,
  check,
  errno,
  libc,
  pinned,
  POLLIN,
  SOCK_CLOEXEC,
  SOCK_RAW,
  sysError,
} from "./libc.ts";
import { ERRNO } from "./errno.ts";

export const NETLINK_ROUTE = 0;
export const SOL_NETLINK = 270;
export const NETLINK_EXT_ACK = 11;
const SOCKADDR_NL_LEN = 12;
const RECV_BYTES = 64 * 1024;

export class NetlinkSocket {
  private fd: number;
  /** Receive buffer and structs C writes into: pinned and owned by this object (bun-lab §0). */
  private readonly rx = pinned(RECV_BYTES);
  private readonly kernel = pinned(SOCKADDR_NL_LEN);
  private readonly pfd = pinned(8);

  constructor(protocol = NETLINK_ROUTE) {
    this.fd = check(libc.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol), "socket(AF_NETLINK)");
    try {
      const local = pinned(SOCKADDR_NL_LEN);
      new DataView(local.buffer).setUint16(0, AF_NETLINK, true);
      check(libc.bind(this.fd, local, SOCKADDR_NL_LEN), "bind(AF_NETLINK)");
      // Extended acks carry the kernel's reason text ("Invalid prefix for given prefix length").
      const one = pinned(4);
      new DataView(one.buffer).setInt32(0, 1, true);
      libc.setsockopt(this.fd, SOL_NETLINK, NETLINK_EXT_ACK, one, 4);
    } catch (e) {
      libc.close(this.fd);
      throw e;
    }
    new DataView(this.kernel.buffer).setUint16(0, AF_NETLINK, true);
    new DataView(this.pfd.buffer).setInt32(0, this.fd, true);
    new DataView(this.pfd.buffer).setInt16(4, POLLIN, true);
  }

  send(message: Uint8Array, context: string): void {
    const buf = pinned(message.length);
    buf.set(message);
    const n = libc.sendto(this.fd, buf, buf.length, 0, this.kernel, SOCKADDR_NL_LEN);
    if (n < 0) throw sysError(errno(), `sendto netlink: ${context}`);
  }

  /** One datagram (possibly several messages), waiting at most `timeoutMs`. */
  receive(context: string, timeoutMs = 2000): Uint8Array {
    for (;;) {
      const ready = libc.poll(this.pfd, 1, timeoutMs);
      if (ready < 0) {
        const e = errno();
        if (e === ERRNO.EINTR) continue;
        throw sysError(e, `poll netlink: ${context}`);
      }
      if (ready === 0) throw sysError(ERRNO.ETIMEDOUT!, `no netlink answer: ${context}`);
      const n = libc.recvfrom(this.fd, this.rx, RECV_BYTES, 0, null, null);
      if (n < 0) {
        const e = errno();
        if (e === ERRNO.EINTR || e === ERRNO.EAGAIN) continue;
        throw sysError(e, `recvfrom netlink: ${context}`);
      }
      return this.rx.slice(0, n);
    }
  }

  close(): void {
    if (this.fd >= 0) libc.close(this.fd);
    this.fd = -1;
  }
}
