/**
 * STUN / TURN / ICE numbers, with the names the RFCs give them.
 * RFC 8489 (STUN), RFC 8656 (TURN), RFC 8445 (ICE), RFC 6156 / RFC 8656 §18 (address families).
 */

/** RFC 8489 §5: fixed value in every STUN header since RFC 5389. */
export const MAGIC_COOKIE = 0x2112a442;
export const HEADER_LENGTH = 20;
export const TRANSACTION_ID_LENGTH = 12;
export const ATTRIBUTE_HEADER_LENGTH = 4;
/** RFC 8489 §14.7: CRC-32 of the message XOR this constant ("STUN"). */
export const FINGERPRINT_XOR = 0x5354554e;

/** RFC 8489 §6: message classes (the C1C0 bits). */
export const CLASS_REQUEST = 0b00;
export const CLASS_INDICATION = 0b01;
export const CLASS_SUCCESS = 0b10;
export const CLASS_ERROR = 0b11;

/** Methods: RFC 8489 §18.2 (Binding), RFC 8656 §17 (TURN). */
export const METHOD_BINDING = 0x001;
export const METHOD_ALLOCATE = 0x003;
export const METHOD_REFRESH = 0x004;
export const METHOD_SEND = 0x006;
export const METHOD_DATA = 0x007;
export const METHOD_CREATE_PERMISSION = 0x008;
export const METHOD_CHANNEL_BIND = 0x009;

/** Attribute types. Comprehension-required below 0x8000, comprehension-optional from 0x8000. */
export const ATTR_MAPPED_ADDRESS = 0x0001;
export const ATTR_USERNAME = 0x0006;
export const ATTR_MESSAGE_INTEGRITY = 0x0008;
export const ATTR_ERROR_CODE = 0x0009;
export const ATTR_UNKNOWN_ATTRIBUTES = 0x000a;
export const ATTR_CHANNEL_NUMBER = 0x000c;
export const ATTR_LIFETIME = 0x000d;
export const ATTR_XOR_PEER_ADDRESS = 0x0012;
export const ATTR_DATA = 0x0013;
export const ATTR_REALM = 0x0014;
export const ATTR_NONCE = 0x0015;
export const ATTR_XOR_RELAYED_ADDRESS = 0x0016;
export const ATTR_REQUESTED_ADDRESS_FAMILY = 0x0017;
export const ATTR_EVEN_PORT = 0x0018;
export const ATTR_REQUESTED_TRANSPORT = 0x0019;
export const ATTR_DONT_FRAGMENT = 0x001a;
export const ATTR_MESSAGE_INTEGRITY_SHA256 = 0x001c;
export const ATTR_PASSWORD_ALGORITHM = 0x001d;
export const ATTR_USERHASH = 0x001e;
export const ATTR_XOR_MAPPED_ADDRESS = 0x0020;
export const ATTR_RESERVATION_TOKEN = 0x0022;
export const ATTR_PRIORITY = 0x0024;
export const ATTR_USE_CANDIDATE = 0x0025;
export const ATTR_ADDITIONAL_ADDRESS_FAMILY = 0x8000;
export const ATTR_ADDRESS_ERROR_CODE = 0x8001;
export const ATTR_PASSWORD_ALGORITHMS = 0x8002;
export const ATTR_ALTERNATE_DOMAIN = 0x8003;
export const ATTR_ICMP = 0x8004;
export const ATTR_SOFTWARE = 0x8022;
export const ATTR_ALTERNATE_SERVER = 0x8023;
export const ATTR_FINGERPRINT = 0x8028;
export const ATTR_ICE_CONTROLLED = 0x8029;
export const ATTR_ICE_CONTROLLING = 0x802a;

