// Where a client keeps its tokens. In memory here; see docs/clients.md for what to use in a
// browser (keep the refresh token out of reach of scripts where you can).
export function createTokenStore() {
  let tokens = null;
  const listeners = new Set();
  return {
    /** `{ accessToken, refreshToken }`, or null when signed out. */
    get: () => tokens,
    /** Keep the tokens of an AuthPayload (signup, login or refreshToken). */
    set({ accessToken, refreshToken }) {
      tokens = { accessToken, refreshToken };
      listeners.forEach((listener) => listener(tokens));
    },
    /** Forget the tokens: the client is signed out. */
    clear() {
      tokens = null;
      listeners.forEach((listener) => listener(tokens));
    },
    /** Called with the new tokens (or null) on every change; returns an unsubscribe function. */
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
