// Sessions that last, in Chromium: the PingOne-shaped provider issues 20-second ID and access
// tokens and a refresh token rotated on every use. The app renews before the tokens expire
// without signing out, a reload restores the session with a silent sign-in, a second tab takes
// the session over from the first, the two tabs renew it once between them, and signing out
// in one signs out both.
//
//   node --test tests/browser/session.test.mjs      (cargo xtask test runs it)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startStack, root, USERS } from '../demo/stack.mjs';
import * as ui from './helpers.mjs';

const TTL = 20;
const shots = path.join(root, 'target/cedargate-e2e/screenshots');
const shot = ui.screenshotter(shots);
let stack;
let browser;

before(async () => {
  stack = await startStack({
    dir: path.join(root, 'target/cedargate-e2e', `session-${process.pid}`),
    providerArgs: ['--id-token-ttl', String(TTL), '--access-token-ttl', String(TTL), '--refresh-token-ttl', '300'],
  });
  browser = await ui.launch();
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

/** A claim of the token panel `testid` ("id-token", "access-token"), as shown. */
async function claim(page, testid, name) {
  return (await page.getByTestId(testid).locator(`tr[data-claim=${name}] code`).textContent()).trim();
}

/** Waits until `read()` differs from `before` (or fails after `ms`). */
async function changes(read, before, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    const now = await read();
    if (now !== before) return now;
    if (Date.now() > end) throw new Error(`${what} did not change within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Waits until `done()` holds (or fails after `ms`). */
async function until(done, ms, what) {
  const end = Date.now() + ms;
  while (!done()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Records the refresh grants and authorization requests any page of `context` sends. */
function watch(context) {
  const seen = { refreshes: [], authorizations: [], revocations: [], tokenUrl: null };
  context.on('request', (request) => {
    const url = new URL(request.url());
    if (url.pathname.endsWith('/token') && request.method() === 'POST') {
      seen.tokenUrl = url.href;
      const form = new URLSearchParams(request.postData() ?? '');
      if (form.get('grant_type') === 'refresh_token') seen.refreshes.push(form.get('refresh_token'));
    }
    if (url.pathname.endsWith('/revoke') && request.method() === 'POST') {
      const form = new URLSearchParams(request.postData() ?? '');
      seen.revocations.push({ hint: form.get('token_type_hint'), token: form.get('token') });
    }
    if (url.pathname.endsWith('/authorize')) seen.authorizations.push(url.searchParams);
  });
  return seen;
}

/** Marks the page if the signed-out view or the provider's form ever shows. */
async function watchForSignOut(page) {
  await page.evaluate(() => {
    window.cedargateSawSignedOut = false;
    new MutationObserver(() => {
      if (document.querySelector('[data-testid=signed-out]')) window.cedargateSawSignedOut = true;
    }).observe(document.body, { childList: true, subtree: true });
  });
}

test('the session renews before its tokens expire, without a sign-out, rotating the refresh token', async () => {
  const { page, context, problems } = await ui.newPage(browser, 1280);
  const seen = watch(context);
  await ui.signIn(page, stack.appUrl, 'alice', USERS.alice.password);
  const firstIat = await claim(page, 'id-token', 'iat');
  const firstAccess = await claim(page, 'access-token', 'jti');
  const firstExp = Number(await claim(page, 'id-token', 'exp'));
  const rows = await ui.matrix(page);
  await watchForSignOut(page);
  let navigations = 0;
  page.on('framenavigated', (frame) => { if (frame === page.mainFrame()) navigations += 1; });

  // A quarter of the lifetime before expiry, the app renews in place.
  const secondIat = await changes(() => claim(page, 'id-token', 'iat'), firstIat, (TTL + 5) * 1000, 'the ID token');
  assert.ok(Number(secondIat) > Number(firstIat));
  assert.ok(Number(secondIat) < firstExp, `renewed at ${secondIat}, after the first token's expiry ${firstExp}`);
  assert.equal(seen.refreshes.length, 1);
  assert.equal(await claim(page, 'id-token', 'sub'), 'alice');
  assert.notEqual(await claim(page, 'access-token', 'jti'), firstAccess);
  await shot(page, 'session-01-renewed-1280px');

  // Past the first token's expiry, the edge takes the renewed token.
  const wait = firstExp * 1000 - Date.now() + 1500;
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  assert.match(await ui.tryRow(rows['get /pets'].row), /^200 /);

  // The second renewal spends the rotated refresh token, not the first one again.
  await changes(() => claim(page, 'id-token', 'iat'), secondIat, (TTL + 5) * 1000, 'the renewed ID token');
  assert.equal(seen.refreshes.length, 2);
  assert.notEqual(seen.refreshes[0], seen.refreshes[1]);

  assert.equal(navigations, 0, 'the page navigated during renewal');
  assert.equal(await page.evaluate(() => window.cedargateSawSignedOut), false);
  assert.equal(await page.getByTestId('renewal-error').count(), 0);
  // No token is kept in storage; only the fact that someone is signed in.
  const stored = await page.evaluate(() => JSON.stringify({ ...localStorage, ...sessionStorage }));
  assert.equal(stored, JSON.stringify({ 'cedargate.signed-in': '1' }));
  assert.deepEqual(problems, []);
  await context.close();
});

test('a reload restores the session, a second tab takes it over, both renew once, sign-out ends both', async () => {
  const { page, context, problems } = await ui.newPage(browser, 1280);
  const seen = watch(context);
  await ui.signIn(page, stack.appUrl, 'bob', USERS.bob.password);
  const subject = await page.getByTestId('subject').textContent();

  // A reload: no other tab holds the session, so a silent sign-in restores it.
  seen.authorizations.length = 0;
  await page.reload();
  await page.getByTestId('profile').waitFor();
  assert.equal(await page.getByTestId('subject').textContent(), subject);
  assert.equal(seen.authorizations.length, 1);
  assert.equal(seen.authorizations[0].get('prompt'), 'none');
  assert.equal(await page.locator('#username').count(), 0);

  // A second tab (390 px wide) takes the session over from the first, without the provider.
  const second = await context.newPage();
  second.on('pageerror', (err) => problems.push(err.message));
  await second.setViewportSize({ width: 390, height: 900 });
  await second.goto(stack.appUrl);
  await second.getByTestId('profile').waitFor();
  assert.equal(await second.getByTestId('subject').textContent(), subject);
  assert.equal(seen.authorizations.length, 1, 'the second tab signed in again');
  assert.equal(await claim(second, 'id-token', 'iat'), await claim(page, 'id-token', 'iat'));
  await shot(second, 'session-02-second-tab-390px');

  // Both tabs' tokens expire together; one refresh renews both.
  const before = await claim(page, 'id-token', 'iat');
  const refreshes = seen.refreshes.length;
  const renewed = await changes(() => claim(page, 'id-token', 'iat'), before, (TTL + 5) * 1000, 'the first tab\'s token');
  await changes(() => claim(second, 'id-token', 'iat'), before, 5000, 'the second tab\'s token');
  assert.equal(await claim(second, 'id-token', 'iat'), renewed);
  await new Promise((r) => setTimeout(r, 2000));
  assert.equal(seen.refreshes.length - refreshes, 1, 'the tabs renewed more than once');
  assert.match(await ui.tryRow((await ui.matrix(second))['get /pets'].row), /^200 /);

  // A reload while the other tab holds the session takes it from that tab.
  await second.reload();
  await second.getByTestId('profile').waitFor();
  assert.equal(seen.authorizations.length, 1, 'the reloaded tab signed in again');

  // Signing out in one tab signs out the other.
  await Promise.all([
    page.waitForURL(`${stack.appUrl}/`),
    page.getByTestId('sign-out').click(),
  ]);
  await page.getByTestId('signed-out').waitFor();
  await second.getByTestId('signed-out').waitFor();
  // Sign-out revoked the refresh token (and the access token): it renews nothing more.
  assert.deepEqual(seen.revocations.map((r) => r.hint), ['refresh_token', 'access_token']);
  const spent = await fetch(seen.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: seen.revocations[0].token, client_id: stack.clientId }),
  });
  assert.equal(spent.status, 400);
  assert.equal((await spent.json()).error, 'invalid_grant');
  // And a reload then stays signed out, without a trip to the provider.
  await second.reload();
  await second.getByTestId('signed-out').waitFor();
  assert.equal(seen.authorizations.length, 1);
  assert.deepEqual(problems, []);
  await context.close();
});

