import { issueCredentials } from "../relay/credentials.ts";
import { logger } from "../log/index.ts";
import type { Identity } from "./admission.ts";
import { DEFAULT_SETTINGS, type PortalSettings } from "./config.ts";
import { chooseGateway } from "./gateway-selection.ts";
import { mintIngestToken } from "./ingest-token.ts";
import {
  CLIENT_TOPIC,
  parseRequestAuthorization,
  type AuthorizationCreated,
  type ClientInit,
  type ClientInterface,
  type FailReason,
} from "./messages/client.ts";
import { parsePeerCandidates, parseSnownetCapabilities, type FlowLogsConfig, type RelaysPresence, type TurnRelay } from "./messages/common.ts";
import { GATEWAY_TOPIC, parseAuthorizationCreatedReply, parseBroadcastCandidates, type CreateAuthorization, type GatewayInit } from "./messages/gateway.ts";
import { RELAY_TOPIC, parseRelayJoin } from "./messages/relay.ts";
import { clientResourceDescription, gatewayResourceDescription, type ClientResourceDescription } from "./messages/resource-description.ts";
import { PendingAuthorizations, type PendingAuthorization } from "./pending-authorizations.ts";
import {
  EVENT_CLOSE,
  EVENT_DISCONNECT,
  EVENT_HEARTBEAT,
  EVENT_JOIN,
  EVENT_LEAVE,
  PHOENIX_TOPIC,
  decodeMessage,
  encodeMessage,
  encodeReplyError,
  encodeReplyOk,
  type PhoenixMessage,
} from "./phoenix.ts";
import { newIceCredentials, newPresharedKey, newReference } from "./secrets.ts";
import type { Client, Gateway, Relay, Resource, Store, Token } from "./store/store.ts";
import { tokenState } from "./tokens.ts";

const log = logger("portal::channel");

/** The socket under a session, as the driver provides it. */
export interface Conn {
  send(text: string): void;
  close(code: number, reason: string): void;
}

/** WebSocket close codes the portal uses (4000–4999 are for applications). */
export const CLOSE_TOKEN_INVALID = 4001;
export const CLOSE_REPLACED = 4002;
export const CLOSE_TOO_MANY_ERRORS = 4003;

/** A gateway that has not answered `create_authorization` by then is treated as offline. */
export const DEFAULT_AUTHORIZATION_TIMEOUT_MS = 15_000;
/** Relay credentials live this long unless the device's token expires first. */
export const RELAY_CREDENTIAL_TTL_SECONDS = 7 * 24 * 3600;
/** Credentials are renewed this long before they expire. */
export const RELAY_CREDENTIAL_RENEW_SECONDS = 3600;
/** Bad frames a socket may send before the portal stops listening to it. */
export const MAX_BAD_FRAMES = 20;

export interface PortalOptions {
  store: Store;
  settings?: PortalSettings;
  /** Where flow logs would go; also names this portal in `flow_logs.api_url`. */
  publicUrl: string;
  authorizationTimeoutMs?: number;
}

interface SessionBase {
  id: number;
  conn: Conn;
  token: Token;
  joined: boolean;
  badFrames: number;
  closed: boolean;
}

/** Devices that hold relay credentials, renewed before they run out. */
interface RelayHolder {
  /** Unix seconds at which the earliest credentials this device holds expire. */
  relayCredentialsExpireAt: number;
}

export interface ClientSession extends SessionBase, RelayHolder {
  kind: "client";
  client: Client;
  iceless: boolean;
  /** Resource id → description JSON as last sent, to send only what changed. */
  sentResources: Map<string, string>;
}

export interface GatewaySession extends SessionBase, RelayHolder {
  kind: "gateway";
  gateway: Gateway;
  iceless: boolean;
  /** `clientId resourceId` → expiry (ms) of what this gateway was told it may allow. */
  granted: Map<string, number>;
  /** Resource id → gateway description JSON as last sent. */
  sentResources: Map<string, string>;
  /** Clients this gateway was introduced to; ICE candidates flow only between them. */
  peers: Set<string>;
}

export interface RelaySession extends SessionBase {
  kind: "relay";
  relay: Relay;
  addrs: string[];
  secret: string | null;
}

