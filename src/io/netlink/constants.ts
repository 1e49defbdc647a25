/**
 * rtnetlink constants with the kernel's names (linux/netlink.h, linux/rtnetlink.h,
 * linux/if_addr.h, linux/if_link.h, linux/fib_rules.h). Values checked against the uapi headers
 * and against `strace -e sendmsg ip …` byte dumps (see test/io/netlink-codec.test.ts).
 */

export const NETLINK_ROUTE = 0;

// struct nlmsghdr
export const NLMSG_HDRLEN = 16;
export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;

export const NLM_F_REQUEST = 0x01;
export const NLM_F_MULTI = 0x02;
export const NLM_F_ACK = 0x04;
export const NLM_F_ECHO = 0x08;
export const NLM_F_DUMP_INTR = 0x10;
export const NLM_F_ROOT = 0x100;
export const NLM_F_MATCH = 0x200;
export const NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH;
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
export const NLM_F_APPEND = 0x800;
/** In an NLMSG_ERROR ack: extended-ack TLVs follow the echoed header. */
export const NLM_F_ACK_TLVS = 0x200;
export const NLM_F_CAPPED = 0x100;
export const NLMSGERR_ATTR_MSG = 1;

export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_GETLINK = 18;
export const RTM_SETLINK = 19;
export const RTM_NEWADDR = 20;
export const RTM_DELADDR = 21;
export const RTM_GETADDR = 22;
export const RTM_NEWROUTE = 24;
export const RTM_DELROUTE = 25;
export const RTM_GETROUTE = 26;
export const RTM_NEWRULE = 32;
export const RTM_DELRULE = 33;
export const RTM_GETRULE = 34;

export const RTM_NAMES: Readonly<Record<number, string>> = {
  [RTM_NEWLINK]: "RTM_NEWLINK",
  [RTM_DELLINK]: "RTM_DELLINK",
  [RTM_GETLINK]: "RTM_GETLINK",
  [RTM_SETLINK]: "RTM_SETLINK",
  [RTM_NEWADDR]: "RTM_NEWADDR",
  [RTM_DELADDR]: "RTM_DELADDR",
  [RTM_GETADDR]: "RTM_GETADDR",
  [RTM_NEWROUTE]: "RTM_NEWROUTE",
  [RTM_DELROUTE]: "RTM_DELROUTE",
  [RTM_GETROUTE]: "RTM_GETROUTE",
  [RTM_NEWRULE]: "RTM_NEWRULE",
  [RTM_DELRULE]: "RTM_DELRULE",
  [RTM_GETRULE]: "RTM_GETRULE",
};

// struct rtattr
export const RTA_HDRLEN = 4;
export const NLA_ALIGNTO = 4;

// struct ifinfomsg (16 bytes) and IFLA_*
export const IFINFOMSG_LEN = 16;
export const IFLA_ADDRESS = 1;
export const IFLA_IFNAME = 3;
export const IFLA_MTU = 4;
export const IFLA_TXQLEN = 13;
export const IFF_UP = 0x1;
export const IFF_RUNNING = 0x40;
export const IFF_LOWER_UP = 0x10000;

// struct ifaddrmsg (8 bytes) and IFA_*
export const IFADDRMSG_LEN = 8;
export const IFA_ADDRESS = 1;
export const IFA_LOCAL = 2;
export const IFA_FLAGS = 8;
export const IFA_F_NODAD = 0x02;
export const IFA_F_PERMANENT = 0x80;

// struct rtmsg (12 bytes) and RTA_*
export const RTMSG_LEN = 12;
export const RTA_DST = 1;
export const RTA_SRC = 2;
export const RTA_OIF = 4;
export const RTA_GATEWAY = 5;
export const RTA_PRIORITY = 6;
export const RTA_PREFSRC = 7;
export const RTA_TABLE = 15;

export const RT_TABLE_UNSPEC = 0;
export const RT_TABLE_COMPAT = 252;
export const RT_TABLE_MAIN = 254;
export const RTPROT_BOOT = 3;
export const RTPROT_STATIC = 4;
export const RT_SCOPE_UNIVERSE = 0;
export const RT_SCOPE_LINK = 253;
export const RT_SCOPE_HOST = 254;
export const RT_SCOPE_NOWHERE = 255;
export const RTN_UNICAST = 1;

// struct fib_rule_hdr (12 bytes) and FRA_*
export const FIB_RULE_HDR_LEN = 12;
export const FRA_PRIORITY = 6;
export const FRA_FWMARK = 10;
export const FRA_TABLE = 15;
export const FRA_FWMASK = 16;
export const FR_ACT_TO_TBL = 1;
export const FIB_RULE_INVERT = 0x2;

export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_INET6 = 10;

// Firezone's routing policy (reference/firezone-protocol.md §7).
export const FIREZONE_TUN_NAME = "tun-firezone";
export const FIREZONE_MTU = 1280;
/** Routes to resources. */
export const FIREZONE_TABLE_USER = 0x2021fd00;
/** Copies of the main table's link-scope routes, so local networks bypass the tunnel. */
export const FIREZONE_TABLE_LINK_SCOPE = 0x2021fd01;
/** Default routes (the Internet Resource). */
export const FIREZONE_TABLE_INTERNET = 0x2021fd02;
/** Our own sockets carry this mark; the rules send every packet that lacks it to our tables. */
export const FIREZONE_MARK = 0xfd002021;
/** `not fwmark FIREZONE_MARK lookup <table> priority <p>`, per family, in this order. */
export const FIREZONE_RULES: ReadonlyArray<{ table: number; priority: number }> = [
  { table: FIREZONE_TABLE_USER, priority: 100 },
  { table: FIREZONE_TABLE_LINK_SCOPE, priority: 200 },
  { table: FIREZONE_TABLE_INTERNET, priority: 300 },
];
