/**
 * A batch of packet slots in one pinned buffer: the unit every I/O call moves.
 *
 * Ownership is explicit and allocation-free: the packet loop owns its batches for the process's
 * life; a handler may rewrite a slot in place (headroom in front for a WireGuard header, room
 * behind for the tag), move `off`/`len`, and mark the slot's `action` to say where it goes next
 * (boringtun's "the result tells the driver which I/O to do"). Nothing is copied between reading
 * a packet and sending it on.
 *
 * Each slot also has a socket address area: the source after a UDP receive, the destination
 * for a UDP send (sockaddr_in or sockaddr_in6 bytes, see sockaddr.ts).
 */
import { ptr } from "bun:ffi";
import { pinned } from "../../ffi/libc.ts";

/** What happens to a slot after the handler saw it. */
export const ACTION_DROP = 0;
export const ACTION_TO_NET = 1;
export const ACTION_TO_TUN = 2;

/** Bytes of headroom kept in front of a packet read from the TUN (WireGuard data header: 16). */
export const DEFAULT_HEADROOM = 32;
/** Slot size: headroom + the largest IP packet we carry (MTU ≤ 1500 + encapsulation) + tag room. */
export const DEFAULT_SLOT_SIZE = 2048;
/** Batch size: bun-lab measured 64 packets per wake-up as the knee for reads and sendmmsg. */
export const DEFAULT_BATCH = 64;
/** sizeof(struct sockaddr_in6): room for either family. */
export const SOCKADDR_SLOT = 28;

export class PacketBatch {
  /** All slots, `slotSize` bytes each. C reads and writes here: pinned, owned by this object. */
  readonly data: Uint8Array;
  /** Per-slot socket address (source on receive, destination on send). Pinned. */
  readonly addr: Uint8Array;
  /** Start of the packet inside slot i, relative to the slot's first byte. */
  readonly off: Int32Array;
  readonly len: Int32Array;
  readonly action: Uint8Array;
  /** Addresses of `data` and `addr` for C (pinned memory does not move, bun-lab §0.2). */
  readonly dataPtr: number;
  readonly addrPtr: number;
  /** Number of slots in use. */
  count = 0;
  /** `data.subarray` of each slot, made once so handlers never allocate a view per packet. */
  readonly slots: Uint8Array[];

  constructor(
    readonly capacity: number = DEFAULT_BATCH,
    readonly slotSize: number = DEFAULT_SLOT_SIZE,
    readonly headroom: number = DEFAULT_HEADROOM,
  ) {
    if (headroom >= slotSize) throw new RangeError(`headroom ${headroom} must be below slot size ${slotSize}`);
    this.data = pinned(capacity * slotSize);
    this.addr = pinned(capacity * SOCKADDR_SLOT);
    this.dataPtr = ptr(this.data);
    this.addrPtr = ptr(this.addr);
    this.off = new Int32Array(capacity);
    this.len = new Int32Array(capacity);
    this.action = new Uint8Array(capacity);
    this.slots = [];
    for (let i = 0; i < capacity; i++) this.slots.push(this.data.subarray(i * slotSize, (i + 1) * slotSize));
  }

  /** Absolute byte offset of packet i in `data`. */
  start(i: number): number {
    return i * this.slotSize + this.off[i]!;
  }

  /** Room for a packet after the headroom (what a read may fill). */
  get payloadRoom(): number {
    return this.slotSize - this.headroom;
  }

  /** Marks every slot in use with one action. */
  fill(action: number): void {
    this.action.fill(action, 0, this.count);
  }

  /** Copies a packet into the next free slot (tests, slow paths); returns the slot or -1 when full. */
  push(packet: Uint8Array, action: number = ACTION_DROP): number {
    if (this.count >= this.capacity || packet.length > this.payloadRoom) return -1;
    const i = this.count++;
    this.off[i] = this.headroom;
    this.len[i] = packet.length;
    this.action[i] = action;
    this.slots[i]!.set(packet, this.headroom);
    return i;
  }

  /** A view of packet i (allocates: for tests and slow paths only). */
  packet(i: number): Uint8Array {
    return this.slots[i]!.subarray(this.off[i]!, this.off[i]! + this.len[i]!);
  }
}
