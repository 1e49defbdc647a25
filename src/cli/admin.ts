import { defineCommand, type ArgsDef } from "citty";
import { readFileSync } from "node:fs";
import { CliError, EXIT_OK, UsageError } from "./exit.ts";

/** Flags every admin subcommand takes. */
const connectionArgs = {
  url: { type: "string", valueHint: "URL", description: "Portal base URL (default: $FIREZONE_PORTAL_URL or http://127.0.0.1:8080)" },
  token: { type: "string", valueHint: "TOKEN", description: "Admin token (default: $FIREZONE_ADMIN_TOKEN)" },
  json: { type: "boolean", description: "Print the portal's JSON answer as it is" },
} as const satisfies ArgsDef;

const LISTABLE = ["actors", "groups", "memberships", "sites", "resources", "policies", "tokens", "clients", "gateways", "relays", "authorizations"];
const CREATABLE = ["actors", "groups", "sites", "resources", "policies", "tokens"];
const DELETABLE = ["actors", "groups", "sites", "resources", "policies"];

type ConnectionFlags = { url?: string; token?: string; json?: boolean };

/** One admin API call; HTTP errors become a CliError with the portal's message (exit 1). */
async function call(flags: ConnectionFlags, method: string, path: string, body?: unknown): Promise<unknown> {
  const base = flags.url ?? process.env.FIREZONE_PORTAL_URL ?? "http://127.0.0.1:8080";
  const token = flags.token ?? process.env.FIREZONE_ADMIN_TOKEN;
  if (!token) throw new UsageError("an admin token is needed: --token or $FIREZONE_ADMIN_TOKEN");
  let url: URL;
  try {
    url = new URL(`/admin/v1/${path}`, base);
  } catch {
    throw new UsageError(`invalid --url "${base}"`);
  }
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new CliError(`cannot reach the portal at ${base}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const text = await res.text();
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new CliError(`the portal answered ${res.status} with something that is not JSON`);
  }
  if (!res.ok) throw new CliError(`portal: ${(value as { error?: string }).error ?? res.statusText} (HTTP ${res.status})`);
  return value;
}

/** JSON as it is with --json; otherwise a table of the scalar fields, one row per entity. */
function print(flags: ConnectionFlags, value: unknown): void {
  if (flags.json) {
    process.stdout.write(JSON.stringify(value, null, 2) + "\n");
    return;
  }
  const rows = Array.isArray(value) ? value : [value];
  if (rows.length === 0) {
    process.stdout.write("(none)\n");
    return;
  }
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r ?? {}).filter((k) => k !== "accountId" && isScalar((r as Record<string, unknown>)[k]))))];
  const cells = rows.map((r) => columns.map((c) => format((r as Record<string, unknown>)[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  const line = (parts: string[]) => parts.map((p, i) => p.padEnd(widths[i]!)).join("  ").trimEnd() + "\n";
  process.stdout.write(line(columns));
  for (const row of cells) process.stdout.write(line(row));
}

function isScalar(v: unknown): boolean {
  return v === null || ["string", "number", "boolean"].includes(typeof v) || Array.isArray(v);
}

function format(v: unknown): string {
  if (v === null || v === undefined) return "-";
  if (Array.isArray(v)) return v.map((x) => (typeof x === "string" ? x : JSON.stringify(x))).join(",");
  return String(v);
}

function oneOf(what: string, value: string, allowed: string[]): string {
  if (!allowed.includes(value)) throw new UsageError(`unknown ${what} "${value}"; one of: ${allowed.join(", ")}`);
  return value;
}

function parseJsonArg(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new UsageError(`${what} is not valid JSON`);
  }
}

const online = defineCommand({
  meta: { name: "online", description: "Clients, gateways and relays connected now, with the portal's counters" },
  args: { ...connectionArgs },
  async run({ args }) {
    const value = (await call(args, "GET", "online")) as { clients: unknown[]; gateways: unknown[]; relays: unknown[] };
    if (args.json) print(args, value);
    else {
      for (const kind of ["clients", "gateways", "relays"] as const) {
        process.stdout.write(`${kind} (${value[kind].length})\n`);
        if (value[kind].length > 0) print(args, value[kind]);
      }
    }
    return EXIT_OK;
  },
});

const list = defineCommand({
  meta: { name: "list", description: `List ${LISTABLE.join(", ")}` },
  args: { kind: { type: "positional", description: "What to list", valueHint: "KIND", required: true }, ...connectionArgs },
  async run({ args }) {
    print(args, await call(args, "GET", oneOf("kind", args.kind, LISTABLE)));
    return EXIT_OK;
  },
});

const apply = defineCommand({
  meta: { name: "apply", description: "Apply a configuration document (the portal.json format; YAML by extension) to a running portal" },
  args: { file: { type: "positional", description: "Configuration file", valueHint: "FILE", required: true }, ...connectionArgs },
  async run({ args }) {
    let text: string;
    try {
      text = readFileSync(args.file, "utf8");
    } catch (e) {
      throw new UsageError(`cannot read ${args.file}: ${e instanceof Error ? e.message : String(e)}`);
    }
    let doc: unknown;
    try {
      doc = /\.ya?ml$/i.test(args.file) ? Bun.YAML.parse(text) : JSON.parse(text);
    } catch (e) {
      throw new UsageError(`${args.file}: ${e instanceof Error ? e.message : String(e)}`);
    }
    const result = (await call(args, "POST", "config", doc)) as { created: string[]; updated: string[]; newTokens: { name: string; secret: string }[] };
    if (args.json) print(args, result);
    else {
      process.stdout.write(`created ${result.created.length}, updated ${result.updated.length}\n`);
      for (const t of result.newTokens) process.stdout.write(`token ${t.name}: ${t.secret}\n`);
    }
    return EXIT_OK;
  },
});

const create = defineCommand({
  meta: { name: "create", description: `Create or update one of ${CREATABLE.join(", ")} from JSON in the config file's shape` },
  args: {
    kind: { type: "positional", description: "What to create", valueHint: "KIND", required: true },
    data: { type: "positional", description: 'The entity as JSON, e.g. \'{"name":"hq"}\'', valueHint: "JSON", required: true },
    ...connectionArgs,
  },
  async run({ args }) {
    print(args, await call(args, "POST", oneOf("kind", args.kind, CREATABLE), parseJsonArg(args.data, "the entity")));
    return EXIT_OK;
  },
});