export type Session = ClientSession | GatewaySession | RelaySession;

/** Counters for `--json` listings and the bench; drops are counted by reason. */
export interface PortalCounters {
  framesIn: number;
  framesOut: number;
  dropped: Record<string, number>;
  authorizationsCreated: number;
  authorizationsFailed: Record<string, number>;
}

/**
 * The control plane: sessions for clients, gateways and relays, the authorization flow, and the
 * pushes that follow model changes. It owns no sockets and no timers: the server feeds it frames
 * and `now` (ms), and calls `handleTimeout(now)` at `pollTimeout()`.
 */
export class Portal {
  readonly store: Store;
  private currentSettings: PortalSettings;
  readonly counters: PortalCounters = { framesIn: 0, framesOut: 0, dropped: {}, authorizationsCreated: 0, authorizationsFailed: {} };
  private readonly pending: PendingAuthorizations;
  private readonly clients = new Map<string, ClientSession>();
  private readonly gateways = new Map<string, GatewaySession>();
  private readonly relays = new Map<string, RelaySession>();
  private flowLogs: FlowLogsConfig;
  private readonly ingestKey = crypto.getRandomValues(new Uint8Array(32));
  private nextSessionId = 1;
  private selectionTurn = 0;

  constructor(options: PortalOptions) {
    this.store = options.store;
    this.currentSettings = options.settings ?? DEFAULT_SETTINGS;
    this.pending = new PendingAuthorizations(options.authorizationTimeoutMs ?? DEFAULT_AUTHORIZATION_TIMEOUT_MS);
    // upload_interval_secs 0 tells connlib that uploads are off: this portal has no ingest API.
    this.flowLogs = { api_url: options.publicUrl, upload_interval_secs: 0, upload_batch_size: 0 };
  }

  get settings(): PortalSettings {
    return this.currentSettings;
  }

  /**
   * New portal-wide settings (admin API). Clients whose interface changes (DNS upstreams, search
   * domain) get `config_changed`; TTL and iceless apply to authorizations from now on.
   */
  updateSettings(settings: PortalSettings): void {
    const after = JSON.stringify([settings.upstreamDo53, settings.upstreamDoh, settings.searchDomain]);
    const before = JSON.stringify([this.currentSettings.upstreamDo53, this.currentSettings.upstreamDoh, this.currentSettings.searchDomain]);
    this.currentSettings = settings;
    if (before === after) return;
    for (const s of this.clients.values()) {
      if (s.joined) this.push(s, "config_changed", { interface: this.clientInterface(s.client) });
    }
  }

  /** The URL is known only once the server listens. */
  setPublicUrl(url: string): void {
    this.flowLogs = { ...this.flowLogs, api_url: url };
  }

  // ---- sessions

  open(identity: Identity, conn: Conn): Session {
    const base = { id: this.nextSessionId++, conn, token: identity.token, joined: false, badFrames: 0, closed: false };
    switch (identity.kind) {
      case "client":
        return { ...base, kind: "client", client: identity.client, iceless: false, sentResources: new Map(), relayCredentialsExpireAt: Infinity };
      case "gateway":
        return {
          ...base,
          kind: "gateway",
          gateway: identity.gateway,
          iceless: false,
          granted: new Map(),
          sentResources: new Map(),
          peers: new Set(),
          relayCredentialsExpireAt: Infinity,
        };
      case "relay":
        return { ...base, kind: "relay", relay: identity.relay, addrs: identity.addrs, secret: null };
    }
  }

  /** The socket is gone; forget the session and tell whoever cares. */
  close(session: Session, now: number): void {
    if (session.closed) return;
    session.closed = true;
    if (session.kind === "client" && this.clients.get(session.client.id) === session) {
      this.clients.delete(session.client.id);
      this.pending.dropClient(session.client.id);
    } else if (session.kind === "gateway" && this.gateways.get(session.gateway.id) === session) {
      this.gateways.delete(session.gateway.id);
      for (const p of this.pending.dropGateway(session.gateway.id)) this.fail(p.clientId, p.resourceId, "offline");
    } else if (session.kind === "relay" && this.relays.get(session.relay.id) === session) {
      this.relays.delete(session.relay.id);
      this.broadcastRelays({ disconnected_ids: [session.relay.id], connected: [] }, now);
    }
  }

