// A local OpenID provider shaped like a PingOne environment, for the demo and the tests.
//
//   node pingone.mjs --port 9400 --env demo-env --client-id cedargate-demo-spa \
//     --redirect-uri http://127.0.0.1:8080/callback --post-logout-uri http://127.0.0.1:8080/ \
//     --audience https://petstore.cedargate.test
//
// Issuer: http://127.0.0.1:<port>/<env>/as, with PingOne's endpoint names (authorize, token,
// jwks, userinfo, signoff). PKCE S256 is required; the client is public (no secret). The ID
// token carries `group` (PingOne's "Group Names" attribute mapping); the access token is an
// RFC 9068 JWT for the API audience with `scope` and `p1.permissions`. Signing keys are the
// test keys of shared/tests/keys: this provider is for local use only.
//
// A second, confidential client (`--service-id`, default `inventory`, secret
// `--service-secret`) gets client-credentials tokens, shaped like PingOne's for a Worker
// application: an RFC 9068 JWT for the API audience with `client_id`, `scope` (`pets:read`
// only), `env`, and no `sub` (PingOne leaves it out of client-credentials tokens).
//
// The browser client gets a refresh token with each sign-in (`--refresh-token-ttl`), rotated
// on every use, as PingOne issues them to an application with the refresh_token grant; short
// `--id-token-ttl` and `--access-token-ttl` let tests see sessions renewed.
//
// Sign-on policies, as PingOne names them in `acr`: a password sign-in gets `--password-acr`
// (amr `pwd`); an authorization request whose `acr_values` names `--mfa-acr` gets a second
// step, a one-time code (a fixed code per demo user: local use only), and that `acr` (amr
// `pwd otp`). The ID token carries `acr`, `amr` and `auth_time`, as PingOne's does.
//
// Revocation and introspection of the JWT access tokens (oidc-provider itself handles only
// its opaque tokens there): `/revoke` (RFC 7009) takes an access token from the client it was
// issued to; `/introspect` (RFC 7662) answers the API's own credentials
// (`--introspection-client`, secret `--introspection-secret`, as a PingOne custom resource
// has), active until the token expires or is revoked.
//
// `--service-scope` sets the scopes the service client may ask for (default `pets:read`;
// `authzen:evaluate` makes it an AuthZEN enforcement point of the Todo and search bundles).
// `--users-file` replaces the demo users with a JSON list of `{id, password}` (the AuthZEN IdP
// interop scenario's `data/users.json`). With `--authzen-pdp <url>` the provider is the IdP
// of the AuthZEN IdP interop scenario (openid/authzen interop/authzen-idp): while minting a
// person's ID and access token it asks the decision point a Resource Search
// (`{subject:{type:user,id}, action:{name:delete}, resource:{type:record}}`, the names set by
// `--authzen-subject-type`, `--authzen-action`, `--authzen-resource-type`) with a
// client-credentials token of its own service client, and puts the ids found in a claim
// named after the resource type (`record`). A failed search fails the token request.
import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Provider, { interactionPolicy } from 'oidc-provider';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values: opts } = parseArgs({
  options: {
    port: { type: 'string', default: '9400' },
    env: { type: 'string', default: 'demo-env' },
    'client-id': { type: 'string', default: 'cedargate-demo-spa' },
    'redirect-uri': { type: 'string', multiple: true, default: ['http://127.0.0.1:8080/callback'] },
    'post-logout-uri': { type: 'string', multiple: true, default: ['http://127.0.0.1:8080/'] },
    audience: { type: 'string', default: 'https://petstore.cedargate.test' },
    'id-token-ttl': { type: 'string', default: '3600' },
    'access-token-ttl': { type: 'string', default: '3600' },
    'refresh-token-ttl': { type: 'string', default: '86400' },
    'service-id': { type: 'string', default: 'inventory' },
    'service-secret': { type: 'string', default: 'inventory-local-secret' },
    'password-acr': { type: 'string', default: 'Single_Factor' },
    'mfa-acr': { type: 'string', default: 'Multi_Factor' },
    'introspection-client': { type: 'string', default: 'petstore-api' },
    'introspection-secret': { type: 'string', default: 'petstore-api-local-secret' },
    'service-scope': { type: 'string', default: 'pets:read' },
    'users-file': { type: 'string' },
    'authzen-pdp': { type: 'string' },
    'authzen-subject-type': { type: 'string', default: 'user' },
    'authzen-action': { type: 'string', default: 'delete' },
    'authzen-resource-type': { type: 'string', default: 'record' },
  },
});

