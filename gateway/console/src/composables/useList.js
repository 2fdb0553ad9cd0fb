// A list page: filters and the page's cursor kept in the URL query (a link or the back button
// brings the same view), loading flag, cursor paging.
import { reactive, ref, watch } from "vue";
import { useRoute, useRouter } from "vue-router";
import { get } from "../lib/api.js";

export function useList(path, filterNames, { pageSize = 20, fixed = {} } = {}) {
  const route = useRoute();
  const router = useRouter();
  const filters = reactive(Object.fromEntries(filterNames.map((n) => [n, route.query[n] || ""])));
  const items = ref([]);
  const nextCursor = ref(null);
  const loading = ref(false);
  const error = ref(null);
  const page = ref(Number(route.query.page || 1));
  // cursors of pages already seen (page n starts at cursors[n-1]); the URL keeps the current one
  const cursors = route.query.cursor ? [null, route.query.cursor] : [null];

  async function load() {
    loading.value = true;
    error.value = null;
    try {
      const query = { ...fixed, limit: pageSize, cursor: route.query.cursor || null };
      for (const name of filterNames) if (filters[name]) query[name] = filters[name];
      const answer = await get(typeof path === "function" ? path() : path, query);
      items.value = answer.items;
      nextCursor.value = answer.next_cursor;
    } catch (e) {
      error.value = e;
      items.value = [];
    } finally {
      loading.value = false;
    }
  }

  function push(extra) {
    const query = {};
    for (const name of filterNames) if (filters[name]) query[name] = filters[name];
    router.push({ query: { ...query, ...extra } });
  }

  function search() {
    cursors.length = 1;
    push({});
  }
  function reset() {
    for (const name of filterNames) filters[name] = "";
    search();
  }
  function next() {
    if (!nextCursor.value) return;
    cursors[page.value] = nextCursor.value;
    push({ page: page.value + 1, cursor: nextCursor.value });
  }
  function prev() {
    if (page.value <= 1) return;
    const target = page.value - 1;
    const cursor = cursors[target - 1];
    push(target > 1 && cursor ? { page: target, cursor } : {});
  }

  watch(
    () => route.query,
    () => {
      for (const name of filterNames) filters[name] = route.query[name] || "";
      page.value = Number(route.query.page || 1);
      load();
    },
    { immediate: true },
  );

  return { filters, items, nextCursor, loading, error, page, pageSize, load, search, reset, next, prev };
}
