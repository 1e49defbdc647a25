/**
 * rtnetlink operations for the TUN device: link MTU/up, addresses, routes in a table, fwmark
 * policy rules. Every change is sent with NLM_F_ACK and the acknowledgement is checked; kernel
 * errors come back as `SysError`s named like `EEXIST: File exists (RTM_NEWADDR 10.0.0.1/32 on tun0)`.
 */
import { NetlinkSocket } from "../../../ffi/netlink.ts";
import { errnoName, SysError } from "../../../ffi/errno.ts";
import { strerror } from "../../../ffi/libc.ts";
import { logger } from "../../log/index.ts";
import * as C from "./constants.ts";
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
  parseMessages,
  type AddressInfo,
  type LinkChange,
  type LinkInfo,
  type NetlinkMessage,
  type RouteInfo,
  type RouteSpec,
  type RuleInfo,
  type RuleSpec,
} from "./codec.ts";

const log = logger("io::netlink");

export class RtNetlink {
  private readonly sock = new NetlinkSocket(C.NETLINK_ROUTE);
  private seq = (Date.now() & 0x7fffffff) >>> 0;

  setLink(change: LinkChange, ifName: string): void {
    const what = [
      change.mtu !== undefined ? `mtu ${change.mtu}` : "",
      change.txQueueLen !== undefined ? `txqueuelen ${change.txQueueLen}` : "",
      change.up === undefined ? "" : change.up ? "up" : "down",
    ]
      .filter(Boolean)
      .join(" ");
    this.request((seq) => encodeSetLink(change, seq), `RTM_NEWLINK ${what} on ${ifName}`);
  }

  addAddress(index: number, prefix: string, ifName: string): void {
    this.request((seq) => encodeAddress("add", { index, prefix }, seq), `RTM_NEWADDR ${prefix} on ${ifName}`);
  }

  delAddress(index: number, prefix: string, ifName: string): void {
    this.request((seq) => encodeAddress("del", { index, prefix }, seq), `RTM_DELADDR ${prefix} on ${ifName}`);
  }

  addRoute(spec: RouteSpec, ifName: string): void {
    this.request((seq) => encodeRoute("add", spec, seq), `RTM_NEWROUTE ${spec.dst} dev ${ifName} table ${hex(spec.table)}`);
  }

  delRoute(spec: RouteSpec, ifName: string): void {
    this.request((seq) => encodeRoute("del", spec, seq), `RTM_DELROUTE ${spec.dst} dev ${ifName} table ${hex(spec.table)}`);
  }

  addRule(spec: RuleSpec): void {
    this.request((seq) => encodeRule("add", spec, seq), `RTM_NEWRULE ${describeRule(spec)}`);
  }

  delRule(spec: RuleSpec): void {
    this.request((seq) => encodeRule("del", spec, seq), `RTM_DELRULE ${describeRule(spec)}`);
  }

  links(): LinkInfo[] {
    return this.dump(C.RTM_GETLINK, C.AF_UNSPEC, decodeLink);
  }

  addresses(family = C.AF_UNSPEC): AddressInfo[] {
    return this.dump(C.RTM_GETADDR, family, decodeAddress);
  }

  /** Routes of one table (both families unless `family` says otherwise). */
  routes(table: number, family = C.AF_UNSPEC): RouteInfo[] {
    return this.dump(C.RTM_GETROUTE, family, decodeRoute).filter((r) => r.table === table);
  }

  rules(family = C.AF_UNSPEC): RuleInfo[] {
    return this.dump(C.RTM_GETRULE, family, decodeRule);
  }

  close(): void {
    this.sock.close();
  }

  private nextSeq(): number {
    this.seq = (this.seq + 1) >>> 0;
    return this.seq;
  }

  private request(build: (seq: number) => Uint8Array, context: string): void {
    const seq = this.nextSeq();
    this.sock.send(build(seq), context);
    for (;;) {
      for (const msg of parseMessages(this.sock.receive(context))) {
        if (msg.seq !== seq) continue;
        const ack = decodeAck(msg);
        if (!ack) continue;
        if (ack.errno === 0) {
          log.debug("netlink ok", { request: context });
          return;
        }
        const detail = ack.message ? `${context}: ${ack.message}` : context;
        throw new SysError(ack.errno, errnoName(ack.errno), strerror(ack.errno), detail);
      }
    }
  }

  private dump<T>(type: number, family: number, decode: (m: NetlinkMessage) => T | null): T[] {
    const seq = this.nextSeq();
    const context = `${C.RTM_NAMES[type]} dump`;
    this.sock.send(encodeDump(type, family, seq), context);
    const out: T[] = [];
    for (;;) {
      for (const msg of parseMessages(this.sock.receive(context))) {
        if (msg.seq !== seq) continue;
        if (msg.type === C.NLMSG_DONE) return out;
        const ack = decodeAck(msg);
        if (ack && ack.errno !== 0) throw new SysError(ack.errno, errnoName(ack.errno), strerror(ack.errno), context);
        const item = decode(msg);
        if (item !== null) out.push(item);
      }
    }
  }
}

export function describeRule(spec: RuleSpec): string {
  const fam = spec.family === C.AF_INET6 ? "-6 " : "";
  const mark = spec.fwmark === undefined ? "" : `${spec.invert ? "not " : ""}fwmark ${hex(spec.fwmark)}${spec.fwmask !== undefined ? `/${hex(spec.fwmask)}` : ""} `;
  return `${fam}${mark}table ${hex(spec.table)} priority ${spec.priority}`;
}

function hex(n: number): string {
  return `0x${(n >>> 0).toString(16)}`;
}
