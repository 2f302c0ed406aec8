import { isIP } from 'node:net';
import path from 'node:path';
import { AppError } from './errors.ts';

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];

export type DatabaseConfig =
  { dialect: 'sqlite'; file: string } | { dialect: 'postgres'; url: string; poolSize: number };

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  readonly database: DatabaseConfig;
  readonly logLevel: LogLevel;
  readonly sessionTtlHours: number;
  /** A session unused this long ends (sliding: each use, at most once a minute, renews it). */
  readonly sessionIdleMinutes: number;
  readonly cookieSecure: 'auto' | boolean;
  readonly trustProxy: boolean;
  /** MAILROOM_CORS_ORIGINS: the browser origins allowed to call the API with a token; none: CORS off. */
  readonly corsOrigins: readonly string[] | undefined;
  /** Requests a minute per user and per client IP (src/http/rate-limits.ts); 0: no limit. */
  readonly rateLimits: {
    loginPerIp: number;
    testSettingsPerUser: number;
    testSettingsPerIp: number;
    syncNowPerUser: number;
    syncNowPerIp: number;
    sendPerUser: number;
    sendPerIp: number;
  };
  readonly shutdownTimeoutMs: number;
  readonly outbox: {
    leaseMs: number;
    maxAttempts: number;
    retryBaseMs: number;
    pollIntervalMs: number;
    concurrency: number;
    connectionsPerAccount: number;
  };
  readonly sync: {
    /** How long a worker holds a mailbox without a sign of life before another may take it. */
    leaseMs: number;
    /** How often a worker looks for mailboxes due for a sync. */
    pollIntervalMs: number;
    /** Mailboxes synced at once by one worker. */
    concurrency: number;
    /** Keep IMAP IDLE open on INBOX where the server offers it, for mail within seconds. */
    idle: boolean;
  };
  readonly fleet: {
    /** How often a worker says it is alive (and so renews every account it holds). */
    heartbeatMs: number;
    /** A worker silent this long is dead: its holds and memory-only passwords are given up. */
    deadAfterMs: number;
  };
  readonly automation: {
    /** How often a worker looks for new events and due rule runs. */
    pollIntervalMs: number;
    /** How long a worker holds a rule run before another may take it. */
    leaseMs: number;
  };
  readonly webhooks: {
    /** How often a worker looks for webhook deliveries that are due. */
    pollIntervalMs: number;
    /** How long one delivery may take before it counts as failed (and is retried). */
    timeoutMs: number;
    /** How long a worker holds a delivery before another may take it: the timeout and a margin. */
    leaseMs: number;
    /** MAILROOM_ALLOW_INSECURE_WEBHOOKS: http:// webhook URLs as well as https://. */
    allowInsecure: boolean;
  };
  /**
   * MAILROOM_ALLOW_PRIVATE_HOSTS: let user-given hosts resolve to loopback, private and link-local
   * addresses (src/net/address-policy.ts); for development and closed networks only.
   */
  readonly allowPrivateHosts: boolean;
  /** Raw messages above this keep only their header block. */
  readonly rawMessageMaxBytes: number;
  /** Where raw incoming messages are kept: a blob store under DATA_DIR, or a table of the database. */
  readonly rawStore: 'data-dir' | 'database';
  readonly marketing: {
    /** The platform relay every marketing message goes through (an SMTP URL with its credentials). */
    relayUrl: string | undefined;
    /** VERP return paths are bounces+<token>@ this domain. */
    bounceDomain: string | undefined;
    /** Where the bounce intake listens (SMTP); unset: no intake in this process. */
    bounceSmtpPort: number | undefined;
    /** The intake refuses larger notices. */
    bounceMaxBytes: number;
    /** The address people reach this service at, for the one-click unsubscribe link. */
    publicUrl: string | undefined;
    quotaHourly: number;
    quotaDaily: number;
  };
  /** DNS servers for the sending-domain check and autodiscovery (`ip` or `ip:port`); undefined: the system's. */
  readonly dnsServers: readonly string[] | undefined;
  readonly discovery: {
    /** MAILROOM_ISPDB_URL: an ISP database in Thunderbird's format, asked by domain; unset: not asked. */
    ispdbUrl: string | undefined;
    /** MAILROOM_DISCOVERY_TIMEOUT_MS: the overall deadline of one autodiscovery. */
    deadlineMs: number;
  };
  /** MAILROOM_SECRET_KEY: encrypts account passwords; required with PostgreSQL. */
  readonly secretKey: string | undefined;
  /** MAILROOM_SECRET_KEY_PREVIOUS: older keys, still read during a rotation. */
  readonly previousSecretKeys: string | undefined;
  /** MAILROOM_METRICS_TOKEN: when set, `GET /metrics` wants `Authorization: Bearer <token>`. */
  readonly metricsToken: string | undefined;
  /** MAILROOM_WORKER_HTTP_PORT: `mailroom worker` serves /healthz, /readyz and /metrics here. */
  readonly workerHttpPort: number | undefined;
}

