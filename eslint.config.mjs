// One linter, type-aware, strict from the first commit; no focused or skipped tests.
import reactHooks from 'eslint-plugin-react-hooks';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '.zsa/**', 'coverage/**', '**/*.mjs', '**/*.mts'] },
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'error',
      // `() => resolve()` style callbacks read fine; the rule costs more than it catches here.
      '@typescript-eslint/no-confusing-void-expression': 'off',
      'no-restricted-syntax': [
        'error',
        {
          selector:
            'CallExpression[callee.object.name=/^(it|test|describe)$/][callee.property.name=/^(only|skip)$/]',
          message: 'No focused or skipped tests.',
        },
      ],
    },
  },
  {
    // The app must never depend on the local host, and never exit the process.
    files: ['functions/**/*.ts', 'shared/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/infra/**', '**/test/**', '@zsa/*'],
              message: 'The app never depends on the local host (by path or by package name) or tests.',
            },
          ],
        },
      ],
      'no-restricted-properties': ['error', { object: 'process', property: 'exit' }],
    },
  },
  {
    // The `zsa` command line is a client of the public HTTP API like any other: never the app's
    // handlers, its storage or its SDKs. (Offline audit verification reuses the verifier, which
    // reads a file, not the service.)
    files: ['cli/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/functions/**', '**/test/**', '@zsa/*', '@azure/data-tables', '@azure/service-bus'],
              message: 'zsa talks to the service over its public HTTP API only.',
            },
            {
              regex: '^#shared/(adapters|requests|app|admin|events|executors|notifications)/',
              message: 'zsa talks to the service over its public HTTP API only.',
            },
          ],
        },
      ],
    },
  },
  {
    // The domain is the pure rules over plain data, with `now` passed in: no SDK, no I/O, nothing
    // of the app that has either. Whatever talks to the world sits in an adapter and hands the
    // domain plain values. (Repeats the rule above for these files: a later block replaces it.)
    files: ['shared/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/infra/**', '**/test/**', '@zsa/*'],
              message: 'The app never depends on the local host (by path or by package name) or tests.',
            },
            {
              group: ['@azure/*', 'durable-functions', 'nodemailer', 'jose', 'rhea'],
              message: 'shared/domain is pure: SDKs belong in an adapter.',
            },
            {
              regex:
                '^(node:)?(fs|fs/promises|net|http|https|http2|child_process|dgram|dns|tls|worker_threads|cluster|readline)$',
              message: 'shared/domain does no I/O: read or write in an adapter and pass the values in.',
            },
            {
              regex: '^(#shared/(?!domain/)|\\.\\./)',
              message: 'shared/domain depends on nothing else of the app.',
            },
          ],
        },
      ],
    },
  },
  {
    // The portal (browser code): React's rules of hooks, and nothing of the server at run time: it
    // takes the API's types from the app's schemas with type-only imports.
    files: ['portal/**/*.{ts,tsx}', 'test/portal/**/*.{ts,tsx}'],
    plugins: { 'react-hooks': reactHooks },
    rules: {
      ...reactHooks.configs.recommended.rules,
      '@typescript-eslint/consistent-type-imports': ['error', { disallowTypeAnnotations: false }],
    },
  },
  {
    files: ['portal/**/*.{ts,tsx}'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['#shared/*', '!#shared/portal/*'],
              allowTypeImports: true,
              message: 'The portal imports only types from the app (import type), never its code.',
            },
          ],
        },
      ],
    },
  },
);
