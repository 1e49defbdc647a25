/**
 * Which gateway serves a new authorization. A gateway the client is already connected to wins
 * (no new tunnel needed); otherwise the least loaded one, and among equals the one after the
 * last pick, so a burst of requests spreads instead of piling onto the first.
 */
export interface GatewayCandidate {
  id: string;
  /** Authorizations it holds plus those in flight. */
  load: number;
}

export function chooseGateway(candidates: GatewayCandidate[], preferred: readonly string[], turn: number): string | undefined {
  if (candidates.length === 0) return undefined;
  const preferredSet = new Set(preferred);
  const connected = candidates.filter((c) => preferredSet.has(c.id));
  const pool = connected.length > 0 ? connected : candidates;
  const least = Math.min(...pool.map((c) => c.load));
  const lightest = pool.filter((c) => c.load === least).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return lightest[turn % lightest.length]!.id;
}
