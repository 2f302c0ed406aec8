import type { ColumnType, Insertable, Kysely, Selectable, Transaction, Updateable } from 'kysely';

/**
 * Times are UTC ISO-8601 strings in both dialects: `timestamptz` in PostgreSQL (read back as ISO
 * strings, see connect.ts) and TEXT in SQLite. Writing ISO strings keeps comparisons right in both.
 */
export type Timestamp = string;

export type Role = 'admin' | 'member';

export interface OrganisationsTable {
  id: string;
  name: string;
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
}

export interface LoginFailuresTable {
  /** `email:<address>` or `ip:<address>`. */
  key: string;
  failures: ColumnType<number, number, number>;
  last_failed_at: Timestamp;
  blocked_until: Timestamp | null;
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

export interface Database {
  organisations: OrganisationsTable;
  users: UsersTable;
  teams: TeamsTable;
  team_members: TeamMembersTable;
  sessions: SessionsTable;
  api_tokens: ApiTokensTable;
  login_failures: LoginFailuresTable;
  accounts: AccountsTable;
  default_accounts: DefaultAccountsTable;
  audit_log: AuditLogTable;
}

export type Db = Kysely<Database>;
export type Tx = Transaction<Database>;
/** Either the database or an open transaction: repositories that need no lock take this. */
export type DbOrTx = Kysely<Database> | Transaction<Database>;

export type Row<Table extends keyof Database> = Selectable<Database[Table]>;
export type NewRow<Table extends keyof Database> = Insertable<Database[Table]>;
export type RowUpdate<Table extends keyof Database> = Updateable<Database[Table]>;

export type Dialect = 'sqlite' | 'postgres';
