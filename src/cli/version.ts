import { defineCommand } from "citty";
import pkg from "../../package.json" with { type: "json" };

export const VERSION: string = pkg.version;

export default defineCommand({
  meta: { name: "version", description: "Print the version of this build" },
  args: {
    json: { type: "boolean", description: "Print as JSON" },
  },
  run({ args }) {
    const info = { version: VERSION, bun: Bun.version, platform: `${process.platform}-${process.arch}` };
    if (args.json) process.stdout.write(JSON.stringify(info) + "\n");
    else process.stdout.write(`firezone ${info.version} (bun ${info.bun}, ${info.platform})\n`);
  },
});
