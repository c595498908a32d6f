// Due dates as a person reads them, in the browser's time zone.
import type { Task } from "todo-api-client";

/** The browser's IANA time zone (`Europe/Berlin`): the zone new due dates are meant in. */
export function browserTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

/** `YYYY-MM-DD` of an instant in the browser's zone. */
function localDay(date: Date): string {
  const y = date.getFullYear();
  const m = String(date.getMonth() + 1).padStart(2, "0");
  const d = String(date.getDate()).padStart(2, "0");
  return `${y}-${m}-${d}`;
}

function addDays(day: string, days: number): string {
  const [y, m, d] = day.split("-").map(Number) as [number, number, number];
  return localDay(new Date(y, m - 1, d + days));
}

/** "Today", "Tomorrow", "Yesterday", or "Mon, 24 Nov" (with the year when not this one). */
function dayName(day: string, now: Date): string {
  const today = localDay(now);
  if (day === today) return "Today";
  if (day === addDays(today, 1)) return "Tomorrow";
  if (day === addDays(today, -1)) return "Yesterday";
  const [y, m, d] = day.split("-").map(Number) as [number, number, number];
  const date = new Date(y, m - 1, d);
  return date.toLocaleDateString(undefined, {
    weekday: "short",
    day: "numeric",
    month: "short",
    ...(y === now.getFullYear() ? {} : { year: "numeric" }),
  });
}

export type Due = { label: string; overdue: boolean; soon: boolean };

/**
 * When a task is due, in words. A task with a time shows that instant in the
 * browser's zone; an all-day task shows its day. Overdue: pending and past
 * its `due_at`; soon: due within the next 24 hours.
 */
export function describeDue(task: Task, now: Date = new Date()): Due | null {
  if (!task.due_date || !task.due_at) return null;
  const at = new Date(task.due_at);
  const overdue = !task.completed && at.getTime() <= now.getTime();
  const soon = !task.completed && !overdue && at.getTime() - now.getTime() < 24 * 3600 * 1000;
  if (task.due_time) {
    const time = at.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
    return { label: `${dayName(localDay(at), now)}, ${time}`, overdue, soon };
  }
  return { label: dayName(task.due_date, now), overdue, soon };
}
