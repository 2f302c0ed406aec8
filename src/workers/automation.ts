import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { AutomationEngine } from '../domains/automation/engine.ts';
import type { PeriodicTask } from './runner.ts';

/**
 * The automation worker: turns new events into rule runs and performs the runs that are due, a few
 * at a time, until nothing is left; several workers share the work through the runs' leases.
 */
export function createAutomationWorker(deps: {
  engine: AutomationEngine;
  logger: Logger;
  pollIntervalMs: number;
  /** Runs performed at once. */
  concurrency: number;
}) {
  const { engine, logger } = deps;
  const owner = `automation-${randomUUID()}`;

  async function runOnce(signal: AbortSignal): Promise<number> {
    let performed = 0;
    for (;;) {
      const dispatched = await engine.dispatch();
      const runs = await engine.claim(owner, deps.concurrency);
      if (runs.length > 0) {
        const outcomes = await Promise.all(runs.map((run) => engine.run(run, owner)));
        const retrying = outcomes.filter((status) => status === 'pending').length;
        if (retrying > 0) logger.warn({ retrying }, 'rule actions failed; retried later');
      }
      performed += runs.length;
      if ((dispatched === 0 && runs.length === 0) || signal.aborted) return performed;
    }
  }

  const task: PeriodicTask = {
    name: 'automation',
    intervalMs: deps.pollIntervalMs,
    async run(signal) {
      await runOnce(signal);
    },
  };
  return { task, runOnce };
}
