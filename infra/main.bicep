// ZSA in Azure, everything `azd up` creates: a resource group holding the function app (Flex
// Consumption, Node 22), its storage, Service Bus, Key Vault, monitoring, the managed identity the
// app runs as, and a separate account and identity for the deployment package. Step-by-step guide:
// docs/deploy.md.
//
// Watched: a workbook and alert rules on the app's telemetry (modules/monitoring.bicep), e-mailed to
// alertEmail.
//
// Secure by default: no keys or connection strings anywhere (storage shared keys, Service Bus SAS
// and Application Insights local auth are all off), identity-based connections, signing keys in
// Key Vault, App Service Authentication in front of the API, every role assignment in
// modules/roles.bicep, audit logs of Key Vault, blob storage and Service Bus in Log Analytics.
//
// Safe to provision again and again: no secret value is a parameter or a resource here (azd's
// postprovision hook creates a missing signing key once, infra/tools), and a locked audit archive's
// policy is left alone (auditArchiveLocked).

targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; names the resource group and seeds every resource name.')
param environmentName string

@minLength(1)
@description('Region of every resource; it must offer Flex Consumption (az functionapp list-flexconsumption-locations).')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Application (client) id of the ZSA API app registration (docs/deploy.md, step 2).')
@minLength(36)
@maxLength(36)
param apiClientId string

@description('Object id of whoever runs `azd provision`; gets "Key Vault Secrets Officer" on the vault (the postprovision hook and `npm run keys` write the signing keys). Empty = none.')
param principalId string = ''

@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
param principalType string = 'User'

@description('Comma-separated browser origins of the portals, e.g. https://portal.contoso.com (exact, https).')
param corsOrigins string = ''

@description('Comma-separated host names (or host:port) webhook executors may call.')
param executorAllowedHosts string = ''

@description('Comma-separated Service Bus queues of `serviceBus` task executors to create.')
param executorQueues string = ''

@description('How approval emails leave: graph (Microsoft Graph as the managed identity) or smtp.')
@allowed([
  'graph'
  'smtp'
])
param mailTransport string = 'graph'

@description('Sender of notification emails; with graph, a mailbox the managed identity may send as.')
@minLength(3)
param mailFrom string

@description('Trust App Service Authentication\'s x-ms-client-principal header (browser sign-in); bearer tokens are validated by the app regardless. This template always enables App Service Authentication.')
param trustEasyAuth bool = true

@description('Emailed decision links also need the approver signed in as themselves (default); false makes the link alone the credential. Needs trustEasyAuth.')
param decisionLinkRequireSignIn bool = true

@description('Base URL for emailed links, e.g. a custom domain; empty = the function app\'s own https address.')
param publicBaseUrl string = ''

@description('Comma-separated client ids whose tokens App Service Authentication accepts (plus the API\'s and the portal\'s own); empty = no such restriction. The app validates every bearer token regardless.')
param allowedClientApplications string = ''

@description('Client id of the web portal\'s app registration (single-page application, redirect URIs https://<app>.azurewebsites.net/signin-callback and https://<app>.azurewebsites.net/); empty = the portal opens and says sign-in is not configured.')
param portalClientId string = ''

@description('OIDC authority the portal signs in at; empty = Entra ID for this tenant (https://login.microsoftonline.com/<tenant>/v2.0).')
param portalAuthority string = ''

@description('API scope the portal asks for; empty = api://<apiClientId>/.default.')
param portalScope string = ''

@description('Deliveries of a notification before it is dead-lettered (queue MaxDeliveryCount = ZSA_NOTIFICATIONS_MAX_DELIVERY).')
@minValue(1)
@maxValue(2000)
param notificationsMaxDelivery int = 10

@description('Days an archived audit blob (anchor or export) stays write-once (time-based retention; 2555 days = 7 years).')
@minValue(1)
@maxValue(146000)
param auditRetentionDays int = 2555

@description('True once the audit archive\'s immutability policy is locked (docs/deploy.md, "Lock the audit archive"): the provision then leaves the policy alone, as Azure refuses any write to a locked one. azd\'s preprovision hook refuses to provision a locked archive while this is false.')
param auditArchiveLocked bool = false

@description('E-mail address ZSA\'s alerts are sent to (emergency access used, executions failing, dead-lettered notifications, audit anchoring or verification failing, request workflows failing: docs/operations.md); empty = the alert rules exist but notify nobody.')
param alertEmail string = ''

@description('Always-ready instances of the Durable group (Flex Consumption guidance for Durable Functions: 1).')
@minValue(0)
param durableAlwaysReady int = 1

@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
])
param storageSku string = 'Standard_LRS'

@description('Key Vault purge protection (recommended; it cannot be turned off later).')
param keyVaultPurgeProtection bool = true

@description('Create the Azure Bot for Microsoft Teams (docs/teams.md) and turn Teams on in the app (ZSA_TEAMS_BOT_APP_ID).')
param teamsBot bool = true

