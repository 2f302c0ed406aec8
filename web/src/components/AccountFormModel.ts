/**
 * The add-account wizard and the account settings share one form: its values (flat, keyed by the
 * API's field paths where there is one, so the API's field errors land on their inputs), the pages
 * they sit on, and the conversion to the API's create body and merge patch.
 */
import { useCallback, useMemo, useState, type ChangeEvent } from 'react';
import { ApiError, type Account, type AccountPatch, type CreateAccountInput } from '../api.ts';

export type Security = 'none' | 'starttls' | 'tls';
export type Protocol = 'none' | 'pop3' | 'imap' | 'jmap';

export interface AccountFormValues {
  type: 'own' | 'marketing';
  scope: 'personal' | 'team';
  name: string;
  email: string;
  displayName: string;
  organization: string;
  replyTo: string;
  replyToName: string;
  personalise: boolean;
  fromNameTemplate: string;
  replyToNameTemplate: string;

  'smtp.host': string;
  'smtp.security': Security;
  'smtp.useDefaultPort': boolean;
  'smtp.port': number | string;
  'smtp.requiresAuth': boolean;
  'smtp.useIncomingCredentials': boolean;
  'smtp.username': string;
  'smtp.password': string;
  'smtp.spa': boolean;
  'smtp.timeoutSeconds': number | string;
  'smtp.useProxy': boolean;
  'smtp.proxy.type': 'socks5' | 'http';
  'smtp.proxy.host': string;
  'smtp.proxy.port': number | string;
  'smtp.proxy.username': string;
  'smtp.proxy.password': string;

  'incoming.protocol': Protocol;
  /** A host for POP3 and IMAP; for JMAP a session URL, or a host to find it at */
  'incoming.server': string;
  'incoming.security': Security;
  'incoming.useDefaultPort': boolean;
  'incoming.port': number | string;
  'incoming.authMethod': 'password' | 'token';
  'incoming.username': string;
  'incoming.password': string;
  'incoming.spa': boolean;
  'incoming.rememberPassword': boolean;
  'incoming.folders': string[];
  'incoming.syncSince': string;
  'incoming.maxMessagesPerFetch': number | string;
  'incoming.pollIntervalSeconds': number | string;
  'incoming.timeoutSeconds': number | string;
  'incoming.leaveOnServer': boolean;
  'incoming.removeAfter': boolean;
  'incoming.removeAfterDays': number | string;
  'incoming.removeWhenDeleted': boolean;
  'incoming.deleteBounces': boolean;

  'options.markIncomingPrivate': boolean;
  'options.markOutgoingPrivate': boolean;
}

export type FieldKey = keyof AccountFormValues;
type KeysWhere<T> = {
  [K in FieldKey]: [T] extends [AccountFormValues[K]]
    ? [AccountFormValues[K]] extends [T]
      ? K
      : never
    : never;
}[FieldKey];
export type TextKey = KeysWhere<string>;
export type NumberKey = KeysWhere<number | string>;
export type FlagKey = KeysWhere<boolean>;

/** What a saved account already has that the form never shows: its passwords. */
export interface SavedSecrets {
  smtp: boolean;
  incoming: boolean;
  proxy: boolean;
}

export const defaultPorts = {
  smtp: { none: 25, starttls: 587, tls: 465 },
  pop3: { none: 110, starttls: 110, tls: 995 },
  imap: { none: 143, starttls: 143, tls: 993 },
} as const;

export function defaultPort(kind: 'smtp' | 'pop3' | 'imap', security: Security): number {
  return defaultPorts[kind][security];
}

