// The identity GitHub Actions logs in as for one environment: a user-assigned managed identity with a federated
// credential for the repository's GitHub environment of the same name (OIDC, no client secret anywhere), and the
// least-privilege roles the framework's Azure commands need on this environment's workspace.
//
// Built-in role definition ids (identical in every tenant), from
// https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/ai-machine-learning
//   AzureML Data Scientist    f6c7c914-8db3-469d-8ca1-694a8f32e121
//   Storage Blob Data Reader  2a2b9908-6ea1-4ae2-8e65-a410df84e7d1
// Not assigned on purpose: AzureML Compute Operator (the clusters are created here; the framework's submissions
// never write computes), AcrPull (Azure ML builds and pulls images with its own identities, GitHub never talks to
// the registry), Storage Blob Data Contributor (uploads go through workspace-issued datastore credentials),
// Contributor or Owner (no infrastructure change is made from GitHub; this template is deployed by a person),
// Key Vault roles.

@description('Environment name (dev, staging or prod): the GitHub environment the federated credential trusts.')
param environmentName string

@description('Azure region of the identity.')
param location string

@description('Name of the user-assigned managed identity.')
param identityName string

@description('GitHub organisation or user that owns the repository.')
param githubOrg string

@description('GitHub repository name (without the owner).')
param githubRepo string

@description('Name of the Azure ML workspace the roles are assigned on (in this resource group).')
param workspaceName string

@description('Name of the workspace\'s storage account (in this resource group), where the data collector writes.')
param storageAccountName string

@description('A second GitHub environment the identity trusts, without required reviewers, for the daily monitor (prod-monitor in prod). Empty: none.')
param monitorEnvironmentName string = ''

@description('Tags of every resource.')
param tags object

var dataScientistRoleId = 'f6c7c914-8db3-469d-8ca1-694a8f32e121'
var blobReaderRoleId = '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'

resource workspace 'Microsoft.MachineLearningServices/workspaces@2024-10-01' existing = {
  name: workspaceName
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource githubIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: identityName
  location: location
  tags: tags
}

// Only a workflow job that runs in the GitHub environment named like this Azure environment can get a token:
// the job's OIDC token has subject repo:<org>/<repo>:environment:<env> (protect prod with required reviewers).
resource githubFederation 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials@2023-01-31' = {
  parent: githubIdentity
  name: 'github-${environmentName}'
  properties: {
    issuer: 'https://token.actions.githubusercontent.com'
    subject: 'repo:${githubOrg}/${githubRepo}:environment:${environmentName}'
    audiences: [
      'api://AzureADTokenExchange'
    ]
  }
}

// The daily monitor job (monitor.yml) runs in its own GitHub environment so it needs no approval: it only downloads
// the served model and the collected data, and runs mlops monitor on the runner.
resource monitorFederation 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials@2023-01-31' = if (!empty(monitorEnvironmentName)) {
  parent: githubIdentity
  name: 'github-${monitorEnvironmentName}'
  properties: {
    issuer: 'https://token.actions.githubusercontent.com'
    subject: 'repo:${githubOrg}/${githubRepo}:environment:${monitorEnvironmentName}'
    audiences: [
      'api://AzureADTokenExchange'
    ]
  }
  dependsOn: [
    githubFederation // federated credentials of one identity must be written one at a time
  ]
}

// Storage Blob Data Reader on the workspace's storage account: the daily monitor downloads what the endpoints'
// data collector wrote (az storage blob download-batch --auth-mode login). Read only.
resource blobReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, githubIdentity.id, blobReaderRoleId)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', blobReaderRoleId)
    principalId: githubIdentity.properties.principalId
    principalType: 'ServicePrincipal'
    description: 'GitHub Actions (${environmentName}): read the collected production data for mlops monitor'
  }
}

// AzureML Data Scientist on the workspace: submit pipeline jobs, register models, environments, components and
// data assets, create online and batch endpoints and deployments, list endpoint keys, create the monitor schedule,
// share a model version into the registry from the workspace side. It cannot create or delete computes nor
// change the workspace itself.
resource dataScientist 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(workspace.id, githubIdentity.id, dataScientistRoleId)
  scope: workspace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', dataScientistRoleId)
    principalId: githubIdentity.properties.principalId
    principalType: 'ServicePrincipal'
    description: 'GitHub Actions (${environmentName}): jobs, models, endpoints, schedules of the MLOps framework'
  }
}

@description('Client id of the identity: the GitHub environment variable AZURE_CLIENT_ID.')
output clientId string = githubIdentity.properties.clientId

@description('Object (principal) id of the identity, for further role assignments.')
output principalId string = githubIdentity.properties.principalId

@description('Resource id of the identity.')
output identityId string = githubIdentity.id
