/**
 * One TURN allocation on one relay, as a sans-IO state machine (RFC 8656 client, Firezone
 * snownet behaviour). Inputs: `handleInput`, `handleTimeout`, `bindChannel`, `refresh`,
 * `restart`. Outputs: `pollTransmit`, `pollEvent`, `pollTimeout`, and `encodeChannelData` on the
 * send path. Time is always the caller's `now` in milliseconds.
 *
 * Life: BINDING to every relay address (the first answer picks the socket and yields host and
 * server-reflexive candidates) → ALLOCATE (401 challenge → re-sent with REALM/NONCE/MI) →
 * relayed candidates, REFRESH at half the lifetime, keep-alive BINDING every 25 s, channels bound
 * on demand. A relay that stops answering, refuses our credentials or speaks nonsense ends in
 * one `relay-gone` event.
 *
 * NAT rebinding: the relay keys the allocation by the 5-tuple it saw on ALLOCATE. Every BINDING
 * (keep-alive or `probe`) and ALLOCATE answer tells us the mapping the relay sees now; when it
 * differs from the one the allocation was made from, our NAT rebound and the relay would refuse
 * everything we send on the allocation. We then re-allocate from the new 5-tuple at once (the
 * relay replaces the old allocation of the same username) and re-bind its channels, instead of
 * waiting for the REFRESH at half the lifetime to meet a 437.
 */

import { logger } from "../log/index.ts";
import {
  CHANNEL_DATA_HEADER_LENGTH,
  cryptoRandom,
  ERR_ALLOCATION_MISMATCH,
  ERR_STALE_NONCE,
  ERR_UNAUTHENTICATED,
  ERR_UNKNOWN_ATTRIBUTE,
  getErrorCode,
  getLifetime,
  getNonce,
  getRealm,
  getUnknownAttributes,
  getXorMappedAddress,
  getXorRelayedAddresses,
  ipFamily,
  isMalformed,
  METHOD_ALLOCATE,
  METHOD_BINDING,
  METHOD_CHANNEL_BIND,
  METHOD_REFRESH,
  newTransactionId,
  parseIp,
  parseMessage,
  sameAddress,
  transactionKey,
  verifyIntegrity,
  writeChannelDataHeader,
  type RandomSource,
  type SocketAddress,
  type StunMessage,
} from "../stun/index.ts";
import { Backoff } from "./backoff.ts";
import { sameCandidate, type AllocationEvent, type Candidate, type FreeReason } from "./candidate.ts";
import { ChannelBindings } from "./channel-bindings.ts";
import { BINDING_INTERVAL_MS, CHANNEL_REFRESH_AFTER_MS, FIREZONE_REALM, MAX_BUFFERED_CHANNEL_BINDINGS, REQUEST_TIMEOUT_MS } from "./constants.ts";
import { encodeRequest, makeCredentials, methodName, type Credentials, type RequestSpec } from "./requests.ts";

const log = logger("turn::allocation");

/** The relay's addresses: one per family it listens on. */
export interface RelayServer {
  v4?: SocketAddress;
  v6?: SocketAddress;
}

export interface AllocationOptions {
  server: RelayServer;
  username: string;
  password: string;
  /** Defaults to "firezone". A server that names another realm is refused. */
  realm?: string;
  now: number;
  random?: RandomSource;
}

export interface Transmit {
  dst: SocketAddress;
  payload: Uint8Array;
}

/**
 * What `handleInput` did with a datagram. `channel-data` results are one reused object per
 * allocation (no allocation per packet): read it before the next `handleInput`.
 */
export type InputResult =
  | { kind: "not-mine" }
  | { kind: "consumed" }
  | ChannelDataInput;

export interface ChannelDataInput {
  kind: "channel-data";
  /** Who sent the data to our relayed address. */
  peer: SocketAddress;
  /** Our relayed address it arrived on. */
  relayed: SocketAddress;
  /** The payload is `bytes.subarray(payloadOffset, payloadOffset + payloadLength)` of the input. */
  payloadOffset: number;
  payloadLength: number;
}

const NOT_MINE: InputResult = Object.freeze({ kind: "not-mine" });
const CONSUMED: InputResult = Object.freeze({ kind: "consumed" });

interface PendingRequest {
  dst: SocketAddress;
  spec: RequestSpec;
  backoff: Backoff;
  /** Whether the request carried a NONCE: a 401 to such a request means bad credentials. */
  hadNonce: boolean;
  /**
   * Sent by `probe`: an extra look, not a duty. Unanswered it is dropped without giving the relay
   * up — our own uplink may be what is down, and the regular keep-alive and refresh still decide.
   */
  probe: boolean;
}

