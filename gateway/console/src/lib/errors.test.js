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

test("volunteer rules and refusals are said in Chinese", () => {
  assert.deepEqual(fieldErrors({ field: "id_number", rule: "id_check_character" }), {
    id_number: "身份证号校验位不正确",
  });
  assert.equal(fieldErrors({ field: "phone", rule: "phone_format" }).phone, "手机号格式不正确（11 位大陆手机号）");
  const ended = errorMessage(409, { code: "ACTIVITY_ENDED", details: { ends_at: "2026-10-10T04:00:00+00:00" } });
  assert.equal(ended, "活动已于 2026-10-10 12:00 结束，不能再报名");
  const own = errorMessage(403, { code: "SELF_VERIFICATION", details: { entry_id: "x", reason: "you logged these hours" } });
  assert.ok(own.includes("您登记的"));
});
