import { createConsola, type ConsolaInstance, type LogObject } from "consola";
import type { LogRecord, LogSink } from "./logger.ts";
import { renderLine, renderObject } from "./pretty.ts";
import { SEVERITY_RANK, type Severity } from "./severity.ts";

export interface ConsoleSinkOptions {
  /** Only records at least this severe reach the console (the global filter applies first). */
  minSeverity?: Severity;
  /** Colour the severity; default: stderr is a TTY and NO_COLOR is unset. */
  color?: boolean;
  /** Where lines go; default stderr, so stdout stays the command's own output. */
  stream?: NodeJS.WriteStream;
}

const CONSOLA_TYPE: Record<Severity, "trace" | "debug" | "info" | "warn" | "error"> = {
  TRACE: "trace",
  DEBUG: "debug",
  INFO: "info",
  WARN: "warn",
  ERROR: "error",
};

/**
 * Log records for people, through consola: the same `TIME SEVERITY target: message k=v` line
 * as `firezone logs`, on stderr. The files stay JSONL; this is only a view.
 */
export class ConsoleSink implements LogSink {
  private readonly consola: ConsolaInstance;
  private readonly minRank: number;

  constructor(options: ConsoleSinkOptions = {}) {
    const stream = options.stream ?? process.stderr;
    const color = options.color ?? (Boolean(stream.isTTY) && !process.env.NO_COLOR);
    this.minRank = SEVERITY_RANK[options.minSeverity ?? "TRACE"];
    this.consola = createConsola({
      level: 5,
      throttle: 0,
      stdout: stream,
      stderr: stream,
      reporters: [
        {
          log(obj: LogObject) {
            const record = obj.args[0] as LogRecord;
            stream.write(renderLine(renderObject(toObject(record), true), color) + "\n");
          },
        },
      ],
    });
  }

  write(record: LogRecord): void {
    if (SEVERITY_RANK[record.severity] < this.minRank) return;
    // Wrapped so consola passes the record through instead of reading it as its own log object.
    this.consola[CONSOLA_TYPE[record.severity]]({ args: [record] });
  }

  flush(): void {}

  close(): void {}
}

/** The record as the file would hold it, so both views show the same fields. */
function toObject(record: LogRecord): Record<string, unknown> {
  const out: Record<string, unknown> = { time: record.time, severity: record.severity, target: record.target, message: record.message };
  for (const [k, v] of Object.entries(record.fields)) out[k in out ? `field.${k}` : k] = v;
  return out;
}
