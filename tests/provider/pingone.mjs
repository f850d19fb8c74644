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
import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Provider from 'oidc-provider';

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
    'service-id': { type: 'string', default: 'inventory' },
    'service-secret': { type: 'string', default: 'inventory-local-secret' },
  },
});

// The scopes the service may ask for; people get every scope of the API.
const SERVICE_SCOPE = 'pets:read';
const API_SCOPE = 'pets:read pets:write';

const port = Number(opts.port);
const prefix = `/${opts.env}/as`;
const issuer = `http://127.0.0.1:${port}${prefix}`;

// The demo users. Group names as in the PetStore walkthrough; permissions as PingOne's
// `p1.permissions` ("resource:action").
export const USERS = {
  alice: {
    password: 'wonderland', name: 'Alice Admin', email: 'alice@petstore.test',
    groups: ['AVP_Admin'], permissions: ['pets:read', 'pets:create'],
  },
  bob: {
    password: 'builder', name: 'Bob User', email: 'bob@petstore.test',
    groups: ['AVP_User'], permissions: ['pets:read'],
  },
};

function signingKey(file, kid) {
  const pem = fs.readFileSync(path.join(here, '../../shared/tests/keys', file), 'utf8');
  const jwk = crypto.createPrivateKey(pem).export({ format: 'jwk' });
  return { ...jwk, kid, alg: 'RS256', use: 'sig' };
}

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
  jwks: { keys: [signingKey('a-rsa-1.pem', 'a-rsa-1')] },
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
    openid: ['sub', 'group'],
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
  },
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
    grant.addOIDCClaims(['group']);
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

function loginForm(uid, error) {
  return page('Sign on', `<h1>Sign on</h1><p>Local PingOne-shaped environment <code>${escapeHtml(opts.env)}</code></p>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="${prefix}/login/${escapeHtml(uid)}">
<label for="username">Username</label><input id="username" name="username" autocomplete="username" required autofocus>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
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
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(loginForm(uid));
      return;
    }
    const form = await readForm(req);
    const username = form.get('username') ?? '';
    const user = USERS[username];
    const given = Buffer.from(form.get('password') ?? '');
    const expected = Buffer.from(user ? user.password : 'x'.repeat(given.length || 1));
    const ok = user && given.length === expected.length && crypto.timingSafeEqual(given, expected);
    if (!ok) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(loginForm(uid, 'Unknown username or wrong password.'));
      return;
    }
    await provider.interactionFinished(req, res, {
      login: { accountId: username, amr: ['pwd'] },
    }, { mergeWithLastSubmission: false });
  } catch (err) {
    res.writeHead(400, { 'content-type': 'text/plain' });
    res.end(`sign-on failed: ${err.message}`);
  }
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
