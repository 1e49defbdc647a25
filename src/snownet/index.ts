/**
 * snownet: the connection layer. One `Node` per client or gateway: ICE finds a path (direct or
 * relayed), WireGuard runs over it, and everything shares one UDP socket. Sans-IO; see the
 * API summary at the top of node.ts.
 */
export { Node, type NodeConfig } from "./node.ts";
export type * from "./types.ts";
export { sampleRelay, rttThreshold } from "./relay-sampling.ts";
export * from "./constants.ts";
