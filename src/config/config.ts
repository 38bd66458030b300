import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CibleError } from '../errors.ts';
import { defaultRules, loadRulesFile, type Rules } from './rules-file.ts';

/** Every setting Cible reads, validated and frozen. Built once, at the edge, by `loadConfig`. */
export interface Config {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  /** A console build to serve at `/` instead of the one in web/dist (CIBLE_CONSOLE_DIR). */
  readonly consoleDir: string | null;
  /** Bearer token for the admin API; undefined means "use or create the one stored in the data dir". */
  readonly adminToken: string | undefined;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  readonly trustProxy: boolean;
  /** Where the CLI reaches a running Cible (defaults to http://host:port). */
  readonly serverUrl: string;
  readonly ingest: IngestConfig;
  readonly store: StoreConfig;
  readonly imports: ImportsConfig;
  readonly segments: SegmentsConfig;
  readonly access: AccessConfig;
  readonly privacy: PrivacyConfig;
  /** Identifier, identity and trait rules: built-in ones, changed by the rules file if there is one. */
  readonly rules: Rules;
  /** The rules file read, or null when the built-in rules apply. */
  readonly rulesFile: string | null;
}

export interface IngestConfig {
  /** Largest single event, in bytes of JSON (Segment: 32 KB). */
  readonly maxEventBytes: number;
  /** Largest request body after decompression (Segment: 500 KB). */
  readonly maxRequestBytes: number;
  /** Most events in one batch request (Segment: 2,500). */
  readonly maxBatchEvents: number;
  /** Largest body the server reads at all; larger requests are refused without being read. */
  readonly maxTransportBytes: number;
  /** A micro-batch commits when it holds this many events... */
  readonly commitMaxEvents: number;
  /** ...or when its oldest event has waited this long. */
  readonly commitMaxDelayMs: number;
  /** Under load, committed batches go to the store together at most this often (see GroupCommitOptions). */
  readonly storeWriteIntervalMs: number;
  /** Above this many accepted but uncommitted events, new requests get 429. */
  readonly maxPendingEvents: number;
  /** How long a messageId is remembered per source for de-duplication. */
  readonly dedupeWindowHours: number;
}

export interface ImportsConfig {
  /** Largest import file accepted, in bytes. */
  readonly maxFileBytes: number;
}

export interface SegmentsConfig {
  /** How often every segment is evaluated again over the whole base, ms; 0 never. */
  readonly refreshIntervalMs: number;
}

export interface PrivacyConfig {
  /** Longest time erased data may stay in free blocks of the files before a purge rewrites them, ms. */
  readonly purgeDeadlineMs: number;
}

export interface AccessConfig {
  /** Session cookies carry the Secure attribute (browsers still send them to http://localhost). */
  readonly cookieSecure: boolean;
  /** How long a console session lasts, ms. */
  readonly sessionMs: number;
  /** Failed sign-ins in a row that lock an account... */
  readonly maxFailedLogins: number;
  /** ...for this long, ms. */
  readonly lockoutMs: number;
  /** Sign-in attempts allowed per client address and minute. */
  readonly signInsPerMinute: number;
}

export interface StoreConfig {
  /** DuckDB memory limit, e.g. "512MB". */
  readonly memoryLimit: string;
  readonly threads: number;
}

export interface ConfigSources {
  readonly argv?: readonly string[];
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly cwd?: string;
}

const defaults = {
  host: '127.0.0.1',
  port: 3000,
  dataDir: '.cible',
  logLevel: 'info',
  ingest: {
    maxEventBytes: 32 * 1024,
    maxRequestBytes: 500 * 1024,
    maxBatchEvents: 2500,
    maxTransportBytes: 8 * 1024 * 1024,
    commitMaxEvents: 10_000,
    commitMaxDelayMs: 5,
    storeWriteIntervalMs: 200,
    maxPendingEvents: 200_000,
    dedupeWindowHours: 24,
  },
  store: { memoryLimit: '256MB', threads: 2 },
  imports: { maxFileMb: 10 * 1024 },
  segments: { refreshSeconds: 60 },
  privacy: { purgeDeadlineHours: 24 },
  access: { sessionHours: 12, maxFailedLogins: 5, lockoutMinutes: 15, signInsPerMinute: 20 },
} as const;

