import { IceAgent, type IceEvent } from "../../src/ice/agent.ts";
import { parseMessage, type SocketAddress } from "../../src/stun/index.ts";

/**
 * Two ICE agents on a toy wire: every transmit is delivered to the agent that owns the
 * destination address after `latency` ms, unless `blocked` says the path is cut. `rewrite` maps
 * a source address as a NAT would.
 */
export class Wire {
  now = 0;
  readonly events = new Map<IceAgent, IceEvent[]>();
  private queue: Array<{ at: number; to: IceAgent; from: SocketAddress; dst: SocketAddress; payload: Uint8Array }> = [];
  blocked: (from: SocketAddress, to: SocketAddress) => boolean = () => false;
  rewrite: (from: SocketAddress) => SocketAddress = (a) => a;
  /** The NAT's inbound translation: public destination → the private socket behind it. */
  inbound: (to: SocketAddress) => SocketAddress = (a) => a;
  delivered = 0;

  constructor(
    readonly agents: Array<{ agent: IceAgent; owns: (a: SocketAddress) => boolean }>,
    readonly latency = 5,
  ) {
    for (const { agent } of agents) this.events.set(agent, []);
  }

  /** Runs until `until` ms, waking each agent when it asks to. */
  run(until: number): void {
    while (this.now <= until) {
      for (const { agent } of this.agents) {
        const t = agent.pollTimeout();
        if (t && t.at <= this.now) agent.handleTimeout(this.now);
        this.drain(agent);
      }
      const due = this.queue.filter((m) => m.at <= this.now);
      this.queue = this.queue.filter((m) => m.at > this.now);
      for (const m of due) {
        const parsed = parseMessage(m.payload);
        if (!parsed.ok) throw new Error(`bad STUN on the wire: ${parsed.reason}`);
        if (m.to.accepts(parsed.message)) m.to.handleStun(parsed.message, m.from, m.dst, this.now);
        this.delivered++;
        this.drain(m.to);
      }
      this.now += 5;
    }
  }

  private drain(agent: IceAgent): void {
    for (let t = agent.pollTransmit(); t; t = agent.pollTransmit()) {
      if (this.blocked(t.source, t.destination)) continue;
      const target = this.agents.find((x) => x.agent !== agent && x.owns(t.destination));
      if (!target) continue;
      this.queue.push({ at: this.now + this.latency, to: target.agent, from: this.rewrite(t.source), dst: this.inbound(t.destination), payload: t.payload });
    }
    for (let e = agent.pollEvent(); e; e = agent.pollEvent()) this.events.get(agent)!.push(e);
  }

  lastState(agent: IceAgent): string | undefined {
    const states = this.events.get(agent)!.filter((e) => e.type === "state");
    return states.length ? (states[states.length - 1] as { state: string }).state : undefined;
  }

  nominations(agent: IceAgent): Array<Extract<IceEvent, { type: "nominated" }>> {
    return this.events.get(agent)!.filter((e): e is Extract<IceEvent, { type: "nominated" }> => e.type === "nominated");
  }
}

export const addr = (ip: string, port: number): SocketAddress => ({ ip, port });
export const is = (a: SocketAddress) => (b: SocketAddress) => a.ip === b.ip && a.port === b.port;
