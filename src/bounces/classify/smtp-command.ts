/** The SMTP stage a remote server refused at, as far as a notice tells. */
export type SmtpCommand = 'CONN' | 'HELO' | 'MAIL' | 'RCPT' | 'DATA';

/*
 * How MTAs name the command they were answering: Postfix "(in reply to RCPT TO command)", Exim
 * "after RCPT TO:<a@b>" / "after end of data", Sendmail ">>> DATA", qmail "does not like recipient"
 * / "failed after I sent the message", Yahoo "[RCPT_TO]", m-FILTER "SMTP command DATA", "SMTP:RCPT host ...".
 * Alternatives of literals only, so one pass over the text.
 */
const MENTION =
  /(?<data>end of data|after data|>>> ?data\b|\bdata command|\[data\]|smtp command:? data\b|smtp:data\b|failed after i sent the message|after sending the message|in reply to data)|(?<rcpt>rcpt to|rcpt command|smtp:rcpt\b|\[rcpt_to\]|does not like recipient|after rcpt)|(?<mail>mail from|mail command|\[mail_from\]|after mail)|(?<helo>\behlo\b|\bhelo\b)|(?<conn>during (?:the )?(?:initial )?connection|smtp greeting|\bbanner\b|connect to [^ ]{1,255} port)/gi;

/** The last command a diagnostic mentions, which is the one the error answered. */
export function findSmtpCommand(text: string | null): SmtpCommand | null {
  if (!text) return null;
  let command: SmtpCommand | null = null;
  for (const match of text.matchAll(MENTION)) {
    const groups = match.groups ?? {};
    if (groups.data) command = 'DATA';
    else if (groups.rcpt) command = 'RCPT';
    else if (groups.mail) command = 'MAIL';
    else if (groups.helo) command = 'HELO';
    else if (groups.conn) command = 'CONN';
  }
  return command;
}