export const rulesFileName = 'cible.json';

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Options shared by every command; anything after them is the command's own. */
export const configOptions = {
  port: { type: 'string' },
  host: { type: 'string' },
  'data-dir': { type: 'string' },
  'log-level': { type: 'string' },
  url: { type: 'string' },
  token: { type: 'string' },
  rules: { type: 'string' },
} as const;

/**
 * Builds the configuration from command-line flags and environment variables (flags win).
 * This is the only place in Cible that reads `process.env`.
 */
export function loadConfig(sources: ConfigSources = {}): Config {
  const env = sources.env ?? process.env;
  const cwd = sources.cwd ?? process.cwd();
  const { values } = parseArgs({
    args: [...(sources.argv ?? [])],
    options: configOptions,
    strict: false,
    allowPositionals: true,
  });
  const flag = (name: keyof typeof configOptions): string | undefined => {
    const value = values[name];
    return typeof value === 'string' ? value : undefined;
  };

  const port = integer('port', flag('port') ?? env.CIBLE_PORT, defaults.port, 0, 65535);
  const logLevel = flag('log-level') ?? env.CIBLE_LOG_LEVEL ?? defaults.logLevel;
  if (!(logLevels as readonly string[]).includes(logLevel)) {
    throw invalid('log level', logLevel, `one of ${logLevels.join(', ')}`);
  }
  const adminToken = flag('token') ?? (env.CIBLE_ADMIN_TOKEN?.trim() || undefined);
  if (adminToken !== undefined && adminToken.length < 16) {
    throw invalid('CIBLE_ADMIN_TOKEN', '(hidden)', 'at least 16 characters');
  }

  const host = flag('host') ?? env.CIBLE_HOST ?? defaults.host;
  const dataDir = resolve(cwd, flag('data-dir') ?? env.CIBLE_DATA_DIR ?? defaults.dataDir);
  // The rules file named by --rules or CIBLE_RULES_FILE, else cible.json in the data dir if present.
  const namedRules = flag('rules') ?? (env.CIBLE_RULES_FILE?.trim() || undefined);
  const rulesFile =
    namedRules !== undefined
      ? resolve(cwd, namedRules)
      : existsSync(join(dataDir, rulesFileName))
        ? join(dataDir, rulesFileName)
        : null;
  const config: Config = {
    host,
    port,
    dataDir,
    consoleDir: env.CIBLE_CONSOLE_DIR?.trim() ? resolve(cwd, env.CIBLE_CONSOLE_DIR.trim()) : null,
    adminToken,
    logLevel: logLevel as Config['logLevel'],
    trustProxy: env.CIBLE_TRUST_PROXY === 'true',
    serverUrl: (
      flag('url') ??
      env.CIBLE_URL ??
      `http://${host.includes(':') ? `[${host}]` : host}:${port === 0 ? defaults.port : port}`
    ).replace(/\/+$/, ''),
    ingest: {
      ...defaults.ingest,
      commitMaxEvents: integer(
        'CIBLE_COMMIT_MAX_EVENTS',
        env.CIBLE_COMMIT_MAX_EVENTS,
        defaults.ingest.commitMaxEvents,
        1,
        1_000_000,
      ),
      commitMaxDelayMs: integer(
        'CIBLE_COMMIT_MAX_DELAY_MS',
        env.CIBLE_COMMIT_MAX_DELAY_MS,
        defaults.ingest.commitMaxDelayMs,
        0,
        10_000,
      ),
      storeWriteIntervalMs: integer(
        'CIBLE_STORE_WRITE_INTERVAL_MS',
        env.CIBLE_STORE_WRITE_INTERVAL_MS,
        defaults.ingest.storeWriteIntervalMs,
        0,
        10_000,
      ),
      maxPendingEvents: integer(
        'CIBLE_MAX_PENDING_EVENTS',
        env.CIBLE_MAX_PENDING_EVENTS,
        defaults.ingest.maxPendingEvents,
        1,
        100_000_000,
      ),
      dedupeWindowHours: integer(
        'CIBLE_DEDUPE_WINDOW_HOURS',
        env.CIBLE_DEDUPE_WINDOW_HOURS,
        defaults.ingest.dedupeWindowHours,
        24,
        24 * 90,
      ),
    },
    store: {
      memoryLimit: env.CIBLE_DUCKDB_MEMORY_LIMIT ?? defaults.store.memoryLimit,
      threads: integer('CIBLE_DUCKDB_THREADS', env.CIBLE_DUCKDB_THREADS, defaults.store.threads, 1, 256),
    },
    imports: {
      maxFileBytes:
        integer(
          'CIBLE_IMPORT_MAX_FILE_MB',
          env.CIBLE_IMPORT_MAX_FILE_MB,
          defaults.imports.maxFileMb,
          1,
          1024 * 1024,
        ) *
        1024 *
        1024,
    },
    segments: {
      refreshIntervalMs:
        integer(
          'CIBLE_SEGMENT_REFRESH_SECONDS',
          env.CIBLE_SEGMENT_REFRESH_SECONDS,
          defaults.segments.refreshSeconds,
          0,
          7 * 24 * 3600,
        ) * 1000,
    },
    access: {
      cookieSecure: env.CIBLE_COOKIE_SECURE !== 'false',
      sessionMs:
        integer('CIBLE_SESSION_HOURS', env.CIBLE_SESSION_HOURS, defaults.access.sessionHours, 1, 24 * 30) *
        3_600_000,
      maxFailedLogins: integer(
        'CIBLE_LOGIN_MAX_FAILURES',
        env.CIBLE_LOGIN_MAX_FAILURES,
        defaults.access.maxFailedLogins,
        1,
        100,
      ),
      lockoutMs:
        integer(
          'CIBLE_LOGIN_LOCKOUT_MINUTES',
          env.CIBLE_LOGIN_LOCKOUT_MINUTES,
          defaults.access.lockoutMinutes,
          1,
          24 * 60,
        ) * 60_000,
      signInsPerMinute: integer(
        'CIBLE_LOGIN_ATTEMPTS_PER_MINUTE',
        env.CIBLE_LOGIN_ATTEMPTS_PER_MINUTE,
        defaults.access.signInsPerMinute,
        1,
        10_000,
      ),
    },
    privacy: {
      purgeDeadlineMs:
        integer(
          'CIBLE_PURGE_DEADLINE_HOURS',
          env.CIBLE_PURGE_DEADLINE_HOURS,
          defaults.privacy.purgeDeadlineHours,
          1,
          24 * 30,
        ) * 3_600_000,
    },
    rules: rulesFile === null ? defaultRules : loadRulesFile(rulesFile),
    rulesFile,
  };
  return deepFreeze(config);
}

function integer(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw === '') return fallback;
  const value = /^\d+$/.test(raw.trim()) ? Number(raw) : Number.NaN;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw invalid(name, raw, `an integer from ${min} to ${max}`);
  }
  return value;
}

function invalid(name: string, value: string, expected: string): CibleError {
  return new CibleError('CIBLE_ERR_CONFIG_INVALID', `Setting ${name} is "${value}"; expected ${expected}.`, {
    field: name,
  });
}

function deepFreeze<T extends object>(value: T): T {
  for (const inner of Object.values(value)) {
    if (inner !== null && typeof inner === 'object') deepFreeze(inner as object);
  }
  return Object.freeze(value);
}
