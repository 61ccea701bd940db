// What a failure says to the administrator: the API's code, its own message, and a hint for
// the codes that need one. Never empty.

const HINTS = {
  NETWORK: 'Check that latchkey is running, then try again.',
  UNAUTHENTICATED: 'Your session ended; sign in again.',
  FORBIDDEN: 'Your account is not allowed to do this.',
  LAST_ADMIN: 'This would leave no active superadmin: make someone else a superadmin first.',
  NOT_FOUND: 'It no longer exists, or lies outside your organization.',
  EMAIL_TAKEN: 'Another account uses this email address.',
  RATE_LIMITED: 'Too many attempts; wait a moment.',
  INVALID_CREDENTIALS: 'The email or the password is wrong.',
  ACCOUNT_DISABLED: 'This account is deactivated.',
  NOT_AN_ADMIN: 'Only administrators can use the console.',
  INTERNAL_SERVER_ERROR: 'latchkey failed; its log has the details.',
};

/** One line for an error thrown by `api.graphql` (or anything else). */
export function describe(error) {
  const code = error?.code ?? 'ERROR';
  const parts = [code];
  const field = error?.extensions?.field;
  if (field) parts[0] = `${code} (${field})`;
  const message = error?.message && error.message !== code ? error.message : '';
  const hint = HINTS[code] ?? '';
  const retryAfter = error?.extensions?.retryAfter;
  const text = [message, message.includes(hint) ? '' : hint].filter(Boolean).join(' ');
  const retry = retryAfter ? ` Retry in ${retryAfter} s.` : '';
  return `${parts[0]}: ${text || 'the request failed.'}${retry}`;
}