export const emptyAccountForm: AccountFormValues = {
  type: 'own',
  scope: 'personal',
  name: '',
  email: '',
  displayName: '',
  organization: '',
  replyTo: '',
  replyToName: '',
  personalise: false,
  fromNameTemplate: '',
  replyToNameTemplate: '',
  'smtp.host': '',
  'smtp.security': 'starttls',
  'smtp.useDefaultPort': true,
  'smtp.port': 587,
  'smtp.requiresAuth': true,
  'smtp.useIncomingCredentials': false,
  'smtp.username': '',
  'smtp.password': '',
  'smtp.spa': false,
  'smtp.timeoutSeconds': 30,
  'smtp.useProxy': false,
  'smtp.proxy.type': 'socks5',
  'smtp.proxy.host': '',
  'smtp.proxy.port': 1080,
  'smtp.proxy.username': '',
  'smtp.proxy.password': '',
  'incoming.protocol': 'none',
  'incoming.server': '',
  'incoming.security': 'tls',
  'incoming.useDefaultPort': true,
  'incoming.port': 993,
  'incoming.authMethod': 'password',
  'incoming.username': '',
  'incoming.password': '',
  'incoming.spa': false,
  'incoming.rememberPassword': true,
  'incoming.folders': ['INBOX'],
  'incoming.syncSince': '',
  'incoming.maxMessagesPerFetch': 100,
  'incoming.pollIntervalSeconds': 300,
  'incoming.timeoutSeconds': 30,
  'incoming.leaveOnServer': true,
  'incoming.removeAfter': false,
  'incoming.removeAfterDays': 30,
  'incoming.removeWhenDeleted': false,
  'incoming.deleteBounces': false,
  'options.markIncomingPrivate': false,
  'options.markOutgoingPrivate': false,
};

/** The form as an existing account fills it; passwords stay empty (they are write-only). */
export function formFromAccount(account: Account): AccountFormValues {
  const smtp = account.smtp;
  const incoming = account.incoming;
  const incomingKind =
    incoming.protocol === 'pop3' || incoming.protocol === 'imap' ? incoming.protocol : null;
  return {
    ...emptyAccountForm,
    type: account.type,
    scope: account.scope,
    name: account.name,
    email: account.email,
    displayName: account.displayName ?? '',
    organization: account.organization ?? '',
    replyTo: account.replyTo ?? '',
    replyToName: account.replyToName ?? '',
    personalise: Boolean(account.fromNameTemplate || account.replyToNameTemplate),
    fromNameTemplate: account.fromNameTemplate ?? '',
    replyToNameTemplate: account.replyToNameTemplate ?? '',
    ...(smtp && {
      'smtp.host': smtp.host,
      'smtp.security': smtp.security,
      'smtp.useDefaultPort': smtp.port === defaultPort('smtp', smtp.security),
      'smtp.port': smtp.port,
      'smtp.requiresAuth': smtp.requiresAuth,
      'smtp.useIncomingCredentials': smtp.useIncomingCredentials,
      'smtp.username': smtp.username ?? '',
      'smtp.spa': smtp.spa,
      'smtp.timeoutSeconds': Math.round(smtp.timeoutMs / 1000),
      'smtp.useProxy': smtp.proxy !== null,
      'smtp.proxy.type': smtp.proxy?.type ?? 'socks5',
      'smtp.proxy.host': smtp.proxy?.host ?? '',
      'smtp.proxy.port': smtp.proxy?.port ?? 1080,
      'smtp.proxy.username': smtp.proxy?.username ?? '',
    }),
    'incoming.protocol': incoming.protocol,
    'incoming.server': (incoming.protocol === 'jmap' ? (incoming.url ?? incoming.host) : incoming.host) ?? '',
    'incoming.security': incoming.security,
    'incoming.useDefaultPort':
      incomingKind === null || incoming.port === defaultPort(incomingKind, incoming.security),
    'incoming.port': incoming.port ?? (incomingKind ? defaultPort(incomingKind, incoming.security) : 993),
    'incoming.authMethod': incoming.authMethod,
    'incoming.username': incoming.username ?? '',
    'incoming.spa': incoming.spa,
    'incoming.rememberPassword': incoming.rememberPassword,
    'incoming.folders': incoming.folders.length > 0 ? incoming.folders : ['INBOX'],
    'incoming.syncSince': incoming.syncSince?.slice(0, 10) ?? '',
    'incoming.maxMessagesPerFetch': incoming.maxMessagesPerFetch,
    'incoming.pollIntervalSeconds': incoming.pollIntervalSeconds,
    'incoming.timeoutSeconds': Math.round(incoming.timeoutMs / 1000),
    'incoming.leaveOnServer': incoming.leaveOnServer,
    'incoming.removeAfter': incoming.removeAfterDays !== null,
    'incoming.removeAfterDays': incoming.removeAfterDays ?? 30,
    'incoming.removeWhenDeleted': incoming.removeWhenDeleted,
    'incoming.deleteBounces': incoming.deleteBounces,
    'options.markIncomingPrivate': account.options.markIncomingPrivate,
    'options.markOutgoingPrivate': account.options.markOutgoingPrivate,
  };
}

