/** A crypto input that cannot be used (wrong length, low-order X25519 point, …). */
export class CryptoError extends Error {
  override readonly name = "CryptoError";
}

export function requireLength(what: string, bytes: Uint8Array, length: number): void {
  if (!(bytes instanceof Uint8Array) || bytes.length !== length) {
    const got = bytes instanceof Uint8Array ? `${bytes.length} bytes` : typeof bytes;
    throw new CryptoError(`${what} must be ${length} bytes, got ${got}`);
  }
}
