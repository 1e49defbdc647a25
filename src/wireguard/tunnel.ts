import { constantTimeEqual, randomBytes } from "../crypto/index.ts";
import { logger } from "../log/index.ts";
import { CookieChecker, CookieGenerator, gateHandshake, GateVerdict } from "./cookie.ts";
import {
  HANDSHAKE_INITIATION_RATE,
  KEEPALIVE_TIMEOUT,
  MAX_COUNTER,
  MAX_QUEUED_PACKETS,
  MAX_SESSIONS,
  MESSAGE_COOKIE_REPLY_SIZE,
  MESSAGE_HANDSHAKE_COOKIE,
  MESSAGE_HANDSHAKE_INITIATION,
  MESSAGE_HANDSHAKE_RESPONSE,
  MESSAGE_INITIATION_SIZE,
  MESSAGE_RESPONSE_SIZE,
  MESSAGE_TRANSPORT,
  MESSAGE_TRANSPORT_HEADER_SIZE,
  MESSAGE_TRANSPORT_MIN_SIZE,
  PADDING_MULTIPLE,
  PEER_HANDSHAKE_RATE_LIMIT,
  REJECT_AFTER_TIME,
  REKEY_AFTER_MESSAGES,
  REKEY_AFTER_TIME,
  REKEY_ATTEMPT_TIME,
  REKEY_ON_RECEIVE_AFTER,
  REKEY_TIMEOUT,
  REKEY_TIMEOUT_JITTER_MAX,
  TAG_LEN,
  TIMESTAMP_LEN,
  ZERO_KEYS_AFTER,
} from "./constants.ts";
import {
  consumeInitiationStatic,
  consumeInitiationTimestamp,
  consumeResponse,
  LocalStatic,
  PeerStatic,
  tai64n,
  timestampAfter,
  wipeInitiator,
  writeInitiation,
  writeResponse,
  type ConsumedInitiation,
  type InitiatorState,
} from "./handshake.ts";
import { IndexTable } from "./index-table.ts";
import { inBounds, messageView, readU32, readU64 } from "./messages.ts";
import { RateLimiter } from "./rate-limiter.ts";
import { DropReason, setDone, setDropped, setResult, TunnAction, TunnResult } from "./result.ts";
import { Session } from "./session.ts";
import { Timer, TIMER_REASONS, Timers } from "./timers.ts";
import { TunnelStats } from "./tunnel-stats.ts";

const log = logger("wireguard::tunnel");

export interface TunnelConfig {
  /** Our static X25519 private key; or `local` when a device shares one. */
  privateKey?: Uint8Array;
  local?: LocalStatic;
  peerPublicKey: Uint8Array;
  /** 32-byte pre-shared key mixed into every handshake; none means 32 zero bytes. */
  presharedKey?: Uint8Array | null;
  /** Wall-clock milliseconds since 1970, only for the TAI64N timestamp of initiations. */
  wallClock: () => number;
  /** Receiver indices unique across the local node; a device passes its own. */
  indexTable?: IndexTable<Tunnel>;
  /** Shared by all tunnels behind one static key; a lone tunnel gets its own. */
  rateLimiter?: RateLimiter;
  cookieChecker?: CookieChecker;
  /** How long a handshake is retried before the connection expires (Firezone ICE mode: 20 s). */
  rekeyAttemptTime?: number;
  /** Send a keepalive after this many ms without sending anything; 0 or absent: off. */
  persistentKeepalive?: number;
  /** Override REKEY_AFTER_MESSAGES (tests). */
  rekeyAfterMessages?: number;
  /** Override the reject-after-messages counter limit (tests); default MAX_COUNTER. */
  rejectAfterMessages?: number;
  /** Uniform [0, 1) for retransmission jitter; injectable for deterministic tests. */
  random?: () => number;
  /** The caller's id for this peer; a device reports it with every result. */
  tag?: unknown;
}

export type TunnelEvent =
  | { type: "handshakeCompleted"; initiator: boolean; localIndex: number; at: number }
  | { type: "connectionExpired"; at: number };

export interface Timeout {
  at: number;
  reason: string;
}

