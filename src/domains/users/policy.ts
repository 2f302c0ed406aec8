import { AppError } from '../../errors.ts';
import type { Actor } from './users.ts';

/** Authorisation lives in the services, next to the rules it guards, never inline in handlers. */
export function requireAdmin(actor: Actor, action: string): void {
  if (actor.role !== 'admin') throw new AppError('FORBIDDEN', `Only an admin can ${action}.`);
}
