import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { createContainer, type Container } from '../src/container.ts';
import { createLogger } from '../src/logger.ts';
import { runMailroom } from './support/cli.ts';
import { testDialects, useTestDatabase } from './support/dialects.ts';

describe.each(testDialects)('the outbox CLI on %s', (dialect) => {
  const database = useTestDatabase(dialect);
  let container: Container;
  let accountId = '';
  const messageIds: string[] = [];

  beforeAll(async () => {
    container = await createContainer(loadConfig({ ...database.current.env, LOG_LEVEL: 'silent' }), {
      logger: createLogger('silent'),
    });
    const { users, accounts, messages } = container.services;
    const { user, organisation } = await users.createUserInOrganisation({
      organisationName: 'Operators',
      email: 'op@operators.test',
      password: 'operator-password',
    });
    const actor = { userId: user.id, orgId: organisation.id, role: 'admin' as const };
    accountId = (
      await accounts.create(actor, {
        type: 'own',
        name: 'Ops',
        email: 'ops@operators.test',
        smtp: { host: 'smtp.operators.test', requiresAuth: false },
      })
    ).id;
    for (const to of ['a@client.test', 'b@client.test', 'c@client.test']) {
      messageIds.push(
        (await messages.queue(actor, { accountId, to: [to], subject: 'x', text: 'x' }, null)).id,
      );
    }
    await database.current.db
      .updateTable('messages')
      .set({ status: 'error', attempts: 8 })
      .where('id', 'in', messageIds.slice(0, 2))
      .execute();
  });
  afterAll(() => container.close());

  const statuses = async () =>
    (
      await database.current.db
        .selectFrom('messages')
        .select(['id', 'status'])
        .where('id', 'in', messageIds)
        .execute()
    )
      .sort((a, b) => messageIds.indexOf(a.id) - messageIds.indexOf(b.id))
      .map((row) => row.status);

  it('clears an account’s errors and cancels a message, printing what it did', async () => {
    const cleared = await runMailroom(['outbox', 'clear-errors', accountId], database.current.env);
    expect(cleared).toMatchObject({ code: 0, stdout: '2 message(s) moved\n' });
    expect(await statuses()).toEqual(['ready', 'ready', 'ready']);

    const cancelled = await runMailroom(['message', 'cancel', messageIds[2]!], database.current.env);
    expect(cancelled).toMatchObject({ code: 0, stdout: `${messageIds[2]} cancelled\n` });
    expect(await statuses()).toEqual(['ready', 'ready', 'cancelled']);
  });

  it('names an unknown account or message, and a wrong action', async () => {
    const unknown = await runMailroom(
      ['outbox', 'reset-sending', '01a00000-0000-7000-8000-000000000000'],
      database.current.env,
    );
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('ACCOUNT_NOT_FOUND');
    const wrong = await runMailroom(['message', 'explode', messageIds[0]!], database.current.env);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('usage: mailroom message cancel|reset-sending|clear-error MESSAGE_ID');
    const sent = await runMailroom(['message', 'clear-error', messageIds[2]!], database.current.env);
    expect(sent.code).toBe(1);
    expect(sent.stderr).toContain('MESSAGE_STATE_CONFLICT');
  });
});
