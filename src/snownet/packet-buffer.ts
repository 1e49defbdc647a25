import { MAX_BUFFERED_PACKETS } from "./constants.ts";

/**
 * IP packets a connecting connection holds until it is established: a ring of copies, the oldest
 * overwritten when full (Firezone's `AllocRingBuffer` of 128). Only the connecting phase copies;
 * an established connection never touches this.
 */
export class PacketBuffer {
  private readonly items: Uint8Array[] = [];
  /** Packets pushed out of the ring by newer ones. */
  overwritten = 0;

  constructor(readonly capacity = MAX_BUFFERED_PACKETS) {}

  push(packet: Uint8Array): void {
    if (this.items.length >= this.capacity) {
      this.items.shift();
      this.overwritten++;
    }
    this.items.push(packet.slice());
  }

  get length(): number {
    return this.items.length;
  }

  /** Removes and returns every packet, oldest first. */
  drain(): Uint8Array[] {
    return this.items.splice(0, this.items.length);
  }
}