test('a reload after the provider\'s session ended comes back signed out, without an error', async () => {
  const { page, context, problems } = await ui.newPage(browser, 1280);
  const seen = watch(context);
  await ui.signIn(page, stack.appUrl, 'alice', USERS.alice.password);
  // The provider forgets the person (its cookies are gone), the app's note stays.
  await context.clearCookies();
  await page.reload();
  await page.getByTestId('signed-out').waitFor();
  assert.equal(seen.authorizations.at(-1).get('prompt'), 'none');
  assert.equal(await page.getByTestId('error').count(), 0);
  assert.equal(await page.evaluate(() => localStorage.getItem('cedargate.signed-in')), null);
  // The next reload does not try again.
  const count = seen.authorizations.length;
  await page.reload();
  await page.getByTestId('signed-out').waitFor();
  assert.equal(seen.authorizations.length, count);
  assert.deepEqual(problems, []);
  await context.close();
});

test('a sign-out in another tab while a renewal is in flight is not undone, and the renewal\'s tokens are revoked', async () => {
  const { page, context, problems } = await ui.newPage(browser, 1280);
  const seen = watch(context);
  // The provider answers the renewal at once, but the answer reaches the page only when
  // released: the renewal is in flight across the sign-out.
  let release;
  const released = new Promise((r) => { release = r; });
  let held = null;
  await context.route('**/token', async (route) => {
    const form = new URLSearchParams(route.request().postData() ?? '');
    if (form.get('grant_type') !== 'refresh_token' || held) return route.continue();
    const response = await route.fetch();
    const body = await response.json();
    held = { refreshToken: body.refresh_token, accessToken: body.access_token };
    await released;
    await route.fulfill({ response, json: body });
  });
  await ui.signIn(page, stack.appUrl, 'alice', USERS.alice.password);
  const second = await context.newPage();
  second.on('pageerror', (err) => problems.push(err.message));
  await second.goto(stack.appUrl);
  await second.getByTestId('profile').waitFor();

  // The renewal's answer is held; the other tab signs out meanwhile.
  await until(() => held, (TTL + 5) * 1000, 'the renewal');
  assert.ok(held.refreshToken, 'the provider rotated the refresh token');
  await second.getByTestId('sign-out').click();
  await second.getByTestId('signed-out').waitFor();
  await page.getByTestId('signed-out').waitFor();

  // The renewal comes back: both tabs stay signed out, and its tokens are revoked.
  release();
  await until(() => seen.revocations.some((r) => r.token === held.refreshToken), 10000,
    'the revocation of the renewal\'s refresh token');
  await new Promise((r) => setTimeout(r, 1500));
  for (const tab of [page, second]) {
    assert.equal(await tab.getByTestId('profile').count(), 0, 'a tab is signed in again');
    assert.equal(await tab.getByTestId('signed-out').count(), 1);
  }
  const spent = await fetch(seen.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: held.refreshToken, client_id: stack.clientId }),
  });
  assert.equal(spent.status, 400);
  assert.deepEqual(problems, []);
  await context.close();
});

