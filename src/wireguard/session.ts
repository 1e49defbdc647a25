import { aeadKey, type AeadKey } from "../crypto/index.ts";
import { MESSAGE_TRANSPORT, MESSAGE_TRANSPORT_HEADER_SIZE, PADDING_MULTIPLE, TAG_LEN } from "./constants.ts";
import type { TransportKeys } from "./handshake.ts";
import { readU64, writeHeader, writeU32, writeU64 } from "./messages.ts";
import { ReplayWindow } from "./replay-window.ts";

/**
 * One transport session: the pair of keys from one handshake, our sending counter and the
 * replay window for the peer's counters (paper §5.4.6). Sealing and opening work in place in
 * the caller's buffer with the 16-byte header in front, so the data path allocates nothing.
 */
export class Session {
  private readonly sender: AeadKey;
  private readonly receiver: AeadKey;
  private disposed = false;
  /** Next counter we send with. */
  sendCounter = 0;
  readonly replay = new ReplayWindow();

  constructor(
    /** Our receiver index: the peer puts it in every message to us. */
    readonly localIndex: number,
    /** The peer's receiver index: we put it in every message to the peer. */
    readonly remoteIndex: number,
    keys: TransportKeys,
    /** Monotonic ms when the keys were derived; the basis of REKEY/REJECT_AFTER_TIME. */
    readonly createdAt: number,
    /** Whether we sent message 1 of the handshake: only the initiator rekeys on age. */
    readonly isInitiator: boolean,
    /** Creation order across the tunnel, to tell which of two sessions is newer. */
    readonly generation: number,
  ) {
    // Each key is used in one direction only: half the native set-up of a "both" key.
    this.sender = aeadKey(keys.send, "seal");
    this.receiver = aeadKey(keys.receive, "open");
    keys.send.fill(0);
    keys.receive.fill(0);
  }

  /**
   * Encrypts out[16, 16+len) into a transport message in out[0, n) and returns n, or -1 when
   * out has no room for the padding and tag. The plaintext is zero-padded to 16 bytes so packet
   * sizes leak less (paper §5.4.6); an empty plaintext is a keepalive and stays empty.
   */
  seal(out: Uint8Array, len: number): number {
    const padded = (len + PADDING_MULTIPLE - 1) & ~(PADDING_MULTIPLE - 1);
    const end = MESSAGE_TRANSPORT_HEADER_SIZE + padded + TAG_LEN;
    if (this.disposed || end > out.length) return -1;
    // At most 15 bytes: a loop is cheaper than fill()'s call.
    for (let i = MESSAGE_TRANSPORT_HEADER_SIZE + len; i < MESSAGE_TRANSPORT_HEADER_SIZE + padded; i++) out[i] = 0;
    const counter = this.sendCounter;
    if (this.sender.seal(counter, out, MESSAGE_TRANSPORT_HEADER_SIZE, padded) < 0) return -1;
    this.sendCounter = counter + 1;
    writeHeader(out, MESSAGE_TRANSPORT);
    writeU32(out, 4, this.remoteIndex);
    writeU64(out, 8, counter);
    return end;
  }

  /**
   * Decrypts the transport message in buf[at, at+len) in place; the plaintext lands at
   * buf[at+16, at+16+n). Returns n, or -1 when the tag does not verify. The caller checked the
   * counter with the replay window first and records it only after this succeeds.
   */
  open(buf: Uint8Array, at: number, len: number, counter: number): number {
    if (this.disposed) return -1;
    return this.receiver.open(counter, buf, at + MESSAGE_TRANSPORT_HEADER_SIZE, len - MESSAGE_TRANSPORT_HEADER_SIZE);
  }

  static counterOf(buf: Uint8Array, at = 0): number {
    return readU64(buf, at + 8);
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Zeroes both keys; the session refuses to seal or open from now on. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.sender.dispose();
    this.receiver.dispose();
  }
}
