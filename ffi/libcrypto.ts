/**
 * bun:ffi bindings to OpenSSL 3's libcrypto: only what ChaCha20-Poly1305 through EVP needs.
 * `openLibcrypto()` returns null when the library cannot be loaded (the caller falls back).
 */
import { dlopen, FFIType } from "bun:ffi";

/** EVP_CIPHER_CTX_ctrl commands (openssl/evp.h). */
export const EVP_CTRL_AEAD_SET_IVLEN = 0x9;
export const EVP_CTRL_AEAD_GET_TAG = 0x10;
export const EVP_CTRL_AEAD_SET_TAG = 0x11;

export const LIBCRYPTO_NAMES = ["libcrypto.so.3", "libcrypto.so"];

const symbols = {
  OpenSSL_version_num: { args: [], returns: FFIType.u64 },
  EVP_chacha20_poly1305: { args: [], returns: FFIType.ptr },
  EVP_CIPHER_CTX_new: { args: [], returns: FFIType.ptr },
  EVP_CIPHER_CTX_free: { args: [FFIType.ptr], returns: FFIType.void },
  EVP_CIPHER_CTX_reset: { args: [FFIType.ptr], returns: FFIType.i32 },
  // (ctx, cipher, engine, key, iv)
  EVP_EncryptInit_ex: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  EVP_DecryptInit_ex: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  // (ctx, out, &outl, in, inl)
  EVP_EncryptUpdate: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
  EVP_DecryptUpdate: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
  // (ctx, out, &outl)
  EVP_EncryptFinal_ex: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  EVP_DecryptFinal_ex: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  // (ctx, type, arg, ptr)
  EVP_CIPHER_CTX_ctrl: { args: [FFIType.ptr, FFIType.i32, FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
} as const;

function load(name: string) {
  return dlopen(name, symbols);
}

export type Libcrypto = ReturnType<typeof load>["symbols"];

export interface LibcryptoHandle {
  readonly path: string;
  readonly version: string;
  readonly sym: Libcrypto;
}

let cached: LibcryptoHandle | null | undefined;
let lastError = "not tried";

/** Loads libcrypto once; null (and the reason in `error`) when it is missing or too old. */
export function openLibcrypto(names?: readonly string[]): { handle: LibcryptoHandle | null; error?: string } {
  // Explicit names (tests: a library that is not there) bypass the process-wide cache.
  if (names !== undefined) return tryOpen(names);
  if (cached !== undefined) return { handle: cached, error: cached ? undefined : lastError };
  const r = tryOpen(LIBCRYPTO_NAMES);
  cached = r.handle;
  if (r.error) lastError = r.error;
  return r;
}

function tryOpen(names: readonly string[]): { handle: LibcryptoHandle | null; error?: string } {
  let error = "no library name given";
  for (const name of names) {
    try {
      const lib = load(name);
      const num = Number(lib.symbols.OpenSSL_version_num());
      const major = Math.floor(num / 0x10000000);
      if (major < 3) {
        error = `${name} is OpenSSL ${num.toString(16)}, need 3.x`;
        lib.close();
        continue;
      }
      if (!lib.symbols.EVP_chacha20_poly1305()) {
        error = `${name} has no ChaCha20-Poly1305`;
        lib.close();
        continue;
      }
      const v = `${major}.${(num >> 20) & 0xff}.${(num >> 4) & 0xffff}`;
      const handle: LibcryptoHandle = { path: name, version: v, sym: lib.symbols };
      return { handle };
    } catch (e) {
      error = `${name}: ${(e as Error).message}`;
    }
  }
  return { handle: null, error };
}
