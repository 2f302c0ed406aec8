import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Container } from '../../container.ts';
import { actorOf } from '../../http/auth.ts';
import { DomainCheckSchema } from '../../mail/domain-check.ts';
import { ErrorBody, IdParams } from '../../schemas.ts';

const errors = { '4xx': ErrorBody };
const tags = ['accounts'];

export const domainCheckRoutes: FastifyPluginAsyncTypebox<{ container: Container }> = async (
  app,
  { container },
) => {
  const { domainCheck } = container.services;

  app.get(
    '/api/accounts/:id/domain-check',
    {
      schema: {
        summary: 'Check a marketing account’s sending domain: SPF, DKIM and DMARC (admins)',
        description:
          'Looks the domain of the account’s address up in DNS (MAILROOM_DNS_SERVERS, else the system’s ' +
          'servers): whether SPF allows the platform relay, whether the published DKIM key is the stored ' +
          'one, and the DMARC policy with whether mail from the account would align.',
        tags,
        params: IdParams,
        response: { 200: DomainCheckSchema, ...errors },
      },
    },
    async (request) => domainCheck.check(actorOf(request), request.params.id),
  );
};
