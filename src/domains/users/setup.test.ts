import { describe, expect, it } from 'vitest';
import { request, signUp, useTestApp } from '../../../test/support/app.ts';
import { testDialects } from '../../../test/support/dialects.ts';
import { connectDatabase } from '../../db/connect.ts';
import { newId } from '../../db/ids.ts';
import { createSetupService } from './setup.service.ts';

const admin = (n: number) => ({
  organisationName: `Acme ${n}`,
  name: `Ada ${n}`,
  email: `ada${n}@acme.test`,
  password: 'a long password',
});

describe.each(testDialects)('first-run setup on %s', (dialect) => {
  describe('on a new installation', () => {
    const testApp = useTestApp(dialect);

    it('says setup is needed, refuses bad input naming every field, then creates the org and admin once', async () => {
      const { baseUrl } = testApp.current;
      expect((await request(baseUrl, 'GET', '/api/setup')).body).toEqual({ needed: true });

      const bad = await request(baseUrl, 'POST', '/api/setup', {
        body: { organisationName: '', name: 'Ada', email: 'not an address', password: 'short' },
      });
      expect(bad.status).toBe(400);
      expect(Object.keys((bad.body as { error: { fields: object } }).error.fields).sort()).toEqual([
        'email',
        'organisationName',
        'password',
      ]);
      expect((await request(baseUrl, 'GET', '/api/setup')).body).toEqual({ needed: true });

      const created = await request(baseUrl, 'POST', '/api/setup', {
        body: { ...admin(1), email: 'Ada1@Acme.test' },
      });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({
        user: { email: 'ada1@acme.test', name: 'Ada 1', role: 'admin' },
        organisation: { name: 'Acme 1' },
      });
      // Logged in at once, as the admin of the new organisation.
      const cookie = (created.headers.get('set-cookie') ?? '').split(';')[0]!;
      expect(cookie).toMatch(/^mailroom_session=/);
      const me = await request(baseUrl, 'GET', '/api/me', { cookie });
      expect(me.body).toMatchObject({ user: { role: 'admin' }, organisation: { name: 'Acme 1' } });

      expect((await request(baseUrl, 'GET', '/api/setup')).body).toEqual({ needed: false });
      const again = await request(baseUrl, 'POST', '/api/setup', { body: admin(2) });
      expect(again.status).toBe(409);
      expect(again.body).toMatchObject({ error: { code: 'ALREADY_SET_UP' } });
      expect(again.headers.get('set-cookie')).toBeNull();
    });
  });

  describe('with two people racing for it', () => {
    const testApp = useTestApp(dialect);

    it('lets exactly one of several simultaneous requests through', async () => {
      const { baseUrl, container } = testApp.current;
      const answers = await Promise.all(
        [1, 2, 3, 4, 5, 6].map((n) => request(baseUrl, 'POST', '/api/setup', { body: admin(n) })),
      );
      expect(answers.map((answer) => answer.status).sort()).toEqual([201, 409, 409, 409, 409, 409]);
      for (const answer of answers.filter((a) => a.status === 409)) {
        expect(answer.body).toMatchObject({ error: { code: 'ALREADY_SET_UP' } });
      }
      const users = await container.db.selectFrom('users').select(['email', 'role']).execute();
      const organisations = await container.db.selectFrom('organisations').select('name').execute();
      expect(users).toHaveLength(1);
      expect(users[0]!.role).toBe('admin');
      expect(organisations).toHaveLength(1);
    });

    // SQLite has one write lock for the whole database, so two setups there run one after the other
    // by construction; on PostgreSQL only the first_run key stops a second setup that began while
    // the first one's user was not yet committed.
    if (dialect === 'postgres') {
      it('makes a setup that began while another was in flight wait for it, then refuses it', async () => {
        const { container, database } = testApp.current;
        await container.db.deleteFrom('first_run').execute();
        await container.db.deleteFrom('users').execute();
        await container.db.deleteFrom('organisations').execute();
        const other = connectDatabase(database.config);
        let release!: () => void;
        let holding!: () => void;
        const released = new Promise<void>((resolve) => (release = resolve));
        const held = new Promise<void>((resolve) => (holding = resolve));
        const first = other.db.transaction().execute(async (tx) => {
          const at = new Date().toISOString();
          await tx.insertInto('first_run').values({ id: 'setup', created_at: at }).execute();
          await tx
            .insertInto('organisations')
            .values({ id: newId(), name: 'First', created_at: at })
            .execute();
          holding();
          await released;
        });
        await held;
        const setup = createSetupService({
          db: container.db,
          now: container.now,
          audit: container.services.audit,
        });
        const second = setup.setUp(admin(8));
        const settled = { done: false };
        void second.catch(() => undefined).finally(() => (settled.done = true));
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(settled.done).toBe(false);
        release();
        await first;
        await other.db.destroy();
        await expect(second).rejects.toMatchObject({ code: 'ALREADY_SET_UP' });
        expect(await container.db.selectFrom('organisations').select('name').execute()).toEqual([
          { name: 'First' },
        ]);
      });
    }
  });

  describe('when users were made another way', () => {
    const testApp = useTestApp(dialect);

    it('is not needed and refused once a user exists (made with the CLI)', async () => {
      const { baseUrl, container } = testApp.current;
      await signUp(container, { org: 'Made By CLI', role: 'admin' });
      expect((await request(baseUrl, 'GET', '/api/setup')).body).toEqual({ needed: false });
      const refused = await request(baseUrl, 'POST', '/api/setup', { body: admin(9) });
      expect(refused.status).toBe(409);
      expect(refused.body).toMatchObject({ error: { code: 'ALREADY_SET_UP' } });
    });
  });
});
