import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';

/**
 * A secret kept in a file of the data dir (mode 0600): read if there, otherwise made of `bytes`
 * random bytes and written. `created` says which, so that a new admin token can be shown once.
 */
export async function readOrCreateSecret(
  path: string,
  bytes: number,
): Promise<{ value: string; created: boolean }> {
  try {
    return { value: (await readFile(path, 'utf8')).trim(), created: false };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const value = randomBytes(bytes).toString('base64url');
  await writeFile(path, `${value}\n`, { mode: 0o600, flag: 'wx' });
  return { value, created: true };
}
