import { compareNumber } from '../../segments/evaluate-rule.ts';
import { expressionKey } from '../../segments/expression-key.ts';
import type { DuckDBValue } from '@duckdb/node-api';
import { defaultConsentRules, type ConsentRules } from '../../domain/consent.ts';
import type { TraitRules } from '../../domain/traits.ts';
import {
  durationMs,
  isoDatePattern,
  resolveDate,
  type ConsentCondition,
  type DateTest,
  type EventCondition,
  type EventExpression,
  type NumberOp,
  type OccurrenceCondition,
  type PropertyFilter,
  type Rule,
  type Scalar,
  type TraitCondition,
  type ValueTest,
  type Window,
} from '../../segments/rule.ts';
import { idList } from './append-rows.ts';

/**
 * The segment language compiled to one DuckDB query over the whole store: the profiles that meet
 * a rule. Each condition that needs data becomes one aggregate per profile (a CTE over events,
 * traits or identifiers, grouped by profile); the rule becomes the WHERE clause over every profile.
 * It follows the semantics written in src/segments/rule.ts, as the in-memory evaluator does; the
 * tests run both on the same generated data.
 *
 * Events, traits and consent changes belong to origin profiles (decision 5); `merged` maps the
 * origins that are part of another profile to that profile, and every other origin is its own profile.
 */
export interface SegmentQueryOptions {
  /** The time the rule is judged at, ms. */
  readonly now: number;
  readonly traitRules: TraitRules;
  readonly segmentRule: (name: string) => Rule | undefined;
  /** Origin profiles merged into another profile, and that profile. */
  readonly merged: { readonly origins: readonly number[]; readonly profiles: readonly number[] };
  /** The expression of a computed trait, read in place of a stored trait of that name. */
  readonly computedTrait?: ((name: string) => EventExpression | undefined) | undefined;
  /** Whether email needs a confirmed double opt-in to be used; defaultConsentRules when absent. */
  readonly consentRules?: ConsentRules | undefined;
}

export interface SegmentQuery {
  /** Selects `profile` (BIGINT), one row per member, in no particular order. */
  readonly sql: string;
  readonly params: DuckDBValue[];
}

/**
 * The query selecting the members of a rule. When the rule is an AND with event conditions that no
 * one without a matching event meets (`count(...) >= 3`, `last(...) within ...`), the profiles with
 * such events are the only candidates: they are found first (time windows keep them few), and
 * every other condition is computed for them alone, not for the whole base.
 */
export function compileSegmentQuery(rule: Rule, options: SegmentQueryOptions): SegmentQuery {
  const compiler = createCompiler(options);
  const conditions = rule.kind === 'and' ? rule.rules : [rule];
  const narrowing = conditions.filter(needsMatchingEvents);
  if (narrowing.length === 0 || narrowing.length === conditions.length) {
    return assemble(compiler, options, 'people.profile', compiler.predicate(rule, []));
  }
  const first = narrowing.map((condition) => compiler.predicate(condition, []));
  const tables = [...compiler.joins];
  compiler.narrowTo(
    `candidates AS (${tables.map((name) => `SELECT profile FROM ${name}`).join(' INTERSECT ')})`,
  );
  const rest = conditions
    .filter((condition) => !narrowing.includes(condition))
    .map((condition) => compiler.predicate(condition, []));
  return assemble(compiler, options, 'people.profile', `(${[...first, ...rest].join(' AND ')})`);
}

/** Whether only profiles with a matching event can meet the condition (its table has their rows only). */
function needsMatchingEvents(rule: Rule): boolean {
  if (rule.kind === 'occurrence') return true;
  if (rule.kind !== 'event') return false;
  if (rule.aggregate === 'min' || rule.aggregate === 'max' || rule.aggregate === 'avg') return true;
  // count and sum read 0 for profiles without events: they narrow only if 0 fails the comparison.
  return !compareNumber(0, rule.op, rule.value);
}

/** The query selecting every person's value (`profile`, `v` as JSON) of a computed trait. */
export function compileExpressionQuery(
  expression: EventExpression,
  options: SegmentQueryOptions,
): SegmentQuery {
  const compiler = createCompiler(options);
  const value = compiler.expression(expression);
  return assemble(compiler, options, `people.profile, ${value} AS v`, 'true');
}

