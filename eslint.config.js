// ESLint flat config: typescript-eslint with type information, and the layer rules of
// DESIGN.md ("storage and protocol import only util; broker imports storage and protocol; ...").
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Which layers each layer may import (besides itself). Nothing imports `cli`. */
const LAYERS = {
  util: [],
  storage: ['util'],
  protocol: ['util'],
  broker: ['util', 'storage', 'protocol'],
  server: ['util', 'storage', 'protocol', 'broker'],
  admin: ['util', 'storage', 'protocol', 'broker'],
  client: ['util', 'protocol'],
  outbox: ['util', 'protocol'],
  cluster: ['util', 'storage', 'protocol', 'broker', 'server'],
  amqp: ['util', 'storage', 'protocol', 'broker'],
  cli: [
    'util',
    'protocol',
    'client',
    'server',
    'broker',
    'storage',
    'admin',
    'outbox',
    'cluster',
    'amqp',
  ],
};
const ALL = Object.keys(LAYERS);

function layerRule(layer) {
  const forbidden = ALL.filter((other) => other !== layer && !LAYERS[layer].includes(other));
  return {
    files: [`src/${layer}/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: forbidden.map((other) => ({
            group: [`../${other}/*`, `../${other}`, `../../${other}/*`, `../../${other}`],
            message: `DESIGN.md layers: src/${layer} may not import src/${other}.`,
          })),
        },
      ],
    },
  };
}

/**
 * src/amqp/codec is a pure codec: besides its own files it may import only src/util (checked
 * on the import text: any `../` that does not lead to `../../util` is refused). It comes after
 * the layer rules, so for its files it replaces src/amqp's rule.
 */
const amqpCodecRule = {
  files: ['src/amqp/codec/**/*.ts'],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: [
          {
            regex: '^\\.\\./(?!\\.\\./util(/|$))',
            message: 'src/amqp/codec may import only its own files and src/util.',
          },
        ],
      },
    ],
  },
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', 'ui/vendor/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          // node:test's test()/describe() return promises the runner itself awaits.
          allowForKnownSafeCalls: [
            { from: 'package', name: ['test', 'it', 'describe', 'suite'], package: 'node:test' },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: { console: 'readonly', process: 'readonly', URL: 'readonly' },
    },
  },
  {
    // Tests may reach into any layer's internals, and use loose assertions on `any`.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  ...ALL.map(layerRule),
  amqpCodecRule,
);
