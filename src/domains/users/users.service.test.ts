import { describe, expect, it } from 'vitest';
import { testDialects, useTestDatabase } from '../../../test/support/dialects.ts';
import { createAuditService } from '../audit/audit.service.ts';
import { createUsersService } from './users.service.ts';

describe.each(testDialects)('the users service on %s', (dialect) => {
  const database = useTestDatabase(dialect);
  const service = () => {
    const now = () => new Date();
    return createUsersService({
      ...database.current,
      now,
      audit: createAuditService({ db: database.current.db, now }),
    });
  };

  it('keeps one admin when two admins demote each other at the same moment', async () => {
    const users = service();
    const a = await users.createUserInOrganisation({
      organisationName: 'Race',
      email: 'a@race.test',
      password: 'password-a',
    });
    const b = await users.createUserInOrganisation({
      organisationName: 'Race',
      email: 'b@race.test',
      password: 'password-b',
      role: 'admin',
    });
    const actorA = { userId: a.user.id, orgId: a.organisation.id, role: 'admin' as const };
    const actorB = { userId: b.user.id, orgId: b.organisation.id, role: 'admin' as const };
    const outcomes = await Promise.allSettled([
      users.updateUser(actorA, b.user.id, { role: 'member' }),
      users.updateUser(actorB, a.user.id, { role: 'member' }),
    ]);
    expect(outcomes.map((outcome) => outcome.status).sort()).toEqual(['fulfilled', 'rejected']);
    const rejected = outcomes.find((outcome) => outcome.status === 'rejected') as PromiseRejectedResult;
    expect(rejected.reason).toMatchObject({ code: 'LAST_ADMIN' });
    const admins = await database.current.db
      .selectFrom('users')
      .select('email')
      .where('org_id', '=', a.organisation.id)
      .where('role', '=', 'admin')
      .execute();
    expect(admins).toHaveLength(1);
  });

  it('treats addresses case-insensitively and keeps organisations apart', async () => {
    const users = service();
    const created = await users.createUserInOrganisation({
      organisationName: 'Case Co',
      email: '  Mixed.Case@Example.TEST ',
      password: 'long-enough',
    });
    expect(created.user.email).toBe('mixed.case@example.test');
    await expect(
      users.createUserInOrganisation({
        organisationName: 'Other Co',
        email: 'MIXED.case@example.test',
        password: 'long-enough',
      }),
    ).rejects.toMatchObject({ code: 'EMAIL_TAKEN' });
    const other = await users.createUserInOrganisation({
      organisationName: 'Other Co',
      email: 'o@other.test',
      password: 'long-enough',
    });
    const actor = { userId: other.user.id, orgId: other.organisation.id, role: 'admin' as const };
    await expect(users.getUser(actor, created.user.id)).rejects.toMatchObject({ code: 'USER_NOT_FOUND' });
    expect((await users.listUsers(actor, {})).items.map((user) => user.email)).toEqual(['o@other.test']);
  });
});
