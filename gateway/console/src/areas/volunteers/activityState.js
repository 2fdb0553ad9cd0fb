// An activity's state as the people running it say it: 未开始 / 进行中 / 已结束.
export const ACTIVITY_STATE = {
  upcoming: ["未开始", "info"],
  running: ["进行中", "primary"],
  ended: ["已结束", "success"],
};

export function activityState(activity, now = Date.now()) {
  if (now >= new Date(activity.ends_at).getTime()) return "ended";
  if (now >= new Date(activity.starts_at).getTime()) return "running";
  return "upcoming";
}
