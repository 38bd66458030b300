import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { eventSchemas, eventTypes, isEventType, type EventType } from '../domain/events.ts';
import type { ItemRejection } from './outcomes.ts';

const ajv = new Ajv({ allErrors: false, strict: false });
// ISO-8601 date, optionally with a time and a zone; Date.parse alone would take "1" or "March 7".
const isoTimestamp = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?$/i;
ajv.addFormat('iso-timestamp', {
  type: 'string',
  validate: (value: string) => isoTimestamp.test(value) && !Number.isNaN(Date.parse(value)),
});

const validators = Object.fromEntries(
  eventTypes.map((type) => [type, ajv.compile(eventSchemas[type])]),
) as Record<EventType, ValidateFunction>;

/** The Segment event an item became once its type is known and its fields have their spec types. */
export type ValidEvent = Record<string, unknown> & { type: EventType };

export interface ValidateOptions {
  /**
   * The spec asks every call but alias for a userId or an anonymousId. Imports of CRM and till
   * data identify people by e-mail, phone or loyalty card instead, and check that themselves.
   */
  readonly userOrAnonymousId?: boolean;
}

/** Checks one event against the schema of its call and the rules the schema cannot say. */
export function validateEvent(item: unknown, options: ValidateOptions = {}): ValidEvent | ItemRejection {
  if (item === null || typeof item !== 'object' || Array.isArray(item)) {
    return reject('CIBLE_ERR_TRACKING_NOT_AN_OBJECT', `Event is ${describe(item)}, not a JSON object.`, null);
  }
  const event = item as Record<string, unknown>;
  const type = event.type;
  if (type === undefined) {
    return reject('CIBLE_ERR_TRACKING_UNKNOWN_TYPE', 'Event has no "type".', 'type');
  }
  if (!isEventType(type)) {
    return reject(
      'CIBLE_ERR_TRACKING_UNKNOWN_TYPE',
      `Event type ${JSON.stringify(type)} is not one of ${eventTypes.join(', ')}.`,
      'type',
    );
  }
  const validate = validators[type];
  if (!validate(event)) return fromSchemaError(type, validate.errors ?? []);
  if (
    type !== 'alias' &&
    options.userOrAnonymousId !== false &&
    !present(event.userId) &&
    !present(event.anonymousId)
  ) {
    return reject(
      'CIBLE_ERR_TRACKING_MISSING_IDENTITY',
      `The ${type} event has neither "userId" nor "anonymousId".`,
      'userId',
    );
  }
  return event as ValidEvent;
}

function present(value: unknown): boolean {
  return (typeof value === 'string' && value.length > 0) || typeof value === 'number';
}

function fromSchemaError(type: EventType, errors: readonly ErrorObject[]): ItemRejection {
  // For a union, ajv lists each branch's complaint before the union's own: the union's is clearest.
  const error = errors.find((candidate) => candidate.keyword === 'anyOf') ?? errors[0];
  if (error === undefined) return reject('CIBLE_ERR_TRACKING_INVALID_FIELD', 'Event is invalid.', null);
  if (error.keyword === 'required') {
    const missing = String((error.params as { missingProperty: string }).missingProperty);
    const field = joinPath(error.instancePath, missing);
    return reject('CIBLE_ERR_TRACKING_MISSING_FIELD', `The ${type} event needs "${field}".`, field);
  }
  const field = joinPath(error.instancePath, undefined);
  const expected =
    error.keyword === 'anyOf'
      ? 'a non-empty string or a number'
      : error.keyword === 'format'
        ? 'an ISO-8601 date and time'
        : error.keyword === 'minLength'
          ? 'a non-empty string'
          : error.keyword === 'maxLength'
            ? `at most ${String((error.params as { limit: number }).limit)} characters`
            : typeName((error.params as { type?: string }).type, error.message);
  return reject('CIBLE_ERR_TRACKING_INVALID_FIELD', `"${field}" must be ${expected}.`, field);
}

function typeName(type: string | undefined, fallback: string | undefined): string {
  if (type === undefined) return fallback ?? 'valid';
  return type === 'object' || type === 'array' || type === 'integer' ? `an ${type}` : `a ${type}`;
}

function joinPath(instancePath: string, property: string | undefined): string {
  const parts = instancePath
    .split('/')
    .filter((part) => part !== '')
    .map((part) => part.replaceAll('~1', '/').replaceAll('~0', '~'));
  if (property !== undefined) parts.push(property);
  return parts.join('.');
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

function reject(code: ItemRejection['code'], message: string, field: string | null): ItemRejection {
  return { rejected: true, code, message, field };
}
