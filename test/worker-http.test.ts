import { afterAll, describe, expect, it } from 'vitest';
import { exited, freePort, startMailroom } from './support/cli.ts';
import { createTestDatabase, testDialects, type TestDatabase } from './support/dialects.ts';

async function waitFor(url: string, output: () => string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} did not come up; the process said:\n${output()}`);
}

describe.each(testDialects)('mailroom worker with MAILROOM_WORKER_HTTP_PORT on %s', (dialect) => {
  let database: TestDatabase | undefined;
  afterAll(() => database?.drop());

  it('serves /healthz, /readyz and /metrics on that port, and no API', async () => {
    database = await createTestDatabase(dialect);
    const [port, apiPort] = [await freePort(), await freePort()];
    const token = 'worker-metrics-token-never-shown';
    const worker = startMailroom(['worker'], {
      ...database.env,
      HOST: '127.0.0.1',
      PORT: String(apiPort),
      MAILROOM_WORKER_HTTP_PORT: String(port),
      MAILROOM_METRICS_TOKEN: token,
    });
    const baseUrl = `http://127.0.0.1:${port}`;
    try {
      await waitFor(`${baseUrl}/healthz`, worker.output);
      expect(await (await fetch(`${baseUrl}/healthz`)).json()).toEqual({ status: 'ok' });

      const ready = await fetch(`${baseUrl}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ status: 'ok', database: 'ok', migrations: 'current' });

      expect((await fetch(`${baseUrl}/metrics`)).status).toBe(401);
      const metrics = await fetch(`${baseUrl}/metrics`, { headers: { authorization: `Bearer ${token}` } });
      expect(metrics.status).toBe(200);
      const text = await metrics.text();
      expect(text).toContain('mailroom_outbox_queue_depth{status="ready"} 0');
      expect(text).toContain('mailroom_lease_takeovers_total{kind="outbox"} 0');
      expect(text).toMatch(/^process_resident_memory_bytes \d+/m);

      const api = await fetch(`${baseUrl}/api/health`);
      expect(api.status).toBe(404);
      expect(await api.json()).toMatchObject({ error: { code: 'ROUTE_NOT_FOUND' } });
      await expect(fetch(`http://127.0.0.1:${apiPort}/healthz`)).rejects.toThrow();
    } finally {
      worker.kill('SIGTERM');
    }
    expect(await exited(worker)).toBe(0);
    expect(worker.output()).toContain('"msg":"stopped"');
    expect(worker.output()).not.toContain(token);
  });
});
