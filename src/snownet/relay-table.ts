/**
 * The node's relays: one TURN allocation per relay the portal named, plus a short memory of the
 * relays it removed (their late datagrams are dropped, not taken for peer traffic). Answers the
 * address questions the demux and the path logic ask; what a change means for the connections is
 * the node's business.
 */
import type { CandidateKind } from "../ice/candidate.ts";
import { ipFamily, sameAddress, type RandomSource, type SocketAddress } from "../stun/index.ts";
import { Allocation } from "../turn/index.ts";
import { REMOVED_RELAYS_MEMORY } from "./constants.ts";
import type { RelayConfig } from "./types.ts";

export interface RelayEntry<RId> {
  id: RId;
  config: RelayConfig<RId>;
  allocation: Allocation;
}

export class RelayTable<RId> {
  private readonly entries = new Map<RId, RelayEntry<RId>>();
  /** IPs of relays we removed, oldest first. */
  private readonly removedIps: string[] = [];

  get size(): number {
    return this.entries.size;
  }

  get(id: RId): RelayEntry<RId> | undefined {
    return this.entries.get(id);
  }

  ids(): RId[] {
    return [...this.entries.keys()];
  }

  values(): IterableIterator<RelayEntry<RId>> {
    return this.entries.values();
  }

  /** Whether relay `cfg.id` is already there with the same addresses and credentials, and alive. */
  isCurrent(cfg: RelayConfig<RId>): boolean {
    const existing = this.entries.get(cfg.id);
    return existing !== undefined && sameRelay(existing.config, cfg) && !existing.allocation.isGone();
  }

  /** Starts an allocation on a relay with at least one address; a relay that comes back is no longer "removed". */
  add(cfg: RelayConfig<RId>, now: number, random: RandomSource): RelayEntry<RId> {
    for (const a of [cfg.v4, cfg.v6]) {
      const i = a ? this.removedIps.indexOf(a.ip) : -1;
      if (i >= 0) this.removedIps.splice(i, 1);
    }
    const server: { v4?: SocketAddress; v6?: SocketAddress } = {};
    if (cfg.v4) server.v4 = cfg.v4;
    if (cfg.v6) server.v6 = cfg.v6;
    const allocation = new Allocation({ server, username: cfg.username, password: cfg.password, realm: cfg.realm, now, random });
    const entry = { id: cfg.id, config: { ...cfg }, allocation };
    this.entries.set(cfg.id, entry);
    return entry;
  }

  /** Takes relay `id` out; `remember` keeps its IPs so its late datagrams are dropped. */
  remove(id: RId, remember: boolean): RelayEntry<RId> | undefined {
    const entry = this.entries.get(id);
    if (!entry) return undefined;
    this.entries.delete(id);
    if (remember) {
      for (const a of [entry.config.v4, entry.config.v6]) {
        if (!a) continue;
        this.removedIps.push(a.ip);
        if (this.removedIps.length > REMOVED_RELAYS_MEMORY) this.removedIps.shift();
      }
    }
    return entry;
  }

  /** A relay's address, current or recently removed: its STUN and ChannelData go to the allocations. */
  isRelayIp(ip: string): boolean {
    for (const e of this.entries.values()) if (e.config.v4?.ip === ip || e.config.v6?.ip === ip) return true;
    return this.removedIps.includes(ip);
  }

  wasRemoved(ip: string): boolean {
    return this.removedIps.includes(ip);
  }

  /** The allocation whose relayed address is `addr`, if it is one of ours. */
  allocationForRelayed(addr: SocketAddress): Allocation | undefined {
    const family = ipFamily(addr.ip);
    for (const e of this.entries.values()) {
      const r = e.allocation.relayedAddress(family);
      if (r && sameAddress(r, addr)) return e.allocation;
    }
    return undefined;
  }

  /** Whether a relay other than `except` also learned this host or server-reflexive candidate. */
  otherHasCandidate(except: RId, kind: CandidateKind, addr: SocketAddress): boolean {
    for (const [id, e] of this.entries) {
      if (id === except) continue;
      if (e.allocation.hostAndServerReflexiveCandidates().some((c) => c.kind === kind && sameAddress(c.address, addr))) return true;
    }
    return false;
  }
}

function sameRelay<RId>(a: RelayConfig<RId>, b: RelayConfig<RId>): boolean {
  const addr = (x: SocketAddress | undefined, y: SocketAddress | undefined) => (x === undefined ? y === undefined : y !== undefined && sameAddress(x, y));
  return addr(a.v4, b.v4) && addr(a.v6, b.v6) && a.username === b.username && a.password === b.password && (a.realm ?? "firezone") === (b.realm ?? "firezone");
}