const token = defineCommand({
  meta: { name: "token", description: "Create a token; its secret is printed once" },
  args: {
    kind: { type: "positional", description: "client, gateway, relay or admin", valueHint: "KIND", required: true },
    name: { type: "positional", description: "A unique name for the token", valueHint: "NAME", required: true },
    actor: { type: "string", valueHint: "ACTOR", description: "The actor a client token belongs to" },
    site: { type: "string", valueHint: "SITE", description: "The site a gateway token belongs to" },
    "expires-at": { type: "string", valueHint: "RFC3339", description: "When the token stops working (default: never)" },
    ...connectionArgs,
  },
  async run({ args }) {
    const body: Record<string, unknown> = { kind: oneOf("token kind", args.kind, ["client", "gateway", "relay", "admin"]), name: args.name };
    if (args.actor) body.actor = args.actor;
    if (args.site) body.site = args.site;
    if (args["expires-at"]) body.expires_at = args["expires-at"];
    const value = (await call(args, "POST", "tokens", body)) as { secret?: string };
    if (args.json) print(args, value);
    else process.stdout.write(value.secret ? `${value.secret}\n` : "the token exists already (its secret was shown when it was made)\n");
    return EXIT_OK;
  },
});

const revoke = defineCommand({
  meta: { name: "revoke", description: "Revoke a token; sockets using it are disconnected" },
  args: { id: { type: "positional", description: "Token id or name", valueHint: "TOKEN", required: true }, ...connectionArgs },
  async run({ args }) {
    print(args, await call(args, "DELETE", `tokens/${encodeURIComponent(args.id)}`));
    return EXIT_OK;
  },
});

const remove = defineCommand({
  meta: { name: "delete", description: `Delete one of ${DELETABLE.join(", ")} by id or name (policies by id)` },
  args: {
    kind: { type: "positional", description: "What to delete", valueHint: "KIND", required: true },
    id: { type: "positional", description: "Id or name", valueHint: "ID", required: true },
    ...connectionArgs,
  },
  async run({ args }) {
    print(args, await call(args, "DELETE", `${oneOf("kind", args.kind, DELETABLE)}/${encodeURIComponent(args.id)}`));
    return EXIT_OK;
  },
});

const addMember = defineCommand({
  meta: { name: "add-member", description: "Add an actor to a group" },
  args: {
    group: { type: "positional", description: "Group id or name", valueHint: "GROUP", required: true },
    actor: { type: "positional", description: "Actor id, name or email", valueHint: "ACTOR", required: true },
    ...connectionArgs,
  },
  async run({ args }) {
    print(args, await call(args, "POST", `groups/${encodeURIComponent(args.group)}/members`, { actor: args.actor }));
    return EXIT_OK;
  },
});

const removeMember = defineCommand({
  meta: { name: "remove-member", description: "Remove an actor from a group; access it gave ends at once" },
  args: {
    group: { type: "positional", description: "Group id or name", valueHint: "GROUP", required: true },
    actor: { type: "positional", description: "Actor id, name or email", valueHint: "ACTOR", required: true },
    ...connectionArgs,
  },
  async run({ args }) {
    print(args, await call(args, "DELETE", `groups/${encodeURIComponent(args.group)}/members/${encodeURIComponent(args.actor)}`));
    return EXIT_OK;
  },
});

export default defineCommand({
  meta: { name: "admin", description: "Manage a running portal through its admin API" },
  subCommands: {
    online,
    list,
    apply,
    create,
    token,
    revoke,
    delete: remove,
    "add-member": addMember,
    "remove-member": removeMember,
  },
});
