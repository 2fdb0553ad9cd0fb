// Routes: each area of the console brings its own module (areas/<area>/routes.js) with the
// roles that may open it; the side menu is built from the same declarations.
import { createRouter, createWebHistory } from "vue-router";
import Layout from "./layout/Layout.vue";
import Login from "./views/Login.vue";
import NotFound from "./views/NotFound.vue";
import { session } from "./lib/session.js";
import { whenSessionExpires } from "./lib/api.js";
import organizations from "./areas/organizations/routes.js";
import projects from "./areas/projects/routes.js";
import contracts from "./areas/contracts/routes.js";
import contractor from "./areas/contractor/routes.js";
import finance from "./areas/finance/routes.js";
import volunteers from "./areas/volunteers/routes.js";
import ops from "./areas/ops/routes.js";
import workbench from "./areas/workbench/routes.js";
import disclosure from "./areas/disclosure/routes.js";
import assessment from "./areas/assessment/routes.js";
import notices from "./areas/notices/routes.js";
import certificates from "./areas/certificates/routes.js";
import audit from "./areas/audit/routes.js";

/** Every area's routes, in menu order. */
export const AREAS = [...workbench, ...organizations, ...projects, ...contractor, ...contracts, ...finance, ...volunteers, ...certificates, ...assessment, ...ops, ...audit];

// every role lands on its workbench; ops on the system status page
const HOME_BY_ROLE = {
  federation_staff: "/workbench",
  admin: "/workbench",
  contractor: "/workbench",
  finance_officer: "/workbench",
  team_leader: "/workbench",
  ops: "/ops",
  volunteer: "/my-service",
  // the audit administrator reads the audit trail and nothing else (三员分立)
  auditor: "/audit",
};

export function homeFor(user) {
  if (!user) return "/login";
  const first = AREAS.find((r) => r.meta?.menu && r.meta.roles.includes(user.role));
  return HOME_BY_ROLE[user.role] || (first ? `/${first.path}` : "/forbidden");
}

export const router = createRouter({
  history: createWebHistory(),
  routes: [
    { path: "/login", component: Login, meta: { public: true, title: "登录" } },
    ...disclosure,
    {
      path: "/",
      component: Layout,
      children: [
        { path: "", redirect: () => homeFor(session.user) },
        ...AREAS,
        ...notices,
        { path: "forbidden", component: NotFound, meta: { title: "无权查看" } },
        { path: ":rest(.*)*", component: NotFound, meta: { title: "页面不存在" } },
      ],
    },
  ],
});

router.beforeEach((to) => {
  if (to.meta.public) return true;
  if (!session.token) return { path: "/login", query: to.fullPath !== "/" ? { redirect: to.fullPath } : {} };
  const roles = to.meta.roles;
  if (roles && !roles.includes(session.user?.role)) return { path: "/forbidden" };
  return true;
});

router.afterEach((to) => {
  document.title = `${to.meta.title ? `${to.meta.title} · ` : ""}巾帼`;
});

whenSessionExpires(() => {
  const here = router.currentRoute.value;
  if (here.path !== "/login") {
    router.replace({ path: "/login", query: { expired: "1", redirect: here.fullPath } });
  }
});
