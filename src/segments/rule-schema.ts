/**
 * The JSON form of the segment language: a JSON Schema of the tree in rule.ts (for the OpenAPI
 * document of the segments API and for checking a rule that arrives as JSON), and validateRule,
 * which adds the checks a schema cannot say.
 */
import { Ajv, type ErrorObject } from 'ajv';
import { Type, type Static } from 'typebox';
import {
  consentTests,
  parseIsoDate,
  purposePattern,
  type DateRef,
  type Duration,
  type PropertyFilter,
  type Rule,
  type ValueTest,
} from './rule.ts';

const closed = { additionalProperties: false } as const;
const Name = Type.String({ minLength: 1 });
const Path = (description: string) => Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description });
const IsoDate = Type.String({
  minLength: 1,
  description:
    'An ISO 8601 date or date-time, e.g. 2026-01-31 or 2026-01-31T08:00:00Z (UTC without an offset).',
});
const Scalar = Type.Union([Type.String(), Type.Number(), Type.Boolean()]);

/**
 * The JSON Schema of a Rule. Every definition carries its own $id (TypeBox's cyclic form), so the
 * schema still resolves when it is nested inside another one, such as a request body.
 */
export const ruleSchema = Type.Cyclic(
  {
    SegmentRule: Type.Union(
      [
        Type.Ref('SegmentAndRule'),
        Type.Ref('SegmentOrRule'),
        Type.Ref('SegmentNotRule'),
        Type.Ref('SegmentTraitCondition'),
        Type.Ref('SegmentEventCondition'),
        Type.Ref('SegmentOccurrenceCondition'),
        Type.Ref('SegmentSegmentCondition'),
        Type.Ref('SegmentIdentifierCondition'),
        Type.Ref('SegmentConsentCondition'),
      ],
      { description: 'Who is in a segment: a condition, or conditions joined by and, or, not.' },
    ),
    SegmentAndRule: Type.Object(
      { kind: Type.Literal('and'), rules: Type.Array(Type.Ref('SegmentRule'), { minItems: 2 }) },
      closed,
    ),
    SegmentOrRule: Type.Object(
      { kind: Type.Literal('or'), rules: Type.Array(Type.Ref('SegmentRule'), { minItems: 2 }) },
      closed,
    ),
    SegmentNotRule: Type.Object({ kind: Type.Literal('not'), rule: Type.Ref('SegmentRule') }, closed),
    SegmentTraitCondition: Type.Object(
      { kind: Type.Literal('trait'), name: Name, test: Type.Ref('SegmentValueTest') },
      { ...closed, description: 'trait city = "Paris"' },
    ),
    SegmentEventCondition: Type.Object(
      {
        kind: Type.Literal('event'),
        aggregate: Type.Enum(['count', 'sum', 'min', 'max', 'avg']),
        event: Name,
        property: Type.Optional(
          Path(
            'The path of the numeric property sum, min, max and avg read, e.g. ["revenue"]; absent for count.',
          ),
        ),
        where: Type.Array(Type.Ref('SegmentPropertyFilter')),
        window: Type.Ref('SegmentWindow'),
        op: Type.Enum(['<', '<=', '>', '>=', '=', '!=']),
        value: Type.Number(),
      },
      { ...closed, description: 'count(event "Order Completed" in last 30 days) >= 3' },
    ),
    SegmentOccurrenceCondition: Type.Object(
      {
        kind: Type.Literal('occurrence'),
        which: Type.Enum(['first', 'last']),
        event: Name,
        where: Type.Array(Type.Ref('SegmentPropertyFilter')),
        test: Type.Ref('SegmentDateTest'),
      },
      { ...closed, description: 'last(event "Order Completed") within last 60 days' },
    ),
    SegmentSegmentCondition: Type.Object(
      { kind: Type.Literal('segment'), segment: Name },
      { ...closed, description: 'in segment "VIP"' },
    ),
    SegmentIdentifierCondition: Type.Object(
      { kind: Type.Literal('identifier'), type: Name },
      { ...closed, description: 'has email' },
    ),
    SegmentConsentCondition: Type.Object(
      {
        kind: Type.Literal('consent'),
        purpose: Type.String({
          pattern: purposePattern,
          description: 'A consent purpose: email, sms, push, postal, phone, analytics... or a custom one.',
        }),
        test: Type.Enum([...consentTests], {
          description:
            'may-use: granted (and for email, confirmed when the rules ask for double opt-in); granted, denied, unknown: the state alone.',
        }),
      },
      { ...closed, description: 'consent email, consent sms is denied' },
    ),
    SegmentPropertyFilter: Type.Object(
      {
        property: Path('A path into the event properties, e.g. ["product", "price"].'),
        test: Type.Ref('SegmentValueTest'),
      },
      closed,
    ),
    SegmentValueTest: Type.Union([
      Type.Ref('SegmentEqualityTest'),
      Type.Ref('SegmentOrderTest'),
      Type.Ref('SegmentContainsTest'),
      Type.Ref('SegmentInTest'),
      Type.Ref('SegmentExistsTest'),
      Type.Ref('SegmentDateCompareTest'),
      Type.Ref('SegmentWithinTest'),
    ]),
    SegmentDateTest: Type.Union([Type.Ref('SegmentDateCompareTest'), Type.Ref('SegmentWithinTest')]),
    SegmentEqualityTest: Type.Object({ op: Type.Enum(['=', '!=']), value: Scalar }, closed),
    SegmentOrderTest: Type.Object(
      { op: Type.Enum(['<', '<=', '>', '>=']), value: Type.Union([Type.Number(), Type.String()]) },
      closed,
    ),
    SegmentContainsTest: Type.Object({ op: Type.Literal('contains'), value: Type.String() }, closed),
    SegmentInTest: Type.Object(
      { op: Type.Literal('in'), values: Type.Array(Scalar, { minItems: 1 }) },
      closed,
    ),
    SegmentExistsTest: Type.Object({ op: Type.Literal('exists') }, closed),
    SegmentDateCompareTest: Type.Object(
      { op: Type.Enum(['before', 'after']), date: Type.Ref('SegmentDateRef') },
      closed,
    ),
    SegmentWithinTest: Type.Object({ op: Type.Literal('within'), last: Type.Ref('SegmentDuration') }, closed),
    SegmentDateRef: Type.Union([
      Type.Object({ at: IsoDate }, closed),
      Type.Object({ ago: Type.Ref('SegmentDuration') }, closed),
    ]),
    SegmentDuration: Type.Object(
      { amount: Type.Integer({ minimum: 1 }), unit: Type.Enum(['minutes', 'hours', 'days', 'weeks']) },
      closed,
    ),
    SegmentWindow: Type.Union([
      Type.Ref('SegmentEverWindow'),
      Type.Ref('SegmentLastWindow'),
      Type.Ref('SegmentBetweenWindow'),
    ]),
    SegmentEverWindow: Type.Object({ kind: Type.Literal('ever') }, closed),
    SegmentLastWindow: Type.Object(
      { kind: Type.Literal('last'), duration: Type.Ref('SegmentDuration') },
      closed,
    ),
    SegmentBetweenWindow: Type.Object(
      { kind: Type.Literal('between'), from: IsoDate, to: IsoDate },
      { ...closed, description: 'from <= timestamp < to' },
    ),
  },
  'SegmentRule',
);