  handleFrame(session: Session, text: string, now: number): void {
    this.counters.framesIn++;
    // A replaced or disconnected socket may still deliver what was in flight; it no longer speaks.
    if (session.closed) return this.drop("closed_session");
    const decoded = decodeMessage(text);
    if (!decoded.ok) return this.badFrame(session, PHOENIX_TOPIC, null, decoded.error);
    const msg = decoded.message;
    if (msg.topic === PHOENIX_TOPIC) {
      if (msg.event === EVENT_HEARTBEAT) return this.send(session, encodeReplyOk(PHOENIX_TOPIC, msg.rawRef));
      return this.badFrame(session, PHOENIX_TOPIC, msg.rawRef, "unknown_event");
    }
    const topic = topicOf(session);
    if (msg.topic !== topic) return this.badFrame(session, msg.topic, msg.rawRef, "unmatched topic");
    if (msg.event === EVENT_JOIN) return this.join(session, msg, now);
    if (!session.joined) return this.badFrame(session, topic, msg.rawRef, "unmatched topic");
    if (msg.event === EVENT_LEAVE) {
      this.send(session, encodeReplyOk(topic, msg.rawRef));
      session.conn.close(1000, "left");
      return;
    }
    switch (session.kind) {
      case "client":
        return this.clientEvent(session, msg, now);
      case "gateway":
        return this.gatewayEvent(session, msg, now);
      case "relay":
        return this.badFrame(session, topic, msg.rawRef, "unknown_event");
    }
  }

  // ---- timers

  pollTimeout(): { at: number; reason: string } | undefined {
    return this.pending.pollTimeout();
  }

  /** Pending authorizations that ran out of time, expired authorizations and tokens. */
  handleTimeout(now: number): void {
    for (const p of this.pending.handleTimeout(now)) {
      log.info("gateway did not answer create_authorization in time", { gateway_id: p.gatewayId, resource_id: p.resourceId });
      this.fail(p.clientId, p.resourceId, "offline");
    }
    if (this.store.takeExpiredAuthorizations(now).length > 0) this.syncGateways(now);
    for (const s of this.sessions()) {
      if (s.token.expiresAt !== null && s.token.expiresAt <= now) this.disconnect(s, "token_expired", now);
      else if (s.kind !== "relay" && s.joined && s.relayCredentialsExpireAt - RELAY_CREDENTIAL_RENEW_SECONDS <= now / 1000) {
        // Fresh credentials for the same relays before the old ones stop working.
        s.relayCredentialsExpireAt = Infinity;
        this.push(s, "relays_presence", { disconnected_ids: [], connected: this.relayList(s, now) });
      }
    }
  }

  /**
   * Something in the model changed (admin API, config): drop authorizations no policy backs any
   * more, revoke tokens' sockets, and send every online device what is different for it.
   */
  modelChanged(now: number): void {
    const allowedByActor = new Map<string, Map<string, string>>();
    const allowed = (actorId: string) => {
      let a = allowedByActor.get(actorId);
      if (!a) allowedByActor.set(actorId, (a = this.store.allowedResources(actorId)));
      return a;
    };
    let described: Map<string, ClientResourceDescription> | undefined;
    const siteOfGateway = new Map<string, string | undefined>();
    const tokenValid = new Map<string, boolean>();
    const validToken = (id: string | null) => {
      if (id === null) return true;
      let v = tokenValid.get(id);
      if (v === undefined) {
        const token = this.store.getToken(id);
        tokenValid.set(id, (v = token !== undefined && tokenState(token, now).ok));
      }
      return v;
    };
    for (const auth of this.store.listAuthorizations(now)) {
      const client = this.store.getClient(auth.clientId);
      const resource = this.store.getResource(auth.resourceId);
      if (!siteOfGateway.has(auth.gatewayId)) siteOfGateway.set(auth.gatewayId, this.store.getGateway(auth.gatewayId)?.siteId);
      const site = siteOfGateway.get(auth.gatewayId);
      if (!client || !resource || !site || !resource.siteIds.includes(site) || !allowed(client.actorId).has(auth.resourceId) || !validToken(auth.tokenId)) {
        this.store.deleteAuthorization(auth.id);
      }
    }
    for (const s of this.sessions()) {
      const token = this.store.getToken(s.token.id);
      const state = token ? tokenState(token, now) : ({ ok: false, reason: "token_revoked" } as const);
      if (!state.ok) {
        this.disconnect(s, "token_expired", now);
        continue;
      }
      s.token = state.token;
      if (s.kind === "client") {
        if (!this.store.getClient(s.client.id)) this.disconnect(s, "token_expired", now);
        else if (s.joined) this.syncClientResources(s, allowed(s.client.actorId), (described ??= this.describeResources()));
      }
    }
    this.syncGateways(now);
  }

