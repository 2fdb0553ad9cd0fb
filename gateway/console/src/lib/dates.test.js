import { test } from "node:test";
import assert from "node:assert/strict";
import { formatDate, formatDateTime } from "./dates.js";

test("instants are shown in China time", () => {
  assert.equal(formatDateTime("2026-03-28T06:05:00+00:00"), "2026-03-28 14:05");
  assert.equal(formatDateTime("2026-03-28T20:30:00Z"), "2026-03-29 04:30");
  assert.equal(formatDate("2026-03-28T20:30:00Z"), "2026-03-29");
  assert.equal(formatDate("2026-03-28"), "2026-03-28");
  assert.equal(formatDate(null), "—");
});
