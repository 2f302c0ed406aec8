import { rootCertificates } from 'node:tls';
/**
 * The real mail servers of test/mail-peers/mail-peers.sh, checked the way a user would: log in,
 * send, read back. Every test gets fresh mailbox users.
 */
import net from 'node:net';
import tls from 'node:tls';
import nodemailer, { type Transporter } from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport';
import { SocksClient } from 'socks';
import { describe, expect, it } from 'vitest';
import {
  connectImap,
  createMailbox,
  mailPeers,
  readInbox,
  sinkMessages,
  useMailPeers,
  waitForMessage,
  type Mailbox,
} from '../support/mail-peers.ts';

useMailPeers();

const host = '127.0.0.1';
const unique = (what: string): string =>
  `${what} ${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;

function transport(options: SMTPTransport.Options): Transporter<SMTPTransport.SentMessageInfo> {
  return nodemailer.createTransport({
    host,
    tls: { ca: mailPeers.ca, servername: 'localhost' },
    connectionTimeout: 5_000,
    greetingTimeout: 5_000,
    socketTimeout: 10_000,
    ...options,
  });
}

/** Through submission (10587): STARTTLS, then AUTH PLAIN, as `from`. */
async function submit(from: Mailbox, to: string, subject: string): Promise<SMTPTransport.SentMessageInfo> {
  const smtp = transport({
    port: mailPeers.ports.submission,
    secure: false,
    requireTLS: true,
    auth: { user: from.user, pass: from.password },
    authMethod: 'PLAIN',
  });
  try {
    return await smtp.sendMail({ from: from.address, to, subject, text: `${subject}\n` });
  } finally {
    smtp.close();
  }
}

/** Reads lines from a socket: `next()` resolves with the next complete line. */
function lineReader(socket: net.Socket): { next: () => Promise<string> } {
  let buffer = '';
  const lines: string[] = [];
  const waiting: ((line: string) => void)[] = [];
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    let at: number;
    while ((at = buffer.indexOf('\r\n')) >= 0) {
      const line = buffer.slice(0, at);
      buffer = buffer.slice(at + 2);
      const waiter = waiting.shift();
      if (waiter) waiter(line);
      else lines.push(line);
    }
  });
  return {
    next: () =>
      new Promise((resolve, reject) => {
        const line = lines.shift();
        if (line !== undefined) return resolve(line);
        const timer = setTimeout(() => reject(new Error('no line from the server within 5 s')), 5_000);
        waiting.push((l) => {
          clearTimeout(timer);
          resolve(l);
        });
      }),
  };
}

/** A POP3 dialogue: USER/PASS, STAT, RETR 1 when there is a message, QUIT. */
async function pop3Session(socket: net.Socket, box: Mailbox): Promise<{ stat: string; first?: string }> {
  const reader = lineReader(socket);
  const command = async (line: string): Promise<string> => {
    socket.write(`${line}\r\n`);
    return reader.next();
  };
  expect(await reader.next()).toMatch(/^\+OK/);
  expect(await command(`USER ${box.user}`)).toMatch(/^\+OK/);
  expect(await command(`PASS ${box.password}`)).toMatch(/^\+OK/);
  const stat = await command('STAT');
  let first: string | undefined;
  if (/^\+OK [1-9]/.test(stat)) {
    expect(await command('RETR 1')).toMatch(/^\+OK/);
    const body: string[] = [];
    for (let line = await reader.next(); line !== '.'; line = await reader.next()) body.push(line);
    first = body.join('\n');
  }
  await command('QUIT');
  socket.destroy();
  return { stat, first };
}

function connected<T extends net.Socket>(socket: T, event: 'connect' | 'secureConnect'): Promise<T> {
  return new Promise((resolve, reject) => {
    socket.once(event, () => resolve(socket));
    socket.once('error', reject);
  });
}

describe('mail peers', () => {
  it('logs a fresh user in over IMAPS, trusting the test CA, and lists the special-use folders', async () => {
    const box = await createMailbox();
    const client = await connectImap(box.user, box.password);
    try {
      expect(client.secureConnection).toBe(true);
      const folders = await client.list();
      expect(folders.map((f) => f.specialUse).filter(Boolean)).toEqual(
        expect.arrayContaining(['\\Sent', '\\Drafts', '\\Trash', '\\Junk']),
      );
    } finally {
      await client.logout();
    }
  });

  it('refuses the IMAPS certificate when the test CA is not trusted', async () => {
    const box = await createMailbox();
    // Only the public roots: the test processes otherwise trust this CA through NODE_EXTRA_CA_CERTS.
    await expect(connectImap(box.user, box.password, { tls: { ca: [...rootCertificates] } })).rejects.toThrow(
      /self[- ]signed|certificate/i,
    );
  });

  it('upgrades IMAP on the plain port with STARTTLS and logs in with the full address', async () => {
    const box = await createMailbox();
    const client = await connectImap(box.address, box.password, {
      port: mailPeers.ports.imap,
      secure: false,
      doSTARTTLS: true,
    });
    try {
      expect(client.secureConnection).toBe(true);
      expect(client.authenticated).toBeTruthy();
      expect(await client.status('INBOX', { messages: true })).toMatchObject({ messages: 0 });
    } finally {
      await client.logout();
    }
  });

  it('makes users that are usable at once, many at the same time', async () => {
    const boxes = await Promise.all(Array.from({ length: 6 }, () => createMailbox()));
    const clients = await Promise.all(boxes.map((box) => connectImap(box.user, box.password)));
    await Promise.all(clients.map((client) => client.logout()));
    expect(new Set(boxes.map((b) => b.user)).size).toBe(6);
  });

  it('delivers a message sent through submission (STARTTLS, AUTH PLAIN) into the INBOX', async () => {
    const [alice, bob] = await Promise.all([createMailbox(), createMailbox()]);
    const subject = unique('submission');
    const info = await submit(alice, bob.address, subject);
    expect(info.accepted).toEqual([bob.address]);
    expect(info.response).toMatch(/^250 /);
    const message = await waitForMessage(bob.user, bob.password, (m) => m.mail.subject === subject);
    expect(message.mail.from?.value[0]?.address).toBe(alice.address);
    expect(message.mail.text).toContain(subject);
  });

  it('delivers a message sent through submissions (implicit TLS, CRAM-MD5)', async () => {
    const [alice, bob] = await Promise.all([createMailbox(), createMailbox()]);
    const subject = unique('cram-md5');
    const smtp = transport({
      port: mailPeers.ports.submissions,
      secure: true,
      auth: { user: alice.user, pass: alice.password },
      authMethod: 'CRAM-MD5',
    });
    try {
      await smtp.verify();
      const info = await smtp.sendMail({ from: alice.address, to: bob.address, subject, text: 'hello\n' });
      expect(info.accepted).toEqual([bob.address]);
    } finally {
      smtp.close();
    }
    await waitForMessage(bob.user, bob.password, (m) => m.mail.subject === subject);
  });

  it('answers a wrong password with 535', async () => {
    const alice = await createMailbox();
    const smtp = transport({
      port: mailPeers.ports.submission,
      secure: false,
      requireTLS: true,
      auth: { user: alice.user, pass: 'not the password' },
    });
    try {
      await expect(smtp.verify()).rejects.toMatchObject({ code: 'EAUTH', responseCode: 535 });
    } finally {
      smtp.close();
    }
  });

  it('requires STARTTLS on submission before any mail is taken', async () => {
    const [alice, bob] = await Promise.all([createMailbox(), createMailbox()]);
    const smtp = transport({ port: mailPeers.ports.submission, secure: false, ignoreTLS: true });
    try {
      await expect(
        smtp.sendMail({ from: alice.address, to: bob.address, subject: 'in clear?', text: 'x\n' }),
      ).rejects.toMatchObject({ responseCode: 530, response: expect.stringMatching(/STARTTLS/) });
    } finally {
      smtp.close();
    }
  });

  it('refuses to relay to an outside domain without AUTH on the MX port, and delivers locally', async () => {
    const bob = await createMailbox();
    const smtp = transport({ port: mailPeers.ports.smtp, secure: false, ignoreTLS: true });
    try {
      await expect(
        smtp.sendMail({ from: bob.address, to: 'someone@elsewhere.test', subject: 'relay?', text: 'x\n' }),
      ).rejects.toMatchObject({
        responseCode: 554,
        response: expect.stringMatching(/5\.7\.1 .*Relay access denied/),
      });
      const subject = unique('inbound');
      await smtp.sendMail({ from: 'someone@elsewhere.test', to: bob.address, subject, text: 'x\n' });
      await waitForMessage(bob.user, bob.password, (m) => m.mail.subject === subject);
    } finally {
      smtp.close();
    }
  });

  it('refuses a "nosuchuser" local part at RCPT with 550 5.1.1 and delivers to the other recipients', async () => {
    const [alice, bob] = await Promise.all([createMailbox(), createMailbox()]);
    const subject = unique('partial');
    const info = await submit(alice, `nosuchuser-${alice.user}@${mailPeers.domain}, ${bob.address}`, subject);
    expect(info.accepted).toEqual([bob.address]);
    expect(info.rejected).toEqual([`nosuchuser-${alice.user}@${mailPeers.domain}`]);
    expect(info.rejectedErrors?.[0]).toMatchObject({
      responseCode: 550,
      response: expect.stringMatching(/5\.1\.1/),
    });
    await waitForMessage(bob.user, bob.password, (m) => m.mail.subject === subject);
  });

  it('returns a real delivery status notification (5.1.1) to the sender for dead.test', async () => {
    const alice = await createMailbox();
    const subject = unique('to the dead');
    const info = await submit(alice, `gone@${mailPeers.deadDomain}`, subject);
    expect(info.response).toMatch(/^250 /); // accepted now, refused later by the next hop
    const dsn = await waitForMessage(alice.user, alice.password, (m) =>
      /^Content-Type: multipart\/report/im.test(m.source.toString()),
    );
    const raw = dsn.source.toString('utf8');
    expect(raw).toMatch(/report-type="?delivery-status/i);
    expect(raw).toMatch(/Final-Recipient: rfc822; ?gone@dead\.test/i);
    expect(raw).toMatch(/Status: 5\.1\.1/);
    expect(raw).toContain(subject); // the returned original
    expect(dsn.mail.to && 'value' in dsn.mail.to ? dsn.mail.to.value[0]?.address : undefined).toBe(
      alice.address,
    );
  });

  it('returns a DSN for an unknown user of the domain (Dovecot refuses it after Postfix accepted it)', async () => {
    const alice = await createMailbox();
    const subject = unique('to a ghost');
    await submit(alice, `ghost-${alice.user}@${mailPeers.domain}`, subject);
    const dsn = await waitForMessage(alice.user, alice.password, (m) =>
      m.source.toString().includes('Status: 5.1.1'),
    );
    expect(dsn.source.toString()).toContain(subject);
  });

  it('serves POP3 with USER/PASS in clear and over TLS', async () => {
    const [alice, bob] = await Promise.all([createMailbox(), createMailbox()]);
    const plainEmpty = await pop3Session(
      await connected(net.connect({ host, port: mailPeers.ports.pop3 }), 'connect'),
      bob,
    );
    expect(plainEmpty.stat).toMatch(/^\+OK 0 0/);
    const subject = unique('pop3');
    await submit(alice, bob.address, subject);
    await waitForMessage(bob.user, bob.password, (m) => m.mail.subject === subject);
    const overTls = await pop3Session(
      await connected(
        tls.connect({ host, port: mailPeers.ports.pop3s, ca: mailPeers.ca, servername: 'localhost' }),
        'secureConnect',
      ),
      bob,
    );
    expect(overTls.stat).toMatch(/^\+OK 1 \d+/);
    expect(overTls.first).toContain(`Subject: ${subject}`);
  });

  it('reaches IMAP through the SOCKS5 proxy', async () => {
    const { socket } = await SocksClient.createConnection({
      proxy: { host, port: mailPeers.ports.socks, type: 5 },
      command: 'connect',
      destination: { host, port: mailPeers.ports.imap },
      timeout: 5_000,
    });
    const greeting = await lineReader(socket).next();
    socket.destroy();
    expect(greeting).toMatch(/^\* OK .*Dovecot/);

    const box = await createMailbox();
    const client = await connectImap(box.user, box.password, {
      proxy: `socks5://${host}:${mailPeers.ports.socks}`,
    });
    try {
      expect(await client.status('INBOX', { messages: true })).toMatchObject({ messages: 0 });
    } finally {
      await client.logout();
    }
  });

  it('keeps what smtp-sink receives, with its envelope', async () => {
    const subject = unique('sink');
    const smtp = transport({ port: mailPeers.ports.sink, secure: false, ignoreTLS: true });
    try {
      await smtp.sendMail({
        envelope: { from: 'bounce@sender.test', to: ['a@sink.test', 'b@sink.test'] },
        from: 'Sender <sender@sender.test>',
        to: 'a@sink.test',
        subject,
        text: 'into the sink\n',
      });
    } finally {
      smtp.close();
    }
    const message = (await sinkMessages()).find((m) => m.mail.subject === subject);
    expect(message).toMatchObject({ mailFrom: 'bounce@sender.test', rcptTo: ['a@sink.test', 'b@sink.test'] });
    expect(message?.mail.text).toContain('into the sink');
  });

  it('reads an empty INBOX as no messages', async () => {
    const box = await createMailbox();
    expect(await readInbox(box.user, box.password)).toEqual([]);
  });
});
