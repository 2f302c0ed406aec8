import { chmod, copyFile, link, mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bounceClassifyCommand } from './bounce-classify.ts';

const fixtures = new URL('../bounces/classify/fixtures/', import.meta.url);

interface Line {
  file: string;
  category: string;
  recipients: Array<{ address: string | null; reason: string; bounceType: string | null }>;
}

async function run(paths: string[]): Promise<{ code: number; lines: Line[]; stderr: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  err.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const code = await bounceClassifyCommand(paths, out, err);
  const lines = stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Line);
  return { code, lines, stderr };
}

describe('mailroom bounce classify', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mailroom-classify-'));
    await mkdir(join(dir, 'inbox', 'nested'), { recursive: true });
    await copyFile(new URL('postfix-dsn.eml', fixtures), join(dir, 'inbox', 'a-postfix.eml'));
    await copyFile(new URL('autoreply.eml', fixtures), join(dir, 'inbox', 'b-autoreply.eml'));
    await copyFile(new URL('qmail.eml', fixtures), join(dir, 'inbox', 'nested', 'c-qmail.eml'));
    await link(join(dir, 'inbox', 'a-postfix.eml'), join(dir, 'inbox', 'd-hardlink.eml'));
    await symlink(join(dir, 'inbox', 'nested', 'c-qmail.eml'), join(dir, 'inbox', 'e-symlink.eml'));
    // A symlinked directory that leads back to its own parent must not be walked forever.
    await symlink(join(dir, 'inbox'), join(dir, 'inbox', 'nested', 'loop'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('prints one JSON line per file, recursively, counting links as files', async () => {
    const { code, lines, stderr } = await run([join(dir, 'inbox')]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const byName = Object.fromEntries(lines.map((line) => [line.file.slice(dir.length), line]));
    expect(Object.keys(byName)).toEqual([
      '/inbox/a-postfix.eml',
      '/inbox/b-autoreply.eml',
      '/inbox/d-hardlink.eml',
      '/inbox/e-symlink.eml',
      '/inbox/nested/c-qmail.eml',
    ]);
    expect(byName['/inbox/a-postfix.eml']).toMatchObject({
      category: 'bounce',
      recipients: [{ address: 'ghost@example.org', reason: 'userunknown', bounceType: 'hard' }],
    });
    expect(byName['/inbox/d-hardlink.eml']?.recipients).toEqual(byName['/inbox/a-postfix.eml']?.recipients);
    expect(byName['/inbox/e-symlink.eml']?.recipients.map((r) => r.address)).toEqual([
      'nobody@example.com',
      'quota@example.com',
    ]);
    expect(byName['/inbox/b-autoreply.eml']?.category).toBe('autoreply');
  });

  it('keeps the line shape stable: file, category and the verdict recipients', async () => {
    const { lines } = await run([join(dir, 'inbox', 'a-postfix.eml')]);
    expect(lines).toHaveLength(1);
    expect(Object.keys(lines[0] ?? {})).toEqual(['file', 'category', 'recipients']);
    expect(Object.keys(lines[0]?.recipients[0] ?? {}).sort()).toEqual(
      ['action', 'address', 'bounceType', 'diagnostic', 'reason', 'remoteMta', 'replyCode', 'status'].sort(),
    );
  });

  it('reports an unreadable path on stderr, classifies the rest and exits non-zero', async () => {
    const missing = join(dir, 'missing.eml');
    const locked = join(dir, 'inbox', 'nested', 'c-qmail.eml');
    await chmod(locked, 0o000);
    const canRead = process.getuid?.() === 0;
    const { code, lines, stderr } = await run([missing, join(dir, 'inbox', 'a-postfix.eml'), locked]);
    expect(code).toBe(1);
    expect(stderr).toContain(`cannot read ${missing}`);
    expect(lines.map((line) => line.file)).toContain(join(dir, 'inbox', 'a-postfix.eml'));
    // root reads a mode-000 file anyway; anyone else gets the error for it too.
    if (!canRead) expect(stderr).toContain(`cannot read ${locked}`);
  });
});
