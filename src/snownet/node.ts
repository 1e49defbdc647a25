/**
 * The snownet Node (Firezone `rust/libs/connlib/snownet/src/node.rs`), sans-IO: one per client or
 * gateway. It owns one static WireGuard key (a `Device`), the TURN allocations on every relay
 * and one connection (ICE agent + WireGuard tunnel) per peer, all sharing ONE UDP socket.
 *
 * Public API (stable; the simulated network in test/sim drives exactly this):
 *
 *   const node = new Node<PeerId, RelayId>({ role: "client" | "gateway", now, privateKey?, wallClock?, random? });
 *   node.publicKey                                    our static X25519 public key (changes on reset)
 *   node.updateRelays(removeIds, [{ id, v4?, v6?, username, password, realm? }], now)
 *   node.upsertConnection(id, { remoteKey, psk, localCreds, remoteCreds, controlling? }, now)
 *        → "created" | "reused" | "invalid-params"
 *   node.addRemoteCandidate(id, sdp, now) / node.removeRemoteCandidate(id, sdp, now) → boolean
 *   node.removeConnection(id, now)                    drop silently
 *   node.closeConnection(id, now)                     send Goodbye (best effort), then drop
 *   node.addHostCandidate(addr, now)                  optional: a local socket address to offer as host
 *   node.handleInput(from, local, bytes, now)         → ReceivedPacket (IP packet for the TUN) | undefined
 *   node.encapsulate(id, ipPacket, now)               → EncapsulateResult { status: transmit | still-connecting | dropped }
 *   node.handleTimeout(now); node.reset(now)
 *   node.pollTransmit() → { src?, dst, payload } | undefined      (drain after every call)
 *   node.pollEvent()    → NodeEvent | undefined                  (new/invalidate-ice-candidate, connection-*,
 *                                                                 no-relays, public-key-changed)
 *   node.pollTimeout()  → { at, reason } | undefined
 *   node.connection(id) → ConnectionInfo (state, established, path, relay, handshakes, …) | undefined
 *   node.connectionIds(), node.relayIds(), node.allocation(relayId), node.stats() → { drops, received, … }
 *
 * Events: a failed connection is removed from the node (ConnectionFailed), but whatever the caller
 * keeps for that peer (access state, resources) is the caller's: reconnect by upserting again.
 * `no-relays` is emitted when a connection is made while the node knows no relay at all; with
 * relays that have not answered yet, the connection gets its relay as soon as one has an RTT.
 *
 * Results of handleInput and encapsulate are one reused object each: read them before the next
 * call. `src` absent in a transmit means "the default socket" (relay traffic, ChannelData).
 *
 * Behaviour (reference §2): candidates come from the relays (host = where a relay's answer arrived,
 * srflx = what it saw, relay = our allocation on the one relay sampled for the connection by RTT).
 * Inbound demux: datagrams from a relay (port 3478 or a known relay address) go to that allocation
 * (STUN answers, ChannelData unwrapped to peer + relayed address); STUN binding checks go to the
 * agent whose ufrag/transaction matches; everything else is WireGuard (the Device matches an
 * initiation by the sender's static key, other messages by receiver index).
 * A connection buffers up to 128 packets while connecting; when ICE nominates a pair the
 * controlling side (client) sends a WireGuard initiation; handshake + nomination = established,
 * and the buffer is flushed. 20 s without traffic = idle (idle ICE preset). Failure: no remote
 * candidate in 10 s, ICE disconnected for 2 s, or the WireGuard handshake expired (20 s).
 * Remote candidates are accepted at any time; relay/srflx/prflx ones get a TURN channel on the
 * connection's relay; remote srflx IPv4 × host port yields up to 2 optimistic srflx candidates.
 */
import { IceAgent, type IceEvent } from "../ice/agent.ts";
import { formatCandidate, parseCandidate, type Candidate, type CandidateKind } from "../ice/candidate.ts";
import { CLIENT_DEFAULT, CLIENT_IDLE, SERVER_DEFAULT, SERVER_IDLE } from "../ice/config.ts";
import { buildP2pControl, isP2pControl, P2P_EVENT_GOODBYE } from "../ip/p2p-control.ts";
import { IPV6_HEADER_LEN } from "../ip/constants.ts";
import { x25519GenerateKeyPair } from "../crypto/index.ts";
import { logger } from "../log/index.ts";
import { cryptoRandom, looksLikeStun, parseMessage, sameAddress, type RandomSource, type SocketAddress } from "../stun/index.ts";
import type { Allocation } from "../turn/index.ts";
import { Device, DropReason, MESSAGE_TRANSPORT_HEADER_SIZE, TunnAction, type TunnResult } from "../wireguard/index.ts";
import { Connection, type Path } from "./connection.ts";
import {
  CHANNEL_DATA_HEADROOM,
  ICE_REKEY_ATTEMPT_TIME,
  MAX_DATAGRAM,
  STALLED_PATH_CHECKS,
  STUN_PORT,
  UPSERT_ROLLOVER_INTERVAL,
} from "./constants.ts";
import { optimisticCandidates } from "./optimistic-candidates.ts";
import { sampleRelay } from "./relay-sampling.ts";
import { RelayTable, type RelayEntry } from "./relay-table.ts";
import type {
  ConnectionInfo,
  ConnectionParams,
  EncapsulateResult,
  FailureReason,
  NodeEvent,
  NodeStats,
  PathKind,
  ReceivedPacket,
  RelayConfig,
  Transmit,
} from "./types.ts";

