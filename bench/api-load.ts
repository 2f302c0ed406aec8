/**
 * API load: the real HTTP server (buildServer on a fresh database holding N accounts) driven by
 * autocannon for a fixed time per endpoint, on SQLite and PostgreSQL:
 *  - GET /api/accounts with a search matching some hundreds of accounts under a type/status/scope
 *    filter, page size 50 (four such queries in turn);
 *  - POST /api/messages, queueing a message from one of the accounts (no worker runs: it stays queued).
 * It prints req/s (2xx responses only), p50/p99 latency, errors and non-2xx responses, and req/s per
 * core. The server (main thread), autocannon (a worker thread of the same process) and PostgreSQL
 * share the machine's cores, so per-core figures are a lower bound for a server alone on its cores.
 * It fails when most responses are errors.
 *
 *   npm run bench:api -- [--accounts 100000] [--duration 30] [--dialect sqlite|postgres|both] [--connections 10]
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { loadConfig } from '../src/config.ts';
import { createContainer } from '../src/container.ts';
import type { Dialect } from '../src/db/database.ts';
import { buildServer } from '../src/http/server.ts';
import { createLogger } from '../src/logger.ts';
import { createTestDatabase } from '../test/support/dialects.ts';
import { seedAccounts } from './support/accounts-seed.ts';

const { values } = parseArgs({
  options: {
    accounts: { type: 'string', default: '100000' },
    duration: { type: 'string', default: '30' },
    dialect: { type: 'string', default: 'both' },
    connections: { type: 'string', default: '10' },
  },
});
const accountCount = Number(values.accounts);
const duration = Number(values.duration);
const connections = Number(values.connections);
const dialects: Dialect[] = values.dialect === 'both' ? ['sqlite', 'postgres'] : [values.dialect as Dialect];
for (const [name, value] of [
  ['--accounts', accountCount],
  ['--duration', duration],
  ['--connections', connections],
] as const) {
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
}
if (!dialects.every((dialect) => dialect === 'sqlite' || dialect === 'postgres'))
  throw new Error('--dialect must be sqlite, postgres or both');

const cores = os.availableParallelism();
const body = 'Hello,\n\nthis is a benchmark message of a realistic size.\n'.repeat(40);

/**
 * Three-digit fragments of the account numbers, in names and addresses, combined with the filters a
 * person sets: at 100,000 accounts they match 280, 280, 280 and 94.
 */
const searches = [
  'q=471&type=own&status=active',
  'q=238&status=active',
  'q=905&type=own',
  'q=612&scope=team&type=own',
].map((query) => `/api/accounts?${query}&pageSize=50`);

interface Row {
  dialect: Dialect;
  endpoint: string;
  reqPerSec: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  statuses: string;
}

type BenchRequest = { method: 'GET' | 'POST'; path: string; headers: Record<string, string>; body?: string };

/** One request of each kind before the load, so that a broken setup fails with the server's answer. */
async function preflight(baseUrl: string, request: BenchRequest, expected: number): Promise<string> {
  const response = await fetch(`${baseUrl}${request.path}`, {
    method: request.method,
    headers: request.headers,
    body: request.body ?? null,
  });
  const text = await response.text();
  if (response.status !== expected)
    throw new Error(`${request.method} ${request.path} answered ${response.status}: ${text.slice(0, 500)}`);
  return text;
}

async function drive(
  dialect: Dialect,
  endpoint: string,
  baseUrl: string,
  requests: BenchRequest[],
): Promise<Row> {
  const result = await autocannon({
    url: baseUrl,
    connections,
    duration,
    // The load generator runs in a worker thread, off the server's event loop.
    workers: 1,
    requests,
  });
  const statuses = Object.entries(result.statusCodeStats ?? {})
    .filter(([status]) => !status.startsWith('2'))
    .map(([status, { count }]) => `${status}×${count ?? 0}`)
    .join(' ');
  const row: Row = {
    dialect,
    endpoint,
    reqPerSec: result['2xx'] / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors,
    non2xx: result.non2xx,
    statuses,
  };
  const failed = result.errors + result.non2xx;
  if (result['2xx'] === 0 || failed > result['2xx']) {
    // The server's own words for one request, to say why.
    const sample = await fetch(`${baseUrl}${requests[0]!.path}`, {
      method: requests[0]!.method,
      headers: requests[0]!.headers,
      body: requests[0]!.body ?? null,
    }).then(
      async (response) => `${response.status} ${(await response.text()).slice(0, 500)}`,
      (error: unknown) => String(error),
    );
    printRows([row]);
    throw new Error(
      `${dialect} ${endpoint}: most responses failed (${result['2xx']} 2xx, ${result.non2xx} non-2xx` +
        ` [${statuses}], ${result.errors} connection errors/timeouts); one request now answers: ${sample}`,
    );
  }
  return row;
}

