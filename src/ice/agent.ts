/**
 * A sans-IO ICE agent (RFC 8445) for one data component over UDP, shaped like str0m's: the caller
 * drives it with `handleStun`, `handleTimeout(now)` and drains `pollTransmit`, `pollEvent`,
 * `pollTimeout`. No sockets, timers or clock of its own.
 *
 * Deliberate choices, taken from what Firezone learned running str0m in production:
 * - Remote candidates are accepted and paired at any time, also after nomination, and the
 *   controlling side re-nominates when a better pair succeeds or the nominated one dies.
 * - There is no frozen state and no ICE restart: a single component needs neither, and a changed
 *   network is handled above by replacing the agent.
 * - Failure is not terminal here: the agent reports `disconnected` and recovers to `checking`
 *   as soon as something new can be tried. How long to wait is the connection layer's policy.
 */
import {
  ATTR_ICE_CONTROLLED,
  ATTR_ICE_CONTROLLING,
  ATTR_USE_CANDIDATE,
  ATTR_XOR_MAPPED_ADDRESS,
  METHOD_BINDING,
  MessageBuilder,
  cryptoRandom,
  getErrorCode,
  getPriority,
  getTieBreaker,
  getUsername,
  getXorMappedAddress,
  isMalformed,
  newTransactionId,
  sameAddress,
  shortTermKey,
  transactionKey,
  verifyIntegrity,
  type RandomSource,
  type SocketAddress,
  type StunMessage,
} from "../stun/index.ts";
import { logger } from "../log/index.ts";
import { candidateFoundation, candidatePriority, type Candidate, type CandidateKind } from "./candidate.ts";
import { MAX_PAIRS, STALLED_CHECKS, TA_MS, type IceConfig } from "./config.ts";
import { CandidatePair } from "./pair.ts";

export interface IceCredentials {
  ufrag: string;
  pass: string;
}

export type IceState = "new" | "checking" | "connected" | "completed" | "disconnected";

export type IceEvent =
  | { type: "state"; state: IceState }
  /** Send data from `source` (a local base: host address or relay address) to `destination`. */
  | { type: "nominated"; source: SocketAddress; destination: SocketAddress; localKind: CandidateKind; remoteKind: CandidateKind };

export interface IceTransmit {
  /** The local base to send from: a host socket address, or a relay address (send via TURN). */
  source: SocketAddress;
  destination: SocketAddress;
  payload: Uint8Array;
}

export type IceDropReason =
  | "bad-integrity"
  | "unknown-interface"
  | "use-candidate-while-controlling"
  | "discarded-remote"
  | "unknown-transaction"
  | "asymmetric-response"
  | "missing-mapped-address"
  | "role-conflict"
  | "too-many-pairs";

export interface IceAgentOptions {
  controlling: boolean;
  local: IceCredentials;
  remote: IceCredentials;
  config: IceConfig;
  /** 64-bit random; decides role conflicts. */
  tieBreaker?: bigint;
  random?: RandomSource;
}

export interface IceStats {
  checksSent: number;
  requestsReceived: number;
  successesReceived: number;
  roleSwitches: number;
  drops: Partial<Record<IceDropReason, number>>;
}

interface LocalCandidate extends Candidate {
  base: SocketAddress;
  discarded: boolean;
}

interface RemoteCandidate extends Candidate {
  discarded: boolean;
}

const log = logger("ice::agent");

export class IceAgent {
  private controlling: boolean;
  private readonly tieBreaker: bigint;
  private readonly random: RandomSource;
  private config: IceConfig;
  private readonly local: IceCredentials;
  private readonly remote: IceCredentials;
  private readonly localKey: Uint8Array;
  private readonly remoteKey: Uint8Array;
  private readonly expectedUsername: string;
  private readonly outgoingUsername: string;

  private readonly locals: LocalCandidate[] = [];
  private readonly remotes: RemoteCandidate[] = [];
  private pairs: CandidatePair[] = [];
  private nextPairId = 1;
  /** Transaction key → pair id, for matching responses in O(1). */
  private readonly transactions = new Map<string, number>();
  private nominatedId: number | undefined;

