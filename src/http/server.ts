import fastifyCookie from '@fastify/cookie';
import fastifySwagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import Fastify, { type FastifyInstance, type FastifyBaseLogger, type RawServerDefault } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Container } from '../container.ts';
import { accountsRoutes } from '../domains/accounts/accounts.routes.ts';
import { auditRoutes } from '../domains/audit/audit.routes.ts';
import { automationRoutes } from '../domains/automation/rules.routes.ts';
import { webhooksRoutes } from '../domains/automation/webhooks.routes.ts';
import { bouncesRoutes } from '../domains/bounces/bounces.routes.ts';
import { contactsRoutes } from '../domains/contacts/contacts.routes.ts';
import { organisationRoutes } from '../domains/users/organisation.routes.ts';
import { messagesRoutes } from '../domains/messages/messages.routes.ts';
import { unsubscribeRoutes } from '../domains/contacts/unsubscribe.routes.ts';
import { domainCheckRoutes } from '../domains/accounts/domain-check.routes.ts';
import { senderPreviewRoutes } from '../domains/accounts/sender-preview.routes.ts';
import { discoveryRoutes } from '../domains/accounts/discovery.routes.ts';
import { authRoutes } from '../domains/users/auth.routes.ts';
import { usersRoutes } from '../domains/users/users.routes.ts';
import { setupRoutes } from '../domains/users/setup.routes.ts';
import { customFormats } from '../formats.ts';
import { StrictObject } from '../schemas.ts';
import { authenticateRequests } from './auth.ts';
import { errorHandler, notFoundHandler } from './error-handler.ts';
import { healthRoutes } from './health.routes.ts';
import { refuseNul } from './nul-guard.ts';
import { endConnectionsOnClose } from './graceful-close.ts';
import { registerRateLimits } from './rate-limits.ts';
import { registerSecurityHeaders } from './security-headers.ts';
import { defaultWebRoot, webUiRoutes } from './web-ui.ts';

export type App = FastifyInstance<
  RawServerDefault,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

/**
 * Bodies are JSON and are never coerced: `null` stays null and fails where null is not allowed.
 * Query strings and path parameters arrive as text, so numbers there are read from their digits.
 * Every error is reported, not just the first, and unknown fields are refused, never dropped.
 */
function createValidators() {
  const shared = { allErrors: true, removeAdditional: false, useDefaults: true, strict: false } as const;
  const body = addFormats.default(new Ajv.default({ ...shared, coerceTypes: false }));
  const text = addFormats.default(new Ajv.default({ ...shared, coerceTypes: true }));
  for (const [name, format] of Object.entries(customFormats)) {
    body.addFormat(name, { type: 'string', validate: format.validate });
    text.addFormat(name, { type: 'string', validate: format.validate });
  }
  return ({ schema, httpPart }: { schema: object; httpPart?: string }) =>
    (httpPart === 'body' ? body : text).compile(schema);
}

export interface ServerOptions {
  /** The built web UI served at `/` (default: web/dist). */
  webRoot?: string;
}

export async function buildServer(container: Container, options: ServerOptions = {}): Promise<App> {
  const app = Fastify({
    loggerInstance: container.logger as FastifyBaseLogger,
    trustProxy: container.config.trustProxy,
    bodyLimit: 1024 * 1024,
  }).withTypeProvider<TypeBoxTypeProvider>();
  endConnectionsOnClose(app);

  app.setValidatorCompiler(createValidators());
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  app.decorateRequest('actor', null);
  // The API speaks JSON only; anything else is refused with 415 rather than read as a string.
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser(
    'application/merge-patch+json',
    { parseAs: 'string' },
    app.getDefaultJsonParser('error', 'error'),
  );

  await app.register(fastifyCookie);
  await registerSecurityHeaders(app, container.config);
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Mailroom API',
        version: '0.1.0',
        description:
          'Email accounts, outbox, inbound filing, bounces and automation for a CRM. Errors have the shape ' +
          '{ "error": { "code", "message", "fields"? } }.',
      },
      components: {
        securitySchemes: {
          session: {
            type: 'apiKey',
            in: 'cookie',
            name: 'mailroom_session',
            description:
              'the login session; every request but GET and HEAD also sends the X-CSRF-Token header with ' +
              'the value of the mailroom_csrf cookie (403 CSRF_TOKEN_INVALID without it)',
          },
          bearer: {
            type: 'http',
            scheme: 'bearer',
            description:
              'an API token, mr_…, of scope read (GET only), send (read, and queue messages) or admin ' +
              '(all the user’s role allows); 403 TOKEN_SCOPE_INSUFFICIENT beyond it',
          },
        },
      },
      security: [{ session: [] }, { bearer: [] }],
    },
  });

  app.addHook('onRequest', authenticateRequests(container.services.auth, container.config));
  // Several processes can share one PostgreSQL database, and then a limit must count them all.
  await registerRateLimits(
    app,
    container.config.rateLimits,
    container.dialect === 'postgres' ? container.services.rateLimits : null,
  );
  // NUL in a body or query is a 400 naming the field, before any schema or database sees it.
  app.addHook('preValidation', refuseNul);

  app.get('/api/openapi.json', { config: { public: true }, schema: { hide: true } }, async () =>
    app.swagger(),
  );

  app.get(
    '/api/health',
    {
      config: { public: true },
      schema: {
        summary: 'Is the service up and its database reachable',
        tags: ['service'],
        security: [],
        response: { 200: StrictObject({ status: Type.Literal('ok') }) },
      },
    },
    async () => {
      await container.db.selectFrom('organisations').select('id').limit(1).execute();
      return { status: 'ok' as const };
    },
  );

  await app.register(healthRoutes, { container });
  await app.register(authRoutes, { container });
  await app.register(setupRoutes, { container });
  await app.register(usersRoutes, { container });
  await app.register(accountsRoutes, { container });
  await app.register(auditRoutes, { container });
  await app.register(contactsRoutes, { container });
  await app.register(messagesRoutes, { container });
  await app.register(unsubscribeRoutes, { container });
  await app.register(domainCheckRoutes, { container });
  await app.register(senderPreviewRoutes, { container });
  await app.register(discoveryRoutes, { container });
  await app.register(bouncesRoutes, { container });
  await app.register(organisationRoutes, { container });
  await app.register(automationRoutes, { container });
  await app.register(webhooksRoutes, { container });
  await app.register(webUiRoutes, { root: options.webRoot ?? defaultWebRoot });
  return app;
}
