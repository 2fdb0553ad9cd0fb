import { DataAnalysis, OfficeBuilding } from "@element-plus/icons-vue";

const STAFF = ["federation_staff", "admin"];

export default [
  {
    path: "organizations",
    name: "organizations",
    component: () => import("./OrgTree.vue"),
    meta: { title: "组织架构", roles: STAFF, menu: { icon: OfficeBuilding }, crumbs: [{ title: "组织架构" }] },
  },
  {
    path: "coverage",
    name: "coverage",
    component: () => import("./Coverage.vue"),
    meta: { title: "组建率", roles: STAFF, menu: { icon: DataAnalysis }, crumbs: [{ title: "组建率" }] },
  },
];
