// The GraphQL documents the console sends: public operations, as docs/api.md describes them.

const USER_FIELDS = `
  id email name emailVerified pendingEmail roles active lastLoginAt createdAt updatedAt
  organization { id name }
`;

const AUTH_PAYLOAD = `accessToken refreshToken expiresIn user { id email name roles }`;

export const LOGIN = `mutation ConsoleLogin($input: LoginInput!) { login(input: $input) { ${AUTH_PAYLOAD} } }`;
export const REFRESH = `mutation ConsoleRefresh($refreshToken: String!) { refreshToken(refreshToken: $refreshToken) { ${AUTH_PAYLOAD} } }`;
export const LOGOUT = `mutation ConsoleLogout($refreshToken: String!) { logout(refreshToken: $refreshToken) }`;

export const USERS = `query ConsoleUsers($filter: UserFilter, $first: Int!, $after: String) {
  users(filter: $filter, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { id email name emailVerified roles active lastLoginAt createdAt }
  }
}`;

export const USER = `query ConsoleUser($id: ID!) { user(id: $id) { ${USER_FIELDS} } }`;
export const UPDATE_USER = `mutation ConsoleUpdateUser($id: ID!, $input: UpdateUserInput!) {
  updateUser(id: $id, input: $input) { ${USER_FIELDS} }
}`;
export const CREATE_USER = `mutation ConsoleCreateUser($input: CreateUserInput!) { createUser(input: $input) { id email } }`;
export const DELETE_USER = `mutation ConsoleDeleteUser($id: ID!) { deleteUser(id: $id) }`;
export const REVOKE_USER_SESSIONS = `mutation ConsoleRevokeUserSessions($id: ID!) { revokeUserSessions(id: $id) }`;

export const ROLES = `query ConsoleRoles { roles { code name builtIn } }`;
export const CREATE_ROLE = `mutation ConsoleCreateRole($input: CreateRoleInput!) { createRole(input: $input) { code name builtIn } }`;
export const DELETE_ROLE = `mutation ConsoleDeleteRole($code: String!) { deleteRole(code: $code) }`;

export const ORGANIZATIONS = `query ConsoleOrganizations($first: Int!, $after: String) {
  organizations(first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { id name createdAt }
  }
}`;
export const CREATE_ORGANIZATION = `mutation ConsoleCreateOrganization($name: String!) { createOrganization(name: $name) { id name createdAt } }`;

// Security events of one user. Older servers lack the field: the panel then says so.
export const AUDIT_EVENTS = `query ConsoleAuditEvents($filter: AuditFilter, $first: Int) {
  auditEvents(filter: $filter, first: $first) {
    edges { node { id type at actorId userId ipAddress userAgent requestId details } }
    pageInfo { hasNextPage endCursor }
  }
}`;
