import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  startBounceIntake,
  type BounceIntake,
  type BounceIntakeOptions,
  type BounceNotice,
} from './bounce-intake.ts';

const domain = 'bounces.example.com';
const known = `bounces+known@${domain}`;
const quiet = { info: () => undefined, warn: () => undefined };

let intake: BounceIntake | undefined;
const sockets: net.Socket[] = [];
afterEach(async () => {
  sockets.splice(0).forEach((socket) => socket.destroy());
  await intake?.close();
  intake = undefined;
});

async function start(overrides: Partial<BounceIntakeOptions> = {}) {
  const notices: BounceNotice[] = [];
  const asked: string[] = [];
  intake = await startBounceIntake({
    port: 0,
    host: '127.0.0.1',
    bounceDomain: domain,
    maxBytes: 2048,
    acceptRecipient: async (address) => {
      asked.push(address);
      return address.toLowerCase() === known;
    },
    onNotice: async (notice) => {
      notices.push(notice);
    },
    logger: quiet,
    ...overrides,
  });
  return { notices, asked, port: intake.port };
}

/** A raw SMTP dialogue: `say(line)` sends a line and resolves with the whole reply (all its lines). */
async function dialogue(port: number) {
  const socket = net.connect({ host: '127.0.0.1', port });
  sockets.push(socket);
  socket.setEncoding('latin1');
  let buffer = '';
  const replies: string[] = [];
  const waiting: ((reply: string) => void)[] = [];
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    // A reply ends with a line whose code is followed by a space.
    let match: RegExpExecArray | null;
    while ((match = /^(?:\d{3}-[^\r\n]*\r\n)*\d{3}(?: [^\r\n]*)?\r\n/.exec(buffer))) {
      buffer = buffer.slice(match[0].length);
      const reply = match[0].trimEnd();
      const waiter = waiting.shift();
      if (waiter) waiter(reply);
      else replies.push(reply);
    }
  });
  const next = () =>
    new Promise<string>((resolve, reject) => {
      const reply = replies.shift();
      if (reply !== undefined) return resolve(reply);
      const timer = setTimeout(() => reject(new Error('no reply within 5 s')), 5_000);
      waiting.push((r) => {
        clearTimeout(timer);
        resolve(r);
      });
    });
  const greeting = await next();
  return {
    greeting,
    say(line: string | Buffer): Promise<string> {
      socket.write(typeof line === 'string' ? `${line}\r\n` : line);
      return next();
    },
    end: () => socket.end(),
  };
}

const notice = (body: string) =>
  Buffer.from(
    'From: MAILER-DAEMON@mx.example.net\r\nTo: ' +
      known +
      '\r\nSubject: Undelivered Mail Returned to Sender\r\n\r\n' +
      body,
    'latin1',
  );

/** The DATA payload of a message: dot-stuffed, then the final dot. */
const dataOf = (raw: Buffer) =>
  Buffer.concat([Buffer.from(raw.toString('latin1').replace(/^\./gm, '..'), 'latin1'), Buffer.from('.\r\n')]);

