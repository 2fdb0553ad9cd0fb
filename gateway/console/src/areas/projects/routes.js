import { Folder } from "@element-plus/icons-vue";

const STAFF = ["federation_staff", "admin"];
const list = { title: "项目管理", to: "/projects" };

export default [
  {
    path: "projects",
    name: "projects",
    component: () => import("./ProjectList.vue"),
    meta: { title: "项目管理", roles: STAFF, menu: { icon: Folder }, crumbs: [{ title: "项目管理" }] },
  },
  {
    path: "projects/new",
    component: () => import("./ProjectForm.vue"),
    meta: { title: "新增项目", roles: STAFF, crumbs: [list, { title: "新增项目" }] },
  },
  {
    path: "projects/:id",
    component: () => import("./ProjectDetail.vue"),
    meta: { title: "项目详情", roles: STAFF, crumbs: [list, { title: "项目详情" }] },
  },
  {
    path: "projects/:id/edit",
    component: () => import("./ProjectForm.vue"),
    meta: { title: "编辑项目", roles: STAFF, crumbs: [list, { title: "编辑项目" }] },
  },
];