  // ---- listings

  onlineClients(): Client[] {
    return [...this.clients.values()].map((s) => s.client);
  }

  onlineGateways(): Gateway[] {
    return [...this.gateways.values()].map((s) => s.gateway);
  }

  onlineRelays(): (Relay & { addrs: string[] })[] {
    return [...this.relays.values()].map((s) => ({ ...s.relay, addrs: s.addrs }));
  }

  pendingAuthorizations(): number {
    return this.pending.size;
  }

  /** Every open session, joined or not. */
  *sessions(): Generator<Session> {
    yield* this.clients.values();
    yield* this.gateways.values();
    yield* this.relays.values();
  }

  // ---- join and init

  private join(session: Session, msg: PhoenixMessage, now: number): void {
    const topic = topicOf(session);
    if (session.joined) return this.send(session, encodeReplyOk(topic, msg.rawRef));
    // The token may have been revoked, or the device deleted, since the upgrade.
    const token = this.store.getToken(session.token.id);
    const state = token ? tokenState(token, now) : undefined;
    const gone = session.kind === "client" ? !this.store.getClient(session.client.id) : session.kind === "gateway" ? !this.store.getGateway(session.gateway.id) : false;
    if (!state?.ok || gone) return this.disconnect(session, "token_expired", now);
    session.token = state.token;
    if (session.kind === "relay") {
      const join = parseRelayJoin(msg.payload);
      if (!join) return this.badFrame(session, topic, msg.rawRef, "invalid_payload");
      session.secret = join.stamp_secret;
    }
    session.joined = true;
    this.register(session);
    this.send(session, encodeReplyOk(topic, msg.rawRef));
    switch (session.kind) {
      case "client":
        this.push(session, "init", this.clientInit(session, now));
        break;
      case "gateway":
        this.push(session, "init", this.gatewayInit(session, now));
        break;
      case "relay":
        this.push(session, "init", {});
        this.broadcastRelays({ disconnected_ids: [], connected: [] }, now, session);
        break;
    }
    log.info("joined", { kind: session.kind, id: idOf(session) });
  }

  /** A device that connects again replaces its older socket. */
  private register(session: Session): void {
    const map = (session.kind === "client" ? this.clients : session.kind === "gateway" ? this.gateways : this.relays) as Map<string, Session>;
    const id = idOf(session);
    const old = map.get(id);
    map.set(id, session);
    if (old && old !== session) {
      old.closed = true;
      old.conn.close(CLOSE_REPLACED, "replaced by a newer connection");
    }
  }

  private clientInterface(client: Client): ClientInterface {
    return {
      ipv4: client.ipv4,
      ipv6: client.ipv6,
      upstream_do53: this.settings.upstreamDo53.map((ip) => ({ ip })),
      upstream_doh: this.settings.upstreamDoh.map((url) => ({ url })),
      search_domain: this.settings.searchDomain,
    };
  }

  private clientInit(session: ClientSession, now: number): ClientInit {
    const resources = this.clientResources(this.store.allowedResources(session.client.actorId), this.describeResources());
    session.sentResources = new Map(resources.map((r) => [r.id, JSON.stringify(r)]));
    return {
      interface: this.clientInterface(session.client),
      resources,
      relays: this.relayList(session, now),
      authorizations: [],
      flow_logs: this.flowLogs,
    };
  }

