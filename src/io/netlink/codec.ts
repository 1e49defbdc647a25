/**
 * rtnetlink message encoder and decoder (pure: bytes in, bytes out; no socket).
 *
 * Every request the device manager sends is built here, so the byte layouts can be unit-tested
 * against what iproute2 sends for the same command (test/io/netlink-codec.test.ts). All fields
 * are host order (little-endian here), addresses network order, attributes 4-byte aligned.
 */
import * as C from "./constants.ts";
import { formatIp, parseIp, parsePrefix, type IpPrefix } from "./ip-prefix.ts";

export interface NetlinkMessage {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  /** The bytes after the 16-byte header (a view into the received buffer). */
  payload: Uint8Array;
}

const align = (n: number) => (n + C.NLA_ALIGNTO - 1) & ~(C.NLA_ALIGNTO - 1);

/** Builds one netlink message: header, a fixed family struct, then attributes. */
export class MessageBuilder {
  private buf = new Uint8Array(256);
  private view = new DataView(this.buf.buffer);
  private len = C.NLMSG_HDRLEN;

  constructor(type: number, flags: number, seq: number) {
    this.view.setUint16(4, type, true);
    this.view.setUint16(6, flags, true);
    this.view.setUint32(8, seq, true);
  }

  /** The fixed struct after the header (ifinfomsg, ifaddrmsg, rtmsg, fib_rule_hdr). */
  struct(bytes: Uint8Array): this {
    this.put(bytes);
    return this;
  }

  attr(type: number, data: Uint8Array): this {
    const start = this.len;
    this.reserve(C.RTA_HDRLEN + data.length);
    this.view.setUint16(start, C.RTA_HDRLEN + data.length, true);
    this.view.setUint16(start + 2, type, true);
    this.len += C.RTA_HDRLEN;
    this.put(data);
    return this;
  }

  attrU32(type: number, value: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, value >>> 0, true);
    return this.attr(type, b);
  }

  attrString(type: number, value: string): this {
    const enc = new TextEncoder().encode(value);
    const b = new Uint8Array(enc.length + 1);
    b.set(enc);
    return this.attr(type, b);
  }

  finish(): Uint8Array {
    this.view.setUint32(0, this.len, true);
    return this.buf.slice(0, this.len);
  }

  private put(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buf.set(bytes, this.len);
    this.len = align(this.len + bytes.length);
  }

  private reserve(n: number): void {
    const need = align(this.len + n);
    if (need <= this.buf.length) return;
    const next = new Uint8Array(Math.max(need, this.buf.length * 2));
    next.set(this.buf);
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
}

/** Splits a datagram into messages; stops at the first malformed length instead of throwing. */
export function parseMessages(data: Uint8Array): NetlinkMessage[] {
  const out: NetlinkMessage[] = [];
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let off = 0;
  while (off + C.NLMSG_HDRLEN <= data.length) {
    const len = view.getUint32(off, true);
    if (len < C.NLMSG_HDRLEN || off + len > data.length) break;
    out.push({
      type: view.getUint16(off + 4, true),
      flags: view.getUint16(off + 6, true),
      seq: view.getUint32(off + 8, true),
      pid: view.getUint32(off + 12, true),
      payload: data.subarray(off + C.NLMSG_HDRLEN, off + len),
    });
    off += align(len);
  }
  return out;
}

/** Attributes from `bytes` starting at `offset` (after the family struct): type → value. */
export function parseAttrs(bytes: Uint8Array, offset: number): Map<number, Uint8Array> {
  const attrs = new Map<number, Uint8Array>();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let off = offset;
  while (off + C.RTA_HDRLEN <= bytes.length) {
    const len = view.getUint16(off, true);
    if (len < C.RTA_HDRLEN || off + len > bytes.length) break;
    // NLA_F_NESTED / NLA_F_NET_BYTEORDER live in the top two bits of the type.
    attrs.set(view.getUint16(off + 2, true) & 0x3fff, bytes.subarray(off + C.RTA_HDRLEN, off + len));
    off += align(len);
  }
  return attrs;
}

export interface NetlinkAck {
  /** 0 for success, else a positive errno. */
  errno: number;
  /** The sequence number of the request this acknowledges. */
  seq: number;
  /** The kernel's extended-ack message (NLMSGERR_ATTR_MSG), when it sent one. */
  message?: string;
}