export type * from "./types.ts";

const log = logger("snownet::node");

export interface NodeConfig {
  /** client = ICE controlling and initiates WireGuard; gateway = controlled. */
  role: "client" | "gateway";
  /** Our static X25519 private key; generated when absent (and again on every reset). */
  privateKey?: Uint8Array;
  /**
   * Wall-clock ms since 1970, used only for WireGuard's TAI64N initiation timestamps (they must
   * grow across restarts of a node that keeps its key). Default: a fixed epoch plus `now`, which
   * suits simulations; real drivers pass `Date.now`.
   */
  wallClock?: () => number;
  /** Random bytes (transaction ids, receiver indices, relay sampling); injectable for determinism. */
  random?: RandomSource;
  now: number;
}

/** Default wall-clock epoch for simulations: 2025-01-01T00:00:00Z. */
const SIMULATED_EPOCH_MS = 1_735_689_600_000;

const EMPTY = new Uint8Array(0);

export class Node<TId, RId> {
  readonly role: "client" | "gateway";
  private device: Device<TId>;
  private readonly random: RandomSource;
  private readonly wallClock: () => number;
  private lastNow: number;

  private readonly connections = new Map<TId, Connection<TId, RId>>();
  private readonly relays = new RelayTable<RId>();
  private readonly hostCandidates: SocketAddress[] = [];

  private readonly transmits: Transmit[] = [];
  private readonly events: NodeEvent<TId>[] = [];
  private readonly drops: Record<string, number> = {};
  private readonly received: Record<string, number> = {};

  /** Receive path: decrypted packets land at recvBuf[16..]. */
  private readonly recvBuf = new Uint8Array(new ArrayBuffer(MAX_DATAGRAM + 64));
  /** Send path: sendBuf[0..4) is ChannelData header room, WireGuard writes at wgOut = sendBuf[4..]. */
  private readonly sendBuf = new Uint8Array(new ArrayBuffer(MAX_DATAGRAM + 64 + CHANNEL_DATA_HEADROOM));
  private readonly wgOut = this.sendBuf.subarray(CHANNEL_DATA_HEADROOM);
  private readonly rand4 = new Uint8Array(4);

  private readonly receivedPacket: ReceivedPacket<TId> = { connection: undefined as TId, buf: EMPTY, offset: 0, length: 0 };
  private readonly encapResult: EncapsulateResult = { status: "dropped", src: undefined, dst: { ip: "", port: 0 }, buf: EMPTY, offset: 0, length: 0 };

  constructor(config: NodeConfig) {
    this.role = config.role;
    this.random = config.random ?? cryptoRandom;
    this.lastNow = config.now;
    this.wallClock = config.wallClock ?? (() => SIMULATED_EPOCH_MS + this.lastNow);
    this.device = this.makeDevice(config.privateKey ?? x25519GenerateKeyPair().privateKey);
  }

  get publicKey(): Uint8Array {
    return this.device.publicKey;
  }

  // ---- commands ------------------------------------------------------------------------------

  /**
   * Creates the connection to peer `id`, or keeps it when keys, credentials and role are the same
   * as before. A kept connection resumes from idle, re-signals all local candidates and (controlling
   * side, at most every 20 s) rolls the WireGuard session over. Anything different replaces it.
   */
  upsertConnection(id: TId, params: ConnectionParams, now: number): "created" | "reused" | "invalid-params" {
    this.lastNow = now;
    if (params.remoteKey?.length !== 32 || params.psk?.length !== 32 || !params.localCreds || !params.remoteCreds) {
      this.drop("upsert-invalid-params");
      return "invalid-params";
    }
    const controlling = params.controlling ?? this.role === "client";
    const full = { ...params, controlling };
    const existing = this.connections.get(id);
    if (existing && existing.matches(full)) {
      existing.resume(now);
      for (const c of existing.agent.localCandidates()) this.emit({ type: "new-ice-candidate", connection: id, candidate: formatCandidate(c) });
      if (controlling && existing.path && now - existing.lastInitiationAt >= UPSERT_ROLLOVER_INTERVAL) {
        log.debug("upsert: rolling the WireGuard session over", { connection: String(id) });
        existing.lastInitiationAt = now;
        existing.rollovers++;
        this.sendTunnelResult(existing, existing.tunnel.rollOver(now), now);
        this.drainTunnel(existing, now);
      }
      this.processConnection(existing, now);
      return "reused";
    }
    if (existing) {
      log.debug("upsert: parameters changed, replacing the connection", { connection: String(id) });
      this.dropConnection(existing);
    }
    this.createConnection(id, full, now);
    return "created";
  }

  /** Drops the connection without telling the peer. */
  removeConnection(id: TId, _now: number): boolean {
    const conn = this.connections.get(id);
    if (!conn) return false;
    this.dropConnection(conn);
    return true;
  }

  /** Sends the p2p-control Goodbye through the tunnel on the current path (best effort), then drops. */
  closeConnection(id: TId, now: number): boolean {
    this.lastNow = now;
    const conn = this.connections.get(id);
    if (!conn) return false;
    if (conn.path && conn.tunnel.hasSession(now)) {
      const at = MESSAGE_TRANSPORT_HEADER_SIZE;
      const len = buildP2pControl(this.wgOut, at, P2P_EVENT_GOODBYE, EMPTY);
      if (typeof len === "number") {
        const r = conn.tunnel.encapsulate(this.wgOut.subarray(at, at + len), this.wgOut, now);
        this.sendTunnelResult(conn, r, now);
      }
    }
    this.dropConnection(conn);
    return true;
  }

