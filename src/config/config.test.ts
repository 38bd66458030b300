import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import { CibleError } from '../errors.ts';
import { loadConfig, type ConfigSources } from './config.ts';

const CWD = resolve('/srv/cible-test');

function load(sources: ConfigSources = {}) {
  return loadConfig({ argv: [], env: {}, cwd: CWD, ...sources });
}

function assertInvalid(sources: ConfigSources, setting: RegExp, value?: string): CibleError {
  let caught: unknown;
  try {
    load(sources);
  } catch (error) {
    caught = error;
  }
  assert.ok(
    caught instanceof CibleError,
    `expected a CibleError for ${JSON.stringify(sources)}, got ${String(caught)}`,
  );
  assert.equal(caught.code, 'CIBLE_ERR_CONFIG_INVALID');
  assert.equal(caught.status, 500);
  assert.match(caught.message, setting, 'the message names the setting');
  assert.match(caught.field ?? '', setting, 'the field names the setting');
  if (value !== undefined) assert.ok(caught.message.includes(value), `the message quotes the value ${value}`);
  return caught;
}

describe('loadConfig', () => {
  it('has defaults', () => {
    const config = load();
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.port, 3000);
    assert.equal(config.dataDir, resolve(CWD, '.cible'));
    assert.equal(config.adminToken, undefined);
    assert.equal(config.logLevel, 'info');
    assert.equal(config.trustProxy, false);
    assert.equal(config.serverUrl, 'http://127.0.0.1:3000');
    assert.deepEqual(config.ingest, {
      maxEventBytes: 32 * 1024,
      maxRequestBytes: 500 * 1024,
      maxBatchEvents: 2500,
      maxTransportBytes: 8 * 1024 * 1024,
      commitMaxEvents: 10_000,
      commitMaxDelayMs: 5,
      storeWriteIntervalMs: 200,
      maxPendingEvents: 200_000,
      dedupeWindowHours: 24,
    });
    assert.deepEqual(config.store, { memoryLimit: '256MB', threads: 2 });
  });

  it('reads the environment', () => {
    const config = load({
      env: {
        CIBLE_PORT: '4000',
        CIBLE_HOST: '0.0.0.0',
        CIBLE_DATA_DIR: 'var/data',
        CIBLE_LOG_LEVEL: 'debug',
        CIBLE_ADMIN_TOKEN: '  0123456789abcdef0123  ',
        CIBLE_TRUST_PROXY: 'true',
        CIBLE_COMMIT_MAX_EVENTS: '500',
        CIBLE_COMMIT_MAX_DELAY_MS: '0',
        CIBLE_MAX_PENDING_EVENTS: '1000',
        CIBLE_DEDUPE_WINDOW_HOURS: '48',
        CIBLE_DUCKDB_MEMORY_LIMIT: '512MB',
        CIBLE_DUCKDB_THREADS: '4',
      },
    });
    assert.equal(config.port, 4000);
    assert.equal(config.host, '0.0.0.0');
    assert.equal(config.dataDir, resolve(CWD, 'var/data'));
    assert.equal(config.logLevel, 'debug');
    assert.equal(config.adminToken, '0123456789abcdef0123', 'the token is trimmed');
    assert.equal(config.trustProxy, true);
    assert.equal(config.serverUrl, 'http://0.0.0.0:4000');
    assert.equal(config.ingest.commitMaxEvents, 500);
    assert.equal(config.ingest.commitMaxDelayMs, 0);
    assert.equal(config.ingest.maxPendingEvents, 1000);
    assert.equal(config.ingest.dedupeWindowHours, 48);
    assert.equal(config.ingest.maxBatchEvents, 2500, 'fixed limits keep their values');
    assert.deepEqual(config.store, { memoryLimit: '512MB', threads: 4 });
  });

  it('lets flags win over the environment', () => {
    const config = load({
      argv: [
        '--port',
        '5000',
        '--host',
        '::1',
        '--data-dir',
        'flag-dir',
        '--log-level',
        'warn',
        '--token',
        'flag-token-0123456789',
        '--url',
        'http://cible.internal:8080/',
      ],
      env: {
        CIBLE_PORT: '4000',
        CIBLE_HOST: '0.0.0.0',
        CIBLE_DATA_DIR: 'env-dir',
        CIBLE_LOG_LEVEL: 'debug',
        CIBLE_ADMIN_TOKEN: 'env-token-0123456789',
        CIBLE_URL: 'http://env.example:9000',
      },
    });
    assert.equal(config.port, 5000);
    assert.equal(config.host, '::1');
    assert.equal(config.dataDir, resolve(CWD, 'flag-dir'));
    assert.equal(config.logLevel, 'warn');
    assert.equal(config.adminToken, 'flag-token-0123456789');
    assert.equal(config.serverUrl, 'http://cible.internal:8080', 'trailing slash removed');
  });

  it('accepts --port=value and ignores positionals and unknown flags', () => {
    const config = load({ argv: ['serve', '--port=6000', '--unknown', 'x'] });
    assert.equal(config.port, 6000);
  });

  it('builds the server URL from host and port, with brackets for IPv6', () => {
    assert.equal(load({ argv: ['--host', '::1', '--port', '3100'] }).serverUrl, 'http://[::1]:3100');
    assert.equal(
      load({ argv: ['--host', 'localhost', '--port', '3100'] }).serverUrl,
      'http://localhost:3100',
    );
  });

  it('allows --port 0 (any free port)', () => {
    const config = load({ argv: ['--port', '0'] });
    assert.equal(config.port, 0);
    const fromEnv = load({ env: { CIBLE_PORT: '0' } });
    assert.equal(fromEnv.port, 0);
    assert.equal(load({ argv: ['--port', '65535'] }).port, 65535);
  });

  it('rejects an invalid port with CIBLE_ERR_CONFIG_INVALID naming the setting', () => {
    assertInvalid({ argv: ['--port', 'abc'] }, /port/i, 'abc');
    assertInvalid({ argv: ['--port', '65536'] }, /port/i, '65536');
    assertInvalid({ argv: ['--port=-1'] }, /port/i, '-1');
    assertInvalid({ argv: ['--port', '80.5'] }, /port/i, '80.5');
    assertInvalid({ env: { CIBLE_PORT: 'http' } }, /port/i, 'http');
  });

  it('rejects an invalid log level with CIBLE_ERR_CONFIG_INVALID naming the setting', () => {
    const error = assertInvalid({ argv: ['--log-level', 'verbose'] }, /log.?level/i, 'verbose');
    assert.match(error.message, /info/, 'the message lists the valid levels');
    assertInvalid({ env: { CIBLE_LOG_LEVEL: 'INFO' } }, /log.?level/i, 'INFO');
  });

  it('accepts every documented log level', () => {
    for (const level of ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']) {
      assert.equal(load({ env: { CIBLE_LOG_LEVEL: level } }).logLevel, level);
    }
  });

  it('rejects an admin token shorter than 16 characters without printing it', () => {
    const error = assertInvalid({ env: { CIBLE_ADMIN_TOKEN: 'short-secret' } }, /CIBLE_ADMIN_TOKEN/);
    assert.ok(!error.message.includes('short-secret'), 'the token is not in the message');
    assertInvalid({ argv: ['--token', 'tiny'] }, /CIBLE_ADMIN_TOKEN/);
  });

  it('treats a blank CIBLE_ADMIN_TOKEN as unset', () => {
    assert.equal(load({ env: { CIBLE_ADMIN_TOKEN: '   ' } }).adminToken, undefined);
  });

  it('rejects out-of-range ingest and store settings, naming the variable', () => {
    assertInvalid({ env: { CIBLE_COMMIT_MAX_EVENTS: '0' } }, /CIBLE_COMMIT_MAX_EVENTS/, '0');
    assertInvalid({ env: { CIBLE_COMMIT_MAX_DELAY_MS: '-5' } }, /CIBLE_COMMIT_MAX_DELAY_MS/, '-5');
    assertInvalid({ env: { CIBLE_MAX_PENDING_EVENTS: 'lots' } }, /CIBLE_MAX_PENDING_EVENTS/, 'lots');
    assertInvalid({ env: { CIBLE_DEDUPE_WINDOW_HOURS: '12' } }, /CIBLE_DEDUPE_WINDOW_HOURS/, '12');
    assertInvalid({ env: { CIBLE_DUCKDB_THREADS: '1000' } }, /CIBLE_DUCKDB_THREADS/, '1000');
  });

  it('resolves the data dir against cwd', () => {
    assert.equal(load({ argv: ['--data-dir', 'data'] }).dataDir, resolve(CWD, 'data'));
    assert.equal(load({ argv: ['--data-dir', '../elsewhere'] }).dataDir, resolve(CWD, '../elsewhere'));
    const absolute = resolve('/var/lib/cible');
    assert.equal(load({ argv: ['--data-dir', absolute] }).dataDir, absolute);
    assert.equal(
      loadConfig({ argv: [], env: { CIBLE_DATA_DIR: 'x' }, cwd: resolve('/other') }).dataDir,
      resolve('/other', 'x'),
    );
  });

  it('returns a deeply frozen object', () => {
    const config = load();
    assert.ok(Object.isFrozen(config));
    assert.ok(Object.isFrozen(config.ingest));
    assert.ok(Object.isFrozen(config.store));
    assert.throws(() => {
      (config as { port: number }).port = 1;
    }, TypeError);
    assert.throws(() => {
      (config.ingest as { maxPendingEvents: number }).maxPendingEvents = 1;
    }, TypeError);
    assert.throws(() => {
      (config.store as { threads: number }).threads = 64;
    }, TypeError);
    assert.equal(config.port, 3000);
    assert.equal(config.ingest.maxPendingEvents, 200_000);
    assert.equal(config.store.threads, 2);
  });

  it('returns a new configuration on each call', () => {
    assert.notEqual(load(), load());
    assert.equal(load({ argv: ['--port', '1234'] }).port, 1234);
    assert.equal(load().port, 3000);
  });
});