// The scopes the service may ask for; people get every scope of the API.
const SERVICE_SCOPE = opts['service-scope'];
const API_SCOPE = 'pets:read pets:write';

const port = Number(opts.port);
const prefix = `/${opts.env}/as`;
const issuer = `http://127.0.0.1:${port}${prefix}`;

// The demo users. Group names as in the PetStore walkthrough; permissions as PingOne's
// `p1.permissions` ("resource:action").
export const USERS = {
  alice: {
    password: 'wonderland', name: 'Alice Admin', email: 'alice@petstore.test',
    groups: ['AVP_Admin'], permissions: ['pets:read', 'pets:create'], code: '271828',
  },
  bob: {
    password: 'builder', name: 'Bob User', email: 'bob@petstore.test',
    groups: ['AVP_User'], permissions: ['pets:read'], code: '314159',
  },
  // People of the AuthZEN interop Todo scenario (`--bundle todo`), signed in by e-mail
  // address, their subject: their roles are not in their tokens but in the bundle's entity
  // data (policies/authzen-todo/entities.json).
  'rick@the-citadel.com': {
    password: 'portal-gun', name: 'Rick Sanchez', email: 'rick@the-citadel.com',
    groups: [], permissions: [], code: '137137',
  },
  'morty@the-citadel.com': {
    password: 'aw-geez', name: 'Morty Smith', email: 'morty@the-citadel.com',
    groups: [], permissions: [], code: '161616',
  },
  'beth@the-smiths.com': {
    password: 'horse-surgeon', name: 'Beth Smith', email: 'beth@the-smiths.com',
    groups: [], permissions: [], code: '424242',
  },
};

if (opts['users-file']) {
  const listed = JSON.parse(fs.readFileSync(opts['users-file'], 'utf8'));
  for (const id of Object.keys(USERS)) delete USERS[id];
  for (const { id, password } of listed) {
    USERS[id] = { password, name: id, groups: [], permissions: [], code: null };
  }
}

// The claim the IdP scenario adds (named after the searched resource type), if any.
const SEARCH_CLAIM = opts['authzen-pdp'] ? opts['authzen-resource-type'] : null;

/** A client-credentials access token of the service client, from this provider's own token
 * endpoint over HTTP (as any enforcement point gets one). Never logged. */
async function serviceToken() {
  const basic = Buffer.from(`${opts['service-id']}:${opts['service-secret']}`).toString('base64');
  const res = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: SERVICE_SCOPE }),
  });
  if (!res.ok) throw new Error(`the token endpoint answered ${res.status}`);
  return (await res.json()).access_token;
}

/** The IdP scenario's claim for `accountId`: the ids of the resources the decision point's
 * Resource Search finds, `{}` without `--authzen-pdp`. */
