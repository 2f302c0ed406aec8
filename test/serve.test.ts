import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { exited, freePort, startMailroom } from './support/cli.ts';
import { createTestDatabase, testDialects, type TestDatabase } from './support/dialects.ts';

async function waitForHealth(baseUrl: string, output: () => string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    try {
      const response = await fetch(`${baseUrl}/api/health`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the server did not come up; it said:\n${output()}`);
}

describe('mailroom serve on the embedded default', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mailroom-serve-'));
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  it('creates and migrates SQLite in DATA_DIR, serves the API, and stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    const dataDir = path.join(root, 'data');
    const server = startMailroom(['serve'], { DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1' });
    const baseUrl = `http://127.0.0.1:${port}`;
    await waitForHealth(baseUrl, server.output);
    expect(fs.existsSync(path.join(dataDir, 'mailroom.sqlite'))).toBe(true);

    const openapi = await fetch(`${baseUrl}/api/openapi.json`);
    expect(openapi.status).toBe(200);
    expect(((await openapi.json()) as { paths: object }).paths).toHaveProperty(['/api/auth/login']);
    expect((await fetch(`${baseUrl}/api/me`)).status).toBe(401);

    server.kill('SIGTERM');
    expect(await exited(server)).toBe(0);
    expect(server.output()).toContain('"msg":"stopped"');
  });
});

describe.each(testDialects)('mailroom roles on %s', (dialect) => {
  let database: TestDatabase | undefined;
  afterAll(() => database?.drop());

  it('runs a worker without the API, which stops cleanly on SIGINT', async () => {
    database = await createTestDatabase(dialect);
    const port = await freePort();
    const worker = startMailroom(['worker'], { ...database.env, PORT: String(port) });
    await expect.poll(() => worker.output(), { timeout: 15_000 }).toContain('worker started');
    await expect(fetch(`http://127.0.0.1:${port}/api/health`)).rejects.toThrow();
    worker.kill('SIGINT');
    expect(await exited(worker)).toBe(0);
    expect(worker.output()).toContain('worker stopped');
  });

  it('lets two serve processes share one database', async () => {
    database ??= await createTestDatabase(dialect);
    const ports = [await freePort(), await freePort()];
    const servers = ports.map((port) =>
      startMailroom(['serve'], { ...database!.env, PORT: String(port), HOST: '127.0.0.1' }),
    );
    try {
      await Promise.all(
        ports.map((port, index) => waitForHealth(`http://127.0.0.1:${port}`, servers[index]!.output)),
      );
    } finally {
      for (const server of servers) server.kill('SIGTERM');
    }
    expect(await Promise.all(servers.map(exited))).toEqual([0, 0]);
  });
});
