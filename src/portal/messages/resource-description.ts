import type { Filter, IpStack, Resource, Site } from "../store/store.ts";

/**
 * Resource descriptions as clients and gateways parse them (`messages/client.rs`,
 * `messages/gateway.rs`). The client form names the sites (`gateway_groups`, which connlib also
 * accepts as `sites`); the gateway form carries only what the gateway enforces.
 */
export type ClientResourceDescription =
  | {
      id: string;
      type: "dns";
      name: string;
      address: string;
      address_description: string | null;
      gateway_groups: { id: string; name: string }[];
      filters: Filter[];
      ip_stack?: IpStack;
    }
  | {
      id: string;
      type: "cidr";
      name: string;
      address: string;
      address_description: string | null;
      gateway_groups: { id: string; name: string }[];
      filters: Filter[];
    }
  | { id: string; type: "internet"; name: string; gateway_groups: { id: string; name: string }[] };

export type GatewayResourceDescription =
  | { id: string; type: "dns" | "cidr"; name: string; address: string; filters: Filter[] }
  | { id: string; type: "internet" };

export function clientResourceDescription(resource: Resource, sites: Site[]): ClientResourceDescription {
  const gateway_groups = sites.map((s) => ({ id: s.id, name: s.name }));
  switch (resource.type) {
    case "internet":
      return { id: resource.id, type: "internet", name: resource.name, gateway_groups };
    case "cidr":
      return {
        id: resource.id,
        type: "cidr",
        name: resource.name,
        address: resource.address,
        address_description: resource.addressDescription,
        gateway_groups,
        filters: resource.filters,
      };
    case "dns": {
      const d: ClientResourceDescription = {
        id: resource.id,
        type: "dns",
        name: resource.name,
        address: resource.address,
        address_description: resource.addressDescription,
        gateway_groups,
        filters: resource.filters,
      };
      if (resource.ipStack) d.ip_stack = resource.ipStack;
      return d;
    }
  }
}

export function gatewayResourceDescription(resource: Resource): GatewayResourceDescription {
  if (resource.type === "internet") return { id: resource.id, type: "internet" };
  return { id: resource.id, type: resource.type, name: resource.name, address: resource.address, filters: resource.filters };
}
