import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expressionKey } from './expression-key.ts';
import { parseExpression } from './segment-text.ts';

describe('expressionKey', () => {
  it('is the same for the same expression however written, and differs when it computes something else', () => {
    const text = parseExpression(
      'sum(event "Order Completed".revenue where category = "shoes" in last 90 days)',
    );
    const reordered = JSON.parse(
      JSON.stringify({
        window: text.window,
        where: text.where,
        property: text.property,
        event: text.event,
        aggregate: text.aggregate,
      }),
    ) as typeof text;
    assert.equal(expressionKey(reordered), expressionKey(text));
    assert.match(expressionKey(text), /^[0-9a-f]{24}$/);
    const others = [
      'sum(event "Order Completed".revenue where category = "shoes" in last 30 days)',
      'sum(event "Order Completed".revenue in last 90 days)',
      'avg(event "Order Completed".revenue where category = "shoes" in last 90 days)',
      'sum(event "Order Refunded".revenue where category = "shoes" in last 90 days)',
    ].map((other) => expressionKey(parseExpression(other)));
    assert.equal(new Set([expressionKey(text), ...others]).size, 5);
  });
});
