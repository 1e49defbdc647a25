import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { tempDir } from "./helpers.ts";

const MAIN = join(import.meta.dir, "../../src/cli/main.ts");
const EXAMPLE = join(import.meta.dir, "../../examples/portal.json");
const { dir, cleanup } = tempDir("fz-portal-cli-");
const { FIREZONE_ADMIN_TOKEN: _token, FIREZONE_PORTAL_URL: _url, ...inherited } = process.env;
const env = { ...inherited, FZ_HQ_GATEWAY_TOKEN: "example-gateway-token-0123456789", NO_COLOR: "1" };

let portal: ReturnType<typeof Bun.spawn> | undefined;
afterAll(async () => {
  portal?.kill();
  await portal?.exited;
  cleanup();
});

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const p = Bun.spawn([process.execPath, MAIN, ...args], { env, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out, err };
}

/** Reads a stream until `pattern` matches the text so far. */
async function readUntil(stream: ReadableStream<Uint8Array>, pattern: RegExp): Promise<{ match: RegExpMatchArray; text: string }> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let text = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`stream ended before ${pattern}: ${text}`);
    text += decoder.decode(value);
    const match = text.match(pattern);
    if (match) {
      reader.releaseLock();
      return { match, text };
    }
  }
}

describe("firezone portal and firezone admin", () => {
  test("portal applies the example config, prints new tokens once; admin commands drive it", async () => {
    portal = Bun.spawn([process.execPath, MAIN, "portal", "--db", join(dir, "p.db"), "--config", EXAMPLE, "--port", "0", "--log-dir", join(dir, "logs")], {
      env,
      stdout: "pipe",
      stderr: "pipe",
    });
    const { match } = await readUntil(portal.stderr as ReadableStream<Uint8Array>, /portal listening url=(http:\/\/\S+)/);
    const url = match[1]!;
    const stdout = await readUntil(portal.stdout as ReadableStream<Uint8Array>, /token admin \(admin\): (\S+)\n/);
    const admin = stdout.match[1]!;
    expect(stdout.text).toMatch(/token alice-laptop \(client\): fzp_client_/);
    expect(stdout.text).not.toMatch(/hq-gateway/); // its secret came from the environment

    const a = (...args: string[]) => run("admin", ...args, "--url", url, "--token", admin);
    const sites = await a("list", "sites", "--json");
    expect(sites.code).toBe(0);
    expect(JSON.parse(sites.out).map((s: { name: string }) => s.name)).toEqual(["hq"]);
    expect((await a("create", "sites", '{"name":"lab"}')).code).toBe(0);
    const tok = await a("token", "gateway", "lab-gw", "--site", "lab");
    expect(tok.out).toMatch(/^fzp_gateway_\S+\n$/);
    const online = await a("online", "--json");
    expect(JSON.parse(online.out)).toMatchObject({ clients: [], gateways: [], relays: [] });
    expect((await a("remove-member", "engineering", "alice")).code).toBe(0);
    expect((await a("revoke", "lab-gw")).code).toBe(0);
    const missing = await a("delete", "sites", "nope");
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/not found/);
    expect((await a("list", "nonsense")).code).toBe(2);
    const noToken = await run("admin", "list", "sites", "--url", url);
    expect(noToken.code).toBe(2);
    const bad = await run("admin", "list", "sites", "--url", url, "--token", "wrong");
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/invalid_token/);

    // A second start with the same config creates nothing new and prints no secrets.
    portal.kill();
    await portal.exited;
    portal = Bun.spawn([process.execPath, MAIN, "portal", "--db", join(dir, "p.db"), "--config", EXAMPLE, "--port", "0", "--log-dir", join(dir, "logs")], {
      env,
      stdout: "pipe",
      stderr: "pipe",
    });
    const again = await readUntil(portal.stderr as ReadableStream<Uint8Array>, /configuration applied .*created=(\d+)/);
    expect(again.match[1]).toBe("0");
  });

  test("bad flags and configs exit 2 and 1", async () => {
    expect((await run("portal", "--port", "nope")).code).toBe(2);
    expect((await run("portal", "--config", join(dir, "missing.json"))).code).toBe(2);
    await Bun.write(join(dir, "bad.json"), JSON.stringify({ resources: [{ name: "x", type: "cidr", address: "nope" }] }));
    const bad = await run("portal", "--db", join(dir, "bad.db"), "--config", join(dir, "bad.json"), "--log-dir", join(dir, "logs"));
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/resources\[0\]\.address/);
  });
});
