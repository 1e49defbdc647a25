/**
 * The TUN device and everything installed for it: MTU, link up, addresses, routes in our tables
 * and the fwmark policy rules — all through rtnetlink, all undone by `close()`.
 *
 * What lives outside the device (policy rules) is recorded in a state file after each change,
 * and `TunDevice.open` undoes the leftovers of a run that died before its `close()`.
 * The packet data path only needs `fd` (possibly in a Worker: same process, same fd table).
 */
import { closeTun, ifIndex, openTun, type TunFd } from "../../ffi/tun.ts";
import { EEXIST, ENODEV, ENOENT, ESRCH, EADDRNOTAVAIL, SysError } from "../../ffi/errno.ts";
import { logger } from "../log/index.ts";
import { DEFAULT_STATE_DIR, InstallStateFile, type InstalledState } from "./install-state.ts";
import * as C from "./netlink/constants.ts";
import { familyOf, type RuleSpec } from "./netlink/codec.ts";
import { RtNetlink, describeRule } from "./netlink/rtnetlink.ts";

const log = logger("io::tun");

export interface TunDeviceOptions {
  /** Default `tun-firezone`. */
  name?: string;
  /** Default 1280 (Firezone's). */
  mtu?: number;
  /** Where the install-state file lives; default `/run/firezone`. Tests use a temp dir. */
  stateDir?: string;
  multiQueue?: boolean;
  /** TX queue length (packets the kernel holds for us to read); default 10 000 like Firezone. */
  txQueueLen?: number;
}

export class TunDevice {
  /** Non-blocking fd for the packet path. -1 after close. */
  get fd(): number {
    return this.tun.fd;
  }
  readonly name: string;
  readonly index: number;
  readonly mtu: number;
  readonly multiQueue: boolean;
  private readonly queues: TunFd[] = [];
  private closed = false;

  private constructor(
    private readonly tun: TunFd,
    private readonly nl: RtNetlink,
    private readonly stateFile: InstallStateFile,
    private readonly state: InstalledState,
    mtu: number,
    multiQueue: boolean,
  ) {
    this.multiQueue = multiQueue;
    this.name = tun.name;
    this.index = ifIndex(tun.name);
    this.mtu = mtu;
  }

  /** Opens the device (after undoing a dead run's leftovers), sets the MTU and brings it up. */
  static open(opts: TunDeviceOptions = {}): TunDevice {
    const name = opts.name ?? C.FIREZONE_TUN_NAME;
    const mtu = opts.mtu ?? C.FIREZONE_MTU;
    const stateFile = new InstallStateFile(opts.stateDir ?? DEFAULT_STATE_DIR, name);
    const nl = new RtNetlink();
    let tun: TunFd | null = null;
    try {
      undoLeftovers(nl, stateFile, name);
      tun = openTun({ name, multiQueue: opts.multiQueue, nonBlocking: true });
      const state: InstalledState = { version: 1, pid: process.pid, device: tun.name, addresses: [], routes: [], rules: [] };
      const dev = new TunDevice(tun, nl, stateFile, state, mtu, opts.multiQueue === true);
      stateFile.save(state);
      nl.setLink({ index: dev.index, mtu, txQueueLen: opts.txQueueLen ?? 10_000 }, dev.name);
      nl.setLink({ index: dev.index, up: true }, dev.name);
      log.info("TUN device up", { name: dev.name, index: dev.index, mtu });
      return dev;
    } catch (e) {
      if (tun) closeTun(tun);
      nl.close();
      throw e;
    }
  }

  /**
   * Another fd on the same device (IFF_MULTI_QUEUE; the device must have been opened with
   * `multiQueue: true`): one per data-plane Worker once there are more cores than one loop
   * can use. `close()` closes these too (the link only goes away with its last fd).
   */
  openQueue(): number {
    if (!this.multiQueue) throw new Error(`${this.name} was opened without multiQueue`);
    const q = openTun({ name: this.name, multiQueue: true, nonBlocking: true });
    this.queues.push(q);
    return q.fd;
  }

  /** Adds `10.0.0.1/32` or `fd00::1/128` (a bare address means a host prefix). */
  addAddress(prefix: string): void {
    this.nl.addAddress(this.index, withHostLen(prefix), this.name);
    this.state.addresses.push(withHostLen(prefix));
    this.save();
  }

  removeAddress(prefix: string): void {
    this.nl.delAddress(this.index, withHostLen(prefix), this.name);
    this.state.addresses = this.state.addresses.filter((a) => a !== withHostLen(prefix));
    this.save();
  }

  addRoute(dst: string, table: number = C.FIREZONE_TABLE_USER): void {
    this.nl.addRoute({ dst, index: this.index, table }, this.name);
    this.state.routes.push({ dst, table });
    this.save();
  }

  removeRoute(dst: string, table: number = C.FIREZONE_TABLE_USER): void {
    this.nl.delRoute({ dst, index: this.index, table }, this.name);
    this.state.routes = this.state.routes.filter((r) => !(r.dst === dst && r.table === table));
    this.save();
  }

  /**
   * Makes the device's addresses exactly `prefixes` (Firezone: one /32 and one /128), removing
   * others we installed; already-present ones are kept (EEXIST is success here).
   */
  setAddresses(prefixes: string[]): void {
    const want = new Set(prefixes.map(withHostLen));
    for (const a of [...this.state.addresses]) if (!want.has(a)) this.removeAddress(a);
    for (const a of want) if (!this.state.addresses.includes(a)) this.addAddress(a);
  }