export interface AllocationStatus {
  server: string;
  activeSocket: SocketAddress | null;
  gone: boolean;
  rttMs: number | null;
  candidates: { kind: string; address: SocketAddress }[];
  lifetimeRemainingMs: number | null;
  /** "4000→1.2.3.4:5" per channel, with "?" while unconfirmed. */
  channels: string[];
  pendingRequests: number;
  counters: AllocationCounters;
}

/** Counted drops and notable outcomes, by reason. */
export type AllocationCounters = Record<string, number>;

export class Allocation {
  readonly server: RelayServer;
  private readonly random: RandomSource;
  private credentials: Credentials | undefined;

  private activeSocket: SocketAddress | undefined;
  private nextBindingAt = 0;
  /** Our address as the relay saw it when it granted the allocation (XOR-MAPPED-ADDRESS). */
  private allocatedFrom: SocketAddress | undefined;
  /** When the relay last answered a BINDING: it is alive, whatever happens to our allocation. */
  private lastBindingAnswerAt = -Infinity;

  private host4: Candidate | undefined;
  private host6: Candidate | undefined;
  private srflx4: Candidate | undefined;
  private srflx6: Candidate | undefined;
  private relay4: Candidate | undefined;
  private relay6: Candidate | undefined;

  /** When the allocation was granted or refreshed, and for how long (ms). */
  private lifetime: { at: number; ms: number } | undefined;

  private readonly transmits: Transmit[] = [];
  private readonly events: AllocationEvent[] = [];
  private readonly pending = new Map<string, PendingRequest>();
  private readonly channels = new ChannelBindings();
  private bufferedBindings: SocketAddress[] = [];

  private explicitFailure: FreeReason | undefined;
  private gone = false;
  private smoothedRtt: number | undefined;

  readonly counters: AllocationCounters = {};
  private readonly channelDataResult: ChannelDataInput = {
    kind: "channel-data",
    peer: { ip: "", port: 0 },
    relayed: { ip: "", port: 0 },
    payloadOffset: 0,
    payloadLength: 0,
  };

  constructor(opts: AllocationOptions) {
    this.server = opts.server;
    this.random = opts.random ?? cryptoRandom;
    this.credentials = makeCredentials(opts.username, opts.password, opts.realm ?? FIREZONE_REALM);
    this.sendBindingRequests(opts.now);
  }

  // ---- queries -------------------------------------------------------------------------------

  /** Host and server-reflexive candidates learned so far. */
  hostAndServerReflexiveCandidates(): Candidate[] {
    return [this.host4, this.host6, this.srflx4, this.srflx6].filter((c): c is Candidate => c !== undefined);
  }

  relayCandidates(): Candidate[] {
    return [this.relay4, this.relay6].filter((c): c is Candidate => c !== undefined);
  }

  relayedAddress(family: 4 | 6): SocketAddress | undefined {
    return (family === 4 ? this.relay4 : this.relay6)?.address;
  }

  hasAllocation(): boolean {
    return this.relay4 !== undefined || this.relay6 !== undefined;
  }

  /** The relay address we talk to, once a BINDING answered. */
  activeServerSocket(): SocketAddress | undefined {
    return this.activeSocket;
  }

  /** Smoothed RTT to the relay in ms (EWMA 7/8), undefined before the first response. */
  rtt(): number | undefined {
    return this.smoothedRtt;
  }

  isGone(): boolean {
    return this.gone;
  }

  matchesCredentials(username: string, password: string): boolean {
    return this.credentials !== undefined && this.credentials.username === username && this.credentials.password === password;
  }

  matchesServer(from: SocketAddress): boolean {
    return (this.server.v4 !== undefined && sameAddress(this.server.v4, from)) || (this.server.v6 !== undefined && sameAddress(this.server.v6, from));
  }

  /** Channel number currently used to send to `peer` (confirmed or in flight), for tests and status. */
  channelTo(peer: SocketAddress, now: number): number | undefined {
    return this.channels.channelForSending(peer, now)?.number;
  }

  /** True once the relay confirmed a live channel to `peer` (data from it is accepted). */
  isChannelBound(peer: SocketAddress, now: number): boolean {
    return this.channels.connectedChannelTo(peer, now) !== undefined;
  }

  channelSummary(): string[] {
    return this.channels.describe();
  }

  /** A JSON-ready picture for `status --json` and debug logs. */
  status(now: number): AllocationStatus {
    return {
      server: this.serverText(),
      activeSocket: this.activeSocket ? { ...this.activeSocket } : null,
      gone: this.gone,
      rttMs: this.smoothedRtt ?? null,
      candidates: [...this.hostAndServerReflexiveCandidates(), ...this.relayCandidates()].map((c) => ({ kind: c.kind, address: { ...c.address } })),
      lifetimeRemainingMs: this.lifetime ? Math.max(0, this.lifetime.at + this.lifetime.ms - now) : null,
      channels: this.channels.describe(),
      pendingRequests: this.pending.size,
      counters: { ...this.counters },
    };
  }

