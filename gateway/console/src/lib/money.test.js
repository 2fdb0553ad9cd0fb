import { test } from "node:test";
import assert from "node:assert/strict";
import { fenToYuanText, formatFen, parseYuan, sumFen } from "./money.js";

test("typed yuan become integer fen without float rounding", () => {
  assert.equal(parseYuan("0.1"), 10);
  assert.equal(parseYuan("0.2"), 20);
  assert.equal(formatFen(parseYuan("0.1") + parseYuan("0.2")), "¥0.30");
  assert.equal(sumFen(["0.1", "0.2"]), 30);
  assert.equal(parseYuan("1.15"), 115); // 1.15 * 100 is 114.99999999999999 in floats
  assert.equal(parseYuan("4.35"), 435);
  assert.equal(parseYuan("12345.6"), 1234560);
  assert.equal(parseYuan("12,345.60"), 1234560);
  assert.equal(parseYuan("¥90,000"), 9000000);
  assert.equal(parseYuan(" 7 "), 700);
  assert.equal(parseYuan("3."), 300);
});

test("what is not an amount is refused", () => {
  for (const bad of ["", "abc", "1.234", "-5", "1e3", "1.2.3", "12 34", null, undefined]) {
    assert.equal(parseYuan(bad), null, String(bad));
  }
});

test("fen are shown as yuan with separators and two decimals", () => {
  assert.equal(formatFen(1234560), "¥12,345.60");
  assert.equal(formatFen(0), "¥0.00");
  assert.equal(formatFen(5), "¥0.05");
  assert.equal(formatFen(100000000000), "¥1,000,000,000.00");
  assert.equal(formatFen(-250), "-¥2.50");
  assert.equal(formatFen(null), "—");
  assert.equal(fenToYuanText(9000000), "90,000.00");
});
