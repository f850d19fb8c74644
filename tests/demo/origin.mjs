// What both demo origins (petstore.mjs, todo.mjs) do alike: verify the edge's signed
// assertion (assertion.mjs) when started with --edge-url, echo what they learned about the
// caller in X-Identity-Echo, answer JSON, read a JSON body.
import { assertionVerifier } from './assertion.mjs';

/**
 * The assertion check of an origin started with `opts` (`edge-url`, `edge-issuer`,
 * `audience`): a function of a request that resolves to the verified assertion, `null`
 * without --edge-url, or throws. The edge's keys are fetched when the first request comes
 * (the edge starts after the origin).
 */
export function assertionCheck(opts) {
  let verifier = null;
  return async function verifyAssertion(req) {
    if (!opts['edge-url']) return null;
    verifier ??= await assertionVerifier({
      jwksUrl: `${opts['edge-url']}/.cedargate/jwks`,
      issuer: opts['edge-issuer'],
      audience: opts.audience,
    }).catch((err) => { verifier = null; throw err; });
    return verifier(req);
  };
}

/** JSON as a header value: ASCII only (anything else escaped), at most 4 KiB. */
function headerJson(value) {
  const text = JSON.stringify(value).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return text.length <= 4096 ? text : JSON.stringify({ truncated: true });
}

/** What this request told the origin about its caller. */
export function identityEcho(req, assertion) {
  const headers = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (name.startsWith('x-cedargate-') && name !== 'x-cedargate-assertion') headers[name] = value;
  }
  const echo = { headers };
  if (assertion) {
    const { sub, principal, groups, client, anonymous, action, policies } = assertion;
    echo.assertion = { verified: true, sub, principal, groups, client, anonymous, action, policies };
  }
  return headerJson(echo);
}

export function send(res, status, body, type = 'application/json') {
  const text = type === 'application/json' ? JSON.stringify(body) : body;
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-identity-echo': res.identityEcho ?? '{}' });
  res.end(text);
}

export async function readJson(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 100_000) throw new Error('body too large');
  }
  return body ? JSON.parse(body) : {};
}

/**
 * Verifies the request's assertion and sets the identity echo; answers 401 and resolves to
 * `undefined` when the assertion is refused. Resolves to `{ assertion, who }` otherwise.
 */
export async function caller(req, res, verifyAssertion) {
  let assertion;
  try {
    assertion = await verifyAssertion(req);
  } catch (err) {
    send(res, 401, { message: `refused: ${err.message}` });
    return undefined;
  }
  res.identityEcho = identityEcho(req, assertion);
  const who = (assertion ? (assertion.anonymous ? 'anonymous' : assertion.sub) : req.headers['x-cedargate-subject']) ?? 'unknown';
  return { assertion, who };
}

/** Listens on 127.0.0.1 and stops on SIGINT and SIGTERM. */
export function serve(server, port) {
  server.listen(Number(port), '127.0.0.1', () => {
    console.log(JSON.stringify({ ready: true, url: `http://127.0.0.1:${port}` }));
  });
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => server.close(() => process.exit(0)));
  }
}