  /** Adds a candidate the peer signalled; accepted at any time, also after nomination. */
  addRemoteCandidate(id: TId, sdp: string, now: number): boolean {
    this.lastNow = now;
    const conn = this.connections.get(id);
    const c = this.signalledCandidate(conn, sdp);
    if (!conn || !c) return false;
    if (!conn.remoteCandidates.some((r) => sameCandidate(r, c))) conn.remoteCandidates.push(c);
    conn.resume(now);
    conn.agent.addRemoteCandidate(c, now);
    this.bindChannelFor(conn, c, now);
    for (const o of optimisticCandidates(conn.agent.remoteCandidates())) {
      log.debug("optimistic remote candidate", { connection: String(id), addr: `${o.ip}:${o.port}` });
      conn.agent.addRemoteCandidate(o, now);
    }
    this.processConnection(conn, now);
    return true;
  }

  removeRemoteCandidate(id: TId, sdp: string, now: number): boolean {
    this.lastNow = now;
    const conn = this.connections.get(id);
    const c = this.signalledCandidate(conn, sdp);
    if (!conn || !c) return false;
    const i = conn.remoteCandidates.findIndex((r) => sameCandidate(r, c));
    if (i >= 0) conn.remoteCandidates.splice(i, 1);
    const removed = conn.agent.invalidateRemoteCandidate(c, now);
    if (removed && conn.path && conn.path.remote.ip === c.ip && conn.path.remote.port === c.port) this.forgetPath(conn, "remote candidate invalidated");
    this.processConnection(conn, now);
    return removed;
  }

  /**
   * Removes relays (their candidates are invalidated, connections on them migrate to a newly
   * sampled relay), adds or replaces relays (same address and credentials = kept), and refreshes
   * every relay that was neither.
   */
  updateRelays(remove: readonly RId[], add: readonly RelayConfig<RId>[], now: number): void {
    this.lastNow = now;
    for (const id of remove) this.removeRelay(id, now, true);
    const touched = new Set<RId>();
    for (const cfg of add) {
      touched.add(cfg.id);
      if (this.relays.isCurrent(cfg)) continue;
      // Changed: the old allocation (if any) goes first, with its candidates.
      this.removeRelay(cfg.id, now, false);
      if (!cfg.v4 && !cfg.v6) {
        this.drop("relay-without-address");
        continue;
      }
      this.relays.add(cfg, now, this.random);
      log.debug("relay added", { relay: String(cfg.id) });
    }
    for (const entry of this.relays.values()) if (!touched.has(entry.id)) entry.allocation.refresh(now);
    for (const entry of [...this.relays.values()]) this.processAllocation(entry, now);
    this.assignPendingRelays(now);
  }

  /** Offers a local socket address as a host candidate on every connection (besides the relays' view). */
  addHostCandidate(addr: SocketAddress, now: number): void {
    this.lastNow = now;
    if (this.hostCandidates.some((h) => sameAddress(h, addr))) return;
    this.hostCandidates.push({ ip: addr.ip, port: addr.port });
    for (const conn of this.connections.values()) {
      this.addLocal(conn, "host", addr, addr, now);
      this.processConnection(conn, now);
    }
  }

  /**
   * Roaming: every allocation starts over (credentials kept), every connection is closed and a
   * new static key is made; `public-key-changed` tells the caller to reconnect the portal.
   */
  reset(now: number): void {
    this.lastNow = now;
    for (const conn of [...this.connections.values()]) {
      this.dropConnection(conn);
      this.emit({ type: "connection-closed", connection: conn.id, reason: "reset" });
    }
    this.device = this.makeDevice(x25519GenerateKeyPair().privateKey);
    this.emit({ type: "public-key-changed", publicKey: this.device.publicKey });
    for (const entry of this.relays.values()) {
      entry.allocation.restart(now);
      this.processAllocation(entry, now);
    }
  }

  // ---- data path -----------------------------------------------------------------------------

  /**
   * One datagram from the shared socket: `from` the sender, `local` our address it arrived on.
   * Returns the decrypted IP packet for the TUN device (reused object) or undefined when the
   * datagram was control traffic or dropped (counted in `stats().drops`).
   */
  handleInput(from: SocketAddress, local: SocketAddress, bytes: Uint8Array, now: number): ReceivedPacket<TId> | undefined {
    this.lastNow = now;
    if (bytes.length === 0) return this.dropIn("empty-datagram");
    const first = bytes[0]!;
    const stunOrChannel = first <= 3 || (first >= 64 && first <= 79);
    if (stunOrChannel && (from.port === STUN_PORT || this.relays.isRelayIp(from.ip))) {
      for (const entry of this.relays.values()) {
        if (!entry.allocation.matchesServer(from)) continue;
        const r = entry.allocation.handleInput(from, local, bytes, now);
        if (r.kind === "not-mine") continue;
        if (r.kind === "consumed") {
          this.count("turn");
          this.processAllocation(entry, now);
          this.assignPendingRelays(now);
          return undefined;
        }
        this.count("channel-data");
        return this.handlePeerDatagram(r.peer, r.relayed, bytes, r.payloadOffset, r.payloadLength, now);
      }
      if (this.relays.wasRemoved(from.ip)) return this.dropIn("removed-relay");
      if (first >= 64) return this.dropIn("channel-data-unknown-relay");
    }
    return this.handlePeerDatagram(from, local, bytes, 0, bytes.length, now);
  }

