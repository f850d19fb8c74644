// The JavaScript peer (../js-peer/index.mjs) as a careful user would write it: the same
// jose + @cedar-policy/cedar-wasm request path, plus a cache of verified tokens. The cache
// is a Map keyed by the token string; an entry is dropped once the token's `exp` has passed
// (checked on every hit), and at most TOKEN_CACHE_ENTRIES are kept (the oldest entry goes
// first when it is full — cedargate's edge keeps 1024 too). Cedar still decides on every
// request: only the signature and claim checks are skipped for a token seen before.
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { initSync, preparsePolicySet, preparseSchema, statefulIsAuthorized } from '@cedar-policy/cedar-wasm/web';
import cedarWasm from './cedar_wasm_bg.wasm';

let state = null;

const TOKEN_CACHE_ENTRIES = 1024;
// token → { claims, expires (ms since the epoch) }
const verified = new Map();

async function verify(token) {
  const now = Date.now();
  const hit = verified.get(token);
  if (hit) {
    if (hit.expires > now) return hit.claims;
    verified.delete(token);
  }
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

export default {
  async fetch(request, env) {
    state ??= setUp(env);
    const header = request.headers.get('authorization') ?? '';
    if (!header.toLowerCase().startsWith('bearer ')) return new Response(null, { status: 401 });
    let claims;
    try {
      claims = await verify(header.slice(7));
    } catch {
      return new Response(null, { status: 401 });
    }
    const url = new URL(request.url);
    const matched = route(request.method, url.pathname);
    if (!matched) return new Response(null, { status: 404 });
    const [action, context] = matched;
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
    if (answer.type === 'success' && answer.response.decision === 'allow') {
      return new Response(null, { status: 204 });
    }
    return new Response(null, { status: 403 });
  },
};
