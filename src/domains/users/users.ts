import { Type, type Static } from '@sinclair/typebox';
import type { Role, TokenScope } from '../../db/database.ts';
import { Id, Nullable, StrictObject, Timestamp } from '../../schemas.ts';

export type { Role, TokenScope };

/** Who is acting: every service call that reads or changes organisation data takes one. */
export interface Actor {
  userId: string;
  orgId: string;
  role: Role;
}

export const RoleSchema = Type.Union([Type.Literal('admin'), Type.Literal('member')]);
const Email = Type.String({ format: 'email', maxLength: 254 });
export const MIN_PASSWORD_LENGTH = 8;
const Password = Type.String({ minLength: MIN_PASSWORD_LENGTH, maxLength: 1024 });
const Name = Type.String({ minLength: 1, maxLength: 200 });

export const UserSchema = StrictObject({
  id: Id,
  organisationId: Id,
  email: Email,
  name: Type.String(),
  role: RoleSchema,
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type User = Static<typeof UserSchema>;

export const OrganisationSchema = StrictObject({ id: Id, name: Type.String(), createdAt: Timestamp });
export type Organisation = Static<typeof OrganisationSchema>;

export const CreateUserBody = StrictObject({
  email: Email,
  password: Password,
  name: Type.Optional(Name),
  role: Type.Optional(RoleSchema),
});
export type CreateUserInput = Static<typeof CreateUserBody>;

export const UpdateUserBody = StrictObject({
  name: Type.Optional(Name),
  role: Type.Optional(RoleSchema),
  password: Type.Optional(Password),
});
export type UpdateUserInput = Static<typeof UpdateUserBody>;

export const TeamSchema = StrictObject({
  id: Id,
  name: Type.String(),
  memberIds: Type.Array(Id),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type Team = Static<typeof TeamSchema>;

export const CreateTeamBody = StrictObject({
  name: Name,
  memberIds: Type.Optional(Type.Array(Id, { uniqueItems: true, maxItems: 1000 })),
});
export type CreateTeamInput = Static<typeof CreateTeamBody>;

export const UpdateTeamBody = StrictObject({
  name: Type.Optional(Name),
  memberIds: Type.Optional(Type.Array(Id, { uniqueItems: true, maxItems: 1000 })),
});
export type UpdateTeamInput = Static<typeof UpdateTeamBody>;

export const LoginBody = StrictObject({
  email: Type.String({ maxLength: 254 }),
  password: Type.String({ maxLength: 1024 }),
});
export type LoginInput = Static<typeof LoginBody>;

export const TokenScopeSchema = Type.Union(
  [Type.Literal('read'), Type.Literal('send'), Type.Literal('admin')],
  {
    description:
      'read: GET requests only; send: read, and queue messages (POST /api/messages, /api/messages/batch); ' +
      'admin: everything the user’s role allows',
  },
);

export const ApiTokenSchema = StrictObject({
  id: Id,
  name: Type.String(),
  prefix: Type.String({ description: 'the first characters of the token, to tell tokens apart' }),
  scope: TokenScopeSchema,
  createdAt: Timestamp,
  expiresAt: Nullable(Timestamp),
  lastUsedAt: Nullable(Timestamp),
});
export type ApiToken = Static<typeof ApiTokenSchema>;

/** The longest an expiry may lie ahead, in days (ten years). */
export const MAX_TOKEN_DAYS = 3650;

export const CreateApiTokenBody = StrictObject({
  name: Name,
  scope: Type.Optional(TokenScopeSchema),
  expiresAt: Type.Optional(Nullable(Timestamp)),
});
export type CreateApiTokenInput = Static<typeof CreateApiTokenBody>;

export const MeSchema = StrictObject({ user: UserSchema, organisation: OrganisationSchema });

export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}
