/**
 * The simulated network itself: NAT mapping and filtering behaviours, latency and jitter,
 * loss accounting, link cuts, partitions, roaming, determinism and the step budget.
 */
import { describe, expect, test } from "bun:test";
import type { Datagram, NatKind, SimHost, SocketAddress } from "./network.ts";
import { Prng } from "./prng.ts";
import { Sim, StepBudgetExceeded } from "./sim.ts";

const A = (ip: string, port: number): SocketAddress => ({ ip, port });

function inbox(host: SimHost, addr: SocketAddress): Datagram[] {
  const got: Datagram[] = [];
  host.bind(addr, (d) => got.push({ ...d, src: { ...d.src }, dst: { ...d.dst } }));
  return got;
}

/** A host behind a NAT of `kind`, two public servers S1 (2 ports) and S2. */
function natWorld(kind: NatKind) {
  const sim = new Sim({ seed: 1 });
  const nat = sim.net.addNat("nat", kind, "198.51.100.1");
  const inside = sim.net.addHost("inside", "10.0.0.2", { realm: nat.inside });
  const s1 = sim.net.addHost("s1", "203.0.113.1");
  const s2 = sim.net.addHost("s2", "203.0.113.2");
  const me = A("10.0.0.2", 5000);
  const mine = inbox(inside, me);
  const s1a = inbox(s1, A("203.0.113.1", 3478));
  const s1b = inbox(s1, A("203.0.113.1", 3479));
  const s2a = inbox(s2, A("203.0.113.2", 3478));
  return { sim, nat, inside, s1, s2, me, mine, s1a, s1b, s2a };
}

describe("NAT behaviours", () => {
  const cases: Array<[NatKind, { sameMapping: boolean; fromOtherIp: boolean; fromOtherPort: boolean }]> = [
    ["full-cone", { sameMapping: true, fromOtherIp: true, fromOtherPort: true }],
    ["restricted", { sameMapping: true, fromOtherIp: false, fromOtherPort: true }],
    ["port-restricted", { sameMapping: true, fromOtherIp: false, fromOtherPort: false }],
    ["symmetric", { sameMapping: false, fromOtherIp: false, fromOtherPort: false }],
  ];
  for (const [kind, expect_] of cases) {
    test(kind, () => {
      const w = natWorld(kind);
      w.inside.send(w.me, A("203.0.113.1", 3478), new Uint8Array([1]));
      w.inside.send(w.me, A("203.0.113.2", 3478), new Uint8Array([2]));
      w.sim.runFor(100);
      expect(w.s1a.length).toBe(1);
      expect(w.s2a.length).toBe(1);
      const m1 = w.s1a[0]!.src;
      const m2 = w.s2a[0]!.src;
      expect(m1.ip).toBe("198.51.100.1");
      expect(m1.port === m2.port).toBe(expect_.sameMapping);
      // Replies: from where we sent (always allowed), from the same IP's other port, from a stranger IP.
      w.s1.send(A("203.0.113.1", 3478), m1, new Uint8Array([10]));
      w.s1.send(A("203.0.113.1", 3479), m1, new Uint8Array([11]));
      const stranger = w.sim.net.addHost("stranger", "203.0.113.9");
      stranger.send(A("203.0.113.9", 1), m1, new Uint8Array([12]));
      w.sim.runFor(100);
      const got = w.mine.map((d) => d.payload[0]);
      expect(got).toContain(10);
      expect(got.includes(11)).toBe(expect_.fromOtherPort);
      expect(got.includes(12)).toBe(expect_.fromOtherIp);
      for (const d of w.mine) expect(d.dst).toEqual(w.me);
    });
  }

  test("mappings expire after the timeout without outbound traffic", () => {
    const sim = new Sim({ seed: 3 });
    const nat = sim.net.addNat("nat", "port-restricted", "198.51.100.1", { mappingTimeout: 30_000 });
    const h = sim.net.addHost("h", "10.0.0.2", { realm: nat.inside });
    const s = sim.net.addHost("s", "203.0.113.1");
    const mine = inbox(h, A("10.0.0.2", 1));
    const theirs = inbox(s, A("203.0.113.1", 2));
    h.send(A("10.0.0.2", 1), A("203.0.113.1", 2), new Uint8Array(1));
    sim.runFor(50);
    const mapped = theirs[0]!.src;
    sim.runFor(29_000);
    s.send(A("203.0.113.1", 2), mapped, new Uint8Array(1));
    sim.runFor(50);
    expect(mine.length).toBe(1);
    sim.runFor(2_000);
    s.send(A("203.0.113.1", 2), mapped, new Uint8Array(1));
    sim.runFor(50);
    expect(mine.length).toBe(1);
    expect(sim.net.stats.dropped["nat-no-mapping"]).toBe(1);
  });

  test("hairpin: two hosts behind one NAT reach each other's public mapping", () => {
    const sim = new Sim({ seed: 4 });
    const nat = sim.net.addNat("nat", "full-cone", "198.51.100.1");
    const a = sim.net.addHost("a", "10.0.0.2", { realm: nat.inside });
    const b = sim.net.addHost("b", "10.0.0.3", { realm: nat.inside });
    const s = sim.net.addHost("s", "203.0.113.1");
    const seen = inbox(s, A("203.0.113.1", 9));
    const bIn = inbox(b, A("10.0.0.3", 7));
    b.send(A("10.0.0.3", 7), A("203.0.113.1", 9), new Uint8Array(1));
    sim.runFor(50);
    a.send(A("10.0.0.2", 1), seen[0]!.src, new Uint8Array([42]));
    sim.runFor(50);
    expect(bIn.map((d) => d.payload[0])).toEqual([42]);
  });
});

