// The GraphQL documents the client tests send, read from docs/operations/*.graphql: the ones the
// docs show, and the files graphql-codegen generates TypeScript types from.
import { readFileSync } from 'node:fs';

const read = (name) => readFileSync(new URL(`../../../docs/operations/${name}.graphql`, import.meta.url), 'utf8');

export const SIGNUP = read('signup');
export const LOGIN = read('login');
export const ME = read('me');
export const REFRESH_TOKEN = read('refresh-token');
export const LOGOUT = read('logout');
export const SESSION_EVENTS = read('session-events');
export const MY_SESSIONS = read('my-sessions');
export const REVOKE_OTHER_SESSIONS = read('revoke-other-sessions');
export const VERIFY_EMAIL = read('verify-email');
export const RESEND_VERIFICATION_EMAIL = read('resend-verification-email');
