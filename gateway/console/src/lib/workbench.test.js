import { test } from "node:test";
import assert from "node:assert/strict";
import { daysSince, linkOf, waitedText } from "./workbench.js";

test("a workbench figure leads to the list behind it, with the filters it was counted under", () => {
  const card = { count: 2, filters: { status: "reported", running: "true", sort: "reported_at" } };
  assert.deepEqual(linkOf("reports_awaiting_decision", card), {
    path: "/milestones",
    query: { status: "reported", running: "true", sort: "reported_at" },
  });
  assert.equal(linkOf("payments_this_month", { filters: { status: "paid" } }).path, "/payments");
  assert.equal(linkOf("hours_this_month", { filters: {} }).path, "/hours-report");
  assert.equal(linkOf("projects_by_status", { filters: { status: "draft", within: "x" } }).query.within, "x");
});

test("how long a report has waited, in days", () => {
  const now = new Date("2026-03-28T06:00:00Z");
  assert.equal(daysSince("2026-03-25T05:00:00Z", now), 3);
  assert.equal(waitedText("2026-03-28T01:00:00Z", now), "今天提交");
  assert.equal(waitedText("2026-03-26T01:00:00Z", now), "已等待 2 天");
  assert.equal(waitedText(null, now), "");
});