  /**
   * Makes the routes through the device exactly `prefixes`, as Firezone's `set_routes`: default
   * routes (`0.0.0.0/0`, `::/0`) go to the Internet table, everything else to the user table.
   * Only the difference is sent; a route the kernel already has (EEXIST) or has already lost
   * (ESRCH) is not an error.
   */
  setRoutes(prefixes: string[]): void {
    const tableFor = (dst: string) => (/^(0\.0\.0\.0|::)\/0$/.test(dst) ? C.FIREZONE_TABLE_INTERNET : C.FIREZONE_TABLE_USER);
    const want = new Map(prefixes.map((p) => [p, tableFor(p)]));
    for (const r of [...this.state.routes]) {
      if (want.get(r.dst) === r.table) continue;
      tolerate([ESRCH, ENOENT], () => this.nl.delRoute({ dst: r.dst, index: this.index, table: r.table }, this.name));
      this.state.routes = this.state.routes.filter((x) => x !== r);
    }
    for (const [dst, table] of want) {
      if (this.state.routes.some((r) => r.dst === dst && r.table === table)) continue;
      tolerate([EEXIST], () => this.nl.addRoute({ dst, index: this.index, table }, this.name));
      this.state.routes.push({ dst, table });
    }
    this.save();
  }

  /** The routes of `table` that go out of this device, as the kernel reports them. */
  routes(table: number = C.FIREZONE_TABLE_USER): string[] {
    return this.nl
      .routes(table)
      .filter((r) => r.index === this.index)
      .map((r) => r.dst);
  }

  addRule(spec: RuleSpec): void {
    // Recorded before it is sent: a crash between the two leaves a harmless ENOENT at recovery.
    this.state.rules.push(spec);
    this.save();
    try {
      this.nl.addRule(spec);
    } catch (e) {
      this.state.rules.pop();
      this.save();
      throw e;
    }
  }

  removeRule(spec: RuleSpec): void {
    this.nl.delRule(spec);
    this.state.rules = this.state.rules.filter((r) => !sameRule(r, spec));
    this.save();
  }

  /** Firezone's policy: `not fwmark <mark> lookup <table>` at priorities 100/200/300, v4 and v6. */
  installPolicyRules(fwmark: number = C.FIREZONE_MARK): void {
    for (const family of [C.AF_INET, C.AF_INET6] as const) {
      for (const { table, priority } of C.FIREZONE_RULES) {
        this.addRule({ family, priority, table, fwmark, invert: true });
      }
    }
  }

  /** Undoes everything in reverse order, then closes the fd (which removes the link). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    undoState(this.nl, this.state, this.index, this.name);
    for (const q of this.queues) closeTun(q);
    closeTun(this.tun);
    this.stateFile.remove();
    this.nl.close();
    log.info("TUN device closed", { name: this.name });
  }

  private save(): void {
    this.stateFile.save(this.state);
  }
}

/** Undoes a previous run's recorded changes if that run is gone (its device no longer exists). */
function undoLeftovers(nl: RtNetlink, stateFile: InstallStateFile, name: string): void {
  const prev = stateFile.load();
  if (!prev) return;
  let index = -1;
  try {
    index = ifIndex(prev.device);
  } catch {
    // The device went away with the dead run's fds: expected.
  }
  if (index >= 0 && prev.pid !== process.pid && pidAlive(prev.pid)) {
    throw new SysError(16, "EBUSY", "Device or resource busy", `${name} is held by a running instance (pid ${prev.pid}); state in ${stateFile.path}`);
  }
  log.warn("undoing leftovers of a previous run", { device: prev.device, pid: prev.pid, rules: prev.rules.length, routes: prev.routes.length });
  undoState(nl, prev, index, prev.device);
  stateFile.remove();
}

function undoState(nl: RtNetlink, state: InstalledState, index: number, name: string): void {
  const gone = (e: unknown) => e instanceof SysError && [ENOENT, ESRCH, ENODEV, EADDRNOTAVAIL].includes(e.errno);
  const attempt = (what: string, fn: () => void) => {
    try {
      fn();
    } catch (e) {
      if (!gone(e)) log.warn("undo failed", { what, error: String(e) });
    }
  };
  for (const rule of [...state.rules].reverse()) attempt(describeRule(rule), () => nl.delRule(rule));
  if (index >= 0) {
    for (const r of [...state.routes].reverse()) attempt(r.dst, () => nl.delRoute({ dst: r.dst, index, table: r.table }, name));
    for (const a of [...state.addresses].reverse()) attempt(a, () => nl.delAddress(index, a, name));
  }
  state.rules = [];
  state.routes = [];
  state.addresses = [];
}

function tolerate(errnos: number[], fn: () => void): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof SysError && errnos.includes(e.errno))) throw e;
  }
}

function withHostLen(prefix: string): string {
  if (prefix.includes("/")) return prefix;
  return `${prefix}/${familyOf(prefix) === C.AF_INET6 ? 128 : 32}`;
}

function sameRule(a: RuleSpec, b: RuleSpec): boolean {
  return a.family === b.family && a.priority === b.priority && a.table === b.table && a.fwmark === b.fwmark && !!a.invert === !!b.invert;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
