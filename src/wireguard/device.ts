import { logger } from "../log/index.ts";
import { CookieChecker, gateHandshake, GateVerdict } from "./cookie.ts";
import {
  DEVICE_HANDSHAKE_RATE_LIMIT,
  MESSAGE_COOKIE_REPLY_SIZE,
  MESSAGE_HANDSHAKE_INITIATION,
  MESSAGE_HANDSHAKE_RESPONSE,
  MESSAGE_INITIATION_SIZE,
} from "./constants.ts";
import { consumeInitiationStatic, LocalStatic } from "./handshake.ts";
import { IndexTable } from "./index-table.ts";
import { inBounds, messageView, readU32 } from "./messages.ts";
import { RateLimiter } from "./rate-limiter.ts";
import { DropReason, setDropped, setResult, TunnAction, TunnResult } from "./result.ts";
import { randomIndex, Tunnel, type TunnelConfig } from "./tunnel.ts";
import { TunnelStats } from "./tunnel-stats.ts";

const log = logger("wireguard::device");

export interface DeviceConfig {
  privateKey: Uint8Array;
  /** Wall-clock ms for TAI64N timestamps (see TunnelConfig.wallClock). */
  wallClock: () => number;
  /** Handshake messages per second across all peers before cookies are demanded. */
  handshakeRateLimit?: number;
  /** Source of receiver indices (tests inject a deterministic one). */
  random32?: () => number;
  random?: () => number;
}

export type PeerConfig = Omit<TunnelConfig, "privateKey" | "local" | "wallClock" | "indexTable" | "rateLimiter" | "cookieChecker" | "tag" | "peerPublicKey"> & {
  publicKey: Uint8Array;
};

function keyHex(key: Uint8Array): string {
  let s = "";
  for (let i = 0; i < key.length; i++) s += key[i].toString(16).padStart(2, "0");
  return s;
}

/**
 * Many peers behind one static key, as a gateway holds them: one index table (receiver indices
 * unique across all peers, O(1) from index to peer), one cookie checker and one rate limiter.
 * Initiations are matched to a peer by decrypting their static key once; responses, cookie
 * replies and transport messages by receiver index. `lastPeer` names the peer of the last result.
 */
export class Device<Id = string> {
  readonly local: LocalStatic;
  /** Datagrams no peer claimed (unknown index, unknown static key, bad MAC1, ...). */
  readonly stats = new TunnelStats();
  readonly indexTable: IndexTable<Tunnel>;
  /** The peer id of the tunnel that produced the last `decapsulate` result, if any. */
  lastPeer: Id | undefined;

  private readonly wallClock: () => number;
  private readonly random: (() => number) | undefined;
  private readonly checker: CookieChecker;
  private readonly limiter: RateLimiter;
  private readonly byKey = new Map<string, Tunnel>();
  private readonly byId = new Map<Id, Tunnel>();
  private readonly result = new TunnResult();
  private readonly ctrl = new Uint8Array(MESSAGE_COOKIE_REPLY_SIZE);

  constructor(config: DeviceConfig) {
    this.local = new LocalStatic(config.privateKey);
    this.wallClock = config.wallClock;
    this.random = config.random;
    this.indexTable = new IndexTable<Tunnel>(config.random32 ?? randomIndex);
    this.checker = new CookieChecker(this.local.publicKey);
    this.limiter = new RateLimiter(config.handshakeRateLimit ?? DEVICE_HANDSHAKE_RATE_LIMIT);
  }

  get publicKey(): Uint8Array {
    return this.local.publicKey;
  }

  /** Adds (or replaces) the peer `id`. Replacing closes the old tunnel and its sessions. */
  addPeer(id: Id, config: PeerConfig): Tunnel {
    this.removePeer(id);
    const existing = this.byKey.get(keyHex(config.publicKey));
    if (existing !== undefined) this.removePeer(existing.tag as Id);
    const tunnel = new Tunnel({
      ...config,
      peerPublicKey: config.publicKey,
      local: this.local,
      wallClock: this.wallClock,
      indexTable: this.indexTable,
      rateLimiter: this.limiter,
      cookieChecker: this.checker,
      random: config.random ?? this.random,
      tag: id,
    });
    this.byKey.set(keyHex(config.publicKey), tunnel);
    this.byId.set(id, tunnel);
    return tunnel;
  }

