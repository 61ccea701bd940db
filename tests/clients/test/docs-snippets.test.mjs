// docs/clients.md quotes the client set-ups that the other tests run. This keeps the quotes
// and the tested code the same text, so the docs cannot rot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

const read = (path) => readFileSync(new URL(path, import.meta.url), 'utf8');
const docs = read('../../../docs/clients.md');

for (const file of ['apollo-client.mjs', 'urql-client.mjs', 'live-client.mjs', 'fetch-client.mjs', 'verify-email-page.mjs', 'persisted-queries.mjs']) {
  test(`docs/clients.md quotes lib/${file} as tested`, () => {
    const code = read(`../lib/${file}`).trim();
    assert.ok(docs.includes(code), `docs/clients.md does not hold the current lib/${file}; paste it again`);
  });
}

test('docs/clients.md quotes the refresh mutation as tested', () => {
  assert.ok(docs.includes(read('../../../docs/operations/refresh-token.graphql').trim()));
});

test('docs/clients.md quotes the verification mutations as tested', () => {
  for (const name of ['verify-email', 'resend-verification-email']) {
    assert.ok(docs.includes(read(`../../../docs/operations/${name}.graphql`).trim()), name);
  }
});
