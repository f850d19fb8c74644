// The demo's argument handling (options.mjs) and the configuration a run would give the
// worker and the app (stack.mjs's workerVars and appSettings), with and without PingOne:
// what can be checked without a real PingOne environment. The trust configuration made for
// `--pingone --bundle access` is bound to policies/petstore-access by the cedargate tool, as
// the worker binds it at start-up.
//
//   node --test tests/demo/options.test.mjs      (cargo xtask test runs it)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { demoOptions, UsageError, PINGONE_REFUSALS, pingoneLines } from './options.mjs';
import { workerVars, appSettings, pingoneIssuer, root, API_AUDIENCE, BUNDLES } from './stack.mjs';

const ENV = '3f2a9c1e-7b4d-4e8a-9c6f-1d2e3f4a5b6c';
const PINGONE = ['--pingone', '--region', 'eu', '--environment-id', ENV, '--client-id', 'spa-client'];
const AUDIENCE = 'https://api.petstore.example';
const URLS = {
  appUrl: 'http://127.0.0.1:8080',
  edgeUrl: 'http://127.0.0.1:8787',
  originUrl: 'http://127.0.0.1:9300',
  assertionKey: 'k',
};

function refused(argv, env, message) {
  assert.throws(() => demoOptions(argv, env), (err) => {
    assert.ok(err instanceof UsageError, err);
    assert.match(err.message, message);
    assert.match(err.message, /^([a-z-]|PINGONE_)/, 'a message starts lowercase (or with a flag or variable)');
    return true;
  });
}

/** What the stack would configure for these options. */
function configured(options) {
  const { bundle, pingone, bothTokens } = options;
  const issuer = pingone ? pingoneIssuer(pingone) : 'http://127.0.0.1:9400/demo-env/as';
  const clientId = pingone ? pingone.clientId : 'cedargate-demo-spa';
  const kv = BUNDLES[bundle].kv;
  return {
    issuer,
    worker: workerVars({ bundle, pingone, issuer, clientId, kv, bothTokens, ...URLS }),
    app: appSettings({ bundle, pingone, issuer, clientId, bothTokens, ...URLS }),
  };
}

test('without --pingone: the local provider, the default ports, any bundle', () => {
  const options = demoOptions([], {});
  assert.deepEqual(options, {
    bundle: 'petstore',
    ports: { app: 8080, edge: 8787, provider: 9400, origin: 9300 },
    pingone: null,
    bothTokens: false,
  });
  for (const bundle of Object.keys(BUNDLES)) {
    assert.equal(demoOptions(['--bundle', bundle], {}).bundle, bundle);
  }
  assert.equal(demoOptions(['--port-app', '0'], {}).ports.app, 0);
  refused(['--bundle', 'nope'], {}, /^unknown bundle nope \(petstore, access, context, todo, search\)$/);
  refused(['--port-edge', 'x'], {}, /^--port-edge x: not a port$/);
  refused(['--colour'], {}, /unknown option '--colour'/i);
  refused(['--api-audience', AUDIENCE], {}, /^--api-audience is for --pingone/);
});

test('the local access bundle keeps its configuration: at+jwt, introspection by the local provider', () => {
  const { worker, app, issuer } = configured(demoOptions(['--bundle', 'access'], {}));
  const config = worker.CEDARGATE_CONFIG;
  assert.deepEqual(config.trust.issuers.map((i) => [i.caller, i.audiences, i.token_type, i.group_claim]), [
    ['user', [API_AUDIENCE], 'at+jwt', 'groups'],
    ['client', [API_AUDIENCE], 'at+jwt', null],
  ]);
  assert.deepEqual(config.introspection, [{ issuer, endpoint: `${issuer}/introspect`, client_id: 'petstore-api', cache_seconds: 2 }]);
  assert.equal(worker.CEDARGATE_INTROSPECTION_SECRET, 'petstore-api-local-secret');
  assert.equal(app.access_token_type, 'at+jwt');
  assert.equal(app.edge_token, 'access');
});

test('--pingone needs the environment and the application, from flags or the environment', () => {
  refused(['--pingone'], {}, /^--pingone needs the environment id: --environment-id or PINGONE_ENVIRONMENT_ID$/);
  refused(['--pingone', '--environment-id', ENV], {}, /client id: --client-id or PINGONE_CLIENT_ID$/);
  // PINGONE_ENVIRONMENT_ID alone turns PingOne on, as before.
  const options = demoOptions([], { PINGONE_ENVIRONMENT_ID: ENV, PINGONE_CLIENT_ID: 'c', PINGONE_REGION: 'sg' });
  assert.deepEqual(options.pingone, { region: 'sg', environmentId: ENV, clientId: 'c', apiAudience: null, introspection: null });
  assert.equal(pingoneIssuer(options.pingone), `https://auth.pingone.sg/${ENV}/as`);
  assert.equal(demoOptions(['--pingone', '--environment-id', ENV, '--client-id', 'c'], {}).pingone.region, 'com');
  assert.throws(() => pingoneIssuer({ region: 'mars', environmentId: ENV }), /unknown PingOne region mars/);
});

