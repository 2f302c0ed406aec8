import type { Clock } from '../../clock.ts';
import type { Db } from '../../db/database.ts';
import { isUniqueViolation } from '../../db/errors.ts';
import { newId } from '../../db/ids.ts';
import { AppError } from '../../errors.ts';
import type { AuditService } from '../audit/audit.service.ts';
import { hashPassword } from './passwords.ts';
import type { SetupInput } from './setup.ts';
import * as repo from './users.repository.ts';
import { toUser } from './users.service.ts';
import { normaliseEmail, type Organisation, type User } from './users.ts';

export interface SetupServiceDeps {
  db: Db;
  now: Clock;
  audit: AuditService;
}

export type SetupService = ReturnType<typeof createSetupService>;

function alreadySetUp(): AppError {
  return new AppError(
    'ALREADY_SET_UP',
    'Mailroom is already set up. Log in, or ask an admin of your organisation to add you.',
  );
}

/**
 * First run: while no user exists, anyone who reaches the service may create the first organisation
 * and its admin, once. Two people racing for it: the second waits on the first_run guard row, then
 * fails on its key (or, if the first gave up, finds no user and goes ahead).
 */
export function createSetupService({ db, now, audit }: SetupServiceDeps) {
  async function anyUser(executor: Pick<Db, 'selectFrom'>): Promise<boolean> {
    return (await executor.selectFrom('users').select('id').limit(1).executeTakeFirst()) !== undefined;
  }

  return {
    async status(): Promise<{ needed: boolean }> {
      return { needed: !(await anyUser(db)) };
    },

    async setUp(input: SetupInput): Promise<{ user: User; organisation: Organisation }> {
      if (await anyUser(db)) throw alreadySetUp();
      const email = normaliseEmail(input.email);
      // Hashed before the transaction, so the guard is held for a few milliseconds only.
      const passwordHash = await hashPassword(input.password);
      return db.transaction().execute(async (tx) => {
        const timestamp = now().toISOString();
        try {
          await tx.insertInto('first_run').values({ id: 'setup', created_at: timestamp }).execute();
        } catch (error) {
          if (isUniqueViolation(error)) throw alreadySetUp();
          throw error;
        }
        // Users made another way (the CLI) also end the first run.
        if (await anyUser(tx)) throw alreadySetUp();
        const organisation = await repo.insertOrganisation(tx, {
          id: newId(),
          name: input.organisationName.trim(),
          created_at: timestamp,
        });
        const user = await repo.insertUser(tx, {
          id: newId(),
          org_id: organisation.id,
          email,
          name: input.name.trim(),
          role: 'admin',
          password_hash: passwordHash,
          created_at: timestamp,
          updated_at: timestamp,
        });
        await tx
          .updateTable('first_run')
          .set({ org_id: organisation.id, user_id: user.id })
          .where('id', '=', 'setup')
          .execute();
        await audit.record(tx, {
          orgId: organisation.id,
          actorId: user.id,
          action: 'user.created',
          targetType: 'user',
          targetId: user.id,
          fields: ['email', 'name', 'password', 'role'],
        });
        return {
          user: toUser(user),
          organisation: { id: organisation.id, name: organisation.name, createdAt: organisation.created_at },
        };
      });
    },
  };
}
