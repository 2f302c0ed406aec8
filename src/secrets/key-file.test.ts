import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { createKeyFile, readKeyFile, replaceKeyFile } from './key-file.ts';
import { tempDir } from './testing.ts';

const tempFile = () => path.join(tempDir(), 'secret.key');

it('never replaces a key file another process created first', async () => {
  const file = tempFile();
  expect(await createKeyFile(file, ['first'])).toBe(true);
  expect(await createKeyFile(file, ['second'])).toBe(false);
  expect(await readKeyFile(file)).toEqual(['first']);
  expect(fs.readdirSync(path.dirname(file))).toEqual(['secret.key']);
});

it('replaces the file whole, keeping mode 0600 and leaving no temporary file', async () => {
  const file = tempFile();
  await createKeyFile(file, ['a']);
  await replaceKeyFile(file, ['b', 'a']);
  expect(fs.readFileSync(file, 'utf8')).toBe('b\na\n');
  expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  expect(fs.readdirSync(path.dirname(file))).toEqual(['secret.key']);
});

it('reads a missing file as undefined', async () => {
  expect(await readKeyFile(tempFile())).toBeUndefined();
});
