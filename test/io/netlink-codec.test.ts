/**
 * rtnetlink encoder/decoder against byte layouts taken from `strace -e sendmsg -xx ip …`
 * (iproute2 6.1, kernel 6.18), with the sequence number and ifindex set to known values.
 * The expected arrays are written field by field from those traces and the uapi headers.
 */
import { describe, expect, test } from "bun:test";
import * as C from "../../src/io/netlink/constants.ts";
import {
  decodeAck,
  decodeAddress,
  decodeLink,
  decodeRoute,
  decodeRule,
  encodeAddress,
  encodeDump,
  encodeRoute,
  encodeRule,
  encodeSetLink,
  MessageBuilder,
  parseAttrs,
  parseMessages,
} from "../../src/io/netlink/codec.ts";
import { formatIp, parsePrefix } from "../../src/io/netlink/ip-prefix.ts";

const SEQ = 1795669200; // 0x6b07_7ad0
const IDX = 7;

const le16 = (v: number) => [v & 0xff, (v >> 8) & 0xff];
const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const nlhdr = (len: number, type: number, flags: number) => [...le32(len), ...le16(type), ...le16(flags), ...le32(SEQ), ...le32(0)];
const attr = (type: number, data: number[]) => [...le16(4 + data.length), ...le16(type), ...data];

