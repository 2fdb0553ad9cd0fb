import { Medal } from "@element-plus/icons-vue";
import { READERS } from "./shared.js";

// 志愿服务证明: a certificate's printable page (those who issue it and the volunteer herself),
// and the volunteer's own landing page, 我的志愿服务 (her record, hours and certificates).
export default [
  {
    path: "my-service",
    name: "my-service",
    component: () => import("./MyService.vue"),
    meta: { title: "我的志愿服务", roles: ["volunteer"], menu: { icon: Medal }, crumbs: [{ title: "我的志愿服务" }] },
  },
  {
    path: "certificates/:id",
    component: () => import("./CertificateView.vue"),
    meta: { title: "志愿服务证明", roles: READERS, crumbs: [{ title: "志愿服务证明" }] },
  },
];
