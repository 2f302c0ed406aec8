/**
 * Rate limits (@fastify/rate-limit, src/http/rate-limits.ts) on login, test-settings, sync-now and
 * sending, per user and per client IP: 429 RATE_LIMITED with Retry-After, in the one error shape.
 * The limits are set low here through their environment variables. On PostgreSQL the counts are
 * kept in the database, so that several processes count against one limit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTestClock,
  request,
  signUp,
  useTestApp,
  type ApiResponse,
  type SignedIn,
} from '../../test/support/app.ts';
import { testDialects, useTestDatabase } from '../../test/support/dialects.ts';
import { loadConfig } from '../config.ts';
import { createContainer, type Container } from '../container.ts';
import { createRateLimitsService } from '../domains/users/rate-limits.service.ts';
import { createLogger } from '../logger.ts';
import { buildServer, type App } from './server.ts';

const PER_USER = 2;
const PER_IP = 3;

function expectRateLimited(response: ApiResponse, path: string) {
  expect(response.status, path).toBe(429);
  expect(response.body).toEqual({
    error: {
      code: 'RATE_LIMITED',
      message: expect.stringMatching(/^Too many .+; try again in \d+ seconds\.$/),
    },
  });
  const retryAfter = Number(response.headers.get('retry-after'));
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(60);
}

describe.each(testDialects)('rate limits on %s', (dialect) => {
  const testApp = useTestApp(dialect, {
    TRUST_PROXY: 'true',
    RATE_LIMIT_LOGIN_PER_IP: String(PER_IP),
    RATE_LIMIT_TEST_PER_USER: String(PER_USER),
    RATE_LIMIT_TEST_PER_IP: String(PER_IP),
    RATE_LIMIT_SYNC_PER_USER: String(PER_USER),
    RATE_LIMIT_SYNC_PER_IP: String(PER_IP),
    RATE_LIMIT_SEND_PER_USER: String(PER_USER),
    RATE_LIMIT_SEND_PER_IP: String(PER_IP),
  });
  let ipSequence = 0;
  const newIp = () => `192.0.2.${++ipSequence}`;
  const users: SignedIn[] = [];
  const user = async () => {
    const signedIn = await signUp(testApp.current.container, { org: 'Limits Org' });
    users.push(signedIn);
    return signedIn;
  };

  beforeAll(async () => {
    await user();
  });

  it('limits logins per IP (the address is throttled, not rate-limited, so nobody locks a user out)', async () => {
    const { baseUrl } = testApp.current;
    const ip = newIp();
    const login = (email: string, from = ip) =>
      request(baseUrl, 'POST', '/api/auth/login', {
        body: { email, password: 'wrong password' },
        headers: { 'x-forwarded-for': from },
      });
    for (let attempt = 1; attempt <= PER_IP; attempt++) {
      expect((await login(`guess${attempt}@limits.test`)).status).toBe(401);
    }
    expectRateLimited(await login('guess@limits.test'), 'login');
    // Another client is not held back by this one; the right password from it gets in.
    const other = await request(baseUrl, 'POST', '/api/auth/login', {
      body: { email: users[0]!.email, password: users[0]!.password },
      headers: { 'x-forwarded-for': newIp() },
    });
    expect(other.status).toBe(200);
  });

  const limited = [
    {
      name: 'test settings (saved account)',
      path: (id: string) => `/api/accounts/${id}/test`,
      body: undefined,
    },
    { name: 'test settings (unsaved)', path: () => '/api/accounts/test', body: {} },
    { name: 'sync now', path: (id: string) => `/api/accounts/${id}/sync`, body: undefined },
    { name: 'send', path: () => '/api/messages', body: {} },
    { name: 'send a batch', path: () => '/api/messages/batch', body: { messages: [] } },
  ];

  for (const route of limited) {
    it(`limits ${route.name} per user, then per IP`, async () => {
      const { baseUrl } = testApp.current;
      const ip = newIp();
      const [first, second] = [await user(), await user()];
      const missing = '00000000-0000-7000-8000-000000000000';
      const call = (as: SignedIn, from = ip) =>
        request(baseUrl, 'POST', route.path(missing), {
          token: as.token,
          body: route.body,
          headers: { 'x-forwarded-for': from },
        });
      // Whatever each answer is (an unknown account, a bad body), every request counts.
      for (let attempt = 1; attempt <= PER_USER; attempt++) {
        expect((await call(first)).status).not.toBe(429);
      }
      const overUser = await call(first);
      expectRateLimited(overUser, route.name);
      expect((overUser.body as { error: { message: string } }).error.message).toContain('for your user');
      // The same user from elsewhere is still over its own limit.
      expectRateLimited(await call(first, newIp()), route.name);
      // Another user from the same address may go on until the address's limit.
      expect((await call(second)).status).not.toBe(429);
      const overIp = await call(second);
      expectRateLimited(overIp, route.name);
      expect((overIp.body as { error: { message: string } }).error.message).toContain('from your address');
      // Other routes are not affected.
      expect((await request(baseUrl, 'GET', '/api/me', { token: second.token })).status).toBe(200);
    });
  }
});

describe.each(testDialects)('rate limits set to 0 on %s', (dialect) => {
  const testApp = useTestApp(dialect, { RATE_LIMIT_SEND_PER_USER: '0', RATE_LIMIT_SEND_PER_IP: '0' });

  it('are off', async () => {
    const { baseUrl, container } = testApp.current;
    const user = await signUp(container, { org: 'Unlimited Org' });
    for (let attempt = 0; attempt < 30; attempt++) {
      const response = await request(baseUrl, 'POST', '/api/messages', { token: user.token, body: {} });
      expect(response.status).toBe(400);
    }
  });
});

describe('rate limits with two serve processes on one PostgreSQL database', () => {
  const env = {
    TRUST_PROXY: 'true',
    RATE_LIMIT_SEND_PER_USER: String(PER_USER),
    RATE_LIMIT_SEND_PER_IP: '0',
  };
  const testApp = useTestApp('postgres', env);
  let other: { app: App; baseUrl: string; container: Container } | undefined;

  beforeAll(async () => {
    const { database, clock } = testApp.current;
    const container = await createContainer(loadConfig({ ...database.env, LOG_LEVEL: 'silent', ...env }), {
      logger: createLogger('silent'),
      now: clock.now,
    });
    const app = await buildServer(container);
    other = { app, container, baseUrl: await app.listen({ port: 0, host: '127.0.0.1' }) };
  });
  afterAll(async () => {
    await other?.app.close();
    await other?.container.close();
  });

  it('count every process against the same limit, for the limit’s window', async () => {
    const { baseUrl, container, clock } = testApp.current;
    const user = await signUp(container, { org: 'Shared Limits Org' });
    const send = (server: string) =>
      request(server, 'POST', '/api/messages', { token: user.token, body: {} });
    // One request to each process: the user's limit of 2 is used up between them.
    expect((await send(baseUrl)).status).toBe(400);
    expect((await send(other!.baseUrl)).status).toBe(400);
    expectRateLimited(await send(other!.baseUrl), 'the second process');
    expectRateLimited(await send(baseUrl), 'the first process');
    clock.advance(60_000);
    expect((await send(other!.baseUrl)).status).toBe(400);
  });
});

describe.each(testDialects)('rate-limit counters on %s', (dialect) => {
  const database = useTestDatabase(dialect);

  it('count hits at once without losing one, and start a new window when one ends', async () => {
    const clock = createTestClock();
    const counters = createRateLimitsService({ db: database.current.db, now: clock.now });
    const hits = await Promise.all(Array.from({ length: 20 }, () => counters.hit('send:user:u1', 60_000)));
    expect(hits.map((hit) => hit.hits).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 20 }, (_, index) => index + 1),
    );
    clock.advance(45_000);
    expect(await counters.hit('send:user:u1', 60_000)).toEqual({ hits: 21, ttlMs: 15_000 });
    expect(await counters.hit('send:user:u2', 60_000)).toEqual({ hits: 1, ttlMs: 60_000 });
    clock.advance(15_000);
    expect(await counters.hit('send:user:u1', 60_000)).toEqual({ hits: 1, ttlMs: 60_000 });
    clock.advance(60 * 60_000);
    expect(await counters.purgeEnded()).toBe(1);
    expect(await counters.hit('send:user:u2', 60_000)).toEqual({ hits: 1, ttlMs: 60_000 });
  });
});
