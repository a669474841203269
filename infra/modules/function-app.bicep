// The ZSA function app on Flex Consumption (Node 22), its app settings and App Service
// Authentication in front of it.
//
// Every app setting ZSA reads in Azure is in the `*Settings` objects below, and nowhere else: the
// settings test (test/unit/settings) checks them against shared/config.ts.

param name string
param location string
param tags object = {}

@description('Resource id of the Flex Consumption plan (FC1).')
param planId string

@description('Resource id and client id of the user-assigned identity the app uses for everything but its package.')
param identityId string
param identityClientId string

@description('Resource id of the identity the platform writes and reads the deployment package with, and nothing else.')
param deploymentIdentityId string

@description('URL of the blob container holding the deployment package (package-storage.bicep).')
param deploymentContainerUrl string

param storageAccountName string
param applicationInsightsName string
param serviceBusFullyQualifiedNamespace string

@description('Durable Functions task hub name (host.json `%ZSA_TASK_HUB%`).')
param taskHubName string

@description('Prefix of ZSA\'s tables and blob containers; the audit container in storage.bicep is named after it.')
param tablePrefix string

@description('Application (client) id of the ZSA API app registration: the token audience.')
param apiClientId string

@description('Tenant whose Entra ID issues the tokens.')
param tenantId string

@description('Client ids App Service Authentication accepts bearer tokens from; empty = any client of the tenant (the app validates every token either way).')
param allowedClientApplications array

@description('Browser origins of the portals (exact, https).')
param corsOrigins array

@description('Hosts webhook executors may call.')
param executorAllowedHosts array

@description('Trust the x-ms-client-principal header of App Service Authentication (cookie sign-in); bearer tokens are validated by the app either way.')
param trustEasyAuth bool

@description('Base URL for emailed links; empty = the app\'s own https address.')
param publicBaseUrl string

@description('Client id of the web portal\'s app registration; empty = sign-in not configured (the portal says so).')
param portalClientId string

@description('OIDC authority the portal signs in at; empty = Entra ID for the tenant.')
param portalAuthority string

@description('API scope the portal asks for.')
param portalScope string

@description('An emailed decision link also needs the approver signed in (App Service Authentication) as the approver it was sent to.')
param decisionLinkRequireSignIn bool

@allowed([
  'graph'
  'smtp'
])
param mailTransport string
param mailFrom string
param notificationsMaxDelivery int

@description('The Azure Bot\'s app id (the identity\'s client id), or empty: Teams off (ZSA_TEAMS_BOT_APP_ID).')
param teamsBotAppId string

param webhookSigningKeyUri string
param auditHmacKeyUri string
param auditHmacKeysRetiredUri string
param smtpUrlUri string

@description('Always-ready instances of the Durable group (orchestrations and activities): timers and approvals do not wait for a cold start.')
@minValue(0)
param durableAlwaysReady int

@minValue(40)
@maxValue(1000)
param maximumInstanceCount int

@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  // azd deploys the `api` service of azure.yaml to the resource carrying this tag.
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  // Flex Consumption uses only identities assigned to the app, so the deployment identity is one
  // too; the app's code names its own identity's client id everywhere (AzureWebJobsStorage__clientId).
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
      '${deploymentIdentityId}': {}
    }
  }
  properties: {
    serverFarmId: planId
    httpsOnly: true
    publicNetworkAccess: 'Enabled'
    // Key Vault references resolve with the same identity as everything else.
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      minTlsVersion: '1.2'
      // The platform answers CORS, preflights included, before App Service Authentication: a
      // preflight carries no token, so CORS code in the app would only ever see a 401. The same
      // list is ZSA_CORS_ORIGINS below (used where no platform CORS is in front: local host, Core Tools).
      cors: {
        allowedOrigins: corsOrigins
        supportCredentials: false
      }
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: deploymentIdentityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
        alwaysReady: [
          {
            name: 'durable'
            instanceCount: durableAlwaysReady
          }
        ]
      }
      // Node 22: Azure Functions supported Node 20 until 30 April 2026 only. The code stays Node 20
      // compatible for development machines and CI (package.json `engines`).
      runtime: {
        name: 'node'
        version: '22'
      }
    }
  }
}

// The Node worker's heap, sized to the instance it shares with the Functions host: the old
// generation at half the instance's memory, at most 1 GiB, and 2 MiB semi-spaces. Left to itself V8
// sizes both from the machine it sees and collects lazily: a worker with the whole app loaded
// (about 100 MB before any work) peaked at 170-240 MB streaming an audit export of 100,000 rows,
// and at 125-140 MB with these limits, the export running a few percent slower
// (test/component/audit/export-memory.test.ts, npm run bench). NODE_OPTIONS reaches the worker
// however the platform starts it.
var workerHeapMB = min(instanceMemoryMB / 2, 1024)

// Identity-based connections: no connection string or key anywhere.
var platformSettings = {
  NODE_OPTIONS: '--max-old-space-size=${workerHeapMB} --max-semi-space-size=2'
  // `/` is the portal's (a catch-all function route), not the Functions host's default home page.
  AzureWebJobsDisableHomepage: 'true'
  // Largest request body the host accepts (64 KiB; ZSA's requests are small JSON documents). The
  // local host reads the same setting (infra/local).
  FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: '65536'
  // Functions host, Durable Functions and ZSA's tables and blobs (storage has shared keys off).
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  AzureWebJobsStorage__blobServiceUri: storage.properties.primaryEndpoints.blob
  AzureWebJobsStorage__queueServiceUri: storage.properties.primaryEndpoints.queue
  AzureWebJobsStorage__tableServiceUri: storage.properties.primaryEndpoints.table
  // Service Bus triggers (connection `ServiceBusConnection`) and ZSA's senders.
  ServiceBusConnection__fullyQualifiedNamespace: serviceBusFullyQualifiedNamespace
  ServiceBusConnection__credential: 'managedidentity'
  ServiceBusConnection__clientId: identityClientId
  // The MCP tools (`/runtime/webhooks/mcp`, functions/mcp.ts): App Service Authentication publishes
  // protected resource metadata (/.well-known/oauth-protected-resource) naming the API's scope, so
  // an MCP client can find where to sign in (docs/agents.md). Preview setting of App Service.
  WEBSITE_AUTH_PRM_DEFAULT_WITH_SCOPES: 'api://${apiClientId}/access_as_user'
  // Telemetry with Entra authentication (the component has local auth off).
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
}

