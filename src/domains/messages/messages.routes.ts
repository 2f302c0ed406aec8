import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Container } from '../../container.ts';
import { actorOf } from '../../http/auth.ts';
import { ErrorBody, Id, IdParams, PageOf, RawMessage, StrictObject } from '../../schemas.ts';
import { downloadHeaders, UNTRUSTED_BYTES_HEADERS } from './download.ts';
import {
  AttachmentParams,
  BatchBody,
  CountSchema,
  IdempotencyHeaders,
  MessageListQuery,
  MessageSchema,
  NewMessageBody,
  OutboxCountsSchema,
  QueuedSchema,
} from './messages.ts';

const errors = { '4xx': ErrorBody };
const Download = Type.Unsafe<Buffer>({ type: 'string', format: 'binary', description: 'the file' });
const tags = ['messages'];
/** Attachments arrive base64-encoded inside the JSON. */
const MESSAGE_BODY_LIMIT = 20 * 1024 * 1024;
const BATCH_BODY_LIMIT = 100 * 1024 * 1024;

export const messagesRoutes: FastifyPluginAsyncTypebox<{ container: Container }> = async (
  app,
  { container },
) => {
  const { messages } = container.services;

  app.post(
    '/api/messages',
    {
      bodyLimit: MESSAGE_BODY_LIMIT,
      schema: {
        summary: 'Queue a message from your default account or the one named',
        description:
          'Returns 202 with the queued message. Send an Idempotency-Key header to make a retried request return ' +
          'the message the first one queued.',
        tags,
        headers: IdempotencyHeaders,
        body: NewMessageBody,
        response: { 202: QueuedSchema, ...errors },
      },
    },
    async (request, reply) =>
      reply
        .status(202)
        .send(
          await messages.queue(actorOf(request), request.body, request.headers['idempotency-key'] ?? null),
        ),
  );

  app.post(
    '/api/messages/batch',
    {
      bodyLimit: BATCH_BODY_LIMIT,
      schema: {
        summary: 'Queue up to 1,000 messages at once: all or none',
        tags,
        body: BatchBody,
        response: { 202: StrictObject({ items: Type.Array(QueuedSchema) }), ...errors },
      },
    },
    async (request, reply) =>
      reply.status(202).send({ items: await messages.queueBatch(actorOf(request), request.body.messages) }),
  );

  app.get(
    '/api/messages',
    {
      schema: {
        summary: 'Messages, newest first',
        tags,
        querystring: MessageListQuery,
        response: { 200: PageOf(MessageSchema), ...errors },
      },
    },
    async (request) => messages.list(actorOf(request), request.query),
  );

  app.get(
    '/api/messages/:id',
    {
      schema: { summary: 'One message', tags, params: IdParams, response: { 200: MessageSchema, ...errors } },
    },
    async (request) => messages.get(actorOf(request), request.params.id),
  );

  app.get(
    '/api/messages/:id/raw',
    {
      schema: {
        summary:
          'The raw incoming message as received (only its header block when it was above the size cap)',
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
      const raw = await messages.raw(actorOf(request), request.params.id);
      return reply.headers(UNTRUSTED_BYTES_HEADERS).type('message/rfc822').send(raw);
    },
  );

  app.get(
    '/api/messages/:id/attachments/:index',
    {
      schema: {
        summary: 'One attachment of a message, always as a download',
        description:
          'Served with Content-Disposition: attachment, X-Content-Type-Options: nosniff and a sandboxing ' +
          'Content-Security-Policy; the type is the one the message claims only for raster images, PDF and ' +
          'plain text, and application/octet-stream for anything else (HTML and SVG included).',
        tags,
        params: AttachmentParams,
        produces: ['application/octet-stream'],
        response: { 200: Download, ...errors },
      },
    },
    async (request, reply) => {
      const file = await messages.attachment(actorOf(request), request.params.id, request.params.index);
      return reply.headers(downloadHeaders(file.filename, file.contentType)).send(file.content);
    },
  );

  app.delete(
    '/api/messages/:id',
    {
      schema: {
        summary:
          'Delete a message here: received mail from your accounts (or only accountId), and from the server where the account says so',
        tags,
        params: IdParams,
        querystring: StrictObject({ accountId: Type.Optional(Id) }),
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (request, reply) => {
      await messages.remove(actorOf(request), request.params.id, request.query.accountId);
      return reply.status(204).send(null);
    },
  );

  const actions = [
    ['cancel', 'Cancel a message that has not been sent', messages.cancel],
    ['reset-sending', 'Send a message stuck in sending or uncertain again', messages.resetSending],
    ['clear-error', 'Retry a message in error, attempts from zero', messages.clearError],
  ] as const;
  for (const [path, summary, action] of actions) {
    app.post(
      `/api/messages/:id/${path}`,
      { schema: { summary, tags, params: IdParams, response: { 200: MessageSchema, ...errors } } },
      async (request) => action(actorOf(request), request.params.id),
    );
  }

  app.post(
    '/api/accounts/:id/sync',
    {
      schema: {
        summary: 'Sync now: read the account’s incoming server at once',
        tags,
        params: IdParams,
        response: { 202: StrictObject({ accountId: Type.String() }), ...errors },
      },
    },
    async (request, reply) => {
      await container.services.mailboxes.requestSync(actorOf(request), request.params.id);
      return reply.status(202).send({ accountId: request.params.id });
    },
  );

  app.get(
    '/api/accounts/:id/outbox',
    {
      schema: {
        summary: 'The account’s outgoing messages counted by state',
        tags,
        params: IdParams,
        response: { 200: OutboxCountsSchema, ...errors },
      },
    },
    async (request) => messages.outboxCounts(actorOf(request), request.params.id),
  );

  app.post(
    '/api/accounts/:id/outbox/reset-sending',
    {
      schema: {
        summary: 'Reset sending status: the account’s messages in sending go back to ready',
        tags,
        params: IdParams,
        response: { 200: CountSchema, ...errors },
      },
    },
    async (request) => ({ count: await messages.resetAccountSending(actorOf(request), request.params.id) }),
  );

  app.post(
    '/api/accounts/:id/outbox/clear-errors',
    {
      schema: {
        summary: 'Clear error status: the account’s messages in error are retried',
        tags,
        params: IdParams,
        response: { 200: CountSchema, ...errors },
      },
    },
    async (request) => ({ count: await messages.clearAccountErrors(actorOf(request), request.params.id) }),
  );
};
