import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Container } from '../../container.ts';
import { setSessionCookie } from '../../http/auth.ts';
import { ErrorBody } from '../../schemas.ts';
import { SetupBody, SetupResultSchema, SetupStatusSchema } from './setup.ts';
import { createSetupService } from './setup.service.ts';

const errors = { '4xx': ErrorBody };
const tags = ['auth'];

export const setupRoutes: FastifyPluginAsyncTypebox<{ container: Container }> = async (
  app,
  { container },
) => {
  const setup = createSetupService({ db: container.db, now: container.now, audit: container.services.audit });

  app.get(
    '/api/setup',
    {
      config: { public: true },
      schema: {
        summary: 'Whether the first organisation and admin still have to be created',
        tags,
        security: [],
        response: { 200: SetupStatusSchema, ...errors },
      },
    },
    async () => setup.status(),
  );

  app.post(
    '/api/setup',
    {
      config: { public: true },
      schema: {
        summary: 'First run: create the first organisation and its admin, and log in as them',
        description:
          'Only while no user exists; afterwards 409 ALREADY_SET_UP. Safe against two people at once: ' +
          'exactly one succeeds. Sets the session cookie, as a login does.',
        tags,
        security: [],
        body: SetupBody,
        response: { 201: SetupResultSchema, ...errors },
      },
    },
    async (request, reply) => {
      const { user, organisation } = await setup.setUp(request.body);
      const session = await container.services.auth.login(
        request.body.email,
        request.body.password,
        request.ip,
      );
      setSessionCookie(reply, request, container.config, session);
      return reply.status(201).send({ user, organisation, expiresAt: session.expiresAt });
    },
  );
};
