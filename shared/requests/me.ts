/**
 * `GET /api/me`: who the caller is as ZSA decides it — the stable id every right is keyed on, the
 * app roles the token carries, the approver groups that count them as a member and whether they
 * are a system account, both by that id (never by UPN), exactly as the request stories decide them.
 * The portal builds its navigation from this answer rather than from the id token, which knows
 * nothing of approver groups or system accounts.
 */
import { z } from 'zod';
import type { Principal } from '#shared/auth/index';
import { RoleSchema } from '#shared/auth/roles';
import { ApproverGroupName, Upn } from '#shared/domain/names';
import { isSystemAccount } from '#shared/domain/pam';
import type { RequestContext } from './context';
import { groupsOf } from './listing';

const StrengthValues = z.array(z.string()).max(32);

export const MeView = z
  .strictObject({
    id: z.string().meta({
      description:
        'The stable key every right is decided on: `<tenant id>:<object id>` (`dev:<sub>` only for a token carrying neither).',
    }),
    upn: Upn.meta({ description: 'For display; no right follows from it.' }),
    name: z.string().optional().meta({ description: 'The display name the token carries, if any.' }),
    roles: z.array(RoleSchema).meta({ description: 'The app roles the token carries, that ZSA knows.' }),
    approverGroups: z.array(ApproverGroupName).meta({
      description:
        'The approver groups (those a policy or the default names) that list the caller, by their directory object id.',
    }),
    systemAccount: z.boolean().meta({
      description: 'A system account executes tasks without a request while privileged access is enabled.',
    }),
    strength: z.strictObject({ acrs: StrengthValues, amr: StrengthValues }).optional().meta({
      description:
        'What the token proves about the sign-in: `acrs` (authentication contexts satisfied) and `amr` (methods, such as `mfa`). Absent when it proves nothing.',
    }),
  })
  .meta({ id: 'Me', description: 'The signed-in caller, as ZSA decides their rights.' });
export type MeView = z.output<typeof MeView>;

/** `GET /api/me`. Any signed-in user; it reads only configuration, never requests. */
export async function me(ctx: Pick<RequestContext, 'config'>, principal: Principal): Promise<MeView> {
  const [groups, config] = await Promise.all([groupsOf(ctx, principal.id), ctx.config.pamConfig()]);
  const { acrs, amr } = principal.strength;
  return {
    id: principal.id,
    upn: principal.upn,
    ...(principal.name === undefined ? {} : { name: principal.name }),
    roles: [...principal.roles],
    approverGroups: groups,
    systemAccount: isSystemAccount(config, principal.id),
    ...(acrs.length > 0 || amr.length > 0 ? { strength: { acrs: [...acrs], amr: [...amr] } } : {}),
  };
}
