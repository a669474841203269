// Dashboards and alerts: the Azure Monitor workbook "ZSA operations" over Application Insights (the
// app's OpenTelemetry: shared/telemetry/names.ts), the alert rules with their defaults, and the
// action group they notify. What each chart and alert means, and what to do: docs/operations.md.
//
// The log alerts query the Application Insights component (customMetrics: the app's metrics, with
// their attributes in customDimensions; traces: its log lines). The dead-letter alert reads Service
// Bus's own platform metric, so it fires even when the app's telemetry does not arrive.
//
// Without an e-mail address (parameter alertEmail empty) there is no action group: the rules still
// exist and fire in the Azure portal's Alerts view, but nobody is notified.

param location string
param tags object = {}

@description('Application Insights component the workbook and the log alerts read.')
param applicationInsightsId string

@description('Service Bus namespace whose dead-lettered notifications are alerted on.')
param serviceBusNamespaceId string

@description('The notifications queue (NOTIFICATIONS_QUEUE in shared/notifications/messages.ts).')
param notificationsQueueName string

@description('Base URL of the ZSA portal (the app\'s public address), linked from the workbook to the audit-based Insights page.')
param portalUrl string

@description('E-mail address the alerts are sent to; empty = no action group, alerts are only shown in the Azure portal.')
param alertEmail string = ''

@description('Prefix of every alert rule name, unique in the resource group.')
param namePrefix string = 'zsa'

// Defaults of the rules (docs/operations.md explains each): a failed execution rate over 15 minutes
// with enough executions to mean something, and how long an audit row may wait for its anchor.
var executionFailurePercent = 20
var executionMinimumCount = 5
var anchorLagLimitSeconds = 2 * 3600