  /**
   * Encrypts one IP packet for peer `id`. Established: returns `transmit` with the datagram in a
   * reused buffer (no allocation). Before a path is nominated (and, on the controlled side, for up
   * to 5 s while the client's handshake is unconfirmed) the packet is buffered (≤128) →
   * `still-connecting`. After that WireGuard holds it while it handshakes: `still-connecting`, or
   * `transmit` carrying the handshake initiation.
   */
  encapsulate(id: TId, packet: Uint8Array, now: number): EncapsulateResult {
    this.lastNow = now;
    const res = this.encapResult;
    const conn = this.connections.get(id);
    if (!conn) {
      this.drop("encapsulate-unknown-connection");
      res.status = "dropped";
      return res;
    }
    conn.resume(now);
    if (!conn.sendsToTunnel(now) || !conn.path) {
      if (conn.buffer.length >= conn.buffer.capacity) this.drop("buffer-overwritten");
      conn.buffer.push(packet);
      res.status = "still-connecting";
      return res;
    }
    if (conn.buffer.length > 0) this.flushBuffer(conn, now);
    const r = conn.tunnel.encapsulate(packet, this.wgOut, now);
    if (r.action !== TunnAction.WriteToNetwork) {
      if (r.action === TunnAction.Dropped) this.drop(`wireguard-${DropReason[r.reason]}`);
      this.afterTunnelCall(conn, now);
      res.status = r.action === TunnAction.Dropped ? "dropped" : "still-connecting";
      return res;
    }
    const path = conn.path;
    if (path.allocation === undefined) {
      res.status = "transmit";
      res.src = path.local;
      res.dst = path.remote;
      res.buf = r.buf;
      res.offset = r.offset;
      res.length = r.length;
      return res;
    }
    let buf = this.sendBuf;
    let payloadOffset = CHANNEL_DATA_HEADROOM + r.offset;
    if (r.buf !== this.wgOut) {
      // A handshake message from the tunnel's own buffer (session expired): copy behind header room.
      buf = new Uint8Array(CHANNEL_DATA_HEADROOM + r.length);
      buf.set(r.bytes(), CHANNEL_DATA_HEADROOM);
      payloadOffset = CHANNEL_DATA_HEADROOM;
    }
    const dst = path.allocation.encodeChannelData(path.remote, buf, payloadOffset, r.length, now);
    if (dst === undefined) {
      this.drop("relay-no-channel");
      res.status = "dropped";
      return res;
    }
    res.status = "transmit";
    res.src = undefined;
    res.dst = dst;
    res.buf = buf;
    res.offset = payloadOffset - CHANNEL_DATA_HEADROOM;
    res.length = r.length + CHANNEL_DATA_HEADROOM;
    return res;
  }

  // ---- time ----------------------------------------------------------------------------------

  handleTimeout(now: number): void {
    this.lastNow = now;
    for (const entry of [...this.relays.values()]) {
      const t = entry.allocation.pollTimeout();
      if (t && t.at <= now) entry.allocation.handleTimeout(now);
      this.processAllocation(entry, now);
    }
    this.assignPendingRelays(now);
    for (const conn of [...this.connections.values()]) {
      const it = conn.agent.pollTimeout();
      if (it && it.at <= now) conn.agent.handleTimeout(now);
      const wt = conn.tunnel.pollTimeout();
      if (wt && wt.at <= now) {
        this.sendTunnelResult(conn, conn.tunnel.handleTimeout(now), now);
        this.drainTunnel(conn, now);
      }
      if (!this.processConnection(conn, now)) continue;
      this.watchPath(conn, now);
      const failure = conn.failure(now);
      if (failure) {
        this.fail(conn, failure);
        continue;
      }
      if (conn.maybeIdle(now)) log.debug("connection idle", { connection: String(conn.id) });
    }
  }

  pollTimeout(): { at: number; reason: string } | undefined {
    let best: { at: number; reason: string } | undefined;
    const consider = (t: { at: number; reason: string } | null | undefined, prefix: string) => {
      if (t && (!best || t.at < best.at)) best = { at: t.at, reason: `${prefix}${t.reason}` };
    };
    for (const entry of this.relays.values()) consider(entry.allocation.pollTimeout(), "turn: ");
    for (const conn of this.connections.values()) {
      consider(conn.agent.pollTimeout(), "ice: ");
      consider(conn.tunnel.pollTimeout(), "wireguard: ");
      consider(conn.nextDeadline(), "connection: ");
    }
    return best;
  }

  pollTransmit(): Transmit | undefined {
    const t = this.transmits.shift();
    if (t) return t;
    for (const entry of this.relays.values()) {
      const a = entry.allocation.pollTransmit();
      if (a) return { dst: a.dst, payload: a.payload };
    }
    return undefined;
  }

  pollEvent(): NodeEvent<TId> | undefined {
    return this.events.shift();
  }

  // ---- queries -------------------------------------------------------------------------------