describe("requests match iproute2's bytes", () => {
  test("ip addr add 100.64.0.5/32 dev <7>", () => {
    const expected = [
      ...nlhdr(40, 20 /* RTM_NEWADDR */, 0x1 | 0x4 | 0x200 | 0x400),
      2, 32, 0, 0, ...le32(IDX), // ifaddrmsg: AF_INET, /32, flags 0, RT_SCOPE_UNIVERSE, index
      ...attr(2 /* IFA_LOCAL */, [100, 64, 0, 5]),
      ...attr(1 /* IFA_ADDRESS */, [100, 64, 0, 5]),
    ];
    expect([...encodeAddress("add", { index: IDX, prefix: "100.64.0.5/32" }, SEQ)]).toEqual(expected);
  });

  test("ip rule add not fwmark 0xfd002021 table 0x2021fd00 priority 100", () => {
    const expected = [
      ...nlhdr(52, 32 /* RTM_NEWRULE */, 0x1 | 0x4 | 0x200 | 0x400),
      2, 0, 0, 0, 0 /* RT_TABLE_UNSPEC */, 0, 0, 1 /* FR_ACT_TO_TBL */, ...le32(2 /* FIB_RULE_INVERT */),
      ...attr(10 /* FRA_FWMARK */, le32(0xfd002021)),
      ...attr(15 /* FRA_TABLE */, le32(0x2021fd00)),
      ...attr(6 /* FRA_PRIORITY */, le32(100)),
    ];
    const got = encodeRule("add", { family: C.AF_INET, priority: 100, table: C.FIREZONE_TABLE_USER, fwmark: C.FIREZONE_MARK, invert: true }, SEQ);
    expect([...got]).toEqual(expected);
  });

  test("ip route add 100.96.0.0/11 dev <7> table 0x2021fd00 proto static", () => {
    const expected = [
      ...nlhdr(52, 24 /* RTM_NEWROUTE */, 0x1 | 0x4 | 0x200 | 0x400),
      2, 11, 0, 0, 0 /* table UNSPEC */, 4 /* RTPROT_STATIC */, 253 /* RT_SCOPE_LINK */, 1 /* RTN_UNICAST */, ...le32(0),
      ...attr(1 /* RTA_DST */, [100, 96, 0, 0]),
      ...attr(15 /* RTA_TABLE */, le32(0x2021fd00)),
      ...attr(4 /* RTA_OIF */, le32(IDX)),
    ];
    expect([...encodeRoute("add", { dst: "100.96.0.0/11", index: IDX, table: C.FIREZONE_TABLE_USER }, SEQ)]).toEqual(expected);
  });

  test("ip link set <7> mtu 1280", () => {
    const expected = [
      ...nlhdr(40, 16 /* RTM_NEWLINK */, 0x1 | 0x4),
      0, 0, ...le16(0), ...le32(IDX), ...le32(0), ...le32(0), // ifinfomsg, no flag change
      ...attr(4 /* IFLA_MTU */, le32(1280)),
    ];
    expect([...encodeSetLink({ index: IDX, mtu: 1280 }, SEQ)]).toEqual(expected);
  });

  test("ip link set <7> txqueuelen 10000: IFLA_TXQLEN", () => {
    const msg = encodeSetLink({ index: IDX, txQueueLen: 10000 }, SEQ);
    expect([...msg.subarray(32)]).toEqual(attr(13, le32(10000)));
  });

  test("link up sets IFF_UP in both flags and change mask", () => {
    const msg = encodeSetLink({ index: IDX, up: true }, SEQ);
    const v = new DataView(msg.buffer);
    expect(v.getUint32(16 + 8, true)).toBe(C.IFF_UP);
    expect(v.getUint32(16 + 12, true)).toBe(C.IFF_UP);
    expect(msg.length).toBe(32);
  });

  test("IPv6 address: 16-byte attributes, IFA_F_NODAD", () => {
    const msg = encodeAddress("add", { index: IDX, prefix: "fd00:2021:1111::5/128" }, SEQ);
    expect(msg.length).toBe(16 + 8 + 20 + 20);
    expect(msg[16]).toBe(C.AF_INET6);
    expect(msg[17]).toBe(128);
    expect(msg[18]).toBe(C.IFA_F_NODAD);
    const attrs = parseAttrs(msg.subarray(16), 8);
    expect(formatIp(attrs.get(C.IFA_LOCAL)!)).toBe("fd00:2021:1111::5");
  });

  test("route delete uses RT_SCOPE_NOWHERE and no protocol, so it matches what was added", () => {
    const msg = encodeRoute("del", { dst: "fd00:2021:1111:8000::/107", index: IDX, table: C.FIREZONE_TABLE_INTERNET }, SEQ);
    expect(new DataView(msg.buffer).getUint16(4, true)).toBe(C.RTM_DELROUTE);
    expect(new DataView(msg.buffer).getUint16(6, true)).toBe(C.NLM_F_REQUEST | C.NLM_F_ACK);
    expect(msg[16 + 5]).toBe(0);
    expect(msg[16 + 6]).toBe(C.RT_SCOPE_NOWHERE);
  });

  test("route destination host bits are masked", () => {
    const msg = encodeRoute("add", { dst: "100.96.3.7/11", index: IDX, table: 5 }, SEQ);
    const attrs = parseAttrs(msg.subarray(16), C.RTMSG_LEN);
    expect([...attrs.get(C.RTA_DST)!]).toEqual([100, 96, 0, 0]);
    expect(msg[16 + 4]).toBe(5); // small table ids also go in the header byte
  });

  test("dump request: NLM_F_DUMP and a zeroed family struct", () => {
    expect([...encodeDump(C.RTM_GETRULE, C.AF_INET6, SEQ)]).toEqual([...nlhdr(28, 34, 0x301), 10, ...new Array(11).fill(0)]);
  });
});