/** Decodes an NLMSG_ERROR payload: `int error` then the request's header (and maybe TLVs). */
export function decodeAck(msg: NetlinkMessage): NetlinkAck | null {
  if (msg.type !== C.NLMSG_ERROR || msg.payload.length < 4 + C.NLMSG_HDRLEN) return null;
  const view = new DataView(msg.payload.buffer, msg.payload.byteOffset, msg.payload.byteLength);
  const error = view.getInt32(0, true);
  const ack: NetlinkAck = { errno: error === 0 ? 0 : -error, seq: view.getUint32(4 + 8, true) };
  if (msg.flags & C.NLM_F_ACK_TLVS) {
    // Without NLM_F_CAPPED the whole original request is echoed before the TLVs.
    const echoed = msg.flags & C.NLM_F_CAPPED ? C.NLMSG_HDRLEN : view.getUint32(4, true);
    const attrs = parseAttrs(msg.payload, 4 + align(echoed));
    const text = attrs.get(C.NLMSGERR_ATTR_MSG);
    if (text) ack.message = cString(text);
  }
  return ack;
}

// ---- links ----

export interface LinkChange {
  index: number;
  mtu?: number;
  /** true: set IFF_UP; false: clear it; undefined: leave as is. */
  up?: boolean;
  /** Transmit queue length in packets (Firezone sets 10 000 on its TUN). */
  txQueueLen?: number;
}

export function encodeSetLink(change: LinkChange, seq: number): Uint8Array {
  const hdr = new Uint8Array(C.IFINFOMSG_LEN);
  const v = new DataView(hdr.buffer);
  v.setInt32(4, change.index, true);
  if (change.up !== undefined) {
    v.setUint32(8, change.up ? C.IFF_UP : 0, true);
    v.setUint32(12, C.IFF_UP, true);
  }
  const m = new MessageBuilder(C.RTM_NEWLINK, C.NLM_F_REQUEST | C.NLM_F_ACK, seq).struct(hdr);
  if (change.mtu !== undefined) m.attrU32(C.IFLA_MTU, change.mtu);
  if (change.txQueueLen !== undefined) m.attrU32(C.IFLA_TXQLEN, change.txQueueLen);
  return m.finish();
}

export interface LinkInfo {
  index: number;
  name: string;
  flags: number;
  mtu: number;
}

export function decodeLink(msg: NetlinkMessage): LinkInfo | null {
  if (msg.type !== C.RTM_NEWLINK || msg.payload.length < C.IFINFOMSG_LEN) return null;
  const v = new DataView(msg.payload.buffer, msg.payload.byteOffset, msg.payload.byteLength);
  const attrs = parseAttrs(msg.payload, C.IFINFOMSG_LEN);
  const mtu = attrs.get(C.IFLA_MTU);
  const name = attrs.get(C.IFLA_IFNAME);
  return {
    index: v.getInt32(4, true),
    flags: v.getUint32(8, true),
    name: name ? cString(name) : "",
    mtu: mtu && mtu.length >= 4 ? u32(mtu) : 0,
  };
}

// ---- addresses ----

export interface AddressSpec {
  index: number;
  /** `10.0.0.1/32`, `fd00::1/128`. */
  prefix: string;
}

/** RTM_NEWADDR / RTM_DELADDR as `ip addr add|del <prefix> dev <if>` sends it (IFA_LOCAL + IFA_ADDRESS). */
export function encodeAddress(op: "add" | "del", spec: AddressSpec, seq: number): Uint8Array {
  const p = parsePrefix(spec.prefix);
  const hdr = new Uint8Array(C.IFADDRMSG_LEN);
  const v = new DataView(hdr.buffer);
  hdr[0] = p.family;
  hdr[1] = p.prefixLen;
  // IPv6 without DAD so the address is usable at once (a TUN has no neighbours to collide with).
  hdr[2] = p.family === C.AF_INET6 ? C.IFA_F_NODAD : 0;
  hdr[3] = C.RT_SCOPE_UNIVERSE;
  v.setUint32(4, spec.index, true);
  const flags = op === "add" ? C.NLM_F_REQUEST | C.NLM_F_ACK | C.NLM_F_CREATE | C.NLM_F_EXCL : C.NLM_F_REQUEST | C.NLM_F_ACK;
  const m = new MessageBuilder(op === "add" ? C.RTM_NEWADDR : C.RTM_DELADDR, flags, seq).struct(hdr);
  m.attr(C.IFA_LOCAL, p.bytes).attr(C.IFA_ADDRESS, p.bytes);
  return m.finish();
}

