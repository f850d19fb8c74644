// The browser app end to end, in Debian's Chromium driven by playwright-core, against the
// PingOne-shaped provider, the edge worker in workerd and the PetStore origin.
//
//   node --test tests/browser/app.test.mjs      (cargo xtask test runs it)
//
// Screenshots of every page go to target/cedargate-e2e/screenshots.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startStack, root, USERS } from '../demo/stack.mjs';
import * as ui from './helpers.mjs';

const shots = path.join(root, 'target/cedargate-e2e/screenshots');
let stack;
let browser;

before(async () => {
  fs.rmSync(shots, { recursive: true, force: true });
  stack = await startStack({ dir: path.join(root, 'target/cedargate-e2e', `browser-${process.pid}`) });
  browser = await ui.launch();
});

after(async () => {
  await browser?.close();
  await stack?.stop();
  console.log(`screenshots: ${shots}`);
});

const shot = ui.screenshotter(shots);
const newPage = (width) => ui.newPage(browser, width);
const signIn = (page, user) => ui.signIn(page, stack.appUrl, user, USERS[user].password);
const { matrix, tryRow } = ui;

test('alice signs in, sees her claims, every action allowed and every try succeeding', async () => {
  const { page, context, problems } = await newPage();
  await page.goto(stack.appUrl);
  await page.getByTestId('sign-in').waitFor();
  await shot(page, '01-signed-out');
  await page.getByTestId('sign-in').click();
  await page.waitForSelector('#username');
  await shot(page, '02-provider-sign-on');
  await page.fill('#username', 'alice');
  await page.fill('#password', USERS.alice.password);
  await Promise.all([page.waitForURL(`${stack.appUrl}/`), page.click('button[type=submit]')]);
  await page.getByTestId('profile').waitFor();
  assert.equal(await page.getByTestId('user-name').textContent(), 'Alice Admin');
  assert.equal(await page.getByTestId('subject').textContent(), 'alice');
  assert.match(await page.getByTestId('groups').textContent(), /AVP_Admin/);
  const idToken = page.getByTestId('id-token');
  assert.match(await idToken.locator('tr[data-claim=group]').textContent(), /AVP_Admin/);
  assert.match(await idToken.locator('tr[data-claim=aud]').textContent(), /cedargate-demo-spa/);
  assert.match(await idToken.textContent(), /verified/);
  assert.match(await page.getByTestId('id-token-countdown').textContent(), /expires in 0:5\d:\d\d|expires in 1:00:00/);
  const access = page.getByTestId('access-token');
  assert.match(await access.locator('tr[data-claim="p1.permissions"]').textContent(), /pets:create/);
  assert.match(await access.locator('tr[data-claim=scope]').textContent(), /pets:read/);
  // Tokens live in memory only; local storage holds no more than the hint that someone is
  // signed in, for a reload.
  assert.deepEqual(
    await page.evaluate(() => [sessionStorage.length, Object.keys(localStorage)]),
    [0, ['cedargate.signed-in']],
  );
  // The bundle evaluated here is the one the edge enforces.
  await page.getByTestId('bundle-version').waitFor();
  assert.match(await page.getByTestId('actions').textContent(), /same as the edge/);
  const rows = await matrix(page);
  assert.deepEqual(Object.keys(rows).sort(), ['get /', 'get /pets', 'get /pets/{petId}', 'post /pets']);
  for (const [action, { row, predicted }] of Object.entries(rows)) {
    assert.equal(predicted, 'Allow', action);
    // Her ID token's one group is what every allow rests on.
    assert.equal((await row.getByTestId('relies').textContent()).trim(), 'group AVP_Admin', action);
    const answer = await tryRow(row);
    assert.match(answer, /^200 /, `${action}: ${answer}`);
    assert.equal(await row.getAttribute('class'), null, `${action} flagged as a mismatch`);
  }
  await shot(page, '03-alice-signed-in');
  // An answer that is not the edge's reads as its status in words, its body collapsed.
  const home = rows['get /'].row;
  assert.equal((await home.getByTestId('edge-status').textContent()).trim(), '200 OK');
  const body = home.getByTestId('answer-body');
  assert.match(await body.locator('summary').textContent(), /^Body \(\d+ B, text\/html\)$/);
  assert.equal(await body.getAttribute('open'), null);
  assert.equal(await body.locator('pre').isVisible(), false);
  await body.locator('summary').click();
  assert.match(await body.locator('pre').textContent(), /Welcome to your Pet Store API/);
  // What the origin received about the caller: the edge's identity headers and the subject
  // of the assertion it verified, never a token.
  const identity = home.getByTestId('answer-identity');
  await identity.locator('summary').click();
  const received = async (name) => (await identity.locator(`tr[data-name="${name}"] code`).textContent()).trim();
  assert.equal(await received('x-cedargate-groups'), 'AVP_Admin');
  // As the origin received it: the edge percent-encodes header values.
  assert.equal(await received('x-cedargate-action'), 'get%20/');
  assert.equal(await received('assertion.verified'), 'true');
  assert.equal(await received('assertion.sub'), await received('x-cedargate-subject'));
  assert.doesNotMatch(await identity.textContent(), /eyJ/);
  // A deciding policy opens its text from the bundle the edge served.
  await rows['get /pets'].row.getByTestId('policy').first().click();
  const policy = page.getByTestId('policy-text');
  await policy.waitFor();
  const text = await policy.locator('pre').textContent();
  assert.match(text, /^@id\("avp-admin-all"\)\npermit \(/);
  assert.match(text, /principal in PetStore::UserGroup::"AVP_Admin"/);
  await shot(page, '03b-alice-policy-text');
  await page.getByTestId('policy-close').click();
  assert.equal(await policy.count(), 0);
  assert.deepEqual(problems, []);
  await context.close();
});

test('bob sees post /pets predicted deny and the edge answers 403', async () => {
  const { page, context, problems } = await newPage();
  await signIn(page, 'bob');
  assert.match(await page.getByTestId('groups').textContent(), /AVP_User/);
  const rows = await matrix(page);
  for (const [action, { row, predicted }] of Object.entries(rows)) {
    const deny = action === 'post /pets';
    assert.equal(predicted, deny ? 'Deny' : 'Allow', action);
    const answer = await tryRow(row);
    if (deny) assert.match(answer, /^403 /, answer);
    else assert.doesNotMatch(answer, /^40[13] /, `${action}: ${answer}`);
  }
  assert.match(await rows['post /pets'].row.textContent(), /no permit applies/);
  // The edge's refusal reads as its title and reason, not as a raw body.
  const denied = rows['post /pets'].row;
  assert.equal((await denied.getByTestId('edge-status').textContent()).trim(), '403 Forbidden');
  assert.equal((await denied.getByTestId('answer-detail').textContent()).trim(), 'no policy permits this action');
  assert.equal(await denied.getByTestId('answer-body').count(), 0);

  // What if bob were an admin too? Decided here, offline: post /pets flips to Allow by the
  // admins' policy, while the edge still answers 403 for the real bob.
  const whatIf = page.getByTestId('what-if');
  const groups = whatIf.getByTestId('what-if-group');
  assert.equal(await groups.inputValue(), 'AVP_User');
  await groups.fill('AVP_User, AVP_Admin');
  let edgeCalls = 0;
  page.on('request', (r) => { if (r.url().startsWith(stack.edgeUrl)) edgeCalls += 1; });
  await whatIf.getByTestId('what-if-run').click();
  await whatIf.getByTestId('what-if-summary').waitFor();
  assert.equal((await whatIf.getByTestId('what-if-summary').textContent()).trim(), '1 action changes.');
  const flipped = whatIf.locator('tr[data-what-if="post /pets"]');
  assert.equal(await flipped.getAttribute('data-changed'), 'true');
  assert.equal((await flipped.getByTestId('what-if-outcome').textContent()).trim(), 'Allow');
  assert.match(await flipped.getByTestId('what-if-policies').textContent(), /avp-admin-all/);
  for (const action of ['get /', 'get /pets', 'get /pets/{petId}']) {
    assert.equal(await whatIf.locator(`tr[data-what-if="${action}"]`).getAttribute('data-changed'), 'false', action);
  }
  assert.equal(edgeCalls, 0, 'the what-if sent nothing to the edge');
  await shot(page, '04b-bob-what-if');
  const [real] = await Promise.all([
    page.waitForResponse((r) => r.url() === `${stack.edgeUrl}/pets` && r.request().method() === 'POST'),
    denied.getByTestId('try').click(),
  ]);
  assert.equal(real.status(), 403);
  // A value no token could carry is refused with a reason, not decided.
  await groups.fill(`AVP_User, ${'x'.repeat(300)}`);
  await whatIf.getByTestId('what-if-run').click();
  assert.match(await whatIf.getByRole('alert').textContent(), /cannot be a value of "group"/);
  await whatIf.getByTestId('what-if-reset').click();
  assert.equal(await groups.inputValue(), 'AVP_User');
  await shot(page, '04-bob-signed-in');
  assert.deepEqual(problems, []);
  await context.close();
});

test('the app is readable on a 390 px wide screen', async () => {
  const { page, context } = await newPage(390);
  await signIn(page, 'bob');
  await (await matrix(page))['get /'].row.waitFor();
  const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(await overflow() <= 1, `page is ${await overflow()}px wider than the screen`);
  await shot(page, '05-bob-390px');
  // The what-if and a policy's text fit too.
  const whatIf = page.getByTestId('what-if');
  await whatIf.getByTestId('what-if-group').fill('AVP_User, AVP_Admin');
  await whatIf.getByTestId('what-if-run').click();
  await whatIf.locator('tr[data-what-if="post /pets"]').getByTestId('policy').first().click();
  await page.getByTestId('policy-text').waitFor();
  assert.ok(await overflow() <= 1, `page is ${await overflow()}px wider than the screen`);
  await shot(page, '05b-bob-what-if-390px');
  await context.close();
});

/**
 * Clicks "Sign in" and waits for the provider's form; returns the `state` the app sent in the
 * authorization request (what the provider would echo back).
 */
async function startSignIn(page) {
  await page.goto(stack.appUrl);
  const [authorize] = await Promise.all([
    page.waitForRequest((r) => new URL(r.url()).pathname.endsWith('/authorize')),
    page.getByTestId('sign-in').click(),
  ]);
  await page.waitForSelector('#username');
  const state = new URL(authorize.url()).searchParams.get('state');
  assert.ok(state, 'the authorization request carries a state');
  return state;
}

test('a tampered state is refused with a clear error and the sign-in under way survives it', async () => {
  const { page, context, problems } = await newPage();
  // A sign-in is under way (its record holds the real state) ...
  await startSignIn(page);
  // ... and the browser comes back with a code and a state that are not from it, as in a
  // login CSRF attack.
  const forged = `${stack.appUrl}/callback?code=stolen-code&state=forged-state`;
  await page.goto(forged);
  await page.getByTestId('error').waitFor();
  assert.match(await page.getByTestId('error').textContent(), /state mismatch/);
  assert.equal(await page.getByTestId('profile').count(), 0);
  // The answer left the address bar as soon as it was read.
  assert.equal(page.url(), `${stack.appUrl}/callback`);
  await shot(page, '06-tampered-state');
  // The record was not used up: the same callback again is still a state mismatch, not "no
  // sign-in under way".
  await page.goto(forged);
  await page.getByTestId('error').waitFor();
  assert.match(await page.getByTestId('error').textContent(), /state mismatch/);
  assert.deepEqual(problems, []);
  await context.close();
});

test('a forged error link neither shows its text nor cancels the sign-in under way', async () => {
  const { page, context, problems } = await newPage();
  await startSignIn(page);
  // Anyone can send this link; it names no state of ours.
  await page.goto(`${stack.appUrl}/callback?error=access_denied&error_description=HACKED&state=wrong`);
  await page.getByTestId('error').waitFor();
  const shown = await page.getByTestId('callback').textContent();
  assert.match(shown, /state mismatch/);
  assert.doesNotMatch(await page.locator('body').textContent(), /HACKED|access_denied/);
  await shot(page, '07-forged-error-link');
  // The real sign-in, in the same tab, still completes: back to the provider's form.
  await page.goBack();
  await page.waitForSelector('#username');
  await page.fill('#username', 'alice');
  await page.fill('#password', USERS.alice.password);
  await Promise.all([page.waitForURL(`${stack.appUrl}/`), page.click('button[type=submit]')]);
  await page.getByTestId('profile').waitFor();
  assert.equal(await page.getByTestId('subject').textContent(), 'alice');
  assert.deepEqual(await page.evaluate(() => sessionStorage.length), 0);
  assert.deepEqual(problems, []);
  await context.close();
});

test('a forged callback link does not sign a signed-in person out', async () => {
  const { page, context, problems } = await newPage();
  await signIn(page, 'bob');
  // The link names no sign-in of this tab: it is refused and ends nothing.
  const referers = [];
  page.on('request', (req) => referers.push(req.headers().referer));
  await page.goto(`${stack.appUrl}/callback?error=access_denied&state=wrong`);
  await page.getByTestId('error').waitFor();
  // No request of the callback page tells anyone its URL (a real one holds the code).
  assert.ok(referers.length > 1, 'the page made requests');
  assert.deepEqual(referers.filter((r) => r), []);
  assert.deepEqual(await page.evaluate(() => Object.keys(localStorage)), ['cedargate.signed-in']);
  // So the next visit restores the session through the provider, without a password.
  await page.goto(stack.appUrl);
  await page.getByTestId('profile').waitFor();
  assert.equal(await page.getByTestId('subject').textContent(), 'bob');
  assert.equal(await page.locator('#username').count(), 0);
  assert.deepEqual(problems, []);
  await context.close();
});

test('a refused sign-in shows the provider\'s error, and only once', async () => {
  const { page, context } = await newPage();
  // Start a sign-in so that a record exists, then come back with an error as the provider
  // would: with the sign-in's state and the provider's iss.
  const state = await startSignIn(page);
  const query = new URLSearchParams({
    error: 'access_denied', error_description: 'User cancelled', state, iss: stack.issuer,
  });
  await page.goto(`${stack.appUrl}/callback?${query}`);
  await page.getByTestId('error').waitFor();
  assert.match(await page.getByTestId('error').textContent(), /access_denied \(User cancelled\)/);
  assert.equal(page.url(), `${stack.appUrl}/callback`);
  await shot(page, '08-provider-error');
  // This response was for the sign-in, so it ended it.
  await page.goto(`${stack.appUrl}/callback?${query}`);
  await page.getByTestId('error').waitFor();
  assert.match(await page.getByTestId('error').textContent(), /no sign-in is under way/);
  await context.close();
});

test('a response without iss is refused when the provider promises iss (RFC 9207)', async () => {
  const discovery = await (await fetch(`${stack.issuer}/.well-known/openid-configuration`)).json();
  assert.equal(discovery.authorization_response_iss_parameter_supported, true);
  const { page, context } = await newPage();
  const state = await startSignIn(page);
  await page.goto(`${stack.appUrl}/callback?code=some-code&state=${encodeURIComponent(state)}`);
  await page.getByTestId('error').waitFor();
  assert.match(await page.getByTestId('error').textContent(), /does not name its issuer/);
  assert.equal(await page.getByTestId('profile').count(), 0);
  // A failed callback leaves no code in the address or in the history entry.
  assert.equal(page.url(), `${stack.appUrl}/callback`);
  assert.equal(await page.evaluate(() => window.location.search), '');
  await page.reload();
  await page.getByTestId('error').waitFor();
  assert.doesNotMatch(page.url(), /code=/);
  await context.close();
});

test('sign-out ends the session at the provider too', async () => {
  const { page, context } = await newPage();
  await signIn(page, 'alice');
  await Promise.all([
    page.waitForURL(`${stack.appUrl}/`),
    page.getByTestId('sign-out').click(),
  ]);
  await page.getByTestId('sign-in').waitFor();
  await shot(page, '09-signed-out-again');
  // The provider's session is gone: signing in asks for the password again.
  await page.getByTestId('sign-in').click();
  await page.waitForSelector('#username', { timeout: 15_000 });
  await context.close();
});

test('the callback exchanges the code without waiting for the discovery document again', async () => {
  const { page, context, problems } = await newPage();
  await page.goto(stack.appUrl);
  await page.getByTestId('sign-in').click();
  await page.waitForSelector('#username');
  // From here on, the app's fetches of the discovery document answer 1.5 s late; the
  // provider's own pages do not fetch it.
  const seen = [];
  await context.route('**/.well-known/openid-configuration', async (route) => {
    const response = await route.fetch();
    await new Promise((r) => setTimeout(r, 1500));
    await route.fulfill({ response });
    seen.push(['discovery answered', Date.now()]);
  });
  context.on('request', (request) => {
    if (request.method() === 'POST' && new URL(request.url()).pathname.endsWith('/token')) {
      seen.push(['token request', Date.now()]);
    }
  });
  await page.fill('#username', 'alice');
  await page.fill('#password', USERS.alice.password);
  await Promise.all([page.waitForURL(`${stack.appUrl}/`), page.click('button[type=submit]')]);
  await page.getByTestId('profile').waitFor();
  assert.equal(await page.getByTestId('subject').textContent(), 'alice');
  const at = (what) => seen.find(([name]) => name === what)?.[1];
  assert.ok(at('token request'), `no token request seen: ${JSON.stringify(seen)}`);
  assert.ok(at('discovery answered'), `the set-up fetched no discovery document: ${JSON.stringify(seen)}`);
  assert.ok(
    at('token request') < at('discovery answered'),
    `the code was exchanged only after the discovery document arrived: ${JSON.stringify(seen)}`,
  );
  // The record (with the document it kept) is used up.
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  assert.deepEqual(problems, []);
  await context.close();
});

/** Signs `user` in at the provider without waiting for the app to be signed in. */
async function submitSignIn(page, user) {
  await page.goto(stack.appUrl);
  await page.getByTestId('sign-in').click();
  await page.waitForSelector('#username');
  await page.fill('#username', user);
  await page.fill('#password', USERS[user].password);
  await page.click('button[type=submit]');
}

/** Makes the context's pages a browser without RSASSA in WebCrypto: importKey refuses such
 * keys with NotSupportedError (counted in `window.__refusedImports`). */
async function refuseRsaImports(context) {
  await context.addInitScript(() => {
    const original = crypto.subtle.importKey.bind(crypto.subtle);
    window.__refusedImports = 0;
    crypto.subtle.importKey = (format, key, algorithm, ...rest) => {
      if ((algorithm?.name ?? algorithm) === 'RSASSA-PKCS1-v1_5') {
        window.__refusedImports += 1;
        return Promise.reject(new DOMException('not in this browser', 'NotSupportedError'));
      }
      return original(format, key, algorithm, ...rest);
    };
  });
}

test('a key the browser cannot import is checked by the engine, and sign-in still verifies the tokens', async () => {
  const { page, context, problems } = await newPage();
  // The shell links no pure-Rust signature code; it hands the check to the engine module.
  await refuseRsaImports(context);
  await signIn(page, 'alice');
  assert.equal(await page.getByTestId('subject').textContent(), 'alice');
  assert.match(await page.getByTestId('id-token').textContent(), /verified/);
  assert.ok(await page.evaluate(() => window.__refusedImports) > 0, 'WebCrypto was not asked');
  // The engine, which falls back the same way, decides as the edge does.
  const rows = await matrix(page);
  assert.equal(rows['post /pets'].predicted, 'Allow');
  assert.match(await tryRow(rows['get /pets'].row), /^200 /);
  assert.deepEqual(problems, []);
  await context.close();
});

test('a forged signature is refused on the engine\'s path too', async () => {
  const { page, context } = await newPage();
  await refuseRsaImports(context);
  // The provider's answer reaches the app with the ID token's signature changed.
  await context.route('**/token', async (route) => {
    const response = await route.fetch();
    const body = await response.json();
    const [h, p, s] = body.id_token.split('.');
    const flipped = (s[0] === 'A' ? 'B' : 'A') + s.slice(1);
    await route.fulfill({ response, json: { ...body, id_token: `${h}.${p}.${flipped}` } });
  });
  await submitSignIn(page, 'alice');
  await page.getByTestId('error').waitFor();
  assert.match(await page.getByTestId('error').textContent(), /signature/i);
  assert.equal(await page.getByTestId('profile').count(), 0);
  await context.close();
});

test('without the engine, a key the browser cannot import refuses the sign-in', async () => {
  const { page, context } = await newPage();
  await refuseRsaImports(context);
  // The engine module cannot be had: the shell has no signature code of its own to fall
  // back on, and refuses the token rather than take it unchecked.
  await context.route('**/engine/**', (route) => route.fulfill({ status: 404, body: 'gone' }));
  await submitSignIn(page, 'alice');
  await page.getByTestId('error').waitFor();
  assert.match(await page.getByTestId('error').textContent(), /engine cannot check the signature/);
  assert.equal(await page.getByTestId('profile').count(), 0);
  await context.close();
});
