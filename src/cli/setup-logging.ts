import { ConsoleSink } from "../log/console-sink.ts";
import { FileSink } from "../log/file-sink.ts";
import { defaultLogDir } from "../log/log-dir.ts";
import { configureLogging, flushLogs, LogFilter, LogFilterError, type LogSink, type Severity } from "../log/index.ts";
import { UsageError } from "./exit.ts";

export interface SetupLoggingOptions {
  /** `client`, `gateway`, `relay`, `portal`…: names the files and the root log directory. */
  role: string;
  /** `--log-level`; falls back to `FIREZONE_LOG`, then `info`. */
  logLevel?: string;
  /** `--log-dir`; falls back to `LOG_DIR`, then the role's default. `false`: no files. */
  logDir?: string | false;
  /**
   * Console output for people on stderr: `true` (default) shows what the filter lets through,
   * a severity shows only that and above, `false` nothing (e.g. `status --json`).
   */
  console?: boolean | Severity;
  /** Size limits of the file sink (tests use small ones). */
  maxFileBytes?: number;
  maxTotalBytes?: number;
}

export interface LoggingSetup {
  filter: LogFilter;
  /** Where the JSONL files go, undefined without a file sink. */
  logDir: string | undefined;
  fileSink: FileSink | undefined;
  /** Writes buffered records and detaches the sinks. */
  close(): void;
}

let hooksInstalled = false;

/**
 * The one way a role command turns logging on: filter from `--log-level`/`FIREZONE_LOG`
 * (a bad directive is a usage error, exit 2), JSONL files in the log directory, console lines
 * through consola. Buffered records are flushed on exit, SIGTERM and SIGINT.
 */
export function setupLogging(options: SetupLoggingOptions): LoggingSetup {
  const spec = options.logLevel ?? process.env.FIREZONE_LOG;
  let filter: LogFilter;
  try {
    filter = LogFilter.parse(spec, "info");
  } catch (error) {
    if (error instanceof LogFilterError) {
      throw new UsageError(`${error.message} (from ${options.logLevel !== undefined ? "--log-level" : "FIREZONE_LOG"})`);
    }
    throw error;
  }
  const sinks: LogSink[] = [];
  let fileSink: FileSink | undefined;
  let logDir: string | undefined;
  if (options.logDir !== false) {
    logDir = options.logDir && options.logDir !== "" ? options.logDir : defaultLogDir(options.role);
    fileSink = new FileSink({ dir: logDir, role: options.role, maxFileBytes: options.maxFileBytes, maxTotalBytes: options.maxTotalBytes });
    sinks.push(fileSink);
  }
  const consoleOption = options.console ?? true;
  if (consoleOption !== false) sinks.push(new ConsoleSink({ minSeverity: consoleOption === true ? undefined : consoleOption }));
  configureLogging(filter, sinks);
  installHooks();
  return {
    filter,
    logDir,
    fileSink,
    close() {
      flushLogs();
      configureLogging(filter, []);
    },
  };
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on("exit", () => flushLogs());
  // Our listener replaces the default action of the signal; if no one else handles it, the
  // process ends as it would have (128 + signal number), after the records are out.
  for (const [signal, code] of [["SIGTERM", 143], ["SIGINT", 130]] as const) {
    process.on(signal, () => {
      flushLogs();
      if (process.listenerCount(signal) <= 1) process.exit(code);
    });
  }
}
