import { Writable } from 'node:stream';
import { afterAll, beforeAll } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { createContainer, type Container, type ContainerOptions } from '../../src/container.ts';
import type { Dialect } from '../../src/db/database.ts';
import { buildServer, type App } from '../../src/http/server.ts';
import { createLogger } from '../../src/logger.ts';
import { useTestDatabase, type TestDatabase } from './dialects.ts';

/** A clock the test moves by hand, for expiry and throttling. */
export interface TestClock {
  now(): Date;
  advance(ms: number): void;
}

export function createTestClock(start = new Date('2026-11-23T09:00:00.000Z')): TestClock {
  let current = start.getTime();
  return { now: () => new Date(current), advance: (ms) => (current += ms) };
}

export interface TestApp {
  container: Container;
  app: App;
  baseUrl: string;
  clock: TestClock;
  database: TestDatabase;
  /** Every log line the app wrote, as text (at LOG_LEVEL, `info` unless the test's env says). */
  logs: string[];
}

/**
 * The real server on a real socket (port 0), on a fresh database of the given dialect, for the
 * enclosing `describe` block. `options.hostLookup` resolves the hosts users name (a test's own DNS).
 */
export function useTestApp(
  dialect: Dialect,
  env: Record<string, string> = {},
  options: Pick<ContainerOptions, 'hostLookup'> = {},
): { readonly current: TestApp } {
  const database = useTestDatabase(dialect);
  let testApp: TestApp | undefined;
  beforeAll(async () => {
    const logs: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        logs.push(String(chunk));
        done();
      },
    });
    const config = loadConfig({ ...database.current.env, LOG_LEVEL: 'info', ...env });
    const clock = createTestClock();
    const container = await createContainer(config, {
      logger: createLogger(config.logLevel, sink),
      now: clock.now,
      ...options,
    });
    const app = await buildServer(container);
    const baseUrl = await app.listen({ port: 0, host: '127.0.0.1' });
    testApp = { container, app, baseUrl, clock, database: database.current, logs };
  });
  afterAll(async () => {
    await testApp?.app.close();
    await testApp?.container.close();
  });
  return {
    get current() {
      if (!testApp) throw new Error('the test app is only ready inside tests and hooks');
      return testApp;
    },
  };
}

export interface ApiResponse<Body = unknown> {
  status: number;
  headers: Headers;
  body: Body;
}

export interface RequestOptions {
  body?: unknown;
  /** A raw body sent as is, with its content type. */
  rawBody?: { contentType: string; text: string };
  token?: string;
  cookie?: string;
  headers?: Record<string, string>;
}

export async function request<Body = Record<string, unknown>>(
  baseUrl: string,
  method: string,
  path: string,
  options: RequestOptions = {},
): Promise<ApiResponse<Body>> {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | undefined;
  if (options.rawBody) {
    headers['content-type'] = options.rawBody.contentType;
    body = options.rawBody.text;
  } else if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.body);
  }
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.cookie) headers.cookie = options.cookie;
  const response = await fetch(`${baseUrl}${path}`, { method, headers, body });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: (text ? JSON.parse(text) : null) as Body,
  };
}

export interface SignedIn {
  userId: string;
  orgId: string;
  email: string;
  password: string;
  token: string;
}

let sequence = 0;

/** A user in the named organisation (made on first use) with an API token to call the API as them. */
export async function signUp(
  container: Container,
  { org, role, email }: { org: string; role?: 'admin' | 'member'; email?: string },
): Promise<SignedIn> {
  sequence += 1;
  const address = email ?? `user${sequence}-${Date.now()}@${org.toLowerCase().replace(/\W/g, '')}.test`;
  const password = `password-${sequence}-secret`;
  const { user, organisation } = await container.services.users.createUserInOrganisation({
    organisationName: org,
    email: address,
    password,
    role,
  });
  const { secret } = await container.services.auth.createApiTokenForEmail(address, 'test');
  return { userId: user.id, orgId: organisation.id, email: address, password, token: secret };
}
