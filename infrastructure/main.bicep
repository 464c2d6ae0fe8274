// Everything one environment (dev, staging or prod) of the MLOps framework needs on Azure Machine Learning.
//
// Scope: SUBSCRIPTION. The template creates the environment's resource group `rg-mlops-<env>` itself, and can
// reach a second resource group for the Azure ML registry every environment shares. Deploy it with
//   az deployment sub create --name mlops-dev --location westeurope \
//     --template-file infrastructure/main.bicep --parameters infrastructure/parameters/dev.json
// (see infrastructure/README.md). Names follow mlops/conf/azure/defaults.yaml: rg-mlops-<env>, mlw-mlops-<env>,
// cpu-cluster, batch-cluster, mlr-mlops. No subscription id and no secret appears in this template.
targetScope = 'subscription'

@description('Environment this deployment is for; it names the resource group (rg-mlops-<env>) and the workspace (mlw-mlops-<env>).')
@allowed([
  'dev'
  'staging'
  'prod'
])
param environmentName string

@description('Azure region of the resource group, the workspace and everything in it (env.azure.location of the framework).')
param location string = 'westeurope'

@description('GitHub organisation or user that owns the repository whose workflows deploy to this environment.')
@minLength(1)
param githubOrg string

@description('GitHub repository (without the owner) whose workflows deploy to this environment.')
@minLength(1)
param githubRepo string

@description('VM size of both compute clusters (env.azure.training_compute.size and batch_compute.size).')
param clusterVmSize string = 'Standard_DS3_v2'

@description('Most nodes the training cluster cpu-cluster scales out to (env.azure.training_compute.max_instances: 2, prod 4).')
@minValue(1)
@maxValue(100)
param trainingMaxNodes int = 2

@description('Most nodes the batch cluster batch-cluster scales out to (env.azure.batch_compute.max_instances).')
@minValue(1)
@maxValue(100)
param batchMaxNodes int = 2

@description('Seconds an idle node is kept before the cluster scales down (idle_time_before_scale_down).')
@minValue(60)
@maxValue(86400)
param idleSecondsBeforeScaleDown int = 900

@description('Days the Log Analytics workspace behind Application Insights keeps logs.')
@minValue(30)
@maxValue(730)
param logRetentionDays int = 30

@description('Create the Azure ML registry shared by every environment. True in exactly one deployment (prod by default), which must run before any deployment with grantRegistryAccess.')
param deployRegistry bool = false

@description('Give this environment\'s GitHub identity the AzureML Registry User role on the shared registry (staging promotes into it, prod deploys from it). The registry must exist.')
param grantRegistryAccess bool = false

@description('Name of the Azure ML registry that carries model versions between workspaces (env.azure.registry).')
param registryName string = 'mlr-mlops'

@description('Resource group of the shared registry; created by the deployment that has deployRegistry set.')
param registryResourceGroupName string = 'rg-mlops-shared'

@description('Wire monitor breaches to GitHub: Event Grid system topic on the workspace, a Logic App that sends repository_dispatch, and the Key Vault holding the GitHub token.')
param deployBreachDispatch bool = true

@description('Name of the Key Vault secret that holds the GitHub token the Logic App sends repository_dispatch with. The secret is set after deployment (README), never here.')
param githubTokenSecretName string = 'github-dispatch-token'

@description('Optional object id of the person or group who sets the GitHub token: gets Key Vault Secrets Officer on the dispatch vault. Empty: assign it yourself.')
param secretsOfficerPrincipalId string = ''

@description('GitHub environment of the daily monitor, trusted by this environment\'s identity besides <environmentName> (prod-monitor in prod, so the monitor needs no approval). Empty: none.')
param githubMonitorEnvironment string = ''

@description('Tags added to every resource, on top of environment, project and managed-by.')
param tags object = {}

// short, stable suffix for the names that must be globally unique (storage, key vaults, container registry)
var suffix = take(uniqueString(subscription().id, environmentName), 6)
var resourceGroupName = 'rg-mlops-${environmentName}'
var workspaceName = 'mlw-mlops-${environmentName}'
var allTags = union(tags, {
  environment: environmentName
  project: 'mlops'
  'managed-by': 'bicep'
})

