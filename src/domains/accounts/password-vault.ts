export type PasswordKind = 'smtp' | 'incoming';

/**
 * Passwords a user chose not to have remembered ("Remember password" off): held in this process's
 * memory only, never written anywhere, and gone after a restart, when the account asks for them
 * again (`password_required`). A process serves only the passwords supplied to it.
 */
export function createPasswordVault() {
  const passwords = new Map<string, Partial<Record<PasswordKind, string>>>();
  return {
    get(accountId: string, kind: PasswordKind): string | undefined {
      return passwords.get(accountId)?.[kind];
    },
    set(accountId: string, kind: PasswordKind, password: string): void {
      passwords.set(accountId, { ...passwords.get(accountId), [kind]: password });
    },
    take(accountId: string): Partial<Record<PasswordKind, string>> {
      const held = passwords.get(accountId) ?? {};
      passwords.delete(accountId);
      return held;
    },
    /** Everything this process held: it was declared dead, and its passwords given up. */
    clear(): void {
      passwords.clear();
    },
    forget(accountId: string, kind?: PasswordKind): void {
      if (!kind) {
        passwords.delete(accountId);
        return;
      }
      const held = { ...passwords.get(accountId) };
      delete held[kind];
      passwords.set(accountId, held);
    },
  };
}

export type PasswordVault = ReturnType<typeof createPasswordVault>;