  // ---- sans-IO outputs -----------------------------------------------------------------------

  pollTransmit(): Transmit | undefined {
    return this.transmits.shift();
  }

  pollEvent(): AllocationEvent | undefined {
    return this.events.shift();
  }

  pollTimeout(): { at: number; reason: string } | undefined {
    if (this.gone) return undefined;
    let best: { at: number; reason: string } | undefined;
    const consider = (at: number | undefined, reason: string) => {
      if (at !== undefined && (best === undefined || at < best.at)) best = { at, reason };
    };
    for (const p of this.pending.values()) consider(p.backoff.nextTrigger, "resend TURN request");
    if (this.lifetime && !this.inFlight(METHOD_REFRESH)) consider(this.refreshAt(), "refresh allocation");
    if (this.lifetime) consider(this.lifetime.at + this.lifetime.ms, "allocation expiry");
    if (this.hasAllocation() && this.activeSocket && !this.inFlight(METHOD_BINDING)) consider(this.nextBindingAt, "TURN keep-alive");
    for (const c of this.channels.values()) {
      if (c.noActivity() || this.channelBindInFlight(c.number)) continue;
      consider(c.boundAt + CHANNEL_REFRESH_AFTER_MS, "refresh channel");
    }
    return best;
  }

  // ---- inputs --------------------------------------------------------------------------------

  /**
   * Feeds one datagram received on `local` from `from`. STUN responses to our requests and
   * ChannelData from our relay are ours; anything else is `not-mine`.
   */
  handleInput(from: SocketAddress, local: SocketAddress, bytes: Uint8Array, now: number): InputResult {
    if (this.gone || bytes.length === 0 || !this.matchesServer(from)) return NOT_MINE;
    const first = bytes[0];
    if (first >= 0x40 && first <= 0x7f) return this.handleChannelData(bytes, now);
    if (first > 3) return NOT_MINE;
    const parsed = parseMessage(bytes);
    if (!parsed.ok) {
      this.count(`drop:stun-${parsed.reason}`);
      return NOT_MINE;
    }
    const result = this.handleMessage(parsed.message, local, now);
    this.checkFreed();
    return result;
  }

  handleTimeout(now: number): void {
    if (this.gone) return;
    if (this.lifetime && now >= this.lifetime.at + this.lifetime.ms) {
      log.debug("allocation expired", { server: this.serverText() });
      this.invalidateAllocation();
    }

    if (this.hasAllocation() && this.activeSocket && now >= this.nextBindingAt && !this.inFlight(METHOD_BINDING)) {
      this.nextBindingAt = now + BINDING_INTERVAL_MS;
      log.trace("keep-alive BINDING", { server: this.serverText() });
      this.queue(this.activeSocket, { method: METHOD_BINDING }, undefined, now);
    }

    for (const [id, p] of [...this.pending]) {
      if (now < p.backoff.nextTrigger || !this.pending.has(id)) continue;
      this.pending.delete(id);
      const interval = p.backoff.currentInterval();
      p.backoff.handleTimeout(now);
      log.debug("request timed out, re-sending", { method: methodName(p.spec.method), dst: p.dst, after_ms: interval });
      this.count("retransmit");
      const queued =
        p.spec.method === METHOD_BINDING ? this.queue(p.dst, p.spec, p.backoff, now, p.probe) : this.authenticateAndQueue(p.spec, p.backoff, now, p.probe);
      const onAllocation = p.spec.method === METHOD_REFRESH || p.spec.method === METHOD_CHANNEL_BIND;
      if (!queued && onAllocation && this.hasAllocation() && this.lastBindingAnswerAt >= p.backoff.startTime) {
        // The relay answers BINDING but not requests on our allocation: it no longer has it for
        // our 5-tuple (a rebinding it did not tell us about). Make it again rather than give up.
        this.count("allocation-unanswered");
        log.info("relay alive but silent on our allocation, re-allocating", { server: this.serverText(), method: methodName(p.spec.method) });
        this.invalidateAllocation(true);
        if (p.spec.method === METHOD_CHANNEL_BIND) this.bufferBinding(p.spec.peer);
        this.authenticateAndQueue({ method: METHOD_ALLOCATE }, undefined, now);
      } else if (!queued && p.probe) {
        this.count("probe-unanswered");
      } else if (!queued) {
        this.count("request-given-up");
        log.debug("giving up on request", { method: methodName(p.spec.method), dst: p.dst });
        // A relay we had picked stopped answering: its socket and allocation are no good any more.
        if (this.activeSocket && ipFamily(this.activeSocket.ip) === ipFamily(p.dst.ip)) {
          this.activeSocket = undefined;
          this.invalidateAllocation();
        }
      }
    }

    const refreshAt = this.refreshAt();
    if (refreshAt !== undefined && now >= refreshAt && !this.inFlight(METHOD_REFRESH)) {
      log.debug("allocation due for refresh", { server: this.serverText() });
      this.authenticateAndQueue({ method: METHOD_REFRESH }, undefined, now);
    }

    for (const c of [...this.channels.values()]) {
      if (c.needsRefresh(now) && !this.channelBindInFlight(c.number)) {
        log.debug("channel due for refresh", { channel: c.number, peer: c.peer });
        this.authenticateAndQueue({ method: METHOD_CHANNEL_BIND, peer: c.peer, channel: c.number }, undefined, now);
      }
    }
    this.checkFreed();
  }

