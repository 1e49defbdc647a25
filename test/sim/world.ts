/**
 * The standard topology of the scenarios: two relays on the public internet, a client and a
 * gateway each either public or behind a NAT of a given kind, a stub portal that knows all of
 * them. Latencies are per attachment (a hop costs both ends).
 */
import type { LinkConfig, NatKind, NatRouter } from "./network.ts";
import { NodeHost } from "./node-host.ts";
import { Portal } from "./portal.ts";
import { RelayHost } from "./relay-host.ts";
import { Sim } from "./sim.ts";

export type Placement = "public" | NatKind;

export interface WorldOptions {
  seed: number;
  client?: Placement;
  gateway?: Placement;
  relays?: number;
  candidateDelay?: number;
  clientLink?: Partial<LinkConfig>;
  gatewayLink?: Partial<LinkConfig>;
  relayLatency?: number;
  /** Jitter (ms) on the client's, gateway's and relays' attachments; reorders datagrams. */
  jitter?: number;
}

export interface World {
  sim: Sim;
  portal: Portal;
  relays: RelayHost[];
  client: NodeHost;
  gateway: NodeHost;
  clientNat: NatRouter | undefined;
  gatewayNat: NatRouter | undefined;
}

export function buildWorld(o: WorldOptions): World {
  const sim = new Sim({ seed: o.seed });
  const portal = new Portal(sim, { candidateDelay: o.candidateDelay ?? 0 });
  const relays: RelayHost[] = [];
  for (let i = 0; i < (o.relays ?? 2); i++) {
    const h = sim.net.addHost(`relay${i + 1}`, `192.0.2.${i + 1}`, { link: { latency: o.relayLatency ?? 10, jitter: o.jitter ?? 0 } });
    const r = sim.add(new RelayHost(sim, h, `r${i + 1}`));
    relays.push(r);
    portal.addRelay(r);
  }
  const place = (name: string, placement: Placement, publicIp: string, privateIp: string, link: Partial<LinkConfig> | undefined) => {
    if (placement === "public") return { host: sim.net.addHost(name, publicIp, { link: { latency: 15, jitter: o.jitter ?? 0, ...link } }), nat: undefined };
    const nat = sim.net.addNat(`${name}-nat`, placement, publicIp, { link: { latency: 15, jitter: o.jitter ?? 0, ...link } });
    return { host: sim.net.addHost(name, privateIp, { realm: nat.inside, link: { latency: 1 } }), nat };
  };
  const c = place("client", o.client ?? "public", "203.0.113.10", "10.0.0.2", o.clientLink);
  const g = place("gateway", o.gateway ?? "public", "198.51.100.20", "172.16.0.2", o.gatewayLink);
  const client = sim.add(new NodeHost(sim, c.host, "client", "100.64.0.1"));
  const gateway = sim.add(new NodeHost(sim, g.host, "gateway", "100.64.0.2"));
  portal.join(client);
  portal.join(gateway);
  return { sim, portal, relays, client, gateway, clientNat: c.nat, gatewayNat: g.nat };
}

/** Runs until both sides report the connection established; returns the instant, or undefined. */
export function untilEstablished(w: World, limit = 30_000, since = w.sim.now): number | undefined {
  const done = () => w.client.eventsOf("connection-established", since).length > 0 && w.gateway.eventsOf("connection-established", since).length > 0;
  if (!w.sim.runUntilTrue(done, limit)) return undefined;
  return Math.max(w.client.eventsOf("connection-established", since)[0]!.at, w.gateway.eventsOf("connection-established", since)[0]!.at);
}

/** Seeds for the suite: a fixed set, or SIM_SEEDS=n for n seeds (SIM_SEED_BASE to move them). */
export function suiteSeeds(fixed: number[]): number[] {
  const n = Number(process.env.SIM_SEEDS ?? 0);
  if (!Number.isFinite(n) || n <= 0) return fixed;
  const base = Number(process.env.SIM_SEED_BASE ?? 1000);
  return Array.from({ length: n }, (_, i) => base + i);
}

/** One line for the closing note: scenario, measured virtual ms. */
export function report(scenario: string, fields: Record<string, string | number | undefined>): void {
  const parts = Object.entries(fields).map(([k, v]) => `${k}=${typeof v === "number" ? Math.round(v * 10) / 10 : v}`);
  process.stdout.write(`[sim] ${scenario}: ${parts.join(" ")}\n`);
}
