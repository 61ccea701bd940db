// Automatic persisted queries for Apollo Client and urql: each request carries the SHA-256 of
// its document instead of the document. The first time a document reaches the server, the
// answer is PERSISTED_QUERY_NOT_FOUND and the client sends the document with its hash once; from
// then on the hash alone runs it, for every client of that server. Web Crypto hashes it, in
// browsers and in Node 20 alike.
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { persistedExchange } from '@urql/exchange-persisted';

/** The lowercase hex SHA-256 of `text`, as latchkey expects it. */
export async function sha256(text) {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/** For Apollo Client, before the HttpLink: hashed queries go out by GET (cacheable by URL). */
export const apolloPersistedQueryLink = () => new PersistedQueryLink({ sha256, useGETForHashedQueries: true });

/** For urql, before fetchExchange: mutations are sent by hash too. */
export const urqlPersistedExchange = () => persistedExchange({ enableForMutation: true, generateHash: sha256 });
