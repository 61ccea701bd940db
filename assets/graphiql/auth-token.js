// The playground's signed-in session: the tokens of the last signup, login or refreshToken
// answer, in memory only (a reload forgets them), and the refresh that renews them.

const REFRESH = `mutation RefreshToken($refreshToken: String!) {
  refreshToken(refreshToken: $refreshToken) { accessToken refreshToken expiresIn user { email } }
}`;

/** Refresh when the access token has less than this left. */
const MARGIN_MS = 10_000;

let tokens = null; // { accessToken, refreshToken, expiresAt, who }
let refreshing = null;
const listeners = new Set();

export function onChange(listener) {
  listeners.add(listener);
}

function changed(note) {
  for (const listener of listeners) listener(tokens, note);
}

export function current() {
  return tokens;
}

/** The `exp` of a JWT in milliseconds, or null. */
function expiryOf(jwt) {
  try {
    const payload = jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const { exp, sub } = JSON.parse(atob(payload));
    return { exp: typeof exp === 'number' ? exp * 1000 : null, sub };
  } catch {
    return { exp: null, sub: null };
  }
}

/** Keeps the tokens of an AuthPayload (whatever fields of it were selected). */
export function remember(payload, note) {
  const { exp, sub } = expiryOf(payload.accessToken);
  const expiresAt = typeof payload.expiresIn === 'number' ? Date.now() + payload.expiresIn * 1000 : exp;
  tokens = {
    accessToken: payload.accessToken,
    // A refresh that did not select its new refresh token leaves the old one, now spent.
    refreshToken: typeof payload.refreshToken === 'string' ? payload.refreshToken : null,
    expiresAt,
    who: payload.user?.email ?? tokens?.who ?? sub ?? 'this session',
  };
  changed(note);
}

export function forget(note) {
  tokens = null;
  changed(note);
}

/** Renews the access token with `send` (the plain fetcher) if it expires within the margin
 * and a refresh token is known. Concurrent callers share one refresh: the token is single-use. */
export async function freshen(send) {
  if (!tokens?.refreshToken || !tokens.expiresAt || tokens.expiresAt - Date.now() > MARGIN_MS) return;
  refreshing ??= (async () => {
    try {
      const result = await send(
        { query: REFRESH, variables: { refreshToken: tokens.refreshToken }, operationName: 'RefreshToken' },
        { headers: {} },
      );
      const payload = result?.data?.refreshToken;
      if (payload?.accessToken) remember(payload, 'refreshed');
      else forget(`The refresh failed (${result?.errors?.[0]?.extensions?.code ?? 'no token'}): log in again.`);
    } finally {
      refreshing = null;
    }
  })();
  await refreshing;
}
