/**
 * bun:ffi bindings to libsodium: the IETF ChaCha20-Poly1305 detached functions.
 * `openLibsodium()` returns null when the library cannot be loaded (the caller falls back).
 */
import { dlopen, FFIType } from "bun:ffi";

export const LIBSODIUM_NAMES = ["libsodium.so.23", "libsodium.so.26", "libsodium.so"];

const symbols = {
  sodium_init: { args: [], returns: FFIType.i32 },
  sodium_version_string: { args: [], returns: FFIType.cstring },
  // (c, mac, &maclen|NULL, m, mlen, ad, adlen, nsec=NULL, npub, k)
  crypto_aead_chacha20poly1305_ietf_encrypt_detached: {
    args: [FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.u64_fast, FFIType.ptr, FFIType.u64_fast, FFIType.ptr, FFIType.ptr, FFIType.ptr],
    returns: FFIType.i32,
  },
  // (m, nsec=NULL, c, clen, mac, ad, adlen, npub, k) → 0 or -1
  crypto_aead_chacha20poly1305_ietf_decrypt_detached: {
    args: [FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.u64_fast, FFIType.ptr, FFIType.ptr, FFIType.u64_fast, FFIType.ptr, FFIType.ptr],
    returns: FFIType.i32,
  },
} as const;

function load(name: string) {
  return dlopen(name, symbols);
}

export type Libsodium = ReturnType<typeof load>["symbols"];

export interface LibsodiumHandle {
  readonly path: string;
  readonly version: string;
  readonly sym: Libsodium;
}

let cached: LibsodiumHandle | null | undefined;
let lastError = "not tried";

/** Loads and initialises libsodium once; null (and the reason) when it is missing. */
export function openLibsodium(names?: readonly string[]): { handle: LibsodiumHandle | null; error?: string } {
  // Explicit names (tests: a library that is not there) bypass the process-wide cache.
  if (names !== undefined) return tryOpen(names);
  if (cached !== undefined) return { handle: cached, error: cached ? undefined : lastError };
  const r = tryOpen(LIBSODIUM_NAMES);
  cached = r.handle;
  if (r.error) lastError = r.error;
  return r;
}

function tryOpen(names: readonly string[]): { handle: LibsodiumHandle | null; error?: string } {
  let error = "no library name given";
  for (const name of names) {
    try {
      const lib = load(name);
      // 0 = initialised now, 1 = already initialised, -1 = failure.
      if (lib.symbols.sodium_init() < 0) {
        error = `${name}: sodium_init failed`;
        lib.close();
        continue;
      }
      const handle: LibsodiumHandle = { path: name, version: String(lib.symbols.sodium_version_string()), sym: lib.symbols };
      return { handle };
    } catch (e) {
      error = `${name}: ${(e as Error).message}`;
    }
  }
  return { handle: null, error };
}
