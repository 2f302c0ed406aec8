import type { ColumnType, Generated, Insertable, Kysely, Selectable, Transaction, Updateable } from 'kysely';

/**
 * Times are UTC ISO-8601 strings in both dialects: `timestamptz` in PostgreSQL (read back as ISO
 * strings, see connect.ts) and TEXT in SQLite. Writing ISO strings keeps comparisons right in both.
 */
export type Timestamp = string;

export type Role = 'admin' | 'member';

/** What an API token may do: read (GET only), send (read, and queue messages), admin (everything). */
export type TokenScope = 'read' | 'send' | 'admin';

export interface OrganisationsTable {
  id: string;
  name: string;
  /** This many soft bounces within the window mark a contact faulty. */
  soft_bounce_limit: ColumnType<number, number | undefined, number>;
  soft_bounce_window_days: ColumnType<number, number | undefined, number>;
  /** The own account alerts are emailed from; null: alerts are in-app only. */
  notification_account_id: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: Timestamp;
}

export interface UsersTable {
  id: string;
  org_id: string;
  email: string;
  name: string;
  role: Role;
  password_hash: string;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface TeamsTable {
  id: string;
  org_id: string;
  name: string;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface TeamMembersTable {
  team_id: string;
  user_id: string;
}

export interface SessionsTable {
  id: string;
  token_hash: string;
  user_id: string;
  created_at: Timestamp;
  expires_at: Timestamp;
  /** Repeated in X-CSRF-Token by every state-changing request of the session (null: none, refused). */
  csrf_token: ColumnType<string | null, string, string>;
  /** The last use, written at most once a minute: the idle timeout counts from here. */
  last_seen_at: ColumnType<Timestamp | null, Timestamp, Timestamp>;
}

export interface ApiTokensTable {
  id: string;
  token_hash: string;
  user_id: string;
  name: string;
  /** The first characters of the token, so a person can tell their tokens apart. */
  prefix: string;
  created_at: Timestamp;
  expires_at: Timestamp | null;
  last_used_at: Timestamp | null;
  /** What the token may do (src/http/auth.ts): `read`, `send` or `admin` (all the user's role allows). */
  scope: ColumnType<TokenScope, TokenScope | undefined, TokenScope>;
}

export interface LoginFailuresTable {
  /** `email:<address>` or `ip:<address>`. */
  key: string;
  failures: ColumnType<number, number, number>;
  last_failed_at: Timestamp;
  blocked_until: Timestamp | null;
}

export interface RateLimitsTable {
  /** The rule, whether per user or per IP, and the user's id or the IP (src/http/rate-limits.ts). */
  key: string;
  /** Milliseconds since the epoch; PostgreSQL's bigint reads as a string. */
  window_started_at: ColumnType<number | string, number, number>;
  hits: number;
}

export interface AccountsTable {
  id: string;
  org_id: string;
  owner_id: string;
  type: 'own' | 'marketing';
  scope: 'personal' | 'team';
  name: string;
  email: string;
  display_name: string | null;
  organization: string | null;
  reply_to: string | null;
  reply_to_name: string | null;
  from_name_template: string | null;
  reply_to_name_template: string | null;
  /** JSON: the smtp, incoming and options settings as written, without secrets. */
  settings: string;
  /** The account's passwords, encrypted together (src/secrets). */
  secrets: string | null;
  /** Which secrets are stored (`smtp,incoming,proxy`), so a list shows `hasPassword` without decrypting. */
  secret_kinds: string;
  status: 'pending_approval' | 'active' | 'rejected' | 'disabled';
  rejection_reason: string | null;
  approved_at: Timestamp | null;
  approved_by: string | null;
  name_folded: string;
  search_folded: string;
  outgoing_state: string;
  outgoing_last_error: string | null;
  outgoing_last_ok_at: Timestamp | null;
  incoming_state: string;
  incoming_last_error: string | null;
  incoming_last_ok_at: Timestamp | null;
  last_used_at: Timestamp | null;
  /** Marketing: messages an hour and a day at most (null: the platform's defaults). */
  quota_hourly: number | null;
  quota_daily: number | null;
  /** The worker holding the memory-only passwords ("Remember password" off), of the kinds in memory_kinds. */
  password_holder: string | null;
  memory_kinds: Generated<string>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface DefaultAccountsTable {
  user_id: string;
  account_id: string;
}

export interface AuditLogTable {
  id: string;
  org_id: string;
  actor_id: string | null;
  action: string;
  target_type: string;
  target_id: string;
  /** JSON array of the field paths that changed; never their values. */
  fields: string;
  created_at: Timestamp;
}

export interface ContactsTable {
  id: string;
  org_id: string;
  email: string;
  /** The address folded for matching (case-insensitive): unique per organisation. */
  email_folded: string;
  name: string | null;
  owner_id: string | null;
  /** JSON object of custom fields, which sender templates read. */
  fields: string;
  /** Suppression: marketing mail skips a contact with any of these set. */
  unsubscribed_at: Timestamp | null;
  complained_at: Timestamp | null;
  faulty_at: Timestamp | null;
  score: ColumnType<number, number | undefined, number>;
  /** Soft bounces before this do not count (mail from the contact, or a reactivation, resets them). */
  soft_bounces_since: Timestamp | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface ContactTagsTable {
  contact_id: string;
  tag: string;
}

export type MessageStatus = 'ready' | 'sending' | 'sent' | 'error' | 'uncertain' | 'cancelled' | 'received';

export interface MessagesTable {
  id: string;
  org_id: string;
  account_id: string | null;
  created_by: string | null;
  direction: 'out' | 'in';
  status: MessageStatus;
  /** Incoming: what the bounce classifier read it as; null for outgoing mail. */
  mail_kind: ColumnType<MailKind | null, MailKind | null | undefined, MailKind | null>;
  message_id_header: string;
  subject: string;
  text_body: string | null;
  html_body: string | null;
  /** JSON object of the allow-listed extra headers. */
  headers: string;
  /** 1 when the account marks outgoing mail private: not filed on the contacts. */
  is_private: number;
  send_at: Timestamp | null;
  attempts: number;
  next_attempt_at: Timestamp | null;
  lease_owner: string | null;
  lease_until: Timestamp | null;
  sent_at: Timestamp | null;
  error_code: string | null;
  reply_code: number | null;
  reply_enhanced: string | null;
  reply_text: string | null;
  reply_command: string | null;
  idempotency_key: string | null;
  /** Incoming: the first From mailbox. */
  from_address: string | null;
  from_name: string | null;
  in_reply_to: string | null;
  /** The stored message this one answers (In-Reply-To, else References), sent or received. */
  thread_parent_id: string | null;
  /** Incoming: sha-256 of the raw message without its trace headers; with the Message-ID, the de-duplication key. */
  content_hash: string | null;
  /** Where the raw message is kept (src/domains/messages/raw-store.ts). */
  raw_key: string | null;
  raw_size: number | null;
  /** 1 when the message was above the size cap: only its header block is kept. */
  raw_truncated: ColumnType<number, number | undefined, number>;
  /** The parser's error: the message is quarantined, kept raw and never parsed again. */
  parse_error: string | null;
  received_at: Timestamp | null;
  header_date: Timestamp | null;
  /** Incoming: JSON array of attachment summaries (the content stays in the raw message). */
  incoming_attachments: string | null;
  /** Outgoing from an account that reads IMAP: `pending` until a copy is filed in Sent, then `filed`. */
  sent_copy: 'pending' | 'filed' | 'failed' | null;
  /** Incoming mail deleted here from every account that had it: only the de-duplication key is kept. */
  deleted_at: Timestamp | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** Where a stored incoming message sits: one row per account that received it. */
export interface MessagePlacementsTable {
  id: string;
  message_id: string;
  account_id: string;
  folder: string;
  /** The reader's id for it on the server, for deletion. */
  server_id: string;
  /** This account marks incoming mail private: not filed on the contact. */
  is_private: number;
  /** The contact whose address is in From, unless private. */
  contact_id: string | null;
  /** When Mailroom first saw it here: `removeAfterDays` counts from this. */
  created_at: Timestamp;
  /** Deleted here: hidden, kept as a tombstone so a re-read of the server does not bring it back. */
  deleted_at: Timestamp | null;
  /** Removed from the server, as the account's delivery options said. */
  server_removed_at: Timestamp | null;
}

export interface RawMessagesTable {
  key: string;
  content: Buffer;
}

export interface MailboxSyncsTable {
  account_id: string;
  /** The reader's opaque cursor (src/mail/reader.ts), written with the messages it covers. */
  cursor: string | null;
  next_sync_at: Timestamp;
  lease_owner: string | null;
  lease_until: Timestamp | null;
  /** Consecutive refused logins; the third pauses the account's receiving. */
  auth_failures: number;
  last_sync_at: Timestamp | null;
  imported: number;
}

export interface EventsTable {
  id: string;
  org_id: string;
  /** `email.received`, …; automation reads them in id order. */
  type: string;
  account_id: string | null;
  message_id: string | null;
  contact_id: string | null;
  /** JSON: what the event says. */
  payload: string;
  /** The user whose request made the change; null for the system (a worker, a rule, the CLI). */
  actor_id: ColumnType<string | null, string | null | undefined, string | null>;
  /** The rule whose action made the change: that rule never runs on this event. */
  caused_by_rule_id: ColumnType<string | null, string | null | undefined, string | null>;
  /** How many rule actions deep the change is: rules stop at a limit, so two rules cannot ping-pong. */
  rule_depth: ColumnType<number, number | undefined, number>;
  /** When the rule engine made the event's runs; null until then. */
  dispatched_at: ColumnType<Timestamp | null, Timestamp | null | undefined, Timestamp | null>;
  created_at: Timestamp;
}

export interface RulesTable {
  id: string;
  org_id: string;
  name: string;
  /** The event type the rule runs on. */
  trigger: string;
  /** JSON: RuleConditions. */
  conditions: string;
  /** JSON: RuleAction[]. */
  actions: string;
  enabled: number;
  created_by: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface RuleRunsTable {
  id: string;
  org_id: string;
  rule_id: string;
  event_id: string;
  status: 'pending' | 'done' | 'skipped' | 'failed';
  attempts: number;
  next_attempt_at: Timestamp | null;
  lease_owner: string | null;
  lease_until: Timestamp | null;
  /** JSON: ActionResult[], one per action of the rule. */
  results: string;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface NotificationsTable {
  id: string;
  org_id: string;
  user_id: string;
  title: string;
  body: string;
  event_id: string | null;
  rule_id: string | null;
  contact_id: string | null;
  read_at: Timestamp | null;
  created_at: Timestamp;
}

export interface WebhookEndpointsTable {
  id: string;
  org_id: string;
  url: string;
  description: string | null;
  /** JSON: EventType[]. */
  event_types: string;
  /** Encrypted with the keyring (src/secrets), bound to the endpoint's id. */
  secret: string;
  enabled: number;
  owner_id: string | null;
  failing_since: Timestamp | null;
  disabled_reason: string | null;
  disabled_at: Timestamp | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface WebhookDeliveriesTable {
  id: string;
  org_id: string;
  endpoint_id: string;
  event_id: string;
  rule_id: string | null;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  first_attempt_at: Timestamp | null;
  next_attempt_at: Timestamp | null;
  lease_owner: string | null;
  lease_until: Timestamp | null;
  last_status_code: number | null;
  last_error: string | null;
  delivered_at: Timestamp | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface WebhookAttemptsTable {
  id: string;
  delivery_id: string;
  started_at: Timestamp;
  status_code: number | null;
  latency_ms: number;
  error: string | null;
}

/** `bounced`: accepted, then a delivery-failure notice came back for it. */
export type RecipientStatus = 'pending' | 'accepted' | 'rejected' | 'bounced' | `skipped_${string}`;

export type MailKind = 'ordinary' | 'bounce' | 'auto_reply' | 'complaint' | 'delivery_report';

export interface MessageRecipientsTable {
  id: string;
  message_id: string;
  position: number;
  kind: 'to' | 'cc' | 'bcc';
  address: string;
  name: string | null;
  contact_id: string | null;
  status: RecipientStatus;
  reply_code: number | null;
  reply_enhanced: string | null;
  reply_text: string | null;
  /** Set once the server answered DATA with 354 for this recipient's transaction. */
  data_started_at: Timestamp | null;
  updated_at: Timestamp;
}

export interface MessageAttachmentsTable {
  id: string;
  message_id: string;
  position: number;
  filename: string;
  content_type: string;
  size: number;
  content: Buffer;
}

export type BounceAction = 'failed' | 'delayed' | 'complained';

export interface BouncesTable {
  id: string;
  org_id: string;
  /** Where the bounce was learnt: `smtp` (a 5xx at send time), `mailbox`, `verp` (the intake). */
  source: string;
  /** `failed`, `delayed` (recorded, never counted) or `complained`. */
  action: ColumnType<BounceAction, BounceAction | undefined, BounceAction>;
  /** How the original was found: `verp`, `envid`, `message_id`, `address`, `rcpt_reply`; null when it was not. */
  matched_by: string | null;
  message_id: string | null;
  recipient_id: string | null;
  /** The raw notice, in the raw store; null for a reply at send time (its text is the diagnostic). */
  raw_key: string | null;
  /** The stored incoming message that carried the notice (mailbox bounces). */
  notice_message_id: string | null;
  account_id: string | null;
  contact_id: string | null;
  recipient: string;
  bounce_type: 'hard' | 'soft' | null;
  reason: string;
  status: string | null;
  reply_code: number | null;
  diagnostic: string | null;
  remote_mta: string | null;
  created_at: Timestamp;
}

export interface DkimKeysTable {
  domain: string;
  selector: string;
  /** PEM, encrypted with the keyring (src/secrets), bound to the domain. */
  private_key: string;
  public_key: string;
  created_at: Timestamp;
}

export interface BounceNoticesTable {
  id: string;
  mail_from: string;
  rcpt_to: string;
  message_id: string | null;
  recipient_id: string | null;
  /** The notice as received, in the raw store. */
  raw_key: string;
  size: number;
  verdict: string | null;
  received_at: Timestamp;
}

/** The guard of first-run setup: at most one row, id 'setup' (migration 012). */
export interface FirstRunTable {
  id: 'setup';
  org_id: string | null;
  user_id: string | null;
  created_at: string;
}

/** A worker process; it is alive while its heartbeat is fresh (migration 013). */
export interface WorkersTable {
  id: string;
  host: string;
  pid: number;
  started_at: Timestamp;
  heartbeat_at: Timestamp;
}

/** Which worker holds an account: its IDLE connection and its memory-only passwords. */
export interface AccountHoldsTable {
  account_id: string;
  worker_id: string;
  held_since: Timestamp;
}

export interface Database {
  organisations: OrganisationsTable;
  users: UsersTable;
  teams: TeamsTable;
  team_members: TeamMembersTable;
  sessions: SessionsTable;
  api_tokens: ApiTokensTable;
  login_failures: LoginFailuresTable;
  rate_limits: RateLimitsTable;
  accounts: AccountsTable;
  default_accounts: DefaultAccountsTable;
  audit_log: AuditLogTable;
  contacts: ContactsTable;
  contact_tags: ContactTagsTable;
  messages: MessagesTable;
  message_recipients: MessageRecipientsTable;
  message_attachments: MessageAttachmentsTable;
  bounces: BouncesTable;
  message_placements: MessagePlacementsTable;
  raw_messages: RawMessagesTable;
  mailbox_syncs: MailboxSyncsTable;
  events: EventsTable;
  dkim_keys: DkimKeysTable;
  bounce_notices: BounceNoticesTable;
  rules: RulesTable;
  rule_runs: RuleRunsTable;
  notifications: NotificationsTable;
  webhook_endpoints: WebhookEndpointsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_attempts: WebhookAttemptsTable;
  first_run: FirstRunTable;
  workers: WorkersTable;
  account_holds: AccountHoldsTable;
}

export type Db = Kysely<Database>;
export type Tx = Transaction<Database>;
/** Either the database or an open transaction: repositories that need no lock take this. */
export type DbOrTx = Kysely<Database> | Transaction<Database>;

export type Row<Table extends keyof Database> = Selectable<Database[Table]>;
export type NewRow<Table extends keyof Database> = Insertable<Database[Table]>;
export type RowUpdate<Table extends keyof Database> = Updateable<Database[Table]>;

export type Dialect = 'sqlite' | 'postgres';
