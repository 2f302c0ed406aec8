/**
 * Login sessions over HTTP (issue 13, "Sessions and requests"): the cookies' attributes, a new
 * session at every login, logout, the idle timeout on a controllable clock, CSRF on every
 * state-changing request made with the cookie, and the audit entry for repeated failed logins.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { request, signUp, useTestApp, type SignedIn } from '../../../test/support/app.ts';
import { testDialects } from '../../../test/support/dialects.ts';
import { hashToken } from './auth.service.ts';

interface Cookie {
  name: string;
  value: string;
  attributes: string[];
}

function cookiesOf(headers: Headers): Map<string, Cookie> {
  const cookies = new Map<string, Cookie>();
  for (const line of headers.getSetCookie()) {
    const [pair, ...attributes] = line.split(';').map((part) => part.trim());
    const [name, ...value] = pair!.split('=');
    cookies.set(name!, {
      name: name!,
      value: value.join('='),
      attributes: attributes.map((a) => a.toLowerCase()),
    });
  }
  return cookies;
}

describe.each(testDialects)('login sessions on %s', (dialect) => {
  // TRUST_PROXY: each test speaks from its own client address (X-Forwarded-For), clear of the throttle.
  const testApp = useTestApp(dialect, { TRUST_PROXY: 'true', SESSION_IDLE_MINUTES: '120' });
  let admin: SignedIn;
  let ipSequence = 0;
  const fromNewIp = () => ({ 'x-forwarded-for': `203.0.113.${++ipSequence}` });

  beforeAll(async () => {
    admin = await signUp(testApp.current.container, { org: 'Session Org', role: 'admin' });
  });

  async function logIn(who: SignedIn, headers: Record<string, string> = {}) {
    const response = await request(testApp.current.baseUrl, 'POST', '/api/auth/login', {
      body: { email: who.email, password: who.password },
      headers: { ...fromNewIp(), ...headers },
    });
    expect(response.status).toBe(200);
    const cookies = cookiesOf(response.headers);
    const session = cookies.get('mailroom_session')!.value;
    const csrf = cookies.get('mailroom_csrf')!.value;
    return { response, cookies, session, csrf, cookie: `mailroom_session=${session}; mailroom_csrf=${csrf}` };
  }

  const call = (method: string, path: string, options: Parameters<typeof request>[3] = {}) =>
    request(testApp.current.baseUrl, method, path, options);

  it('sets an HttpOnly, SameSite=Lax session cookie for the whole site, and a CSRF cookie the UI can read', async () => {
    const { cookies, session, csrf } = await logIn(admin);
    const sessionCookie = cookies.get('mailroom_session')!;
    expect(session).toMatch(/^[\w-]{40,}$/);
    expect(sessionCookie.attributes).toEqual(
      expect.arrayContaining(['httponly', 'samesite=lax', 'path=/', expect.stringMatching(/^expires=/)]),
    );
    expect(sessionCookie.attributes).not.toContain('secure');
    const csrfCookie = cookies.get('mailroom_csrf')!;
    expect(csrf).toMatch(/^[\w-]{40,}$/);
    expect(csrf).not.toBe(session);
    expect(csrfCookie.attributes).toEqual(expect.arrayContaining(['samesite=lax', 'path=/']));
    expect(csrfCookie.attributes).not.toContain('httponly');
  });

  it('marks both cookies Secure behind TLS (X-Forwarded-Proto: https through a trusted proxy)', async () => {
    const { cookies } = await logIn(admin, { 'x-forwarded-proto': 'https' });
    expect(cookies.get('mailroom_session')!.attributes).toContain('secure');
    expect(cookies.get('mailroom_csrf')!.attributes).toContain('secure');
  });

  it('starts a new session at every login and ends the one the browser had (no fixation)', async () => {
    const first = await logIn(admin);
    expect((await call('GET', '/api/me', { cookie: first.cookie })).status).toBe(200);
    const second = await logIn(admin, { cookie: first.cookie });
    expect(second.session).not.toBe(first.session);
    expect(second.csrf).not.toBe(first.csrf);
    const old = await call('GET', '/api/me', { cookie: first.cookie });
    expect(old.status).toBe(401);
    expect(old.body).toMatchObject({ error: { code: 'UNAUTHENTICATED' } });
    expect((await call('GET', '/api/me', { cookie: second.cookie })).status).toBe(200);

    // A session id the client makes up is never adopted: the login mints its own.
    const planted = 'attacker-chosen-session-id-0123456789abcdefghijklmnop';
    const third = await logIn(admin, { cookie: `mailroom_session=${planted}` });
    expect(third.session).not.toBe(planted);
    expect((await call('GET', '/api/me', { cookie: `mailroom_session=${planted}` })).status).toBe(401);
  });

  it('stores only a hash of the session id', async () => {
    const { session } = await logIn(admin);
    const rows = await testApp.current.container.db.selectFrom('sessions').select('token_hash').execute();
    expect(rows.map((row) => row.token_hash)).toContain(hashToken(session));
    expect(JSON.stringify(rows)).not.toContain(session);
  });

  it('ends the session on logout, which needs the CSRF token, and clears both cookies', async () => {
    const { cookie, csrf, session } = await logIn(admin);
    // Another site can make the browser post here with the session cookie, but not with the token.
    const forged = await call('POST', '/api/auth/logout', { cookie: `mailroom_session=${session}` });
    expect(forged.status).toBe(403);
    expect(forged.body).toMatchObject({ error: { code: 'CSRF_TOKEN_INVALID' } });
    expect((await call('GET', '/api/me', { cookie })).status).toBe(200);

    const logout = await call('POST', '/api/auth/logout', { cookie, headers: { 'x-csrf-token': csrf } });
    expect(logout.status).toBe(204);
    const cleared = cookiesOf(logout.headers);
    expect(cleared.get('mailroom_session')!.value).toBe('');
    expect(cleared.get('mailroom_csrf')!.value).toBe('');
    expect((await call('GET', '/api/me', { cookie })).status).toBe(401);
    // Logging out of a session that has already ended needs no token and just clears the cookies.
    expect((await call('POST', '/api/auth/logout', { cookie })).status).toBe(204);
  });

  it('ends a session left unused for SESSION_IDLE_MINUTES; each use pushes the end back', async () => {
    const { clock, container } = testApp.current;
    const { cookie, session } = await logIn(admin);
    const lastSeen = () =>
      container.db
        .selectFrom('sessions')
        .select('last_seen_at')
        .where('token_hash', '=', hashToken(session))
        .executeTakeFirst();
    const loggedInAt = (await lastSeen())!.last_seen_at;

    // Used within the minute: the last use is not rewritten on every request.
    clock.advance(30_000);
    expect((await call('GET', '/api/me', { cookie })).status).toBe(200);
    expect((await lastSeen())!.last_seen_at).toBe(loggedInAt);

    clock.advance(119 * 60_000);
    expect((await call('GET', '/api/me', { cookie })).status).toBe(200);
    expect((await lastSeen())!.last_seen_at).not.toBe(loggedInAt);
    clock.advance(119 * 60_000);
    expect((await call('GET', '/api/me', { cookie })).status).toBe(200);

    clock.advance(120 * 60_000);
    const idle = await call('GET', '/api/me', { cookie });
    expect(idle.status).toBe(401);
    expect(idle.body).toMatchObject({ error: { code: 'UNAUTHENTICATED' } });
    expect(await lastSeen()).toBeUndefined();
  });

  describe('CSRF', () => {
    it('refuses a state-changing request made with the session cookie but without the token (403)', async () => {
      const { cookie, csrf } = await logIn(admin);
      const missing = await call('POST', '/api/teams', { cookie, body: { name: 'No token' } });
      expect(missing.status).toBe(403);
      expect(missing.body).toEqual({
        error: {
          code: 'CSRF_TOKEN_INVALID',
          message: expect.stringContaining('X-CSRF-Token'),
        },
      });
      const wrong = await call('POST', '/api/teams', {
        cookie,
        body: { name: 'Wrong token' },
        headers: { 'x-csrf-token': `${csrf}x` },
      });
      expect(wrong.status).toBe(403);
      // The cookie is not the proof: the header must match what the server stored with the session.
      const other = await logIn(admin);
      const crossed = await call('PATCH', `/api/users/${admin.userId}`, {
        cookie,
        body: { name: 'Crossed' },
        headers: { 'x-csrf-token': other.csrf },
      });
      expect(crossed.status).toBe(403);
      for (const method of ['PATCH', 'DELETE']) {
        const response = await call(method, `/api/teams/00000000-0000-7000-8000-000000000000`, { cookie });
        expect(response.body).toMatchObject({ error: { code: 'CSRF_TOKEN_INVALID' } });
      }
      const teams = await call('GET', '/api/teams', { cookie });
      expect(JSON.stringify(teams.body)).not.toMatch(/No token|Wrong token/);
    });

    it('accepts it with the token, and needs none for GET or for an API token', async () => {
      const { cookie, csrf } = await logIn(admin);
      const created = await call('POST', '/api/teams', {
        cookie,
        body: { name: 'With token' },
        headers: { 'x-csrf-token': csrf },
      });
      expect(created.status).toBe(201);
      expect((await call('GET', `/api/teams/${String(created.body.id)}`, { cookie })).status).toBe(200);
      const byToken = await call('POST', '/api/teams', { token: admin.token, body: { name: 'By token' } });
      expect(byToken.status).toBe(201);
    });

    it('hands the token over again on a GET when the browser lost its cookie', async () => {
      const { session, csrf } = await logIn(admin);
      const me = await call('GET', '/api/me', { cookie: `mailroom_session=${session}` });
      expect(me.status).toBe(200);
      expect(cookiesOf(me.headers).get('mailroom_csrf')?.value).toBe(csrf);
      const again = await call('GET', '/api/me', {
        cookie: `mailroom_session=${session}; mailroom_csrf=${csrf}`,
      });
      expect(again.headers.getSetCookie()).toEqual([]);
    });
  });

  describe('repeated failed logins', () => {
    it('are written to the audit log for admins at 5 in a row (and each 5 after), without a lockout', async () => {
      const { container, clock, baseUrl } = testApp.current;
      const victim = await signUp(container, { org: 'Session Org' });
      const audit = async () =>
        (
          await request<{ items: { action: string; actorId: string | null; targetType: string }[] }>(
            baseUrl,
            'GET',
            `/api/audit?targetId=${victim.userId}`,
            { token: admin.token },
          )
        ).body.items.filter((item) => item.action === 'user.login_failed_repeatedly');
      const fail = () =>
        call('POST', '/api/auth/login', {
          body: { email: victim.email, password: 'wrong password' },
          headers: fromNewIp(),
        });
      for (let attempt = 1; attempt <= 4; attempt++) expect((await fail()).status).toBe(401);
      expect(await audit()).toEqual([]);
      expect((await fail()).status).toBe(401);
      expect(await audit()).toEqual([
        expect.objectContaining({
          action: 'user.login_failed_repeatedly',
          actorId: null,
          targetType: 'user',
        }),
      ]);
      // The next failures wait out growing delays, but the right password still gets in after them.
      for (let attempt = 6; attempt <= 10; attempt++) {
        clock.advance(60_000);
        expect((await fail()).status).toBe(401);
      }
      expect(await audit()).toHaveLength(2);
      clock.advance(60_000);
      expect((await logIn(victim)).response.status).toBe(200);
      // Members do not read the audit log.
      expect((await call('GET', '/api/audit', { token: victim.token })).status).toBe(403);
    });
  });
});
