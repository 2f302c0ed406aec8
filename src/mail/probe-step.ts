import { performance } from 'node:perf_hooks';

/** One step of a "test settings" probe, whichever protocol: the shape the API returns. */
export interface RecordedStep<Name extends string> {
  step: Name;
  ok: boolean;
  ms: number;
  reply: string | null;
}

/**
 * Runs one probe step and records it with its duration: on success with the words `run` returns,
 * on failure with the error's message (the server's words, or what went wrong), after which the
 * error, turned into the probe's own kind by `toError`, ends the probe. `clean` sees every text
 * before it is kept, so a probe can take secrets out.
 */
export async function recordStep<Name extends string, E extends Error, T>(
  steps: RecordedStep<Name>[],
  name: Name,
  toError: (error: unknown) => E,
  run: () => Promise<{ value: T; reply: string | null }>,
  clean: (text: string | null) => string | null = (text) => text,
): Promise<T> {
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);
  try {
    const { value, reply } = await run();
    steps.push({ step: name, ok: true, ms: ms(), reply: clean(reply) });
    return value;
  } catch (error) {
    const failure = toError(error);
    steps.push({ step: name, ok: false, ms: ms(), reply: clean(failure.message) });
    throw failure;
  }
}
