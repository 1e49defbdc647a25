import { defineCommand } from "citty";
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { logger } from "../log/index.ts";
import { applyConfig, ConfigError, DEFAULT_SETTINGS, parseConfigText, type PortalSettings } from "../portal/config.ts";
import { DEFAULT_AUTHORIZATION_TIMEOUT_MS } from "../portal/portal.ts";
import { PortalServer } from "../portal/server.ts";
import { SqliteStore, StoreError } from "../portal/store/sqlite-store.ts";
import { loggingArgs } from "./common-args.ts";
import { CliError, EXIT_OK, UsageError } from "./exit.ts";
import { setupLogging } from "./setup-logging.ts";

const log = logger("portal::cli");

export const DEFAULT_PORTAL_PORT = 8080;
export const DEFAULT_DB_PATH = "portal.db";

export default defineCommand({
  meta: {
    name: "portal",
    description:
      "Run the control plane: Firezone's Phoenix-channel WebSocket API for clients, gateways and relays, " +
      "policies, and the admin API, stored in SQLite",
  },
  args: {
    db: { type: "string", valueHint: "PATH", description: `SQLite database file, created if missing (default: $FIREZONE_PORTAL_DB or ${DEFAULT_DB_PATH})` },
    config: {
      type: "string",
      valueHint: "FILE",
      description: "Declarative configuration (JSON, or YAML by extension) applied idempotently at start; new token secrets are printed once on stdout",
    },
    listen: { type: "string", valueHint: "IP", description: "Address to listen on (default: 127.0.0.1)" },
    port: { type: "string", valueHint: "PORT", description: `TCP port for WebSockets and the admin API (default: ${DEFAULT_PORTAL_PORT})` },
    "authorization-timeout": {
      type: "string",
      valueHint: "MS",
      description: `How long a gateway may take to answer create_authorization before the client hears "offline" (default: ${DEFAULT_AUTHORIZATION_TIMEOUT_MS})`,
    },
    ...loggingArgs,
  },
  async run({ args }) {
    const listen = args.listen ?? "127.0.0.1";
    if (isIP(listen) === 0) throw new UsageError(`invalid --listen "${listen}": expected an IP address`);
    const port = numberArg("--port", args.port, DEFAULT_PORTAL_PORT, 0, 65535);
    const timeout = numberArg("--authorization-timeout", args["authorization-timeout"], DEFAULT_AUTHORIZATION_TIMEOUT_MS, 100, 600_000);
    const dbPath = args.db ?? process.env.FIREZONE_PORTAL_DB ?? DEFAULT_DB_PATH;
    let configText: string | undefined;
    if (args.config !== undefined) {
      try {
        configText = readFileSync(args.config, "utf8");
      } catch (e) {
        throw new UsageError(`cannot read --config ${args.config}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    const logging = setupLogging({ role: "portal", logLevel: args["log-level"], logDir: args["log-dir"] });

    let store: SqliteStore;
    try {
      store = new SqliteStore(dbPath);
    } catch (e) {
      logging.close();
      throw new CliError(`cannot open the database ${dbPath}: ${e instanceof Error ? e.message : String(e)}`);
    }
    let settings: PortalSettings = DEFAULT_SETTINGS;
    if (configText !== undefined) {
      try {
        const config = parseConfigText(configText, args.config!);
        settings = config.settings;
        const result = applyConfig(store, config, Date.now());
        log.info("configuration applied", { file: args.config, created: result.created.length, updated: result.updated.length });
        // Shown once, never logged: only their hashes are stored.
        for (const t of result.newTokens) process.stdout.write(`token ${t.name} (${t.kind}): ${t.secret}\n`);
      } catch (e) {
        store.close();
        logging.close();
        if (e instanceof ConfigError || e instanceof StoreError) throw new CliError(`--config ${args.config}: ${e.message}`);
        throw e;
      }
    }

    let server: PortalServer;
    try {
      server = new PortalServer({ store, settings, hostname: listen, port, authorizationTimeoutMs: timeout });
    } catch (e) {
      store.close();
      logging.close();
      throw new CliError(`cannot listen on ${listen}:${port}: ${e instanceof Error ? e.message : String(e)}`);
    }
    log.info("portal started", { listen, port: server.port, db: dbPath });
    await new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        process.off("SIGINT", onInt);
        process.off("SIGTERM", onTerm);
        log.info("shutting down", { signal });
        void server.stop().then(resolve);
      };
      const onInt = () => stop("SIGINT");
      const onTerm = () => stop("SIGTERM");
      process.on("SIGINT", onInt);
      process.on("SIGTERM", onTerm);
    });
    store.close();
    logging.close();
    return EXIT_OK;
  },
});

function numberArg(flag: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined || text === "") return fallback;
  if (!/^[0-9]+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new UsageError(`invalid ${flag} "${text}": expected a whole number ${min}-${max}`);
  }
  return Number(text);
}
