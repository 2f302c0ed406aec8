import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config.ts';
import { createContainer, type Container } from '../container.ts';
import { createLogger } from '../logger.ts';
import { buildServer, type App } from './server.ts';

describe('the web UI at /', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailroom-web-ui-'));
  const webRoot = path.join(dataDir, 'dist');
  let container: Container;
  let app: App;

  beforeAll(async () => {
    fs.mkdirSync(path.join(webRoot, 'assets'), { recursive: true });
    fs.writeFileSync(path.join(webRoot, 'index.html'), '<!doctype html><title>Mailroom</title>');
    fs.writeFileSync(path.join(webRoot, 'assets', 'index-Ab12Cd.js'), 'console.log(1)');
    fs.writeFileSync(path.join(webRoot, 'robots.txt'), 'User-agent: *');
    container = await createContainer(loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent' }), {
      logger: createLogger('silent'),
    });
    app = await buildServer(container, { webRoot });
  });
  afterAll(async () => {
    await app.close();
    await container.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('serves index.html at / and at the UI’s own routes, revalidated every time, without a login', async () => {
    for (const url of ['/', '/accounts', '/admin/approvals', '/accounts?q=sales']) {
      const response = await app.inject({ method: 'GET', url });
      expect(response.statusCode, url).toBe(200);
      expect(response.headers['content-type']).toMatch(/^text\/html/);
      expect(response.headers['cache-control']).toBe('no-cache');
      expect(response.headers['x-frame-options']).toBe('DENY');
      expect(response.body).toContain('<title>Mailroom</title>');
    }
  });

  it('serves hashed assets with a long, immutable cache, and other files of the build as they are', async () => {
    const asset = await app.inject({ method: 'GET', url: '/assets/index-Ab12Cd.js' });
    expect(asset.statusCode).toBe(200);
    expect(asset.headers['content-type']).toMatch(/javascript/);
    expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    const robots = await app.inject({ method: 'GET', url: '/robots.txt' });
    expect(robots.statusCode).toBe(200);
    expect(robots.body).toBe('User-agent: *');
  });

  it('answers a missing file, the API and other methods with the JSON 404, never with the page', async () => {
    for (const url of ['/assets/missing.js', '/favicon.ico', '/api/nothing-here', '/api']) {
      const response = await app.inject({ method: 'GET', url });
      expect(response.statusCode, url).toBe(404);
      expect(response.json()).toMatchObject({ error: { code: 'ROUTE_NOT_FOUND' } });
    }
    for (const url of ['/assets/../../../../etc/passwd', '/assets/%2e%2e/%2e%2e/%2e%2e/etc/passwd']) {
      const response = await app.inject({ method: 'GET', url });
      expect(response.body, url).not.toMatch(/root:/);
    }
    const post = await app.inject({ method: 'POST', url: '/accounts' });
    expect(post.statusCode).toBe(404);
  });

  it('says plainly when the UI has not been built', async () => {
    const unbuilt = await buildServer(container, { webRoot: path.join(dataDir, 'nothing') });
    const response = await unbuilt.inject({ method: 'GET', url: '/accounts' });
    await unbuilt.close();
    expect(response.statusCode).toBe(503);
    expect(response.body).toMatch(/npm run web:build/);
  });
});
