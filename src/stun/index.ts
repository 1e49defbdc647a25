/**
 * STUN / TURN codec (RFC 8489, RFC 8656 framing, RFC 8445 attributes). No I/O, no clock.
 *
 * Parse:   parseMessage(bytes) → { ok: true, message } | { ok: false, reason }   (never throws)
 *          message.method / .cls ("request"|"indication"|"success"|"error") / .transactionId
 *          message.attribute(type) → { type, offset, length } ; message.value(type) → view
 *          message.unknownComprehensionRequired() → types for a 420 UNKNOWN-ATTRIBUTES answer
 * Getters: getXorMappedAddress(m), getXorPeerAddress(m), getXorRelayedAddresses(m), getMappedAddress(m),
 *          getUsername/getRealm/getNonce/getSoftware(m), getErrorCode(m) → {code, reason},
 *          getLifetime, getChannelNumber, getRequestedTransport, getRequested/AdditionalAddressFamily,
 *          getPriority, getTieBreaker(m, ATTR_ICE_CONTROLLING|ATTR_ICE_CONTROLLED), getUnknownAttributes.
 *          Each returns the value, undefined (absent) or a MalformedAttribute (isMalformed(v)).
 * Build:   new MessageBuilder(METHOD_ALLOCATE, "request", txId, out?)
 *            .addRequestedTransport(TRANSPORT_UDP).addUsername(u)....addMessageIntegrity(key).addFingerprint()
 *            .finish() → { ok: true, bytes } | { ok: false, reason }    (bytes is a view into `out`)
 * Auth:    longTermKey(user, realm, pass) (MD5), shortTermKey(pass); verifyIntegrity(m, key) (HMAC-SHA1),
 *          verifyIntegritySha256(m, key). Verification uses the bytes as received. FINGERPRINT is
 *          checked by parseMessage when present (reason "bad-fingerprint").
 * ChannelData: parseChannelData(bytes) → { ok, channel, payload }; writeChannelDataHeader(buf, payloadOffset,
 *          len, channel) writes the 4-byte header in front of a payload in place; encodeChannelData copies.
 * Demux:   looksLikeStun(bytes) (first byte 0..3 + cookie), looksLikeChannelData(bytes) (first byte 64..127).
 * Addresses are { ip: string, port: number } (SocketAddress); addressKey(a) gives a map key,
 *          unmapIpv4("::ffff:1.2.3.4") → "1.2.3.4" for dual-stack sockets; parseIp/formatIp convert.
 * Ids:     newTransactionId(random?), seededRandom(seed) for deterministic tests.
 */

export * from "./constants.ts";
export * from "./address.ts";
export { messageType, methodOf, classOf, type StunClass } from "./message-type.ts";
export {
  parseMessage,
  looksLikeStun,
  transactionKey,
  StunMessage,
  type ParseResult,
  type StunParseError,
  type AttributeRef,
} from "./message.ts";
export * from "./attributes.ts";
export { MessageBuilder, DEFAULT_BUILD_BUFFER, type BuildResult, type BuildError } from "./builder.ts";
export { longTermKey, shortTermKey, verifyIntegrity, verifyIntegritySha256, computeIntegrity } from "./integrity.ts";
export { computeFingerprint } from "./fingerprint.ts";
export {
  parseChannelData,
  writeChannelDataHeader,
  encodeChannelData,
  looksLikeChannelData,
  isValidChannelNumber,
  type ChannelDataResult,
  type ChannelDataError,
} from "./channel-data.ts";
export { newTransactionId, cryptoRandom, seededRandom, type RandomSource } from "./transaction-id.ts";
