import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { configOptions, loadConfig, type Config } from '../config/config.ts';
import { CibleError, isCibleError } from '../errors.ts';
import { startCible } from '../main.ts';
import { createApiClient, type ApiClient } from './api-client.ts';
import { runDemo } from './demo.ts';
import { importFile } from './import-file.ts';
import { importWithMapping } from './import-job.ts';

const usage = `Usage: cible <command> [options]

Commands:
  serve                         Run Cible (HTTP API on --port, store in --data-dir)
  demo                          Run Cible filled with made-up customers of a French retailer (website,
                                app, shops, CRM): profiles, segments, imports, quarantine, and console
                                users admin@, marketer@ and analyst@demo.cible.dev. Data in ./.cible-demo
                                unless --data-dir says otherwise; loaded only when it is new or empty
  sources create <name>         Create a source; prints its id and write key
  sources list                  List sources
  import <file.ndjson|.csv>     Send a file's events through the pipeline, with a progress bar
  import <file> --mapping <m>   Import a CRM or till file (customers or transactions) as the mapping
                                says, as a job of the server; progress bar, report, rejected rows
  imports list                  List imports and their state
  segments list                 List segments: size now, sizes over the last 30 days, rule
  segments preview "<rule>"     How many profiles a rule selects now, without saving it
  users create <email> --role <r>
                                Create a console user (admin, marketer or analyst); the password
                                is asked for, or read from standard input when piped
  users list                    List console users
  tokens create <name> --role <r>
                                Create an API token bound to a role; prints it once
  tokens list                   List API tokens, with their last use
  help                          This text

Options for every command:
  --port <n>          HTTP port (CIBLE_PORT, default 3000; 0 picks a free one)
  --host <addr>       Address to listen on (CIBLE_HOST, default 127.0.0.1)
  --data-dir <dir>    Data directory (CIBLE_DATA_DIR, default ./.cible)
  --url <url>         Where the CLI reaches a running Cible (CIBLE_URL, default http://host:port)
  --token <token>     Admin token (CIBLE_ADMIN_TOKEN, default <data dir>/admin-token)

Options for import:
  --write-key <key>   Source to import into (default: a source named "import", created if missing)
  --type <call>       Event type for CSV rows without a "type" column (default: track if there is an
                      "event" column, identify otherwise)
  --batch-size <n>    Events per request (default 500)
  --mapping <file>    The mapping of a CRM or till file (JSON; see docs/imports.md)
  --source <name>     With --mapping: the source to import into (default "import"; created if missing)

Options for demo:
  --people <n>        How many people to make up (default 3000)
  --seed <n>          The seed of the made-up data: the same seed gives the same data (default 1)
`;

