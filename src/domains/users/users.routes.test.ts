import { beforeAll, describe, expect, it } from 'vitest';
import { request, signUp, useTestApp, type SignedIn } from '../../../test/support/app.ts';
import { testDialects } from '../../../test/support/dialects.ts';

describe.each(testDialects)('users and teams over HTTP on %s', (dialect) => {
  const testApp = useTestApp(dialect);
  let admin: SignedIn;
  let member: SignedIn;
  let outsider: SignedIn;
  const call = (method: string, path: string, as: SignedIn, body?: unknown) =>
    request(testApp.current.baseUrl, method, path, { token: as.token, body });

  beforeAll(async () => {
    const { container } = testApp.current;
    admin = await signUp(container, { org: 'Acme' });
    member = await signUp(container, { org: 'Acme' });
    outsider = await signUp(container, { org: 'Globex' });
  });

  it('makes the first user of a new organisation its admin and later ones members', async () => {
    expect((await call('GET', '/api/me', admin)).body).toMatchObject({ user: { role: 'admin' } });
    expect((await call('GET', '/api/me', member)).body).toMatchObject({ user: { role: 'member' } });
  });

  it('lets an admin add a user who can then log in, and refuses a taken address', async () => {
    const created = await call('POST', '/api/users', admin, {
      email: 'New.Hire@Acme.test',
      password: 'a-long-password',
      name: 'New Hire',
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ email: 'new.hire@acme.test', name: 'New Hire', role: 'member' });
    const login = await request(testApp.current.baseUrl, 'POST', '/api/auth/login', {
      body: { email: 'new.hire@acme.test', password: 'a-long-password' },
    });
    expect(login.status).toBe(200);

    const again = await call('POST', '/api/users', admin, {
      email: 'new.hire@ACME.test',
      password: 'another-one',
    });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({
      error: { code: 'EMAIL_TAKEN', fields: { email: 'is already taken' } },
    });
  });

  it('forbids members from adding users, changing roles or touching teams (403)', async () => {
    expect(
      (await call('POST', '/api/users', member, { email: 'x@acme.test', password: 'password1' })).status,
    ).toBe(403);
    const promote = await call('PATCH', `/api/users/${member.userId}`, member, { role: 'admin' });
    expect(promote.status).toBe(403);
    expect(promote.body).toMatchObject({ error: { code: 'FORBIDDEN' } });
    expect((await call('PATCH', `/api/users/${admin.userId}`, member, { name: 'Hacked' })).status).toBe(403);
    expect((await call('POST', '/api/teams', member, { name: 'Rogue' })).status).toBe(403);
    expect((await call('GET', `/api/users/${member.userId}`, member)).body).toMatchObject({ role: 'member' });
  });

  it('lets a member change their own name and password', async () => {
    const changed = await call('PATCH', `/api/users/${member.userId}`, member, {
      name: 'Renamed Member',
      password: 'a-new-password',
    });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ name: 'Renamed Member' });
    const login = await request(testApp.current.baseUrl, 'POST', '/api/auth/login', {
      body: { email: member.email, password: 'a-new-password' },
    });
    expect(login.status).toBe(200);
  });

  it('answers 404 for anything in another organisation, so its existence never leaks', async () => {
    for (const [method, body] of [
      ['GET', undefined],
      ['PATCH', { name: 'Mine now' }],
      ['DELETE', undefined],
    ] as const) {
      const response = await call(method, `/api/users/${outsider.userId}`, admin, body);
      expect(response.status).toBe(404);
      expect(response.body).toMatchObject({ error: { code: 'USER_NOT_FOUND' } });
    }
    const team = await call('POST', '/api/teams', outsider, { name: 'Globex Sales' });
    expect((await call('GET', `/api/teams/${team.body.id}`, admin)).status).toBe(404);
    expect((await call('DELETE', `/api/teams/${team.body.id}`, admin)).status).toBe(404);
    const list = await call('GET', '/api/users?pageSize=200', admin);
    expect(JSON.stringify(list.body)).not.toContain(outsider.email);
    expect((await call('GET', `/api/users/${outsider.userId}`, outsider)).status).toBe(200);
  });

  it('pages the user list with page and pageSize, and reports the total', async () => {
    const first = await call('GET', '/api/users?page=1&pageSize=2', admin);
    expect(first.status).toBe(200);
    const body = first.body as { items: { email: string }[]; total: number };
    expect(body.items).toHaveLength(2);
    expect(body.total).toBeGreaterThanOrEqual(3);
    const second = (await call('GET', '/api/users?page=2&pageSize=2', admin)).body as typeof body;
    expect(second.items[0]?.email).not.toBe(body.items[0]?.email);
    const tooBig = await call('GET', '/api/users?pageSize=1000&page=0', admin);
    expect(tooBig.status).toBe(400);
    expect(Object.keys((tooBig.body as { error: { fields: object } }).error.fields).sort()).toEqual([
      'page',
      'pageSize',
    ]);
  });

  it('keeps the last admin: neither demoted nor removed', async () => {
    const { container } = testApp.current;
    const soleAdmin = await signUp(container, { org: 'Solo Ltd' });
    const demote = await call('PATCH', `/api/users/${soleAdmin.userId}`, soleAdmin, { role: 'member' });
    expect(demote.status).toBe(409);
    expect(demote.body).toMatchObject({ error: { code: 'LAST_ADMIN' } });
    expect((await call('DELETE', `/api/users/${soleAdmin.userId}`, soleAdmin)).status).toBe(409);

    const second = await signUp(container, { org: 'Solo Ltd', role: 'admin' });
    expect((await call('PATCH', `/api/users/${soleAdmin.userId}`, second, { role: 'member' })).status).toBe(
      200,
    );
    expect((await call('DELETE', `/api/users/${second.userId}`, second)).status).toBe(409);
  });

  it('removes a user, and their sessions and tokens stop working', async () => {
    const { container } = testApp.current;
    const leaver = await signUp(container, { org: 'Acme' });
    expect((await call('DELETE', `/api/users/${leaver.userId}`, admin)).status).toBe(204);
    expect((await call('GET', '/api/me', leaver)).status).toBe(401);
    expect((await call('GET', `/api/users/${leaver.userId}`, admin)).status).toBe(404);
  });

  describe('teams', () => {
    it('creates, lists, renames, re-staffs and deletes a team', async () => {
      const created = await call('POST', '/api/teams', admin, { name: 'Sales', memberIds: [member.userId] });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ name: 'Sales', memberIds: [member.userId] });
      const id = created.body.id as string;

      const list = await call('GET', '/api/teams', member);
      expect(list.body).toMatchObject({
        items: [{ id, name: 'Sales', memberIds: [member.userId] }],
        total: 1,
      });

      const changed = await call('PATCH', `/api/teams/${id}`, admin, {
        name: 'Sales EMEA',
        memberIds: [admin.userId, member.userId],
      });
      expect(changed.status).toBe(200);
      expect(changed.body).toMatchObject({ name: 'Sales EMEA' });
      expect((changed.body.memberIds as string[]).sort()).toEqual([admin.userId, member.userId].sort());

      expect((await call('DELETE', `/api/teams/${id}`, admin)).status).toBe(204);
      expect((await call('GET', `/api/teams/${id}`, admin)).body).toMatchObject({
        error: { code: 'TEAM_NOT_FOUND' },
      });
    });

    it('refuses a duplicate team name and members from another organisation, naming each', async () => {
      await call('POST', '/api/teams', admin, { name: 'Support' });
      const duplicate = await call('POST', '/api/teams', admin, { name: 'Support' });
      expect(duplicate.status).toBe(409);
      expect(duplicate.body).toMatchObject({ error: { code: 'TEAM_NAME_TAKEN' } });

      const foreign = await call('POST', '/api/teams', admin, {
        name: 'Mixed',
        memberIds: [member.userId, outsider.userId],
      });
      expect(foreign.status).toBe(400);
      expect(foreign.body).toEqual({
        error: {
          code: 'VALIDATION_FAILED',
          message: expect.any(String),
          fields: { 'memberIds.1': `no user ${outsider.userId} in this organisation` },
        },
      });
      const teams = await call('GET', '/api/teams', admin);
      expect(JSON.stringify(teams.body)).not.toContain('Mixed');
    });

    it('drops a removed user from their teams', async () => {
      const { container } = testApp.current;
      const leaver = await signUp(container, { org: 'Acme' });
      const team = await call('POST', '/api/teams', admin, { name: 'Temp', memberIds: [leaver.userId] });
      await call('DELETE', `/api/users/${leaver.userId}`, admin);
      expect((await call('GET', `/api/teams/${team.body.id}`, admin)).body).toMatchObject({ memberIds: [] });
    });
  });

  it('writes user and team changes to the audit log, naming fields but never a password', async () => {
    const created = await call('POST', '/api/users', admin, {
      email: 'audit.me@acme.test',
      password: 'audit-password-1',
    });
    await call('PATCH', `/api/users/${created.body.id}`, admin, {
      password: 'audit-password-2',
      role: 'admin',
    });
    const team = await call('POST', '/api/teams', admin, { name: 'Audited', memberIds: [member.userId] });
    await call('DELETE', `/api/teams/${team.body.id}`, admin);
    const userLog = await call('GET', `/api/audit?targetId=${created.body.id}`, admin);
    expect(userLog.body.items).toEqual([
      expect.objectContaining({
        action: 'user.updated',
        actorId: admin.userId,
        fields: ['password', 'role'],
      }),
      expect.objectContaining({ action: 'user.created', fields: ['email', 'password', 'role'] }),
    ]);
    const teamLog = await call('GET', `/api/audit?targetId=${team.body.id}`, admin);
    const teamEntries = teamLog.body.items as { action: string }[];
    expect(teamEntries.map((entry) => entry.action)).toEqual(['team.deleted', 'team.created']);
    expect(JSON.stringify(userLog.body)).not.toContain('audit-password');
  });

  describe('validation', () => {
    it('reports every bad field at once, refuses unknown fields, and never coerces types', async () => {
      const response = await call('POST', '/api/users', admin, {
        email: 'not-an-address',
        password: null,
        role: 'owner',
        nickname: 'Bob',
      });
      expect(response.status).toBe(400);
      expect(response.body).toEqual({
        error: {
          code: 'VALIDATION_FAILED',
          message: expect.stringContaining('email'),
          fields: {
            email: 'must match format "email"',
            password: 'must be string',
            role: 'must be one of "admin", "member"',
            nickname: 'is not an allowed field',
          },
        },
      });
    });

    it('does not turn null or a number string into another type', async () => {
      const response = await call('POST', '/api/teams', admin, { name: 'Typed', memberIds: [null, 42] });
      expect(response.status).toBe(400);
      expect(response.body).toMatchObject({
        error: { fields: { 'memberIds.0': 'must be string', 'memberIds.1': 'must be string' } },
      });
      const numeric = await call('POST', '/api/teams', admin, { name: 12345 });
      expect(numeric.body).toMatchObject({ error: { fields: { name: 'must be string' } } });
    });

    it('names a malformed id in the path', async () => {
      const response = await call('GET', '/api/users/not-a-uuid', admin);
      expect(response.status).toBe(400);
      expect(response.body).toMatchObject({
        error: { code: 'VALIDATION_FAILED', fields: { id: expect.any(String) } },
      });
    });
  });
});
