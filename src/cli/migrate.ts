import { loadConfig } from '../config.ts';
import { connectDatabase } from '../db/connect.ts';
import { migrateToLatest } from '../db/migrate.ts';
import type { CliIo } from './io.ts';

export async function migrateCommand(io: CliIo): Promise<number> {
  const handle = connectDatabase(loadConfig(io.env).database);
  try {
    const applied = await migrateToLatest(handle);
    io.stdout.write(
      applied.length > 0
        ? `applied ${applied.length} migration(s): ${applied.join(', ')}\n`
        : 'database is up to date\n',
    );
    return 0;
  } finally {
    await handle.db.destroy();
  }
}
