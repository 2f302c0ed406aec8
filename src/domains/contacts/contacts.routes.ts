import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Container } from '../../container.ts';
import { actorOf } from '../../http/auth.ts';
import { ErrorBody, IdParams, PageOf } from '../../schemas.ts';
import { ContactListQuery, ContactSchema, CreateContactBody, UpdateContactBody } from './contacts.ts';

const errors = { '4xx': ErrorBody };
const tags = ['contacts'];

export const contactsRoutes: FastifyPluginAsyncTypebox<{ container: Container }> = async (
  app,
  { container },
) => {
  const { contacts } = container.services;

  app.post(
    '/api/contacts',
    {
      schema: {
        summary: 'Add a contact (the address is unique in the organisation)',
        tags,
        body: CreateContactBody,
        response: { 201: ContactSchema, ...errors },
      },
    },
    async (request, reply) => reply.status(201).send(await contacts.create(actorOf(request), request.body)),
  );

  app.get(
    '/api/contacts',
    {
      schema: {
        summary: 'Contacts, searched by address or name',
        tags,
        querystring: ContactListQuery,
        response: { 200: PageOf(ContactSchema), ...errors },
      },
    },
    async (request) => contacts.list(actorOf(request), request.query),
  );

  app.get(
    '/api/contacts/:id',
    {
      schema: { summary: 'One contact', tags, params: IdParams, response: { 200: ContactSchema, ...errors } },
    },
    async (request) => contacts.get(actorOf(request), request.params.id),
  );

  app.patch(
    '/api/contacts/:id',
    {
      schema: {
        summary: 'Change a contact; custom fields merge, a field sent as null is removed',
        tags,
        params: IdParams,
        body: UpdateContactBody,
        response: { 200: ContactSchema, ...errors },
      },
    },
    async (request) => contacts.update(actorOf(request), request.params.id, request.body),
  );

  app.post(
    '/api/contacts/:id/reactivate',
    {
      schema: {
        summary:
          'Undo a wrong faulty or complained mark (an unsubscribe stays); the audit log keeps who did it',
        tags,
        params: IdParams,
        response: { 200: ContactSchema, ...errors },
      },
    },
    async (request) => contacts.reactivate(actorOf(request), request.params.id),
  );
};
