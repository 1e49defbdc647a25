/**
 * Firezone's own test messages, laid out beside the checkout (`shared/`) here and in CI; see
 * shared/reference/fixtures/firezone/INDEX.md for what each file is.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

export const FIXTURES = join(import.meta.dir, "../../../shared/reference/fixtures/firezone");

/** The bytes of a `.hex` fixture: lines starting with `#` are comments, white space is ignored. */
export function hexFixture(name: string): Uint8Array {
  const hex = readFileSync(join(FIXTURES, name), "utf8")
    .split("\n")
    .filter((l) => !l.startsWith("#"))
    .join("")
    .replace(/\s+/g, "");
  return new Uint8Array(Buffer.from(hex, "hex"));
}
