// The JavaScript peers' request log: one JSON line per request with console.log, the members
// cedargate's edge writes with its default `request_log: "all"` (request id, method, path,
// status, issuer, subject, client, action, decision, the deciding policies, the token cache's
// outcome, error, time), so that both sides of the comparison pay for building and writing
// one line.

// The members a request's line starts with, filled in as the request is handled.
export function record() {
  return {
    issuer: null,
    subject: null,
    client: null,
    action: null,
    decision: null,
    policies: [],
    token_cache: null,
    decision_cache: null,
    error: null,
  };
}

// Writes the line of a request answered with `status`.
export function log(request, path, status, started, r) {
  console.log(
    JSON.stringify({
      request_id: request.headers.get('cf-ray') ?? crypto.randomUUID(),
      method: request.method,
      path,
      status,
      ...r,
      us: Math.round((performance.now() - started) * 1000),
    }),
  );
}
