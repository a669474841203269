// Key Vault for ZSA's signing keys, which the template never writes (see the outputs). The app reads
// them through Key Vault references in its app settings (`@Microsoft.KeyVault(SecretUri=…)`,
// resolved by the platform with the managed identity), so no key is ever in the repository, a
// parameter file, a deployment's history or an app setting's plain text.
//
// RBAC authorization (no access policies), soft delete and purge protection. The vault holds only
// ZSA's secrets, so the app's "Key Vault Secrets User" role is granted on the whole vault.

@description('Vault name: 3–24 letters, digits and hyphens.')
@minLength(3)
@maxLength(24)
param name string

param location string
param tags object = {}

@description('Purge protection: a deleted vault and its keys stay recoverable for the retention period. Cannot be turned off again.')
param enablePurgeProtection bool = true

@description('Log Analytics workspace that receives the vault\'s audit log (every secret read, by whom).')
param logAnalyticsWorkspaceId string

@description('Secret names; the app settings reference them (function-app.bicep) and infra/tools creates and rotates them.')
param webhookSigningKeyName string = 'zsa-webhook-signing-key'
param auditHmacKeyName string = 'zsa-audit-hmac-key'
@description('Retired audit keys, comma-separated: they only verify rows they sealed (docs/deploy.md, "Rotate the keys").')
param auditHmacKeysRetiredName string = 'zsa-audit-hmac-keys-retired'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    // `false` is refused once set; leaving it out is how "off" is said.
    enablePurgeProtection: enablePurgeProtection ? true : null
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    // Flex Consumption resolves Key Vault references only from vaults reachable over their public
    // endpoint; access is still by Entra role only.
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

// Who read or changed which secret, and when: a signing key read by anyone but the app's identity is
// the first sign of a forged webhook or a rewritten audit chain.
resource vaultDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'audit-to-log-analytics'
  scope: vault
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    // Resource-specific table (AZKVAuditLogs) instead of the shared AzureDiagnostics one.
    logAnalyticsDestinationType: 'Dedicated'
    logs: [
      {
        category: 'AuditEvent'
        enabled: true
      }
    ]
  }
}

output name string = vault.name
output id string = vault.id
output uri string = vault.properties.vaultUri
// Versionless URIs: a reference follows the newest version (docs/deploy.md, "Rotate the keys").
// The template never writes these secrets: azd's postprovision hook creates each one once, when it is
// missing, and `npm run keys` rotates them (infra/tools), so a provision, even from a fresh azd
// environment, can never replace a key.
output webhookSigningKeyUri string = '${vault.properties.vaultUri}secrets/${webhookSigningKeyName}'
output auditHmacKeyUri string = '${vault.properties.vaultUri}secrets/${auditHmacKeyName}'
output auditHmacKeysRetiredUri string = '${vault.properties.vaultUri}secrets/${auditHmacKeysRetiredName}'
// Created by an administrator only when mail goes by SMTP (its URL holds the SMTP password).
output smtpUrlUri string = '${vault.properties.vaultUri}secrets/zsa-smtp-url'
