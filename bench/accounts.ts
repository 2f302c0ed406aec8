/**
 * The account list at scale: fills a fresh database with N accounts (100,000 by default) in one
 * organisation and prints p50/p99 of the list queries a person runs, on SQLite and PostgreSQL.
 *
 *   npm run bench:accounts -- [--count 100000] [--runs 200] [--dialect sqlite|postgres|both]
 */
import { parseArgs } from 'node:util';
import { createAccountsService } from '../src/domains/accounts/accounts.service.ts';
import { createFleetService } from '../src/domains/workers/fleet.service.ts';
import { createPasswordCourier } from '../src/domains/workers/password-courier.ts';
import type { AccountListQuery } from '../src/domains/accounts/accounts.ts';
import { createPasswordVault } from '../src/domains/accounts/password-vault.ts';
import { createAuditService } from '../src/domains/audit/audit.service.ts';
import { createUsersService } from '../src/domains/users/users.service.ts';
import { anyHost } from '../src/net/address-policy.ts';
import { buildKeyring } from '../src/secrets/keyring.ts';
import { createTestDatabase, type TestDatabase } from '../test/support/dialects.ts';
import { seedAccounts } from './support/accounts-seed.ts';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '100000' },
    runs: { type: 'string', default: '200' },
    dialect: { type: 'string', default: 'both' },
  },
});
const count = Number(values.count);
const runs = Number(values.runs);
const dialects =
  values.dialect === 'both' ? (['sqlite', 'postgres'] as const) : [values.dialect as 'sqlite' | 'postgres'];

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function measure(database: TestDatabase): Promise<void> {
  const now = () => new Date();
  const audit = createAuditService({ db: database.db, now });
  const users = createUsersService({ ...database, now, audit });
  const { user, organisation } = await users.createUserInOrganisation({
    organisationName: 'Bench',
    email: 'bench@bench.test',
    password: 'bench-password',
  });
  const fillSeconds = await seedAccounts(database, organisation.id, user.id, count);

  const keyring = buildKeyring([Buffer.alloc(32, 7)], { kind: 'env' }, 'bench');
  const vault = createPasswordVault();
  const fleet = createFleetService({
    ...database,
    now,
    workerId: 'bench',
    settings: { heartbeatMs: 5_000, deadAfterMs: 30_000 },
  });
  const accounts = createAccountsService({
    ...database,
    now,
    keyring,
    vault,
    courier: createPasswordCourier({ ...database, keyring, vault, fleet }),
    workerId: fleet.workerId,
    audit,
    hostPolicy: anyHost,
  });
  const actor = { userId: user.id, orgId: organisation.id, role: 'admin' as const };
  const queries: [string, AccountListQuery][] = [
    ['first page, no filter', {}],
    ['search "support" (name)', { q: 'support' }],
    ['search "ömer" (folded)', { q: 'ÖMER' }],
    ['search "4711" (rare)', { q: '4711' }],
    ['search "globex.test" (address)', { q: 'globex.test' }],
    ['search "zo" (2 chars)', { q: 'zo' }],
    ['type=marketing', { type: 'marketing' }],
    ['status=pending_approval, scope=team', { status: 'pending_approval', scope: 'team' }],
    ['page 200 of 50', { page: 200 }],
    ['pageSize 500', { pageSize: 500 }],
  ];
  console.log(
    `\n${database.dialect}: ${count} accounts filled in ${fillSeconds.toFixed(1)} s; ${runs} runs per query`,
  );
  console.log(
    `${'query'.padEnd(40)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'rows'.padStart(6)} ${'total'.padStart(7)}`,
  );
  for (const [label, query] of queries) {
    const times: number[] = [];
    let last = { items: [] as unknown[], total: 0 };
    for (let run = 0; run < runs; run++) {
      const started = performance.now();
      last = await accounts.list(actor, query);
      times.push(performance.now() - started);
    }
    times.sort((a, b) => a - b);
    console.log(
      `${label.padEnd(40)} ${percentile(times, 50).toFixed(2).padStart(8)} ${percentile(times, 99).toFixed(2).padStart(8)} ${String(last.items.length).padStart(6)} ${String(last.total).padStart(7)}`,
    );
  }
}

for (const dialect of dialects) {
  const database = await createTestDatabase(dialect);
  try {
    await measure(database);
  } finally {
    await database.drop();
  }
}