  private currentState: IceState = "new";
  private readonly transmits: IceTransmit[] = [];
  private readonly events: IceEvent[] = [];
  private lastNow: number | undefined;
  readonly stats: IceStats = { checksSent: 0, requestsReceived: 0, successesReceived: 0, roleSwitches: 0, drops: {} };

  constructor(options: IceAgentOptions) {
    this.controlling = options.controlling;
    this.random = options.random ?? cryptoRandom;
    this.tieBreaker = options.tieBreaker ?? randomU64(this.random);
    this.config = options.config;
    this.local = options.local;
    this.remote = options.remote;
    this.localKey = shortTermKey(options.local.pass);
    this.remoteKey = shortTermKey(options.remote.pass);
    // RFC 8445 §7.2.2: the receiver's ufrag first.
    this.expectedUsername = `${options.local.ufrag}:${options.remote.ufrag}`;
    this.outgoingUsername = `${options.remote.ufrag}:${options.local.ufrag}`;
  }

  get state(): IceState {
    return this.currentState;
  }

  get isControlling(): boolean {
    return this.controlling;
  }

  get credentials(): { local: IceCredentials; remote: IceCredentials } {
    return { local: this.local, remote: this.remote };
  }

  /** Switches the check schedule, e.g. to the idle preset after 20 s without traffic. */
  setConfig(config: IceConfig): void {
    if (config === this.config) return;
    this.config = config;
    for (const p of this.pairs) p.resetSchedule();
  }

  get configName(): string {
    return this.config.name;
  }

  /**
   * Adds a local candidate and pairs it with every remote one. `base` is where packets are sent
   * from: the host socket for host and srflx candidates, the relay address for relayed ones.
   * Returns the candidate to signal, or undefined when it is redundant.
   */
  addLocalCandidate(kind: "host" | "srflx" | "relay", addr: SocketAddress, base: SocketAddress, now: number): Candidate | undefined {
    const family = addr.ip.includes(":") ? 6 : 4;
    // A srflx equal to its base (no NAT) tells the peer nothing new (RFC 8445 §5.1.3).
    if (kind === "srflx" && sameAddress(addr, base)) return undefined;
    for (const c of this.locals) {
      if (!c.discarded && c.kind === kind && c.ip === addr.ip && c.port === addr.port) return undefined;
    }
    const candidate: LocalCandidate = {
      kind,
      foundation: candidateFoundation(kind, base.ip, kind === "host" ? "" : `${base.ip}:${base.port}`),
      component: 1,
      priority: candidatePriority(kind, family),
      ip: addr.ip,
      port: addr.port,
      family,
      base,
      discarded: false,
    };
    if (kind !== "host") candidate.related = { ip: base.ip, port: base.port };
    this.locals.push(candidate);
    if (kind !== "srflx") {
      const idx = this.locals.length - 1;
      for (let r = 0; r < this.remotes.length; r++) this.formPair(idx, r);
    }
    this.evaluateState(now);
    return publicCandidate(candidate);
  }

  /** Local candidates that are still valid, for re-signalling on upsert. */
  localCandidates(): Candidate[] {
    return this.locals.filter((c) => !c.discarded).map(publicCandidate);
  }

  remoteCandidates(): Candidate[] {
    return this.remotes.filter((c) => !c.discarded).map(publicCandidate);
  }

  /**
   * Adds a remote candidate at any time, also after nomination (Firezone #9979). A candidate while
   * disconnected makes new pairs and puts the agent back into checking at once.
   */
  addRemoteCandidate(c: Candidate, now: number): void {
    const existing = this.remotes.findIndex((r) => r.ip === c.ip && r.port === c.port);
    if (existing >= 0) {
      const r = this.remotes[existing]!;
      if (!r.discarded && r.priority >= c.priority) return;
      // A signalled candidate replaces a peer-reflexive one learned from a check (RFC 8445 §7.3.1.3).
      if (r.discarded) {
        r.discarded = false;
      }
      Object.assign(r, { ...c, discarded: false });
      this.reprioritise();
      for (let l = 0; l < this.locals.length; l++) this.formPair(l, existing);
    } else {
      this.remotes.push({ ...c, discarded: false });
      const idx = this.remotes.length - 1;
      for (let l = 0; l < this.locals.length; l++) this.formPair(l, idx);
    }
    this.evaluateState(now);
  }

