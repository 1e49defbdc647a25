/**
 * Authorizations sent to a gateway and not answered yet. Sans-IO: the caller passes `now` and
 * asks `pollTimeout()` when to call `handleTimeout(now)`, which returns the requests that ran out
 * of time so the caller can tell their clients. Every request ends exactly once: answered,
 * timed out, or dropped with its gateway or client.
 */
export interface PendingAuthorization {
  ref: string;
  authorizationId: string;
  clientId: string;
  gatewayId: string;
  resourceId: string;
  policyId: string;
  tokenId: string;
  expiresAt: number;
  /** What the client gets on success, prepared when the request went out. */
  reply: unknown;
  deadline: number;
}

export class PendingAuthorizations {
  private readonly byRef = new Map<string, PendingAuthorization>();

  constructor(readonly timeoutMs: number) {}

  get size(): number {
    return this.byRef.size;
  }

  begin(entry: Omit<PendingAuthorization, "deadline">, now: number): PendingAuthorization {
    const pending = { ...entry, deadline: now + this.timeoutMs };
    this.byRef.set(pending.ref, pending);
    return pending;
  }

  /** The gateway answered; only the gateway that was asked may answer. */
  complete(ref: string, gatewayId: string): PendingAuthorization | undefined {
    const pending = this.byRef.get(ref);
    if (!pending || pending.gatewayId !== gatewayId) return undefined;
    this.byRef.delete(ref);
    return pending;
  }

  pollTimeout(): { at: number; reason: "authorization_timeout" } | undefined {
    let at = Infinity;
    for (const p of this.byRef.values()) if (p.deadline < at) at = p.deadline;
    return at === Infinity ? undefined : { at, reason: "authorization_timeout" };
  }

  handleTimeout(now: number): PendingAuthorization[] {
    return this.take((p) => p.deadline <= now);
  }

  dropGateway(gatewayId: string): PendingAuthorization[] {
    return this.take((p) => p.gatewayId === gatewayId);
  }

  dropClient(clientId: string): PendingAuthorization[] {
    return this.take((p) => p.clientId === clientId);
  }

  loadOf(gatewayId: string): number {
    let n = 0;
    for (const p of this.byRef.values()) if (p.gatewayId === gatewayId) n++;
    return n;
  }

  involves(clientId: string, gatewayId: string): boolean {
    for (const p of this.byRef.values()) if (p.clientId === clientId && p.gatewayId === gatewayId) return true;
    return false;
  }

  private take(match: (p: PendingAuthorization) => boolean): PendingAuthorization[] {
    const out: PendingAuthorization[] = [];
    for (const [ref, p] of this.byRef) {
      if (match(p)) {
        out.push(p);
        this.byRef.delete(ref);
      }
    }
    return out;
  }
}
