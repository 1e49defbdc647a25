import { defineCommand } from "citty";
import { VERSION } from "./version.ts";

/** The command tree. Subcommands load lazily so `firezone logs` never pays for the data plane. */
export const rootCommand = defineCommand({
  meta: { name: "firezone", version: VERSION, description: "Zero-trust access to private resources" },
  subCommands: {
    connect: () => import("./connect.ts").then((m) => m.default),
    status: () => import("./status.ts").then((m) => m.default),
    logs: () => import("./logs.ts").then((m) => m.default),
    gateway: () => import("./gateway.ts").then((m) => m.default),
    relay: () => import("./relay.ts").then((m) => m.default),
    portal: () => import("./portal.ts").then((m) => m.default),
    admin: () => import("./admin.ts").then((m) => m.default),
    perf: () => import("./perf.ts").then((m) => m.default),
    completions: () => import("./completions.ts").then((m) => m.default),
    version: () => import("./version.ts").then((m) => m.default),
  },
});
