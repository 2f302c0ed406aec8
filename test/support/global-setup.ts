import { testDialects, testPostgresUrl, withPostgresClient } from './dialects.ts';

/**
 * A run that means to test PostgreSQL must not pass without it: an unreachable server fails the
 * whole run with a message saying what to do.
 */
export default async function checkTestDatabases(): Promise<void> {
  if (testDialects.length === 0) {
    throw new Error('MAILROOM_TEST_DIALECTS names no known dialect; use sqlite, postgres or both.');
  }
  if (!testDialects.includes('postgres')) return;
  try {
    await withPostgresClient((client) => client.query('select 1'));
  } catch (error) {
    const where = new URL(testPostgresUrl);
    where.password = '';
    throw new Error(
      `PostgreSQL is not reachable at ${where.host}${where.pathname} (${(error as Error).message}). ` +
        'Start it, point MAILROOM_TEST_DATABASE_URL at one, or set MAILROOM_TEST_DIALECTS=sqlite ' +
        'to test on SQLite only.',
    );
  }
}