test('--pingone refuses the todo and search bundles, saying why', () => {
  for (const bundle of ['todo', 'search']) {
    refused([...PINGONE, '--bundle', bundle], {}, new RegExp(`^the ${bundle} bundle cannot run against PingOne: `));
    assert.match(PINGONE_REFUSALS[bundle], /app predicts decisions with `sub`/);
  }
  assert.deepEqual(Object.keys(PINGONE_REFUSALS).sort(), ['search', 'todo']);
});

test('--pingone --bundle petstore and context: ID tokens of the application; context passes acr and auth_time', () => {
  for (const bundle of ['petstore', 'context']) {
    const options = demoOptions([...PINGONE, '--bundle', bundle], {});
    const { worker, app, issuer } = configured(options);
    assert.equal(issuer, `https://auth.pingone.eu/${ENV}/as`);
    const config = worker.CEDARGATE_CONFIG;
    assert.deepEqual(config.trust.issuers, [{ issuer, token: 'id', audiences: ['spa-client'] }]);
    assert.equal(config.introspection, undefined);
    assert.equal(worker.CEDARGATE_INTROSPECTION_SECRET, undefined);
    assert.deepEqual(app.pingone, { region: 'eu', environment_id: ENV });
    assert.equal(app.edge_token, 'id');
    assert.equal(app.scopes, undefined, 'the app asks for its default scopes');
    if (bundle === 'context') {
      assert.deepEqual(config.context.token, ['acr', 'amr', 'auth_time']);
      assert.ok(config.bundle_kv);
    }
    refused([...PINGONE, '--bundle', bundle, '--api-audience', AUDIENCE], {}, /^--api-audience is for --bundle access/);
  }
});

test('--pingone --bundle access: the custom resource\'s audience is required, introspection is optional', () => {
  refused([...PINGONE, '--bundle', 'access'], {}, /^--bundle access with --pingone needs the audience of the custom resource .*--api-audience or PINGONE_API_AUDIENCE/);
  const options = demoOptions([...PINGONE, '--bundle', 'access', '--api-audience', AUDIENCE], {});
  assert.deepEqual(options.pingone, { region: 'eu', environmentId: ENV, clientId: 'spa-client', apiAudience: AUDIENCE, introspection: null });
  const { worker, app, issuer } = configured(options);
  const config = worker.CEDARGATE_CONFIG;
  // PingOne's access tokens carry `typ: JWT` until March 2027: no `typ` is required.
  assert.deepEqual(config.trust.issuers, [
    { issuer, token: 'access', caller: 'user', audiences: [AUDIENCE], group_claim: 'groups' },
    { issuer, token: 'access', caller: 'client', audiences: [AUDIENCE], group_claim: null },
  ]);
  assert.equal(config.introspection, undefined);
  assert.equal(worker.CEDARGATE_INTROSPECTION_SECRET, undefined);
  assert.deepEqual(app, {
    pingone: { region: 'eu', environment_id: ENV },
    client_id: 'spa-client',
    redirect_uri: `${URLS.appUrl}/callback`,
    post_logout_redirect_uri: `${URLS.appUrl}/`,
    scopes: ['openid', 'profile', 'email', 'pets:read', 'pets:write'],
    api_audience: AUDIENCE,
    access_group_claim: 'groups',
    edge_url: URLS.edgeUrl,
    edge_token: 'access',
    example_parameters: { petId: '1' },
  });
  const lines = pingoneLines('access', options.pingone, { issuer, ...URLS }).join('\n');
  assert.match(lines, /not introspected/);
  assert.match(lines, new RegExp(`access token for ${AUDIENCE}`));

  // The audience from the environment too.
  assert.equal(demoOptions([...PINGONE, '--bundle', 'access'], { PINGONE_API_AUDIENCE: AUDIENCE }).pingone.apiAudience, AUDIENCE);
});