  connection(id: TId): ConnectionInfo | undefined {
    const c = this.connections.get(id);
    if (!c) return undefined;
    return {
      state: c.state,
      established: c.established,
      controlling: c.params.controlling,
      iceState: c.agent.state,
      iceConfig: c.agent.configName,
      path: c.path ? { kind: c.path.kind, local: c.path.local, remote: c.path.remote } : undefined,
      relay: c.relay,
      handshakesCompleted: c.tunnel.stats.handshakesCompleted,
      initiationsSent: c.tunnel.stats.initiationsSent,
      rollovers: c.rollovers,
      buffered: c.buffer.length,
      remoteCandidates: c.remoteCandidates.length,
      localCandidates: c.agent.localCandidates().map(formatCandidate),
    };
  }

  connectionIds(): TId[] {
    return [...this.connections.keys()];
  }

  relayIds(): RId[] {
    return this.relays.ids();
  }

  /** The allocation on relay `id`, for status output and tests. */
  allocation(id: RId): Allocation | undefined {
    return this.relays.get(id)?.allocation;
  }

  /**
   * Counters for `status --json`: the node's own drops, plus those its parts counted where they
   * dropped (`ice:<reason>` over live connections, `turn:<reason>` over live allocations; the
   * TURN client's refused sends are already the node's `relay-no-channel`).
   */
  stats(): NodeStats {
    const drops: Record<string, number> = { ...this.drops };
    const add = (key: string, n: number) => {
      if (n > 0) drops[key] = (drops[key] ?? 0) + n;
    };
    for (const conn of this.connections.values()) {
      for (const [reason, n] of Object.entries(conn.agent.stats.drops)) add(`ice:${reason}`, n ?? 0);
    }
    for (const entry of this.relays.values()) {
      for (const [key, n] of Object.entries(entry.allocation.counters)) if (key.startsWith("drop:")) add(`turn:${key.slice(key.indexOf(":") + 1)}`, n);
    }
    return { connections: this.connections.size, allocations: this.relays.size, drops, received: { ...this.received } };
  }

  // ---- inbound -------------------------------------------------------------------------------

  /** The datagram is bytes[off, off+len): relayed ChannelData is read in place, not through a view. */
  private handlePeerDatagram(from: SocketAddress, local: SocketAddress, bytes: Uint8Array, off: number, len: number, now: number): ReceivedPacket<TId> | undefined {
    if (len === 0) return this.dropIn("empty-datagram");
    if (bytes[off]! <= 3) {
      // STUN or a WireGuard handshake (types 1..3), both rare: a view costs nothing that matters.
      // Data (type 4) never gets here, so the per-packet path stays allocation-free.
      const datagram = off === 0 && len === bytes.length ? bytes : bytes.subarray(off, off + len);
      if (looksLikeStun(datagram)) {
        const parsed = parseMessage(datagram);
        if (parsed.ok) {
          const msg = parsed.message;
          for (const conn of this.connections.values()) {
            if (!conn.agent.accepts(msg)) continue;
            this.count("stun-binding");
            conn.agent.handleStun(msg, from, local, now);
            this.processConnection(conn, now);
            return undefined;
          }
          return this.dropIn("stun-no-connection");
        }
        // Not STUN after all; WireGuard's type-1..4 header can start the same way.
      }
    }
    return this.handleWireGuard(from, local, bytes, off, len, now);
  }

  private handleWireGuard(from: SocketAddress, local: SocketAddress, bytes: Uint8Array, off: number, len: number, now: number): ReceivedPacket<TId> | undefined {
    // Transport data is copied into recvBuf and opened there: the caller's bytes stay intact.
    const r = this.device.decapsulateAt(bytes, off, len, this.recvBuf, now, from.ip, from.port);
    const id = this.device.lastPeer;
    const conn = id === undefined ? undefined : this.connections.get(id);
    switch (r.action) {
      case TunnAction.Dropped:
        this.count("wireguard");
        if (conn) this.afterTunnelCall(conn, now);
        return this.dropIn(`wireguard-${DropReason[r.reason]}`);
      case TunnAction.WriteToNetwork: {
        this.count("wireguard");
        // A handshake response or cookie reply goes back the way the message came.
        const payload = r.buf.slice(r.offset, r.offset + r.length);
        if (conn) conn.lastInbound = { local, remote: from };
        this.sendFrom(local, from, payload, now);
        if (conn) {
          this.drainTunnel(conn, now);
          this.processConnection(conn, now);
        }
        return undefined;
      }
      case TunnAction.WriteToTunnelV4:
      case TunnAction.WriteToTunnelV6: {
        this.count("wireguard");
        if (!conn) return this.dropIn("wireguard-no-connection");
        const out = this.receivedPacket;
        out.connection = conn.id;
        out.buf = r.buf;
        out.offset = r.offset;
        out.length = r.length;
        conn.resume(now);
        if (conn.lastInbound === undefined) conn.lastInbound = { local, remote: from };
        const goodbye = isP2pControl(r.buf, r.offset, r.length) && r.length > IPV6_HEADER_LEN && r.buf[r.offset + IPV6_HEADER_LEN] === P2P_EVENT_GOODBYE;
        this.afterTunnelCall(conn, now);
        if (goodbye) {
          log.debug("peer said goodbye", { connection: String(conn.id) });
          if (this.connections.get(conn.id) === conn) {
            this.dropConnection(conn);
            this.emit({ type: "connection-closed", connection: conn.id, reason: "goodbye" });
          }
          return undefined;
        }
        return out;
      }
      default:
        this.count("wireguard");
        if (conn) this.afterTunnelCall(conn, now);
        return undefined;
    }
  }