async function main(argv: readonly string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: [...argv],
    options: {
      ...configOptions,
      'write-key': { type: 'string' },
      type: { type: 'string' },
      'batch-size': { type: 'string' },
      mapping: { type: 'string' },
      source: { type: 'string' },
      role: { type: 'string' },
      people: { type: 'string' },
      seed: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
    strict: true,
  });
  const [command, ...rest] = positionals;
  if (values.help === true || command === undefined || command === 'help') {
    process.stdout.write(usage);
    return 0;
  }
  const config = loadConfig({ argv });

  switch (command) {
    case 'serve': {
      const cible = await startCible(config);
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
      return -1;
    }
    case 'demo': {
      // The demo keeps its data apart from a real Cible's ./.cible.
      await runDemo(
        values['data-dir'] === undefined
          ? loadConfig({ argv: [...argv, '--data-dir', '.cible-demo'] })
          : config,
        {
          people: values.people,
          seed: values.seed,
          now: Date.now(),
          progress: process.stderr.isTTY ? 'bar' : 'lines',
          print: (line) => console.log(line),
        },
      );
      return -1;
    }
    case 'sources': {
      const client = await clientFor(config);
      if (rest[0] === 'create' && rest[1] !== undefined) {
        const source = await client.createSource(rest.slice(1).join(' '));
        console.log(
          `Source ${source.name} created.\n  id:        ${source.id}\n  write key: ${source.writeKey}`,
        );
        return 0;
      }
      if (rest[0] === 'list') {
        for (const source of await client.listSources()) {
          console.log(`${source.id}\t${source.writeKey}\t${source.name}`);
        }
        return 0;
      }
      throw new CibleError(
        'CIBLE_ERR_CLI_USAGE',
        'Say `cible sources create <name>` or `cible sources list`.',
      );
    }
    case 'users': {
      const client = await clientFor(config);
      if (rest[0] === 'create' && rest[1] !== undefined && values.role !== undefined) {
        const password = await readPassword();
        const user = await client.createUser({ email: rest[1], password, role: values.role });
        console.log(`User ${user.email} created (${user.role}).\n  id: ${user.id}`);
        return 0;
      }
      if (rest[0] === 'list') {
        for (const user of await client.listUsers()) {
          const state =
            user.disabledAt !== null ? 'disabled' : user.lockedUntil !== null ? 'locked' : 'active';
          console.log(`${user.id}\t${user.role}\t${state}\t${user.email}`);
        }
        return 0;
      }
      throw new CibleError(
        'CIBLE_ERR_CLI_USAGE',
        'Say `cible users create <email> --role <admin|marketer|analyst>` or `cible users list`.',
      );
    }
    case 'tokens': {
      const client = await clientFor(config);
      if (rest[0] === 'create' && rest[1] !== undefined && values.role !== undefined) {
        const token = await client.createToken({ name: rest.slice(1).join(' '), role: values.role });
        console.log(
          `Token ${token.name} created (${token.role}); it is shown this once.\n  id:    ${token.id}\n  token: ${token.token}`,
        );
        return 0;
      }
      if (rest[0] === 'list') {
        for (const token of await client.listTokens()) {
          const state = token.revokedAt !== null ? 'revoked' : `last used ${token.lastUsedAt ?? 'never'}`;
          console.log(`${token.id}\t${token.role}\t${state}\t${token.name}`);
        }
        return 0;
      }
      throw new CibleError(
        'CIBLE_ERR_CLI_USAGE',
        'Say `cible tokens create <name> --role <admin|marketer|analyst>` or `cible tokens list`.',
      );
    }
    case 'segments': {
      const client = await clientFor(config);
      if (rest[0] === 'list') {
        for (const segment of await client.listSegments()) {
          const sizes = await client.segmentSizes(segment.id, 30);
          console.log(
            `${segment.name}\t${segment.size}\t${sparkline(sizes.map((day) => day.size))}\t${segment.text}`,
          );
        }
        return 0;
      }
      if (rest[0] === 'preview' && rest[1] !== undefined) {
        const preview = await client.previewSegment(rest.slice(1).join(' '));
        const sample = preview.sample.map((profile) => profile.id).join(', ');
        const profiles = preview.size === 1 ? 'profile' : 'profiles';
        console.log(`${preview.size} ${profiles}${preview.size > 0 ? `, for example ${sample}` : ''}`);
        return 0;
      }
      throw new CibleError(
        'CIBLE_ERR_CLI_USAGE',
        'Say `cible segments list` or `cible segments preview "<rule>"`.',
      );
    }
    case 'import': {
      const file = rest[0];
      if (file === undefined)
        throw new CibleError('CIBLE_ERR_CLI_USAGE', 'Say which file: `cible import <file>`.');
      const client = await clientFor(config);
      if (values.mapping !== undefined) {
        const source =
          values.source === undefined ? undefined : await client.findOrCreateSource(values.source);
        const report = await importWithMapping({
          path: file,
          mappingPath: values.mapping,
          serverUrl: config.serverUrl,
          token: client.token,
          ...(source === undefined ? {} : { sourceId: source.id }),
          progress: process.stderr.isTTY ? 'bar' : 'none',
        });
        const { job } = report;
        console.log(
          `Import ${job.id} ${job.status}: ${job.rows.read} rows read, ${job.events.accepted} events stored, ` +
            `${job.events.duplicates} already stored, ${job.rows.rejected} rows rejected (${job.rowsPerSecond} rows/s).`,
        );
        for (const row of report.rejected) {
          console.log(`  line ${row.line}: ${row.reason}${row.field === null ? '' : ` [${row.field}]`}`);
        }
        if (job.rows.rejected > report.rejected.length) {
          console.log(`  ... and ${job.rows.rejected - report.rejected.length} more`);
        }
        if (report.rejectedFile !== null) {
          console.log(
            `Rejected rows, with the file's header: ${report.rejectedFile}\n` +
              `Fix them and run: cible import ${report.rejectedFile} --mapping ${values.mapping}` +
              ' (rows already stored are never stored twice).',
          );
        }
        return job.rows.rejected > 0 ? 2 : 0;
      }
      const writeKey = values['write-key'] ?? (await client.findOrCreateSource('import')).writeKey;
      const batchSize = values['batch-size'] === undefined ? 500 : Number(values['batch-size']);
      if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 2500) {
        throw new CibleError('CIBLE_ERR_CLI_USAGE', '--batch-size must be an integer from 1 to 2500.', {
          field: '--batch-size',
        });
      }
      const report = await importFile({
        path: file,
        serverUrl: config.serverUrl,
        writeKey,
        batchSize,
        ...(values.type === undefined ? {} : { defaultType: values.type }),
        progress: process.stderr.isTTY ? 'bar' : 'none',
      });
      console.log(
        `Imported ${report.accepted} events from ${report.lines} lines` +
          ` (${report.duplicates} already stored, ${report.rejected.length} rejected).`,
      );
      for (const rejected of report.rejected.slice(0, 20)) {
        console.log(
          `  line ${rejected.line}: ${rejected.reason}${rejected.field === null ? '' : ` [${rejected.field}]`}`,
        );
      }
      if (report.rejected.length > 20) console.log(`  ... and ${report.rejected.length - 20} more`);
      if (report.rejectedFile !== null)
        console.log(`Rejected lines, with their reasons: ${report.rejectedFile}`);
      return report.rejected.length > 0 ? 2 : 0;
    }
    case 'imports': {
      const client = await clientFor(config);
      if (rest[0] !== 'list') throw new CibleError('CIBLE_ERR_CLI_USAGE', 'Say `cible imports list`.');
      const { imports } = await client.listImports();
      for (const job of imports) {
        console.log(
          `${job.id}\t${job.status}\t${job.createdAt}\t${job.fileName}\t${job.rows.read} rows\t` +
            `${job.events.accepted} stored\t${job.events.duplicates} already stored\t${job.rows.rejected} rejected`,
        );
      }
      return 0;
    }
    default:
      throw new CibleError('CIBLE_ERR_CLI_USAGE', `Unknown command "${command}".`);
  }
}

