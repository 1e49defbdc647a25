/**
 * Versioned schema migrations, applied in order at start inside one transaction each. The applied
 * version lives in `PRAGMA user_version`; a migration is never edited once released, only
 * followed by a new one.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: the whole model.
  `
  CREATE TABLE accounts (id TEXT PRIMARY KEY, slug TEXT NOT NULL UNIQUE, name TEXT NOT NULL);
  CREATE TABLE actors (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    type TEXT NOT NULL CHECK (type IN ('user', 'service_account')),
    email TEXT,
    UNIQUE (account_id, name)
  );
  CREATE TABLE groups (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    UNIQUE (account_id, name)
  );
  CREATE TABLE memberships (
    actor_id TEXT NOT NULL REFERENCES actors(id) ON DELETE CASCADE,
    group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    PRIMARY KEY (actor_id, group_id)
  );
  CREATE INDEX memberships_group ON memberships(group_id);
  CREATE TABLE sites (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    UNIQUE (account_id, name)
  );
  CREATE TABLE resources (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    type TEXT NOT NULL CHECK (type IN ('dns', 'cidr', 'internet')),
    address TEXT NOT NULL,
    address_description TEXT,
    ip_stack TEXT CHECK (ip_stack IS NULL OR ip_stack IN ('dual', 'ipv4_only', 'ipv6_only')),
    filters TEXT NOT NULL DEFAULT '[]',
    UNIQUE (account_id, name)
  );
  CREATE TABLE resource_sites (
    resource_id TEXT NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
    site_id TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    PRIMARY KEY (resource_id, site_id)
  );
  CREATE INDEX resource_sites_site ON resource_sites(site_id);
  CREATE TABLE policies (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    resource_id TEXT NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
    description TEXT,
    UNIQUE (group_id, resource_id)
  );
  CREATE INDEX policies_resource ON policies(resource_id);
  CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('client', 'gateway', 'relay', 'admin')),
    name TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    actor_id TEXT REFERENCES actors(id) ON DELETE CASCADE,
    site_id TEXT REFERENCES sites(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER,
    UNIQUE (account_id, name),
    CHECK ((kind = 'client') = (actor_id IS NOT NULL)),
    CHECK ((kind = 'gateway') = (site_id IS NOT NULL))
  );
  CREATE TABLE tunnel_addresses (
    offset INTEGER PRIMARY KEY,
    owner_id TEXT NOT NULL UNIQUE
  );
  CREATE TABLE clients (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    actor_id TEXT NOT NULL REFERENCES actors(id) ON DELETE CASCADE,
    external_id TEXT NOT NULL,
    name TEXT NOT NULL,
    public_key TEXT NOT NULL,
    address_offset INTEGER NOT NULL UNIQUE,
    last_seen_at INTEGER NOT NULL,
    UNIQUE (actor_id, external_id)
  );
  CREATE TABLE gateways (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    site_id TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    external_id TEXT NOT NULL,
    name TEXT NOT NULL,
    public_key TEXT NOT NULL,
    address_offset INTEGER NOT NULL UNIQUE,
    last_seen_at INTEGER NOT NULL,
    UNIQUE (site_id, external_id)
  );
  CREATE TABLE relays (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    token_id TEXT NOT NULL REFERENCES tokens(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    last_seen_at INTEGER NOT NULL,
    UNIQUE (token_id, name)
  );
  CREATE TABLE authorizations (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    client_id TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    resource_id TEXT NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
    gateway_id TEXT NOT NULL REFERENCES gateways(id) ON DELETE CASCADE,
    -- No foreign key: another policy may still grant the access; the portal re-checks on change.
    policy_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
  );
  CREATE INDEX authorizations_gateway ON authorizations(gateway_id, expires_at);
  CREATE INDEX authorizations_client ON authorizations(client_id, expires_at);
  CREATE INDEX authorizations_expiry ON authorizations(expires_at);
  `,
  // 2: which client token an authorization was granted under, so revoking the token ends it.
  `
  ALTER TABLE authorizations ADD COLUMN token_id TEXT;
  CREATE INDEX authorizations_token ON authorizations(token_id);
  `,
];
