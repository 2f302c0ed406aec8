import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.ts';
import { AppError } from './errors.ts';

describe('configuration from the environment', () => {
  it('defaults to SQLite in ./data on port 8080', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 8080,
      dataDir: path.resolve('data'),
      database: { dialect: 'sqlite', file: path.resolve('data', 'mailroom.sqlite') },
      logLevel: 'info',
      cookieSecure: 'auto',
      trustProxy: false,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('uses PostgreSQL when DATABASE_URL is set', () => {
    const config = loadConfig({
      DATABASE_URL: 'postgres://mailroom@db:5432/mailroom',
      DATABASE_POOL_SIZE: '25',
    });
    expect(config.database).toEqual({
      dialect: 'postgres',
      url: 'postgres://mailroom@db:5432/mailroom',
      poolSize: 25,
    });
  });

  it('names every bad variable at once, and never echoes the database URL', () => {
    let thrown: unknown;
    try {
      loadConfig({
        PORT: '80a',
        LOG_LEVEL: 'loud',
        DATABASE_URL: 'mysql://root:hunter2@db/mailroom',
        TRUST_PROXY: 'yes',
        SESSION_TTL_HOURS: '1.5',
      });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(AppError);
    const error = thrown as AppError;
    expect(error.code).toBe('CONFIG_INVALID');
    expect(Object.keys(error.details.fields ?? {}).sort()).toEqual([
      'DATABASE_URL',
      'LOG_LEVEL',
      'PORT',
      'SESSION_TTL_HOURS',
      'TRUST_PROXY',
    ]);
    expect(error.details.fields?.PORT).toBe('must be a whole number from 0 to 65535, got "80a"');
    expect(error.message).not.toContain('hunter2');
    expect(JSON.stringify(error.details)).not.toContain('hunter2');
  });
});
