/**
 * TUN configuration through netlink only, checked from outside with `ip -j`, and undone on
 * close, on SIGTERM, and after SIGKILL by the next start (the install-state file).
 */
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { Netns, suffix } from "./netns.ts";

const SCRIPT = join(import.meta.dir, "fixtures/tun-config.ts");
const MARK = "0xfd002021";
let ns: Netns | null = null;
afterEach(() => {
  ns?.destroy();
  ns = null;
});

function ours(ns: Netns, ifname: string) {
  const links = ns.ipJson<any[]>("link").filter((l) => l.ifname === ifname);
  const rules = [...ns.ipJson<any[]>("rule"), ...ns.ipJson<any[]>("-6", "rule")].filter((r) => r.fwmark === MARK);
  const routes = ns.ipJson<any[]>("route", "show", "table", "all").filter((r) => r.dev === ifname);
  return { links, rules, routes };
}

describe("TUN device over netlink", () => {
  test("configures MTU, addresses, routes and rules; close undoes all", async () => {
    ns = new Netns();
    const ifname = `tfz${suffix()}`;
    const p = ns.spawnBun(SCRIPT, [ns.stateDir, ifname]);
    const ready = await p.json();
    expect(ready.error).toBeUndefined();
    expect(ready.name).toBe(ifname);
    expect(ready.duplicate).toContain("EEXIST: File exists (RTM_NEWADDR 100.64.0.7/32 on");
    expect(ready.routes.sort()).toEqual(["100.96.0.0/11", "fd00:2021:1111:8000::/107"]);

    const [link] = ns.ipJson<any[]>("addr", "show", "dev", ifname);
    expect(link.mtu).toBe(1280);
    expect(link.txqlen).toBe(10000);
    expect(link.flags).toContain("UP");
    const addrs = link.addr_info.map((a: any) => `${a.local}/${a.prefixlen}`);
    expect(addrs).toContain("100.64.0.7/32");
    expect(addrs).toContain("fd00:2021:1111::7/128");

    const user4 = ns.ipJson<any[]>("route", "show", "table", String(0x2021fd00));
    expect(user4.map((r) => [r.dst, r.dev])).toEqual([["100.96.0.0/11", ifname]]);
    const user6 = ns.ipJson<any[]>("-6", "route", "show", "table", String(0x2021fd00));
    expect(user6.map((r) => [r.dst, r.dev])).toEqual([["fd00:2021:1111:8000::/107", ifname]]);
    const inet4 = ns.ipJson<any[]>("route", "show", "table", String(0x2021fd02));
    expect(inet4.map((r) => r.dst)).toEqual(["default"]);

    for (const fam of [[], ["-6"]]) {
      const rules = ns.ipJson<any[]>(...fam, "rule").filter((r) => r.fwmark === MARK);
      expect(rules.map((r) => [r.priority, r.table, "not" in r])).toEqual([
        [100, String(0x2021fd00), true],
        [200, String(0x2021fd01), true],
        [300, String(0x2021fd02), true],
      ]);
    }
    expect(readdirSync(ns.stateDir)).toEqual([`tun-${ifname}.json`]);

    // A TUN without packet info, not persistent, with a second queue attached.
    const [detail] = ns.ipJson<any[]>("-d", "link", "show", "dev", ifname);
    expect(detail.linkinfo.info_data).toMatchObject({ type: "tun", pi: false, multi_queue: true, persist: false });
    expect(ready.queue2).toBeGreaterThan(2);

    // The policy at work: unmarked traffic is routed into the TUN (default route in the Internet
    // table, rule 300), traffic with our fwmark falls through to the main table.
    ns.exec(["ip", "route", "add", "192.0.2.0/24", "dev", "lo"]);
    expect(ns.ipJson<any[]>("route", "get", "192.0.2.7")[0].dev).toBe(ifname);
    expect(ns.ipJson<any[]>("route", "get", "192.0.2.7", "mark", MARK)[0].dev).toBe("lo");
    expect(ns.ipJson<any[]>("route", "get", "100.96.1.1")[0]).toMatchObject({ dev: ifname, table: String(0x2021fd00) });
    expect(ns.exec(["ip", "route", "get", "100.96.1.1", "mark", MARK]).stderr).toContain("Network is unreachable");

    // Route and address sets are applied as differences (Firezone's set_routes / set_ips).
    p.send("set-routes 100.96.0.0/11,10.0.0.0/8,::/0");
    expect(await p.json()).toEqual({ user: ["10.0.0.0/8", "100.96.0.0/11"], internet: ["::/0"] });
    expect(ns.ipJson<any[]>("route", "show", "table", String(0x2021fd02))).toEqual([]);
    expect(ns.ipJson<any[]>("-6", "route", "show", "table", String(0x2021fd00))).toEqual([]);
    p.send("set-addrs 100.64.0.8,fd00:2021:1111::7/128");
    expect(await p.json()).toEqual({ ok: true });
    const after = ns.ipJson<any[]>("addr", "show", "dev", ifname)[0].addr_info.map((a: any) => `${a.local}/${a.prefixlen}`);
    expect(after).toContain("100.64.0.8/32");
    expect(after).not.toContain("100.64.0.7/32");
    expect(after).toContain("fd00:2021:1111::7/128");

    p.send("close");
    expect(await p.json()).toEqual({ closed: true, linkGone: true });
    expect(await p.proc.exited).toBe(0);
    expect(ours(ns, ifname)).toEqual({ links: [], rules: [], routes: [] });
    expect(readdirSync(ns.stateDir)).toEqual([]);
  });

  test("SIGTERM undoes everything", async () => {
    ns = new Netns();
    const ifname = `tfz${suffix()}`;
    const p = ns.spawnBun(SCRIPT, [ns.stateDir, ifname]);
    expect((await p.json()).ready).toBe(true);
    expect(ours(ns, ifname).rules.length).toBe(6);
    p.proc.kill("SIGTERM");
    expect(await p.proc.exited).toBe(128 + 15);
    expect(ours(ns, ifname)).toEqual({ links: [], rules: [], routes: [] });
    expect(existsSync(join(ns.stateDir, `tun-${ifname}.json`))).toBe(false);
  });

  test("after kill -9 the next start removes the leftovers", async () => {
    ns = new Netns();
    const ifname = `tfz${suffix()}`;
    const p = ns.spawnBun(SCRIPT, [ns.stateDir, ifname]);
    expect((await p.json()).ready).toBe(true);
    p.proc.kill("SIGKILL");
    await p.proc.exited;
    // The device died with its fd; the policy rules did not.
    const left = ours(ns, ifname);
    expect(left.links).toEqual([]);
    expect(left.rules.length).toBe(6);
    expect(existsSync(join(ns.stateDir, `tun-${ifname}.json`))).toBe(true);

    const again = ns.spawnBun(SCRIPT, [ns.stateDir, ifname, "--no-wait"]);
    const ready = await again.json();
    expect(ready.error).toBeUndefined();
    expect((await again.json()).closed).toBe(true);
    expect(await again.proc.exited).toBe(0);
    expect(ours(ns, ifname)).toEqual({ links: [], rules: [], routes: [] });
    expect(readdirSync(ns.stateDir)).toEqual([]);
  });
});