async function clientFor(config: Config): Promise<ApiClient> {
  let token = config.adminToken;
  if (token === undefined) {
    try {
      token = (await readFile(join(config.dataDir, 'admin-token'), 'utf8')).trim();
    } catch {
      throw new CibleError(
        'CIBLE_ERR_CLI_USAGE',
        `No admin token: pass --token, set CIBLE_ADMIN_TOKEN, or run from where ${join(config.dataDir, 'admin-token')} exists.`,
      );
    }
  }
  return createApiClient(config.serverUrl, token);
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (error: unknown) => {
    if (isCibleError(error)) {
      console.error(
        `Error ${error.code}: ${error.message}${error.field === undefined ? '' : ` (${error.field})`}`,
      );
      console.error(`  ${error.hint}`);
    } else if (error instanceof Error && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS')) {
      console.error(`Error: ${error.message}\n\n${usage}`);
    } else {
      console.error(error);
    }
    process.exitCode = 1;
  },
);

/** Numbers as a line of bars, lowest to highest: ▁▂▃▄▅▆▇█. */
function sparkline(values: readonly number[]): string {
  const bars = '▁▂▃▄▅▆▇█';
  const low = Math.min(...values);
  const span = Math.max(...values) - low;
  return values.map((value) => bars[span === 0 ? 0 : Math.round(((value - low) / span) * 7)]).join('');
}

/** A password: asked for without echo on a terminal, else the first line of standard input. */
async function readPassword(): Promise<string> {
  const input = process.stdin;
  if (!input.isTTY) {
    let text = '';
    for await (const chunk of input) text += String(chunk);
    return text.split(/\r?\n/)[0] ?? '';
  }
  process.stdout.write('Password: ');
  input.setRawMode(true);
  input.resume();
  let password = '';
  try {
    for await (const chunk of input) {
      for (const char of String(chunk)) {
        if (char === '\r' || char === '\n') return password;
        if (char === '\u0003') throw new CibleError('CIBLE_ERR_CLI_USAGE', 'Cancelled.');
        password = char === '\u007f' ? password.slice(0, -1) : password + char;
      }
    }
    return password;
  } finally {
    input.setRawMode(false);
    input.pause();
    process.stdout.write('\n');
  }
}