async function measure(dialect: Dialect): Promise<Row[]> {
  const database = await createTestDatabase(dialect);
  // The load comes from one user and one address: the send rate limits (per process) would cap it.
  const config = loadConfig({
    ...database.env,
    LOG_LEVEL: 'silent',
    RATE_LIMIT_SEND_PER_USER: '0',
    RATE_LIMIT_SEND_PER_IP: '0',
  });
  const container = await createContainer(config, { logger: createLogger('silent') });
  const app = await buildServer(container);
  try {
    const { users, auth } = container.services;
    const { user, organisation } = await users.createUserInOrganisation({
      organisationName: 'Bench',
      email: 'bench@bench.test',
      password: 'bench-password',
    });
    const { secret } = await auth.createApiTokenForEmail(user.email, 'bench');
    const seedSeconds = await seedAccounts(
      { db: container.db, dialect },
      organisation.id,
      user.id,
      accountCount,
    );
    const senders = await container.db
      .selectFrom('accounts')
      .select('id')
      .where('type', '=', 'own')
      .where('status', '=', 'active')
      .orderBy('id')
      .limit(20)
      .execute();
    if (senders.length === 0) throw new Error('no active own account to send from: seed more accounts');
    // Port 0: the system picks a free one.
    const baseUrl = await app.listen({ port: 0, host: '127.0.0.1' });
    const headers = { authorization: `Bearer ${secret}` };

    const listRequests: BenchRequest[] = searches.map((path) => ({ method: 'GET', path, headers }));
    const matches: number[] = [];
    for (const request of listRequests) {
      matches.push((JSON.parse(await preflight(baseUrl, request, 200)) as { total: number }).total);
    }
    const queueRequests: BenchRequest[] = Array.from({ length: 100 }, (_, index) => ({
      method: 'POST',
      path: '/api/messages',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({
        accountId: senders[index % senders.length]!.id,
        to: [{ name: `Recipient ${index}`, address: `rcpt${index}@client.test` }],
        subject: `Bench ${index}`,
        text: body,
      }),
    }));
    await preflight(baseUrl, queueRequests[0]!, 202);
    console.log(
      `\n${dialect}: ${accountCount} accounts seeded in ${seedSeconds.toFixed(1)} s; the searches match ` +
        `${matches.join(', ')} accounts; ${connections} connections, ${duration} s per endpoint`,
    );

    return [
      await drive(dialect, 'GET /api/accounts search+filter', baseUrl, listRequests),
      await drive(dialect, 'POST /api/messages', baseUrl, queueRequests),
    ];
  } finally {
    await app.close();
    await container.close();
    await database.drop();
  }
}

function printRows(rows: Row[]): void {
  console.log(
    `${'dialect'.padEnd(9)} ${'endpoint'.padEnd(33)} ${'req/s'.padStart(8)} ${'p50 ms'.padStart(7)} ` +
      `${'p99 ms'.padStart(7)} ${'errors/non-2xx'.padStart(15)} ${'req/s/core'.padStart(11)}`,
  );
  for (const row of rows) {
    console.log(
      `${row.dialect.padEnd(9)} ${row.endpoint.padEnd(33)} ${row.reqPerSec.toFixed(0).padStart(8)} ` +
        `${row.p50.toFixed(1).padStart(7)} ${row.p99.toFixed(1).padStart(7)} ` +
        `${`${row.errors}/${row.non2xx}`.padStart(15)} ${(row.reqPerSec / cores).toFixed(0).padStart(11)}` +
        (row.statuses ? `   non-2xx: ${row.statuses}` : ''),
    );
  }
}

const rows: Row[] = [];
for (const dialect of dialects) rows.push(...(await measure(dialect)));
console.log(
  `\n${cores} cores, shared by the server, the load generator (autocannon, in a worker thread) and ` +
    `PostgreSQL; req/s counts 2xx responses; latencies are of 2xx responses; req/s/core = req/s / ${cores}.`,
);
printRows(rows);
