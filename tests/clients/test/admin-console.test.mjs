// The admin console (/admin) in a real browser, against the public API only: an administrator
// signs in, finds one user among hundreds by search, pages forward and back, grants a role and
// deactivates the user (whose session then ends); a non-admin is refused. Screenshots of each
// page are left in the artifacts (lib/screenshots.mjs).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { errorCodes, graphqlFetch } from '../lib/fetch-client.mjs';
import { launchChromium } from '../lib/browser.mjs';
import { createSuperadmin, createUsers } from '../lib/admin.mjs';
import { LOGIN, MY_SESSIONS, REFRESH_TOKEN, SIGNUP } from '../lib/operations.mjs';
import { screenshot } from '../lib/screenshots.mjs';
import { startServer } from '../lib/server.mjs';

const PASSWORD = 'correct horse battery staple';
const SEEDED = 300;
const ADMIN_EMAIL = 'root@example.com';
const MY_ROLES = '{ me { roles } }';

let server;
let browser;
let adminToken;
const tag = randomBytes(3).toString('hex');
const target = { email: `grace-${tag}@example.com`, name: 'Grace Target' };
const plain = { email: `plain-${tag}@example.com` };

before(async () => {
  server = await startServer({ accessTokenTtl: '15m' });
  createSuperadmin(server, ADMIN_EMAIL, PASSWORD);
  const login = await graphqlFetch(server.graphqlUrl, { query: LOGIN, variables: { input: { email: ADMIN_EMAIL, password: PASSWORD } } });
  assert.equal(login.errors, undefined, JSON.stringify(login.errors));
  adminToken = login.data.login.accessToken;
  // Without a password: no hashing, so seeding stays quick (each gets an invitation mail).
  const seeded = Array.from({ length: SEEDED }, (_, n) => ({
    email: `seed-${String(n).padStart(3, '0')}-${tag}@example.com`,
    name: `Seed User ${n}`,
    emailVerified: true,
  }));
  await createUsers(server, adminToken, seeded);
  await createUsers(server, adminToken, [{ ...target, password: PASSWORD, emailVerified: true }]);
  const signup = await graphqlFetch(server.graphqlUrl, { query: SIGNUP, variables: { input: { email: plain.email, password: PASSWORD } } });
  assert.equal(signup.errors, undefined, JSON.stringify(signup.errors));
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** A page that records every failed request, script error and CSP violation. */
async function watchedPage() {
  const page = await browser.context.newPage();
  const problems = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
  });
  page.on('requestfailed', (request) => problems.push(`request failed: ${request.url()}`));
  return { page, problems };
}

