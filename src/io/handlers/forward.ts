/**
 * Plain forwarding: every valid IP packet from the TUN goes to one UDP peer unchanged, and
 * every datagram that is a valid IP packet goes to the TUN. No encryption: this is the I/O path
 * of the tunnel without the engine, used by benchmarks (bench/tun.ts), the perf harness and the
 * compiled-binary e2e test to measure and prove the data plane on its own.
 */
import { PacketView } from "../../ip/index.ts";
import { ACTION_DROP, ACTION_TO_NET, ACTION_TO_TUN, SOCKADDR_SLOT, type PacketBatch } from "../packet-batch.ts";
import type { PacketHandler } from "../packet-handler.ts";
import type { Endpoint } from "../sockaddr.ts";
import type { UdpTransport } from "../udp-transport.ts";

export class ForwardHandler implements PacketHandler {
  private readonly view = new PacketView();
  private readonly peer = new Uint8Array(SOCKADDR_SLOT);
  /** Packets that did not parse as IP, by direction. */
  droppedFromTun = 0;
  droppedFromNet = 0;

  constructor(
    private readonly udp: UdpTransport,
    peer: Endpoint,
  ) {
    udp.encodeAddress(peer, this.peer, 0);
  }

  /** `{ peer: { ip, port } }` switches the destination (a roaming peer). */
  control(body: unknown): void {
    const peer = (body as { peer?: Endpoint } | null)?.peer;
    if (peer) this.udp.encodeAddress(peer, this.peer, 0);
  }

  fromTun(b: PacketBatch): void {
    for (let i = 0; i < b.count; i++) {
      if (this.view.parse(b.data, b.start(i), b.len[i]!) !== "ok") {
        b.action[i] = ACTION_DROP;
        this.droppedFromTun++;
        continue;
      }
      b.action[i] = ACTION_TO_NET;
      b.addr.set(this.peer, i * SOCKADDR_SLOT);
    }
  }

  fromNet(b: PacketBatch): void {
    for (let i = 0; i < b.count; i++) {
      if (this.view.parse(b.data, b.start(i), b.len[i]!) !== "ok") {
        b.action[i] = ACTION_DROP;
        this.droppedFromNet++;
        continue;
      }
      b.action[i] = ACTION_TO_TUN;
    }
  }

  drops(): number {
    return this.droppedFromTun + this.droppedFromNet;
  }
}
