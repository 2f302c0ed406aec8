import { loadConfig } from '../config.ts';
import { createContainer, type Container } from '../container.ts';
import { createLogger } from '../logger.ts';
import type { CliIo } from './io.ts';

/**
 * For one-shot commands: logs go to stderr so that stdout carries only the command's answer
 * (`token create` prints the token alone), and the database is closed however the command ends.
 */
export async function withContainer<T>(io: CliIo, work: (container: Container) => Promise<T>): Promise<T> {
  const config = loadConfig(io.env);
  const logger = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel, {
    write: (line: string) => io.stderr.write(line),
  });
  const container = await createContainer(config, { logger });
  try {
    return await work(container);
  } finally {
    await container.close();
  }
}
