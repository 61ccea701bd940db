// GraphQL over HTTP with nothing but fetch.
//
//   const { data, errors } = await graphqlFetch(url, { query: ME, token: accessToken });

/**
 * @param {string} url the /graphql endpoint
 * @param {object} request
 * @param {string} request.query
 * @param {object} [request.variables]
 * @param {string} [request.operationName]
 * @param {string} [request.token] an access token, sent as `Authorization: Bearer <token>`
 * @param {Record<string, string>} [request.headers]
 */
export async function graphqlFetch(url, { query, variables, operationName, token, headers = {} }) {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      Accept: 'application/graphql-response+json, application/json',
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: JSON.stringify({ query, variables, operationName }),
  });
  const type = response.headers.get('content-type') ?? '';
  if (!type.includes('json')) {
    throw new Error(`HTTP ${response.status} ${response.statusText}: ${await response.text()}`);
  }
  return response.json();
}

/** The `extensions.code` of every error in a GraphQL response. */
export function errorCodes(result) {
  return (result.errors ?? []).map((error) => error.extensions?.code);
}
