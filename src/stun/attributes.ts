/**
 * Attribute getters. Each returns the decoded value, `undefined` when the attribute is absent, or a
 * `MalformedAttribute` (never an exception) when it is present but does not decode — a server
 * answers that with 400, a client drops the message.
 */

import { formatIpv4, formatIpv6, type IpFamily, type SocketAddress } from "./address.ts";
import {
  ATTR_ADDITIONAL_ADDRESS_FAMILY,
  ATTR_CHANNEL_NUMBER,
  ATTR_ERROR_CODE,
  ATTR_ICE_CONTROLLED,
  ATTR_ICE_CONTROLLING,
  ATTR_LIFETIME,
  ATTR_MAPPED_ADDRESS,
  ATTR_NONCE,
  ATTR_PRIORITY,
  ATTR_REALM,
  ATTR_REQUESTED_ADDRESS_FAMILY,
  ATTR_REQUESTED_TRANSPORT,
  ATTR_SOFTWARE,
  ATTR_UNKNOWN_ATTRIBUTES,
  ATTR_USERNAME,
  ATTR_XOR_MAPPED_ADDRESS,
  ATTR_XOR_PEER_ADDRESS,
  ATTR_XOR_RELAYED_ADDRESS,
  FAMILY_IPV4,
  FAMILY_IPV6,
  MAGIC_COOKIE,
  MAX_TEXT_BYTES,
  MAX_USERNAME_BYTES,
} from "./constants.ts";
import { readU32, type StunMessage } from "./message.ts";

export class MalformedAttribute {
  constructor(
    readonly type: number,
    readonly reason: string,
  ) {}
}

export type AttributeValue<T> = T | undefined | MalformedAttribute;

export function isMalformed(v: unknown): v is MalformedAttribute {
  return v instanceof MalformedAttribute;
}

const decoder = new TextDecoder("utf-8", { fatal: true });

/** MAPPED-ADDRESS / ALTERNATE-SERVER: plain address. */
export function getAddress(msg: StunMessage, type: number = ATTR_MAPPED_ADDRESS): AttributeValue<SocketAddress> {
  return decodeAddress(msg, type, false);
}

/** XOR-MAPPED-ADDRESS, XOR-PEER-ADDRESS, XOR-RELAYED-ADDRESS. */
export function getXorAddress(msg: StunMessage, type: number): AttributeValue<SocketAddress> {
  return decodeAddress(msg, type, true);
}

export const getXorMappedAddress = (m: StunMessage) => getXorAddress(m, ATTR_XOR_MAPPED_ADDRESS);
export const getXorPeerAddress = (m: StunMessage) => getXorAddress(m, ATTR_XOR_PEER_ADDRESS);
export const getMappedAddress = (m: StunMessage) => getAddress(m, ATTR_MAPPED_ADDRESS);

/** All XOR-RELAYED-ADDRESS attributes: a dual-stack Allocate success carries one per family (RFC 8656 §7.3). */
export function getXorRelayedAddresses(msg: StunMessage): SocketAddress[] | MalformedAttribute {
  return getXorAddresses(msg, ATTR_XOR_RELAYED_ADDRESS);
}

/** XOR-PEER-ADDRESS may repeat in CreatePermission (RFC 8656 §9); ChannelBind uses the first. */
export function getXorPeerAddresses(msg: StunMessage): SocketAddress[] | MalformedAttribute {
  return getXorAddresses(msg, ATTR_XOR_PEER_ADDRESS);
}

/** Every XOR-address attribute of `type`, in order; the first malformed one fails them all. */
function getXorAddresses(msg: StunMessage, type: number): SocketAddress[] | MalformedAttribute {
  const out: SocketAddress[] = [];
  for (const a of msg.attributes) {
    if (a.type !== type) continue;
    const v = decodeAddressAt(msg, a.type, a.offset, a.length, true);
    if (v instanceof MalformedAttribute) return v;
    out.push(v);
  }
  return out;
}

function decodeAddress(msg: StunMessage, type: number, xor: boolean): AttributeValue<SocketAddress> {
  const a = msg.attribute(type);
  if (!a) return undefined;
  return decodeAddressAt(msg, type, a.offset, a.length, xor);
}

function decodeAddressAt(msg: StunMessage, type: number, o: number, len: number, xor: boolean): SocketAddress | MalformedAttribute {
  const b = msg.bytes;
  if (len < 4) return new MalformedAttribute(type, "address too short");
  const family = b[o + 1];
  let port = (b[o + 2] << 8) | b[o + 3];
  if (xor) port ^= MAGIC_COOKIE >>> 16;
  if (family === FAMILY_IPV4) {
    if (len !== 8) return new MalformedAttribute(type, "IPv4 address length is not 8");
    if (!xor) return { ip: formatIpv4(b, o + 4), port };
    const ip = new Uint8Array(4);
    for (let i = 0; i < 4; i++) ip[i] = b[o + 4 + i] ^ b[4 + i]; // bytes 4..8 of the header are the cookie
    return { ip: formatIpv4(ip), port };
  }
  if (family === FAMILY_IPV6) {
    if (len !== 20) return new MalformedAttribute(type, "IPv6 address length is not 20");
    if (!xor) return { ip: formatIpv6(b, o + 4), port };
    // XOR with cookie || transaction id, which are header bytes 4..20.
    const ip = new Uint8Array(16);
    for (let i = 0; i < 16; i++) ip[i] = b[o + 4 + i] ^ b[4 + i];
    return { ip: formatIpv6(ip), port };
  }
  return new MalformedAttribute(type, `unknown address family ${family}`);
}

