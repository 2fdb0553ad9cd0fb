import { Calendar, DataAnalysis, Flag, Stamp, Upload, User } from "@element-plus/icons-vue";

// Volunteer work (志愿服务): team leaders run their teams' rosters, activities and hours;
// federation staff and admins their area's teams. Reports also reach finance and ops (totals).
const ROSTER = ["team_leader", "federation_staff", "admin"];
const REPORTS = [...ROSTER, "finance_officer", "ops"];
const teams = { title: "志愿服务队", to: "/volunteer-teams" };
const roster = { title: "志愿者", to: "/volunteers" };
const activities = { title: "志愿活动", to: "/activities" };

export default [
  {
    path: "volunteer-teams",
    name: "volunteer-teams",
    component: () => import("./TeamList.vue"),
    meta: { title: "志愿服务队", roles: ROSTER, menu: { icon: Flag }, crumbs: [{ title: "志愿服务队" }] },
  },
  {
    path: "volunteer-teams/:id",
    component: () => import("./TeamDetail.vue"),
    meta: { title: "服务队详情", roles: ROSTER, crumbs: [teams, { title: "服务队详情" }] },
  },
  {
    path: "volunteers",
    name: "volunteers",
    component: () => import("./VolunteerList.vue"),
    meta: { title: "志愿者", roles: ROSTER, menu: { icon: User }, crumbs: [{ title: "志愿者" }] },
  },
  {
    path: "volunteers/import",
    name: "volunteer-import",
    component: () => import("./VolunteerImport.vue"),
    meta: { title: "批量导入", roles: ROSTER, menu: { icon: Upload }, crumbs: [roster, { title: "批量导入" }] },
  },
  {
    path: "volunteers/:id/statement",
    component: () => import("./HoursStatement.vue"),
    meta: { title: "志愿服务证明", roles: ROSTER, crumbs: [roster, { title: "志愿服务证明" }] },
  },
  {
    path: "activities",
    name: "activities",
    component: () => import("./ActivityList.vue"),
    meta: { title: "志愿活动", roles: ROSTER, menu: { icon: Calendar }, crumbs: [{ title: "志愿活动" }] },
  },
  {
    path: "activities/:id",
    component: () => import("./ActivityDetail.vue"),
    meta: { title: "活动详情", roles: ROSTER, crumbs: [activities, { title: "活动详情" }] },
  },
  {
    path: "service-hours",
    name: "service-hours",
    component: () => import("./HoursQueue.vue"),
    meta: { title: "服务时长核验", roles: ROSTER, menu: { icon: Stamp }, crumbs: [{ title: "服务时长核验" }] },
  },
  {
    path: "hours-report",
    name: "hours-report",
    component: () => import("./HoursReport.vue"),
    meta: { title: "服务时长报表", roles: REPORTS, menu: { icon: DataAnalysis }, crumbs: [{ title: "服务时长报表" }] },
  },
];