export interface AddressInfo {
  index: number;
  prefix: string;
  family: number;
}

export function decodeAddress(msg: NetlinkMessage): AddressInfo | null {
  if (msg.type !== C.RTM_NEWADDR || msg.payload.length < C.IFADDRMSG_LEN) return null;
  const v = new DataView(msg.payload.buffer, msg.payload.byteOffset, msg.payload.byteLength);
  const attrs = parseAttrs(msg.payload, C.IFADDRMSG_LEN);
  const local = attrs.get(C.IFA_LOCAL) ?? attrs.get(C.IFA_ADDRESS);
  if (!local) return null;
  return { family: msg.payload[0]!, index: v.getUint32(4, true), prefix: `${formatIp(local)}/${msg.payload[1]}` };
}

// ---- routes ----

export interface RouteSpec {
  /** Destination prefix, e.g. `100.64.0.0/11` or `fd00:2021:1111::/107`. */
  dst: string;
  /** Output interface index. */
  index: number;
  table: number;
  metric?: number;
}

/** Like `ip route add|del <dst> dev <if> table <t> [metric m] proto static`. */
export function encodeRoute(op: "add" | "del", spec: RouteSpec, seq: number): Uint8Array {
  const p = parsePrefix(spec.dst);
  const hdr = new Uint8Array(C.RTMSG_LEN);
  hdr[0] = p.family;
  hdr[1] = p.prefixLen;
  // Tables above 255 only fit the RTA_TABLE attribute; the header byte is then RT_TABLE_UNSPEC,
  // as iproute2 sends it.
  hdr[4] = spec.table > 255 ? C.RT_TABLE_UNSPEC : spec.table;
  hdr[5] = C.RTPROT_STATIC;
  hdr[6] = C.RT_SCOPE_LINK;
  hdr[7] = C.RTN_UNICAST;
  if (op === "del") {
    // Deletion matches any protocol and, with RT_SCOPE_NOWHERE, any scope (as `ip route del`).
    hdr[5] = 0;
    hdr[6] = C.RT_SCOPE_NOWHERE;
  }
  const flags = op === "add" ? C.NLM_F_REQUEST | C.NLM_F_ACK | C.NLM_F_CREATE | C.NLM_F_EXCL : C.NLM_F_REQUEST | C.NLM_F_ACK;
  const m = new MessageBuilder(op === "add" ? C.RTM_NEWROUTE : C.RTM_DELROUTE, flags, seq).struct(hdr);
  // Attribute order as iproute2's, so requests compare byte for byte with `strace ip route add`.
  m.attr(C.RTA_DST, maskedBytes(p));
  m.attrU32(C.RTA_TABLE, spec.table);
  if (spec.metric !== undefined) m.attrU32(C.RTA_PRIORITY, spec.metric);
  m.attrU32(C.RTA_OIF, spec.index);
  return m.finish();
}

export interface RouteInfo {
  family: number;
  dst: string;
  table: number;
  /** Output interface index, 0 when absent. */
  index: number;
  metric: number;
  protocol: number;
  type: number;
}

export function decodeRoute(msg: NetlinkMessage): RouteInfo | null {
  if (msg.type !== C.RTM_NEWROUTE || msg.payload.length < C.RTMSG_LEN) return null;
  const family = msg.payload[0]!;
  const attrs = parseAttrs(msg.payload, C.RTMSG_LEN);
  const dst = attrs.get(C.RTA_DST);
  const table = attrs.get(C.RTA_TABLE);
  const oif = attrs.get(C.RTA_OIF);
  const prio = attrs.get(C.RTA_PRIORITY);
  const zero = new Uint8Array(family === C.AF_INET6 ? 16 : 4);
  return {
    family,
    dst: `${formatIp(dst ?? zero)}/${msg.payload[1]}`,
    table: table ? u32(table) : msg.payload[4]!,
    index: oif ? u32(oif) : 0,
    metric: prio ? u32(prio) : 0,
    protocol: msg.payload[5]!,
    type: msg.payload[7]!,
  };
}

// ---- policy rules ----

