// Automatic persisted queries with the clients' own implementations: Apollo Client's
// PersistedQueryLink (hashed queries by GET) and urql's persistedExchange (mutations too). Each
// sends a hash alone first, gets PERSISTED_QUERY_NOT_FOUND, sends the document with its hash
// once, and from then on the hash alone is enough, for queries and mutations, across clients.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { Client, fetchExchange } from '@urql/core';
import { persistedExchange } from '@urql/exchange-persisted';
import { apolloPersistedQueryLink, urqlPersistedExchange } from '../lib/persisted-queries.mjs';
import { LOGIN, ME, SIGNUP } from '../lib/operations.mjs';
import { startServer, uniqueEmail } from '../lib/server.mjs';

const sha256 = (text) => createHash('sha256').update(text).digest('hex');
const password = 'correct horse battery staple';

let server;
before(async () => {
  server = await startServer({ accessTokenTtl: '15m' });
});
after(async () => {
  await server?.stop();
});

/**
 * A fetch that records, per request, `METHOD OperationName` and whether it carried the document
 * (`+query`) or the hash alone (`hash`), and the first error code of the answer, if any.
 */
function recordingFetch(log) {
  return async (input, init = {}) => {
    const method = (init.method ?? 'GET').toUpperCase();
    const url = new URL(typeof input === 'string' ? input : input.url);
    const request =
      method === 'GET'
        ? {
            operationName: url.searchParams.get('operationName'),
            query: url.searchParams.get('query'),
            extensions: JSON.parse(url.searchParams.get('extensions') ?? '{}'),
          }
        : JSON.parse(init.body);
    const response = await fetch(input, init);
    const body = await response.clone().json();
    const persisted = request.extensions?.persistedQuery;
    log.push({
      request: `${method} ${request.operationName} ${request.query ? '+query' : persisted ? 'hash' : 'plain'}`,
      code: body.errors?.[0]?.extensions?.code ?? null,
      hash: persisted?.sha256Hash,
      status: response.status,
    });
    return response;
  };
}

function apolloClient(log, token) {
  const auth = new ApolloLink((operation, forward) => {
    if (token) operation.setContext({ headers: { Authorization: `Bearer ${token}` } });
    return forward(operation);
  });
  const persisted = apolloPersistedQueryLink();
  return new ApolloClient({
    link: ApolloLink.from([auth, persisted, new HttpLink({ uri: server.graphqlUrl, fetch: recordingFetch(log) })]),
    cache: new InMemoryCache(),
  });
}

function urqlClient(log, token) {
  return new Client({
    url: server.graphqlUrl,
    fetch: recordingFetch(log),
    fetchOptions: token ? { headers: { Authorization: `Bearer ${token}` } } : {},
    exchanges: [
      urqlPersistedExchange(),
      fetchExchange,
    ],
  });
}

/** The log so far, emptied, as `request code` lines. */
const take = (log) => log.splice(0).map((entry) => `${entry.request} ${entry.code ?? 'ok'}`);

describe('automatic persisted queries', { concurrency: true }, () => {
  test('Apollo Client: a miss, the document once, then the hash alone by GET and by POST', async () => {
    const log = [];
    const email = uniqueEmail('apollo-apq');
    const anonymous = apolloClient(log);

    const signup = await anonymous.mutate({ mutation: gql(SIGNUP), variables: { input: { email, password } } });
    assert.equal(signup.data.signup.user.email, email);
    assert.deepEqual(take(log), [
      'POST Signup hash PERSISTED_QUERY_NOT_FOUND',
      'POST Signup +query ok',
    ]);

    // The mutation is known now, to this client and to any other: the hash alone runs it.
    const login = await apolloClient(log).mutate({ mutation: gql(LOGIN), variables: { input: { email, password } } });
    await apolloClient(log).mutate({ mutation: gql(LOGIN), variables: { input: { email, password } } });
    assert.deepEqual(take(log), [
      'POST Login hash PERSISTED_QUERY_NOT_FOUND',
      'POST Login +query ok',
      'POST Login hash ok',
    ]);

    const client = apolloClient(log, login.data.login.accessToken);
    const me = () => client.query({ query: gql(ME), fetchPolicy: 'network-only' });
    const first = await me();
    const second = await me();
    assert.equal(first.data.me.email, email);
    assert.deepEqual(second.data, first.data);
    assert.deepEqual(take(log), [
      'GET Me hash PERSISTED_QUERY_NOT_FOUND',
      'POST Me +query ok',
      'GET Me hash ok',
    ]);
  });

  test('urql: a miss, the document once, then the hash alone, for a query and a mutation', async () => {
    const log = [];
    const email = uniqueEmail('urql-apq');
    const anonymous = urqlClient(log);

    const signup = await anonymous.mutation(SIGNUP, { input: { email, password, name: 'Grace' } }).toPromise();
    assert.equal(signup.error, undefined, signup.error?.message);
    const login = await anonymous.mutation(LOGIN, { input: { email, password } }).toPromise();
    assert.equal(login.error, undefined, login.error?.message);
    const again = await urqlClient(log).mutation(LOGIN, { input: { email, password } }).toPromise();
    assert.equal(again.error, undefined, again.error?.message);
    const mutations = take(log);
    // Apollo's test may have persisted Login already (the same server, the same document text
    // if both clients print it alike): then the first Login is a hit.
    assert.deepEqual(mutations.slice(0, 2), ['POST Signup hash PERSISTED_QUERY_NOT_FOUND', 'POST Signup +query ok']);
    assert.equal(mutations.at(-1), 'POST Login hash ok');

    const client = urqlClient(log, login.data.login.accessToken);
    const me = () => client.query(ME, {}, { requestPolicy: 'network-only' }).toPromise();
    const first = await me();
    assert.equal(first.error, undefined, first.error?.message);
    assert.equal(first.data.me.name, 'Grace');
    const second = await me();
    assert.deepEqual(second.data, first.data);
    const queries = take(log);
    assert.equal(queries.at(-1), 'GET Me hash ok');
    assert.ok(queries.every((line) => line.startsWith('GET Me')), queries.join('\n'));
  });

  test('a hash that is not the document it comes with is refused, and never kept', async () => {
    const log = [];
    const client = new Client({
      url: server.graphqlUrl,
      fetch: recordingFetch(log),
      exchanges: [persistedExchange({ generateHash: async () => sha256('query Other { __typename }') }), fetchExchange],
    });

    const result = await client.query('query Typename { __typename }', {}).toPromise();

    assert.equal(result.error?.graphQLErrors[0]?.extensions?.code, 'BAD_REQUEST');
    assert.deepEqual(take(log), [
      'GET Typename hash PERSISTED_QUERY_NOT_FOUND',
      'GET Typename +query BAD_REQUEST',
    ]);
  });
});