  /**
   * Proactive refresh (e.g. the portal re-sent this relay): one attempt, no retransmissions. An
   * allocation that gave up starts over from BINDING.
   */
  refresh(now: number): void {
    if (this.gone) return;
    if (!this.hasAllocation() && this.inFlight(METHOD_ALLOCATE)) return;
    if (this.isSuspended()) {
      log.debug("re-starting allocation", { server: this.serverText() });
      this.activeSocket = undefined;
      this.sendBindingRequests(now);
      return;
    }
    this.authenticateAndQueue({ method: METHOD_REFRESH }, new Backoff(now, REQUEST_TIMEOUT_MS, REQUEST_TIMEOUT_MS), now);
  }

  /**
   * Checks now whether the relay still knows us (the owner saw a path die, e.g. ICE went
   * disconnected): a BINDING reveals a rebound NAT mapping, a REFRESH meets a 437 if the relay
   * lost the allocation. Both are skipped while one of the same kind is in flight, so calling this
   * for every failing connection costs nothing extra.
   */
  probe(now: number): void {
    if (this.gone || !this.activeSocket) return;
    this.count("probe");
    if (!this.inFlight(METHOD_BINDING)) this.queue(this.activeSocket, { method: METHOD_BINDING }, undefined, now, true);
    if (this.hasAllocation() && !this.inFlight(METHOD_REFRESH)) this.authenticateAndQueue({ method: METHOD_REFRESH }, undefined, now, true);
  }

  /**
   * Our local address changed (roaming): the relay's allocation is keyed by the old 5-tuple, so
   * everything learned is invalid. Credentials are kept and the handshake starts again.
   */
  restart(now: number): void {
    // Without credentials (the relay refused them) there is nothing to start again with.
    if (!this.credentials) return;
    this.gone = false;
    this.explicitFailure = undefined;
    for (const c of [this.host4, this.host6, this.srflx4, this.srflx6, this.relay4, this.relay6])
      if (c) this.events.push({ type: "invalidated-candidate", candidate: c });
    this.host4 = this.host6 = this.srflx4 = this.srflx6 = this.relay4 = this.relay6 = undefined;
    this.lifetime = undefined;
    this.allocatedFrom = undefined;
    this.lastBindingAnswerAt = -Infinity;
    this.channels.clear();
    this.pending.clear();
    this.transmits.length = 0;
    this.bufferedBindings = [];
    this.activeSocket = undefined;
    this.smoothedRtt = undefined;
    if (this.credentials) this.credentials.nonce = undefined;
    this.sendBindingRequests(now);
  }

  /** Binds a channel to `peer`, or remembers it until the allocation exists. */
  bindChannel(peer: SocketAddress, now: number): void {
    if (this.gone || this.isSuspended()) return;
    if (parseIp(peer.ip) === null || !Number.isInteger(peer.port) || peer.port <= 0 || peer.port > 0xffff) {
      this.count("bind:bad-peer-address");
      return;
    }
    if (this.channels.connectedChannelTo(peer, now)) return;
    if (this.channelBindInFlightTo(peer)) return;
    if (!this.hasAllocation()) {
      this.bufferBinding(peer);
      log.debug("no allocation yet, buffering channel binding", { peer });
      return;
    }
    if (!this.relayedAddress(ipFamily(peer.ip))) {
      this.count("bind:family-not-allocated");
      return;
    }
    const channel = this.channels.newChannelTo(peer, now);
    if (channel === undefined) {
      this.count("bind:channels-exhausted");
      log.warn("all channels are in use", { server: this.serverText() });
      return;
    }
    log.debug("binding channel", { channel, peer });
    this.authenticateAndQueue({ method: METHOD_CHANNEL_BIND, peer: { ip: peer.ip, port: peer.port }, channel }, undefined, now);
  }

