import { test } from "node:test";
import assert from "node:assert/strict";
import { errorMessage, fieldErrors } from "./errors.js";

test("a rule code becomes a Chinese message under its field", () => {
  assert.deepEqual(fieldErrors({ field: "uscc", rule: "check_character" }), {
    uscc: "统一社会信用代码校验位不正确",
  });
});

test("schema messages, nested ones too, become Chinese", () => {
  const errors = fieldErrors({
    fields: { title: ["Missing data for required field."], milestones: { 0: { amount: ["Must be greater than or equal to 1."] } } },
  });
  assert.equal(errors.title, "必填");
  assert.equal(errors["milestones.0.amount"], "不能小于 1");
});

test("a 409 names the current state in Chinese", () => {
  const message = errorMessage(409, {
    code: "INVALID_TRANSITION",
    message: "cannot publish this project: its status is 'published'",
    details: { entity: "project", action: "publish", current_status: "published" },
  });
  assert.equal(message, "该项目当前状态为「已发布」，不能进行此操作");
});

test("no English server message ever comes through", () => {
  const message = errorMessage(418, { code: "WHATEVER", message: "some English" });
  assert.ok(!/[A-Za-z]/.test(message));
});
