import { Type, type Static } from '@sinclair/typebox';
import { StrictObject, Timestamp } from '../../schemas.ts';
import { MIN_PASSWORD_LENGTH, OrganisationSchema, UserSchema } from './users.ts';

export const SetupStatusSchema = StrictObject({
  needed: Type.Boolean({
    description: 'true while no user exists: the first organisation and admin are due',
  }),
});
export type SetupStatus = Static<typeof SetupStatusSchema>;

export const SetupBody = StrictObject({
  organisationName: Type.String({ minLength: 1, maxLength: 200 }),
  name: Type.String({ minLength: 1, maxLength: 200 }),
  email: Type.String({ format: 'email', maxLength: 254 }),
  password: Type.String({ minLength: MIN_PASSWORD_LENGTH, maxLength: 1024 }),
});
export type SetupInput = Static<typeof SetupBody>;

export const SetupResultSchema = StrictObject({
  user: UserSchema,
  organisation: OrganisationSchema,
  expiresAt: Timestamp,
});
