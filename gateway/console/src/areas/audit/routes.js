import { Document } from "@element-plus/icons-vue";

// The audit trail (审计日志) — the auditor's only area (三员分立): search, a record's detail,
// CSV, each log's chain. No other role opens it, the admin included.
export const AUDITORS = ["auditor"];

export default [
  {
    path: "audit",
    name: "audit",
    component: () => import("./AuditLog.vue"),
    meta: { title: "审计日志", roles: AUDITORS, menu: { icon: Document }, crumbs: [{ title: "审计日志" }] },
  },
];
