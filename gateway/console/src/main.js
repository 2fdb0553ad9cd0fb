import { createApp } from "vue";
import { ElLoading } from "element-plus";
import "element-plus/theme-chalk/base.css";
import "element-plus/es/components/loading/style/css";
import "element-plus/es/components/message/style/css";
import "element-plus/es/components/message-box/style/css";
import "./style.css";
import App from "./App.vue";
import { router } from "./router.js";

createApp(App).use(router).directive("loading", ElLoading.directive).mount("#app");
