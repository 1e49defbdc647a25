/**
 * The portal's data model: plain records as the store hands them out. Ids are UUIDs (the wire
 * protocol carries them as ResourceId/GatewayId/SiteId/ClientId); times are unix milliseconds.
 */

export type ActorType = "user" | "service_account";
export type ResourceType = "dns" | "cidr" | "internet";
export type IpStack = "dual" | "ipv4_only" | "ipv6_only";
export type TokenKind = "client" | "gateway" | "relay" | "admin";

/** A resource filter exactly as it travels in `filters[]`: `{protocol, port_range_start?, port_range_end?}`. */
export type Filter =
  | { protocol: "tcp" | "udp"; port_range_start?: number; port_range_end?: number }
  | { protocol: "icmp" };

export interface Account {
  id: string;
  slug: string;
  name: string;
}

export interface Actor {
  id: string;
  accountId: string;
  name: string;
  type: ActorType;
  email: string | null;
}

export interface Group {
  id: string;
  accountId: string;
  name: string;
}

export interface Membership {
  actorId: string;
  groupId: string;
}

export interface Site {
  id: string;
  accountId: string;
  name: string;
}

export interface Resource {
  id: string;
  accountId: string;
  name: string;
  type: ResourceType;
  /** A DNS pattern (`*.corp.example`), a CIDR, or empty for the Internet Resource. */
  address: string;
  addressDescription: string | null;
  ipStack: IpStack | null;
  filters: Filter[];
  siteIds: string[];
}

export interface Policy {
  id: string;
  accountId: string;
  groupId: string;
  resourceId: string;
  description: string | null;
}

export interface Token {
  id: string;
  accountId: string;
  kind: TokenKind;
  name: string;
  /** Whose token: the actor for a client token, the site for a gateway token, else null. */
  actorId: string | null;
  siteId: string | null;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
}

export interface Client {
  id: string;
  accountId: string;
  actorId: string;
  externalId: string;
  name: string;
  publicKey: string;
  ipv4: string;
  ipv6: string;
  lastSeenAt: number;
}

export interface Gateway {
  id: string;
  accountId: string;
  siteId: string;
  externalId: string;
  name: string;
  publicKey: string;
  ipv4: string;
  ipv6: string;
  lastSeenAt: number;
}

export interface Relay {
  id: string;
  accountId: string;
  tokenId: string;
  name: string;
  lastSeenAt: number;
}

/** A granted flow: this client may reach this resource through this gateway until `expiresAt`. */
export interface Authorization {
  id: string;
  accountId: string;
  clientId: string;
  resourceId: string;
  gatewayId: string;
  policyId: string;
  /** The client token it was granted under; revoking that token ends it. */
  tokenId: string | null;
  createdAt: number;
  expiresAt: number;
}