  /** Drops a remote candidate and its pairs; the agent moves on to another pair if it had this one. */
  invalidateRemoteCandidate(c: { ip: string; port: number }, now: number): boolean {
    const idx = this.remotes.findIndex((r) => !r.discarded && r.ip === c.ip && r.port === c.port);
    if (idx < 0) return false;
    this.remotes[idx]!.discarded = true;
    this.dropPairs((p) => p.remoteIndex === idx, now);
    return true;
  }

  /** Drops a local candidate (its relay went away) and its pairs. */
  invalidateLocalCandidate(kind: CandidateKind, addr: SocketAddress, now: number): boolean {
    const idx = this.locals.findIndex((l) => !l.discarded && l.kind === kind && l.ip === addr.ip && l.port === addr.port);
    if (idx < 0) return false;
    this.locals[idx]!.discarded = true;
    this.dropPairs((p) => p.localIndex === idx, now);
    return true;
  }

  /** True when this STUN message is for this agent: a check for our ufrag or a response to one of ours. */
  accepts(msg: StunMessage): boolean {
    if (msg.method !== METHOD_BINDING) return false;
    if (msg.cls === "request") {
      const u = getUsername(msg);
      return typeof u === "string" && u === this.expectedUsername;
    }
    if (msg.cls === "success" || msg.cls === "error") return this.transactions.has(transactionKey(msg.transactionId));
    return false;
  }

  /**
   * Handles a STUN binding message that `accepts` said is ours. `from` is the peer's address,
   * `to` our address it arrived on (a relay address for data that came through TURN).
   */
  handleStun(msg: StunMessage, from: SocketAddress, to: SocketAddress, now: number): void {
    this.lastNow = now;
    if (msg.cls === "request") this.handleRequest(msg, from, to, now);
    else if (msg.cls === "success") this.handleSuccess(msg, from, to, now);
    else if (msg.cls === "error") this.handleError(msg, now);
  }

  handleTimeout(now: number): void {
    this.lastNow = now;
    if (this.currentState === "new") this.setState("checking");
    let pruned = false;
    this.pairs = this.pairs.filter((p) => {
      const keep = p.isStillPossible(now, this.config);
      if (!keep) {
        log.debug("pair failed", { pair: this.describe(p) });
        for (const [k, id] of this.transactions) if (id === p.id) this.transactions.delete(k);
        if (p.id === this.nominatedId) this.nominatedId = undefined;
        pruned = true;
      }
      return keep;
    });
    if (pruned || (this.controlling && this.nominatedUnanswered() >= STALLED_CHECKS)) this.evaluateNomination();
    this.evaluateState(now);

    let due: CandidatePair | undefined;
    let dueAt = Infinity;
    for (const p of this.pairs) {
      const at = p.nextAttempt(now, this.config);
      if (at < dueAt) {
        dueAt = at;
        due = p;
      }
    }
    if (due && dueAt <= now) this.sendCheck(due, now);
  }

  pollTransmit(): IceTransmit | undefined {
    return this.transmits.shift();
  }

  pollEvent(): IceEvent | undefined {
    return this.events.shift();
  }

  /** The next instant `handleTimeout` wants to run, with why. */
  pollTimeout(): { at: number; reason: string } | undefined {
    if (this.lastNow === undefined) return { at: 0, reason: "ice start" };
    let next = Infinity;
    for (const p of this.pairs) next = Math.min(next, p.nextAttempt(this.lastNow, this.config));
    if (next === Infinity) return undefined;
    return { at: Math.max(next, this.lastNow + TA_MS), reason: "ice connectivity check" };
  }

