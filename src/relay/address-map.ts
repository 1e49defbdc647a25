/**
 * A map keyed by a UDP socket address (IP text as the socket layer reports it, port number).
 *
 * Two levels (address → port → value) so that a lookup on the packet path uses the strings and
 * numbers the socket already handed us: no key string is built per packet.
 */
export class AddressMap<V> {
  private readonly byAddress = new Map<string, Map<number, V>>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(address: string, port: number): V | undefined {
    const ports = this.byAddress.get(address);
    return ports === undefined ? undefined : ports.get(port);
  }

  set(address: string, port: number, value: V): void {
    let ports = this.byAddress.get(address);
    if (ports === undefined) {
      ports = new Map();
      this.byAddress.set(address, ports);
    }
    if (!ports.has(port)) this.count++;
    ports.set(port, value);
  }

  delete(address: string, port: number): boolean {
    const ports = this.byAddress.get(address);
    if (ports === undefined || !ports.delete(port)) return false;
    this.count--;
    if (ports.size === 0) this.byAddress.delete(address);
    return true;
  }

  /** How many entries share this IP address (e.g. allocations per client host). */
  countAt(address: string): number {
    return this.byAddress.get(address)?.size ?? 0;
  }

  *values(): IterableIterator<V> {
    for (const ports of this.byAddress.values()) yield* ports.values();
  }

  clear(): void {
    this.byAddress.clear();
    this.count = 0;
  }
}
