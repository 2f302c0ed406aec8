/** A "Name: value" line of a report part, continuation lines unfolded. */
export interface Field {
  name: string;
  value: string;
}

const MAX_FIELD_VALUE = 4096;

/** Splits "type; value" (the typed fields of RFC 3464 and RFC 5965) into its parts. */
export function typedValue(value: string): { type: string | null; text: string } {
  const semi = value.indexOf(';');
  if (semi === -1 || semi > 24) return { type: null, text: value.trim() };
  return { type: value.slice(0, semi).trim().toLowerCase(), text: value.slice(semi + 1).trim() };
}

/** Reads "Name: value" lines with continuations into groups separated by blank lines. */
export function fieldGroups(text: string): Field[][] {
  const groups: Field[][] = [];
  let group: Field[] = [];
  for (const line of text.split('\n')) {
    const trimmed = line.trimEnd();
    if (trimmed === '') {
      if (group.length) groups.push(group);
      group = [];
      continue;
    }
    const last = group[group.length - 1];
    if ((trimmed[0] === ' ' || trimmed[0] === '\t') && last) {
      if (last.value.length < MAX_FIELD_VALUE) last.value += ' ' + trimmed.trim();
      continue;
    }
    const colon = trimmed.indexOf(':');
    if (colon <= 0 || colon > 40) continue;
    group.push({
      name: trimmed.slice(0, colon).trim().toLowerCase(),
      value: trimmed.slice(colon + 1).trim(),
    });
  }
  if (group.length) groups.push(group);
  return groups;
}
