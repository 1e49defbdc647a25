import { describe, expect, test } from "bun:test";
import {
  CidrTable,
  cidrContains,
  cidrContains4,
  formatCidr,
  parseCidr,
  parseIp,
  parseIPv4,
  type Cidr,
} from "../../src/ip/index.ts";
import { mulberry32 as rng } from "../support/prng.ts";

function cidr(s: string): Cidr {
  const r = parseCidr(s);
  if (!r.ok) throw new Error(`${s}: ${r.reason}`);
  return r.cidr;
}

describe("CIDR parse/format/contains", () => {
  test("parses, masks host bits, formats", () => {
    expect(formatCidr(cidr("10.1.2.3/8"))).toBe("10.0.0.0/8");
    expect(formatCidr(cidr("100.64.0.0/11"))).toBe("100.64.0.0/11");
    expect(formatCidr(cidr("fd00:2021:1111::/107"))).toBe("fd00:2021:1111::/107");
    expect(formatCidr(cidr("fd00:2021:1111:8000:100:100:111:0/120"))).toBe("fd00:2021:1111:8000:100:100:111:0/120");
    expect(formatCidr(cidr("0.0.0.0/0"))).toBe("0.0.0.0/0");
    expect(formatCidr(cidr("::/0"))).toBe("::/0");
    expect(formatCidr(cidr("1.2.3.4"))).toBe("1.2.3.4/32");
    expect(formatCidr(cidr("2001:db8::1"))).toBe("2001:db8::1/128");
    expect(formatCidr(cidr("2001:db8:ffff::/33"))).toBe("2001:db8:8000::/33");
  });
  test("rejects", () => {
    expect(parseCidr("10.0.0.0/33")).toEqual({ ok: false, reason: "bad-cidr-prefix" });
    expect(parseCidr("::/129")).toEqual({ ok: false, reason: "bad-cidr-prefix" });
    expect(parseCidr("10.0.0.0/")).toEqual({ ok: false, reason: "bad-cidr-prefix" });
    expect(parseCidr("10.0.0.0/08")).toEqual({ ok: false, reason: "bad-cidr-prefix" });
    expect(parseCidr("10.0.0/8")).toEqual({ ok: false, reason: "bad-cidr-address" });
    expect(parseCidr("x/8")).toEqual({ ok: false, reason: "bad-cidr-address" });
  });
  test("contains", () => {
    const c = cidr("100.64.0.0/11");
    expect(cidrContains4(parseIPv4("100.64.0.0")!, 11, parseIPv4("100.95.255.255")!)).toBe(true);
    expect(cidrContains4(parseIPv4("100.64.0.0")!, 11, parseIPv4("100.96.0.0")!)).toBe(false);
    expect(cidrContains(c, parseIp("100.70.1.1")!, 0, 4)).toBe(true);
    expect(cidrContains(c, parseIp("::1")!, 0, 16)).toBe(false);
    const c6 = cidr("fd00:2021:1111:8000::/107");
    expect(cidrContains(c6, parseIp("fd00:2021:1111:8000::1")!, 0, 16)).toBe(true);
    expect(cidrContains(c6, parseIp("fd00:2021:1111:8000:0:0:20:0")!, 0, 16)).toBe(false);
    expect(cidrContains(c6, parseIp("fd00:2021:1111:8000:0:0:1f:ffff")!, 0, 16)).toBe(true);
    expect(cidrContains(cidr("0.0.0.0/0"), parseIp("1.2.3.4")!, 0, 4)).toBe(true);
  });
});

