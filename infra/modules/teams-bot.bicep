// The Azure Bot that connects ZSA to Microsoft Teams (docs/teams.md, ADR 0014). It runs as the app's
// user-assigned managed identity (msaAppType UserAssignedMSI): the bot's app id is the identity's
// client id, and the app gets its outgoing Bot Framework tokens from that identity, so there is no
// bot password to keep or rotate. Only the Teams channel is enabled.

param name string
param tags object = {}

@description('Client id of the app\'s user-assigned identity: the bot\'s app id (ZSA_TEAMS_BOT_APP_ID).')
param identityClientId string

@description('Resource id of that identity.')
param identityResourceId string

param tenantId string

@description('The messaging endpoint: https://<app>/api/messages (functions/teams.ts).')
param endpoint string

resource bot 'Microsoft.BotService/botServices@2022-09-15' = {
  name: name
  // Azure Bot is a global resource; its data stays in the region of the channels it uses.
  location: 'global'
  tags: tags
  kind: 'azurebot'
  sku: {
    // Teams is a standard channel: free on F0.
    name: 'F0'
  }
  properties: {
    displayName: 'ZSA'
    description: 'Approve or deny ZSA access requests in Teams.'
    endpoint: endpoint
    msaAppId: identityClientId
    msaAppType: 'UserAssignedMSI'
    msaAppMSIResourceId: identityResourceId
    msaAppTenantId: tenantId
    // Only Entra tokens to and from the bot: no Direct Line or Web Chat secrets.
    disableLocalAuth: true
    publicNetworkAccess: 'Enabled'
  }
}

resource teamsChannel 'Microsoft.BotService/botServices/channels@2022-09-15' = {
  parent: bot
  name: 'MsTeamsChannel'
  location: 'global'
  properties: {
    channelName: 'MsTeamsChannel'
    properties: {
      isEnabled: true
    }
  }
}

output name string = bot.name
output appId string = identityClientId
