// Where each workbench figure leads: the console page of the list behind it, with the
// filters the service counted under (the card's `filters`), so the list shows that number.
const PAGES = {
  reports_awaiting_decision: "/milestones",
  milestones_overdue: "/milestones",
  milestones_due: "/milestones",
  reports_rejected: "/milestones",
  tranches_paid: "/milestones",
  projects_by_status: "/projects",
  contracts_by_status: "/contracts",
  money_this_year: "/funding-sources",
  approval_queue: "/approvals",
  payments_this_month: "/payments",
  sources_low: "/funding-sources",
  hours_pending: "/service-hours",
  upcoming_activities: "/activities",
  hours_this_month: "/hours-report",
};

/** The route of the list behind a card's figure. */
export function linkOf(name, card) {
  return { path: PAGES[name], query: { ...(card?.filters || {}) } };
}

/** How long ago an instant was, in days, for "已等待 N 天" (0: today). */
export function daysSince(value, now = new Date()) {
  if (!value) return null;
  const ms = now.getTime() - new Date(value).getTime();
  return Math.max(0, Math.floor(ms / 86400000));
}

/** "已等待 3 天" / "今天提交". */
export function waitedText(value, now = new Date()) {
  const days = daysSince(value, now);
  if (days === null) return "";
  return days === 0 ? "今天提交" : `已等待 ${days} 天`;
}