  /**
   * Send path: `buf[payloadOffset, payloadOffset + payloadLength)` holds data for `peer`; writes the
   * ChannelData header into the 4 bytes before it and returns the relay address to send
   * `buf.subarray(payloadOffset - 4, payloadOffset + payloadLength)` to. Unconfirmed channels are
   * used too. Returns undefined (counted) with no channel yet, after asking for one.
   */
  encodeChannelData(peer: SocketAddress, buf: Uint8Array, payloadOffset: number, payloadLength: number, now: number): SocketAddress | undefined {
    const dst = this.activeSocket;
    if (this.gone || dst === undefined) {
      this.count("send:no-active-socket");
      return undefined;
    }
    const channel = this.channels.channelForSending(peer, now);
    if (channel === undefined) {
      this.count("send:no-channel");
      this.bindChannel(peer, now);
      return undefined;
    }
    if (writeChannelDataHeader(buf, payloadOffset, payloadLength, channel.number) < 0) {
      this.count("send:no-headroom");
      return undefined;
    }
    this.nextBindingAt = now + BINDING_INTERVAL_MS;
    return dst;
  }

  // ---- internals -----------------------------------------------------------------------------

  private handleChannelData(bytes: Uint8Array, now: number): InputResult {
    if (bytes.length < CHANNEL_DATA_HEADER_LENGTH) return this.drop("channel-data-too-short");
    const number = (bytes[0] << 8) | bytes[1];
    const length = (bytes[2] << 8) | bytes[3];
    const end = CHANNEL_DATA_HEADER_LENGTH + length;
    if (bytes.length < end || bytes.length > ((end + 3) & ~3)) return this.drop("channel-data-bad-length");
    const channel = this.channels.get(number);
    if (!channel) return this.drop("channel-data-unknown-channel");
    // The relay uses a number only after it accepted our ChannelBind, so data on a bind we are
    // still waiting to hear about is its answer overtaken on the way (RFC 8656 §12: the binding
    // exists at the server). Dropping it lost packets whenever a bind raced traffic.
    if (!channel.bound) {
      if (!channel.usableFor(channel.peer, now)) return this.drop("channel-data-unconfirmed-channel");
      this.count("channel-data-before-bind-confirmed");
    }
    const relayed = this.relayedAddress(ipFamily(channel.peer.ip));
    if (!relayed) return this.drop("channel-data-no-relayed-address");
    channel.lastReceived = now;
    const r = this.channelDataResult;
    r.peer = channel.peer;
    r.relayed = relayed;
    r.payloadOffset = CHANNEL_DATA_HEADER_LENGTH;
    r.payloadLength = length;
    return r;
  }

  private drop(reason: string): InputResult {
    this.count(`drop:${reason}`);
    return CONSUMED;
  }

  private handleMessage(msg: StunMessage, local: SocketAddress, now: number): InputResult {
    if (msg.cls !== "success" && msg.cls !== "error") return NOT_MINE;
    const id = transactionKey(msg.transactionId);
    const request = this.pending.get(id);
    // Cheap check first: no crypto for messages that are not answers to us.
    if (!request) return NOT_MINE;

    if (msg.method !== request.spec.method) return this.drop("response-method-mismatch");

    const error = getErrorCode(msg);
    if (isMalformed(error)) return this.drop("malformed-error-code");

    if (msg.method !== METHOD_BINDING && !this.integrityOk(msg, error?.code)) {
      // Keep the request pending: an attacker must not be able to steer us with forged answers.
      log.warn("message integrity check failed", { method: methodName(msg.method), server: this.serverText() });
      return this.drop("bad-message-integrity");
    }

    this.pending.delete(id);
    const rttSample = now - request.backoff.startTime;
    this.smoothedRtt = this.smoothedRtt === undefined ? rttSample : (this.smoothedRtt * 7) / 8 + rttSample / 8;

    if (error !== undefined) {
      this.handleError(msg, error.code, error.reason, request, now);
      return CONSUMED;
    }
    if (msg.cls !== "success") return CONSUMED;

    switch (msg.method) {
      case METHOD_BINDING:
        this.handleBindingSuccess(msg, local, request, now);
        break;
      case METHOD_ALLOCATE:
        this.handleAllocateSuccess(msg, local, now);
        break;
      case METHOD_REFRESH: {
        const lifetime = getLifetime(msg);
        if (lifetime === undefined || isMalformed(lifetime)) {
          this.count("refresh-without-lifetime");
          break;
        }
        if (lifetime === 0) {
          // We deleted a stale allocation (after a 437); make the new one.
          this.authenticateAndQueue({ method: METHOD_ALLOCATE }, undefined, now);
          break;
        }
        this.lifetime = { at: now, ms: lifetime * 1000 };
        log.debug("allocation refreshed", { lifetime_s: lifetime });
        break;
      }
      case METHOD_CHANNEL_BIND: {
        const spec = request.spec as Extract<RequestSpec, { method: typeof METHOD_CHANNEL_BIND }>;
        if (!this.channels.confirm(spec.channel, now)) this.count("bind-confirm-unknown-channel");
        else log.debug("channel bound", { channel: spec.channel, peer: spec.peer });
        break;
      }
    }
    return CONSUMED;
  }