const bufferCopy = Buffer.prototype.copy as (this: Uint8Array, target: Uint8Array, targetStart: number, sourceStart: number, sourceEnd: number) => number;

/**
 * out[0, len) = src[off, off+len) without a view: `out.set(src.subarray(...))` allocates one
 * per packet, a byte loop costs ~0.8 µs per 1400 bytes, Buffer's native copy ~35 ns and nothing.
 */
function copyInto(out: Uint8Array, src: Uint8Array, off: number, len: number): void {
  if (off === 0 && len === src.length) out.set(src);
  else bufferCopy.call(src, out, 0, off, off + len);
}

/** Uniformly random u32 from the CSPRNG, for receiver indices. */
export function randomIndex(): number {
  const b = randomBytes(4);
  return (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0;
}

/**
 * One WireGuard peer, sans-IO, in the shape of boringtun's `Tunn`: the caller feeds IP packets
 * (`encapsulate`), datagrams (`decapsulate`) and time (`handleTimeout` when `pollTimeout` says),
 * and every call returns a `TunnResult` telling it what to send or write. Handshake messages and
 * keepalives live in a small internal buffer; data is sealed/opened in the caller's buffer with
 * 16 bytes of header room, so the data path allocates nothing.
 *
 * Results are one reused object: consume it before the next call. After `decapsulate`,
 * `handleTimeout` or `rollOver`, call `pollTransmit(now)` until it returns Done to flush
 * packets that were queued during a handshake (or leave it to the SendPending timer).
 */
export class Tunnel {
  readonly peer: PeerStatic;
  readonly stats = new TunnelStats();
  tag: unknown;

  private readonly wallClock: () => number;
  private readonly indexTable: IndexTable<Tunnel>;
  private readonly cookies: CookieGenerator;
  private readonly checker: CookieChecker;
  private readonly limiter: RateLimiter;
  private readonly random: () => number;
  private readonly rekeyAttemptTime: number;
  private readonly persistentKeepalive: number;
  private readonly rekeyAfterMessages: number;
  private readonly rejectAfterMessages: number;

  private readonly timers = new Timers();
  private readonly result = new TunnResult();
  /** Handshake messages, cookie replies and keepalives: the largest is the initiation. */
  private readonly ctrl = new Uint8Array(MESSAGE_INITIATION_SIZE);
  private readonly timestampBuf = new Uint8Array(TIMESTAMP_LEN);
  private readonly timeout: Timeout = { at: 0, reason: "" };

  /** At most MAX_SESSIONS, oldest first; `current` is the one we send with. */
  private readonly sessions: Session[] = [];
  private current: Session | null = null;
  private generation = 0;

  /** Our initiation in flight, if any. */
  private initiator: InitiatorState | null = null;
  /** When the current handshake attempt began (retries included), -1 when none. */
  private handshakeStartedAt = -1;
  private lastInitiationSentAt = -Infinity;
  private sentLastMinuteHandshake = false;
  private wantInitiation = false;
  private wantKeepalive = false;
  private needAnotherKeepalive = false;

  /** Replay protection for initiations: the greatest timestamp accepted from the peer. */
  private readonly lastTimestamp = new Uint8Array(TIMESTAMP_LEN);
  private lastInitiationConsumedAt = -Infinity;

  /** IP packets waiting for a session, each in its own buffer with header and tag room. */
  private readonly queue: { buf: Uint8Array; len: number }[] = [];
  private readonly events: TunnelEvent[] = [];
  private closed = false;

  constructor(config: TunnelConfig) {
    const local = config.local ?? (config.privateKey ? new LocalStatic(config.privateKey) : null);
    if (local === null) throw new TypeError("Tunnel needs privateKey or local");
    if (config.peerPublicKey.length !== 32) throw new TypeError("peer public key must be 32 bytes");
    if (config.presharedKey && config.presharedKey.length !== 32) throw new TypeError("pre-shared key must be 32 bytes");
    this.peer = new PeerStatic(local, config.peerPublicKey, config.presharedKey ?? null);
    this.wallClock = config.wallClock;
    this.indexTable = config.indexTable ?? new IndexTable<Tunnel>(randomIndex);
    this.cookies = new CookieGenerator(config.peerPublicKey);
    this.checker = config.cookieChecker ?? new CookieChecker(local.publicKey);
    this.limiter = config.rateLimiter ?? new RateLimiter(PEER_HANDSHAKE_RATE_LIMIT);
    this.random = config.random ?? Math.random;
    this.rekeyAttemptTime = config.rekeyAttemptTime ?? REKEY_ATTEMPT_TIME;
    this.persistentKeepalive = config.persistentKeepalive ?? 0;
    this.rekeyAfterMessages = config.rekeyAfterMessages ?? REKEY_AFTER_MESSAGES;
    this.rejectAfterMessages = Math.min(config.rejectAfterMessages ?? MAX_COUNTER, MAX_COUNTER);
    this.tag = config.tag;
  }

  // --- Public API -----------------------------------------------------------------------------

  /**
   * Encrypts one IP packet for the peer into out[0, n): out needs packet length + 47 bytes
   * (header, up to 15 padding, tag). A packet already at out[16] is not copied. Without a
   * session the packet is queued and the handshake initiation is returned instead.
   */
  encapsulate(packet: Uint8Array, out: Uint8Array, now: number): TunnResult {
    const r = this.result;
    if (this.closed) return this.dropped(DropReason.Closed);
    const len = packet.length;
    const s = this.usableSession(now);
    if (s === null) {
      if (len > 0) {
        if (this.queue.length >= MAX_QUEUED_PACKETS) return this.dropped(DropReason.QueueFull);
        const buf = new Uint8Array(MESSAGE_TRANSPORT_HEADER_SIZE + len + PADDING_MULTIPLE + TAG_LEN);
        buf.set(packet, MESSAGE_TRANSPORT_HEADER_SIZE);
        this.queue.push({ buf, len });
      }
      this.startHandshake(now, false);
      const sent = this.wantInitiation ? this.sendInitiation(now) : setDone(r);
      this.refreshSendPending(now);
      return sent;
    }
    if (MESSAGE_TRANSPORT_HEADER_SIZE + len + PADDING_MULTIPLE - 1 + TAG_LEN > out.length) {
      return this.dropped(DropReason.BufferTooSmall);
    }
    // byteOffset first: reading `.buffer` costs ~16 ns, comparing offsets nothing.
    if (packet.byteOffset !== out.byteOffset + MESSAGE_TRANSPORT_HEADER_SIZE || packet.buffer !== out.buffer) {
      out.set(packet, MESSAGE_TRANSPORT_HEADER_SIZE);
    }
    return this.sendOn(s, out, len, now);
  }

  /**
   * Handles one datagram from the peer. `out` receives the decrypted packet at offset 16 (a
   * datagram already in `out` at offset 0 is decrypted in place). The source address is only
   * needed to answer with a cookie when under load.
   */
  decapsulate(datagram: Uint8Array, out: Uint8Array, now: number, srcAddress?: string, srcPort?: number): TunnResult {
    return this.decapsulateAt(datagram, 0, datagram.length, out, now, srcAddress, srcPort);
  }

  /**
   * `decapsulate` for the datagram buf[off, off+len), without a view per datagram (ChannelData
   * from a relay carries it behind a 4-byte header). Transport data is decrypted in place when
   * `out === buf` (the packet is then at buf[off+16..]) or when buf[off] is out[0]; otherwise it
   * is copied to out[0..len) and the packet is at out[16..]. An off/len outside buf is a counted
   * InvalidLength drop.
   */
  decapsulateAt(
    buf: Uint8Array,
    off: number,
    len: number,
    out: Uint8Array,
    now: number,
    srcAddress?: string,
    srcPort?: number,
  ): TunnResult {
    if (this.closed) return this.dropped(DropReason.Closed);
    if (!inBounds(buf, off, len) || len < 4) return this.dropped(DropReason.InvalidLength);
    if (buf[off + 1] !== 0 || buf[off + 2] !== 0 || buf[off + 3] !== 0) return this.dropped(DropReason.UnknownType);
    switch (buf[off]) {
      case MESSAGE_HANDSHAKE_INITIATION:
        if (len !== MESSAGE_INITIATION_SIZE) return this.dropped(DropReason.InvalidLength);
        return this.handleInitiation(messageView(buf, off, len), now, srcAddress, srcPort);
      case MESSAGE_HANDSHAKE_RESPONSE:
        if (len !== MESSAGE_RESPONSE_SIZE) return this.dropped(DropReason.InvalidLength);
        return this.handleResponse(messageView(buf, off, len), now, srcAddress, srcPort);
      case MESSAGE_HANDSHAKE_COOKIE:
        if (len !== MESSAGE_COOKIE_REPLY_SIZE) return this.dropped(DropReason.InvalidLength);
        return this.handleCookieReply(messageView(buf, off, len), now);
      case MESSAGE_TRANSPORT:
        if (len < MESSAGE_TRANSPORT_MIN_SIZE) return this.dropped(DropReason.InvalidLength);
        return this.handleTransport(buf, off, len, out, now);
      default:
        return this.dropped(DropReason.UnknownType);
    }
  }

  /** Runs every timer due at `now`, then returns the first thing to send (see pollTransmit). */
  handleTimeout(now: number): TunnResult {
    if (this.closed) return setDone(this.result);
    for (let t = this.timers.takeExpired(now); t !== -1; t = this.timers.takeExpired(now)) {
      switch (t) {
        case Timer.RetransmitHandshake:
          if (this.handshakeStartedAt >= 0) {
            log.debug("handshake retransmit", { elapsedMs: now - this.handshakeStartedAt });
            this.startHandshake(now, true);
          }
          break;
        case Timer.RekeyAttemptExpired:
          this.giveUp(now);
          break;
        case Timer.SendKeepalive:
          this.requestKeepalive(now);
          if (this.needAnotherKeepalive) {
            this.needAnotherKeepalive = false;
            this.timers.set(Timer.SendKeepalive, now + KEEPALIVE_TIMEOUT);
          }
          break;
        case Timer.NewHandshake:
          log.debug("no reply to data for 15 s, handshaking again");
          this.startHandshake(now, false);
          break;
        case Timer.ZeroKeyMaterial:
          log.debug("no new session for 3 x REJECT_AFTER_TIME, zeroing keys");
          this.zeroKeys();
          break;
        case Timer.PersistentKeepalive:
          this.requestKeepalive(now);
          break;
        case Timer.SendPending:
          break;
      }
    }
    return this.pollTransmit(now);
  }

  /**
   * The next thing to send, if any: a handshake initiation, then packets queued during the
   * handshake (sealed in their own buffers), then a keepalive. Call until it returns Done.
   */
  pollTransmit(now: number): TunnResult {
    if (this.closed) return setDone(this.result);
    let r: TunnResult | null = null;
    if (this.wantInitiation) r = this.sendInitiation(now);
    else if (this.queue.length > 0) r = this.flushQueued(now);
    if (r === null && this.wantKeepalive) {
      this.wantKeepalive = false;
      r = this.sendKeepalive(now);
    }
    this.refreshSendPending(now);
    return r ?? setDone(this.result);
  }

  /** When the caller must call `handleTimeout` next, and why; null when nothing is scheduled. */
  pollTimeout(): Timeout | null {
    const t = this.timers.next();
    if (t === -1) return null;
    this.timeout.at = this.timers.at(t);
    this.timeout.reason = TIMER_REASONS[t];
    return this.timeout;
  }

  pollEvent(): TunnelEvent | undefined {
    return this.events.shift();
  }

  /**
   * Starts a fresh handshake now, even if one was sent recently: the connection layer rolls the
   * session over when a connection is upserted. Older sessions stay usable for receiving until
   * they expire, so packets in flight still decrypt. Returns the initiation to send.
   */
  rollOver(now: number): TunnResult {
    if (this.closed) return this.dropped(DropReason.Closed);
    this.startHandshake(now, true);
    return this.pollTransmit(now);
  }

  /**
   * Message 1 whose static key a device already decrypted (and matched to this peer): checks the
   * timestamp, derives the session and returns the response to send.
   */
  handleConsumedInitiation(c: ConsumedInitiation, now: number): TunnResult {
    if (this.closed) return this.dropped(DropReason.Closed);
    const timestamp = consumeInitiationTimestamp(this.peer, c);
    if (timestamp === null) return this.dropped(DropReason.HandshakeDecryptFailed);
    if (!timestampAfter(timestamp, this.lastTimestamp)) return this.dropped(DropReason.ReplayedTimestamp);
    if (now - this.lastInitiationConsumedAt < HANDSHAKE_INITIATION_RATE) return this.dropped(DropReason.InitiationFlood);
    const localIndex = this.indexTable.allocate(this);
    const keys = writeResponse(this.peer, c, localIndex, this.ctrl);
    if (keys === null) {
      this.indexTable.free(localIndex);
      return this.dropped(DropReason.HandshakeDecryptFailed);
    }
    this.lastTimestamp.set(timestamp);
    this.lastInitiationConsumedAt = now;
    this.cookies.addMacs(this.ctrl, MESSAGE_RESPONSE_SIZE, now);
    // The responder may not send on the new session until the initiator proves it has the keys
    // (key confirmation, paper §5.4.4): it becomes current on its first authenticated packet.
    this.addSession(new Session(localIndex, c.senderIndex, keys, now, false, ++this.generation));
    this.sessionDerived(now);
    this.stats.rxBytes += MESSAGE_INITIATION_SIZE;
    log.debug("initiation accepted, response sent", { localIndex, remoteIndex: c.senderIndex });
    return this.sent(this.ctrl, MESSAGE_RESPONSE_SIZE, now);
  }

  /** Whether a receiver index belongs to this tunnel (its handshake or one of its sessions). */
  ownsIndex(index: number): boolean {
    if (this.initiator !== null && this.initiator.localIndex === index) return true;
    return this.findSession(index) !== null;
  }

  /** Whether there is a session we can send with at `now`. */
  hasSession(now: number): boolean {
    return this.usableSession(now) !== null;
  }

  /** Number of sessions held (expired ones included until replaced or zeroed). */
  get sessionCount(): number {
    return this.sessions.length;
  }

  /** Zeroes every key, frees every index and refuses all further input. */
  close(): void {
    if (this.closed) return;
    this.zeroKeys();
    this.timers.clearAll();
    this.closed = true;
  }

  // --- Handshake ------------------------------------------------------------------------------

  private handleInitiation(msg: Uint8Array, now: number, srcAddress?: string, srcPort?: number): TunnResult {
    const gated = this.gate(msg, MESSAGE_INITIATION_SIZE, now, srcAddress, srcPort);
    if (gated !== null) return gated;
    const c = consumeInitiationStatic(this.peer.local, msg);
    if (c === null) return this.dropped(DropReason.HandshakeDecryptFailed);
    if (!constantTimeEqual(c.peerStatic, this.peer.peerPublicKey)) return this.dropped(DropReason.WrongPeer);
    return this.handleConsumedInitiation(c, now);
  }

  private handleResponse(msg: Uint8Array, now: number, srcAddress?: string, srcPort?: number): TunnResult {
    const gated = this.gate(msg, MESSAGE_RESPONSE_SIZE, now, srcAddress, srcPort);
    if (gated !== null) return gated;
    const st = this.initiator;
    if (st === null || readU32(msg, 8) !== st.localIndex) return this.dropped(DropReason.UnexpectedHandshake);
    const keys = consumeResponse(this.peer, st, msg);
    if (keys === null) return this.dropped(DropReason.HandshakeDecryptFailed);
    this.initiator = null;
    wipeInitiator(st);
    const session = new Session(st.localIndex, readU32(msg, 4), keys, now, true, ++this.generation);
    this.addSession(session);
    this.current = session;
    this.stats.rxBytes += MESSAGE_RESPONSE_SIZE;
    this.handshakeComplete(now, true, session.localIndex);
    this.sessionDerived(now);
    this.timers.clear(Timer.NewHandshake);
    this.traversal(now);
    // Confirm the keys to the responder at once: queued data does it, else a keepalive.
    this.wantKeepalive = true;
    return this.pollTransmit(now);
  }

  private handleCookieReply(msg: Uint8Array, now: number): TunnResult {
    if (!this.ownsIndex(readU32(msg, 4))) return this.dropped(DropReason.UnexpectedHandshake);
    if (!this.cookies.consumeReply(msg, now)) return this.dropped(DropReason.CookieDecryptFailed);
    this.stats.cookiesReceived++;
    log.debug("cookie received; the next handshake message carries MAC2");
    return setDone(this.result);
  }

  private gate(msg: Uint8Array, size: number, now: number, srcAddress?: string, srcPort?: number): TunnResult | null {
    switch (gateHandshake(this.checker, this.limiter, msg, size, now, srcAddress, srcPort, this.ctrl)) {
      case GateVerdict.Pass:
        return null;
      case GateVerdict.InvalidMac1:
        return this.dropped(DropReason.InvalidMac1);
      case GateVerdict.UnderLoad:
        return this.dropped(DropReason.UnderLoad);
      case GateVerdict.CookieReply:
        this.stats.cookieRepliesSent++;
        this.stats.txBytes += MESSAGE_COOKIE_REPLY_SIZE;
        return setResult(this.result, TunnAction.WriteToNetwork, this.ctrl, 0, MESSAGE_COOKIE_REPLY_SIZE);
    }
  }

  /**
   * Asks for an initiation. Unless `force` (retransmission, roll-over) at most one per
   * REKEY_TIMEOUT, so a burst of packets without a session does not become a burst of handshakes.
   */
  private startHandshake(now: number, force: boolean): void {
    if (!force && (this.wantInitiation || now - this.lastInitiationSentAt < REKEY_TIMEOUT)) return;
    if (this.handshakeStartedAt < 0) {
      this.handshakeStartedAt = now;
      this.timers.set(Timer.RekeyAttemptExpired, now + this.rekeyAttemptTime);
    }
    this.wantInitiation = true;
    this.timers.set(Timer.SendPending, now);
  }

  private sendInitiation(now: number): TunnResult {
    this.wantInitiation = false;
    if (this.initiator !== null) {
      this.indexTable.free(this.initiator.localIndex);
      wipeInitiator(this.initiator);
      this.initiator = null;
    }
    const localIndex = this.indexTable.allocate(this);
    const st = writeInitiation(this.peer, localIndex, tai64n(this.wallClock(), this.timestampBuf), this.ctrl);
    if (st === null) {
      this.indexTable.free(localIndex);
      log.warn("cannot handshake: peer public key is a low-order point");
      return this.dropped(DropReason.InvalidPeerKey);
    }
    this.initiator = st;
    this.cookies.addMacs(this.ctrl, MESSAGE_INITIATION_SIZE, now);
    this.lastInitiationSentAt = now;
    this.timers.set(Timer.RetransmitHandshake, now + REKEY_TIMEOUT + Math.floor(this.random() * REKEY_TIMEOUT_JITTER_MAX));
    this.stats.initiationsSent++;
    log.debug("initiation sent", { localIndex });
    return this.sent(this.ctrl, MESSAGE_INITIATION_SIZE, now);
  }

  private handshakeComplete(now: number, initiator: boolean, localIndex: number): void {
    // Any fresh session ends our retrying, whoever initiated it (wireguard-go calls
    // timersHandshakeComplete on key confirmation too): if our initiations are being lost but
    // the peer's got through, the connection is alive and must not expire. A late response to
    // our own initiation is still accepted.
    this.timers.clear(Timer.RetransmitHandshake);
    this.timers.clear(Timer.RekeyAttemptExpired);
    this.handshakeStartedAt = -1;
    this.sentLastMinuteHandshake = false;
    this.stats.handshakesCompleted++;
    this.stats.lastHandshakeAt = now;
    this.stats.lastHandshakeWallMs = this.wallClock();
    this.events.push({ type: "handshakeCompleted", initiator, localIndex, at: now });
    log.debug("handshake completed", { initiator, localIndex });
  }

  /** REKEY_ATTEMPT_TIME passed without a response: the connection is gone. */
  private giveUp(now: number): void {
    if (this.initiator !== null) {
      this.indexTable.free(this.initiator.localIndex);
      wipeInitiator(this.initiator);
      this.initiator = null;
    }
    this.handshakeStartedAt = -1;
    this.wantInitiation = false;
    this.timers.clear(Timer.RetransmitHandshake);
    for (let i = 0; i < this.queue.length; i++) this.stats.drop(DropReason.ConnectionExpired);
    this.queue.length = 0;
    if (!this.timers.pending(Timer.ZeroKeyMaterial)) this.timers.set(Timer.ZeroKeyMaterial, now + ZERO_KEYS_AFTER);
    this.events.push({ type: "connectionExpired", at: now });
    log.debug("handshake did not complete within the rekey attempt time; connection expired", {
      rekeyAttemptTimeMs: this.rekeyAttemptTime,
    });
  }

  // --- Transport ------------------------------------------------------------------------------

  private handleTransport(buf: Uint8Array, off: number, len: number, out: Uint8Array, now: number): TunnResult {
    const s = this.findSession(readU32(buf, off + 4));
    if (s === null) return this.dropped(DropReason.UnknownReceiverIndex);
    if (s.isDisposed || now - s.createdAt >= REJECT_AFTER_TIME) return this.dropped(DropReason.SessionExpired);
    const counter = readU64(buf, off + 8);
    if (counter >= this.rejectAfterMessages) return this.dropped(DropReason.CounterLimit);
    if (!s.replay.check(counter)) return this.dropped(DropReason.Replay);
    // Where the message is opened: in place in buf, in place at out[0], or copied to out[0].
    let at = 0;
    if (out === buf) {
      at = off;
    } else {
      if (out.length < len) return this.dropped(DropReason.BufferTooSmall);
      // byteOffset first: reading `.buffer` costs ~16 ns, comparing offsets nothing.
      if (buf.byteOffset + off !== out.byteOffset || buf.buffer !== out.buffer) copyInto(out, buf, off, len);
    }
    const n = s.open(out, at, len, counter);
    if (n < 0) return this.dropped(DropReason.DecryptFailed);
    s.replay.update(counter);
    this.stats.rxBytes += len;
    this.timers.clear(Timer.NewHandshake);
    this.traversal(now);

    if (s !== this.current && (this.current === null || s.generation > this.current.generation)) {
      // First packet on a session we responded to: the initiator has the keys; switch to it.
      this.current = s;
      this.handshakeComplete(now, s.isInitiator, s.localIndex);
      if (this.queue.length > 0) this.timers.set(Timer.SendPending, now);
    }
    if (s === this.current && s.isInitiator && !this.sentLastMinuteHandshake && now - s.createdAt >= REKEY_ON_RECEIVE_AFTER) {
      // Paper §6.2: the initiator must not let the session reach REJECT_AFTER_TIME while the
      // peer is still talking, even if we ourselves are not sending.
      this.sentLastMinuteHandshake = true;
      this.startHandshake(now, false);
    }

    if (n === 0) {
      this.stats.keepalivesReceived++;
      return setDone(this.result);
    }
    if (this.timers.pending(Timer.SendKeepalive)) this.needAnotherKeepalive = true;
    else this.timers.set(Timer.SendKeepalive, now + KEEPALIVE_TIMEOUT);

    const p = at + MESSAGE_TRANSPORT_HEADER_SIZE;
    const version = out[p] >> 4;
    if (version === 4 && n >= 20) {
      const total = (out[p + 2] << 8) | out[p + 3];
      if (total >= 20 && total <= n) {
        this.stats.rxPackets++;
        return setResult(this.result, TunnAction.WriteToTunnelV4, out, p, total);
      }
    } else if (version === 6 && n >= 40) {
      const total = 40 + ((out[p + 4] << 8) | out[p + 5]);
      if (total <= n) {
        this.stats.rxPackets++;
        return setResult(this.result, TunnAction.WriteToTunnelV6, out, p, total);
      }
    }
    return this.dropped(DropReason.InvalidIpPacket);
  }

  private sendOn(s: Session, out: Uint8Array, len: number, now: number): TunnResult {
    const n = s.seal(out, len);
    if (n < 0) return this.dropped(DropReason.BufferTooSmall);
    if (len > 0) {
      this.stats.txPackets++;
      this.wantKeepalive = false;
      if (!this.timers.pending(Timer.NewHandshake)) {
        this.timers.set(Timer.NewHandshake, now + KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + Math.floor(this.random() * REKEY_TIMEOUT_JITTER_MAX));
      }
    } else {
      this.stats.keepalivesSent++;
    }
    if (s.isInitiator && (now - s.createdAt >= REKEY_AFTER_TIME || s.sendCounter >= this.rekeyAfterMessages)) {
      this.startHandshake(now, false);
    }
    return this.sent(out, n, now);
  }

  private flushQueued(now: number): TunnResult | null {
    const s = this.usableSession(now);
    if (s === null) return null;
    const q = this.queue.shift()!;
    return this.sendOn(s, q.buf, q.len, now);
  }

  /** Keeps the SendPending deadline armed exactly while something is waiting to be sent. */
  private refreshSendPending(now: number): void {
    if (this.wantInitiation || this.wantKeepalive || (this.queue.length > 0 && this.usableSession(now) !== null)) {
      this.timers.set(Timer.SendPending, now);
    } else {
      this.timers.clear(Timer.SendPending);
    }
  }

  private requestKeepalive(now: number): void {
    this.wantKeepalive = true;
    this.timers.set(Timer.SendPending, now);
  }

  private sendKeepalive(now: number): TunnResult | null {
    const s = this.usableSession(now);
    if (s === null) {
      // Keepalives need a session; wanting one without a session means handshake (wireguard-go).
      this.startHandshake(now, false);
      return this.wantInitiation ? this.sendInitiation(now) : null;
    }
    return this.sendOn(s, this.ctrl, 0, now);
  }

  /** Bookkeeping shared by everything we send (timers from wireguard-go's timers.go). */
  private sent(buf: Uint8Array, n: number, now: number): TunnResult {
    this.stats.txBytes += n;
    this.timers.clear(Timer.SendKeepalive);
    this.traversal(now);
    return setResult(this.result, TunnAction.WriteToNetwork, buf, 0, n);
  }

  private traversal(now: number): void {
    if (this.persistentKeepalive > 0) this.timers.set(Timer.PersistentKeepalive, now + this.persistentKeepalive);
  }

  private sessionDerived(now: number): void {
    this.timers.set(Timer.ZeroKeyMaterial, now + ZERO_KEYS_AFTER);
  }

  // --- Sessions -------------------------------------------------------------------------------

  private usableSession(now: number): Session | null {
    const s = this.current;
    if (s === null || s.isDisposed || now - s.createdAt >= REJECT_AFTER_TIME || s.sendCounter >= this.rejectAfterMessages) return null;
    return s;
  }

  private findSession(localIndex: number): Session | null {
    const sessions = this.sessions;
    for (let i = sessions.length - 1; i >= 0; i--) if (sessions[i].localIndex === localIndex) return sessions[i];
    return null;
  }

  private addSession(s: Session): void {
    this.sessions.push(s);
    if (this.sessions.length <= MAX_SESSIONS) return;
    const victim = this.sessions[0] === this.current ? 1 : 0;
    const [old] = this.sessions.splice(victim, 1);
    old.dispose();
    this.indexTable.free(old.localIndex);
  }

  private zeroKeys(): void {
    for (const s of this.sessions) {
      s.dispose();
      this.indexTable.free(s.localIndex);
    }
    this.sessions.length = 0;
    this.current = null;
    if (this.initiator !== null) {
      this.indexTable.free(this.initiator.localIndex);
      wipeInitiator(this.initiator);
      this.initiator = null;
    }
    for (let i = 0; i < this.queue.length; i++) this.stats.drop(DropReason.ConnectionExpired);
    this.queue.length = 0;
    this.handshakeStartedAt = -1;
    this.wantInitiation = false;
    this.wantKeepalive = false;
    this.timers.clear(Timer.RetransmitHandshake);
    this.timers.clear(Timer.RekeyAttemptExpired);
    this.timers.clear(Timer.SendKeepalive);
    this.timers.clear(Timer.NewHandshake);
  }

  private dropped(reason: DropReason): TunnResult {
    this.stats.drop(reason);
    return setDropped(this.result, reason);
  }
}
