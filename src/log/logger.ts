import { nowRfc3339 } from "./clock.ts";
import { LogFilter } from "./filter.ts";
import { SEVERITIES, SEVERITY_RANK, type Severity } from "./severity.ts";

/** One log record as written to a JSONL file: these keys first, then the structured fields. */
export interface LogRecord {
  time: string;
  severity: Severity;
  target: string;
  message: string;
  fields: Record<string, unknown>;
}

/** Where records go. A sink must never throw into the caller and never block it. */
export interface LogSink {
  write(record: LogRecord): void;
  /** Pushes buffered records out; called on exit and on SIGTERM. */
  flush(): void;
  close(): void;
}

export type Fields = Record<string, unknown>;

/**
 * Global logging state: one filter and a list of sinks. Components ask for a `Logger` by target
 * (`logger("snownet::node")`) at module load; configuration may come later and applies to all.
 */
class Registry {
  filter: LogFilter = LogFilter.parse(undefined, "info");
  sinks: LogSink[] = [];
  /** Bumped on every change so loggers can cache their enabled-rank cheaply. */
  generation = 0;

  configure(filter: LogFilter, sinks: LogSink[]): void {
    for (const s of this.sinks) if (!sinks.includes(s)) safe(() => s.close());
    this.filter = filter;
    this.sinks = sinks;
    this.generation++;
  }

  emit(record: LogRecord): void {
    for (const sink of this.sinks) safe(() => sink.write(record));
  }

  flush(): void {
    for (const sink of this.sinks) safe(() => sink.flush());
  }
}

function safe(fn: () => void): void {
  try {
    fn();
  } catch {
    // Logging must never take the program down; a broken sink loses records, not the process.
  }
}

const registry = new Registry();

export class Logger {
  private generation = -1;
  private rank = 0;

  constructor(readonly target: string, private readonly baseFields: Fields = {}) {}

  /** A logger for a sub-target (`snownet::node` → `snownet::node::conn`) or with fixed fields. */
  child(suffix: string | null, fields: Fields = {}): Logger {
    const target = suffix ? `${this.target}::${suffix}` : this.target;
    return new Logger(target, { ...this.baseFields, ...fields });
  }

  enabled(severity: Severity): boolean {
    if (this.generation !== registry.generation) {
      this.rank = registry.filter.rankFor(this.target);
      this.generation = registry.generation;
    }
    return SEVERITY_RANK[severity] >= this.rank && registry.sinks.length > 0;
  }

  log(severity: Severity, message: string, fields?: Fields): void {
    if (!this.enabled(severity)) return;
    registry.emit({
      time: nowRfc3339(),
      severity,
      target: this.target,
      message,
      fields: fields ? { ...this.baseFields, ...fields } : this.baseFields,
    });
  }

  trace(message: string, fields?: Fields): void {
    this.log("TRACE", message, fields);
  }
  debug(message: string, fields?: Fields): void {
    this.log("DEBUG", message, fields);
  }
  info(message: string, fields?: Fields): void {
    this.log("INFO", message, fields);
  }
  warn(message: string, fields?: Fields): void {
    this.log("WARN", message, fields);
  }
  error(message: string, fields?: Fields): void {
    this.log("ERROR", message, fields);
  }
}

/** The logger for a module path such as `wireguard::session`. */
export function logger(target: string, fields?: Fields): Logger {
  return new Logger(target, fields);
}

/** Replaces the filter and the sinks for every logger in the process. */
export function configureLogging(filter: LogFilter, sinks: LogSink[]): void {
  registry.configure(filter, sinks);
}

export function flushLogs(): void {
  registry.flush();
}

export function closeLogs(): void {
  registry.configure(registry.filter, []);
}

/** Serialises a record as one JSONL line: `time, severity, target, message`, then the fields. */
export function recordToJson(record: LogRecord): string {
  const out: Record<string, unknown> = {
    time: record.time,
    severity: record.severity,
    target: record.target,
    message: record.message,
  };
  // A replacer makes JSON.stringify several times slower; only values that need it pay for it.
  let plain = true;
  const fields = record.fields;
  for (const k of Object.keys(fields)) {
    const v = fields[k];
    if ((v !== null && typeof v === "object") || typeof v === "bigint") plain = false;
    if (k in out) out[`field.${k}`] = v;
    else out[k] = v;
  }
  return plain ? JSON.stringify(out) : JSON.stringify(out, jsonReplacer);
}

/** Values JSON cannot carry (BigInt, Error, bytes) become readable strings instead of throwing. */
function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Error) return value.message;
  if (value instanceof Uint8Array) return Buffer.from(value).toString("hex");
  return value;
}

export { SEVERITIES };
