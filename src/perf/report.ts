import { formatRate, type Measurement } from "./harness.ts";
import type { SuiteReport } from "./registry.ts";

/** The report as one JSON document (stable field names; numbers unrounded). */
export function reportToJson(report: SuiteReport): string {
  return JSON.stringify({ version: 1, ...report }, null, 2) + "\n";
}

function ratioText(m: Measurement): string {
  if (m.ratio === undefined || m.name === m.baseline) return m.baseline && m.name !== m.baseline ? "" : "baseline";
  return `${m.ratio >= 10 ? m.ratio.toFixed(0) : m.ratio.toFixed(2)}x ${m.baseline}`;
}

/** A plain-text table for people: one block per group, contenders fastest first. */
export function reportToTable(report: SuiteReport): string {
  const lines: string[] = [];
  lines.push(`perf ${report.suite}: ${report.description}`);
  for (const [k, v] of Object.entries(report.environment)) lines.push(`  ${k}: ${v}`);
  lines.push(`  median of ${report.options.runs} run${report.options.runs === 1 ? "" : "s"}, ${report.options.durationMs} ms per measurement, ${report.options.warmupMs} ms warm-up`);
  lines.push("");
  const header = ["group", "contender", "ops/s", "MB/s", "vs", "spread"];
  const rows: string[][] = [];
  const groups = [...new Set(report.results.map((m) => m.group))];
  for (const g of groups) {
    const ms = report.results.filter((m) => m.group === g).sort((a, b) => b.opsPerSec - a.opsPerSec);
    for (const m of ms) {
      const lo = Math.min(...m.samples);
      const hi = Math.max(...m.samples);
      const spread = m.opsPerSec > 0 ? `±${(((hi - lo) / 2 / m.opsPerSec) * 100).toFixed(0)}%` : "";
      rows.push([g, m.name, formatRate(m.opsPerSec), m.mbPerSec !== undefined ? m.mbPerSec.toFixed(0) : "", ratioText(m), spread]);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const right = new Set([2, 3]);
  const fmt = (r: string[]) => r.map((c, i) => (right.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ").trimEnd();
  lines.push(fmt(header));
  lines.push(widths.map((w) => "-".repeat(w)).join("  "));
  let prev = "";
  for (const r of rows) {
    if (prev && r[0] !== prev) lines.push("");
    lines.push(fmt(r[0] === prev ? ["", ...r.slice(1)] : r));
    prev = r[0];
  }
  if (report.notes.length > 0) {
    lines.push("");
    for (const n of report.notes) lines.push(`note: ${n}`);
  }
  return lines.join("\n") + "\n";
}
