import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config.ts';
import type { AuthService, Authenticated } from '../domains/users/auth.service.ts';
import { AppError } from '../errors.ts';

export const SESSION_COOKIE = 'mailroom_session';

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

/** Every route needs a caller, unless it says it is public. */
export function authenticateRequests(auth: AuthService) {
  return async function authenticate(request: FastifyRequest): Promise<void> {
    request.actor = null;
    if (request.routeOptions.config.public || request.is404) return;
    request.actor = await auth.authenticate({
      bearerToken: bearerToken(request),
      sessionToken: request.cookies[SESSION_COOKIE],
    });
  };
}

export function actorOf(request: FastifyRequest): Authenticated {
  if (!request.actor) throw new AppError('UNAUTHENTICATED', 'Log in, or send an API token.');
  return request.actor;
}

export function setSessionCookie(
  reply: FastifyReply,
  request: FastifyRequest,
  config: Config,
  token: string,
  expiresAt: string,
): void {
  reply.setCookie(SESSION_COOKIE, token, {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: config.cookieSecure === 'auto' ? request.protocol === 'https' : config.cookieSecure,
    expires: new Date(expiresAt),
  });
}

export function clearSessionCookie(reply: FastifyReply): void {
  reply.clearCookie(SESSION_COOKIE, { path: '/', httpOnly: true, sameSite: 'lax' });
}
