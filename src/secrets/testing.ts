import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { onTestFinished } from 'vitest';
import type { SecretStore, StoredSecret } from './rotate.ts';

/* Helpers for the tests of src/secrets and src/cli/secrets.ts; no production code imports this. */

/** A fresh directory, removed when the current test ends. */
export function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailroom-secrets-'));
  onTestFinished(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A SecretStore over a Map, with the same paging and compare-and-set contract as the real one. */
export class MemorySecretStore implements SecretStore {
  readonly rows = new Map<string, StoredSecret>();

  constructor(rows: StoredSecret[] = []) {
    for (const row of rows) this.rows.set(row.id, { ...row });
  }

  async list(afterId: string | null, limit: number): Promise<StoredSecret[]> {
    return [...this.rows.values()]
      .filter((row) => afterId === null || row.id > afterId)
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .slice(0, limit)
      .map((row) => ({ ...row }));
  }

  async replace(id: string, expected: string, next: string): Promise<boolean> {
    const row = this.rows.get(id);
    if (!row || row.ciphertext !== expected) return false;
    row.ciphertext = next;
    return true;
  }
}

/** The same store, whose `replace` fails once `allowed` replacements have gone through: a crash mid-run. */
export function interruptedAfter(store: SecretStore, allowed: number): SecretStore {
  let done = 0;
  return {
    list: (afterId, limit) => store.list(afterId, limit),
    async replace(id, expected, next) {
      if (done >= allowed) throw new Error('interrupted');
      done++;
      return store.replace(id, expected, next);
    },
  };
}
