import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Container } from '../../container.ts';
import { actorOf } from '../../http/auth.ts';
import { ErrorBody, IdParams, PageOf } from '../../schemas.ts';
import {
  CreateWebhookBody,
  UpdateWebhookBody,
  WebhookDeliveryQuery,
  WebhookDeliverySchema,
  WebhookEndpointSchema,
  WebhookEndpointWithSecretSchema,
} from './webhooks.ts';

const errors = { '4xx': ErrorBody };
const tags = ['webhooks'];

export const webhooksRoutes: FastifyPluginAsyncTypebox<{ container: Container }> = async (
  app,
  { container },
) => {
  const { webhooks } = container.services;

  app.get(
    '/api/webhooks',
    {
      schema: {
        summary: 'The organisation’s webhook endpoints (admins)',
        tags,
        response: { 200: PageOf(WebhookEndpointSchema), ...errors },
      },
    },
    async (request) => webhooks.list(actorOf(request)),
  );

  app.post(
    '/api/webhooks',
    {
      schema: {
        summary: 'Add a webhook endpoint (admins); the reply carries its signing secret, once',
        description:
          'Each event of the chosen types is POSTed as JSON { id, type, createdAt, data }, signed in the ' +
          'Mailroom-Signature header (t=<unix>,v1=<hex HMAC-SHA256 of "t.body">), and retried with backoff ' +
          'for 24 hours. An endpoint whose deliveries fail for 24 hours is turned off. See docs/webhooks.md.',
        tags,
        body: CreateWebhookBody,
        response: { 201: WebhookEndpointWithSecretSchema, ...errors },
      },
    },
    async (request, reply) => reply.status(201).send(await webhooks.create(actorOf(request), request.body)),
  );

  app.get(
    '/api/webhooks/:id',
    {
      schema: {
        summary: 'One webhook endpoint (admins)',
        tags,
        params: IdParams,
        response: { 200: WebhookEndpointSchema, ...errors },
      },
    },
    async (request) => webhooks.get(actorOf(request), request.params.id),
  );

  app.patch(
    '/api/webhooks/:id',
    {
      schema: {
        summary: 'Change a webhook endpoint, or turn it back on (admins)',
        tags,
        params: IdParams,
        body: UpdateWebhookBody,
        response: { 200: WebhookEndpointSchema, ...errors },
      },
    },
    async (request) => webhooks.update(actorOf(request), request.params.id, request.body),
  );

  app.delete(
    '/api/webhooks/:id',
    {
      schema: {
        summary: 'Delete a webhook endpoint and its delivery log (admins)',
        tags,
        params: IdParams,
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (request, reply) => {
      await webhooks.remove(actorOf(request), request.params.id);
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/api/webhooks/:id/rotate-secret',
    {
      schema: {
        summary: 'Replace the signing secret (admins); the reply carries the new one, once',
        description: 'The new secret signs every delivery from now on, retries of older events included.',
        tags,
        params: IdParams,
        response: { 200: WebhookEndpointWithSecretSchema, ...errors },
      },
    },
    async (request) => webhooks.rotateSecret(actorOf(request), request.params.id),
  );

  app.get(
    '/api/webhooks/:id/deliveries',
    {
      schema: {
        summary: 'The endpoint’s delivery log, newest first: each attempt’s status code, latency and error',
        tags,
        params: IdParams,
        querystring: WebhookDeliveryQuery,
        response: { 200: PageOf(WebhookDeliverySchema), ...errors },
      },
    },
    async (request) => webhooks.deliveries(actorOf(request), request.params.id, request.query),
  );
};
