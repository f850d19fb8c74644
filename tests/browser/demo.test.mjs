// `cargo xtask demo` itself: run the command, read the URL and the users it prints, sign in
// as them in Chromium, check what each may do, then Ctrl-C and check that everything it
// started is gone; a port in use is reported; running it again works.
//
//   node --test tests/browser/demo.test.mjs      (cargo xtask test runs it)
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { root, freePort, portInUse } from '../demo/stack.mjs';
import * as ui from './helpers.mjs';

const running = [];
after(async () => {
  for (const demo of running) demo.interrupt();
});

/** Runs `cargo xtask demo` in its own process group and collects its output. */
function runDemo(ports, extra = []) {
  const args = ['xtask', 'demo', ...extra];
  for (const [name, port] of Object.entries(ports)) args.push(`--port-${name}`, String(port));
  const child = spawn('cargo', args, { cwd: root, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  const demo = {
    child,
    exited,
    output: () => output,
    interrupt: () => { try { process.kill(-child.pid, 'SIGINT'); } catch { /* gone */ } },
    async ready(timeoutMs = 15 * 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (output.includes('Press Ctrl-C to stop.')) return output;
        if (child.exitCode !== null) throw new Error(`the demo exited (${child.exitCode}):\n${output}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      throw new Error(`the demo did not start in time:\n${output}`);
    },
  };
  running.push(demo);
  return demo;
}

async function ports() {
  return { app: await freePort(), edge: await freePort(), provider: await freePort(), origin: await freePort() };
}

test('cargo xtask demo works for alice and bob, stops on Ctrl-C, and runs again', async () => {
  const p = await ports();
  const demo = runDemo(p);
  const printed = await demo.ready();
  const url = printed.match(/Open (http:\/\/127\.0\.0\.1:\d+) in a browser/)?.[1];
  assert.equal(url, `http://127.0.0.1:${p.app}`);
  const users = Object.fromEntries(
    [...printed.matchAll(/^\s+(\w+)\s+password (\S+)\s+group (\S+)\s+→ may do (.+)$/gm)]
      .map(([, name, password, group, may]) => [name, { password, group, may }]),
  );
  assert.deepEqual(Object.keys(users), ['alice', 'bob']);
  assert.equal(users.bob.may, 'every action but post /pets');

  const browser = await ui.launch();
  const shot = ui.screenshotter(path.join(root, 'target/cedargate-e2e/screenshots'));
  try {
    for (const [name, user] of Object.entries(users)) {
      const { page, context, problems } = await ui.newPage(browser);
      await ui.signIn(page, url, name, user.password);
      assert.match(await page.getByTestId('groups').textContent(), new RegExp(user.group));
      const rows = await ui.matrix(page);
      assert.equal(Object.keys(rows).length, 4);
      for (const [action, { row, predicted }] of Object.entries(rows)) {
        const denied = name === 'bob' && action === 'post /pets';
        assert.equal(predicted, denied ? 'Deny' : 'Allow', `${name} ${action}`);
        const answer = await ui.tryRow(row);
        assert.equal(answer.startsWith('403 '), denied, `${name} ${action}: ${answer}`);
      }
      await shot(page, `demo-${name}`);
      assert.deepEqual(problems, []);
      await context.close();
    }
  } finally {
    await browser.close();
  }

  // A second demo on the same ports says which port is taken.
  const clash = runDemo(p);
  const code = await clash.exited;
  assert.notEqual(code, 0);
  assert.match(clash.output(), /port \d+ \((app|edge|provider|origin)\) is already in use on 127\.0\.0\.1/);

  // Ctrl-C stops everything the demo started.
  demo.interrupt();
  await demo.exited;
  for (let i = 0; i < 40 && (await Promise.all(Object.values(p).map(portInUse))).some(Boolean); i++) {
    await new Promise((r) => setTimeout(r, 250));
  }
  for (const [name, port] of Object.entries(p)) {
    assert.equal(await portInUse(port), false, `${name} port ${port} still open after Ctrl-C`);
  }

  // And it runs again.
  const again = runDemo(p);
  await again.ready();
  const response = await fetch(`http://127.0.0.1:${p.app}/`);
  assert.equal(response.status, 200);
  again.interrupt();
  await again.exited;
});

/** Asks the edge with `token` until it answers 401 (at most 10 s); returns the last answer. */
async function untilRefused(url, token) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const answer = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    if (answer.status === 401 || Date.now() > deadline) return answer;
    await new Promise((r) => setTimeout(r, 250));
  }
}

test('cargo xtask demo --bundle access: the app sends access tokens, alice and bob see what their scopes allow, a service reads, revoked tokens are refused', async () => {
  const p = await ports();
  const demo = runDemo(p, ['--bundle', 'access']);
  const printed = await demo.ready();
  const url = printed.match(/Open (http:\/\/127\.0\.0\.1:\d+) in a browser/)?.[1];
  assert.equal(url, `http://127.0.0.1:${p.app}`);
  assert.match(printed, /the app sends their access token/);
  const users = Object.fromEntries(
    [...printed.matchAll(/^\s+(\w+)\s+password (\S+)\s+group (\S+)\s+→ may do (.+)$/gm)]
      .map(([, name, password, group]) => [name, { password, group }]),
  );
  assert.deepEqual(Object.keys(users), ['alice', 'bob']);
  const edgeUrl = `http://127.0.0.1:${p.edge}`;
  try {
    const browser = await ui.launch();
    const shot = ui.screenshotter(path.join(root, 'target/cedargate-e2e/screenshots'));
    try {
      for (const [name, user] of Object.entries(users)) {
        const { page, context, problems } = await ui.newPage(browser);
        // The token the app sends to the edge, as someone who copied it would hold it.
        let sent = null;
        page.on('request', (r) => {
          const auth = r.headers().authorization;
          if (r.url().startsWith(edgeUrl) && auth?.startsWith('Bearer ')) sent = auth.slice(7);
        });
        await ui.signIn(page, url, name, user.password);
        const rows = await ui.matrix(page);
        assert.deepEqual(Object.keys(rows).sort(), ['get /', 'get /health', 'get /pets', 'get /pets/{petId}', 'post /pets']);
        const relies = {};
        for (const [action, { row, predicted }] of Object.entries(rows)) {
          const denied = name === 'bob' && action === 'post /pets';
          assert.equal(predicted, denied ? 'Deny' : 'Allow', `${name} ${action}`);
          relies[action] = (await row.getByTestId('relies').textContent()).trim();
          const answer = await ui.tryRow(row);
          assert.equal(answer.startsWith('403 '), denied, `${name} ${action}: ${answer}`);
          if (denied) {
            // A forbid decided it: the try names the policy, and the name opens its text.
            const decided = row.getByTestId('answer-policies');
            assert.match(await decided.textContent(), /^Decided by \S+/);
            await decided.getByTestId('policy').first().click();
            const text = await page.getByTestId('policy-text').locator('pre').textContent();
            assert.match(text, /forbid \(/, text);
            await shot(page, 'demo-access-bob-deny-policy');
          }
          if (!denied) assert.match(answer, /^200 /, `${name} ${action}: ${answer}`);
        }
        // What each allow relies on, from the access token: its group, scope and permission.
        assert.equal(relies['get /pets'], `groups ${user.group}, scope pets:read`);
        assert.equal(relies['get /health'], 'nothing in the token');
        if (name === 'alice') {
          assert.equal(relies['post /pets'], 'groups AVP_Admin, scope pets:write, p1.permissions pets:create');
        } else {
          assert.equal(relies['post /pets'], '—');
        }
        await shot(page, `demo-access-${name}`);
        // Signing out revokes the access token at the provider (RFC 7009); the edge learns
        // it by introspection (RFC 7662) once its cached answer is older than the demo's
        // cache time, and refuses the copy.
        assert.ok(sent, 'the app sent a token to the edge');
        assert.equal((await fetch(`${edgeUrl}/pets`, { headers: { authorization: `Bearer ${sent}` } })).status, 200);
        await page.getByTestId('sign-out').click();
        await page.getByTestId('signed-out').waitFor();
        const refused = await untilRefused(`${edgeUrl}/pets`, sent);
        assert.equal(refused.status, 401, `${name}'s revoked token`);
        assert.equal((await refused.json()).reason, 'inactive');
        assert.deepEqual(problems, []);
        await context.close();
      }
    } finally {
      await browser.close();
    }

    // The service's two commands the demo prints: a client-credentials token, then the API.
    const tokenUrl = printed.match(/(http:\/\/127\.0\.0\.1:\d+\/\S+\/token)/)?.[1];
    assert.ok(tokenUrl, printed);
    const grant = await fetch(tokenUrl, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from('inventory:inventory-local-secret').toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials&scope=pets%3Aread',
    });
    assert.equal(grant.status, 200);
    const { access_token: token } = await grant.json();
    const as = { authorization: `Bearer ${token}` };
    assert.equal((await fetch(`${edgeUrl}/pets`, { headers: as })).status, 200);
    assert.equal((await fetch(`${edgeUrl}/pets`, { method: 'POST', headers: as, body: '{}' })).status, 403);
    const health = await fetch(`${edgeUrl}/health`);
    assert.equal(health.status, 200);
    // The origin verified the edge's signed assertion, here for an anonymous caller.
    assert.deepEqual(await health.json(), { status: 'ok', anonymous: true, verified: true });
    // Straight to the origin, around the edge: refused, with or without a copied assertion.
    const originUrl = `http://127.0.0.1:${p.origin}`;
    assert.equal((await fetch(`${originUrl}/pets`)).status, 401);
    assert.equal((await fetch(`${edgeUrl}/pets`)).status, 401);
    // The service's token, revoked with the command the demo prints.
    const revokeUrl = printed.match(/(http:\/\/127\.0\.0\.1:\d+\/\S+\/revoke)/)?.[1];
    assert.ok(revokeUrl, printed);
    const revoked = await fetch(revokeUrl, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from('inventory:inventory-local-secret').toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: `token=${encodeURIComponent(token)}`,
    });
    assert.equal(revoked.status, 200);
    const refused = await untilRefused(`${edgeUrl}/pets`, token);
    assert.equal(refused.status, 401);
    assert.equal((await refused.json()).reason, 'inactive');
  } finally {
    demo.interrupt();
    await demo.exited;
  }
});

test('cargo xtask demo --bundle todo: the AuthZEN interop Todo API, roles from the bundle\'s entity data, predicted and enforced alike', async () => {
  const p = await ports();
  const demo = runDemo(p, ['--bundle', 'todo']);
  const printed = await demo.ready();
  const url = printed.match(/Open (http:\/\/127\.0\.0\.1:\d+) in a browser/)?.[1];
  assert.equal(url, `http://127.0.0.1:${p.app}`);
  assert.match(printed, /the app sends their access token/);
  const users = Object.fromEntries(
    [...printed.matchAll(/^\s+(\S+@\S+)\s+password (\S+)\s+roles (.+?)\s+→ (.+)$/gm)]
      .map(([, name, password, roles]) => [name, { password, roles }]),
  );
  assert.deepEqual(Object.keys(users), ['rick@the-citadel.com', 'morty@the-citadel.com', 'beth@the-smiths.com']);
  const edgeUrl = `http://127.0.0.1:${p.edge}`;
  // The decision point's metadata, with the command the demo prints.
  const metadataUrl = printed.match(/curl (\S+\/\.well-known\/authzen-configuration)/)?.[1];
  assert.equal(metadataUrl, `${edgeUrl}/.well-known/authzen-configuration`);
  const metadata = await (await fetch(metadataUrl)).json();
  assert.equal(metadata.access_evaluation_endpoint, `${edgeUrl}/access/v1/evaluation`);
  const todoRoutes = ['delete /todos/{todoId}', 'get /todos', 'get /users/{userId}', 'post /todos', 'put /todos/{todoId}'];
  // The decision endpoints are routes too, and no person may ask them.
  const pdpRoutes = ['post /access/v1/evaluation', 'post /access/v1/evaluations', 'post /access/v1/search/action'];
  const routes = [...todoRoutes, ...pdpRoutes].sort();
  // What the interop's gateway decisions say for each of them.
  const allowed = {
    'rick@the-citadel.com': todoRoutes,
    'morty@the-citadel.com': todoRoutes,
    'beth@the-smiths.com': ['get /todos', 'get /users/{userId}'],
  };
  // The printed commands that get an enforcement point's token and ask a question, run as
  // printed (in one shell: the second reads the first's `token`; the token is not shown).
  const asking = printed.match(/^ +(token=\$\(curl [\s\S]*?\/access\/v1\/evaluation)$/m)?.[1];
  assert.ok(asking, 'the demo prints how an enforcement point asks');
  assert.ok(asking.includes(`${edgeUrl}/access/v1/evaluation`), asking);
  const shell = spawnSync('bash', ['-e', '-o', 'pipefail', '-c', asking.split('\n').map((l) => l.trim()).join('\n')], { encoding: 'utf8' });
  assert.equal(shell.status, 0, shell.stderr);
  // The answer is the interop gateway's decision for the printed question (the table above).
  const question = JSON.parse(asking.match(/-d '(\{.*\})'/)?.[1] ?? 'null');
  const route = `${question.action.name.toLowerCase()} ${question.resource.id}`;
  assert.equal(question.resource.type, 'route');
  assert.ok(todoRoutes.includes(route), route);
  assert.deepEqual(JSON.parse(shell.stdout), { decision: allowed[question.subject.id].includes(route) });
  try {
    const browser = await ui.launch();
    const shot = ui.screenshotter(path.join(root, 'target/cedargate-e2e/screenshots'));
    try {
      for (const name of ['rick@the-citadel.com', 'beth@the-smiths.com']) {
        const { page, context, problems } = await ui.newPage(browser);
        await ui.signIn(page, url, name, users[name].password);
        const rows = await ui.matrix(page);
        assert.deepEqual(Object.keys(rows).sort(), routes);
        // The app holds the text and the caller's own entity data: the same bundle text.
        assert.match(await page.locator('[data-testid=actions] .bundle').first().textContent(), /same as the edge/);
        // Not in the token: the roles the edge's entity data gives this person.
        const roles = users[name].roles.split(', ').map((r) => `TodoApp::Role::"${r}"`).join(' ');
        assert.equal((await page.getByTestId('entity-data').textContent()).trim(), `The edge's entity data also places you in ${roles}`);
        // The Todo bundle's data holds people and roles, no todo: the edge lists no
        // resources (never other people's ids), and the app shows no list.
        assert.equal(await page.getByTestId('permitted').count(), 0);
        // Tried in an order that keeps todo 1 for the later tries: update, then delete.
        for (const action of ['get /todos', 'get /users/{userId}', 'post /todos', 'put /todos/{todoId}', 'delete /todos/{todoId}', ...pdpRoutes]) {
          const { row, predicted } = rows[action];
          const allow = allowed[name].includes(action);
          assert.equal(predicted, allow ? 'Allow' : 'Deny', `${name} ${action}`);
          const answer = await ui.tryRow(row);
          assert.match(answer, allow ? /^200 / : /^403 /, `${name} ${action}: ${answer}`);
        }
        await shot(page, `demo-todo-${name.split('@')[0]}`);
        assert.deepEqual(problems, []);
        await context.close();
      }
    } finally {
      await browser.close();
    }
  } finally {
    demo.interrupt();
    await demo.exited;
  }
});

test('cargo xtask demo --bundle search: the AuthZEN search interop, the printed Resource Search answers what the interop expects, people sign in and may not ask, and alice sees which records she may view, edit and delete', async () => {
  const p = await ports();
  const demo = runDemo(p, ['--bundle', 'search']);
  const printed = await demo.ready();
  const url = printed.match(/Open (http:\/\/127\.0\.0\.1:\d+) in a browser/)?.[1];
  assert.equal(url, `http://127.0.0.1:${p.app}`);
  assert.match(printed, /the app sends their access token/);
  const users = Object.fromEntries(
    [...printed.matchAll(/^\s+(\w+)\s+password (\S+)\s+role (\S+)\s+department (\S+)$/gm)]
      .map(([, name, password, role, department]) => [name, { password, role, department }]),
  );
  assert.deepEqual(Object.keys(users), ['alice', 'bob', 'carol', 'dan', 'erin', 'felix']);
  assert.deepEqual(users.alice, { password: 'VerySecret123!', role: 'manager', department: 'Sales' });
  const edgeUrl = `http://127.0.0.1:${p.edge}`;
  const metadataUrl = printed.match(/curl (\S+\/\.well-known\/authzen-configuration)/)?.[1];
  assert.equal(metadataUrl, `${edgeUrl}/.well-known/authzen-configuration`);
  const metadata = await (await fetch(metadataUrl)).json();
  assert.equal(metadata.search_resource_endpoint, `${edgeUrl}/access/v1/search/resource`);
  // The printed commands, run as printed in one shell: an enforcement point's token, then a
  // Resource Search with it.
  const asking = printed.match(/^ +(token=\$\(curl [\s\S]*?\/access\/v1\/search\/resource)$/m)?.[1];
  assert.ok(asking, 'the demo prints how an enforcement point asks');
  assert.ok(asking.includes(`${edgeUrl}/access/v1/search/resource`), asking);
  const shell = spawnSync('bash', ['-e', '-o', 'pipefail', '-c', asking.split('\n').map((l) => l.trim()).join('\n')], { encoding: 'utf8' });
  assert.equal(shell.status, 0, shell.stderr);
  // The answer is the search interop's expected result for the printed question.
  const question = JSON.parse(asking.match(/-d '(\{.*\})'/)?.[1] ?? 'null');
  const interop = JSON.parse(fs.readFileSync(path.join(root, 'tests/authzen/search/resource-results.json'), 'utf8'));
  const expected = interop.evaluation.find((c) => JSON.stringify(c.request) === JSON.stringify(question));
  assert.ok(expected, `the interop has no case ${JSON.stringify(question)}`);
  assert.deepEqual(JSON.parse(shell.stdout), expected.expected);
  assert.ok(expected.expected.results.length > 0);
  try {
    const browser = await ui.launch();
    const shot = ui.screenshotter(path.join(root, 'target/cedargate-e2e/screenshots'));
    try {
      const { page, context, problems } = await ui.newPage(browser);
      await ui.signIn(page, url, 'alice', users.alice.password);
      // The search bundle's routes are the decision point's endpoints, and no person may
      // ask them: predicted and enforced alike.
      const rows = await ui.matrix(page);
      assert.deepEqual(Object.keys(rows).sort(), [
        'post /access/v1/evaluation', 'post /access/v1/evaluations', 'post /access/v1/search/action',
        'post /access/v1/search/resource', 'post /access/v1/search/subject',
      ]);
      assert.match(await page.locator('[data-testid=actions] .bundle').first().textContent(), /same as the edge/);
      for (const [action, { row, predicted }] of Object.entries(rows)) {
        assert.equal(predicted, 'Deny', action);
        assert.match(await ui.tryRow(row), /^403 /, action);
      }
      // Beside the matrix, which records alice may view, edit and delete: the edge's
      // Resource Search for her (the app holds no record), exactly the interop's expected
      // results for each of her three Resource Searches.
      const forAlice = interop.evaluation.filter((c) => c.request.subject.id === 'alice');
      assert.deepEqual(forAlice.map((c) => c.request.action.name).sort(), ['delete', 'edit', 'view']);
      const panel = page.locator('[data-testid=permitted]');
      await panel.waitFor();
      const shown = {};
      for (const row of await panel.locator('[data-permitted-type=record] tr[data-permitted-action]').all()) {
        shown[await row.getAttribute('data-permitted-action')] = await row.locator('[data-testid=permitted-id]').allTextContents();
      }
      assert.deepEqual(shown, Object.fromEntries(forAlice.map((c) => [
        c.request.action.name, c.expected.results.map((r) => r.id).sort(),
      ])));
      assert.deepEqual(shown.edit, ['101', '107', '110', '113', '119']);
      // One record's actions, looked up.
      await panel.locator('[data-testid=permitted-lookup]').fill('110');
      assert.equal(await panel.locator('[data-testid=permitted-lookup-result]').textContent(), 'On 110 you may edit, view.');
      await panel.locator('[data-testid=permitted-lookup]').fill('102');
      assert.equal(await panel.locator('[data-testid=permitted-lookup-result]').textContent(), 'On 102 you may view.');
      const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(await overflow() <= 0, 'nothing wider than the window at 1280 px');
      await shot(page, 'demo-search-alice');
      await page.setViewportSize({ width: 390, height: 900 });
      assert.ok(await overflow() <= 0, 'nothing wider than the window at 390 px');
      const box = await panel.locator('tr[data-permitted-action=view]').boundingBox();
      assert.ok(box && box.x >= 0 && box.x + box.width <= 390, JSON.stringify(box));
      await shot(page, 'demo-search-alice-390px');
      assert.deepEqual(problems, []);
      await context.close();
    } finally {
      await browser.close();
    }
  } finally {
    demo.interrupt();
    await demo.exited;
  }
});

test('a port in use is reported before anything starts', async () => {
  const p = await ports();
  const blocker = net.createServer().listen(p.edge, '127.0.0.1');
  await new Promise((r) => blocker.once('listening', r));
  try {
    const demo = runDemo(p);
    const code = await demo.exited;
    assert.notEqual(code, 0);
    assert.match(demo.output(), new RegExp(`port ${p.edge} \\(edge\\) is already in use on 127\\.0\\.0\\.1`));
    for (const name of ['app', 'provider', 'origin']) {
      assert.equal(await portInUse(p[name]), false, `${name} was started anyway`);
    }
  } finally {
    blocker.close();
  }
});
