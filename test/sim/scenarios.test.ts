/**
 * The snownet Node on the simulated network: the scenarios Firezone's connectivity must survive.
 * Every time is virtual (ms); each test prints its measurements as `[sim] …` lines.
 */
import { describe, expect, test } from "bun:test";
import { ProbeFlow } from "./traffic.ts";
import { buildWorld, report, suiteSeeds, untilEstablished, type Placement } from "./world.ts";

const SEEDS = suiteSeeds([1, 2, 3]);

describe("1. both peers public", () => {
  for (const seed of SEEDS) {
    test(`direct path (seed ${seed})`, () => {
      const w = buildWorld({ seed });
      w.sim.runFor(1_000); // relays answer, candidates exist
      const t0 = w.sim.now;
      w.portal.connect(w.client, w.gateway);
      const at = untilEstablished(w);
      expect(at).toBeDefined();
      const path = w.client.node.connection("gateway")!.path!;
      expect(path.kind).toBe("peer-to-peer");
      expect(w.gateway.node.connection("client")!.path!.kind).toBe("peer-to-peer");
      const up = new ProbeFlow(w.sim, w.client, w.gateway, 7000).start();
      const down = new ProbeFlow(w.sim, w.gateway, w.client, 7001).start();
      w.sim.runFor(2_000);
      up.stop();
      down.stop();
      w.sim.runFor(500);
      expect(up.received.size).toBe(up.sent.length);
      expect(down.received.size).toBe(down.sent.length);
      report("1 public/public", { seed, established_ms: at! - t0, path: path.kind });
    });
  }
});