// Whatever the schema accepts is a Rule: the compiler keeps the schema from drifting from rule.ts.
const _schemaAcceptsOnlyRules = (value: Static<typeof ruleSchema>): Rule => value;

/** One problem with a rule in JSON form: where (e.g. `rules[1].test.op`, empty for the rule itself) and what. */
export interface RuleError {
  readonly path: string;
  readonly message: string;
}

export interface ValidateOptions {
  /** The consent purposes a rule may test (ConsentRules.purposes); any purpose name when absent. */
  readonly purposes?: readonly string[];
}

/** Checks a rule in JSON form: its shape against ruleSchema, then what a schema cannot say. */
export function validateRule(
  value: unknown,
  options: ValidateOptions = {},
): { ok: true; rule: Rule } | { ok: false; errors: RuleError[] } {
  if (!checkShape(value)) return { ok: false, errors: describeSchemaErrors(checkShape.errors ?? []) };
  const rule = value as Rule;
  const errors: RuleError[] = [];
  checkRule(rule, '', errors, options);
  return errors.length === 0 ? { ok: true, rule } : { ok: false, errors };
}

// ---------------------------------------------------------------------------------------------
// Shape

interface JsonSchema {
  [keyword: string]: unknown;
}

// The exported schema stays plain JSON Schema, which any ajv accepts. The checker's copy marks its
// tagged unions with OpenAPI's discriminator, so ajv reports the errors of the branch the tag
// names instead of one per branch.
const tags: Readonly<Record<string, string>> = {
  SegmentRule: 'kind',
  SegmentValueTest: 'op',
  SegmentDateTest: 'op',
  SegmentWindow: 'kind',
};

