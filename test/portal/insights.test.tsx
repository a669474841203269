/**
 * The Insights page in jsdom against a loopback API answering the seeded audit's known figures: the
 * range reaches the query, every chart's numbers are in its data table, and each chart links to its
 * events on the audit page (which takes those filters from the link).
 */
import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import AuditPage, { filtersFromSearch, toInstant } from '../../portal/src/pages/auditor/AuditPage';
import InsightsPage, { auditHref, duration, rangeOf } from '../../portal/src/pages/insights/InsightsPage';
import { EXPECTED } from '../unit/insights/seed';
import { ALICE, renderPage, startApi, type FakeApi } from './support';

const AUDITOR = { ...ALICE, roles: ['PAM.Auditor' as const] };

// jsdom lays nothing out: SVG text has no measured length and no box, which the charts read to place
// their labels. Zero-sized answers let them draw here; the browser story draws them for real.
type Measurable = { getComputedTextLength?: () => number; getBBox?: () => DOMRect };
const svg = SVGElement.prototype as Measurable;
svg.getComputedTextLength ??= () => 0;
svg.getBBox ??= () => new DOMRect(0, 0, 0, 0);

let api: FakeApi;
beforeAll(async () => {
  api = await startApi();
});
afterAll(async () => {
  await api.close();
});
beforeEach(() => {
  api.seen.length = 0;
  api.on('GET', '/api/insights', { body: EXPECTED });
  api.on('GET', '/api/audit', { body: { items: [] } });
});

/** The rows of the table named `caption`, as text cells (the folded details are in the DOM). */
function rowsOf(caption: string): string[][] {
  const table = screen.getByRole('table', { name: caption, hidden: true });
  return within(table)
    .getAllByRole('row', { hidden: true })
    .map((row) => [...row.querySelectorAll('th, td')].map((c) => c.textContent));
}

describe('the figures', () => {
  it('shows every chart with its numbers in a data table and a link to its events; asks for the range chosen', async () => {
    // Arrange
    const user = userEvent.setup();

    // Act
    renderPage(<InsightsPage />, { api, me: AUDITOR, path: '/insights' });

    // Assert: the headline numbers.
    expect(
      await screen.findByText(`${EXPECTED.events} audit events from 2030-03-01 to 2030-03-04 00:00 UTC.`),
    ).toBeTruthy();
    expect(
      screen.getByText('10 requests submitted, 1 submit refused; each day by how its requests stand now.'),
    ).toBeTruthy();
    expect(screen.getByText('2 emergency uses: 1 justified, 0 unjustified, 1 review open.')).toBeTruthy();
    // The data tables: the same numbers a chart draws.
    expect(rowsOf('Requests per day by outcome')).toEqual([
      ['Day (UTC)', 'Approved', 'Denied', 'Pending', 'Canceled', 'Expired', 'Failed', 'Refused'],
      ['2030-03-01', '2', '1', '0', '0', '0', '0', '1'],
      ['2030-03-02', '2', '0', '1', '1', '0', '0', '0'],
      ['2030-03-03', '1', '0', '1', '0', '1', '0', '0'],
      ['Total', '5', '1', '2', '1', '1', '0', '1'],
    ]);
    // Each duration card its own table.
    expect(rowsOf('Time to decision, in seconds')).toEqual([
      ['Measured', 'Median (s)', '95th percentile (s)'],
      ['3', '1800', '3600'],
    ]);
    expect(rowsOf('Time to first use, in seconds')).toEqual([
      ['Measured', 'Median (s)', '95th percentile (s)'],
      ['2', '60', '120'],
    ]);
    expect(rowsOf('Top tasks').slice(1, 3)).toEqual([
      ['Exchange\\New-MoveRequest', '4'],
      ['Entra\\Break-Glass', '2'],
    ]);
    // A role is ranked with the tasks, with its kind.
    expect(rowsOf('Top tasks').at(-1)).toEqual(['Exchange Administrator (role)', '1']);
    expect(rowsOf('Top requesters')[1]).toEqual(['alice@contoso.com', '5']);
    expect(rowsOf("Approvers' load")).toEqual([
      ['Approver', 'Decisions', 'Approvals / denials'],
      ['bob@contoso.com', '5', '3 / 2'],
      ['dave@contoso.com', '2', '2 / 0'],
    ]);
    expect(rowsOf('Latest failed executions')[1]).toEqual([
      '2030-03-01 12:31',
      'Entra\\Reset-Password',
      'r3',
      'executor answered 500',
    ]);
    // The medians and 95th percentiles in words.
    const words = (card: string) =>
      [...within(screen.getByRole('region', { name: card })).getAllByText(/^\d.* (s|min|h|days)$/)].map(
        (e) => e.textContent,
      );
    expect(words('Time to decision')).toEqual(['30 min', '1.0 h']);
    expect(words('Time to first use')).toEqual(['1 min', '2 min']);

    // Assert: each chart links to its events on the audit page, over the same range.
    const link = await screen.findByRole('link', { name: 'See the emergency uses in the audit' });
    const href = new URL(link.getAttribute('href') ?? '', 'http://x');
    expect(href.pathname).toBe('/audit');
    expect(Object.fromEntries(href.searchParams)).toEqual({
      action: 'emergency.used',
      from: EXPECTED.from,
      to: EXPECTED.to,
    });
    // A link for each action a chart counts: the approvers' load counts six.
    const hrefs = (list: string) =>
      within(screen.getByRole('list', { name: list }))
        .getAllByRole('link')
        .map((a) => new URL(a.getAttribute('href') ?? '', 'http://x').searchParams.get('action'));
    expect(hrefs("Approvers' load: its events in the audit")).toEqual([
      'request.approvalRecorded',
      'request.approved',
      'request.denied',
      'extension.approvalRecorded',
      'extension.approved',
      'extension.denied',
    ]);
    expect(hrefs('Time to decision: its events in the audit')).toEqual([
      'request.submitted',
      'request.approved',
      'request.denied',
    ]);
    expect(hrefs('Requests per day: its events in the audit')).toEqual([
      'request.submitted',
      'request.refused',
    ]);
    // A ranking's rows link to that person's events over the same range.
    const bob = screen.getAllByRole('link', { name: 'bob@contoso.com', hidden: true })[0];
    expect(Object.fromEntries(new URL(bob?.getAttribute('href') ?? '', 'http://x').searchParams)).toEqual({
      actor: 'bob@contoso.com',
      from: EXPECTED.from,
      to: EXPECTED.to,
    });

    // The default period ends now: no `to`.
    expect(api.seen.at(-1)?.query.get('to')).toBeNull();

    // Act: a custom range of whole UTC days (one render for the whole story: the charts are slow in jsdom).
    await user.selectOptions(screen.getByLabelText('Period'), 'custom');
    await user.type(screen.getByLabelText('From (UTC day)'), '2030-03-01');
    await user.type(screen.getByLabelText('To (UTC day, included)'), '2030-03-03');
    await user.click(screen.getByRole('button', { name: 'Show' }));

    // Assert: the end day is included, so the API's exclusive end is the day after.
    await expect.poll(() => api.seen.at(-1)?.query.get('to')).toBe('2030-03-04');
    expect(api.seen.at(-1)?.query.get('from')).toBe('2030-03-01');
  });

  it('says what went wrong when the API refuses', async () => {
    // Arrange
    api.on('GET', '/api/insights', {
      status: 403,
      body: {
        type: 'urn:zsa:problem:forbidden',
        title: 'Forbidden',
        status: 403,
        detail: 'Admins and auditors only.',
        code: 'FORBIDDEN',
      },
    });

    // Act
    renderPage(<InsightsPage />, { api, me: ALICE, path: '/insights' });

    // Assert
    expect(await screen.findByRole('alert')).toBeTruthy();
  });
});

