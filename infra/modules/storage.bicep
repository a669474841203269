// Storage for the Functions host, Durable Functions (history, queues, leases), ZSA's tables and the
// audit archive. The deployment package lives in its own account (package-storage.bicep), which the
// app's identity has no role on.
//
// Secure by default: identity only (shared-key access off, so no connection string can ever work),
// TLS 1.2, HTTPS only, no anonymous blob access. Roles for the app's identity are in roles.bicep.

@description('Storage account name: 3–24 lower-case letters and digits.')
@minLength(3)
@maxLength(24)
param name string

param location string
param tags object = {}

@description('Replication. Standard_ZRS where the region offers it is the better choice for production.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
])
param skuName string = 'Standard_LRS'

@description('Blob container of the audit archive: chain-head anchors (`anchors/…`, append blobs) and daily exports (`audit/…`). shared/audit creates and uses `<ZSA_TABLE_PREFIX>audit`.')
param auditContainerName string

@description('Days an archived blob can be neither changed nor deleted (time-based retention).')
@minValue(1)
@maxValue(146000)
param auditRetentionDays int

@description('True once the audit archive\'s immutability policy is locked: the template then leaves the policy alone, since Azure refuses any write to a locked policy but an extension (docs/deploy.md, "Lock the audit archive").')
param auditArchiveLocked bool

@description('Log Analytics workspace that receives the blob service\'s read, write and delete log.')
param logAnalyticsWorkspaceId string

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    accessTier: 'Hot'
    // Identity only: no account keys, no SAS signed with them.
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowCrossTenantReplication: false
    // Flex Consumption without a virtual network reaches storage over its public endpoint; access is
    // still by identity only. Private endpoints are the next step of hardening (docs/deploy.md).
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    // A deleted export can be brought back for a week.
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource auditContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: auditContainerName
  properties: {
    publicAccess: 'None'
  }
}

// Write-once archive: a hash chain only proves tampering against a head anchored where the writer
// cannot rewrite it, and an export is evidence only if nobody can edit it. Created unlocked (a
// template cannot lock it, and a locked policy can never be shortened or removed); lock it once the
// retention is right (docs/deploy.md, "Lock the audit archive"). Written only while unlocked: the REST
// API creates or updates unlocked policies only, so once it is locked every provision that sent it
// would fail. azd's preprovision hook (infra/tools) refuses a provision that would.
resource auditRetentionPolicy 'Microsoft.Storage/storageAccounts/blobServices/containers/immutabilityPolicies@2023-05-01' = if (!auditArchiveLocked) {
  parent: auditContainer
  name: 'default'
  properties: {
    immutabilityPeriodSinceCreationInDays: auditRetentionDays
    // Anchors are append blobs (one per day): new lines may be appended, none changed or removed.
    allowProtectedAppendWrites: true
  }
}

// Every read, write and delete of a blob, with the caller's identity: an attempt to delete or
// overwrite an audit archive shows here even when the immutability policy refused it.
resource blobDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'audit-to-log-analytics'
  scope: blobService
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    // StorageBlobLogs, a resource-specific table.
    logAnalyticsDestinationType: 'Dedicated'
    logs: [
      {
        category: 'StorageRead'
        enabled: true
      }
      {
        category: 'StorageWrite'
        enabled: true
      }
      {
        category: 'StorageDelete'
        enabled: true
      }
    ]
  }
}

output name string = account.name
output id string = account.id
output blobEndpoint string = account.properties.primaryEndpoints.blob
output queueEndpoint string = account.properties.primaryEndpoints.queue
output tableEndpoint string = account.properties.primaryEndpoints.table
