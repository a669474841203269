import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

// Tests import the app through the same `#shared/*` specifiers as the app, and the local host by its
// package name; here both resolve to the TypeScript sources, while the compiled app (what the local
// host runs) resolves them to dist/ and infra/local/dist/.
const alias = [
  { find: /^#shared\/(.*)$/, replacement: fileURLToPath(new URL('./shared/$1', import.meta.url)) },
  {
    find: /^@zsa\/local-host$/,
    replacement: fileURLToPath(new URL('./infra/local/index.ts', import.meta.url)),
  },
  {
    find: /^@zsa\/local-host\/(core|durable|http|mailbox|servicebus)$/,
    replacement: fileURLToPath(new URL('./infra/local/$1/index.ts', import.meta.url)),
  },
];

/**
 * The files that take longest, longest first (as measured in a whole-suite run). Vitest orders by
 * the durations of the last run when it has them; a fresh clone (CI) has none, and a long file
 * started last would stretch the whole run: the portal's page tests, not listed, ran last.
 */
const LONGEST_FIRST = [
  'test/e2e/portal.test.ts',
  'test/component/audit/tamper.test.ts',
  'test/component/audit/export-memory.test.ts',
  'test/e2e/bench-smoke.test.ts',
  'test/e2e/zsa-cli.test.ts',
  'test/portal/approver.test.tsx',
  'test/e2e/email.test.ts',
  'test/portal/auditor.test.tsx',
  'test/e2e/mission.test.ts',
  'test/portal/requester-request.test.tsx',
  'test/portal/requester-requests.test.tsx',
  'test/portal/admin.test.tsx',
  'test/component/durable/approval-flows.test.ts',
  'test/component/audit/concurrency.test.ts',
  'test/e2e/approval-flows-email.test.ts',
  'test/e2e/approval-flows-restart.test.ts',
  'test/contract/openapi-lint.test.ts',
  'test/e2e/cli.test.ts',
  'test/component/requests/lifecycle-audit.test.ts',
  'test/e2e/durable-restart.test.ts',
  'test/component/requests/stages.test.ts',
  'test/component/durable/workflow-faults.test.ts',
  'test/component/requests/emergency.test.ts',
  'test/unit/audit/export-file.test.ts',
  'test/e2e/restart.test.ts',
  'test/component/servicebus/settlement.test.ts',
  'test/e2e/emergency.test.ts',
];

/**
 * Files that install the `@azure/functions-core` module (a registry of functions) in the test
 * process, as the Functions worker does once per process: they cannot share a process with each
 * other, nor with files that import the app's functions.
 */
const OWN_PROCESS = [
  'test/component/agents/tools.test.ts',
  'test/component/durable/access-request.test.ts',
  'test/component/durable/approval-flows.test.ts',
  'test/component/durable/conformance.test.ts',
  'test/component/durable/extension-parity.test.ts',
  'test/component/durable/histories.test.ts',
  'test/component/durable/lost-answer.test.ts',
  'test/component/durable/timers.test.ts',
  'test/component/durable/workflow-faults.test.ts',
  'test/component/host-timers.test.ts',
  'test/component/http/router.test.ts',
  'test/component/local-host/mcp.test.ts',
  'test/component/requests/emergency.test.ts',
  'test/component/requests/extensions.test.ts',
  'test/component/requests/stages.test.ts',
  'test/component/servicebus/triggers.test.ts',
  'test/contract/served.test.ts',
  'test/unit/settings/startup-hook.test.ts',
];

class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (file: TestSpecification) => {
      const i = LONGEST_FIRST.findIndex((known) => file.moduleId.endsWith(known));
      return i === -1 ? LONGEST_FIRST.length : i;
    };
    return [...(await super.sort(files))].sort((a, b) => rank(a) - rank(b));
  }
}

export default defineConfig({
  resolve: { alias },
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    allowOnly: false,
    reporters: ['default'],
    // Most files wait on sockets, child processes and timers rather than compute, so more files
    // run at once than there are cores (2 here); see docs/decisions/0007-test-suite.md.
    maxWorkers: 4,
    sequence: { sequencer: LongestFirst },
    projects: [
      {
        extends: true,
        test: {
          // Pure rules, no I/O: `npm run test:unit` runs only these, in seconds. They share no
          // state, so one module graph per worker serves them all.
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          exclude: OWN_PROCESS,
          pool: 'threads',
          isolate: false,
        },
      },
      {
        extends: true,
        test: {
          // Real Azurite, real sockets, real hosts. One Azurite is shared (global-setup.ts). A worker
          // loads the SDKs once for all the files it runs; per-file.ts gives each file a clean
          // environment and fresh app dependencies instead.
          name: 'integration',
          include: ['test/component/**/*.test.ts', 'test/contract/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          exclude: OWN_PROCESS,
          pool: 'forks',
          isolate: false,
          setupFiles: ['test/support/per-file.ts'],
          globalSetup: ['test/support/global-setup.ts'],
        },
      },
      {
        extends: true,
        plugins: [react()],
        test: {
          // The portal's components and its API client, in jsdom (a file may ask for node); the
          // end-to-end browser tests are in test/e2e and drive real Chromium.
          name: 'portal',
          include: ['test/portal/**/*.test.{ts,tsx}'],
          environment: 'jsdom',
          pool: 'threads',
          // Loading Fluent UI and React takes seconds; files share one module graph per worker, and
          // Testing Library unmounts after every test (setup.ts).
          isolate: false,
          setupFiles: ['test/portal/setup.ts'],
        },
      },
      {
        extends: true,
        test: {
          // Files that host functions in the test process itself, each in a process of its own.
          name: 'own-process',
          include: OWN_PROCESS,
          pool: 'forks',
          globalSetup: ['test/support/global-setup.ts'],
        },
      },
    ],
  },
});
