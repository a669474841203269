// The account Flex Consumption keeps the app's deployment package in, apart from the app's data.
//
// The app's identity holds Storage Blob Data Owner on its data account (storage.bicep); were the
// package there, every credential the app's code uses could also rewrite the app's code. Here only
// the deployment identity has a role (roles.bicep). That identity has to be assigned to the app too
// (the platform uses only identities assigned to the app), so code already running in the app could
// still request its token: this separates the two duties, it is no boundary against such code.
// Identity only, like the data account: shared keys off, TLS 1.2, HTTPS only, no anonymous access.

@description('Storage account name: 3–24 lower-case letters and digits.')
@minLength(3)
@maxLength(24)
param name string

param location string
param tags object = {}

@description('Blob container Flex Consumption runs the app package from.')
param deploymentContainerName string

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  // One small zip, rewritten on each deployment: locally redundant is enough, a lost package is
  // redeployed from the repository.
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowCrossTenantReplication: false
    // The platform fetches the package over the public endpoint (no virtual network here); access is
    // by identity only.
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
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

output name string = account.name
output containerUrl string = '${account.properties.primaryEndpoints.blob}${deploymentContainer.name}'