// Names are unique per subscription, environment and region, and stable across provisions.
var token = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
  application: 'zsa'
}
var names = {
  resourceGroup: 'rg-${environmentName}'
  identity: 'id-zsa-${token}'
  deployIdentity: 'id-zsa-deploy-${token}'
  plan: 'plan-zsa-${token}'
  functionApp: 'func-zsa-${token}'
  storage: 'stzsa${token}'
  // At most 21 characters (uniqueString gives 13): storage account names stop at 24.
  packageStorage: 'stzsapkg${token}'
  serviceBus: 'sb-zsa-${token}'
  keyVault: 'kv-zsa-${token}'
  logAnalytics: 'log-zsa-${token}'
  applicationInsights: 'appi-zsa-${token}'
  teamsBot: 'bot-zsa-${token}'
}

// Queue the email sender reads: NOTIFICATIONS_QUEUE in shared/notifications/messages.ts.
var notificationsQueueName = 'zsa-notifications'

// Queue the Teams sender reads: TEAMS_QUEUE in shared/teams/messages.ts.
var teamsQueueName = 'zsa-teams'

// Prefix of ZSA's tables and blob containers (ZSA_TABLE_PREFIX).
var tablePrefix = 'zsa'

// Blob containers: the package Flex Consumption runs (in its own account), and the write-once audit
// archive (anchors and exports), which shared/audit names `<prefix>audit`.
var deploymentContainerName = 'app-package'
var auditContainerName = toLower('${tablePrefix}audit')

// Comma-separated parameters (azd environment values are strings) → trimmed lists without blanks.
var corsOriginList = filter(map(split(corsOrigins, ','), o => trim(o)), o => !empty(o))
var executorAllowedHostList = filter(map(split(executorAllowedHosts, ','), h => trim(h)), h => !empty(h))
var executorQueueList = filter(map(split(executorQueues, ','), q => trim(q)), q => !empty(q))
var allowedClientApplicationList = filter(map(split(allowedClientApplications, ','), a => trim(a)), a => !empty(a))
// Opt-in, so that configuring the portal never locks other clients out: once a list is given, the
// API's own registration (browser sign-in to emailed decision links) and the portal join it.
var allowedClientIds = empty(allowedClientApplicationList) ? [] : union(allowedClientApplicationList, [apiClientId], empty(portalClientId) ? [] : [portalClientId])

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: names.resourceGroup
  location: location
  tags: tags
}

// The identity the app uses for storage, Service Bus, Key Vault, telemetry and Graph mail.
module identity 'br/public:avm/res/managed-identity/user-assigned-identity:0.4.1' = {
  name: 'identity'
  scope: rg
  params: {
    name: names.identity
    location: location
    tags: tags
  }
}

// The identity the platform writes and reads the deployment package with; it has no other role.
module deployIdentity 'br/public:avm/res/managed-identity/user-assigned-identity:0.4.1' = {
  name: 'deployIdentity'
  scope: rg
  params: {
    name: names.deployIdentity
    location: location
    tags: tags
  }
}

module logAnalytics 'br/public:avm/res/operational-insights/workspace:0.11.1' = {
  name: 'logAnalytics'
  scope: rg
  params: {
    name: names.logAnalytics
    location: location
    tags: tags
    dataRetention: 90
  }
}

module applicationInsights 'br/public:avm/res/insights/component:0.6.0' = {
  name: 'applicationInsights'
  scope: rg
  params: {
    name: names.applicationInsights
    location: location
    tags: tags
    workspaceResourceId: logAnalytics.outputs.resourceId
    // Telemetry only with an Entra token (roles.bicep: Monitoring Metrics Publisher).
    disableLocalAuth: true
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: names.storage
    location: location
    tags: tags
    skuName: storageSku
    auditContainerName: auditContainerName
    auditRetentionDays: auditRetentionDays
    auditArchiveLocked: auditArchiveLocked
    logAnalyticsWorkspaceId: logAnalytics.outputs.resourceId
  }
}

module packageStorage 'modules/package-storage.bicep' = {
  name: 'packageStorage'
  scope: rg
  params: {
    name: names.packageStorage
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
  }
}

module serviceBus 'modules/service-bus.bicep' = {
  name: 'serviceBus'
  scope: rg
  params: {
    name: names.serviceBus
    location: location
    tags: tags
    notificationsQueueName: notificationsQueueName
    teamsQueueName: teamsQueueName
    notificationsMaxDelivery: notificationsMaxDelivery
    executorQueueNames: executorQueueList
    logAnalyticsWorkspaceId: logAnalytics.outputs.resourceId
  }
}

module keyVault 'modules/key-vault.bicep' = {
  name: 'keyVault'
  scope: rg
  params: {
    name: names.keyVault
    location: location
    tags: tags
    enablePurgeProtection: keyVaultPurgeProtection
    logAnalyticsWorkspaceId: logAnalytics.outputs.resourceId
  }
}

