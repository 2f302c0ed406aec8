import type { Clock } from '../../clock.ts';
import type { Db, DbOrTx, Dialect, Row, Tx } from '../../db/database.ts';
import { isUniqueViolation } from '../../db/errors.ts';
import { newId } from '../../db/ids.ts';
import { AppError } from '../../errors.ts';
import { toPageWindow, type Page, type PageResult } from '../../pagination.ts';
import type { AuditService } from '../audit/audit.service.ts';
import { hashPassword } from './passwords.ts';
import { requireAdmin } from './policy.ts';
import * as repo from './users.repository.ts';
import {
  MIN_PASSWORD_LENGTH,
  normaliseEmail,
  type Actor,
  type CreateTeamInput,
  type CreateUserInput,
  type Organisation,
  type Role,
  type Team,
  type UpdateTeamInput,
  type UpdateUserInput,
  type User,
} from './users.ts';

export function toUser(row: Row<'users'>): User {
  return {
    id: row.id,
    organisationId: row.org_id,
    email: row.email,
    name: row.name,
    role: row.role,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function toOrganisation(row: Row<'organisations'>): Organisation {
  return { id: row.id, name: row.name, createdAt: row.created_at };
}

function toTeam(row: Row<'teams'>, memberIds: string[]): Team {
  return { id: row.id, name: row.name, memberIds, createdAt: row.created_at, updatedAt: row.updated_at };
}

export interface UsersServiceDeps {
  db: Db;
  dialect: Dialect;
  now: Clock;
  audit: AuditService;
}

export type UsersService = ReturnType<typeof createUsersService>;

export function createUsersService({ db, dialect, now, audit }: UsersServiceDeps) {
  function recordChange(
    tx: DbOrTx,
    actor: Actor | null,
    orgId: string,
    action: string,
    target: { type: 'user' | 'team'; id: string },
    fields: string[] = [],
  ) {
    return audit.record(tx, {
      orgId,
      actorId: actor?.userId ?? null,
      action,
      targetType: target.type,
      targetId: target.id,
      fields,
    });
  }

  /** The names of the fields an input sets, for the audit log (never their values). */
  function fieldsOf(input: object): string[] {
    return Object.entries(input)
      .filter(([, value]) => value !== undefined)
      .map(([key]) => key)
      .sort();
  }

  async function insertUserChecked(
    tx: DbOrTx,
    orgId: string,
    input: { email: string; password: string; name?: string | undefined; role: Role },
  ): Promise<User> {
    const email = normaliseEmail(input.email);
    checkCredentialsShape(email, input.password);
    if (await repo.findUserByEmail(tx, email)) throw emailTaken(email);
    const timestamp = now().toISOString();
    try {
      const row = await repo.insertUser(tx, {
        id: newId(),
        org_id: orgId,
        email,
        name: input.name ?? email,
        role: input.role,
        password_hash: await hashPassword(input.password),
        created_at: timestamp,
        updated_at: timestamp,
      });
      return toUser(row);
    } catch (error) {
      if (isUniqueViolation(error)) throw emailTaken(email);
      throw error;
    }
  }

  async function userInOrganisation(tx: DbOrTx, actor: Actor, id: string): Promise<Row<'users'>> {
    const row = await repo.findUserById(tx, id);
    if (!row || row.org_id !== actor.orgId) throw new AppError('USER_NOT_FOUND', `No user ${id}.`);
    return row;
  }

  async function teamInOrganisation(tx: DbOrTx, actor: Actor, id: string): Promise<Row<'teams'>> {
    const row = await repo.findTeam(tx, actor.orgId, id);
    if (!row) throw new AppError('TEAM_NOT_FOUND', `No team ${id}.`);
    return row;
  }

  async function checkMembers(tx: DbOrTx, actor: Actor, memberIds: readonly string[]): Promise<void> {
    const found = new Set(
      (await repo.findUserIdsInOrganisation(tx, actor.orgId, memberIds)).map((r) => r.id),
    );
    const fields: Record<string, string> = {};
    memberIds.forEach((id, index) => {
      if (!found.has(id)) fields[`memberIds.${index}`] = `no user ${id} in this organisation`;
    });
    if (Object.keys(fields).length > 0) {
      throw new AppError('VALIDATION_FAILED', 'Some team members are not users of this organisation.', {
        fields,
      });
    }
  }

  /** Keeps at least one admin per organisation, so nobody is locked out of administering it. */
  async function ensureAnotherAdmin(tx: Tx, user: Row<'users'>): Promise<void> {
    await repo.lockOrganisation(tx, dialect, user.org_id);
    if (user.role === 'admin' && (await repo.countRows(tx, 'users', user.org_id, 'admin')) <= 1) {
      throw new AppError(
        'LAST_ADMIN',
        'This is the organisation’s last admin; make another user admin first.',
      );
    }
  }

  return {
    /**
     * For the CLI: creates the organisation when it does not exist and joins it when it does. The
     * first user of a new organisation is its admin unless told otherwise.
     */
    async createUserInOrganisation(input: {
      organisationName: string;
      email: string;
      password: string;
      name?: string | undefined;
      role?: Role | undefined;
    }): Promise<{ user: User; organisation: Organisation; organisationCreated: boolean }> {
      return db.transaction().execute(async (tx) => {
        const existing = await repo.findOrganisationByName(tx, input.organisationName);
        const organisation =
          existing ??
          (await repo.insertOrganisation(tx, {
            id: newId(),
            name: input.organisationName,
            created_at: now().toISOString(),
          }));
        const role = input.role ?? (existing ? 'member' : 'admin');
        const user = await insertUserChecked(tx, organisation.id, { ...input, role });
        await recordChange(tx, null, organisation.id, 'user.created', { type: 'user', id: user.id }, [
          'email',
          'name',
          'password',
          'role',
        ]);
        return { user, organisation: toOrganisation(organisation), organisationCreated: !existing };
      });
    },

    async getMe(actor: Actor): Promise<{ user: User; organisation: Organisation }> {
      const user = await userInOrganisation(db, actor, actor.userId);
      const organisation = await repo.findOrganisationById(db, actor.orgId);
      if (!organisation) throw new AppError('ORGANISATION_NOT_FOUND', 'Your organisation no longer exists.');
      return { user: toUser(user), organisation: toOrganisation(organisation) };
    },

    async listUsers(actor: Actor, page: Page): Promise<PageResult<User>> {
      const [rows, total] = await Promise.all([
        repo.listUserRows(db, actor.orgId, toPageWindow(page)),
        repo.countRows(db, 'users', actor.orgId),
      ]);
      return { items: rows.map(toUser), total };
    },

    async getUser(actor: Actor, id: string): Promise<User> {
      return toUser(await userInOrganisation(db, actor, id));
    },

    async createUser(actor: Actor, input: CreateUserInput): Promise<User> {
      requireAdmin(actor, 'add users');
      return db.transaction().execute(async (tx) => {
        const user = await insertUserChecked(tx, actor.orgId, { ...input, role: input.role ?? 'member' });
        await recordChange(
          tx,
          actor,
          actor.orgId,
          'user.created',
          { type: 'user', id: user.id },
          fieldsOf({ ...input, role: user.role }),
        );
        return user;
      });
    },

    /** Admins change anyone; a member changes only their own name and password. */
    async updateUser(actor: Actor, id: string, input: UpdateUserInput): Promise<User> {
      if (actor.role !== 'admin' && (id !== actor.userId || input.role !== undefined)) {
        requireAdmin(actor, id === actor.userId ? 'change roles' : 'change other users');
      }
      return db.transaction().execute(async (tx) => {
        const user = await userInOrganisation(tx, actor, id);
        if (input.role === 'member' && user.role === 'admin') await ensureAnotherAdmin(tx, user);
        await repo.updateUserRow(tx, id, {
          ...(input.name !== undefined && { name: input.name }),
          ...(input.role !== undefined && { role: input.role }),
          ...(input.password !== undefined && { password_hash: await hashPassword(input.password) }),
          updated_at: now().toISOString(),
        });
        await recordChange(tx, actor, actor.orgId, 'user.updated', { type: 'user', id }, fieldsOf(input));
        return toUser(await userInOrganisation(tx, actor, id));
      });
    },

    async deleteUser(actor: Actor, id: string): Promise<void> {
      requireAdmin(actor, 'remove users');
      await db.transaction().execute(async (tx) => {
        const user = await userInOrganisation(tx, actor, id);
        await ensureAnotherAdmin(tx, user);
        await repo.deleteUserRow(tx, id);
        await recordChange(tx, actor, actor.orgId, 'user.deleted', { type: 'user', id });
      });
    },

    async listTeams(actor: Actor, page: Page): Promise<PageResult<Team>> {
      const [rows, total] = await Promise.all([
        repo.listTeamRows(db, actor.orgId, toPageWindow(page)),
        repo.countRows(db, 'teams', actor.orgId),
      ]);
      const members = await repo.findTeamMemberIds(
        db,
        rows.map((row) => row.id),
      );
      return { items: rows.map((row) => toTeam(row, members.get(row.id) ?? [])), total };
    },

    async getTeam(actor: Actor, id: string): Promise<Team> {
      const row = await teamInOrganisation(db, actor, id);
      const members = await repo.findTeamMemberIds(db, [id]);
      return toTeam(row, members.get(id) ?? []);
    },

    async createTeam(actor: Actor, input: CreateTeamInput): Promise<Team> {
      requireAdmin(actor, 'create teams');
      const memberIds = input.memberIds ?? [];
      return db.transaction().execute(async (tx) => {
        if (await repo.findTeamByName(tx, actor.orgId, input.name)) throw teamNameTaken(input.name);
        await checkMembers(tx, actor, memberIds);
        const timestamp = now().toISOString();
        try {
          const row = await repo.insertTeam(tx, {
            id: newId(),
            org_id: actor.orgId,
            name: input.name,
            created_at: timestamp,
            updated_at: timestamp,
          });
          await repo.replaceTeamMembers(tx, row.id, memberIds);
          await recordChange(
            tx,
            actor,
            actor.orgId,
            'team.created',
            { type: 'team', id: row.id },
            fieldsOf(input),
          );
          return toTeam(row, [...memberIds].sort());
        } catch (error) {
          if (isUniqueViolation(error)) throw teamNameTaken(input.name);
          throw error;
        }
      });
    },

    async updateTeam(actor: Actor, id: string, input: UpdateTeamInput): Promise<Team> {
      requireAdmin(actor, 'change teams');
      return db.transaction().execute(async (tx) => {
        const team = await teamInOrganisation(tx, actor, id);
        if (input.name !== undefined && input.name !== team.name) {
          if (await repo.findTeamByName(tx, actor.orgId, input.name)) throw teamNameTaken(input.name);
        }
        if (input.memberIds) {
          await checkMembers(tx, actor, input.memberIds);
          await repo.replaceTeamMembers(tx, id, input.memberIds);
        }
        await repo.updateTeamRow(tx, id, {
          ...(input.name !== undefined && { name: input.name }),
          updated_at: now().toISOString(),
        });
        await recordChange(tx, actor, actor.orgId, 'team.updated', { type: 'team', id }, fieldsOf(input));
        const members = await repo.findTeamMemberIds(tx, [id]);
        return toTeam(await teamInOrganisation(tx, actor, id), members.get(id) ?? []);
      });
    },

    async deleteTeam(actor: Actor, id: string): Promise<void> {
      requireAdmin(actor, 'delete teams');
      await db.transaction().execute(async (tx) => {
        await teamInOrganisation(tx, actor, id);
        await repo.deleteTeamRow(tx, id);
        await recordChange(tx, actor, actor.orgId, 'team.deleted', { type: 'team', id });
      });
    },
  };
}

/** The API's schema checks the same; this guards the CLI, which has no schema in front of it. */
function checkCredentialsShape(email: string, password: string): void {
  const fields: Record<string, string> = {};
  if (!/^[^\s@]+@[^\s@]+$/.test(email)) fields.email = 'must be an email address';
  if (password.length < MIN_PASSWORD_LENGTH)
    fields.password = `must be at least ${MIN_PASSWORD_LENGTH} characters`;
  if (Object.keys(fields).length > 0) {
    throw new AppError('VALIDATION_FAILED', `Invalid ${Object.keys(fields).join(' and ')}.`, { fields });
  }
}

function emailTaken(email: string): AppError {
  return new AppError('EMAIL_TAKEN', `A user with the address ${email} already exists.`, {
    fields: { email: 'is already taken' },
  });
}

function teamNameTaken(name: string): AppError {
  return new AppError('TEAM_NAME_TAKEN', `A team named "${name}" already exists.`, {
    fields: { name: 'is already taken' },
  });
}
