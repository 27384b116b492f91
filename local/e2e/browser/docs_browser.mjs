// The API reference as a person meets it: /api/docs in headless Chromium
// (Debian's, driven by playwright-core) lists every operation of
// /api/openapi.json, takes a bearer and a guest token under "Authorize", and
// "Try it out" on GET /api/items/ answers 200. Every request the page makes
// goes to the server itself. A screenshot is saved and its path printed.
//
//   node local/e2e/browser/docs_browser.mjs http://127.0.0.1:8768 [screenshot.png]

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const base = (process.argv[2] || 'http://127.0.0.1:8000').replace(/\/$/, '');
const screenshot = process.argv[3] || join(mkdtempSync(join(tmpdir(), 'shop-docs-')), 'api-docs.png');
const results = [];
const check = (name, ok, detail = '') => {
  results.push(ok);
  console.log(`${ok ? 'ok  ' : 'FAIL'}  ${name}${ok || !detail ? '' : `: ${detail}`}`);
};

const documentAnswer = await fetch(`${base}/api/openapi.json`);
const document = await documentAnswer.json();
const methods = ['get', 'post', 'put', 'patch', 'delete'];
const operations = Object.values(document.paths).flatMap((item) => methods.filter((m) => item[m]));

const login = await fetch(`${base}/api/customers/login`, {
  method: 'POST',
  headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify({ email: 'customer123@example.com', password: 'shop-demo-password-1' }),
});
const bearer = (await login.json()).access_token;
const session = await (await fetch(`${base}/api/customers/`, { method: 'POST' })).json();
const guest = session.token;

// Opens an operation, fills its path parameters, presses Execute: the live answer.
async function tryOperation(page, id, parameters = {}) {
  const operation = page.locator(`#${id}`);
  await operation.locator('.opblock-summary').click();
  await operation.locator('.opblock-body').waitFor();
  // The page opens operations ready to try (tryItOutEnabled); otherwise press "Try it out".
  if (await operation.locator('button.execute').count() === 0) {
    await operation.locator('button.try-out__btn').click();
  }
  for (const [name, value] of Object.entries(parameters)) {
    await operation.locator(`tr[data-param-name="${name}"] input`).fill(value);
  }
  await operation.locator('button.execute').click();
  const status = operation.locator('.live-responses-table .response .response-col_status').first();
  await status.waitFor({ timeout: 30000 });
  const code = (await status.innerText()).trim();
  const body = await operation.locator('.live-responses-table .response-col_description pre').first().innerText();
  const curl = await operation.locator('.curl-command').first().innerText().catch(() => '');
  return { operation, code, body, curl };
}

// A fresh profile each run (playwright passes it as --user-data-dir).
const browser = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'shop-chromium-')), {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  viewport: { width: 1280, height: 900 },
});
let exitCode = 1;
try {
  const page = browser.pages()[0] || await browser.newPage();
  const elsewhere = [];
  page.on('request', (request) => {
    const url = request.url();
    if (!url.startsWith(base) && !url.startsWith('data:')) elsewhere.push(url);
  });
  const errors = [];
  page.on('pageerror', (error) => errors.push(error.message));

  const answer = await page.goto(`${base}/api/docs`, { waitUntil: 'networkidle' });
  check('the page loads', answer && answer.ok(), `${answer && answer.status()}`);
  await page.waitForSelector('.opblock', { timeout: 30000 });
  const listed = await page.locator('.opblock').count();
  check(`every operation of the document is listed (${operations.length})`, listed === operations.length,
    `${listed} listed`);
  const title = await page.locator('.info .title').first().innerText();
  check('the title is the document\'s', title.includes(document.info.title), title);

  // Authorize with both schemes the document declares.
  await page.locator('button.authorize').first().click();
  const dialog = page.locator('.dialog-ux');
  await dialog.waitFor();
  const bearerForm = dialog.locator('.auth-container', { hasText: 'bearer' }).first();
  await bearerForm.locator('input').first().fill(bearer);
  await bearerForm.locator('button.authorize').click();
  const guestForm = dialog.locator('.auth-container', { hasText: 'guest_token' }).first();
  await guestForm.locator('input').first().fill(guest);
  await guestForm.locator('button.authorize').click();
  const logouts = await dialog.locator('button.btn-done, button:has-text("Logout")').count();
  check('a bearer token and a guest token are taken', logouts >= 2, `${logouts} authorized forms`);
  await dialog.locator('button.close-modal').click();

  // Try GET /api/items/, then an operation for each token.
  const items = await tryOperation(page, 'operations-items-list_items');
  check('"Try it out" on GET /api/items/ answers 200', items.code === '200', items.code);
  check('the answer is the items page', items.body.includes('"results"') && items.body.includes('"count"'),
    items.body.slice(0, 200));
  const profile = await tryOperation(page, 'operations-customers-get_profile');
  check('GET /api/customers/profile with the bearer token answers 200', profile.code === '200',
    `${profile.code} ${profile.body.slice(0, 200)}`);
  check('that request carried the bearer token', profile.curl.includes(`Bearer ${bearer}`), profile.curl.slice(0, 300));
  const touch = await tryOperation(page, 'operations-guest-customer-touch_guest_session', { id: session.id });
  check('POST /api/guest-customer/{id}/touch with the guest token answers 200', touch.code === '200',
    `${touch.code} ${touch.body.slice(0, 200)}`);
  const operation = items.operation;

  check('nothing was loaded from elsewhere', elsewhere.length === 0, elsewhere.join(', '));
  check('no script errors', errors.length === 0, errors.join('; '));
  await operation.scrollIntoViewIfNeeded();
  await page.screenshot({ path: screenshot, fullPage: false });
  console.log(`screenshot (CI artifact): ${screenshot}`);
  exitCode = results.every(Boolean) ? 0 : 1;
} catch (error) {
  console.log(`FAIL  ${error.stack || error}`);
  await browser.pages()[0]?.screenshot({ path: screenshot }).catch(() => {});
  console.log(`screenshot of the failure: ${screenshot}`);
} finally {
  await browser.close();
}
const failed = results.filter((ok) => !ok).length + (exitCode && results.every(Boolean) ? 1 : 0);
console.log(`${results.length - results.filter((ok) => !ok).length} passed, ${failed} failed`);
process.exit(exitCode);
