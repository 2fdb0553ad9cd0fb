import { test } from "node:test";
import assert from "node:assert/strict";
import { accountText, ageText, figuresFromJournal, holdText, holdsText, isOverdue, memoText } from "./finance.js";
import { errorMessage } from "./errors.js";

test("waiting times read in days, hours and minutes", () => {
  assert.equal(ageText(30), "不到 1 分钟");
  assert.equal(ageText(5 * 60), "5 分钟");
  assert.equal(ageText(2 * 3600 + 10 * 60), "2 小时 10 分钟");
  assert.equal(ageText(3 * 86400 + 2 * 3600 + 59), "3 天 2 小时");
});

test("hold reasons are Chinese, the registry's own reason quoted", () => {
  assert.equal(holdText("the payee is suspended"), "承接机构已被暂停，恢复后方可审批和支付");
  assert.equal(holdText("年检不合格"), "承接机构已被暂停（年检不合格），恢复后方可审批和支付");
  assert.equal(holdText("provider_deregistered"), "承接机构已注销，本笔拨付永久暂停");
});

test("every hold of a disbursement is named in Chinese, each on its own", () => {
  assert.equal(holdsText({ hold_reasons: ["milestone_overdue"] }), "暂停付款：里程碑逾期");
  assert.equal(
    holdsText({ hold_reasons: ["payee_suspended", "milestone_overdue"], hold_reason: "milestone_overdue" }),
    "暂停付款：承接机构被暂停、里程碑逾期",
  );
  assert.equal(
    holdsText({ hold_reasons: ["payee_suspended"], hold_reason: "年检不合格" }),
    "暂停付款：承接机构被暂停（年检不合格）",
  );
  assert.equal(holdsText({ hold_reasons: [], hold_reason: "provider_deregistered" }), "承接机构已注销，本笔拨付永久暂停");
});

test("a milestone is overdue past its due date until accepted", () => {
  assert.equal(isOverdue({ status: "pending", due_on: "2027-03-31" }, "2027-04-01"), true);
  assert.equal(isOverdue({ status: "pending", due_on: "2027-03-31" }, "2027-03-31"), false);
  assert.equal(isOverdue({ status: "accepted", due_on: "2027-03-31" }, "2027-05-01"), false);
});

test("a source's figures from its journal lines", () => {
  const s = "s1";
  const line = (kind, account, debit, credit, memo = null) => ({ kind, account, debit, credit, memo });
  const entries = [
    line("receipt", `available:${s}`, 50000, 0), line("receipt", `income:${s}`, 0, 50000),
    line("commitment", "committed:c1", 30000, 0), line("commitment", `available:${s}`, 0, 30000),
    line("approval", "approved:c1", 10000, 0), line("approval", "committed:c1", 0, 10000),
    line("payment", "paid:c1", 10000, 0, "BOC-1"), line("payment", "approved:c1", 0, 10000, "BOC-1"),
  ];
  assert.deepEqual(figuresFromJournal(entries), { amount: 50000, available: 20000, committed: 30000, disbursed: 10000, paid: 10000 });
  assert.equal(accountText("committed:c1"), "已占用");
  assert.equal(accountText("mystery:x"), "其他科目");
  assert.equal(memoText(entries[6]), "支付凭证号 BOC-1");
  assert.equal(memoText({ kind: "receipt", memo: "initial amount" }), "初始金额");
});

test("a maker-checker refusal says in Chinese why this person may not act", () => {
  const refusal = (reason) => errorMessage(403, { code: "MAKER_CHECKER", message: "you approved this", details: { reason } });
  assert.match(refusal("already_approved"), /您已审批过这笔拨付/);
  assert.match(refusal("approved_disbursement"), /审批人与支付人不能为同一人/);
  assert.match(refusal("accepted_milestone"), /您验收了该合同的里程碑/);
  assert.match(refusal("something_new"), /须由另一位财务人员办理/);
  assert.equal(errorMessage(409, { code: "DUPLICATE_PAYMENT_REFERENCE", details: { field: "payment_reference" } }), "该支付凭证号已登记过，不能重复使用");
});
