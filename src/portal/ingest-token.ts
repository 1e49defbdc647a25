import { createHmac } from "node:crypto";

/**
 * The flow-log ingest token connlib requires in `authorization_created` and
 * `create_authorization` (`flow-tracker/src/token.rs`): an HS256 JWT whose claims connlib parses
 * but does not verify. This portal runs no flow-log ingest API, so `uploads_enabled` is false and
 * the key is per process; the claims still name the flow truthfully.
 */
export interface IngestClaims {
  account_id: string;
  iat: number;
  exp: number;
  uploads_enabled: boolean;
  role: "initiator" | "responder";
  initiator_device_id: string;
  responder_device_id: string;
  policy_authorization_id: string;
  policy_id: string;
  resource_id: string;
  resource_name: string;
  initiator_actor_id: string;
  initiator_actor_name: string;
  authorized_at: string;
  authorization_expires_at: string;
  resource_address: string | null;
  initiator_actor_email: string | null;
}

const HEADER = Buffer.from(JSON.stringify({ alg: "HS256", typ: "JWT" })).toString("base64url");

export function mintIngestToken(key: Uint8Array, claims: IngestClaims): string {
  const body = `${HEADER}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}`;
  const signature = createHmac("sha256", key).update(body).digest("base64url");
  return `${body}.${signature}`;
}

/** Reads the claims back (for tests and tools); undefined unless it is a three-part HS256 JWT. */
export function readIngestClaims(token: string): IngestClaims | undefined {
  const parts = token.split(".");
  if (parts.length !== 3 || parts[2]!.length === 0) return undefined;
  try {
    const header = JSON.parse(Buffer.from(parts[0]!, "base64url").toString()) as { alg?: string };
    if (header.alg !== "HS256") return undefined;
    return JSON.parse(Buffer.from(parts[1]!, "base64url").toString()) as IngestClaims;
  } catch {
    return undefined;
  }
}
