// The JavaScript peers' request path, shared by ./index.mjs and ../js-peer-cache/index.mjs:
// set-up once per isolate (cedar-wasm's preparse API for the schema and policies, jose's
// remote JWKS cache for the keys), then verify → map claims → match route → authorize, and
// one log line (log.mjs). Only how a token is verified differs between the peers.
import { createRemoteJWKSet } from 'jose';
import { initSync, preparsePolicySet, preparseSchema, statefulIsAuthorized } from '@cedar-policy/cedar-wasm/web';
import cedarWasm from './cedar_wasm_bg.wasm';
import { log, record } from './log.mjs';

function setUp(env) {
  initSync({ module: cedarWasm });
  const schema = preparseSchema('petstore', env.SCHEMA);
  if (schema.type !== 'success') throw new Error(`schema: ${JSON.stringify(schema.errors)}`);
  const policies = preparsePolicySet('petstore', { staticPolicies: env.POLICIES });
  if (policies.type !== 'success') throw new Error(`policies: ${JSON.stringify(policies.errors)}`);
  return {
    jwks: createRemoteJWKSet(new URL(env.JWKS_URL)),
    // jose's jwtVerify options.
    options: { issuer: env.ISSUER, audience: env.AUDIENCE, algorithms: ['RS256', 'ES256'] },
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
async function decide(verify, state, request, path, r) {
  const header = request.headers.get('authorization') ?? '';
  if (!header.toLowerCase().startsWith('bearer ')) return 401;
  let claims;
  try {
    claims = await verify(header.slice(7), state, r);
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

// A worker whose tokens are verified by `verify(token, state, r)`: their claims, or a throw.
export function peer(verify) {
  let state = null;
  return {
    async fetch(request, env) {
      const started = performance.now();
      state ??= setUp(env);
      const path = new URL(request.url).pathname;
      const r = record();
      const status = await decide(verify, state, request, path, r);
      log(request, path, status, started, r);
      return new Response(null, { status });
    },
  };
}
