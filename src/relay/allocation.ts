import { ChannelTable } from "./channel-table.ts";

/**
 * One TURN allocation (RFC 8656 §2.2): a relay port (with an IPv4 and/or IPv6 relayed address on
 * it) owned by one client 5-tuple and one username, with its channel bindings.
 */
export class Allocation {
  readonly channels = new ChannelTable();
  /** Transaction id (hex) of the Allocate that made it and the success we sent, to answer a retransmit. */
  allocateTransaction = "";
  allocateResponse: Uint8Array | null = null;

  constructor(
    readonly port: number,
    readonly clientIp: string,
    readonly clientPort: number,
    readonly clientFamily: 4 | 6,
    readonly username: string,
    readonly relayV4: boolean,
    readonly relayV6: boolean,
    public expiresAt: number,
  ) {}

  /** RFC 8656 §9.2 (443): a peer is reachable only through a relayed address of its own family. */
  canRelayTo(family: 4 | 6): boolean {
    return family === 4 ? this.relayV4 : this.relayV6;
  }
}
