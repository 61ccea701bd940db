// A superadmin for a test server (`latchkey admin create`, as an operator makes one) and many
// users created through the API, for the admin console's tests.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { graphqlFetch } from './fetch-client.mjs';
import { latchkeyBin } from './server.mjs';

const CREATE_USER = `mutation CreateUser($input: CreateUserInput!) { createUser(input: $input) { id email } }`;

/** Makes `email` a superadmin of `server`'s database with `password`. */
export function createSuperadmin(server, email, password) {
  const passwordFile = path.join(server.dir, 'superadmin-password');
  writeFileSync(passwordFile, password, { mode: 0o600 });
  const result = spawnSync(
    latchkeyBin(),
    ['admin', 'create', '--email', email, '--password-file', passwordFile, '--database-url', `sqlite://${server.dir}/lk.db?mode=rwc`],
    { cwd: server.dir, encoding: 'utf8', env: { PATH: process.env.PATH } },
  );
  if (result.status !== 0) throw new Error(`latchkey admin create failed: ${result.stderr}`);
}

/** Creates each input with `createUser`, `parallel` at a time; returns the created users. */
export async function createUsers(server, token, inputs, parallel = 8) {
  const created = [];
  for (let start = 0; start < inputs.length; start += parallel) {
    const wave = inputs.slice(start, start + parallel).map(async (input) => {
      const result = await graphqlFetch(server.graphqlUrl, { query: CREATE_USER, variables: { input }, token });
      if (result.errors) throw new Error(`createUser ${input.email}: ${JSON.stringify(result.errors)}`);
      return result.data.createUser;
    });
    created.push(...(await Promise.all(wave)));
  }
  return created;
}
