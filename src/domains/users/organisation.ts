import { Type, type Static } from '@sinclair/typebox';
import { BounceSettingsSchema } from '../bounces/bounces.ts';
import { Id, StrictObject } from '../../schemas.ts';

/**
 * The organisation's settings: how many soft bounces within how many days mark a contact faulty,
 * and the account automation alerts are emailed from.
 */
export const OrganisationSettingsSchema = StrictObject({
  ...BounceSettingsSchema.properties,
  notificationAccountId: Type.Union([Id, Type.Null()], {
    description:
      'the team account that rule alerts are emailed from; null: alerts are in-app notifications only',
  }),
});
export type OrganisationSettings = Static<typeof OrganisationSettingsSchema>;

export const UpdateOrganisationSettingsBody = Type.Partial(OrganisationSettingsSchema, {
  additionalProperties: false,
  minProperties: 1,
});
export type UpdateOrganisationSettingsInput = Static<typeof UpdateOrganisationSettingsBody>;
