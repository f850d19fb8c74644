// Browser helpers shared by the app and demo tests.
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

/** Debian's Chromium, headless, with the flags this offline machine needs. */
export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    // Headless, with a fresh profile made by playwright for this launch.
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--no-first-run'],
  });
}

/** A page in a fresh context; page errors are collected. */
export async function newPage(browser, width = 1280) {
  const context = await browser.newContext({ viewport: { width, height: 900 } });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (err) => problems.push(err.message));
  return { page, context, problems };
}

export function screenshotter(dir) {
  fs.mkdirSync(dir, { recursive: true });
  return (page, name) => page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: true });
}

/** Signs in at the provider's form and waits for the signed-in view. */
export async function signIn(page, appUrl, user, password) {
  await page.goto(appUrl);
  await page.getByTestId('sign-in').click();
  await page.waitForSelector('#username');
  await page.fill('#username', user);
  await page.fill('#password', password);
  await Promise.all([
    page.waitForURL(`${appUrl}/`),
    page.click('button[type=submit]'),
  ]);
  await page.getByTestId('profile').waitFor();
}

/** The allowed-actions rows by action id, with the predicted outcome. */
export async function matrix(page) {
  await page.locator('[data-testid=actions] tr[data-action]').first().waitFor();
  const rows = page.locator('[data-testid=actions] tr[data-action]');
  const out = {};
  for (let i = 0; i < await rows.count(); i++) {
    const row = rows.nth(i);
    out[await row.getAttribute('data-action')] = {
      row,
      predicted: (await row.getByTestId('prediction').textContent()).trim(),
    };
  }
  return out;
}

/** Clicks "Try" on a row and returns what the edge answered ("200 ...", "403 ..."). */
export async function tryRow(row) {
  await row.getByTestId('try').click();
  const status = row.getByTestId('edge-status');
  await status.filter({ hasText: /\d{3}|failed/ }).waitFor();
  return (await status.textContent()).trim();
}
