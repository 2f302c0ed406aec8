import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../../clock.ts';
import type { Db, Row } from '../../db/database.ts';
import { newId } from '../../db/ids.ts';
import { AppError } from '../../errors.ts';
import { createAuditService, type AuditService } from '../audit/audit.service.ts';
import * as repo from './auth.repository.ts';
import { createLoginThrottle, FAILURE_MEMORY_MS } from './login-throttle.ts';
import { unknownUserPasswordHash, verifyPassword } from './passwords.ts';
import { findUserByEmail } from './users.repository.ts';
import { toUser } from './users.service.ts';
import {
  normaliseEmail,
  type Actor,
  type ApiToken,
  type CreateApiTokenInput,
  type TokenScope,
  type User,
} from './users.ts';

export const API_TOKEN_PREFIX = 'mr_';
/** A token's or a session's last use is written at most this often, not on every request. */
const LAST_USED_RESOLUTION_MS = 60_000;
/** Failed logins in a row for one address after which (and after each further as many) admins are told. */
export const REPEATED_FAILURES_AUDITED = 5;
export const DEFAULT_SESSION_IDLE_MINUTES = 120;

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
    scope: row.scope,
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
  /** What the caller may do: a token's scope; a session may do all its user's role allows (`admin`). */
  scope: TokenScope;
  /** A session's CSRF token, which each of its state-changing requests must repeat. */
  csrfToken?: string;
}

/** A new login session: the cookie's secret, the CSRF token that goes with it, and its end. */
export interface NewSession {
  user: User;
  sessionToken: string;
  csrfToken: string;
  expiresAt: string;
}

export interface AuthServiceDeps {
  db: Db;
  now: Clock;
  sessionTtlHours: number;
  /** A session unused this long ends (default 120). */
  sessionIdleMinutes?: number;
  /** Where repeated login failures are reported (default: the organisation's audit log). */
  audit?: AuditService;
}

export type AuthService = ReturnType<typeof createAuthService>;

/** Compares two secrets in constant time. */
export function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

