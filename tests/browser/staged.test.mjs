// The staged candidate in Chromium: the PetStore bundle live from the worker's KV and, in its
// staged entry, the same bundle with a `forbid` on get /pets for AVP_User. The app shows the
// live and the staged matrix side by side and marks what would change; the edge still
// answers as the live bundle says. get / is monitored (`rollout`), and the matrices say so.
//
//   node --test tests/browser/staged.test.mjs      (cargo xtask test runs it)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startStack, root, USERS } from '../demo/stack.mjs';
import * as ui from './helpers.mjs';

const shots = path.join(root, 'target/cedargate-e2e/screenshots');
const FORBID = `@id("users-may-not-list-pets")
forbid (
  principal in PetStore::UserGroup::"AVP_User",
  action == PetStore::Action::"get /pets",
  resource
);`;
let stack;
let browser;

before(async () => {
  stack = await startStack({
    dir: path.join(root, 'target/cedargate-e2e', `staged-${process.pid}`),
    staged: FORBID,
    rollout: { actions: { 'get /': false } },
  });
  browser = await ui.launch();
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

const shot = ui.screenshotter(shots);

/**
 * Signs in and waits for the side-by-side matrix (the worker reads the staged entry after
 * answering, so a page loaded before that is reloaded); its rows by action.
 */
async function stagedMatrix(page, user) {
  await ui.signIn(page, stack.appUrl, user, USERS[user].password);
  await ui.matrix(page);
  for (let i = 0; i < 10 && await page.getByTestId('staged').count() === 0; i++) {
    await new Promise((r) => setTimeout(r, 500));
    await page.reload();
    await ui.matrix(page);
  }
  const table = page.getByTestId('staged-matrix');
  await table.waitFor();
  const rows = table.locator('tr[data-compare]');
  const out = {};
  for (let i = 0; i < await rows.count(); i++) {
    const row = rows.nth(i);
    const text = async (id) => (await row.getByTestId(id).textContent()).trim();
    out[await row.getAttribute('data-compare')] = {
      row,
      live: (await row.getByTestId('live').getByTestId('outcome').textContent()).trim(),
      staged: (await row.getByTestId('staged-side').getByTestId('outcome').textContent()).trim(),
      changed: await row.getAttribute('data-changed') === 'true',
      change: await text('change'),
      monitored: await row.getByTestId('monitored').count() === 1,
    };
  }
  return out;
}

const overflow = (page) => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);

for (const width of [1280, 390]) {
  test(`bob sees get /pets Allow live and Deny staged, flagged, and the edge still allows it (${width} px)`, async () => {
    const { page, context, problems } = await ui.newPage(browser, width);
    const rows = await stagedMatrix(page, 'bob');
    assert.deepEqual(Object.keys(rows).sort(), ['get /', 'get /pets', 'get /pets/{petId}', 'post /pets']);
    const pets = rows['get /pets'];
    assert.equal(pets.live, 'Allow');
    assert.equal(pets.staged, 'Deny');
    assert.ok(pets.changed, 'get /pets is not flagged');
    assert.equal((await pets.row.getByTestId('change-text').textContent()).trim(), 'Allow → Deny');
    assert.match(pets.change, /by users-may-not-list-pets/);
    assert.match(await pets.row.getAttribute('class'), /changed/);
    assert.match(await page.getByTestId('staged-summary').textContent(), /^1 action would be decided differently/);
    for (const action of ['get /', 'get /pets/{petId}', 'post /pets']) {
      assert.equal(rows[action].changed, false, action);
      assert.equal(rows[action].live, rows[action].staged, action);
      assert.match(rows[action].change, /no change/, action);
    }
    assert.equal(rows['post /pets'].live, 'Deny');
    // get / is monitored: both matrices say so, and no other action is.
    assert.ok(rows['get /'].monitored, 'get / not marked monitored in the comparison');
    assert.equal(Object.values(rows).filter((r) => r.monitored).length, 1);
    const live = await ui.matrix(page);
    assert.equal(await live['get /'].row.getByTestId('monitored').count(), 1);
    assert.equal(await live['get /pets'].row.getByTestId('monitored').count(), 0);
    // The candidate's forbid opens its text from the candidate.
    await pets.row.getByTestId('change').getByTestId('policy').click();
    const text = page.getByTestId('staged-policy-text');
    await text.waitFor();
    assert.match(await text.locator('pre').textContent(), /forbid \(/);
    assert.ok(await overflow(page) <= 1, `page is ${await overflow(page)}px wider than the screen`);
    await shot(page, `09-bob-staged-${width}px`);
    // The tries still answer as the live bundle says.
    assert.equal(live['get /pets'].predicted, 'Allow');
    assert.match(await ui.tryRow(live['get /pets'].row), /^200 /);
    assert.match(await ui.tryRow(live['post /pets'].row), /^403 /);
    assert.deepEqual(problems, []);
    await context.close();
  });
}

test('alice sees the same decisions live and staged', async () => {
  const { page, context, problems } = await ui.newPage(browser);
  const rows = await stagedMatrix(page, 'alice');
  assert.equal(Object.keys(rows).length, 4);
  for (const [action, row] of Object.entries(rows)) {
    assert.equal(row.live, 'Allow', action);
    assert.equal(row.staged, 'Allow', action);
    assert.equal(row.changed, false, action);
  }
  assert.match(await page.getByTestId('staged-summary').textContent(), /decides every action as the live bundle does/);
  const live = await ui.matrix(page);
  assert.match(await ui.tryRow(live['get /pets'].row), /^200 /);
  assert.deepEqual(problems, []);
  await context.close();
});
