// Notifications (消息通知): the bell's count, the latest few, marking read, and where a
// notice leads in the console. The API keeps each user's own; the count is one small request.
import { api, get, post } from "./api.js";

/** How often the bell asks for the unread count (ms): modest, one tiny answer a minute. */
export const POLL_MS = 60_000;

export const KINDS = {
  milestone_due: "里程碑到期提醒",
  milestone_overdue: "里程碑逾期",
  report_awaiting_decision: "阶段报告待验收",
  milestone_rejected: "阶段报告被退回",
  disbursement_requested: "拨付待审批",
  hours_awaiting_verification: "服务时长待核验",
};

export const kindLabel = (kind) => KINDS[kind] || "通知";

/** The badge's text: nothing at 0, the number up to 99, then 99+. */
export function badgeText(count) {
  if (!count || count < 0) return "";
  return count > 99 ? "99+" : String(count);
}

/** A notice's link as a console route (only the console's own paths are followed). */
export function routeOf(notice) {
  const link = notice?.link;
  return typeof link === "string" && link.startsWith("/") && !link.startsWith("//") ? link : null;
}

export const unreadCount = async () => (await get("/notifications/unread-count")).unread;
export const latest = (limit = 5) => get("/notifications", { limit });
export const markRead = (id) => post(`/notifications/${id}/read`);
export const markAllRead = () => post("/notifications/read-all");
export const myEmail = async () => (await get("/users/me/email")).email;
export const setMyEmail = (email) => api("PUT", "/users/me/email", { body: { email: email || null } });

// the bell and the page share one count: marking read on the page updates the badge at once
const listeners = new Set();
export function onUnreadChanged(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
export function unreadChanged() {
  for (const listener of listeners) listener();
}
