import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Presets, SingleBar } from 'cli-progress';
import type { Config } from '../config/config.ts';
import { demoPassword, demoUsers, generateDemo } from '../demo/demo-data.ts';
import { loadDemo, type DemoProgress } from '../demo/load-demo.ts';
import { CibleError } from '../errors.ts';
import { startCible, type RunningCible } from '../main.ts';

export interface DemoCommandOptions {
  /** --people, as typed; default 3000. */
  readonly people: string | undefined;
  /** --seed, as typed; default 1. */
  readonly seed: string | undefined;
  /** When the demo's 90 days end, ms. */
  readonly now: number;
  readonly progress: 'bar' | 'lines';
  readonly print: (line: string) => void;
}

/** What the data directory tells of a demo: written on success, so an interrupted load is noticed. */
const markerFile = 'demo.json';

interface DemoMarker {
  readonly seed: number;
  readonly people: number;
  readonly loadedAt: string;
}

/**
 * `cible demo`: Cible as `serve` runs it, filled with the demo data set the first time its data
 * directory is used (an empty or missing directory). Later starts serve what is there at once.
 */
export async function runDemo(config: Config, options: DemoCommandOptions): Promise<RunningCible> {
  const people = wholeNumber(options.people, '--people', 3000, 1, 1_000_000);
  const seed = wholeNumber(options.seed, '--seed', 1, 0, 0xffff_ffff);
  const state = await dataDirState(config.dataDir);
  const { print } = options;

  const cible = await startCible(config, { print });
  const stop = (): void => {
    cible.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);

  try {
    if (state.kind === 'new') {
      const started = performance.now();
      const data = generateDemo({ seed, people, now: options.now });
      print(
        `Loading the demo: ${people} people (seed ${seed}), ${data.summary.events} events from ` +
          `${data.sources.map((source) => source.name).join(', ')}, a CRM export of ${data.crm.rows} rows, ` +
          `${data.badPayloads.length} bad payloads.`,
      );
      const report = await loadDemo(cible.url, cible.adminToken, data, progressReporter(options));
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      const marker: DemoMarker = { seed, people, loadedAt: new Date(options.now).toISOString() };
      await writeFile(join(config.dataDir, markerFile), `${JSON.stringify(marker, null, 2)}\n`);
      print(
        `Loaded in ${seconds} s: ${report.stats.events} events, ${report.stats.profiles} profiles, ` +
          `${report.crmImport.rows.rejected} CRM rows rejected, ${report.stats.quarantine} records in quarantine.`,
      );
      print(`Segments: ${report.segments.map((segment) => `${segment.name} (${segment.size})`).join(', ')}.`);
    } else if (state.kind === 'demo') {
      print(
        `Demo data from ${state.marker.loadedAt} (${state.marker.people} people, seed ${state.marker.seed}).` +
          ` Delete ${config.dataDir} to start again from scratch.`,
      );
    } else {
      print(
        `${config.dataDir} holds data but no complete demo (was loading interrupted?): serving it as it is.` +
          ` Delete it to load the demo again.`,
      );
    }
  } catch (error) {
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
    await cible.stop();
    throw error;
  }

  print('');
  print(`Cible demo ready on ${cible.url}`);
  print('Sign in to the console as:');
  for (const user of demoUsers) print(`  ${user.email.padEnd(26)} ${user.role}`);
  print(`with the password ${demoPassword}`);
  print(`The admin token for the API is in ${join(config.dataDir, 'admin-token')}. Ctrl-C stops.`);
  return cible;
}

type DataDirState = { kind: 'new' } | { kind: 'demo'; marker: DemoMarker } | { kind: 'other' };

async function dataDirState(dir: string): Promise<DataDirState> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'new' };
    throw error;
  }
  if (entries.length === 0) return { kind: 'new' };
  if (!entries.includes(markerFile)) return { kind: 'other' };
  return { kind: 'demo', marker: JSON.parse(await readFile(join(dir, markerFile), 'utf8')) as DemoMarker };
}

function progressReporter(options: DemoCommandOptions): (progress: DemoProgress) => void {
  if (options.progress === 'lines') {
    let step = '';
    return (progress) => {
      if (progress.step === step) return;
      step = progress.step;
      options.print(`  ${step}...`);
    };
  }
  const bar = new SingleBar(
    { format: ' demo {bar} {percentage}% | {step} | {value}/{total}', hideCursor: true },
    Presets.shades_classic,
  );
  let started = false;
  return (progress) => {
    if (!started) {
      bar.start(progress.total, progress.done, { step: progress.step });
      started = true;
    }
    bar.update(progress.done, { step: progress.step });
    if (progress.done >= progress.total) bar.stop();
  };
}

function wholeNumber(
  raw: string | undefined,
  flag: string,
  fallback: number,
  min: number,
  max: number,
): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || value < min || value > max) {
    throw new CibleError(
      'CIBLE_ERR_CLI_USAGE',
      `${flag} must be a whole number from ${min} to ${max}, not "${raw}".`,
      {
        field: flag,
      },
    );
  }
  return value;
}