const discriminated = JSON.parse(JSON.stringify(ruleSchema)) as { $defs: Record<string, JsonSchema> };
/** The tag values each discriminated union accepts, to say them when a tag is wrong. */
const tagValues = new Map<object, { tag: string; values: string[] }>();
for (const [name, tag] of Object.entries(tags)) {
  const { anyOf, ...rest } = discriminated.$defs[name] as JsonSchema & { anyOf: { $ref: string }[] };
  const values = anyOf.flatMap((branch) => {
    const property = (
      (discriminated.$defs[branch.$ref] as JsonSchema).properties as Record<string, JsonSchema>
    )[tag] as JsonSchema;
    return property.const === undefined ? (property.enum as string[]) : [property.const as string];
  });
  const union = {
    ...rest,
    type: 'object',
    required: [tag],
    discriminator: { propertyName: tag },
    oneOf: anyOf,
  };
  discriminated.$defs[name] = union;
  tagValues.set(union, { tag, values });
}

const checkShape = new Ajv({ allErrors: true, discriminator: true, verbose: true }).compile(discriminated);

function describeSchemaErrors(errors: readonly ErrorObject[]): RuleError[] {
  const described: RuleError[] = [];
  const seen = new Set<string>();
  const add = (path: string, message: string): void => {
    const key = `${path}\n${message}`;
    if (seen.has(key)) return;
    seen.add(key);
    described.push({ path, message });
  };
  // In allErrors mode ajv lists a union's branch errors just before the union's own. A branch
  // that got past the value's own shape is the one that was meant: its errors replace the union's.
  const inBranch = new Set<ErrorObject>();
  const unionErrors = new Map<ErrorObject, ErrorObject[]>();
  errors.forEach((error, index) => {
    if (error.keyword !== 'anyOf') return;
    const inside = (other: ErrorObject): boolean =>
      other.instancePath === error.instancePath || other.instancePath.startsWith(`${error.instancePath}/`);
    const branches: ErrorObject[] = [];
    for (let at = index - 1; at >= 0; at--) {
      const other = errors[at] as ErrorObject;
      if (!inside(other) || inBranch.has(other)) break;
      branches.unshift(other);
      inBranch.add(other);
    }
    unionErrors.set(
      error,
      branches.filter((branch) => branch.instancePath !== error.instancePath),
    );
  });
  for (const error of errors) {
    const deeper = unionErrors.get(error);
    if (deeper === undefined) {
      if (!inBranch.has(error)) describeOne(error, add);
    } else if (deeper.length > 0) {
      deeper.forEach((branch) => describeOne(branch, add));
    } else {
      add(toPath(error.instancePath), `must be ${describeUnion(error.parentSchema as JsonSchema)}`);
    }
  }
  // A missing tag shows up twice, as required and as the discriminator's complaint, which says more.
  return described.filter(
    (error) =>
      error.message !== 'is required' ||
      !described.some((other) => other !== error && other.path === error.path),
  );
}

function describeOne(error: ErrorObject, add: (path: string, message: string) => void): void {
  const path = toPath(error.instancePath);
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return add(join(path, String(params.missingProperty)), 'is required');
    case 'additionalProperties':
      return add(join(path, String(params.additionalProperty)), 'is not a field here: remove it');
    case 'type':
      return add(path, `must be ${describeType(String(params.type))}`);
    case 'const':
      return add(path, `must be ${JSON.stringify(params.allowedValue)}`);
    case 'enum':
      return add(
        path,
        `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`,
      );
    case 'minItems':
      return add(path, `must hold at least ${String(params.limit)} ${params.limit === 1 ? 'item' : 'items'}`);
    case 'minLength':
      return add(path, 'must not be empty');
    case 'minimum':
      return add(path, `must be ${String(params.limit)} or more`);
    case 'pattern':
      // Purpose names are the only strings with a pattern.
      return add(
        path,
        'must be a consent purpose: lower-case letters, digits and _, starting with a letter, e.g. "email"',
      );
    case 'discriminator': {
      const known = tagValues.get(error.parentSchema as object);
      const tag = String(params.tag);
      const allowed = known === undefined ? '' : `: one of ${known.values.join(', ')}`;
      if (params.error === 'mapping') {
        return add(join(path, tag), `${JSON.stringify(params.tagValue)} is not a known ${tag}${allowed}`);
      }
      return add(join(path, tag), `is required and must be a string${allowed}`);
    }
    default:
      return add(path, error.message ?? 'is invalid');
  }
}

