import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Container } from '../../container.ts';
import { isAppError } from '../../errors.ts';
import {
  actorOf,
  clearSessionCookie,
  requireCsrfToken,
  setSessionCookie,
  SESSION_COOKIE,
} from '../../http/auth.ts';
import { ErrorBody, IdParams, StrictObject, Timestamp } from '../../schemas.ts';
import { ApiTokenSchema, CreateApiTokenBody, LoginBody, UserSchema } from './users.ts';

const errors = { '4xx': ErrorBody };

export const authRoutes: FastifyPluginAsyncTypebox<{ container: Container }> = async (app, { container }) => {
  const { auth } = container.services;

  app.post(
    '/api/auth/login',
    {
      config: { public: true },
      schema: {
        summary: 'Log in with email and password; sets an HttpOnly session cookie',
        description:
          'Starts a new session (the one the browser had ends) and sets two cookies: mailroom_session ' +
          '(HttpOnly) and mailroom_csrf, whose value every state-changing request of the session repeats ' +
          'in the X-CSRF-Token header. Failed logins are throttled per address and per IP with growing ' +
          'delays (429 TOO_MANY_ATTEMPTS), and attempts per IP are rate-limited (429 RATE_LIMITED); ' +
          'both with Retry-After.',
        tags: ['auth'],
        security: [],
        body: LoginBody,
        response: { 200: StrictObject({ user: UserSchema, expiresAt: Timestamp }), ...errors },
      },
    },
    async (request, reply) => {
      const { email, password } = request.body;
      const session = await auth.login(email, password, request.ip, request.cookies[SESSION_COOKIE]);
      setSessionCookie(reply, request, container.config, session);
      return { user: session.user, expiresAt: session.expiresAt };
    },
  );

  app.post(
    '/api/auth/logout',
    {
      config: { public: true },
      schema: {
        summary: 'End the session',
        description:
          'Needs the X-CSRF-Token header while the session is live, as every state-changing request does. ' +
          'Clears both cookies.',
        tags: ['auth'],
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (request, reply) => {
      const token = request.cookies[SESSION_COOKIE];
      if (token) {
        const actor = await auth.authenticate({ sessionToken: token }).catch((error: unknown) => {
          if (isAppError(error) && error.code === 'UNAUTHENTICATED') return null;
          throw error;
        });
        // A session that has already ended needs no proof; a live one does, so no other site logs you out.
        if (actor) {
          requireCsrfToken(request, actor);
          await auth.logout(token);
        }
      }
      clearSessionCookie(reply);
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/api/tokens',
    {
      schema: {
        summary: 'Your API tokens (never their secrets)',
        tags: ['auth'],
        response: { 200: StrictObject({ items: Type.Array(ApiTokenSchema) }), ...errors },
      },
    },
    async (request) => ({ items: await auth.listApiTokens(actorOf(request)) }),
  );

  app.post(
    '/api/tokens',
    {
      schema: {
        summary: 'Create an API token; its secret is shown this once',
        description:
          'scope: read (GET only), send (read, and queue messages), or admin (everything your role ' +
          'allows; the default). expiresAt: when it stops working (none: never). Only its hash is stored.',
        tags: ['auth'],
        body: CreateApiTokenBody,
        response: { 201: StrictObject({ token: ApiTokenSchema, secret: Type.String() }), ...errors },
      },
    },
    async (request, reply) => {
      const created = await auth.createApiToken(actorOf(request), request.body);
      return reply.status(201).send(created);
    },
  );

  app.delete(
    '/api/tokens/:id',
    {
      schema: {
        summary: 'Revoke one of your API tokens',
        tags: ['auth'],
        params: IdParams,
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (request, reply) => {
      await auth.revokeApiToken(actorOf(request), request.params.id);
      return reply.status(204).send(null);
    },
  );
};
