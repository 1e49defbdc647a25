/**
 * RFC 9457 problem details on a refused WebSocket upgrade, read the way connlib reads them: only
 * when the media type is application/problem+json (any case, parameters ignored), and only the
 * `code` and `detail` members. `invalid_token` and `missing_token` mean "sign in again".
 */
export interface ProblemDetails {
  code: string | null;
  detail: string | null;
}

export function parseProblemDetails(contentType: string | null, body: string): ProblemDetails | undefined {
  if (!contentType) return undefined;
  if (contentType.split(";")[0]!.trim().toLowerCase() !== "application/problem+json") return undefined;
  try {
    const value = JSON.parse(body) as { code?: unknown; detail?: unknown };
    if (typeof value !== "object" || value === null) return undefined;
    return { code: typeof value.code === "string" ? value.code : null, detail: typeof value.detail === "string" ? value.detail : null };
  } catch {
    return undefined;
  }
}

export function blamesToken(problem: ProblemDetails | undefined): boolean {
  return problem?.code === "invalid_token" || problem?.code === "missing_token";
}
