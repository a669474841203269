// Storage for the Functions host, Durable Functions (history, queues, leases), ZSA's tables, the
// deployment package and the audit archive.
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

@description('Blob container Flex Consumption runs the app package from.')
param deploymentContainerName string

@description('Blob container of the audit archive: chain-head anchors (`anchors/…`, append blobs) and daily exports (`audit/…`). shared/audit creates and uses `<ZSA_TABLE_PREFIX>audit`.')
param auditContainerName string

@description('Days an archived blob can be neither changed nor deleted (time-based retention).')
@minValue(1)
@maxValue(146000)
param auditRetentionDays int

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
    // A deleted export or package can be brought back for a week.
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

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
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
// retention is right (docs/deploy.md, "Lock the audit archive").
resource auditRetentionPolicy 'Microsoft.Storage/storageAccounts/blobServices/containers/immutabilityPolicies@2023-05-01' = {
  parent: auditContainer
  name: 'default'
  properties: {
    immutabilityPeriodSinceCreationInDays: auditRetentionDays
    // Anchors are append blobs (one per day): new lines may be appended, none changed or removed.
    allowProtectedAppendWrites: true
  }
}

output name string = account.name
output id string = account.id
output blobEndpoint string = account.properties.primaryEndpoints.blob
output queueEndpoint string = account.properties.primaryEndpoints.queue
output tableEndpoint string = account.properties.primaryEndpoints.table
