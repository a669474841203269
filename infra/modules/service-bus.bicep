// Service Bus: the notifications queue (orchestration → email sender), the queues of
// `serviceBus` task executors (ZSA → an admin's worker), and the topic of lifecycle events
// (ZSA → a SIEM, Power Automate, any subscriber).
//
// Standard tier, because duplicate detection (a re-run activity must not send twice) needs it.
// Local (SAS) auth is off: only Entra identities with a data role (roles.bicep) can send or receive.
// Every queue states its lock duration, delivery count and duplicate detection explicitly, since
// the service's defaults differ between API versions and SDKs.

@description('Namespace name: 6–50 letters, digits and hyphens, starting with a letter.')
@minLength(6)
@maxLength(50)
param name string

param location string
param tags object = {}

@description('The notifications queue; must equal NOTIFICATIONS_QUEUE in shared/notifications/messages.ts.')
param notificationsQueueName string

@description('The Teams queue; must equal TEAMS_QUEUE in shared/teams/messages.ts.')
param teamsQueueName string

@description('Deliveries before a notification is dead-lettered; the app reads the same number as ZSA_NOTIFICATIONS_MAX_DELIVERY.')
@minValue(1)
@maxValue(2000)
param notificationsMaxDelivery int

@description('Queues of `serviceBus` task executors, as named in the catalog (more can be added later).')
param executorQueueNames array = []

@description('Deliveries before an execution command is dead-lettered.')
@minValue(1)
@maxValue(2000)
param executorMaxDelivery int = 10

@description('How long a worker holds an execution command before it is offered again (ISO 8601, at most PT5M).')
param executorLockDuration string = 'PT5M'

@description('Topic of request lifecycle events; must equal the app setting ZSA_EVENTS_TOPIC (default zsa-events).')
param eventsTopicName string = 'zsa-events'

@description('Subscriptions of the events topic, one per consumer (a SIEM, a Power Automate flow).')
param eventsSubscriptionNames array = [
  'all'
]

@description('How long an event waits in a subscription for its reader before it is dropped (ISO 8601).')
param eventsTimeToLive string = 'P14D'

@description('Log Analytics workspace that receives the namespace\'s operational log.')
param logAnalyticsWorkspaceId string

resource namespace 'Microsoft.ServiceBus/namespaces@2024-01-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: 'Standard'
    tier: 'Standard'
  }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
  }
}

// Read only by ZSA's email sender: approval messages carry live decision links.
resource notificationsQueue 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = {
  parent: namespace
  name: notificationsQueueName
  properties: {
    // The sender's host renews the lock while a send is in flight; one minute bounds a lost worker.
    lockDuration: 'PT1M'
    maxDeliveryCount: notificationsMaxDelivery
    // Message ids are deterministic; an hour covers an activity retried after a host restart.
    requiresDuplicateDetection: true
    duplicateDetectionHistoryTimeWindow: 'PT1H'
    deadLetteringOnMessageExpiration: true
    requiresSession: false
    enablePartitioning: false
  }
}

// Read only by ZSA's Teams sender (functions/teams.ts), apart from the emails: a Teams outage
// leaves the emails alone. Delivered as often as the notifications, then dead-lettered.
resource teamsQueue 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = {
  parent: namespace
  name: teamsQueueName
  properties: {
    lockDuration: 'PT1M'
    maxDeliveryCount: notificationsMaxDelivery
    // Message ids are deterministic (shared/teams/messages.ts): a re-run notify publishes nothing twice.
    requiresDuplicateDetection: true
    duplicateDetectionHistoryTimeWindow: 'PT1H'
    deadLetteringOnMessageExpiration: true
    requiresSession: false
    enablePartitioning: false
  }
}

resource executorQueues 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = [
  for queueName in executorQueueNames: {
    parent: namespace
    name: queueName
    properties: {
      lockDuration: executorLockDuration
      maxDeliveryCount: executorMaxDelivery
      // A command re-sent with the same message id must not run a privileged task twice.
      requiresDuplicateDetection: true
      duplicateDetectionHistoryTimeWindow: 'PT1H'
      deadLetteringOnMessageExpiration: true
      requiresSession: false
      enablePartitioning: false
    }
  }
]

// Lifecycle events (docs/power-automate.md has the schema): no decision links, no secrets, so any
// consumer granted a subscription may read them. The app only sends (roles.bicep).
resource eventsTopic 'Microsoft.ServiceBus/namespaces/topics@2024-01-01' = {
  parent: namespace
  name: eventsTopicName
  properties: {
    // The event id is the audit event's id: an event published again (a retried send, an audit
    // event the request's outbox appended twice) within the window reaches nobody twice.
    requiresDuplicateDetection: true
    duplicateDetectionHistoryTimeWindow: 'PT10M'
    defaultMessageTimeToLive: eventsTimeToLive
    supportOrdering: true
    enablePartitioning: false
  }
}

// Each consumer reads its own copy, at its own pace, from its own subscription.
resource eventsSubscriptions 'Microsoft.ServiceBus/namespaces/topics/subscriptions@2024-01-01' = [
  for subscriptionName in eventsSubscriptionNames: {
    parent: eventsTopic
    name: subscriptionName
    properties: {
      lockDuration: 'PT1M'
      maxDeliveryCount: 10
      defaultMessageTimeToLive: eventsTimeToLive
      // An event nobody read in time is dropped, not kept: the audit log holds every one of them.
      deadLetteringOnMessageExpiration: false
      requiresSession: false
    }
  }
]

// Every management operation on the namespace and its entities (a queue or subscription created,
// changed, deleted), by whom. That is all the Standard tier logs: the data-plane audit log
// (RuntimeAuditLogs: who sent or received) is offered by the Premium tier only.
resource namespaceDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'audit-to-log-analytics'
  scope: namespace
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    // AZMSOperationalLogs, a resource-specific table.
    logAnalyticsDestinationType: 'Dedicated'
    logs: [
      {
        category: 'OperationalLogs'
        enabled: true
      }
    ]
  }
}

output name string = namespace.name
output id string = namespace.id
output fullyQualifiedNamespace string = '${namespace.name}.servicebus.windows.net'
output notificationsQueueName string = notificationsQueue.name
output teamsQueueName string = teamsQueue.name
output eventsTopicName string = eventsTopic.name
