import { headerText } from '../../mail/header-value.ts';

/**
 * Sender personalisation: a display name such as "{{contact.owner.name}} at Acme", filled in per
 * recipient from the contact's card.
 */
export interface SenderContact {
  name?: string | null;
  email: string;
  fields?: Record<string, string | number | boolean | null | undefined>;
  owner?: { name?: string | null } | null;
}

const placeholderPattern = /\{\{([^{}]*)\}\}/g;
const fieldKey = /^contact\.fields\.([A-Za-z0-9_-]{1,100})$/;
const knownPaths = ['contact.name', 'contact.email', 'contact.owner.name'];

export const placeholderHelp =
  'use {{contact.name}}, {{contact.email}}, {{contact.fields.<key>}} or {{contact.owner.name}}';

/** What is wrong with a template, or null when it is fine. */
export function templateProblem(template: string): string | null {
  for (const match of template.matchAll(placeholderPattern)) {
    const path = match[1]!.trim();
    if (!knownPaths.includes(path) && !fieldKey.test(path))
      return `unknown placeholder {{${path}}}; ${placeholderHelp}`;
  }
  const rest = template.replace(placeholderPattern, '');
  if (rest.includes('{{') || rest.includes('}}')) return `a placeholder is not closed; ${placeholderHelp}`;
  return null;
}

/** A value that may stand in a name: text, a number or a yes/no; anything else fills nothing. */
function scalar(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return null;
}

/**
 * The contact's own value at a known path, and nothing else: a key such as `constructor`,
 * `__proto__` or `toString` is looked up among the card's own fields only, never on the prototype
 * chain, and only text, numbers and booleans fill a placeholder.
 */
function valueAt(path: string, contact: SenderContact): string | null {
  if (path === 'contact.name') return scalar(contact.name);
  if (path === 'contact.email') return scalar(contact.email);
  if (path === 'contact.owner.name') return scalar(contact.owner?.name);
  const key = fieldKey.exec(path)?.[1];
  const fields = contact.fields;
  if (key === undefined || !fields || !Object.hasOwn(fields, key)) return null;
  return scalar(fields[key]);
}

/** The longest name a template fills in, as the account's own display name (200 characters). */
export const MAX_RENDERED_NAME = 200;

/**
 * Fills a template from the contact. Any placeholder the card cannot fill makes the whole name fall
 * back, because half a name ("  at Acme") is worse than the account's own display name. The result
 * is one header-safe line (src/mail/header-value.ts: line breaks, controls and Unicode separators
 * from the card become spaces) of at most MAX_RENDERED_NAME characters.
 */
export function renderSenderName(template: string | null, contact: SenderContact, fallback: string): string {
  if (!template) return fallback;
  let missing = false;
  const rendered = template.replace(placeholderPattern, (_whole, path: string) => {
    const value = valueAt(path.trim(), contact)?.trim();
    if (!value) missing = true;
    return value ?? '';
  });
  const oneLine = headerText(rendered).replace(/\s+/g, ' ').trim();
  const name = [...oneLine].slice(0, MAX_RENDERED_NAME).join('').trim();
  return missing || !name ? fallback : name;
}

/** What of an account names its sender: the address, the fixed names and the templates. */
export interface SenderIdentity {
  email: string;
  displayName: string | null;
  replyTo: string | null;
  replyToName: string | null;
  fromNameTemplate: string | null;
  replyToNameTemplate: string | null;
}

/**
 * From and Reply-To as one recipient sees them: the templates filled from their contact card, else
 * the account's names. Reply-To falls back to the sending address.
 */
export function senderHeaders(sender: SenderIdentity, contact: SenderContact) {
  const displayName = sender.displayName ?? '';
  return {
    from: {
      name: renderSenderName(sender.fromNameTemplate, contact, displayName) || null,
      address: sender.email,
    },
    replyTo: {
      name: renderSenderName(sender.replyToNameTemplate, contact, sender.replyToName ?? displayName) || null,
      address: sender.replyTo ?? sender.email,
    },
  };
}
