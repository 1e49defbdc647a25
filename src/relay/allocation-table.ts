import { AddressMap } from "./address-map.ts";
import type { Allocation } from "./allocation.ts";

/**
 * Every live allocation, indexed three ways, each O(1): by client 5-tuple (the relay's side of the
 * tuple is fixed per listening socket, so the client's address and port identify it), by relay
 * port (data from peers), and by username (Firezone allows one allocation per username so that a
 * roaming client's old allocation goes away).
 */
export class AllocationTable {
  private readonly byClient = new AddressMap<Allocation>();
  /** Indexed by port number: a plain array beats hashing on the peer-data path. */
  private readonly byPort: (Allocation | undefined)[] = new Array(65536).fill(undefined);
  private readonly byUsername = new Map<string, Allocation>();

  get size(): number {
    return this.byClient.size;
  }

  forClient(ip: string, port: number): Allocation | undefined {
    return this.byClient.get(ip, port);
  }

  forPort(port: number): Allocation | undefined {
    return this.byPort[port];
  }

  forUsername(username: string): Allocation | undefined {
    return this.byUsername.get(username);
  }

  /** Allocations held by one client IP (any port), for the per-host quota. */
  countForIp(ip: string): number {
    return this.byClient.countAt(ip);
  }

  add(a: Allocation): void {
    this.byClient.set(a.clientIp, a.clientPort, a);
    this.byPort[a.port] = a;
    this.byUsername.set(a.username, a);
  }

  remove(a: Allocation): void {
    if (this.byClient.get(a.clientIp, a.clientPort) === a) this.byClient.delete(a.clientIp, a.clientPort);
    if (this.byPort[a.port] === a) this.byPort[a.port] = undefined;
    if (this.byUsername.get(a.username) === a) this.byUsername.delete(a.username);
  }

  values(): IterableIterator<Allocation> {
    return this.byClient.values();
  }
}
