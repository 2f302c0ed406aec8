import { Type, type Static } from '@sinclair/typebox';
import { BounceSettingsSchema } from '../bounces/bounces.ts';
import { StrictObject } from '../../schemas.ts';

/** The organisation's settings: today, how many soft bounces within how many days mark a contact faulty. */
export const OrganisationSettingsSchema = StrictObject({ ...BounceSettingsSchema.properties });
export type OrganisationSettings = Static<typeof OrganisationSettingsSchema>;

export const UpdateOrganisationSettingsBody = Type.Partial(OrganisationSettingsSchema, {
  additionalProperties: false,
  minProperties: 1,
});
export type UpdateOrganisationSettingsInput = Static<typeof UpdateOrganisationSettingsBody>;
