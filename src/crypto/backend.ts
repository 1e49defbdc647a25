import { openLibcrypto } from "../../ffi/libcrypto.ts";
import { openLibsodium } from "../../ffi/libsodium.ts";
import { logger } from "../log/index.ts";
import type { AeadKey, RawNonceAeadKey } from "./aead.ts";
import { LibcryptoAeadKey, type LibcryptoAeadOptions } from "./libcrypto-aead.ts";
import { LibsodiumAeadKey } from "./libsodium-aead.ts";
import { NobleAeadKey } from "./noble-aead.ts";
import { nativeBlake2sWorks } from "./blake2s.ts";
import { nodeX25519Works } from "./x25519.ts";

export type CryptoBackend = "libcrypto" | "libsodium" | "noble";

/** Fastest first, by bench/crypto.ts on this project's machine (libcrypto ~1.3-1.7x libsodium). */
export const AEAD_PREFERENCE: readonly CryptoBackend[] = ["libcrypto", "libsodium", "noble"];

const log = logger("crypto");

/** Why a native backend is not available here, for the log line and `firezone perf`. */
export interface BackendProbe {
  backend: CryptoBackend;
  available: boolean;
  detail: string;
}

let probes: BackendProbe[] | undefined;

const KAT_KEY = Uint8Array.from({ length: 32 }, (_, i) => 0x80 + i);
// Above 2^32 so the high word of the nonce counter is exercised too.
const KAT_COUNTER = 0x1_2345_6789;
const KAT_AAD = Uint8Array.from([0x50, 0x51, 0x52, 0x53, 0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7]);

/**
 * A library that loads but computes something else is refused: one seal must equal noble's
 * (which test/crypto pins to the RFC 8439 vectors) and must open again.
 */
function passesKnownAnswer(key: AeadKey): boolean {
  const ref = new NobleAeadKey(KAT_KEY);
  const a = new Uint8Array(new ArrayBuffer(130));
  const b = new Uint8Array(new ArrayBuffer(130));
  for (let i = 0; i < 114; i++) a[i] = b[i] = (i * 7) & 0xff;
  const n1 = key.seal(KAT_COUNTER, a, 0, 114, KAT_AAD);
  const n2 = ref.seal(KAT_COUNTER, b, 0, 114, KAT_AAD);
  ref.dispose();
  if (n1 !== 130 || n2 !== 130 || !a.every((v, i) => v === b[i])) return false;
  return key.open(KAT_COUNTER, a, 0, 130, KAT_AAD) === 114 && a[113] === ((113 * 7) & 0xff);
}

/** dlopens each native library once (in try/catch) and checks it on a known answer. */
export function probeBackends(): BackendProbe[] {
  if (probes) return probes;
  const out: BackendProbe[] = [];
  const lc = openLibcrypto();
  if (lc.handle) {
    let ok = false;
    try {
      const k = new LibcryptoAeadKey(lc.handle, KAT_KEY);
      ok = passesKnownAnswer(k);
      k.dispose();
    } catch (e) {
      lc.error = (e as Error).message;
    }
    out.push({ backend: "libcrypto", available: ok, detail: ok ? `${lc.handle.path} (OpenSSL ${lc.handle.version})` : `${lc.handle.path} failed the self-test${lc.error ? `: ${lc.error}` : ""}` });
  } else out.push({ backend: "libcrypto", available: false, detail: lc.error ?? "not found" });
  const ls = openLibsodium();
  if (ls.handle) {
    let ok = false;
    try {
      const k = new LibsodiumAeadKey(ls.handle, KAT_KEY);
      ok = passesKnownAnswer(k);
      k.dispose();
    } catch (e) {
      ls.error = (e as Error).message;
    }
    out.push({ backend: "libsodium", available: ok, detail: ok ? `${ls.handle.path} (libsodium ${ls.handle.version})` : `${ls.handle.path} failed the self-test${ls.error ? `: ${ls.error}` : ""}` });
  } else out.push({ backend: "libsodium", available: false, detail: ls.error ?? "not found" });
  out.push({ backend: "noble", available: true, detail: "@noble/ciphers (pure JS)" });
  probes = out;
  return out;
}

/** Backends usable on this machine, fastest first. */
export function availableBackends(): CryptoBackend[] {
  const ok = new Set(probeBackends().filter((p) => p.available).map((p) => p.backend));
  return AEAD_PREFERENCE.filter((b) => ok.has(b));
}

/** A ChaCha20-Poly1305 key on a given backend (tests and benchmarks compare them all). */
export function aeadKeyOn(backend: CryptoBackend, key: Uint8Array, opts?: LibcryptoAeadOptions): RawNonceAeadKey {
  switch (backend) {
    case "libcrypto": {
      const h = openLibcrypto().handle;
      if (!h) throw new Error("libcrypto is not available");
      return new LibcryptoAeadKey(h, key, opts);
    }
    case "libsodium": {
      const h = openLibsodium().handle;
      if (!h) throw new Error("libsodium is not available");
      return new LibsodiumAeadKey(h, key);
    }
    case "noble":
      return new NobleAeadKey(key);
  }
}

export interface Selection {
  aead: CryptoBackend;
  /** X25519 through Bun's node:crypto (else noble). */
  nativeX25519: boolean;
  /** Whether Bun.CryptoHasher has BLAKE2s (benchmarked against; the project uses its own BLAKE2s). */
  nativeBlake2s: boolean;
  /** What FIREZONE_CRYPTO asked for, and why it was not honoured if it was not. */
  requested: string | undefined;
  note: string | undefined;
}

/** Picks the backends from FIREZONE_CRYPTO (noble | libsodium | libcrypto | auto) and what loads. */
export function selectBackends(env: string | undefined, available: readonly CryptoBackend[] = availableBackends()): Selection {
  const requested = env === undefined || env === "" ? undefined : env.trim().toLowerCase();
  if (requested === "noble") return { aead: "noble", nativeX25519: false, nativeBlake2s: false, requested, note: undefined };
  const extras = { nativeX25519: nodeX25519Works(), nativeBlake2s: nativeBlake2sWorks() };
  if (requested === "libcrypto" || requested === "libsodium") {
    if (available.includes(requested)) return { aead: requested, ...extras, requested, note: undefined };
    const why = probeBackends().find((p) => p.backend === requested)?.detail ?? "not found";
    return { aead: available[0], ...extras, requested, note: `FIREZONE_CRYPTO=${requested} is not available here (${why}); using ${available[0]}` };
  }
  const note = requested === undefined || requested === "auto" ? undefined : `FIREZONE_CRYPTO=${env} is not one of noble, libsodium, libcrypto, auto; ignored`;
  return { aead: available[0], ...extras, requested, note };
}

let logged = false;

/** Logs the choice once, on first use (logging is configured by then, unlike at import time). */
export function logSelectionOnce(sel: Selection): void {
  if (logged) return;
  logged = true;
  const fields = {
    aead: sel.aead,
    x25519: sel.nativeX25519 ? "node:crypto" : "noble",
    blake2s: sel.requested === "noble" ? "noble" : "TypeScript (RFC 7693)",
    probes: probeBackends().map((p) => `${p.backend}: ${p.available ? "ok" : "unavailable"} (${p.detail})`),
  };
  if (sel.note) log.warn(sel.note, fields);
  else if (sel.aead === "noble" && sel.requested !== "noble") log.warn("no native AEAD library: using @noble (about 20x slower)", fields);
  else log.info("crypto backends chosen", fields);
}