resource environmentGroup 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: resourceGroupName
  location: location
  tags: allTags
}

resource registryGroup 'Microsoft.Resources/resourceGroups@2024-03-01' = if (deployRegistry) {
  name: registryResourceGroupName
  location: location
  tags: union(tags, {
    environment: 'shared'
    project: 'mlops'
    'managed-by': 'bicep'
  })
}

module workspace 'modules/workspace.bicep' = {
  name: 'mlops-workspace-${environmentName}'
  scope: environmentGroup
  params: {
    environmentName: environmentName
    location: location
    workspaceName: workspaceName
    storageAccountName: 'stmlops${environmentName}${suffix}'
    keyVaultName: 'kv-mlops-${environmentName}-${suffix}'
    containerRegistryName: 'crmlops${environmentName}${suffix}'
    logAnalyticsName: 'log-mlops-${environmentName}'
    appInsightsName: 'appi-mlops-${environmentName}'
    clusterVmSize: clusterVmSize
    trainingMaxNodes: trainingMaxNodes
    batchMaxNodes: batchMaxNodes
    idleSecondsBeforeScaleDown: idleSecondsBeforeScaleDown
    logRetentionDays: logRetentionDays
    tags: allTags
  }
}

module identity 'modules/identity.bicep' = {
  name: 'mlops-identity-${environmentName}'
  scope: environmentGroup
  params: {
    environmentName: environmentName
    location: location
    identityName: 'id-mlops-github-${environmentName}'
    githubOrg: githubOrg
    githubRepo: githubRepo
    workspaceName: workspace.outputs.workspaceName
    storageAccountName: workspace.outputs.storageAccountName
    monitorEnvironmentName: githubMonitorEnvironment
    tags: allTags
  }
}

module registry 'modules/registry.bicep' = if (deployRegistry) {
  name: 'mlops-registry'
  scope: resourceGroup(registryResourceGroupName)
  params: {
    registryName: registryName
    location: location
    tags: union(tags, {
      environment: 'shared'
      project: 'mlops'
      'managed-by': 'bicep'
    })
  }
  dependsOn: [
    registryGroup
  ]
}

module registryAccess 'modules/registry-access.bicep' = if (grantRegistryAccess) {
  name: 'mlops-registry-access-${environmentName}'
  scope: resourceGroup(registryResourceGroupName)
  params: {
    registryName: registryName
    principalId: identity.outputs.principalId
  }
  dependsOn: [
    registry
  ]
}

module breachDispatch 'modules/breach-dispatch.bicep' = if (deployBreachDispatch) {
  name: 'mlops-breach-dispatch-${environmentName}'
  scope: environmentGroup
  params: {
    environmentName: environmentName
    location: location
    workspaceName: workspace.outputs.workspaceName
    keyVaultName: 'kvd-mlops-${environmentName}-${suffix}'
    logicAppName: 'logic-mlops-breach-${environmentName}'
    systemTopicName: 'evgt-${workspaceName}'
    githubOrg: githubOrg
    githubRepo: githubRepo
    githubTokenSecretName: githubTokenSecretName
    secretsOfficerPrincipalId: secretsOfficerPrincipalId
    tags: allTags
  }
}

@description('Resource group of this environment (AZURE_RESOURCE_GROUP for the framework).')
output resourceGroupName string = environmentGroup.name

@description('Azure ML workspace of this environment (AZURE_ML_WORKSPACE for the framework).')
output workspaceName string = workspace.outputs.workspaceName

@description('GitHub environment variable AZURE_CLIENT_ID: client id of the user-assigned identity GitHub Actions log in as.')
output githubClientId string = identity.outputs.clientId

@description('GitHub environment variable AZURE_TENANT_ID.')
output tenantId string = tenant().tenantId

@description('GitHub environment variable AZURE_SUBSCRIPTION_ID.')
output subscriptionId string = subscription().subscriptionId

@description('Key Vault that must hold the GitHub token of the breach dispatch (empty when deployBreachDispatch is false).')
output dispatchKeyVaultName string = deployBreachDispatch ? breachDispatch.outputs.keyVaultName : ''
