import { expect, test } from "bun:test";
import { join } from "node:path";
import { constantTimeEqual, randomBytes } from "../../src/crypto/index.ts";
import { probeBackends, selectBackends } from "../../src/crypto/backend.ts";
import { openLibcrypto } from "../../ffi/libcrypto.ts";
import { openLibsodium } from "../../ffi/libsodium.ts";

const repo = join(import.meta.dir, "../..");

test("FIREZONE_CRYPTO forces a backend; unknown or missing ones fall back with a note", () => {
  const noble = selectBackends("noble");
  expect(noble).toMatchObject({ aead: "noble", nativeX25519: false, nativeBlake2s: false });
  expect(selectBackends("libsodium").aead).toBe("libsodium");
  expect(selectBackends("LIBCRYPTO").aead).toBe("libcrypto");
  const auto = selectBackends(undefined);
  expect(auto.aead).toBe("libcrypto");
  expect(auto.note).toBeUndefined();
  expect(auto.nativeX25519 && auto.nativeBlake2s).toBe(true);
  const bogus = selectBackends("openssl");
  expect(bogus.aead).toBe("libcrypto");
  expect(bogus.note).toContain("not one of");
});

test("a missing native library is detected (dlopen in try/catch) and the next choice is used", () => {
  const lc = openLibcrypto(["libcrypto-not-installed.so.77"]);
  expect(lc.handle).toBeNull();
  expect(lc.error).toContain("libcrypto-not-installed.so.77");
  const ls = openLibsodium(["libsodium-not-installed.so.77"]);
  expect(ls.handle).toBeNull();
  expect(ls.error).toContain("libsodium-not-installed.so.77");
  const noNative = selectBackends(undefined, ["noble"]);
  expect(noNative.aead).toBe("noble");
  const forced = selectBackends("libsodium", ["libcrypto", "noble"]);
  expect(forced.aead).toBe("libcrypto");
  expect(forced.note).toContain("FIREZONE_CRYPTO=libsodium is not available here");
  expect(selectBackends("libcrypto", ["noble"]).aead).toBe("noble");
});

test("each probe says which library file it loaded", () => {
  const byName = Object.fromEntries(probeBackends().map((p) => [p.backend, p]));
  expect(byName.libcrypto.available).toBe(true);
  expect(byName.libcrypto.detail).toMatch(/libcrypto\.so.*OpenSSL 3\./);
  expect(byName.noble.available).toBe(true);
});

test("a fresh process honours FIREZONE_CRYPTO at start", () => {
  const script = 'import { cryptoBackend, cryptoImplementations } from "./src/crypto/index.ts"; process.stdout.write(JSON.stringify({ cryptoBackend, ...cryptoImplementations }));';
  for (const [env, want] of [["noble", "noble"], ["libsodium", "libsodium"], ["libcrypto", "libcrypto"]] as const) {
    const r = Bun.spawnSync([process.execPath, "-e", script], { cwd: repo, env: { ...process.env, FIREZONE_CRYPTO: env } });
    expect(r.exitCode).toBe(0);
    const out = JSON.parse(r.stdout.toString());
    expect(out.cryptoBackend).toBe(want);
    expect(out.x25519).toBe(env === "noble" ? "noble" : "node:crypto");
  }
});

test("randomBytes gives the asked length (also above the 64 KiB Web Crypto limit), and differs", () => {
  expect(randomBytes(0).length).toBe(0);
  const big = randomBytes(70_000);
  expect(big.length).toBe(70_000);
  expect(big.subarray(65_536).some((b) => b !== 0)).toBe(true);
  expect(Buffer.compare(randomBytes(32), randomBytes(32))).not.toBe(0);
});

test("constantTimeEqual compares contents and lengths", () => {
  expect(constantTimeEqual(Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2, 3))).toBe(true);
  expect(constantTimeEqual(Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2, 4))).toBe(false);
  expect(constantTimeEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2, 3))).toBe(false);
  expect(constantTimeEqual(new Uint8Array(0), new Uint8Array(0))).toBe(true);
});

test("the choice is logged once under target crypto, on the first aeadKey()", () => {
  const script = `
    import { configureLogging, LogFilter } from "./src/log/index.ts";
    const records = [];
    configureLogging(LogFilter.parse(undefined, "debug"), [{ write: (r) => records.push(r), flush() {}, close() {} }]);
    const { aeadKey } = await import("./src/crypto/index.ts");
    aeadKey(new Uint8Array(32)).dispose();
    aeadKey(new Uint8Array(32)).dispose();
    process.stdout.write(JSON.stringify(records.filter((r) => r.target === "crypto")));
  `;
  for (const [env, severity, aead] of [["", "INFO", "libcrypto"], ["noble", "INFO", "noble"], ["nonsense", "WARN", "libcrypto"]] as const) {
    const r = Bun.spawnSync([process.execPath, "-e", script], { cwd: repo, env: { ...process.env, FIREZONE_CRYPTO: env } });
    expect(r.exitCode).toBe(0);
    const records = JSON.parse(r.stdout.toString());
    expect(records.length).toBe(1);
    expect(records[0].severity).toBe(severity);
    expect(records[0].fields.aead).toBe(aead);
  }
});
