import { parseArgs } from 'node:util';
import { MAX_TOKEN_DAYS, type TokenScope } from '../domains/users/users.ts';
import { UsageError, type CliIo } from './io.ts';
import { withContainer } from './with-container.ts';

const scopes: readonly TokenScope[] = ['read', 'send', 'admin'];

export async function tokenCreateCommand(args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      email: { type: 'string' },
      name: { type: 'string' },
      scope: { type: 'string' },
      'expires-in-days': { type: 'string' },
    },
  });
  if (!values.email) throw new UsageError('missing --email');
  const scope = (values.scope ?? 'admin') as TokenScope;
  if (!scopes.includes(scope)) throw new UsageError(`--scope must be ${scopes.join(', ')}`);
  const days = values['expires-in-days'];
  if (days !== undefined && (!/^\d+$/.test(days) || Number(days) < 1 || Number(days) > MAX_TOKEN_DAYS)) {
    throw new UsageError(`--expires-in-days must be a whole number from 1 to ${MAX_TOKEN_DAYS}`);
  }
  const { secret } = await withContainer(io, (container) =>
    container.services.auth.createApiTokenForEmail(values.email!, values.name ?? 'created with the CLI', {
      scope,
      ...(days !== undefined && {
        expiresAt: new Date(container.now().getTime() + Number(days) * 86_400_000).toISOString(),
      }),
    }),
  );
  io.stdout.write(`${secret}\n`);
  return 0;
}
