import type { Container } from '../../src/container.ts';
import { createLogger } from '../../src/logger.ts';
import { createAutomationWorker } from '../../src/workers/automation.ts';

/** One pass of a fresh automation worker (as after a restart): every new event, every due run. */
export function runAutomationOnce(container: Container): Promise<number> {
  const worker = createAutomationWorker({
    engine: container.services.automation,
    logger: createLogger('silent'),
    pollIntervalMs: 60_000,
    concurrency: 4,
  });
  return worker.runOnce(new AbortController().signal);
}