  /**
   * Non-BINDING answers must carry a valid MESSAGE-INTEGRITY under our key. The exception is the
   * 401/438 challenge, which a server may send unsigned (coturn does): it only hands us a nonce,
   * and a forged one costs one extra round trip at most.
   */
  private integrityOk(msg: StunMessage, code: number | undefined): boolean {
    const cred = this.credentials;
    if (msg.integrityOffset >= 0) return cred !== undefined && verifyIntegrity(msg, cred.key);
    return code === ERR_UNAUTHENTICATED || code === ERR_STALE_NONCE;
  }

  private handleError(msg: StunMessage, code: number, reason: string, request: PendingRequest, now: number): void {
    const method = msg.method;
    if (code === ERR_UNAUTHENTICATED && request.hadNonce) {
      log.warn("relay refused our credentials", { method: methodName(method), server: this.serverText() });
      this.credentials = undefined;
      this.invalidateAllocation();
      return;
    }
    if (code === ERR_UNAUTHENTICATED || code === ERR_STALE_NONCE) {
      const cred = this.credentials;
      if (!cred) return;
      const nonce = getNonce(msg);
      if (typeof nonce !== "string") {
        // RFC 8489 §9.2.4 puts a NONCE in every 401/438; without one, re-sending would only loop.
        this.count("challenge-without-nonce");
        this.explicitFailure = "protocol-failure";
        return;
      }
      cred.nonce = nonce;
      const realm = getRealm(msg);
      if (typeof realm === "string" && realm !== cred.realm) {
        log.warn("refusing to authenticate with a foreign realm", { ours: cred.realm, server: realm });
        this.explicitFailure = "authentication-error";
        return;
      }
      log.debug("re-authenticating", { method: methodName(method), code, reason });
      this.authenticateAndQueue(request.spec, undefined, now);
      return;
    }
    if (code === ERR_ALLOCATION_MISMATCH) {
      // The channels die with the relay's allocation; the new one re-binds them.
      this.invalidateAllocation(true);
      if (method === METHOD_ALLOCATE) {
        // The relay still has an allocation for our 5-tuple that we lost track of: delete it first.
        log.debug("deleting stale allocation to re-sync");
        this.authenticateAndQueue({ method: METHOD_REFRESH, lifetime: 0 }, undefined, now);
      } else if (method === METHOD_REFRESH || method === METHOD_CHANNEL_BIND) {
        log.debug("allocation is gone on the relay, making a new one");
        this.authenticateAndQueue({ method: METHOD_ALLOCATE }, undefined, now);
        if (request.spec.method === METHOD_CHANNEL_BIND) this.bufferBinding(request.spec.peer);
      }
      return;
    }
    if (code === ERR_UNKNOWN_ATTRIBUTE) {
      const unknown = getUnknownAttributes(msg);
      log.warn("relay did not understand our request", { unknown: Array.isArray(unknown) ? unknown : [] });
      this.explicitFailure = "protocol-failure";
      return;
    }
    switch (method) {
      case METHOD_ALLOCATE:
        this.bufferedBindings = [];
        this.explicitFailure = "unhandled-response";
        break;
      case METHOD_REFRESH:
        this.explicitFailure = "unhandled-response";
        break;
      case METHOD_CHANNEL_BIND:
        if (request.spec.method === METHOD_CHANNEL_BIND) {
          this.channels.remove(request.spec.channel);
          log.warn("channel bind failed", { code, reason, channel: request.spec.channel, peer: request.spec.peer });
        }
        return;
    }
    log.warn("TURN request failed", { method: methodName(method), code, reason });
  }

