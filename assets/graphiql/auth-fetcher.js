// GraphiQL's fetcher, wrapped: requests without an Authorization header of the user's own get
// the playground session's access token as the bearer; answers that carry tokens (signup,
// login, refreshToken) become that session, and a logout of its refresh token ends it.
import { current, forget, freshen, remember } from './auth-token.js';

const hasAuthorization = (headers) => Object.keys(headers ?? {}).some((name) => name.toLowerCase() === 'authorization');

/**
 * GraphiQL can keep the operation name of the tab it left when another tab runs (its name is
 * recomputed only on an edit), and the server then answers "Unknown operation". A name the
 * document does not define is replaced by the document's only operation's name.
 */
export function fitOperationName(params) {
  const names = [...(params.query ?? '').matchAll(/\b(?:query|mutation|subscription)\s+([_A-Za-z]\w*)/g)].map((match) => match[1]);
  if (!params.operationName || names.includes(params.operationName)) return params;
  return { ...params, operationName: names.length === 1 ? names[0] : undefined };
}

export function authFetcher(send) {
  return async (given, options = {}) => {
    const params = fitOperationName(given);
    const explicit = hasAuthorization(options.headers);
    let headers = options.headers ?? {};
    if (!explicit && current()) {
      await freshen(send);
      const tokens = current();
      if (tokens) headers = { ...headers, Authorization: `Bearer ${tokens.accessToken}` };
    }
    const result = await send(params, { ...options, headers });
    learn(result, params);
    return result;
  };
}

/** Takes tokens from a plain (non-streamed) answer. */
function learn(result, params) {
  const data = result && typeof result === 'object' && !(Symbol.asyncIterator in result) ? result.data : null;
  if (!data) return;
  for (const [field, value] of Object.entries(data)) {
    if (value && typeof value.accessToken === 'string') {
      remember(value, field);
      return;
    }
  }
  const spent = params?.variables?.refreshToken;
  if (data.logout === true && spent && spent === current()?.refreshToken) forget('Logged out.');
}
