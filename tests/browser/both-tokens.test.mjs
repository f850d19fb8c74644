// Both tokens in one decision, end to end: the app sends the access token and, beside it, the
// ID token (`edge_companion`); the edge (the access bundle, its person entry taking the ID
// token as its companion) verifies both and decides on their union: groups from the ID
// token, scopes and permissions from the access token. Debian's Chromium driven by
// playwright-core, the PingOne-shaped provider, the worker in workerd, the PetStore origin.
//
//   node --test tests/browser/both-tokens.test.mjs      (cargo xtask test runs it)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startStack, root, USERS } from '../demo/stack.mjs';
import * as ui from './helpers.mjs';

const HEADER = 'x-cedargate-id-token';
let stack;
let browser;

before(async () => {
  stack = await startStack({
    dir: path.join(root, 'target/cedargate-e2e', `both-tokens-${process.pid}`),
    bundle: 'access',
    bothTokens: true,
  });
  browser = await ui.launch();
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

const shot = ui.screenshotter(path.join(root, 'target/cedargate-e2e/screenshots'));

for (const [name, admin] of [['alice', true], ['bob', false]]) {
  test(`${name}: the app sends both tokens and the edge decides on the ID token's groups with the access token's scopes`, async () => {
    const { page, context, problems } = await ui.newPage(browser);
    // What the app sends the edge, request by request.
    const sent = [];
    page.on('request', (r) => {
      if (r.url().startsWith(stack.edgeUrl) && r.method() !== 'OPTIONS') {
        const h = r.headers();
        sent.push({ url: r.url(), bearer: h.authorization?.slice(7), id: h[HEADER] });
      }
    });
    await ui.signIn(page, stack.appUrl, name, USERS[name].password);
    const rows = await ui.matrix(page);
    assert.deepEqual(Object.keys(rows).sort(), ['get /', 'get /health', 'get /pets', 'get /pets/{petId}', 'post /pets']);
    for (const [action, { row, predicted }] of Object.entries(rows)) {
      const allowed = admin || action !== 'post /pets';
      assert.equal(predicted, allowed ? 'Allow' : 'Deny', `${name} ${action}`);
      const answer = await ui.tryRow(row);
      assert.match(answer, allowed ? /^200 / : /^403 /, `${name} ${action}: ${answer}`);
    }
    // The union: the group is the ID token's `group` (the access token's own `groups`
    // claim is not read), the scope and the permission are the access token's.
    const relies = (await rows['post /pets'].row.getByTestId('relies').textContent()).trim();
    assert.equal(relies, admin ? 'group AVP_Admin, scope pets:write, p1.permissions pets:create' : '—');
    assert.equal(
      (await rows['get /pets'].row.getByTestId('relies').textContent()).trim(),
      `group ${USERS[name].groups.join(', ')}, scope pets:read`,
    );
    // Every request to the edge carried both, the bundle request as every try.
    assert.ok(sent.length >= 6, JSON.stringify(sent.map((s) => s.url)));
    for (const s of sent) {
      assert.ok(s.bearer && s.id, `${s.url}: both tokens`);
      assert.notEqual(s.bearer, s.id);
    }
    const { bearer, id } = sent.at(-1);
    // The access token alone is refused, and the ID token never reaches the origin.
    const alone = await fetch(`${stack.edgeUrl}/pets`, { headers: { authorization: `Bearer ${bearer}` } });
    assert.equal(alone.status, 401);
    assert.equal((await alone.json()).reason, 'companion_missing');
    const pair = await fetch(`${stack.edgeUrl}/pets`, { headers: { authorization: `Bearer ${bearer}`, [HEADER]: id } });
    assert.equal(pair.status, 200);
    const echo = JSON.parse(pair.headers.get('x-identity-echo') ?? '{}');
    assert.deepEqual(echo.assertion?.groups, USERS[name].groups);
    assert.equal(echo.headers?.[HEADER], undefined, 'the origin never sees the ID token');
    await shot(page, `both-tokens-${name}`);
    assert.deepEqual(problems, []);
    await context.close();
  });
}
