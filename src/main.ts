import { isAppError } from './errors.ts';
import { UsageError, type CliIo } from './cli/io.ts';
import { accountCommand } from './cli/account-discover.ts';
import { bounceClassifyCommand } from './cli/bounce-classify.ts';
import { bounceIntakeCommand } from './cli/bounce-intake.ts';
import { dkimCommand } from './cli/dkim.ts';
import { migrateCommand } from './cli/migrate.ts';
import { messageCommand, outboxCommand } from './cli/outbox.ts';
import { secretsCommand } from './cli/secrets.ts';
import { serveCommand } from './cli/serve.ts';
import { tokenCreateCommand } from './cli/token-create.ts';
import { usage } from './cli/usage.ts';
import { userCreateCommand } from './cli/user-create.ts';
import { withContainer } from './cli/with-container.ts';
import { loadConfig } from './config.ts';
import { loadKeyring } from './secrets/keyring.ts';

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [command, subcommand, ...rest] = argv;
  try {
    switch (command) {
      case 'serve':
      case 'worker':
        return await serveCommand(io, command);
      case 'bounce-intake':
        return await bounceIntakeCommand(io);
      case 'migrate':
        return await migrateCommand(io);
      case 'user':
        if (subcommand === 'create') return await userCreateCommand(rest, io);
        break;
      case 'token':
        if (subcommand === 'create') return await tokenCreateCommand(rest, io);
        break;
      case 'secrets':
        // Loaded lazily, so that `generate-key` needs neither a valid configuration nor a database.
        return await secretsCommand(argv.slice(1), io, {
          loadKeyring: () => {
            const config = loadConfig(io.env);
            return loadKeyring({
              secretKey: config.secretKey,
              previousKeys: config.previousSecretKeys,
              dataDir: config.dataDir,
              dialect: config.database.dialect,
            });
          },
          // Account passwords, the DKIM keys of sending domains and the webhooks' signing secrets.
          withStores: (work) =>
            withContainer(io, (container) =>
              work([
                container.services.accounts.secretStore(),
                container.services.dkim.secretStore(),
                container.services.webhooks.secretStore(),
              ]),
            ),
        });
      case 'dkim':
        return await dkimCommand(argv.slice(1), io);
      case 'account':
        return await accountCommand(argv.slice(1), io);
      case 'outbox':
        return await outboxCommand(argv.slice(1), io);
      case 'message':
        return await messageCommand(argv.slice(1), io);
      case 'bounce':
        if (subcommand === 'classify') return await bounceClassifyCommand(rest, io.stdout, io.stderr);
        break;
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.stdout.write(usage);
        return command === undefined ? 2 : 0;
    }
    throw new UsageError(`unknown command: ${argv.join(' ')}`);
  } catch (error) {
    return reportFailure(error, io);
  }
}

function reportFailure(error: unknown, io: CliIo): number {
  if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    io.stderr.write(`mailroom: ${(error as Error).message}\n\n${usage}`);
    return 2;
  }
  if (isAppError(error)) {
    const fields = Object.entries(error.details.fields ?? {}).map(
      ([name, message]) => `\n  ${name}: ${message}`,
    );
    io.stderr.write(`mailroom: ${error.code}: ${error.message}${fields.join('')}\n`);
    return 1;
  }
  io.stderr.write(`mailroom: ${(error as Error).stack ?? String(error)}\n`);
  return 1;
}

const io: CliIo = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env };
process.exitCode = await runCli(process.argv.slice(2), io);
