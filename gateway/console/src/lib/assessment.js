// The assessment table's figures as the console shows them: one column per indicator, the
// change a weights edit makes, sorting by a column with "no data" last.
export const INDICATOR_LABELS = {
  coverage_rate: "组建率",
  womens_organizations_founded: "当年新建妇女组织",
  projects_published: "发布项目",
  projects_completed: "结项项目",
  on_time_share: "里程碑按期完成率",
  money_committed: "资金占用",
  money_paid: "资金支付",
  volunteers_registered: "新注册志愿者",
  verified_hours: "核验服务时长",
  activities_held: "开展活动",
};

/** The indicators whose weights differ: [{code, label, before, after}]. */
export function weightChanges(before, after) {
  return Object.keys(INDICATOR_LABELS)
    .filter((code) => (before?.[code] ?? 0) !== (after?.[code] ?? 0))
    .map((code) => ({ code, label: INDICATOR_LABELS[code], before: before?.[code] ?? 0, after: after?.[code] ?? 0 }));
}

/** "组建率 10→20；资金支付 10→30" */
export function changeText(before, after) {
  const changes = weightChanges(before, after);
  return changes.length ? changes.map((c) => `${c.label} ${c.before}→${c.after}`).join("；") : "无变化";
}

/** A comparator for el-table's sort-method: null (no data) counts as lowest. */
export function byField(field) {
  return (a, b) => (a[field] ?? -Infinity) - (b[field] ?? -Infinity);
}

export function percent(value) {
  return value === null || value === undefined ? "—" : `${value}%`;
}
