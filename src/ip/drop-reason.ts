// Why a packet could not be parsed or built. Strings, so counters and logs read without a lookup
// table; they are interned constants, so returning one allocates nothing.

export const IP_DROP_REASONS = [
  "empty",
  "bad-ip-version",
  "truncated-ipv4-header",
  "bad-ipv4-ihl",
  "bad-ipv4-total-length",
  "truncated-ipv4-packet",
  "truncated-ipv6-header",
  "truncated-ipv6-packet",
  "jumbogram-unsupported",
  "truncated-ipv6-extension-header",
  "misplaced-ipv6-hop-by-hop",
  "too-many-ipv6-extension-headers",
  "truncated-tcp-header",
  "bad-tcp-data-offset",
  "truncated-udp-header",
  "bad-udp-length",
  "truncated-icmp-header",
  "icmp-error-family-mismatch",
  "nested-icmp-error",
] as const;

export type IpDropReason = (typeof IP_DROP_REASONS)[number];

/** `"ok"` or the reason the packet was rejected. */
export type ParseResult = "ok" | IpDropReason;

export const BUILD_ERRORS = [
  "buffer-too-small",
  "family-mismatch",
  "payload-too-large",
  "not-parsed",
  "no-error-for-icmp-error",
  "not-an-icmp-error",
  "unsupported-for-family",
  "no-port-to-rewrite",
  "no-error-for-fragment",
  "no-error-for-multicast",
  "quoted-packet-unusable",
] as const;

/** Why a builder or rewriter refused; builders otherwise return the byte length written. */
export type BuildError = (typeof BUILD_ERRORS)[number];
