/**
 * RFC 8489 §5: the 14-bit message type interleaves a 12-bit method with the 2 class bits
 * (C0 at bit 4, C1 at bit 8) so that the first two bits of every STUN message stay zero.
 */

import { CLASS_ERROR, CLASS_INDICATION, CLASS_REQUEST, CLASS_SUCCESS } from "./constants.ts";

export type StunClass = "request" | "indication" | "success" | "error";

const CLASS_NAMES: readonly StunClass[] = ["request", "indication", "success", "error"];
const CLASS_BITS: Record<StunClass, number> = {
  request: CLASS_REQUEST,
  indication: CLASS_INDICATION,
  success: CLASS_SUCCESS,
  error: CLASS_ERROR,
};

export function messageType(method: number, cls: StunClass): number {
  const c = CLASS_BITS[cls];
  return (method & 0x000f) | ((method & 0x0070) << 1) | ((method & 0x0f80) << 2) | ((c & 1) << 4) | ((c & 2) << 7);
}

export function methodOf(type: number): number {
  return (type & 0x000f) | ((type & 0x00e0) >> 1) | ((type & 0x3e00) >> 2);
}

export function classOf(type: number): StunClass {
  return CLASS_NAMES[((type >> 4) & 1) | ((type >> 7) & 2)];
}
