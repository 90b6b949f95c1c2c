// The TypeScript linter (`npm run lint`; `npm test` runs it before the suite): typescript-eslint's
// recommended rules, `any` refused and unused names an error.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'build/', 'dist/', 'data/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: globals.node },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Matching control bytes is the point where wmnn escapes text from files (src/quote.ts) and
      // parses binary formats.
      'no-control-regex': 'off',
    },
  },
);