function getText(msg: StunMessage, type: number, max: number): AttributeValue<string> {
  const v = msg.value(type);
  if (!v) return undefined;
  if (v.length > max) return new MalformedAttribute(type, "too long");
  try {
    return decoder.decode(v);
  } catch {
    return new MalformedAttribute(type, "not UTF-8");
  }
}

export const getUsername = (m: StunMessage) => getText(m, ATTR_USERNAME, MAX_USERNAME_BYTES);
export const getRealm = (m: StunMessage) => getText(m, ATTR_REALM, MAX_TEXT_BYTES);
export const getNonce = (m: StunMessage) => getText(m, ATTR_NONCE, MAX_TEXT_BYTES);
export const getSoftware = (m: StunMessage) => getText(m, ATTR_SOFTWARE, MAX_TEXT_BYTES);

function getU32(msg: StunMessage, type: number): AttributeValue<number> {
  const a = msg.attribute(type);
  if (!a) return undefined;
  if (a.length !== 4) return new MalformedAttribute(type, "length is not 4");
  return readU32(msg.bytes, a.offset);
}

/** LIFETIME in seconds. */
export const getLifetime = (m: StunMessage) => getU32(m, ATTR_LIFETIME);
/** ICE PRIORITY. */
export const getPriority = (m: StunMessage) => getU32(m, ATTR_PRIORITY);

/** ICE-CONTROLLING / ICE-CONTROLLED tie-breaker (64-bit). */
export function getTieBreaker(msg: StunMessage, type: typeof ATTR_ICE_CONTROLLING | typeof ATTR_ICE_CONTROLLED): AttributeValue<bigint> {
  const a = msg.attribute(type);
  if (!a) return undefined;
  if (a.length !== 8) return new MalformedAttribute(type, "length is not 8");
  return (BigInt(readU32(msg.bytes, a.offset)) << 32n) | BigInt(readU32(msg.bytes, a.offset + 4));
}

/** CHANNEL-NUMBER (RFC 8656 §18.1): 16-bit number then 16 bits RFFU. */
export function getChannelNumber(msg: StunMessage): AttributeValue<number> {
  const a = msg.attribute(ATTR_CHANNEL_NUMBER);
  if (!a) return undefined;
  if (a.length !== 4) return new MalformedAttribute(ATTR_CHANNEL_NUMBER, "length is not 4");
  return (msg.bytes[a.offset] << 8) | msg.bytes[a.offset + 1];
}

/** REQUESTED-TRANSPORT protocol number (RFC 8656 §18.7). */
export function getRequestedTransport(msg: StunMessage): AttributeValue<number> {
  const a = msg.attribute(ATTR_REQUESTED_TRANSPORT);
  if (!a) return undefined;
  if (a.length !== 4) return new MalformedAttribute(ATTR_REQUESTED_TRANSPORT, "length is not 4");
  return msg.bytes[a.offset];
}

function getFamily(msg: StunMessage, type: number): AttributeValue<IpFamily> {
  const a = msg.attribute(type);
  if (!a) return undefined;
  if (a.length !== 4) return new MalformedAttribute(type, "length is not 4");
  const f = msg.bytes[a.offset];
  if (f === FAMILY_IPV4) return 4;
  if (f === FAMILY_IPV6) return 6;
  return new MalformedAttribute(type, `unknown family ${f}`);
}

export const getRequestedAddressFamily = (m: StunMessage) => getFamily(m, ATTR_REQUESTED_ADDRESS_FAMILY);
export const getAdditionalAddressFamily = (m: StunMessage) => getFamily(m, ATTR_ADDITIONAL_ADDRESS_FAMILY);

export interface ErrorCode {
  code: number;
  reason: string;
}

/** ERROR-CODE (RFC 8489 §14.8): class in bits 8..10, number 0..99, UTF-8 reason phrase. */
export function getErrorCode(msg: StunMessage): AttributeValue<ErrorCode> {
  const a = msg.attribute(ATTR_ERROR_CODE);
  if (!a) return undefined;
  if (a.length < 4) return new MalformedAttribute(ATTR_ERROR_CODE, "too short");
  const b = msg.bytes;
  const cls = b[a.offset + 2] & 0x07;
  const num = b[a.offset + 3];
  if (cls < 3 || cls > 6 || num > 99) return new MalformedAttribute(ATTR_ERROR_CODE, "code out of range");
  let reason: string;
  try {
    // Some servers (coturn) count NUL padding into the phrase; it carries no meaning.
    reason = decoder.decode(b.subarray(a.offset + 4, a.offset + a.length)).replace(/\0+$/, "");
  } catch {
    return new MalformedAttribute(ATTR_ERROR_CODE, "reason not UTF-8");
  }
  return { code: cls * 100 + num, reason };
}

/** UNKNOWN-ATTRIBUTES: list of 16-bit types. */
export function getUnknownAttributes(msg: StunMessage): AttributeValue<number[]> {
  const a = msg.attribute(ATTR_UNKNOWN_ATTRIBUTES);
  if (!a) return undefined;
  if ((a.length & 1) !== 0) return new MalformedAttribute(ATTR_UNKNOWN_ATTRIBUTES, "odd length");
  const out: number[] = [];
  for (let i = 0; i < a.length; i += 2) out.push((msg.bytes[a.offset + i] << 8) | msg.bytes[a.offset + i + 1]);
  return out;
}
