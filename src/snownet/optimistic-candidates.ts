import { candidateFoundation, candidatePriority, type Candidate } from "../ice/candidate.ts";

/** At most this many optimistic candidates are made per signalled candidate (Firezone: `take(2)`). */
export const MAX_OPTIMISTIC_PER_CALL = 2;

/**
 * Firezone's optimistic candidates (`generate_optimistic_candidates` in snownet's node.rs): for
 * every remote public IPv4 (from srflx candidates) × remote IPv4 host port, a srflx candidate at
 * `publicIp:hostPort`. When the peer sits behind a symmetric NAT whose administrator forwarded the
 * listening port, this is the address that works, and a direct path beats a relayed one.
 * Returns the candidates the agent does not know yet, at most two.
 */
export function optimisticCandidates(remotes: readonly Candidate[]): Candidate[] {
  const out: Candidate[] = [];
  const known = (ip: string, port: number) => remotes.some((r) => r.ip === ip && r.port === port) || out.some((o) => o.ip === ip && o.port === port);
  for (const s of remotes) {
    if (s.kind !== "srflx" || s.family !== 4) continue;
    for (const h of remotes) {
      if (h.kind !== "host" || h.family !== 4 || known(s.ip, h.port)) continue;
      out.push({
        kind: "srflx",
        foundation: candidateFoundation("srflx", h.ip),
        component: 1,
        priority: candidatePriority("srflx", 4),
        ip: s.ip,
        port: h.port,
        family: 4,
        related: { ip: h.ip, port: h.port },
      });
      if (out.length >= MAX_OPTIMISTIC_PER_CALL) return out;
    }
  }
  return out;
}
