// Apollo Client 4 against latchkey: attach the access token to every operation, and when the
// server answers UNAUTHENTICATED (the access token expired or was revoked), trade the refresh
// token for a new pair with the refreshToken mutation and retry the operation once. When the
// refresh fails too, forget the tokens: the user is signed out. With a `live` client
// (lib/live-client.mjs), subscriptions go over WebSocket through GraphQLWsLink.
import { ApolloClient, ApolloLink, CombinedGraphQLErrors, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { ErrorLink } from '@apollo/client/link/error';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { getMainDefinition } from '@apollo/client/utilities';
import { from, switchMap, throwError } from 'rxjs';
import { REFRESH_TOKEN } from './operations.mjs';

/**
 * @param {object} options
 * @param {string} options.uri the /graphql endpoint
 * @param {ReturnType<import('./token-store.mjs').createTokenStore>} options.tokens
 * @param {typeof fetch} [options.fetch]
 * @param {import('graphql-ws').Client} [options.live] for subscriptions (sessionEvents)
 */
export function createApolloClient({ uri, tokens, fetch = globalThis.fetch, live }) {
  // Runs before every request, retries included, so a retry carries the new access token.
  const authLink = new ApolloLink((operation, forward) => {
    const accessToken = tokens.get()?.accessToken;
    if (accessToken) {
      operation.setContext(({ headers = {} }) => ({
        headers: { ...headers, Authorization: `Bearer ${accessToken}` },
      }));
    }
    return forward(operation);
  });

  const refreshLink = new ErrorLink(({ error, operation, forward }) => {
    const unauthenticated =
      CombinedGraphQLErrors.is(error) &&
      error.errors.some((e) => e.extensions?.code === 'UNAUTHENTICATED');
    if (!unauthenticated || operation.getContext().retriedAfterRefresh) return;
    operation.setContext({ retriedAfterRefresh: true });
    return from(refreshTokens()).pipe(
      switchMap((refreshed) => (refreshed ? forward(operation) : throwError(() => error))),
    );
  });

  const http = ApolloLink.from([refreshLink, authLink, new HttpLink({ uri, fetch })]);
  const isSubscription = ({ query }) => {
    const definition = getMainDefinition(query);
    return definition.kind === 'OperationDefinition' && definition.operation === 'subscription';
  };
  const client = new ApolloClient({
    link: live ? ApolloLink.split(isSubscription, new GraphQLWsLink(live), http) : http,
    cache: new InMemoryCache(),
  });

  // One refresh at a time: operations failing together share it (the refresh token is single-use).
  let refreshing = null;
  function refreshTokens() {
    refreshing ??= (async () => {
      const refreshToken = tokens.get()?.refreshToken;
      if (!refreshToken) return false;
      try {
        const { data } = await client.mutate({
          mutation: gql(REFRESH_TOKEN),
          variables: { refreshToken },
          context: { retriedAfterRefresh: true },
        });
        tokens.set(data.refreshToken);
        return true;
      } catch {
        // INVALID_TOKEN: the session is over (logged out, reset, or the token was reused).
        // The app reacts to the store becoming empty (sign-in screen, client.clearStore()).
        tokens.clear();
        return false;
      }
    })().finally(() => {
      refreshing = null;
    });
    return refreshing;
  }

  return client;
}
