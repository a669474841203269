/** What every page needs: the API client, the person as the API knows them, and the portal's config. */
import { createContext, useContext } from 'react';
import type { Api } from '../api/client';
import type { Me } from '../api/types';
import type { Session } from '../auth/session';

export interface Portal {
  readonly api: Api;
  readonly session: Session;
  readonly me: Me;
  /** Read /api/me again (after an admin changes groups, say). */
  readonly reloadMe: () => void;
}

export const PortalContext = createContext<Portal | null>(null);

export function usePortal(): Portal {
  const portal = useContext(PortalContext);
  if (!portal) throw new Error('usePortal outside the portal shell');
  return portal;
}

export const ADMIN = 'PAM.Admin';
export const AUDITOR = 'PAM.Auditor';

/** What the signed-in person may use; the API refuses the rest anyway, this only keeps it out of sight. */
export const may = {
  approve: (me: Me) => me.approverGroups.length > 0,
  administer: (me: Me) => me.roles.includes(ADMIN),
  audit: (me: Me) => me.roles.includes(ADMIN) || me.roles.includes(AUDITOR),
};
