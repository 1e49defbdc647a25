/**
 * Builds a packet loop from a DataplaneConfig: the same assembly whether it runs in the Worker
 * (normal case) or on the calling thread (benchmarks comparing the two).
 */
import type { DataplaneConfig } from "./dataplane-config.ts";
import { ForwardHandler } from "./handlers/forward.ts";
import { IcmpEchoResponder } from "./handlers/icmp-echo.ts";
import { LoopStats } from "./loop-stats.ts";
import type { PacketHandler } from "./packet-handler.ts";
import { PacketLoop } from "./packet-loop.ts";
import { TunIo } from "./tun-io.ts";
import { BunUdpTransport } from "./udp-bun.ts";
import { FfiUdpSocket } from "./udp-ffi.ts";
import type { UdpTransport } from "./udp-transport.ts";

export interface BuiltDataplane {
  loop: PacketLoop;
  udp: UdpTransport;
  handler: PacketHandler;
  gso: boolean;
}

export async function buildDataplane(cfg: DataplaneConfig): Promise<BuiltDataplane> {
  const u = cfg.udp;
  let udp: UdpTransport;
  if (u.transport === "bun") {
    udp = await BunUdpTransport.open({ bind: u.bind, connect: u.connect, fwmark: u.fwmark });
  } else {
    udp = new FfiUdpSocket({ bind: u.bind, fwmark: u.fwmark, gso: u.gso, bufferBytes: u.bufferBytes });
  }
  let handler: PacketHandler;
  try {
    handler = cfg.handler.kind === "forward" ? new ForwardHandler(udp, cfg.handler.peer) : new IcmpEchoResponder();
  } catch (e) {
    udp.close();
    throw e;
  }
  const loop = new PacketLoop(new TunIo(cfg.tunFd), udp, handler, {
    stats: new LoopStats(cfg.stats),
    stopFlag: new Int32Array(cfg.stop),
    idleMs: cfg.idleMs,
  });
  return { loop, udp, handler, gso: udp instanceof FfiUdpSocket && udp.gsoEnabled };
}
