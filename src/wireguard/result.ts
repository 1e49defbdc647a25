/**
 * What a tunnel call asks its caller to do. One `TunnResult` object per tunnel is reused for
 * every call, so the data path allocates nothing; read it before the next call on that tunnel.
 */
export enum TunnAction {
  /** Nothing to send or write. */
  Done = 0,
  /** Send buf[offset, offset+length) to the peer as one UDP datagram. */
  WriteToNetwork = 1,
  /** Write the decrypted IPv4 packet buf[offset, offset+length) to the TUN device. */
  WriteToTunnelV4 = 2,
  /** Write the decrypted IPv6 packet buf[offset, offset+length) to the TUN device. */
  WriteToTunnelV6 = 3,
  /** The input was dropped; `reason` says why and the tunnel's drop counter for it went up. */
  Dropped = 4,
}

/** Why a packet was dropped. Every value has a counter in `TunnelStats.drops`. */
export enum DropReason {
  None = 0,
  /** Shorter than any message, wrong fixed size, or non-zero reserved bytes. */
  InvalidLength,
  UnknownType,
  InvalidMac1,
  /** Under load, without a valid MAC2, and no source address to send a cookie to. */
  UnderLoad,
  /** Noise decryption of a handshake field failed (wrong key, corrupted, not for us). */
  HandshakeDecryptFailed,
  /** Initiation from a static key that is not this tunnel's peer. */
  WrongPeer,
  /** Initiation timestamp not newer than the last accepted one (replayed initiation). */
  ReplayedTimestamp,
  /** Initiations arriving faster than HANDSHAKE_INITIATION_RATE. */
  InitiationFlood,
  /** Response or cookie reply for no handshake we have in flight. */
  UnexpectedHandshake,
  CookieDecryptFailed,
  /** Receiver index not known to this node or tunnel. */
  UnknownReceiverIndex,
  /** Session older than REJECT_AFTER_TIME, or its keys were zeroed. */
  SessionExpired,
  /** Counter already seen or left of the replay window. */
  Replay,
  /** Counter at or above the reject limit. */
  CounterLimit,
  /** Transport ciphertext failed authentication. */
  DecryptFailed,
  /** Decrypted payload is not a well-formed IPv4/IPv6 packet. */
  InvalidIpPacket,
  /** No session yet and the pre-handshake queue is full. */
  QueueFull,
  /** Caller's output buffer is too small for the result. */
  BufferTooSmall,
  /** The handshake gave up after the rekey attempt time; queued packets were dropped. */
  ConnectionExpired,
  /** The peer's public key is a low-order point: no handshake is possible. */
  InvalidPeerKey,
  /** The tunnel was closed. */
  Closed,
}

export const DROP_REASON_COUNT = DropReason.Closed + 1;

export class TunnResult {
  action: TunnAction = TunnAction.Done;
  buf: Uint8Array = EMPTY;
  offset = 0;
  length = 0;
  reason: DropReason = DropReason.None;

  /** Convenience view of the bytes to send/write (allocates a view; hot paths use buf/offset/length). */
  bytes(): Uint8Array {
    return this.buf.subarray(this.offset, this.offset + this.length);
  }
}

const EMPTY = new Uint8Array(0);

export function setResult(r: TunnResult, action: TunnAction, buf: Uint8Array, offset: number, length: number): TunnResult {
  r.action = action;
  r.buf = buf;
  r.offset = offset;
  r.length = length;
  r.reason = DropReason.None;
  return r;
}

export function setDone(r: TunnResult): TunnResult {
  r.action = TunnAction.Done;
  r.buf = EMPTY;
  r.offset = 0;
  r.length = 0;
  r.reason = DropReason.None;
  return r;
}

export function setDropped(r: TunnResult, reason: DropReason): TunnResult {
  r.action = TunnAction.Dropped;
  r.buf = EMPTY;
  r.offset = 0;
  r.length = 0;
  r.reason = reason;
  return r;
}
