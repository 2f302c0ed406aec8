/**
 * Every failure the domain can report, by code. The HTTP layer maps codes to statuses in one place
 * (src/http/error-handler.ts); nothing else knows about HTTP.
 */
export const errorCodes = [
  'VALIDATION_FAILED',
  'INVALID_JSON',
  'UNSUPPORTED_MEDIA_TYPE',
  'PAYLOAD_TOO_LARGE',
  'ROUTE_NOT_FOUND',
  'UNAUTHENTICATED',
  'INVALID_CREDENTIALS',
  'TOO_MANY_ATTEMPTS',
  'RATE_LIMITED',
  'FORBIDDEN',
  'CSRF_TOKEN_INVALID',
  'TOKEN_SCOPE_INSUFFICIENT',
  'USER_NOT_FOUND',
  'TEAM_NOT_FOUND',
  'TOKEN_NOT_FOUND',
  'ORGANISATION_NOT_FOUND',
  'ACCOUNT_NOT_FOUND',
  'ACCOUNT_NOT_ACTIVE',
  'ACCOUNT_STATE_CONFLICT',
  'NOT_A_MARKETING_ACCOUNT',
  'INCOMING_NOT_CONFIGURED',
  'RELAY_NOT_CONFIGURED',
  'UNSUBSCRIBE_LINK_INVALID',
  'CONTACT_NOT_FOUND',
  'CONTACT_EMAIL_TAKEN',
  'BOUNCE_NOT_FOUND',
  'RULE_NOT_FOUND',
  'WEBHOOK_NOT_FOUND',
  'NOTIFICATION_NOT_FOUND',
  'MESSAGE_NOT_FOUND',
  'ATTACHMENT_NOT_FOUND',
  'MESSAGE_STATE_CONFLICT',
  'NO_DEFAULT_ACCOUNT',
  'EMAIL_TAKEN',
  'TEAM_NAME_TAKEN',
  'LAST_ADMIN',
  'ALREADY_SET_UP',
  'CONFIG_INVALID',
  'DATABASE_UNAVAILABLE',
  'MIGRATION_FAILED',
  'INTERNAL_ERROR',
  'SECRET_UNREADABLE',
] as const;

export type ErrorCode = (typeof errorCodes)[number];

/** Field path (such as `smtp.port`) to what is wrong with it. */
export type FieldErrors = Record<string, string>;

export interface AppErrorDetails {
  fields?: FieldErrors;
  /** Seconds a caller should wait before trying again (throttling). */
  retryAfterSeconds?: number;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details: AppErrorDetails;

  constructor(code: ErrorCode, message: string, details: AppErrorDetails = {}) {
    super(message);
    this.name = 'AppError';
    this.code = code;
    this.details = details;
  }
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}
