import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config.ts';
import {
  sameSecret,
  type AuthService,
  type Authenticated,
  type NewSession,
} from '../domains/users/auth.service.ts';
import type { TokenScope } from '../domains/users/users.ts';
import { AppError } from '../errors.ts';

export const SESSION_COOKIE = 'mailroom_session';
/**
 * The session's CSRF token, readable by the UI's own script (not HttpOnly), which repeats it in
 * the X-CSRF-Token header of every state-changing request. The server compares the header with the
 * token stored with the session, not with this cookie, so a cookie planted by someone else is useless.
 */
export const CSRF_COOKIE = 'mailroom_csrf';
export const CSRF_HEADER = 'x-csrf-token';

/** Methods that change nothing: no CSRF token needed, and a `read` token may use them. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** What a `send` token may do besides reading: queue messages. Matched on the route's pattern. */
const SEND_ROUTES = new Set(['POST /api/messages', 'POST /api/messages/batch']);

declare module 'fastify' {
  interface FastifyRequest {
    actor: Authenticated | null;
  }
  interface FastifyContextConfig {
    /** A route anyone may call, logged in or not. */
    public?: boolean;
  }
}

function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match) throw new AppError('UNAUTHENTICATED', 'Send the API token as Authorization: Bearer <token>.');
  return match[1];
}

/** Whether an API token of this scope may make this request (`admin`: all the user's role allows). */
export function scopeAllows(scope: TokenScope, method: string, route: string | undefined): boolean {
  if (scope === 'admin' || SAFE_METHODS.has(method)) return true;
  return scope === 'send' && SEND_ROUTES.has(`${method} ${route}`);
}

/**
 * A request authenticated by the session cookie must repeat the session's CSRF token: a page on
 * another site can make the browser send the cookie, but cannot read the token nor set the header.
 */
export function requireCsrfToken(request: FastifyRequest, actor: Authenticated): void {
  const given = request.headers[CSRF_HEADER];
  if (typeof given !== 'string' || !actor.csrfToken || !sameSecret(given, actor.csrfToken)) {
    throw new AppError(
      'CSRF_TOKEN_INVALID',
      'This request must carry the X-CSRF-Token header with your session’s token; reload the page and try again.',
    );
  }
}

function secureCookies(request: FastifyRequest, config: Config): boolean {
  return config.cookieSecure === 'auto' ? request.protocol === 'https' : config.cookieSecure;
}

function setCsrfCookie(reply: FastifyReply, request: FastifyRequest, config: Config, csrfToken: string) {
  reply.setCookie(CSRF_COOKIE, csrfToken, {
    path: '/',
    httpOnly: false,
    sameSite: 'lax',
    secure: secureCookies(request, config),
  });
}

/**
 * Every route needs a caller, unless it says it is public. A session must also show its CSRF token
 * on anything but GET and HEAD; an API token must have the scope for the request.
 */
export function authenticateRequests(auth: AuthService, config: Config) {
  return async function authenticate(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    request.actor = null;
    if (request.routeOptions.config.public || request.is404 || request.method === 'OPTIONS') return;
    const actor = await auth.authenticate({
      bearerToken: bearerToken(request),
      sessionToken: request.cookies[SESSION_COOKIE],
    });
    if (actor.via === 'session') {
      if (!SAFE_METHODS.has(request.method)) requireCsrfToken(request, actor);
      // The UI lost its copy of the token (a cleared cookie): hand it over again on a safe request.
      else if (actor.csrfToken && request.cookies[CSRF_COOKIE] !== actor.csrfToken) {
        setCsrfCookie(reply, request, config, actor.csrfToken);
      }
    } else if (!scopeAllows(actor.scope, request.method, request.routeOptions.url)) {
      throw new AppError(
        'TOKEN_SCOPE_INSUFFICIENT',
        `This API token's scope (${actor.scope}) does not allow ${request.method} ${request.routeOptions.url}.`,
      );
    }
    request.actor = actor;
  };
}

export function actorOf(request: FastifyRequest): Authenticated {
  if (!request.actor) throw new AppError('UNAUTHENTICATED', 'Log in, or send an API token.');
  return request.actor;
}

/**
 * The session cookie: HttpOnly (no script reads it), SameSite=Lax (not sent on cross-site POSTs),
 * Secure over HTTPS (COOKIE_SECURE), and the CSRF token's cookie beside it.
 */
export function setSessionCookie(
  reply: FastifyReply,
  request: FastifyRequest,
  config: Config,
  session: Pick<NewSession, 'sessionToken' | 'csrfToken' | 'expiresAt'>,
): void {
  reply.setCookie(SESSION_COOKIE, session.sessionToken, {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: secureCookies(request, config),
    expires: new Date(session.expiresAt),
  });
  setCsrfCookie(reply, request, config, session.csrfToken);
}

export function clearSessionCookie(reply: FastifyReply): void {
  reply.clearCookie(SESSION_COOKIE, { path: '/', httpOnly: true, sameSite: 'lax' });
  reply.clearCookie(CSRF_COOKIE, { path: '/', sameSite: 'lax' });
}
