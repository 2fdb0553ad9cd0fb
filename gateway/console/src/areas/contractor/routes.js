import { Promotion, Tickets } from "@element-plus/icons-vue";

const CONTRACTOR = ["contractor"];
const market = { title: "可申报项目", to: "/market" };

export default [
  {
    path: "market",
    name: "market",
    component: () => import("../projects/ProjectList.vue"),
    meta: { title: "可申报项目", roles: CONTRACTOR, menu: { icon: Promotion }, crumbs: [{ title: "可申报项目" }] },
  },
  {
    path: "market/:id",
    component: () => import("../projects/ProjectDetail.vue"),
    meta: { title: "项目详情", roles: CONTRACTOR, crumbs: [market, { title: "项目详情" }] },
  },
  {
    path: "applications",
    name: "applications",
    component: () => import("./MyApplications.vue"),
    meta: { title: "我的申报", roles: CONTRACTOR, menu: { icon: Tickets }, crumbs: [{ title: "我的申报" }] },
  },
];
