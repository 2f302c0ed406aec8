import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Id, Nullable, StrictObject, Timestamp } from '../../schemas.ts';
import { headerSafePattern } from './addresses.ts';

export const accountTypes = ['own', 'marketing'] as const;
export const accountScopes = ['personal', 'team'] as const;
export const accountStatuses = ['pending_approval', 'active', 'rejected', 'disabled'] as const;
export const healthStates = [
  'unknown',
  'ok',
  'auth_error',
  'connect_error',
  'tls_error',
  'timeout',
  'password_required',
  'paused',
] as const;
export const securities = ['none', 'starttls', 'tls'] as const;
export const incomingProtocols = ['none', 'pop3', 'imap', 'jmap'] as const;

export type AccountType = (typeof accountTypes)[number];
export type AccountScope = (typeof accountScopes)[number];
export type AccountStatus = (typeof accountStatuses)[number];
export type HealthState = (typeof healthStates)[number];
export type Security = (typeof securities)[number];
export type IncomingProtocol = (typeof incomingProtocols)[number];
export type Direction = 'outgoing' | 'incoming';

const oneOf = <Values extends readonly string[]>(values: Values) =>
  Type.Unsafe<Values[number]>({ type: 'string', enum: [...values] });

/** Text that may end up in a header: no line breaks or control characters. */
const HeaderText = (maxLength: number) => Type.String({ maxLength, pattern: headerSafePattern });
const Address = Type.String({ maxLength: 254, format: 'mailbox' });
const Template = Type.String({ maxLength: 200, pattern: headerSafePattern, format: 'sender-template' });
const Host = Type.String({ minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9.:\\[\\]_-]+$' });
const Port = Type.Integer({ minimum: 1, maximum: 65535 });
const TimeoutMs = Type.Integer({
  minimum: 1000,
  maximum: 120_000,
  description: 'milliseconds, 1 s to 2 min',
});
const Secret = Type.String({ minLength: 1, maxLength: 1024, description: 'write-only' });
/** Reserved so OAuth2 can come later without changing what existing settings mean. */
const AuthMethod = Type.Literal('password');
/** JMAP also takes an access token, sent as a bearer token instead of the user name and password. */
const IncomingAuthMethod = Type.Union([Type.Literal('password'), Type.Literal('token')], {
  description: '"token" (JMAP only): the password is an access token, sent as a bearer token',
});

/**
 * The settings as a person writes them: everything optional that has a default, `null` or `""`
 * where an optional text is not set. The same shape is stored (without secrets), so that defaults
 * follow other settings later (a port left out follows the security chosen).
 */
export const ProxyInput = StrictObject({
  type: oneOf(['socks5', 'http'] as const),
  host: Host,
  port: Port,
  username: Type.Optional(Nullable(HeaderText(255))),
  password: Type.Optional(Nullable(Secret)),
});

export const SmtpInput = StrictObject({
  host: Host,
  port: Type.Optional(Nullable(Port)),
  security: Type.Optional(Nullable(oneOf(securities))),
  requiresAuth: Type.Optional(Nullable(Type.Boolean())),
  useIncomingCredentials: Type.Optional(Nullable(Type.Boolean())),
  authMethod: Type.Optional(Nullable(AuthMethod)),
  username: Type.Optional(Nullable(HeaderText(255))),
  password: Type.Optional(Nullable(Secret)),
  spa: Type.Optional(
    Nullable(Type.Boolean({ description: 'challenge-response login; never falls back to plain' })),
  ),
  proxy: Type.Optional(Nullable(ProxyInput)),
  timeoutMs: Type.Optional(Nullable(TimeoutMs)),
});

export const IncomingInput = StrictObject({
  protocol: Type.Optional(Nullable(oneOf(incomingProtocols))),
  host: Type.Optional(Nullable(Type.Union([Host, Type.Literal('')]))),
  port: Type.Optional(Nullable(Port)),
  url: Type.Optional(Nullable(Type.String({ maxLength: 2048, pattern: '^$|^https?://[^\\s]+$' }))),
  security: Type.Optional(Nullable(oneOf(securities))),
  authMethod: Type.Optional(Nullable(IncomingAuthMethod)),
  username: Type.Optional(Nullable(HeaderText(255))),
  password: Type.Optional(Nullable(Secret)),
  spa: Type.Optional(Nullable(Type.Boolean())),
  rememberPassword: Type.Optional(
    Nullable(
      Type.Boolean({ description: 'off: passwords are held in memory only and asked for after a restart' }),
    ),
  ),
  folders: Type.Optional(
    Nullable(
      Type.Array(Type.String({ minLength: 1, maxLength: 255, pattern: headerSafePattern }), {
        maxItems: 100,
      }),
    ),
  ),
  syncSince: Type.Optional(Nullable(Type.String({ format: 'date-or-date-time' }))),
  maxMessagesPerFetch: Type.Optional(Nullable(Type.Integer({ minimum: 1, maximum: 5000 }))),
  pollIntervalSeconds: Type.Optional(Nullable(Type.Integer({ minimum: 30, maximum: 86_400 }))),
  timeoutMs: Type.Optional(Nullable(TimeoutMs)),
  leaveOnServer: Type.Optional(Nullable(Type.Boolean())),
  removeAfterDays: Type.Optional(Nullable(Type.Integer({ minimum: 1, maximum: 3650 }))),
  removeWhenDeleted: Type.Optional(Nullable(Type.Boolean())),
  deleteBounces: Type.Optional(Nullable(Type.Boolean())),
});

export const OptionsInput = StrictObject({
  markIncomingPrivate: Type.Optional(Nullable(Type.Boolean())),
  markOutgoingPrivate: Type.Optional(Nullable(Type.Boolean())),
});

const identityFields = {
  name: Type.String({ minLength: 1, maxLength: 200, pattern: headerSafePattern }),
  email: Type.String({ minLength: 1, maxLength: 254, format: 'mailbox' }),
  displayName: Type.Optional(Nullable(HeaderText(200))),
  organization: Type.Optional(Nullable(HeaderText(200))),
  replyTo: Type.Optional(Nullable(Address)),
  replyToName: Type.Optional(Nullable(HeaderText(200))),
  fromNameTemplate: Type.Optional(Nullable(Template)),
  replyToNameTemplate: Type.Optional(Nullable(Template)),
};

export const CreateAccountBody = StrictObject({
  type: oneOf(accountTypes),
  scope: Type.Optional(oneOf(accountScopes)),
  ...identityFields,
  smtp: Type.Optional(Nullable(SmtpInput)),
  incoming: Type.Optional(Nullable(IncomingInput)),
  options: Type.Optional(Nullable(OptionsInput)),
});
export type CreateAccountInput = Static<typeof CreateAccountBody>;
export type SmtpInput = Static<typeof SmtpInput>;
export type IncomingInput = Static<typeof IncomingInput>;
export type ProxyInput = Static<typeof ProxyInput>;

/**
 * JSON Merge Patch (RFC 7396) of the same shape: every field optional, `null` resets it to its
 * default, nested objects merge.
 */
function asMergePatch(schema: TSchema): TSchema {
  if (schema.type !== 'object' || !schema.properties) return schema;
  const properties: Record<string, TSchema> = {};
  for (const [name, property] of Object.entries(schema.properties as Record<string, TSchema>)) {
    const inner = property.anyOf
      ? ((property.anyOf as TSchema[]).find((branch) => branch.type !== 'null') ?? property)
      : property;
    properties[name] = Type.Optional(Nullable(asMergePatch(inner)));
  }
  return Type.Object(properties, { additionalProperties: false });
}

export const UpdateAccountBody = Type.Unsafe<AccountPatch>(asMergePatch(CreateAccountBody));

type PatchOf<T> = {
  [K in keyof T]?:
    | (NonNullable<T[K]> extends readonly unknown[]
        ? T[K]
        : NonNullable<T[K]> extends object
          ? PatchOf<NonNullable<T[K]>>
          : T[K])
    | null;
};
export type AccountPatch = PatchOf<CreateAccountInput>;

export const SupplyPasswordsBody = StrictObject({
  smtp: Type.Optional(Secret),
  incoming: Type.Optional(Secret),
});
export type SupplyPasswordsInput = Static<typeof SupplyPasswordsBody>;

export const RejectBody = StrictObject({ reason: Type.String({ minLength: 1, maxLength: 1000 }) });

/** The stored settings: what was written, minus secrets. */
export interface StoredSettings {
  smtp: (Omit<SmtpInput, 'password' | 'proxy'> & { proxy?: Omit<ProxyInput, 'password'> | null }) | null;
  incoming: Omit<IncomingInput, 'password'> | null;
  options: Static<typeof OptionsInput> | null;
}

/** The secrets of one account, encrypted together in one column. */
export interface AccountSecrets {
  smtp?: string;
  incoming?: string;
  proxy?: string;
}

// ---- The settings in effect: defaults applied ----

export const defaultPorts = {
  smtp: { none: 25, starttls: 587, tls: 465 },
  pop3: { none: 110, starttls: 110, tls: 995 },
  imap: { none: 143, starttls: 143, tls: 993 },
} as const;

export interface ProxySettings {
  type: 'socks5' | 'http';
  host: string;
  port: number;
  username: string | null;
}

export interface SmtpSettings {
  host: string;
  port: number;
  security: Security;
  requiresAuth: boolean;
  useIncomingCredentials: boolean;
  authMethod: 'password';
  username: string | null;
  spa: boolean;
  proxy: ProxySettings | null;
  timeoutMs: number;
}

export interface IncomingSettings {
  protocol: IncomingProtocol;
  host: string | null;
  port: number | null;
  url: string | null;
  security: Security;
  authMethod: 'password' | 'token';
  username: string | null;
  spa: boolean;
  rememberPassword: boolean;
  folders: string[];
  syncSince: string | null;
  maxMessagesPerFetch: number;
  pollIntervalSeconds: number;
  timeoutMs: number;
  leaveOnServer: boolean;
  removeAfterDays: number | null;
  removeWhenDeleted: boolean;
  deleteBounces: boolean;
}

export interface AccountOptions {
  markIncomingPrivate: boolean;
  markOutgoingPrivate: boolean;
}

export interface EffectiveSettings {
  smtp: SmtpSettings | null;
  incoming: IncomingSettings;
  options: AccountOptions;
}

const DEFAULT_TIMEOUT_MS = 30_000;

function emptyToNull(value: string | null | undefined): string | null {
  return value === undefined || value === null || value === '' ? null : value;
}

export function resolveSettings(stored: StoredSettings): EffectiveSettings {
  const smtp = stored.smtp;
  const smtpSecurity = smtp?.security ?? 'starttls';
  const incoming = stored.incoming ?? {};
  const protocol = incoming.protocol ?? 'none';
  const incomingSecurity =
    incoming.security ?? (protocol === 'jmap' && incoming.url?.startsWith('http:') ? 'none' : 'tls');
  return {
    smtp: smtp
      ? {
          host: smtp.host,
          port: smtp.port ?? defaultPorts.smtp[smtpSecurity],
          security: smtpSecurity,
          requiresAuth: smtp.requiresAuth ?? true,
          useIncomingCredentials: smtp.useIncomingCredentials ?? false,
          authMethod: 'password',
          username: emptyToNull(smtp.username),
          spa: smtp.spa ?? false,
          proxy: smtp.proxy
            ? {
                type: smtp.proxy.type,
                host: smtp.proxy.host,
                port: smtp.proxy.port,
                username: emptyToNull(smtp.proxy.username),
              }
            : null,
          timeoutMs: smtp.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        }
      : null,
    incoming: {
      protocol,
      host: emptyToNull(incoming.host),
      port:
        incoming.port ??
        (protocol === 'pop3' || protocol === 'imap' ? defaultPorts[protocol][incomingSecurity] : null),
      url: emptyToNull(incoming.url),
      security: incomingSecurity,
      authMethod: incoming.authMethod ?? 'password',
      username: emptyToNull(incoming.username),
      spa: incoming.spa ?? false,
      rememberPassword: incoming.rememberPassword ?? true,
      folders: incoming.folders ?? (protocol === 'imap' || protocol === 'jmap' ? ['INBOX'] : []),
      syncSince: emptyToNull(incoming.syncSince),
      maxMessagesPerFetch: incoming.maxMessagesPerFetch ?? 100,
      pollIntervalSeconds: incoming.pollIntervalSeconds ?? 300,
      timeoutMs: incoming.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      leaveOnServer: incoming.leaveOnServer ?? true,
      removeAfterDays: incoming.removeAfterDays ?? null,
      removeWhenDeleted: incoming.removeWhenDeleted ?? false,
      deleteBounces: incoming.deleteBounces ?? false,
    },
    options: {
      markIncomingPrivate: stored.options?.markIncomingPrivate ?? false,
      markOutgoingPrivate: stored.options?.markOutgoingPrivate ?? false,
    },
  };
}

// ---- The account as the API shows it ----

const HealthSchema = StrictObject({
  state: oneOf(healthStates),
  lastError: Nullable(Type.String({ description: "the server's last words" })),
  lastOkAt: Nullable(Timestamp),
});
export type Health = Static<typeof HealthSchema>;

const OwnerSchema = StrictObject({ id: Id, name: Type.String(), email: Type.String() });

const listRowFields = {
  id: Id,
  name: Type.String(),
  email: Type.String(),
  type: oneOf(accountTypes),
  scope: oneOf(accountScopes),
  owner: OwnerSchema,
  status: oneOf(accountStatuses),
  createdAt: Timestamp,
  isDefault: Type.Boolean({ description: "whether it is the caller's default account" }),
  health: StrictObject({ outgoing: HealthSchema, incoming: HealthSchema }),
};

export const AccountListRowSchema = StrictObject(listRowFields);
export type AccountListRow = Static<typeof AccountListRowSchema>;

export const AdminAccountListRowSchema = StrictObject({
  ...listRowFields,
  defaultFor: Type.Array(OwnerSchema, { description: 'the users whose default account this is' }),
});
export type AdminAccountListRow = Static<typeof AdminAccountListRowSchema>;

const ProxySchema = StrictObject({
  type: oneOf(['socks5', 'http'] as const),
  host: Type.String(),
  port: Port,
  username: Nullable(Type.String()),
  hasPassword: Type.Boolean(),
});

const SmtpSchema = StrictObject({
  host: Type.String(),
  port: Port,
  security: oneOf(securities),
  requiresAuth: Type.Boolean(),
  useIncomingCredentials: Type.Boolean(),
  authMethod: AuthMethod,
  username: Nullable(Type.String()),
  hasPassword: Type.Boolean(),
  spa: Type.Boolean(),
  proxy: Nullable(ProxySchema),
  timeoutMs: Type.Integer(),
});

const IncomingSchema = StrictObject({
  protocol: oneOf(incomingProtocols),
  host: Nullable(Type.String()),
  port: Nullable(Port),
  url: Nullable(Type.String()),
  security: oneOf(securities),
  authMethod: IncomingAuthMethod,
  username: Nullable(Type.String()),
  hasPassword: Type.Boolean(),
  spa: Type.Boolean(),
  rememberPassword: Type.Boolean(),
  folders: Type.Array(Type.String()),
  syncSince: Nullable(Type.String()),
  maxMessagesPerFetch: Type.Integer(),
  pollIntervalSeconds: Type.Integer(),
  timeoutMs: Type.Integer(),
  leaveOnServer: Type.Boolean(),
  removeAfterDays: Nullable(Type.Integer()),
  removeWhenDeleted: Type.Boolean(),
  deleteBounces: Type.Boolean(),
});

export const AccountSchema = StrictObject({
  ...listRowFields,
  displayName: Nullable(Type.String()),
  organization: Nullable(Type.String()),
  replyTo: Nullable(Type.String()),
  replyToName: Nullable(Type.String()),
  fromNameTemplate: Nullable(Type.String()),
  replyToNameTemplate: Nullable(Type.String()),
  smtp: Nullable(SmtpSchema),
  incoming: IncomingSchema,
  options: StrictObject({ markIncomingPrivate: Type.Boolean(), markOutgoingPrivate: Type.Boolean() }),
  rejectionReason: Nullable(Type.String()),
  updatedAt: Timestamp,
});
export type Account = Static<typeof AccountSchema>;

export const AccountListQuery = StrictObject({
  q: Type.Optional(Type.String({ maxLength: 200 })),
  type: Type.Optional(oneOf(['all', ...accountTypes] as const)),
  scope: Type.Optional(oneOf(accountScopes)),
  status: Type.Optional(oneOf(accountStatuses)),
  page: Type.Optional(Type.Integer({ minimum: 1, default: 1 })),
  pageSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
});
export type AccountListQuery = Static<typeof AccountListQuery>;

/**
 * Unicode case folding for search: NFKC, then upper-then-lower case, so that "STRASSE" finds
 * "Straße" and "ﬁ" finds "fi"; the same folding is stored and applied to the query.
 */
export function foldForSearch(text: string): string {
  return text.normalize('NFKC').toUpperCase().toLowerCase();
}

export const ConnectionTestSchema = StrictObject({
  ok: Type.Boolean(),
  steps: Type.Array(
    StrictObject({
      direction: Type.Union([Type.Literal('outgoing'), Type.Literal('incoming')]),
      step: Type.String({
        description: 'connect, tls, ehlo, auth, mail_from, rcpt_to, data; or capabilities, login, list',
      }),
      ok: Type.Boolean(),
      ms: Type.Number(),
      reply: Nullable(Type.String({ description: "the server's own words; never a secret" })),
    }),
  ),
});

export const SenderPreviewBody = StrictObject(
  {
    email: identityFields.email,
    displayName: identityFields.displayName,
    replyTo: identityFields.replyTo,
    replyToName: identityFields.replyToName,
    fromNameTemplate: identityFields.fromNameTemplate,
    replyToNameTemplate: identityFields.replyToNameTemplate,
    contactId: Id,
  },
  { description: 'an account’s sender settings, saved or not, and the contact to preview them for' },
);
export type SenderPreviewInput = Static<typeof SenderPreviewBody>;

const NamedAddress = StrictObject({ name: Nullable(Type.String()), address: Type.String() });
export const SenderPreviewSchema = StrictObject({ from: NamedAddress, replyTo: NamedAddress });
