import type { Clock } from '../../clock.ts';
import type { Db, DbOrTx, Dialect, RowUpdate } from '../../db/database.ts';
import { newId } from '../../db/ids.ts';
import { eventRow, insertEvents } from '../automation/events.repository.ts';
import type { AccountEventPayload, AccountHealthPayload } from '../automation/events.ts';
import { AppError, type FieldErrors } from '../../errors.ts';
import { hostRefusal, type HostPolicy } from '../../net/address-policy.ts';
import { toPageWindow, type PageResult } from '../../pagination.ts';
import { decryptSecret, encryptSecret } from '../../secrets/cipher.ts';
import type { Keyring } from '../../secrets/keyring.ts';
import { changedPaths } from '../audit/audit.ts';
import type { AuditService } from '../audit/audit.service.ts';
import { requireAdmin } from '../users/policy.ts';
import type { Actor } from '../users/users.ts';
import {
  foldForSearch,
  resolveSettings,
  type Account,
  type AccountListQuery,
  type AccountListRow,
  type AccountPatch,
  type AccountSecrets,
  type AdminAccountListRow,
  type CreateAccountInput,
  type EffectiveSettings,
  type Health,
  type HealthState,
  type StoredSettings,
  type SupplyPasswordsInput,
} from './accounts.ts';
import * as repo from './accounts.repository.ts';
import type { PasswordKind, PasswordVault } from './password-vault.ts';
import type { MemoryPasswords, PasswordCourier } from '../workers/password-courier.ts';
import { settingsProblems } from './settings-rules.ts';

type SecretKind = keyof AccountSecrets;
type Row = repo.AccountRow;

// ---- Who may do what ----

function canSee(actor: Actor, row: Row): boolean {
  return row.scope === 'team' || row.owner_id === actor.userId || actor.role === 'admin';
}

/** Personal accounts are their owner's alone; team accounts serve the whole organisation. */
function canUse(actor: Actor, row: Row): boolean {
  return row.scope === 'team' || row.owner_id === actor.userId;
}

function requireEditable(actor: Actor, row: Row, action: string): void {
  if (row.owner_id !== actor.userId && actor.role !== 'admin') {
    throw new AppError('FORBIDDEN', `Only the account's owner or an admin can ${action}.`);
  }
}

/** An account that is not active cannot send; the error says why, so a person knows what to do. */
export function requireActive(row: Pick<Row, 'id' | 'status' | 'rejection_reason'>): void {
  const why: Record<Exclude<Row['status'], 'active'>, string> = {
    pending_approval: 'it is waiting for an admin to approve it',
    rejected: `an admin rejected it: ${row.rejection_reason ?? 'no reason given'}`,
    disabled: 'it is disabled; enable it first',
  };
  if (row.status !== 'active') {
    throw new AppError('ACCOUNT_NOT_ACTIVE', `Account ${row.id} cannot send: ${why[row.status]}.`);
  }
}

// ---- Shaping input ----

/** "" in an optional text field means "not set", the same as null. */
function blankToNull<T>(value: T): T {
  if (value === '') return null as T;
  if (Array.isArray(value) || typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, blankToNull(inner)])) as T;
}

/** Drops nulls and absent fields: what is stored is only what a person set. */
function compact<T>(value: T): T {
  if (Array.isArray(value) || typeof value !== 'object' || value === null) return value;
  const entries = Object.entries(value)
    .filter(([, inner]) => inner !== null && inner !== undefined)
    .map(([key, inner]) => [key, compact(inner)]);
  return Object.fromEntries(entries) as T;
}

