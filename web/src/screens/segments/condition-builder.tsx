import { useState, type FormEvent } from 'react';
import { Field } from './parts.tsx';
import { useTranslation } from 'react-i18next';
import {
  buildCondition,
  builtInPurposes,
  conditionKinds,
  consentStates,
  identifierTypes,
  numberOperators,
  traitOperators,
  valueTypes,
  type Condition,
  type ConditionKind,
  type ConsentState,
  type NumberOperator,
  type TraitOperator,
  type ValueType,
} from './rule-builder.ts';

const suggestedTraits = ['city', 'country', 'plan', 'email', 'phone', 'firstName', 'lastName', 'postalCode'];
const suggestedEvents = [
  'Order Completed',
  'Product Viewed',
  'Product Added',
  'Checkout Started',
  'Signed Up',
];

interface Fields {
  name: string;
  traitOperator: TraitOperator;
  value: string;
  valueType: ValueType;
  event: string;
  numberOperator: NumberOperator;
  count: string;
  property: string;
  amount: string;
  days: string;
  negate: boolean;
  segment: string;
  purpose: string;
  state: ConsentState;
  identifier: string;
}

const initialFields: Fields = {
  name: '',
  traitOperator: '=',
  value: '',
  valueType: 'text',
  event: 'Order Completed',
  numberOperator: '>=',
  count: '1',
  property: 'revenue',
  amount: '100',
  days: '30',
  negate: false,
  segment: '',
  purpose: 'email',
  state: 'may-use',
  identifier: 'email',
};

function conditionOf(kind: ConditionKind, fields: Fields, segment: string): Condition {
  switch (kind) {
    case 'trait':
      return {
        kind,
        name: fields.name,
        operator: fields.traitOperator,
        value: fields.value,
        valueType: fields.valueType,
      };
    case 'count':
      return {
        kind,
        event: fields.event,
        operator: fields.numberOperator,
        count: fields.count,
        days: fields.days,
      };
    case 'sum':
      return {
        kind,
        event: fields.event,
        property: fields.property,
        operator: fields.numberOperator,
        amount: fields.amount,
        days: fields.days,
      };
    case 'segment':
      return { kind, negate: fields.negate, segment };
    case 'consent':
      return { kind, purpose: fields.purpose, state: fields.state };
    case 'identifier':
      return { kind, negate: fields.negate, type: fields.identifier };
  }
}

/**
 * A form for the common conditions. It writes the condition in the rule language and appends it
 * to the text, so what the form builds can be read and changed there.
 */