/**
 * The statement that adds up, into computed_trait_rollups, the events of a table (an event
 * partition) that a computed trait reads and that meet the conditions given (a retention rule's,
 * over `e`, with parameters from `param`): per origin profile and day, and value for `mode` and
 * `distinct` (see ExpressionRollup). Events outside the expression's window now are left out:
 * windows only move forward, so those never count again.
 */
export function compileRollupInsert(
  expression: EventExpression,
  options: {
    readonly now: number;
    readonly table: string;
    readonly conditions: (param: (value: DuckDBValue) => string) => readonly string[];
  },
): SegmentQuery {
  const compiler = createCompiler({
    now: options.now,
    traitRules: { sourcePriority: {}, firstTouch: [] },
    segmentRule: () => undefined,
    merged: { origins: [], profiles: [] },
  });
  const sql = compiler.rollupInsert(
    expression,
    options.table,
    options.conditions((value) => compiler.param(value)),
  );
  return { sql, params: compiler.params };
}

function assemble(
  compiler: Compiler,
  options: SegmentQueryOptions,
  columns: string,
  predicate: string,
): SegmentQuery {
  // Every person: the origin profiles not merged into another (a profile others merged into never is).
  const people = compiler.candidates
    ? `people AS (SELECT profile FROM candidates)`
    : `people AS (SELECT p.id AS profile FROM profiles p ANTI JOIN merged ON merged.origin = p.id)`;
  const ctes = [
    `merged AS (SELECT unnest(${compiler.param(idList(options.merged.origins))}::BIGINT[]) AS origin,
                       unnest(${compiler.param(idList(options.merged.profiles))}::BIGINT[]) AS profile)`,
    ...compiler.ctes,
    people,
  ];
  const joins = compiler.joins
    .map((name) => `LEFT JOIN ${name} ON ${name}.profile = people.profile`)
    .join('\n');
  return {
    sql: `WITH ${ctes.join(',\n')}\nSELECT ${columns} FROM people\n${joins}\nWHERE ${predicate}`,
    params: compiler.params,
  };
}

interface Compiler {
  readonly ctes: string[];
  readonly joins: string[];
  /** Whether tables made from now on hold the rows of the profiles in `candidates` only. */
  readonly candidates: boolean;
  /** Adds the `candidates` CTE; the tables made after it are computed for those profiles only. */
  narrowTo(candidates: string): void;
  readonly params: DuckDBValue[];
  param(value: DuckDBValue): string;
  predicate(rule: Rule, within: readonly string[]): string;
  /** A computed trait's value per person (a JSON expression over the joined tables). */
  expression(expression: EventExpression): string;
  /** See compileRollupInsert. */
  rollupInsert(expression: EventExpression, table: string, conditions: readonly string[]): string;
}

const numericJson = `('BIGINT', 'UBIGINT', 'DOUBLE')`;