  removePeer(id: Id): boolean {
    const tunnel = this.byId.get(id);
    if (tunnel === undefined) return false;
    tunnel.close();
    this.byId.delete(id);
    this.byKey.delete(keyHex(tunnel.peer.peerPublicKey));
    return true;
  }

  peer(id: Id): Tunnel | undefined {
    return this.byId.get(id);
  }

  peerByPublicKey(publicKey: Uint8Array): Tunnel | undefined {
    return this.byKey.get(keyHex(publicKey));
  }

  peers(): IterableIterator<[Id, Tunnel]> {
    return this.byId.entries();
  }

  get size(): number {
    return this.byId.size;
  }

  /** Routes one datagram to its peer's tunnel and returns that tunnel's result. */
  decapsulate(datagram: Uint8Array, out: Uint8Array, now: number, srcAddress?: string, srcPort?: number): TunnResult {
    return this.decapsulateAt(datagram, 0, datagram.length, out, now, srcAddress, srcPort);
  }

  /**
   * `decapsulate` for the datagram buf[off, off+len) without a view per datagram; where the
   * decrypted packet lands is as in `Tunnel.decapsulateAt` (in place when `out === buf`).
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
    this.lastPeer = undefined;
    if (!inBounds(buf, off, len) || len < 8) return this.dropped(DropReason.InvalidLength);
    const type = buf[off];
    if (type === MESSAGE_HANDSHAKE_INITIATION) {
      if (len !== MESSAGE_INITIATION_SIZE) return this.dropped(DropReason.InvalidLength);
      if (buf[off + 1] !== 0 || buf[off + 2] !== 0 || buf[off + 3] !== 0) return this.dropped(DropReason.UnknownType);
      const msg = messageView(buf, off, len);
      switch (gateHandshake(this.checker, this.limiter, msg, len, now, srcAddress, srcPort, this.ctrl)) {
        case GateVerdict.Pass:
          break;
        case GateVerdict.InvalidMac1:
          return this.dropped(DropReason.InvalidMac1);
        case GateVerdict.UnderLoad:
          return this.dropped(DropReason.UnderLoad);
        case GateVerdict.CookieReply:
          this.stats.cookieRepliesSent++;
          this.stats.txBytes += MESSAGE_COOKIE_REPLY_SIZE;
          return setResult(this.result, TunnAction.WriteToNetwork, this.ctrl, 0, MESSAGE_COOKIE_REPLY_SIZE);
      }
      const c = consumeInitiationStatic(this.local, msg);
      if (c === null) return this.dropped(DropReason.HandshakeDecryptFailed);
      const tunnel = this.byKey.get(keyHex(c.peerStatic));
      if (tunnel === undefined) {
        log.debug("initiation from an unknown static key");
        return this.dropped(DropReason.WrongPeer);
      }
      this.lastPeer = tunnel.tag as Id;
      return tunnel.handleConsumedInitiation(c, now);
    }
    // A response names our index after its own sender index; cookie replies and data right after the type.
    const indexAt = type === MESSAGE_HANDSHAKE_RESPONSE ? 8 : 4;
    if (len < indexAt + 4) return this.dropped(DropReason.InvalidLength);
    const tunnel = this.indexTable.get(readU32(buf, off + indexAt));
    if (tunnel === undefined) {
      // Unknown types land here too; report them as such rather than as an unknown index.
      return this.dropped(type >= 2 && type <= 4 ? DropReason.UnknownReceiverIndex : DropReason.UnknownType);
    }
    this.lastPeer = tunnel.tag as Id;
    return tunnel.decapsulateAt(buf, off, len, out, now, srcAddress, srcPort);
  }

  private dropped(reason: DropReason): TunnResult {
    this.stats.drop(reason);
    return setDropped(this.result, reason);
  }
}
