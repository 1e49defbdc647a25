/**
 * FfiUdpSocket on loopback: recvmmsg/sendmmsg without copies, UDP GSO runs (same peer, same
 * size, a shorter last one) arriving as the original datagrams, and the non-GSO path.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { ACTION_TO_NET, PacketBatch } from "../../src/io/packet-batch.ts";
import { decodeSockaddr } from "../../src/io/sockaddr.ts";
import { FfiUdpSocket } from "../../src/io/udp-ffi.ts";
import { libc, pinned, POLLIN } from "../../ffi/libc.ts";

const open: FfiUdpSocket[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

function sock(ip: string, gso = true) {
  const s = new FfiUdpSocket({ bind: { ip, port: 0 }, gso, bufferBytes: 4 << 20 });
  open.push(s);
  return s;
}

/** Receives until `want` datagrams arrived (poll with a generous bound; not a timing assertion). */
function receiveAll(rx: FfiUdpSocket, want: number): PacketBatch {
  const batch = new PacketBatch(128);
  const pfd = pinned(8);
  new DataView(pfd.buffer).setInt32(0, rx.pollFd, true);
  new DataView(pfd.buffer).setInt16(4, POLLIN, true);
  while (batch.count < want) {
    if (rx.recvBatch(batch) === 0 && libc.poll(pfd, 1, 2000) <= 0) break;
  }
  return batch;
}

function payload(i: number, len: number): Uint8Array {
  const p = new Uint8Array(len);
  for (let k = 0; k < len; k++) p[k] = (i * 31 + k) & 0xff;
  return p;
}

describe.each([
  ["127.0.0.1", true],
  ["127.0.0.1", false],
  ["::1", true],
])("FfiUdpSocket %s gso=%p", (ip, gso) => {
  test("a mixed batch arrives intact, in order, with the right source", () => {
    const tx = sock(ip as string, gso as boolean);
    const rx = sock(ip as string);
    const rx2 = sock(ip as string);
    const out = new PacketBatch(64);
    // 20 × 1200 B to rx, a 700 B tail (ends the run), 5 × 1200 to rx2, then 3 × 300 to rx.
    const plan: [FfiUdpSocket, number][] = [
      ...Array.from({ length: 20 }, () => [rx, 1200] as [FfiUdpSocket, number]),
      [rx, 700],
      ...Array.from({ length: 5 }, () => [rx2, 1200] as [FfiUdpSocket, number]),
      ...Array.from({ length: 3 }, () => [rx, 300] as [FfiUdpSocket, number]),
    ];
    plan.forEach(([dst, len], i) => {
      const slot = out.push(payload(i, len), ACTION_TO_NET);
      tx.encodeAddress({ ip: ip as string, port: dst.localPort }, out.addr, slot * 28);
    });
    out.action[3] = 0; // one slot the handler dropped: must not be sent
    expect(tx.sendBatch(out)).toBe(plan.length - 1);
    // Loopback supports GSO on this kernel: the first run of 20 went out as one super-datagram.
    if (gso) expect(tx.txGsoSegments).toBeGreaterThanOrEqual(21);
    else expect(tx.txGsoSegments).toBe(0);
    const expectRx = plan.map(([d, len], i) => ({ d, len, i })).filter((p) => p.i !== 3);
    const got1 = receiveAll(rx, expectRx.filter((p) => p.d === rx).length);
    const got2 = receiveAll(rx2, 5);
    const check = (b: PacketBatch, exp: typeof expectRx) => {
      expect(b.count).toBe(exp.length);
      exp.forEach((p, k) => {
        expect(b.len[k]).toBe(p.len);
        expect(b.packet(k)).toEqual(payload(p.i, p.len));
        expect(decodeSockaddr(b.addr, k * 28)).toEqual({ ip: ip as string, port: tx.localPort });
      });
    };
    check(got1, expectRx.filter((p) => p.d === rx));
    check(got2, expectRx.filter((p) => p.d === rx2));
  });
});

test("GSO refused by the kernel (SO_NO_CHECK makes it EINVAL): falls back and still delivers", () => {
  const tx = sock("127.0.0.1");
  const rx = sock("127.0.0.1");
  const one = pinned(4);
  new DataView(one.buffer).setInt32(0, 1, true);
  expect(libc.setsockopt((tx as unknown as { fd: number }).fd, 1, 11 /* SO_NO_CHECK */, one, 4)).toBe(0);
  const out = new PacketBatch(64);
  for (let i = 0; i < 10; i++) {
    out.push(payload(i, 1000), ACTION_TO_NET);
    tx.encodeAddress({ ip: "127.0.0.1", port: rx.localPort }, out.addr, i * 28);
  }
  expect(tx.gsoEnabled).toBe(true);
  expect(tx.sendBatch(out)).toBe(10);
  expect(tx.gsoEnabled).toBe(false);
  expect(tx.txGsoSegments).toBe(0);
  const got = receiveAll(rx, 10);
  expect(got.count).toBe(10);
  for (let i = 0; i < 10; i++) expect(got.packet(i)).toEqual(payload(i, 1000));
});

test("SO_MARK is applied (root) and errors are named", () => {
  const s = sock("127.0.0.1");
  s.setMark(0xfd002021);
  expect(s.mark()).toBe(0xfd002021);
  expect(() => new FfiUdpSocket({ bind: { ip: "127.0.0.1", port: s.localPort } })).toThrow(/EADDRINUSE: Address already in use \(bind UDP 127\.0\.0\.1:\d+\)/);
});
