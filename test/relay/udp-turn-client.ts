import type { udp } from "bun";
import {
  ATTR_XOR_PEER_ADDRESS,
  METHOD_ALLOCATE,
  METHOD_CHANNEL_BIND,
  METHOD_REFRESH,
  MessageBuilder,
  TRANSPORT_UDP,
  getErrorCode,
  getNonce,
  getRealm,
  getXorRelayedAddresses,
  isMalformed,
  longTermKey,
  newTransactionId,
  parseMessage,
  transactionKey,
  type StunMessage,
} from "../../src/stun/index.ts";

/**
 * A TURN client over a real loopback UDP socket for the driver tests: long-term auth with the
 * 401/438 retry, and everything that is not STUN (ChannelData from the relay) collected in `data`.
 */
export class UdpTurnClient {
  readonly data: Uint8Array[] = [];
  private realm = "";
  private nonce = "";
  private readonly waiting = new Map<string, (m: StunMessage) => void>();

  private constructor(
    private readonly sock: udp.Socket<"buffer">,
    readonly relayPort: number,
    readonly username: string,
    readonly password: string,
  ) {}

  static async open(relayPort: number, username: string, password: string): Promise<UdpTurnClient> {
    let self: UdpTurnClient | undefined;
    const sock = await Bun.udpSocket({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        data: (_s, d) => self!.onData(new Uint8Array(d)),
        error: () => {},
      },
    });
    self = new UdpTurnClient(sock, relayPort, username, password);
    return self;
  }

  get port(): number {
    return this.sock.port;
  }

  close(): void {
    this.sock.close();
  }

  sendRaw(bytes: Uint8Array): void {
    this.sock.send(bytes, this.relayPort, "127.0.0.1");
  }

  /** Sends a request (authenticated once a nonce is known), retrying after 401/438. Returns the answer. */
  async request(method: number, fill: (b: MessageBuilder) => void = () => {}): Promise<StunMessage> {
    let answer: StunMessage | undefined;
    for (let attempt = 0; attempt < 3; attempt++) {
      const txid = newTransactionId();
      const b = new MessageBuilder(method, "request", txid);
      fill(b);
      if (this.nonce) {
        b.addUsername(this.username).addRealm(this.realm).addNonce(this.nonce);
        b.addMessageIntegrity(longTermKey(this.username, this.realm, this.password));
      }
      const built = b.finish();
      if (!built.ok) throw new Error(built.reason);
      answer = await this.exchange(txid, new Uint8Array(built.bytes));
      const code = errorCodeOf(answer);
      if (code !== 401 && code !== 438) return answer;
      const n = getNonce(answer);
      const r = getRealm(answer);
      if (typeof n === "string") this.nonce = n;
      if (typeof r === "string") this.realm = r;
    }
    return answer!;
  }

  async allocate(): Promise<{ answer: StunMessage; relayedPort: number }> {
    const answer = await this.request(METHOD_ALLOCATE, (b) => b.addRequestedTransport(TRANSPORT_UDP));
    const relayed = getXorRelayedAddresses(answer);
    if (isMalformed(relayed) || relayed.length === 0) throw new Error(`allocate failed: ${errorCodeOf(answer)}`);
    return { answer, relayedPort: relayed[0]!.port };
  }

  bind(channel: number, peerPort: number): Promise<StunMessage> {
    return this.request(METHOD_CHANNEL_BIND, (b) =>
      b.addChannelNumber(channel).addXorAddress(ATTR_XOR_PEER_ADDRESS, { ip: "127.0.0.1", port: peerPort }),
    );
  }

  refresh(lifetime?: number): Promise<StunMessage> {
    return this.request(METHOD_REFRESH, (b) => {
      if (lifetime !== undefined) b.addLifetime(lifetime);
    });
  }

  private exchange(txid: Uint8Array, bytes: Uint8Array): Promise<StunMessage> {
    const key = transactionKey(txid);
    return new Promise((resolve, reject) => {
      let tries = 0;
      // Loopback does not lose datagrams in practice; the resend only guards against a busy relay.
      const resend = () => {
        if (!this.waiting.has(key)) return;
        if (tries++ === 20) {
          this.waiting.delete(key);
          reject(new Error("no answer from the relay"));
          return;
        }
        this.sendRaw(bytes);
        setTimeout(resend, 250);
      };
      this.waiting.set(key, resolve);
      resend();
    });
  }

  private onData(d: Uint8Array): void {
    if (d.length > 0 && d[0]! < 4) {
      const parsed = parseMessage(d);
      if (!parsed.ok) return;
      const key = parsed.message.transactionKey();
      const w = this.waiting.get(key);
      this.waiting.delete(key);
      w?.(parsed.message);
      return;
    }
    this.data.push(d);
  }
}

export function errorCodeOf(m: StunMessage): number {
  const e = getErrorCode(m);
  return e && !isMalformed(e) ? e.code : 0;
}

/** Waits (without timing anything) until `cond` holds, polling; fails after `limit` polls. */
export async function until(cond: () => boolean, what: string, limit = 400): Promise<void> {
  for (let i = 0; i < limit; i++) {
    if (cond()) return;
    await Bun.sleep(10);
  }
  throw new Error(`gave up waiting for ${what}`);
}
