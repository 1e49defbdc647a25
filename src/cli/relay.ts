import { defineCommand } from "citty";
import { hostname } from "node:os";
import { RelayDriver } from "../io/relay-driver.ts";
import { logger } from "../log/index.ts";
import {
  DEFAULT_LISTEN_PORT,
  DEFAULT_MAX_ALLOCATIONS_PER_IP,
  DEFAULT_MAX_PORT,
  DEFAULT_MIN_PORT,
} from "../relay/constants.ts";
import { generateSecret } from "../relay/credentials.ts";
import type { ChannelError } from "../portal/channel.ts";
import { PortalPresence } from "../relay/portal-presence.ts";
import { RelayServer } from "../relay/server.ts";
import { parseIpv4, parseIpv6 } from "../stun/index.ts";
import { loggingArgs } from "./common-args.ts";
import { CliError, EXIT_OK, UsageError } from "./exit.ts";
import { setupLogging } from "./setup-logging.ts";
import { VERSION } from "./version.ts";

const log = logger("relay::cli");

/** How long SIGTERM waits for the portal to answer phx_leave before closing the socket anyway. */
export const LEAVE_TIMEOUT_MS = 2_000;

export default defineCommand({
  meta: {
    name: "relay",
    description:
      "Run a STUN/TURN relay (UDP) with Firezone's credential scheme: BINDING, ALLOCATE, REFRESH, CHANNEL-BIND, " +
      "CREATE-PERMISSION and ChannelData; data only over bound channels",
  },
  args: {
    listen: {
      type: "string",
      valueHint: "IP[,IP]",
      description:
        "Local addresses to bind, at most one IPv4 and one IPv6 (default: 0.0.0.0, plus the --public-ipv6 address if given). " +
        'On Linux "::" also receives IPv4, so pair an IPv4 address with a specific IPv6 address, not "::"',
    },
    port: { type: "string", valueHint: "PORT", description: `UDP port for STUN/TURN (default: ${DEFAULT_LISTEN_PORT})` },
    "public-ipv4": {
      type: "string",
      valueHint: "IP",
      description: "IPv4 address clients reach the relay at, sent as the relayed address (default: $PUBLIC_IP4_ADDR, or the --listen IPv4 address if it is not 0.0.0.0)",
    },
    "public-ipv6": {
      type: "string",
      valueHint: "IP",
      description: "IPv6 address clients reach the relay at; enables IPv6 and dual allocations (default: $PUBLIC_IP6_ADDR, or the --listen IPv6 address if it is not ::)",
    },
    "min-port": { type: "string", valueHint: "PORT", description: `Lowest relay port for allocations (default: ${DEFAULT_MIN_PORT})` },
    "max-port": { type: "string", valueHint: "PORT", description: `Highest relay port for allocations (default: ${DEFAULT_MAX_PORT})` },
    secret: {
      type: "string",
      valueHint: "SECRET",
      description:
        "Shared secret the portal derives TURN credentials from (default: $FIREZONE_RELAY_SECRET; without either, a random one is generated, " +
        "and printed once on stdout unless --portal hands it over)",
    },
    portal: {
      type: "string",
      valueHint: "URL",
      description:
        "Portal API URL (http, https, ws, wss): join it as a relay with --token, hand it the secret, stay listed while running (default: $FIREZONE_API_URL)",
    },
    token: {
      type: "string",
      valueHint: "TOKEN",
      description: "Relay token issued by the portal (default: $FIREZONE_TOKEN, which keeps it out of the process list)",
    },
    name: {
      type: "string",
      valueHint: "NAME",
      description: "Name the portal shows for this relay (default: $FIREZONE_NAME or the host name)",
    },
    "max-allocations-per-ip": {
      type: "string",
      valueHint: "N",
      description: `Allocations one client IP may hold at once; more get 486 (default: ${DEFAULT_MAX_ALLOCATIONS_PER_IP})`,
    },
    ...loggingArgs,
  },
  async run({ args }) {
    const config = relayConfig(args as Readonly<Record<string, unknown>>, process.env);
    const logging = setupLogging({ role: "relay", logLevel: args["log-level"], logDir: args["log-dir"] });
    if (config.secretGenerated && !config.portal) {
      // Printed exactly once so it can be given to the portal; it is never logged. With --portal
      // the relay hands it over itself and it is shown nowhere.
      process.stdout.write(`FIREZONE_RELAY_SECRET=${config.secret}\n`);
    }
    const server = new RelayServer({
      secret: config.secret,
      publicIpv4: config.publicIpv4,
      publicIpv6: config.publicIpv6,
      minPort: config.minPort,
      maxPort: config.maxPort,
      maxAllocationsPerIp: config.maxAllocationsPerIp,
    });
    let driver: RelayDriver;
    try {
      driver = await RelayDriver.start({ server, listenIpv4: config.listenIpv4, listenIpv6: config.listenIpv6, port: config.port });
    } catch (e) {
      logging.close();
      throw new CliError(`cannot listen on UDP port ${config.port}: ${e instanceof Error ? e.message : String(e)}`);
    }
    log.info("relay started", {
      port: driver.port,
      public_ipv4: config.publicIpv4 ?? null,
      public_ipv6: config.publicIpv6 ?? null,
      ports: `${config.minPort}-${config.maxPort}`,
    });
    const presence = config.portal
      ? new PortalPresence({
          apiUrl: config.portal.url,
          token: config.portal.token,
          name: config.portal.name,
          port: driver.port,
          publicIpv4: config.publicIpv4,
          publicIpv6: config.publicIpv6,
          secret: config.secret,
          userAgent: `firezone-relay/${VERSION} (bun ${Bun.version}; ${process.platform})`,
        })
      : undefined;
    if (presence) {
      log.info("joining the portal", { url: presence.socketUrl });
      presence.start();
    }
    const refused = await new Promise<ChannelError | undefined>((resolve) => {
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        process.off("SIGINT", onInt);
        process.off("SIGTERM", onTerm);
        log.info("shutting down", { signal });
        // Leave the portal first, so clients stop being offered this relay before it goes.
        void leavePortal(presence)
          .then(() => driver.stop())
          .then(() => resolve(undefined));
      };
      const onInt = () => stop("SIGINT");
      const onTerm = () => stop("SIGTERM");
      process.on("SIGINT", onInt);
      process.on("SIGTERM", onTerm);
      void presence?.done().then((error) => {
        if (!error || stopping) return;
        stopping = true;
        process.off("SIGINT", onInt);
        process.off("SIGTERM", onTerm);
        void driver.stop().then(() => resolve(error));
      });
    });
    logging.close();
    if (refused) throw new CliError(`portal ${config.portal!.url}: ${portalFailure(refused)}`);
    return EXIT_OK;
  },
});

