import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isRfmGroupName, rfmCells, rfmGroup, rfmGroups, rfmScores } from './rfm.ts';

// The grid as marketers draw it: rows R5 to R1, columns F1 to F5.
const grid = [
  ['New Customers', 'Potential Loyalists', 'Potential Loyalists', 'Champions', 'Champions'],
  ['Promising', 'Potential Loyalists', 'Potential Loyalists', 'Loyal Customers', 'Champions'],
  ['About to Sleep', 'About to Sleep', 'Need Attention', 'Loyal Customers', 'Loyal Customers'],
  ['Hibernating', 'Hibernating', 'At Risk', 'At Risk', "Can't Lose Them"],
  ['Lost', 'Lost', 'At Risk', 'At Risk', "Can't Lose Them"],
];

describe('rfmGroup', () => {
  for (const [row, names] of grid.entries()) {
    const r = 5 - row;
    for (const [column, name] of names.entries()) {
      const f = column + 1;
      test(`R${r} F${f} is ${name}`, () => {
        assert.equal(rfmGroup(r, f), name);
      });
    }
  }

  test('every group has at least one cell, and the cells of all groups are the 25 cells once each', () => {
    const cells = rfmGroups.flatMap((group) => {
      const found = rfmCells(group.name);
      assert.ok(found.length > 0, `${group.name} has no cell`);
      return found.map(({ r, f }) => `${r}${f}`);
    });
    assert.equal(cells.length, 25);
    assert.equal(new Set(cells).size, 25);
  });

  test('the cells of a group', () => {
    assert.deepEqual(rfmCells('Champions'), [
      { r: 4, f: 5 },
      { r: 5, f: 4 },
      { r: 5, f: 5 },
    ]);
    assert.deepEqual(rfmCells("Can't Lose Them"), [
      { r: 1, f: 5 },
      { r: 2, f: 5 },
    ]);
  });

  test('scores outside 1 to 5 are refused', () => {
    assert.throws(() => rfmGroup(0, 3), /R0 F3/);
    assert.throws(() => rfmGroup(3, 6), /R3 F6/);
    assert.throws(() => rfmGroup(2.5, 1), RangeError);
  });
});

test('the groups are listed once each, each with a description', () => {
  assert.equal(rfmGroups.length, 11);
  assert.equal(new Set(rfmGroups.map((group) => group.name)).size, 11);
  for (const group of rfmGroups) assert.ok(group.description.length > 20, group.name);
  assert.deepEqual(rfmScores, [1, 2, 3, 4, 5]);
  assert.equal(isRfmGroupName('Champions'), true);
  assert.equal(isRfmGroupName('champions'), false);
});
