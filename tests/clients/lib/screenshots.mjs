// Where the browser tests leave their screenshots: $ARTIFACTS_DIR/screenshots when CI sets
// it, else tests/clients/artifacts/screenshots (gitignored).
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

export const SCREENSHOTS = process.env.ARTIFACTS_DIR
  ? path.resolve(process.env.ARTIFACTS_DIR, 'screenshots')
  : path.resolve(here, '../artifacts/screenshots');

/** Saves a screenshot of `page` as NAME.png, and returns its path. */
export async function screenshot(page, name, options = {}) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, ...options });
  return file;
}
