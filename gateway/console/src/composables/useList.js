// A list page: filters, sort order and the page's cursor kept in the URL query (a link or the
// back button brings the same view), loading flag, cursor paging, and the list's total.
//
// Sorting is done by the server over the whole list, not within one page: give the table
// `sortable="custom"` columns, `@sort-change="sortChange"` and `:default-sort="tableSort"`.
// `sorts` maps a column's prop to the API's sort name where they differ; `defaultSort` is the
// API's own order of the list (its arrow shows while the URL names none).
import { computed, reactive, ref, watch } from "vue";
import { useRoute, useRouter } from "vue-router";
import { get } from "../lib/api.js";

export function useList(path, filterNames, { pageSize = 20, fixed = {}, sorts = {}, defaultSort = "" } = {}) {
  const route = useRoute();
  const router = useRouter();
  const filters = reactive(Object.fromEntries(filterNames.map((n) => [n, route.query[n] || ""])));
  const items = ref([]);
  const nextCursor = ref(null);
  const total = ref(null);
  const loading = ref(false);
  const error = ref(null);
  const page = ref(Number(route.query.page || 1));
  // the server's order, e.g. "budget" or "-budget" ("" is the list's default)
  const sort = ref(route.query.sort || "");
  // cursors of pages already seen (page n starts at cursors[n-1]); the URL keeps the current one
  const cursors = route.query.cursor ? [null, route.query.cursor] : [null];
  const pageCount = computed(() => (total.value == null ? null : Math.max(1, Math.ceil(total.value / pageSize))));
  // the table's sort arrow for the current order
  const tableSort = computed(() => {
    const current = sort.value || defaultSort;
    if (!current) return {};
    const name = current.replace(/^-/, "");
    const prop = Object.keys(sorts).find((p) => sorts[p] === name) || name;
    return { prop, order: current.startsWith("-") ? "descending" : "ascending" };
  });

  let latest = 0;
  async function load() {
    const ticket = ++latest;
    loading.value = true;
    error.value = null;
    try {
      const query = { ...fixed, limit: pageSize, cursor: route.query.cursor || null };
      for (const name of filterNames) if (filters[name]) query[name] = filters[name];
      if (sort.value) query.sort = sort.value;
      const answer = await get(typeof path === "function" ? path() : path, query);
      if (ticket !== latest) return; // an answer overtaken by a newer request
      items.value = answer.items;
      nextCursor.value = answer.next_cursor;
      total.value = answer.total ?? null;
    } catch (e) {
      if (ticket !== latest) return;
      error.value = e;
      items.value = [];
      total.value = null;
    } finally {
      if (ticket === latest) loading.value = false;
    }
  }

  function push(extra) {
    const query = {};
    for (const name of filterNames) if (filters[name]) query[name] = filters[name];
    if (sort.value) query.sort = sort.value;
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
  // el-table's sort-change: a new order starts again at page 1, over the whole list
  function sortChange({ prop, order }) {
    const name = sorts[prop] || prop;
    sort.value = !order || !name ? "" : order === "descending" ? `-${name}` : name;
    search();
  }

  watch(
    () => route.query,
    () => {
      for (const name of filterNames) filters[name] = route.query[name] || "";
      page.value = Number(route.query.page || 1);
      sort.value = route.query.sort || "";
      load();
    },
    { immediate: true },
  );

  return {
    filters, items, nextCursor, loading, error, page, pageSize, load, search, reset, next, prev,
    total, pageCount, sort, tableSort, sortChange,
  };
}
