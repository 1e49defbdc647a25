import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import {
  P2P_EVENT_ASSIGNED_IPS,
  PacketView,
  buildP2pControl,
  decodeP2pEvent,
  encodeP2pEvent,
  isP2pControl,
} from "../../src/ip/index.ts";
import { FIXTURES } from "../support/fixtures.ts";
import { hex } from "./reference.ts";

const fixture = (name: string) => Bun.file(join(FIXTURES, name)).text();

describe("p2p control packets match Firezone's fixtures", () => {
  test("AssignedIps encodes to p2p-assigned_ips-1.hex byte for byte", async () => {
    const want = hex(await fixture("p2p-assigned_ips-1.hex"));
    const json = JSON.parse(await fixture("p2p-assigned_ips-1.json"));
    const out = new Uint8Array(1500);
    const n = encodeP2pEvent(out, 0, { type: "AssignedIps", resource: json.resource, domain: json.domain, proxyIps: json.proxy_ips });
    expect(n).toBe(want.length);
    expect(Array.from(out.subarray(0, n as number))).toEqual(Array.from(want));
    const d = decodeP2pEvent(want, 0, want.length);
    expect(d).toEqual({
      ok: true,
      event: { type: "AssignedIps", resource: "00000000-0000-0000-0000-000000000065", domain: "example.com", proxyIps: json.proxy_ips },
    });
  });
  test("DomainStatus with an unknown status decodes as Inactive (p2p-domain_status-1.hex)", async () => {
    const pkt = hex(await fixture("p2p-domain_status-1.hex"));
    expect(isP2pControl(pkt, 0, pkt.length)).toBe(true);
    expect(decodeP2pEvent(pkt, 0, pkt.length)).toEqual({
      ok: true,
      event: { type: "DomainStatus", resource: "00000000-0000-0000-0000-000000000065", domain: "example.com", status: "Inactive" },
    });
    // The raw payload is exactly the fixture JSON.
    const body = new TextDecoder().decode(pkt.subarray(48));
    expect(body).toBe((await fixture("p2p-domain_status-1.json")).trim());
  });
  test("DomainStatus Active round trip matches p2p-domain_status-2.json", async () => {
    const out = new Uint8Array(1500);
    const n = encodeP2pEvent(out, 0, { type: "DomainStatus", resource: "00000000-0000-0000-0000-000000000065", domain: "example.com.", status: "Active" }) as number;
    expect(new TextDecoder().decode(out.subarray(48, n))).toBe((await fixture("p2p-domain_status-2.json")).trim());
    const d = decodeP2pEvent(out, 0, n);
    expect(d.ok && d.event.type === "DomainStatus" && d.event.status).toBe("Active");
  });
  test("Goodbye is p2p-goodbye-1.hex", async () => {
    const want = hex(await fixture("p2p-goodbye-1.hex"));
    const out = new Uint8Array(100);
    const n = encodeP2pEvent(out, 0, { type: "Goodbye" }) as number;
    expect(Array.from(out.subarray(0, n))).toEqual(Array.from(want));
    expect(decodeP2pEvent(out, 0, n)).toEqual({ ok: true, event: { type: "Goodbye" } });
  });
  test("longest AssignedIps payload is 402 bytes (Firezone's max_payload_length_assigned_ips)", async () => {
    const json = JSON.parse(await fixture("p2p-assigned_ips-2.json"));
    const out = new Uint8Array(1500);
    const n = encodeP2pEvent(out, 0, { type: "AssignedIps", resource: json.resource, domain: json.domain, proxyIps: json.proxy_ips }) as number;
    expect(n - 48).toBe(402);
    expect(new TextDecoder().decode(out.subarray(48, n))).toBe((await fixture("p2p-assigned_ips-2.json")).trim());
  });
});

describe("p2p control edge cases", () => {
  test("the packet view sees a valid IPv6 packet with protocol 0xFF", async () => {
    const pkt = hex(await fixture("p2p-goodbye-1.hex"));
    const v = new PacketView();
    expect(v.parse(pkt, 0, pkt.length)).toBe("ok");
    expect(v.protocol).toBe(0xff);
    expect(v.ttl).toBe(0);
  });
  test("rejections", () => {
    const out = new Uint8Array(1500);
    expect(buildP2pControl(out, 0, 0, new Uint8Array(1233))).toBe("payload-too-large");
    expect(buildP2pControl(out, 0, 0, new Uint8Array(1232))).toBe(1280);
    expect(encodeP2pEvent(out, 0, { type: "AssignedIps", resource: "nope", domain: "a.b", proxyIps: [] })).toBe("bad-p2p-field");
    expect(encodeP2pEvent(out, 0, { type: "AssignedIps", resource: "00000000-0000-0000-0000-000000000065", domain: "a.b", proxyIps: ["1.1.1.1"] })).toBe("bad-p2p-field");
    const n = buildP2pControl(out, 0, P2P_EVENT_ASSIGNED_IPS, new TextEncoder().encode("{not json")) as number;
    expect(decodeP2pEvent(out, 0, n)).toEqual({ ok: false, reason: "bad-p2p-json" });
    expect(decodeP2pEvent(out, 0, n - 1)).toEqual({ ok: false, reason: "truncated-p2p-control" });
    const m = buildP2pControl(out, 0, 9, new Uint8Array(0)) as number;
    expect(decodeP2pEvent(out, 0, m)).toEqual({ ok: false, reason: "unknown-p2p-event" });
    out[39] = 1; // dst no longer ::
    expect(decodeP2pEvent(out, 0, m)).toEqual({ ok: false, reason: "not-p2p-control" });
    const wrongIp = buildP2pControl(out, 0, P2P_EVENT_ASSIGNED_IPS, new TextEncoder().encode('{"resource":"00000000-0000-0000-0000-000000000065","domain":"x.com","proxy_ips":["1.2.3"]}')) as number;
    expect(decodeP2pEvent(out, 0, wrongIp)).toEqual({ ok: false, reason: "bad-p2p-field" });
    const badUtf8 = buildP2pControl(out, 0, P2P_EVENT_ASSIGNED_IPS, new Uint8Array([0xff, 0xfe])) as number;
    expect(decodeP2pEvent(out, 0, badUtf8)).toEqual({ ok: false, reason: "bad-p2p-json" });
  });
});
