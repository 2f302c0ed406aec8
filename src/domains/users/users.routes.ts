import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Container } from '../../container.ts';
import { actorOf } from '../../http/auth.ts';
import { ErrorBody, IdParams, PageOf, PageQuery } from '../../schemas.ts';
import {
  CreateTeamBody,
  CreateUserBody,
  MeSchema,
  TeamSchema,
  UpdateTeamBody,
  UpdateUserBody,
  UserSchema,
} from './users.ts';

const errors = { '4xx': ErrorBody };

export const usersRoutes: FastifyPluginAsyncTypebox<{ container: Container }> = async (
  app,
  { container },
) => {
  const { users } = container.services;

  app.get(
    '/api/me',
    {
      schema: {
        summary: 'You and your organisation',
        tags: ['users'],
        response: { 200: MeSchema, ...errors },
      },
    },
    async (request) => users.getMe(actorOf(request)),
  );

  app.get(
    '/api/users',
    {
      schema: {
        summary: 'The users of your organisation',
        tags: ['users'],
        querystring: PageQuery,
        response: { 200: PageOf(UserSchema), ...errors },
      },
    },
    async (request) => users.listUsers(actorOf(request), request.query),
  );

  app.post(
    '/api/users',
    {
      schema: {
        summary: 'Add a user to your organisation (admins)',
        tags: ['users'],
        body: CreateUserBody,
        response: { 201: UserSchema, ...errors },
      },
    },
    async (request, reply) => reply.status(201).send(await users.createUser(actorOf(request), request.body)),
  );

  app.get(
    '/api/users/:id',
    {
      schema: {
        summary: 'One user',
        tags: ['users'],
        params: IdParams,
        response: { 200: UserSchema, ...errors },
      },
    },
    async (request) => users.getUser(actorOf(request), request.params.id),
  );

  app.patch(
    '/api/users/:id',
    {
      schema: {
        summary: 'Change a user: admins change anyone, members their own name and password',
        tags: ['users'],
        params: IdParams,
        body: UpdateUserBody,
        response: { 200: UserSchema, ...errors },
      },
    },
    async (request) => users.updateUser(actorOf(request), request.params.id, request.body),
  );

  app.delete(
    '/api/users/:id',
    {
      schema: {
        summary: 'Remove a user (admins); the last admin cannot be removed',
        tags: ['users'],
        params: IdParams,
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (request, reply) => {
      await users.deleteUser(actorOf(request), request.params.id);
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/api/teams',
    {
      schema: {
        summary: 'The teams of your organisation',
        tags: ['teams'],
        querystring: PageQuery,
        response: { 200: PageOf(TeamSchema), ...errors },
      },
    },
    async (request) => users.listTeams(actorOf(request), request.query),
  );

  app.post(
    '/api/teams',
    {
      schema: {
        summary: 'Create a team (admins)',
        tags: ['teams'],
        body: CreateTeamBody,
        response: { 201: TeamSchema, ...errors },
      },
    },
    async (request, reply) => reply.status(201).send(await users.createTeam(actorOf(request), request.body)),
  );

  app.get(
    '/api/teams/:id',
    {
      schema: {
        summary: 'One team',
        tags: ['teams'],
        params: IdParams,
        response: { 200: TeamSchema, ...errors },
      },
    },
    async (request) => users.getTeam(actorOf(request), request.params.id),
  );

  app.patch(
    '/api/teams/:id',
    {
      schema: {
        summary: 'Rename a team or replace its members (admins)',
        tags: ['teams'],
        params: IdParams,
        body: UpdateTeamBody,
        response: { 200: TeamSchema, ...errors },
      },
    },
    async (request) => users.updateTeam(actorOf(request), request.params.id, request.body),
  );

  app.delete(
    '/api/teams/:id',
    {
      schema: {
        summary: 'Delete a team (admins)',
        tags: ['teams'],
        params: IdParams,
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (request, reply) => {
      await users.deleteTeam(actorOf(request), request.params.id);
      return reply.status(204).send(null);
    },
  );
};
