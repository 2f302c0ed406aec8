import { loadConfig } from '../config.ts';
import { createContainer } from '../container.ts';
import { AppError } from '../errors.ts';
import { exitIfStuck, startBounceIntakeRole, untilStopSignal } from '../serve-bounce-intake.ts';
import type { CliIo } from './io.ts';

/**
 * `mailroom bounce-intake`: the SMTP listener for bounce notices alone, on
 * MAILROOM_BOUNCE_SMTP_PORT for MAILROOM_BOUNCE_DOMAIN, until SIGTERM or SIGINT. Sessions under way
 * finish (a notice is stored or answered 451); after SHUTDOWN_TIMEOUT_MS the process exits anyway.
 */
export async function bounceIntakeCommand(io: CliIo): Promise<number> {
  const config = loadConfig(io.env);
  if (config.marketing.bounceSmtpPort === undefined) {
    throw new AppError(
      'CONFIG_INVALID',
      'Invalid environment: MAILROOM_BOUNCE_SMTP_PORT is required for bounce-intake',
      {
        fields: { MAILROOM_BOUNCE_SMTP_PORT: 'is required for bounce-intake' },
      },
    );
  }
  const container = await createContainer(config);
  const { logger } = container;
  let intake;
  try {
    intake = await startBounceIntakeRole(container);
  } catch (error) {
    await container.close();
    throw error;
  }
  await untilStopSignal(logger);
  exitIfStuck(logger, config.shutdownTimeoutMs);
  await intake?.close();
  await container.close();
  logger.info('stopped');
  return 0;
}
