import { Wallet, Stamp, CreditCard, Tickets, Histogram } from "@element-plus/icons-vue";

// Finance officers work here; federation staff and admins read the same screens (the API lets
// them read their line's money; only finance officers approve and pay).
const FINANCE = ["finance_officer"];
const READERS = ["finance_officer", "federation_staff", "admin"];

export default [
  {
    path: "funding-sources",
    name: "funding-sources",
    component: () => import("./SourceList.vue"),
    meta: { title: "资金来源", roles: READERS, menu: { icon: Wallet }, crumbs: [{ title: "资金来源" }] },
  },
  {
    path: "funding-sources/:id",
    component: () => import("./SourceDetail.vue"),
    meta: { title: "资金来源详情", roles: READERS, crumbs: [{ title: "资金来源", to: "/funding-sources" }, { title: "资金来源详情" }] },
  },
  {
    path: "approvals",
    name: "approvals",
    component: () => import("./ApprovalQueue.vue"),
    meta: { title: "待审批", roles: [...FINANCE, "admin"], menu: { icon: Stamp }, crumbs: [{ title: "待审批" }] },
  },
  {
    path: "payments",
    name: "payments",
    component: () => import("./Payments.vue"),
    meta: { title: "支付", roles: [...FINANCE, "admin"], menu: { icon: CreditCard }, crumbs: [{ title: "支付" }] },
  },
  {
    path: "funding-journal",
    name: "funding-journal",
    component: () => import("./Journal.vue"),
    meta: { title: "资金台账", roles: READERS, menu: { icon: Tickets }, crumbs: [{ title: "资金台账" }] },
  },
  {
    path: "funding-reports",
    name: "funding-reports",
    component: () => import("./Reports.vue"),
    meta: { title: "资金报表", roles: READERS, menu: { icon: Histogram }, crumbs: [{ title: "资金报表" }] },
  },
];