export function createAuthService({
  db,
  now,
  sessionTtlHours,
  sessionIdleMinutes = DEFAULT_SESSION_IDLE_MINUTES,
  audit = createAuditService({ db, now }),
}: AuthServiceDeps) {
  const throttle = createLoginThrottle(db, now);
  const idleMs = sessionIdleMinutes * 60_000;

  async function issueToken(
    owner: { userId: string; orgId: string; actorId: string | null },
    input: CreateApiTokenInput,
  ) {
    if (input.expiresAt && Date.parse(input.expiresAt) <= now().getTime()) {
      throw new AppError('VALIDATION_FAILED', 'The token would already have expired.', {
        fields: { expiresAt: 'must be in the future' },
      });
    }
    const secret = `${API_TOKEN_PREFIX}${newSecret()}`;
    const row = {
      id: newId(),
      token_hash: hashToken(secret),
      user_id: owner.userId,
      name: input.name,
      prefix: secret.slice(0, API_TOKEN_PREFIX.length + 6),
      scope: input.scope ?? 'admin',
      created_at: now().toISOString(),
      expires_at: input.expiresAt ? new Date(input.expiresAt).toISOString() : null,
      last_used_at: null,
    };
    await db.transaction().execute(async (tx) => {
      await repo.insertApiToken(tx, row);
      await audit.record(tx, {
        orgId: owner.orgId,
        actorId: owner.actorId,
        action: 'api_token.created',
        targetType: 'api_token',
        targetId: row.id,
        fields: ['scope', ...(row.expires_at ? ['expiresAt'] : [])],
      });
    });
    return { token: toApiToken(row), secret };
  }

  /** Admins see it in the audit log when an address keeps failing: at 5 in a row, 10, 15 … */
  async function reportRepeatedFailures(userId: string, orgId: string, failures: number) {
    if (failures === 0 || failures % REPEATED_FAILURES_AUDITED !== 0) return;
    await audit.record(db, {
      orgId,
      actorId: null,
      action: 'user.login_failed_repeatedly',
      targetType: 'user',
      targetId: userId,
    });
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
      /** The session the caller had before, if any: it ends, so a login always starts a fresh one. */
      previousSessionToken?: string,
    ): Promise<NewSession> {
      const address = normaliseEmail(email);
      await throttle.check(address, ip);
      const user = await findUserByEmail(db, address);
      const valid = await verifyPassword(password, user?.password_hash ?? (await unknownUserPasswordHash()));
      if (!user || !valid) {
        const failures = await throttle.recordFailure(address, ip);
        if (user) await reportRepeatedFailures(user.id, user.org_id, failures);
        throw new AppError('INVALID_CREDENTIALS', 'The email address or password is wrong.');
      }
      await throttle.recordSuccess(address, ip);
      // Always a new id, made here: a session id the client brought (fixation) is never adopted.
      const sessionToken = newSecret();
      const csrfToken = newSecret();
      const created = now();
      const expiresAt = new Date(created.getTime() + sessionTtlHours * 3_600_000).toISOString();
      await repo.insertSession(db, {
        id: newId(),
        token_hash: hashToken(sessionToken),
        user_id: user.id,
        created_at: created.toISOString(),
        expires_at: expiresAt,
        last_seen_at: created.toISOString(),
        csrf_token: csrfToken,
      });
      if (previousSessionToken) await repo.deleteSessionByTokenHash(db, hashToken(previousSessionToken));
      return { user: toUser(user), sessionToken, csrfToken, expiresAt };
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
        return {
          userId: token.user_id,
          orgId: token.org_id,
          role: token.role,
          via: 'token',
          scope: token.scope,
        };
      }
      if (sessionToken) {
        const session = await repo.findSessionByTokenHash(db, hashToken(sessionToken));
        const lastSeen = session ? Date.parse(session.last_seen_at ?? session.created_at) : 0;
        if (
          !session ||
          !session.csrf_token ||
          Date.parse(session.expires_at) <= current.getTime() ||
          current.getTime() - lastSeen >= idleMs
        ) {
          if (session) await repo.deleteSession(db, session.id);
          throw new AppError('UNAUTHENTICATED', 'Your session has ended; log in again.');
        }
        // Sliding expiry: the last use is written when it is over a minute old, not on every request.
        if (current.getTime() - lastSeen > LAST_USED_RESOLUTION_MS) {
          await repo.touchSession(db, session.id, current.toISOString());
        }
        return {
          userId: session.user_id,
          orgId: session.org_id,
          role: session.role,
          via: 'session',
          scope: 'admin',
          csrfToken: session.csrf_token,
        };
      }
      throw new AppError('UNAUTHENTICATED', 'Log in, or send an API token as Authorization: Bearer.');
    },

    async createApiToken(actor: Actor, input: CreateApiTokenInput) {
      return issueToken({ userId: actor.userId, orgId: actor.orgId, actorId: actor.userId }, input);
    },

    /** For the CLI, which acts for the operator on the machine rather than for a logged-in user. */
    async createApiTokenForEmail(
      email: string,
      name: string,
      options: { scope?: TokenScope; expiresAt?: string } = {},
    ) {
      const user = await findUserByEmail(db, normaliseEmail(email));
      if (!user) throw new AppError('USER_NOT_FOUND', `No user with the address ${normaliseEmail(email)}.`);
      return issueToken({ userId: user.id, orgId: user.org_id, actorId: null }, { name, ...options });
    },

    async listApiTokens(actor: Actor): Promise<ApiToken[]> {
      const rows = await repo.listApiTokenRows(db, actor.userId);
      return rows.map(toApiToken);
    },

    async revokeApiToken(actor: Actor, id: string): Promise<void> {
      await db.transaction().execute(async (tx) => {
        if (!(await repo.deleteApiTokenRow(tx, actor.userId, id))) {
          throw new AppError('TOKEN_NOT_FOUND', `No API token ${id}.`);
        }
        await audit.record(tx, {
          orgId: actor.orgId,
          actorId: actor.userId,
          action: 'api_token.revoked',
          targetType: 'api_token',
          targetId: id,
        });
      });
    },

    /** Housekeeping: sessions past their end or idle too long, and failures past their memory. */
    async purgeExpired(): Promise<{ sessions: number; loginFailures: number }> {
      const current = now();
      const sessions = await repo.deleteSessionsExpiredBefore(
        db,
        current.toISOString(),
        new Date(current.getTime() - idleMs).toISOString(),
      );
      const loginFailures = await repo.deleteLoginFailuresBefore(
        db,
        new Date(current.getTime() - FAILURE_MEMORY_MS).toISOString(),
      );
      return { sessions, loginFailures };
    },
  };
}
