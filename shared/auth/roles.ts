import { z } from 'zod';

/**
 * The app roles ZSA understands, as carried in the token's `roles` claim (Entra app roles).
 * Approvers are not a role: they are members of ZSA approver groups.
 */
export const Role = {
  Admin: 'PAM.Admin',
  Auditor: 'PAM.Auditor',
} as const;

export type Role = (typeof Role)[keyof typeof Role];

export const ALL_ROLES: readonly Role[] = Object.values(Role);

export const RoleSchema = z.enum([Role.Admin, Role.Auditor]);

export function isRole(value: unknown): value is Role {
  return RoleSchema.safeParse(value).success;
}

/**
 * Keeps the roles ZSA knows, once each, in a fixed order. Unknown roles are ignored rather than
 * refused: a tenant may assign other app roles to the same application for other purposes.
 */
export function knownRoles(values: readonly unknown[]): readonly Role[] {
  return ALL_ROLES.filter((role) => values.includes(role));
}
