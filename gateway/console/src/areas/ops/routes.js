import { Monitor } from "@element-plus/icons-vue";

// The people who run the platform: health, outbox backlogs, dead letters and their replay.
const OPS = ["ops", "admin"];

export default [
  {
    path: "ops",
    name: "ops",
    component: () => import("./SystemStatus.vue"),
    meta: { title: "系统状态", roles: OPS, menu: { icon: Monitor }, crumbs: [{ title: "系统状态" }] },
  },
];