/** The one line a relay operator reads when the portal ends the relay's presence for good. */
function portalFailure(error: ChannelError): string {
  switch (error.kind) {
    case "invalid_token":
      return "the portal refused the relay token (unknown, revoked or expired); issue a new one";
    case "token_expired":
      return "the portal ended the session: the relay token expired or was revoked; issue a new one";
    default:
      return error.message;
  }
}

async function leavePortal(presence: PortalPresence | undefined): Promise<void> {
  if (!presence) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([presence.leave(), new Promise<void>((resolve) => (timer = setTimeout(resolve, LEAVE_TIMEOUT_MS)))]);
  clearTimeout(timer);
  presence.stop();
}

export interface RelayConfig {
  listenIpv4?: string;
  listenIpv6?: string;
  port: number;
  publicIpv4?: string;
  publicIpv6?: string;
  minPort: number;
  maxPort: number;
  secret: string;
  secretGenerated: boolean;
  maxAllocationsPerIp: number;
  /** Set when the relay joins a portal (--portal/--token or FIREZONE_API_URL/FIREZONE_TOKEN). */
  portal?: { url: string; token: string; name: string };
}

/** Flags and environment → a checked configuration; every problem is a UsageError (exit 2). */
export function relayConfig(
  args: Readonly<Record<string, unknown>>,
  env: Record<string, string | undefined>,
): RelayConfig {
  const str = (name: string): string | undefined => {
    const v = args[name];
    return typeof v === "string" && v !== "" ? v : undefined;
  };
  const port = portArg("--port", str("port"), DEFAULT_LISTEN_PORT);
  const minPort = portArg("--min-port", str("min-port"), DEFAULT_MIN_PORT);
  const maxPort = portArg("--max-port", str("max-port"), DEFAULT_MAX_PORT);
  if (minPort > maxPort) throw new UsageError(`--min-port ${minPort} is above --max-port ${maxPort}`);
  if (port >= minPort && port <= maxPort) throw new UsageError(`--port ${port} lies inside the relay port range ${minPort}-${maxPort}`);

  const publicIpv4 = ipArg("--public-ipv4", str("public-ipv4") ?? env.PUBLIC_IP4_ADDR, 4);
  const publicIpv6 = ipArg("--public-ipv6", str("public-ipv6") ?? env.PUBLIC_IP6_ADDR, 6);

  let listenIpv4: string | undefined;
  let listenIpv6: string | undefined;
  const listen = str("listen");
  if (listen !== undefined) {
    for (const part of listen.split(",").map((s) => s.trim()).filter(Boolean)) {
      const family = part.includes(":") ? 6 : 4;
      ipArg("--listen", part, family);
      if (family === 4) {
        if (listenIpv4 !== undefined) throw new UsageError("--listen takes at most one IPv4 address");
        listenIpv4 = part;
      } else {
        if (listenIpv6 !== undefined) throw new UsageError("--listen takes at most one IPv6 address");
        listenIpv6 = part;
      }
    }
    if (!listenIpv4 && !listenIpv6) throw new UsageError("--listen needs at least one address");
  } else {
    listenIpv4 = "0.0.0.0";
    listenIpv6 = publicIpv6;
  }
  if (listenIpv4 && listenIpv6 && isUnspecified6(listenIpv6)) {
    throw new UsageError('--listen "::" also takes IPv4 on this system; give a specific IPv6 address next to an IPv4 one');
  }

  const effective4 = publicIpv4 ?? (listenIpv4 && listenIpv4 !== "0.0.0.0" ? listenIpv4 : undefined);
  const effective6 = publicIpv6 ?? (listenIpv6 && !isUnspecified6(listenIpv6) ? listenIpv6 : undefined);
  if (!effective4 && !effective6) {
    throw new UsageError("the relay needs a public address: give --public-ipv4 and/or --public-ipv6 (or a specific --listen address)");
  }
  if (effective4 && !listenIpv4) throw new UsageError("an IPv4 public address needs an IPv4 --listen address");
  if (effective6 && !listenIpv6) throw new UsageError("an IPv6 public address needs an IPv6 --listen address");

  const given = str("secret") ?? (env.FIREZONE_RELAY_SECRET || undefined);
  const maxText = str("max-allocations-per-ip");
  let maxAllocationsPerIp = DEFAULT_MAX_ALLOCATIONS_PER_IP;
  if (maxText !== undefined) {
    if (!/^[0-9]+$/.test(maxText) || Number(maxText) < 1) throw new UsageError(`invalid --max-allocations-per-ip "${maxText}": expected a positive integer`);
    maxAllocationsPerIp = Number(maxText);
  }
  const portal = portalConfig(str("portal"), str("token"), str("name"), env);
  return {
    listenIpv4: effective4 ? listenIpv4 : undefined,
    listenIpv6: effective6 ? listenIpv6 : undefined,
    port,
    publicIpv4: effective4,
    publicIpv6: effective6,
    minPort,
    maxPort,
    secret: given ?? generateSecret(),
    secretGenerated: given === undefined,
    maxAllocationsPerIp,
    ...(portal ? { portal } : {}),
  };
}

