// Step-up end to end in Chromium: the context bundle (policies/petstore-context, loaded from
// the worker's KV) asks for a multi-factor sign-in in the last 10 minutes before
// delete /pets/{petId}. The edge answers 401 with RFC 9470's challenge, the app restarts
// sign-in with its acr_values and max_age, the PingOne-shaped provider asks for the second
// factor, and the edge then lets the delete through.
//
//   node --test tests/browser/step-up.test.mjs      (cargo xtask test runs it)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startStack, root, USERS } from '../demo/stack.mjs';
import * as ui from './helpers.mjs';

const shots = path.join(root, 'target/cedargate-e2e/screenshots');
let stack;
let browser;

before(async () => {
  stack = await startStack({
    dir: path.join(root, 'target/cedargate-e2e', `step-up-${process.pid}`),
    bundle: 'context',
  });
  browser = await ui.launch();
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

const shot = ui.screenshotter(shots);

/** The claims row of the ID token panel. */
async function idClaim(page, name) {
  return (await page.getByTestId('id-token').locator(`tr[data-claim=${name}]`).textContent()).trim();
}

for (const width of [1280, 390]) {
  test(`alice steps up with a second factor and the edge then lets her delete (${width} px)`, async () => {
    const { page, context, problems } = await ui.newPage(browser, width);
    await ui.signIn(page, stack.appUrl, 'alice', USERS.alice.password);
    // The provider says how she signed in, as PingOne does.
    assert.match(await idClaim(page, 'acr'), /Single_Factor/);
    assert.match(await idClaim(page, 'amr'), /pwd/);
    const rows = await ui.matrix(page);
    assert.deepEqual(Object.keys(rows).sort(), ['delete /pets/{petId}', 'get /pets', 'get /pets/{petId}']);
    const remove = rows['delete /pets/{petId}'].row;
    // The step-up forbid reads the request's time and the token's acr and auth_time.
    assert.equal(rows['delete /pets/{petId}'].predicted, 'Depends on the request');
    const dependsOn = await remove.getByTestId('depends-on').textContent();
    for (const value of ['request.time', 'token.acr', 'token.auth_time']) {
      assert.ok(dependsOn.includes(value), `${value} in "${dependsOn}"`);
    }

    // A password sign-in is not enough: 401 with the challenge, and a way to meet it.
    const answer = await ui.tryRow(remove);
    assert.match(answer, /^401 /, answer);
    const stepUp = remove.getByTestId('step-up');
    assert.equal(
      (await stepUp.locator('.step-up-asks').textContent()).trim(),
      'The edge asks for sign-on policy Multi_Factor, a sign-in in the last 10 min.',
    );
    if (width === 390) {
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 1, `page is ${overflow}px wider than the screen`);
    }
    await shot(page, `step-up-01-asked-${width}px`);

    const [authorize] = await Promise.all([
      page.waitForRequest((r) => new URL(r.url()).pathname.endsWith('/authorize')),
      stepUp.getByTestId('step-up-sign-in').click(),
    ]);
    const asked = new URL(authorize.url()).searchParams;
    assert.equal(asked.get('acr_values'), 'Multi_Factor');
    assert.equal(asked.get('max_age'), '600');
    // The provider asks again, now for the second factor too; a wrong code is refused.
    await page.waitForSelector('#code');
    await page.fill('#username', 'alice');
    await page.fill('#password', USERS.alice.password);
    await page.fill('#code', '000000');
    await page.click('button[type=submit]');
    await page.getByRole('alert').waitFor();
    assert.match(await page.getByRole('alert').textContent(), /wrong code/);
    await page.fill('#username', 'alice');
    await page.fill('#password', USERS.alice.password);
    await page.fill('#code', USERS.alice.code);
    await shot(page, `step-up-02-second-factor-${width}px`);
    await Promise.all([page.waitForURL(`${stack.appUrl}/`), page.click('button[type=submit]')]);
    await page.getByTestId('profile').waitFor();

    assert.match(await idClaim(page, 'acr'), /Multi_Factor/);
    assert.match(await idClaim(page, 'amr'), /otp/);
    const after = (await ui.matrix(page))['delete /pets/{petId}'].row;
    const deleted = await ui.tryRow(after);
    // 200, or 404 when the other width's run deleted the pet already: the edge let it through.
    assert.match(deleted, /^(200|404) /, deleted);
    assert.equal(await after.getByTestId('step-up').count(), 0);
    await shot(page, `step-up-03-allowed-${width}px`);
    assert.deepEqual(problems, []);
    await context.close();
  });
}

test('bob reads after a password sign-in but may not delete, stepped up or not', async () => {
  const { page, context, problems } = await ui.newPage(browser);
  await ui.signIn(page, stack.appUrl, 'bob', USERS.bob.password);
  const rows = await ui.matrix(page);
  // No permit for bob's group covers delete: a deny, not a step-up.
  assert.equal(rows['delete /pets/{petId}'].predicted, 'Deny');
  const answer = await ui.tryRow(rows['delete /pets/{petId}'].row);
  assert.match(answer, /^403 /, answer);
  assert.equal(await rows['delete /pets/{petId}'].row.getByTestId('step-up').count(), 0);
  // His password sign-in (amr pwd) is what lets him read a pet (404 once alice deleted it:
  // the edge let the request through either way).
  assert.match(await ui.tryRow(rows['get /pets/{petId}'].row), /^(200|404) /);
  assert.deepEqual(problems, []);
  await context.close();
});
