// The one way the console talks to latchkey: POST /graphql on its own origin, the public API.

/** A failed request, by the API's `extensions.code` (or NETWORK / HTTP_<status> when no
 * GraphQL answer came back). */
export class ApiError extends Error {
  constructor(code, message, extensions = {}) {
    super(message || code);
    this.name = 'ApiError';
    this.code = code;
    this.extensions = extensions;
  }
}

/**
 * Runs one operation and returns its `data`; any error in the answer is thrown as an ApiError
 * (the console's operations each have one root field, so a partial answer is a failure).
 */
export async function graphql(query, variables = {}, accessToken = null) {
  // Plain JSON: every answer, a refused document included, comes back as a GraphQL body.
  const headers = { 'content-type': 'application/json', accept: 'application/json' };
  if (accessToken) headers.authorization = `Bearer ${accessToken}`;
  let response;
  try {
    response = await fetch('/graphql', {
      method: 'POST',
      headers,
      body: JSON.stringify({ query, variables }),
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch (error) {
    throw new ApiError('NETWORK', `latchkey cannot be reached (${error.message}).`);
  }
  let body;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`HTTP_${response.status}`, `latchkey answered HTTP ${response.status} without a GraphQL body.`);
  }
  const [first] = body.errors ?? [];
  if (first) {
    const extensions = first.extensions ?? {};
    throw new ApiError(extensions.code ?? 'UNKNOWN', first.message, extensions);
  }
  if (!body.data) throw new ApiError(`HTTP_${response.status}`, 'latchkey answered without data.');
  return body.data;
}
