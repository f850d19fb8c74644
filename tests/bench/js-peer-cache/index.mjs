// The JavaScript peer (../js-peer/index.mjs) as a careful user would write it: the same
// jose + @cedar-policy/cedar-wasm request path, plus a cache of verified tokens. The cache
// is a Map keyed by the token string; an entry is dropped once the token's `exp` has passed
// (checked on every hit), and at most TOKEN_CACHE_ENTRIES are kept (the oldest entry goes
// first when it is full — cedargate's edge keeps 1024 too). Cedar still decides on every
// request: only the signature and claim checks are skipped for a token seen before. Each
// request writes one log line (../js-peer/log.mjs) with the cache's hit or miss.
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { initSync, preparsePolicySet, preparseSchema, statefulIsAuthorized } from '@cedar-policy/cedar-wasm/web';
import cedarWasm from './cedar_wasm_bg.wasm';
import { log, record } from '../js-peer/log.mjs';

let state = null;

const TOKEN_CACHE_ENTRIES = 1024;
// token → { claims, expires (ms since the epoch) }
const verified = new Map();

// The token's claims, verified now or before; `r.token_cache` says which.
async function verify(token, r) {
  const now = Date.now();
  const hit = verified.get(token);
  if (hit) {
    if (hit.expires > now) {
      r.token_cache = 'hit';
      return hit.claims;
    }
    verified.delete(token);
  }
  r.token_cache = 'miss';
  const { payload: claims } = await jwtVerify(token, state.jwks, {
    issuer: state.issuer,
    audience: state.audience,
    algorithms: ['RS256', 'ES256'],
  });
  if (typeof claims.exp === 'number') {
    if (verified.size >= TOKEN_CACHE_ENTRIES) verified.delete(verified.keys().next().value);
    verified.set(token, { claims, expires: claims.exp * 1000 });
  }
  return claims;
}

function setUp(env) {
  initSync({ module: cedarWasm });
  const schema = preparseSchema('petstore', env.SCHEMA);
  if (schema.type !== 'success') throw new Error(`schema: ${JSON.stringify(schema.errors)}`);
  const policies = preparsePolicySet('petstore', { staticPolicies: env.POLICIES });
  if (policies.type !== 'success') throw new Error(`policies: ${JSON.stringify(policies.errors)}`);
  return {
    jwks: createRemoteJWKSet(new URL(env.JWKS_URL)),
    issuer: env.ISSUER,
    audience: env.AUDIENCE,
  };
}

// The PetStore routes: literal segments first, then the one with a parameter.
function route(method, path) {
  const m = method.toLowerCase();
  if (path === '/' && m === 'get') return ['get /', {}];
  if (path === '/pets' && (m === 'get' || m === 'post')) return [`${m} /pets`, {}];
  const match = path.match(/^\/pets\/([^/]+)$/);
  if (match && m === 'get') return ['get /pets/{petId}', { pathParameters: { petId: decodeURIComponent(match[1]) } }];
  return null;
}

// The request's answer (its status), with what the log line says filled into `r`.
async function decide(request, path, r) {
  const header = request.headers.get('authorization') ?? '';
  if (!header.toLowerCase().startsWith('bearer ')) return 401;
  let claims;
  try {
    claims = await verify(header.slice(7), r);
  } catch (e) {
    r.error = `invalid_token: ${e.message}`;
    return 401;
  }
  r.issuer = claims.iss ?? null;
  r.subject = claims.sub ?? null;
  const matched = route(request.method, path);
  if (!matched) return 404;
  const [action, context] = matched;
  r.action = action;
  const groups = Array.isArray(claims.group) ? claims.group : claims.group ? [claims.group] : [];
  const principal = { type: 'PetStore::User', id: claims.sub };
  const entities = [
    { uid: principal, attrs: {}, parents: groups.map((g) => ({ type: 'PetStore::UserGroup', id: g })) },
    ...groups.map((g) => ({ uid: { type: 'PetStore::UserGroup', id: g }, attrs: {}, parents: [] })),
  ];
  const answer = statefulIsAuthorized({
    principal,
    action: { type: 'PetStore::Action', id: action },
    resource: { type: 'PetStore::Application', id: 'PetStore' },
    context,
    preparsedSchemaName: 'petstore',
    preparsedPolicySetId: 'petstore',
    validateRequest: true,
    entities,
  });
  if (answer.type !== 'success') {
    r.error = JSON.stringify(answer.errors);
    return 403;
  }
  r.policies = answer.response.diagnostics.reason;
  r.decision = answer.response.decision;
  return r.decision === 'allow' ? 204 : 403;
}

export default {
  async fetch(request, env) {
    const started = performance.now();
    state ??= setUp(env);
    const path = new URL(request.url).pathname;
    const r = record();
    const status = await decide(request, path, r);
    log(request, path, status, started, r);
    return new Response(null, { status });
  },
};
