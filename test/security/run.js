#!/usr/bin/env node
// npm run test:security: attacks the built service, running as a separate process on a fresh
// PostgreSQL database, from outside. One summary line of figures per check; exit 1 on any finding.
// SECURITY_ONLY=sqlmap,wapiti runs a subset (the leak scan always runs last).
const { mkdtempSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const lib = require('./lib');

const CHECKS = [
  ['access-matrix', require('./access-matrix')],
  ['tampering', require('./tampering')],
  ['enumeration', require('./enumeration')],
  ['bruteforce', require('./bruteforce')],
  ['garbage', require('./garbage')],
  ['bad-input', require('./bad-input')],
  ['proxy', require('./proxy')],
  ['idempotency', require('./idempotency')],
  ['sqlmap', require('./sqlmap')],
  ['wapiti', require('./wapiti')],
  ['key-containment', require('./key-containment')],
  ['token-links', require('./token-links')],
];

async function main() {
  const only = process.env.SECURITY_ONLY?.split(',');
  const started = Date.now();
  const db = lib.createDatabase();
  const dataDir = mkdtempSync(join(tmpdir(), 'keyward-security-data-'));
  // The main instance: throttles raised so the scanners and the timing check see the real
  // answers, not 429s. The strict instance (same database, default throttles) is the one
  // the brute-force check attacks.
  const common = { DATABASE_URL: db.url, DATA_DIR: dataDir };
  const main = await lib.startService('main', {
    ...common,
    LOGIN_FAILURES_PER_ACCOUNT: '1000000',
    LOGIN_FAILURES_PER_IP: '1000000',
  });
  const strictDataDir = mkdtempSync(join(tmpdir(), 'keyward-security-data-'));
  const strict = await lib.startService('strict', { ...common, DATA_DIR: strictDataDir });
  const ctx = {
    lib,
    url: main.url,
    main,
    strict,
    db,
    dataDirs: [dataDir, strictDataDir],
    logFiles: [main.logFile, strict.logFile],
  };
  const leaks = require('./leaks');
  const results = [];
  try {
    ctx.world = await lib.seed(main.url);
    for (const [name, check] of CHECKS) {
      if (only && !only.includes(name)) continue;
      const t0 = Date.now();
      let result;
      try {
        result = await check.run(ctx);
      } catch (error) {
        result = { findings: [`crashed: ${error.stack ?? error}`], figures: {} };
      }
      result.figures.seconds = Math.round((Date.now() - t0) / 100) / 10;
      results.push([name, result]);
      report(name, result);
      if (main.child.exitCode !== null) throw new Error(`the service exited (${main.child.exitCode}) during ${name}`);
    }
    await leaks.prepare(ctx);
  } finally {
    await main.stop();
    await strict.stop();
  }
  // Leak scan last: over everything the service logged and everything it stored.
  const leak = await leaks.run(ctx);
  results.push(['leaks', leak]);
  report('leaks', leak);
  db.drop();
  const failed = results.filter(([, r]) => r.findings.length);
  console.log(
    `security: ${results.length} checks, ${failed.length} with findings, ${Math.round((Date.now() - started) / 1000)} s; logs in ${lib.workDir}`,
  );
  process.exit(failed.length ? 1 : 0);
}

function report(name, { findings, figures }) {
  const line = Object.entries(figures)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  console.log(`${findings.length ? 'FAIL' : 'pass'} ${name}: ${line} findings=${findings.length}`);
  for (const finding of findings.slice(0, 20)) console.log(`    - ${String(finding).slice(0, 600)}`);
  if (findings.length > 20) console.log(`    ... and ${findings.length - 20} more`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
