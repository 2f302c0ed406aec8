import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Container } from '../../container.ts';
import { actorOf } from '../../http/auth.ts';
import { ErrorBody, IdParams, PageOf, RawMessage } from '../../schemas.ts';
import { BounceListQuery, BounceSchema } from './bounces.ts';
import { UNTRUSTED_BYTES_HEADERS } from '../messages/download.ts';

const errors = { '4xx': ErrorBody };
const tags = ['bounces'];

export const bouncesRoutes: FastifyPluginAsyncTypebox<{ container: Container }> = async (
  app,
  { container },
) => {
  const { bounces } = container.services;

  app.get(
    '/api/bounces',
    {
      schema: {
        summary: 'Bounces and complaints, newest first: a contact’s bounce history, or a message’s',
        tags,
        querystring: BounceListQuery,
        response: { 200: PageOf(BounceSchema), ...errors },
      },
    },
    async (request) => bounces.list(actorOf(request), request.query),
  );

  app.get(
    '/api/bounces/:id/raw',
    {
      schema: {
        summary: 'The notice a bounce or complaint was read from, as received',
        tags,
        params: IdParams,
        produces: ['message/rfc822'],
        response: {
          200: RawMessage,
          ...errors,
        },
      },
    },
    async (request, reply) => {
      const raw = await bounces.rawNotice(actorOf(request), request.params.id);
      return reply.headers(UNTRUSTED_BYTES_HEADERS).type('message/rfc822').send(raw);
    },
  );
};
