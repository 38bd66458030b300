/**
 * The Node.js flags Cible's server runs with: `npm start`, `npm run demo`, `npm run cible` and
 * `bin/cible.js` pass them (they cannot import this file; `node-flags.test.ts` checks they agree),
 * and so do the tests and benchmarks that start it as a process.
 *
 * `--max-semi-space-size=64` (MB; V8's default is 16 on 64-bit): the ingest pipeline allocates a
 * request's objects and drops them once its batch is in the ingest log, tens of milliseconds
 * later. With a small young generation many survive two scavenges and are promoted, and the old
 * generation's collections then pause the server for hundreds of milliseconds. Measured with
 * `npm run bench -- ingest` (alternated runs, docs/benchmarks.md): p99 acknowledgement 275–693 ms
 * against 2.8–2.9 s, and 12–20% more events a second, for 50–100 MB more memory.
 */
export const serverNodeFlags: readonly string[] = ['--max-semi-space-size=64'];
