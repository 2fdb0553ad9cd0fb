// Small helpers of the finance screens: waiting times, hold reasons, journal lines' words,
// and what the journal says a source holds.
import { HOLD_REASONS, JOURNAL_ACCOUNTS } from "./labels.js";

/** "3 天 2 小时" / "5 小时 10 分钟" / "不到 1 分钟" from seconds. */
export function ageText(seconds) {
  const s = Math.max(0, Number(seconds) || 0);
  const days = Math.floor(s / 86400);
  const hours = Math.floor((s % 86400) / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  if (days) return `${days} 天 ${hours} 小时`;
  if (hours) return `${hours} 小时 ${minutes} 分钟`;
  if (minutes) return `${minutes} 分钟`;
  return "不到 1 分钟";
}

const HOLDS = {
  provider_deregistered: "承接机构已注销，本笔拨付永久暂停",
  payee_deregistered: "收款单位已注销，本笔拨付永久暂停",
  "the payee is suspended": "承接机构已被暂停，恢复后方可审批和支付",
};

/** Why a disbursement is held, in Chinese (a registry's own reason is quoted). */
export function holdText(reason) {
  if (!reason) return "承接机构已被暂停，恢复后方可审批和支付";
  if (HOLDS[reason]) return HOLDS[reason];
  return `承接机构已被暂停（${reason}），恢复后方可审批和支付`;
}

/** Every hold of a disbursement in Chinese: "暂停付款：里程碑逾期、承接机构被暂停" (an answer
 *  without ``hold_reasons`` falls back to its one ``hold_reason``). */
export function holdsText(disbursement) {
  const reasons = disbursement?.hold_reasons || [];
  if (!reasons.length) return holdText(disbursement?.hold_reason);
  // the registry's own words for a suspension, when they are the last hold's (not a code)
  const said = disbursement.hold_reason;
  const quoted = said && !HOLD_REASONS[said] && !HOLDS[said] ? said : null;
  const words = reasons.map((r) =>
    r === "payee_suspended" && quoted ? `${HOLD_REASONS[r]}（${quoted}）` : HOLD_REASONS[r] || "其他原因",
  );
  return `暂停付款：${words.join("、")}`;
}

/** Whether a milestone is past its due date (China date ``today``) and not accepted. */
export function isOverdue(milestone, today) {
  return Boolean(milestone) && milestone.status !== "accepted" && milestone.due_on < today;
}

/** "可用资金" for "available:<id>". */
export function accountText(account) {
  const prefix = String(account || "").split(":")[0];
  return JOURNAL_ACCOUNTS[prefix] || "其他科目";
}

/** A source's figures as its journal lines add them up (debit − credit per account kind):
 *  amount = −income, available, committed = committed + approved + paid, disbursed =
 *  approved + paid, paid. */
export function figuresFromJournal(entries) {
  const sum = { income: 0, available: 0, committed: 0, approved: 0, paid: 0 };
  for (const e of entries) {
    const prefix = String(e.account).split(":")[0];
    if (prefix in sum) sum[prefix] += (e.debit || 0) - (e.credit || 0);
  }
  return {
    amount: -sum.income,
    available: sum.available,
    committed: sum.committed + sum.approved + sum.paid,
    disbursed: sum.approved + sum.paid,
    paid: sum.paid,
  };
}

/** What the memo or cause of a journal line says, in Chinese where it is a known phrase. */
export function memoText(entry) {
  if (entry.kind === "payment" && entry.memo) return `支付凭证号 ${entry.memo}`;
  if (entry.memo === "initial amount") return "初始金额";
  return entry.memo || "";
}
