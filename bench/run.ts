/**
 * Runs Cible's benchmarks: `npm run bench` runs them all, `npm run bench -- ingest --seconds 5`
 * runs the named ones with the flags that follow the names.
 */

/** A benchmark takes its own flags and resolves to its process exit code. */
type Benchmark = (args: readonly string[]) => Promise<number>;

const benchmarks: Readonly<Record<string, () => Promise<Benchmark>>> = {
  ingest: async () => (await import('./ingest.ts')).runIngestBenchmark,
  profiles: async () => (await import('./profiles.ts')).runProfilesBenchmark,
  quality: async () => (await import('./quality.ts')).runQualityBenchmark,
  import: async () => (await import('./import.ts')).runImportBenchmark,
  segments: async () => (await import('./segments.ts')).runSegmentsBenchmark,
  'segments-live': async () => (await import('./segments-live.ts')).runLiveSegmentsBenchmark,
  access: async () => (await import('./access.ts')).runAccessBenchmark,
  erasure: async () => (await import('./erasure.ts')).runErasureBenchmark,
  console: async () => (await import('./console.ts')).runConsoleBenchmark,
};

async function main(argv: readonly string[]): Promise<number> {
  // Names come first; the first argument that starts with "-" begins the flags.
  const firstFlag = argv.findIndex((arg) => arg.startsWith('-'));
  const names = firstFlag === -1 ? [...argv] : argv.slice(0, firstFlag);
  const flags = firstFlag === -1 ? [] : argv.slice(firstFlag);
  if (flags.includes('--help') || flags.includes('-h')) {
    console.log(`Usage: npm run bench -- [${Object.keys(benchmarks).join('|')}...] [flags]`);
    console.log('With no name, every benchmark runs. Each benchmark lists its flags with `<name> --help`.');
    if (names.length === 0) return 0;
  }
  const unknown = names.filter((name) => !(name in benchmarks));
  if (unknown.length > 0) {
    console.error(`Unknown benchmark ${unknown.join(', ')}; known: ${Object.keys(benchmarks).join(', ')}.`);
    return 2;
  }
  let worst = 0;
  for (const name of names.length > 0 ? names : Object.keys(benchmarks)) {
    const load = benchmarks[name];
    if (load === undefined) continue;
    console.log(`=== bench ${name} ===`);
    const code = await (await load())(flags);
    worst = Math.max(worst, code);
  }
  return worst;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  },
);
