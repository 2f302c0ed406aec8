/**
 * The one interface every incoming protocol adapter offers (IMAP, POP3 and JMAP), so the
 * mailbox sync worker reads mail the same way whatever the server speaks. Adapters know no
 * database: the worker stores the cursor they hand back and gives it to them on the next sync.
 */
import type { HostPolicy } from '../net/address-policy.ts';
import type { Security } from './smtp-types.ts';

/** Where and as whom to reach an incoming server: what a reader and the "test settings" probe share. */
export interface IncomingConnection {
  host: string;
  port: number;
  security: Security;
  user: string;
  pass: string;
  /**
   * Challenge-response only: the password never crosses the wire. If the server offers no
   * mechanism the adapter speaks: SPA_UNAVAILABLE, never a plain login.
   */
  spa: boolean;
  /** The bound on connecting, the TLS handshake and each command's complete response. */
  timeoutMs: number;
  /** Extra CA certificates (PEM) to trust besides the system's and NODE_EXTRA_CA_CERTS. */
  ca?: string | Buffer;
  /**
   * Which addresses the server may resolve to, checked at every connection (HOST_NOT_ALLOWED
   * otherwise; for JMAP every URL the session leads to as well): public ones only for servers a
   * user names.
   */
  hostPolicy: HostPolicy;
}

export interface ReaderConfig extends IncomingConnection {
  /** The folders to read (IMAP, JMAP); POP3 has one mailbox and ignores it. */
  folders: string[];
  /**
   * JMAP: the session URL; when absent, https://host/.well-known/jmap (http:// only with
   * security `none`). Ignored by IMAP and POP3.
   */
  url?: string | null;
  /** JMAP: how `pass` is sent: HTTP Basic with `user` (the default), or as a bearer token. */
  authScheme?: 'basic' | 'bearer';
}

/** Where a reader says what it did (pino's debug and warn fit). */
export interface ReaderLogger {
  debug(...args: unknown[]): void;
  warn(...args: unknown[]): void;
}

export interface ReaderOptions {
  logger?: ReaderLogger;
}

/** The logger of a reader given none. */
export const silentReaderLogger: ReaderLogger = { debug: () => undefined, warn: () => undefined };

export interface FetchOptions {
  /** The most messages one fetch returns; `more` says whether others wait. */
  limit: number;
  /** On a first sync (no cursor for a folder), only mail received on or after this moment. */
  since: Date | null;
  /** A message larger than this comes back as its header block only, with `truncated`. */
  maxRawBytes: number;
  /**
   * Which of these server ids the caller has stored already. JMAP's changes name a message whose
   * mailboxes changed without saying whether it moved into a folder read here or only had its
   * flags changed: the reader downloads those of them in a read folder that are not stored. Without
   * it, it downloads them all, and the caller de-duplicates.
   */
  storedAmong?(serverIds: readonly string[]): Promise<ReadonlySet<string>>;
}

export interface FetchedMessage {
  /** Stable for as long as the message is on the server; what `delete` takes. Opaque to callers. */
  serverId: string;
  /** The folder it was read from (INBOX for POP3). */
  folder: string;
  /** The whole message, or only its header block when `truncated`. */
  raw: Buffer;
  truncated: boolean;
  /** The size the server reports for the whole message, in bytes. */
  size: number;
  /** When the server received it (IMAP INTERNALDATE), if it says. */
  receivedAt: Date | null;
}

/** Where the server keeps a message now: its id there, and the folder (one of those read). */
export interface MessageLocation {
  serverId: string;
  folder: string;
}

export interface FetchResult {
  messages: FetchedMessage[];
  /**
   * What to hand to the next fetch so that it returns only what came after these messages. Opaque
   * (JSON text); store it only once the messages are stored, so a crash re-reads rather than loses.
   */
  cursor: string;
  /** Whether more new messages are waiting beyond `limit`. */
  more: boolean;
  /**
   * Folders that were read again from the start because the server renumbered them (IMAP
   * UIDVALIDITY changed): their messages may already be stored, and the caller de-duplicates.
   */
  resynced: string[];
  /**
   * The folder, among those read, that messages the caller has stored (as `storedAmong` said) are
   * in now: JMAP's changes name them after a move or a mere flag change, and the caller moves the
   * placements that name another folder. (IMAP gives a moved message a new id in its new folder: it
   * comes back as a message, and storing it again moves its placement.)
   */
  nowIn?: MessageLocation[];
}

export interface MailReader {
  fetchNew(cursor: string | null, options: FetchOptions): Promise<FetchResult>;
  /**
   * Deletes these messages from the server (expunges them, for IMAP). Unknown ids are ignored.
   * POP3 commits deletions when the session ends well (QUIT, in `close`, which throws when it
   * could not); a dropped connection deletes nothing, so nothing is lost.
   */
  delete(serverIds: readonly string[]): Promise<void>;
  /**
   * Files a copy of a sent message in the Sent folder (IMAP's \Sent special-use folder). Absent
   * where the protocol has no Sent folder (POP3).
   */
  appendSent?(raw: Buffer): Promise<void>;
  /**
   * Waits for new mail in INBOX (IMAP IDLE) and calls `onNew` when some arrives, until the returned
   * function is called or the connection fails (then `onError`). Given the cursor the caller has
   * read up to, it also calls `onNew` once at the start when INBOX has mail past it: mail that came
   * between the caller's read and the start of the watch. Absent when the server cannot.
   */
  watch?(
    onNew: () => void,
    onError: (error: Error) => void,
    readUpTo?: string | null,
  ): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/** What a reader's failures carry: a registered code and the server's own words, never a secret. */
export type ReaderErrorCode =
  | 'INCOMING_AUTH_FAILED'
  | 'SPA_UNAVAILABLE'
  | 'INCOMING_CONNECT_FAILED'
  | 'INCOMING_TLS_FAILED'
  | 'INCOMING_TIMEOUT'
  | 'INCOMING_FOLDER_NOT_FOUND'
  | 'INCOMING_PROTOCOL_ERROR'
  /** The server's address is one the host policy refuses (src/net/address-policy.ts). */
  | 'HOST_NOT_ALLOWED';

export class ReaderError extends Error {
  override name = 'ReaderError';
  constructor(
    readonly code: ReaderErrorCode,
    message: string,
    /** The server's last words, when it said something. */
    readonly reply: string | null = null,
  ) {
    super(message);
  }
}
