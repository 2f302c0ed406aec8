import { loadConfig } from '../config.ts';
import { createContainer } from '../container.ts';
import { startBounceIntakeRole } from '../serve-bounce-intake.ts';
import { buildOperationsServer } from '../http/health.routes.ts';
import { buildServer } from '../http/server.ts';
import { createWorkerTasks } from '../workers/tasks.ts';
import { startWorker } from '../workers/runner.ts';
import type { CliIo } from './io.ts';

/**
 * `serve` runs the API and a worker in one process (the embedded default); `worker` runs the worker
 * only. Both stop gracefully on SIGTERM or SIGINT: no new requests or runs, in-flight ones finish,
 * and after SHUTDOWN_TIMEOUT_MS the process exits anyway.
 */
export async function serveCommand(io: CliIo, role: 'serve' | 'worker'): Promise<number> {
  const config = loadConfig(io.env);
  const container = await createContainer(config);
  const { logger } = container;
  // A worker has no API; with MAILROOM_WORKER_HTTP_PORT it serves /healthz, /readyz and /metrics.
  const app =
    role === 'serve'
      ? await buildServer(container)
      : config.workerHttpPort !== undefined
        ? await buildOperationsServer(container)
        : undefined;
  const workers = createWorkerTasks(container);
  await workers.join();
  const worker = startWorker(workers.tasks, logger);
  if (app)
    await app.listen({ port: role === 'serve' ? config.port : config.workerHttpPort, host: config.host });
  const bounceIntake = role === 'serve' ? await startBounceIntakeRole(container) : null;

  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      logger.info({ signal }, 'shutting down');
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      resolve();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });

  const forced = setTimeout(() => {
    logger.error({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown took too long; exiting');
    process.exit(1);
  }, config.shutdownTimeoutMs);
  forced.unref();
  await app?.close();
  await bounceIntake?.close();
  await worker.stop();
  await workers.close();
  await container.close();
  logger.info('stopped');
  return 0;
}
