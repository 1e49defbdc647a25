import { statSync } from "node:fs";
import { defineCommand } from "citty";
import { defaultLogDir } from "../log/log-dir.ts";
import { severityRank } from "../log/pretty.ts";
import { fdSink, OutBuffer, OutputClosed } from "../log/out-buffer.ts";
import { readLogs, type LogSource } from "../log/reader.ts";
import { parseTimeArg } from "../log/time-arg.ts";
import { CliError, EXIT_OK, UsageError } from "./exit.ts";

export default defineCommand({
  meta: { name: "logs", description: "Pretty-print, follow and filter JSONL log files (default: the client's log directory)" },
  args: {
    paths: {
      type: "positional",
      required: false,
      valueHint: "PATH...",
      description: "Log files, directories (all their log files in time order) or - for stdin",
    },
    follow: { type: "boolean", alias: "f", description: "Keep printing new records, across rotation and new files" },
    level: { type: "string", valueHint: "trace|debug|info|warn|error", description: "Only records at least this severe" },
    since: { type: "string", valueHint: "TIME", description: "Only records at or after TIME (10m, 1h30m, 2d, or a timestamp)" },
    until: { type: "string", valueHint: "TIME", description: "Only records at or before TIME (duration ago or timestamp)" },
    grep: { type: "string", valueHint: "REGEX", description: "Only records whose message or fields match REGEX" },
    target: { type: "string", valueHint: "PREFIX", description: "Only records whose target starts with PREFIX" },
    tail: { type: "string", alias: "n", valueHint: "N", description: "Only the last N matching records (read from the end)" },
    json: { type: "boolean", description: "Print the matching lines unchanged, for piping" },
    local: { type: "boolean", description: "Show local time instead of UTC" },
    color: { type: "boolean", default: true, description: "Colour severities on a terminal", negativeDescription: "Never colour" },
  },
  async run({ args }) {
    const now = Date.now();
    let minRank = 0;
    if (args.level !== undefined) {
      minRank = severityRank(args.level);
      if (minRank < 0) throw new UsageError(`invalid --level "${args.level}": expected trace, debug, info, warn or error`);
    }
    const time = (flag: string, text: string | undefined) => {
      if (text === undefined) return undefined;
      const t = parseTimeArg(text, now);
      if (t === undefined) throw new UsageError(`invalid --${flag} "${text}": expected a duration like 10m or 1h30m, or a timestamp like 2026-11-26T04:00:00Z`);
      return t;
    };
    let grep: RegExp | undefined;
    if (args.grep !== undefined) {
      try {
        grep = new RegExp(args.grep);
      } catch (error) {
        throw new UsageError(`invalid --grep: ${(error as Error).message}`);
      }
    }
    let tail: number | undefined;
    if (args.tail !== undefined) {
      if (!/^\d+$/.test(args.tail)) throw new UsageError(`invalid --tail "${args.tail}": expected a number of records`);
      tail = Number(args.tail);
    }
    const sources = resolveSources(args._.map(String));
    const force = process.env.FORCE_COLOR !== undefined && process.env.FORCE_COLOR !== "0";
    const color = args.color !== false && !process.env.NO_COLOR && (force || Boolean(process.stdout.isTTY));
    const out = new OutBuffer(fdSink(1));
    const abort = new AbortController();
    const stop = () => abort.abort();
    if (args.follow) {
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    }
    let result;
    try {
      result = await readLogs({
        sources,
        tail,
        follow: Boolean(args.follow),
        signal: abort.signal,
        out,
        format: {
          color,
          local: Boolean(args.local),
          json: Boolean(args.json),
          minRank,
          targetPrefix: args.target,
          since: time("since", args.since),
          until: time("until", args.until),
          grep,
        },
      });
    } catch (error) {
      if (error instanceof OutputClosed) return EXIT_OK;
      if ((error as NodeJS.ErrnoException).code) throw new CliError((error as Error).message);
      throw error;
    } finally {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
    }
    if (result.malformed > 0) {
      const n = result.malformed;
      const hidden = args.json ? n : result.malformedHidden;
      const what = hidden === 0 ? "shown with [malformed]" : hidden === n ? "left out" : `${n - hidden} shown with [malformed], ${hidden} left out by the filters`;
      process.stderr.write(`firezone logs: ${n} malformed line${n === 1 ? "" : "s"} ${what}\n`);
    }
    return EXIT_OK;
  },
});

function resolveSources(paths: string[]): LogSource[] {
  if (paths.length === 0) {
    const dir = defaultLogDir("client");
    // A client run as root (the usual case: it needs a TUN device) logs to the system directory.
    const candidates = process.env.LOG_DIR ? [dir] : [dir, defaultLogDir("client", {}, 0)];
    const found = candidates.find(isDir);
    if (!found) throw new CliError(`no client logs in ${candidates.join(" or ")}; pass a file, a directory or - for stdin`);
    return [{ kind: "dir", path: found }];
  }
  return paths.map((p): LogSource => {
    if (p === "-") return { kind: "stdin" };
    let st;
    try {
      st = statSync(p);
    } catch (error) {
      throw new CliError(`cannot read ${p}: ${(error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file or directory" : (error as Error).message}`);
    }
    return st.isDirectory() ? { kind: "dir", path: p } : { kind: "file", path: p };
  });
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