  private gatewayInit(session: GatewaySession, now: number): GatewayInit {
    const authorizations = this.store.authorizationsForGateway(session.gateway.id, now);
    for (const a of authorizations) {
      session.granted.set(`${a.clientId} ${a.resourceId}`, a.expiresAt);
      session.peers.add(a.clientId);
      const r = this.store.getResource(a.resourceId);
      if (r) session.sentResources.set(r.id, JSON.stringify(gatewayResourceDescription(r)));
    }
    return {
      interface: { ipv4: session.gateway.ipv4, ipv6: session.gateway.ipv6 },
      config: { ipv4_masquerade_enabled: true, ipv6_masquerade_enabled: true },
      relays: this.relayList(session, now),
      account_slug: this.store.defaultAccount().slug,
      authorizations: authorizations.map((a) => ({ client_id: a.clientId, resource_id: a.resourceId, expires_at: Math.floor(a.expiresAt / 1000) })),
      flow_logs: this.flowLogs,
    };
  }

  /** Client descriptions of every resource that has a site, by id; built once per fan-out. */
  private describeResources(): Map<string, ClientResourceDescription> {
    const sites = new Map(this.store.listSites().map((s) => [s.id, s]));
    const out = new Map<string, ClientResourceDescription>();
    for (const r of this.store.listResources()) {
      const rs = r.siteIds.map((id) => sites.get(id)).filter((s) => s !== undefined);
      if (rs.length > 0) out.set(r.id, clientResourceDescription(r, rs));
    }
    return out;
  }

