import { HomeFilled, Finished } from "@element-plus/icons-vue";

// The workbench (工作台): the first page after login of every role but ops (who lands on the
// system status page, /ops). The milestone list is the list behind its milestone figures.
export const WORKBENCH_ROLES = ["federation_staff", "finance_officer", "contractor", "team_leader", "admin"];
const MILESTONE_READERS = ["federation_staff", "admin", "contractor", "finance_officer"];

export default [
  {
    path: "workbench",
    name: "workbench",
    component: () => import("./Workbench.vue"),
    meta: { title: "工作台", roles: WORKBENCH_ROLES, menu: { icon: HomeFilled }, crumbs: [{ title: "工作台" }] },
  },
  {
    path: "milestones",
    name: "milestones",
    component: () => import("./MilestoneList.vue"),
    meta: {
      title: "里程碑",
      roles: MILESTONE_READERS,
      menu: { icon: Finished, roles: ["federation_staff", "admin", "contractor"], titles: { contractor: "我的里程碑" } },
      crumbs: [{ title: "里程碑", titles: { contractor: "我的里程碑" } }],
    },
  },
];
