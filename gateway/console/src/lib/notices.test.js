import { test } from "node:test";
import assert from "node:assert/strict";
import { badgeText, kindLabel, routeOf } from "./notices.js";

test("the badge shows nothing at zero, the count, then 99+", () => {
  assert.equal(badgeText(0), "");
  assert.equal(badgeText(undefined), "");
  assert.equal(badgeText(7), "7");
  assert.equal(badgeText(120), "99+");
});

test("a notice leads to the console's own route only", () => {
  assert.equal(routeOf({ link: "/contracts/abc" }), "/contracts/abc");
  assert.equal(routeOf({ link: "https://elsewhere.example/x" }), null);
  assert.equal(routeOf({ link: "//elsewhere.example/x" }), null);
  assert.equal(routeOf({ link: null }), null);
});

test("every kind has its Chinese name", () => {
  assert.equal(kindLabel("milestone_due"), "里程碑到期提醒");
  assert.equal(kindLabel("something_new"), "通知");
});
