import { createHash, randomBytes } from 'node:crypto';
import type { Clock } from '../../clock.ts';
import type { Db, Row } from '../../db/database.ts';
import { newId } from '../../db/ids.ts';
import { AppError } from '../../errors.ts';
import * as repo from './auth.repository.ts';
import { createLoginThrottle, FAILURE_MEMORY_MS } from './login-throttle.ts';
import { unknownUserPasswordHash, verifyPassword } from './passwords.ts';
import { findUserByEmail } from './users.repository.ts';
import { toUser } from './users.service.ts';
import { normaliseEmail, type Actor, type ApiToken, type CreateApiTokenInput, type User } from './users.ts';

export const API_TOKEN_PREFIX = 'mr_';
/** A token's last use is written at most this often, not on every request. */
const LAST_USED_RESOLUTION_MS = 60_000;

/** Only the hash of a session or API token is stored, so a copy of the database logs nobody in. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

function toApiToken(row: Omit<Row<'api_tokens'>, 'token_hash' | 'user_id'>): ApiToken {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    lastUsedAt: row.last_used_at,
  };
}

export interface Credentials {
  bearerToken?: string | undefined;
  sessionToken?: string | undefined;
}

export interface Authenticated extends Actor {
  via: 'session' | 'token';
}

export interface AuthServiceDeps {
  db: Db;
  now: Clock;
  sessionTtlHours: number;
}

export type AuthService = ReturnType<typeof createAuthService>;

export function createAuthService({ db, now, sessionTtlHours }: AuthServiceDeps) {
  const throttle = createLoginThrottle(db, now);

  async function issueToken(userId: string, input: CreateApiTokenInput) {
    if (input.expiresAt && Date.parse(input.expiresAt) <= now().getTime()) {
      throw new AppError('VALIDATION_FAILED', 'The token would already have expired.', {
        fields: { expiresAt: 'must be in the future' },
      });
    }
    const secret = `${API_TOKEN_PREFIX}${newSecret()}`;
    const row = {
      id: newId(),
      token_hash: hashToken(secret),
      user_id: userId,
      name: input.name,
      prefix: secret.slice(0, API_TOKEN_PREFIX.length + 6),
      created_at: now().toISOString(),
      expires_at: input.expiresAt ? new Date(input.expiresAt).toISOString() : null,
      last_used_at: null,
    };
    await repo.insertApiToken(db, row);
    return { token: toApiToken(row), secret };
  }

  return {
    /**
     * Checks the password and opens a session. Unknown address and wrong password are one answer,
     * INVALID_CREDENTIALS, so that the reply does not tell which addresses have accounts.
     */
    async login(
      email: string,
      password: string,
      ip: string,
    ): Promise<{ user: User; sessionToken: string; expiresAt: string }> {
      const address = normaliseEmail(email);
      await throttle.check(address, ip);
      const user = await findUserByEmail(db, address);
      const valid = await verifyPassword(password, user?.password_hash ?? (await unknownUserPasswordHash()));
      if (!user || !valid) {
        await throttle.recordFailure(address, ip);
        throw new AppError('INVALID_CREDENTIALS', 'The email address or password is wrong.');
      }
      await throttle.recordSuccess(address, ip);
      const sessionToken = newSecret();
      const created = now();
      const expiresAt = new Date(created.getTime() + sessionTtlHours * 3_600_000).toISOString();
      await repo.insertSession(db, {
        id: newId(),
        token_hash: hashToken(sessionToken),
        user_id: user.id,
        created_at: created.toISOString(),
        expires_at: expiresAt,
      });
      return { user: toUser(user), sessionToken, expiresAt };
    },

    async logout(sessionToken: string): Promise<void> {
      await repo.deleteSessionByTokenHash(db, hashToken(sessionToken));
    },

    /** Resolves the caller from an API token (preferred when both are sent) or a session cookie. */
    async authenticate({ bearerToken, sessionToken }: Credentials): Promise<Authenticated> {
      const current = now();
      if (bearerToken) {
        const token = await repo.findApiTokenByHash(db, hashToken(bearerToken));
        if (!token || (token.expires_at && Date.parse(token.expires_at) <= current.getTime())) {
          throw new AppError('UNAUTHENTICATED', 'The API token is unknown, revoked or expired.');
        }
        if (
          !token.last_used_at ||
          current.getTime() - Date.parse(token.last_used_at) > LAST_USED_RESOLUTION_MS
        ) {
          await repo.touchApiToken(db, token.id, current.toISOString());
        }
        return { userId: token.user_id, orgId: token.org_id, role: token.role, via: 'token' };
      }
      if (sessionToken) {
        const session = await repo.findSessionByTokenHash(db, hashToken(sessionToken));
        if (!session || Date.parse(session.expires_at) <= current.getTime()) {
          throw new AppError('UNAUTHENTICATED', 'Your session has ended; log in again.');
        }
        return { userId: session.user_id, orgId: session.org_id, role: session.role, via: 'session' };
      }
      throw new AppError('UNAUTHENTICATED', 'Log in, or send an API token as Authorization: Bearer.');
    },

    async createApiToken(actor: Actor, input: CreateApiTokenInput) {
      return issueToken(actor.userId, input);
    },

    /** For the CLI, which acts for the operator on the machine rather than for a logged-in user. */
    async createApiTokenForEmail(email: string, name: string) {
      const user = await findUserByEmail(db, normaliseEmail(email));
      if (!user) throw new AppError('USER_NOT_FOUND', `No user with the address ${normaliseEmail(email)}.`);
      return issueToken(user.id, { name });
    },

    async listApiTokens(actor: Actor): Promise<ApiToken[]> {
      const rows = await repo.listApiTokenRows(db, actor.userId);
      return rows.map(toApiToken);
    },

    async revokeApiToken(actor: Actor, id: string): Promise<void> {
      if (!(await repo.deleteApiTokenRow(db, actor.userId, id))) {
        throw new AppError('TOKEN_NOT_FOUND', `No API token ${id}.`);
      }
    },

    /** Housekeeping: sessions past their end and failures past their memory. */
    async purgeExpired(): Promise<{ sessions: number; loginFailures: number }> {
      const current = now();
      const sessions = await repo.deleteSessionsExpiredBefore(db, current.toISOString());
      const loginFailures = await repo.deleteLoginFailuresBefore(
        db,
        new Date(current.getTime() - FAILURE_MEMORY_MS).toISOString(),
      );
      return { sessions, loginFailures };
    },
  };
}