test('a stale tab\'s older session arriving after the newer one is not taken, and its rotated refresh token is never presented again', async () => {
  const { page, context, problems } = await ui.newPage(browser, 1280);
  const seen = watch(context);
  // A page of the app's origin that does not run the app: it hears what the tabs say on the
  // channel and, later, says an old session again, as a tab that missed a renewal would.
  const stale = await context.newPage();
  await stale.goto(new URL('config.json', stack.appUrl).href);
  await stale.evaluate(() => {
    window.heard = [];
    window.channel = new BroadcastChannel('cedargate.session');
    window.channel.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.type === 'session') window.heard.push(event.data);
    };
  });
  const heard = () => stale.evaluate(() => window.heard.map((text) => JSON.parse(text)));
  const heardText = () => stale.evaluate(() => window.heard);
  const heardUntil = async (done, ms, what) => {
    const end = Date.now() + ms;
    for (;;) {
      const messages = await heard();
      if (done(messages)) return messages;
      if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  await ui.signIn(page, stack.appUrl, 'alice', USERS.alice.password);
  const firstIat = await claim(page, 'id-token', 'iat');
  const [signedIn] = await heardUntil((m) => m.length >= 1, 10000, 'the sign-in\'s session on the channel');
  const signedInText = (await heardText())[0];
  assert.ok(signedIn.refresh_token, 'the provider issued a refresh token');

  // The app renews, rotating the refresh token, and tells the other tabs.
  const secondIat = await changes(() => claim(page, 'id-token', 'iat'), firstIat, (TTL + 5) * 1000, 'the ID token');
  const renewedMessages = await heardUntil(
    (m) => m.some((s) => s.refresh_token && s.refresh_token !== signedIn.refresh_token),
    10000, 'the renewed session on the channel');
  const renewed = renewedMessages.find((s) => s.refresh_token !== signedIn.refresh_token);
  assert.equal(seen.refreshes.length, 1);
  assert.equal(seen.refreshes[0], signedIn.refresh_token);

  // The stale tab says the sign-in's session again, after the renewed one.
  const before = renewedMessages.length;
  await stale.evaluate((text) => window.channel.postMessage(text), signedInText);

  // The next renewal presents the rotated refresh token, never the spent one again.
  await until(() => seen.refreshes.length >= 2, (TTL + 5) * 1000, 'the second renewal');
  assert.equal(seen.refreshes[1], renewed.refresh_token);
  assert.ok(!seen.refreshes.slice(1).includes(signedIn.refresh_token), 'a rotated refresh token was presented again');
  const thirdIat = await changes(() => claim(page, 'id-token', 'iat'), secondIat, (TTL + 5) * 1000, 'the renewed ID token');
  assert.ok(Number(thirdIat) > Number(secondIat));
  assert.equal(await page.getByTestId('renewal-error').count(), 0);
  assert.equal(await page.getByTestId('profile').count(), 1);
  // The app answered the stale session with its newer one, and did not take it.
  const answered = (await heard()).slice(before);
  assert.ok(answered.some((s) => s.refresh_token === renewed.refresh_token), 'no answer with the newer session');
  assert.deepEqual(problems, []);
  await context.close();
});