describe("links", () => {
  test("latency is the sum of both attachments, per hop through a NAT", () => {
    const sim = new Sim({ seed: 5 });
    const nat = sim.net.addNat("nat", "full-cone", "198.51.100.1", { link: { latency: 10 }, lanLatency: 2 });
    const h = sim.net.addHost("h", "10.0.0.2", { realm: nat.inside, link: { latency: 1 } });
    const s = sim.net.addHost("s", "203.0.113.1", { link: { latency: 20 } });
    let arrived = -1;
    s.bind(A("203.0.113.1", 1), (_d, now) => (arrived = now));
    h.send(A("10.0.0.2", 1), A("203.0.113.1", 1), new Uint8Array(1));
    sim.runFor(1000);
    expect(arrived).toBe(1 + 2 + 10 + 20);
  });

  test("jitter reorders, loss is counted by origin, a cut link drops everything", () => {
    const sim = new Sim({ seed: 6 });
    const a = sim.net.addHost("a", "203.0.113.1", { link: { latency: 5, jitter: 20, loss: 0.1 } });
    const b = sim.net.addHost("b", "203.0.113.2");
    const got = inbox(b, A("203.0.113.2", 1));
    const ids: number[] = [];
    for (let i = 0; i < 1000; i++) ids.push(a.send(A("203.0.113.1", 1), A("203.0.113.2", 1), new Uint8Array([i & 0xff, i >> 8])));
    sim.runFor(1000);
    const order = got.map((d) => d.payload[0]! | (d.payload[1]! << 8));
    let inversions = 0;
    for (let i = 1; i < order.length; i++) if (order[i]! < order[i - 1]!) inversions++;
    expect(inversions).toBeGreaterThan(100);
    expect(got.length + sim.net.stats.dropped.loss).toBe(1000);
    expect(got.length).toBeGreaterThan(850);
    expect(got.length).toBeLessThan(950);
    // Every id is either delivered or remembered as lost.
    const delivered = new Set(got.map((d) => d.id));
    for (const id of ids) expect(delivered.has(id) !== sim.net.lost.has(id)).toBe(true);

    a.link.loss = 0;
    b.link.up = false;
    a.send(A("203.0.113.1", 1), A("203.0.113.2", 1), new Uint8Array(2));
    sim.runFor(100);
    expect(sim.net.stats.dropped["link-down"]).toBe(1);
    b.link.up = true;
    a.send(A("203.0.113.1", 1), A("203.0.113.2", 1), new Uint8Array(2));
    sim.runFor(100);
    expect(sim.net.stats.dropped["link-down"]).toBe(1);
  });

  test("taking a link down loses what is on the wire to and from it", () => {
    const sim = new Sim({ seed: 9 });
    const a = sim.net.addHost("a", "203.0.113.1", { link: { latency: 50 } });
    const b = sim.net.addHost("b", "203.0.113.2", { link: { latency: 50 } });
    const c = sim.net.addHost("c", "203.0.113.3", { link: { latency: 50 } });
    const bIn = inbox(b, A("203.0.113.2", 1));
    const cIn = inbox(c, A("203.0.113.3", 1));
    const toB = a.send(A("203.0.113.1", 1), A("203.0.113.2", 1), new Uint8Array(1));
    a.send(A("203.0.113.1", 1), A("203.0.113.3", 1), new Uint8Array(1));
    sim.runFor(10);
    sim.net.setLink(b.interfaces[0]!, false);
    sim.runFor(200);
    expect(bIn.length).toBe(0);
    expect(cIn.length).toBe(1);
    expect(sim.net.lost.get(toB)).toBe("link-down");
  });

  test("a host with two interfaces sends from each into its own network", () => {
    const sim = new Sim({ seed: 8 });
    const nat = sim.net.addNat("nat", "port-restricted", "198.51.100.1");
    const h = sim.net.addHost("multi", "203.0.113.5");
    sim.net.addInterface(h, "10.0.0.5", { realm: nat.inside });
    const lanPeer = sim.net.addHost("lan", "10.0.0.6", { realm: nat.inside });
    const s = sim.net.addHost("s", "203.0.113.1");
    const sIn = inbox(s, A("203.0.113.1", 1));
    const lanIn = inbox(lanPeer, A("10.0.0.6", 1));
    h.send(A("203.0.113.5", 9), A("203.0.113.1", 1), new Uint8Array(1));
    h.send(A("10.0.0.5", 9), A("203.0.113.1", 1), new Uint8Array(1));
    h.send(A("10.0.0.5", 9), A("10.0.0.6", 1), new Uint8Array(1));
    h.send(A("192.168.1.1", 9), A("203.0.113.1", 1), new Uint8Array(1));
    sim.runFor(100);
    expect(sIn.map((d) => d.src.ip).sort()).toEqual(["198.51.100.1", "203.0.113.5"]);
    expect(lanIn.map((d) => d.src)).toEqual([A("10.0.0.5", 9)]);
    expect(sim.net.stats.dropped["no-interface"]).toBe(1);
  });

  test("partition cuts both ways between two groups only; roaming moves the sockets", () => {
    const sim = new Sim({ seed: 7 });
    const a = sim.net.addHost("a", "203.0.113.1");
    const b = sim.net.addHost("b", "203.0.113.2");
    const c = sim.net.addHost("c", "203.0.113.3");
    const bIn = inbox(b, A("203.0.113.2", 1));
    const cIn = inbox(c, A("203.0.113.3", 1));
    sim.net.partition("ab", [a], [b]);
    a.send(A("203.0.113.1", 1), A("203.0.113.2", 1), new Uint8Array(1));
    a.send(A("203.0.113.1", 1), A("203.0.113.3", 1), new Uint8Array(1));
    sim.runFor(100);
    expect(bIn.length).toBe(0);
    expect(cIn.length).toBe(1);
    sim.net.removeRule("ab");
    a.send(A("203.0.113.1", 1), A("203.0.113.2", 1), new Uint8Array(1));
    sim.runFor(100);
    expect(bIn.length).toBe(1);

    const nat = sim.net.addNat("nat", "port-restricted", "198.51.100.1");
    b.move(b.interfaces[0]!, nat.inside, "10.0.0.9");
    b.send(A("10.0.0.9", 1), A("203.0.113.3", 1), new Uint8Array([5]));
    sim.runFor(100);
    expect(cIn[1]!.src.ip).toBe("198.51.100.1");
  });
});

