import { beforeAll, describe, expect, it } from 'vitest';
import { request, signUp, useTestApp, type SignedIn } from '../../../test/support/app.ts';
import { testDialects } from '../../../test/support/dialects.ts';

describe.each(testDialects)('auth over HTTP on %s', (dialect) => {
  // TRUST_PROXY lets each test speak from its own client address through X-Forwarded-For.
  const testApp = useTestApp(dialect, { TRUST_PROXY: 'true' });
  let admin: SignedIn;
  let ipSequence = 0;
  const fromNewIp = () => ({ 'x-forwarded-for': `198.51.100.${++ipSequence}` });

  beforeAll(async () => {
    admin = await signUp(testApp.current.container, { org: 'Auth Org', role: 'admin' });
  });

  async function login(email: string, password: string, headers: Record<string, string> = {}) {
    return request(testApp.current.baseUrl, 'POST', '/api/auth/login', {
      body: { email, password },
      headers,
    });
  }

  it('logs in with email and password and sets an HttpOnly, SameSite session cookie', async () => {
    const response = await login(admin.email.toUpperCase(), admin.password, fromNewIp());
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ user: { id: admin.userId, email: admin.email, role: 'admin' } });
    expect(response.body.user).not.toHaveProperty('passwordHash');
    const cookie = response.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^mailroom_session=[\w-]{40,};/);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);
    expect(cookie).not.toMatch(/Secure/);
  });

  it('marks the cookie Secure when the request came over HTTPS', async () => {
    const response = await login(admin.email, admin.password, {
      ...fromNewIp(),
      'x-forwarded-proto': 'https',
    });
    expect(response.headers.get('set-cookie')).toMatch(/; Secure/);
  });

  it('serves the session, then ends it on logout', async () => {
    const loggedIn = await login(admin.email, admin.password, fromNewIp());
    const cookie = (loggedIn.headers.get('set-cookie') ?? '').split(';')[0]!;
    const me = await request(testApp.current.baseUrl, 'GET', '/api/me', { cookie });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ user: { id: admin.userId }, organisation: { name: 'Auth Org' } });

    const csrf = loggedIn.headers
      .getSetCookie()
      .find((line) => line.startsWith('mailroom_csrf='))!
      .split(';')[0]!
      .split('=')[1]!;
    const logout = await request(testApp.current.baseUrl, 'POST', '/api/auth/logout', {
      cookie,
      headers: { 'x-csrf-token': csrf },
    });
    expect(logout.status).toBe(204);
    expect(logout.headers.get('set-cookie')).toMatch(/mailroom_session=;/);

    const after = await request(testApp.current.baseUrl, 'GET', '/api/me', { cookie });
    expect(after.status).toBe(401);
    expect(after.body).toMatchObject({ error: { code: 'UNAUTHENTICATED' } });
  });

  it('ends sessions when they expire', async () => {
    const loggedIn = await login(admin.email, admin.password, fromNewIp());
    const cookie = (loggedIn.headers.get('set-cookie') ?? '').split(';')[0]!;
    testApp.current.clock.advance(169 * 3_600_000);
    const me = await request(testApp.current.baseUrl, 'GET', '/api/me', { cookie });
    expect(me.status).toBe(401);
  });

  it('gives one answer for a wrong password and an unknown address', async () => {
    const wrong = await login(admin.email, 'not-the-password', fromNewIp());
    const unknown = await login('nobody@nowhere.test', 'not-the-password', fromNewIp());
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body).toEqual(unknown.body);
    expect(wrong.body).toMatchObject({ error: { code: 'INVALID_CREDENTIALS' } });
    expect(wrong.headers.get('set-cookie')).toBeNull();
  });

  it('answers 401 to a request with no credentials, and to a malformed or unknown token', async () => {
    const { baseUrl } = testApp.current;
    const attempts: Record<string, string>[] = [
      {},
      { authorization: 'Basic abc' },
      { authorization: 'Bearer mr_nope' },
    ];
    for (const headers of attempts) {
      const response = await request(baseUrl, 'GET', '/api/users', { headers });
      expect(response.status).toBe(401);
      expect(response.body).toMatchObject({ error: { code: 'UNAUTHENTICATED' } });
    }
  });

  describe('throttling failed logins', () => {
    it('delays an address after five failures, growing, with 429 and Retry-After, never locking it out', async () => {
      const { container, clock } = testApp.current;
      const victim = await signUp(container, { org: 'Auth Org' });
      for (let attempt = 1; attempt <= 5; attempt++) {
        expect((await login(victim.email, 'wrong-password', fromNewIp())).status).toBe(401);
      }
      // The sixth failure starts a one-second delay; during it even the right password waits.
      expect((await login(victim.email, 'wrong-password', fromNewIp())).status).toBe(401);
      const throttled = await login(victim.email, victim.password, fromNewIp());
      expect(throttled.status).toBe(429);
      expect(throttled.body).toMatchObject({ error: { code: 'TOO_MANY_ATTEMPTS' } });
      expect(throttled.headers.get('retry-after')).toBe('1');

      clock.advance(1_000);
      expect((await login(victim.email, 'wrong-password', fromNewIp())).status).toBe(401);
      expect((await login(victim.email, victim.password, fromNewIp())).headers.get('retry-after')).toBe('2');

      // However many failures, the wait for an address stays capped at a minute.
      for (let round = 0; round < 10; round++) {
        clock.advance(60_000);
        await login(victim.email, 'wrong-password', fromNewIp());
      }
      const capped = await login(victim.email, victim.password, fromNewIp());
      expect(Number(capped.headers.get('retry-after'))).toBe(60);

      clock.advance(60_000);
      const allowed = await login(victim.email, victim.password, fromNewIp());
      expect(allowed.status).toBe(200);
      // Success clears the address's count: the next mistake is free again.
      expect((await login(victim.email, 'wrong-password', fromNewIp())).status).toBe(401);
      expect((await login(victim.email, victim.password, fromNewIp())).status).toBe(200);
    });

    it('delays an IP that fails across many addresses, without touching other IPs', async () => {
      const { container } = testApp.current;
      const user = await signUp(container, { org: 'Auth Org' });
      const attacker = fromNewIp();
      for (let attempt = 1; attempt <= 21; attempt++) {
        expect((await login(`guess${attempt}@auth.test`, 'wrong-password', attacker)).status).toBe(401);
      }
      const blocked = await login(user.email, user.password, attacker);
      expect(blocked.status).toBe(429);
      expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
      expect((await login(user.email, user.password, fromNewIp())).status).toBe(200);
    });
  });

  describe('API tokens', () => {
    it('creates a token whose secret is shown once, works as Bearer, is listed without it, and is revoked', async () => {
      const { baseUrl } = testApp.current;
      const created = await request<{ token: { id: string; prefix: string }; secret: string }>(
        baseUrl,
        'POST',
        '/api/tokens',
        { token: admin.token, body: { name: 'zapier' } },
      );
      expect(created.status).toBe(201);
      expect(created.body.secret).toMatch(/^mr_[\w-]{40,}$/);
      expect(created.body.secret.startsWith(created.body.token.prefix)).toBe(true);

      const me = await request(baseUrl, 'GET', '/api/me', { token: created.body.secret });
      expect(me.status).toBe(200);

      const list = await request<{ items: Record<string, unknown>[] }>(baseUrl, 'GET', '/api/tokens', {
        token: created.body.secret,
      });
      const listed = list.body.items.find((item) => item.id === created.body.token.id);
      expect(listed).toMatchObject({ name: 'zapier', lastUsedAt: expect.any(String) });
      expect(JSON.stringify(list.body)).not.toContain(created.body.secret);

      const revoked = await request(baseUrl, 'DELETE', `/api/tokens/${created.body.token.id}`, {
        token: admin.token,
      });
      expect(revoked.status).toBe(204);
      expect((await request(baseUrl, 'GET', '/api/me', { token: created.body.secret })).status).toBe(401);
      const again = await request(baseUrl, 'DELETE', `/api/tokens/${created.body.token.id}`, {
        token: admin.token,
      });
      expect(again.body).toMatchObject({ error: { code: 'TOKEN_NOT_FOUND' } });
    });

    it('stops accepting a token after its expiry, and refuses an expiry in the past', async () => {
      const { baseUrl, clock } = testApp.current;
      const expiresAt = new Date(clock.now().getTime() + 3_600_000).toISOString();
      const created = await request<{ secret: string }>(baseUrl, 'POST', '/api/tokens', {
        token: admin.token,
        body: { name: 'short-lived', expiresAt },
      });
      expect((await request(baseUrl, 'GET', '/api/me', { token: created.body.secret })).status).toBe(200);
      clock.advance(3_600_001);
      expect((await request(baseUrl, 'GET', '/api/me', { token: created.body.secret })).status).toBe(401);

      const past = await request(baseUrl, 'POST', '/api/tokens', {
        token: admin.token,
        body: { name: 'stale', expiresAt: new Date(clock.now().getTime() - 1000).toISOString() },
      });
      expect(past.status).toBe(400);
      expect(past.body).toMatchObject({
        error: { code: 'VALIDATION_FAILED', fields: { expiresAt: 'must be in the future' } },
      });
    });

    it('never lets one user revoke another user’s token', async () => {
      const { container, baseUrl } = testApp.current;
      const other = await signUp(container, { org: 'Auth Org' });
      const tokens = await request<{ items: { id: string }[] }>(baseUrl, 'GET', '/api/tokens', {
        token: other.token,
      });
      const response = await request(baseUrl, 'DELETE', `/api/tokens/${tokens.body.items[0]!.id}`, {
        token: admin.token,
      });
      expect(response.status).toBe(404);
      expect((await request(baseUrl, 'GET', '/api/me', { token: other.token })).status).toBe(200);
    });
  });

  it('writes no password, token or session secret into the logs', async () => {
    const { baseUrl, logs, container } = testApp.current;
    const user = await signUp(container, { org: 'Auth Org' });
    const loggedIn = await login(user.email, user.password, fromNewIp());
    const session = (loggedIn.headers.get('set-cookie') ?? '').split(';')[0]!.split('=')[1]!;
    const created = await request<{ secret: string }>(baseUrl, 'POST', '/api/tokens', {
      token: user.token,
      body: { name: 'log check' },
    });
    await request(baseUrl, 'GET', '/api/me', { token: created.body.secret });
    await request(baseUrl, 'GET', '/api/me', { cookie: `mailroom_session=${session}` });
    await login(user.email, `${user.password}-typo`, fromNewIp());
    const written = logs.join('');
    expect(written).toContain('/api/auth/login');
    for (const secret of [user.password, `${user.password}-typo`, user.token, created.body.secret, session]) {
      expect(written).not.toContain(secret);
    }
  });
});
