import { sql, type RawBuilder } from 'kysely';

/**
 * A LIKE pattern (with its ESCAPE clause) that finds `text` anywhere in a value, the text's own `%`,
 * `_` and `\` taken as themselves. SQLite's LIKE has no escape character unless told one, so the
 * clause is part of the pattern: `eb(column, 'like', containing(text))`.
 */
export function containing(text: string): RawBuilder<string> {
  return sql<string>`${`%${text.replace(/[\\%_]/g, (char) => `\\${char}`)}%`} escape '\\'`;
}
