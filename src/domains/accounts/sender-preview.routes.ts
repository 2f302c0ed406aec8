import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Container } from '../../container.ts';
import { AppError } from '../../errors.ts';
import { actorOf } from '../../http/auth.ts';
import { ErrorBody } from '../../schemas.ts';
import { SenderPreviewBody, SenderPreviewSchema } from './accounts.ts';
import { senderHeaders } from './templates.ts';

export const senderPreviewRoutes: FastifyPluginAsyncTypebox<{ container: Container }> = async (
  app,
  { container },
) => {
  const { contacts } = container.services;

  app.post(
    '/api/accounts/sender-preview',
    {
      schema: {
        summary: 'Preview sender personalisation: From and Reply-To as one contact would see them',
        description:
          'Takes the sender settings as they stand in the form (saved or not) and fills their templates ' +
          'from the contact’s card, the way the dispatcher does when it sends.',
        tags: ['accounts'],
        body: SenderPreviewBody,
        response: { 200: SenderPreviewSchema, '4xx': ErrorBody },
      },
    },
    async (request) => {
      const { contactId, ...sender } = request.body;
      const [contact] = (
        await contacts.forSending(undefined, actorOf(request).orgId, { ids: [contactId] })
      ).values();
      if (!contact) throw new AppError('CONTACT_NOT_FOUND', `No contact ${contactId}.`);
      return senderHeaders(
        {
          email: sender.email,
          displayName: sender.displayName ?? null,
          replyTo: sender.replyTo ?? null,
          replyToName: sender.replyToName ?? null,
          fromNameTemplate: sender.fromNameTemplate ?? null,
          replyToNameTemplate: sender.replyToNameTemplate ?? null,
        },
        contact,
      );
    },
  );
};
