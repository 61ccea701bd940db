// GraphiQL in a real browser: open GET /graphql, set an Authorization header in the Headers
// editor, run `{ me { email } }`, and find the email in the result pane.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { graphqlFetch } from '../lib/fetch-client.mjs';
import { launchChromium } from '../lib/browser.mjs';
import { SIGNUP } from '../lib/operations.mjs';
import { screenshot } from '../lib/screenshots.mjs';
import { startServer, uniqueEmail } from '../lib/server.mjs';

const ARTIFACTS = new URL('../artifacts/', import.meta.url);
const SCREENSHOT = fileURLToPath(new URL('graphiql.png', ARTIFACTS));

let server;
let browser;
before(async () => {
  // A long-lived access token: the browser part can take a while on a cold start.
  server = await startServer({ accessTokenTtl: '15m' });
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

test('GraphiQL runs `me` with an Authorization header set in the page', async (t) => {
  const email = uniqueEmail('graphiql');
  const signup = await graphqlFetch(server.graphqlUrl, {
    query: SIGNUP,
    variables: { input: { email, password: 'correct horse battery staple' } },
  });
  assert.equal(signup.errors, undefined, JSON.stringify(signup.errors));
  const { accessToken } = signup.data.signup;

  const page = await browser.context.newPage();
  const problems = [];
  page.on('requestfailed', (request) =>
    problems.push(`request failed: ${request.url()} (${request.failure()?.errorText})`),
  );
  page.on('response', (response) => {
    if (response.status() >= 400) problems.push(`HTTP ${response.status()}: ${response.url()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
  });

  await mkdir(ARTIFACTS, { recursive: true });
  try {
    // A normal navigation: Chromium sends Accept: text/html.
    const response = await page.goto(server.graphqlUrl, { waitUntil: 'load' });
    assert.equal(response.status(), 200);
    assert.match(response.headers()['content-type'], /text\/html/);

    await page
      .locator('.graphiql-container')
      .waitFor({ timeout: 20_000 })
      .catch((error) => {
        throw new Error(`GraphiQL did not render: ${error.message}\n${problems.join('\n')}`);
      });

    // The query editor: replace whatever GraphiQL starts with.
    await page.locator('.graphiql-query-editor').click();
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.press('Backspace');
    await page.keyboard.insertText('{ me { email } }');

    // The Headers tab of the editor tools, then its editor (the one not hidden).
    await page.locator('.graphiql-editor-tools button', { hasText: 'Headers' }).click();
    const headersEditor = page
      .locator('.graphiql-editor-tool[aria-label="Headers"] .graphiql-editor:not(.hidden)')
      .or(page.locator('.graphiql-headers-editor'))
      .first();
    await headersEditor.waitFor({ state: 'visible' });
    await headersEditor.click();
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.press('Backspace');
    await page.keyboard.insertText(JSON.stringify({ Authorization: `Bearer ${accessToken}` }));

    await page.locator('.graphiql-execute-button').click();

    await page
      .locator('.graphiql-response')
      .filter({ hasText: email })
      .waitFor({ timeout: 15_000 })
      .catch(async (error) => {
        const shown = await page.locator('.graphiql-response').textContent().catch(() => '');
        throw new Error(`the result pane does not show ${email}: ${error.message}\nshown: ${shown}\n${problems.join('\n')}`);
      });
    const result = await page.locator('.graphiql-response').textContent();
    assert.ok(result.includes(`"email": "${email}"`) || result.includes(email), result);
    assert.ok(!result.includes('UNAUTHENTICATED'), result);
  } finally {
    await page.screenshot({ path: SCREENSHOT, fullPage: true }).catch(() => {});
    t.diagnostic(`screenshot: ${SCREENSHOT}`);
  }
});

test('GraphiQL loads the schema by introspection (docs, autocompletion)', async () => {
  const page = await browser.context.newPage();
  try {
    const introspection = page.waitForResponse(
      (response) => response.request().method() === 'POST' && /IntrospectionQuery/.test(response.request().postData() ?? ''),
      { timeout: 20_000 },
    );
    await page.goto(server.graphqlUrl);
    const response = await introspection;
    const body = await response.json();
    assert.equal(body.errors, undefined, `GraphiQL's introspection query failed: ${JSON.stringify(body.errors)}`);
    assert.ok(body.data?.__schema?.types?.some((type) => type.name === 'User'), 'the schema holds User');
  } finally {
    await page.close();
  }
});

/** Opens the default tab of the operation `name`. */
async function openTab(page, name) {
  await page.locator('.graphiql-tab-button', { hasText: new RegExp(`^${name}$`) }).click();
}

/** Replaces the text of the active tab's Variables or Headers editor. */
async function setEditorTool(page, tool, text) {
  await page.locator('.graphiql-editor-tools button', { hasText: tool }).click();
  await page.locator('.graphiql-editor-tool .graphiql-editor:not(.hidden)').first().click();
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.press('Backspace');
  if (text) await page.keyboard.insertText(text);
}

const setVariables = (page, variables) => setEditorTool(page, 'Variables', JSON.stringify(variables));

/** Runs the active tab and waits until the result pane shows `expected`. */
async function run(page, expected) {
  await page.locator('.graphiql-execute-button').click();
  await page
    .locator('.graphiql-response')
    .filter({ hasText: expected })
    .waitFor({ timeout: 15_000 })
    .catch(async (error) => {
      const shown = await page.locator('.graphiql-response').textContent().catch(() => '');
      throw new Error(`the result pane does not show ${expected}: ${error.message}\nshown: ${shown}`);
    });
}

/** A page whose GraphiQL starts afresh: the tabs other tests left in localStorage forgotten. */
async function freshPage() {
  const page = await browser.context.newPage();
  await page.addInitScript(() => window.localStorage.clear());
  return page;
}

test('GraphiQL opens with tabs of the common operations, their first line short', async () => {
  const page = await freshPage();
  try {
    await page.goto(server.graphqlUrl);
    await page.locator('.graphiql-tab').first().waitFor({ timeout: 20_000 });
    const titles = await page.locator('.graphiql-tab').allTextContents();
    for (const name of ['Signup', 'Login', 'Me', 'RefreshToken']) {
      assert.ok(titles.some((title) => title.includes(name)), `a ${name} tab among ${titles.join(', ')}`);
    }
    const firstLine = await page.locator('.graphiql-query-editor .CodeMirror-line').first().textContent();
    assert.match(firstLine, /^# /);
    assert.ok(firstLine.length <= 48, `a short first line: ${firstLine}`);
  } finally {
    await page.close();
  }
});

test('GraphiQL logs in and runs `me` as that user without touching the headers editor', async (t) => {
  const email = uniqueEmail('playground');
  const password = 'correct horse battery staple';
  const signup = await graphqlFetch(server.graphqlUrl, { query: SIGNUP, variables: { input: { email, password } } });
  assert.equal(signup.errors, undefined, JSON.stringify(signup.errors));

  const page = await freshPage();
  const authorizations = [];
  page.on('request', (request) => {
    if (request.url().endsWith('/graphql') && request.method() === 'POST') {
      authorizations.push(request.headers().authorization ?? null);
    }
  });
  try {
    await page.goto(server.graphqlUrl);
    await page.locator('.graphiql-container').waitFor({ timeout: 20_000 });
    // The default Login tab, with this user's credentials as its variables.
    await openTab(page, 'Login');
    await setVariables(page, { input: { email, password } });
    await run(page, 'accessToken');
    await page.locator('#auth-bar').filter({ hasText: email }).waitFor();

    authorizations.length = 0;
    await openTab(page, 'Me');
    await run(page, email);
    assert.ok(authorizations.some((value) => value?.startsWith('Bearer ')), 'the learned token went as the bearer');
    await screenshot(page, 'graphiql-signed-in');

    // A header set by hand wins over the learned token.
    await setEditorTool(page, 'Headers', JSON.stringify({ Authorization: 'Bearer not-a-token' }));
    await run(page, 'UNAUTHENTICATED');
    await setEditorTool(page, 'Headers', '');
    await run(page, email);

    // Forgotten: the next request goes without a bearer.
    await page.locator('#auth-forget').click();
    await run(page, 'UNAUTHENTICATED');
  } finally {
    t.diagnostic(`screenshot: ${await screenshot(page, 'graphiql-after-forget').catch(() => 'none')}`);
    await page.close();
  }
});

test('GraphiQL refreshes the learned token when it expires, and the refreshed one works', async () => {
  // Access tokens of 2 s: within the playground's margin at once, so its next request refreshes.
  const shortLived = await startServer({ accessTokenTtl: '2s' });
  const page = await freshPage();
  const operations = [];
  page.on('request', (request) => {
    if (request.url().endsWith('/graphql') && request.method() === 'POST') {
      operations.push(JSON.parse(request.postData() ?? '{}').operationName ?? null);
    }
  });
  try {
    const email = uniqueEmail('refresh');
    const password = 'correct horse battery staple';
    const signup = await graphqlFetch(shortLived.graphqlUrl, { query: SIGNUP, variables: { input: { email, password } } });
    assert.equal(signup.errors, undefined, JSON.stringify(signup.errors));
    await page.goto(shortLived.graphqlUrl);
    await page.locator('.graphiql-container').waitFor({ timeout: 20_000 });
    await openTab(page, 'Login');
    await setVariables(page, { input: { email, password } });
    await run(page, 'accessToken');
    await page.locator('#auth-bar').filter({ hasText: email }).waitFor();

    await openTab(page, 'Me');
    await run(page, email);
    assert.ok(operations.includes('RefreshToken'), `a refresh before \`me\`: ${operations.join(', ')}`);
  } finally {
    await page.close();
    await shortLived.stop();
  }
});
