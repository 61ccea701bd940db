// Apollo Client 4 with an ErrorLink that refreshes on UNAUTHENTICATED and retries once.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { CombinedGraphQLErrors, gql } from '@apollo/client';
import { createApolloClient } from '../lib/apollo-client.mjs';
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

/** Records every request body's operationName the client sends. */
function recordingFetch(log) {
  return async (input, init) => {
    const body = typeof init?.body === 'string' ? JSON.parse(init.body) : {};
    log.push(body.operationName);
    return fetch(input, init);
  };
}

const me = (client) => client.query({ query: gql(ME), fetchPolicy: 'network-only' });

// The tests wait for access tokens to expire (TTL 2 s plus the server's clock-skew leeway),
// so they wait side by side.
describe('Apollo Client', { concurrency: true }, () => {

test('signup, login, me, refresh on an expired token, retry, logout', async () => {
  const tokens = createTokenStore();
  const sent = [];
  const client = createApolloClient({ uri: server.graphqlUrl, tokens, fetch: recordingFetch(sent) });
  const email = uniqueEmail('apollo');
  const password = 'correct horse battery staple';

  const signup = await client.mutate({
    mutation: gql(SIGNUP),
    variables: { input: { email, password, name: 'Ada' } },
  });
  assert.equal(signup.data.signup.user.email, email);
  assert.equal(signup.data.signup.tokenType, 'Bearer');
  tokens.set(signup.data.signup);

  const login = await client.mutate({ mutation: gql(LOGIN), variables: { input: { email, password } } });
  assert.equal(login.data.login.user.email, email);
  tokens.set(login.data.login);

  const first = await me(client);
  assert.equal(first.data.me.email, email);
  assert.equal(first.data.me.name, 'Ada');

  // Let the access token expire: the next `me` fails UNAUTHENTICATED, the ErrorLink refreshes
  // and retries it, and the caller only sees the answer.
  const before = tokens.get();
  await sleep(server.accessTokenDeadMs);
  sent.length = 0;
  const second = await me(client);
  assert.equal(second.data.me.email, email);
  assert.deepEqual(sent, ['Me', 'RefreshToken', 'Me'], 'me, refresh, retried me');
  assert.notEqual(tokens.get().accessToken, before.accessToken, 'a new access token');
  assert.notEqual(tokens.get().refreshToken, before.refreshToken, 'the refresh token rotated');

  // Log out (say, from another tab, so this client still holds the tokens): the session's
  // access token stops working at once, the refresh token is revoked, so the refresh fails
  // and the client ends up signed out.
  const { refreshToken } = tokens.get();
  const logout = await client.mutate({ mutation: gql(LOGOUT), variables: { refreshToken } });
  assert.equal(logout.data.logout, true);
  assert.notEqual(tokens.get(), null, 'still holding the (now revoked) tokens');

  sent.length = 0;
  await assert.rejects(me(client), (error) => {
    assert.ok(CombinedGraphQLErrors.is(error), `a GraphQL error, got ${error}`);
    assert.equal(error.errors[0].extensions.code, 'UNAUTHENTICATED');
    return true;
  });
  assert.deepEqual(sent, ['Me', 'RefreshToken'], 'me, a failed refresh, no retry');
  assert.equal(tokens.get(), null, 'signed out');

  // Signed out, `me` keeps failing without another refresh attempt.
  sent.length = 0;
  await assert.rejects(me(client), (error) => CombinedGraphQLErrors.is(error));
  assert.deepEqual(sent, ['Me']);
});

test('operations failing together share one refresh', async () => {
  const tokens = createTokenStore();
  const sent = [];
  const client = createApolloClient({ uri: server.graphqlUrl, tokens, fetch: recordingFetch(sent) });
  const email = uniqueEmail('apollo-tabs');
  const { data } = await client.mutate({
    mutation: gql(SIGNUP),
    variables: { input: { email, password: 'correct horse battery staple' } },
  });
  tokens.set(data.signup);

  await sleep(server.accessTokenDeadMs);
  sent.length = 0;
  // Three separate requests (no deduplication), three UNAUTHENTICATED answers, one refresh.
  const meAgain = () =>
    client.query({ query: gql(ME), fetchPolicy: 'network-only', context: { queryDeduplication: false } });
  const results = await Promise.all([meAgain(), meAgain(), meAgain()]);
  for (const result of results) assert.equal(result.data.me.email, email);
  assert.equal(sent.filter((name) => name === 'RefreshToken').length, 1, `one refresh: ${sent}`);
  assert.equal(sent.filter((name) => name === 'Me').length, 6, `three failed, three retried: ${sent}`);
});
});
