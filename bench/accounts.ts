/**
 * The account list at scale: fills a fresh database with N accounts (100,000 by default) in one
 * organisation and prints p50/p99 of the list queries a person runs, on SQLite and PostgreSQL.
 *
 *   npm run bench:accounts -- [--count 100000] [--runs 200] [--dialect sqlite|postgres|both]
 */
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import { createAccountsService } from '../src/domains/accounts/accounts.service.ts';
import { foldForSearch, type AccountListQuery } from '../src/domains/accounts/accounts.ts';
import { createPasswordVault } from '../src/domains/accounts/password-vault.ts';
import { createAuditService } from '../src/domains/audit/audit.service.ts';
import { createUsersService } from '../src/domains/users/users.service.ts';
import type { NewRow } from '../src/db/database.ts';
import { newId } from '../src/db/ids.ts';
import { buildKeyring } from '../src/secrets/keyring.ts';
import { createTestDatabase, type TestDatabase } from '../test/support/dialects.ts';

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

const firstNames = [
  'Ada',
  'Grace',
  'Jörg',
  'Zoë',
  'Łukasz',
  'Ömer',
  'Straße',
  'Chloé',
  'Mikael',
  'Priya',
  'Wei',
  'Amara',
];
const desks = ['Sales', 'Support', 'Billing', 'Partners', 'Newsletter', 'Recruiting', 'Success', 'Ops'];
const domains = ['acme.test', 'globex.test', 'initech.test', 'umbrella.test', 'bücher.test'];

function accountRow(orgId: string, ownerId: string, index: number): NewRow<'accounts'> {
  const name = `${firstNames[index % firstNames.length]} ${desks[(index * 7) % desks.length]} ${index}`;
  const email = `${desks[index % desks.length]!.toLowerCase()}.${index}@${domains[index % domains.length]}`;
  const timestamp = new Date(Date.UTC(2026, 0, 1) + index * 1000).toISOString();
  return {
    id: newId(Date.UTC(2026, 0, 1) + index),
    org_id: orgId,
    owner_id: ownerId,
    type: index % 10 === 0 ? 'marketing' : 'own',
    scope: index % 3 === 0 ? 'team' : 'personal',
    name,
    email,
    display_name: name,
    organization: null,
    reply_to: null,
    reply_to_name: null,
    from_name_template: null,
    reply_to_name_template: null,
    settings: JSON.stringify({
      smtp: { host: 'smtp.acme.test', username: email },
      incoming: null,
      options: null,
    }),
    secrets: null,
    secret_kinds: '',
    status: index % 10 === 0 ? 'pending_approval' : 'active',
    rejection_reason: null,
    approved_at: null,
    approved_by: null,
    name_folded: foldForSearch(name),
    search_folded: `${foldForSearch(name)}\n${foldForSearch(email)}`,
    outgoing_state: 'ok',
    outgoing_last_error: null,
    outgoing_last_ok_at: timestamp,
    incoming_state: 'unknown',
    incoming_last_error: null,
    incoming_last_ok_at: null,
    last_used_at: null,
    created_at: timestamp,
    updated_at: timestamp,
  };
}

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
  const fillStarted = performance.now();
  const batch = database.dialect === 'sqlite' ? 500 : 1000;
  for (let start = 0; start < count; start += batch) {
    const rows = Array.from({ length: Math.min(batch, count - start) }, (_, offset) =>
      accountRow(organisation.id, user.id, start + offset),
    );
    await database.db.insertInto('accounts').values(rows).execute();
  }
  // What the worker's housekeeping does every ten minutes as tables grow (PRAGMA optimize on SQLite).
  await sql`analyze`.execute(database.db);
  const fillSeconds = (performance.now() - fillStarted) / 1000;

  const keyring = buildKeyring([Buffer.alloc(32, 7)], { kind: 'env' }, 'bench');
  const accounts = createAccountsService({
    ...database,
    now,
    keyring,
    vault: createPasswordVault(),
    audit,
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
