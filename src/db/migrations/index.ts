import type { Kysely, Migration, MigrationProvider } from 'kysely';
import type { Dialect } from '../database.ts';
import * as foundation from './001-foundation.ts';
import * as accounts from './002-accounts.ts';
import * as messages from './003-messages.ts';
import * as outboxDue from './004-outbox-due.ts';
import * as incoming from './005-incoming.ts';
import * as deleting from './006-deleting.ts';
import * as marketing from './007-marketing.ts';
import * as bounces from './008-bounces.ts';
import * as automation from './010-automation.ts';
import * as webhooks from './011-webhooks.ts';
import * as firstRun from './012-first-run.ts';
import * as workerFleet from './013-worker-fleet.ts';
import * as sessionsAndTokens from './014-sessions-and-tokens.ts';
import * as passwordHolderIndex from './015-password-holder-index.ts';
import * as rateLimits from './016-rate-limits.ts';
import * as placementsByServerId from './017-placements-by-server-id.ts';

/** What differs between the dialects, handed to every migration so one set serves both. */
export interface MigrationContext {
  dialect: Dialect;
  timestamp: 'timestamptz' | 'text';
}

interface DialectMigration {
  up(db: Kysely<unknown>, context: MigrationContext): Promise<void>;
}

/** In order; a migration, once released, is never edited: add the next one instead. */
const migrations: Record<string, DialectMigration> = {
  '001-foundation': foundation,
  '002-accounts': accounts,
  '003-messages': messages,
  '004-outbox-due': outboxDue,
  '005-incoming': incoming,
  '006-deleting': deleting,
  '007-marketing': marketing,
  '008-bounces': bounces,
  '010-automation': automation,
  '011-webhooks': webhooks,
  '012-first-run': firstRun,
  '013-worker-fleet': workerFleet,
  '014-sessions-and-tokens': sessionsAndTokens,
  '015-password-holder-index': passwordHolderIndex,
  '016-rate-limits': rateLimits,
  '017-placements-by-server-id': placementsByServerId,
};

export function migrationProvider(dialect: Dialect): MigrationProvider {
  const context: MigrationContext = { dialect, timestamp: dialect === 'postgres' ? 'timestamptz' : 'text' };
  return {
    async getMigrations() {
      const bound: Record<string, Migration> = {};
      for (const [name, migration] of Object.entries(migrations)) {
        bound[name] = { up: (db) => migration.up(db, context) };
      }
      return bound;
    },
  };
}