  private clientResources(allowed: Map<string, string>, described: Map<string, ClientResourceDescription>): ClientResourceDescription[] {
    const out: ClientResourceDescription[] = [];
    for (const id of allowed.keys()) {
      const d = described.get(id);
      if (d) out.push(d);
    }
    return out.sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  // ---- relays

  /** Fresh credentials for every online relay, derived for this device alone. */
  private relayList(session: ClientSession | GatewaySession, now: number): TurnRelay[] {
    const out: TurnRelay[] = [];
    for (const r of this.relays.values()) if (r.joined && !r.closed) out.push(...this.relayEntries(r, session, now));
    return out;
  }

  private relayEntries(relay: RelaySession, device: ClientSession | GatewaySession, now: number): TurnRelay[] {
    let expiresAt = Math.floor(now / 1000) + RELAY_CREDENTIAL_TTL_SECONDS;
    if (device.token.expiresAt !== null) expiresAt = Math.min(expiresAt, Math.floor(device.token.expiresAt / 1000));
    device.relayCredentialsExpireAt = Math.min(device.relayCredentialsExpireAt, expiresAt);
    return relay.addrs.map((addr) => {
      const creds = issueCredentials(relay.secret!, expiresAt);
      return { type: "turn", id: relay.relay.id, addr, username: creds.username, password: creds.password, expires_at: expiresAt };
    });
  }

  /** Tells every joined client and gateway about relays that came or went. */
  private broadcastRelays(presence: RelaysPresence, now: number, joined?: RelaySession): void {
    for (const s of [...this.clients.values(), ...this.gateways.values()]) {
      if (!s.joined) continue;
      const connected = joined ? this.relayEntries(joined, s, now) : presence.connected;
      this.push(s, "relays_presence", { disconnected_ids: presence.disconnected_ids, connected });
    }
  }

  // ---- client events

  private clientEvent(session: ClientSession, msg: PhoenixMessage, now: number): void {
    switch (msg.event) {
      case "request_authorization": {
        const req = parseRequestAuthorization(msg.payload);
        if (!req) return this.badFrame(session, CLIENT_TOPIC, msg.rawRef, "invalid_payload");
        return this.requestAuthorization(session, req.resource_id, req.connected_gateway_ids, now);
      }
      case "new_gateway_ice_candidates":
      case "invalidate_gateway_ice_candidates": {
        const p = parsePeerCandidates(msg.payload, "gateway_id");
        if (!p) return this.badFrame(session, CLIENT_TOPIC, msg.rawRef, "invalid_payload");
        const gateway = this.gateways.get(p.gateway_id);
        if (!gateway || !(gateway.peers.has(session.client.id) || this.pending.involves(session.client.id, p.gateway_id))) {
          return this.drop("candidates_for_unknown_gateway");
        }
        const event = msg.event === "new_gateway_ice_candidates" ? "ice_candidates" : "invalidate_ice_candidates";
        return this.push(gateway, event, { client_id: session.client.id, candidates: p.candidates });
      }
      case "new_client_ice_candidates":
      case "invalidate_client_ice_candidates": {
        // Client-to-client (device pools) is not offered by this portal: no such peer exists.
        const p = parsePeerCandidates(msg.payload, "client_id");
        if (!p) return this.badFrame(session, CLIENT_TOPIC, msg.rawRef, "invalid_payload");
        return this.push(session, "client_ice_candidate_error", { client_id: p.client_id, reason: "not_found" });
      }
      case "resolve_device_pool_domain": {
        const p = msg.payload as { resource_id?: unknown; domain?: unknown } | null;
        if (typeof p?.resource_id !== "string" || typeof p.domain !== "string") return this.badFrame(session, CLIENT_TOPIC, msg.rawRef, "invalid_payload");
        return this.push(session, "device_pool_domain_resolution_failed", { resource_id: p.resource_id, domain: p.domain, reason: "not_found" });
      }
      default:
        return this.deviceEvent(session, CLIENT_TOPIC, msg, now);
    }
  }

  private requestAuthorization(session: ClientSession, resourceId: string, preferred: string[], now: number): void {
    const resource = this.store.getResource(resourceId);
    if (!resource) return this.fail(session.client.id, resourceId, "not_found");
    const policyId = this.store.allowedResources(session.client.actorId).get(resourceId);
    if (!policyId) return this.fail(session.client.id, resourceId, "forbidden");
    const candidates = [...this.gateways.values()]
      .filter((g) => g.joined && resource.siteIds.includes(g.gateway.siteId))
      .map((g) => ({ id: g.gateway.id, load: g.granted.size + this.pending.loadOf(g.gateway.id) }));
    const gatewayId = chooseGateway(candidates, preferred, this.selectionTurn++);
    if (!gatewayId) return this.fail(session.client.id, resourceId, "offline");
    const gateway = this.gateways.get(gatewayId)!;

    let expiresAt = now + this.settings.authorizationTtlSeconds * 1000;
    if (session.token.expiresAt !== null) expiresAt = Math.min(expiresAt, session.token.expiresAt);
    const authorizationId = crypto.randomUUID();
    const ref = newReference();
    const presharedKey = newPresharedKey();
    const clientIce = newIceCredentials();
    const gatewayIce = newIceCredentials();
    const useIceless = this.settings.iceless && session.iceless && gateway.iceless;
    const token = (role: "initiator" | "responder") => this.ingestToken(role, session.client, gateway.gateway, resource, policyId, authorizationId, now, expiresAt);

    const reply: AuthorizationCreated = {
      gateway_group_id: gateway.gateway.siteId,
      gateway_id: gateway.gateway.id,
      resource_id: resource.id,
      preshared_key: presharedKey,
      client_ice_credentials: clientIce,
      gateway_ice_credentials: gatewayIce,
      gateway_public_key: gateway.gateway.publicKey,
      gateway_ipv4: gateway.gateway.ipv4,
      gateway_ipv6: gateway.gateway.ipv6,
      use_iceless: useIceless,
      flow_logs_ingest_token: token("initiator"),
    };
    const request: CreateAuthorization = {
      ref,
      resource: gatewayResourceDescription(resource),
      client: { id: session.client.id, public_key: session.client.publicKey, preshared_key: presharedKey, ipv4: session.client.ipv4, ipv6: session.client.ipv6 },
      client_ice_credentials: clientIce,
      gateway_ice_credentials: gatewayIce,
      expires_at: Math.floor(expiresAt / 1000),
      use_iceless: useIceless,
      flow_logs_ingest_token: token("responder"),
    };
    this.pending.begin({ ref, authorizationId, clientId: session.client.id, gatewayId, resourceId, policyId, tokenId: session.token.id, expiresAt, reply }, now);
    gateway.peers.add(session.client.id);
    gateway.sentResources.set(resource.id, JSON.stringify(request.resource));
    this.push(gateway, "create_authorization", request);
  }

  private ingestToken(
    role: "initiator" | "responder",
    client: Client,
    gateway: Gateway,
    resource: Resource,
    policyId: string,
    authorizationId: string,
    now: number,
    expiresAt: number,
  ): string {
    const actor = this.store.getActor(client.actorId);
    return mintIngestToken(this.ingestKey, {
      account_id: client.accountId,
      iat: Math.floor(now / 1000),
      exp: Math.floor(expiresAt / 1000),
      uploads_enabled: false,
      role,
      initiator_device_id: client.id,
      responder_device_id: gateway.id,
      policy_authorization_id: authorizationId,
      policy_id: policyId,
      resource_id: resource.id,
      resource_name: resource.name,
      initiator_actor_id: client.actorId,
      initiator_actor_name: actor?.name ?? "",
      authorized_at: new Date(now).toISOString(),
      authorization_expires_at: new Date(expiresAt).toISOString(),
      resource_address: resource.type === "internet" ? null : resource.address,
      initiator_actor_email: actor?.email ?? null,
    });
  }

  private fail(clientId: string, resourceId: string, reason: FailReason): void {
    this.counters.authorizationsFailed[reason] = (this.counters.authorizationsFailed[reason] ?? 0) + 1;
    const client = this.clients.get(clientId);
    if (client) this.push(client, "authorization_creation_failed", { resource_id: resourceId, reason });
  }

  // ---- gateway events

  private gatewayEvent(session: GatewaySession, msg: PhoenixMessage, now: number): void {
    switch (msg.event) {
      case "authorization_created": {
        const reply = parseAuthorizationCreatedReply(msg.payload);
        if (!reply) return this.badFrame(session, GATEWAY_TOPIC, msg.rawRef, "invalid_payload");
        const p = this.pending.complete(reply.ref, session.gateway.id);
        if (!p) return this.drop("unknown_authorization_ref");
        return this.authorizationCreated(session, p, now);
      }
      case "broadcast_ice_candidates":
      case "broadcast_invalidated_ice_candidates": {
        const p = parseBroadcastCandidates(msg.payload);
        if (!p) return this.badFrame(session, GATEWAY_TOPIC, msg.rawRef, "invalid_payload");
        const event = msg.event === "broadcast_ice_candidates" ? "ice_candidates" : "invalidate_ice_candidates";
        for (const clientId of p.client_ids) {
          const client = this.clients.get(clientId);
          if (!client || !session.peers.has(clientId)) {
            this.drop("candidates_for_unknown_client");
            continue;
          }
          this.push(client, event, { gateway_id: session.gateway.id, candidates: p.candidates });
        }
        return;
      }
      default:
        return this.deviceEvent(session, GATEWAY_TOPIC, msg, now);
    }
  }

  // ---- events of either device topic

  /** What a client and a gateway both send about their own snownet; anything else is unknown. */
  private deviceEvent(session: ClientSession | GatewaySession, topic: string, msg: PhoenixMessage, now: number): void {
    switch (msg.event) {
      case "no_relays":
        // The device lost all relays: resend what there is, with fresh credentials.
        return this.push(session, "relays_presence", { disconnected_ids: [], connected: this.relayList(session, now) });
      case "set_snownet_capabilities": {
        const caps = parseSnownetCapabilities(msg.payload);
        if (!caps) return this.badFrame(session, topic, msg.rawRef, "invalid_payload");
        session.iceless = caps.iceless;
        return;
      }
      default:
        return this.badFrame(session, topic, msg.rawRef, "unknown_event");
    }
  }

  private authorizationCreated(gateway: GatewaySession, p: PendingAuthorization, now: number): void {
    // Access may have ended while the gateway was answering; then the gateway must drop it again.
    const client = this.store.getClient(p.clientId);
    const stillAllowed = client !== undefined && this.store.allowedResources(client.actorId).has(p.resourceId) && p.expiresAt > now;
    if (!stillAllowed) {
      this.push(gateway, "reject_access", { client_id: p.clientId, resource_id: p.resourceId });
      return this.fail(p.clientId, p.resourceId, "forbidden");
    }
    // A new grant for the same client, resource and gateway supersedes the older ones.
    for (const old of this.store.authorizationsForClient(p.clientId, now)) {
      if (old.resourceId === p.resourceId && old.gatewayId === p.gatewayId && old.expiresAt <= p.expiresAt) this.store.deleteAuthorization(old.id);
    }
    this.store.createAuthorization({
      id: p.authorizationId,
      clientId: p.clientId,
      resourceId: p.resourceId,
      gatewayId: p.gatewayId,
      policyId: p.policyId,
      tokenId: p.tokenId,
      createdAt: now,
      expiresAt: p.expiresAt,
    });
    const key = `${p.clientId} ${p.resourceId}`;
    gateway.granted.set(key, Math.max(gateway.granted.get(key) ?? 0, p.expiresAt));
    this.counters.authorizationsCreated++;
    const session = this.clients.get(p.clientId);
    if (session) this.push(session, "authorization_created", p.reply);
  }

  // ---- pushes after changes

  private syncClientResources(session: ClientSession, allowed: Map<string, string>, described: Map<string, ClientResourceDescription>): void {
    const now = this.clientResources(allowed, described);
    const seen = new Set<string>();
    for (const r of now) {
      seen.add(r.id);
      const json = JSON.stringify(r);
      if (session.sentResources.get(r.id) === json) continue;
      session.sentResources.set(r.id, json);
      this.push(session, "resource_created_or_updated", r);
    }
    for (const id of [...session.sentResources.keys()]) {
      if (seen.has(id)) continue;
      session.sentResources.delete(id);
      this.push(session, "resource_deleted", id);
    }
  }

  /** Brings every online gateway in line with the stored authorizations. */
  private syncGateways(now: number): void {
    for (const g of this.gateways.values()) {
      if (!g.joined) continue;
      const current = new Map<string, number>();
      for (const a of this.store.authorizationsForGateway(g.gateway.id, now)) {
        const key = `${a.clientId} ${a.resourceId}`;
        current.set(key, Math.max(current.get(key) ?? 0, a.expiresAt));
      }
      for (const key of [...g.granted.keys()]) {
        if (current.has(key)) continue;
        g.granted.delete(key);
        const [clientId, resourceId] = key.split(" ") as [string, string];
        this.push(g, "reject_access", { client_id: clientId, resource_id: resourceId });
      }
      for (const [resourceId, sent] of [...g.sentResources]) {
        const r = this.store.getResource(resourceId);
        if (!r) {
          g.sentResources.delete(resourceId);
          continue;
        }
        const json = JSON.stringify(gatewayResourceDescription(r));
        if (json === sent) continue;
        g.sentResources.set(resourceId, json);
        this.push(g, "resource_updated", JSON.parse(json));
      }
    }
  }

  // ---- output

  private push(session: Session, event: string, payload: unknown): void {
    this.send(session, encodeMessage(topicOf(session), event, payload, null));
  }

  private send(session: Session, text: string): void {
    if (session.closed) return;
    this.counters.framesOut++;
    session.conn.send(text);
  }

  /** `disconnect{reason}` then close: connlib treats `token_expired` as final. */
  private disconnect(session: Session, reason: "token_expired", now: number): void {
    if (session.closed) return;
    this.send(session, encodeMessage(topicOf(session), EVENT_DISCONNECT, { reason }, null));
    log.info("disconnecting", { kind: session.kind, id: idOf(session), reason });
    session.conn.close(CLOSE_TOKEN_INVALID, reason);
    this.close(session, now);
  }

  private badFrame(session: Session, topic: string, ref: unknown, reason: string): void {
    this.drop(reason);
    this.send(session, encodeReplyError(topic, ref, reason));
    if (++session.badFrames > MAX_BAD_FRAMES) {
      this.send(session, encodeMessage(topicOf(session), EVENT_CLOSE, {}, null));
      session.conn.close(CLOSE_TOO_MANY_ERRORS, "too many bad frames");
    }
  }

  private drop(reason: string): void {
    this.counters.dropped[reason] = (this.counters.dropped[reason] ?? 0) + 1;
  }
}

export function topicOf(session: Session): string {
  return session.kind === "client" ? CLIENT_TOPIC : session.kind === "gateway" ? GATEWAY_TOPIC : RELAY_TOPIC;
}

export function idOf(session: Session): string {
  return session.kind === "client" ? session.client.id : session.kind === "gateway" ? session.gateway.id : session.relay.id;
}
