import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';

/*
 * The bounce intake: an SMTP listener for the notices MTAs send back to the VERP return paths of
 * marketing mail (src/mail/verp.ts). It knows no database: whether an address is one of ours, and
 * what becomes of a notice, are the caller's to decide (src/domains/bounces/intake.service.ts).
 *
 * A bounce arrives from an MTA, so there is no AUTH and no STARTTLS. One recipient per
 * transaction (a second RCPT gets 452 4.5.3, which tells the client to send it again in a
 * transaction of its own), so that a notice is stored once, whole, or not at all. The notice is
 * handed over before the final 250: when that fails the answer is 451 and the MTA tries again later.
 */

export interface BounceNotice {
  /** MAIL FROM, without angle brackets: usually empty, since a notice goes out with a null sender. */
  mailFrom: string;
  /** The one RCPT TO, as the client wrote it. */
  rcptTo: string;
  raw: Buffer;
}

export interface BounceIntakeLogger {
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
}

export interface BounceIntakeOptions {
  port: number;
  host: string;
  /** Only addresses at this domain can be accepted; others are refused without asking. */
  bounceDomain: string;
  /** Larger notices are refused: 552 at MAIL FROM when the SIZE parameter says so, else after DATA. */
  maxBytes: number;
  /** Whether RCPT TO this address is accepted (a valid token of a known recipient). */
  acceptRecipient(address: string): boolean | Promise<boolean>;
  /** Keeps the notice; must not resolve before it is safely stored. */
  onNotice(notice: BounceNotice): Promise<void>;
  logger: BounceIntakeLogger;
  /** How long close() lets open sessions finish before cutting them (default 10 s). */
  closeTimeoutMs?: number;
}

export interface BounceIntake {
  /** The port it listens on (the one chosen when 0 was asked for). */
  port: number;
  /** Stops accepting connections and waits for the open ones (at most closeTimeoutMs). */
  close(): Promise<void>;
}

/** An error whose code smtp-server sends as the reply (its enhanced status follows from the code). */
function reply(responseCode: number, message: string): Error {
  return Object.assign(new Error(message), { responseCode });
}

const domainOf = (address: string): string =>
  address
    .slice(address.lastIndexOf('@') + 1)
    .toLowerCase()
    .replace(/\.$/, '');

export async function startBounceIntake(options: BounceIntakeOptions): Promise<BounceIntake> {
  const { logger, maxBytes } = options;
  const bounceDomain = options.bounceDomain.toLowerCase().replace(/\.$/, '');

  async function checkRecipient(address: string, session: SMTPServerSession): Promise<Error | null> {
    const known = domainOf(address) === bounceDomain && (await options.acceptRecipient(address));
    if (known) return null;
    logger.info({ session: session.id, rcptTo: address }, 'bounce intake: recipient refused');
    return reply(550, 'No such recipient here');
  }

  async function receive(stream: SMTPServerDataStream, session: SMTPServerSession): Promise<string> {
    const chunks: Buffer[] = [];
    let bytes = 0;
    // Read to the end whatever the size, or the session cannot answer; keep no more than allowed.
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      if (bytes <= maxBytes) chunks.push(chunk);
    }
    if (stream.sizeExceeded || bytes > maxBytes) {
      logger.info({ session: session.id, bytes, maxBytes }, 'bounce intake: notice too large');
      throw reply(552, `Message exceeds fixed maximum message size ${maxBytes}`);
    }
    const raw = Buffer.concat(chunks, bytes);
    const mailFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
    const [rcpt] = session.envelope.rcptTo;
    if (!rcpt) throw reply(503, 'Need RCPT command');
    try {
      await options.onNotice({ mailFrom, rcptTo: rcpt.address, raw });
    } catch (error) {
      logger.warn(
        { session: session.id, rcptTo: rcpt.address, err: error },
        'bounce intake: notice not stored; the sender is told to retry',
      );
      throw reply(451, 'Notice not stored, try again later');
    }
    logger.info({ session: session.id, rcptTo: rcpt.address, bytes }, 'bounce intake: notice received');
    return 'Notice received';
  }

  const server = new SMTPServer({
    name: bounceDomain,
    banner: 'Mailroom bounce intake',
    logger: false,
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    disableReverseLookup: true,
    // The enhanced status (5.1.1, 4.3.0, …) is what an MTA's own bounce logic reads best.
    hideENHANCEDSTATUSCODES: false,
    size: maxBytes,
    rejectOversized: true,
    maxRecipients: 1,
    maxClients: 200,
    closeTimeout: options.closeTimeoutMs ?? 10_000,
    onRcptTo(address, session, callback) {
      checkRecipient(address.address, session).then(
        (refusal) => callback(refusal),
        (error: unknown) => {
          logger.warn(
            { session: session.id, rcptTo: address.address, err: error },
            'bounce intake: lookup failed',
          );
          callback(reply(451, 'Recipient lookup failed, try again later'));
        },
      );
    },
    onData(stream, session, callback) {
      receive(stream, session).then(
        (message) => callback(null, message),
        (error: Error) => callback(error),
      );
    },
  });
  // Sockets reset by a client are reported here; they end only that session.
  server.on('error', (error) => logger.warn({ err: error }, 'bounce intake: connection error'));

  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.server.address() as AddressInfo;
  return {
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
