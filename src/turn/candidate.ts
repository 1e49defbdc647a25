/**
 * What the TURN client learns and tells its owner (the snownet Node / ICE agent): candidates as
 * plain data, and why a relay was given up.
 */

import type { SocketAddress } from "../stun/index.ts";

export type CandidateKind = "host" | "srflx" | "relay";

export interface Candidate {
  kind: CandidateKind;
  /** The transport address to signal. */
  address: SocketAddress;
  /** The local socket the candidate was learned on (ICE "base"). */
  base: SocketAddress;
}

export type FreeReason = "authentication-error" | "no-response-received" | "protocol-failure" | "unhandled-response";

export type AllocationEvent =
  | { type: "new-candidate"; candidate: Candidate }
  | { type: "invalidated-candidate"; candidate: Candidate }
  /** Emitted once; the allocation does nothing afterwards and its owner should drop it. */
  | { type: "relay-gone"; reason: FreeReason };

export function sameCandidate(a: Candidate, b: Candidate): boolean {
  return a.kind === b.kind && a.address.ip === b.address.ip && a.address.port === b.address.port && a.base.ip === b.base.ip && a.base.port === b.base.port;
}
