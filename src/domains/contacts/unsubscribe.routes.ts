import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Container } from '../../container.ts';
import { ErrorBody, StrictObject } from '../../schemas.ts';

const TokenParams = StrictObject({ token: Type.String({ minLength: 1, maxLength: 200 }) });
const tags = ['contacts'];

/**
 * One-click unsubscribe (RFC 8058), outside /api and without a login: mail clients POST
 * `List-Unsubscribe=One-Click` to the link in the List-Unsubscribe header. A GET (a person following
 * the link) only shows a button, so a link scanner fetching it unsubscribes nobody.
 */
export const unsubscribeRoutes: FastifyPluginAsyncTypebox<{ container: Container }> = async (
  app,
  { container },
) => {
  // The body says only "List-Unsubscribe=One-Click", form-encoded (or multipart); nothing in it is needed.
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: 4096 }, (_request, _body, done) =>
    done(null, undefined),
  );

  app.post(
    '/u/:token',
    {
      config: { public: true },
      schema: {
        summary: 'One-click unsubscribe (RFC 8058): the contact gets no more marketing mail',
        tags,
        params: TokenParams,
        response: { 200: Type.String(), '4xx': ErrorBody },
      },
    },
    async (request, reply) => {
      await container.services.contacts.unsubscribeByToken(request.params.token);
      return reply.type('text/plain; charset=utf-8').send('You are unsubscribed.');
    },
  );

  app.get(
    '/u/:token',
    {
      config: { public: true },
      schema: {
        summary: 'The unsubscribe page: a button that posts to the same link',
        tags,
        params: TokenParams,
      },
    },
    async (request, reply) => {
      const action = `/u/${encodeURIComponent(request.params.token)}`;
      return reply
        .type('text/html; charset=utf-8')
        .send(
          `<!doctype html><meta charset="utf-8"><title>Unsubscribe</title>` +
            `<form method="post" action="${action}"><input type="hidden" name="List-Unsubscribe" value="One-Click">` +
            `<button>Unsubscribe</button></form>`,
        );
    },
  );
};