var zsaSettings = {
  ZSA_TASK_HUB: taskHubName
  ZSA_TABLE_PREFIX: tablePrefix
  // Entra v2 tokens of the API app registration (docs/deploy.md: requestedAccessTokenVersion 2).
  ZSA_AUTH_ISSUER: '${environment().authentication.loginEndpoint}${tenantId}/v2.0'
  ZSA_AUTH_AUDIENCE: apiClientId
  ZSA_TRUST_EASY_AUTH: trustEasyAuth ? 'true' : 'false'
  ZSA_DECISION_LINK_REQUIRE_SIGN_IN: decisionLinkRequireSignIn ? 'true' : 'false'
  ZSA_PUBLIC_BASE_URL: empty(publicBaseUrl) ? 'https://${site.properties.defaultHostName}' : publicBaseUrl
  ZSA_CORS_ORIGINS: join(corsOrigins, ',')
  // The web portal served at `/` (functions/portal.ts) signs in with these; empty values leave the
  // app's defaults (shared/config.ts), and no client id makes the portal say sign-in is not configured.
  ZSA_PORTAL_CLIENT_ID: portalClientId
  ZSA_PORTAL_AUTHORITY: portalAuthority
  ZSA_PORTAL_SCOPE: portalScope
  ZSA_EXECUTOR_ALLOWED_HOSTS: join(executorAllowedHosts, ',')
  ZSA_WEBHOOK_SIGNING_KEY: '@Microsoft.KeyVault(SecretUri=${webhookSigningKeyUri})'
  ZSA_AUDIT_HMAC_KEY: '@Microsoft.KeyVault(SecretUri=${auditHmacKeyUri})'
  ZSA_AUDIT_HMAC_KEYS_RETIRED: '@Microsoft.KeyVault(SecretUri=${auditHmacKeysRetiredUri})'
  ZSA_MAIL_TRANSPORT: mailTransport
  ZSA_MAIL_FROM: mailFrom
  ZSA_NOTIFICATIONS_MAX_DELIVERY: string(notificationsMaxDelivery)
  // Teams (docs/teams.md): Bot Framework's issuer and Teams' service host are the app's defaults.
  ZSA_TEAMS_BOT_APP_ID: teamsBotAppId
}

// Only with ZSA_MAIL_TRANSPORT=smtp. The SMTP URL holds a password: an administrator puts it in the
// vault (docs/deploy.md, "Approval emails"); until then the start-up guard reports the unresolved
// reference.
var smtpSettings = {
  ZSA_SMTP_URL: '@Microsoft.KeyVault(SecretUri=${smtpUrlUri})'
}

// Replaces the whole set: settings added by hand in the portal do not survive a provision.
resource appSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: site
  name: 'appsettings'
  properties: union(platformSettings, zsaSettings, mailTransport == 'smtp' ? smtpSettings : {})
}

// No publishing with a user name and password (FTP, or the SCM site's basic auth): deployments
// authenticate with Entra ID, as `azd deploy` does.
resource scmBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

resource ftpBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

// App Service Authentication (Easy Auth) in front of every route: it signs browsers in (emailed
// decision links) and passes the signed-in principal on. A request without a token or session is
// let through, because the web portal's pages and files at `/` must load
// before anyone signs in, and its routes (`/requests`, `/approvals/...`) cannot be listed as
// `excludedPaths`, which only match exact paths and `/folder/*`. The app refuses those requests
// itself: every API operation authenticates the caller (ZSA_AUTH_*), and only the ones anonymous by
// design (health, the OpenAPI document, emailed decision links, the portal) answer without a token
// (docs/decisions/0012-portal-serving.md).
resource authSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: site
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
      runtimeVersion: '~1'
    }
    globalValidation: {
      requireAuthentication: false
      unauthenticatedClientAction: 'AllowAnonymous'
      // The Teams bot's endpoint carries Bot Framework's tokens, which are not this app
      // registration's: App Service Authentication would refuse them. The app verifies them
      // itself (shared/teams/inbound.ts).
      excludedPaths: [
        '/api/messages'
      ]
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: apiClientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenantId}/v2.0'
        }
        validation: {
          allowedAudiences: [
            apiClientId
            'api://${apiClientId}'
          ]
          // Only tokens issued to these clients; left out (null) when no list is given. A second
          // gate only: the app validates every bearer token itself (ZSA_AUTH_*).
          defaultAuthorizationPolicy: empty(allowedClientApplications) ? null : {
            allowedApplications: allowedClientApplications
          }
        }
      }
    }
    // No token store: the portal signs in with its own code (MSAL) and sends bearer tokens, and an
    // emailed decision link's sign-in needs only the session cookie.
    login: {
      tokenStore: {
        enabled: false
      }
    }
    httpSettings: {
      requireHttps: true
      forwardProxy: {
        convention: 'NoProxy'
      }
    }
  }
}

output name string = site.name
output defaultHostName string = site.properties.defaultHostName