function createCompiler(options: SegmentQueryOptions): Compiler {
  const ctes: string[] = [];
  const joins: string[] = [];
  const params: DuckDBValue[] = [];
  const traitTables = new Map<string, string>();
  const identifierTables = new Map<string, string>();
  const consentTables = new Map<string, string>();
  const computedValues = new Map<string, string>();
  let candidates = false;

  /** The condition a table's WHERE adds once narrowed to the candidates (see compileSegmentQuery). */
  const narrowed = (origin: string): string =>
    candidates ? ` AND ${profileOf(origin)} IN (SELECT profile FROM candidates)` : '';

  function param(value: DuckDBValue): string {
    params.push(value);
    return `$${params.length}`;
  }

  function table(prefix: string, sql: string): string {
    const name = `${prefix}${ctes.length}`;
    ctes.push(`${name} AS (${sql})`);
    joins.push(name);
    return name;
  }

  /** Events (or traits, identities) of origin profiles, with the profile they belong to now. */
  const profileOf = (column: string): string => `coalesce(merged.profile, ${column})`;

  function traitTable(name: string): string {
    const known = traitTables.get(name);
    if (known !== undefined) return known;
    const order = traitOrder(name, options.traitRules, param);
    const created = table(
      't',
      `SELECT ${profileOf('o.origin_profile_id')} AS profile, first(o.value ORDER BY ${order}) AS v
       FROM trait_observations o LEFT JOIN merged ON merged.origin = o.origin_profile_id
       WHERE o.name = ${param(name)}${narrowed('o.origin_profile_id')} GROUP BY ALL`,
    );
    traitTables.set(name, created);
    return created;
  }

  function identifierTable(type: string): string {
    const known = identifierTables.get(type);
    if (known !== undefined) return known;
    const created = table(
      'i',
      `SELECT DISTINCT ${profileOf('i.origin_profile_id')} AS profile, true AS v
       FROM identities i LEFT JOIN merged ON merged.origin = i.origin_profile_id
       WHERE i.type = ${param(type)}${narrowed('i.origin_profile_id')}`,
    );
    identifierTables.set(type, created);
    return created;
  }

  /**
   * A purpose's consent per profile, as foldConsent leaves it: `state`, the change with the latest
   * time (ties to the latest recorded, by seq) among all the profile's origins; and for email,
   * `doi`, the double opt-in the latest email change that speaks of it says (a denial resets it to
   * none, a grant without one says nothing). Profiles without a change have no row: unknown.
   */
  function consentTable(purpose: string): string {
    const known = consentTables.get(purpose);
    if (known !== undefined) return known;
    const latest = 'ORDER BY c.expressed_at DESC, c.seq DESC';
    const doi =
      purpose === 'email'
        ? `first(CASE WHEN c.state = 'denied' THEN 'none' ELSE c.double_opt_in END ${latest})
             FILTER (WHERE c.state = 'denied' OR c.double_opt_in IS NOT NULL)`
        : 'NULL::VARCHAR';
    const created = table(
      'k',
      `SELECT ${profileOf('c.profile_id')} AS profile, first(c.state ${latest}) AS state, ${doi} AS doi
       FROM consent_changes c LEFT JOIN merged ON merged.origin = c.profile_id
       WHERE c.purpose = ${param(purpose)}${narrowed('c.profile_id')} GROUP BY ALL`,
    );
    consentTables.set(purpose, created);
    return created;
  }

  function consentPredicate(condition: ConsentCondition): string {
    const name = consentTable(condition.purpose);
    if (condition.test === 'unknown') return `(${name}.state IS NULL)`;
    if (condition.test !== 'may-use') return `coalesce(${name}.state = ${param(condition.test)}, false)`;
    const rules = options.consentRules ?? defaultConsentRules;
    const confirmed = condition.purpose === 'email' && rules.emailDoubleOptIn;
    return `coalesce(${name}.state = 'granted'${confirmed ? ` AND ${name}.doi = 'confirmed'` : ''}, false)`;
  }

  /** A point in time as a TIMESTAMPTZ literal, exact to the millisecond. */
  function instant(ms: number): string {
    return `${param(new Date(ms).toISOString())}::TIMESTAMPTZ`;
  }

  function eventFilter(event: string, where: readonly PropertyFilter[]): string {
    const filters = where.map((filter) =>
      valueTest(`json_extract(e.properties, ${param(jsonPath(filter.property))})`, filter.test),
    );
    return [`e.type = 'track'`, `e.event = ${param(event)}`, ...filters].join(' AND ');
  }

  function windowBounds(window: Window, column = 'e.timestamp'): string[] {
    if (window.kind === 'last') return [`${column} >= ${instant(options.now - durationMs(window.duration))}`];
    if (window.kind === 'between') {
      return [
        `${column} >= ${instant(resolveDate({ at: window.from }, options.now))}`,
        `${column} < ${instant(resolveDate({ at: window.to }, options.now))}`,
      ];
    }
    return [];
  }

  /**
   * A computed trait's value per person: a CTE, read through the returned JSON expression. It reads
   * the events and the roll-ups retention kept of deleted ones (see ExpressionRollup) as one list
   * of parts, as evaluateExpression does.
   */
  /**
   * What a computed trait reads of an event `e`: the property (a JSON expression, none for a count
   * or the time of the event), as a number, and the events it reads, those with the property only.
   */
  function expressionInput(
    computed: EventExpression,
    conditions: readonly string[],
  ): { property: string | undefined; number: string; where: string[] } {
    const property =
      computed.property === undefined
        ? undefined
        : `json_extract(e.properties, ${param(jsonPath(computed.property))})`;
    const number = `CASE WHEN json_type(${property}) IN ${numericJson} THEN try_cast(${property} AS DOUBLE) END`;
    const where = [
      eventFilter(computed.event, computed.where),
      ...windowBounds(computed.window),
      ...conditions,
    ];
    if (property !== undefined) where.push(`${property} IS NOT NULL AND json_type(${property}) <> 'NULL'`);
    return { property, number, where };
  }

  function expression(computed: EventExpression): string {
    const { aggregate } = computed;
    const { property, number, where } = expressionInput(computed, []);
    const numeric = aggregate === 'sum' || aggregate === 'min' || aggregate === 'max' || aggregate === 'avg';
    const value = property === undefined ? 'NULL::JSON' : numeric ? `to_json(${number})` : property;
    const parts = `(
      SELECT ${profileOf('e.profile_id')} AS profile, e.timestamp AS first_at, e.timestamp AS last_at,
             e.seq::DOUBLE AS seq, 1 AS events, ${property === undefined ? 0 : `CASE WHEN ${number} IS NULL THEN 0 ELSE 1 END`} AS numbers,
             ${value} AS value
      FROM events e LEFT JOIN merged ON merged.origin = e.profile_id
      WHERE ${where.join(' AND ')}${narrowed('e.profile_id')}
      UNION ALL
      SELECT ${profileOf('r.profile_id')}, r.first_at, r.last_at, '-Infinity'::DOUBLE, r.events, r.numbers, r.value
      FROM computed_trait_rollups r LEFT JOIN merged ON merged.origin = r.profile_id
      WHERE ${[`r.expression_key = ${param(expressionKey(computed))}`, ...windowBounds(computed.window, 'r.last_at')].join(' AND ')}${narrowed('r.profile_id')}
    ) p`;
    const asNumber = `try_cast(p.value AS DOUBLE)`;
    if (aggregate === 'mode') {
      const name = table(
        'c',
        `SELECT profile, first(value ORDER BY n DESC, latest DESC, text ASC) AS v FROM (
           SELECT profile, p.value::VARCHAR AS text, any_value(p.value) AS value, sum(p.events) AS n,
                  max(p.last_at) AS latest
           FROM ${parts} GROUP BY ALL)
         GROUP BY profile`,
      );
      return `${name}.v`;
    }
    let result: string;
    switch (aggregate) {
      case 'count':
        result = 'to_json(sum(p.events))';
        break;
      case 'sum':
      case 'min':
      case 'max':
        result = `to_json(${aggregate}(${asNumber}))`;
        break;
      case 'avg':
        result = `to_json(CASE WHEN sum(p.numbers) > 0 THEN sum(${asNumber}) / sum(p.numbers) END)`;
        break;
      case 'first':
      case 'last': {
        const first = aggregate === 'first';
        const at = first ? 'p.first_at' : 'p.last_at';
        const direction = first ? 'ASC' : 'DESC';
        result =
          property === undefined
            ? `to_json(strftime(make_timestamp(epoch_us(${first ? 'min' : 'max'}(${at}))), '%Y-%m-%dT%H:%M:%S.%gZ'))`
            : `first(p.value ORDER BY ${at} ${direction}, p.seq ${direction})`;
        break;
      }
      case 'distinct':
        result = `('[' || string_agg(DISTINCT p.value::VARCHAR, ',' ORDER BY p.value::VARCHAR) || ']')::JSON`;
        break;
    }
    const name = table('c', `SELECT profile, ${result} AS v FROM ${parts} GROUP BY ALL`);
    // Without any event: count and sum are 0, distinct an empty list; the others have no value.
    if (aggregate === 'count' || aggregate === 'sum') return `coalesce(${name}.v, '0'::JSON)`;
    if (aggregate === 'distinct') return `coalesce(${name}.v, '[]'::JSON)`;
    return `${name}.v`;
  }

  function eventTable(condition: EventCondition): string {
    const bounds = windowBounds(condition.window);
    let value = 'count(*)';
    if (condition.aggregate !== 'count') {
      const property = `json_extract(e.properties, ${param(jsonPath(condition.property ?? []))})`;
      const number = `CASE WHEN json_type(${property}) IN ${numericJson} THEN try_cast(${property} AS DOUBLE) END`;
      value = `${condition.aggregate}(${number})`;
    }
    return table(
      'e',
      `SELECT ${profileOf('e.profile_id')} AS profile, ${value}::DOUBLE AS v
       FROM events e LEFT JOIN merged ON merged.origin = e.profile_id
       WHERE ${[eventFilter(condition.event, condition.where), ...bounds].join(' AND ')}${narrowed('e.profile_id')}
       GROUP BY ALL`,
    );
  }

  function occurrenceTable(condition: OccurrenceCondition): string {
    // The last event is after a date when any is, and the first before a date when any is: only
    // those events need reading.
    const { which, test } = condition;
    const bounds: string[] = [];
    if (which === 'last' && test.op === 'within') {
      bounds.push(`e.timestamp >= ${instant(options.now - durationMs(test.last))}`);
    } else if (which === 'last' && test.op === 'after') {
      bounds.push(`e.timestamp > ${instant(resolveDate(test.date, options.now))}`);
    } else if (which === 'first' && test.op === 'before') {
      bounds.push(`e.timestamp < ${instant(resolveDate(test.date, options.now))}`);
    }
    return table(
      'o',
      `SELECT ${profileOf('e.profile_id')} AS profile,
              epoch_ms(${which === 'first' ? 'min' : 'max'}(e.timestamp))::DOUBLE AS v
       FROM events e LEFT JOIN merged ON merged.origin = e.profile_id
       WHERE ${[eventFilter(condition.event, condition.where), ...bounds].join(' AND ')}${narrowed('e.profile_id')}
       GROUP BY ALL`,
    );
  }

  /** A test on a JSON value (SQL NULL when absent), never NULL itself. */
  function valueTest(value: string, test: ValueTest): string {
    const present = `(${value} IS NOT NULL AND json_type(${value}) <> 'NULL')`;
    switch (test.op) {
      case 'exists':
        return present;
      case '=':
        return `coalesce(${equals(value, test.value)}, false)`;
      case '!=':
        return `coalesce(${present} AND NOT ${equals(value, test.value)}, false)`;
      case 'in':
        if (test.values.length === 0) return 'false';
        return `coalesce(${test.values.map((candidate) => equals(value, candidate)).join(' OR ')}, false)`;
      case 'contains': {
        const text = param(test.value);
        return `coalesce(CASE json_type(${value})
          WHEN 'VARCHAR' THEN contains(${value} ->> '$', ${text})
          WHEN 'ARRAY' THEN list_contains(json_extract(${value}, '$[*]')::VARCHAR[], to_json(${text}::VARCHAR)::VARCHAR)
          ELSE false END, false)`;
      }
      case '<':
      case '<=':
      case '>':
      case '>=':
        return typeof test.value === 'number'
          ? `coalesce(json_type(${value}) IN ${numericJson} AND try_cast(${value} AS DOUBLE) ${test.op} ${param(test.value)}::DOUBLE, false)`
          : `coalesce(json_type(${value}) = 'VARCHAR' AND (${value} ->> '$') ${test.op} ${param(test.value)}, false)`;
      case 'before':
      case 'after':
      case 'within':
        return `coalesce(json_type(${value}) = 'VARCHAR' AND ${dateTest(isoMs(`(${value} ->> '$')`), test)}, false)`;
    }
  }

  function equals(value: string, literal: Scalar): string {
    if (typeof literal === 'string')
      return `(json_type(${value}) = 'VARCHAR' AND (${value} ->> '$') = ${param(literal)})`;
    if (typeof literal === 'number') {
      return `(json_type(${value}) IN ${numericJson} AND try_cast(${value} AS DOUBLE) = ${param(literal)}::DOUBLE)`;
    }
    return `(json_type(${value}) = 'BOOLEAN' AND try_cast(${value} AS BOOLEAN) = ${literal ? 'true' : 'false'})`;
  }

  /** A test on a time in ms (a DOUBLE expression, NULL when absent). */
  function dateTest(ms: string, test: DateTest): string {
    if (test.op === 'within') return `${ms} >= ${param(options.now - durationMs(test.last))}::DOUBLE`;
    const date = param(resolveDate(test.date, options.now));
    return `${ms} ${test.op === 'before' ? '<' : '>'} ${date}::DOUBLE`;
  }

  function traitPredicate(condition: TraitCondition): string {
    const computed = options.computedTrait?.(condition.name);
    if (computed !== undefined) {
      let value = computedValues.get(condition.name);
      if (value === undefined) computedValues.set(condition.name, (value = expression(computed)));
      return valueTest(value, condition.test);
    }
    return valueTest(`${traitTable(condition.name)}.v`, condition.test);
  }

  function predicate(rule: Rule, within: readonly string[]): string {
    switch (rule.kind) {
      case 'and':
        return `(${rule.rules.map((child) => predicate(child, within)).join(' AND ')})`;
      case 'or':
        return `(${rule.rules.map((child) => predicate(child, within)).join(' OR ')})`;
      case 'not':
        return `(NOT ${predicate(rule.rule, within)})`;
      case 'trait':
        return traitPredicate(rule);
      case 'identifier':
        return `coalesce(${identifierTable(rule.type)}.v, false)`;
      case 'consent':
        return consentPredicate(rule);
      case 'event': {
        const name = eventTable(rule);
        const value =
          rule.aggregate === 'count' || rule.aggregate === 'sum' ? `coalesce(${name}.v, 0)` : `${name}.v`;
        return `coalesce(${compareNumber(value, rule.op, rule.value)}, false)`;
      }
      case 'occurrence': {
        const name = occurrenceTable(rule);
        return `coalesce(${dateTest(`${name}.v`, rule.test)}, false)`;
      }
      case 'segment': {
        if (within.includes(rule.segment)) {
          throw new Error(`segment "${rule.segment}" refers to itself through ${within.join(' → ')}`);
        }
        const segmentRule = options.segmentRule(rule.segment);
        if (segmentRule === undefined) throw new Error(`no segment named "${rule.segment}"`);
        return predicate(segmentRule, [...within, rule.segment]);
      }
    }
  }

  function rollupInsert(computed: EventExpression, from: string, conditions: readonly string[]): string {
    const { aggregate } = computed;
    const { property, number, where } = expressionInput(computed, [
      'e.profile_id IS NOT NULL',
      ...conditions,
    ]);
    const groups = [`e.profile_id`, `date_trunc('day', e.timestamp)`];
    let value = 'NULL::JSON';
    switch (aggregate) {
      case 'sum':
      case 'avg':
        value = `to_json(sum(${number}))`;
        break;
      case 'min':
      case 'max':
        value = `to_json(${aggregate}(${number}))`;
        break;
      case 'first':
      case 'last': {
        const direction = aggregate === 'first' ? 'ASC' : 'DESC';
        if (property !== undefined)
          value = `first(${property} ORDER BY e.timestamp ${direction}, e.seq ${direction})`;
        break;
      }
      case 'mode':
      case 'distinct':
        groups.push(`${property}::VARCHAR`);
        value = `any_value(${property})`;
        break;
    }
    return `INSERT INTO computed_trait_rollups
      SELECT ${param(expressionKey(computed))}, ${param(computed.event)}, e.profile_id, min(e.timestamp), max(e.timestamp),
             count(*), ${property === undefined ? '0' : `count(${number})`}, ${value}
      FROM ${from} e WHERE ${where.join(' AND ')}
      GROUP BY ${groups.join(', ')}`;
  }

  function compareNumber(value: string, op: NumberOp, bound: number): string {
    return `${value} ${op === '!=' ? '<>' : op} ${param(bound)}::DOUBLE`;
  }

  return {
    ctes,
    joins,
    params,
    param,
    predicate,
    expression,
    rollupInsert,
    get candidates() {
      return candidates;
    },
    narrowTo(sql) {
      ctes.push(sql);
      candidates = true;
    },
  };
}

