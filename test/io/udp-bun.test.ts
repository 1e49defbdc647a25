/**
 * BunUdpTransport on loopback: SO_MARK reaches Bun's own socket through the fd found by
 * getsockname, and datagrams flow through the batch interface in both directions.
 */
import { afterEach, expect, test } from "bun:test";
import { check, libc, pinned, SO_MARK, SOL_SOCKET } from "../../ffi/libc.ts";
import { ACTION_TO_NET, PacketBatch } from "../../src/io/packet-batch.ts";
import { decodeSockaddr } from "../../src/io/sockaddr.ts";
import { BunUdpTransport, findSocketFd } from "../../src/io/udp-bun.ts";

const open: BunUdpTransport[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

function markOf(fd: number): number {
  const v = pinned(4);
  const l = pinned(4);
  new DataView(l.buffer).setUint32(0, 4, true);
  check(libc.getsockopt(fd, SOL_SOCKET, SO_MARK, v, l), "getsockopt SO_MARK");
  return new DataView(v.buffer).getUint32(0, true);
}

test("SO_MARK on Bun.udpSocket via its fd; batches both ways", async () => {
  const a = await BunUdpTransport.open({ bind: { ip: "127.0.0.1", port: 0 }, fwmark: 0xfd002021 });
  open.push(a);
  const b = await BunUdpTransport.open({ bind: { ip: "127.0.0.1", port: 0 }, connect: { ip: "127.0.0.1", port: a.localPort } });
  open.push(b);
  expect(a.pollFd).toBeGreaterThan(2);
  expect(markOf(a.pollFd)).toBe(0xfd002021);
  expect(findSocketFd(a.localPort, 2)).toBe(a.pollFd);
  expect(findSocketFd(1, 2)).toBe(-1);

  const out = new PacketBatch(8);
  for (let i = 0; i < 5; i++) out.push(new Uint8Array(100 + i).fill(i), ACTION_TO_NET);
  expect(b.sendBatch(out)).toBe(5);
  const got = new PacketBatch(8);
  for (let i = 0; i < 1000 && got.count < 5; i++) {
    await Bun.sleep(1); // Bun receives on the event loop
    a.recvBatch(got);
  }
  expect(got.count).toBe(5);
  for (let i = 0; i < 5; i++) {
    expect(got.packet(i)).toEqual(new Uint8Array(100 + i).fill(i));
    expect(decodeSockaddr(got.addr, i * 28)).toEqual({ ip: "127.0.0.1", port: b.localPort });
  }
  // Replies go to each slot's source address on the unconnected socket.
  got.fill(ACTION_TO_NET);
  expect(a.sendBatch(got)).toBe(5);
  const back = new PacketBatch(8);
  for (let i = 0; i < 1000 && back.count < 5; i++) {
    await Bun.sleep(1);
    b.recvBatch(back);
  }
  expect(back.count).toBe(5);
});
