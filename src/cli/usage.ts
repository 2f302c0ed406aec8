export const usage = `Usage: mailroom <command>

Roles:
  serve                 the HTTP API and a worker in one process
  worker                the workers only
  migrate               bring the database schema up to date and exit
  bounce-intake         the SMTP listener for bounce notices alone (MAILROOM_BOUNCE_SMTP_PORT)

Users and access:
  user create --org NAME --email E (--password P | --password-stdin) [--role admin|member] [--name N]
                        create a user; creates the organisation when it does not exist, joins it when
                        it does (the first user of a new organisation is its admin by default)
  token create --email E [--name N] [--scope read|send|admin] [--expires-in-days D]
                        create an API token for that user; prints only the token. read: GET only;
                        send: read and queue messages; admin (default): all the user's role allows

Accounts:
  account discover EMAIL [--password-stdin] [--json]
                        find the servers of an address (autoconfig, SRV, ISP database, MX) and
                        probe them, logging in with the password read from stdin when given;
                        prints the settings as JSON (POST /api/accounts takes them; add the
                        passwords) and the evidence on stderr; --json prints everything as JSON

Outbox:
  outbox reset-sending ACCOUNT_ID   messages stuck in sending go back to ready
  outbox clear-errors ACCOUNT_ID    messages in error are retried, attempts from zero
  message cancel|reset-sending|clear-error MESSAGE_ID

Secrets:
  secrets generate-key  print a new key for MAILROOM_SECRET_KEY
  secrets rotate        re-encrypt every stored secret under the current key (safe to rerun after
                        an interruption; with DATA_DIR/secret.key it also makes the new key)
  dkim generate --domain D [--selector S]  make or replace a sending domain's DKIM key; prints its TXT record

Bounces:
  bounce classify PATH...
                        classify raw messages (files or directories, recursively); one JSON line
                        per file: { file, category, recipients }

Configuration comes from the environment: see the README.
`;