describe("decoding kernel answers", () => {
  test("NLMSG_ERROR ack with extended-ack message", () => {
    // error -17, echoed request header only (NLM_F_CAPPED), then NLMSGERR_ATTR_MSG.
    const text = [...new TextEncoder().encode("ipv4: Address already assigned"), 0];
    const payload = [...le32(-17 >>> 0), ...nlhdr(40, 20, 0x605), ...attr(1, text), 0, 0, 0];
    const len = 16 + payload.length - 3; // the last attribute's padding is not in nlmsg_len
    const bytes = new Uint8Array([...nlhdr(len, 2, 0x100 | 0x200), ...payload]);
    new DataView(bytes.buffer).setUint32(0, len, true);
    const [msg] = parseMessages(bytes);
    expect(decodeAck(msg!)).toEqual({ errno: 17, seq: SEQ, message: "ipv4: Address already assigned" });
  });

  test("plain ack (errno 0)", () => {
    const bytes = new Uint8Array([...nlhdr(36, 2, 0x100), ...le32(0), ...nlhdr(40, 20, 0x605)]);
    expect(decodeAck(parseMessages(bytes)[0]!)).toEqual({ errno: 0, seq: SEQ });
  });

  test("route, rule, address and link round-trip through the decoders", () => {
    const route = decodeRoute(asNew(encodeRoute("add", { dst: "fd00:2021:1111:8000::/107", index: 3, table: C.FIREZONE_TABLE_USER, metric: 9 }, 1), C.RTM_NEWROUTE));
    expect(route).toMatchObject({ family: C.AF_INET6, dst: "fd00:2021:1111:8000::/107", table: C.FIREZONE_TABLE_USER, index: 3, metric: 9 });
    const rule = decodeRule(asNew(encodeRule("add", { family: C.AF_INET6, priority: 200, table: C.FIREZONE_TABLE_INTERNET, fwmark: C.FIREZONE_MARK, fwmask: 0xffffffff, invert: true }, 1), C.RTM_NEWRULE));
    expect(rule).toEqual({ family: C.AF_INET6, priority: 200, table: C.FIREZONE_TABLE_INTERNET, fwmark: C.FIREZONE_MARK, fwmask: 0xffffffff, invert: true, action: C.FR_ACT_TO_TBL });
    const addr = decodeAddress(asNew(encodeAddress("add", { index: 4, prefix: "100.64.0.1/32" }, 1), C.RTM_NEWADDR));
    expect(addr).toEqual({ family: C.AF_INET, index: 4, prefix: "100.64.0.1/32" });
    const link = new MessageBuilder(C.RTM_NEWLINK, 0, 1).struct(new Uint8Array([0, 0, 0, 0, 9, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0])).attrString(C.IFLA_IFNAME, "tun-firezone").attrU32(C.IFLA_MTU, 1280).finish();
    expect(decodeLink(parseMessages(link)[0]!)).toEqual({ index: 9, name: "tun-firezone", flags: 1, mtu: 1280 });
  });

  test("truncated and garbage input decodes to nothing instead of throwing", () => {
    expect(parseMessages(new Uint8Array([1, 2, 3]))).toEqual([]);
    expect(parseMessages(new Uint8Array([200, 0, 0, 0, ...new Array(16).fill(0)]))).toEqual([]);
    const bad = new Uint8Array([...nlhdr(20, C.RTM_NEWROUTE, 0), 0, 0, 0, 0]);
    expect(decodeRoute(parseMessages(bad)[0]!)).toBeNull();
    expect(parseAttrs(new Uint8Array([2, 0, 1, 0, 9, 9]), 0).size).toBe(0);
    for (let i = 0; i < 2000; i++) {
      const junk = crypto.getRandomValues(new Uint8Array(64));
      for (const m of parseMessages(junk)) {
        decodeAck(m);
        decodeRoute(m);
        decodeRule(m);
        decodeAddress(m);
        decodeLink(m);
      }
    }
  });
});

describe("ip-prefix", () => {
  test("RFC 5952 formatting and parsing", () => {
    for (const s of ["fd00:2021:1111::5", "::", "::1", "1::", "fe80::c573:9b01:2577:bde3", "1:0:0:1::1", "1::1:0:0:1", "2001:db8::1:0:0:1"]) {
      expect(formatIp(parsePrefix(s).bytes)).toBe(s);
    }
    expect(formatIp(parsePrefix("::ffff:1.2.3.4").bytes)).toBe("::ffff:1.2.3.4") // as inet_ntop / `ip` print it;
    expect(parsePrefix("10.0.0.0/8").prefixLen).toBe(8);
    expect(parsePrefix("fd00::1").prefixLen).toBe(128);
    for (const bad of ["1.2.3", "1.2.3.256", "1::2::3", "1:2:3:4:5:6:7:8:9", "10.0.0.0/33", "fd00::/129", "g::1", "1.2.3.4/x"]) {
      expect(() => parsePrefix(bad)).toThrow(RangeError);
    }
  });
});

/** A request re-labelled as the kernel's answer type, as a dump would return it. */
function asNew(req: Uint8Array, type: number) {
  const m = parseMessages(req)[0]!;
  return { ...m, type };
}
