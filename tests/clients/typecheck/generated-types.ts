// Compiled by `tsc --noEmit` after codegen: fails if the generated types lose the shapes the
// client tests rely on.
import type { User, AuthPayload } from '../generated/schema.js';
import type {
  AuditEventsQuery,
  CreateUserMutationVariables,
  LoginMutation,
  LoginMutationVariables,
  LogoutMutation,
  MeQuery,
  MySecurityEventsQuery,
  RefreshTokenMutation,
  RefreshTokenMutationVariables,
  SignupMutation,
  SignupMutationVariables,
  UsersQuery,
} from '../generated/graphql.js';

const user: Omit<User, '__typename'> = {
  id: 'u1',
  email: 'ada@example.com',
  name: null,
  emailVerified: false,
  roles: ['billing'],
  active: true,
  organization: { id: 'o1', name: 'default', createdAt: '2026-01-01T00:00:00Z' },
  createdAt: '2026-01-01T00:00:00Z',
  updatedAt: '2026-01-01T00:00:00Z',
};
const me: MeQuery['me'] = { ...user, name: user.name ?? null };

const signupVariables: SignupMutationVariables = {
  input: { email: 'ada@example.com', password: 'correct horse battery staple', name: 'Ada' },
};
const loginVariables: LoginMutationVariables = {
  input: { email: 'ada@example.com', password: 'correct horse battery staple' },
};
const refreshVariables: RefreshTokenMutationVariables = { refreshToken: 'r' };

const tokens = (payload: SignupMutation['signup'] | LoginMutation['login']) => ({
  accessToken: payload.accessToken,
  refreshToken: payload.refreshToken,
  expiresIn: payload.expiresIn satisfies number,
  email: payload.user.email,
});
const refreshed: Pick<AuthPayload, 'accessToken' | 'refreshToken' | 'expiresIn'> =
  ({} as RefreshTokenMutation)['refreshToken'];
const loggedOut: boolean = ({} as LogoutMutation).logout;

// Administration: a page of users and its cursor, and an invitation (no password).
const page = ({} as UsersQuery).users;
const nextCursor: string | null | undefined = page.pageInfo.endCursor;
const total: number = page.totalCount;
const invite: CreateUserMutationVariables = {
  input: { email: 'grace@example.com', roles: ['admin'] },
};

// The audit trail: an event's type, its details as an object, and the caller's own page.
const event = ({} as AuditEventsQuery).auditEvents.edges[0]?.node;
const eventType: string | undefined = event?.type;
const eventDetails: Record<string, unknown> | undefined = event?.details;
const eventTotal: number = ({} as AuditEventsQuery).auditEvents.totalCount;
const ownEvents: boolean = ({} as MySecurityEventsQuery).mySecurityEvents.pageInfo.hasNextPage;

export {
  me,
  signupVariables,
  loginVariables,
  refreshVariables,
  tokens,
  refreshed,
  loggedOut,
  nextCursor,
  total,
  invite,
  eventType,
  eventDetails,
  eventTotal,
  ownEvents,
};