  // ---- connections ---------------------------------------------------------------------------

  private createConnection(id: TId, params: ConnectionParams & { controlling: boolean }, now: number): void {
    // One tunnel per static key: another connection to the same key is superseded by this one.
    const sameKey = this.device.peerByPublicKey(params.remoteKey);
    const previous = sameKey === undefined ? undefined : this.connections.get(sameKey.tag as TId);
    if (previous) {
      log.debug("another connection had this peer key; replacing it", { previous: String(previous.id), connection: String(id) });
      this.dropConnection(previous);
    }
    const tunnel = this.device.addPeer(id, {
      publicKey: params.remoteKey,
      presharedKey: params.psk,
      rekeyAttemptTime: ICE_REKEY_ATTEMPT_TIME,
      persistentKeepalive: 0,
      random: () => this.random01(),
    });
    const defaultConfig = params.controlling ? CLIENT_DEFAULT : SERVER_DEFAULT;
    const idleConfig = params.controlling ? CLIENT_IDLE : SERVER_IDLE;
    const agent = new IceAgent({ controlling: params.controlling, local: params.localCreds, remote: params.remoteCreds, config: defaultConfig, random: this.random });
    const conn = new Connection<TId, RId>(id, params, agent, tunnel, now, defaultConfig, idleConfig);
    this.connections.set(id, conn);
    log.debug("connection created", { connection: String(id), controlling: params.controlling });
    agent.handleTimeout(now);
    for (const h of this.hostCandidates) this.addLocal(conn, "host", h, h, now);
    for (const entry of this.relays.values()) {
      for (const c of entry.allocation.hostAndServerReflexiveCandidates()) this.addLocal(conn, c.kind, c.address, c.base, now);
    }
    this.assignRelay(conn, now);
    this.processConnection(conn, now);
  }

  /** Drains the agent's and tunnel's outputs and advances the state. False when the connection is gone. */
  private processConnection(conn: Connection<TId, RId>, now: number): boolean {
    if (this.connections.get(conn.id) !== conn) return false;
    for (let e: IceEvent | undefined = conn.agent.pollEvent(); e; e = conn.agent.pollEvent()) {
      if (e.type === "state") {
        if (e.state === "disconnected") {
          if (conn.disconnectedSince === undefined) this.probeRelays(now);
          conn.disconnectedSince ??= now;
        } else conn.disconnectedSince = undefined;
      } else this.onNominated(conn, e, now);
    }
    for (let t = conn.agent.pollTransmit(); t; t = conn.agent.pollTransmit()) this.sendFrom(t.source, t.destination, t.payload, now);
    for (let e = conn.tunnel.pollEvent(); e; e = conn.tunnel.pollEvent()) {
      if (e.type === "connectionExpired") {
        this.fail(conn, "wireguard-expired");
        return false;
      }
    }
    if (!conn.established && conn.path && conn.tunnel.hasSession(now)) {
      conn.established = true;
      conn.state = "connected";
      conn.lastActivity = now;
      log.debug("connection established", { connection: String(conn.id), path: conn.path.kind });
      this.emit({ type: "connection-established", connection: conn.id, path: conn.path.kind, local: conn.path.local, remote: conn.path.remote });
    }
    // Flushed when WireGuard may have the packets: on nomination (client), on establishment, and
    // again when a path comes back after its relay went away.
    if (conn.buffer.length > 0 && conn.sendsToTunnel(now)) this.flushBuffer(conn, now);
    return true;
  }

  private flushBuffer(conn: Connection<TId, RId>, now: number): void {
    for (const packet of conn.buffer.drain()) {
      const r = conn.tunnel.encapsulate(packet, this.wgOut, now);
      this.sendTunnelResult(conn, r, now);
    }
    this.drainTunnel(conn, now);
  }

  private onNominated(conn: Connection<TId, RId>, e: Extract<IceEvent, { type: "nominated" }>, now: number): void {
    const allocation = this.relays.allocationForRelayed(e.source);
    const theirsRelayed = e.remoteKind === "relay";
    const kind: PathKind = allocation ? (theirsRelayed ? "relay-to-relay" : "relay-to-peer") : theirsRelayed ? "peer-to-relay" : "peer-to-peer";
    if (conn.path === undefined) conn.pathSince = now;
    conn.path = { kind, local: e.source, remote: e.destination, allocation };
    log.debug("path nominated", { connection: String(conn.id), kind, local: e.source, remote: e.destination });
    if (conn.params.controlling && !conn.tunnel.hasSession(now) && conn.lastInitiationAt === -Infinity) {
      conn.lastInitiationAt = now;
      this.sendTunnelResult(conn, conn.tunnel.rollOver(now), now);
      this.drainTunnel(conn, now);
    }
  }

  private afterTunnelCall(conn: Connection<TId, RId>, now: number): void {
    this.drainTunnel(conn, now);
    this.processConnection(conn, now);
  }

  /** Sends whatever the tunnel has queued (flushed packets, keepalives, handshake retries). */
  private drainTunnel(conn: Connection<TId, RId>, now: number): void {
    for (let i = 0; i < 1024; i++) {
      const r = conn.tunnel.pollTransmit(now);
      if (r.action !== TunnAction.WriteToNetwork) break;
      this.sendTunnelResult(conn, r, now);
    }
  }

