// Words of the public pages (the glossary's, as in lib/labels.js).

/** A project's status as the public sees it (a draft never appears). */
export const PUBLIC_PROJECT_STATUS = {
  published: ["征集中", "primary"],
  awarded: ["已立项", "primary"],
  evaluated: ["已评估", "warning"],
  closed: ["已结项", "success"],
  cancelled: ["已撤销", "danger"],
};

/** An award's contract as published (a suspended one is still in force). */
export const AWARD_STATUS = {
  active: ["履行中", "primary"],
  completed: ["已完成", "success"],
  cancelled: ["已撤销", "danger"],
  terminated: ["已终止", "danger"],
};
