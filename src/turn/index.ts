/**
 * TURN client (RFC 8656 over UDP, Firezone snownet behaviour), sans-IO.
 *
 *   const a = new Allocation({ server: { v4: relay }, username, password, now });
 *   loop: a.pollTransmit() → send; a.pollEvent() → candidates / relay-gone;
 *         a.pollTimeout() → { at, reason } → a.handleTimeout(now);
 *         a.handleInput(from, local, bytes, now) → not-mine | consumed | channel-data (peer, relayed, payload offsets)
 *   a.bindChannel(peer, now); a.encodeChannelData(peer, buf, payloadOffset, len, now) → relay address or undefined
 *   a.refresh(now) (one-shot refresh / restart after giving up); a.restart(now) after roaming.
 */

export { Allocation, type AllocationOptions, type RelayServer, type Transmit, type InputResult, type ChannelDataInput, type AllocationCounters, type AllocationStatus } from "./allocation.ts";
export type { Candidate, CandidateKind, AllocationEvent, FreeReason } from "./candidate.ts";
export * from "./constants.ts";
