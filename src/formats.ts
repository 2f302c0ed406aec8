import { isMailboxAddress } from './domains/accounts/addresses.ts';
import { normalizeDkimDomain } from './domains/accounts/dkim.service.ts';
import { placeholderHelp, templateProblem } from './domains/accounts/templates.ts';

interface CustomFormat {
  validate(value: string): boolean;
  /** What a person reads when a value does not fit. */
  message: string;
}

/**
 * Formats our schemas use beyond JSON Schema's own, registered with the validator in
 * src/http/server.ts. An empty string passes each: optional text fields treat "" as "not set", and
 * required ones say `minLength: 1` as well.
 */
export const customFormats: Record<string, CustomFormat> = {
  mailbox: {
    validate: (value) => value === '' || isMailboxAddress(value),
    message: 'must be an email address such as name@example.com, without a display name',
  },
  domain: {
    validate: (value) => value === '' || normalizeDkimDomain(value) !== null,
    message: 'must be a domain name such as example.com',
  },
  'sender-template': {
    validate: (value) => templateProblem(value) === null,
    message: `has an unknown or unclosed placeholder; ${placeholderHelp}`,
  },
  'date-or-date-time': {
    validate: (value) =>
      value === '' ||
      (/^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2}))?$/.test(value) &&
        !Number.isNaN(Date.parse(value))),
    message: 'must be an ISO-8601 date (2026-01-31) or date-time with a zone (2026-01-31T08:00:00Z)',
  },
};
