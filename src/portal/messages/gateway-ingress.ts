import type { FlowLogsConfig, IceCredentials } from "./common.ts";
import {
  readAccessRef,
  readAuthorization,
  readAuthorizations,
  readCandidates,
  readFilters,
  readFlowLogs,
  readIceCredentials,
  readInterface,
  readOptionalExpiry,
  readRelay,
  readRelaysPresence,
  readUseIceless,
  type Authorization,
  type InterfaceConfig,
  type RelayEntry,
  type RelaysPresenceUpdate,
} from "./ingress-common.ts";
import { arrOrEmpty, bool, cidr, fail, ingestToken, ipv4, ipv6, key, obj, optStr, parsed, str, uuid, type Parsed } from "./reader.ts";

/**
 * What a gateway reads from the portal (connlib's `gateway::IngressMessages`), for `firezone
 * gateway`. Unlike the client, a gateway needs `filters` on dns and cidr resources, and an
 * unknown resource type fails the message.
 */
type Filters = ReturnType<typeof readFilters>;

export type GatewayResource =
  | { type: "dns"; id: string; name: string; address: string; filters: Filters }
  | { type: "cidr"; id: string; name: string; address: string; filters: Filters }
  | { type: "internet"; id: string };

export type GatewayMessage =
  | {
      event: "init";
      interface: InterfaceConfig;
      config: { ipv4MasqueradeEnabled: boolean; ipv6MasqueradeEnabled: boolean };
      relays: RelayEntry[];
      accountSlug: string | null;
      authorizations: Authorization[];
      flowLogs: FlowLogsConfig;
    }
  | {
      event: "create_authorization";
      /** The portal's reference, echoed in `authorization_created`. */
      reference: string;
      resource: GatewayResource;
      client: { id: string; publicKey: string; presharedKey: string; ipv4: string; ipv6: string };
      clientIce: IceCredentials;
      gatewayIce: IceCredentials;
      /** Unix seconds, or null for "no expiry". */
      expiresAt: number | null;
      useIceless: boolean;
      ingestToken: string;
    }
  | { event: "ice_candidates" | "invalidate_ice_candidates"; clientId: string; candidates: string[] }
  | { event: "reject_access"; clientId: string; resourceId: string }
  | { event: "resource_updated"; resource: GatewayResource }
  | { event: "relays_presence"; presence: RelaysPresenceUpdate }
  | { event: "access_authorization_expiry_updated"; clientId: string; resourceId: string; expiresAt: number };

export function parseGatewayMessage(event: string, payload: unknown): Parsed<GatewayMessage> {
  return parsed(() => read(event, payload));
}

export function parseGatewayResource(raw: unknown): Parsed<GatewayResource> {
  return parsed(() => readResource(raw, "resource"));
}

function read(event: string, payload: unknown): GatewayMessage {
  const p = "payload";
  switch (event) {
    case "init": {
      const o = obj(payload, p);
      const c = obj(o.config, `${p}.config`);
      return {
        event,
        interface: readInterface(o.interface, `${p}.interface`),
        config: {
          ipv4MasqueradeEnabled: bool(c.ipv4_masquerade_enabled, `${p}.config.ipv4_masquerade_enabled`),
          ipv6MasqueradeEnabled: bool(c.ipv6_masquerade_enabled, `${p}.config.ipv6_masquerade_enabled`),
        },
        relays: arrOrEmpty(o.relays, `${p}.relays`).map((r, i) => readRelay(r, `${p}.relays[${i}]`)),
        accountSlug: optStr(o.account_slug, `${p}.account_slug`),
        authorizations: readAuthorizations(o.authorizations, `${p}.authorizations`),
        flowLogs: readFlowLogs(o.flow_logs, `${p}.flow_logs`),
      };
    }
    case "create_authorization": {
      const o = obj(payload, p);
      const c = obj(o.client, `${p}.client`);
      return {
        event,
        reference: str(o.ref, `${p}.ref`),
        resource: readResource(o.resource, `${p}.resource`),
        client: {
          id: uuid(c.id, `${p}.client.id`),
          publicKey: key(c.public_key, `${p}.client.public_key`),
          presharedKey: key(c.preshared_key, `${p}.client.preshared_key`),
          ipv4: ipv4(c.ipv4, `${p}.client.ipv4`),
          ipv6: ipv6(c.ipv6, `${p}.client.ipv6`),
        },
        clientIce: readIceCredentials(o.client_ice_credentials, `${p}.client_ice_credentials`),
        gatewayIce: readIceCredentials(o.gateway_ice_credentials, `${p}.gateway_ice_credentials`),
        expiresAt: readOptionalExpiry(o.expires_at, `${p}.expires_at`),
        useIceless: readUseIceless(o.use_iceless, `${p}.use_iceless`),
        ingestToken: ingestToken(o.flow_logs_ingest_token, `${p}.flow_logs_ingest_token`),
      };
    }
    case "ice_candidates":
    case "invalidate_ice_candidates": {
      const o = obj(payload, p);
      return { event, clientId: uuid(o.client_id, `${p}.client_id`), candidates: readCandidates(o.candidates, `${p}.candidates`) };
    }
    case "reject_access":
      return { event, ...readAccessRef(payload, p) };
    case "resource_updated":
      return { event, resource: readResource(payload, p) };
    case "relays_presence":
      return { event, presence: readRelaysPresence(payload, p) };
    case "access_authorization_expiry_updated":
      return { event, ...readAuthorization(payload, p) };
    default:
      return fail("event", `unknown gateway event "${event}"`);
  }
}

function readResource(raw: unknown, path: string): GatewayResource {
  const o = obj(raw, path);
  switch (o.type) {
    case "dns":
      return { type: "dns", id: uuid(o.id, `${path}.id`), name: str(o.name, `${path}.name`), address: str(o.address, `${path}.address`), filters: readFilters(o.filters, `${path}.filters`) };
    case "cidr":
      return { type: "cidr", id: uuid(o.id, `${path}.id`), name: str(o.name, `${path}.name`), address: cidr(o.address, `${path}.address`), filters: readFilters(o.filters, `${path}.filters`) };
    case "internet":
      return { type: "internet", id: uuid(o.id, `${path}.id`) };
    default:
      return fail(`${path}.type`, "expected dns, cidr or internet");
  }
}
