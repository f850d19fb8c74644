// `cargo xtask demo` runs this once the worker and the app are built: it starts the whole
// system on 127.0.0.1, prints the URL to open and the demo users, and stops every process it
// started on Ctrl-C.
//
//   node run.mjs [--bundle petstore|access|context|todo|search] [--both-tokens]
//                [--port-app 8080] [--port-edge 8787] [--port-provider 9400] [--port-origin 9300]
//                [--pingone --region eu --environment-id <id> --client-id <id>
//                 [--api-audience <uri>] [--introspection-client-id <id>]]
//
// `--bundle access` runs the access-token bundle (policies/petstore-access) with the local
// provider: the app sends the access token, and the edge introspects it; with
// `--both-tokens` the app sends the ID token beside it and the edge decides on both (groups
// from the ID token, as PingOne puts them there only). `--bundle context`
// runs policies/petstore-context from the worker's KV: decisions on request values, and a
// step-up (multi-factor sign-in) for delete /pets/{petId}. `--bundle todo` runs the AuthZEN
// interop Todo API (policies/authzen-todo): the roles of its people come from the bundle's
// entity data, and the worker answers AuthZEN questions too: the commands printed get the
// inventory service's token (an enforcement point's) and ask one with it. `--bundle search`
// runs the AuthZEN search interop (policies/authzen-search): its six users sign in, the app
// lists the records each may view, edit and delete, and the commands printed ask a Resource
// Search as an enforcement point.
//
// `--pingone` runs the petstore, context and access bundles against a real PingOne
// environment (docs/src/howto/pingone.md says what each needs configured there); the access
// bundle needs the custom resource's audience (`--api-audience`) and introspects when given
// the resource's id (`--introspection-client-id`) and secret (PINGONE_INTROSPECTION_SECRET,
// never a flag). The todo and search bundles refuse, saying why (options.mjs).
//
// PINGONE_REGION, PINGONE_ENVIRONMENT_ID, PINGONE_CLIENT_ID, PINGONE_API_AUDIENCE and
// PINGONE_INTROSPECTION_CLIENT_ID work as well as the flags.
import path from 'node:path';
import fs from 'node:fs';

/** What `--both-tokens` adds to the printed instructions. */
const BOTH_TOKENS_LINES = [
  '',
  '  Both tokens in one decision: the app sends the ID token in X-Cedargate-Id-Token beside',
  '  the access token; the edge verifies both, checks they are one person\'s for this app, and',
  '  takes the groups from the ID token (`group`, as PingOne puts it there only), the scopes',
  '  and permissions from the access token. The access token alone gets 401 companion_missing.',
];
import { startStack, root, USERS, TODO_USERS, TODO_SERVICE_SCOPE, SEARCH_USERS_FILE, BUNDLES, INTROSPECTION_CACHE_SECONDS } from './stack.mjs';
import { demoOptions, UsageError, pingoneLines } from './options.mjs';

let opts;
try {
  opts = demoOptions(process.argv.slice(2), process.env, Object.keys(BUNDLES));
} catch (err) {
  if (!(err instanceof UsageError)) throw err;
  console.error(`demo: ${err.message}`);
  process.exit(2);
}
const { pingone } = opts;

let stack;
let stopping = false;
async function shutdown(code) {
  if (stopping) return;
  stopping = true;
  console.log('\nstopping the demo…');
  await stack?.stop();
  console.log('stopped.');
  process.exit(code);
}
process.on('SIGINT', () => shutdown(0));
process.on('SIGTERM', () => shutdown(0));

try {
  stack = await startStack({
    dir: path.join(root, 'target/cedargate-demo'),
    ports: opts.ports,
    pingone,
    bundle: opts.bundle,
    bothTokens: opts.bothTokens,
    onStep: (step) => console.log(`[demo] ${step}`),
  });
} catch (err) {
  console.error(`\ndemo: ${err.message}`);
  await shutdown(1);
}

// The AuthZEN question the Todo demo prints: the interop gateway's, for a route.
const TODO_QUESTION = {
  subject: { type: 'user', id: 'rick@the-citadel.com' },
  action: { name: 'DELETE' },
  resource: { type: 'route', id: '/todos/{todoId}' },
};

// The Resource Search the search demo prints: the records a user may edit.
const SEARCH_QUESTION = {
  subject: { type: 'user', id: 'alice' },
  action: { name: 'edit' },
  resource: { type: 'record' },
};

