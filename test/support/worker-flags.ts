/**
 * The Node worker as infra deploys it: `NODE_OPTIONS` in infra/modules/function-app.bicep limits the
 * old generation to half the instance's memory (at most 1 GiB; the default instance has 2,048 MB)
 * and the semi-spaces to 2 MiB. Whatever measures the worker's memory (the export test, the audit
 * bench) runs Node with these flags; a unit test keeps them in step with the template.
 */
export const DEPLOYED_WORKER_NODE_FLAGS = ['--max-old-space-size=1024', '--max-semi-space-size=2'];
