import fastifyRateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from '../config.ts';
import type { RateCounter } from '../domains/users/rate-limits.service.ts';
import { AppError } from '../errors.ts';

/** Every limit counts requests in a fixed window of a minute. */
const WINDOW_MS = 60_000;

export interface RateLimitRule {
  /** Named in the error message: "Too many sign-in attempts …". */
  what: string;
  /** `METHOD /route/pattern`, as the route was declared. */
  routes: readonly string[];
  perUser: number;
  perIp: number;
}

/**
 * The expensive or abusable requests, limited in one place by their route pattern so the domain
 * routes need not know. Login has no per-user limit: anyone may type a user's address, so a limit
 * there would let them keep the user out; failed logins per address are throttled instead, with a
 * capped delay (src/domains/users/login-throttle.ts).
 */
export function rateLimitRules(limits: Config['rateLimits']): RateLimitRule[] {
  return [
    { what: 'sign-in attempts', routes: ['POST /api/auth/login'], perUser: 0, perIp: limits.loginPerIp },
    {
      what: 'connection tests',
      routes: ['POST /api/accounts/test', 'POST /api/accounts/:id/test'],
      perUser: limits.testSettingsPerUser,
      perIp: limits.testSettingsPerIp,
    },
    {
      what: 'sync requests',
      routes: ['POST /api/accounts/:id/sync'],
      perUser: limits.syncNowPerUser,
      perIp: limits.syncNowPerIp,
    },
    {
      what: 'messages sent',
      routes: ['POST /api/messages', 'POST /api/messages/batch'],
      perUser: limits.sendPerUser,
      perIp: limits.sendPerIp,
    },
  ];
}

/** `isAllowed` means "on the allow list" (we have none); `isExceeded` says whether this one is over. */
type Check = (
  request: FastifyRequest,
) => Promise<{ isAllowed: true } | { isAllowed: false; isExceeded: boolean; ttlInSeconds: number }>;

/**
 * @fastify/rate-limit's store interface over our database counters. The plugin builds the store
 * itself (`new Store(options)`), so the counter comes in through the closure.
 */
function databaseStore(counter: RateCounter) {
  return class DatabaseStore {
    incr(
      key: string,
      callback: (error: Error | null, result?: { current: number; ttl: number }) => void,
      windowMs: number,
    ) {
      counter.hit(key, windowMs).then(
        ({ hits, ttlMs }) => callback(null, { current: hits, ttl: ttlMs }),
        (error: unknown) => callback(error instanceof Error ? error : new Error(String(error))),
      );
    }

    child() {
      return this;
    }
  };
}

/**
 * Registers @fastify/rate-limit and one hook, after authentication, that applies the per-user and
 * the per-IP limit of the route. With `counter` (PostgreSQL, where several processes may serve) the
 * counts are kept in the database and every process counts against the same limit; without it, in
 * this process's memory. Over a limit: 429 RATE_LIMITED with Retry-After, through the one error
 * handler.
 */
export async function registerRateLimits(
  app: FastifyInstance,
  limits: Config['rateLimits'],
  counter: RateCounter | null,
): Promise<void> {
  await app.register(fastifyRateLimit, { global: false, ...(counter && { store: databaseStore(counter) }) });
  const byRoute = new Map<string, { rule: RateLimitRule; per: 'user' | 'ip'; check: Check }[]>();
  for (const [index, rule] of rateLimitRules(limits).entries()) {
    const checks = (['user', 'ip'] as const)
      .map((per) => ({ per, max: per === 'user' ? rule.perUser : rule.perIp }))
      .filter(({ max }) => max > 0)
      .map(({ per, max }) => ({
        rule,
        per,
        check: app.createRateLimit({
          max,
          timeWindow: WINDOW_MS,
          keyGenerator: (request: FastifyRequest) =>
            `${index}:${per}:${per === 'user' ? (request.actor?.userId ?? '') : request.ip}`,
        }),
      }));
    for (const route of rule.routes) byRoute.set(route, checks);
  }
  app.addHook('onRequest', async (request) => {
    const checks = byRoute.get(`${request.method} ${request.routeOptions.url}`);
    if (!checks) return;
    for (const { rule, per, check } of checks) {
      if (per === 'user' && !request.actor) continue;
      const result = await check(request);
      if (!result.isAllowed && result.isExceeded) {
        const retryAfterSeconds = Math.max(1, result.ttlInSeconds);
        throw new AppError(
          'RATE_LIMITED',
          `Too many ${rule.what} ${per === 'user' ? 'for your user' : 'from your address'}; ` +
            `try again in ${retryAfterSeconds} seconds.`,
          { retryAfterSeconds },
        );
      }
    }
  });
}
