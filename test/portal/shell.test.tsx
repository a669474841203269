/** The shell's navigation shows each person only what they may use. */
import { screen } from '@testing-library/react';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { usePortal } from '../../portal/src/app/context';
import { ROUTES } from '../../portal/src/app/routes';
import { useQuery } from '../../portal/src/components/data';
import { ALICE, renderPage, startApi, type FakeApi } from './support';

describe('navigation by what the person may use', () => {
  const labels = (me: typeof ALICE) => ROUTES.filter((r) => r.visible(me)).map((r) => r.label);
  it.each([
    { who: 'a requester', me: ALICE, want: ['Request access', 'My requests', 'My access'] },
    {
      who: 'an approver',
      me: { ...ALICE, approverGroups: ['ops'] },
      want: ['Request access', 'My requests', 'My access', 'Approvals'],
    },
    {
      who: 'an auditor',
      me: { ...ALICE, roles: ['PAM.Auditor' as const] },
      want: ['Request access', 'My requests', 'My access', 'Audit', 'Insights'],
    },
    {
      who: 'an admin',
      me: { ...ALICE, roles: ['PAM.Admin' as const] },
      want: ['Request access', 'My requests', 'My access', 'Admin', 'Audit', 'Insights'],
    },
  ])('$who sees $want', ({ me, want }) => {
    expect(labels(me)).toEqual(want);
  });
});

// Keeps the helper honest: a page rendered through it reaches the loopback API.
function Probe() {
  const { api } = usePortal();
  const q = useQuery({ queryKey: ['probe'], queryFn: () => api.get<{ n: number }>('/api/probe') });
  return <p>{q.data ? `n=${q.data.n}` : 'waiting'}</p>;
}

describe('the page harness', () => {
  let api: FakeApi;
  beforeAll(async () => {
    api = await startApi();
  });
  afterAll(() => api.close());

  it('renders a page whose reads go over real HTTP with the bearer token', async () => {
    api.on('GET', '/api/probe', { body: { n: 7 } });
    renderPage(<Probe />, { api });
    expect(await screen.findByText('n=7')).toBeTruthy();
    expect(api.seen.map((s) => `${s.method} ${s.path}`)).toEqual(['GET /api/probe']);
  });
});