describe("loop", () => {
  test("same seed, same history; another seed, another one", () => {
    const run = (seed: number) => {
      const sim = new Sim({ seed });
      const a = sim.net.addHost("a", "203.0.113.1", { link: { latency: 3, jitter: 7, loss: 0.2 } });
      const b = sim.net.addHost("b", "203.0.113.2");
      const trace: string[] = [];
      b.bind(A("203.0.113.2", 1), (d, now) => trace.push(`${d.id}@${now.toFixed(3)}`));
      for (let i = 0; i < 200; i++) a.send(A("203.0.113.1", 1), A("203.0.113.2", 1), new Uint8Array(1));
      sim.runFor(500);
      return trace.join(",");
    };
    expect(run(11)).toBe(run(11));
    expect(run(11)).not.toBe(run(12));
  });

  test("a component that never stops asking fails on the step budget, naming itself", () => {
    const sim = new Sim({ seed: 1, stepBudget: 1000 });
    sim.add({ name: "spinner", pollTimeout: () => ({ at: 0, reason: "spin" }), handleTimeout: () => {}, flush: () => {} });
    expect(() => sim.runFor(10)).toThrow(StepBudgetExceeded);
    expect(() => sim.runFor(10)).toThrow(/spinner: spin/);
  });

  test("prng forks are independent of draw order", () => {
    const p = new Prng(99);
    const f1 = p.fork("x").u32();
    p.u32();
    p.u32();
    expect(p.fork("x").u32()).toBe(f1);
    expect(p.fork("y").u32()).not.toBe(f1);
  });
});
