export { logger, Logger, configureLogging, flushLogs, closeLogs, recordToJson } from "./logger.ts";
export type { LogRecord, LogSink, Fields } from "./logger.ts";
export { LogFilter, LogFilterError } from "./filter.ts";
export { SEVERITIES, type Severity } from "./severity.ts";
export { rfc3339Nanos, nowNanos } from "./clock.ts";
