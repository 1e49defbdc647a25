/**
 * Answers ICMP and ICMPv6 echo requests that arrive on the TUN, in place: swap the addresses
 * (neither the IPv4 header checksum nor the pseudo-header sum changes when two addresses trade
 * places) and turn the type into a reply with an incremental checksum update (RFC 1624).
 * Everything else is dropped and counted. Used to prove the TUN path end to end (the kernel
 * pings an address behind the TUN) and as a diagnostic responder.
 */
import {
  adjustChecksumAt,
  ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST,
  ICMPV6_ECHO_REPLY,
  ICMPV6_ECHO_REQUEST,
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  PacketView,
  wordDelta,
} from "../../ip/index.ts";
import { ACTION_DROP, ACTION_TO_TUN, type PacketBatch } from "../packet-batch.ts";
import type { PacketHandler } from "../packet-handler.ts";

export class IcmpEchoResponder implements PacketHandler {
  private readonly view = new PacketView();
  replies = 0;
  dropped = 0;

  fromTun(b: PacketBatch): void {
    const v = this.view;
    for (let i = 0; i < b.count; i++) {
      b.action[i] = ACTION_DROP;
      if (v.parse(b.data, b.start(i), b.len[i]!) !== "ok" || v.isFragment || v.checksumOff < 0) {
        this.dropped++;
        continue;
      }
      const v4 = v.protocol === IPPROTO_ICMP && v.icmpType === ICMP_ECHO_REQUEST;
      const v6 = v.protocol === IPPROTO_ICMPV6 && v.icmpType === ICMPV6_ECHO_REQUEST;
      if (!v4 && !v6) {
        this.dropped++;
        continue;
      }
      const buf = b.data;
      for (let k = 0; k < v.addrLen; k++) {
        const t = buf[v.srcOff + k]!;
        buf[v.srcOff + k] = buf[v.dstOff + k]!;
        buf[v.dstOff + k] = t;
      }
      const reply = v4 ? ICMP_ECHO_REPLY : ICMPV6_ECHO_REPLY;
      const oldWord = (buf[v.l4Off]! << 8) | buf[v.l4Off + 1]!;
      buf[v.l4Off] = reply;
      adjustChecksumAt(buf, v.checksumOff, wordDelta(oldWord, (reply << 8) | buf[v.l4Off + 1]!));
      b.action[i] = ACTION_TO_TUN;
      this.replies++;
    }
  }

  fromNet(b: PacketBatch): void {
    for (let i = 0; i < b.count; i++) b.action[i] = ACTION_DROP;
    this.dropped += b.count;
  }

  drops(): number {
    return this.dropped;
  }
}
