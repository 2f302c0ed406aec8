import type { FastifyRequest } from 'fastify';
import { AppError } from '../errors.ts';

/** Deeper than any body of ours; a deeper one is refused by its schema anyway. */
const MAX_DEPTH = 64;

/**
 * The path (`to.0.name`) of the first string, or object key, in a parsed JSON body or query that
 * holds NUL (U+0000); null when none does. Iterative, so a deeply nested body costs no stack.
 */
export function nulPath(value: unknown): string | null {
  const stack: { value: unknown; path: string[] }[] = [{ value, path: [] }];
  while (stack.length > 0) {
    const { value: current, path } = stack.pop()!;
    if (typeof current === 'string') {
      if (current.includes('\0')) return path.join('.');
    } else if (current !== null && typeof current === 'object' && path.length < MAX_DEPTH) {
      for (const [key, child] of Object.entries(current)) {
        if (key.includes('\0')) return [...path, key.replace(/\0/g, '\\0')].join('.');
        stack.push({ value: child, path: [...path, key] });
      }
    }
  }
  return null;
}

/**
 * Refuses NUL in request bodies and query strings before validation: no field has a use for it, a
 * PostgreSQL text column cannot hold it (the insert would fail as a 500), and C programs that read
 * the value later would cut it there. A 400 naming the field, like every validation error.
 */
export async function refuseNul(request: FastifyRequest): Promise<void> {
  for (const [part, value] of [
    ['body', request.body],
    ['querystring', request.query],
  ] as const) {
    const path = nulPath(value);
    if (path === null) continue;
    const field = path || part;
    throw new AppError('VALIDATION_FAILED', `Invalid ${part}: check ${field}.`, {
      fields: { [field]: 'must not contain NUL characters' },
    });
  }
}
