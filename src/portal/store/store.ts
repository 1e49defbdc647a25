import type {
  Account,
  Actor,
  ActorType,
  Authorization,
  Client,
  Filter,
  Gateway,
  Group,
  IpStack,
  Membership,
  Policy,
  Relay,
  Resource,
  ResourceType,
  Site,
  Token,
  TokenKind,
} from "./model.ts";

export type * from "./model.ts";

/**
 * Everything the portal persists, behind one interface so another database (PostgreSQL) can be
 * added as a second implementation. The server keeps presence (who is online) in memory and asks
 * the store only for durable facts, so every method here is a small, indexed query.
 *
 * Upserts take an optional id: a config file or the admin API may pin ids, otherwise the store
 * makes a UUID. Names are unique per account for sites, resources, groups and tokens, which is
 * what makes declarative configuration idempotent.
 *
 * The interface is synchronous on purpose: the portal's message handlers read and then write
 * without an await between, so two frames never interleave inside one decision. A PostgreSQL
 * store (Bun.sql is asynchronous) fits behind it as a write-through cache: load the model at
 * start, answer reads from memory, and apply writes in order to the database in the background
 * (the model is small; clients, gateways and authorizations are the large tables).
 */
export interface Store {
  close(): void;

  defaultAccount(): Account;

  upsertActor(input: { id?: string; name: string; type: ActorType; email?: string | null }): Actor;
  getActor(id: string): Actor | undefined;
  findActor(nameOrEmail: string): Actor | undefined;
  listActors(): Actor[];
  deleteActor(id: string): boolean;

  upsertGroup(input: { id?: string; name: string }): Group;
  getGroup(id: string): Group | undefined;
  findGroup(name: string): Group | undefined;
  listGroups(): Group[];
  deleteGroup(id: string): boolean;

  addMembership(actorId: string, groupId: string): void;
  removeMembership(actorId: string, groupId: string): boolean;
  listMemberships(): Membership[];

  upsertSite(input: { id?: string; name: string }): Site;
  getSite(id: string): Site | undefined;
  findSite(name: string): Site | undefined;
  listSites(): Site[];
  deleteSite(id: string): boolean;

  upsertResource(input: {
    id?: string;
    name: string;
    type: ResourceType;
    address: string;
    addressDescription?: string | null;
    ipStack?: IpStack | null;
    filters?: Filter[];
    siteIds: string[];
  }): Resource;
  getResource(id: string): Resource | undefined;
  findResource(name: string): Resource | undefined;
  listResources(): Resource[];
  deleteResource(id: string): boolean;

  upsertPolicy(input: { id?: string; groupId: string; resourceId: string; description?: string | null }): Policy;
  getPolicy(id: string): Policy | undefined;
  listPolicies(): Policy[];
  deletePolicy(id: string): boolean;
  /** Resources the actor may reach, each with one policy that grants it. */
  allowedResources(actorId: string): Map<string, string>;

  /** Stores only the hash of `secret`; the caller shows the secret once. */
  createToken(
    input: { id?: string; kind: TokenKind; name: string; actorId?: string | null; siteId?: string | null; expiresAt?: number | null },
    secretHash: string,
    now: number,
  ): Token;
  findTokenByHash(secretHash: string): Token | undefined;
  findTokenByName(name: string): Token | undefined;
  getToken(id: string): Token | undefined;
  listTokens(): Token[];
  revokeToken(id: string, now: number): boolean;

  /** Identified by (actor, external id); keeps the tunnel addresses it was given the first time. */
  upsertClient(input: { actorId: string; externalId: string; name: string; publicKey: string }, now: number): Client;
  getClient(id: string): Client | undefined;
  listClients(): Client[];

  /** Identified by (site, external id); keeps its tunnel addresses. */
  upsertGateway(input: { siteId: string; externalId: string; name: string; publicKey: string }, now: number): Gateway;
  getGateway(id: string): Gateway | undefined;
  listGateways(): Gateway[];

  /** Identified by (token, name): a relay restarting keeps its id. */
  upsertRelay(input: { tokenId: string; name: string }, now: number): Relay;
  listRelays(): Relay[];

  createAuthorization(input: Omit<Authorization, "id" | "accountId"> & { id?: string }): Authorization;
  /** Valid (unexpired) authorizations of a gateway, for `init.authorizations` after a reconnect. */
  authorizationsForGateway(gatewayId: string, now: number): Authorization[];
  authorizationsForClient(clientId: string, now: number): Authorization[];
  listAuthorizations(now: number): Authorization[];
  deleteAuthorization(id: string): boolean;
  /** Removes and returns every authorization that expired at or before `now`. */
  takeExpiredAuthorizations(now: number): Authorization[];
}
