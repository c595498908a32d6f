"use client";
import { useId } from "react";

import { limits } from "@/lib/limits";
import { describeRule, frequencies, noRepeat, weekdayNames, weekdayOf, weekdays, type Frequency, type Repeat } from "@/lib/recurrence";

const frequencyNames: Record<Frequency, string> = { daily: "Daily", weekly: "Weekly", monthly: "Monthly", yearly: "Yearly" };
const unitNames: Record<Frequency, [string, string]> = {
  daily: ["day", "days"],
  weekly: ["week", "weeks"],
  monthly: ["month", "months"],
  yearly: ["year", "years"],
};

/**
 * How a task repeats: none, daily, weekly (on chosen days), monthly or
 * yearly, every N of them, ending never, after N times or on a day. It needs
 * a due date (the first occurrence), so it waits for one. A rule made
 * elsewhere that it cannot show is offered as it is ("Custom").
 */
export function RepeatPicker({
  repeat,
  dueDate,
  onChange,
  error,
}: {
  repeat: Repeat;
  /** `YYYY-MM-DD`, or "" when the task has none yet. */
  dueDate: string;
  onChange: (repeat: Repeat) => void;
  error?: string;
}) {
  const id = useId();
  const freq = repeat.freq;
  const picked = freq !== "none" && freq !== "custom";
  const plural = Number(repeat.interval) === 1 ? 0 : 1;

  function pick(value: string) {
    if (value === "none") return onChange(noRepeat);
    if (value === "custom") return;
    const next = value as Frequency;
    // Weekly starts on the due date's weekday, which the user can add to.
    const day = weekdayOf(dueDate);
    const days = next === "weekly" && repeat.days.length === 0 && day ? [day] : repeat.days;
    onChange({ ...repeat, freq: next, days });
  }

  function toggleDay(day: (typeof weekdays)[number]) {
    const days = repeat.days.includes(day) ? repeat.days.filter((d) => d !== day) : [...repeat.days, day];
    onChange({ ...repeat, days: weekdays.filter((d) => days.includes(d)) });
  }

  return (
    <div className="min-w-0">
      <label className="label" htmlFor={id}>
        Repeat
      </label>
      {/* A line each: how often, on which days (weekly), until when. */}
      <div className="flex flex-wrap items-center gap-2">
        <select
          id={id}
          name="repeat"
          className="field w-auto"
          value={freq}
          disabled={!dueDate}
          title={dueDate ? undefined : "Pick a day first"}
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? `${id}-error` : undefined}
          onChange={(e) => pick(e.target.value)}
        >
          <option value="none">Does not repeat</option>
          {frequencies.map((f) => (
            <option key={f} value={f}>
              {frequencyNames[f]}
            </option>
          ))}
          {freq === "custom" && <option value="custom">{describeRule(repeat.rule)}</option>}
        </select>
        {picked && (
          <label className="flex items-center gap-1.5 text-sm text-slate-600">
            Every
            <input
              type="number"
              name="repeat_interval"
              aria-label="Repeat every"
              className="field w-16 px-2"
              min={1}
              max={limits.repeatInterval}
              value={repeat.interval}
              onChange={(e) => onChange({ ...repeat, interval: e.target.value })}
            />
            <span>{unitNames[freq][plural]}</span>
          </label>
        )}
      </div>
      {picked && freq === "weekly" && (
        <div role="group" aria-label="Repeat on" className="mt-2 flex flex-wrap gap-1">
          {weekdays.map((day) => (
            <button
              key={day}
              type="button"
              aria-pressed={repeat.days.includes(day)}
              aria-label={weekdayNames[day].long}
              title={weekdayNames[day].long}
              className="size-8 rounded-full border border-slate-300 bg-white text-xs font-medium text-slate-600 hover:bg-slate-50 aria-pressed:border-brand-600 aria-pressed:bg-brand-600 aria-pressed:text-white"
              onClick={() => toggleDay(day)}
            >
              {weekdayNames[day].short.slice(0, 2)}
            </button>
          ))}
        </div>
      )}
      {picked && (
        <div className="mt-2 flex flex-wrap items-center gap-2">
          <label className="flex items-center gap-1.5 text-sm text-slate-600">
            Ends
            <select
              name="repeat_ends"
              aria-label="Ends"
              className="field w-auto"
              value={repeat.ends}
              onChange={(e) => onChange({ ...repeat, ends: e.target.value as Repeat["ends"] })}
            >
              <option value="never">Never</option>
              <option value="count">After</option>
              <option value="until">On a day</option>
            </select>
          </label>
          {repeat.ends === "count" && (
            <label className="flex items-center gap-1.5 text-sm text-slate-600">
              <input
                type="number"
                name="repeat_count"
                aria-label="Number of times"
                className="field w-16 px-2"
                min={1}
                max={limits.repeatCount}
                value={repeat.count}
                onChange={(e) => onChange({ ...repeat, count: e.target.value })}
              />
              times
            </label>
          )}
          {repeat.ends === "until" && (
            <input
              type="date"
              name="repeat_until"
              aria-label="Last day"
              className="field w-auto"
              min={dueDate || undefined}
              value={repeat.until}
              onChange={(e) => onChange({ ...repeat, until: e.target.value })}
            />
          )}
        </div>
      )}
      {error && (
        <span id={`${id}-error`} className="field-error mt-1 block text-xs text-red-600">
          {error}
        </span>
      )}
    </div>
  );
}