/** A JSON path reaching into nested objects, each key quoted. */
function jsonPath(path: readonly string[]): string {
  return `$${path.map((key) => `.${JSON.stringify(key)}`).join('')}`;
}

/**
 * Milliseconds of an ISO 8601 text (a VARCHAR expression), NULL when it is not one: the forms
 * parseIsoDate accepts, UTC when there is no offset.
 */
export function isoMs(text: string): string {
  return `CASE WHEN NOT regexp_full_match(${text}, '${isoDatePattern}') THEN NULL
    WHEN regexp_matches(${text}, '(Z|[+-]\\d{2}:?\\d{2})$') THEN epoch_ms(try_cast(${text} AS TIMESTAMPTZ))::DOUBLE
    ELSE epoch_ms(try_cast(${text} AS TIMESTAMP))::DOUBLE END`;
}

/**
 * The order in which a trait's observations are preferred, best first, as in mergeTraits:
 * first-touch traits keep the earliest; traits with a source order prefer the best-ranked source,
 * then the latest; the others the latest. Ties go to the observation recorded last.
 */
export function traitOrder(name: string, rules: TraitRules, param: (value: DuckDBValue) => string): string {
  if (rules.firstTouch.includes(name)) return 'o.observed_at ASC, o.rowid ASC';
  const sources = rules.sourcePriority[name];
  if (sources === undefined || sources.length === 0) return 'o.observed_at DESC, o.rowid DESC';
  const order = `from_json(${param(JSON.stringify(sources))}, '["VARCHAR"]')`;
  const rank = `coalesce(list_position(${order}, o.source_id), ${sources.length + 1})`;
  return `${rank} ASC, o.observed_at DESC, o.rowid DESC`;
}