test('--pingone --bundle access introspects as the custom resource, its secret from the environment only', () => {
  const argv = [...PINGONE, '--bundle', 'access', '--api-audience', AUDIENCE, '--introspection-client-id', 'resource-id'];
  refused(argv, {}, /^--introspection-client-id needs the custom resource's secret in PINGONE_INTROSPECTION_SECRET/);
  refused([...PINGONE, '--bundle', 'access', '--api-audience', AUDIENCE], { PINGONE_INTROSPECTION_SECRET: 's' }, /^PINGONE_INTROSPECTION_SECRET needs the custom resource's id/);
  refused([...argv, '--introspection-secret', 's'], { PINGONE_INTROSPECTION_SECRET: 's' }, /unknown option '--introspection-secret'/i);
  const options = demoOptions(argv, { PINGONE_INTROSPECTION_SECRET: 'resource-secret' });
  const { worker, issuer } = configured(options);
  assert.deepEqual(worker.CEDARGATE_CONFIG.introspection, [
    { issuer, endpoint: `https://auth.pingone.eu/${ENV}/as/introspect`, client_id: 'resource-id', cache_seconds: 2 },
  ]);
  assert.equal(worker.CEDARGATE_INTROSPECTION_SECRET, 'resource-secret');
  const lines = pingoneLines('access', options.pingone, { issuer, ...URLS }).join('\n');
  assert.match(lines, /as the resource resource-id/);
  assert.doesNotMatch(lines, /resource-secret/);
});

test('the trust configuration made for --pingone --bundle access binds to the access bundle', () => {
  const options = demoOptions([...PINGONE, '--bundle', 'access', '--api-audience', AUDIENCE], {});
  const { worker, issuer } = configured(options);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cedargate-demo-options-'));
  try {
    const trust = path.join(dir, 'trust.json');
    fs.writeFileSync(trust, JSON.stringify(worker.CEDARGATE_CONFIG.trust));
    // A person's PingOne access token (no `typ` asked), and a Worker application's.
    const requests = path.join(dir, 'requests.jsonl');
    fs.writeFileSync(requests, [
      { name: 'person', issuer, token: 'access', claims: { sub: 'u-1', client_id: 'spa-client', scope: 'pets:read', groups: ['AVP_User'] }, method: 'GET', path: '/pets' },
      { name: 'worker application', issuer, token: 'access', claims: { client_id: 'w-1', scope: 'pets:read' }, method: 'GET', path: '/pets' },
    ].map((r) => JSON.stringify(r)).join('\n'));
    // Decided by the access bundle and by a copy that forbids everything: the person's
    // request changes (allowed, so mapped: user, groups and scope), the Worker
    // application's does not (its generated client id is not the policy's `inventory`).
    const folder = path.join(root, 'policies/petstore-access');
    const staged = path.join(dir, 'staged');
    fs.cpSync(folder, staged, { recursive: true });
    fs.appendFileSync(path.join(staged, 'policies.cedar'), '\n@id("nothing")\nforbid (principal, action, resource);\n');
    const run = spawnSync('cargo', ['run', '--quiet', '-p', 'cedargate-cli', '--', 'diff-decisions',
      '--live', folder, '--staged', staged, '--trust', trust, '--requests', requests], { cwd: root, encoding: 'utf8' });
    assert.equal(run.status, 1, `${run.stdout}${run.stderr}`);
    assert.match(run.stdout, /"person" GET \/pets\n {4}get \/pets: allow → deny\n {4}live: {3}avp-user-all-but-post-pets\n/);
    assert.match(run.stdout, /"worker application" GET \/pets\n {4}get \/pets: deny → deny\n {4}live: {3}\(none\)\n/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('--both-tokens: the access entry takes the ID token beside it, and the app sends it', () => {
  for (const env of [{}, { PINGONE_ENVIRONMENT_ID: 'env-1', PINGONE_CLIENT_ID: 'spa-1', PINGONE_API_AUDIENCE: AUDIENCE }]) {
    const options = demoOptions(['--bundle', 'access', '--both-tokens'], env);
    assert.equal(options.bothTokens, true);
    const { worker, app } = configured(options);
    const clientId = options.pingone ? 'spa-1' : 'cedargate-demo-spa';
    const person = worker.CEDARGATE_CONFIG.trust.issuers.find((i) => i.caller === 'user');
    // Groups from the ID token's `group` (the default claim), not the access token's `groups`.
    assert.deepEqual(person.companion, { token: 'id', audiences: [clientId] });
    assert.equal(person.group_claim, undefined);
    assert.ok(worker.CEDARGATE_CONFIG.cors.allow_headers.includes('x-cedargate-id-token'));
    assert.equal(app.edge_token, 'access');
    assert.equal(app.edge_companion, true);
    assert.equal(app.access_group_claim, undefined);
  }
  refused(['--both-tokens'], {}, /^--both-tokens goes with --bundle access/);
  refused(['--bundle', 'todo', '--both-tokens'], {}, /^--both-tokens goes with --bundle access/);
});