/** JSON Merge Patch (RFC 7396): objects merge, null removes (back to the default), the rest replaces. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const base =
    typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as object) } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete (base as Record<string, unknown>)[key];
    else if (value !== undefined)
      (base as Record<string, unknown>)[key] = mergePatch((base as Record<string, unknown>)[key], value);
  }
  return base;
}

interface WrittenAccount {
  type: CreateAccountInput['type'];
  scope?: CreateAccountInput['scope'];
  name?: string | null;
  email?: string | null;
  displayName?: string | null;
  organization?: string | null;
  replyTo?: string | null;
  replyToName?: string | null;
  fromNameTemplate?: string | null;
  replyToNameTemplate?: string | null;
  smtp?: Record<string, unknown> | null;
  incoming?: Record<string, unknown> | null;
  options?: Record<string, unknown> | null;
}

/** Takes the passwords out of what was written: `undefined` keeps, `null` clears, a string sets. */
function splitSecrets(written: WrittenAccount): {
  account: WrittenAccount;
  secrets: Partial<Record<SecretKind, string | null>>;
} {
  const secrets: Partial<Record<SecretKind, string | null>> = {};
  const smtp = written.smtp ? { ...written.smtp } : written.smtp;
  const incoming = written.incoming ? { ...written.incoming } : written.incoming;
  if (smtp) {
    if ('password' in smtp) secrets.smtp = smtp.password as string | null;
    delete smtp.password;
    if (smtp.proxy && typeof smtp.proxy === 'object') {
      const proxy = { ...(smtp.proxy as Record<string, unknown>) };
      if ('password' in proxy) secrets.proxy = proxy.password as string | null;
      delete proxy.password;
      smtp.proxy = proxy;
    } else if (smtp.proxy === null) secrets.proxy = null;
  } else if (smtp === null) {
    secrets.smtp = null;
    secrets.proxy = null;
  }
  if (incoming) {
    if ('password' in incoming) secrets.incoming = incoming.password as string | null;
    delete incoming.password;
  } else if (incoming === null) secrets.incoming = null;
  return { account: { ...written, smtp, incoming }, secrets };
}

function storedSettingsOf(account: WrittenAccount): StoredSettings {
  return compact({
    smtp: (account.smtp ?? null) as StoredSettings['smtp'],
    incoming: (account.incoming ?? null) as StoredSettings['incoming'],
    options: (account.options ?? null) as StoredSettings['options'],
  });
}

function identityColumns(account: WrittenAccount) {
  const name = account.name!;
  const email = account.email!;
  return {
    scope: account.scope ?? 'personal',
    name,
    email,
    display_name: account.displayName ?? null,
    organization: account.organization ?? null,
    reply_to: account.replyTo ?? null,
    reply_to_name: account.replyToName ?? null,
    from_name_template: account.fromNameTemplate ?? null,
    reply_to_name_template: account.replyToNameTemplate ?? null,
    name_folded: foldForSearch(name),
    search_folded: `${foldForSearch(name)}\n${foldForSearch(email)}`,
  };
}

function checkAccount(account: WrittenAccount): { stored: StoredSettings; effective: EffectiveSettings } {
  const fields: FieldErrors = {};
  if (!account.name) fields.name = 'is required';
  if (!account.email) fields.email = 'is required';
  const stored = storedSettingsOf(account);
  const effective = resolveSettings(stored);
  Object.assign(fields, settingsProblems(account.type, stored, effective));
  if (Object.keys(fields).length > 0) {
    throw new AppError('VALIDATION_FAILED', `Invalid account: check ${Object.keys(fields).join(', ')}.`, {
      fields,
    });
  }
  return { stored, effective };
}

/** The fields an audit entry names for a change of secrets: which, never what. */
function secretPaths(secrets: Partial<Record<SecretKind, string | null>>): string[] {
  const paths: Record<SecretKind, string> = {
    smtp: 'smtp.password',
    incoming: 'incoming.password',
    proxy: 'smtp.proxy.password',
  };
  return (Object.keys(secrets) as SecretKind[]).map((kind) => paths[kind]);
}

function rowToWritten(row: Row): WrittenAccount {
  const stored = JSON.parse(row.settings) as StoredSettings;
  return compact({
    type: row.type,
    scope: row.scope,
    name: row.name,
    email: row.email,
    displayName: row.display_name,
    organization: row.organization,
    replyTo: row.reply_to,
    replyToName: row.reply_to_name,
    fromNameTemplate: row.from_name_template,
    replyToNameTemplate: row.reply_to_name_template,
    smtp: stored.smtp as Record<string, unknown> | null,
    incoming: stored.incoming as Record<string, unknown> | null,
    options: stored.options as Record<string, unknown> | null,
  });
}

export interface AccountSender {
  id: string;
  orgId: string;
  type: Row['type'];
  status: Row['status'];
  rejectionReason: string | null;
  email: string;
  displayName: string | null;
  replyTo: string | null;
  replyToName: string | null;
  fromNameTemplate: string | null;
  replyToNameTemplate: string | null;
  outgoingState: HealthState;
  settings: EffectiveSettings;
  passwords: { smtp: string | null; incoming: string | null; proxy: string | null };
}

/** States in which sending waits for a person: a changed setting or password lifts them. */
export const pausedOutgoingStates: readonly HealthState[] = ['auth_error', 'paused', 'password_required'];

/** States in which receiving waits for a person: a changed setting or password lifts them. */
const pausedIncomingStates: readonly HealthState[] = ['auth_error', 'paused', 'password_required'];

