// The ops pages' words: dependencies, statuses, event queues and why a message was parked, in
// Chinese, each status with one colour per meaning and always with its text.
import { ageText } from "./finance.js";

export const DEPENDENCIES = {
  gateway_database: "网关数据库",
  rabbitmq: "消息队列（RabbitMQ）",
  gateway_consumers: "网关事件接收（消息通知）",
  gateway: "网关（消息通知）",
  registry: "组织登记服务",
  projects: "项目服务",
  funding: "资金服务",
  volunteers: "志愿服务",
};

/** ok green, starting orange (waiting for it), down red; the page's overall status too. */
export const HEALTH_STATUS = {
  ok: ["正常", "success"],
  starting: ["启动中", "warning"],
  down: ["不可用", "danger"],
  degraded: ["异常", "danger"],
};

export const REPLAY_OUTCOMES = {
  started: ["进行中", "primary"],
  done: ["已重放", "success"],
  failed: ["失败", "danger"],
  unknown: ["结果未知", "warning"],
};

/** Why the broker parked a message (x-death's reason). */
export const PARKED_REASONS = {
  delivery_limit: "多次处理失败（达到投递次数上限）",
  rejected: "重试期满仍未成功",
  expired: "超时未处理",
  maxlen: "队列已满",
};

/** The catalogue's events (language.events), as the people who run the platform call them. */
export const EVENTS = {
  organization_registered: "组织登记",
  organization_updated: "组织信息修改",
  organization_verified: "组织核验",
  organization_suspended: "组织暂停",
  organization_reinstated: "组织恢复",
  organization_deregistered: "组织注销",
  project_published: "项目发布",
  project_closed: "项目结项",
  project_cancelled: "项目撤销",
  contract_awarded: "立项签约",
  milestone_reported: "阶段报告提交",
  milestone_accepted: "里程碑验收通过",
  milestone_rejected: "阶段报告退回",
  funding_source_created: "资金来源创建",
  commitment_made: "资金占用",
  commitment_rejected: "资金占用被拒绝",
  disbursement_requested: "拨付申请",
  disbursement_approved: "拨付审批通过",
  disbursement_rejected: "拨付驳回",
  disbursement_paid: "拨付已支付",
  disbursement_held: "暂停拨付",
  disbursement_released: "恢复拨付",
  volunteer_registered: "志愿者登记",
  volunteer_enrolled: "活动报名",
  service_hours_verified: "服务时长核验",
  audit_anchor: "审计锚点",
  milestone_due: "里程碑到期提醒",
  milestone_overdue: "里程碑逾期",
  report_awaiting_decision: "阶段报告待验收提醒",
  hours_awaiting_verification: "服务时长待核验提醒",
};

/** Errors a dependency reports, for people: what is wrong, with the code to look up. */
const DEPENDENCY_ERRORS = {
  DATABASE_UNAVAILABLE: "数据库无法连接",
  SERVICE_TIMEOUT: "服务未在规定时间内应答",
  SERVICE_UNAVAILABLE: "服务未运行",
  BROKER_UNAVAILABLE: "消息队列无法连接",
  NO_ANSWER: "服务未应答",
  "the gateway has no client for this service": "网关未配置该服务",
};

export function dependencyName(name) {
  return DEPENDENCIES[name] || `服务 ${name}`;
}

export function serviceName(name) {
  return DEPENDENCIES[name] || `服务 ${name}`;
}

/** "数据库无法连接（DATABASE_UNAVAILABLE）"; an unknown code is named as such. */
export function errorText(error) {
  if (!error) return "";
  const known = DEPENDENCY_ERRORS[error];
  if (known) return /^[A-Z_]+$/.test(error) ? `${known}（${error}）` : known;
  return `无法连接（错误代码 ${error}）`;
}

/** An event queue's parts: "evt-<source>-<event>--<service>.<handler>". */
export function parseQueue(queue) {
  const match = /^evt-([a-z]+)-([a-z0-9_]+)--([a-z]+)\.([a-z0-9_]+)$/.exec(queue || "");
  if (!match) return { source: null, event: null, consumer: null, handler: null };
  return { source: match[1], event: match[2], consumer: match[3], handler: match[4] };
}

/** "来自组织登记服务的「组织登记」事件" for a queue. */
export function queueText(queue) {
  const { source, event } = parseQueue(queue);
  if (!event) return "事件";
  const name = EVENTS[event] ? `「${EVENTS[event]}」事件` : `事件 ${event}`;
  return `来自${serviceName(source)}的${name}`;
}

/** The parked count as a tag: green none, red some (with the number, not colour alone). */
export function parkedTag(parked) {
  const n = Number(parked) || 0;
  return n > 0 ? [`${n} 条滞留`, "danger"] : ["无滞留", "success"];
}

/** A service's outbox as a tag: nothing waiting; publishing (under a minute); backed up. */
export function outboxTag(outbox) {
  if (!outbox) return null;
  const pending = Number(outbox.pending) || 0;
  const age = Number(outbox.oldest_pending_age_seconds) || 0;
  if (pending === 0) return ["无积压", "success"];
  if (age < 60) return [`待发布 ${pending} 条`, "primary"];
  return [`积压 ${pending} 条`, "warning"];
}

/** "最早一条已等待 5 分钟" for a backlog (empty when nothing waits). */
export function outboxAgeText(outbox) {
  if (!outbox || !Number(outbox.pending)) return "";
  return `最早一条已等待 ${ageText(outbox.oldest_pending_age_seconds)}`;
}

/** A parked message's body, indented when it is JSON. */
export function prettyBody(body) {
  try {
    return JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    return body || "";
  }
}

export function parkedReason(reason) {
  return PARKED_REASONS[reason] || (reason ? `其他（${reason}）` : "—");
}

/** What the replay dialog says will happen. */
export function replaySentence(service, queue, count) {
  return `将把${serviceName(service)}中${queueText(queue)}的 ${count} 条滞留消息放回原队列，由${serviceName(service)}重新处理。`;
}

/** Why a recorded replay did not finish (its error code). */
export function replayErrorText(code) {
  if (code === "SERVICE_TIMEOUT") return "服务未及时应答，消息可能已放回，请查看死信队列";
  if (code === "NOTHING_PARKED") return "当时队列中已没有滞留消息";
  return errorText(code);
}