export interface RuleSpec {
  family: typeof C.AF_INET | typeof C.AF_INET6;
  priority: number;
  table: number;
  fwmark?: number;
  fwmask?: number;
  /** `not fwmark …`: the rule matches packets that do NOT carry the mark. */
  invert?: boolean;
}

/** Like `ip [-6] rule add|del [not] fwmark M[/mask] table T priority P`. */
export function encodeRule(op: "add" | "del", spec: RuleSpec, seq: number): Uint8Array {
  const hdr = new Uint8Array(C.FIB_RULE_HDR_LEN);
  hdr[0] = spec.family;
  hdr[4] = spec.table > 255 ? C.RT_TABLE_UNSPEC : spec.table;
  hdr[7] = C.FR_ACT_TO_TBL;
  new DataView(hdr.buffer).setUint32(8, spec.invert ? C.FIB_RULE_INVERT : 0, true);
  const flags = op === "add" ? C.NLM_F_REQUEST | C.NLM_F_ACK | C.NLM_F_CREATE | C.NLM_F_EXCL : C.NLM_F_REQUEST | C.NLM_F_ACK;
  const m = new MessageBuilder(op === "add" ? C.RTM_NEWRULE : C.RTM_DELRULE, flags, seq).struct(hdr);
  if (spec.fwmark !== undefined) {
    m.attrU32(C.FRA_FWMARK, spec.fwmark);
    if (spec.fwmask !== undefined) m.attrU32(C.FRA_FWMASK, spec.fwmask);
  }
  m.attrU32(C.FRA_TABLE, spec.table);
  m.attrU32(C.FRA_PRIORITY, spec.priority);
  return m.finish();
}

export interface RuleInfo extends RuleSpec {
  action: number;
}

export function decodeRule(msg: NetlinkMessage): RuleInfo | null {
  if (msg.type !== C.RTM_NEWRULE || msg.payload.length < C.FIB_RULE_HDR_LEN) return null;
  const v = new DataView(msg.payload.buffer, msg.payload.byteOffset, msg.payload.byteLength);
  const attrs = parseAttrs(msg.payload, C.FIB_RULE_HDR_LEN);
  const get = (t: number) => {
    const a = attrs.get(t);
    return a && a.length >= 4 ? u32(a) : undefined;
  };
  const family = msg.payload[0]! as RuleSpec["family"];
  const rule: RuleInfo = {
    family,
    priority: get(C.FRA_PRIORITY) ?? 0,
    table: get(C.FRA_TABLE) ?? msg.payload[4]!,
    invert: (v.getUint32(8, true) & C.FIB_RULE_INVERT) !== 0,
    action: msg.payload[7]!,
  };
  const mark = get(C.FRA_FWMARK);
  if (mark !== undefined) rule.fwmark = mark;
  const mask = get(C.FRA_FWMASK);
  if (mask !== undefined) rule.fwmask = mask;
  return rule;
}

// ---- dumps ----

/** A dump request (`ip -j addr|route|rule show`): a header plus a zeroed family struct. */
export function encodeDump(type: number, family: number, seq: number): Uint8Array {
  const structLen =
    type === C.RTM_GETLINK ? C.IFINFOMSG_LEN : type === C.RTM_GETADDR ? C.IFADDRMSG_LEN : type === C.RTM_GETROUTE ? C.RTMSG_LEN : C.FIB_RULE_HDR_LEN;
  const hdr = new Uint8Array(structLen);
  hdr[0] = family;
  return new MessageBuilder(type, C.NLM_F_REQUEST | C.NLM_F_DUMP, seq).struct(hdr).finish();
}

/** Describes a request for error messages: `RTM_NEWADDR`, `RTM_NEWRULE`, … */
export function messageName(type: number): string {
  return C.RTM_NAMES[type] ?? `netlink type ${type}`;
}

export function familyOf(text: string): number {
  return parseIp(text.split("/")[0]!).family;
}

function maskedBytes(p: IpPrefix): Uint8Array {
  const out = p.bytes.slice();
  for (let bit = p.prefixLen; bit < out.length * 8; bit++) out[bit >> 3] &= ~(0x80 >> (bit & 7));
  return out;
}

function u32(b: Uint8Array): number {
  return new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true);
}

function cString(b: Uint8Array): string {
  const end = b.indexOf(0);
  return new TextDecoder().decode(end < 0 ? b : b.subarray(0, end));
}
