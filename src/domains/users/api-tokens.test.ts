/**
 * API tokens (issue 13): scoped (read, send, admin), expiring, revocable, and shown once; the
 * scope is enforced in the auth layer (src/http/auth.ts). The CLI's `--scope` and `--expires-in-days`.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { request, signUp, useTestApp, type SignedIn } from '../../../test/support/app.ts';
import { runMailroom } from '../../../test/support/cli.ts';
import { testDialects } from '../../../test/support/dialects.ts';

type Body = Record<string, unknown>;

describe.each(testDialects)('API tokens on %s', (dialect) => {
  const testApp = useTestApp(dialect, { MAILROOM_ALLOW_PRIVATE_HOSTS: 'true' });
  let admin: SignedIn;
  let member: SignedIn;
  let accountId: string;

  const call = (method: string, path: string, token: string, body?: unknown) =>
    request<Body>(testApp.current.baseUrl, method, path, { token, body });

  async function createToken(as: SignedIn, body: Body) {
    const response = await call('POST', '/api/tokens', as.token, body);
    expect(response.status, JSON.stringify(response.body)).toBe(201);
    return response.body as {
      token: { id: string; scope: string; expiresAt: string | null };
      secret: string;
    };
  }

  const message = () => ({ accountId, to: ['ada@client.test'], subject: 'Hello', text: 'Hi Ada' });

  beforeAll(async () => {
    const { container } = testApp.current;
    admin = await signUp(container, { org: 'Token Org', role: 'admin' });
    member = await signUp(container, { org: 'Token Org', role: 'member' });
    const account = await call('POST', '/api/accounts', admin.token, {
      type: 'own',
      scope: 'team',
      name: 'Tokens desk',
      email: 'desk@tokens.test',
      smtp: { host: '127.0.0.1', port: 2525, security: 'none', requiresAuth: false },
    });
    expect(account.status, JSON.stringify(account.body)).toBe(201);
    accountId = account.body.id as string;
  });

  it('shows the secret once: in the answer to create, never in a list or the database', async () => {
    const { token, secret } = await createToken(admin, { name: 'once', scope: 'read' });
    expect(secret).toMatch(/^mr_[\w-]{40,}$/);
    expect(token).toMatchObject({ scope: 'read', expiresAt: null });
    const list = await call('GET', '/api/tokens', admin.token);
    expect(list.body.items).toEqual(
      expect.arrayContaining([expect.objectContaining({ id: token.id, name: 'once', scope: 'read' })]),
    );
    expect(JSON.stringify(list.body)).not.toContain(secret);
    const rows = await testApp.current.container.db.selectFrom('api_tokens').selectAll().execute();
    expect(JSON.stringify(rows)).not.toContain(secret);
  });

  it('a read token may GET, and nothing else', async () => {
    const { secret } = await createToken(admin, { name: 'reader', scope: 'read' });
    expect((await call('GET', '/api/me', secret)).status).toBe(200);
    expect((await call('GET', '/api/accounts', secret)).status).toBe(200);
    for (const [method, path, body] of [
      ['POST', '/api/teams', { name: 'Readers' }],
      ['POST', '/api/messages', message()],
      ['POST', '/api/messages/batch', { messages: [message()] }],
      ['POST', `/api/accounts/${accountId}/sync`, undefined],
      ['DELETE', `/api/accounts/${accountId}`, undefined],
      ['POST', '/api/tokens', { name: 'escalate', scope: 'admin' }],
    ] as const) {
      const response = await call(method, path, secret, body);
      expect(response.status, `${method} ${path}`).toBe(403);
      expect(response.body).toMatchObject({ error: { code: 'TOKEN_SCOPE_INSUFFICIENT' } });
    }
  });

  it('a send token may read and queue messages, and nothing else', async () => {
    const { secret } = await createToken(admin, { name: 'sender', scope: 'send' });
    const queued = await call('POST', '/api/messages', secret, message());
    expect(queued.status, JSON.stringify(queued.body)).toBe(202);
    expect((await call('GET', `/api/messages/${String(queued.body.id)}`, secret)).status).toBe(200);
    const cancel = await call('POST', `/api/messages/${String(queued.body.id)}/cancel`, secret);
    expect(cancel.body).toMatchObject({ error: { code: 'TOKEN_SCOPE_INSUFFICIENT' } });
    expect((await call('POST', '/api/teams', secret, { name: 'Senders' })).status).toBe(403);
    expect((await call('PATCH', `/api/accounts/${accountId}`, secret, { name: 'Renamed' })).status).toBe(403);
  });

  it('an admin token may do all its user’s role allows, and no more', async () => {
    const { token, secret } = await createToken(member, { name: 'everything' });
    expect(token.scope).toBe('admin');
    expect((await call('POST', '/api/messages', secret, message())).status).toBe(202);
    // The scope does not lift the member's role: adding users stays an admin's.
    const users = await call('POST', '/api/users', secret, {
      email: 'x@tokens.test',
      password: 'password-1',
    });
    expect(users.body).toMatchObject({ error: { code: 'FORBIDDEN' } });
    const own = await createToken(admin, { name: 'admin', scope: 'admin' });
    expect((await call('POST', '/api/teams', own.secret, { name: 'Admins' })).status).toBe(201);
  });

  it('refuses an unknown scope', async () => {
    const response = await call('POST', '/api/tokens', admin.token, { name: 'x', scope: 'root' });
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({
      error: { code: 'VALIDATION_FAILED', fields: { scope: expect.any(String) } },
    });
  });

  it('refuses a token after it expires, and a revoked token at once; both are in the audit log', async () => {
    const { clock } = testApp.current;
    const expiresAt = new Date(clock.now().getTime() + 60_000).toISOString();
    const expiring = await createToken(admin, { name: 'minute', scope: 'read', expiresAt });
    expect(expiring.token.expiresAt).toBe(expiresAt);
    expect((await call('GET', '/api/me', expiring.secret)).status).toBe(200);
    clock.advance(60_001);
    const expired = await call('GET', '/api/me', expiring.secret);
    expect(expired.status).toBe(401);
    expect(expired.body).toMatchObject({ error: { code: 'UNAUTHENTICATED' } });

    const revoking = await createToken(admin, { name: 'revoke me', scope: 'send' });
    expect((await call('GET', '/api/me', revoking.secret)).status).toBe(200);
    expect((await call('DELETE', `/api/tokens/${revoking.token.id}`, admin.token)).status).toBe(204);
    expect((await call('GET', '/api/me', revoking.secret)).status).toBe(401);
    expect((await call('POST', '/api/messages', revoking.secret, message())).status).toBe(401);

    const audit = await call('GET', `/api/audit?targetId=${revoking.token.id}`, admin.token);
    expect((audit.body.items as Body[]).map((item) => item.action).sort()).toEqual([
      'api_token.created',
      'api_token.revoked',
    ]);
  });

  it('the CLI makes a scoped, expiring token: --scope and --expires-in-days', async () => {
    const { database, container } = testApp.current;
    const result = await runMailroom(
      ['token', 'create', '--email', member.email, '--scope', 'read', '--expires-in-days', '7'],
      database.env,
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const secret = result.stdout.trim();
    const actor = await container.services.auth.authenticate({ bearerToken: secret });
    expect(actor).toMatchObject({ userId: member.userId, via: 'token', scope: 'read' });
    const listed = await call('GET', '/api/tokens', member.token);
    const made = (listed.body.items as { scope: string; expiresAt: string | null; name: string }[]).find(
      (item) => item.name === 'created with the CLI',
    )!;
    expect(made.scope).toBe('read');
    // The CLI runs on the real clock, the server on the test's: seven days from the CLI's now.
    const days = (Date.parse(made.expiresAt!) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(6.9);
    expect(days).toBeLessThanOrEqual(7);

    for (const args of [
      ['--scope', 'root'],
      ['--expires-in-days', '0'],
    ]) {
      const refused = await runMailroom(['token', 'create', '--email', member.email, ...args], database.env);
      expect(refused.code, args.join(' ')).toBe(2);
      expect(refused.stdout).toBe('');
    }
  }, 60_000);
});
