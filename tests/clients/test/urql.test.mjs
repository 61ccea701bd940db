// urql with @urql/exchange-auth: didAuthError on UNAUTHENTICATED, refreshAuth with the
// refreshToken mutation, queries by GET.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { createUrqlClient } from '../lib/urql-client.mjs';
import { createTokenStore } from '../lib/token-store.mjs';
import { LOGIN, LOGOUT, ME, SIGNUP } from '../lib/operations.mjs';
import { startServer, uniqueEmail } from '../lib/server.mjs';

let server;
before(async () => {
  server = await startServer({ accessTokenTtl: '2s' });
});
after(async () => {
  await server?.stop();
});

/** A fetch that records `METHOD OperationName` of every request, and the response status. */
function recordingFetch(log) {
  return async (input, init = {}) => {
    const method = (init.method ?? 'GET').toUpperCase();
    const url = new URL(typeof input === 'string' ? input : input.url);
    const name =
      method === 'GET' ? url.searchParams.get('operationName') : JSON.parse(init.body).operationName;
    const response = await fetch(input, init);
    log.push({ request: `${method} ${name}`, status: response.status });
    return response;
  };
}

test('signup, login, me by GET, refresh on an expired token, retry, revoked token', async () => {
  const tokens = createTokenStore();
  const log = [];
  const requests = () => log.splice(0).map((entry) => entry.request);
  const client = createUrqlClient({ url: server.graphqlUrl, tokens, fetch: recordingFetch(log) });
  const me = () => client.query(ME, {}, { requestPolicy: 'network-only' }).toPromise();
  const email = uniqueEmail('urql');
  const password = 'correct horse battery staple';

  const signup = await client.mutation(SIGNUP, { input: { email, password, name: 'Grace' } }).toPromise();
  assert.equal(signup.error, undefined, signup.error?.message);
  assert.equal(signup.data.signup.user.email, email);
  tokens.set(signup.data.signup);

  const login = await client.mutation(LOGIN, { input: { email, password } }).toPromise();
  assert.equal(login.error, undefined, login.error?.message);
  tokens.set(login.data.login);

  const first = await me();
  assert.equal(first.error, undefined, first.error?.message);
  assert.equal(first.data.me.email, email);
  assert.equal(first.data.me.name, 'Grace');
  assert.deepEqual(requests(), ['POST Signup', 'POST Login', 'GET Me'], 'queries by GET, mutations by POST');
  assert.ok(log.every((entry) => entry.status === 200));

  // The access token expires; the auth exchange sees UNAUTHENTICATED, refreshes, retries.
  const old = tokens.get();
  await sleep(server.accessTokenDeadMs);
  const second = await me();
  assert.equal(second.error, undefined, second.error?.message);
  assert.equal(second.data.me.email, email);
  assert.deepEqual(requests(), ['GET Me', 'POST RefreshToken', 'GET Me']);
  assert.notEqual(tokens.get().accessToken, old.accessToken);
  assert.notEqual(tokens.get().refreshToken, old.refreshToken);

  // Revoked: the session is logged out elsewhere while this client still holds its tokens.
  const logout = await client.mutation(LOGOUT, { refreshToken: tokens.get().refreshToken }).toPromise();
  assert.equal(logout.error, undefined, logout.error?.message);
  assert.equal(logout.data.logout, true);
  requests();

  const third = await me();
  assert.ok(third.error, 'me fails once the session is revoked');
  assert.deepEqual(
    third.error.graphQLErrors.map((e) => e.extensions?.code),
    ['UNAUTHENTICATED'],
  );
  assert.equal(third.data ?? null, null);
  assert.deepEqual(requests(), ['GET Me', 'POST RefreshToken', 'GET Me'], 'refresh failed, retried anonymous');
  assert.equal(tokens.get(), null, 'signed out');
});

test('GET with a mutation is refused with 405 and Allow: POST', async () => {
  const url = new URL(server.graphqlUrl);
  url.searchParams.set('query', LOGOUT);
  url.searchParams.set('variables', JSON.stringify({ refreshToken: 'x' }));
  const response = await fetch(url, { headers: { Accept: 'application/graphql-response+json' } });
  assert.equal(response.status, 405);
  assert.equal(response.headers.get('allow'), 'POST');
});
