import { test } from "node:test";
import assert from "node:assert/strict";
import { errorText, replayErrorText, outboxAgeText, outboxTag, parkedReason, parkedTag, parseQueue, prettyBody, queueText, replaySentence } from "./ops.js";
import { errorMessage } from "./errors.js";

const QUEUE = "evt-registry-organization_registered--funding.directory_registered";

test("an event queue's name reads as whose event it is", () => {
  assert.deepEqual(parseQueue(QUEUE), { source: "registry", event: "organization_registered", consumer: "funding", handler: "directory_registered" });
  assert.equal(queueText(QUEUE), "来自组织登记服务的「组织登记」事件");
  assert.equal(queueText("evt-projects-brand_new_thing--funding.on_it"), "来自项目服务的事件 brand_new_thing");
  assert.equal(queueText("something-else"), "事件");
});

test("parked counts and outbox backlogs are tags with words, not colour alone", () => {
  assert.deepEqual(parkedTag(0), ["无滞留", "success"]);
  assert.deepEqual(parkedTag(3), ["3 条滞留", "danger"]);
  assert.deepEqual(outboxTag({ pending: 0, oldest_pending_age_seconds: 0 }), ["无积压", "success"]);
  assert.deepEqual(outboxTag({ pending: 4, oldest_pending_age_seconds: 2.5 }), ["待发布 4 条", "primary"]);
  assert.deepEqual(outboxTag({ pending: 40, oldest_pending_age_seconds: 600 }), ["积压 40 条", "warning"]);
  assert.equal(outboxTag(undefined), null);
  assert.equal(outboxAgeText({ pending: 40, oldest_pending_age_seconds: 600 }), "最早一条已等待 10 分钟");
  assert.equal(outboxAgeText({ pending: 0 }), "");
});

test("errors and reasons are Chinese, with the code kept for looking it up", () => {
  assert.equal(errorText("DATABASE_UNAVAILABLE"), "数据库无法连接（DATABASE_UNAVAILABLE）");
  assert.equal(errorText("ConnectionRefusedError"), "无法连接（错误代码 ConnectionRefusedError）");
  assert.equal(errorText(null), "");
  assert.equal(parkedReason("delivery_limit"), "多次处理失败（达到投递次数上限）");
  assert.equal(parkedReason(null), "—");
  assert.equal(errorMessage(409, { code: "NOTHING_PARKED" }), "该队列中已没有滞留消息，无需重放");
});

test("the replay dialog says how many messages go back, and where", () => {
  assert.equal(replaySentence("funding", QUEUE, 2), "将把资金服务中来自组织登记服务的「组织登记」事件的 2 条滞留消息放回原队列，由资金服务重新处理。");
});

test("a parked body is indented when it is JSON, shown as it is otherwise", () => {
  assert.equal(prettyBody('{"a":1}'), '{\n  "a": 1\n}');
  assert.equal(prettyBody("not json"), "not json");
});

test("a replay that did not finish says why", () => {
  assert.equal(replayErrorText("SERVICE_TIMEOUT"), "服务未及时应答，消息可能已放回，请查看死信队列");
  assert.equal(replayErrorText("BROKER_UNAVAILABLE"), "消息队列无法连接（BROKER_UNAVAILABLE）");
});