test('a sign-out in the tab whose renewal is in flight waits for it, and the renewal\'s rotated refresh token is revoked', async () => {
  const { page, context, problems } = await ui.newPage(browser, 1280);
  const seen = watch(context);
  // The provider answers the renewal at once; the answer reaches the page only when released.
  let release;
  const released = new Promise((r) => { release = r; });
  let held = null;
  await context.route('**/token', async (route) => {
    const form = new URLSearchParams(route.request().postData() ?? '');
    if (form.get('grant_type') !== 'refresh_token' || held) return route.continue();
    const response = await route.fetch();
    const body = await response.json();
    held = { presented: form.get('refresh_token'), refreshToken: body.refresh_token };
    await released;
    // A page that already left aborted the request: nothing to answer.
    await route.fulfill({ response, json: body }).catch(() => {});
  });
  await ui.signIn(page, stack.appUrl, 'alice', USERS.alice.password);

  // The renewal is in flight when this same tab signs out.
  await until(() => held, (TTL + 5) * 1000, 'the renewal');
  assert.ok(held.refreshToken && held.refreshToken !== held.presented, 'the provider rotated the refresh token');
  // The answer is released once the page has either left (its document, and the renewal
  // with it, gone) or says it waits for the renewal.
  const left = page.waitForEvent('framenavigated', { predicate: (f) => f === page.mainFrame(), timeout: 20000 })
    .then(() => 'left', () => null);
  const waiting = page.getByTestId('sign-out-waiting').waitFor({ timeout: 20000 })
    .then(() => 'waiting', () => null);
  await page.getByTestId('sign-out').click();
  const first = await Promise.race([left, waiting]);
  assert.ok(seen.revocations.some((r) => r.token === held.presented), 'the session\'s refresh token was revoked');

  // The renewal comes back: its tokens are revoked before the page leaves, and the tab ends
  // signed out.
  release();
  await until(() => seen.revocations.some((r) => r.token === held.refreshToken), 10000,
    'the revocation of the renewal\'s refresh token');
  assert.equal(first, 'waiting');
  await page.getByTestId('signed-out').waitFor();
  assert.equal(await page.getByTestId('profile').count(), 0);
  const spent = await fetch(seen.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: held.refreshToken, client_id: stack.clientId }),
  });
  assert.equal(spent.status, 400);
  assert.deepEqual(problems, []);
  await context.close();
});
