import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Container } from '../../container.ts';
import { actorOf } from '../../http/auth.ts';
import { ErrorBody, PageOf } from '../../schemas.ts';
import { AuditEntrySchema, AuditQuery } from './audit.ts';

export const auditRoutes: FastifyPluginAsyncTypebox<{ container: Container }> = async (
  app,
  { container },
) => {
  app.get(
    '/api/audit',
    {
      schema: {
        summary: 'Who changed what and when, newest first (admins); never secret values',
        tags: ['audit'],
        querystring: AuditQuery,
        response: { 200: PageOf(AuditEntrySchema), '4xx': ErrorBody },
      },
    },
    async (request) => container.services.audit.list(actorOf(request), request.query),
  );
};
