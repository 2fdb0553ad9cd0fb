import { test } from "node:test";
import assert from "node:assert/strict";
import { byField, changeText, percent, weightChanges } from "./assessment.js";

test("a weights change names the indicators it touches", () => {
  const before = { coverage_rate: 10, money_paid: 10 };
  const after = { coverage_rate: 20, money_paid: 10 };
  assert.deepEqual(weightChanges(before, after), [{ code: "coverage_rate", label: "组建率", before: 10, after: 20 }]);
  assert.equal(changeText(before, after), "组建率 10→20");
  assert.equal(changeText(before, before), "无变化");
});

test("sorting puts no data lowest", () => {
  const rows = [{ v: 3 }, { v: null }, { v: 7 }];
  assert.deepEqual([...rows].sort(byField("v")).map((r) => r.v), [null, 3, 7]);
});

test("a share shows with its sign, no data as a dash", () => {
  assert.equal(percent(null), "—");
  assert.equal(percent(95.5), "95.5%");
});
