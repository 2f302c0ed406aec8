import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Container } from '../../container.ts';
import { actorOf } from '../../http/auth.ts';
import { ErrorBody, IdParams, PageOf, StrictObject } from '../../schemas.ts';
import {
  CreateRuleBody,
  EventListQuery,
  EventSchema,
  NotificationSchema,
  RuleRunSchema,
  RuleSchema,
  UpdateRuleBody,
} from './rules.ts';

const errors = { '4xx': ErrorBody };

export const automationRoutes: FastifyPluginAsyncTypebox<{ container: Container }> = async (
  app,
  { container },
) => {
  const { rules } = container.services;

  app.get(
    '/api/rules',
    {
      schema: {
        summary: 'The organisation’s rules',
        tags: ['automation'],
        response: { 200: PageOf(RuleSchema), ...errors },
      },
    },
    async (request) => rules.list(actorOf(request)),
  );

  app.post(
    '/api/rules',
    {
      schema: {
        summary: 'Add a rule: on an event, when its conditions hold, do its actions (admins)',
        description:
          'Rules run in the worker, shortly after the event. The actions’ own events never trigger the rule ' +
          'that caused them, and chains of rules stop after three steps.',
        tags: ['automation'],
        body: CreateRuleBody,
        response: { 201: RuleSchema, ...errors },
      },
    },
    async (request, reply) => reply.status(201).send(await rules.create(actorOf(request), request.body)),
  );

  app.get(
    '/api/rules/:id',
    {
      schema: {
        summary: 'One rule',
        tags: ['automation'],
        params: IdParams,
        response: { 200: RuleSchema, ...errors },
      },
    },
    async (request) => rules.get(actorOf(request), request.params.id),
  );

  app.patch(
    '/api/rules/:id',
    {
      schema: {
        summary: 'Change a rule (admins)',
        tags: ['automation'],
        params: IdParams,
        body: UpdateRuleBody,
        response: { 200: RuleSchema, ...errors },
      },
    },
    async (request) => rules.update(actorOf(request), request.params.id, request.body),
  );

  app.delete(
    '/api/rules/:id',
    {
      schema: {
        summary: 'Delete a rule (admins)',
        tags: ['automation'],
        params: IdParams,
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (request, reply) => {
      await rules.remove(actorOf(request), request.params.id);
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/api/rules/:id/runs',
    {
      schema: {
        summary: 'The rule’s runs, newest first: the event, each action’s outcome, retries',
        tags: ['automation'],
        params: IdParams,
        response: { 200: PageOf(RuleRunSchema), ...errors },
      },
    },
    async (request) => rules.runs(actorOf(request), request.params.id),
  );

  app.get(
    '/api/events',
    {
      schema: {
        summary: 'The event log, oldest first (admins; others a contact’s timeline, with contactId)',
        tags: ['automation'],
        querystring: EventListQuery,
        response: {
          200: StrictObject({
            items: Type.Array(EventSchema),
            nextCursor: Type.Union([Type.String(), Type.Null()]),
          }),
          ...errors,
        },
      },
    },
    async (request) => rules.events(actorOf(request), request.query),
  );

  app.get(
    '/api/notifications',
    {
      schema: {
        summary: 'Your alerts, newest first',
        tags: ['automation'],
        querystring: StrictObject({ unread: Type.Optional(Type.Boolean()) }),
        response: { 200: PageOf(NotificationSchema), ...errors },
      },
    },
    async (request) => rules.notifications(actorOf(request), request.query.unread ?? false),
  );

  app.post(
    '/api/notifications/:id/read',
    {
      schema: {
        summary: 'Mark one of your alerts read',
        tags: ['automation'],
        params: IdParams,
        response: { 200: NotificationSchema, ...errors },
      },
    },
    async (request) => rules.markNotificationRead(actorOf(request), request.params.id),
  );
};