async function searchClaims(accountId) {
  if (!SEARCH_CLAIM) return {};
  const res = await fetch(new URL('/access/v1/search/resource', opts['authzen-pdp']), {
    method: 'POST',
    headers: { authorization: `Bearer ${await serviceToken()}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      subject: { type: opts['authzen-subject-type'], id: accountId },
      action: { name: opts['authzen-action'] },
      resource: { type: SEARCH_CLAIM },
    }),
  });
  if (!res.ok) throw new Error(`the decision point answered ${res.status}`);
  const { results } = await res.json();
  if (!Array.isArray(results)) throw new Error('the decision point answered no results');
  return { [SEARCH_CLAIM]: results.filter((r) => r.type === SEARCH_CLAIM).map((r) => r.id) };
}

const SIGNING_PEM = fs.readFileSync(path.join(here, '../../shared/tests/keys/a-rsa-1.pem'), 'utf8');
const SIGNING_KID = 'a-rsa-1';
const signingPublicKey = crypto.createPublicKey(SIGNING_PEM);

function signingKey() {
  const jwk = crypto.createPrivateKey(SIGNING_PEM).export({ format: 'jwk' });
  return { ...jwk, kid: SIGNING_KID, alg: 'RS256', use: 'sig' };
}

// A login that asks for the requested sign-on policy: `acr_values` the session's `acr` does
// not meet prompts for a new sign-on (oidc-provider alone prompts only for essential acr
// claims and `max_age`).
const policy = interactionPolicy.base();
policy.get('login').checks.add(new interactionPolicy.Check(
  'acr_values_unmet',
  'the requested sign-on policy could not be met',
  (ctx) => {
    const requested = (ctx.oidc.params.acr_values ?? '').split(' ').filter(Boolean);
    if (!requested.length || ctx.oidc.result?.login || requested.includes(ctx.oidc.acr)) {
      return interactionPolicy.Check.NO_NEED_TO_PROMPT;
    }
    return interactionPolicy.Check.REQUEST_PROMPT;
  },
));

const configuration = {
  clients: [{
    client_id: opts['client-id'],
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: opts['redirect-uri'],
    post_logout_redirect_uris: opts['post-logout-uri'],
  }, {
    client_id: opts['service-id'],
    client_secret: opts['service-secret'],
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
  }],
  jwks: { keys: [signingKey()] },
  acrValues: [opts['password-acr'], opts['mfa-acr']],
  routes: {
    authorization: '/authorize',
    token: '/token',
    jwks: '/jwks',
    userinfo: '/userinfo',
    end_session: '/signoff',
    introspection: '/introspect',
    revocation: '/revoke',
  },
  pkce: { required: () => true },
  scopes: ['openid', 'profile', 'email', 'offline_access'],
  claims: {
    openid: ['sub', 'group', 'acr', 'amr', 'auth_time', ...(SEARCH_CLAIM ? [SEARCH_CLAIM] : [])],
    profile: ['name'],
    email: ['email'],
  },
  conformIdTokenClaims: false,
  cookies: {
    // The app runs on another port of 127.0.0.1; cookies are not separated by port.
    names: { session: 'p1_session', interaction: 'p1_interaction', resume: 'p1_resume' },
    keys: [crypto.randomBytes(32).toString('hex')],
  },
  ttl: {
    IdToken: Number(opts['id-token-ttl']),
    AccessToken: Number(opts['access-token-ttl']),
    RefreshToken: Number(opts['refresh-token-ttl']),
  },
  // As PingOne does for an application with the refresh_token grant: a refresh token with
  // every code exchange (no offline_access needed), a new one with every use; the one used
  // is then spent.
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: () => true,
  formats: {
    customizers: {
      // PingOne puts no `sub` in a client-credentials token.
      async jwt(ctx, token, jwt) {
        if (token.kind === 'ClientCredentials') delete jwt.payload.sub;
      },
    },
  },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => opts.audience,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, resource, client) => ({
        scope: client?.clientId === opts['service-id'] ? SERVICE_SCOPE : API_SCOPE,
        audience: opts.audience,
        accessTokenFormat: 'jwt',
        accessTokenTTL: Number(opts['access-token-ttl']),
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
    rpInitiatedLogout: {
      enabled: true,
      // Sign out without a confirmation page.
      logoutSource: async (ctx, form) => {
        // The form is submitted as if "yes, sign me out" had been chosen.
        const confirmed = form.replace('</form>', '<input type="hidden" name="logout" value="yes"></form>');
        ctx.body = `<!doctype html><html><body>${confirmed}<script>document.forms[0].submit()</script></body></html>`;
      },
    },
  },
  interactions: {
    policy,
    url: (ctx, interaction) => `${prefix}/login/${interaction.uid}`,
  },
  async findAccount(ctx, id) {
    const user = USERS[id];
    if (!user) return undefined;
    return {
      accountId: id,
      async claims(use) {
        return {
          sub: id,
          name: user.name,
          email: user.email,
          // PingOne maps groups into the ID token only.
          ...(use === 'id_token' ? { group: user.groups } : {}),
          ...(use === 'id_token' ? await searchClaims(id) : {}),
        };
      },
    };
  },
  async extraTokenClaims(ctx, token) {
    if (token.kind === 'ClientCredentials') return { env: opts.env };
    if (token.kind !== 'AccessToken') return undefined;
    const user = USERS[token.accountId];
    return {
      env: opts.env,
      'p1.permissions': user ? user.permissions : [],
      // A custom resource attribute mapped from the user's groups, as PingOne can add to the
      // access tokens of a custom resource (the access-token bundle reads it).
      groups: user ? user.groups : [],
      ...(user ? await searchClaims(token.accountId) : {}),
    };
  },
  async loadExistingGrant(ctx) {
    // Consent is given for the demo client: openid scopes and the API's scopes.
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid profile email offline_access');
    grant.addOIDCClaims(['group', ...(SEARCH_CLAIM ? [SEARCH_CLAIM] : [])]);
    grant.addResourceScope(opts.audience, API_SCOPE);
    await grant.save();
    return grant;
  },
};

const provider = new Provider(issuer, configuration);
provider.on('server_error', (ctx, err) => console.error('provider error', err));

function page(title, body) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,sans-serif;background:#f4f6f8;display:flex;justify-content:center;padding:48px 16px;margin:0}
main{background:#fff;border-radius:12px;box-shadow:0 2px 12px rgba(0,0,0,.08);padding:32px;max-width:360px;width:100%}
h1{font-size:20px;margin:0 0 4px}p{color:#555;font-size:14px}
label{display:block;font-size:13px;margin:16px 0 4px;color:#333}
input{width:100%;box-sizing:border-box;padding:10px;border:1px solid #ccd;border-radius:6px;font-size:15px}
button{margin-top:20px;width:100%;padding:11px;border:0;border-radius:6px;background:#b3282d;color:#fff;font-size:15px;cursor:pointer}
.error{color:#b3282d;font-size:14px}
</style></head><body><main>${body}</main></body></html>`;
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function loginForm(uid, error, mfa) {
  return page('Sign on', `<h1>Sign on</h1><p>Local PingOne-shaped environment <code>${escapeHtml(opts.env)}</code></p>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="${prefix}/login/${escapeHtml(uid)}">
<label for="username">Username</label><input id="username" name="username" autocomplete="username" required autofocus>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
${mfa ? `<p>This operation asks for a second factor (sign-on policy <code>${escapeHtml(opts['mfa-acr'])}</code>).</p>
<label for="code">One-time code</label><input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" required>` : ''}
<button type="submit">Sign on</button></form>`);
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 10_000) throw new Error('form too large');
  }
  return new URLSearchParams(body);
}

async function login(req, res, uid) {
  try {
    const details = await provider.interactionDetails(req, res);
    if (details.uid !== uid) throw new Error('interaction mismatch');
    const mfa = (details.params.acr_values ?? '').split(' ').includes(opts['mfa-acr']);
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(loginForm(uid, null, mfa));
      return;
    }
    const form = await readForm(req);
    const username = form.get('username') ?? '';
    const user = USERS[username];
    const given = Buffer.from(form.get('password') ?? '');
    const expected = Buffer.from(user ? user.password : 'x'.repeat(given.length || 1));
    const ok = user && given.length === expected.length && crypto.timingSafeEqual(given, expected)
      && (!mfa || same(form.get('code') ?? '', user.code));
    if (!ok) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(loginForm(uid, mfa ? 'Unknown username, wrong password or wrong code.' : 'Unknown username or wrong password.', mfa));
      return;
    }
    await provider.interactionFinished(req, res, {
      login: mfa
        ? { accountId: username, acr: opts['mfa-acr'], amr: ['pwd', 'otp'] }
        : { accountId: username, acr: opts['password-acr'], amr: ['pwd'] },
    }, { mergeWithLastSubmission: false });
  } catch (err) {
    res.writeHead(400, { 'content-type': 'text/plain' });
    res.end(`sign-on failed: ${err.message}`);
  }
}

/** Constant-time equality of two strings. */
function same(a, b) {
  const x = crypto.createHash('sha256').update(String(a)).digest();
  const y = crypto.createHash('sha256').update(String(b)).digest();
  return crypto.timingSafeEqual(x, y);
}

// Access tokens revoked through /revoke: jti -> exp (forgotten once expired).
const revoked = new Map();

/** The claims of an access token this provider signed (`typ` at+jwt), or null. */
function accessTokenClaims(token) {
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  try {
    const header = JSON.parse(Buffer.from(parts[0], 'base64url'));
    const claims = JSON.parse(Buffer.from(parts[1], 'base64url'));
    const signed = crypto.verify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), signingPublicKey,
      Buffer.from(parts[2], 'base64url'));
    if (!signed || header.alg !== 'RS256' || header.typ !== 'at+jwt' || claims.iss !== issuer) return null;
    return claims;
  } catch {
    return null;
  }
}

/** The client a Basic `Authorization` header names, if its secret is `secrets[id]`. */
function basicClient(req, secrets) {
  const match = /^Basic ([A-Za-z0-9+/=]+)$/.exec(req.headers.authorization ?? '');
  if (!match) return null;
  const pair = Buffer.from(match[1], 'base64').toString();
  const colon = pair.indexOf(':');
  if (colon < 0) return null;
  const id = decodeURIComponent(pair.slice(0, colon));
  const secret = decodeURIComponent(pair.slice(colon + 1));
  return Object.hasOwn(secrets, id) && same(secret, secrets[id]) ? id : null;
}

// The browser app's origins may call /revoke (as oidc-provider's client-based CORS allows).
const appOrigins = new Set(opts['redirect-uri'].map((u) => new URL(u).origin));

function json(req, res, status, body, extra = {}) {
  const origin = req.headers.origin;
  res.writeHead(status, {
    'content-type': 'application/json', 'cache-control': 'no-store',
    ...(origin && appOrigins.has(origin) ? { 'access-control-allow-origin': origin, vary: 'origin' } : {}),
    ...extra,
  });
  res.end(body === null ? '' : JSON.stringify(body));
}

/**
 * RFC 7662 for the JWT access tokens, asked by the API with its own credentials. Returns
 * false (the request goes to oidc-provider) when another client asks.
 */
async function introspect(req, res) {
  const client = basicClient(req, { [opts['introspection-client']]: opts['introspection-secret'] });
  if (!client) return false;
  const form = await readForm(req);
  const claims = accessTokenClaims(form.get('token') ?? '');
  const now = Math.floor(Date.now() / 1000);
  const active = claims && claims.exp > now && !revoked.has(claims.jti);
  json(req, res, 200, active ? { active: true, token_type: 'Bearer', ...claims } : { active: false });
  return true;
}

/**
 * RFC 7009: the client a token was issued to revokes it (a public client names itself with
 * `client_id`, the service authenticates). A JWT access token is remembered as revoked until
 * it expires; oidc-provider's own tokens (refresh tokens) are destroyed.
 */
async function revoke(req, res) {
  const form = await readForm(req);
  const token = form.get('token') ?? '';
  const service = basicClient(req, { [opts['service-id']]: opts['service-secret'] });
  const client = service ?? (form.get('client_id') === opts['client-id'] ? opts['client-id'] : null);
  if (!client) {
    json(req, res, 401, { error: 'invalid_client' }, { 'www-authenticate': 'Basic realm="revoke"' });
    return;
  }
  const claims = accessTokenClaims(token);
  const stored = claims ? null
    : (await provider.RefreshToken.find(token).catch(() => undefined))
      ?? (await provider.AccessToken.find(token).catch(() => undefined));
  const issuedTo = claims ? claims.client_id : stored?.clientId;
  // RFC 7009 §2.2: a token the server does not know is not an error.
  if (issuedTo !== undefined && issuedTo !== client) {
    json(req, res, 400, { error: 'unauthorized_client', error_description: 'the token was issued to another client' });
    return;
  }
  if (claims) revoked.set(claims.jti, claims.exp);
  if (stored) await stored.destroy();
  const now = Math.floor(Date.now() / 1000);
  for (const [jti, exp] of revoked) if (exp <= now) revoked.delete(jti);
  json(req, res, 200, null);
}

const callback = provider.callback();
const server = http.createServer((req, res) => {
  if (!req.url.startsWith(`${prefix}/`) && req.url !== prefix) {
    res.writeHead(404).end();
    return;
  }
  const rest = req.url.slice(prefix.length);
  const match = rest.match(/^\/login\/([A-Za-z0-9_-]+)$/);
  if (match) {
    login(req, res, match[1]);
    return;
  }
  const own = { '/introspect': introspect, '/revoke': revoke }[rest];
  if (own && req.method === 'POST') {
    own(req, res).then((handled) => {
      if (handled === false) {
        req.originalUrl = req.url;
        req.url = rest;
        callback(req, res);
      }
    }, () => json(req, res, 400, { error: 'invalid_request' }));
    return;
  }
  // The provider derives its mount path from originalUrl.
  req.originalUrl = req.url;
  req.url = rest || '/';
  callback(req, res);
});

server.listen(port, '127.0.0.1', () => {
  console.log(JSON.stringify({ ready: true, issuer }));
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