export function savedSecretsOf(account: Account): SavedSecrets {
  return {
    smtp: account.smtp?.hasPassword ?? false,
    incoming: account.incoming.hasPassword,
    proxy: account.smtp?.proxy?.hasPassword ?? false,
  };
}

const text = (value: string): string | null => (value.trim() === '' ? null : value.trim());
const integer = (value: number | string): number | null => {
  if (value === '' || value === null) return null;
  const number = typeof value === 'number' ? value : Number(value);
  return Number.isFinite(number) ? number : null;
};
const milliseconds = (seconds: number | string): number | null => {
  const value = integer(seconds);
  return value === null ? null : Math.round(value * 1000);
};
/** A password field: sent only when typed, so a saved one is kept. */
const secret = (value: string) => (value === '' ? {} : { password: value });

type SmtpBody = NonNullable<CreateAccountInput['smtp']>;
type IncomingBody = NonNullable<CreateAccountInput['incoming']>;

function smtpBody(values: AccountFormValues): SmtpBody {
  const borrow = values['smtp.requiresAuth'] && values['smtp.useIncomingCredentials'];
  return {
    host: values['smtp.host'].trim(),
    security: values['smtp.security'],
    port: values['smtp.useDefaultPort'] ? null : integer(values['smtp.port']),
    requiresAuth: values['smtp.requiresAuth'],
    useIncomingCredentials: values['smtp.requiresAuth'] ? values['smtp.useIncomingCredentials'] : false,
    ...(values['smtp.requiresAuth'] && !borrow
      ? { username: text(values['smtp.username']), ...secret(values['smtp.password']) }
      : { username: null }),
    spa: values['smtp.requiresAuth'] ? values['smtp.spa'] : false,
    timeoutMs: milliseconds(values['smtp.timeoutSeconds']),
    proxy: values['smtp.useProxy']
      ? {
          type: values['smtp.proxy.type'],
          host: values['smtp.proxy.host'].trim(),
          port: integer(values['smtp.proxy.port']) ?? 0,
          username: text(values['smtp.proxy.username']),
          ...secret(values['smtp.proxy.password']),
        }
      : null,
  };
}

function incomingBody(values: AccountFormValues): IncomingBody | null {
  const protocol = values['incoming.protocol'];
  if (protocol === 'none') return null;
  const server = values['incoming.server'].trim();
  const isUrl = /^https?:\/\//i.test(server);
  const jmap = protocol === 'jmap';
  const leave = protocol !== 'pop3' || values['incoming.leaveOnServer'];
  return {
    protocol,
    host: jmap && isUrl ? null : server,
    url: jmap && isUrl ? server : null,
    // JMAP's security follows its URL (https or http).
    security: jmap ? null : values['incoming.security'],
    port: jmap || values['incoming.useDefaultPort'] ? null : integer(values['incoming.port']),
    authMethod: jmap ? values['incoming.authMethod'] : 'password',
    username: text(values['incoming.username']),
    ...secret(values['incoming.password']),
    spa: jmap ? false : values['incoming.spa'],
    rememberPassword: values['incoming.rememberPassword'],
    folders: protocol === 'pop3' ? null : values['incoming.folders'].map((f) => f.trim()).filter(Boolean),
    syncSince: text(values['incoming.syncSince']),
    maxMessagesPerFetch: integer(values['incoming.maxMessagesPerFetch']),
    pollIntervalSeconds: integer(values['incoming.pollIntervalSeconds']),
    timeoutMs: milliseconds(values['incoming.timeoutSeconds']),
    leaveOnServer: leave,
    removeAfterDays:
      leave && values['incoming.removeAfter'] ? integer(values['incoming.removeAfterDays']) : null,
    removeWhenDeleted: leave ? values['incoming.removeWhenDeleted'] : false,
    deleteBounces: values['incoming.deleteBounces'],
  };
}

