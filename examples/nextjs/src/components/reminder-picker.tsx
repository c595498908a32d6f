"use client";
import { useId } from "react";

import { limits } from "@/lib/limits";
import { askNotificationPermission, useNotificationPermission } from "@/lib/notifications";
import { reminderChoices, reminderLabel } from "@/lib/recurrence";

import { BellIcon } from "./icons";

/**
 * A task's reminders, as toggles: at the due time, 5, 15 or 30 minutes, an
 * hour or a day before (and any other the task carries), at most 5. They
 * need a due time, so they wait for one. Setting the first one asks the
 * browser for permission to notify; while it is unanswered, a small button
 * asks too, and reminders show in the page whatever the answer.
 */
export function ReminderPicker({
  reminders,
  enabled,
  onChange,
  error,
}: {
  /** Minutes before the due time, sorted. */
  reminders: number[];
  /** Whether the task has a due time. */
  enabled: boolean;
  onChange: (reminders: number[]) => void;
  error?: string;
}) {
  const id = useId();
  const permission = useNotificationPermission();
  const full = reminders.length >= limits.reminders;
  const offered = [...new Set([...reminderChoices, ...reminders])].sort((a, b) => a - b);

  function toggle(minutes: number) {
    const on = reminders.includes(minutes);
    onChange(on ? reminders.filter((m) => m !== minutes) : [...reminders, minutes].sort((a, b) => a - b));
    if (!on) void askNotificationPermission();
  }

  return (
    <div className="min-w-0">
      <span className="label" id={`${id}-label`}>
        Reminders
      </span>
      <div
        role="group"
        aria-labelledby={`${id}-label`}
        aria-describedby={[enabled ? null : `${id}-hint`, error ? `${id}-error` : null].filter(Boolean).join(" ") || undefined}
        className="flex flex-wrap items-center gap-1.5"
      >
        {offered.map((minutes) => {
          const on = reminders.includes(minutes);
          return (
            <button
              key={minutes}
              type="button"
              data-testid="reminder-choice"
              aria-pressed={on}
              disabled={!enabled || (!on && full)}
              title={!on && full ? `At most ${limits.reminders} reminders` : undefined}
              className="chip py-1 ring-1 ring-slate-200 ring-inset hover:bg-slate-50 disabled:cursor-not-allowed disabled:opacity-50 aria-pressed:bg-brand-600 aria-pressed:text-white aria-pressed:ring-brand-600"
              onClick={() => toggle(minutes)}
            >
              {reminderLabel(minutes)}
            </button>
          );
        })}
        {enabled && permission === "default" && (
          <button
            type="button"
            className="inline-flex items-center gap-1 text-xs font-medium text-brand-600 hover:underline"
            onClick={() => void askNotificationPermission()}
          >
            <BellIcon className="size-3.5" />
            Enable notifications
          </button>
        )}
      </div>
      {!enabled ? (
        <span id={`${id}-hint`} className="mt-1 block text-xs text-slate-500">
          Set a time to add reminders.
        </span>
      ) : (
        reminders.length > 0 &&
        (permission === "denied" || permission === "unsupported") && (
          <span data-testid="notifications-off" className="mt-1 block text-xs text-slate-500">
            {permission === "denied" ? "Notifications are blocked in this browser" : "This browser cannot show notifications"}:
            reminders show on this page while it is open.
          </span>
        )
      )}
      {error && (
        <span id={`${id}-error`} className="field-error mt-1 block text-xs text-red-600">
          {error}
        </span>
      )}
    </div>
  );
}
