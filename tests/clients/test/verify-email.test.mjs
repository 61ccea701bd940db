// The verification link flow a front end runs: signup mails a link to LATCHKEY_VERIFY_URL, the
// page there reads `token` and calls verifyEmail (lib/verify-email-page.mjs, quoted in
// docs/clients.md).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { graphqlFetch } from '../lib/fetch-client.mjs';
import { ME, SIGNUP } from '../lib/operations.mjs';
import { startServer, uniqueEmail } from '../lib/server.mjs';
import { verifyEmailFromLink } from '../lib/verify-email-page.mjs';

const PAGE = 'https://app.example/verify-email';

let server;
before(async () => {
  server = await startServer({ args: ['--verify-url', `${PAGE}?token={token}`] });
});
after(async () => {
  await server?.stop();
});

/** `text` with quoted-printable undone (long lines, and so links, are sent that way). */
function unquotePrintable(text) {
  return text
    .replace(/=\r?\n/g, '')
    .replace(/=([0-9A-F]{2})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16)));
}

/** The verification link in the mail to `email`, once the mail worker has written it. */
async function linkMailedTo(email) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    for (const file of await readdir(server.mailDir).catch(() => [])) {
      const mail = unquotePrintable(await readFile(path.join(server.mailDir, file), 'utf8'));
      if (mail.includes(`To: ${email}`) && mail.includes('Subject: Confirm your email address')) {
        return mail.match(new RegExp(`${PAGE}\\?token=[A-Za-z0-9_-]+`))[0];
      }
    }
    await sleep(100);
  }
  throw new Error(`no verification mail to ${email}`);
}

test('the page at the verification link verifies the address once', async () => {
  const email = uniqueEmail('verify');
  const signup = await graphqlFetch(server.graphqlUrl, {
    query: SIGNUP,
    operationName: 'Signup',
    variables: { input: { email, password: 'correct horse battery staple' } },
  });
  assert.equal(signup.data.signup.user.emailVerified, false);

  const link = await linkMailedTo(email);
  const outcome = await verifyEmailFromLink(server.graphqlUrl, link);
  assert.equal(outcome.verified, true);
  assert.equal(outcome.user.email, email);
  assert.equal(outcome.user.emailVerified, true);

  const me = await graphqlFetch(server.graphqlUrl, {
    query: ME,
    operationName: 'Me',
    token: signup.data.signup.accessToken,
  });
  assert.equal(me.data.me.emailVerified, true);

  assert.deepEqual(await verifyEmailFromLink(server.graphqlUrl, link), { verified: false, code: 'INVALID_TOKEN' });
  assert.deepEqual(await verifyEmailFromLink(server.graphqlUrl, PAGE), { verified: false, code: 'INVALID_TOKEN' });
});
