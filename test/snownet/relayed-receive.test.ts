/**
 * The relayed receive path allocates no view per packet: the WireGuard datagram inside a
 * ChannelData message is handed to the Device as (ChannelData buffer, 4, length), copied into the
 * node's receive buffer by a native copy and opened there. Checked by watching every
 * `Uint8Array.prototype.subarray` call and the Device's arguments while a relayed packet arrives.
 */
import { expect, test } from "bun:test";
import { established, ipv4, pair, text, type Peer } from "./harness.ts";
import { Device } from "../../src/wireguard/index.ts";
import type { ReceivedPacket, SocketAddress } from "../../src/snownet/index.ts";

function connect(opts: Parameters<typeof pair>[0] = {}) {
  const p = pair(opts);
  expect(p.wire.runUntil(() => established(p.a, "gw") && established(p.b, "client"), 10_000)).toBe(true);
  return p;
}

interface Observed {
  /** The WireGuard/STUN type byte behind the ChannelData header. */
  type: number;
  views: number;
  device: { sameBuffer: boolean; off: number; len: number } | undefined;
  intact: boolean;
  text: string | undefined;
  buf: Uint8Array | undefined;
  offset: number;
}

/** Wraps `p.node.handleInput` so that ChannelData carrying WireGuard data is observed. */
function observeChannelData(p: Peer): { seen: Observed[]; restore: () => void } {
  const node = p.node;
  const original = node.handleInput;
  const seen: Observed[] = [];
  node.handleInput = function (from: SocketAddress, local: SocketAddress, bytes: Uint8Array, now: number): ReceivedPacket<string> | undefined {
    const channelData = bytes[0]! >= 0x40 && bytes[0]! <= 0x4f && bytes.length > 4;
    if (!channelData) return original.call(node, from, local, bytes, now);
    const copy = bytes.slice();
    const subarray = Uint8Array.prototype.subarray;
    const decapsulateAt = Device.prototype.decapsulateAt;
    const o: Observed = { type: bytes[4]!, views: 0, device: undefined, intact: false, text: undefined, buf: undefined, offset: -1 };
    Uint8Array.prototype.subarray = function (this: Uint8Array, start?: number, end?: number) {
      o.views++;
      return subarray.call(this, start, end);
    } as typeof subarray;
    Device.prototype.decapsulateAt = function (this: Device<string>, buf, off, len, ...rest) {
      o.device = { sameBuffer: buf === bytes, off, len };
      return decapsulateAt.call(this, buf, off, len, ...rest);
    };
    let r: ReceivedPacket<string> | undefined;
    try {
      r = original.call(node, from, local, bytes, now);
    } finally {
      Uint8Array.prototype.subarray = subarray;
      Device.prototype.decapsulateAt = decapsulateAt;
    }
    o.intact = Buffer.from(bytes).equals(Buffer.from(copy));
    if (r) {
      o.buf = r.buf;
      o.offset = r.offset;
      o.text = text(r.buf.slice(r.offset, r.offset + r.length));
    }
    seen.push(o);
    return r;
  };
  return { seen, restore: () => void (node.handleInput = original) };
}

test("relayed receive: the WireGuard datagram is read inside the ChannelData buffer, no view per packet", () => {
  const { wire, a, b } = connect({ blockDirect: true });
  expect(a.node.connection("gw")!.path!.kind.startsWith("relay-to-")).toBe(true);
  const { seen, restore } = observeChannelData(a);
  try {
    for (let i = 0; i < 5; i++) {
      const msg = `relayed ${i} ${"x".repeat(i * 300)}`;
      const r = b.node.encapsulate("client", ipv4(msg), wire.now);
      expect(r.status).toBe("transmit");
      wire.sendEncapsulated(b, r);
      wire.runFor(50);
      expect(a.inbox.map((x) => text(x.packet))).toContain(msg);
    }
    // Long enough for relayed ICE checks and a WireGuard keepalive to come through as well.
    wire.runFor(30_000);
  } finally {
    restore();
  }
  // The hooks do see views where the node still makes one (relayed STUN checks; handshakes):
  // the zero below is a measurement, not a blind spot.
  const rare = seen.filter((o) => o.type <= 3);
  expect(rare.length).toBeGreaterThan(0);
  expect(rare.some((o) => o.views > 0)).toBe(true);
  const data = seen.filter((o) => o.text !== undefined);
  expect(data.length).toBe(5);
  for (const [i, o] of data.entries()) {
    expect(o.text).toBe(`relayed ${i} ${"x".repeat(i * 300)}`);
    // The Device got the ChannelData buffer itself, the datagram behind the 4-byte header.
    expect(o.device).toMatchObject({ sameBuffer: true, off: 4 });
    expect(o.views).toBe(0);
    // Opened in the node's own receive buffer at 16, the same buffer every time; the caller's
    // ChannelData bytes are left as they were.
    expect(o.buf).toBe(data[0]!.buf!);
    expect(o.offset).toBe(16);
    expect(o.intact).toBe(true);
  }
});

