// Front-end unit tests (`jlpm test`, run by `make test`): pure TypeScript and React in jsdom.
module.exports = {
  testEnvironment: 'jsdom',
  roots: ['<rootDir>/test'],
  transform: {
    '^.+\\.tsx?$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }]
  },
  moduleFileExtensions: ['ts', 'tsx', 'js'],
  // Room for a loaded CI machine (see test/setup.ts); a stuck test still fails.
  testTimeout: 60_000,
  setupFilesAfterEnv: ['<rootDir>/test/setup.ts'],
  // The components never import @jupyterlab/*; request.ts does, and tests replace it.
  moduleNameMapper: {
    '^@jupyterlab/(coreutils|services)$': '<rootDir>/test/stubs/jupyterlab.ts'
  }
};
