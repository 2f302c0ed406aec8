import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { headerSafePattern } from '../domains/accounts/addresses.ts';
import { AppError, type ErrorCode, type FieldErrors } from '../errors.ts';
import { customFormats } from '../formats.ts';

/** The one place where error codes become HTTP statuses. */
const statusByCode: Record<ErrorCode, number> = {
  VALIDATION_FAILED: 400,
  INVALID_JSON: 400,
  UNSUPPORTED_MEDIA_TYPE: 415,
  PAYLOAD_TOO_LARGE: 413,
  ROUTE_NOT_FOUND: 404,
  UNAUTHENTICATED: 401,
  INVALID_CREDENTIALS: 401,
  TOO_MANY_ATTEMPTS: 429,
  RATE_LIMITED: 429,
  FORBIDDEN: 403,
  CSRF_TOKEN_INVALID: 403,
  TOKEN_SCOPE_INSUFFICIENT: 403,
  USER_NOT_FOUND: 404,
  TEAM_NOT_FOUND: 404,
  TOKEN_NOT_FOUND: 404,
  ORGANISATION_NOT_FOUND: 404,
  ACCOUNT_NOT_FOUND: 404,
  ACCOUNT_NOT_ACTIVE: 409,
  ACCOUNT_STATE_CONFLICT: 409,
  NOT_A_MARKETING_ACCOUNT: 409,
  INCOMING_NOT_CONFIGURED: 409,
  RELAY_NOT_CONFIGURED: 409,
  UNSUBSCRIBE_LINK_INVALID: 404,
  CONTACT_NOT_FOUND: 404,
  BOUNCE_NOT_FOUND: 404,
  RULE_NOT_FOUND: 404,
  WEBHOOK_NOT_FOUND: 404,
  NOTIFICATION_NOT_FOUND: 404,
  CONTACT_EMAIL_TAKEN: 409,
  MESSAGE_NOT_FOUND: 404,
  ATTACHMENT_NOT_FOUND: 404,
  MESSAGE_STATE_CONFLICT: 409,
  NO_DEFAULT_ACCOUNT: 409,
  EMAIL_TAKEN: 409,
  TEAM_NAME_TAKEN: 409,
  LAST_ADMIN: 409,
  ALREADY_SET_UP: 409,
  CONFIG_INVALID: 500,
  DATABASE_UNAVAILABLE: 503,
  MIGRATION_FAILED: 500,
  INTERNAL_ERROR: 500,
  SECRET_UNREADABLE: 500,
};

interface ValidationIssue {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string | undefined;
}

/** Ajv's `/smtp/port` becomes `smtp.port`; a missing or unknown field is named in the path itself. */
function fieldPath(issue: ValidationIssue, part: string): string {
  const segments = issue.instancePath.split('/').filter(Boolean);
  if (issue.keyword === 'required') segments.push(String(issue.params.missingProperty));
  if (issue.keyword === 'additionalProperties') segments.push(String(issue.params.additionalProperty));
  return segments.length > 0
    ? segments.map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~')).join('.')
    : part;
}

function fieldMessage(issue: ValidationIssue): string {
  if (issue.keyword === 'required') return 'is required';
  if (issue.keyword === 'additionalProperties') return 'is not an allowed field';
  if (issue.keyword === 'format') {
    const custom = customFormats[String(issue.params.format)];
    if (custom) return custom.message;
  }
  if (issue.keyword === 'pattern' && issue.params.pattern === headerSafePattern) {
    return 'must not contain line breaks or other control characters';
  }
  return issue.message ?? 'is invalid';
}

export function validationFields(issues: readonly ValidationIssue[], part: string): FieldErrors {
  const messages = new Map<string, string[]>();
  const allowedValues = new Map<string, unknown[]>();
  for (const issue of issues) {
    // A union reports each branch it failed and then the union itself; the branches say it.
    if (issue.keyword === 'anyOf') continue;
    const path = fieldPath(issue, part);
    if (issue.keyword === 'const' || issue.keyword === 'enum') {
      const allowed =
        issue.keyword === 'const' ? [issue.params.allowedValue] : (issue.params.allowedValues as unknown[]);
      allowedValues.set(path, [...(allowedValues.get(path) ?? []), ...allowed]);
      continue;
    }
    const list = messages.get(path) ?? [];
    const message = fieldMessage(issue);
    if (!list.includes(message)) list.push(message);
    messages.set(path, list);
  }
  for (const [path, allowed] of allowedValues) {
    const list = messages.get(path) ?? [];
    list.push(`must be one of ${allowed.map((value) => JSON.stringify(value)).join(', ')}`);
    messages.set(path, list);
  }
  // A nullable field that fails its real type also "fails" the null branch; that says nothing new
  // when the field or something inside it has a real complaint.
  const paths = [...messages.keys()];
  for (const [path, list] of messages) {
    const hasReasons = list.length > 1 || paths.some((other) => other.startsWith(`${path}.`));
    if (hasReasons) {
      const rest = list.filter((message) => message !== 'must be null');
      if (rest.length > 0) messages.set(path, rest);
      else messages.delete(path);
    }
  }
  return Object.fromEntries([...messages].map(([path, list]) => [path, list.join(' or ')]));
}

function fromFrameworkError(error: FastifyError): AppError | undefined {
  if (error.validation) {
    const part = error.validationContext ?? 'body';
    const fields = validationFields(error.validation as ValidationIssue[], part);
    const names = Object.keys(fields).join(', ');
    return new AppError('VALIDATION_FAILED', `Invalid ${part}: check ${names}.`, { fields });
  }
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError('UNSUPPORTED_MEDIA_TYPE', 'Send the body as application/json.');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('PAYLOAD_TOO_LARGE', 'The request body is too large.');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AppError('INVALID_JSON', 'The body is empty; send a JSON object or no content type.');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new AppError('INVALID_JSON', 'The body is not valid JSON.');
  }
  if (error instanceof SyntaxError) return new AppError('INVALID_JSON', 'The body is not valid JSON.');
  return undefined;
}

export function errorHandler(error: FastifyError | AppError, request: FastifyRequest, reply: FastifyReply) {
  const appError = error instanceof AppError ? error : fromFrameworkError(error);
  if (!appError) {
    request.log.error({ err: error }, 'unhandled error');
    return reply.status(500).send({
      error: { code: 'INTERNAL_ERROR', message: 'Something went wrong on our side; it has been logged.' },
    });
  }
  const status = statusByCode[appError.code];
  if (status >= 500) request.log.error({ err: error }, appError.message);
  if (appError.details.retryAfterSeconds !== undefined) {
    reply.header('retry-after', String(appError.details.retryAfterSeconds));
  }
  const { fields } = appError.details;
  return reply.status(status).send({
    error: { code: appError.code, message: appError.message, ...(fields && { fields }) },
  });
}

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply) {
  return reply.status(404).send({
    error: { code: 'ROUTE_NOT_FOUND', message: `No route ${request.method} ${request.url.split('?')[0]}.` },
  });
}
