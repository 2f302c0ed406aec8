import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Container } from '../../container.ts';
import { actorOf } from '../../http/auth.ts';
import { ErrorBody } from '../../schemas.ts';
import { OrganisationSettingsSchema, UpdateOrganisationSettingsBody } from './organisation.ts';

const errors = { '4xx': ErrorBody };
const tags = ['users'];

export const organisationRoutes: FastifyPluginAsyncTypebox<{ container: Container }> = async (
  app,
  { container },
) => {
  const { organisation } = container.services;

  app.get(
    '/api/organisation/settings',
    {
      schema: {
        summary: 'Your organisation’s settings',
        tags,
        response: { 200: OrganisationSettingsSchema, ...errors },
      },
    },
    async (request) => organisation.settings(actorOf(request)),
  );

  app.patch(
    '/api/organisation/settings',
    {
      schema: {
        summary: 'Change your organisation’s settings (admins)',
        tags,
        body: UpdateOrganisationSettingsBody,
        response: { 200: OrganisationSettingsSchema, ...errors },
      },
    },
    async (request) => organisation.updateSettings(actorOf(request), request.body),
  );
};
