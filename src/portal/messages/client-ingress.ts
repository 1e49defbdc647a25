import type { IpStack } from "../store/model.ts";
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
import { arr, arrOrEmpty, cidr, fail, ingestToken, ipv4, ipv6, key, obj, optStr, parsed, str, uuid, type Parsed } from "./reader.ts";

/**
 * What a client reads from the portal (connlib's `client::IngressMessages`), for `firezone
 * connect`. Each event's payload is checked like connlib's serde structs; resources are read one
 * by one so a malformed or unknown one never fails the message it came in (`init`).
 */

export interface Site {
  id: string;
  name: string;
}

type Filters = ReturnType<typeof readFilters>;

export type ClientResource =
  | { type: "dns"; id: string; name: string; address: string; addressDescription: string | null; sites: Site[]; ipStack: IpStack; filters: Filters }
  | { type: "cidr"; id: string; name: string; address: string; addressDescription: string | null; sites: Site[]; filters: Filters }
  | { type: "internet"; id: string; name: string; sites: Site[] }
  | { type: "static_device_pool"; id: string; name: string; devices: { clientId: string; ipv4: string; ipv6: string }[]; filters: Filters }
  | { type: "dynamic_device_pool"; id: string; name: string; address: string }
  /** A type this build does not know (forward compatibility). */
  | { type: "unknown" };

export type FailReason = "not_found" | "offline" | "version_mismatch" | "forbidden" | "disabled" | "ambiguous_address" | "missing_address" | "invalid_address" | "unknown";

const FAIL_REASONS = new Set(["not_found", "offline", "version_mismatch", "forbidden", "disabled", "ambiguous_address", "missing_address", "invalid_address"]);

export type ClientMessage =
  | {
      event: "init";
      interface: InterfaceConfig;
      resources: ClientResource[];
      /** Resources left out because they were malformed. */
      skippedResources: number;
      relays: RelayEntry[];
      authorizations: Authorization[];
      flowLogs: FlowLogsConfig;
    }
  | { event: "resource_created_or_updated"; resource: ClientResource }
  | { event: "resource_deleted"; resourceId: string }
  | { event: "gateway_ice_candidates" | "invalidate_gateway_ice_candidates"; gatewayId: string; candidates: string[] }
  | { event: "client_ice_candidates" | "invalidate_client_ice_candidates"; clientId: string; candidates: string[] }
  | { event: "config_changed"; interface: InterfaceConfig }
  | { event: "relays_presence"; presence: RelaysPresenceUpdate }
  | {
      event: "authorization_created";
      resourceId: string;
      gatewayId: string;
      siteId: string;
      gatewayPublicKey: string;
      gatewayIpv4: string;
      gatewayIpv6: string;
      presharedKey: string;
      clientIce: IceCredentials;
      gatewayIce: IceCredentials;
      useIceless: boolean;
      ingestToken: string;
    }
  | { event: "authorization_creation_failed"; resourceId: string; reason: FailReason }
  | { event: "client_ice_candidate_error"; clientId: string; reason: FailReason }
  | { event: "device_pool_domain_resolved"; resourceId: string; domain: string; ipv4: string; ipv6: string }
  | { event: "device_pool_domain_resolution_failed"; resourceId: string; domain: string; reason: FailReason }
  | { event: "resource_filters_updated"; resourceId: string; filters: Filters }
  | { event: "reject_access"; clientId: string; resourceId: string }
  | { event: "access_authorization_expiry_updated"; clientId: string; resourceId: string; expiresAt: number }
  | {
      event: "client_device_access_authorized";
      clientId: string;
      clientName: string;
      clientPublicKey: string;
      clientIpv4: string;
      clientIpv6: string;
      presharedKey: string;
      localIce: IceCredentials;
      remoteIce: IceCredentials;
      iceRole: "controlling" | "controlled";
      useIceless: boolean;
      resource: { id: string; filters: Filters } | null;
      expiresAt: number | null;
      ingestToken: string;
    }
  | { event: "client_device_access_denied"; ipv4: string | null; ipv6: string | null; reason: FailReason };

/** Reads one message for topic "client"; `ice_candidates` and `invalidate_ice_candidates` are the older names. */
export function parseClientMessage(event: string, payload: unknown): Parsed<ClientMessage> {
  return parsed(() => read(event, payload));
}

/** One resource description; `undefined` when it is malformed (connlib skips it with a warning). */
export function parseClientResource(raw: unknown): ClientResource | undefined {
  const r = parsed(() => readResource(raw, "resource"));
  return r.ok ? r.value : undefined;
}

