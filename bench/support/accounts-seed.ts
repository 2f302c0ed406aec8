/**
 * Many accounts in one organisation, inserted as rows in batches: what bench:accounts and bench:api
 * fill their fresh databases with. Names and addresses repeat in patterns (a tenth are marketing
 * accounts waiting for approval, a third are team accounts), with non-ASCII letters for folding.
 */
import { sql } from 'kysely';
import { foldForSearch } from '../../src/domains/accounts/accounts.ts';
import type { Db, Dialect, NewRow } from '../../src/db/database.ts';
import { newId } from '../../src/db/ids.ts';

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

/** The account row number `index`: `<first name> <desk> <index>`, `<desk>.<index>@<domain>`. */
function benchAccountRow(orgId: string, ownerId: string, index: number): NewRow<'accounts'> {
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

/**
 * Inserts `count` accounts owned by `ownerId`, then refreshes the planner's statistics as the
 * worker's housekeeping does as tables grow. Returns the seconds it took.
 */
export async function seedAccounts(
  database: { db: Db; dialect: Dialect },
  orgId: string,
  ownerId: string,
  count: number,
): Promise<number> {
  const started = performance.now();
  const batch = database.dialect === 'sqlite' ? 500 : 1000;
  for (let start = 0; start < count; start += batch) {
    const rows = Array.from({ length: Math.min(batch, count - start) }, (_, offset) =>
      benchAccountRow(orgId, ownerId, start + offset),
    );
    await database.db.insertInto('accounts').values(rows).execute();
  }
  // What the worker's housekeeping does every ten minutes as tables grow (PRAGMA optimize on SQLite).
  await sql`analyze`.execute(database.db);
  return (performance.now() - started) / 1000;
}