describe("CidrTable longest-prefix match", () => {
  test("Firezone's ranges", () => {
    const t = new CidrTable<string>();
    for (const [c, v] of [
      ["100.64.0.0/11", "tunnel"],
      ["100.96.0.0/11", "dns-proxy"],
      ["100.100.111.0/24", "sentinel"],
      ["0.0.0.0/0", "internet"],
      ["fd00:2021:1111::/107", "tunnel6"],
      ["fd00:2021:1111:8000::/107", "dns-proxy6"],
      ["fd00:2021:1111:8000:100:100:111:0/120", "sentinel6"],
    ] as const)
      t.insert(cidr(c), v);
    const look = (s: string) => {
      const b = parseIp(s)!;
      return t.lookup(b, 0, b.length);
    };
    expect(look("100.64.0.1")).toBe("tunnel");
    expect(look("100.100.111.1")).toBe("sentinel");
    expect(look("100.100.112.1")).toBe("dns-proxy");
    expect(look("8.8.8.8")).toBe("internet");
    expect(t.lookup4(parseIPv4("100.96.0.5")!)).toBe("dns-proxy");
    expect(look("fd00:2021:1111:8000:100:100:111:5")).toBe("sentinel6");
    expect(look("fd00:2021:1111:8000::5")).toBe("dns-proxy6");
    expect(look("2001:db8::1")).toBeUndefined();
    expect(t.size).toBe(7);
    expect(t.remove(cidr("0.0.0.0/0"))).toBe(true);
    expect(t.remove(cidr("0.0.0.0/0"))).toBe(false);
    expect(look("8.8.8.8")).toBeUndefined();
    expect(t.get(cidr("100.96.0.0/11"))).toBe("dns-proxy");
    expect(t.entries().map(([c, v]) => `${formatCidr(c)}=${v}`).sort()).toEqual(
      [
        "100.64.0.0/11=tunnel",
        "100.96.0.0/11=dns-proxy",
        "100.100.111.0/24=sentinel",
        "fd00:2021:1111::/107=tunnel6",
        "fd00:2021:1111:8000::/107=dns-proxy6",
        "fd00:2021:1111:8000:100:100:111:0/120=sentinel6",
      ].sort(),
    );
  });

  test("matches a naive linear scan on random tables (seeded)", () => {
    const r = rng(42);
    for (const family of [4, 6] as const) {
      const n = family === 4 ? 4 : 16;
      const t = new CidrTable<number>();
      const list: [Cidr, number][] = [];
      // Prefixes cluster around a few bases so nesting actually happens.
      const bases = Array.from({ length: 4 }, () => Uint8Array.from({ length: n }, () => (r() * 256) | 0));
      for (let i = 0; i < 300; i++) {
        const a = bases[(r() * 4) | 0].slice();
        a[(r() * n) | 0] ^= (r() * 256) | 0;
        const prefix = (r() * (n * 8 + 1)) | 0;
        const c = parseCidr(family === 4 ? `${a.join(".")}/${prefix}` : `${Array.from({ length: 8 }, (_, k) => ((a[2 * k] << 8) | a[2 * k + 1]).toString(16)).join(":")}/${prefix}`);
        if (!c.ok) throw new Error("bad random cidr");
        t.insert(c.cidr, i);
        const existing = list.findIndex(([x]) => x.prefix === c.cidr.prefix && x.addr.every((b, k) => b === c.cidr.addr[k]));
        if (existing >= 0) list[existing][1] = i;
        else list.push([c.cidr, i]);
        if (r() < 0.1 && list.length > 0) {
          const k = (r() * list.length) | 0;
          expect(t.remove(list[k][0])).toBe(true);
          list.splice(k, 1);
        }
      }
      expect(t.size).toBe(list.length);
      for (let q = 0; q < 3000; q++) {
        const a = bases[(r() * 4) | 0].slice();
        if (r() < 0.5) a[(r() * n) | 0] ^= 1 << ((r() * 8) | 0);
        let best: [Cidr, number] | undefined;
        for (const e of list) if (cidrContains(e[0], a, 0, n) && (!best || e[0].prefix > best[0].prefix)) best = e;
        expect(t.lookup(a, 0, n)).toBe(best?.[1]);
      }
    }
  });
});
