// GraphQL over HTTP conformance: every audit of graphql-http's serverAudits against latchkey.
// Every MUST audit has to pass; the MUST and SHOULD scores go to artifacts/audit-result.json
// (untracked: a run never changes a file under version control).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { serverAudits } from 'graphql-http';
import { startServer } from '../lib/server.mjs';

const ARTIFACTS = new URL('../artifacts/', import.meta.url);
const RESULT_FILE = new URL('audit-result.json', ARTIFACTS);

let server;
let results;
before(async () => {
  server = await startServer();
  results = [];
  for (const audit of serverAudits({ url: server.graphqlUrl })) {
    const result = await audit.fn();
    const failure =
      result.status === 'ok'
        ? {}
        : { reason: result.reason, httpStatus: result.response.status, body: await bodyOf(result.response) };
    results.push({ id: result.id, name: result.name, status: result.status, ...failure });
  }
});
after(async () => {
  await server?.stop();
});

async function bodyOf(response) {
  try {
    return (await response.clone().text()).slice(0, 300);
  } catch {
    return undefined;
  }
}

function score(level) {
  const audits = results.filter((result) => result.name.startsWith(`${level} `));
  return { passed: audits.filter((result) => result.status === 'ok').length, total: audits.length };
}

test('graphql-http serverAudits: every MUST passes', async (t) => {
  const must = score('MUST');
  const should = score('SHOULD');
  const may = score('MAY');
  const summary = `MUST ${must.passed}/${must.total}, SHOULD ${should.passed}/${should.total}`;
  const failing = results.filter((result) => result.status !== 'ok');

  await mkdir(ARTIFACTS, { recursive: true });
  await writeFile(
    RESULT_FILE,
    `${JSON.stringify({ summary, must, should, may, failing }, null, 2)}\n`,
  );
  console.log(`graphql-http audits: ${summary}${may.total ? `, MAY ${may.passed}/${may.total}` : ''}`);
  t.diagnostic(`graphql-http audits: ${summary}`);
  for (const result of failing) {
    t.diagnostic(`${result.status}: ${result.name} [${result.id}]: ${result.reason}`);
  }

  assert.ok(must.total > 0, 'serverAudits returned MUST audits');
  const mustFailures = failing.filter((result) => result.name.startsWith('MUST '));
  assert.deepEqual(
    mustFailures.map((result) => `${result.name} [${result.id}]: ${result.reason} (HTTP ${result.httpStatus}: ${result.body})`),
    [],
    `${mustFailures.length} MUST audit(s) fail`,
  );
});