module roles 'modules/roles.bicep' = {
  name: 'roles'
  scope: rg
  params: {
    appPrincipalId: identity.outputs.principalId
    deployPrincipalId: deployIdentity.outputs.principalId
    deployerPrincipalId: principalId
    deployerPrincipalType: principalType
    storageAccountName: storage.outputs.name
    packageStorageAccountName: packageStorage.outputs.name
    serviceBusNamespaceName: serviceBus.outputs.name
    notificationsQueueName: serviceBus.outputs.notificationsQueueName
    teamsQueueName: serviceBus.outputs.teamsQueueName
    keyVaultName: keyVault.outputs.name
    applicationInsightsName: applicationInsights.outputs.name
  }
}

// Flex Consumption plan: one app per plan, Linux.
module plan 'br/public:avm/res/web/serverfarm:0.1.1' = {
  name: 'plan'
  scope: rg
  params: {
    name: names.plan
    location: location
    tags: tags
    sku: {
      name: 'FC1'
      tier: 'FlexConsumption'
    }
    reserved: true
  }
}

module functionApp 'modules/function-app.bicep' = {
  name: 'functionApp'
  scope: rg
  // The app's settings point at storage, Service Bus and Key Vault by identity: grant first.
  dependsOn: [
    roles
  ]
  params: {
    name: names.functionApp
    location: location
    tags: tags
    planId: plan.outputs.resourceId
    identityId: identity.outputs.resourceId
    identityClientId: identity.outputs.clientId
    deploymentIdentityId: deployIdentity.outputs.resourceId
    deploymentContainerUrl: packageStorage.outputs.containerUrl
    storageAccountName: storage.outputs.name
    applicationInsightsName: applicationInsights.outputs.name
    serviceBusFullyQualifiedNamespace: serviceBus.outputs.fullyQualifiedNamespace
    taskHubName: 'ZsaTaskHub'
    tablePrefix: tablePrefix
    apiClientId: apiClientId
    tenantId: tenant().tenantId
    allowedClientApplications: allowedClientIds
    corsOrigins: corsOriginList
    executorAllowedHosts: executorAllowedHostList
    trustEasyAuth: trustEasyAuth
    decisionLinkRequireSignIn: decisionLinkRequireSignIn
    publicBaseUrl: publicBaseUrl
    portalClientId: portalClientId
    portalAuthority: portalAuthority
    portalScope: empty(portalScope) ? 'api://${apiClientId}/.default' : portalScope
    mailTransport: mailTransport
    mailFrom: mailFrom
    notificationsMaxDelivery: notificationsMaxDelivery
    teamsBotAppId: teamsBot ? identity.outputs.clientId : ''
    webhookSigningKeyUri: keyVault.outputs.webhookSigningKeyUri
    auditHmacKeyUri: keyVault.outputs.auditHmacKeyUri
    auditHmacKeysRetiredUri: keyVault.outputs.auditHmacKeysRetiredUri
    smtpUrlUri: keyVault.outputs.smtpUrlUri
    durableAlwaysReady: durableAlwaysReady
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
  }
}

module teams 'modules/teams-bot.bicep' = if (teamsBot) {
  name: 'teamsBot'
  scope: rg
  params: {
    name: names.teamsBot
    tags: tags
    identityClientId: identity.outputs.clientId
    identityResourceId: identity.outputs.resourceId
    tenantId: tenant().tenantId
    endpoint: 'https://${functionApp.outputs.defaultHostName}/api/messages'
  }
}

// The "ZSA operations" workbook and the alert rules over Application Insights and Service Bus.
module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    location: location
    tags: tags
    applicationInsightsId: applicationInsights.outputs.resourceId
    serviceBusNamespaceId: serviceBus.outputs.id
    notificationsQueueName: serviceBus.outputs.notificationsQueueName
    portalUrl: empty(publicBaseUrl) ? 'https://${functionApp.outputs.defaultHostName}' : publicBaseUrl
    alertEmail: alertEmail
  }
}

// azd stores these in the environment (.azure/<env>/.env); docs/deploy.md uses them.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
// azd's hooks and `npm run keys` find the signing keys in this vault (infra/tools).
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output ZSA_API_BASE_URL string = 'https://${functionApp.outputs.defaultHostName}/api'
output ZSA_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output ZSA_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output ZSA_SERVICE_BUS_NAMESPACE string = serviceBus.outputs.fullyQualifiedNamespace
output ZSA_STORAGE_ACCOUNT string = storage.outputs.name
output ZSA_PACKAGE_STORAGE_ACCOUNT string = packageStorage.outputs.name
// The bot id the Teams app package is built with (npm run teams:package; docs/teams.md).
output ZSA_TEAMS_BOT_APP_ID string = teamsBot ? identity.outputs.clientId : ''