async function signIn(page, email, password) {
  await page.locator('#email').fill(email);
  await page.locator('#password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

test('a non-admin is refused by the console, and their new session is ended', async () => {
  // A session of their own elsewhere, to list their sessions with afterwards.
  const own = await graphqlFetch(server.graphqlUrl, { query: LOGIN, variables: { input: { email: plain.email, password: PASSWORD } } });
  assert.equal(own.errors, undefined, JSON.stringify(own.errors));
  const before = await graphqlFetch(server.graphqlUrl, { query: MY_SESSIONS, token: own.data.login.accessToken });
  const { page, problems } = await watchedPage();
  try {
    await page.goto(`${server.origin}/admin`);
    await signIn(page, plain.email, PASSWORD);
    const alert = page.getByRole('alert');
    await alert.waitFor({ timeout: 15_000 });
    assert.match(await alert.textContent(), /NOT_AN_ADMIN/);
    assert.equal(await page.locator('#users-table').count(), 0);
    // The console's sign-in opened a session and ended it at once: no new one is live.
    const afterwards = await graphqlFetch(server.graphqlUrl, { query: MY_SESSIONS, token: own.data.login.accessToken });
    assert.equal(afterwards.data.mySessions.length, before.data.mySessions.length);
    assert.deepEqual(problems, []);
  } finally {
    await screenshot(page, 'admin-refused');
    await page.close();
  }
});

test('an admin finds one user among hundreds, pages, grants a role and deactivates them', async (t) => {
  // The user signs in elsewhere: their session must end when they are deactivated.
  const theirs = await graphqlFetch(server.graphqlUrl, { query: LOGIN, variables: { input: { email: target.email, password: PASSWORD } } });
  assert.equal(theirs.errors, undefined, JSON.stringify(theirs.errors));
  const { accessToken, refreshToken } = theirs.data.login;

  const { page, problems } = await watchedPage();
  try {
    const response = await page.goto(`${server.origin}/admin`);
    assert.match(response.headers()['content-security-policy'], /script-src 'self'/);
    await signIn(page, ADMIN_EMAIL, PASSWORD);

    // The first page, counted over every user (the seeded ones, the target, the plain user and
    // the admin), with server paging.
    await page.locator('#total').filter({ hasText: `${SEEDED + 3} users` }).waitFor({ timeout: 20_000 });
    assert.equal(await page.locator('#users-table tbody tr').count(), 25);
    await screenshot(page, 'admin-users');

    // Forward and back again, by cursor.
    const firstOnPage1 = await page.locator('#users-table tbody tr').first().getAttribute('data-id');
    await page.locator('#next-page').click();
    await page.locator('#page-number').filter({ hasText: 'Page 2' }).waitFor();
    const firstOnPage2 = await page.locator('#users-table tbody tr').first().getAttribute('data-id');
    assert.notEqual(firstOnPage2, firstOnPage1);
    await page.locator('#previous-page').click();
    await page.locator('#page-number').filter({ hasText: 'Page 1' }).waitFor();
    await page.waitForFunction((id) => document.querySelector('#users-table tbody tr')?.dataset.id === id, firstOnPage1);
    assert.equal(await page.locator('#previous-page').isDisabled(), true);

    // Search by name, then by email.
    await page.locator('#search-field').selectOption('name');
    await page.locator('#search').fill('Grace Tar');
    await page.locator('#total').filter({ hasText: /^1 user$/ }).waitFor();
    await page.locator('#search-field').selectOption('email');
    await page.locator('#search').fill(`grace-${tag}`);
    await page.locator('#total').filter({ hasText: /^1 user$/ }).waitFor();
    await screenshot(page, 'admin-search');
    await page.locator('#users-table tbody tr a', { hasText: target.email }).click();

    // The user's page: grant the built-in `admin` role.
    await page.locator('h1', { hasText: target.email }).waitFor();
    await page.locator('#grant-role').selectOption('admin');
    await page.locator('#grant-button').click();
    await page.locator('#user-roles').filter({ hasText: 'admin' }).waitFor();
    const me = await graphqlFetch(server.graphqlUrl, { query: MY_ROLES, token: accessToken });
    assert.equal(me.errors, undefined, JSON.stringify(me.errors));
    assert.deepEqual(me.data.me.roles, ['admin']);

    // Deactivate: the account's session ends at once.
    await page.locator('#toggle-active').click();
    await page.locator('#active-state').filter({ hasText: 'inactive' }).waitFor();
    const after = await graphqlFetch(server.graphqlUrl, { query: MY_ROLES, token: accessToken });
    assert.deepEqual(errorCodes(after), ['UNAUTHENTICATED']);
    const refreshed = await graphqlFetch(server.graphqlUrl, { query: REFRESH_TOKEN, variables: { refreshToken } });
    assert.deepEqual(errorCodes(refreshed), ['INVALID_TOKEN']);

    // The security events panel lists what the admin just did to this account.
    await page.locator('#security-events').filter({ hasText: 'user_deactivated' }).waitFor();
    await page.locator('#security-events').filter({ hasText: 'roles_changed' }).waitFor();
    assert.equal(await page.locator('#events-unavailable').count(), 0);
    await screenshot(page, 'admin-user', { fullPage: true });

    // A refusal from the API shows its code: the admin cannot remove their own last
    // superadmin role (LAST_ADMIN).
    await page.goto(`${server.origin}/admin#/users`);
    await page.locator('#search').fill('root@');
    await page.locator('#total').filter({ hasText: /^1 user$/ }).waitFor();
    await page.locator('#users-table tbody tr a', { hasText: ADMIN_EMAIL }).click();
    await page.locator('h1', { hasText: ADMIN_EMAIL }).waitFor();
    await page.getByRole('button', { name: 'Remove role superadmin' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.textContent(), /LAST_ADMIN/);

    assert.deepEqual(problems, []);
  } catch (error) {
    await screenshot(page, 'admin-failure', { fullPage: true }).catch(() => {});
    throw error;
  } finally {
    t.diagnostic(`problems: ${problems.join('; ') || 'none'}`);
    await page.close();
  }
});

test('a superadmin manages roles and organizations, and invites and deletes a user', async () => {
  const { page, problems } = await watchedPage();
  try {
    await page.goto(`${server.origin}/admin#/roles`);
    await signIn(page, ADMIN_EMAIL, PASSWORD);
    await page.locator('#role-code').fill('support');
    await page.locator('#role-name').fill('Support desk');
    await page.getByRole('button', { name: 'Create role' }).click();
    await page.locator('table.list td', { hasText: 'Support desk' }).waitFor();
    await screenshot(page, 'admin-roles');

    await page.locator('nav a', { hasText: 'Organizations' }).click();
    await page.locator('#organization-name').fill(`Analytical Engines ${tag}`);
    await page.getByRole('button', { name: 'Create organization' }).click();
    await page.locator('table.list td', { hasText: `Analytical Engines ${tag}` }).waitFor();
    await screenshot(page, 'admin-organizations');

    // A duplicate name: the API's code, not a blank failure.
    await page.locator('#organization-name').fill(`Analytical Engines ${tag}`);
    await page.getByRole('button', { name: 'Create organization' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.textContent(), /BAD_USER_INPUT \(name\)/);

    // A user created without a password (an invitation), then deleted after typing the email.
    const invited = `invited-${tag}@example.com`;
    await page.locator('nav a', { hasText: 'Users' }).click();
    await page.getByRole('link', { name: 'New user' }).click();
    await page.locator('#new-email').fill(invited);
    await page.locator('#new-name').fill('Invited Person');
    await page.getByRole('button', { name: 'Create user' }).click();
    await page.locator('h1', { hasText: invited }).waitFor();
    assert.equal(await page.locator('#delete-user').isDisabled(), true);
    await page.locator('#delete-confirm').fill(invited);
    await page.locator('#delete-user').click();
    await page.locator('#users-table').waitFor();
    const gone = await graphqlFetch(server.graphqlUrl, {
      query: 'query ($filter: UserFilter) { users(filter: $filter) { totalCount } }',
      variables: { filter: { email: invited } },
      token: adminToken,
    });
    assert.equal(gone.data.users.totalCount, 0);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.locator('#email').waitFor();
    assert.deepEqual(problems, []);
  } finally {
    await page.close();
  }
});

test('the console refreshes its access token before it expires and stays signed in', async () => {
  // Tokens of 4 s: the console refreshes at 3 s, well before the server would refuse them.
  const shortLived = await startServer({ accessTokenTtl: '4s' });
  const { page, problems } = await watchedPage();
  const operations = [];
  page.on('request', (request) => {
    if (request.url().endsWith('/graphql')) operations.push(JSON.parse(request.postData() ?? '{}').query?.match(/(?:query|mutation) (\w+)/)?.[1]);
  });
  try {
    createSuperadmin(shortLived, ADMIN_EMAIL, PASSWORD);
    await page.goto(`${shortLived.origin}/admin`);
    await signIn(page, ADMIN_EMAIL, PASSWORD);
    await page.locator('#total').waitFor();
    await page.waitForRequest((request) => /ConsoleRefresh/.test(request.postData() ?? ''), { timeout: 10_000 });
    await page.waitForRequest((request) => /ConsoleRefresh/.test(request.postData() ?? ''), { timeout: 10_000 });
    // Still signed in, on the third access token: the roles load.
    await page.locator('nav a', { hasText: 'Roles' }).click();
    await page.locator('table.list td', { hasText: 'superadmin' }).first().waitFor();
    assert.equal(operations.filter((name) => name === 'ConsoleLogin').length, 1);
    assert.deepEqual(problems, []);
  } finally {
    await page.close();
    await shortLived.stop();
  }
});