function identityBody(values: AccountFormValues) {
  return {
    scope: values.scope,
    name: values.name.trim(),
    email: values.email.trim(),
    displayName: text(values.displayName),
    organization: text(values.organization),
    replyTo: text(values.replyTo),
    replyToName: text(values.replyToName),
    fromNameTemplate: values.personalise ? text(values.fromNameTemplate) : null,
    replyToNameTemplate: values.personalise ? text(values.replyToNameTemplate) : null,
  };
}

/** The body of POST /api/accounts (and of the test of unsaved settings). */
export function createBody(values: AccountFormValues): CreateAccountInput {
  const options = {
    markIncomingPrivate: values['options.markIncomingPrivate'],
    markOutgoingPrivate: values['options.markOutgoingPrivate'],
  };
  if (values.type === 'marketing') {
    return { type: 'marketing', ...identityBody(values), options };
  }
  return {
    type: 'own',
    ...identityBody(values),
    smtp: smtpBody(values),
    incoming: incomingBody(values),
    options,
  };
}

/**
 * The merge patch for a saved account: everything the form shows (null resets a field to its
 * default), passwords only when a new one was typed.
 */
export function patchBody(values: AccountFormValues): AccountPatch {
  const { type: _type, ...body } = createBody(values);
  return body as AccountPatch;
}

// ---- Pages and field errors ----

export type PageKey = 'type' | 'general' | 'outgoing' | 'incoming' | 'advanced' | 'delivery' | 'other';

export const pageTitles: Record<PageKey, string> = {
  type: 'Type and scope',
  general: 'General',
  outgoing: 'Outgoing server',
  incoming: 'Incoming server',
  advanced: 'Advanced',
  delivery: 'Delivery',
  other: 'Other',
};

export function pagesFor(type: AccountFormValues['type']): PageKey[] {
  return type === 'marketing'
    ? ['general', 'other']
    : ['general', 'outgoing', 'incoming', 'advanced', 'delivery', 'other'];
}

/** Which input shows an API field path, where the form names it differently. */
const errorKeyOf: Record<string, FieldKey> = {
  'smtp.timeoutMs': 'smtp.timeoutSeconds',
  'incoming.timeoutMs': 'incoming.timeoutSeconds',
  'incoming.host': 'incoming.server',
  'incoming.url': 'incoming.server',
  'smtp.authMethod': 'smtp.username',
};

/** The form field an API error path is shown on (an item of a list shows on the list). */
export function fieldOfError(path: string): FieldKey | null {
  const mapped = errorKeyOf[path];
  if (mapped) return mapped;
  if (path in emptyAccountForm) return path as FieldKey;
  const list = path.replace(/\.\d+$/, '');
  if (list !== path && list in emptyAccountForm) return list as FieldKey;
  return null;
}

export function pageOfField(field: string): PageKey {
  if (field === 'type' || field === 'scope') return 'type';
  if (/^(smtp|incoming)\.(port|useDefaultPort|security|timeoutSeconds|timeoutMs)$/.test(field)) {
    return 'advanced';
  }
  if (
    /^incoming\.(leaveOnServer|removeAfter|removeAfterDays|removeWhenDeleted|maxMessagesPerFetch|deleteBounces)$/.test(
      field,
    )
  ) {
    return 'delivery';
  }
  if (/^smtp(\.|$)/.test(field)) return 'outgoing';
  if (/^incoming(\.|$)/.test(field)) return 'incoming';
  if (field.startsWith('options')) return 'other';
  return 'general';
}

const fieldNames: Record<string, string> = {
  smtp: 'Outgoing server',
  incoming: 'Incoming server',
  options: 'Other options',
};

