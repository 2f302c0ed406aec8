import { cramMd5Response as cramMd5 } from './sasl.ts';

/**
 * The SASL exchanges of SMTP AUTH, written once over a `send(command) → reply` function so that the
 * sender (through nodemailer's customAuth) and the probe (over its own socket) log in the same way
 * and choose the mechanism by the same rule.
 */
export type SaslMethod = 'PLAIN' | 'LOGIN' | 'CRAM-MD5';

/**
 * With `spa`, only CRAM-MD5 will do: the password itself must never cross the wire, so there is no
 * fallback to PLAIN or LOGIN. Without it, the first of PLAIN, LOGIN, CRAM-MD5 the server offers.
 */
export function chooseAuthMethod(offered: readonly string[], spa: boolean): SaslMethod | null {
  const upper = new Set(offered.map((method) => method.toUpperCase()));
  if (spa) return upper.has('CRAM-MD5') ? 'CRAM-MD5' : null;
  return (['PLAIN', 'LOGIN', 'CRAM-MD5'] as const).find((method) => upper.has(method)) ?? null;
}

/** The mechanisms of an EHLO reply's AUTH line(s); `AUTH=` is the old form some servers still send. */
export function offeredAuthMethods(ehloReply: string): string[] {
  const methods: string[] = [];
  for (const line of ehloReply.split(/\r?\n/)) {
    const match = /^(?:\d{3}[ -])?AUTH[ =](.*)$/i.exec(line.trim());
    if (match?.[1]) methods.push(...match[1].trim().split(/\s+/));
  }
  return [...new Set(methods.map((method) => method.toUpperCase()))];
}

export interface SaslOutcome {
  ok: boolean;
  /** The server's last reply, raw (235 on success). Server replies carry no secret. */
  reply: string;
}

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
const replyCode = (reply: string) => Number(reply.slice(0, 3));

/** The CRAM-MD5 answer to a "334 <challenge>" reply (or a bare base64 challenge). */
export function cramMd5Response(user: string, pass: string, challengeReply: string): string {
  return cramMd5(user, pass, challengeReply.replace(/^334[ -]?/, ''));
}

export async function runSasl(
  method: SaslMethod,
  user: string,
  pass: string,
  send: (command: string) => Promise<string>,
): Promise<SaslOutcome> {
  const finish = (reply: string): SaslOutcome => ({ ok: replyCode(reply) === 235, reply });
  switch (method) {
    case 'PLAIN':
      return finish(await send(`AUTH PLAIN ${b64(`\u0000${user}\u0000${pass}`)}`));
    case 'LOGIN': {
      const first = await send('AUTH LOGIN');
      if (replyCode(first) !== 334) return finish(first);
      const second = await send(b64(user));
      if (replyCode(second) !== 334) return finish(second);
      return finish(await send(b64(pass)));
    }
    case 'CRAM-MD5': {
      const challenge = await send('AUTH CRAM-MD5');
      if (replyCode(challenge) !== 334) return finish(challenge);
      return finish(await send(cramMd5Response(user, pass, challenge)));
    }
  }
}
