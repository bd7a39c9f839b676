// `npm start`: build when needed, then run the compiled service in this process.
const { ensureBuilt } = require('./build-if-stale');

try {
  ensureBuilt();
} catch (error) {
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}
require('../dist/src/main.js');
