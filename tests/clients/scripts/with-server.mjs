// Runs a command against a throwaway latchkey: `node scripts/with-server.mjs <command> [args...]`
// starts a server, runs the command with LATCHKEY_GRAPHQL_URL set to its /graphql endpoint,
// stops the server, and exits with the command's status.
import { spawn } from 'node:child_process';
import { startServer } from '../lib/server.mjs';

const [command, ...args] = process.argv.slice(2);
if (!command) {
  console.error('usage: node scripts/with-server.mjs <command> [args...]');
  process.exit(2);
}

const server = await startServer();
let status = 1;
try {
  status = await new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: 'inherit',
      env: { ...process.env, LATCHKEY_GRAPHQL_URL: server.graphqlUrl },
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
} catch (error) {
  console.error(`could not run ${command}: ${error.message}`);
} finally {
  await server.stop();
}
process.exit(status);
