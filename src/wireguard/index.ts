/**
 * Sans-IO WireGuard (Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s, the WireGuard paper's messages,
 * cookies, timers and sessions). The driver loop for one `Tunnel`:
 *
 *   r = tunnel.encapsulate(ipPacket, out, now)            // TUN → network
 *   r = tunnel.decapsulate(datagram, out, now, addr, port) // network → TUN / reply
 *   r = tunnel.decapsulateAt(buf, off, len, out, now, …)   // the same for buf[off, off+len), no view
 *                                                          // (out === buf: opened in place at off)
 *   act on r (WriteToNetwork / WriteToTunnelV4|V6 / Dropped / Done), then
 *   while ((r = tunnel.pollTransmit(now)).action !== Done) send r
 *   at tunnel.pollTimeout()?.at: r = tunnel.handleTimeout(now), act, drain pollTransmit
 *   tunnel.pollEvent(): handshakeCompleted | connectionExpired
 *
 * A `Device` holds many tunnels behind one static key and routes datagrams to them.
 */
export * from "./constants.ts";
export { Tunnel, randomIndex, type TunnelConfig, type TunnelEvent, type Timeout } from "./tunnel.ts";
export { Device, type DeviceConfig, type PeerConfig } from "./device.ts";
export { TunnAction, DropReason, TunnResult } from "./result.ts";
export { TunnelStats } from "./tunnel-stats.ts";
export { IndexTable } from "./index-table.ts";
export { LocalStatic, consumeInitiationStatic, tai64n, type ConsumedInitiation } from "./handshake.ts";
export { CookieChecker, gateHandshake, GateVerdict } from "./cookie.ts";
export { RateLimiter } from "./rate-limiter.ts";
export { messageType } from "./messages.ts";
export { ReplayWindow } from "./replay-window.ts";
