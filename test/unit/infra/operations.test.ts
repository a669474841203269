/**
 * Dashboards and alerts in the templates (infra/modules/monitoring.bicep), read as text as the other
 * infra tests do: the workbook loads its JSON and shows each view, every alert rule exists with its
 * default and reads names the app really emits (shared/telemetry/names.ts, the daily verification's
 * line), alerts reach the action group only when an e-mail is given, and docs/operations.md explains
 * each chart, metric and alert.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { VERIFICATION_LINE } from '#shared/audit/maintenance';
import { NOTIFICATIONS_QUEUE } from '#shared/notifications/messages';
import { MetricName } from '#shared/telemetry/names';
import {
  INFRA,
  REPO,
  blockFrom,
  closingIndex,
  modules,
  params,
  propertyValue,
  readBicep,
  resources,
  type Block,
} from './bicep-text';

const main = readBicep(join(INFRA, 'main.bicep'));
const monitoring = readBicep(join(INFRA, 'modules', 'monitoring.bicep'));
const operations = readFileSync(join(REPO, 'docs', 'operations.md'), 'utf8');
const METRICS = new Set<string>(Object.values(MetricName));

const resource = (type: string) => {
  const found = resources(monitoring).filter((r) => r.type === type);
  expect(found, `monitoring.bicep declares ${type}`).toHaveLength(1);
  const [r] = found;
  if (!r) throw new Error('unreachable');
  return r;
};

/** The objects at the top level of an array block. */
function elements(array: Block): Block[] {
  const out: Block[] = [];
  for (let i = 1; i < array.code.length - 1; i++) {
    if (array.code[i] !== '{') continue;
    const end = closingIndex(array.code, i);
    out.push({
      text: array.text.slice(i, end + 1),
      code: array.code.slice(i, end + 1),
      start: array.start + i,
    });
    i = end;
  }
  return out;
}

/** The KQL of a rule: its ''' string, with format()'s `{n}` placeholders filled from its arguments. */
function queryOf(rule: Block): string {
  const m = /query:\s*(format\()?'''([\s\S]*?)'''(?:,\s*([^)]*)\))?/.exec(rule.text);
  if (!m?.[2]) throw new Error(`no query in ${rule.text.slice(0, 80)}`);
  const args = (m[3] ?? '').split(',').map((a) => a.trim());
  const value = (name: string) =>
    /^var\s+\w+\s*=\s*(.+)$/m.exec(monitoring.text.slice(monitoring.text.indexOf(`var ${name} `)))?.[1];
  return m[2].replace(/\{(\d)\}/g, (_, i: string) => value(args[Number(i)] ?? '') ?? `{${i}}`);
}

