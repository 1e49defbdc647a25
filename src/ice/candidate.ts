/**
 * ICE candidates in the SDP attribute syntax that Firezone signals through the portal
 * (`candidate:<foundation> <component> udp <priority> <ip> <port> typ <kind> [raddr <ip> rport <port>]`,
 * RFC 8839 §5.1), their priorities (RFC 8445 §5.1.2) and foundations.
 *
 * Parsing never throws: a candidate from the network is either a value or a reason, so a list
 * with junk in it keeps its good entries (Firezone skips faulty candidates the same way).
 */
import { formatIp, parseIp } from "../ip/address.ts";

export type CandidateKind = "host" | "srflx" | "prflx" | "relay";

export interface Candidate {
  kind: CandidateKind;
  foundation: string;
  component: number;
  priority: number;
  /** Canonical textual address: dotted quad or RFC 5952 IPv6. */
  ip: string;
  port: number;
  family: 4 | 6;
  /** The base (srflx) or the relay's view (relay) when the remote side told us. */
  related?: { ip: string; port: number };
}

export type CandidateParseResult =
  | { ok: true; candidate: Candidate }
  | { ok: false; reason: CandidateParseError };

export type CandidateParseError =
  | "not-a-candidate"
  | "malformed"
  | "bad-priority"
  | "unsupported-transport"
  | "invalid-address"
  | "invalid-port"
  | "unknown-type"
  | "missing-base";

/** RFC 8445 §5.1.2.2 recommended type preferences. */
export const TYPE_PREFERENCE: Record<CandidateKind, number> = { host: 126, prflx: 110, srflx: 100, relay: 0 };

/** Local preference prefers IPv6 by one step, as RFC 8421 suggests for dual-stack hosts. */
export function candidatePriority(kind: CandidateKind, family: 4 | 6, component = 1): number {
  const localPreference = family === 6 ? 65535 : 65534;
  return TYPE_PREFERENCE[kind] * 2 ** 24 + localPreference * 2 ** 8 + (256 - component);
}

/**
 * Parses one candidate attribute value. `requireBase` makes srflx/relay candidates without
 * `raddr`/`rport` an error (Firezone's ICE-less codec needs the base; ICE mode does not).
 */
export function parseCandidate(text: string, requireBase = false): CandidateParseResult {
  const line = text.trim().replace(/^a=/, "");
  if (!line.startsWith("candidate:")) return fail("not-a-candidate");
  const parts = line.slice("candidate:".length).split(/\s+/);
  if (parts.length < 8) return fail("malformed");
  const [foundation, componentText, transport, priorityText, ipText, portText, typ, kindText] = parts as [
    string, string, string, string, string, string, string, string,
  ];
  if (foundation === "" || !/^[A-Za-z0-9+/]+$/.test(foundation)) return fail("malformed");
  const component = decimal(componentText);
  if (component === undefined || component < 1 || component > 256) return fail("malformed");
  if (transport.toLowerCase() !== "udp") return fail("unsupported-transport");
  const priority = decimal(priorityText);
  if (priority === undefined || priority < 1 || priority > 0xffff_ffff) return fail("bad-priority");
  const address = canonicalIp(ipText);
  if (!address) return fail("invalid-address");
  const port = decimal(portText);
  if (port === undefined || port > 65535) return fail("invalid-port");
  if (typ !== "typ") return fail("malformed");
  if (kindText !== "host" && kindText !== "srflx" && kindText !== "prflx" && kindText !== "relay") return fail("unknown-type");
  const kind: CandidateKind = kindText;

  let related: Candidate["related"];
  let relatedIp: string | undefined;
  let relatedPort: number | undefined;
  // Extension attributes come as name/value pairs; unknown ones (generation, network-id, …) are ignored.
  for (let i = 8; i + 1 < parts.length; i += 2) {
    const name = parts[i]!;
    const value = parts[i + 1]!;
    if (name === "raddr") {
      relatedIp = canonicalIp(value)?.ip;
      if (!relatedIp) return fail("invalid-address");
    } else if (name === "rport") {
      relatedPort = decimal(value);
      if (relatedPort === undefined || relatedPort > 65535) return fail("invalid-port");
    }
  }
  if ((parts.length - 8) % 2 !== 0) return fail("malformed");
  if (relatedIp !== undefined && relatedPort !== undefined) related = { ip: relatedIp, port: relatedPort };
  if (requireBase && (kind === "srflx" || kind === "relay") && !related) return fail("missing-base");

  const candidate: Candidate = { kind, foundation, component, priority, ip: address.ip, port, family: address.family };
  if (related) candidate.related = related;
  return { ok: true, candidate };
}

/** Formats a candidate as the attribute value Firezone puts into portal messages. */
export function formatCandidate(c: Candidate): string {
  let s = `candidate:${c.foundation} ${c.component} udp ${c.priority} ${c.ip} ${c.port} typ ${c.kind}`;
  if (c.related && c.kind !== "host") s += ` raddr ${c.related.ip} rport ${c.related.port}`;
  return s;
}

/** Parses a list from the portal, keeping the good candidates and counting what was skipped. */
export function parseCandidateList(lines: readonly unknown[]): { candidates: Candidate[]; skipped: number } {
  const candidates: Candidate[] = [];
  let skipped = 0;
  for (const line of lines) {
    const r = typeof line === "string" ? parseCandidate(line) : fail("not-a-candidate");
    if (r.ok) candidates.push(r.candidate);
    else skipped++;
  }
  return { candidates, skipped };
}

/**
 * A local candidate's foundation: equal for candidates of the same type, base IP and server
 * (RFC 8445 §5.1.1.3), so that the frozen-pair algorithm groups them. FNV-1a 64 as decimal.
 */
export function candidateFoundation(kind: CandidateKind, baseIp: string, server = ""): string {
  let h = 0xcbf29ce484222325n;
  for (const ch of `${kind}|${baseIp}|${server}`) {
    h ^= BigInt(ch.charCodeAt(0) & 0xff);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h.toString();
}

/** Two candidates name the same transport address and kind (what invalidation matches on). */
export function sameCandidate(a: Candidate, b: Candidate): boolean {
  return a.kind === b.kind && a.ip === b.ip && a.port === b.port;
}

function fail(reason: CandidateParseError): CandidateParseResult {
  return { ok: false, reason };
}

function decimal(text: string): number | undefined {
  if (!/^\d{1,10}$/.test(text)) return undefined;
  return Number(text);
}

/** Validates an IP literal and returns its canonical text (RFC 5952 for IPv6), or undefined. */
export function canonicalIp(text: string): { ip: string; family: 4 | 6 } | undefined {
  const bytes = parseIp(text);
  if (!bytes) return undefined;
  return { ip: formatIp(bytes), family: bytes.length === 4 ? 4 : 6 };
}