  private handleBindingSuccess(msg: StunMessage, local: SocketAddress, request: PendingRequest, now: number): void {
    this.lastBindingAnswerAt = now;
    const v6Local = ipFamily(local.ip) === 6;
    this.updateCandidate(v6Local ? "host6" : "host4", { kind: "host", address: { ...local }, base: { ...local } });
    const mapped = getXorMappedAddress(msg);
    if (mapped && !isMalformed(mapped)) {
      this.observeMapping(ipFamily(request.dst.ip), mapped, local);
      if (this.activeSocket && sameAddress(this.activeSocket, request.dst)) this.checkRebinding(mapped, now);
    } else {
      this.count("binding-without-xor-mapped-address");
    }
    if (this.activeSocket) return; // keep-alive answer, or the slower family of the first round
    this.activeSocket = request.dst;
    this.nextBindingAt = now + BINDING_INTERVAL_MS;
    log.debug("picked relay socket", { active: request.dst });
    this.authenticateAndQueue({ method: this.hasAllocation() ? METHOD_REFRESH : METHOD_ALLOCATE }, undefined, now);
  }

  private handleAllocateSuccess(msg: StunMessage, local: SocketAddress, now: number): void {
    const lifetime = getLifetime(msg);
    if (lifetime === undefined || isMalformed(lifetime)) {
      log.warn("ALLOCATE success without LIFETIME");
      this.explicitFailure = "unhandled-response";
      return;
    }
    const relayed = getXorRelayedAddresses(msg);
    if (isMalformed(relayed)) {
      this.explicitFailure = "unhandled-response";
      return;
    }
    const v4 = relayed.find((a) => ipFamily(a.ip) === 4);
    const v6 = relayed.find((a) => ipFamily(a.ip) === 6);
    if (!v4 && !v6) {
      log.warn("ALLOCATE success without relayed addresses");
      this.explicitFailure = "unhandled-response";
      return;
    }
    this.lifetime = { at: now, ms: lifetime * 1000 };
    const mapped = getXorMappedAddress(msg);
    if (mapped && !isMalformed(mapped) && this.activeSocket) {
      this.allocatedFrom = mapped;
      this.observeMapping(ipFamily(this.activeSocket.ip), mapped, local);
    } else {
      // A relay that does not echo the mapping: the BINDING that picked the socket saw it.
      this.allocatedFrom = this.activeSocket && (ipFamily(this.activeSocket.ip) === 6 ? this.srflx6 : this.srflx4)?.address;
    }
    if (v4) this.updateCandidate("relay4", { kind: "relay", address: v4, base: { ...local } });
    if (v6) this.updateCandidate("relay6", { kind: "relay", address: v6, base: { ...local } });
    log.debug("allocated", { relay4: v4, relay6: v6, lifetime_s: lifetime });
    this.count("allocated");
    const buffered = this.bufferedBindings;
    this.bufferedBindings = [];
    for (const peer of buffered) this.bindChannel(peer, now);
  }

  private updateCandidate(slot: "host4" | "host6" | "srflx4" | "srflx6" | "relay4" | "relay6", next: Candidate): void {
    const current = this[slot];
    if (current && sameCandidate(current, next)) return;
    // A changed address (roaming the relay noticed) is announced, but the old one is not
    // invalidated here: that would tear down working paths on a false positive.
    this[slot] = next;
    this.events.push({ type: "new-candidate", candidate: next });
  }

  /**
   * The relay answered from a mapping other than the one our allocation belongs to: our NAT
   * rebound. Everything sent on the allocation is refused from now on, so make a new one from the
   * new 5-tuple (the relay drops the old one, same username) and carry the channels over.
   */
  private checkRebinding(mapped: SocketAddress, now: number): void {
    if (!this.hasAllocation() || this.allocatedFrom === undefined || sameAddress(this.allocatedFrom, mapped)) return;
    log.info("NAT rebinding detected, re-allocating", { server: this.serverText(), was: this.allocatedFrom, now: mapped });
    this.count("nat-rebinding");
    this.invalidateAllocation(true);
    this.authenticateAndQueue({ method: METHOD_ALLOCATE }, undefined, now);
  }

  /**
   * A new server-reflexive address for `family`. Mappings towards one relay socket change only
   * when the NAT rebinds, so the old address is dead: it is invalidated, not just superseded.
   */
  private observeMapping(family: 4 | 6, mapped: SocketAddress, local: SocketAddress): void {
    const slot = family === 6 ? "srflx6" : "srflx4";
    const next: Candidate = { kind: "srflx", address: mapped, base: { ...local } };
    const current = this[slot];
    if (current && sameCandidate(current, next)) return;
    if (current && !sameAddress(current.address, mapped)) this.events.push({ type: "invalidated-candidate", candidate: current });
    this.updateCandidate(slot, next);
  }

  /** Keeps a peer to bind once the (new) allocation exists; the oldest goes when full. */
  private bufferBinding(peer: SocketAddress): void {
    if (this.bufferedBindings.some((b) => sameAddress(b, peer))) return;
    if (this.bufferedBindings.length >= MAX_BUFFERED_CHANNEL_BINDINGS) this.bufferedBindings.shift();
    this.bufferedBindings.push({ ip: peer.ip, port: peer.port });
  }

