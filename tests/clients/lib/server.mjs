// Starts a throwaway latchkey server for one test file and stops it again.
//
//   const server = await startServer({ accessTokenTtl: '2s' });
//   ... server.graphqlUrl ...
//   await server.stop();
//
// Each server gets its own temporary directory (SQLite file, mail folder, working directory,
// so a stray `.env` is never read) and a free loopback port.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * latchkey tolerates this much clock skew on a token's `exp` (security.md: 30 s), so an access
 * token is refused only that long after its TTL ran out.
 */
export const CLOCK_SKEW_LEEWAY_MS = Number(process.env.LATCHKEY_TEST_LEEWAY_MS ?? 30_000);

function durationMs(text) {
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(text);
  if (!match) throw new Error(`not a duration: ${text}`);
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2]];
  return Number(match[1]) * unit;
}

/** The latchkey binary: $LATCHKEY_BIN, else the debug build of this checkout. */
export function latchkeyBin() {
  if (process.env.LATCHKEY_BIN) return path.resolve(process.env.LATCHKEY_BIN);
  const target = process.env.CARGO_TARGET_DIR
    ? path.resolve(process.env.CARGO_TARGET_DIR)
    : path.resolve(here, '../../../target');
  return path.join(target, 'debug', 'latchkey');
}

/**
 * @param {object} [options]
 * @param {string} [options.accessTokenTtl] lifetime of access tokens, e.g. '2s'
 * @param {string[]} [options.args] extra flags for `latchkey serve`
 * @param {number} [options.startTimeoutMs]
 */
export async function startServer({ accessTokenTtl = '2s', args = [], startTimeoutMs = 30_000 } = {}) {
  const bin = latchkeyBin();
  if (!existsSync(bin)) {
    throw new Error(`latchkey binary not found at ${bin}: run \`cargo build\` or set LATCHKEY_BIN`);
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'latchkey-clients-'));
  const mailDir = path.join(dir, 'mail');

  // Flags win over the environment, but keep the child's environment clean anyway.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([key]) => key === 'LATCHKEY_LOG' || !(key.startsWith('LATCHKEY_') || key === 'DATABASE_URL'),
    ),
  );
  const child = spawn(
    bin,
    [
      'serve',
      '--listen', '127.0.0.1:0',
      '--database-url', `sqlite://${dir}/lk.db?mode=rwc`,
      '--jwt-secret', randomBytes(32).toString('hex'),
      '--mail-dir', mailDir,
      '--access-token-ttl', accessTokenTtl,
      '--log-format', 'pretty',
      ...args,
    ],
    { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );

  let output = '';
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));

  const origin = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`latchkey did not start within ${startTimeoutMs} ms:\n${output}`));
    }, startTimeoutMs);
    const onData = (chunk) => {
      output += chunk.toString();
      const match = output.replace(/\x1b\[[0-9;]*m/g, '').match(/listening on (http:\/\/[^\s"',]+)/);
      if (match) {
        clearTimeout(timer);
        resolve(match[1].replace(/\/+$/, ''));
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`latchkey exited (code ${code}, signal ${signal}) before listening:\n${output}`));
    });
  });

  let stopped = false;
  return {
    origin,
    graphqlUrl: `${origin}/graphql`,
    dir,
    mailDir,
    /** How long after it was issued an access token is certainly refused as expired. */
    accessTokenDeadMs: durationMs(accessTokenTtl) + CLOCK_SKEW_LEEWAY_MS + 1_000,
    /** Everything the server logged so far. */
    logs: () => output,
    /** SIGTERM (graceful), SIGKILL after 10 s, then remove the temporary directory. */
    async stop() {
      if (stopped) return;
      stopped = true;
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A fresh address per call, so tests never collide on EMAIL_TAKEN. */
export function uniqueEmail(prefix = 'user') {
  return `${prefix}-${Date.now()}-${randomBytes(4).toString('hex')}@example.com`;
}
