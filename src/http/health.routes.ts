import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import Fastify, { type FastifyBaseLogger, type FastifyRequest } from 'fastify';
import { sql } from 'kysely';
import type { LevelWithSilent } from 'pino';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Container } from '../container.ts';
import { pendingMigrations } from '../db/migrate.ts';
import { AppError } from '../errors.ts';
import { ErrorBody, StrictObject } from '../schemas.ts';
import { errorHandler, notFoundHandler } from './error-handler.ts';
import { endConnectionsOnClose } from './graceful-close.ts';

/** A database that has not answered by then is not ready: the load balancer should look elsewhere. */
const READY_TIMEOUT_MS = 5_000;

const tags = ['service'];

const Readiness = StrictObject({
  status: Type.Union([Type.Literal('ok'), Type.Literal('unavailable')]),
  database: Type.Union([Type.Literal('ok'), Type.Literal('unreachable')], {
    description: 'whether the database answered a query',
  }),
  migrations: Type.Union([Type.Literal('current'), Type.Literal('pending'), Type.Literal('unknown')], {
    description: 'unknown while the database does not answer',
  }),
  pendingMigrations: Type.Array(Type.String(), {
    description: 'migrations of this version not yet applied (run `mailroom migrate`)',
  }),
});
type Readiness = typeof Readiness.static;

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

function sameSecret(given: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/**
 * Operations endpoints outside /api, without a login: `/healthz` (the process is up), `/readyz` (the
 * database answers and its schema is current: route traffic here) and `/metrics` (Prometheus;
 * behind MAILROOM_METRICS_TOKEN when that is set). `serve` has them beside the API; `mailroom
 * worker` serves them alone with MAILROOM_WORKER_HTTP_PORT (buildOperationsServer below). Their
 * request lines are logged at warn only, so probes every few seconds do not fill the log.
 */
export const healthRoutes: FastifyPluginAsyncTypebox<{ container: Container }> = async (
  app,
  { container },
) => {
  // Once every migration is applied it stays so for this version: later probes only ask the database.
  let migrationsCurrent = false;
  // Probes come every few seconds: their request lines are logged at warn (never louder than the logger).
  const { logger } = container;
  const logLevel = (logger.levelVal >= logger.levels.values.warn! ? logger.level : 'warn') as LevelWithSilent;

  async function readiness(request: FastifyRequest): Promise<Readiness> {
    let answered = false;
    try {
      await withTimeout(sql`select 1`.execute(container.db), READY_TIMEOUT_MS);
      answered = true;
      const pending = migrationsCurrent
        ? []
        : await withTimeout(pendingMigrations(container), READY_TIMEOUT_MS);
      migrationsCurrent = pending.length === 0;
      return {
        status: migrationsCurrent ? 'ok' : 'unavailable',
        database: 'ok',
        migrations: migrationsCurrent ? 'current' : 'pending',
        pendingMigrations: pending,
      };
    } catch (error) {
      // The reason goes to the log, not to whoever probes: it may name internal hosts.
      request.log.warn(
        { err: error },
        answered ? 'readiness: migrations unreadable' : 'readiness: database unreachable',
      );
      return {
        status: 'unavailable',
        database: answered ? 'ok' : 'unreachable',
        migrations: 'unknown',
        pendingMigrations: [],
      };
    }
  }

  app.get(
    '/healthz',
    {
      config: { public: true },
      logLevel,
      schema: {
        summary: 'Liveness: the process is up (asks nothing of the database)',
        tags,
        security: [],
        response: { 200: StrictObject({ status: Type.Literal('ok') }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      config: { public: true },
      logLevel,
      schema: {
        summary: 'Readiness: the database answers and every migration is applied (else 503, saying which)',
        tags,
        security: [],
        response: { 200: Readiness, 503: Readiness },
      },
    },
    async (request, reply) => {
      const ready = await readiness(request);
      return reply.code(ready.status === 'ok' ? 200 : 503).send(ready);
    },
  );

  const token = container.config.metricsToken;
  app.get(
    '/metrics',
    {
      config: { public: true },
      logLevel,
      schema: {
        summary: 'Prometheus metrics of this process (text format)',
        description:
          'Without a login; when MAILROOM_METRICS_TOKEN is set, send it as Authorization: Bearer <token>.',
        tags,
        security: [],
        response: {
          200: {
            description: 'The Prometheus text exposition format, version 0.0.4',
            content: { 'text/plain': { schema: Type.String() } },
          },
          401: ErrorBody,
        },
      },
    },
    async (request, reply) => {
      if (token !== undefined) {
        const match = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '');
        if (!match || !sameSecret(match[1]!, token)) {
          throw new AppError('UNAUTHENTICATED', 'Send the metrics token as Authorization: Bearer <token>.');
        }
      }
      const text = await container.metrics.render();
      return reply.type(container.metrics.contentType).send(text);
    },
  );
};

/**
 * The HTTP server of `mailroom worker` (MAILROOM_WORKER_HTTP_PORT): the operations endpoints only,
 * so that each worker process can be probed and scraped.
 */
export async function buildOperationsServer(container: Container) {
  const app = Fastify({
    loggerInstance: container.logger as FastifyBaseLogger,
  }).withTypeProvider<TypeBoxTypeProvider>();
  endConnectionsOnClose(app);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  await app.register(healthRoutes, { container });
  return app;
}
