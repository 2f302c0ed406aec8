/** One way to show times everywhere: the reader's locale, a fixed style, and their own time zone. */
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });
const count = new Intl.NumberFormat();

export function formatDateTime(iso: string | null | undefined): string {
  return iso ? dateTime.format(new Date(iso)) : '—';
}

export function formatDate(iso: string | null | undefined): string {
  return iso ? dateOnly.format(new Date(iso)) : '—';
}

export function formatCount(value: number): string {
  return count.format(value);
}

const words: Record<string, string> = {
  own: 'Own',
  marketing: 'Marketing',
  personal: 'Personal',
  team: 'Team',
  pending_approval: 'Pending approval',
  active: 'Active',
  rejected: 'Rejected',
  disabled: 'Disabled',
  unknown: 'Not checked',
  ok: 'OK',
  auth_error: 'Login refused',
  connect_error: 'Cannot connect',
  tls_error: 'TLS failed',
  timeout: 'Timed out',
  password_required: 'Password needed',
  paused: 'Paused',
};

/** The plain words for an API value such as `pending_approval`. */
export function label(value: string): string {
  return words[value] ?? value.replace(/_/g, ' ');
}
