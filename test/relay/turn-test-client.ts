import {
  ATTR_ADDITIONAL_ADDRESS_FAMILY,
  ATTR_REQUESTED_ADDRESS_FAMILY,
  ATTR_XOR_PEER_ADDRESS,
  METHOD_ALLOCATE,
  METHOD_CHANNEL_BIND,
  METHOD_CREATE_PERMISSION,
  METHOD_REFRESH,
  MessageBuilder,
  TRANSPORT_UDP,
  getErrorCode,
  getNonce,
  longTermKey,
  newTransactionId,
  parseMessage,
  seededRandom,
  verifyIntegrity,
  type StunMessage,
} from "../../src/stun/index.ts";
import type { RelayServer } from "../../src/relay/server.ts";

let clientSeeds = 0;

/**
 * A hand-driven TURN client for the server tests: builds requests with the STUN codec, feeds them
 * to the server as if from (ip, port), and hands back the parsed answer.
 */
export class TestClient {
  nonce: string | undefined;
  realm = "firezone";
  /** Each client its own transaction ids: equal ids on one socket would look like retransmits. */
  private readonly random = seededRandom(++clientSeeds);

  constructor(
    readonly server: RelayServer,
    readonly ip: string,
    readonly port: number,
    public username: string,
    public password: string,
  ) {}

  get key(): Uint8Array {
    return longTermKey(this.username, this.realm, this.password);
  }

  /** Sends raw bytes; returns every answer the server queued. */
  sendRaw(bytes: Uint8Array, now: number): StunMessage[] {
    this.server.handleClientPacket(this.ip, this.port, bytes, now);
    const out: StunMessage[] = [];
    for (let t = this.server.pollTransmit(); t; t = this.server.pollTransmit()) {
      if (t.to.ip !== this.ip || t.to.port !== this.port) throw new Error(`answer went to ${t.to.ip}:${t.to.port}`);
      const parsed = parseMessage(new Uint8Array(t.bytes));
      if (!parsed.ok) throw new Error(`server sent bad STUN: ${parsed.reason}`);
      out.push(parsed.message);
    }
    return out;
  }

  /** One request; `fill` adds the method's attributes. Authenticated unless `auth` is false. */
  request(
    method: number,
    now: number,
    fill: (b: MessageBuilder) => void = () => {},
    opts: { auth?: boolean; txid?: Uint8Array } = {},
  ): StunMessage {
    const txid = opts.txid ?? newTransactionId(this.random);
    const b = new MessageBuilder(method, "request", txid);
    fill(b);
    if (opts.auth !== false) {
      b.addUsername(this.username).addRealm(this.realm);
      if (this.nonce !== undefined) b.addNonce(this.nonce);
      b.addMessageIntegrity(this.key);
    }
    const built = b.finish();
    if (!built.ok) throw new Error(built.reason);
    const answers = this.sendRaw(new Uint8Array(built.bytes), now);
    if (answers.length !== 1) throw new Error(`expected one answer, got ${answers.length}`);
    const answer = answers[0]!;
    const nonce = getNonce(answer);
    if (typeof nonce === "string") this.nonce = nonce;
    return answer;
  }

  /** Like a real client: on 401/438 with a nonce, retry once. */
  authed(method: number, now: number, fill?: (b: MessageBuilder) => void): StunMessage {
    const first = this.request(method, now, fill);
    const code = errorCode(first);
    if (code === 401 || code === 438) return this.request(method, now, fill);
    return first;
  }

  allocate(now: number, extra: (b: MessageBuilder) => void = () => {}): StunMessage {
    return this.authed(METHOD_ALLOCATE, now, (b) => {
      b.addRequestedTransport(TRANSPORT_UDP);
      extra(b);
    });
  }

  allocateDual(now: number): StunMessage {
    return this.allocate(now, (b) => b.addAddressFamily(ATTR_ADDITIONAL_ADDRESS_FAMILY, 6));
  }

  allocateV6(now: number): StunMessage {
    return this.allocate(now, (b) => b.addAddressFamily(ATTR_REQUESTED_ADDRESS_FAMILY, 6));
  }

  refresh(now: number, lifetime?: number): StunMessage {
    return this.authed(METHOD_REFRESH, now, (b) => {
      if (lifetime !== undefined) b.addLifetime(lifetime);
    });
  }

  bind(now: number, channel: number, peerIp: string, peerPort: number): StunMessage {
    return this.authed(METHOD_CHANNEL_BIND, now, (b) => {
      b.addChannelNumber(channel).addXorAddress(ATTR_XOR_PEER_ADDRESS, { ip: peerIp, port: peerPort });
    });
  }

  createPermission(now: number, peerIp: string): StunMessage {
    return this.authed(METHOD_CREATE_PERMISSION, now, (b) => b.addXorAddress(ATTR_XOR_PEER_ADDRESS, { ip: peerIp, port: 0 }));
  }

  verifies(m: StunMessage): boolean {
    return verifyIntegrity(m, this.key);
  }
}

export function errorCode(m: StunMessage): number | null {
  const e = getErrorCode(m);
  return e && typeof e === "object" && "code" in e ? e.code : null;
}

export function channelData(channel: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + payload.length);
  out[0] = channel >> 8;
  out[1] = channel & 0xff;
  out[2] = payload.length >> 8;
  out[3] = payload.length & 0xff;
  out.set(payload, 4);
  return out;
}
