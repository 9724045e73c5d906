// The Node half of the official functional tests under jest (see README.md): the harness glue of
// docs/conformance.md, never the test code.
module.exports = {
  testRunner: 'jest-jasmine2',
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': ['ts-jest', { diagnostics: false, isolatedModules: true, tsconfig: 'tsconfig.json' }],
  },
  testRegex: 'ts/[^/]*Tests\\.ts$',
  testPathIgnorePatterns: ['/node_modules/', 'WebWorkerTests'],
  moduleFileExtensions: ['ts', 'js', 'json'],
  // One copy of the client for the tests, its internals and the MessagePack protocol.
  moduleNameMapper: {
    '^@microsoft/signalr$': '<rootDir>/node_modules/@microsoft/signalr/dist/cjs/index.js',
    '^@microsoft/signalr/dist/esm/(.*)$': '<rootDir>/node_modules/@microsoft/signalr/dist/cjs/$1',
  },
};