  /**
   * Checks in a row the nominated pair left unanswered (0 without one). A dead path shows here
   * after a few RTOs, long before the pair is pruned at the ICE timeout.
   */
  nominatedUnanswered(): number {
    return this.pairs.find((x) => x.id === this.nominatedId)?.unansweredCount() ?? 0;
  }

  /**
   * Our address as the peer saw it in the nominated pair's latest answered check. For a host pair
   * behind a NAT it changes only when the NAT rebinds.
   */
  nominatedMapped(): SocketAddress | undefined {
    return this.pairs.find((x) => x.id === this.nominatedId)?.mapped;
  }

  /** The pair data flows over, if one is nominated. */
  nominated(): { source: SocketAddress; destination: SocketAddress; localKind: CandidateKind; remoteKind: CandidateKind; rtt: number | undefined } | undefined {
    const p = this.pairs.find((x) => x.id === this.nominatedId);
    if (!p) return undefined;
    const l = this.locals[p.localIndex]!;
    const r = this.remotes[p.remoteIndex]!;
    return { source: l.base, destination: { ip: r.ip, port: r.port }, localKind: l.kind, remoteKind: r.kind, rtt: p.rtt };
  }

  /** Pairs for `status` and tests: state, nomination and round-trip time. */
  pairSummary(): Array<{ local: string; remote: string; state: string; nomination: string; rtt?: number }> {
    return this.pairs.map((p) => {
      const l = this.locals[p.localIndex]!;
      const r = this.remotes[p.remoteIndex]!;
      return {
        local: `${l.kind} ${l.ip}:${l.port}`,
        remote: `${r.kind} ${r.ip}:${r.port}`,
        state: p.state,
        nomination: p.nomination,
        ...(p.rtt !== undefined ? { rtt: p.rtt } : {}),
      };
    });
  }

  private handleRequest(msg: StunMessage, from: SocketAddress, to: SocketAddress, now: number): void {
    if (!verifyIntegrity(msg, this.localKey)) return this.drop("bad-integrity");
    const localIdx = this.locals.findIndex(
      (l) => !l.discarded && (l.kind === "host" || l.kind === "relay") && l.ip === to.ip && l.port === to.port,
    );
    if (localIdx < 0) return this.drop("unknown-interface");

    // RFC 8445 §7.3.1.1: both sides claim the same role; the tie-breaker decides who yields.
    const peerControlling = getTieBreaker(msg, ATTR_ICE_CONTROLLING);
    const peerControlled = getTieBreaker(msg, ATTR_ICE_CONTROLLED);
    if (this.controlling && typeof peerControlling === "bigint") {
      if (this.tieBreaker >= peerControlling) return this.replyRoleConflict(msg, from, this.locals[localIdx]!.base);
      this.switchRole(false);
    } else if (!this.controlling && typeof peerControlled === "bigint") {
      if (this.tieBreaker >= peerControlled) this.switchRole(true);
      else return this.replyRoleConflict(msg, from, this.locals[localIdx]!.base);
    }
    const useCandidate = msg.has(ATTR_USE_CANDIDATE);
    if (useCandidate && this.controlling) return this.drop("use-candidate-while-controlling");
    this.stats.requestsReceived++;

    let remoteIdx = this.remotes.findIndex((r) => !r.discarded && r.ip === from.ip && r.port === from.port);
    if (remoteIdx < 0) {
      if (this.remotes.some((r) => r.discarded && r.ip === from.ip && r.port === from.port)) return this.drop("discarded-remote");
      // A peer-reflexive remote: the peer reached us from an address it never signalled.
      const prio = getPriority(msg);
      const family = from.ip.includes(":") ? 6 : 4;
      this.remotes.push({
        kind: "prflx",
        foundation: candidateFoundation("prflx", from.ip),
        component: 1,
        priority: typeof prio === "number" ? prio : candidatePriority("prflx", family),
        ip: from.ip,
        port: from.port,
        family,
        discarded: false,
      });
      remoteIdx = this.remotes.length - 1;
      log.debug("peer-reflexive remote candidate", { addr: `${from.ip}:${from.port}` });
    }
    let pair = this.pairs.find((p) => p.localIndex === localIdx && p.remoteIndex === remoteIdx);
    if (!pair) pair = this.formPair(localIdx, remoteIdx);
    if (pair) {
      pair.remoteRequest(now);
      let fresh: CandidatePair | undefined;
      // The controlling side sends USE-CANDIDATE only on its current choice, so one arriving on
      // another pair than ours means it moved (a better pair, or away from a stalled one).
      if (!this.controlling && useCandidate && pair.id !== this.nominatedId) {
        pair.nomination = "nominated";
        fresh = pair;
      }
      this.evaluateNomination(fresh);
    }

    const reply = new MessageBuilder(METHOD_BINDING, "success", msg.transactionId)
      .addXorAddress(ATTR_XOR_MAPPED_ADDRESS, from)
      .addMessageIntegrity(this.localKey)
      .addFingerprint()
      .finish();
    if (reply.ok) this.transmits.push({ source: this.locals[localIdx]!.base, destination: from, payload: reply.bytes.slice() });
    this.evaluateState(now);
  }