function read(event: string, payload: unknown): ClientMessage {
  const p = "payload";
  switch (event) {
    case "init": {
      const o = obj(payload, p);
      const rawResources = arrOrEmpty(o.resources, `${p}.resources`);
      // Only the `type` tag is needed at this stage; a body that does not parse is skipped later.
      rawResources.forEach((r, i) => str(obj(r, `${p}.resources[${i}]`).type, `${p}.resources[${i}].type`));
      const resources = rawResources.map(parseClientResource).filter((r): r is ClientResource => r !== undefined);
      return {
        event,
        interface: readInterface(o.interface, `${p}.interface`),
        resources,
        skippedResources: rawResources.length - resources.length,
        relays: arrOrEmpty(o.relays, `${p}.relays`).map((r, i) => readRelay(r, `${p}.relays[${i}]`)),
        authorizations: readAuthorizations(o.authorizations, `${p}.authorizations`),
        flowLogs: readFlowLogs(o.flow_logs, `${p}.flow_logs`),
      };
    }
    case "resource_created_or_updated":
      return { event, resource: readResource(payload, p) };
    case "resource_deleted":
      return { event, resourceId: uuid(payload, p) };
    case "gateway_ice_candidates":
    case "ice_candidates":
    case "invalidate_gateway_ice_candidates":
    case "invalidate_ice_candidates": {
      const o = obj(payload, p);
      const name = event.startsWith("invalidate") ? "invalidate_gateway_ice_candidates" : "gateway_ice_candidates";
      return { event: name, gatewayId: uuid(o.gateway_id, `${p}.gateway_id`), candidates: readCandidates(o.candidates, `${p}.candidates`) };
    }
    case "client_ice_candidates":
    case "invalidate_client_ice_candidates": {
      const o = obj(payload, p);
      return { event, clientId: uuid(o.client_id, `${p}.client_id`), candidates: readCandidates(o.candidates, `${p}.candidates`) };
    }
    case "config_changed":
      return { event, interface: readInterface(obj(payload, p).interface, `${p}.interface`) };
    case "relays_presence":
      return { event, presence: readRelaysPresence(payload, p) };
    case "authorization_created": {
      const o = obj(payload, p);
      return {
        event,
        resourceId: uuid(o.resource_id, `${p}.resource_id`),
        gatewayId: uuid(o.gateway_id, `${p}.gateway_id`),
        siteId: uuid(o.gateway_group_id ?? o.site_id, `${p}.gateway_group_id`),
        gatewayPublicKey: key(o.gateway_public_key, `${p}.gateway_public_key`),
        gatewayIpv4: ipv4(o.gateway_ipv4, `${p}.gateway_ipv4`),
        gatewayIpv6: ipv6(o.gateway_ipv6, `${p}.gateway_ipv6`),
        presharedKey: key(o.preshared_key, `${p}.preshared_key`),
        clientIce: readIceCredentials(o.client_ice_credentials, `${p}.client_ice_credentials`),
        gatewayIce: readIceCredentials(o.gateway_ice_credentials, `${p}.gateway_ice_credentials`),
        useIceless: readUseIceless(o.use_iceless, `${p}.use_iceless`),
        ingestToken: ingestToken(o.flow_logs_ingest_token, `${p}.flow_logs_ingest_token`),
      };
    }
    case "authorization_creation_failed": {
      const o = obj(payload, p);
      return { event, resourceId: uuid(o.resource_id, `${p}.resource_id`), reason: reason(o.reason, `${p}.reason`) };
    }
    case "client_ice_candidate_error": {
      const o = obj(payload, p);
      return { event, clientId: uuid(o.client_id, `${p}.client_id`), reason: reason(o.reason, `${p}.reason`) };
    }
    case "device_pool_domain_resolved": {
      const o = obj(payload, p);
      return { event, resourceId: uuid(o.resource_id, `${p}.resource_id`), domain: str(o.domain, `${p}.domain`), ipv4: ipv4(o.ipv4, `${p}.ipv4`), ipv6: ipv6(o.ipv6, `${p}.ipv6`) };
    }
    case "device_pool_domain_resolution_failed": {
      const o = obj(payload, p);
      return { event, resourceId: uuid(o.resource_id, `${p}.resource_id`), domain: str(o.domain, `${p}.domain`), reason: reason(o.reason, `${p}.reason`) };
    }
    case "resource_filters_updated": {
      const o = obj(payload, p);
      return { event, resourceId: uuid(o.id, `${p}.id`), filters: readFilters(o.filters, `${p}.filters`) };
    }
    case "reject_access":
      return { event, ...readAccessRef(payload, p) };
    case "access_authorization_expiry_updated":
      return { event, ...readAuthorization(payload, p) };
    case "client_device_access_authorized": {
      const o = obj(payload, p);
      if (o.ice_role !== "controlling" && o.ice_role !== "controlled") fail(`${p}.ice_role`, "expected controlling or controlled");
      const res = o.resource === undefined || o.resource === null ? null : obj(o.resource, `${p}.resource`);
      return {
        event,
        clientId: uuid(o.client_id, `${p}.client_id`),
        clientName: str(o.client_name, `${p}.client_name`),
        clientPublicKey: key(o.client_public_key, `${p}.client_public_key`),
        clientIpv4: ipv4(o.client_ipv4, `${p}.client_ipv4`),
        clientIpv6: ipv6(o.client_ipv6, `${p}.client_ipv6`),
        presharedKey: key(o.preshared_key, `${p}.preshared_key`),
        localIce: readIceCredentials(o.local_ice_credentials, `${p}.local_ice_credentials`),
        remoteIce: readIceCredentials(o.remote_ice_credentials, `${p}.remote_ice_credentials`),
        iceRole: o.ice_role,
        useIceless: readUseIceless(o.use_iceless, `${p}.use_iceless`),
        resource: res ? { id: uuid(res.id, `${p}.resource.id`), filters: res.filters === undefined ? [] : readFilters(res.filters, `${p}.resource.filters`) } : null,
        expiresAt: readOptionalExpiry(o.expires_at, `${p}.expires_at`),
        ingestToken: ingestToken(o.flow_logs_ingest_token, `${p}.flow_logs_ingest_token`),
      };
    }
    case "client_device_access_denied": {
      const o = obj(payload, p);
      return {
        event,
        ipv4: o.ipv4 === undefined || o.ipv4 === null ? null : ipv4(o.ipv4, `${p}.ipv4`),
        ipv6: o.ipv6 === undefined || o.ipv6 === null ? null : ipv6(o.ipv6, `${p}.ipv6`),
        reason: reason(o.reason, `${p}.reason`),
      };
    }
    default:
      return fail("event", `unknown client event "${event}"`);
  }
}