var actionGroups = empty(alertEmail) ? [] : [actionGroup.id]

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (!empty(alertEmail)) {
  name: '${namePrefix}-operators'
  // Action groups are global resources.
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'zsa-ops'
    enabled: true
    emailReceivers: [
      {
        name: 'operators'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

// The workbook: request volume, decision latency, executions and failures, emergency uses,
// notifications and dead letters, the audit's append latency, anchor lag and daily verification.
// Its id must be a GUID; this one is stable per resource group.
resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(resourceGroup().id, 'zsa-operations-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'ZSA operations'
    category: 'workbook'
    sourceId: applicationInsightsId
    version: 'Notebook/1.0'
    serializedData: replace(
      replace(loadTextContent('../workbooks/zsa-operations.workbook.json'), '__APPLICATION_INSIGHTS_ID__', applicationInsightsId),
      '__PORTAL_URL__',
      portalUrl
    )
  }
}

// Each log alert: a query over Application Insights that returns a row when the condition holds
// (threshold: more than 0 rows), evaluated every `frequency` over the last `window`.
var logAlerts = [
  {
    name: 'emergency-access-used'
    displayName: 'ZSA: emergency access used'
    description: 'An emergency (break-glass) grant was made without approval. Check the emergency use and make sure its review happens (docs/operations.md).'
    severity: 1
    frequency: 'PT5M'
    // An hour of points, each counted once: in the evaluation after it was ingested (six minutes, so
    // an evaluation that starts a little late misses none; a use may notify twice, never zero
    // times). A window as short as the frequency would miss a point ingested after its window passed.
    window: 'PT1H'
    autoMitigate: false
    query: '''
customMetrics
| where name == "zsa.emergency.uses"
| where ingestion_time() > ago(6m)
| extend task = tostring(customDimensions["zsa.task"])
| summarize uses = sum(value) by task
| where uses > 0
'''
  }
  {
    name: 'executions-failing'
    displayName: 'ZSA: executions failing'
    description: 'At least ${executionFailurePercent}% of at least ${executionMinimumCount} executions failed in 15 minutes (the executor answered with an error, timed out or could not be reached).'
    severity: 2
    frequency: 'PT5M'
    window: 'PT15M'
    autoMitigate: true
    // Multi-line strings take no interpolation: format() puts the defaults in.
    query: format('''
customMetrics
| where name == "zsa.executions"
| extend outcome = tostring(customDimensions["zsa.outcome"])
| summarize total = sum(value), failed = sumif(value, outcome in ("failed", "error"))
| where total >= {0} and failed * 100.0 >= {1} * total
''', executionMinimumCount, executionFailurePercent)
  }
  {
    name: 'audit-anchor-lag'
    displayName: 'ZSA: audit anchor older than 2 hours'
    description: 'Audit rows have waited more than 2 hours for an anchor (the minute timer anchors within a minute), or the minute timer sent no anchor lag for 30 minutes: anchoring to the immutable archive has stopped.'
    severity: 1
    frequency: 'PT15M'
    window: 'PT30M'
    autoMitigate: true
    // The minute timer gauges the lag from storage (AuditLog.anchorLag). The lowest value over the
    // window: a moment's lag never fires, a lag that lasts does. No point for 30 minutes fires too:
    // the timer (or the storage it reads) has stopped, and then nobody anchors either. Without `by`,
    // summarize returns one row even over no points (points == 0).
    query: format('''
customMetrics
| where name == "zsa.audit.anchor.lag"
| summarize lag = min(value), points = count()
| where points == 0 or lag > {0}
''', anchorLagLimitSeconds)
  }
  {
    name: 'audit-verification-failing'
    displayName: 'ZSA: audit verification failing'
    description: 'The daily verification (auditDailyVerify, 03:30 UTC) found a broken chain or could not read the audit, or no verification succeeded in 26 hours.'
    severity: 1
    frequency: 'PT1H'
    window: 'P2D'
    autoMitigate: true
    // The log line and the metric say the same; either is enough (one may be sampled or delayed).
    query: '''
let lines = traces
| where message startswith "zsa.audit.verification "
| extend outcome = extract(@"outcome=(\w+)", 1, message);
let counted = customMetrics
| where name == "zsa.audit.verification"
| extend outcome = tostring(customDimensions["zsa.outcome"]);
union lines, counted
| summarize failures = countif(outcome == "failure" and timestamp > ago(1d)), successes = countif(outcome == "success" and timestamp > ago(26h))
| where failures > 0 or successes == 0
'''
  }
  {
    name: 'workflows-failing'
    displayName: 'ZSA: request workflows failing'
    description: 'A request was marked failed in the last 15 minutes: its workflow failed, was terminated or never started (the reconciler says which in the audit).'
    severity: 2
    frequency: 'PT5M'
    window: 'PT15M'
    autoMitigate: true
    query: '''
customMetrics
| where name == "zsa.requests" and tostring(customDimensions["zsa.status"]) == "failed"
| summarize failed = sum(value)
| where failed > 0
'''
  }
]

resource logAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [
  for alert in logAlerts: {
    name: '${namePrefix}-${alert.name}'
    location: location
    tags: tags
    kind: 'LogAlert'
    properties: {
      displayName: alert.displayName
      description: alert.description
      severity: alert.severity
      enabled: true
      evaluationFrequency: alert.frequency
      windowSize: alert.window
      scopes: [
        applicationInsightsId
      ]
      criteria: {
        allOf: [
          {
            query: alert.query
            timeAggregation: 'Count'
            operator: 'GreaterThan'
            threshold: 0
            failingPeriods: {
              numberOfEvaluationPeriods: 1
              minFailingPeriodsToAlert: 1
            }
          }
        ]
      }
      autoMitigate: alert.autoMitigate
      actions: {
        actionGroups: actionGroups
      }
    }
  }
]

// A notification that could not be delivered after every attempt lands in the queue's dead-letter
// subqueue; Service Bus counts them itself.
resource deadLetterAlert 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: '${namePrefix}-notifications-dead-lettered'
  location: 'global'
  tags: tags
  properties: {
    description: 'A notification email was dead-lettered after its last delivery attempt: someone was not told about a request. Read the dead-letter queue (docs/operations.md).'
    severity: 2
    enabled: true
    scopes: [
      serviceBusNamespaceId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    autoMitigate: true
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'dead-lettered'
          metricNamespace: 'Microsoft.ServiceBus/namespaces'
          metricName: 'DeadletteredMessages'
          dimensions: [
            {
              name: 'EntityName'
              operator: 'Include'
              values: [
                notificationsQueueName
              ]
            }
          ]
          timeAggregation: 'Maximum'
          operator: 'GreaterThan'
          threshold: 0
        }
      ]
    }
    actions: [
      for id in actionGroups: {
        actionGroupId: id
      }
    ]
  }
}

output workbookId string = workbook.id
output alertRuleNames array = concat(map(logAlerts, a => '${namePrefix}-${a.name}'), [deadLetterAlert.name])
