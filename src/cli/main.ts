#!/usr/bin/env bun
import { rootCommand } from "./commands.ts";
import { runCli } from "./run.ts";
import { resolveTree } from "./tree.ts";

const root = await resolveTree(rootCommand, "firezone");
const code = await runCli(root, process.argv.slice(2));
process.exitCode = code;
