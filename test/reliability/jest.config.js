// `npm run test:reliability`: the zero-loss scenarios (test/reliability/*.reliability.ts). Not part
// of `npm test`; .ci/run runs it after `npm test`. One scenario at a time (they load the machine and
// some stop private Redis/PostgreSQL instances), in file-name order.
export default {
  rootDir: '../..',
  moduleFileExtensions: ['js', 'json', 'ts'],
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.test.json', useESM: true }] },
  testMatch: ['<rootDir>/test/reliability/**/*.reliability.ts'],
  testSequencer: '<rootDir>/test/reliability/sequencer.cjs',
  reporters: ['default', '<rootDir>/test/reliability/summary-reporter.cjs'],
  testTimeout: 180_000,
  maxWorkers: 1,
  globalSetup: '<rootDir>/test/helpers/global-setup.mjs',
  globalTeardown: '<rootDir>/test/helpers/global-teardown.mjs',
};