describe('the audit page opened from a link', () => {
  it("applies the link's action and range to the events it shows", async () => {
    // Arrange
    const path = auditHref('execution.failed', EXPECTED);

    // Act
    renderPage(<AuditPage />, { api, me: AUDITOR, path });

    // Assert
    await expect
      .poll(() => api.seen.find((s) => s.path === '/api/audit')?.query.get('action'))
      .toBe('execution.failed');
    const query = api.seen.find((s) => s.path === '/api/audit')?.query;
    expect(query?.get('from')).toBe(EXPECTED.from);
    expect(query?.get('to')).toBe(EXPECTED.to);
  });

  it('widens the range to whole minutes, so no event of the linked range is left out', () => {
    // Act
    const filters = filtersFromSearch('?from=2030-03-01T10:00:30.000Z&to=2030-03-01T10:41:30.000Z');

    // Assert: the page's fields hold minutes in the person's time; back as instants they cover the range.
    expect([toInstant(filters.from), toInstant(filters.to)]).toEqual([
      '2030-03-01T10:00:00.000Z',
      '2030-03-01T10:42:00.000Z',
    ]);
  });

  it.each<[string, Partial<ReturnType<typeof filtersFromSearch>>]>([
    ['?action=no.such.action', { action: '' }],
    ['?from=garbage', { from: '' }],
    ['?requestId=r1&task=x', { requestId: 'r1', task: 'x' }],
  ])('takes %s as %j', (search, expected) => {
    expect(filtersFromSearch(search)).toMatchObject(expected);
  });
});

describe('words and ranges', () => {
  it.each<[number | null, string]>([
    [null, '—'],
    [42, '42 s'],
    [840, '14 min'],
    [9000, '2.5 h'],
    [270_000, '3.1 days'],
  ])('%s seconds read "%s"', (seconds, words) => {
    expect(duration(seconds)).toBe(words);
  });

  it('the last 7 days are 7 whole UTC days, today (so far) the last, and end now', () => {
    const now = Date.parse('2030-03-08T12:00:00.000Z');
    expect(rangeOf('7', '', '', now)).toEqual({ from: '2030-03-02T00:00:00.000Z' });
  });
});
