import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { createTestDatabase, testDialects, useTestDatabase } from '../../test/support/dialects.ts';
import { toIsoTimestamp } from './connect.ts';
import { newId } from './ids.ts';
import { migrateToLatest } from './migrate.ts';

describe('PostgreSQL timestamps', () => {
  it('are read back as UTC ISO-8601 whatever the session time zone', () => {
    expect(toIsoTimestamp('2026-11-23 06:42:26.12+01')).toBe('2026-11-23T05:42:26.120Z');
    expect(toIsoTimestamp('2026-11-23 05:42:26+00')).toBe('2026-11-23T05:42:26.000Z');
    expect(toIsoTimestamp('2026-11-23 11:12:26.5+05:30')).toBe('2026-11-23T05:42:26.500Z');
  });
});

describe('ids', () => {
  it('sort in the order they were made', () => {
    const ids = [newId(1_000), newId(2_000), newId(2_001), newId(1_700_000_000_000)];
    expect([...ids].sort()).toEqual(ids);
    expect(ids[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('made in the same millisecond still sort in the order they were made, past 4,096 of them', () => {
    const at = Date.now();
    const ids = Array.from({ length: 5000 }, () => newId(at));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids)
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

describe.each(testDialects)('the schema on %s', (dialect) => {
  const database = useTestDatabase(dialect);

  it('migrates once: a second run applies nothing', async () => {
    expect(await migrateToLatest(database.current)).toEqual([]);
  });

  it('stores and returns times as the same UTC ISO strings', async () => {
    const { db } = database.current;
    const createdAt = '2026-11-23T05:42:26.123Z';
    await db
      .insertInto('organisations')
      .values({ id: newId(), name: 'Times', created_at: createdAt })
      .execute();
    const row = await db
      .selectFrom('organisations')
      .selectAll()
      .where('name', '=', 'Times')
      .executeTakeFirstOrThrow();
    expect(row.created_at).toBe(createdAt);
    const later = await db
      .selectFrom('organisations')
      .select('name')
      .where('created_at', '>', '2026-11-23T05:42:26.122Z')
      .execute();
    expect(later.map((r) => r.name)).toContain('Times');
  });

  it('refuses a role other than admin or member at the database too', async () => {
    const { db } = database.current;
    const orgId = newId();
    await db
      .insertInto('organisations')
      .values({ id: orgId, name: 'Roles', created_at: new Date().toISOString() })
      .execute();
    const insert = db
      .insertInto('users')
      .values({
        id: newId(),
        org_id: orgId,
        email: 'role@roles.test',
        name: 'x',
        role: 'owner' as 'admin',
        password_hash: 'x',
        created_at: new Date().toISOString(),
        updated_at: new Date().toISOString(),
      })
      .execute();
    await expect(insert).rejects.toThrow(/check/i);
  });
});

describe.skipIf(!testDialects.includes('postgres'))('migrations from several processes at once', () => {
  it('apply once while the others wait', async () => {
    const first = await createTestDatabase('postgres');
    try {
      // Another connection pool on the same schema stands in for a second process starting up.
      const url = first.config.dialect === 'postgres' ? first.config.url : '';
      const { connectDatabase } = await import('./connect.ts');
      const others = [1, 2, 3].map(() => connectDatabase({ dialect: 'postgres', url, poolSize: 2 }));
      const results = await Promise.all(others.map((handle) => migrateToLatest(handle)));
      expect(results.flat()).toEqual([]);
      await Promise.all(others.map((handle) => handle.db.destroy()));
    } finally {
      await first.drop();
    }
  });

  it('each migrate their own schema while another installation lives in a schema beside it', async () => {
    const neighbour = await createTestDatabase('postgres');
    try {
      const ours = await createTestDatabase('postgres');
      const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(ours.db);
      const tables = await ours.db.introspection.getTables({ withInternalKyselyTables: true });
      const ourTables = tables.filter((table) => table.schema === rows[0]?.schema).map((table) => table.name);
      expect(ourTables).toEqual(expect.arrayContaining(['kysely_migration', 'messages']));
      await ours.drop();
    } finally {
      await neighbour.drop();
    }
  });
});
