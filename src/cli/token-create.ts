import { parseArgs } from 'node:util';
import { UsageError, type CliIo } from './io.ts';
import { withContainer } from './with-container.ts';

export async function tokenCreateCommand(args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: { email: { type: 'string' }, name: { type: 'string' } },
  });
  if (!values.email) throw new UsageError('missing --email');
  const { secret } = await withContainer(io, (container) =>
    container.services.auth.createApiTokenForEmail(values.email!, values.name ?? 'created with the CLI'),
  );
  io.stdout.write(`${secret}\n`);
  return 0;
}