type Parse<T> = (value: string) => T;

/** A variable whose value is a secret (a database URL carries its password) is never echoed back. */
interface Variable<T> {
  default: T;
  parse: Parse<T>;
  secret?: boolean;
}

class InvalidValue extends Error {}

function integer(min: number, max: number): Parse<number> {
  return (value) => {
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      throw new InvalidValue(`must be a whole number from ${min} to ${max}`);
    }
    return Number(value);
  };
}

function oneOf<T extends string>(choices: readonly T[]): Parse<T> {
  return (value) => {
    if (!(choices as readonly string[]).includes(value)) {
      throw new InvalidValue(`must be one of ${choices.join(', ')}`);
    }
    return value as T;
  };
}

const text: Parse<string> = (value) => value;
const bool: Parse<boolean> = (value) => oneOf(['true', 'false'])(value) === 'true';
const postgresUrl: Parse<string | undefined> = (value) => {
  if (!/^postgres(ql)?:\/\//.test(value))
    throw new InvalidValue('must start with postgres:// or postgresql://');
  return value;
};

const smtpUrl: Parse<string | undefined> = (value) => {
  if (!/^smtps?:\/\/[^\s/]+(:\d+)?\/?$/.test(value)) {
    throw new InvalidValue('must be smtp://user:password@host:port or smtps://… (TLS on connect)');
  }
  return value;
};
const domainName: Parse<string | undefined> = (value) => {
  if (!/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i.test(value)) {
    throw new InvalidValue('must be a domain name such as bounces.example.com');
  }
  return value.toLowerCase();
};
/** One DNS server as `Resolver.setServers` takes it: `ip`, `ipv4:port`, `[ipv6]` or `[ipv6]:port`. */
function isDnsServer(server: string): boolean {
  if (isIP(server)) return true;
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(server);
  const withPort = /^([^:]+):(\d{1,5})$/.exec(server);
  const [host, port] = bracketed
    ? [bracketed[1]!, bracketed[2]]
    : withPort
      ? [withPort[1]!, withPort[2]]
      : [];
  const family = bracketed ? 6 : 4;
  return (
    host !== undefined && isIP(host) === family && (port === undefined || (+port >= 1 && +port <= 65535))
  );
}
const dnsServers: Parse<readonly string[] | undefined> = (value) => {
  const servers = value.split(',').map((server) => server.trim());
  if (!servers.every(isDnsServer)) {
    throw new InvalidValue('must be comma-separated IP addresses, each with an optional :port ([ipv6]:port)');
  }
  return Object.freeze(servers);
};
/** Browser origins, comma-separated: `https://crm.example.com`, `http://localhost:3000`. */
const origins: Parse<readonly string[] | undefined> = (value) => {
  const origin = (text: string) => {
    try {
      const url = new URL(text.trim());
      const bare = url.pathname === '/' && !url.search && !url.hash && !url.username && !url.password;
      return /^https?:$/.test(url.protocol) && bare ? url.origin : undefined;
    } catch {
      return undefined;
    }
  };
  const list = value.split(',').map(origin);
  if (!list.every((item) => item !== undefined)) {
    throw new InvalidValue('must be comma-separated origins such as https://crm.example.com (no path)');
  }
  return Object.freeze(list as string[]);
};
/** An https:// URL, `{domain}` standing for the domain asked about (else it is appended). */
const ispdbUrl: Parse<string | undefined> = (value) => {
  if (!/^https:\/\/[^\s/?#]+(\/[^\s]*)?$/.test(value)) {
    throw new InvalidValue('must be an https:// URL, such as https://autoconfig.thunderbird.net/v1.1/');
  }
  return value;
};
const httpUrl: Parse<string | undefined> = (value) => {
  if (!/^https?:\/\/[^\s]+$/.test(value)) throw new InvalidValue('must be an http:// or https:// URL');
  return value.replace(/\/+$/, '');
};

/** Every environment variable Mailroom reads, with its default. The README lists the same. */
const variables = {
  PORT: { default: 8080, parse: integer(0, 65535) },
  HOST: { default: '0.0.0.0', parse: text },
  DATA_DIR: { default: './data', parse: text },
  DATABASE_URL: { default: undefined as string | undefined, parse: postgresUrl, secret: true },
  DATABASE_POOL_SIZE: { default: 10, parse: integer(1, 500) },
  LOG_LEVEL: { default: 'info' as LogLevel, parse: oneOf(logLevels) },
  SESSION_TTL_HOURS: { default: 168, parse: integer(1, 24 * 90) },
  SESSION_IDLE_MINUTES: { default: 120, parse: integer(1, 60 * 24 * 90) },
  COOKIE_SECURE: { default: 'auto' as const, parse: oneOf(['auto', 'true', 'false'] as const) },
  TRUST_PROXY: { default: false, parse: bool },
  MAILROOM_CORS_ORIGINS: { default: undefined as readonly string[] | undefined, parse: origins },
  RATE_LIMIT_LOGIN_PER_IP: { default: 30, parse: integer(0, 1_000_000) },
  RATE_LIMIT_TEST_PER_USER: { default: 20, parse: integer(0, 1_000_000) },
  RATE_LIMIT_TEST_PER_IP: { default: 60, parse: integer(0, 1_000_000) },
  RATE_LIMIT_SYNC_PER_USER: { default: 20, parse: integer(0, 1_000_000) },
  RATE_LIMIT_SYNC_PER_IP: { default: 60, parse: integer(0, 1_000_000) },
  RATE_LIMIT_SEND_PER_USER: { default: 600, parse: integer(0, 1_000_000) },
  RATE_LIMIT_SEND_PER_IP: { default: 1_200, parse: integer(0, 1_000_000) },
  SHUTDOWN_TIMEOUT_MS: { default: 10_000, parse: integer(0, 600_000) },
  OUTBOX_LEASE_MS: { default: 300_000, parse: integer(5_000, 3_600_000) },
  OUTBOX_MAX_ATTEMPTS: { default: 8, parse: integer(1, 100) },
  OUTBOX_RETRY_BASE_MS: { default: 60_000, parse: integer(1, 3_600_000) },
  OUTBOX_POLL_MS: { default: 1_000, parse: integer(10, 600_000) },
  OUTBOX_CONCURRENCY: { default: 8, parse: integer(1, 1000) },
  SMTP_CONNECTIONS_PER_ACCOUNT: { default: 2, parse: integer(1, 50) },
  SYNC_LEASE_MS: { default: 600_000, parse: integer(5_000, 3_600_000) },
  SYNC_POLL_MS: { default: 5_000, parse: integer(10, 600_000) },
  SYNC_CONCURRENCY: { default: 4, parse: integer(1, 100) },
  SYNC_IDLE: { default: true, parse: bool },
  WORKER_HEARTBEAT_MS: { default: 5_000, parse: integer(100, 60_000) },
  WORKER_DEAD_AFTER_MS: { default: 30_000, parse: integer(1_000, 600_000) },
  AUTOMATION_POLL_MS: { default: 1_000, parse: integer(10, 600_000) },
  AUTOMATION_LEASE_MS: { default: 120_000, parse: integer(5_000, 3_600_000) },
  WEBHOOK_POLL_MS: { default: 1_000, parse: integer(10, 600_000) },
  WEBHOOK_TIMEOUT_MS: { default: 10_000, parse: integer(100, 120_000) },
  MAILROOM_ALLOW_INSECURE_WEBHOOKS: { default: false, parse: bool },
  MAILROOM_ALLOW_PRIVATE_HOSTS: { default: false, parse: bool },
  RAW_MESSAGE_MAX_BYTES: { default: 26_214_400, parse: integer(1_024, 1_073_741_824) },
  RAW_STORE: {
    default: undefined as 'data-dir' | 'database' | undefined,
    parse: oneOf(['data-dir', 'database'] as const),
  },
  MAILROOM_RELAY_URL: { default: undefined as string | undefined, parse: smtpUrl, secret: true },
  MAILROOM_BOUNCE_DOMAIN: { default: undefined as string | undefined, parse: domainName },
  MAILROOM_BOUNCE_SMTP_PORT: { default: undefined as number | undefined, parse: integer(0, 65535) },
  MAILROOM_BOUNCE_MAX_BYTES: { default: 1_048_576, parse: integer(1_024, 104_857_600) },
  MAILROOM_PUBLIC_URL: { default: undefined as string | undefined, parse: httpUrl },
  MAILROOM_DNS_SERVERS: { default: undefined as readonly string[] | undefined, parse: dnsServers },
  MAILROOM_ISPDB_URL: { default: undefined as string | undefined, parse: ispdbUrl },
  MAILROOM_DISCOVERY_TIMEOUT_MS: { default: 15_000, parse: integer(1_000, 120_000) },
  MARKETING_QUOTA_HOURLY: { default: 1_000, parse: integer(1, 10_000_000) },
  MARKETING_QUOTA_DAILY: { default: 10_000, parse: integer(1, 100_000_000) },
  MAILROOM_SECRET_KEY: { default: undefined as string | undefined, parse: text, secret: true },
  MAILROOM_SECRET_KEY_PREVIOUS: { default: undefined as string | undefined, parse: text, secret: true },
  MAILROOM_METRICS_TOKEN: { default: undefined as string | undefined, parse: text, secret: true },
  MAILROOM_WORKER_HTTP_PORT: { default: undefined as number | undefined, parse: integer(0, 65535) },
} satisfies Record<string, Variable<unknown>>;

type Variables = typeof variables;
type Env = { [Name in keyof Variables]: ReturnType<Variables[Name]['parse']> | Variables[Name]['default'] };

export const envVariableNames = Object.keys(variables) as (keyof Variables)[];

/**
 * Reads the configuration from the environment once. Fails fast, naming every bad variable at once,
 * so an operator fixes them in one go rather than one restart per mistake.
 */
export function loadConfig(environment: NodeJS.ProcessEnv = process.env): Config {
  const env: Record<string, unknown> = {};
  const fields: Record<string, string> = {};
  for (const name of envVariableNames) {
    const variable: Variable<unknown> = variables[name];
    const value = environment[name];
    if (value === undefined || value === '') {
      env[name] = variable.default;
      continue;
    }
    try {
      env[name] = variable.parse(value);
    } catch (error) {
      if (!(error instanceof InvalidValue)) throw error;
      fields[name] = variable.secret ? error.message : `${error.message}, got ${JSON.stringify(value)}`;
    }
  }
  if (Object.keys(fields).length > 0) {
    const list = Object.entries(fields).map(([name, message]) => `${name} ${message}`);
    throw new AppError('CONFIG_INVALID', `Invalid environment: ${list.join('; ')}`, { fields });
  }
  return toConfig(env as Env);
}

function toConfig(env: Env): Config {
  const dataDir = path.resolve(env.DATA_DIR);
  const database: DatabaseConfig = env.DATABASE_URL
    ? { dialect: 'postgres', url: env.DATABASE_URL, poolSize: env.DATABASE_POOL_SIZE }
    : { dialect: 'sqlite', file: path.join(dataDir, 'mailroom.sqlite') };
  return Object.freeze({
    port: env.PORT,
    host: env.HOST,
    dataDir,
    database,
    logLevel: env.LOG_LEVEL,
    sessionTtlHours: env.SESSION_TTL_HOURS,
    sessionIdleMinutes: env.SESSION_IDLE_MINUTES,
    cookieSecure: env.COOKIE_SECURE === 'auto' ? 'auto' : env.COOKIE_SECURE === 'true',
    trustProxy: env.TRUST_PROXY,
    corsOrigins: env.MAILROOM_CORS_ORIGINS,
    rateLimits: {
      loginPerIp: env.RATE_LIMIT_LOGIN_PER_IP,
      testSettingsPerUser: env.RATE_LIMIT_TEST_PER_USER,
      testSettingsPerIp: env.RATE_LIMIT_TEST_PER_IP,
      syncNowPerUser: env.RATE_LIMIT_SYNC_PER_USER,
      syncNowPerIp: env.RATE_LIMIT_SYNC_PER_IP,
      sendPerUser: env.RATE_LIMIT_SEND_PER_USER,
      sendPerIp: env.RATE_LIMIT_SEND_PER_IP,
    },
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
    outbox: {
      leaseMs: env.OUTBOX_LEASE_MS,
      maxAttempts: env.OUTBOX_MAX_ATTEMPTS,
      retryBaseMs: env.OUTBOX_RETRY_BASE_MS,
      pollIntervalMs: env.OUTBOX_POLL_MS,
      concurrency: env.OUTBOX_CONCURRENCY,
      connectionsPerAccount: env.SMTP_CONNECTIONS_PER_ACCOUNT,
    },
    sync: {
      leaseMs: env.SYNC_LEASE_MS,
      pollIntervalMs: env.SYNC_POLL_MS,
      concurrency: env.SYNC_CONCURRENCY,
      idle: env.SYNC_IDLE,
    },
    fleet: { heartbeatMs: env.WORKER_HEARTBEAT_MS, deadAfterMs: env.WORKER_DEAD_AFTER_MS },
    automation: { pollIntervalMs: env.AUTOMATION_POLL_MS, leaseMs: env.AUTOMATION_LEASE_MS },
    webhooks: {
      pollIntervalMs: env.WEBHOOK_POLL_MS,
      timeoutMs: env.WEBHOOK_TIMEOUT_MS,
      leaseMs: env.WEBHOOK_TIMEOUT_MS + 60_000,
      allowInsecure: env.MAILROOM_ALLOW_INSECURE_WEBHOOKS,
    },
    allowPrivateHosts: env.MAILROOM_ALLOW_PRIVATE_HOSTS,
    rawMessageMaxBytes: env.RAW_MESSAGE_MAX_BYTES,
    rawStore: env.RAW_STORE ?? (database.dialect === 'postgres' ? 'database' : 'data-dir'),
    marketing: {
      relayUrl: env.MAILROOM_RELAY_URL,
      bounceDomain: env.MAILROOM_BOUNCE_DOMAIN,
      bounceSmtpPort: env.MAILROOM_BOUNCE_SMTP_PORT,
      bounceMaxBytes: env.MAILROOM_BOUNCE_MAX_BYTES,
      publicUrl: env.MAILROOM_PUBLIC_URL,
      quotaHourly: env.MARKETING_QUOTA_HOURLY,
      quotaDaily: env.MARKETING_QUOTA_DAILY,
    },
    dnsServers: env.MAILROOM_DNS_SERVERS,
    discovery: { ispdbUrl: env.MAILROOM_ISPDB_URL, deadlineMs: env.MAILROOM_DISCOVERY_TIMEOUT_MS },
    secretKey: env.MAILROOM_SECRET_KEY,
    previousSecretKeys: env.MAILROOM_SECRET_KEY_PREVIOUS,
    metricsToken: env.MAILROOM_METRICS_TOKEN,
    workerHttpPort: env.MAILROOM_WORKER_HTTP_PORT,
  });
}