const logAlertsVar = blockFrom(monitoring, monitoring.code.indexOf('var logAlerts'));
const logAlerts = elements(logAlertsVar).map((rule) => ({
  name: (propertyValue(rule, 'name') ?? '').replace(/'/g, ''),
  displayName: (propertyValue(rule, 'displayName') ?? '').replace(/'/g, ''),
  severity: Number(propertyValue(rule, 'severity')),
  window: (propertyValue(rule, 'window') ?? '').replace(/'/g, ''),
  query: queryOf(rule),
}));

const WorkbookSchema = z.object({
  version: z.literal('Notebook/1.0'),
  items: z.array(
    z.object({
      type: z.number(),
      name: z.string(),
      content: z.object({ query: z.string().optional(), title: z.string().optional() }).loose(),
    }),
  ),
  fallbackResourceIds: z.array(z.string()),
});

describe('the workbook', () => {
  const workbookPath = join(INFRA, 'workbooks', 'zsa-operations.workbook.json');
  const workbook = WorkbookSchema.parse(JSON.parse(readFileSync(workbookPath, 'utf8')));
  const queries = workbook.items.filter((i) => i.type === 3);

  it('is a shared Azure Monitor workbook on Application Insights, loaded from infra/workbooks', () => {
    // Arrange
    const r = resource('Microsoft.Insights/workbooks');
    const properties = blockFrom(r.body, r.body.code.indexOf('properties'));

    // Assert
    expect(r.apiVersion).toBe('2023-06-01');
    expect(propertyValue(r.body, 'kind')).toBe("'shared'");
    expect(propertyValue(properties, 'sourceId')).toBe('applicationInsightsId');
    expect(properties.text).toContain("loadTextContent('../workbooks/zsa-operations.workbook.json')");
    expect(existsSync(workbookPath)).toBe(true);
    // The placeholder the template replaces with the component's id.
    expect(workbook.fallbackResourceIds).toEqual(['__APPLICATION_INSIGHTS_ID__']);
    expect(properties.text).toContain("'__APPLICATION_INSIGHTS_ID__'");
    // Exact usage is the audit's, on the portal: the workbook links there.
    expect(workbook.items[0]?.content).toMatchObject({
      json: expect.stringContaining('(__PORTAL_URL__/insights)') as string,
    });
    expect(properties.text).toMatch(/'__PORTAL_URL__',\s*portalUrl/);
    expect(
      propertyValue(modules(main).find((x) => x.symbol === 'monitoring')?.body ?? properties, 'params'),
    ).toMatch(
      /portalUrl: empty\(publicBaseUrl\) \? 'https:\/\/\$\{functionApp\.outputs\.defaultHostName\}' : publicBaseUrl/,
    );
  });

  it.each([
    ['request volume', 'request-volume', MetricName.Requests],
    ['decision latency', 'decision-latency', MetricName.DecisionDuration],
    ['executions and failures', 'executions', MetricName.Executions],
    ['failed executions by task', 'execution-failures', MetricName.Executions],
    ['emergency uses', 'emergency-uses', MetricName.EmergencyUses],
    ['notifications and dead letters', 'notifications', MetricName.Notifications],
    ['audit anchor lag', 'anchor-lag', MetricName.AuditAnchorLag],
  ])('shows %s', (_view, name, metric) => {
    // Act
    const item = queries.find((i) => i.name === name);

    // Assert
    expect(item?.content.query).toContain(`name == "${metric}"`);
  });

  it('queries only metrics the app emits, every chart over the chosen time range, and each is documented', () => {
    for (const item of queries) {
      // Act
      const named = [...(item.content.query ?? '').matchAll(/name == "([^"]+)"/g)].map((m) => m[1] ?? '');

      // Assert
      for (const metric of named) expect(METRICS, `${item.name}: ${metric}`).toContain(metric);
      expect(item.content).toMatchObject({ timeContextFromParameter: 'TimeRange' });
      expect(operations, `docs/operations.md explains "${item.content.title ?? ''}"`).toContain(
        item.content.title ?? '',
      );
    }
  });
});

describe('the alert rules', () => {
  it.each([
    {
      name: 'emergency-access-used',
      metric: MetricName.EmergencyUses,
      severity: 1,
      holds: /ingestion_time\(\) > ago\(6m\)[\s\S]*uses > 0/,
    },
    {
      name: 'executions-failing',
      metric: MetricName.Executions,
      severity: 2,
      holds: /total >= 5 and failed \* 100\.0 >= 20 \* total/,
    },
    {
      name: 'audit-anchor-lag',
      metric: MetricName.AuditAnchorLag,
      severity: 1,
      holds: /min\(value\), points = count\(\)[\s\S]*points == 0 or lag > 2 \* 3600/,
    },
    {
      name: 'audit-verification-failing',
      metric: MetricName.AuditVerification,
      severity: 1,
      holds: /failures > 0 or successes == 0/,
    },
    {
      name: 'workflows-failing',
      metric: MetricName.Requests,
      severity: 2,
      holds: /"failed"[\s\S]*failed > 0/,
    },
  ])('$name: a log alert on $metric with its default', ({ name, metric, severity, holds }) => {
    // Act
    const rule = logAlerts.find((a) => a.name === name);

    // Assert
    expect(rule?.query).toContain(`name == "${metric}"`);
    expect(rule?.query).toMatch(holds);
    expect(rule?.severity).toBe(severity);
    expect(operations, `docs/operations.md explains "${rule?.displayName ?? name}"`).toContain(
      rule?.displayName ?? name,
    );
  });

  it('finds the daily verification by the line auditDailyVerify writes, or its metric, and a missing run counts', () => {
    // Act
    const rule = logAlerts.find((a) => a.name === 'audit-verification-failing');

    // Assert: 48 hours of data, so yesterday's success is still in sight while today's runs.
    expect(rule?.query).toContain(`message startswith "${VERIFICATION_LINE} "`);
    expect(rule?.query).toMatch(/successes = countif\(outcome == "success" and timestamp > ago\(26h\)\)/);
    expect(rule?.window).toBe('P2D');
  });

  it("counts each emergency use once however late it is ingested: an hour of points, the last evaluation's ingestions", () => {
    // Act
    const rule = logAlerts.find((a) => a.name === 'emergency-access-used');

    // Assert: the window is wider than the frequency (late points), the ingestion filter de-duplicates.
    expect(rule?.window).toBe('PT1H');
    expect(rule?.query).toContain('ingestion_time() > ago(6m)');
  });

  it('runs every log alert over Application Insights, and notifies the action group only when there is one', () => {
    // Arrange
    const r = resource('Microsoft.Insights/scheduledQueryRules');
    const criteria = r.body.text;

    // Assert
    expect(r.apiVersion).toBe('2023-12-01');
    expect(monitoring.code).toMatch(/^resource logAlert '[^']+' = \[\s*for alert in logAlerts:/m);
    expect(criteria).toMatch(/scopes:\s*\[\s*applicationInsightsId\s*\]/);
    expect(criteria).toMatch(/timeAggregation: 'Count'\s+operator: 'GreaterThan'\s+threshold: 0/);
    expect(criteria).toMatch(/actionGroups: actionGroups/);
    expect(monitoring.code).toMatch(/var actionGroups = empty\(alertEmail\) \? \[\] : \[actionGroup\.id\]/);
    expect(logAlerts.map((a) => a.name).sort()).toEqual([
      'audit-anchor-lag',
      'audit-verification-failing',
      'emergency-access-used',
      'executions-failing',
      'workflows-failing',
    ]);
  });

  it("alerts on dead-lettered notifications from Service Bus's own metric, for the notifications queue", () => {
    // Arrange
    const r = resource('Microsoft.Insights/metricAlerts');
    const m = modules(main).find((x) => x.symbol === 'monitoring');

    // Assert
    expect(r.apiVersion).toBe('2018-03-01');
    expect(r.body.text).toMatch(/scopes:\s*\[\s*serviceBusNamespaceId\s*\]/);
    expect(r.body.text).toContain("metricName: 'DeadletteredMessages'");
    expect(r.body.text).toMatch(/name: 'EntityName'[\s\S]*values:\s*\[\s*notificationsQueueName\s*\]/);
    expect(r.body.text).toMatch(/operator: 'GreaterThan'\s+threshold: 0/);
    expect(m && propertyValue(m.body, 'params')).toMatch(
      /notificationsQueueName: serviceBus\.outputs\.notificationsQueueName/,
    );
    expect(readFileSync(join(INFRA, 'modules', 'service-bus.bicep'), 'utf8')).toContain('notificationsQueue');
    expect(NOTIFICATIONS_QUEUE).toBe('zsa-notifications');
    expect(operations).toContain('ZSA: notifications dead-lettered');
  });
});

describe('the action group', () => {
  it('exists only with an e-mail address, which main.bicep takes from the alertEmail parameter', () => {
    // Arrange
    const r = resource('Microsoft.Insights/actionGroups');
    const m = modules(main).find((x) => x.symbol === 'monitoring');

    // Assert
    expect(r.condition).toBe('!empty(alertEmail)');
    expect(r.body.text).toMatch(/emailReceivers:\s*\[\s*\{[\s\S]*emailAddress: alertEmail/);
    expect(params(main).find((p) => p.name === 'alertEmail')).toMatchObject({
      type: 'string',
      hasDefault: true,
    });
    expect(m && propertyValue(m.body, 'params')).toMatch(/alertEmail: alertEmail/);
  });
});

describe('docs/operations.md', () => {
  it.each(Object.values(MetricName))('explains the metric %s', (metric) => {
    // Assert
    expect(operations).toContain(`\`${metric}\``);
  });
});
