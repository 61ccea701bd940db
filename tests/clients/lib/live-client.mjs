// The WebSocket client for live session events (the sessionEvents subscription), with the
// graphql-ws package: it speaks graphql-transport-ws, the protocol latchkey serves on /graphql.
// It signs in with the access token in connection_init. connectionParams is called at every
// (re)connection: when latchkey closes the socket as the access token expires (code 1000), the
// client reconnects with the token the store holds then and subscribes again.
import { createClient } from 'graphql-ws';

/**
 * @param {object} options
 * @param {string} options.url the /graphql endpoint as ws:// or wss://
 * @param {ReturnType<import('./token-store.mjs').createTokenStore>} options.tokens
 * @param {unknown} [options.webSocketImpl] Node before 22 has no WebSocket: pass the `ws` package
 */
export function createLiveClient({ url, tokens, webSocketImpl }) {
  return createClient({
    url,
    webSocketImpl,
    // A ping every 30 s keeps proxies from closing a connection that is quiet between events.
    keepAlive: 30_000,
    connectionParams: () => {
      const accessToken = tokens.get()?.accessToken;
      return accessToken ? { Authorization: `Bearer ${accessToken}` } : {};
    },
  });
}