  private handleSuccess(msg: StunMessage, from: SocketAddress, to: SocketAddress, now: number): void {
    const key = transactionKey(msg.transactionId);
    const pairId = this.transactions.get(key);
    const pair = pairId === undefined ? undefined : this.pairs.find((p) => p.id === pairId);
    if (!pair) return this.drop("unknown-transaction");
    if (!verifyIntegrity(msg, this.remoteKey)) return this.drop("bad-integrity");
    const l = this.locals[pair.localIndex]!;
    const r = this.remotes[pair.remoteIndex]!;
    // RFC 8445 §7.2.5.2.1: a response from elsewhere than where the check went is no proof.
    if (from.ip !== r.ip || from.port !== r.port || to.ip !== l.base.ip || to.port !== l.base.port) {
      return this.drop("asymmetric-response");
    }
    const mapped = getXorMappedAddress(msg);
    if (mapped === undefined || isMalformed(mapped)) return this.drop("missing-mapped-address");
    if (!pair.recordResponse(key, now)) return;
    this.transactions.delete(key);
    pair.mapped = mapped;
    this.stats.successesReceived++;
    this.evaluateNomination();
    this.evaluateState(now);
  }

  private handleError(msg: StunMessage, now: number): void {
    const key = transactionKey(msg.transactionId);
    const pairId = this.transactions.get(key);
    const pair = pairId === undefined ? undefined : this.pairs.find((p) => p.id === pairId);
    if (!pair) return this.drop("unknown-transaction");
    if (!verifyIntegrity(msg, this.remoteKey)) return this.drop("bad-integrity");
    this.transactions.delete(key);
    const err = getErrorCode(msg);
    if (err === undefined || isMalformed(err) || err.code !== 487) return;
    const attempt = pair.findAttempt(key);
    // A 487 to a request sent in our previous role is stale (str0m does the same check).
    if (attempt && attempt.controlling === this.controlling) this.switchRole(!this.controlling);
    this.evaluateState(now);
  }

  private sendCheck(pair: CandidatePair, now: number): void {
    const l = this.locals[pair.localIndex]!;
    const r = this.remotes[pair.remoteIndex]!;
    const txId = newTransactionId(this.random);
    const key = transactionKey(txId);
    const useCandidate = this.controlling && pair.isNominated;
    const b = new MessageBuilder(METHOD_BINDING, "request", txId)
      .addUsername(this.outgoingUsername)
      .addPriority(candidatePriority("prflx", l.family))
      .addU64(this.controlling ? ATTR_ICE_CONTROLLING : ATTR_ICE_CONTROLLED, this.tieBreaker);
    if (useCandidate) b.addFlag(ATTR_USE_CANDIDATE);
    const built = b.addMessageIntegrity(this.remoteKey).addFingerprint().finish();
    if (!built.ok) return;
    pair.recordAttempt(key, now, this.controlling, useCandidate);
    this.transactions.set(key, pair.id);
    // Old transactions of this pair can no longer be matched once its history forgets them.
    if (this.transactions.size > MAX_PAIRS * 70) this.pruneTransactions();
    this.stats.checksSent++;
    this.transmits.push({ source: l.base, destination: { ip: r.ip, port: r.port }, payload: built.bytes.slice() });
  }

