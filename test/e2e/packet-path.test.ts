/**
 * The packet path through real TUN devices in namespaces the test creates:
 * - the kernel pings addresses behind the TUN and the Worker's echo responder answers (v4, v6);
 * - UDP (v4, v6) and TCP SYN packets the kernel routes into the TUN arrive parsed correctly;
 * - two namespaces joined by a veth, each with a TUN and a forwarding Worker, carry ping and
 *   TCP traffic over UDP, with the FFI transport and with Bun.udpSocket.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { spawnSync } from "bun";
import { join } from "node:path";
import { BUN, Netns, suffix } from "./netns.ts";

const NODE = join(import.meta.dir, "fixtures/tunnel-node.ts");
const PARSE = join(import.meta.dir, "fixtures/tun-parse.ts");
const TCP = join(import.meta.dir, "fixtures/tcp-digest.ts");
const CATCH = join(import.meta.dir, "fixtures/udp-catch.ts");
const spaces: Netns[] = [];
afterEach(() => {
  for (const n of spaces.splice(0)) n.destroy();
});
function netns(): Netns {
  const n = new Netns();
  spaces.push(n);
  return n;
}

function ping(ns: Netns, target: string, count = 3): { code: number; stdout: string } {
  const wait = count === 1 ? "1" : "5";
  return ns.exec(["ping", ...(target.includes(":") ? ["-6"] : []), "-c", String(count), "-i", "0.2", "-W", wait, target]);
}

describe("packet path", () => {
  test("kernel pings behind the TUN; the Worker's echo responder answers", async () => {
    const ns = netns();
    const ifname = `tfz${suffix()}`;
    const node = ns.spawnBun(NODE, [ns.stateDir, ifname, "10.77.0.1/32,fd77::1/128", "10.77.1.0/24,fd77:1::/64", "echo"]);
    const ready = await node.json();
    expect(ready.error).toBeUndefined();
    const v4 = ping(ns, "10.77.1.5");
    expect(v4.stdout).toContain("3 packets transmitted, 3 received");
    const v6 = ping(ns, "fd77:1::5");
    expect(v6.stdout).toContain("3 packets transmitted, 3 received");
    node.send("stats");
    const stats = await node.json();
    expect(stats.tunRxPackets).toBeGreaterThanOrEqual(6);
    expect(stats.tunTxPackets).toBeGreaterThanOrEqual(6);
    expect(stats.tunTxErrors).toBe(0);
    node.send("close");
    expect(await node.json()).toEqual({ closed: true });
    expect(ns.ipJson<any[]>("link").some((l) => l.ifname === ifname)).toBe(false);
  }, 30_000);

  test("UDP v4/v6 and TCP SYN from the kernel arrive parsed", async () => {
    const ns = netns();
    const p = ns.spawnBun(PARSE, [ns.stateDir, `tfz${suffix()}`]);
    const got: any[] = [];
    while (got.length < 3) got.push(await p.json());
    p.send("close");
    const byKey = Object.fromEntries(got.map((g) => [`${g.version}/${g.protocol}`, g]));
    expect(byKey["4/udp"]).toMatchObject({ src: "10.66.0.1", dst: "10.66.1.9", dstPort: 5353, payload: "hello-v4" });
    expect(byKey["6/udp"]).toMatchObject({ src: "fd66::1", dst: "fd66:1::9", dstPort: 5354, payload: "hello-v6" });
    expect(byKey["4/tcp"]).toMatchObject({ src: "10.66.0.1", dst: "10.66.1.9", dstPort: 8080, payload: "" });
    expect(byKey["4/tcp"].tcpFlags & 0x3f).toBe(0x02); // SYN only
    expect(await p.proc.exited).toBe(0);
  }, 30_000);

  for (const transport of ["ffi", "bun"]) {
    test(`two namespaces, TUN ⇄ UDP forwarding Workers (${transport} transport): ping and TCP`, async () => {
      const a = netns();
      const b = netns();
      const va = `va${suffix()}`;
      const vb = `vb${suffix()}`;
      const sh = (cmd: string[]) => {
        const r = spawnSync(cmd, { stderr: "pipe" });
        if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")}: ${r.stderr}`);
      };
      sh(["ip", "link", "add", va, "netns", a.name, "type", "veth", "peer", "name", vb, "netns", b.name]);
      sh(["ip", "-n", a.name, "addr", "add", "10.99.0.1/24", "dev", va]);
      sh(["ip", "-n", b.name, "addr", "add", "10.99.0.2/24", "dev", vb]);
      sh(["ip", "-n", a.name, "link", "set", va, "up"]);
      sh(["ip", "-n", b.name, "link", "set", vb, "up"]);
      const na = a.spawnBun(NODE, [a.stateDir, `ta${suffix()}`, "10.88.0.1/32", "10.88.0.2/32", "forward", "10.99.0.1:51820", "10.99.0.2:51820", transport]);
      const nb = b.spawnBun(NODE, [b.stateDir, `tb${suffix()}`, "10.88.0.2/32", "10.88.0.1/32", "forward", "10.99.0.2:51820", "10.99.0.1:51820", transport]);
      for (const n of [na, nb]) {
        const r = await n.json();
        expect(r.error).toBeUndefined();
        expect(r.transport).toBe(transport);
      }
      expect(ping(a, "10.88.0.2").stdout).toContain("3 packets transmitted, 3 received");
      // A TCP transfer of 2 MB through the tunnel, checked byte for byte by its digest.
      const server = b.spawnBun(TCP, ["server", "10.88.0.2", "7000"]);
      expect(await server.line()).toBe("up");
      const client = a.exec([BUN, TCP, "client", "10.88.0.2", "7000", "2000000"]);
      expect(client.code).toBe(0);
      expect(await server.line()).toBe(client.stdout.trim());
      if (transport === "ffi") {
        // A control message (rare, never per packet) moves A's peer to another port on B.
        const catcher = b.spawnBun(CATCH, ["10.99.0.2", "7777"]);
        expect(await catcher.line()).toBe("up");
        na.send("peer 10.99.0.2:7777");
        expect(await na.json()).toEqual({ peer: "10.99.0.2:7777" });
        // The Worker applies it between turns; pings until the catcher has one (ping -c 1 each).
        let caught: string | null = null;
        const line = catcher.line().then((l) => (caught = l));
        for (let i = 0; i < 50 && caught === null; i++) {
          ping(a, "10.88.0.2", 1);
          await Bun.sleep(1); // let the catcher's output be read between the synchronous pings
        }
        await line;
        expect(caught!).toBe("84 4"); // an 84-byte IPv4 packet (the ping) as the UDP payload
        na.send("peer 10.99.0.2:51820");
        await na.json();
      }
      for (const n of [na, nb]) {
        n.send("stats");
        const s = await n.json();
        expect(s.udpTxPackets).toBeGreaterThan(100);
        expect(s.handlerDrops).toBe(0);
        n.send("close");
        expect(await n.json()).toEqual({ closed: true });
      }
    }, 60_000);
  }
});