function reason(v: unknown, path: string): FailReason {
  const text = str(v, path);
  return FAIL_REASONS.has(text) ? (text as FailReason) : "unknown";
}

function readSites(o: Record<string, unknown>, path: string): Site[] {
  const raw = o.gateway_groups ?? o.sites;
  return arr(raw, `${path}.gateway_groups`).map((s, i) => {
    const x = obj(s, `${path}.gateway_groups[${i}]`);
    return { id: uuid(x.id, `${path}.gateway_groups[${i}].id`), name: str(x.name, `${path}.gateway_groups[${i}].name`) };
  });
}

function readResource(raw: unknown, path: string): ClientResource {
  const o = obj(raw, path);
  const type = str(o.type, `${path}.type`);
  switch (type) {
    case "dns": {
      const ipStack = o.ip_stack === undefined || o.ip_stack === null ? "dual" : str(o.ip_stack, `${path}.ip_stack`);
      if (ipStack !== "dual" && ipStack !== "ipv4_only" && ipStack !== "ipv6_only") fail(`${path}.ip_stack`, "expected dual, ipv4_only or ipv6_only");
      return {
        type,
        id: uuid(o.id, `${path}.id`),
        name: str(o.name, `${path}.name`),
        address: str(o.address, `${path}.address`),
        addressDescription: optStr(o.address_description, `${path}.address_description`),
        sites: readSites(o, path),
        ipStack,
        filters: o.filters === undefined ? [] : readFilters(o.filters, `${path}.filters`),
      };
    }
    case "cidr":
      return {
        type,
        id: uuid(o.id, `${path}.id`),
        name: str(o.name, `${path}.name`),
        address: cidr(o.address, `${path}.address`),
        addressDescription: optStr(o.address_description, `${path}.address_description`),
        sites: readSites(o, path),
        filters: o.filters === undefined ? [] : readFilters(o.filters, `${path}.filters`),
      };
    case "internet":
      return { type, id: uuid(o.id, `${path}.id`), name: o.name === undefined ? "Internet Resource" : str(o.name, `${path}.name`), sites: readSites(o, path) };
    case "static_device_pool":
      return {
        type,
        id: uuid(o.id, `${path}.id`),
        name: str(o.name, `${path}.name`),
        devices: arrOrEmpty(o.devices, `${path}.devices`).map((d, i) => {
          const x = obj(d, `${path}.devices[${i}]`);
          const v4 = str(x.ipv4, `${path}.devices[${i}].ipv4`);
          const v6 = str(x.ipv6, `${path}.devices[${i}].ipv6`);
          // Ipv4Network/Ipv6Network: an address with an optional prefix of the right family.
          if (!cidrOrHost(v4, 4)) fail(`${path}.devices[${i}].ipv4`, "expected an IPv4 network");
          if (!cidrOrHost(v6, 6)) fail(`${path}.devices[${i}].ipv6`, "expected an IPv6 network");
          return { clientId: uuid(x.client_id ?? x.id, `${path}.devices[${i}].client_id`), ipv4: v4, ipv6: v6 };
        }),
        filters: o.filters === undefined ? [] : readFilters(o.filters, `${path}.filters`),
      };
    case "dynamic_device_pool":
      return { type, id: uuid(o.id, `${path}.id`), name: str(o.name, `${path}.name`), address: str(o.address, `${path}.address`) };
    default:
      return { type: "unknown" };
  }
}

function cidrOrHost(text: string, family: 4 | 6): boolean {
  const [addr, bits] = text.split("/") as [string, string | undefined];
  const okAddr = family === 4 ? ipv4Safe(addr) : ipv6Safe(addr);
  return okAddr && (bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128)));
}

function ipv4Safe(t: string): boolean {
  return parsed(() => ipv4(t, "")).ok;
}

function ipv6Safe(t: string): boolean {
  return parsed(() => ipv6(t, "")).ok;
}