  private replyRoleConflict(msg: StunMessage, from: SocketAddress, base: SocketAddress): void {
    this.drop("role-conflict");
    const reply = new MessageBuilder(METHOD_BINDING, "error", msg.transactionId)
      .addErrorCode(487, "Role Conflict")
      .addMessageIntegrity(this.localKey)
      .addFingerprint()
      .finish();
    if (reply.ok) this.transmits.push({ source: base, destination: from, payload: reply.bytes.slice() });
  }

  private switchRole(controlling: boolean): void {
    if (this.controlling === controlling) return;
    log.debug("switching ICE role", { controlling });
    this.controlling = controlling;
    this.stats.roleSwitches++;
    this.reprioritise();
    for (const p of this.pairs) if (p.nomination !== "none" && controlling) p.nomination = "none";
  }

  private reprioritise(): void {
    for (const p of this.pairs) {
      p.priority = CandidatePair.priority(this.controlling, this.locals[p.localIndex]!.priority, this.remotes[p.remoteIndex]!.priority);
    }
  }

  private formPair(localIdx: number, remoteIdx: number): CandidatePair | undefined {
    const l = this.locals[localIdx]!;
    const r = this.remotes[remoteIdx]!;
    if (l.discarded || r.discarded || l.kind === "srflx" || l.family !== r.family) return undefined;
    const existing = this.pairs.find((p) => p.localIndex === localIdx && p.remoteIndex === remoteIdx);
    if (existing) return existing;
    const priority = CandidatePair.priority(this.controlling, l.priority, r.priority);
    if (this.pairs.length >= MAX_PAIRS) {
      // Replace the lowest-priority pair that is not carrying data, or refuse the new one.
      let worst = -1;
      for (let i = 0; i < this.pairs.length; i++) {
        const p = this.pairs[i]!;
        if (p.id === this.nominatedId || p.priority > priority) continue;
        if (worst < 0 || p.priority < this.pairs[worst]!.priority) worst = i;
      }
      if (worst < 0) {
        this.drop("too-many-pairs");
        return undefined;
      }
      this.pairs.splice(worst, 1);
    }
    const pair = new CandidatePair(this.nextPairId++, localIdx, remoteIdx, priority);
    this.pairs.push(pair);
    return pair;
  }

  private dropPairs(match: (p: CandidatePair) => boolean, now: number): void {
    const before = this.pairs.length;
    this.pairs = this.pairs.filter((p) => {
      if (!match(p)) return true;
      if (p.id === this.nominatedId) this.nominatedId = undefined;
      return false;
    });
    if (this.pairs.length !== before) {
      this.evaluateNomination();
      this.evaluateState(now);
    }
  }

