import { once } from 'node:events';
import { open, readdir, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { classifyMessage } from '../bounces/classify/index.ts';
import { MAX_MESSAGE_BYTES } from '../bounces/classify/limits.ts';

/** Reads no more of a file than the classifier looks at, so a huge file costs no more than a small one. */
async function readHead(path: string): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(MAX_MESSAGE_BYTES);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    return buffer.subarray(0, length);
  } finally {
    await handle.close();
  }
}

async function write(stream: NodeJS.WritableStream, line: string): Promise<void> {
  if (!stream.write(line)) await once(stream, 'drain');
}

/**
 * `mailroom bounce classify PATH...`: one JSON line `{ "file", "category", "recipients" }` per message.
 * Directories are read recursively in name order. Symlinks and hard links count as files; a
 * symlinked directory is followed unless it leads back into one already being read. A path that
 * cannot be read is reported on `errors` and makes the exit code 1, and the rest are still classified.
 */
export async function bounceClassifyCommand(
  paths: string[],
  output: NodeJS.WritableStream,
  errors: NodeJS.WritableStream = process.stderr,
): Promise<number> {
  let failed = false;
  const fail = async (path: string, error: unknown): Promise<void> => {
    failed = true;
    const reason = error instanceof Error ? error.message : String(error);
    await write(errors, `mailroom bounce classify: cannot read ${path}: ${reason}\n`);
  };

  const visit = async (path: string, ancestors: ReadonlySet<string>): Promise<void> => {
    try {
      const info = await stat(path);
      if (info.isDirectory()) {
        const real = await realpath(path);
        if (ancestors.has(real)) return;
        const inside = new Set(ancestors).add(real);
        const names = (await readdir(path)).sort();
        for (const name of names) await visit(join(path, name), inside);
        return;
      }
      if (!info.isFile()) throw new Error('not a regular file');
      const verdict = classifyMessage(await readHead(path));
      await write(
        output,
        JSON.stringify({ file: path, category: verdict.category, recipients: verdict.recipients }) + '\n',
      );
    } catch (error) {
      await fail(path, error);
    }
  };

  for (const path of paths) await visit(path, new Set());
  return failed ? 1 : 0;
}
