// The administrator's session: tokens in memory only (never storage, so closing the tab signs
// out), the access token refreshed before it expires, and one place that ends it.
import { ApiError, graphql } from './api.js';
import { LOGIN, LOGOUT, REFRESH } from './operations.js';

/** Refresh this long before the access token expires (or at 3/4 of a short lifetime). */
const REFRESH_MARGIN_S = 60;

let current = null; // { accessToken, refreshToken, expiresAt, user }
let timer = null;
let refreshing = null;
const listeners = new Set();

/** Calls `listener(user, reason)` on every sign-in, refresh and sign-out. */
export function onChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function notify(reason) {
  for (const listener of listeners) listener(current?.user ?? null, reason);
}

export function user() {
  return current?.user ?? null;
}

export const isAdmin = (someone) => someone?.roles?.some((role) => role === 'admin' || role === 'superadmin') ?? false;
export const isSuperadmin = (someone = user()) => someone?.roles?.includes('superadmin') ?? false;

/** Signs in with the `login` mutation; an account without an admin role is refused (and its
 * new session ended at once). */
export async function signIn(email, password) {
  const { login } = await graphql(LOGIN, { input: { email, password } });
  if (!isAdmin(login.user)) {
    await graphql(LOGOUT, { refreshToken: login.refreshToken }).catch(() => {});
    throw new ApiError('NOT_AN_ADMIN', `${login.user.email} is not an administrator: the console needs the admin or superadmin role.`);
  }
  adopt(login);
  notify('signed-in');
}

function adopt(payload) {
  current = {
    accessToken: payload.accessToken,
    refreshToken: payload.refreshToken,
    expiresAt: Date.now() + payload.expiresIn * 1000,
    user: payload.user,
  };
  clearTimeout(timer);
  const lead = Math.min(REFRESH_MARGIN_S, payload.expiresIn / 4);
  timer = setTimeout(() => refresh().catch(() => {}), Math.max(1, payload.expiresIn - lead) * 1000);
}

/** Trades the refresh token for a new pair; concurrent callers share one refresh (the token
 * is single-use). A refused refresh ends the console's session. */
export function refresh() {
  if (!current) return Promise.reject(new ApiError('UNAUTHENTICATED', 'Not signed in.'));
  refreshing ??= (async () => {
    try {
      const { refreshToken } = await graphql(REFRESH, { refreshToken: current.refreshToken });
      if (!isAdmin(refreshToken.user)) {
        end('Your account no longer has an admin role.');
        throw new ApiError('NOT_AN_ADMIN', 'Your account no longer has an admin role.');
      }
      adopt(refreshToken);
      notify('refreshed');
    } catch (error) {
      if (error.code !== 'NETWORK' && error.code !== 'RATE_LIMITED' && current) {
        end(`Your session ended (${error.code}). Sign in again.`);
      }
      throw error;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

/** Runs an operation as the signed-in administrator. */
export async function call(query, variables) {
  if (!current) throw new ApiError('UNAUTHENTICATED', 'Not signed in.');
  if (Date.now() > current.expiresAt - 5_000) await refresh();
  try {
    return await graphql(query, variables, current.accessToken);
  } catch (error) {
    // An access token can end early (the session revoked elsewhere): one refresh decides.
    if (error.code !== 'UNAUTHENTICATED' || !current) throw error;
    await refresh();
    return graphql(query, variables, current.accessToken);
  }
}

function end(reason) {
  clearTimeout(timer);
  current = null;
  notify(reason);
}

/** Ends the session on the server (`logout`) and forgets the tokens. */
export async function signOut() {
  const token = current?.refreshToken;
  end('Signed out.');
  if (token) await graphql(LOGOUT, { refreshToken: token }).catch(() => {});
}
