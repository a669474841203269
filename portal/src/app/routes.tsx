/**
 * The portal's pages: where each lives, its name in the navigation, and who sees it. Each page is its
 * own chunk (lazy), so a requester's first page loads only what it shows.
 */
import { lazy, type ComponentType, type LazyExoticComponent } from 'react';
import type { Me } from '../api/types';
import { may } from './context';

export interface PageRoute {
  /** wouter pattern; `/*?` keeps a page's own sub-routes. */
  readonly path: string;
  /** Where the navigation link points. */
  readonly href: string;
  readonly label: string;
  readonly component: LazyExoticComponent<ComponentType>;
  readonly visible: (me: Me) => boolean;
}

const everyone = () => true;

export const ROUTES: readonly PageRoute[] = [
  {
    path: '/request',
    href: '/request',
    label: 'Request access',
    component: lazy(() => import('../pages/requester/RequestAccessPage')),
    visible: everyone,
  },
  {
    path: '/requests/*?',
    href: '/requests',
    label: 'My requests',
    component: lazy(() => import('../pages/requester/MyRequestsPage')),
    visible: everyone,
  },
  {
    path: '/access',
    href: '/access',
    label: 'My access',
    component: lazy(() => import('../pages/requester/MyAccessPage')),
    visible: everyone,
  },
  {
    path: '/approvals/*?',
    href: '/approvals',
    label: 'Approvals',
    component: lazy(() => import('../pages/approver/ApprovalsPage')),
    visible: may.approve,
  },
  {
    // Not /admin: the Functions host keeps /admin/* for itself, so a reload there never reaches the portal.
    path: '/manage/*?',
    href: '/manage',
    label: 'Admin',
    component: lazy(() => import('../pages/admin/AdminPage')),
    visible: may.administer,
  },
  {
    path: '/audit',
    href: '/audit',
    label: 'Audit',
    component: lazy(() => import('../pages/auditor/AuditPage')),
    visible: may.audit,
  },
  {
    // Its own chunk like every page: the charts load only when Insights is opened.
    path: '/insights',
    href: '/insights',
    label: 'Insights',
    component: lazy(() => import('../pages/insights/InsightsPage')),
    visible: may.audit,
  },
];

/** Where `/` goes. */
export const HOME = '/request';
