// Protocol numbers, header sizes and ICMP codes, named as in the RFCs that define them
// (RFC 791, 8200, 792, 4443, 768, 9293, 1812) so code reads like the spec.

/** IANA "Assigned Internet Protocol Numbers" used here. */
export const IPPROTO_HOPOPTS = 0;
export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_ROUTING = 43;
export const IPPROTO_FRAGMENT = 44;
export const IPPROTO_ESP = 50;
export const IPPROTO_AH = 51;
export const IPPROTO_ICMPV6 = 58;
export const IPPROTO_NONE = 59;
export const IPPROTO_DSTOPTS = 60;
/** Firezone's p2p control packets use 0xFF (IANA "reserved") as next header. */
export const IPPROTO_FZ_P2P_CONTROL = 0xff;

export const IPV4_MIN_HEADER_LEN = 20;
export const IPV4_MAX_HEADER_LEN = 60;
export const IPV6_HEADER_LEN = 40;
export const UDP_HEADER_LEN = 8;
export const TCP_MIN_HEADER_LEN = 20;
export const ICMP_HEADER_LEN = 8;

/** RFC 791: every host must accept 576-byte datagrams; RFC 1812 §4.3.2.3 caps ICMP errors there. */
export const IPV4_MIN_MTU = 576;
/** RFC 8200 §5 minimum link MTU; RFC 4443 §2.4(c) caps ICMPv6 errors there. */
export const IPV6_MIN_MTU = 1280;

/** IPv4 flags/fragment-offset word (RFC 791). */
export const IPV4_FLAG_DF = 0x4000;
export const IPV4_FLAG_MF = 0x2000;
export const IPV4_FRAG_OFFSET_MASK = 0x1fff;

/** TCP flags in byte 13 of the header (RFC 9293). */
export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;

/** ICMPv4 (RFC 792, RFC 1812 §5.2.7.1 for code 13). */
export const ICMP_ECHO_REPLY = 0;
export const ICMP_DEST_UNREACH = 3;
export const ICMP_SOURCE_QUENCH = 4;
export const ICMP_REDIRECT = 5;
export const ICMP_ECHO_REQUEST = 8;
export const ICMP_TIME_EXCEEDED = 11;
export const ICMP_PARAMETER_PROBLEM = 12;
export const ICMP_NET_UNREACH = 0;
export const ICMP_HOST_UNREACH = 1;
export const ICMP_PROT_UNREACH = 2;
export const ICMP_PORT_UNREACH = 3;
export const ICMP_FRAG_NEEDED = 4;
export const ICMP_PKT_FILTERED = 13;

/** ICMPv6 (RFC 4443). */
export const ICMPV6_DEST_UNREACH = 1;
export const ICMPV6_PACKET_TOO_BIG = 2;
export const ICMPV6_TIME_EXCEEDED = 3;
export const ICMPV6_PARAMETER_PROBLEM = 4;
export const ICMPV6_ECHO_REQUEST = 128;
export const ICMPV6_ECHO_REPLY = 129;
export const ICMPV6_NOROUTE = 0;
export const ICMPV6_ADM_PROHIBITED = 1;
export const ICMPV6_ADDR_UNREACH = 3;
export const ICMPV6_PORT_UNREACH = 4;

/** Upper bound on chained IPv6 extension headers we walk before calling the packet hostile. */
export const IPV6_MAX_EXTENSION_HEADERS = 8;