export function ConditionBuilder({
  ruleIsEmpty,
  segmentNames,
  onAdd,
}: {
  readonly ruleIsEmpty: boolean;
  readonly segmentNames: readonly string[];
  readonly onAdd: (condition: string, join: 'and' | 'or') => void;
}) {
  const { t } = useTranslation('segments');
  const [kind, setKind] = useState<ConditionKind>('trait');
  const [join, setJoin] = useState<'and' | 'or'>('and');
  const [fields, setFields] = useState<Fields>(initialFields);
  const set = <K extends keyof Fields>(key: K, value: Fields[K]) =>
    setFields((current) => ({ ...current, [key]: value }));
  // The first segment until one is chosen, so the select never shows a choice it does not hold.
  const segment = segmentNames.includes(fields.segment) ? fields.segment : (segmentNames[0] ?? '');
  const built = buildCondition(conditionOf(kind, fields, segment));

  function submit(event: FormEvent) {
    event.preventDefault();
    if (built.ok) onAdd(built.text, join);
  }

  const eventFields = (
    <>
      <Field label={t('builder.event')}>
        {(id) => (
          <input
            id={id}
            list="segment-builder-events"
            value={fields.event}
            onChange={(e) => set('event', e.target.value)}
          />
        )}
      </Field>
      <datalist id="segment-builder-events">
        {suggestedEvents.map((name) => (
          <option key={name} value={name} />
        ))}
      </datalist>
    </>
  );
  const comparison = (
    <Field label={t('builder.comparison')}>
      {(id) => (
        <select
          id={id}
          value={fields.numberOperator}
          onChange={(e) => set('numberOperator', e.target.value as NumberOperator)}
        >
          {numberOperators.map((operator) => (
            <option key={operator} value={operator}>
              {t(`builder.op.${operator}`)}
            </option>
          ))}
        </select>
      )}
    </Field>
  );
  const days = (
    <Field label={t('builder.days')}>
      {(id) => (
        <input
          id={id}
          type="number"
          min={1}
          inputMode="numeric"
          className="narrow"
          value={fields.days}
          placeholder={t('builder.allTime')}
          onChange={(e) => set('days', e.target.value)}
        />
      )}
    </Field>
  );

  return (
    <form
      className="card stack condition-builder"
      onSubmit={submit}
      aria-labelledby="condition-builder-title"
    >
      <header className="card-header">
        <h2 id="condition-builder-title">{t('builder.title')}</h2>
      </header>
      <div className="row">
        <Field label={t('builder.kind')}>
          {(id) => (
            <select id={id} value={kind} onChange={(e) => setKind(e.target.value as ConditionKind)}>
              {conditionKinds.map((option) => (
                <option key={option} value={option}>
                  {t(`builder.kind.${option}`)}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label={t('builder.join')}>
          {(id) => (
            <select
              id={id}
              value={join}
              disabled={ruleIsEmpty}
              onChange={(e) => setJoin(e.target.value === 'or' ? 'or' : 'and')}
            >
              <option value="and">{t('builder.join.and')}</option>
              <option value="or">{t('builder.join.or')}</option>
            </select>
          )}
        </Field>
      </div>
      <div className="row">
        {kind === 'trait' && (
          <>
            <Field label={t('builder.trait')}>
              {(id) => (
                <input
                  id={id}
                  list="segment-builder-traits"
                  value={fields.name}
                  onChange={(e) => set('name', e.target.value)}
                />
              )}
            </Field>
            <datalist id="segment-builder-traits">
              {suggestedTraits.map((name) => (
                <option key={name} value={name} />
              ))}
            </datalist>
            <Field label={t('builder.test')}>
              {(id) => (
                <select
                  id={id}
                  value={fields.traitOperator}
                  onChange={(e) => set('traitOperator', e.target.value as TraitOperator)}
                >
                  {traitOperators.map((operator) => (
                    <option key={operator} value={operator}>
                      {t(`builder.op.${operator}`)}
                    </option>
                  ))}
                </select>
              )}
            </Field>
            {fields.traitOperator !== 'exists' && fields.traitOperator !== 'contains' && (
              <Field label={t('builder.valueType')}>
                {(id) => (
                  <select
                    id={id}
                    value={fields.valueType}
                    onChange={(e) => set('valueType', e.target.value as ValueType)}
                  >
                    {valueTypes.map((type) => (
                      <option key={type} value={type}>
                        {t(`builder.valueType.${type}`)}
                      </option>
                    ))}
                  </select>
                )}
              </Field>
            )}
            {fields.traitOperator !== 'exists' &&
              (fields.valueType === 'boolean' && fields.traitOperator !== 'contains' ? (
                <Field label={t('builder.value')}>
                  {(id) => (
                    <select
                      id={id}
                      value={fields.value === 'false' ? 'false' : 'true'}
                      onChange={(e) => set('value', e.target.value)}
                    >
                      <option value="true">{t('yes', { ns: 'common' })}</option>
                      <option value="false">{t('no', { ns: 'common' })}</option>
                    </select>
                  )}
                </Field>
              ) : (
                <Field label={t('builder.value')}>
                  {(id) => (
                    <input id={id} value={fields.value} onChange={(e) => set('value', e.target.value)} />
                  )}
                </Field>
              ))}
          </>
        )}
        {kind === 'count' && (
          <>
            {eventFields}
            {comparison}
            <Field label={t('builder.times')}>
              {(id) => (
                <input
                  id={id}
                  type="number"
                  min={0}
                  inputMode="numeric"
                  className="narrow"
                  value={fields.count}
                  onChange={(e) => set('count', e.target.value)}
                />
              )}
            </Field>
            {days}
          </>
        )}
        {kind === 'sum' && (
          <>
            {eventFields}
            <Field label={t('builder.property')}>
              {(id) => (
                <input id={id} value={fields.property} onChange={(e) => set('property', e.target.value)} />
              )}
            </Field>
            {comparison}
            <Field label={t('builder.amount')}>
              {(id) => (
                <input
                  id={id}
                  type="number"
                  step="any"
                  inputMode="decimal"
                  className="narrow"
                  value={fields.amount}
                  onChange={(e) => set('amount', e.target.value)}
                />
              )}
            </Field>
            {days}
          </>
        )}
        {kind === 'segment' && (
          <>
            <Field label={t('builder.membership')}>
              {(id) => (
                <select
                  id={id}
                  value={fields.negate ? 'out' : 'in'}
                  onChange={(e) => set('negate', e.target.value === 'out')}
                >
                  <option value="in">{t('builder.membership.in')}</option>
                  <option value="out">{t('builder.membership.out')}</option>
                </select>
              )}
            </Field>
            {segmentNames.length === 0 ? (
              <p className="muted">{t('builder.noSegments')}</p>
            ) : (
              <Field label={t('builder.segment')}>
                {(id) => (
                  <select id={id} value={segment} onChange={(e) => set('segment', e.target.value)}>
                    {segmentNames.map((name) => (
                      <option key={name} value={name}>
                        {name}
                      </option>
                    ))}
                  </select>
                )}
              </Field>
            )}
          </>
        )}
        {kind === 'consent' && (
          <>
            <Field label={t('builder.purpose')}>
              {(id) => (
                <input
                  id={id}
                  list="segment-builder-purposes"
                  value={fields.purpose}
                  onChange={(e) => set('purpose', e.target.value)}
                />
              )}
            </Field>
            <datalist id="segment-builder-purposes">
              {builtInPurposes.map((purpose) => (
                <option key={purpose} value={purpose} />
              ))}
            </datalist>
            <Field label={t('builder.state')}>
              {(id) => (
                <select
                  id={id}
                  value={fields.state}
                  onChange={(e) => set('state', e.target.value as ConsentState)}
                >
                  {consentStates.map((state) => (
                    <option key={state} value={state}>
                      {t(`builder.state.${state}`)}
                    </option>
                  ))}
                </select>
              )}
            </Field>
          </>
        )}
        {kind === 'identifier' && (
          <>
            <Field label={t('builder.presence')}>
              {(id) => (
                <select
                  id={id}
                  value={fields.negate ? 'without' : 'with'}
                  onChange={(e) => set('negate', e.target.value === 'without')}
                >
                  <option value="with">{t('builder.presence.with')}</option>
                  <option value="without">{t('builder.presence.without')}</option>
                </select>
              )}
            </Field>
            <Field label={t('builder.identifier')}>
              {(id) => (
                <select id={id} value={fields.identifier} onChange={(e) => set('identifier', e.target.value)}>
                  {identifierTypes.map((type) => (
                    <option key={type} value={type}>
                      {t(`builder.identifier.${type}`)}
                    </option>
                  ))}
                </select>
              )}
            </Field>
          </>
        )}
      </div>
      <p className="condition-output" aria-live="polite">
        {built.ok ? (
          <>
            <span className="muted">{t('builder.adds')}</span>{' '}
            <code data-testid="builder-condition">{built.text}</code>
          </>
        ) : (
          <span className="muted">{t(`builder.problem.${built.problem}`)}</span>
        )}
      </p>
      <div className="row">
        <button type="submit" disabled={!built.ok}>
          {t('builder.add')}
        </button>
      </div>
    </form>
  );
}