/**
 * The portal connection from flags or Firezone's environment variables. A token names the portal
 * to use, so a token without a URL is an error (we never fall back to Firezone's public portal);
 * a URL alone in the environment (shared with other commands) means "no portal".
 */
function portalConfig(
  urlFlag: string | undefined,
  tokenFlag: string | undefined,
  nameFlag: string | undefined,
  env: Record<string, string | undefined>,
): RelayConfig["portal"] {
  const token = tokenFlag ?? (env.FIREZONE_TOKEN || undefined);
  const url = urlFlag ?? (env.FIREZONE_API_URL || undefined);
  if (token === undefined) {
    if (urlFlag !== undefined) throw new UsageError("--portal needs a relay token: give --token or set FIREZONE_TOKEN");
    if (nameFlag !== undefined) throw new UsageError("--name is only used with --portal and --token");
    return undefined;
  }
  if (url === undefined) throw new UsageError("a relay token needs the portal's URL: give --portal URL or set FIREZONE_API_URL");
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`invalid --portal "${url}": expected a URL such as ws://127.0.0.1:8080`);
  }
  if (!["http:", "https:", "ws:", "wss:"].includes(parsed.protocol)) {
    throw new UsageError(`invalid --portal "${url}": the scheme must be http, https, ws or wss`);
  }
  if (/\s/.test(token.trim()) || token.trim() === "") throw new UsageError("the relay token must not contain whitespace");
  const name = (nameFlag ?? (env.FIREZONE_NAME || undefined) ?? hostname()).slice(0, 255);
  return { url, token: token.trim(), name };
}

function portArg(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^[0-9]+$/.test(text) || Number(text) < 1 || Number(text) > 65535) {
    throw new UsageError(`invalid ${flag} "${text}": expected a port number 1-65535`);
  }
  return Number(text);
}

function ipArg(flag: string, text: string | undefined, family: 4 | 6): string | undefined {
  if (text === undefined || text === "") return undefined;
  const ok = family === 4 ? parseIpv4(text) !== null : parseIpv6(text) !== null;
  if (!ok) throw new UsageError(`invalid ${flag} "${text}": expected an IPv${family} address`);
  return text;
}

function isUnspecified6(ip: string): boolean {
  const bytes = parseIpv6(ip);
  return bytes !== null && bytes.every((b) => b === 0);
}
