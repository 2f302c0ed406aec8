import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Container } from '../../container.ts';
import { actorOf } from '../../http/auth.ts';
import { ErrorBody, IdParams, PageOf } from '../../schemas.ts';
import {
  AccountListQuery,
  AccountListRowSchema,
  AccountSchema,
  AdminAccountListRowSchema,
  ConnectionTestSchema,
  CreateAccountBody,
  RejectBody,
  SupplyPasswordsBody,
  UpdateAccountBody,
} from './accounts.ts';

const errors = { '4xx': ErrorBody };
const tags = ['accounts'];

export const accountsRoutes: FastifyPluginAsyncTypebox<{ container: Container }> = async (
  app,
  { container },
) => {
  const { accounts } = container.services;

  app.post(
    '/api/accounts',
    {
      schema: {
        summary: 'Add an email account: own (with its SMTP server) or marketing (waits for approval)',
        description:
          'Passwords are write-only: responses show hasPassword instead. "" in an optional field means not set.',
        tags,
        body: CreateAccountBody,
        response: { 201: AccountSchema, ...errors },
      },
    },
    async (request, reply) => reply.status(201).send(await accounts.create(actorOf(request), request.body)),
  );

  app.get(
    '/api/accounts',
    {
      schema: {
        summary: 'The accounts you can send from: yours and the team’s',
        description: 'q searches name and address (case-insensitive substring, Unicode case folding).',
        tags,
        querystring: AccountListQuery,
        response: { 200: PageOf(AccountListRowSchema), ...errors },
      },
    },
    async (request) => accounts.list(actorOf(request), request.query),
  );

  app.get(
    '/api/admin/accounts',
    {
      schema: {
        summary: 'Every account of the organisation, with each user’s default (admins)',
        tags,
        querystring: AccountListQuery,
        response: { 200: PageOf(AdminAccountListRowSchema), ...errors },
      },
    },
    async (request) => accounts.listForAdmin(actorOf(request), request.query),
  );

  app.get(
    '/api/accounts/:id',
    {
      schema: {
        summary: 'One account with all its settings',
        tags,
        params: IdParams,
        response: { 200: AccountSchema, ...errors },
      },
    },
    async (request) => accounts.get(actorOf(request), request.params.id),
  );

  app.patch(
    '/api/accounts/:id',
    {
      schema: {
        summary: 'Change an account (JSON Merge Patch, RFC 7396)',
        description:
          'Send application/json or application/merge-patch+json. Nested objects merge; a password left out is ' +
          'kept; null resets a field to its default.',
        tags,
        params: IdParams,
        consumes: ['application/json', 'application/merge-patch+json'],
        body: UpdateAccountBody,
        response: { 200: AccountSchema, ...errors },
      },
    },
    async (request) => accounts.update(actorOf(request), request.params.id, request.body),
  );

  app.delete(
    '/api/accounts/:id',
    {
      schema: {
        summary: 'Delete an account',
        tags,
        params: IdParams,
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (request, reply) => {
      await accounts.remove(actorOf(request), request.params.id);
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/api/accounts/test',
    {
      schema: {
        summary: 'Test settings before saving them: nothing is stored and nothing is sent',
        description:
          'SMTP: connect, TLS, EHLO, login, MAIL FROM, RCPT TO the address itself, DATA, and on the 354 the ' +
          'connection is closed without the final dot. Incoming: connect, TLS, login and list.',
        tags,
        body: CreateAccountBody,
        response: { 200: ConnectionTestSchema, ...errors },
      },
    },
    async (request) => container.services.connectionTests.testUnsaved(request.body),
  );

  app.post(
    '/api/accounts/:id/test',
    {
      schema: {
        summary: 'Test a saved account’s servers; updates its health',
        tags,
        params: IdParams,
        response: { 200: ConnectionTestSchema, ...errors },
      },
    },
    async (request) =>
      container.services.connectionTests.testSaved(container.db, actorOf(request), request.params.id),
  );

  app.post(
    '/api/accounts/:id/approve',
    {
      schema: {
        summary: 'Approve a marketing account (admins)',
        tags,
        params: IdParams,
        response: { 200: AccountSchema, ...errors },
      },
    },
    async (request) => accounts.approve(actorOf(request), request.params.id),
  );

  app.post(
    '/api/accounts/:id/reject',
    {
      schema: {
        summary: 'Reject a marketing account, with a reason (admins)',
        tags,
        params: IdParams,
        body: RejectBody,
        response: { 200: AccountSchema, ...errors },
      },
    },
    async (request) => accounts.reject(actorOf(request), request.params.id, request.body.reason),
  );

  app.post(
    '/api/accounts/:id/disable',
    {
      schema: {
        summary: 'Disable an account (owner or admin)',
        tags,
        params: IdParams,
        response: { 200: AccountSchema, ...errors },
      },
    },
    async (request) => accounts.disable(actorOf(request), request.params.id),
  );

  app.post(
    '/api/accounts/:id/enable',
    {
      schema: {
        summary: 'Enable a disabled account (owner or admin)',
        tags,
        params: IdParams,
        response: { 200: AccountSchema, ...errors },
      },
    },
    async (request) => accounts.enable(actorOf(request), request.params.id),
  );

  app.post(
    '/api/accounts/:id/default',
    {
      schema: {
        summary: 'Make it your default account',
        tags,
        params: IdParams,
        response: { 200: AccountSchema, ...errors },
      },
    },
    async (request) => accounts.setDefault(actorOf(request), request.params.id),
  );

  app.delete(
    '/api/accounts/:id/default',
    {
      schema: {
        summary: 'Stop using it as your default account',
        tags,
        params: IdParams,
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (request, reply) => {
      await accounts.clearDefault(actorOf(request), request.params.id);
      return reply.status(204).send(null);
    },
  );

  app.put(
    '/api/accounts/:id/password',
    {
      schema: {
        summary: 'Supply the passwords again (after a restart, when not remembered)',
        tags,
        params: IdParams,
        body: SupplyPasswordsBody,
        response: { 200: AccountSchema, ...errors },
      },
    },
    async (request) => accounts.supplyPasswords(actorOf(request), request.params.id, request.body),
  );
};
