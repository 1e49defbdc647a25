#!/usr/bin/env bun
import { rootCommand } from "./commands.ts";
import { runCli } from "./run.ts";
import { resolveTree } from "./tree.ts";

// Resolving with argv imports only the command being run, so a slow or broken module elsewhere
// never delays or breaks `firezone logs`.
const argv = process.argv.slice(2);
const root = await resolveTree(rootCommand, "firezone", argv);
process.exitCode = await runCli(root, argv);