describe('the bounce intake (SMTP)', () => {
  it('offers SIZE with the limit, and neither AUTH nor STARTTLS', async () => {
    const { port } = await start();
    const smtp = await dialogue(port);
    expect(smtp.greeting).toMatch(/^220 /);
    const ehlo = await smtp.say('EHLO mx.example.net');
    expect(ehlo).toMatch(/^250[- ]SIZE 2048$/m);
    expect(ehlo).not.toMatch(/AUTH|STARTTLS/);
    expect(await smtp.say('STARTTLS')).toMatch(/^5\d\d /);
    expect(await smtp.say('AUTH PLAIN AGZvbwBiYXI=')).toMatch(/^5\d\d /);
    smtp.end();
  });

  it('hands a notice to a known recipient over, byte for byte, before the final 250', async () => {
    const { port, notices, asked } = await start();
    const smtp = await dialogue(port);
    await smtp.say('EHLO mx.example.net');
    expect(await smtp.say('MAIL FROM:<>')).toMatch(/^250 /);
    expect(await smtp.say(`RCPT TO:<${known.toUpperCase()}>`)).toMatch(/^250 /);
    expect(await smtp.say('DATA')).toMatch(/^354 /);
    const raw = notice('.a line that starts with a dot\r\nbytes \xe9\xff as they came\r\n');
    expect(await smtp.say(dataOf(raw))).toMatch(/^250 2\.6\.0 /);
    expect(asked).toEqual([known.toUpperCase()]);
    expect(notices).toHaveLength(1);
    expect(notices[0]!.mailFrom).toBe('');
    expect(notices[0]!.rcptTo).toBe(known.toUpperCase());
    expect(notices[0]!.raw.equals(raw)).toBe(true);
    // A second transaction on the same connection, with a sender this time.
    expect(await smtp.say('MAIL FROM:<postmaster@mx.example.net>')).toMatch(/^250 /);
    expect(await smtp.say(`RCPT TO:<${known}>`)).toMatch(/^250 /);
    expect(await smtp.say('DATA')).toMatch(/^354 /);
    expect(await smtp.say(dataOf(notice('again\r\n')))).toMatch(/^250 /);
    expect(notices[1]!.mailFrom).toBe('postmaster@mx.example.net');
    smtp.end();
  });

  it('refuses an unknown recipient with 550 5.1.1, and another domain without asking', async () => {
    const { port, asked } = await start();
    const smtp = await dialogue(port);
    await smtp.say('EHLO mx.example.net');
    await smtp.say('MAIL FROM:<>');
    expect(await smtp.say(`RCPT TO:<bounces+forged@${domain}>`)).toMatch(/^550 5\.1\.1 /);
    expect(await smtp.say('RCPT TO:<bounces+known@elsewhere.example.com>')).toMatch(/^550 5\.1\.1 /);
    expect(asked).toEqual([`bounces+forged@${domain}`]);
    expect(await smtp.say('DATA')).toMatch(/^503 /);
    smtp.end();
  });

  it('takes one recipient per transaction: a second one is told to come again (452 4.5.3)', async () => {
    const { port, notices } = await start({ acceptRecipient: () => true });
    const smtp = await dialogue(port);
    await smtp.say('EHLO mx.example.net');
    await smtp.say('MAIL FROM:<>');
    expect(await smtp.say(`RCPT TO:<bounces+a@${domain}>`)).toMatch(/^250 /);
    expect(await smtp.say(`RCPT TO:<bounces+b@${domain}>`)).toMatch(/^452 4\.5\.3 /);
    await smtp.say('DATA');
    expect(await smtp.say(dataOf(notice('one\r\n')))).toMatch(/^250 /);
    expect(notices.map((n) => n.rcptTo)).toEqual([`bounces+a@${domain}`]);
    smtp.end();
  });

  it('refuses a notice larger than the limit: announced (SIZE) at MAIL FROM, else after DATA', async () => {
    const { port, notices } = await start();
    const smtp = await dialogue(port);
    await smtp.say('EHLO mx.example.net');
    expect(await smtp.say('MAIL FROM:<> SIZE=4096')).toMatch(/^552 /);
    expect(await smtp.say('MAIL FROM:<> SIZE=1000')).toMatch(/^250 /);
    await smtp.say(`RCPT TO:<${known}>`);
    expect(await smtp.say('DATA')).toMatch(/^354 /);
    expect(await smtp.say(dataOf(notice(`${'x'.repeat(70)}\r\n`.repeat(40))))).toMatch(/^552 /);
    expect(notices).toEqual([]);
    // The session goes on: a notice within the limit is still taken.
    await smtp.say('MAIL FROM:<>');
    await smtp.say(`RCPT TO:<${known}>`);
    await smtp.say('DATA');
    expect(await smtp.say(dataOf(notice('small\r\n')))).toMatch(/^250 /);
    expect(notices).toHaveLength(1);
    smtp.end();
  });

  it('answers 451 when the notice cannot be stored or the recipient not looked up, so the MTA retries', async () => {
    const { port } = await start({
      acceptRecipient: (address) => {
        if (address.startsWith('bounces+down')) throw new Error('database down');
        return true;
      },
      onNotice: async () => {
        throw new Error('disk full');
      },
    });
    const smtp = await dialogue(port);
    await smtp.say('EHLO mx.example.net');
    await smtp.say('MAIL FROM:<>');
    expect(await smtp.say(`RCPT TO:<bounces+down@${domain}>`)).toMatch(/^451 4\.3\.0 /);
    expect(await smtp.say(`RCPT TO:<${known}>`)).toMatch(/^250 /);
    await smtp.say('DATA');
    expect(await smtp.say(dataOf(notice('lost\r\n')))).toMatch(/^451 4\.3\.0 /);
    smtp.end();
  });

  it('says so when its port is taken', async () => {
    const { port } = await start();
    await expect(
      startBounceIntake({
        port,
        host: '127.0.0.1',
        bounceDomain: domain,
        maxBytes: 1024,
        acceptRecipient: () => true,
        onNotice: async () => undefined,
        logger: quiet,
      }),
    ).rejects.toThrow(/EADDRINUSE/);
  });
});