/**
 * A new setting or password may fix what paused sending or receiving, so the dispatcher and the
 * mailbox sync try again (the
 * sync's count of refused logins starts over, and the mailbox is read at once: see resumeMailbox).
 */
function resumeTraffic(row: Row) {
  return {
    ...(pausedOutgoingStates.includes(row.outgoing_state as HealthState) && {
      outgoing_state: 'unknown',
      outgoing_last_error: null,
    }),
    ...(pausedIncomingStates.includes(row.incoming_state as HealthState) && {
      incoming_state: 'unknown',
      incoming_last_error: null,
    }),
  };
}

export interface AccountsServiceDeps {
  db: Db;
  dialect: Dialect;
  now: Clock;
  keyring: Keyring;
  vault: PasswordVault;
  /** Takes memory-only passwords to the worker that holds the account. */
  courier: PasswordCourier;
  /** This process, among the workers: a memory-only password it holds must be in its vault. */
  workerId: string;
  audit: AuditService;
  /**
   * Which addresses the servers an account names may resolve to: checked when they are saved, for
   * an early and clear error (the adapters check again at every connection, which is what counts).
   */
  hostPolicy: HostPolicy;
}

export type AccountsService = ReturnType<typeof createAccountsService>;

export function createAccountsService({
  db,
  dialect,
  now,
  keyring,
  vault,
  courier,
  workerId,
  audit,
  hostPolicy,
}: AccountsServiceDeps) {
  function readSecrets(id: string, ciphertext: string | null): AccountSecrets {
    return ciphertext ? (JSON.parse(decryptSecret(keyring, ciphertext, id)) as AccountSecrets) : {};
  }

  /** The ciphertext and the list of kinds it holds; only remembered passwords reach the database. */
  function writeSecrets(id: string, secrets: AccountSecrets) {
    const kinds = (Object.keys(secrets) as SecretKind[]).filter((kind) => secrets[kind]).sort();
    return {
      secrets: kinds.length > 0 ? encryptSecret(keyring, JSON.stringify(secrets), id) : null,
      secret_kinds: kinds.join(','),
    };
  }

  /** The audit entry of a change, and for the changes automation hears of, its event. */
  async function recordChange(tx: DbOrTx, actor: Actor, action: string, id: string, fields: string[] = []) {
    await audit.record(tx, {
      orgId: actor.orgId,
      actorId: actor.userId,
      action,
      targetType: 'account',
      targetId: id,
      fields,
    });
    if (action !== 'account.created' && action !== 'account.approved' && action !== 'account.rejected')
      return;
    const row = await repo.findAccountRowById(tx, id);
    if (!row) return;
    const payload: AccountEventPayload = {
      accountId: id,
      name: row.name,
      email: row.email,
      type: row.type,
      status: row.status,
      ...(action === 'account.rejected' && { rejectionReason: row.rejection_reason }),
    };
    await insertEvents(tx, [
      eventRow(actor.orgId, action, { accountId: id }, payload, now().toISOString(), {
        actorId: actor.userId,
      }),
    ]);
  }

  /** Every password the account has now, remembered or held in memory, taken out of memory. */
  async function takeSecrets(tx: DbOrTx, id: string): Promise<AccountSecrets> {
    const stored = readSecrets(id, (await repo.findAccountSecrets(tx, id))?.secrets ?? null);
    return { ...vault.take(id), ...stored };
  }

  /**
   * A remembered password is in the row; a memory-only one is with the worker the row names, and
   * when that is this process, in its vault. (A dead worker's are given up by the fleet.)
   */
  function hasPassword(
    row: Pick<Row, 'id' | 'secret_kinds' | 'password_holder' | 'memory_kinds'>,
    kind: SecretKind,
  ): boolean {
    if (row.secret_kinds.split(',').includes(kind)) return true;
    if (kind === 'proxy' || row.password_holder === null) return false;
    if (row.password_holder === workerId) return vault.get(row.id, kind) !== undefined;
    return row.memory_kinds.split(',').includes(kind);
  }

  /**
   * The health a person sees: what the workers last recorded, except that a direction whose
   * password is missing (not remembered, and this process was restarted) asks for it.
   */
  function healthOf(row: Row, settings: EffectiveSettings) {
    const stored = (direction: 'outgoing' | 'incoming'): Health => ({
      state: row[`${direction}_state`] as HealthState,
      lastError: row[`${direction}_last_error`],
      lastOkAt: row[`${direction}_last_ok_at`],
    });
    const needs = (kind: PasswordKind | null): boolean => kind !== null && !hasPassword(row, kind);
    const smtp = settings.smtp;
    const outgoingKind = smtp?.requiresAuth ? (smtp.useIncomingCredentials ? 'incoming' : 'smtp') : null;
    const incomingKind = settings.incoming.protocol === 'none' ? null : 'incoming';
    const outgoing = stored('outgoing');
    const incoming = stored('incoming');
    return {
      outgoing: needs(outgoingKind) ? { ...outgoing, state: 'password_required' as const } : outgoing,
      incoming: needs(incomingKind) ? { ...incoming, state: 'password_required' as const } : incoming,
    };
  }

  function toListRow(row: Row, isDefault: boolean): AccountListRow {
    const settings = resolveSettings(JSON.parse(row.settings) as StoredSettings);
    return {
      id: row.id,
      name: row.name,
      email: row.email,
      type: row.type,
      scope: row.scope,
      owner: { id: row.owner_id, name: row.owner_name, email: row.owner_email },
      status: row.status,
      createdAt: row.created_at,
      isDefault,
      health: healthOf(row, settings),
    };
  }

  function toAccount(row: Row, isDefault: boolean): Account {
    const { smtp, incoming, options } = resolveSettings(JSON.parse(row.settings) as StoredSettings);
    return {
      ...toListRow(row, isDefault),
      displayName: row.display_name,
      organization: row.organization,
      replyTo: row.reply_to,
      replyToName: row.reply_to_name,
      fromNameTemplate: row.from_name_template,
      replyToNameTemplate: row.reply_to_name_template,
      smtp: smtp && {
        ...smtp,
        hasPassword: hasPassword(row, 'smtp'),
        proxy: smtp.proxy && { ...smtp.proxy, hasPassword: hasPassword(row, 'proxy') },
      },
      incoming: { ...incoming, hasPassword: hasPassword(row, 'incoming') },
      options,
      rejectionReason: row.rejection_reason,
      updatedAt: row.updated_at,
    };
  }

  function listRows(actor: Actor, query: AccountListQuery, usableBy: string | undefined) {
    const filter: repo.AccountFilter = {
      orgId: actor.orgId,
      caller: actor.userId,
      ...(usableBy && { usableBy }),
      ...(query.q && { q: foldForSearch(query.q) }),
      ...(query.type && query.type !== 'all' && { type: query.type }),
      ...(query.scope && { scope: query.scope }),
      ...(query.status && { status: query.status }),
    };
    return repo.listAccountRows(db, dialect, filter, toPageWindow(query));
  }

  async function loadVisible(tx: DbOrTx, actor: Actor, id: string): Promise<Row> {
    const row = await repo.findAccountRow(tx, actor.orgId, id);
    if (!row || !canSee(actor, row)) throw new AppError('ACCOUNT_NOT_FOUND', `No account ${id}.`);
    return row;
  }

  async function view(tx: DbOrTx, actor: Actor, id: string): Promise<Account> {
    const row = await loadVisible(tx, actor, id);
    const current = await repo.findDefaultAccountId(tx, actor.userId);
    return toAccount(row, current?.account_id === id);
  }

  /** A newly usable account becomes the default of everyone who may use it and has none yet. */
  async function offerAsDefault(tx: DbOrTx, row: Pick<Row, 'id' | 'org_id' | 'owner_id' | 'scope'>) {
    const users =
      row.scope === 'team'
        ? (await repo.findOrganisationUserIds(tx, row.org_id)).map((user) => user.id)
        : [row.owner_id];
    await repo.setDefaultWhereMissing(tx, users, row.id);
  }

  /** Whoever had this account as default gets their most recently used other account, or none. */
  async function withdrawAsDefault(tx: DbOrTx, row: Pick<Row, 'id' | 'org_id'>) {
    for (const user of await repo.findUsersWithDefault(tx, [row.id])) {
      const next = await repo.findMostRecentlyUsedAccount(tx, row.org_id, user.id, row.id);
      if (next) await repo.setDefaultAccount(tx, user.id, next.id);
      else await repo.clearDefaultAccount(tx, user.id);
    }
  }

  /**
   * Puts each password where "Remember password" says: encrypted in the row, or in the memory of
   * the worker that holds the account (see PasswordCourier). Returns the row's columns for both.
   */
  async function placeSecrets(
    tx: DbOrTx,
    id: string,
    remember: boolean,
    secrets: AccountSecrets,
    current: { holder: string | null; kinds: string } = { holder: null, kinds: '' },
  ) {
    const persisted: AccountSecrets = { ...secrets };
    const memory: MemoryPasswords = {};
    if (!remember) {
      for (const kind of ['smtp', 'incoming'] as const) {
        if (secrets[kind]) memory[kind] = secrets[kind];
        delete persisted[kind];
      }
    }
    const place = remember
      ? await courier.withdraw(tx, id, current)
      : await courier.place(tx, id, memory, current);
    return { ...writeSecrets(id, persisted), ...place };
  }

  const memoryOf = (row: Pick<Row, 'password_holder' | 'memory_kinds'>) => ({
    holder: row.password_holder,
    kinds: row.memory_kinds,
  });

  async function transition(
    actor: Actor,
    id: string,
    action: string,
    change: (row: Row) => { status: Row['status']; extra?: RowUpdate<'accounts'> } | null,
    fields: string[],
  ): Promise<Account> {
    return db.transaction().execute(async (tx) => {
      const row = await loadVisible(tx, actor, id);
      const next = change(row);
      if (!next) return view(tx, actor, id);
      await repo.updateAccountRow(tx, id, {
        status: next.status,
        ...next.extra,
        updated_at: now().toISOString(),
      });
      if (next.status === 'active') await offerAsDefault(tx, row);
      else await withdrawAsDefault(tx, row);
      await recordChange(tx, actor, action, id, fields);
      return view(tx, actor, id);
    });
  }

  /** An admin's verdict on a marketing account: approve or reject, from the states that allow it. */
  function moderate(
    actor: Actor,
    id: string,
    verb: 'approve' | 'reject',
    from: readonly Row['status'][],
    to: Row['status'],
    extra: RowUpdate<'accounts'>,
  ): Promise<Account> {
    const done = verb === 'approve' ? 'approved' : 'rejected';
    return transition(
      actor,
      id,
      `account.${done}`,
      (row) => {
        requireAdmin(actor, `${verb} accounts`);
        requireMarketing(row, done);
        if (!from.includes(row.status)) {
          throw new AppError(
            'ACCOUNT_STATE_CONFLICT',
            `The account is ${row.status}; only a ${from.join(' or ')} account can be ${done}.`,
          );
        }
        return { status: to, extra };
      },
      verb === 'approve' ? ['status'] : ['status', 'rejectionReason'],
    );
  }

  function requireMarketing(row: Row, action: string): void {
    if (row.type !== 'marketing') {
      throw new AppError(
        'NOT_A_MARKETING_ACCOUNT',
        `Only marketing accounts are ${action}; this one is the user's own.`,
      );
    }
  }

  function hostOfUrl(url: unknown): string | null {
    if (typeof url !== 'string') return null;
    try {
      return new URL(url).hostname;
    } catch {
      return null; // the schema refuses what is not a URL
    }
  }

  /**
   * Refuses servers (and the proxy) that resolve to addresses the host policy refuses, by field:
   * `smtp.host: "the server's address is loopback"`. Only the hosts the input names are looked at
   * (a patch's, not the whole account's). A name that does not resolve (yet) passes: connections
   * check again anyway, and resolving is given a few seconds at most.
   */
  async function checkHosts(input: CreateAccountInput | AccountPatch): Promise<void> {
    if (hostPolicy.allowPrivate) return;
    type Named = { host?: unknown; url?: unknown; proxy?: { host?: unknown } | null } | null | undefined;
    const smtp = input.smtp as Named;
    const incoming = input.incoming as Named;
    const named: [path: string, host: unknown, what: 'server' | 'proxy'][] = [
      ['smtp.host', smtp?.host, 'server'],
      ['smtp.proxy.host', smtp?.proxy?.host, 'proxy'],
      ['incoming.host', incoming?.host, 'server'],
      ['incoming.url', hostOfUrl(incoming?.url), 'server'],
    ];
    const fields: FieldErrors = {};
    await Promise.all(
      named.map(async ([path, host, what]) => {
        if (typeof host !== 'string' || host === '') return;
        const refusal = await hostRefusal(host, hostPolicy, {
          unresolvable: 'accept',
          what,
          timeoutMs: 5_000,
        });
        if (refusal) fields[path] = refusal;
      }),
    );
    const [first] = Object.values(fields);
    if (first) {
      throw new AppError(
        'VALIDATION_FAILED',
        `A server in the settings is not allowed: ${first}. Mailroom connects only to public addresses.`,
        { fields },
      );
    }
  }

  return {
    async create(actor: Actor, input: CreateAccountInput): Promise<Account> {
      const { account, secrets } = splitSecrets(blankToNull(input) as WrittenAccount);
      const { stored, effective } = checkAccount(account);
      await checkHosts(input);
      const id = newId();
      const timestamp = now().toISOString();
      const status = account.type === 'marketing' ? 'pending_approval' : 'active';
      const cleanSecrets = compact(secrets) as AccountSecrets;
      const row = {
        id,
        org_id: actor.orgId,
        owner_id: actor.userId,
        type: account.type,
        ...identityColumns(account),
        settings: JSON.stringify(stored),
        status,
        rejection_reason: null,
        approved_at: null,
        approved_by: null,
        outgoing_state: 'unknown',
        outgoing_last_error: null,
        outgoing_last_ok_at: null,
        incoming_state: 'unknown',
        incoming_last_error: null,
        incoming_last_ok_at: null,
        last_used_at: null,
        created_at: timestamp,
        updated_at: timestamp,
      } as const;
      return db.transaction().execute(async (tx) => {
        await repo.insertAccountRow(tx, {
          ...row,
          ...(await placeSecrets(tx, id, effective.incoming.rememberPassword, cleanSecrets)),
        });
        if (status === 'active') await offerAsDefault(tx, row);
        const fields = [...changedPaths({}, account), ...secretPaths(cleanSecrets)].sort();
        await recordChange(tx, actor, 'account.created', id, fields);
        return view(tx, actor, id);
      });
    },

    get(actor: Actor, id: string): Promise<Account> {
      return view(db, actor, id);
    },

    async update(actor: Actor, id: string, patch: AccountPatch): Promise<Account> {
      // before the transaction: resolving a name may take a moment, and holds no lock meanwhile
      await checkHosts(patch);
      return db.transaction().execute(async (tx) => {
        const row = await loadVisible(tx, actor, id);
        requireEditable(actor, row, 'change it');
        if (patch.type !== undefined && patch.type !== row.type) {
          throw new AppError(
            'VALIDATION_FAILED',
            'An account’s type cannot change; create a new account instead.',
            {
              fields: { type: `is ${row.type} and cannot change` },
            },
          );
        }
        const before = rowToWritten(row);
        const { account: patchWithoutSecrets, secrets: secretChanges } = splitSecrets({
          ...(blankToNull(patch) as WrittenAccount),
          type: row.type,
        });
        const merged = mergePatch(before, patchWithoutSecrets) as WrittenAccount;
        const { stored, effective } = checkAccount(merged);

        const secrets = compact({ ...(await takeSecrets(tx, id)), ...secretChanges }) as AccountSecrets;
        const fields = [...changedPaths(before, merged), ...secretPaths(secretChanges)].sort();
        await repo.updateAccountRow(tx, id, {
          ...identityColumns(merged),
          settings: JSON.stringify(stored),
          ...(await placeSecrets(tx, id, effective.incoming.rememberPassword, secrets, memoryOf(row))),
          ...resumeTraffic(row),
          updated_at: now().toISOString(),
        });
        await repo.resumeMailbox(tx, id, now().toISOString());
        await recordChange(tx, actor, 'account.updated', id, fields);
        return view(tx, actor, id);
      });
    },

    async remove(actor: Actor, id: string): Promise<void> {
      await db.transaction().execute(async (tx) => {
        const row = await loadVisible(tx, actor, id);
        requireEditable(actor, row, 'delete it');
        await withdrawAsDefault(tx, row);
        await courier.withdraw(tx, id, memoryOf(row));
        await repo.deleteAccountRow(tx, id);
        await recordChange(tx, actor, 'account.deleted', id);
      });
    },

    async list(actor: Actor, query: AccountListQuery): Promise<PageResult<AccountListRow>> {
      const { rows, total } = await listRows(actor, query, actor.userId);
      return { items: rows.map((row) => toListRow(row, row.default_user_id !== null)), total };
    },

    /** Every account of the organisation, with whose default each one is (admins). */
    async listForAdmin(actor: Actor, query: AccountListQuery): Promise<PageResult<AdminAccountListRow>> {
      requireAdmin(actor, 'see every account');
      const { rows, total } = await listRows(actor, query, undefined);
      const defaults = await repo.findUsersWithDefault(
        db,
        rows.map((row) => row.id),
      );
      return {
        items: rows.map((row) => ({
          ...toListRow(row, row.default_user_id !== null),
          defaultFor: defaults
            .filter((entry) => entry.account_id === row.id)
            .map((entry) => ({ id: entry.id, name: entry.name, email: entry.email })),
        })),
        total,
      };
    },

    approve(actor: Actor, id: string): Promise<Account> {
      return moderate(actor, id, 'approve', ['pending_approval', 'rejected'], 'active', {
        rejection_reason: null,
        approved_at: now().toISOString(),
        approved_by: actor.userId,
      });
    },

    reject(actor: Actor, id: string, reason: string): Promise<Account> {
      return moderate(actor, id, 'reject', ['pending_approval', 'active'], 'rejected', {
        rejection_reason: reason,
      });
    },

    disable(actor: Actor, id: string): Promise<Account> {
      return transition(
        actor,
        id,
        'account.disabled',
        (row) => {
          requireEditable(actor, row, 'disable it');
          return row.status === 'disabled' ? null : { status: 'disabled' };
        },
        ['status'],
      );
    },

    /** Back to where it was: active, or pending again for a marketing account never approved. */
    enable(actor: Actor, id: string): Promise<Account> {
      return transition(
        actor,
        id,
        'account.enabled',
        (row) => {
          requireEditable(actor, row, 'enable it');
          if (row.status !== 'disabled') return null;
          const approved = row.type === 'own' || row.approved_at !== null;
          return { status: approved ? 'active' : 'pending_approval' };
        },
        ['status'],
      );
    },

    async setDefault(actor: Actor, id: string): Promise<Account> {
      return db.transaction().execute(async (tx) => {
        const row = await loadVisible(tx, actor, id);
        if (!canUse(actor, row)) {
          throw new AppError(
            'FORBIDDEN',
            'Only its owner can send from a personal account, so only they can make it their default.',
          );
        }
        requireActive(row);
        await repo.setDefaultAccount(tx, actor.userId, id);
        await recordChange(tx, actor, 'account.default_set', id);
        return view(tx, actor, id);
      });
    },

    async clearDefault(actor: Actor, id: string): Promise<void> {
      await db.transaction().execute(async (tx) => {
        await loadVisible(tx, actor, id);
        const current = await repo.findDefaultAccountId(tx, actor.userId);
        if (current?.account_id !== id) return;
        await repo.clearDefaultAccount(tx, actor.userId);
        await recordChange(tx, actor, 'account.default_cleared', id);
      });
    },

    /** After a restart, or for an account that does not remember them: the passwords again. */
    async supplyPasswords(actor: Actor, id: string, input: SupplyPasswordsInput): Promise<Account> {
      if (!input.smtp && !input.incoming) {
        throw new AppError('VALIDATION_FAILED', 'Give the smtp password, the incoming one, or both.', {
          fields: { smtp: 'give at least one password', incoming: 'give at least one password' },
        });
      }
      return db.transaction().execute(async (tx) => {
        const row = await loadVisible(tx, actor, id);
        requireEditable(actor, row, 'supply its passwords');
        const settings = resolveSettings(JSON.parse(row.settings) as StoredSettings);
        const fields: FieldErrors = {};
        if (input.smtp && !settings.smtp) fields.smtp = 'this account has no outgoing server of its own';
        if (input.incoming && settings.incoming.protocol === 'none')
          fields.incoming = 'this account reads no incoming mail';
        if (Object.keys(fields).length > 0) {
          throw new AppError('VALIDATION_FAILED', 'Some passwords have no server to go to.', { fields });
        }
        const secrets = compact({ ...(await takeSecrets(tx, id)), ...input }) as AccountSecrets;
        await repo.updateAccountRow(tx, id, {
          ...(await placeSecrets(tx, id, settings.incoming.rememberPassword, secrets, memoryOf(row))),
          ...resumeTraffic(row),
          updated_at: now().toISOString(),
        });
        await repo.resumeMailbox(tx, id, now().toISOString());
        await recordChange(tx, actor, 'account.password_supplied', id, secretPaths(input));
        return view(tx, actor, id);
      });
    },

    /**
     * "Test settings" before saving: the same checks as creating, and what the probes need; nothing
     * is stored.
     */
    preview(input: CreateAccountInput): {
      email: string;
      server: Pick<AccountSender, 'settings' | 'passwords'>;
    } {
      const { account, secrets } = splitSecrets(blankToNull(input) as WrittenAccount);
      const { effective } = checkAccount(account);
      return {
        email: account.email!,
        server: {
          settings: effective,
          passwords: {
            smtp: secrets.smtp ?? null,
            incoming: secrets.incoming ?? null,
            proxy: secrets.proxy ?? null,
          },
        },
      };
    },

    /** For sending: an account the caller may send from right now, or the error that says why not. */
    async requireSendable(tx: DbOrTx, actor: Actor, id: string): Promise<Row> {
      const row = await loadVisible(tx, actor, id);
      if (!canUse(actor, row)) {
        throw new AppError('FORBIDDEN', 'Only its owner can send from a personal account.');
      }
      requireActive(row);
      return row;
    },

    /** For "Sync now": an account the caller may use that reads mail from a server. */
    async requireReceivable(tx: DbOrTx, actor: Actor, id: string): Promise<Row> {
      const row = await loadVisible(tx, actor, id);
      if (!canUse(actor, row)) {
        throw new AppError('FORBIDDEN', 'Only its owner can read a personal account.');
      }
      requireActive(row);
      const settings = resolveSettings(JSON.parse(row.settings) as StoredSettings);
      if (settings.incoming.protocol === 'none') {
        throw new AppError('INCOMING_NOT_CONFIGURED', 'The account has no incoming server to read.');
      }
      return row;
    },

    async orgOf(tx: DbOrTx, accountId: string): Promise<string | null> {
      return (await repo.findAccountRowById(tx, accountId))?.org_id ?? null;
    },

    async canUseAccount(tx: DbOrTx, actor: Actor, id: string): Promise<boolean> {
      const row = await repo.findAccountRow(tx, actor.orgId, id);
      return row !== undefined && canUse(actor, row);
    },

    /** For outbox actions: an account the caller may manage (its owner or an admin). */
    async requireManageable(tx: DbOrTx, actor: Actor, id: string): Promise<Row> {
      const row = await loadVisible(tx, actor, id);
      requireEditable(actor, row, 'manage its outbox');
      return row;
    },

    async defaultAccountId(tx: DbOrTx, userId: string): Promise<string | null> {
      return (await repo.findDefaultAccountId(tx, userId))?.account_id ?? null;
    },

    /**
     * What the dispatcher needs to send from an account: its identity, the settings in effect and
     * its passwords (remembered or held in this process's memory). Never leaves the process.
     */
    async sender(accountId: string): Promise<AccountSender | null> {
      const row = await repo.findAccountRowById(db, accountId);
      if (!row) return null;
      const secrets = readSecrets(row.id, (await repo.findAccountSecrets(db, row.id))?.secrets ?? null);
      return {
        id: row.id,
        orgId: row.org_id,
        type: row.type,
        status: row.status,
        rejectionReason: row.rejection_reason,
        email: row.email,
        displayName: row.display_name,
        replyTo: row.reply_to,
        replyToName: row.reply_to_name,
        fromNameTemplate: row.from_name_template,
        replyToNameTemplate: row.reply_to_name_template,
        outgoingState: row.outgoing_state as HealthState,
        settings: resolveSettings(JSON.parse(row.settings) as StoredSettings),
        passwords: {
          smtp: secrets.smtp ?? vault.get(row.id, 'smtp') ?? null,
          incoming: secrets.incoming ?? vault.get(row.id, 'incoming') ?? null,
          proxy: secrets.proxy ?? null,
        },
      };
    },

    /** Workers and tests report each direction's health here; an ok also stamps lastOkAt. */
    async recordHealth(
      accountId: string,
      direction: 'outgoing' | 'incoming',
      state: HealthState,
      lastError: string | null,
      tx: DbOrTx = db,
    ) {
      const before = await repo.findAccountRowById(tx, accountId);
      await repo.updateAccountRow(tx, accountId, {
        [`${direction}_state`]: state,
        [`${direction}_last_error`]: lastError,
        ...(state === 'ok' && { [`${direction}_last_ok_at`]: now().toISOString() }),
      });
      const from = before?.[`${direction}_state`];
      if (!before || from === state) return;
      const payload: AccountHealthPayload = { accountId, direction, from: from!, to: state, lastError };
      await insertEvents(tx, [
        eventRow(before.org_id, 'account.health_changed', { accountId }, payload, now().toISOString()),
      ]);
    },

    async markUsed(accountId: string): Promise<void> {
      await repo.updateAccountRow(db, accountId, { last_used_at: now().toISOString() });
    },

    /** The accounts table as the store that `mailroom secrets rotate` re-encrypts. */
    secretStore() {
      return {
        async list(afterId: string | null, limit: number) {
          const rows = await repo.listSecretRows(db, afterId, limit);
          return rows.map((row) => ({ id: row.id, context: row.id, ciphertext: row.secrets! }));
        },
        replace: (id: string, expected: string, next: string) => repo.replaceSecrets(db, id, expected, next),
      };
    },
  };
}
