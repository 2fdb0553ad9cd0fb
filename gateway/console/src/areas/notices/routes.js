// 消息通知: every signed-in user's own notifications (the header's bell leads here).
const EVERYONE = ["admin", "federation_staff", "contractor", "finance_officer", "ops", "team_leader", "volunteer", "auditor"];

export default [
  {
    path: "notifications",
    name: "notifications",
    component: () => import("./Notifications.vue"),
    meta: { title: "消息通知", roles: EVERYONE, crumbs: [{ title: "消息通知" }] },
  },
];
