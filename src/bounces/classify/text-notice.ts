import { ADDRESS_PATTERN, isSystemAddress, normaliseAddress } from './address.ts';
import { MAX_RECIPIENTS } from './limits.ts';

/** A failed recipient read from the human text of a notice, with the lines that explain it. */
export interface TextRecipient {
  address: string;
  diagnostic: string;
}

const A = ADDRESS_PATTERN;

/*
 * The shapes in which MTAs put a failed recipient at the head of a line. Each is anchored at the
 * line start and uses only bounded repetition, so a line is matched in linear time.
 *  - the address alone, maybe bracketed or quoted, maybe ending in ":" (Exim, qmail, Gmail, Domino, GMX)
 *  - the address, an optional "(expanded from ...)", then ":" or "..." and the reason (Postfix, Sendmail)
 *  - an SMTP code before that (Sendmail transcripts: "550 <a@b>... User unknown")
 *  - the address and a date or a parenthesis after it (Exchange 2003: "a@b on 4/29/01 ...")
 */
const ALONE = new RegExp(
  `^(?:>>>[ \\t]{1,4})?[<"'(\\[]?(${A})[>"')\\]]?(?:[ \\t]{1,4}<(${A})>)?[ \\t]{0,4}(?::|\\.{3})?$`,
);
const LEADING = new RegExp(
  `^(?:[245]\\d\\d[ -](?:[245]\\.\\d{1,3}\\.\\d{1,3}[ ])?)?[<"]?(${A})[>"]?(?:[ \\t]{1,4}<(${A})>)?(?:[ ]\\([^()]{0,300}\\))?[ \\t]{0,4}(?:\\.{3}|:)[ \\t]{0,8}(?<rest>.{0,2000})$`,
);
/** The address and then its reason or a date: "a@b Invalid Address, ..." (Zoho), "a@b on 4/29/01" (Exchange). */
const FOLLOWED = new RegExp(`^<?(${A})>?[ \\t]{1,8}([^ \\t].{0,1000})$`);
/** "Unknown user: a@b", "Recipient address: a@b (reason)", "Failed recipient: <a@b>", ... */
const LABELLED = new RegExp(
  `^([A-Za-z '-]{0,40}(?:recipient|user|address|mailbox|addressee|rcpt|destinataire|empf[aä]nger)[A-Za-z ()'-]{0,20}):[ \\t]{0,8}<?(${A})>?[ \\t]{0,4}(.{0,500})$`,
  'i',
);
/** A reason, a colon and the address last: "User mailbox exceeds allowed size: a@b" (IMail, au). */
const TRAILING = new RegExp(`^([^:]{3,200}):[ \\t]{0,8}<?(${A})>?[.]?$`);
/** A single word before the colon is a header field ("To:", "Message-ID:"), not a reason. */
const HEADER_NAME = /^[A-Za-z0-9_-]{1,60}$/;
/** The "> " marks of a notice quoted in a forwarded message. */
const QUOTE_MARKS = /^[ \t>]{1,40}/;
const RCPT_COMMAND = new RegExp(`^(?:>>>[ \\t]{0,4})?RCPT[ \\t]{1,4}TO:[ \\t]{0,4}<?(${A})>?`, 'i');
const MAILTO = /<mailto:[^<>]{1,512}>/gi;

interface Candidate {
  address: string;
  inline: string;
  /** Found by a loose shape, where the sender's own address is also often written. */
  loose: boolean;
}

function recipientOnLine(line: string): Candidate | null {
  const text = line.replace(MAILTO, '').trim();
  if (!text.includes('@')) return null;
  // "a@b <c@d>" is a display name and an address: the address is the one in brackets.
  let match = ALONE.exec(text);
  if (match?.[1]) return { address: match[2] ?? match[1], inline: '', loose: false };
  match = LEADING.exec(text);
  if (match?.[1]) {
    // A line that opens with the SMTP reply ("550 5.1.1 <a@b>... User unknown") is the diagnostic itself.
    const inline = /^[245]\d\d/.test(text) ? text : (match.groups?.rest ?? '');
    return { address: match[2] ?? match[1], inline, loose: false };
  }
  match = FOLLOWED.exec(text);
  if (match?.[1]) return { address: match[1], inline: match[2] ?? '', loose: false };
  match = LABELLED.exec(text);
  if (match?.[2]) return { address: match[2], inline: `${match[1]} ${match[3] ?? ''}`, loose: true };
  match = TRAILING.exec(text);
  // A quoted header ("> Message-Id: <...>") is still a header field.
  if (match?.[1] && match[2] && !HEADER_NAME.test(match[1].replace(QUOTE_MARKS, '').trim())) {
    return { address: match[2], inline: match[1], loose: true };
  }
  match = RCPT_COMMAND.exec(text);
  if (match?.[1]) return { address: match[1], inline: '', loose: true };
  return null;
}

const MAX_BLOCK_LINES = 24;
const MAX_NOTICE_LINES = 600;

/**
 * Finds failed recipients in a notice's text. Each recipient line opens a block of explanation that
 * runs to the next recipient or to a blank line; a recipient whose block is empty (Gmail puts the
 * reason paragraphs below the list) is explained by the rest of the notice.
 */
export function findTextRecipients(notice: string, excluded: ReadonlySet<string>): TextRecipient[] {
  const lines = notice.split('\n', MAX_NOTICE_LINES);
  const found = new Map<string, { address: string; lines: string[]; index: number }>();
  let current: { lines: string[] } | null = null;
  let lastRecipientLine = -1;
  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i] ?? '';
    const candidate = recipientOnLine(line);
    if (candidate) {
      const address = normaliseAddress(candidate.address);
      if (isSystemAddress(address) || (candidate.loose && excluded.has(address.toLowerCase()))) {
        current = null;
        continue;
      }
      let entry = found.get(address.toLowerCase());
      if (!entry) {
        if (found.size >= MAX_RECIPIENTS) break;
        entry = { address, lines: [], index: i };
        found.set(address.toLowerCase(), entry);
      }
      if (candidate.inline) entry.lines.push(candidate.inline);
      current = entry;
      lastRecipientLine = i;
      continue;
    }
    if (!current) continue;
    if (line.trim() === '') {
      // "because:" and the like introduce the reason on the lines after a blank one (Domino).
      if (current.lines.length && !current.lines[current.lines.length - 1]?.endsWith(':')) current = null;
      continue;
    }
    if (current.lines.length < MAX_BLOCK_LINES) current.lines.push(line.trim());
  }
  const rest = lines
    .slice(lastRecipientLine + 1)
    .map((line) => line.trim())
    .filter(Boolean)
    .join(' ');
  // Some MTAs put the reason above the address instead (Lotus Notes, au): the lines just before it.
  const before = (index: number): string =>
    lines
      .slice(Math.max(0, index - 4), index)
      .map((line) => line.trim())
      .filter(Boolean)
      .join(' ');
  // The sender's own address is written alone too ("A message sent by <a@b> could not be
  // delivered"); it is dropped unless it is all there is (a message bounced back to its sender).
  const entries = [...found.values()];
  const others = entries.filter((entry) => !excluded.has(entry.address.toLowerCase()));
  return (others.length ? others : entries).map((entry) => ({
    address: entry.address,
    diagnostic: entry.lines.length ? entry.lines.join(' ') : rest || before(entry.index),
  }));
}
