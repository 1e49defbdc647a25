/**
 * What the packet loop calls with each batch: the seam between I/O and the tunnel engine.
 * Handlers rewrite slots in place and set each slot's action (packet-batch.ts); the loop then
 * does the I/O. Handlers never do I/O and never keep a slot past the call (the loop reuses it).
 */
import type { PacketBatch } from "./packet-batch.ts";

export interface PacketHandler {
  /** IP packets read from the TUN. */
  fromTun(batch: PacketBatch, now: number): void;
  /** UDP datagrams from the network, source address in each slot's sockaddr. */
  fromNet(batch: PacketBatch, now: number): void;
  /** Monotonic ms at which `handleTimeout` wants to run, or -1 for never. */
  pollTimeout?(): number;
  /** Timer work; packets to send or write go into `out` with their actions. */
  handleTimeout?(now: number, out: PacketBatch): void;
  /** Packets the handler dropped, for the stats. */
  drops?(): number;
  /** A rare message from the main thread (peers, keys, configuration), between loop turns. */
  control?(body: unknown): void;
}
