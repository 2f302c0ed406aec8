import { randomBytes } from 'node:crypto';
import { link, mkdir, open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { AppError } from '../errors.ts';

/**
 * DATA_DIR/secret.key: one base64 key per line, the first line the current key, further lines
 * previous keys kept for decrypting. Keeping every key of an unfinished rotation in this one file
 * is what lets `mailroom secrets rotate` be interrupted at any point and run again.
 */
export const keyFileName = 'secret.key';

const ownerOnly = 0o600;

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'ENOENT';
}

/**
 * The key file's non-empty lines, or undefined when there is no file. A file that other users may
 * read or write is refused, as ssh refuses a private key: a warning in a log is easy to miss, and
 * once the key is read by someone else every stored password must be considered leaked.
 */
export async function readKeyFile(file: string): Promise<string[] | undefined> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw new AppError('CONFIG_INVALID', `${file} is not a regular file`);
    // Windows has no POSIX modes to check.
    if (process.platform !== 'win32' && (stats.mode & 0o077) !== 0) {
      const mode = (stats.mode & 0o777).toString(8).padStart(4, '0');
      throw new AppError(
        'CONFIG_INVALID',
        `${file} is open to other users (mode ${mode}); make it readable by its owner only: chmod 600 ${file}`,
      );
    }
    const text = await handle.readFile('utf8');
    return text
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '');
  } finally {
    await handle.close();
  }
}

/**
 * Creates the key file with these lines unless it exists. Returns false when another process
 * created it first: link() refuses to replace a file, where rename() would silently swap the key
 * that process may already be encrypting with.
 */
export async function createKeyFile(file: string, lines: string[]): Promise<boolean> {
  await mkdir(path.dirname(file), { recursive: true });
  const temp = await writeTempFile(file, lines);
  try {
    await link(temp, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
  await syncDirectory(path.dirname(file));
  return true;
}

/** Replaces the key file with these lines atomically: a crash leaves either the old or the new file. */
export async function replaceKeyFile(file: string, lines: string[]): Promise<void> {
  const temp = await writeTempFile(file, lines);
  try {
    await rename(temp, file);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  await syncDirectory(path.dirname(file));
}

/** A fully written and flushed file, mode 0600 from its creation, beside the target. */
async function writeTempFile(file: string, lines: string[]): Promise<string> {
  const temp = path.join(
    path.dirname(file),
    `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`,
  );
  const handle = await open(temp, 'wx', ownerOnly);
  try {
    // The umask can only narrow the mode given to open(); setting it again states the intent.
    await handle.chmod(ownerOnly);
    await handle.writeFile(lines.map((line) => `${line}\n`).join(''), 'utf8');
    await handle.sync();
  } catch (error) {
    await handle.close();
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  await handle.close();
  return temp;
}

/** Makes the rename or link itself durable, not only the file's contents. */
async function syncDirectory(dir: string): Promise<void> {
  if (process.platform === 'win32') return;
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