function describeType(type: string): string {
  const articles: Record<string, string> = {
    string: 'a string',
    number: 'a number',
    integer: 'a whole number',
    boolean: 'a boolean',
    object: 'an object',
    array: 'a list',
  };
  return articles[type] ?? type;
}

function describeUnion(union: JsonSchema): string {
  const branches = ((union.anyOf ?? []) as JsonSchema[]).map((branch) =>
    branch.type === 'object'
      ? `{${((branch.required ?? []) as string[]).map((key) => `"${key}": ...`).join(', ')}}`
      : describeType(String(branch.type)),
  );
  return orList(branches);
}

function orList(items: readonly string[]): string {
  if (items.length <= 1) return items[0] ?? '';
  return `${items.slice(0, -1).join(', ')} or ${items[items.length - 1] ?? ''}`;
}

function toPath(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((path, part) => (/^\d+$/.test(part) ? `${path}[${part}]` : join(path, part)), '');
}

function join(path: string, key: string): string {
  const step = /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? key : JSON.stringify(key);
  return path === '' ? step : `${path}.${step}`;
}

// ---------------------------------------------------------------------------------------------
// What the schema cannot say

const isoHint = 'must be an ISO 8601 date, e.g. 2026-01-31 or 2026-01-31T08:00:00Z';

function checkRule(rule: Rule, path: string, errors: RuleError[], options: ValidateOptions): void {
  switch (rule.kind) {
    case 'and':
    case 'or':
      rule.rules.forEach((child, index) =>
        checkRule(child, `${join(path, 'rules')}[${index}]`, errors, options),
      );
      return;
    case 'not':
      return checkRule(rule.rule, join(path, 'rule'), errors, options);
    case 'trait':
      return checkValueTest(rule.test, join(path, 'test'), errors);
    case 'event': {
      if (rule.aggregate === 'count' && rule.property !== undefined) {
        errors.push({
          path: join(path, 'property'),
          message: 'count counts events and reads no property: remove it, or use sum, min, max or avg',
        });
      }
      if (rule.aggregate !== 'count' && rule.property === undefined) {
        errors.push({
          path: join(path, 'property'),
          message: `is required: ${rule.aggregate} reads a numeric property, e.g. ["revenue"]`,
        });
      }
      checkFilters(rule.where, join(path, 'where'), errors);
      const window = rule.window;
      if (window.kind === 'last')
        checkDuration(window.duration, join(join(path, 'window'), 'duration'), errors);
      if (window.kind === 'between') {
        const from = parseIsoDate(window.from);
        const to = parseIsoDate(window.to);
        if (from === undefined) errors.push({ path: join(join(path, 'window'), 'from'), message: isoHint });
        if (to === undefined) errors.push({ path: join(join(path, 'window'), 'to'), message: isoHint });
        if (from !== undefined && to !== undefined && from >= to) {
          errors.push({
            path: join(join(path, 'window'), 'to'),
            message: `must be after window.from (${window.from}): the window holds from <= timestamp < to`,
          });
        }
      }
      return;
    }
    case 'occurrence':
      checkFilters(rule.where, join(path, 'where'), errors);
      return checkValueTest(rule.test, join(path, 'test'), errors);
    case 'consent': {
      const known = options.purposes;
      if (known !== undefined && !known.includes(rule.purpose)) {
        errors.push({
          path: join(path, 'purpose'),
          message: `"${rule.purpose}" is not a consent purpose: one of ${known.join(', ')} (add others to the rules file under consent.purposes)`,
        });
      }
      return;
    }
    case 'segment':
    case 'identifier':
      return;
  }
}

function checkFilters(filters: readonly PropertyFilter[], path: string, errors: RuleError[]): void {
  filters.forEach((filter, index) => checkValueTest(filter.test, `${path}[${index}].test`, errors));
}

function checkValueTest(test: ValueTest, path: string, errors: RuleError[]): void {
  if (test.op === 'before' || test.op === 'after') checkDateRef(test.date, join(path, 'date'), errors);
  if (test.op === 'within') checkDuration(test.last, join(path, 'last'), errors);
}

function checkDateRef(ref: DateRef, path: string, errors: RuleError[]): void {
  if ('at' in ref) {
    if (parseIsoDate(ref.at) === undefined) errors.push({ path: join(path, 'at'), message: isoHint });
  } else checkDuration(ref.ago, join(path, 'ago'), errors);
}

function checkDuration(duration: Duration, path: string, errors: RuleError[]): void {
  if (!Number.isSafeInteger(duration.amount)) {
    errors.push({ path: join(path, 'amount'), message: 'must be a whole number no larger than 2^53 - 1' });
  }
}
