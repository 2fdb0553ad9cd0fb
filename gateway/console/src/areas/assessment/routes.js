import { TrendCharts } from "@element-plus/icons-vue";

const ASSESSORS = ["federation_staff", "admin"];

export default [
  {
    path: "assessment",
    name: "assessment",
    component: () => import("./Assessment.vue"),
    meta: { title: "目标考核", roles: ASSESSORS, menu: { icon: TrendCharts }, crumbs: [{ title: "目标考核" }] },
  },
];
