/** Sans-IO WireGuard: the public surface other layers import. */
export * from "./constants.ts";
export { Tunnel, randomIndex, type TunnelConfig, type TunnelEvent, type Timeout } from "./tunnel.ts";
export { Device, type DeviceConfig, type PeerConfig } from "./device.ts";
export { TunnAction, DropReason, TunnResult } from "./result.ts";
export { TunnelStats } from "./tunnel-stats.ts";
export { IndexTable } from "./index-table.ts";
export { LocalStatic } from "./handshake.ts";
export { messageType } from "./messages.ts";
export { ReplayWindow } from "./replay-window.ts";
