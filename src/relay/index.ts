/**
 * Relay (TURN server) public API.
 *
 * Credentials (what the portal issues and the relay checks, Firezone's scheme):
 *   issueCredentials(secret, expiresAtUnixSeconds, salt?) → { username, password, realm, expiresAt }
 *   checkUsername(secret, username, nowUnixSeconds) / verifyMessageIntegrity(...) ; generateSecret()
 * Server (sans-IO; src/io/relay-driver.ts binds it to UDP sockets):
 *   const s = new RelayServer({ secret, publicIpv4, publicIpv6, minPort, maxPort });
 *   s.setUnixTime(wallClockMs, now);   // the driver owns both clocks
 *   s.handleClientPacket(ip, port, bytes, now) → Channel | null   (ChannelData route, else answered/dropped)
 *   s.handlePeerPacket(relayPort, ip, port, length) → Channel | null ; s.channelOwner, s.routedOffset/Length
 *   s.pollTransmit() / s.pollEvent() (allocation-created / -freed) / s.pollTimeout() → s.handleTimeout(now)
 *   s.stats() → counts and RelayCounters (relayed packets/bytes, drops by reason, errors by code)
 */
export { RelayServer, type RelayServerConfig, type RelayEvent, type RelayTransmit, type RelayTimeout, type RelayStats } from "./server.ts";
export {
  issueCredentials,
  generatePassword,
  checkUsername,
  verifyMessageIntegrity,
  longTermKey,
  randomSalt,
  generateSecret,
  type RelayCredentials,
  type CredentialError,
  type CredentialCheck,
} from "./credentials.ts";
export { RelayCounters, DROP_REASONS, type DropReason } from "./counters.ts";
export type { Channel } from "./channel-table.ts";
export type { Allocation } from "./allocation.ts";
export { CryptoRandom, SeededRandom, type RandomSource } from "./random-source.ts";
export * from "./constants.ts";