const lines = [
  '',
  'cedargate demo is running.',
  '',
  `  Open ${stack.appUrl} in a browser.`,
  '',
];
if (pingone) {
  lines.push(...pingoneLines(opts.bundle, pingone, stack));
  if (opts.bothTokens) lines.push(...BOTH_TOKENS_LINES);
} else {
  const token = opts.bothTokens
    ? 'access token and ID'
    : ['access', 'todo', 'search'].includes(opts.bundle) ? 'access' : 'ID';
  lines.push(`  Users (local PingOne-shaped provider; the app sends their ${token} token):`);
  if (opts.bundle === 'todo') {
    for (const [name, user] of Object.entries(TODO_USERS)) {
      lines.push(`    ${name.padEnd(22)} password ${user.password.padEnd(14)} roles ${user.roles.join(', ').padEnd(19)} → ${user.may}`);
    }
    lines.push(
      '',
      '  Bundle policies/authzen-todo: the OpenID AuthZEN interop Todo API; the roles are in the',
      '  bundle\'s entity data, not in the tokens. The worker also answers AuthZEN 1.0 questions:',
      `    curl ${stack.edgeUrl}/.well-known/authzen-configuration`,
      `  An enforcement point asks with its own token: the inventory service (client credentials,`,
      `  scope ${TODO_SERVICE_SCOPE}) may; no person may. May Rick delete a todo? (the gateway's question)`,
      `    token=$(curl -s -u inventory:inventory-local-secret -d grant_type=client_credentials \\`,
      `      -d scope=${TODO_SERVICE_SCOPE} ${stack.issuer}/token | jq -r .access_token)`,
      `    curl -s -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \\`,
      `      -d '${JSON.stringify(TODO_QUESTION)}' \\`,
      `      ${stack.edgeUrl}/access/v1/evaluation`,
    );
  } else if (opts.bundle === 'search') {
    const entities = JSON.parse(fs.readFileSync(path.join(root, 'policies/authzen-search/entities.json'), 'utf8'));
    const people = JSON.parse(fs.readFileSync(path.join(root, SEARCH_USERS_FILE), 'utf8'));
    for (const { id, password } of people) {
      const attrs = entities.find((e) => e.uid.type === 'Search::User' && e.uid.id === id)?.attrs ?? {};
      lines.push(`    ${id.padEnd(6)} password ${password.padEnd(15)} role ${String(attrs.role).padEnd(11)} department ${attrs.department}`);
    }
    lines.push(
      '',
      '  Bundle policies/authzen-search: the OpenID AuthZEN search interop, twenty records (plays)',
      '  and six people as entity data; owners view, edit and delete, a department views its',
      '  records, managers view all and edit their department\'s. The worker answers AuthZEN 1.0:',
      `    curl ${stack.edgeUrl}/.well-known/authzen-configuration`,
      `  An enforcement point asks with its own token: the inventory service (client credentials,`,
      `  scope ${TODO_SERVICE_SCOPE}) may; no person may. Which records may alice edit? (a Resource Search)`,
      `    token=$(curl -s -u inventory:inventory-local-secret -d grant_type=client_credentials \\`,
      `      -d scope=${TODO_SERVICE_SCOPE} ${stack.issuer}/token | jq -r .access_token)`,
      `    curl -s -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \\`,
      `      -d '${JSON.stringify(SEARCH_QUESTION)}' \\`,
      `      ${stack.edgeUrl}/access/v1/search/resource`,
    );
  } else {
    for (const [name, user] of Object.entries(USERS)) {
      lines.push(`    ${name.padEnd(6)} password ${user.password.padEnd(11)} group ${user.groups.join(', ').padEnd(10)} → may do ${user.may}`);
    }
  }
  if (opts.bundle === 'access') {
    const tokenUrl = `${stack.issuer}/token`;
    lines.push(
      '',
      '  Bundle policies/petstore-access: scopes per operation, pets:create for post /pets,',
      '  get /health public. The inventory service (client credentials) may only read:',
      `    token=$(curl -s -u inventory:inventory-local-secret -d grant_type=client_credentials \\`,
      `      -d scope=pets:read ${tokenUrl} | jq -r .access_token)`,
      `    curl -H "Authorization: Bearer $token" ${stack.edgeUrl}/pets`,
      `    curl ${stack.edgeUrl}/health`,
      '  The edge asks the provider whether each token is still active (RFC 7662), reusing an',
      `  answer for ${INTROSPECTION_CACHE_SECONDS} s: after signing out in the app (which revokes the access token),`,
      '  or after revoking the service\'s token, the edge answers 401 inactive:',
      `    curl -u inventory:inventory-local-secret -d token=$token ${stack.issuer}/revoke`,
    );
  }
  if (opts.bothTokens) lines.push(...BOTH_TOKENS_LINES);
  if (opts.bundle === 'context') {
    lines.push(
      '',
      '  Bundle policies/petstore-context (from the worker\'s KV): delete /pets/{petId} needs a',
      '  multi-factor sign-in in the last 10 minutes. The edge answers 401 with an RFC 9470',
      '  challenge; "Sign in again" in the app asks the provider for it. One-time codes:',
      ...Object.entries(USERS).map(([name, user]) => `    ${name.padEnd(6)} code ${user.code}`),
    );
  }
}
lines.push(
  '',
  `  Edge worker (workerd): ${stack.edgeUrl}   ${opts.bundle === 'todo' ? 'Todo' : 'PetStore'} origin: ${stack.originUrl}`,
  ...(pingone ? [] : [`  Provider: ${stack.issuer}`]),
  `  Logs: ${path.relative(root, stack.dir)}/*.log`,
  '',
  'Press Ctrl-C to stop.',
);
console.log(lines.join('\n'));