/** Every attribute this codec understands; anything else below 0x8000 is "unknown comprehension-required". */
export const KNOWN_ATTRIBUTES: ReadonlySet<number> = new Set([
  ATTR_MAPPED_ADDRESS, ATTR_USERNAME, ATTR_MESSAGE_INTEGRITY, ATTR_ERROR_CODE, ATTR_UNKNOWN_ATTRIBUTES,
  ATTR_CHANNEL_NUMBER, ATTR_LIFETIME, ATTR_XOR_PEER_ADDRESS, ATTR_DATA, ATTR_REALM, ATTR_NONCE,
  ATTR_XOR_RELAYED_ADDRESS, ATTR_REQUESTED_ADDRESS_FAMILY, ATTR_EVEN_PORT, ATTR_REQUESTED_TRANSPORT,
  ATTR_DONT_FRAGMENT, ATTR_MESSAGE_INTEGRITY_SHA256, ATTR_PASSWORD_ALGORITHM, ATTR_USERHASH,
  ATTR_XOR_MAPPED_ADDRESS, ATTR_RESERVATION_TOKEN, ATTR_PRIORITY, ATTR_USE_CANDIDATE,
  ATTR_ADDITIONAL_ADDRESS_FAMILY, ATTR_ADDRESS_ERROR_CODE, ATTR_PASSWORD_ALGORITHMS, ATTR_ALTERNATE_DOMAIN,
  ATTR_ICMP, ATTR_SOFTWARE, ATTR_ALTERNATE_SERVER, ATTR_FINGERPRINT, ATTR_ICE_CONTROLLED, ATTR_ICE_CONTROLLING,
]);

/** Address family octet in (XOR-)MAPPED-ADDRESS and in REQUESTED-/ADDITIONAL-ADDRESS-FAMILY. */
export const FAMILY_IPV4 = 0x01;
export const FAMILY_IPV6 = 0x02;

/** RFC 8656 §18.6 / IANA protocol number: UDP is the only transport TURN over UDP allocates. */
export const TRANSPORT_UDP = 17;

/** Error codes (RFC 8489 §14.8, RFC 8656 §19, RFC 8445 §7.3.1.1). */
export const ERR_TRY_ALTERNATE = 300;
export const ERR_BAD_REQUEST = 400;
export const ERR_UNAUTHENTICATED = 401;
export const ERR_FORBIDDEN = 403;
export const ERR_UNKNOWN_ATTRIBUTE = 420;
export const ERR_ALLOCATION_MISMATCH = 437;
export const ERR_STALE_NONCE = 438;
export const ERR_ADDRESS_FAMILY_NOT_SUPPORTED = 440;
export const ERR_WRONG_CREDENTIALS = 441;
export const ERR_UNSUPPORTED_TRANSPORT_PROTOCOL = 442;
export const ERR_PEER_ADDRESS_FAMILY_MISMATCH = 443;
export const ERR_ALLOCATION_QUOTA_REACHED = 486;
export const ERR_ROLE_CONFLICT = 487;
export const ERR_SERVER_ERROR = 500;
export const ERR_INSUFFICIENT_CAPACITY = 508;

/** RFC 8656 §12: channel numbers a client may bind. */
export const CHANNEL_NUMBER_MIN = 0x4000;
export const CHANNEL_NUMBER_MAX = 0x7fff;
export const CHANNEL_DATA_HEADER_LENGTH = 4;

/** HMAC output sizes: MESSAGE-INTEGRITY is always 20; MESSAGE-INTEGRITY-SHA256 may be truncated to 16..32 in steps of 4. */
export const MESSAGE_INTEGRITY_LENGTH = 20;
export const MESSAGE_INTEGRITY_SHA256_LENGTH = 32;
export const MESSAGE_INTEGRITY_SHA256_MIN_LENGTH = 16;
export const FINGERPRINT_LENGTH = 4;

/** RFC 8489 §14.3/14.9/14.10: USERNAME < 513 bytes, REALM/SOFTWARE/NONCE < 128 characters (≤ 763 bytes). */
export const MAX_USERNAME_BYTES = 513;
export const MAX_TEXT_BYTES = 763;
