import type { Logger } from 'pino';
import { systemClock, type Clock } from './clock.ts';
import type { Config } from './config.ts';
import { connectDatabase } from './db/connect.ts';
import type { Db, Dialect } from './db/database.ts';
import { migrateToLatest } from './db/migrate.ts';
import { createAuthService } from './domains/users/auth.service.ts';
import { createUsersService } from './domains/users/users.service.ts';
import { createLogger } from './logger.ts';

export interface Container {
  config: Config;
  logger: Logger;
  db: Db;
  dialect: Dialect;
  now: Clock;
  services: {
    users: ReturnType<typeof createUsersService>;
    auth: ReturnType<typeof createAuthService>;
  };
  close(): Promise<void>;
}

export interface ContainerOptions {
  logger?: Logger;
  now?: Clock;
  /** Apply pending migrations first: the roles that run the service do, one-shot CLI commands too. */
  migrate?: boolean;
}

/** Builds everything once, by hand: the wiring is the code below, no framework. */
export async function createContainer(config: Config, options: ContainerOptions = {}): Promise<Container> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const now = options.now ?? systemClock;
  const handle = connectDatabase(config.database);
  if (options.migrate ?? true) {
    try {
      const applied = await migrateToLatest(handle);
      if (applied.length > 0) logger.info({ migrations: applied }, 'database migrated');
    } catch (error) {
      await handle.db.destroy();
      throw error;
    }
  }
  const { db, dialect } = handle;
  return {
    config,
    logger,
    db,
    dialect,
    now,
    services: {
      users: createUsersService({ db, dialect, now }),
      auth: createAuthService({ db, now, sessionTtlHours: config.sessionTtlHours }),
    },
    close: () => db.destroy(),
  };
}
