/**
 * Errors the user can fix (bad flag, bad file, bad field). The CLI prints the message
 * without a stack trace and exits with code 2, as the issues require.
 */
export class UserError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = "UserError";
  }
}

export function isUserError(e: unknown): e is UserError {
  return e instanceof UserError;
}
