/**
 * The four requests the client sends, as specs without transaction id or credentials, so a
 * request can be re-authenticated (new nonce) and re-sent under a fresh transaction id.
 */

import {
  ATTR_ADDITIONAL_ADDRESS_FAMILY,
  ATTR_XOR_PEER_ADDRESS,
  longTermKey,
  MessageBuilder,
  METHOD_ALLOCATE,
  METHOD_BINDING,
  METHOD_CHANNEL_BIND,
  METHOD_REFRESH,
  TRANSPORT_UDP,
  type BuildResult,
  type SocketAddress,
} from "../stun/index.ts";
import { SOFTWARE } from "./constants.ts";

export type RequestSpec =
  | { method: typeof METHOD_BINDING }
  | { method: typeof METHOD_ALLOCATE }
  /** lifetime 0 deletes the allocation (RFC 8656 §8); undefined lets the server pick. */
  | { method: typeof METHOD_REFRESH; lifetime?: number }
  | { method: typeof METHOD_CHANNEL_BIND; peer: SocketAddress; channel: number };

export interface Credentials {
  username: string;
  password: string;
  realm: string;
  nonce?: string;
  /** MD5(username:realm:password), computed once. */
  key: Uint8Array;
}

export function makeCredentials(username: string, password: string, realm: string): Credentials {
  return { username, password, realm, key: longTermKey(username, realm, password) };
}

export function methodName(method: number): string {
  switch (method) {
    case METHOD_BINDING:
      return "BINDING";
    case METHOD_ALLOCATE:
      return "ALLOCATE";
    case METHOD_REFRESH:
      return "REFRESH";
    case METHOD_CHANNEL_BIND:
      return "CHANNEL-BIND";
    default:
      return `0x${method.toString(16)}`;
  }
}

/**
 * Encodes `spec`. BINDING goes unauthenticated; everything else carries USERNAME, REALM, NONCE
 * and MESSAGE-INTEGRITY once the server gave us a nonce.
 */
export function encodeRequest(spec: RequestSpec, transactionId: Uint8Array, credentials: Credentials | undefined): BuildResult {
  const b = new MessageBuilder(spec.method, "request", transactionId, new Uint8Array(512));
  switch (spec.method) {
    case METHOD_BINDING:
      b.addSoftware(SOFTWARE);
      return b.finish();
    case METHOD_ALLOCATE:
      // Dual-stack: the relay gives an IPv4 and (if it can) an IPv6 address on one allocation.
      b.addRequestedTransport(TRANSPORT_UDP).addAddressFamily(ATTR_ADDITIONAL_ADDRESS_FAMILY, 6);
      break;
    case METHOD_REFRESH:
      if (spec.lifetime !== undefined) b.addLifetime(spec.lifetime);
      break;
    case METHOD_CHANNEL_BIND:
      b.addXorAddress(ATTR_XOR_PEER_ADDRESS, spec.peer).addChannelNumber(spec.channel);
      break;
  }
  b.addSoftware(SOFTWARE);
  // Until the server's 401 hands us a nonce the request goes unsigned: RFC 8489 §9.2.4 makes a
  // server answer 400 to MESSAGE-INTEGRITY without NONCE (coturn does), and the 401 is the same
  // either way.
  if (credentials && credentials.nonce !== undefined) {
    b.addUsername(credentials.username).addRealm(credentials.realm).addNonce(credentials.nonce);
    b.addMessageIntegrity(credentials.key);
  }
  return b.finish();
}
