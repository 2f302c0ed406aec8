import { parseArgs } from 'node:util';
import { readAll, UsageError, type CliIo } from './io.ts';
import { withContainer } from './with-container.ts';

export async function userCreateCommand(args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      org: { type: 'string' },
      email: { type: 'string' },
      password: { type: 'string' },
      'password-stdin': { type: 'boolean' },
      role: { type: 'string' },
      name: { type: 'string' },
    },
  });
  const missing = (['org', 'email'] as const).filter((name) => !values[name]);
  if (missing.length > 0) throw new UsageError(`missing ${missing.map((name) => `--${name}`).join(', ')}`);
  if (values.role !== undefined && values.role !== 'admin' && values.role !== 'member') {
    throw new UsageError(`--role must be admin or member, not "${values.role}"`);
  }
  if ((values.password === undefined) === !values['password-stdin']) {
    throw new UsageError('give the password with exactly one of --password or --password-stdin');
  }
  // Read from stdin, a password stays out of the shell history and the process list.
  const password = values.password ?? (await readAll(io.stdin)).replace(/\r?\n$/, '');

  const result = await withContainer(io, (container) =>
    container.services.users.createUserInOrganisation({
      organisationName: values.org!,
      email: values.email!,
      password,
      name: values.name,
      role: values.role as 'admin' | 'member' | undefined,
    }),
  );
  const { user, organisation, organisationCreated } = result;
  io.stdout.write(
    `created ${user.role} ${user.email} (${user.id}) in ${organisationCreated ? 'new' : 'existing'} ` +
      `organisation "${organisation.name}"\n`,
  );
  return 0;
}
