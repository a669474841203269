// The app's identity API: import from '#shared/auth/index'.
export { createAuthenticator, type AuthConfig, type Authenticator, type HeaderReader } from './authenticator';
export { AuthError, AuthErrorCode, AuthUnavailableError } from './errors';
export {
  AuthMethod,
  principalFromClaims,
  requireRole,
  type IdentityClaims,
  type Principal,
} from './principal';
export { ALL_ROLES, Role, RoleSchema, isRole } from './roles';
export { EASY_AUTH_PRINCIPAL_HEADER } from './easy-auth';
