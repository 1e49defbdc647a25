/**
 * Receiver indices of one local node: random 32-bit values, unique while in use, mapped to
 * their owner (a tunnel) so an incoming response, cookie reply or transport message finds its
 * peer in O(1). Random rather than sequential so an observer cannot count our sessions and an
 * old, freed index is unlikely to be reused soon (paper §5.4.2: "randomly generated").
 */
export class IndexTable<T> {
  private readonly owners = new Map<number, T>();

  /** `random32` yields uniformly random unsigned 32-bit integers (injected to keep this pure). */
  constructor(private readonly random32: () => number) {}

  allocate(owner: T): number {
    // The table is sparse (at most 8 sessions + 1 handshake per peer), so a collision is rare
    // and a retry almost always succeeds at once.
    for (;;) {
      const index = this.random32() >>> 0;
      if (!this.owners.has(index)) {
        this.owners.set(index, owner);
        return index;
      }
    }
  }

  get(index: number): T | undefined {
    return this.owners.get(index);
  }

  free(index: number): void {
    this.owners.delete(index);
  }

  get size(): number {
    return this.owners.size;
  }
}
