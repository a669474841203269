// Every role assignment of a ZSA deployment, in one place.
//
// The app runs as one user-assigned managed identity. It gets data-plane roles only, each on the
// narrowest scope that works, and no control-plane role at all: it can read and write its data but
// cannot change a resource, a network rule, an immutability policy or a role assignment. A second
// identity, used only for the deployment package, has one role on the package's own account, where
// the app's identity has none.
//
// Names are guid(scope, principal, role), so a re-deployment finds the same assignment instead of
// failing on a duplicate. Each role is named in the comment above its id.

@description('Principal (object) id of the app\'s user-assigned managed identity.')
param appPrincipalId string

@description('Principal (object) id of the deployment identity (function-app.bicep\'s deployment storage).')
param deployPrincipalId string

@description('Principal id of whoever runs `azd provision` (azd passes AZURE_PRINCIPAL_ID); empty = none.')
param deployerPrincipalId string = ''

@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
param deployerPrincipalType string = 'User'

param storageAccountName string
param packageStorageAccountName string
param serviceBusNamespaceName string
param notificationsQueueName string
param teamsQueueName string
param keyVaultName string
param applicationInsightsName string

var role = {
  // Storage Blob Data Owner
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  // Storage Blob Data Contributor
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  // Storage Queue Data Contributor
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  // Storage Table Data Contributor
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  // Azure Service Bus Data Sender
  serviceBusDataSender: '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39'
  // Azure Service Bus Data Owner
  serviceBusDataOwner: '090c5cfd-751d-490a-894a-3ce6f1109419'
  // Key Vault Secrets User
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  // Key Vault Secrets Officer
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
  // Monitoring Metrics Publisher
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource packageStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: packageStorageAccountName
}

resource serviceBus 'Microsoft.ServiceBus/namespaces@2024-01-01' existing = {
  name: serviceBusNamespaceName
}

resource notificationsQueue 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' existing = {
  parent: serviceBus
  name: notificationsQueueName
}

resource teamsQueue 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' existing = {
  parent: serviceBus
  name: teamsQueueName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// ---- The app's managed identity ---------------------------------------------------------------

// Storage Blob Data Owner on the account: the Functions host's identity-based storage needs Owner
// (it creates its containers and takes blob leases); Durable Functions keeps large payloads and
// partition leases in blobs; ZSA writes audit exports and anchors (the archive's immutability policy
// still forbids changing or deleting them). The app package is not in this account.
resource appStorageBlobDataOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appPrincipalId, role.storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.storageBlobDataOwner)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Storage Queue Data Contributor on the account: Durable Functions' control and work-item queues,
// and the host's own queues.
resource appStorageQueueDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appPrincipalId, role.storageQueueDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.storageQueueDataContributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Storage Table Data Contributor on the account: Durable history and instances, and ZSA's tables
// (configuration, requests, audit), which ZSA creates on first use.
resource appStorageTableDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appPrincipalId, role.storageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.storageTableDataContributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Azure Service Bus Data Sender on the namespace: notifications, lifecycle events to the events
// topic, and execution commands to executor queues, whose names admins choose in the catalog (so
// no narrower scope is known here). It carries no right to receive: the app cannot read the
// events topic's subscriptions, whose readers are granted Azure Service Bus Data Receiver on
// their own subscription by whoever connects them (docs/power-automate.md).
resource appServiceBusDataSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(serviceBus.id, appPrincipalId, role.serviceBusDataSender)
  scope: serviceBus
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.serviceBusDataSender)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Azure Service Bus Data Owner on the notifications queue only: the email sender's trigger receives
// from it, and Flex Consumption scales that trigger by reading the queue's runtime properties,
// which needs the Manage right that only Owner carries. No other queue can be read by the app.
resource appNotificationsQueueOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(notificationsQueue.id, appPrincipalId, role.serviceBusDataOwner)
  scope: notificationsQueue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.serviceBusDataOwner)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Azure Service Bus Data Owner on the Teams queue only, for the same reason: the Teams sender's
// trigger receives from it and Flex Consumption scales that trigger from its runtime properties.
resource appTeamsQueueOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(teamsQueue.id, appPrincipalId, role.serviceBusDataOwner)
  scope: teamsQueue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.serviceBusDataOwner)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Key Vault Secrets User on the vault (it holds only ZSA's secrets): the platform resolves the
// Key Vault references in the app settings with this identity.
resource appKeyVaultSecretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, appPrincipalId, role.keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.keyVaultSecretsUser)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Monitoring Metrics Publisher on the Application Insights component: telemetry is sent with
// Entra authentication because the component refuses instrumentation-key-only ingestion.
resource appMonitoringMetricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, appPrincipalId, role.monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.monitoringMetricsPublisher)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// ---- The deployment identity ------------------------------------------------------------------

// Storage Blob Data Contributor on the package account only: `azd deploy` publishes through the
// app's deployment endpoint, and the platform, acting as this identity, writes the package into the
// container and reads it back whenever an instance starts. Reading alone would fail every
// deployment. It has no role anywhere else, and the app's identity has none on this account.
resource deployPackageStorageBlobDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(packageStorage.id, deployPrincipalId, role.storageBlobDataContributor)
  scope: packageStorage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.storageBlobDataContributor)
    principalId: deployPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// ---- Whoever runs `azd provision` -------------------------------------------------------------

// Key Vault Secrets Officer on the vault: azd's postprovision hook creates a signing key that is
// missing, and `npm run keys` rotates them (infra/tools); neither ever reads a key into a
// deployment. Remove it (and deploy without a principal id) where nobody should hold standing
// access to the keys, and run those two from an identity granted the role when needed.
resource deployerKeyVaultSecretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(vault.id, deployerPrincipalId, role.keyVaultSecretsOfficer)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.keyVaultSecretsOfficer)
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
  }
}
