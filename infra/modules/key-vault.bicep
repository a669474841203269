// Key Vault for ZSA's signing keys. The app reads them through Key Vault references in its app
// settings (`@Microsoft.KeyVault(SecretUri=…)`, resolved by the platform with the managed
// identity), so no key is ever in the repository, a parameter file or an app setting's plain text.
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

@secure()
@description('HMAC key for webhook executions. azd passes the vault\'s current value back on every provision (or a random one the first time), so a rotated key is kept.')
param webhookSigningKey string

@secure()
@description('Audit key: HMAC of secrets in audit details, and (derived from it) the seal of the audit hash chain; rows name the key that sealed them, so before rotating it add it to ZSA_AUDIT_HMAC_KEYS_RETIRED (docs/deploy.md, "Rotate the keys"); same handling as the webhook key.')
param auditHmacKey string

@description('Secret names; the app settings reference them (function-app.bicep).')
param webhookSigningKeyName string = 'zsa-webhook-signing-key'
param auditHmacKeyName string = 'zsa-audit-hmac-key'

@secure()
@description('Retired audit keys, comma-separated: they only verify rows they sealed (docs/deploy.md, "Rotate the keys").')
param auditHmacKeysRetired string

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

resource webhookSigningKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: webhookSigningKeyName
  properties: {
    value: webhookSigningKey
    contentType: 'text/plain'
    attributes: {
      enabled: true
    }
  }
}

resource auditHmacKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: auditHmacKeyName
  properties: {
    value: auditHmacKey
    contentType: 'text/plain'
    attributes: {
      enabled: true
    }
  }
}

resource auditHmacKeysRetiredSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: auditHmacKeysRetiredName
  properties: {
    value: auditHmacKeysRetired
    contentType: 'text/plain'
    attributes: {
      enabled: true
    }
  }
}

output name string = vault.name
output id string = vault.id
output uri string = vault.properties.vaultUri
// Versionless URIs: a reference follows the newest version (docs/deploy.md, "Rotate the keys").
output webhookSigningKeyUri string = webhookSigningKeySecret.properties.secretUri
output auditHmacKeyUri string = auditHmacKeySecret.properties.secretUri
output auditHmacKeysRetiredUri string = auditHmacKeysRetiredSecret.properties.secretUri
// Created by an administrator only when mail goes by SMTP (its URL holds the SMTP password).
output smtpUrlUri string = '${vault.properties.vaultUri}secrets/zsa-smtp-url'