  /** `rebind`: the allocation is being re-made, so its channels' peers are bound again on it. */
  private invalidateAllocation(rebind = false): void {
    if (this.relay4 || this.relay6) log.info("invalidating allocation", { server: this.serverText() });
    for (const c of [this.relay4, this.relay6]) if (c) this.events.push({ type: "invalidated-candidate", candidate: c });
    this.relay4 = this.relay6 = undefined;
    if (rebind) for (const c of this.channels.values()) this.bufferBinding(c.peer);
    this.channels.clear();
    this.lifetime = undefined;
    this.allocatedFrom = undefined;
    this.pending.clear();
  }


  private sendBindingRequests(now: number): void {
    if (this.server.v4) this.queue(this.server.v4, { method: METHOD_BINDING }, undefined, now);
    if (this.server.v6) this.queue(this.server.v6, { method: METHOD_BINDING }, undefined, now);
  }

  private authenticateAndQueue(spec: RequestSpec, backoff: Backoff | undefined, now: number, probe = false): boolean {
    if (!this.activeSocket) {
      log.debug("cannot send before a relay socket is picked", { method: methodName(spec.method) });
      return false;
    }
    if (!this.credentials) {
      log.debug("cannot send without credentials", { method: methodName(spec.method) });
      return false;
    }
    return this.queue(this.activeSocket, spec, backoff, now, probe);
  }

  private queue(dst: SocketAddress, spec: RequestSpec, backoff: Backoff | undefined, now: number, probe = false): boolean {
    const b = backoff ?? new Backoff(now);
    if (b.isExpired(now)) return false;
    const id = newTransactionId(this.random);
    const cred = spec.method === METHOD_BINDING ? undefined : this.credentials;
    const encoded = encodeRequest(spec, id, cred);
    if (!encoded.ok) {
      // Only a peer address we cannot encode gets here; nothing to retry.
      this.count(`encode-failed:${encoded.reason}`);
      return false;
    }
    this.pending.set(transactionKey(id), { dst, spec, backoff: b, hadNonce: cred?.nonce !== undefined, probe });
    this.transmits.push({ dst, payload: encoded.bytes });
    return true;
  }

  private inFlight(method: number): boolean {
    for (const p of this.pending.values()) if (p.spec.method === method) return true;
    return false;
  }

  private channelBindInFlight(number: number): boolean {
    for (const p of this.pending.values()) if (p.spec.method === METHOD_CHANNEL_BIND && p.spec.channel === number) return true;
    return false;
  }

  private channelBindInFlightTo(peer: SocketAddress): boolean {
    for (const p of this.pending.values()) if (p.spec.method === METHOD_CHANNEL_BIND && sameAddress(p.spec.peer, peer)) return true;
    for (const b of this.bufferedBindings) if (sameAddress(b, peer)) return true;
    return false;
  }

  private refreshAt(): number | undefined {
    return this.lifetime ? this.lifetime.at + this.lifetime.ms / 2 : undefined;
  }

  /** Gave up making an allocation: nothing allocated, nothing in flight, nothing to wait for. */
  private isSuspended(): boolean {
    return !this.hasAllocation() && this.pending.size === 0 && this.transmits.length === 0 && this.pollTimeout() === undefined;
  }

  /** Emits `relay-gone` once when this allocation cannot do anything useful any more. */
  private checkFreed(): void {
    if (this.gone) return;
    let reason: FreeReason | undefined = this.explicitFailure;
    const pendingWork = this.pending.size > 0 || this.transmits.length > 0;
    if (!reason && !pendingWork && !this.activeSocket) reason = "no-response-received";
    if (!reason && !pendingWork && !this.credentials) reason = "authentication-error";
    if (!reason) return;
    this.gone = true;
    log.info("relay gone", { server: this.serverText(), reason });
    for (const c of [this.relay4, this.relay6]) if (c) this.events.push({ type: "invalidated-candidate", candidate: c });
    this.relay4 = this.relay6 = undefined;
    this.pending.clear();
    this.events.push({ type: "relay-gone", reason });
  }

  private count(reason: string): void {
    this.counters[reason] = (this.counters[reason] ?? 0) + 1;
  }

  private serverText(): string {
    return [this.server.v4, this.server.v6]
      .filter((a): a is SocketAddress => a !== undefined)
      .map((a) => (a.ip.includes(":") ? `[${a.ip}]:${a.port}` : `${a.ip}:${a.port}`))
      .join(",");
  }
}

