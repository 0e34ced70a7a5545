// Lint rules for src/, test/, bench/: type-aware typescript-eslint, recommended + strict (docs/architecture.md, "Checks").
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '**/*.js', '**/*.cjs', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // With noUncheckedIndexedAccess on, `xs[i]!` right after a bounds check (or a regex group that
      // matched) is how this code says "present here"; the rule cannot see the check.
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Messages interpolate counts, ids and exit codes; numbers print unambiguously.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      // `(resolve) => child.once('close', () => resolve())` is the idiom for wrapping callbacks;
      // a void returned from a one-line arrow confuses nobody.
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      // Lengths and cuts of user text are counted in code points on purpose (`[...name].length`), the
      // unit the docs state limits in; spreading anything else (a Promise, a Map) is still an error.
      '@typescript-eslint/no-misused-spread': ['error', { allow: [{ from: 'lib', name: 'string' }] }],
      // A function implementing a Promise-returning port (a subcommand, a step runner, a fake) is
      // `async` so that a synchronous throw becomes a rejection, with or without an await inside.
      '@typescript-eslint/require-await': 'off',
      // Dropping a key by destructuring the rest (`{ body: _body, ...head }`) is how this code copies
      // an object without one field.
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true, argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // vitest types its asymmetric matchers (expect.any, expect.stringContaining, …) as `any`, and
      // every assertion with one inside an object literal would be flagged.
      '@typescript-eslint/no-unsafe-assignment': 'off',
    },
  },
);
