import { parseArgs } from 'node:util';
import type { Keyring } from '../secrets/keyring.ts';
import { generateKey } from '../secrets/keyring.ts';
import {
  finishKeyFileRotation,
  rotateKeyFile,
  rotateSecrets,
  type RotationResult,
  type SecretStore,
} from '../secrets/rotate.ts';
import { UsageError, type CliIo } from './io.ts';

/**
 * What `secrets rotate` needs from the program, passed in so that the command knows neither the
 * environment variables' plumbing nor the tables that hold secrets.
 */
export interface SecretsCommandDeps {
  /** Loads the keyring as the services do (environment, else DATA_DIR/secret.key). Called again after the key file changes. */
  loadKeyring: () => Promise<Keyring>;
  /** Runs `work` with the stores of every encrypted secret, and closes whatever it opened. */
  withStores: <T>(work: (stores: SecretStore[]) => Promise<T>) => Promise<T>;
}

const envSteps =
  'To rotate keys given in the environment: (1) make a key with `mailroom secrets generate-key`; ' +
  '(2) on every process set MAILROOM_SECRET_KEY to it and MAILROOM_SECRET_KEY_PREVIOUS to the old key, ' +
  'and restart them; (3) run `mailroom secrets rotate`; (4) remove MAILROOM_SECRET_KEY_PREVIOUS and restart.';

/** `mailroom secrets rotate | generate-key`; `args` is what follows `secrets`. */
export async function secretsCommand(args: string[], io: CliIo, deps: SecretsCommandDeps): Promise<number> {
  const [subcommand, ...rest] = args;
  parseArgs({ args: rest, strict: true, options: {} });
  switch (subcommand) {
    case 'generate-key':
      io.stdout.write(`${generateKey()}\n`);
      return 0;
    case 'rotate':
      return await rotateCommand(io, deps);
    case undefined:
      throw new UsageError('missing secrets command: rotate or generate-key');
  }
  throw new UsageError(`unknown secrets command: ${subcommand}`);
}

/**
 * With the key file: add a new key (unless an unfinished rotation already did), re-encrypt, then
 * drop the old keys. Each step leaves the file and the rows readable, so a rerun after an
 * interruption picks up where it stopped. With keys in the environment the operator swaps the keys
 * (see `envSteps`), and this only re-encrypts.
 */
async function rotateCommand(io: CliIo, deps: SecretsCommandDeps): Promise<number> {
  const log = (line: string) => io.stderr.write(`${line}\n`);
  let keyring = await deps.loadKeyring();
  const { source } = keyring;
  if (source.kind === 'file') {
    log(
      `using ${source.path}; stop every Mailroom process on this DATA_DIR first: they keep the keys they read at start`,
    );
    if (keyring.previous.length === 0) {
      const oldId = keyring.current.id;
      const newId = await rotateKeyFile(source.dataDir);
      keyring = await deps.loadKeyring();
      log(`new current key ${newId}; key ${oldId} is kept for reading until every secret is rotated`);
    } else {
      log(`continuing an unfinished rotation to key ${keyring.current.id}`);
    }
  } else if (keyring.previous.length === 0) {
    log(`MAILROOM_SECRET_KEY_PREVIOUS is not set, so there is no older key to rotate from. ${envSteps}`);
    log(`checking every secret against key ${keyring.current.id}`);
  } else {
    log(`rotating to key ${keyring.current.id} from ${keyring.previous.map((key) => key.id).join(', ')}`);
  }

  const current = keyring;
  const result = await deps.withStores(async (stores) => {
    const total: RotationResult = { rotated: 0, alreadyCurrent: 0, unreadable: [] };
    for (const store of stores) {
      const part = await rotateSecrets(store, current, log);
      total.rotated += part.rotated;
      total.alreadyCurrent += part.alreadyCurrent;
      total.unreadable.push(...part.unreadable);
    }
    return total;
  });
  io.stdout.write(`${summary(result)}\n`);

  if (result.unreadable.length > 0) {
    log(
      `${result.unreadable.length} secret(s) cannot be decrypted with any key (ids above) and were left ` +
        'as they are; set those passwords again or delete those accounts, then run this again. ' +
        (source.kind === 'file'
          ? 'The key file keeps its older keys until then.'
          : 'Keep MAILROOM_SECRET_KEY_PREVIOUS until then.'),
    );
    return 1;
  }
  if (source.kind === 'file') {
    const removed = await finishKeyFileRotation(source.dataDir, keyring.current.id);
    if (removed.length > 0) log(`removed key(s) ${removed.join(', ')} from ${source.path}`);
    log(`every secret is under key ${keyring.current.id}; start Mailroom again`);
  } else if (keyring.previous.length > 0) {
    log(
      `every secret is under key ${keyring.current.id}: remove MAILROOM_SECRET_KEY_PREVIOUS from every ` +
        'process and restart them',
    );
  }
  return 0;
}

function summary(result: RotationResult): string {
  return (
    `rotated ${result.rotated} secret(s), ${result.alreadyCurrent} already current, ` +
    `${result.unreadable.length} unreadable`
  );
}
