import { once } from 'node:events';
import type { Logger } from 'pino';
import type { Container } from './container.ts';
import { createBounceIntakeService } from './domains/bounces/intake.service.ts';
import { AppError } from './errors.ts';
import { startBounceIntake, type BounceIntake } from './mail/bounce-intake.ts';
import { verpKeys } from './secrets/derived.ts';

/**
 * The bounce intake as a role of a process: `mailroom bounce-intake` alone, or beside the API in
 * `serve` when MAILROOM_BOUNCE_SMTP_PORT is set. Listens on HOST, like the API.
 *
 * Returns null when this process runs no intake (MAILROOM_BOUNCE_SMTP_PORT unset).
 */
export async function startBounceIntakeRole(container: Container): Promise<BounceIntake | null> {
  const { config, db, now, logger } = container;
  const { bounceSmtpPort, bounceDomain, bounceMaxBytes } = config.marketing;
  if (bounceSmtpPort === undefined) return null;
  if (!bounceDomain) {
    throw new AppError(
      'CONFIG_INVALID',
      'Invalid environment: MAILROOM_BOUNCE_DOMAIN is required with MAILROOM_BOUNCE_SMTP_PORT',
      {
        fields: { MAILROOM_BOUNCE_DOMAIN: 'is required with MAILROOM_BOUNCE_SMTP_PORT' },
      },
    );
  }
  const { rawStore } = container;
  const log = logger.child({ role: 'bounce-intake' });
  const service = createBounceIntakeService({
    db,
    now,
    keys: verpKeys(container.keyring),
    bounceDomain,
    rawStore,
    bounces: container.services.bounces,
  });
  const intake = await startBounceIntake({
    port: bounceSmtpPort,
    host: config.host,
    bounceDomain,
    maxBytes: bounceMaxBytes,
    acceptRecipient: (address) => service.acceptRecipient(address),
    async onNotice(notice) {
      const outcome = await service.receive(notice);
      log.info({ rcptTo: notice.rcptTo, ...outcome }, 'bounce notice stored');
    },
    logger: log,
  });
  log.info({ port: intake.port, host: config.host, bounceDomain }, 'bounce intake listening');
  return {
    port: intake.port,
    close: () => intake.close(),
  };
}

/** Resolves on the first SIGTERM or SIGINT: when a long-running role should stop. */
export async function untilStopSignal(logger: Logger): Promise<void> {
  const listening = new AbortController();
  const signals = ['SIGTERM', 'SIGINT'] as const;
  const signal = await Promise.race(
    signals.map((name) => once(process, name, { signal: listening.signal }).then(() => name)),
  );
  listening.abort();
  logger.info({ signal }, 'shutting down');
}

/** From now on, the process has this long to stop by itself before it exits anyway. */
export function exitIfStuck(logger: Logger, timeoutMs: number): void {
  setTimeout(() => {
    logger.error({ timeoutMs }, 'shutdown took too long; exiting');
    process.exit(1);
  }, timeoutMs).unref();
}
