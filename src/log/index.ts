export { logger, Logger, configureLogging, flushLogs, closeLogs, recordToJson } from "./logger.ts";
export type { LogRecord, LogSink, Fields } from "./logger.ts";
export { LogFilter, LogFilterError } from "./filter.ts";
export { SEVERITIES, type Severity } from "./severity.ts";
export { rfc3339Nanos, nowNanos, nowRfc3339 } from "./clock.ts";
export { FileSink, logFileName, parseLogFileName, type FileSinkOptions, type FileSinkStats } from "./file-sink.ts";
export { ConsoleSink, type ConsoleSinkOptions } from "./console-sink.ts";
export { defaultLogDir } from "./log-dir.ts";
