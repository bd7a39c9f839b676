// After the build: every entry point the package declares loads from dist/ as CommonJS
// (through the package's own name, so `exports` is what is checked).
const assert = require('node:assert');

const entries = {
  '@keyward/client': ['KeywardClient', 'KeywardError'],
  '@keyward/client/nest': ['KeywardGuard', 'RequireScopes'],
  '@keyward/client/express': ['keywardMiddleware'],
  '@keyward/client/fastify': ['keywardOnRequest', 'keywardPlugin'],
};
for (const [entry, names] of Object.entries(entries)) {
  const loaded = require(entry);
  for (const name of names) assert.strictEqual(typeof loaded[name], 'function', `${entry} exports ${name}`);
}
console.log(`@keyward/client: ${Object.keys(entries).length} entry points load`);
