// The demo's command line (run.mjs): which bundle, which ports, and the PingOne environment
// when `--pingone` replaces the local provider. Kept apart from run.mjs so that the argument
// handling, the refusals and the configuration a run would produce are tested without
// starting anything (options.test.mjs).
import { parseArgs } from 'node:util';

/** Why the demo will not start with these arguments (exit status 2). */
export class UsageError extends Error {}

/**
 * Why a bundle cannot run against a real PingOne environment, by bundle; the bundles not
 * named here can (petstore, context, access). Said in the refusal.
 */
export const PINGONE_REFUSALS = {
  todo: 'the Todo bundle\'s people are entity data keyed by the AuthZEN interop\'s e-mail addresses (rick@the-citadel.com ...), while a PingOne token\'s subject is a user id PingOne generates; the edge could take the principal from another claim, but the app predicts decisions with `sub`, so its people would never match',
  search: 'the search bundle\'s people are entity data keyed by the AuthZEN interop\'s names (alice, bob ...), while a PingOne token\'s subject is a user id PingOne generates; the edge could take the principal from another claim, but the app predicts decisions with `sub`, so its people would never match',
};

/**
 * Reads the demo's arguments (`argv` without node and the script) and environment. Returns
 * `{ bundle, ports, pingone, bothTokens }`, `pingone` null for the local provider or
 * `{ region, environmentId, clientId, apiAudience, introspection }`; throws a UsageError
 * saying what is wrong.
 */
export function demoOptions(argv, env = {}, bundles = ['petstore', 'access', 'context', 'todo', 'search']) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        bundle: { type: 'string', default: 'petstore' },
        'port-app': { type: 'string', default: '8080' },
        'port-edge': { type: 'string', default: '8787' },
        'port-provider': { type: 'string', default: '9400' },
        'port-origin': { type: 'string', default: '9300' },
        pingone: { type: 'boolean', default: false },
        'both-tokens': { type: 'boolean', default: false },
        region: { type: 'string', default: env.PINGONE_REGION },
        'environment-id': { type: 'string', default: env.PINGONE_ENVIRONMENT_ID },
        'client-id': { type: 'string', default: env.PINGONE_CLIENT_ID },
        'api-audience': { type: 'string', default: env.PINGONE_API_AUDIENCE },
        'introspection-client-id': { type: 'string', default: env.PINGONE_INTROSPECTION_CLIENT_ID },
      },
    }));
  } catch (err) {
    // node's own messages start uppercase ("Unknown option '--x'").
    throw new UsageError(err.message.charAt(0).toLowerCase() + err.message.slice(1));
  }
  const bundle = values.bundle;
  if (!bundles.includes(bundle)) {
    throw new UsageError(`unknown bundle ${bundle} (${bundles.join(', ')})`);
  }
  const bothTokens = values['both-tokens'];
  if (bothTokens && bundle !== 'access') {
    throw new UsageError('--both-tokens goes with --bundle access: the access token in Authorization, the ID token beside it');
  }
  const ports = {};
  for (const name of ['app', 'edge', 'provider', 'origin']) {
    const text = values[`port-${name}`];
    const port = Number(text);
    if (!/^\d+$/.test(text) || port > 65535) throw new UsageError(`--port-${name} ${text}: not a port`);
    ports[name] = port;
  }
  const usePingOne = values.pingone || Boolean(env.PINGONE_ENVIRONMENT_ID);
  if (!usePingOne) {
    for (const flag of ['api-audience', 'introspection-client-id']) {
      if (argv.some((a) => a === `--${flag}` || a.startsWith(`--${flag}=`))) {
        throw new UsageError(`--${flag} is for --pingone (the local provider has its own)`);
      }
    }
    return { bundle, ports, pingone: null, bothTokens };
  }
  if (PINGONE_REFUSALS[bundle]) {
    throw new UsageError(`the ${bundle} bundle cannot run against PingOne: ${PINGONE_REFUSALS[bundle]}`);
  }
  const pingone = {
    region: values.region ?? 'com',
    environmentId: values['environment-id'],
    clientId: values['client-id'],
    apiAudience: null,
    introspection: null,
  };
  if (!pingone.environmentId) {
    throw new UsageError('--pingone needs the environment id: --environment-id or PINGONE_ENVIRONMENT_ID');
  }
  if (!pingone.clientId) {
    throw new UsageError('--pingone needs the single-page application\'s client id: --client-id or PINGONE_CLIENT_ID');
  }
  if (bundle === 'access') {
    pingone.apiAudience = values['api-audience'] ?? null;
    if (!pingone.apiAudience) {
      throw new UsageError('--bundle access with --pingone needs the audience of the custom resource the access tokens are for: --api-audience or PINGONE_API_AUDIENCE (docs/src/howto/pingone.md, "The access bundle")');
    }
    const introspectionClient = values['introspection-client-id'];
    const secret = env.PINGONE_INTROSPECTION_SECRET;
    if (introspectionClient && !secret) {
      throw new UsageError('--introspection-client-id needs the custom resource\'s secret in PINGONE_INTROSPECTION_SECRET (never a flag: it would show in the process list)');
    }
    if (!introspectionClient && secret) {
      throw new UsageError('PINGONE_INTROSPECTION_SECRET needs the custom resource\'s id: --introspection-client-id or PINGONE_INTROSPECTION_CLIENT_ID');
    }
    if (introspectionClient) pingone.introspection = { clientId: introspectionClient, secret };
  } else {
    for (const flag of ['api-audience', 'introspection-client-id']) {
      if (values[flag] && argv.some((a) => a === `--${flag}` || a.startsWith(`--${flag}=`))) {
        throw new UsageError(`--${flag} is for --bundle access (the ${bundle} bundle sends the ID token)`);
      }
    }
  }
  return { bundle, ports, pingone, bothTokens };
}

/**
 * What the demo prints for a run against PingOne: who signs in, what the bundle shows, and
 * what the environment must allow (`stack`: the URLs `startStack` returned).
 */
export function pingoneLines(bundle, pingone, stack) {
  const lines = [
    `  Sign in with a user of your PingOne environment (${stack.issuer}).`,
    '  Members of AVP_Admin may do every action; members of AVP_User every action but post /pets.',
    `  The PingOne application must allow the redirect URI ${stack.appUrl}/callback,`,
    `  the sign-off URL ${stack.appUrl}/ and the CORS origin ${stack.appUrl}.`,
  ];
  if (bundle === 'context') {
    lines.push(
      '',
      '  Bundle policies/petstore-context (from the worker\'s KV): delete /pets/{petId} needs a',
      '  sign-in with the sign-on policy Multi_Factor in the last 10 minutes; the edge answers 401',
      '  with an RFC 9470 challenge and "Sign in again" asks PingOne for it (the application must',
      '  have the Single_Factor and Multi_Factor sign-on policies). get /pets needs the office',
      '  network, CH and x-tenant: blue, which local workerd does not give.',
    );
  }
  if (bundle === 'access') {
    lines.push(
      '',
      `  Bundle policies/petstore-access: the app sends the access token for ${pingone.apiAudience}`,
      '  (scopes pets:read, pets:write; groups in its `groups` claim; post /pets also needs the',
      '  PingOne permission pets:create); get /health is public.',
      pingone.introspection
        ? `  The edge asks PingOne whether each token is still active (RFC 7662, as the resource ${pingone.introspection.clientId}).`
        : '  Tokens are not introspected (no --introspection-client-id): a revoked token is taken until it expires.',
      '  The policy names the service client `inventory`; PingOne generates client ids, so a',
      '  Worker application is refused unless the policy names its id.',
    );
  }
  return lines;
}
