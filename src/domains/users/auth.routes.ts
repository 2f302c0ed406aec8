import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Container } from '../../container.ts';
import { actorOf, clearSessionCookie, setSessionCookie, SESSION_COOKIE } from '../../http/auth.ts';
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
          'Failed logins are throttled per address and per IP with growing delays (429, Retry-After).',
        tags: ['auth'],
        security: [],
        body: LoginBody,
        response: { 200: StrictObject({ user: UserSchema, expiresAt: Timestamp }), ...errors },
      },
    },
    async (request, reply) => {
      const { email, password } = request.body;
      const session = await auth.login(email, password, request.ip);
      setSessionCookie(reply, request, container.config, session.sessionToken, session.expiresAt);
      return { user: session.user, expiresAt: session.expiresAt };
    },
  );

  app.post(
    '/api/auth/logout',
    {
      config: { public: true },
      schema: { summary: 'End the session', tags: ['auth'], response: { 204: Type.Null(), ...errors } },
    },
    async (request, reply) => {
      const token = request.cookies[SESSION_COOKIE];
      if (token) await auth.logout(token);
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
