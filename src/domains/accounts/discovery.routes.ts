import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Container } from '../../container.ts';
import { actorOf } from '../../http/auth.ts';
import { ErrorBody } from '../../schemas.ts';
import { DiscoverBody, DiscoverySchema } from './discovery.ts';

export const discoveryRoutes: FastifyPluginAsyncTypebox<{ container: Container }> = async (
  app,
  { container },
) => {
  const { discovery } = container.services;

  app.post(
    '/api/accounts/discover',
    {
      schema: {
        summary: 'Find the servers of an address: settings ready to save, with the evidence',
        description:
          "Asks the domain's autoconfig, its DNS SRV records, the ISP database (MAILROOM_ISPDB_URL) and its " +
          "MX host's domain, all at once, probes every server named (TLS verified; the login tried with the " +
          'password when given) and ranks them: a working login first, then TLS over STARTTLS over plain. ' +
          'Answers within MAILROOM_DISCOVERY_TIMEOUT_MS (15 s) with what was known by then. Servers at ' +
          'private addresses are refused unless MAILROOM_ALLOW_PRIVATE_HOSTS is set. Nothing is stored.',
        tags: ['accounts'],
        body: DiscoverBody,
        response: { 200: DiscoverySchema, '4xx': ErrorBody },
      },
    },
    async (request, reply) => {
      actorOf(request);
      // A caller that goes away ends the search: nothing would read its answer.
      const gone = new AbortController();
      const onClose = () => {
        if (!reply.raw.writableFinished) gone.abort(new Error('the caller went away'));
      };
      reply.raw.once('close', onClose);
      try {
        return await discovery.discover({ ...request.body, signal: gone.signal });
      } finally {
        reply.raw.off('close', onClose);
      }
    },
  );
};
