// Unit tests of the lab extension's library layers (src/signaling, src/media, src/state), in Node
// with fake sockets, peer connections and clocks. They live in test/, outside the lab build.
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.test.json' }]
  }
};
