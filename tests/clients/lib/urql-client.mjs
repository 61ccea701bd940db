// urql against latchkey with @urql/exchange-auth: attach the access token to every operation;
// when the server answers UNAUTHENTICATED, refresh with the refreshToken mutation and let the
// auth exchange retry the operation. Queries go out by GET (urql's default `preferGetMethod`),
// mutations by POST. With a `live` client (lib/live-client.mjs), subscriptions go over WebSocket
// through subscriptionExchange.
import { Client, cacheExchange, fetchExchange, subscriptionExchange } from '@urql/core';
import { authExchange } from '@urql/exchange-auth';
import { REFRESH_TOKEN } from './operations.mjs';

/**
 * @param {object} options
 * @param {string} options.url the /graphql endpoint
 * @param {ReturnType<import('./token-store.mjs').createTokenStore>} options.tokens
 * @param {typeof fetch} [options.fetch]
 * @param {import('graphql-ws').Client} [options.live] for subscriptions (sessionEvents)
 */
export function createUrqlClient({ url, tokens, fetch = globalThis.fetch, live }) {
  const subscriptions = live
    ? [
        subscriptionExchange({
          forwardSubscription: (request) => ({
            subscribe: (sink) => ({ unsubscribe: live.subscribe({ ...request, query: request.query ?? '' }, sink) }),
          }),
        }),
      ]
    : [];
  return new Client({
    url,
    fetch,
    exchanges: [
      cacheExchange,
      authExchange(async (utils) => ({
        addAuthToOperation(operation) {
          const accessToken = tokens.get()?.accessToken;
          if (!accessToken) return operation;
          return utils.appendHeaders(operation, { Authorization: `Bearer ${accessToken}` });
        },
        didAuthError(error) {
          return error.graphQLErrors.some((e) => e.extensions?.code === 'UNAUTHENTICATED');
        },
        async refreshAuth() {
          const refreshToken = tokens.get()?.refreshToken;
          if (!refreshToken) return;
          // utils.mutate bypasses this exchange, so the refresh itself is never retried.
          const result = await utils.mutate(REFRESH_TOKEN, { refreshToken });
          if (result.data?.refreshToken) {
            tokens.set(result.data.refreshToken);
          } else {
            tokens.clear(); // INVALID_TOKEN: signed out; the retry goes out anonymous.
          }
        },
      })),
      fetchExchange,
      ...subscriptions,
    ],
  });
}
