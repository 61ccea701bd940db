// "Your sessions" and live session events over WebSocket: Apollo Client and urql list the user's
// sessions (mySessions, the current one marked), then, subscribed with GraphQLWsLink and
// subscriptionExchange on the graphql-ws package, are told SESSION_REVOKED when the same user,
// signed in on another client, calls revokeOtherSessions.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { gql } from '@apollo/client';
import WebSocket from 'ws';
import { createApolloClient } from '../lib/apollo-client.mjs';
import { createLiveClient } from '../lib/live-client.mjs';
import { createTokenStore } from '../lib/token-store.mjs';
import { createUrqlClient } from '../lib/urql-client.mjs';
import { LOGIN, MY_SESSIONS, REVOKE_OTHER_SESSIONS, SESSION_EVENTS, SIGNUP } from '../lib/operations.mjs';
import { startServer, uniqueEmail } from '../lib/server.mjs';

const PASSWORD = 'correct horse battery staple';

let server;
// Access tokens outlive the test: at their expiry the server closes the socket (1000) and
// graphql-ws reconnects with the token the store holds then, which these tests do not refresh.
before(async () => {
  server = await startServer({ accessTokenTtl: '15m' });
});
after(async () => {
  await server?.stop();
});

/** A user signed up on one client, and signed in again on a second ("another device"). */
async function twoSessions(prefix) {
  const email = uniqueEmail(prefix);
  const here = createTokenStore();
  const elsewhere = createTokenStore();
  const plain = createApolloClient({ uri: server.graphqlUrl, tokens: elsewhere });
  const signup = await plain.mutate({ mutation: gql(SIGNUP), variables: { input: { email, password: PASSWORD } } });
  here.set(signup.data.signup);
  const login = await plain.mutate({ mutation: gql(LOGIN), variables: { input: { email, password: PASSWORD } } });
  elsewhere.set(login.data.login);
  return { here, elsewhere, other: plain };
}

/** Two live sessions, the caller's marked current, with where they come from. */
function assertTwoSessions(sessions) {
  assert.equal(sessions.length, 2);
  assert.equal(sessions.filter((session) => session.current).length, 1);
  for (const session of sessions) {
    assert.equal(session.ipAddress, '127.0.0.1');
    assert.ok(Date.parse(session.expiresAt) > Date.parse(session.createdAt));
  }
}

/** A graphql-ws client for `tokens`, and a promise of its first acknowledged connection. */
function live(tokens) {
  const client = createLiveClient({ url: server.graphqlUrl.replace(/^http/, 'ws'), tokens, webSocketImpl: WebSocket });
  const connected = new Promise((resolve) => client.on('connected', resolve));
  return { client, connected };
}

/** Collects the event types until the subscription completes or fails; rejects after 20 s. */
function collect(start) {
  const types = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no completion; events so far: ${types}`)), 20_000);
    start({
      next: (type) => types.push(type),
      error: (error) => {
        clearTimeout(timer);
        reject(error);
      },
      complete: () => {
        clearTimeout(timer);
        resolve(types);
      },
    });
  });
}

describe('sessionEvents', { concurrency: true }, () => {
  test('Apollo Client (GraphQLWsLink) is told SESSION_REVOKED', async () => {
    const { here, elsewhere, other } = await twoSessions('apollo-live');
    const { client: liveClient, connected } = live(here);
    const client = createApolloClient({ uri: server.graphqlUrl, tokens: here, live: liveClient });
    try {
      const listed = await client.query({ query: gql(MY_SESSIONS), fetchPolicy: 'network-only' });
      assertTwoSessions(listed.data.mySessions);
      const events = collect(({ next, error, complete }) => {
        client.subscribe({ query: gql(SESSION_EVENTS) }).subscribe({
          next: ({ data, error: failure }) => (failure ? error(failure) : next(data.sessionEvents.type)),
          error,
          complete,
        });
      });
      await connected;
      const revoked = await other.mutate({ mutation: gql(REVOKE_OTHER_SESSIONS) });
      assert.equal(revoked.data.revokeOtherSessions, 1);
      assert.deepEqual(await events, ['SESSION_REVOKED']);
      assert.ok(elsewhere.get(), 'the revoking client stays signed in');
    } finally {
      await liveClient.dispose();
    }
  });

  test('urql (subscriptionExchange) is told SESSION_REVOKED', async () => {
    const { here, other } = await twoSessions('urql-live');
    const { client: liveClient, connected } = live(here);
    const client = createUrqlClient({ url: server.graphqlUrl, tokens: here, live: liveClient });
    try {
      const listed = await client.query(MY_SESSIONS, {}, { requestPolicy: 'network-only' }).toPromise();
      assert.equal(listed.error, undefined);
      assertTwoSessions(listed.data.mySessions);
      const events = collect(({ next, error, complete }) => {
        client
          .subscription(SESSION_EVENTS, {})
          .subscribe((result) => (result.error ? error(result.error) : next(result.data.sessionEvents.type)));
        // urql's source ends without a value when the server completes the operation.
        liveClient.on('message', (message) => {
          if (message.type === 'complete') complete();
        });
      });
      await connected;
      const revoked = await other.mutate({ mutation: gql(REVOKE_OTHER_SESSIONS) });
      assert.equal(revoked.data.revokeOtherSessions, 1);
      assert.deepEqual(await events, ['SESSION_REVOKED']);
    } finally {
      await liveClient.dispose();
    }
  });
});