  private sendTunnelResult(conn: Connection<TId, RId>, r: TunnResult, now: number): void {
    if (r.action === TunnAction.Dropped) {
      this.drop(`wireguard-${DropReason[r.reason]}`);
      return;
    }
    if (r.action !== TunnAction.WriteToNetwork) return;
    const route = conn.path ?? conn.lastInbound;
    if (!route) {
      this.drop("wireguard-no-path");
      return;
    }
    this.sendFrom(route.local, route.remote, r.buf.slice(r.offset, r.offset + r.length), now);
  }

  private fail(conn: Connection<TId, RId>, reason: FailureReason): void {
    if (this.connections.get(conn.id) !== conn) return;
    log.debug("connection failed", { connection: String(conn.id), reason });
    this.dropConnection(conn);
    this.emit({ type: "connection-failed", connection: conn.id, reason });
  }

  private dropConnection(conn: Connection<TId, RId>): void {
    if (this.connections.get(conn.id) !== conn) return;
    this.connections.delete(conn.id);
    this.device.removePeer(conn.id);
    const dropped = conn.buffer.drain().length;
    if (dropped > 0) this.drop("buffered-on-close", dropped);
  }

  private addLocal(conn: Connection<TId, RId>, kind: "host" | "srflx" | "relay", addr: SocketAddress, base: SocketAddress, now: number): void {
    // ICE sends a relayed candidate's traffic from the relayed address itself (RFC 8445 §5.1.1.2),
    // whatever local socket the TURN client learned it on.
    const c = conn.agent.addLocalCandidate(kind, addr, kind === "relay" ? addr : base, now);
    if (c) this.emit({ type: "new-ice-candidate", connection: conn.id, candidate: formatCandidate(c) });
  }

  private invalidateLocal(conn: Connection<TId, RId>, kind: CandidateKind, addr: SocketAddress, now: number): void {
    const c = conn.agent.localCandidates().find((l) => l.kind === kind && l.ip === addr.ip && l.port === addr.port);
    if (!c) return;
    conn.agent.invalidateLocalCandidate(kind, addr, now);
    this.emit({ type: "invalidate-ice-candidate", connection: conn.id, candidate: formatCandidate(c) });
    if (kind === "relay" && conn.path && sameAddress(conn.path.local, addr)) this.forgetPath(conn, "relayed address invalidated");
  }

  /**
   * The nominated pair lost one of its candidates (the peer gave up its allocation, or ours was
   * re-made after a NAT rebinding): sending on would feed a black hole — e.g. a relay that still
   * forwards to an allocation the peer dropped. Packets wait in the buffer for the next nomination.
   */
  private forgetPath(conn: Connection<TId, RId>, why: string): void {
    log.debug("path lost a candidate", { connection: String(conn.id), why, local: conn.path?.local, remote: conn.path?.remote });
    conn.path = undefined;
  }

  /** The candidate a peer signalled for `conn`; a counted drop when there is no such connection or it does not parse. */
  private signalledCandidate(conn: Connection<TId, RId> | undefined, sdp: string): Candidate | undefined {
    if (!conn) return this.dropIn("candidate-unknown-connection");
    const parsed = parseCandidate(sdp);
    if (!parsed.ok) return this.dropIn(`candidate-${parsed.reason}`);
    return parsed.candidate;
  }

  /** "Always use all candidates": a relay/srflx/prflx remote candidate gets a channel on our relay. */
  private bindChannelFor(conn: Connection<TId, RId>, c: Candidate, now: number): void {
    if (c.kind === "host" || conn.relay === undefined) return;
    this.relays.get(conn.relay)?.allocation.bindChannel({ ip: c.ip, port: c.port }, now);
  }

  // ---- relays --------------------------------------------------------------------------------

  private assignRelay(conn: Connection<TId, RId>, now: number): void {
    if (conn.relay !== undefined) return;
    const candidates = [...this.relays.values()].filter((e) => !e.allocation.isGone()).map((e) => ({ id: e.id, rtt: e.allocation.rtt() }));
    const id = sampleRelay(candidates, () => this.random01());
    if (id === undefined) {
      if (candidates.length === 0 && !conn.noRelaysSignalled) {
        conn.noRelaysSignalled = true;
        this.emit({ type: "no-relays", connection: conn.id });
      }
      return;
    }
    conn.relay = id;
    conn.noRelaysSignalled = false;
    const allocation = this.relays.get(id)!.allocation;
    log.debug("relay sampled", { connection: String(conn.id), relay: String(id), rtt: allocation.rtt() });
    for (const c of allocation.relayCandidates()) this.addLocal(conn, "relay", c.address, c.base, now);
    for (const c of conn.remoteCandidates) this.bindChannelFor(conn, c, now);
  }

  private assignPendingRelays(now: number): void {
    for (const conn of [...this.connections.values()]) {
      if (conn.relay !== undefined) continue;
      this.assignRelay(conn, now);
      this.processConnection(conn, now);
    }
  }