  /**
   * Controlling: nominate the best succeeded pair (again, when a better one succeeds later).
   * Controlled: follow the best pair the peer nominated with USE-CANDIDATE.
   */
  private evaluateNomination(fresh?: CandidatePair): void {
    let best: CandidatePair | undefined;
    // Controlling: a pair that still answers beats a stalled one, whatever their priorities.
    const stalled = (p: CandidatePair) => this.controlling && p.unansweredCount() >= STALLED_CHECKS;
    const better = (a: CandidatePair, b: CandidatePair) => (stalled(a) !== stalled(b) ? !stalled(a) : a.priority > b.priority);
    for (const p of this.pairs) {
      const eligible = this.controlling ? p.state === "succeeded" : p.nomination !== "none";
      if (eligible && (!best || better(p, best))) best = p;
    }
    if (!best) return;
    // Controlled: follow the peer's latest nomination whatever its priority (it may have left a
    // stalled pair for a worse one, or its NAT rebound so its checks arrive from a new
    // peer-reflexive mapping). The pairs it left are no longer nominated, so a later pruning
    // cannot fall back to one of them.
    const follow = fresh !== undefined && !this.controlling;
    if (follow) {
      best = fresh;
      for (const p of this.pairs) if (p !== fresh) p.nomination = "none";
    }
    const current = this.pairs.find((p) => p.id === this.nominatedId);
    if (current && (current === best || (!better(best, current) && !follow))) return;
    // Controlling: the pair we leave stops carrying USE-CANDIDATE (the controlled side follows the
    // pair that does), and an unconfirmed nomination is not re-sent every Ta.
    if (current && this.controlling) current.nomination = "none";
    if (this.controlling && best.nomination === "none") best.nomination = "nominating";
    this.nominatedId = best.id;
    const l = this.locals[best.localIndex]!;
    const r = this.remotes[best.remoteIndex]!;
    log.debug("nominated", { pair: this.describe(best) });
    this.events.push({
      type: "nominated",
      source: l.base,
      destination: { ip: r.ip, port: r.port },
      localKind: l.kind,
      remoteKind: r.kind,
    });
  }

  /** The state table of str0m's agent, with `failed` left to the layer above. */
  private evaluateState(now: number): void {
    let anyNominated = false;
    let anyStillPossible = false;
    for (const p of this.pairs) {
      if (p.id === this.nominatedId || (p.nomination !== "none" && !this.controlling)) anyNominated = true;
      else if (p.isStillPossible(now, this.config)) anyStillPossible = true;
    }
    const liveRemotes = this.remotes.some((r) => !r.discarded);
    const liveLocals = this.locals.some((l) => !l.discarded && l.kind !== "srflx");
    if (!liveRemotes || !liveLocals) anyStillPossible = true;
    switch (this.currentState) {
      case "new":
        this.setState("checking");
        this.evaluateState(now);
        return;
      case "checking":
      case "disconnected":
        if (anyNominated) this.setState(anyStillPossible ? "connected" : "completed");
        else if (!anyStillPossible) this.setState("disconnected");
        else this.setState("checking");
        return;
      case "connected":
      case "completed":
        if (anyNominated) this.setState(anyStillPossible ? "connected" : "completed");
        else this.setState(anyStillPossible ? "checking" : "disconnected");
        return;
    }
  }

  private setState(state: IceState): void {
    if (state === this.currentState) return;
    log.debug("ICE state", { from: this.currentState, to: state });
    this.currentState = state;
    this.events.push({ type: "state", state });
  }

  private pruneTransactions(): void {
    const live = new Set(this.pairs.map((p) => p.id));
    for (const [k, id] of this.transactions) {
      const p = this.pairs.find((x) => x.id === id);
      if (!live.has(id) || !p || !p.findAttempt(k)) this.transactions.delete(k);
    }
  }

  private drop(reason: IceDropReason): void {
    this.stats.drops[reason] = (this.stats.drops[reason] ?? 0) + 1;
    log.trace("dropped STUN message", { reason });
  }

  private describe(p: CandidatePair): string {
    const l = this.locals[p.localIndex]!;
    const r = this.remotes[p.remoteIndex]!;
    return `${l.kind} ${l.ip}:${l.port} -> ${r.kind} ${r.ip}:${r.port}`;
  }
}

function publicCandidate(c: LocalCandidate | RemoteCandidate): Candidate {
  const out: Candidate = {
    kind: c.kind,
    foundation: c.foundation,
    component: c.component,
    priority: c.priority,
    ip: c.ip,
    port: c.port,
    family: c.family,
  };
  if (c.related) out.related = { ...c.related };
  return out;
}

function randomU64(random: RandomSource): bigint {
  const b = new Uint8Array(8);
  random(b);
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  return v;
}