/** The API's words about a field, said plainly ("must be <= 65535" becomes "must be at most 65535"). */
export function plainFieldMessage(path: string, message: string): string {
  if (path.endsWith('timeoutMs') && /must be [<>]=/.test(message)) {
    return 'must be between 1 and 120 seconds';
  }
  return message
    .replace(/must be <= (\d+)/, 'must be at most $1')
    .replace(/must be >= (\d+)/, 'must be at least $1')
    .replace(/must be integer/, 'must be a whole number');
}

export interface FieldErrorsView {
  /** Errors by form field, in plain words */
  byField: Partial<Record<FieldKey, string>>;
  /** Errors no input shows, with a name for where they belong */
  other: string[];
  /** The pages with errors, in the order given */
  pages: PageKey[];
}

export function viewFieldErrors(fields: Record<string, string>): FieldErrorsView {
  const byField: Partial<Record<FieldKey, string>> = {};
  const other: string[] = [];
  const pages = new Set<PageKey>();
  for (const [path, raw] of Object.entries(fields)) {
    const message = plainFieldMessage(path, raw);
    const field = fieldOfError(path);
    pages.add(pageOfField(field ?? path));
    if (field && field !== 'type') {
      byField[field] = byField[field] ? `${byField[field]}; ${message}` : message;
    } else {
      other.push(`${fieldNames[path] ?? path}: ${message}`);
    }
  }
  return { byField, other, pages: [...pages] };
}

export const noFieldErrors: FieldErrorsView = { byField: {}, other: [], pages: [] };

export function fieldErrorsOf(error: unknown): FieldErrorsView {
  return error instanceof ApiError && Object.keys(error.fields).length > 0
    ? viewFieldErrors(error.fields)
    : noFieldErrors;
}

// ---- The form state ----

export interface AccountForm {
  values: AccountFormValues;
  errors: Partial<Record<FieldKey, string>>;
  saved: SavedSecrets | null;
  set<K extends FieldKey>(key: K, value: AccountFormValues[K]): void;
  setErrors(errors: Partial<Record<FieldKey, string>>): void;
  reset(values: AccountFormValues): void;
  dirty: boolean;
  /** Props for a text input bound to a field */
  text(key: TextKey): {
    value: string;
    onChange: (event: ChangeEvent<HTMLInputElement>) => void;
    error: string | undefined;
  };
  /** Props for a checkbox or switch bound to a field */
  check(key: FlagKey): {
    checked: boolean;
    onChange: (event: ChangeEvent<HTMLInputElement>) => void;
    error: string | undefined;
  };
  /** Props for a number input bound to a field */
  number(key: NumberKey): {
    value: number | string;
    onChange: (value: number | string) => void;
    error: string | undefined;
  };
}

export function useAccountForm(initial: AccountFormValues, saved: SavedSecrets | null = null): AccountForm {
  const [values, setValues] = useState(initial);
  const [baseline, setBaseline] = useState(initial);
  const [errors, setErrors] = useState<Partial<Record<FieldKey, string>>>({});

  const set = useCallback(<K extends FieldKey>(key: K, value: AccountFormValues[K]) => {
    setValues((current) => ({ ...current, [key]: value }));
    setErrors((current) => {
      if (!(key in current)) return current;
      const { [key]: _gone, ...rest } = current;
      return rest as Partial<Record<FieldKey, string>>;
    });
  }, []);

  const reset = useCallback((next: AccountFormValues) => {
    setValues(next);
    setBaseline(next);
    setErrors({});
  }, []);

  const dirty = useMemo(() => JSON.stringify(values) !== JSON.stringify(baseline), [values, baseline]);

  return {
    values,
    errors,
    saved,
    set,
    setErrors,
    reset,
    dirty,
    text: (key) => ({
      value: values[key],
      onChange: (event) => set(key, event.currentTarget.value),
      error: errors[key],
    }),
    check: (key) => ({
      checked: values[key],
      onChange: (event) => set(key, event.currentTarget.checked),
      error: errors[key],
    }),
    number: (key) => ({
      value: values[key],
      onChange: (value) => set(key, value),
      error: errors[key],
    }),
  };
}