  private processAllocation(entry: RelayEntry<RId>, now: number): void {
    const touched = new Set<Connection<TId, RId>>();
    for (let e = entry.allocation.pollEvent(); e; e = entry.allocation.pollEvent()) {
      if (e.type === "relay-gone") {
        log.info("relay gone", { relay: String(entry.id), reason: e.reason });
        // Remembered like a removed relay: it may still hold our allocation and forward to it.
        this.removeRelay(entry.id, now, true);
        return;
      }
      const c = e.candidate;
      // One relay saw our mapping change: the other allocations sit on the same dead 5-tuple.
      if (e.type === "invalidated-candidate" && c.kind === "srflx") this.probeRelays(now);
      const shared = c.kind !== "relay";
      for (const conn of this.connections.values()) {
        if (!shared && conn.relay !== entry.id) continue;
        touched.add(conn);
        if (e.type === "new-candidate") this.addLocal(conn, c.kind, c.address, c.base, now);
        else if (!shared || !this.otherRelayHas(entry.id, c.kind, c.address)) this.invalidateLocal(conn, c.kind, c.address, now);
      }
    }
    for (const conn of touched) this.processConnection(conn, now);
  }

  private removeRelay(id: RId, now: number, remember: boolean): void {
    const entry = this.relays.remove(id, remember);
    if (!entry) return;
    const all = [...entry.allocation.hostAndServerReflexiveCandidates(), ...entry.allocation.relayCandidates()];
    for (const conn of [...this.connections.values()]) {
      for (const c of all) {
        if (c.kind === "relay" && conn.relay !== id) continue;
        if (c.kind !== "relay" && this.otherRelayHas(id, c.kind, c.address)) continue;
        this.invalidateLocal(conn, c.kind, c.address, now);
      }
      if (conn.relay === id) {
        conn.relay = undefined;
        if (conn.path?.allocation === entry.allocation) conn.path = undefined;
        this.assignRelay(conn, now);
      }
      this.processConnection(conn, now);
    }
    log.debug("relay removed", { relay: String(id) });
  }

  /**
   * Signs on the nominated pair that our NAT may have rebound, each probing the relays once: its
   * checks stop being answered, or the peer starts seeing us from another address on the same
   * pair (then only the peer→us direction breaks, which no check of ours would notice).
   */
  private watchPath(conn: Connection<TId, RId>, now: number): void {
    const stalled = conn.agent.nominatedUnanswered() >= STALLED_PATH_CHECKS;
    if (stalled && !conn.pathStalled) this.probeRelays(now);
    conn.pathStalled = stalled;
    const path = conn.path;
    const mapped = path && path.allocation === undefined ? conn.agent.nominatedMapped() : undefined;
    if (!path || !mapped) return;
    const was = conn.seenAs;
    const samePath = was !== undefined && sameAddress(was.local, path.local) && sameAddress(was.remote, path.remote);
    if (samePath && sameAddress(was.mapped, mapped)) return;
    if (samePath) {
      log.debug("peer sees us from a new address", { connection: String(conn.id), was: was.mapped, now: mapped });
      this.probeRelays(now);
    }
    conn.seenAs = { local: path.local, remote: path.remote, mapped };
  }

  /**
   * A path died or changed under us (ICE disconnected, the nominated pair stalled, the peer or one
   * relay sees a new mapping): maybe our NAT rebound, and then every allocation belongs to a dead
   * 5-tuple. Ask the relays now rather than at the next keep-alive (up to 25 s away); an
   * allocation that finds a new mapping, a 437 or silence on it re-allocates and re-signals its
   * candidates. Probes in flight are not repeated.
   */
  private probeRelays(now: number): void {
    for (const entry of this.relays.values()) entry.allocation.probe(now);
  }

  /** Whether a candidate of relay `except` stays valid through another relay or our own host addresses. */
  private otherRelayHas(except: RId, kind: CandidateKind, addr: SocketAddress): boolean {
    return this.relays.otherHasCandidate(except, kind, addr) || (kind === "host" && this.hostCandidates.some((h) => sameAddress(h, addr)));
  }

  // ---- output helpers ------------------------------------------------------------------------

  /** Sends `payload` from our address `local`: directly from a host socket, or as ChannelData via the relay that owns `local`. */
  private sendFrom(local: SocketAddress, remote: SocketAddress, payload: Uint8Array, now: number): void {
    const allocation = this.relays.allocationForRelayed(local);
    if (!allocation) {
      this.transmits.push({ src: local, dst: remote, payload });
      return;
    }
    const buf = new Uint8Array(CHANNEL_DATA_HEADROOM + payload.length);
    buf.set(payload, CHANNEL_DATA_HEADROOM);
    const dst = allocation.encodeChannelData(remote, buf, CHANNEL_DATA_HEADROOM, payload.length, now);
    if (dst === undefined) {
      this.drop("relay-no-channel");
      return;
    }
    this.transmits.push({ dst, payload: buf });
  }

  private emit(e: NodeEvent<TId>): void {
    this.events.push(e);
  }

  private count(kind: string): void {
    this.received[kind] = (this.received[kind] ?? 0) + 1;
  }

  private drop(reason: string, n = 1): false {
    this.drops[reason] = (this.drops[reason] ?? 0) + n;
    log.trace("dropped", { reason });
    return false;
  }

  private dropIn(reason: string): undefined {
    this.drop(reason);
    return undefined;
  }

  private random32(): number {
    this.random(this.rand4);
    const b = this.rand4;
    return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
  }

  private random01(): number {
    return this.random32() / 0x1_0000_0000;
  }

  private makeDevice(privateKey: Uint8Array): Device<TId> {
    return new Device<TId>({
      privateKey,
      wallClock: this.wallClock,
      random32: () => this.random32(),
      random: () => this.random01(),
    });
  }
}

function sameCandidate(a: Candidate, b: Candidate): boolean {
  return a.ip === b.ip && a.port === b.port && a.kind === b.kind;
}
