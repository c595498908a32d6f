// Reminders told to the user: a system notification (the Notification API)
// where the browser allows it, else the caller shows a toast. Permission is
// asked only from a click (setting a reminder, or "Enable notifications"),
// never on page load, as browsers expect.
import { useSyncExternalStore } from "react";
import type { Reminder } from "todo-api-client";

export type Permission = NotificationPermission | "unsupported";

const listeners = new Set<() => void>();

function current(): Permission {
  return typeof window !== "undefined" && "Notification" in window ? Notification.permission : "unsupported";
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  // A change made in the browser's site settings shows too.
  let status: PermissionStatus | undefined;
  let stopped = false;
  navigator.permissions
    ?.query({ name: "notifications" })
    .then((answer) => {
      if (stopped) return;
      status = answer;
      answer.addEventListener("change", listener);
    })
    .catch(() => undefined);
  return () => {
    stopped = true;
    listeners.delete(listener);
    status?.removeEventListener("change", listener);
  };
}

/** Whether reminders can show as system notifications; re-renders when that changes. */
export function useNotificationPermission(): Permission {
  return useSyncExternalStore(subscribe, current, () => "unsupported");
}

/** Asks the browser, once (only while unanswered); call it from a click. Answers the permission then. */
export async function askNotificationPermission(): Promise<Permission> {
  if (current() !== "default") return current();
  try {
    await Notification.requestPermission();
  } catch {
    // an old browser's callback-only form: the permission is read below
  }
  for (const listener of listeners) listener();
  return current();
}

/** "due now", "due in 15 min", "due at 09:30", "due Tue 24 Nov, 09:30", or, late, "was due at 09:30". */
export function dueWords(reminder: Reminder, now: Date = new Date()): string {
  const due = new Date(reminder.due_at);
  const ms = due.getTime() - now.getTime();
  const time = due.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
  const sameDay = due.toDateString() === now.toDateString();
  const at = sameDay ? `at ${time}` : `${due.toLocaleDateString(undefined, { weekday: "short", day: "numeric", month: "short" })}, ${time}`;
  if (ms < -60_000) return `was due ${at}`;
  if (ms < 30_000) return "due now";
  if (ms < 3600_000) return `due in ${Math.round(ms / 60_000)} min`;
  return `due ${at}`;
}

/**
 * Shows a reminder as a system notification; false when the browser does
 * not allow it (the caller shows it in the page instead). Every open tab
 * gets each reminder: the shared `tag` makes the system show it once.
 */
export function notifyReminder(reminder: Reminder): boolean {
  if (current() !== "granted") return false;
  const words = dueWords(reminder);
  try {
    const notification = new Notification(reminder.title, {
      body: words.charAt(0).toUpperCase() + words.slice(1),
      tag: `reminder-${reminder.task_id}-${reminder.remind_at}`,
    });
    notification.onclick = () => {
      window.focus();
      notification.close();
    };
    return true;
  } catch {
    return false; // browsers that show notifications only from a service worker (Chrome on Android)
  }
}
